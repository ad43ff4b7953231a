"""``liquidcontrol/Drone-v0``: a quadrotor flying a seeded course of targets in MuJoCo."""

from __future__ import annotations

import math
import numbers
import os
from typing import Any, NamedTuple

# Headless machines (CI, robots over ssh) have no X display: default to EGL so
# rgb_array rendering works. Must happen before mujoco is first imported.
if "MUJOCO_GL" not in os.environ and not os.environ.get("DISPLAY"):
    os.environ["MUJOCO_GL"] = "egl"

import gymnasium as gym
import mujoco  # noqa: E402
import numpy as np
from gymnasium import spaces
from liquidcontrol.envs import drone_constants as dc
from liquidcontrol.envs.assets import asset_path
from liquidcontrol.envs.rendering import lite_renderer

from liquidcontrol.errors import LiquidControlError

ACTION_MODES = ("rates", "motors")
CONTROL_PERIODS = {"rates": 0.02, "motors": 0.01}  # s: 50 Hz body-rate commands, 100 Hz motor commands
RATE_SCALE = (6.0, 6.0, 3.0)  # rad/s of a unit roll, pitch, yaw rate command
N_TARGETS = 3
TARGET_RADIUS = 0.1  # m: a target is reached within this distance of its centre
HOVER_SPEED = 0.2  # m/s: the final hover must stay below this speed ...
DWELL_SECONDS = 1.0  # ... inside the last target's radius for this long
START_XY_RANGE = (-0.6, 0.6)  # m
START_Z_RANGE = (0.2, 0.3)  # m: just after take-off
START_YAW_RANGE = (-0.3, 0.3)  # rad
TARGET_XY_RANGE = (-0.7, 0.7)  # m
TARGET_Z_RANGE = (0.4, 1.2)  # m
MIN_LEG = 0.5  # m: least distance between the start and the first target and between consecutive targets
CRASH_HEIGHT = 0.03  # m: centre of mass this close to the floor = crashed
MAX_TILT = math.radians(60.0)  # rad: body z this far from vertical ends the episode
MAX_QVEL = 1e3  # |qvel| (m/s, rad/s) above this is a blown-up simulation
REWARD_TIME_PER_S, REWARD_CRASH, REWARD_SUCCESS = -0.5, -10.0, 10.0
REWARD_TERMS = ("progress", "time", "crash", "success")

# The simulated flight controller of the "rates" mode (runs at physics rate,
# knows only the nominal airframe): a PI loop on each body rate giving an
# angular acceleration, times the nominal inertia = torque; the mixer turns
# collective thrust and torques into rotor thrusts (attitude first), the
# inverse thrust curve into motor speeds, and a lag inversion on the measured
# motor speed (an ESC with rpm telemetry) makes each motor follow its set-point
# as a symmetric first-order lag of ESC_TAU instead of the motor's own
# 0.055 s up / 0.249 s down (a plain PI loop on the raw, asymmetric lag rings).
RATE_KP = (40.0, 40.0, 20.0)  # (rad/s^2) / (rad/s)
RATE_KI = (20.0, 20.0, 10.0)  # (rad/s^2) / rad
RATE_I_LIMIT = (0.3, 0.3, 0.5)  # rad: anti-windup bound of each integral
ESC_TAU = 0.015  # s

#: Plant parameters the ``randomize`` argument can vary, each by a +- fraction drawn per episode.
RANDOMIZE_KEYS = ("mass", "inertia", "thrust", "torque", "motor_tau")
#: Second seed word of the randomisation stream: reset(seed=s) draws the factors from
#: default_rng([s, this]), apart from the course, so a seed flies the same course either way.
RANDOMIZE_STREAM = 0xD0_5EED


def _check_randomize(randomize: object) -> dict[str, float]:
    """``randomize`` as {key: fraction}; one clear error for unknown keys or bad values."""
    if randomize is None:
        return {}
    choices = ", ".join(RANDOMIZE_KEYS)
    if not isinstance(randomize, dict):
        raise LiquidControlError(
            f"randomize={randomize!r} is invalid; expected None or a dict of +-fractions in [0, 1) "
            f"with keys from {choices}.")
    unknown = sorted(str(k) for k in randomize if k not in RANDOMIZE_KEYS)
    if unknown:
        raise LiquidControlError(
            f"randomize key(s) {unknown} are unknown; choose from {choices} (each a +-fraction in [0, 1)).")
    for key, value in randomize.items():
        ok = not isinstance(value, bool) and isinstance(value, numbers.Real) and 0.0 <= float(value) < 1.0
        if not ok:
            raise LiquidControlError(
                f"randomize[{key!r}]={value!r} is invalid; expected a +-fraction in [0, 1) for each of {choices}.")
    return {str(k): float(v) for k, v in randomize.items()}


class SteadyWind:
    """A constant wind (m/s, world frame) as a wind function of time (see :meth:`DroneEnv.set_wind`)."""

    def __init__(self, velocity: tuple[float, float, float]) -> None:
        self.velocity = velocity

    def __call__(self, t: float) -> tuple[float, float, float]:
        return self.velocity


