"""``liquidcontrol/Driving-v0``: lane keeping on closed roads with the parking car, from a camera."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Any

if "MUJOCO_GL" not in os.environ and not os.environ.get("DISPLAY"):
    os.environ["MUJOCO_GL"] = "egl"

import gymnasium as gym
import mujoco  # noqa: E402
import numpy as np
from gymnasium import spaces
from liquidcontrol.envs import parking_constants as pc
from liquidcontrol.envs.assets import asset_path
from liquidcontrol.envs.car import Car
from liquidcontrol.envs.driving_track import GROUND_EXTENT, Track, generate_track, paint_ground
from liquidcontrol.envs.rendering import lite_renderer

from liquidcontrol.errors import LiquidControlError

SCENE_XML = "car/driving_scene.xml"
GROUND_GEOM, GROUND_TEXTURE = "ground", "ground"
FRONT_CAMERA, CHASE_CAMERA, TOP_CAMERA = "front", "chase", "top"
N_SCENERY = 16
IMAGE_SHAPE = (64, 128)  # H, W of the camera image
TARGET_SPEED = 1.2  # m/s, held by the env's speed loop
MAX_WHEEL_SPEED = 40.0  # rad/s (2 m/s): the driving scene raises the car's 20 rad/s limit
PREVIEW = (0.5, 1.0, 1.5)  # m ahead, curvature preview of the "state" observation
START_LATERAL, START_HEADING = 0.05, 0.05  # m, rad: start offsets drawn uniformly within +-
OFF_ROAD_MARGIN = 0.10  # m past the road edge (car centre) ends the episode
MAX_QVEL = 200.0
REWARD_CRASH, REWARD_SUCCESS, REWARD_CENTRE = -10.0, 10.0, -1.0


@dataclass(frozen=True)
class DrivingState:
    """The privileged state the expert reads (world frame, SI units).

    ``x``, ``y`` m and ``yaw`` rad of the car centre; ``speed`` m/s
    (longitudinal); ``steering`` rad (measured bicycle angle); ``index`` of
    the nearest lane-centre point; ``lateral`` m (+ = left of the lane
    centre); ``heading_error`` rad (car heading minus the lane's, wrapped).
    """

    x: float
    y: float
    yaw: float
    speed: float
    steering: float
    index: int
    lateral: float
    heading_error: float


class DrivingEnv(gym.Env):
    """Keep the 1:10 car in the right-hand lane of a closed two-lane road, steering from a camera.

    **Car.** The parking car (``sim_assets/car/ackermann_car.xml``, MuJoCo
    physics: servo-steered front wheels, speed-looped rear wheels on
    friction contacts). The env holds the speed at ``target_speed`` (1.2 m/s,
    ramped at 2 m/s^2 from rest); the policy only steers. Physics 1/60 s, 6
    steps per control step: ``control_period`` = 0.1 s.

    **Road** (from the seed, :mod:`liquidcontrol.envs.driving_track`): a
    closed loop of mean radius 3.2-4.2 m modulated by 2nd-4th harmonics
    (least radius of curvature 1.4 m), lap 19-27 m, driven clockwise or
    counter-clockwise; two lanes of 0.55-0.70 m, white edge lines, a dashed
    white or yellow centre line, gravel shoulders, grass with grain, and 16
    boxes and poles as scenery off the road; colours drawn per seed.

    **Observation** (``observation="image"``, the default): a Dict with
    ``image`` — uint8 (64, 128, 3) RGB from the forward camera (0.20 m above
    the road, pitched 20 deg down, vertical field of view 55 deg) — and
    ``speed`` — float32 (1,), m/s (wheel odometry). ``observation="state"``:
    float32 (6,): lateral offset from the lane centre (m, + left), heading
    error (rad), lane curvature 0.5 / 1.0 / 1.5 m ahead (1/m, + left), speed
    (m/s).

    **Action**: float32 in [-1, 1]^1, the steering command (+ left), x 0.38
    rad (bicycle angle), slew 3 rad/s.

    **Success** (``info["is_success"]``): ``laps`` (1.0) laps of arc length
    driven with the car centre inside the lane (within half a lane width of
    its centre) all the way. Leaving the lane is recorded
    (``info["left_lane"]``, then no success) but the episode goes on; the
    car centre more than 0.10 m past a road edge ends it
    (``info["off_road"]``), as does MuJoCo instability
    (``info["unstable"]``). **Truncation**: after 1.6 x the lap time at the
    target speed plus 3 s.

    **Reward** = sum of ``info["reward_<name>"]``: ``progress`` (arc length
    gained, m), ``centre`` (-1 x |lateral offset| / lane width per step),
    ``crash`` (-10 off road), ``success`` (+10).

    **Info** also holds ``lateral_deviation_m`` (|offset| from the lane
    centre), ``lap_fraction``, ``car_pose`` (x, y, yaw), ``position`` (x,
    y) and ``speed``. ``true_state()`` returns a :class:`DrivingState`.

    **Arguments**: ``observation`` ("image" or "state"), ``target_speed``
    (m/s, 0.3-1.8), ``laps``, ``render_mode`` (None or "rgb_array"),
    ``render_width`` / ``render_height`` (320 / 240), ``camera`` ("chase",
    "top" or "front"). ``set_physics(friction_scale, mass_scale)`` as in the
    parking env (the wet-road part of camera rain uses it).

    **Version history**: v0 — first release.
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 10}
    control_period = 0.1
    action_layout: list[dict[str, Any]] = [{"name": "steering", "unit": "rad", "scale": pc.MAX_STEER}]

    def __init__(self, observation: str = "image", target_speed: float = TARGET_SPEED, laps: float = 1.0,
                 render_mode: str | None = None, render_width: int = 320, render_height: int = 240,
                 camera: str = CHASE_CAMERA) -> None:
        if observation not in ("image", "state"):
            raise LiquidControlError(f"observation {observation!r} is unknown; expected 'image' or 'state'.")
        if render_mode not in (None, "rgb_array"):
            raise LiquidControlError(f"render_mode {render_mode!r} is not supported; expected None or 'rgb_array'.")
        if camera not in (CHASE_CAMERA, TOP_CAMERA, FRONT_CAMERA):
            raise LiquidControlError(f"camera {camera!r} is unknown; expected 'chase', 'top' or 'front'.")
        if not (isinstance(target_speed, (int, float)) and 0.3 <= target_speed <= 1.8):
            raise LiquidControlError(f"target_speed={target_speed!r} is out of range; expected 0.3-1.8 m/s.")
        if not (isinstance(laps, (int, float)) and 0.05 <= laps <= 10):
            raise LiquidControlError(f"laps={laps!r} is out of range; expected 0.05-10.")
        self.observation_mode, self.target_speed, self.laps = observation, float(target_speed), float(laps)
        self.render_mode, self.camera = render_mode, camera
        self.render_size = (int(render_height), int(render_width))
        self.model = mujoco.MjModel.from_xml_path(str(asset_path(SCENE_XML)))
        self.data = mujoco.MjData(self.model)
        self.car = Car(self.model, GROUND_GEOM)
        self.model.actuator_ctrlrange[self.car.drive_act] = (-MAX_WHEEL_SPEED, MAX_WHEEL_SPEED)
        self.frame_skip = round(self.control_period / self.model.opt.timestep)
        self._cache_ids()
        if observation == "image":
            self.observation_space: spaces.Space = spaces.Dict({
                "image": spaces.Box(0, 255, shape=(*IMAGE_SHAPE, 3), dtype=np.uint8),
                "speed": spaces.Box(-3.0, 3.0, shape=(1,), dtype=np.float32),
            })
            self.observation_layout: Any = {
                "image": None,
                "speed": [{"name": "speed", "unit": "m/s", "group": "speed", "scale": 0.5, "fail_value": "hold"}],
            }
        else:
            high = np.array([2.0, math.pi, 1.0, 1.0, 1.0, 3.0], np.float32)
            self.observation_space = spaces.Box(-high, high, dtype=np.float32)
            self.observation_layout = [
                {"name": "lateral", "unit": "m", "group": "lane", "scale": 0.1, "fail_value": "hold"},
                {"name": "heading_error", "unit": "rad", "group": "lane", "scale": 0.1, "fail_value": "hold"},
            ] + [{"name": f"curvature_{d:g}m", "unit": "1/m", "group": "preview", "scale": 0.3,
                  "fail_value": "hold"} for d in PREVIEW] + [
                {"name": "speed", "unit": "m/s", "group": "speed", "scale": 0.5, "fail_value": "hold"}]
        self.action_space = spaces.Box(-1.0, 1.0, shape=(1,), dtype=np.float32)
        self.track: Track | None = None
        self._camera_renderer: mujoco.Renderer | None = None
        self._view_renderer: mujoco.Renderer | None = None
        self._uploaded: set[int] = set()
        self._scene_option = mujoco.MjvOption()
        self._scene_option.flags[mujoco.mjtVisFlag.mjVIS_RANGEFINDER] = 0  # no rangefinder rays in the image
        self._texture = np.zeros((1, 1, 3), np.uint8)
        self._reset_counters()

    # ------------------------------------------------------------------ setup
    def _cache_ids(self) -> None:
        m = self.model
        self._ground_tex = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_TEXTURE, GROUND_TEXTURE)
        self._tex_size = int(m.tex_height[self._ground_tex])
        self._scenery = [mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_GEOM, f"scenery_{i}") for i in range(N_SCENERY)]
        self._warnings = [self.data.warning[int(w)] for w in (
            mujoco.mjtWarning.mjWARN_BADQACC, mujoco.mjtWarning.mjWARN_BADQVEL,
            mujoco.mjtWarning.mjWARN_BADQPOS)]

    def _reset_counters(self) -> None:
        self._steps = 0
        self._steer_target, self._speed_target = 0.0, 0.0
        self._index, self._lateral, self._heading_error = 0, 0.0, 0.0
        self._progress, self._s_prev = 0.0, 0.0
        self._left_lane = False
        self._pose, self._speed = (0.0, 0.0, 0.0), 0.0
        self._max_steps = 1

    def set_physics(self, friction_scale: float = 1.0, mass_scale: float = 1.0) -> None:
        """Scale road/tyre friction and the car's mass and inertia; applies from the next reset."""
        self.car.set_physics(friction_scale, mass_scale)

    # ------------------------------------------------------------------ scene
    def _build_scene(self, rng: np.random.Generator) -> Track:
        track = generate_track(rng)
        self._texture = paint_ground(track, rng, self._tex_size)
        m = self.model
        adr, n = int(m.tex_adr[self._ground_tex]), self._texture.size
        m.tex_data[adr:adr + n] = self._texture.reshape(-1)
        self._uploaded.clear()
        # Scenery: boxes (0-7) and poles (8-15) on the grass, at least 0.9 m from the road's edges.
        centre = track.xy + track.road_centre_offset * track.normal
        clearance = track.lane_width + 0.9
        for k, geom in enumerate(self._scenery):
            for _ in range(50):
                x, y = rng.uniform(-GROUND_EXTENT + 0.5, GROUND_EXTENT - 0.5, 2)
                if np.min(np.hypot(centre[:, 0] - x, centre[:, 1] - y)) > clearance:
                    break
            if k < 8:
                sx, sy, sz = rng.uniform(0.15, 0.5), rng.uniform(0.15, 0.5), rng.uniform(0.1, 0.6)
                m.geom_size[geom] = (sx, sy, sz)
                m.geom_pos[geom] = (x, y, sz)
                yaw = rng.uniform(-math.pi, math.pi)
                m.geom_quat[geom] = (math.cos(yaw / 2), 0.0, 0.0, math.sin(yaw / 2))
            else:
                r, h = rng.uniform(0.04, 0.15), rng.uniform(0.2, 0.8)
                m.geom_size[geom] = (r, h, 0.0)
                m.geom_pos[geom] = (x, y, h)
            m.geom_rgba[geom] = (*rng.uniform(0.1, 0.95, 3), 1.0)
        return track

    # ------------------------------------------------------------------ state
    def true_state(self) -> DrivingState:
        """The car's true state and its place on the lane (see :class:`DrivingState`)."""
        x, y, yaw = self._pose
        return DrivingState(x, y, yaw, self._speed, self.car.steering(self.data), self._index, self._lateral,
                            self._heading_error)

    def _measure(self) -> None:
        x, y, yaw, self._speed = self.car.pose_speed(self.data)
        self._pose = (x, y, yaw)
        assert self.track is not None
        self._index, self._lateral, s = self.track.project(x, y, self._index)
        tx, ty = self.track.tangent[self._index]
        self._heading_error = math.remainder(yaw - math.atan2(ty, tx), 2 * math.pi)
        ds = math.remainder(s - self._s_prev, self.track.length)
        self._progress += ds
        self._s_prev = s

    # ------------------------------------------------------------------ API
    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        rng = self.np_random
        self.car.apply_physics(self.data)
        self.track = track = self._build_scene(rng)
        i = int(rng.integers(len(track.s)))
        lateral = rng.uniform(-START_LATERAL, START_LATERAL)
        px, py = track.xy[i] + lateral * track.normal[i]
        yaw = math.atan2(track.tangent[i, 1], track.tangent[i, 0]) + rng.uniform(-START_HEADING, START_HEADING)
        mujoco.mj_resetData(self.model, self.data)
        self.car.place(self.data, float(px), float(py), yaw)
        mujoco.mj_forward(self.model, self.data)
        self._reset_counters()
        self._index = i
        self._measure()
        self._progress = 0.0
        lap_time = track.length / self.target_speed
        self._max_steps = round((1.6 * lap_time * self.laps + 3.0) / self.control_period)
        return self._observe(), self._info(False, False, False, {})

    def step(self, action):
        steer_cmd = self._check_action(action)
        ds, dv = pc.STEER_RATE * self.control_period, pc.MAX_ACCEL * self.control_period
        self._steer_target += min(max(steer_cmd - self._steer_target, -ds), ds)
        self._speed_target += min(max(self.target_speed - self._speed_target, -dv), dv)
        self.car.actuate(self.data, self._steer_target, self._speed_target)
        mujoco.mj_step(self.model, self.data, nstep=self.frame_skip)
        self._steps += 1
        if self._is_unstable():
            obs = self._observe() if self.observation_mode == "state" else self._last_obs
            return obs, 0.0, True, False, self._info(False, False, True, {})
        before = self._progress
        self._measure()
        assert self.track is not None
        lane = self.track.lane_width
        if abs(self._lateral) > 0.5 * lane:
            self._left_lane = True
        off_road = not (-0.5 * lane - OFF_ROAD_MARGIN <= self._lateral <= 1.5 * lane + OFF_ROAD_MARGIN)
        done_lap = self._progress >= self.laps * self.track.length
        success = done_lap and not self._left_lane
        terms = {
            "progress": self._progress - before,
            "centre": REWARD_CENTRE * abs(self._lateral) / lane,
            "crash": REWARD_CRASH if off_road else 0.0,
            "success": REWARD_SUCCESS if success else 0.0,
        }
        terminated = off_road or done_lap
        truncated = not terminated and self._steps >= self._max_steps
        return self._observe(), float(sum(terms.values())), terminated, truncated, self._info(
            success, off_road, False, terms)

    # ------------------------------------------------------------------ step parts
    def _check_action(self, action) -> float:
        a = np.asarray(action, dtype=np.float64)
        if a.shape not in ((1,), ()):
            raise LiquidControlError(f"action has shape {a.shape}; expected (1,) = (steering,) in [-1, 1].")
        s = float(a.reshape(-1)[0])
        if not math.isfinite(s):
            raise LiquidControlError(f"action {s} is NaN or infinite; expected a finite steering command in [-1, 1].")
        return min(max(s, -1.0), 1.0) * pc.MAX_STEER

    def _observe(self) -> Any:
        if self.observation_mode == "state":
            assert self.track is not None
            t = self.track
            curv = [float(t.curvature[t.ahead(self._index, d)]) for d in PREVIEW]
            return np.array([self._lateral, self._heading_error, *curv, self._speed], np.float32)
        obs = {"image": self.camera_image(), "speed": np.array([self._speed], np.float32)}
        self._last_obs = obs
        return {"image": obs["image"].copy(), "speed": obs["speed"].copy()}

    def camera_image(self) -> np.ndarray:
        """The forward camera's (64, 128, 3) uint8 RGB image of the current state."""
        if self._camera_renderer is None:
            self._camera_renderer = lite_renderer(self.model, *IMAGE_SHAPE)
        return self._render(self._camera_renderer, FRONT_CAMERA)

    def _render(self, renderer: mujoco.Renderer, camera: str) -> np.ndarray:
        key = id(renderer)
        if key not in self._uploaded:
            # The ground texture changes per track: upload it to this renderer's GL context.
            renderer._gl_context.make_current()
            mujoco.mjr_uploadTexture(self.model, renderer._mjr_context, self._ground_tex)
            self._uploaded.add(key)
        renderer.update_scene(self.data, camera=camera, scene_option=self._scene_option)
        return renderer.render()

    def _is_unstable(self) -> bool:
        if any(w.number for w in self._warnings):
            return True
        qvel = self.data.qvel
        return not float(qvel @ qvel) < MAX_QVEL * MAX_QVEL

    def _info(self, success: bool, off_road: bool, unstable: bool, terms: dict[str, float]) -> dict[str, Any]:
        length = self.track.length if self.track is not None else 1.0
        info: dict[str, Any] = {
            "is_success": success, "off_road": off_road, "unstable": unstable, "left_lane": self._left_lane,
            "lateral_deviation_m": abs(self._lateral), "lap_fraction": self._progress / length,
            "car_pose": self._pose, "position": self._pose[:2], "speed": self._speed,
        }
        for name in ("progress", "centre", "crash", "success"):
            info[f"reward_{name}"] = terms.get(name, 0.0)
        return info

    # ------------------------------------------------------------------ rendering
    def render(self) -> np.ndarray | None:
        if self.render_mode != "rgb_array":
            return None
        if self._view_renderer is None:
            self._view_renderer = lite_renderer(self.model, *self.render_size)
        return self._render(self._view_renderer, self.camera)

    def close(self) -> None:
        for r in (self._camera_renderer, self._view_renderer):
            if r is not None:
                r.close()
        self._camera_renderer = self._view_renderer = None
        self._uploaded.clear()
