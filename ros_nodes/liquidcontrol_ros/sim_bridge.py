"""The sim bridge's logic without ROS: a liquidcontrol MuJoCo task played seed after seed.

A sim tool (it imports MuJoCo through ``liquidcontrol.envs``), never
deployed on the robot. :class:`ParkingSim` turns the parking env's
observation into the sensor readings the car's topics carry and a command
in physical units back into the env's action.
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
TASKS = ("parking",)


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


class ParkingSim:
    """``liquidcontrol/Parking-v0`` played over a list of seeds."""

    def __init__(self, seeds: Sequence[int]) -> None:
        import gymnasium as gym
        import liquidcontrol.envs  # noqa: F401  (registers the env ids)
        from liquidcontrol.envs.parking_constants import RANGE_SENSORS

        if not seeds:
            raise LiquidControlError("the sim bridge needs at least one episode seed.")
        env: Any = gym.make("liquidcontrol/Parking-v0").unwrapped
        self.env = env
        self.range_names = [name.replace("range_", "") for name in RANGE_SENSORS]
        self.seeds = [int(s) for s in seeds]
        self.period = float(env.control_period)
        self._scales = np.array([a["scale"] for a in env.action_layout], dtype=np.float64)
        self.results: list[EpisodeResult] = []
        self.seed: int | None = None
        self.steps = 0
        self.obs: np.ndarray | None = None

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

    def sensors(self) -> CarSensors:
        o = self.obs
        assert o is not None
        ranges = [math.inf if r >= NO_ECHO_M else float(r) for r in o[6:14].tolist()]
        return CarSensors(float(o[0]), float(o[1]), math.atan2(float(o[3]), float(o[2])), float(o[4]),
                          float(o[5]), ranges)

    def action_from_command(self, steering_rad: float, speed_mps: float) -> np.ndarray:
        """A command in physical units (rad, m/s) as the env's action in [-1, 1]."""
        action = np.array([steering_rad, speed_mps], dtype=np.float64) / self._scales
        return action.astype(np.float32)

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


def in_process_results(bundle: str, seeds: Sequence[int], backend: str = "onnxruntime") -> list[EpisodeResult]:
    """The same episodes with the runtime called directly (dt = the control period): the reference."""
    from liquidcontrol.runtime import PolicyRunner

    runner = PolicyRunner(bundle, backend=backend)
    sim = ParkingSim(seeds)
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