def _positive(value: object) -> bool:
    """A finite real number > 0 (not a bool)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return False
    number = float(value)
    return math.isfinite(number) and number > 0.0


class DroneState(NamedTuple):
    """True state of the quadrotor (see :meth:`DroneEnv.true_state`)."""

    position: tuple[float, float, float]  # m, world ENU (z up), centre of mass
    quaternion: tuple[float, float, float, float]  # (w, x, y, z), body FLU -> world, as MuJoCo stores it
    rotation: tuple[float, ...]  # 3x3 body -> world, row-major (columns are the body axes in the world)
    velocity: tuple[float, float, float]  # m/s, world frame
    body_rates: tuple[float, float, float]  # rad/s, body frame (roll p, pitch q, yaw r)
    motor_speeds: tuple[float, float, float, float]  # relative motor speeds r in [0, 1], rotors 0-3
    #: m/s^2, body frame: the IMU accelerometer's specific force a - g (gravity g = (0, 0, -9.81) in the
    #: world), (0, 0, +9.81) at hover, ~0 in free fall; noise-free, includes thrust and drag
    specific_force: tuple[float, float, float]


def rotation_from_quaternion(w: float, x: float, y: float, z: float) -> tuple[float, ...]:
    """Row-major 3x3 rotation (body -> world) of the unit quaternion (w, x, y, z)."""
    xx, yy, zz = x * x, y * y, z * z
    xy, xz, yz, wx, wy, wz = x * y, x * z, y * z, w * x, w * y, w * z
    return (1.0 - 2.0 * (yy + zz), 2.0 * (xy - wz), 2.0 * (xz + wy),
            2.0 * (xy + wz), 1.0 - 2.0 * (xx + zz), 2.0 * (yz - wx),
            2.0 * (xz - wy), 2.0 * (yz + wx), 1.0 - 2.0 * (xx + yy))


class Mixer:
    """Collective thrust and body torques -> four rotor thrusts, attitude first.

    For an X frame with rotors at (x_i, y_i), yaw directions d_i and reaction
    torque coefficient k: tau_x = sum y_i T_i, tau_y = -sum x_i T_i,
    tau_z = k sum d_i T_i, thrust = sum T_i. Each rotor is limited to
    [t_min, t_max]. When the demand does not fit, the roll/pitch torques are
    kept (scaled down only if they alone exceed the rotors' range), then as
    much yaw torque as still fits, and the collective thrust is shifted last:
    a saturated quadrotor keeps its attitude and gives up altitude first.
    """

    def __init__(self, airframe: dc.Airframe, torque_coefficient: float | None = None,
                 t_min: float | None = None, t_max: float | None = None) -> None:
        if dc.YAW_DIRECTIONS != (-1.0, 1.0, -1.0, 1.0):
            raise LiquidControlError("the mixer assumes yaw directions -1, +1, -1, +1 for rotors 0-3.")
        k = airframe.torque_coefficient if torque_coefficient is None else torque_coefficient
        self.roll = tuple(1.0 / (4.0 * y) for _, y in airframe.rotor_positions)
        self.pitch = tuple(-1.0 / (4.0 * x) for x, _ in airframe.rotor_positions)
        self.yaw = 1.0 / (4.0 * k)
        self.t_min = airframe.min_thrust if t_min is None else t_min
        self.t_max = airframe.max_thrust if t_max is None else t_max

    def thrusts(self, thrust: float, tx: float, ty: float, tz: float) -> tuple[float, float, float, float]:
        """Rotor thrusts (N) for collective ``thrust`` (N) and body torques (N m)."""
        lo, hi = self.t_min, self.t_max
        span = hi - lo
        a0, a1, a2, a3 = self.roll
        b0, b1, b2, b3 = self.pitch
        u0, u1, u2, u3 = a0 * tx + b0 * ty, a1 * tx + b1 * ty, a2 * tx + b2 * ty, a3 * tx + b3 * ty
        top, bottom = max(u0, u1, u2, u3), min(u0, u1, u2, u3)
        if top - bottom > span:
            # Roll and pitch alone exceed the rotors' range: keep their ratio, drop yaw.
            f = span / (top - bottom)
            u0, u1, u2, u3, top, bottom = f * u0, f * u1, f * u2, f * u3, f * top, f * bottom
        elif tz != 0.0:
            w = tz * self.yaw  # per rotor: -w on rotors 0 and 2, +w on 1 and 3
            # The rotors that grow with this yaw torque and those that shrink must stay within span.
            gap = max(u1, u3) - min(u0, u2) if w > 0.0 else max(u0, u2) - min(u1, u3)
            w *= min(1.0, (span - gap) / (2.0 * abs(w)))
            u0, u1, u2, u3 = u0 - w, u1 + w, u2 - w, u3 + w
            top, bottom = max(u0, u1, u2, u3), min(u0, u1, u2, u3)
        c = min(max(0.25 * thrust, lo - bottom), hi - top)
        return c + u0, c + u1, c + u2, c + u3


class DroneEnv(gym.Env):
    """Fly a quadrotor through three seeded targets and hover at the last one.

    **Airframes** (``airframe``): ``"crazyflie"`` (default; Crazyflie 2.1 as
    identified for the Learning to Fly simulator: 0.0306 kg, inertia
    diag(9e-6, 1e-5, 1.7e-5) kg m^2, rotors at (+-0.028, +-0.028, 0) m,
    thrust per rotor T = 0.003525 + 0.014373 r + 0.09223 r^2 N for relative
    motor speed r in [0, 1], reaction torque 0.004665 m x T, motor lag
    0.055 s rising / 0.249 s falling; hover at r = 0.806, thrust-to-weight
    1.47) or ``"x250"`` (a ~1 kg 250 mm X frame, thrust-to-weight 3.1; its
    sources and assumptions are in ``drone_constants``). Model:
    ``sim_assets/quadrotor/<airframe>_scene.xml``, a free body with four
    MuJoCo ``motor`` actuators (thrust in N along body z plus the yaw
    reaction torque, gear (0 0 1 0 0 +-k)). The thrust curve and the
    first-order motor lag on r are applied by the env and the lag is
    integrated exactly over each 2 ms physics step. No ground effect, no
    contacts, and no drag unless a wind is set (``set_wind``: then the linear
    drag F = -c (v - w) of the airframe's ``drag_coefficient``, 0.01 N s/m
    for the Crazyflie, acts at the centre of mass every physics step).

    **IMU**: the airframe's ``imu`` site sits at the centre of mass, aligned
    with the body frame (FLU), and carries two noise-free MuJoCo sensors
    (names in ``drone_constants``): ``gyro`` (body rates, rad/s; the
    observation's rates 9-11 and ``true_state().body_rates`` are read from
    it, equal to the free joint's angular velocity) and ``accelerometer``
    (specific force a - g in m/s^2, body frame: (0, 0, +9.81) at hover, 0 in
    free fall; ``true_state().specific_force``, not in the observation).
    After each control period the env runs ``mj_forward`` so both read the
    new state (``mj_step`` evaluates sensors before it integrates). The
    "rates" flight controller's 500 Hz loop reads the same angular velocity
    (the free joint's ``qvel``) at every physics step.

    **Frames** (REP-103): world ENU (x, y horizontal, z up), body FLU (x
    forward, y left, z up); quaternions (w, x, y, z) body -> world as MuJoCo
    stores them. Rotors: 0 (+x, -y), 1 (-x, -y), 2 (-x, +y), 3 (+x, +y),
    yaw-torque directions -1, +1, -1, +1. So more thrust on rotors 0 and 2
    yaws the drone clockwise seen from above (negative yaw rate), on 1 and 3
    counter-clockwise; more thrust on the +y rotors (2, 3) gives a positive
    roll torque (right side down: the drone tilts and accelerates towards
    -y); more thrust on the +x rotors (0, 3) a negative pitch torque (nose
    up: it accelerates towards -x).

    **Action modes** (``action_mode``), float32 in [-1, 1]^4 (see ``action_layout``):

    - ``"rates"`` (default), ``control_period`` 0.02 s (10 physics steps):

      =====  ================================================  ===========
      index  meaning                                           scale
      =====  ================================================  ===========
      0      collective thrust: hover + a0 x scale (0 = the     0.140 N
             nominal weight m g; [-1, 1] = 0.53 ... 1.47 m g
             for the Crazyflie)
      1      roll rate set-point (body x)                      6.0 rad/s
      2      pitch rate set-point (body y)                     6.0 rad/s
      3      yaw rate set-point (body z)                       3.0 rad/s
      =====  ================================================  ===========

      A simulated flight controller tracks the rates at physics rate (500
      Hz): a PI loop per axis, the attitude-first mixer (:class:`Mixer`),
      the inverse thrust curve and a motor-lag inversion on the measured
      motor speed (an ESC with rpm telemetry), all with the *nominal*
      airframe parameters, so ``set_physics`` changes what it controls.
    - ``"motors"``, ``control_period`` 0.01 s (5 physics steps): four
      normalised motor commands, relative speed set-point r = (a_i + 1) / 2
      (scale 0.5, offset 0.5), through the motor lag and the thrust curve;
      hover is a_i = 2 x 0.806 - 1 = 0.612 for the Crazyflie.

    **Observation** (float32, shape (22,); see ``observation_layout``):

    =====  =============================================  =====  ======  ========
    index  meaning                                        unit   scale   group
    =====  =============================================  =====  ======  ========
    0-8    rotation matrix body -> world, row-major        1      0.1     attitude
           (R_xx, R_xy, R_xz, R_yx, ..., R_zz)
    9-11   body rates p, q, r (gyro, body frame),          rad/s  0.5     gyro
           saturated at +-34.9 rad/s (2000 deg/s)
    12-14  velocity, world frame                           m/s    0.2     velocity
    15-17  current target minus position, world frame      m      0.1     position
    18-21  previous action (the clipped command of the     1      0.1     action
           last step; the hover command after reset)
    =====  =============================================  =====  ======  ========

    ``scale`` is the channel's nominal sensor scale: ``obs_noise`` severity
    1 (0.05 x scale) is 0.3 deg on the attitude, 0.025 rad/s on the gyro,
    1 cm/s on the velocity and 5 mm on the position. Every channel's
    ``fail_value`` is ``"hold"`` (a lost reading repeats its last value).

    **Course** (from the seed): start hovering (motors at the nominal hover
    speed, at rest) at x, y ~ U(-0.6, 0.6) m, z ~ U(0.2, 0.3) m, yaw ~
    U(-0.3, 0.3) rad; three targets at x, y ~ U(-0.7, 0.7) m, z ~ U(0.4,
    1.2) m, each at least 0.5 m from the previous point (start or target).
    The current target advances when the centre of mass comes within 0.1 m
    of it; the last one must then be held. Arena: x, y in [-1, 1] m, z in
    [0, 1.5] m.

    **Reward** = sum of ``info["reward_<name>"]``: ``progress`` (decrease of
    the distance to the current target, m), ``time`` (-0.5 per second of
    flight), ``crash`` (-10 on any failure termination), ``success`` (+10).

    **Termination**: success (``info["is_success"]``: every target reached
    in order, then 1 s without a break inside the last target's radius
    below 0.2 m/s); ``crash`` (centre of mass below 0.03 m); ``tilt``
    (body z more than 60 deg from vertical); ``spin`` (a body rate beyond
    the gyro range, 34.9 rad/s); ``out_of_bounds`` (leaving the arena);
    ``unstable`` (MuJoCo warnings or a non-finite / huge state).
    ``info["collision"]`` is crash or out_of_bounds (hitting the floor or a
    wall). **Truncation**: after ``max_episode_seconds`` (15 s).

    **Info** also holds ``position`` (x, y, z m, for path length),
    ``tracking_error_m`` (distance to the current target), ``targets_reached``
    (0-3), ``target`` (the current target, m), ``speed`` (m/s) and
    ``course_time_s`` (time the last target was first reached, None before).

    **Arguments**: ``render_mode`` (None or "rgb_array"), ``action_mode``
    ("rates" or "motors"), ``airframe`` ("crazyflie" or "x250"),
    ``max_episode_seconds`` (15.0), ``render_width`` / ``render_height``
    (320 / 240 px), ``camera`` ("overview": fixed, the whole arena; "chase":
    follows the drone), ``n_targets`` (3; 1 or 2 fly the first targets of
    the same seeded course, e.g. the single-target ``drone_single`` task),
    ``randomize`` (None, or domain randomisation: a dict
    of +-fractions in [0, 1) with keys from ``mass``, ``inertia``,
    ``thrust``, ``torque``, ``motor_tau``, e.g. ``{"mass": 0.2, "thrust":
    0.1}``: every reset draws each factor uniformly from 1 +- fraction, from
    the episode seed, on top of ``set_physics``; ``motor_tau`` scales both
    time constants; ``physics()`` gives the factors of the episode; with
    ``randomize`` set, the info dict of reset and of every step holds
    ``airframe_factors``, the episode's drawn factors as {key: float} for
    every key above, 1.0 for the keys not randomised; without it the key is
    absent).

    **Hooks** for perturbations (``liquidcontrol.perturb.drone``):

    - ``set_physics(...)`` scales the plant from the next reset:
      ``mass_scale`` (mass and inertia, a payload that keeps the centre of
      mass; the ``mass`` and ``payload`` perturbations' interface),
      ``inertia_scale``, ``thrust_scale`` (the whole thrust curve),
      ``torque_scale`` (reaction torque coefficient),
      ``motor_tau_up_scale`` / ``motor_tau_down_scale`` (motor time
      constants).
    - ``set_rotor_scale(index, scale)`` (or ``set_rotor_scales`` for all
      four): rotor ``index``'s thrust, and with it its reaction torque, x
      ``scale`` for any motor speed, the other rotors nominal; from the
      next physics step on (it can weaken a rotor in flight) and kept
      across resets; ``set_rotor_scale(None)`` restores all four.
    - ``set_wind(wind)``: None (no wind and no drag), a steady wind (vx,
      vy, vz) in m/s, world frame, or a function ``wind(t) -> (vx, vy,
      vz)`` that the env calls once per physics step, just before it, with
      the simulation time t (s since reset). The drag F = -c (v - w) on the
      centre of mass (MuJoCo ``xfrc_applied``) uses the drone's velocity v
      at that moment. From the next physics step on, kept across resets;
      ``wind_velocity`` and ``drag_force`` give the last step's values.

    The flight controller of the "rates" mode and the expert keep the
    nominal values and know nothing of wind or weak rotors.
    ``true_state()`` gives the true state (:class:`DroneState`).

    **Version history**: v0 — first release; wind and drag, rotor scale and
    domain randomisation added later, off by default (the nominal env is
    unchanged).
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 50}
    observation_layout: list[dict[str, Any]]
    action_layout: list[dict[str, Any]]

    def __init__(self, render_mode: str | None = None, action_mode: str = "rates",
                 airframe: str = "crazyflie", max_episode_seconds: float = 15.0,
                 render_width: int = 320, render_height: int = 240, camera: str = "overview",
                 randomize: dict[str, float] | None = None, n_targets: int = N_TARGETS) -> None:
        if isinstance(n_targets, bool) or not isinstance(n_targets, int) or not 1 <= n_targets <= N_TARGETS:
            raise LiquidControlError(f"n_targets={n_targets!r} is invalid; expected a whole number from 1 to {N_TARGETS}.")
        self.n_targets = int(n_targets)
        if render_mode not in (None, "rgb_array"):
            raise LiquidControlError(
                f"render_mode {render_mode!r} is not supported; expected None or 'rgb_array'.")
        if action_mode not in ACTION_MODES:
            raise LiquidControlError(f"action_mode {action_mode!r} is unknown; expected 'rates' or 'motors'.")
        if airframe not in dc.AIRFRAMES:
            raise LiquidControlError(
                f"airframe {airframe!r} is unknown; expected one of {', '.join(sorted(dc.AIRFRAMES))}.")
        if camera not in dc.CAMERAS:
            raise LiquidControlError(f"camera {camera!r} is unknown; expected 'overview' or 'chase'.")
        if not _positive(max_episode_seconds):
            raise LiquidControlError(f"max_episode_seconds={max_episode_seconds!r} is invalid; expected a number > 0.")
        self._randomize = _check_randomize(randomize)
        self.render_mode, self.camera = render_mode, camera
        self.render_size = (int(render_height), int(render_width))
        self.action_mode = action_mode
        self.airframe: dc.Airframe = dc.AIRFRAMES[airframe]
        self.control_period = CONTROL_PERIODS[action_mode]
        self.model = mujoco.MjModel.from_xml_path(str(asset_path(self.airframe.scene_xml)))
        self.data = mujoco.MjData(self.model)
        self.physics_dt = float(self.model.opt.timestep)
        self.frame_skip = round(self.control_period / self.physics_dt)
        self.max_steps = round(max_episode_seconds / self.control_period)
        self.dwell_steps = round(DWELL_SECONDS / self.control_period)
        self._cache_ids()
        self._scales = {name: 1.0 for name in self._physics_names()}
        self._factors = dict.fromkeys(RANDOMIZE_KEYS, 1.0)
        self._randomize_rng = np.random.default_rng()
        self._rotor_scales: tuple[float, ...] = (1.0, 1.0, 1.0, 1.0)
        #: linear drag of the airframe against the air, N s/m (applied only with a wind)
        self.drag_coefficient = self.airframe.drag_coefficient
        self._wind: Any = None
        self.wind_velocity: tuple[float, float, float] = (0.0, 0.0, 0.0)
        self.drag_force: tuple[float, float, float] = (0.0, 0.0, 0.0)
        self._applied: dict[str, float] = {}
        self._setup_nominal()
        self._apply_physics()
        self._setup_layouts()
        high = np.array([1.0] * 9 + [dc.GYRO_RANGE] * 3 + [20.0] * 3 + [4.0] * 3 + [1.0] * 4, np.float32)
        self.observation_space = spaces.Box(-high, high, dtype=np.float32)
        self.action_space = spaces.Box(-1.0, 1.0, shape=(4,), dtype=np.float32)
        self._obs = np.zeros(22, np.float32)
        self._renderer: mujoco.Renderer | None = None
        self.targets: list[tuple[float, float, float]] = [(0.0, 0.0, 1.0)] * self.n_targets
        self._r = [self._hover_r] * 4
        self._reset_counters()
        mujoco.mj_forward(self.model, self.data)
        self._read_state()

    # ------------------------------------------------------------------ setup
    def _cache_ids(self) -> None:
        """Look up every element once, by name (see drone_constants)."""
        m = self.model

        def ident(kind: mujoco.mjtObj, name: str) -> int:
            i = mujoco.mj_name2id(m, kind, name)
            if i < 0:
                raise LiquidControlError(f"{self.airframe.scene_xml} has no element named {name!r}.")
            return i

        self._body = ident(mujoco.mjtObj.mjOBJ_BODY, dc.DRONE_BODY)
        free = ident(mujoco.mjtObj.mjOBJ_JOINT, dc.DRONE_FREE_JOINT)
        self._qpos0, self._qvel0 = int(m.jnt_qposadr[free]), int(m.jnt_dofadr[free])
        self._actuators = [ident(mujoco.mjtObj.mjOBJ_ACTUATOR, n) for n in dc.ROTOR_ACTUATORS]
        assert self._actuators == list(range(4)), "rotor actuators must be the model's first four, in order"
        self._target_sites = [ident(mujoco.mjtObj.mjOBJ_SITE, n) for n in dc.TARGET_SITES]
        ident(mujoco.mjtObj.mjOBJ_SITE, dc.IMU_SITE)
        gyro = ident(mujoco.mjtObj.mjOBJ_SENSOR, dc.GYRO_SENSOR)
        accel = ident(mujoco.mjtObj.mjOBJ_SENSOR, dc.ACCELEROMETER_SENSOR)
        self._gyro_adr, self._accel_adr = int(m.sensor_adr[gyro]), int(m.sensor_adr[accel])
        self._base_mass = float(m.body_mass[self._body])
        self._base_inertia = m.body_inertia[self._body].copy()
        self._base_gear = m.actuator_gear[self._actuators, 5].copy()
        self._warnings = [self.data.warning[int(w)] for w in (
            mujoco.mjtWarning.mjWARN_BADQACC, mujoco.mjtWarning.mjWARN_BADQVEL,
            mujoco.mjtWarning.mjWARN_BADQPOS)]

    def _setup_nominal(self) -> None:
        """What the flight controller (and the expert) know: the nominal airframe."""
        af = self.airframe
        self._hover_r = af.hover_speed
        self.mixer = Mixer(af)
        hover_total = 4.0 * af.hover_thrust
        #: collective thrust (N) = collective_offset + a0 * collective_scale in the "rates" mode
        self.collective_offset = hover_total
        self.collective_scale = min(4.0 * af.max_thrust - hover_total, hover_total - 4.0 * af.min_thrust)
        dt = self.physics_dt
        self._nom_up, self._nom_down = math.exp(-dt / af.motor_tau_up), math.exp(-dt / af.motor_tau_down)
        self._esc_decay = math.exp(-dt / ESC_TAU)
        self._inertia_nominal = af.inertia

    def _setup_layouts(self) -> None:
        axes = "xyz"
        layout: list[dict[str, Any]] = [
            {"name": f"R_{axes[i]}{axes[j]}", "unit": "1", "group": "attitude", "scale": 0.1,
             "fail_value": "hold"} for i in range(3) for j in range(3)]
        layout += [{"name": f"rate_{a}", "unit": "rad/s", "group": "gyro", "scale": 0.5, "fail_value": "hold",
                    "limits": [-dc.GYRO_RANGE, dc.GYRO_RANGE]} for a in "pqr"]
        layout += [{"name": f"velocity_{a}", "unit": "m/s", "group": "velocity", "scale": 0.2,
                    "fail_value": "hold"} for a in axes]
        layout += [{"name": f"target_error_{a}", "unit": "m", "group": "position", "scale": 0.1,
                    "fail_value": "hold"} for a in axes]
        if self.action_mode == "rates":
            actions: list[dict[str, Any]] = [
                {"name": "collective_thrust", "unit": "N", "scale": self.collective_scale,
                 "offset": self.collective_offset},
                {"name": "roll_rate", "unit": "rad/s", "scale": RATE_SCALE[0]},
                {"name": "pitch_rate", "unit": "rad/s", "scale": RATE_SCALE[1]},
                {"name": "yaw_rate", "unit": "rad/s", "scale": RATE_SCALE[2]},
            ]
        else:
            actions = [{"name": f"motor{i}", "unit": "1", "scale": 0.5, "offset": 0.5} for i in range(4)]
        layout += [{"name": f"previous_{a['name']}", "unit": "1", "group": "action", "scale": 0.1,
                    "fail_value": "hold"} for a in actions]
        self.observation_layout = layout
        self.action_layout = actions

    @staticmethod
    def _physics_names() -> tuple[str, ...]:
        return ("mass_scale", "inertia_scale", "thrust_scale", "torque_scale",
                "motor_tau_up_scale", "motor_tau_down_scale")

    def set_physics(self, friction_scale: float = 1.0, mass_scale: float = 1.0, *, inertia_scale: float = 1.0,
                    thrust_scale: float = 1.0, torque_scale: float = 1.0, motor_tau_up_scale: float = 1.0,
                    motor_tau_down_scale: float = 1.0) -> None:
        """Scale the plant's mass and inertia, thrust curve, reaction torque and motor time constants; applies from the next reset.

        ``friction_scale`` exists for the ``PhysicsScale`` interface only and must
        be 1 (a drone in free flight touches nothing).
        """
        values = {"mass_scale": mass_scale, "inertia_scale": inertia_scale, "thrust_scale": thrust_scale,
                  "torque_scale": torque_scale, "motor_tau_up_scale": motor_tau_up_scale,
                  "motor_tau_down_scale": motor_tau_down_scale}
        for name, value in {"friction_scale": friction_scale, **values}.items():
            if not _positive(value):
                raise LiquidControlError(f"{name}={value!r} is invalid; expected a finite number > 0.")
        if friction_scale != 1.0:
            raise LiquidControlError(
                f"friction_scale={friction_scale!r} is invalid for a drone in free flight; it touches nothing, so only 1 is allowed.")
        self._scales = {k: float(v) for k, v in values.items()}

    def physics(self) -> dict[str, float]:
        """The plant's scale factors of this episode (``set_physics`` times the randomisation, as applied at reset)."""
        return dict(self._applied)

    @property
    def randomized_factors(self) -> dict[str, float]:
        """This episode's randomisation factors by ``randomize`` key (all 1 without randomisation)."""
        return dict(self._factors)

    def set_rotor_scale(self, index: int | None, scale: float = 1.0) -> None:
        """Rotor ``index``'s thrust and reaction torque x ``scale``, the others nominal (None: all nominal).

        Takes effect from the next physics step and is kept across resets.
        """
        if index is None:
            self.set_rotor_scales((1.0, 1.0, 1.0, 1.0))
            return
        if isinstance(index, bool) or not isinstance(index, numbers.Integral) or not 0 <= int(index) < 4:
            raise LiquidControlError(f"rotor index {index!r} is invalid; expected 0, 1, 2 or 3 (or None for all nominal).")
        scales = [1.0, 1.0, 1.0, 1.0]
        scales[int(index)] = scale
        self.set_rotor_scales(scales)

    def set_rotor_scales(self, scales: Any) -> None:
        """Each rotor's thrust and reaction torque x its factor (four finite numbers >= 0), from the next physics step."""
        values = list(scales) if isinstance(scales, (list, tuple, np.ndarray)) else []
        ok = len(values) == 4 and all(
            not isinstance(v, bool) and isinstance(v, numbers.Real) and math.isfinite(v) and float(v) >= 0.0
            for v in values)
        if not ok:
            raise LiquidControlError(f"rotor scales {scales!r} are invalid; expected four finite numbers >= 0.")
        self._rotor_scales = tuple(float(v) for v in values)
        self._update_rotor_curves()

    @property
    def rotor_scales(self) -> tuple[float, ...]:
        """The four rotors' thrust factors (1 = nominal)."""
        return self._rotor_scales

    def set_wind(self, wind: Any) -> None:
        """Wind from the next physics step on: None, a steady (vx, vy, vz) m/s, or a function of time (see the class docstring)."""
        if wind is None:
            self._wind = None
            self.data.xfrc_applied[self._body, :3] = 0.0
            self.wind_velocity = self.drag_force = (0.0, 0.0, 0.0)
            return
        if callable(wind):
            self._wind = wind
            return
        values = list(wind) if isinstance(wind, (list, tuple, np.ndarray)) else []
        ok = len(values) == 3 and all(
            not isinstance(v, bool) and isinstance(v, numbers.Real) and math.isfinite(v) for v in values)
        if not ok:
            raise LiquidControlError(
                f"wind {wind!r} is invalid; expected None, (vx, vy, vz) in m/s or a function t -> (vx, vy, vz).")
        self._wind = SteadyWind((float(values[0]), float(values[1]), float(values[2])))

    @property
    def wind_function(self) -> Any:
        """The wind set by :meth:`set_wind`, as a function of time (None: no wind, no drag)."""
        return self._wind

    def _update_rotor_curves(self) -> None:
        c0, c1, c2 = self._curve
        self._rotor_curves = tuple((c0 * g, c1 * g, c2 * g) for g in self._rotor_scales)

    def _draw_factors(self, seed: int | None) -> None:
        """This episode's randomisation factors (see ``randomize``)."""
        if seed is not None:
            self._randomize_rng = np.random.default_rng([int(seed), RANDOMIZE_STREAM])
        if self._randomize:
            u = self._randomize_rng.uniform(-1.0, 1.0, len(RANDOMIZE_KEYS)).tolist()
            self._factors = {k: 1.0 + self._randomize.get(k, 0.0) * v for k, v in zip(RANDOMIZE_KEYS, u)}

    def _apply_physics(self) -> None:
        f, m, af = self._factors, self.model, self.airframe
        s = dict(self._scales)
        s["mass_scale"] *= f["mass"]
        s["inertia_scale"] *= f["inertia"]
        s["thrust_scale"] *= f["thrust"]
        s["torque_scale"] *= f["torque"]
        s["motor_tau_up_scale"] *= f["motor_tau"]
        s["motor_tau_down_scale"] *= f["motor_tau"]
        if s != self._applied:
            m.body_mass[self._body] = self._base_mass * s["mass_scale"]
            m.body_inertia[self._body] = self._base_inertia * (s["mass_scale"] * s["inertia_scale"])
            m.actuator_gear[self._actuators, 5] = self._base_gear * s["torque_scale"]
            mujoco.mj_setConst(m, self.data)
            self._applied = dict(s)
        ts = s["thrust_scale"]
        c0, c1, c2 = (c * ts for c in af.thrust_curve)
        self._curve = (c0, c1, c2)
        self._update_rotor_curves()
        dt = self.physics_dt
        self._up = math.exp(-dt / (af.motor_tau_up * s["motor_tau_up_scale"]))
        self._down = math.exp(-dt / (af.motor_tau_down * s["motor_tau_down_scale"]))

    def _reset_counters(self) -> None:
        self._steps = 0
        self._dwell = 0
        self._index = 0  # current target
        self._reached = 0
        self._course_time: float | None = None
        self._integral = [0.0, 0.0, 0.0]
        hover_action = 0.0 if self.action_mode == "rates" else 2.0 * self._hover_r - 1.0
        self._last_action = [hover_action] * 4

    # ------------------------------------------------------------------ state
    def true_state(self) -> DroneState:
        """The true state; frames and units in :class:`DroneState` (world ENU, body FLU, SI units)."""
        return DroneState(self._p, self._q, self._R, self._v, self._w, (self._r[0], self._r[1], self._r[2], self._r[3]),
                          self._f)

    @property
    def current_target(self) -> tuple[float, float, float]:
        """Centre of the target the drone is flying to (world frame, m)."""
        return self.targets[self._index]

    @property
    def target_index(self) -> int:
        return self._index

    @property
    def targets_reached(self) -> int:
        return self._reached

    def _read_state(self) -> None:
        """Read the state; the sensors need ``mj_forward`` at this state first (reset and step do it)."""
        i, j, d = self._qpos0, self._qvel0, self.data
        x, y, z, qw, qx, qy, qz = d.qpos[i:i + 7].tolist()
        vx, vy, vz = d.qvel[j:j + 3].tolist()
        g, a = self._gyro_adr, self._accel_adr
        p, q, r = d.sensordata[g:g + 3].tolist()  # the gyro: the body rates (= the free joint's qvel[3:6])
        fx, fy, fz = d.sensordata[a:a + 3].tolist()
        self._p, self._q = (x, y, z), (qw, qx, qy, qz)
        self._v, self._w, self._f = (vx, vy, vz), (p, q, r), (fx, fy, fz)
        self._R = rotation_from_quaternion(qw, qx, qy, qz)

    # ------------------------------------------------------------------ API
    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        rng = self.np_random
        self._draw_factors(seed)
        self._apply_physics()
        x, y = rng.uniform(*START_XY_RANGE, size=2).tolist()
        z, yaw = float(rng.uniform(*START_Z_RANGE)), float(rng.uniform(*START_YAW_RANGE))
        self.targets = self._draw_targets(rng, (x, y, z), self.n_targets)
        m, d = self.model, self.data
        mujoco.mj_resetData(m, d)
        d.qpos[self._qpos0:self._qpos0 + 7] = (x, y, z, math.cos(yaw / 2), 0.0, 0.0, math.sin(yaw / 2))
        for site, target in zip(self._target_sites, self.targets):
            m.site_pos[site] = target
        self._r = [self._hover_r] * 4
        hover = self._hover_r
        d.ctrl[:4] = [k0 + (k1 + k2 * hover) * hover for k0, k1, k2 in self._rotor_curves]
        mujoco.mj_forward(m, d)
        self._reset_counters()
        self._read_state()
        self._potential = self._distance()
        return self._observe(), self._info(False, {}, {})

    @staticmethod
    def _draw_targets(rng: np.random.Generator, start: tuple[float, float, float],
                      count: int = N_TARGETS) -> list[tuple[float, float, float]]:
        targets: list[tuple[float, float, float]] = []
        previous = start
        for _ in range(count):
            for _attempt in range(100):
                tx, ty = rng.uniform(*TARGET_XY_RANGE, size=2).tolist()
                tz = float(rng.uniform(*TARGET_Z_RANGE))
                if math.dist((tx, ty, tz), previous) >= MIN_LEG:
                    break
            targets.append((tx, ty, tz))
            previous = (tx, ty, tz)
        return targets

    def step(self, action):
        a = self._check_action(action)
        if self.action_mode == "rates":
            self._fly_rates(a)
        else:
            self._fly_motors(a)
        self._last_action = a
        self._steps += 1
        self._read_state()
        if self._is_unstable():
            terms = {"crash": REWARD_CRASH}
            return self._obs.copy(), REWARD_CRASH, True, False, self._info(False, {"unstable": True}, terms)
        x, y, z = self._p
        R = self._R
        (lx, ly, _), (hx, hy, hz) = dc.ARENA_LOW, dc.ARENA_HIGH
        p, q, r = self._w
        flags = {
            "crash": z < CRASH_HEIGHT,
            "tilt": R[8] < math.cos(MAX_TILT),
            "spin": max(abs(p), abs(q), abs(r)) > dc.GYRO_RANGE,
            "out_of_bounds": not (lx <= x <= hx and ly <= y <= hy and z <= hz),
        }
        failed = any(flags.values())
        distance = self._distance()
        progress = self._potential - distance
        if distance <= TARGET_RADIUS and self._reached <= self._index:
            self._reached = self._index + 1
            if self._index < self.n_targets - 1:
                self._index += 1
                distance = self._distance()
            elif self._course_time is None:
                self._course_time = self._steps * self.control_period
        self._potential = distance
        vx, vy, vz = self._v
        hovering = (self._reached == self.n_targets and distance <= TARGET_RADIUS
                    and vx * vx + vy * vy + vz * vz < HOVER_SPEED * HOVER_SPEED)
        self._dwell = self._dwell + 1 if hovering else 0
        success = self._dwell >= self.dwell_steps and not failed
        terms = {
            "progress": progress,
            "time": REWARD_TIME_PER_S * self.control_period,
            "crash": REWARD_CRASH if failed else 0.0,
            "success": REWARD_SUCCESS if success else 0.0,
        }
        terminated = success or failed
        truncated = not terminated and self._steps >= self.max_steps
        reward = terms["progress"] + terms["time"] + terms["crash"] + terms["success"]
        return self._observe(), reward, terminated, truncated, self._info(success, flags, terms)

    # ------------------------------------------------------------------ step parts
    def _check_action(self, action) -> list[float]:
        """Validate the action and clip it to [-1, 1]."""
        if not (isinstance(action, np.ndarray) and action.shape == (4,)):
            action = np.asarray(action, dtype=np.float64)
            if action.shape != (4,):
                names = ", ".join(e["name"] for e in self.action_layout)
                raise LiquidControlError(f"action has shape {action.shape}; expected (4,) = ({names}) in [-1, 1].")
        values = action.tolist()
        if not all(math.isfinite(v) for v in values):
            raise LiquidControlError(f"action {values} contains NaN or infinity; expected finite values in [-1, 1].")
        return [min(max(v, -1.0), 1.0) for v in values]

    def _thrust(self, r: float) -> float:
        c0, c1, c2 = self._curve
        return c0 + (c1 + c2 * r) * r

    def _fly_motors(self, a: list[float]) -> None:
        """Hold the four motor speed set-points for one control period."""
        up, down = self._up, self._down
        cmd = [0.5 * (v + 1.0) for v in a]
        r = self._r
        for _ in range(self.frame_skip):
            r = [c + (s - c) * (up if c > s else down) for c, s in zip(cmd, r)]
            self._physics_step(r)
        self._end_period(r)

    def _fly_rates(self, a: list[float]) -> None:
        """One control period of the simulated rate controller (see the class docstring)."""
        qvel = self.data.qvel
        j = self._qvel0 + 3
        dt = self.physics_dt
        thrust = self.collective_offset + a[0] * self.collective_scale
        sp, sq, sr = a[1] * RATE_SCALE[0], a[2] * RATE_SCALE[1], a[3] * RATE_SCALE[2]
        jx, jy, jz = self._inertia_nominal
        kpx, kpy, kpz = RATE_KP
        kix, kiy, kiz = RATE_KI
        lx, ly, lz = RATE_I_LIMIT
        ix, iy, iz = self._integral
        nc0, nc1, nc2 = self.airframe.thrust_curve
        n1sq, n4c2, inv2c2 = nc1 * nc1, 4.0 * nc2, 0.5 / nc2
        nom_up, nom_down, esc = self._nom_up, self._nom_down, self._esc_decay
        inv_up, inv_down = 1.0 / (1.0 - nom_up), 1.0 / (1.0 - nom_down)
        up, down = self._up, self._down
        mix = self.mixer.thrusts
        r = self._r
        for _ in range(self.frame_skip):
            p, q, rr = qvel[j:j + 3].tolist()
            ep, eq, er = sp - p, sq - q, sr - rr
            ix = min(max(ix + ep * dt, -lx), lx)
            iy = min(max(iy + eq * dt, -ly), ly)
            iz = min(max(iz + er * dt, -lz), lz)
            # Torque = J (PI output) + w x (J w), nominal inertia.
            tx = jx * (kpx * ep + kix * ix) + (jz - jy) * q * rr
            ty = jy * (kpy * eq + kiy * iy) + (jx - jz) * rr * p
            tz = jz * (kpz * er + kiz * iz) + (jy - jx) * p * q
            new_r = []
            for t_i, s in zip(mix(thrust, tx, ty, tz), r):
                disc = n1sq + n4c2 * (t_i - nc0)
                want = (math.sqrt(disc) - nc1) * inv2c2 if disc > 0.0 else 0.0
                want = 1.0 if want > 1.0 else (0.0 if want < 0.0 else want)
                # ESC: command the speed that brings the motor where a first-order motor of
                # ESC_TAU would be after dt, inverting the (nominal) lag from the measured speed.
                goal = want + (s - want) * esc
                if goal > s:
                    cmd = (goal - nom_up * s) * inv_up
                    cmd = 1.0 if cmd > 1.0 else cmd
                else:
                    cmd = (goal - nom_down * s) * inv_down
                    cmd = 0.0 if cmd < 0.0 else cmd
                new_r.append(cmd + (s - cmd) * (up if cmd > s else down))
            r = new_r
            self._physics_step(r)
        self._end_period(r)
        self._integral = [ix, iy, iz]

    def _physics_step(self, r: list[float]) -> None:
        """One physics step with the motors at relative speeds ``r``: thrust from the rotor
        curves, the wind's drag if any, then ``mj_step`` (both action modes end each step here)."""
        self.data.ctrl[:4] = [k0 + (k1 + k2 * v) * v for (k0, k1, k2), v in zip(self._rotor_curves, r)]
        if self._wind is not None:
            self._apply_drag(self._wind)
        mujoco.mj_step(self.model, self.data)

    def _end_period(self, r: list[float]) -> None:
        """Sensors at the new state (mj_step computes them before integrating); keep the motor speeds."""
        mujoco.mj_forward(self.model, self.data)
        self._r = r

    def _apply_drag(self, wind: Any) -> None:
        """Drag F = -c (v - w) on the centre of mass for the coming physics step (world frame)."""
        d, j, c = self.data, self._qvel0, self.drag_coefficient
        wx, wy, wz = wind(d.time)
        vx, vy, vz = d.qvel[j:j + 3].tolist()
        force = (c * (wx - vx), c * (wy - vy), c * (wz - vz))
        d.xfrc_applied[self._body, :3] = force
        self.wind_velocity, self.drag_force = (wx, wy, wz), force

    def _distance(self) -> float:
        return math.dist(self._p, self.targets[self._index])

    def _observe(self) -> np.ndarray:
        x, y, z = self._p
        tx, ty, tz = self.targets[self._index]
        g = dc.GYRO_RANGE
        rates = [min(max(v, -g), g) for v in self._w]
        vel = [min(max(v, -20.0), 20.0) for v in self._v]
        err = [min(max(v, -4.0), 4.0) for v in (tx - x, ty - y, tz - z)]
        o = self._obs
        o[:] = (*self._R, *rates, *vel, *err, *self._last_action)
        return o.copy()

    def _is_unstable(self) -> bool:
        if any(w.number for w in self._warnings):
            return True
        qvel = self.data.qvel
        # NaN fails every comparison, so this also catches non-finite states.
        return not (float(qvel @ qvel) < MAX_QVEL * MAX_QVEL and all(math.isfinite(v) for v in self._p))

    def _info(self, success: bool, flags: dict[str, bool], terms: dict[str, float]) -> dict[str, Any]:
        crash, out = flags.get("crash", False), flags.get("out_of_bounds", False)
        vx, vy, vz = self._v
        info: dict[str, Any] = {
            "is_success": success, "crash": crash, "tilt": flags.get("tilt", False),
            "spin": flags.get("spin", False), "out_of_bounds": out, "unstable": flags.get("unstable", False),
            "collision": crash or out, "position": self._p, "tracking_error_m": self._distance(),
            "targets_reached": self._reached, "target": self.targets[self._index],
            "speed": math.sqrt(vx * vx + vy * vy + vz * vz), "course_time_s": self._course_time,
        }
        for name in REWARD_TERMS:
            info[f"reward_{name}"] = terms.get(name, 0.0)
        if self._randomize:
            info["airframe_factors"] = {k: float(v) for k, v in self._factors.items()}
        return info

    # ------------------------------------------------------------------ rendering
    def render(self) -> np.ndarray | None:
        if self.render_mode != "rgb_array":
            return None
        if self._renderer is None:
            height, width = self.render_size
            self._renderer = lite_renderer(self.model, height, width)
        for k, site in enumerate(self._target_sites):
            if k >= self.n_targets:
                rgba = (0.0, 0.0, 0.0, 0.0)  # not part of this course
            elif k == self._index:
                rgba = (0.2, 0.9, 0.3, 0.45)  # current
            elif k < self._reached:
                rgba = (0.75, 0.75, 0.75, 0.2)  # reached
            else:
                rgba = (0.2, 0.5, 0.9, 0.25)  # later
            self.model.site_rgba[site] = rgba
        self._renderer.update_scene(self.data, camera=self.camera)
        return self._renderer.render()

    def close(self) -> None:
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None
