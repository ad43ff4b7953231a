"""``liquidcontrol/Parking-v0``: parallel parking a 1:10 Ackermann car in MuJoCo."""

from __future__ import annotations

import math
import os
from typing import Any

# Headless machines (CI, robots over ssh) have no X display: default to EGL so
# rgb_array rendering works. Must happen before mujoco is first imported.
if "MUJOCO_GL" not in os.environ and not os.environ.get("DISPLAY"):
    os.environ["MUJOCO_GL"] = "egl"

import gymnasium as gym
import mujoco  # noqa: E402
import numpy as np
from gymnasium import spaces
from liquidcontrol.envs import parking_constants as pc
from liquidcontrol.envs.assets import asset_path
from liquidcontrol.envs.car import Car
from liquidcontrol.envs.parking_geometry import SlotLayout
from liquidcontrol.envs.rendering import lite_renderer

from liquidcontrol.errors import LiquidControlError

SLOT_LENGTH_RANGE = (0.80, 1.05)  # m, i.e. 1.6-2.1 car lengths
START_X_RANGE = (-0.30, 0.60)  # m, car centre relative to the front car's rear bumper
START_Y_RANGE = (0.42, 0.60)  # m, car centre from the parked cars' centre line
START_YAW_RANGE = (-0.10, 0.10)  # rad
NEIGHBOUR_DY_RANGE = (-0.02, 0.02)  # m
NEIGHBOUR_YAW_RANGE = (-0.03, 0.03)  # rad
GOAL_TOLERANCE = (0.06, 0.04, 0.08)  # |x| m, |y| m, |theta| rad, car centre vs slot centre
STOPPED_SPEED = 0.05  # m/s; tighter would make any actuator noise (the ESC jitter of a real car) fail
DWELL_STEPS = 10  # control steps (0.5 s) stopped inside the tolerance
ARENA = (-3.5, 3.5, -1.0, 2.0)  # x_min, x_max, y_min, y_max of the car centre, m
MAX_QVEL = 200.0  # norm of qvel (m/s, rad/s); anything larger is a blown-up simulation
REWARD_TIME, REWARD_COLLISION, REWARD_SUCCESS = -0.01, -10.0, 10.0


