"""Perturbations of a multirotor: wind, a weak rotor, a payload and an imperfect gyro.

They act through hooks of ``liquidcontrol/Drone-v0`` (``envs/drone.py``):
``set_wind`` (drag against the air at physics rate), ``set_rotor_scale`` /
``set_rotor_scales``, ``set_physics(mass_scale=)`` and the ``"gyro"`` group
of its ``observation_layout``; on an env without them they stop with one
clear error. Physical meanings below are for the Crazyflie 2.1 (30.6 g,
weight 0.300 N, thrust-to-weight 1.47, 0.075 N per rotor at hover, 0.110 N
at full speed, drag coefficient c = 0.01 N s/m); the x250 airframe takes
the same levels.

| name | severity 1 … 5 | meaning |
|---|---|---|
| wind | mean 0.5, 1, 1.5, 2, 3 m/s; gusts σ 0.3 × mean per horizontal axis, τ 1 s | steady wind from a direction drawn per episode, plus Ornstein–Uhlenbeck gusts |
| rotor_loss | thrust × 0.9, 0.8, 0.7, 0.6, 0.5 on one rotor | a chipped propeller or a tired motor; the rotor is drawn per episode |
| payload | + 5, 10, 15, 20, 25 % of the airframe mass (Crazyflie: + 1.53 … 7.65 g) | a payload the drone can still lift |
| imu_noise | gyro σ 0.005, 0.01, 0.02, 0.05, 0.1 rad/s; bias 0.5, 1, 2, 5, 10 °/s | gyro white noise and a constant bias on the body-rate channels |

**wind** (:class:`Wind`, kind ``"wind"``): the air moves at w = mean +
gust. The mean is horizontal, of the level's speed, from a direction
uniform in [0, 2π) drawn per episode; each horizontal axis adds an
Ornstein–Uhlenbeck gust of stationary σ = 0.3 × the mean speed (a
turbulence intensity of 30 %, usual near the ground) and correlation time
1 s, advanced exactly at every physics step (2 ms) and started from its
stationary distribution. The env applies the drag F = −c (v − w) to the
centre of mass every physics step, so wind and the drone's own motion
through the air both count. On a Crazyflie hovering in place:

| severity | mean wind | gust σ | drag at hover | of the weight | tilt to hold station | expert settles downwind by |
|---|---|---|---|---|---|---|
| 1 | 0.5 m/s | 0.15 m/s | 5 mN | 1.7 % | 1.0° | 2.9 cm |
| 2 | 1.0 m/s | 0.3 m/s | 10 mN | 3.3 % | 1.9° | 5.8 cm |
| 3 | 1.5 m/s | 0.45 m/s | 15 mN | 5.0 % | 2.9° | 8.8 cm |
| 4 | 2.0 m/s | 0.6 m/s | 20 mN | 6.7 % | 3.8° | 11.7 cm |
| 5 | 3.0 m/s | 0.9 m/s | 30 mN | 10 % | 5.7° | 17.5 cm |

The last column is the scripted expert's steady offset (it has no
horizontal integral: c w / m = velocity gain × position gain × offset);
the course's hover target has a 0.1 m radius. Left alone (zero action in
the "rates" mode: level, hover thrust) a drone drifts with the wind, its
ground speed approaching w with the time constant m / c = 3.1 s.

**rotor_loss** (:class:`RotorLoss`, kind ``"physics"``): one rotor's
thrust, and with it its reaction torque, × the level at any motor speed,
through ``set_rotor_scale``; the rotor (0-3) is drawn per episode. The
flight controller and the expert do not know it. To balance roll and
pitch the diagonally opposite rotor must match the weak one, to balance yaw
all four must be equal:

| severity | thrust | weak rotor at full speed (Crazyflie) | of its hover share (0.075 N) |
|---|---|---|---|
| 1 | × 0.9 | 0.099 N | 132 % |
| 2 | × 0.8 | 0.088 N | 117 % |
| 3 | × 0.7 | 0.077 N | 103 %: hover only just, no margin to manoeuvre |
| 4 | × 0.6 | 0.066 N | 88 %: it cannot hold its share; level flight costs the yaw balance |
| 5 | × 0.5 | 0.055 N | 73 %: as 4, with twice the yaw torque left over |

**payload** (kind ``"physics"``): mass and inertia × (1 + level) through
``set_physics(mass_scale=)``, the centre of mass unchanged. The ``mass``
perturbation's ×1.1 … ×2 exceed a Crazyflie's thrust-to-weight of 1.47 from
×1.5 on; these levels stay liftable:

| severity | payload | Crazyflie take-off mass | thrust-to-weight | hover motor speed |
|---|---|---|---|---|
| 1 | + 5 % | 32.13 g (+ 1.53 g) | 1.40 | 0.829 (nominal 0.806) |
| 2 | + 10 % | 33.66 g (+ 3.06 g) | 1.33 | 0.851 |
| 3 | + 15 % | 35.19 g (+ 4.59 g) | 1.28 | 0.873 |
| 4 | + 20 % | 36.72 g (+ 6.12 g) | 1.22 | 0.894 |
| 5 | + 25 % | 38.25 g (+ 7.65 g) | 1.17 | 0.915 |

**imu_noise** (:class:`ImuNoise`, kind ``"observation"``): on the
observation's ``"gyro"`` channels (body rates p, q, r) a fresh zero-mean
Gaussian noise of σ every step plus a constant bias of the level's size,
its sign drawn per axis per episode; a reading saturated at the gyro's
range (±34.9 rad/s) stays saturated. The BMI088 of the Crazyflie 2.1
specifies a zero-rate offset of ±1 °/s (severity 2). It changes what the
policy sees, not the flight: the simulated flight controller of the
"rates" mode and the expert read the true rates.

| severity | noise σ | bias |
|---|---|---|
| 1 | 0.005 rad/s (0.29 °/s) | 0.0087 rad/s (0.5 °/s) |
| 2 | 0.01 rad/s (0.57 °/s) | 0.0175 rad/s (1 °/s) |
| 3 | 0.02 rad/s (1.15 °/s) | 0.0349 rad/s (2 °/s) |
| 4 | 0.05 rad/s (2.86 °/s) | 0.0873 rad/s (5 °/s) |
| 5 | 0.1 rad/s (5.73 °/s) | 0.175 rad/s (10 °/s) |

**The scripted expert** (``DroneExpert``, privileged, nominal airframe),
successes of 50 seeds (0-49) in the "rates" mode, as measured
(``tests/envs/test_drone_expert.py``, slow); "+ horizontal integral" is
``DroneExpert(horizontal_integral=1.0)``:

| perturbation | expert, severity 1 / 2 / 3 / 4 / 5 | + horizontal integral |
|---|---|---|
| wind | 50 / 50 / 50 / 36 / 5 | 50 / 50 / 50 / 50 / 50 |
| rotor_loss | 50 / 0 / 0 / 0 / 0 | 50 / 48 / 0 / 0 / 0 |

Under wind the default expert fails once its steady downwind offset nears
the 0.1 m target radius (severity 4: 11.7 cm). A weak rotor's roll / pitch
torque (severity 1: about 23 rad/s² of angular acceleration on the
Crazyflie) is more than the integral of the env's simulated rate loop may
hold (its anti-windup bound gives 6 rad/s²), so the rest stays as a rate
error that tilts the drone and, without a horizontal integral, leaves it
off its hover target: at severity 1 the attitude loop (gain 13 1/s) keeps
that offset inside the 0.1 m radius, from severity 2 every episode times
out (with the earlier gain of 9 1/s, severity 1 did too). From severity 3 on
the weak rotor cannot follow the expert's commands with any margin.
Domain randomisation (``DroneEnv(randomize={"mass": 0.2, "thrust": 0.1,
"motor_tau": 0.3, "inertia": 0.2})``): 50 / 50 for either expert; no wind,
no perturbation: 50 / 50.

Every amount is measured on the real drone env in
``tests/perturb/test_drone_perturbations.py`` (each check also shown to fail
for a wrapper that does nothing); the scripted expert's success under each
severity is measured in ``tests/envs/test_drone_expert.py`` (slow).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import gymnasium as gym
import numpy as np

from liquidcontrol.errors import LiquidControlError
from liquidcontrol.perturb.base import PerturbationWrapper, SeedLike, widen_space
from liquidcontrol.perturb.observation import _ChannelWrapper
from liquidcontrol.perturb.physics import PhysicsScale
from liquidcontrol.perturb.registry import PerturbationSpec, register_perturbation

Groups = tuple[str, ...] | None

GUST_FRACTION = 0.3  # gust sigma per horizontal axis, as a fraction of the mean wind speed
GUST_TAU_S = 1.0  # s, correlation time of the gusts
# Crazyflie 2.1 numbers for the descriptions (envs/drone_constants.py holds the model's; a test checks they agree).
CF_MASS_KG = 0.0306
CF_DRAG = 0.01  # N s/m
CF_HOVER_THRUST = 0.07505  # N per rotor
CF_MAX_THRUST = 0.11013  # N per rotor at full speed
GRAVITY = 9.81
CF_THRUST_TO_WEIGHT = 4 * CF_MAX_THRUST / (CF_MASS_KG * GRAVITY)  # 1.47


def _unwrapped_hook(env: gym.Env, name: str, what: str) -> Any:
    hook = getattr(env.unwrapped, name, None)
    if hook is None:
        raise LiquidControlError(
            f"{type(env.unwrapped).__name__} has no {name}(); {what} needs a multirotor env such as "
            "liquidcontrol/Drone-v0.")
    return hook


class GustyWind:
    """Wind velocity as a function of time: a steady mean plus Ornstein–Uhlenbeck gusts on x and y.

    ``mean`` (m/s, world frame); each horizontal axis gusts with stationary
    σ = ``sigma`` (m/s) and correlation time ``tau`` (s), advanced exactly
    over the time since the last call (a call at the same time returns the
    same wind) and started from its stationary distribution. ``base`` is
    another wind function added to this one (an inner wind perturbation).
    """

    def __init__(self, mean: tuple[float, float, float], sigma: float, tau: float, rng: np.random.Generator,
                 base: Callable[[float], tuple[float, float, float]] | None = None) -> None:
        self.mean, self.sigma, self.tau, self.rng, self.base = mean, float(sigma), float(tau), rng, base
        gx, gy = (rng.normal(0.0, 1.0, 2) * self.sigma).tolist()
        self.gust = (gx, gy)
        self.time = 0.0
        self._normals: list[float] = []

    def _normal(self) -> float:
        if not self._normals:
            self._normals = self.rng.standard_normal(1024).tolist()[::-1]
        return self._normals.pop()

    def __call__(self, t: float) -> tuple[float, float, float]:
        dt = t - self.time
        if dt > 0.0:
            a = math.exp(-dt / self.tau)
            b = self.sigma * math.sqrt(1.0 - a * a)
            gx, gy = self.gust
            self.gust = (a * gx + b * self._normal(), a * gy + b * self._normal())
            self.time = t
        mx, my, mz = self.mean
        gx, gy = self.gust
        if self.base is None:
            return mx + gx, my + gy, mz
        bx, by, bz = self.base(t)
        return mx + gx + bx, my + gy + by, mz + bz


class Wind(PerturbationWrapper):
    """Steady wind of ``mean_speed`` m/s from a direction drawn per episode, plus gusts (see the module docstring).

    At every reset it draws the direction (uniform in [0, 2π)) and a fresh
    :class:`GustyWind` from the episode's generator and hands it to the
    env's ``set_wind``; a wind that was there before (set by hand or by an
    inner wind wrapper) is added to it. ``direction`` is this episode's
    direction (rad from world +x), ``field`` its wind function.
    """

    def __init__(self, env: gym.Env, mean_speed: float, gust_fraction: float = GUST_FRACTION,
                 tau_s: float = GUST_TAU_S, seed: SeedLike = 0) -> None:
        super().__init__(env, seed)
        if not (math.isfinite(mean_speed) and mean_speed >= 0 and gust_fraction >= 0 and tau_s > 0):
            raise LiquidControlError(
                f"wind needs mean_speed >= 0, gust_fraction >= 0 and tau_s > 0, got {mean_speed}, {gust_fraction}, "
                f"{tau_s}.")
        _unwrapped_hook(env, "set_wind", "wind")
        self.mean_speed, self.gust_fraction, self.tau_s = float(mean_speed), float(gust_fraction), float(tau_s)
        self.direction = 0.0
        self.field: GustyWind | None = None
        self._base: Any = None

    @property
    def mean_velocity(self) -> tuple[float, float, float]:
        """This episode's steady wind (m/s, world frame)."""
        return (self.mean_speed * math.cos(self.direction), self.mean_speed * math.sin(self.direction), 0.0)

    def on_reset(self, obs: Any) -> Any:
        u: Any = self.env.unwrapped
        current = u.wind_function
        # Our own field of the last episode is replaced; anything else (an inner wind) is kept and added.
        base = self._base if self.field is not None and current is self.field else current
        self.direction = float(self.rng.uniform(0.0, 2.0 * math.pi))
        self.field = GustyWind(self.mean_velocity, self.gust_fraction * self.mean_speed, self.tau_s, self.rng, base)
        self._base = base
        u.set_wind(self.field)
        return obs


