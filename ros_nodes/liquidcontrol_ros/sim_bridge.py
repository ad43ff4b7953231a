"""The sim bridge's logic without ROS: a liquidcontrol MuJoCo task played seed after seed.

A sim tool (it imports MuJoCo through ``liquidcontrol.envs``), never
deployed on the robot. :class:`ParkingSim`, :class:`DrivingSim`,
:class:`DroneSim` (body rates) and :class:`DroneMotorsSim` turn the env's
state into the sensor readings the robot's topics carry, and a command in
physical units back into the env's action.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from liquidcontrol.errors import LiquidControlError

#: Range readings at or beyond this (the env's no-echo value, m) are sent as +inf (REP 117: no detection).
NO_ECHO_M = 2.0


@dataclass
class EpisodeResult:
    seed: int
    success: bool
    collision: bool
    truncated: bool
    steps: int

    def to_json(self) -> str:
        return json.dumps(asdict(self))


@dataclass
class CarSensors:
    """What the car's sensors read at one step (SI units, slot frame for the pose)."""

    x: float
    y: float
    yaw: float
    speed: float
    steering: float
    ranges: list[float]  # m, +inf for no echo, in the env's order (front, front-left, ... front-right)


@dataclass
class DroneSensors:
    """What the quadrotor's estimator and IMU read (world ENU, body FLU, SI units)."""

    position: tuple[float, float, float]
    quaternion: tuple[float, float, float, float]  # (x, y, z, w), body -> world, as geometry_msgs orders it
    body_rates: list[float]      # rad/s, gyro (saturated like the env's)
    velocity: list[float]        # m/s, world frame
    target_error: list[float]    # m, current target minus position, world frame


class TaskSim:
    """A liquidcontrol task's env played over a list of seeds; subclasses read its sensors."""

    env_id = ""
    env_kwargs: dict[str, Any] = {}

    def __init__(self, seeds: Sequence[int]) -> None:
        import gymnasium as gym
        import liquidcontrol.envs  # noqa: F401  (registers the env ids)

        if not seeds:
            raise LiquidControlError("the sim bridge needs at least one episode seed.")
        env: Any = gym.make(self.env_id, **self.env_kwargs).unwrapped
        self.env = env
        self.seeds = [int(s) for s in seeds]
        self.period = float(env.control_period)
        layout = env.action_layout
        self._scales = np.array([a["scale"] for a in layout], dtype=np.float64)
        self._offsets = np.array([a.get("offset", 0.0) for a in layout], dtype=np.float64)
        self.results: list[EpisodeResult] = []
        self.seed: int | None = None
        self.steps = 0
        self.obs: Any = None  # the env's observation (an array; a dict for the camera task)

    @property
    def done(self) -> bool:
        return len(self.results) == len(self.seeds)

    def start_next(self) -> bool:
        """Reset the env to the next seed; False when every seed has been played."""
        if self.done:
            return False
        self.seed = self.seeds[len(self.results)]
        self.obs, _ = self.env.reset(seed=self.seed)
        self.steps = 0
        return True

    def action_from_command(self, values: Sequence[float]) -> np.ndarray:
        """A command in physical units (the card's action order) as the env's action."""
        action = (np.asarray(values, dtype=np.float64) - self._offsets) / self._scales
        return action.astype(np.float32)

    def idle_command(self) -> list[float]:
        """The command of a zero action in physical units (stand still; hover thrust for the drone)."""
        return self._offsets.tolist()

    def step(self, action: np.ndarray) -> EpisodeResult | None:
        """Apply one control step; the episode's result when it ended."""
        self.obs, _, terminated, truncated, info = self.env.step(action)
        self.steps += 1
        if not (terminated or truncated):
            return None
        assert self.seed is not None
        result = EpisodeResult(self.seed, bool(info.get("is_success", False)), bool(info.get("collision", False)),
                               bool(truncated), self.steps)
        self.results.append(result)
        return result


class ParkingSim(TaskSim):
    """``liquidcontrol/Parking-v0``: the car's odometry, steering encoder and eight rangefinders."""

    env_id = "liquidcontrol/Parking-v0"

    def __init__(self, seeds: Sequence[int]) -> None:
        from liquidcontrol.envs.parking_constants import RANGE_SENSORS

        super().__init__(seeds)
        self.range_names = [name.replace("range_", "") for name in RANGE_SENSORS]

    def sensors(self) -> CarSensors:
        o = self.obs
        assert o is not None
        ranges = [math.inf if r >= NO_ECHO_M else float(r) for r in o[6:14].tolist()]
        return CarSensors(float(o[0]), float(o[1]), math.atan2(float(o[3]), float(o[2])), float(o[4]),
                          float(o[5]), ranges)


@dataclass
class CameraCarSensors:
    """The driving car's forward camera and wheel odometry at one step."""

    image: np.ndarray  # uint8 [H, W, 3], RGB
    speed: float       # m/s, longitudinal
    x: float           # m, world frame (the car's pose, for the odometry message)
    y: float
    yaw: float


class DrivingSim(TaskSim):
    """``liquidcontrol/Driving-v0`` (lane keeping from the camera): camera image and wheel speed."""

    env_id = "liquidcontrol/Driving-v0"

    def sensors(self) -> CameraCarSensors:
        o = self.obs
        assert o is not None
        state = self.env.true_state()
        return CameraCarSensors(np.asarray(o["image"], dtype=np.uint8), float(o["speed"][0]),
                                float(state.x), float(state.y), float(state.yaw))


class DroneSim(TaskSim):
    """``liquidcontrol/Drone-v0`` with body-rate actions: state estimate, gyro, velocity, target error."""

    env_id = "liquidcontrol/Drone-v0"
    env_kwargs = {"action_mode": "rates"}

    def sensors(self) -> DroneSensors:
        o = self.obs
        assert o is not None
        state = self.env.true_state()
        w, x, y, z = state.quaternion
        return DroneSensors(state.position, (x, y, z, w), o[9:12].tolist(), o[12:15].tolist(), o[15:18].tolist())


class DroneMotorsSim(DroneSim):
    """``liquidcontrol/Drone-v0`` with motor actions (100 Hz): the same sensors as :class:`DroneSim`."""

    env_kwargs = {"action_mode": "motors"}

    def idle_command(self) -> list[float]:
        """Every motor at the airframe's hover speed (a zero action is half speed, not hover)."""
        return [float(self.env._hover_r)] * 4


SIMS: dict[str, type[TaskSim]] = {"parking": ParkingSim, "driving": DrivingSim, "drone": DroneSim,
                                  "drone_motors": DroneMotorsSim}


def in_process_results(bundle: str, seeds: Sequence[int], backend: str = "onnxruntime",
                       task: str = "parking") -> list[EpisodeResult]:
    """The same episodes with the runtime called directly (dt = the control period): the reference."""
    from liquidcontrol.runtime import PolicyRunner

    runner = PolicyRunner(bundle, backend=backend)
    sim = SIMS[task](seeds)
    while sim.start_next():
        runner.reset()
        result = None
        while result is None:
            assert sim.obs is not None
            result = sim.step(runner.step(sim.obs, sim.period))
    return sim.results


def summary(results: Sequence[EpisodeResult]) -> dict[str, Any]:
    return {"episodes": len(results), "successes": sum(r.success for r in results),
            "seeds_succeeded": [r.seed for r in results if r.success]}