class ParkingEnv(gym.Env):
    """Parallel-park a 1:10 Ackermann car between two parked cars along a curb.

    **Car.** MuSHR/F1TENTH-like, 3.4 kg in all, 0.50 x 0.26 m, wheelbase 0.33 m,
    track 0.22 m, wheel radius 0.05 m (``sim_assets/car/ackermann_car.xml``).
    Front wheels steer through position servos with Ackermann geometry, max
    0.38 rad (bicycle equivalent, turning radius 0.83 m at the rear axle),
    slew 3 rad/s; rear wheels are driven by speed loops with an electronic
    differential, at most 0.5 m/s, targets ramped at 2 m/s^2. Physics step
    1/60 s, 3 per control step: ``control_period`` = 0.05 s.

    **Frame.** The slot frame: x along the curb in the parked cars' heading,
    y away from the curb, origin at the slot centre on the parked cars'
    centre line; the curb's face is at y = -0.20 m.

    **Observation** (float32, shape (14,); see ``observation_layout``):

    =====  ================================================  =====  =====
    index  meaning                                           unit   scale
    =====  ================================================  =====  =====
    0, 1   car centre x, y in the slot frame                 m      0.5
    2, 3   cos, sin of the car heading in the slot frame     -      0.2
    4      longitudinal speed (negative when reversing)      m/s    0.5
    5      steering angle (mean of the two front wheels)     rad    0.38
    6-13   rangefinders at 6 cm height: front, front-left,   m      1.0
           left, rear-left, rear, rear-right, right,
           front-right (corners at 45 deg), clipped to 2.0;
           no echo reads 2.0
    =====  ================================================  =====  =====

    ``scale`` is the channel's nominal sensor scale: perturbations express
    noise and drift as fractions of it (``obs_noise`` severity 1 is 2.5 cm
    on x and y, 5 cm on a range reading), so severities mean something
    physical for a 1:10 car rather than a fraction of the arena size.

    Each layout entry also says how the sensor fails and saturates.
    ``fail_value`` is what a lost reading reports: a rangefinder without an
    echo reports its maximum range, 2.0 m (``pc.MAX_RANGE``); the pose
    estimate (x, y, heading), the speed (wheel odometry) and the steering
    encoder report ``"hold"``: their last delivered value repeats.
    ``limits`` is the physical output range, [0, 2.0] m for the
    rangefinders (``pc.RANGE_LIMITS``): a reading of exactly 2.0 m is
    saturated ("no echo") and sensor noise leaves it at 2.0 m. The other
    channels have no saturation limit.

    **Action** (float32 in [-1, 1]^2; see ``action_layout``):

    =====  ===========================================  =========
    index  meaning                                      scale
    =====  ===========================================  =========
    0      steering command, + turns left                0.38 rad
    1      speed command, + forward                      0.5 m/s
    =====  ===========================================  =========

    **Reward** = sum of ``info["reward_<name>"]``: ``progress`` (decrease of
    distance-to-goal ``|p| + 0.3 |theta|``, m), ``time`` (-0.01 per step),
    ``collision`` (-10 on contact or leaving the arena), ``success`` (+10).

    **Start state** (from the seed): slot length U(0.80, 1.05) m; each
    parked car shifted U(-0.02, 0.02) m sideways and yawed U(-0.03, 0.03)
    rad; the car at rest in the lane, centre x = slot length / 2 +
    U(-0.30, 0.60) m (beside to ahead of the front car's rear bumper), y
    U(0.42, 0.60) m, heading U(-0.10, 0.10) rad, wheels straight.

    **Termination**: success (``info["is_success"]``: centre within 0.06 m
    in x, 0.04 m in y and 0.08 rad of the slot centre, speed under
    0.05 m/s for 0.5 s, no contact); contact of the chassis with a parked
    car or the curb, counted from 5 mm apart (``info["collision"]``); car centre leaving the arena
    x in [-3.5, 3.5], y in [-1, 2] m (``info["out_of_bounds"]``); MuJoCo
    instability (``info["unstable"]``). **Truncation**: after 40 s.

    **Info** also holds ``car_pose`` (x, y, theta in the slot frame) and
    ``speed`` (m/s).

    **Arguments**: ``render_mode`` (None or "rgb_array"), ``max_episode_seconds``
    (40.0), ``render_width`` / ``render_height`` (320 / 240 px), ``camera``
    ("top" or "chase"). ``set_physics(friction_scale, mass_scale)`` changes
    the road grip and the car's mass from the next reset: ``friction_scale``
    multiplies the sliding friction of the four tyres and of the road (both,
    since MuJoCo uses the larger of the two); ``mass_scale`` multiplies the
    mass and the inertia of every body of the car subtree (chassis 2.9 kg,
    two steering knuckles 0.05 kg, four wheels 0.1 kg: 3.4 kg in total,
    ``pc.CAR_MASS``), so the total mass is ``mass_scale`` x 3.4 kg with the
    centre of mass unchanged (x1.1 / 1.25 / 1.5 / 1.75 / 2.0 = 3.74 / 4.25 /
    5.1 / 5.95 / 6.8 kg, the ``mass`` severities 1-5), and recomputes the
    model's derived constants (``mj_setConst``) so contacts see the new
    inertia.

    **Version history**: v0 — first release.
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 20}
    control_period = 0.05
    # fail_value: what a lost reading reports ("hold" = the last value repeats);
    # limits: the sensor's physical output range (a reading at a limit is saturated).
    observation_layout: list[dict[str, Any]] = [
        {"name": "x", "unit": "m", "group": "pose", "scale": 0.5, "fail_value": "hold"},
        {"name": "y", "unit": "m", "group": "pose", "scale": 0.5, "fail_value": "hold"},
        {"name": "cos_heading", "unit": "1", "group": "pose", "scale": 0.2, "fail_value": "hold"},
        {"name": "sin_heading", "unit": "1", "group": "pose", "scale": 0.2, "fail_value": "hold"},
        {"name": "speed", "unit": "m/s", "group": "speed", "scale": 0.5, "fail_value": "hold"},
        {"name": "steering", "unit": "rad", "group": "steer", "scale": pc.MAX_STEER, "fail_value": "hold"},
    ] + [{"name": name, "unit": "m", "group": "range", "scale": 1.0, "fail_value": pc.MAX_RANGE,
          "limits": list(pc.RANGE_LIMITS)} for name in pc.RANGE_SENSORS]
    action_layout: list[dict[str, Any]] = [
        {"name": "steering", "unit": "rad", "scale": pc.MAX_STEER},
        {"name": "speed", "unit": "m/s", "scale": pc.MAX_SPEED},
    ]

    def __init__(self, render_mode: str | None = None, max_episode_seconds: float = 40.0,
                 render_width: int = 320, render_height: int = 240, camera: str = "top") -> None:
        if render_mode not in (None, "rgb_array"):
            raise LiquidControlError(
                f"render_mode {render_mode!r} is not supported; expected None or 'rgb_array'.")
        if camera not in (pc.TOP_CAMERA, pc.CHASE_CAMERA):
            raise LiquidControlError(f"camera {camera!r} is unknown; expected 'top' or 'chase'.")
        self.render_mode, self.camera = render_mode, camera
        self.render_size = (int(render_height), int(render_width))
        self.model = mujoco.MjModel.from_xml_path(str(asset_path(pc.SCENE_XML)))
        self.data = mujoco.MjData(self.model)
        self.frame_skip = round(self.control_period / self.model.opt.timestep)
        self.max_steps = round(max_episode_seconds / self.control_period)
        self.car = Car(self.model, pc.ROAD_GEOM)
        self._cache_ids()
        high = np.array([4, 3, 1, 1, 2, 0.5] + [pc.MAX_RANGE] * len(pc.RANGE_SENSORS), np.float32)
        low = -high
        low[6:] = 0.0
        self.observation_space = spaces.Box(low, high, dtype=np.float32)
        self.action_space = spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32)
        self.slot = SlotLayout.centred(SLOT_LENGTH_RANGE[0])
        self._obs = np.zeros(14, np.float32)
        self._renderer: mujoco.Renderer | None = None
        self._pose, self._speed = (0.0, 0.0, 0.0), 0.0
        self._reset_counters()

    # ------------------------------------------------------------------ setup
    def _cache_ids(self) -> None:
        """Look up the scene's elements once, by name (see parking_constants); the car's are in ``self.car``."""
        m, car = self.model, self.car
        self._chassis = car.chassis
        self._qpos0, self._qvel0 = car.qpos0, car.qvel0

        def ident(kind: mujoco.mjtObj, name: str) -> int:
            return mujoco.mj_name2id(m, kind, name)

        G = mujoco.mjtObj.mjOBJ_GEOM
        self._rear_car, self._front_car = ident(G, pc.REAR_CAR_GEOM), ident(G, pc.FRONT_CAR_GEOM)
        sensor = mujoco.mjtObj.mjOBJ_SENSOR
        adrs = [m.sensor_adr[ident(sensor, n)] for n in pc.RANGE_SENSORS]
        self._range_slice = slice(min(adrs), min(adrs) + len(adrs))
        assert adrs == list(range(min(adrs), min(adrs) + len(adrs))), "range sensors not contiguous"
        self._warnings = [self.data.warning[int(w)] for w in (
            mujoco.mjtWarning.mjWARN_BADQACC, mujoco.mjtWarning.mjWARN_BADQVEL,
            mujoco.mjtWarning.mjWARN_BADQPOS)]

    def _reset_counters(self) -> None:
        self._steps = 0
        self._dwell = 0
        self._steer_target = 0.0
        self._speed_target = 0.0
        self._potential = 0.0

    def set_physics(self, friction_scale: float = 1.0, mass_scale: float = 1.0) -> None:
        """Scale road/tyre friction and the mass and inertia of every car body; applies from the next reset."""
        self.car.set_physics(friction_scale, mass_scale)

    def _place_neighbours(self, rng: np.random.Generator) -> None:
        """Draw the slot and move the two parked cars (static geoms) there."""
        length = rng.uniform(*SLOT_LENGTH_RANGE)
        offsets = [(rng.uniform(*NEIGHBOUR_DY_RANGE), rng.uniform(*NEIGHBOUR_YAW_RANGE))
                   for _ in range(2)]
        self.slot = SlotLayout.centred(length, offsets[0], offsets[1])
        for geom, (x, y, yaw) in ((self._rear_car, self.slot.rear_car),
                                  (self._front_car, self.slot.front_car)):
            self.model.geom_pos[geom, :2] = (x, y)
            self.model.geom_quat[geom] = (math.cos(yaw / 2), 0.0, 0.0, math.sin(yaw / 2))

    # ------------------------------------------------------------------ state
    @property
    def car_pose(self) -> tuple[float, float, float]:
        """True car centre pose (x m, y m, theta rad) in the slot frame."""
        return self._pose

    @property
    def car_speed(self) -> float:
        """True longitudinal speed, m/s (negative when reversing)."""
        return self._speed

    # ------------------------------------------------------------------ API
    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        rng = self.np_random
        self.car.apply_physics(self.data)
        self._place_neighbours(rng)
        x = 0.5 * self.slot.length + rng.uniform(*START_X_RANGE)
        y, yaw = rng.uniform(*START_Y_RANGE), rng.uniform(*START_YAW_RANGE)
        mujoco.mj_resetData(self.model, self.data)
        self.car.place(self.data, x, y, yaw)
        mujoco.mj_forward(self.model, self.data)
        self._reset_counters()
        self._potential = self._distance_to_goal(x, y, yaw)
        return self._observe(), self._info(False, False, False, False, {})

    def step(self, action):
        steer_cmd, speed_cmd = self._check_action(action)
        self._actuate(steer_cmd, speed_cmd)
        mujoco.mj_step(self.model, self.data, nstep=self.frame_skip)
        self._steps += 1
        if self._is_unstable():
            return self._obs.copy(), 0.0, True, False, self._info(False, False, False, True, {})
        obs = self._observe()
        x, y, yaw = self._pose
        collision = self._in_contact()
        xmin, xmax, ymin, ymax = ARENA
        out = not (xmin <= x <= xmax and ymin <= y <= ymax)
        success = self._update_dwell(x, y, yaw) and not collision
        potential = self._distance_to_goal(x, y, yaw)
        terms = {
            "progress": self._potential - potential,
            "time": REWARD_TIME,
            "collision": REWARD_COLLISION if (collision or out) else 0.0,
            "success": REWARD_SUCCESS if success else 0.0,
        }
        self._potential = potential
        terminated = success or collision or out
        truncated = not terminated and self._steps >= self.max_steps
        reward = float(sum(terms.values()))
        return obs, reward, terminated, truncated, self._info(success, collision, out, False, terms)

    # ------------------------------------------------------------------ step parts
    def _check_action(self, action) -> tuple[float, float]:
        """Validate and scale the action to (steering rad, speed m/s)."""
        if not (isinstance(action, np.ndarray) and action.shape == (2,)):
            action = np.asarray(action, dtype=np.float64)
            if action.shape != (2,):
                raise LiquidControlError(f"action has shape {action.shape}; expected (2,) = "
                                         "(steering, speed) in [-1, 1].")
        s, v = action.tolist()
        if not (math.isfinite(s) and math.isfinite(v)):
            raise LiquidControlError(
                f"action {[s, v]} contains NaN or infinity; expected finite values in [-1, 1].")
        return min(max(s, -1.0), 1.0) * pc.MAX_STEER, min(max(v, -1.0), 1.0) * pc.MAX_SPEED

    def _actuate(self, steer_cmd: float, speed_cmd: float) -> None:
        """Slew-limit the targets, then split them per wheel (Ackermann + differential)."""
        ds, dv = pc.STEER_RATE * self.control_period, pc.MAX_ACCEL * self.control_period
        self._steer_target += min(max(steer_cmd - self._steer_target, -ds), ds)
        self._speed_target += min(max(speed_cmd - self._speed_target, -dv), dv)
        self.car.actuate(self.data, self._steer_target, self._speed_target)

    def _observe(self) -> np.ndarray:
        x, y, yaw, self._speed = self.car.pose_speed(self.data)
        c, s = math.cos(yaw), math.sin(yaw)
        self._pose = (x, y, yaw)
        steer = self.car.steering(self.data)
        top = pc.MAX_RANGE
        # A rangefinder reads -1 when nothing is within its ray: report the max range.
        ranges = [top if r < 0.0 or r > top else r
                  for r in self.data.sensordata[self._range_slice].tolist()]
        o = self._obs
        o[:] = (x, y, c, s, self._speed, steer, *ranges)
        return o.copy()

    def _in_contact(self) -> bool:
        """Any contact involving the chassis (only obstacles can touch it)."""
        return self.car.in_contact(self.data)

    def _is_unstable(self) -> bool:
        if any(w.number for w in self._warnings):
            return True
        qvel = self.data.qvel
        # NaN fails every comparison, so this also catches non-finite states.
        return not float(qvel @ qvel) < MAX_QVEL * MAX_QVEL

    def _update_dwell(self, x: float, y: float, yaw: float) -> bool:
        tx, ty, tyaw = GOAL_TOLERANCE
        inside = abs(x) <= tx and abs(y) <= ty and abs(yaw) <= tyaw
        self._dwell = self._dwell + 1 if inside and abs(self._speed) <= STOPPED_SPEED else 0
        return self._dwell >= DWELL_STEPS

    @staticmethod
    def _distance_to_goal(x: float, y: float, yaw: float) -> float:
        return math.hypot(x, y) + 0.3 * abs(yaw)

    def _info(self, success: bool, collision: bool, out: bool, unstable: bool,
              terms: dict[str, float]) -> dict[str, Any]:
        info: dict[str, Any] = {
            "is_success": success, "collision": collision, "out_of_bounds": out,
            "unstable": unstable, "car_pose": self._pose, "speed": self._speed,
        }
        for name in ("progress", "time", "collision", "success"):
            info[f"reward_{name}"] = terms.get(name, 0.0)
        return info

    # ------------------------------------------------------------------ rendering
    def render(self) -> np.ndarray | None:
        if self.render_mode != "rgb_array":
            return None
        if self._renderer is None:
            height, width = self.render_size
            self._renderer = lite_renderer(self.model, height, width)
        self._renderer.update_scene(self.data, camera=self.camera)
        return self._renderer.render()

    def close(self) -> None:
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None