class RotorLoss(PerturbationWrapper):
    """One rotor's thrust and reaction torque × ``scale``; the rotor (0-3) is drawn per episode.

    Sets the env's ``set_rotor_scales`` after every reset (it acts from the
    next physics step, so before any flight): the product of this and every
    inner ``RotorLoss``'s factors. ``rotor`` is this episode's weak rotor.
    """

    def __init__(self, env: gym.Env, scale: float, seed: SeedLike = 0) -> None:
        super().__init__(env, seed)
        if not (math.isfinite(scale) and scale >= 0):
            raise LiquidControlError(f"rotor_loss needs a thrust scale >= 0, got {scale}.")
        _unwrapped_hook(env, "set_rotor_scales", "rotor_loss")
        self.scale = float(scale)
        self.rotor = 0

    def total_scales(self) -> list[float]:
        """Per rotor, the product of the factors of this and every inner RotorLoss."""
        scales = [1.0, 1.0, 1.0, 1.0]
        env: gym.Env = self
        while isinstance(env, gym.Wrapper):
            if isinstance(env, RotorLoss):
                scales[env.rotor] *= env.scale
            env = env.env
        return scales

    def on_reset(self, obs: Any) -> Any:
        self.rotor = int(self.rng.integers(4))
        u: Any = self.env.unwrapped
        u.set_rotor_scales(self.total_scales())
        return obs


class ImuNoise(_ChannelWrapper):
    """Gyro white noise of ``sigma`` and a constant bias of ``bias`` (both rad/s) on the ``"gyro"`` channels.

    The bias's sign is drawn per axis per episode; ``offset`` holds this
    episode's signed biases. Readings at the layout's ``limits`` (a
    saturated gyro) are left unchanged; the noisy channels are unbounded in
    the observation space.
    """

    def __init__(self, env: gym.Env, sigma: float, bias: float, groups: Sequence[str] | None = ("gyro",),
                 seed: SeedLike = 0) -> None:
        super().__init__(env, groups if groups is not None else ("gyro",), seed)
        if not (sigma >= 0 and bias >= 0):
            raise LiquidControlError(f"imu_noise needs sigma >= 0 and bias >= 0 (rad/s), got {sigma} and {bias}.")
        self.sigma, self.bias = float(sigma), float(bias)
        self.offset = np.zeros(self.size)
        self.observation_space = widen_space(env.observation_space, self.parts)

    def _corrupt(self, obs: Any) -> Any:
        values = self._gather(obs)
        noisy = values + self.offset + self.rng.normal(0.0, 1.0, self.size) * self.sigma
        return self._scatter(obs, np.where(self._saturated(values), values, noisy))

    def on_reset(self, obs: Any) -> Any:
        self.offset = self.rng.choice([-1.0, 1.0], size=self.size) * self.bias
        return self._corrupt(obs)

    def on_step(self, obs: Any) -> Any:
        return self._corrupt(obs)


# ---------------------------------------------------------------- descriptions
def _wind_text(level: float, _period: float) -> str:
    drag = CF_DRAG * level
    weight = CF_MASS_KG * GRAVITY
    return (f"mean wind {level:g} m/s from a direction drawn per episode, gusts sigma {GUST_FRACTION * level:.2f} m/s "
            f"per horizontal axis (tau {GUST_TAU_S:g} s); on a hovering Crazyflie {drag * 1000:.0f} mN of drag "
            f"({100 * drag / weight:.1f} % of its weight, {math.degrees(math.atan(drag / weight)):.1f} deg of tilt "
            "to hold station)")


def _rotor_text(level: float, _period: float) -> str:
    full = level * CF_MAX_THRUST
    share = full / CF_HOVER_THRUST
    what = "it can carry its hover share" if share >= 1.0 else "it cannot carry its hover share, level flight costs the yaw balance"
    return (f"one rotor (drawn per episode) at x{level:g} thrust and reaction torque; Crazyflie: {full:.3f} N at "
            f"full speed, {100 * share:.0f} % of its hover share ({what})")


def _payload_text(level: float, _period: float) -> str:
    grams = level * CF_MASS_KG * 1000
    return (f"payload +{100 * level:g} % of the airframe mass (Crazyflie: +{grams:.2f} g, "
            f"{CF_MASS_KG * 1000 + grams:.2f} g in all, thrust-to-weight {CF_THRUST_TO_WEIGHT / (1 + level):.2f})")


def _imu_text(level: dict[str, float], _period: float) -> str:
    return (f"gyro noise sigma {level['sigma']:g} rad/s ({math.degrees(level['sigma']):.2f} deg/s) and a constant bias "
            f"of {level['bias']:.4f} rad/s ({math.degrees(level['bias']):.3g} deg/s), sign drawn per axis and episode")


def _payload(env: gym.Env, level: float, seed: list[int], groups: Groups) -> gym.Env:
    return PhysicsScale(env, mass_scale=1.0 + level)


def _imu(env: gym.Env, level: dict[str, float], seed: list[int], groups: Groups) -> gym.Env:
    return ImuNoise(env, level["sigma"], level["bias"], groups, seed)


IMU_LEVELS = tuple({"sigma": s, "bias": math.radians(b)} for s, b in [
    (0.0, 0.0), (0.005, 0.5), (0.01, 1.0), (0.02, 2.0), (0.05, 5.0), (0.1, 10.0)])

SPECS = [
    PerturbationSpec(
        "wind", "wind", "steady wind plus Ornstein-Uhlenbeck gusts, drag -c (v - w) at physics rate",
        (0.0, 0.5, 1.0, 1.5, 2.0, 3.0),
        lambda env, lv, seed, g: Wind(env, lv, seed=seed),
        _wind_text,
    ),
    PerturbationSpec(
        "rotor_loss", "physics", "one rotor's thrust and reaction torque scaled down (drawn per episode)",
        (1.0, 0.9, 0.8, 0.7, 0.6, 0.5),
        lambda env, lv, seed, g: RotorLoss(env, lv, seed=seed),
        _rotor_text,
    ),
    PerturbationSpec(
        "payload", "physics", "a liftable payload: mass and inertia + a fraction of the airframe's",
        (0.0, 0.05, 0.1, 0.15, 0.2, 0.25),
        _payload, _payload_text,
    ),
    PerturbationSpec(
        "imu_noise", "observation", "gyro white noise and a constant per-episode bias on the body-rate channels",
        IMU_LEVELS, _imu, _imu_text, default_groups=("gyro",),
    ),
]

#: The names registered here: they need a multirotor env (their hooks or its "gyro" channels).
MULTIROTOR_PERTURBATIONS = tuple(spec.name for spec in SPECS)

for _spec in SPECS:
    register_perturbation(_spec, replace=True)
