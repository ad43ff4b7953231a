"""The registered perturbations and their severity tables.

Severity 0 is always "none". Where it makes sense the tables contain the
Real-World RL suite's easy / medium / hard settings (Dulac-Arnold et al.):
Gaussian noise σ 0.1 / 0.3 / 1.0 (severities 2 / 4 / 5), delays of 3 / 6 / 9
steps at 50 ms, i.e. 0.15 / 0.3 / 0.45 s (severities 3 / 4 / 5) and dropped
readings 1 / 5 / 10 % (severities 1 / 2 / 3); the steps in between and
beyond fill a 0-5 scale. Noise and drift are fractions of each channel's
scale (``channel_scales``). Delays and stuck-sensor holds are in seconds and
become whole control periods of the env they wrap (nearest, at least one;
``describe`` prints both). A lost reading reports the sensor's layout
``fail_value``; noise and drift leave readings at a saturation ``limits``
bound (a rangefinder's "no echo") unchanged and do not clip the others (see
:mod:`liquidcontrol.perturb.base`).

| name | severity 1 … 5 | meaning |
|---|---|---|
| obs_noise | σ 0.05, 0.1, 0.2, 0.3, 1.0 × scale | zero-mean Gaussian sensor noise; "no echo" stays "no echo" |
| obs_bias_drift | 0.005, 0.01, 0.02, 0.05, 0.1 × scale / s | decalibrating sensors |
| sensor_dropout | p 1, 5, 10, 20, 40 % per step | readings lost: rangefinders read 2 m (no echo), pose / speed / steering repeat the last value |
| frozen_sensor | p 0.25, 0.5, 1, 2.5, 5 % per step, held 1 s | stuck sensors (≈5, 9, 17, 33, 50 % of steps frozen) |
| obs_delay | 0.05, 0.1, 0.15, 0.3, 0.45 s (1, 2, 3, 6, 9 steps at 50 ms) | sensor latency |
| action_noise | σ 0.05, 0.1, 0.2, 0.3, 0.5 × half range | actuator noise |
| action_delay | 0.05, 0.1, 0.15, 0.3, 0.45 s (1, 2, 3, 6, 9 steps at 50 ms) | command latency |
| steer_servo | trim 2, 4, 6, 8, 10 % of full lock; slew 2, 1.5, 1, 0.75, 0.5 rad/s; backlash 0.005, 0.01, 0.02, 0.03, 0.04 rad | worn steering servo |
| friction | × 0.85, 0.7, 0.55, 0.4, 0.25 | 1-2 no measurable change; 3 braking limited by grip; 4-5 acceleration and braking limited by grip (5: stopping distance x2.2, slipping rear wheels tighten full-lock turns by 6 %) |
| mass | × 1.1, 1.25, 1.5, 1.75, 2.0 (3.74 … 6.8 kg) | payload: slower acceleration, longer stops |
| rain | friction × 0.9 … 0.5, range σ 0.02 … 0.2, range dropout 2 … 20 % | wet road + wet rangefinders |

**friction**, measured on ``liquidcontrol/Parking-v0`` (``FRICTION_EFFECTS``;
tyre and road μ 1.0 nominal; full speed ahead for 2 s from rest, then speed
command 0: time to reach 0.45 m/s and distance rolled after the stop
command; 3 s at full left lock and full speed: path radius). The car drives
at most 0.5 m/s with 2 m/s² speed ramps and turns at 0.3 m/s² lateral
acceleration, so grip only starts to matter where it limits the rear-wheel
drive's braking (μ ≈ 0.55) and acceleration (μ ≈ 0.4):

| severity | μ | 0 → 0.45 m/s | stop from 0.5 m/s | full-lock radius |
|---|---|---|---|---|
| 0 | 1.0 | 0.30 s | 6.3 cm | 0.837 m |
| 1 | 0.85 | 0.30 s | 6.4 cm | 0.837 m |
| 2 | 0.7 | 0.30 s | 6.4 cm | 0.837 m |
| 3 | 0.55 | 0.30 s | 7.6 cm (+19 %) | 0.835 m |
| 4 | 0.4 | 0.40 s | 10.0 cm (+58 %) | 0.817 m (-2 %) |
| 5 | 0.25 | 0.65 s | 14.0 cm (x2.2) | 0.787 m (-6 %) |

**mass** scales every body of the car (chassis, steering knuckles, wheels;
3.4 kg nominal), measured the same way (``MASS_EFFECTS``): 3.74 / 4.25 /
5.1 / 5.95 / 6.8 kg reach 0.45 m/s in 0.35 / 0.35 / 0.40 / 0.40 / 0.45 s and
stop in 6.5 / 6.9 / 7.6 / 8.3 / 9.1 cm (nominal 0.30 s, 6.3 cm): the drive
motors' torque limit, not grip, sets both.

**steer_servo** (``SteeringServo`` on the ``"steering"`` action channel;
full lock 0.38 rad for parking, the env's own servo slews 3 rad/s):

| severity | trim offset | a "straight" command drives a circle of | slew limit (lock to lock) | backlash |
|---|---|---|---|---|
| 1 | 2 % (0.0076 rad) | 43.4 m | 2 rad/s (0.38 s) | 0.005 rad (0.3°) |
| 2 | 4 % (0.0152 rad) | 21.7 m | 1.5 rad/s (0.51 s) | 0.01 rad (0.6°) |
| 3 | 6 % (0.0228 rad) | 14.5 m | 1 rad/s (0.76 s) | 0.02 rad (1.1°) |
| 4 | 8 % (0.0304 rad) | 10.9 m | 0.75 rad/s (1.01 s) | 0.03 rad (1.7°) |
| 5 | 10 % (0.038 rad) | 8.7 m | 0.5 rad/s (1.52 s) | 0.04 rad (2.3°) |

The trim offset's sign is drawn per episode. Read back from the env's
steering observation under a fixed command sequence (tests/perturb/probes.py,
``measure_servo``), offset, backlash and slew rate match this table within
0.1 %; without the wrapper the same probe reads 0 rad, 0 rad and 3.0 rad/s.

**rain**'s road friction ×0.9 / 0.8 / 0.7 / 0.6 / 0.5 stops the car from
0.5 m/s in 6.4 / 6.4 / 6.4 / 7.4 / 8.1 cm (nominal 6.3 cm).
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym

from liquidcontrol.perturb.action import ActionDelay, ActionNoise, SteeringServo
from liquidcontrol.perturb.base import control_period, seconds_to_steps
from liquidcontrol.perturb.observation import (
    FrozenSensor,
    ObservationBiasDrift,
    ObservationDelay,
    ObservationNoise,
    SensorDropout,
)
from liquidcontrol.perturb.physics import PhysicsScale
from liquidcontrol.perturb.registry import PerturbationSpec, register_perturbation

Groups = tuple[str, ...] | None
Keys = tuple[str, ...] | None

FROZEN_HOLD_S = 1.0  # s (20 steps at 50 ms): long enough for a stuck reading to mislead the controller.

#: Measured on liquidcontrol/Parking-v0 (seed 0; see the module docstring;
#: tests/perturb/probes.py re-measures them): friction factor -> (s to
#: 0.45 m/s, stopping distance from 0.5 m/s in cm, full-lock path radius in m).
FRICTION_EFFECTS: dict[float, tuple[float, float, float]] = {
    1.0: (0.30, 6.3, 0.837), 0.9: (0.30, 6.4, 0.837), 0.85: (0.30, 6.4, 0.837),
    0.8: (0.30, 6.4, 0.837), 0.7: (0.30, 6.4, 0.837), 0.6: (0.30, 7.4, 0.837),
    0.55: (0.30, 7.6, 0.835), 0.5: (0.40, 8.1, 0.831), 0.4: (0.40, 10.0, 0.817),
    0.25: (0.65, 14.0, 0.787),
}
#: Same measurements for the mass factor.
MASS_EFFECTS: dict[float, tuple[float, float, float]] = {
    1.0: (0.30, 6.3, 0.837), 1.1: (0.35, 6.5, 0.837), 1.25: (0.35, 6.9, 0.837),
    1.5: (0.40, 7.6, 0.836), 1.75: (0.40, 8.3, 0.836), 2.0: (0.45, 9.1, 0.836),
}
CAR_MASS_KG = 3.4  # parking car, every body of the subtree
FULL_LOCK_RAD = 0.38  # parking car, for the steer_servo descriptions
WHEELBASE_M = 0.33


def _delay_text(seconds: float, period: float) -> str:
    steps = seconds_to_steps(seconds, period)
    return f"{seconds:g} s ({steps} step{'s' if steps != 1 else ''} at {period * 1000:g} ms)"


def _effect_text(effects: dict[float, tuple[float, float, float]], factor: float) -> str:
    if factor not in effects:
        return ""
    t90, stop, radius = effects[factor]
    t0, stop0, radius0 = effects[1.0]
    return (f": 0.45 m/s in {t90:.2f} s (nominal {t0:.2f}), stops from 0.5 m/s in {stop:.1f} cm "
            f"(nominal {stop0:.1f}), full-lock radius {radius:.3f} m (nominal {radius0:.3f})")


def _friction_text(level: float, _period: float) -> str:
    t90, stop, radius = FRICTION_EFFECTS.get(level, (0.0, 0.0, 0.0))
    t0, stop0, radius0 = FRICTION_EFFECTS[1.0]
    if level not in FRICTION_EFFECTS:
        what = "not measured"
    elif stop <= 1.05 * stop0 and t90 <= t0:
        what = "grip to spare, no measurable change at parking speeds"
    elif t90 <= t0:
        what = "braking limited by grip"
    else:
        what = "acceleration and braking limited by grip" + (
            ", the slipping rear wheels tighten full-lock turns" if radius < 0.97 * radius0 else "")
    return f"tyre-road friction x{level:g} ({what}){_effect_text(FRICTION_EFFECTS, level)}"


def _mass_text(level: float, _period: float) -> str:
    return f"car mass x{level:g} ({level * CAR_MASS_KG:.2f} kg){_effect_text(MASS_EFFECTS, level)}"


def _frozen(env: gym.Env, level: dict[str, float], seed: list[int], groups: Groups, keys: Keys = None) -> gym.Env:
    hold = seconds_to_steps(level["hold_s"], control_period(env))
    return FrozenSensor(env, level["p_start"], hold, groups, seed, keys=keys)


def _frozen_text(level: dict[str, float], period: float) -> str:
    p, h = level["p_start"], seconds_to_steps(level["hold_s"], period)
    return (f"sticks with p {p * 100:g} % per step for {_delay_text(level['hold_s'], period)}, "
            f"about {p * h / (1 + p * h) * 100:.0f} % of steps frozen")


def _steer_text(level: dict[str, float], _period: float) -> str:
    offset = level["offset"] * FULL_LOCK_RAD
    radius = WHEELBASE_M / offset if offset > 0 else float("inf")
    return (f"trim offset {level['offset'] * 100:g} % of full lock ({offset:.4f} rad for parking: a straight "
            f"command drives a {radius:.1f} m circle), slew limit {level['slew_rad_s']:g} rad/s "
            f"(lock to lock {2 * FULL_LOCK_RAD / level['slew_rad_s']:.2f} s), "
            f"backlash {level['backlash_rad']:g} rad")


def _rain(env: gym.Env, level: dict[str, float], seed: list[int], groups: Groups, keys: Keys = None) -> gym.Env:
    """Wet road, then noisy range sensors, then lost range readings (outermost: a lost reading reads its fail value)."""
    target = groups if groups is not None else ("range",)
    env = PhysicsScale(env, friction_scale=level["friction"])
    env = ObservationNoise(env, level["range_sigma"], target, seed=[*seed, 0], keys=keys)
    return SensorDropout(env, level["range_dropout"], target, seed=[*seed, 1], keys=keys)


def _rain_text(level: dict[str, Any], _period: float) -> str:
    stop = FRICTION_EFFECTS.get(level["friction"], (0.0, 0.0, 0.0))[1]
    return (
        f"road friction x{level['friction']:.2f}" + (f" (stops from 0.5 m/s in {stop:.1f} cm)" if stop else "")
        + f", range noise sigma {level['range_sigma']:.2f} x scale (no echo stays no echo), "
        f"range readings lost {level['range_dropout'] * 100:.0f} % of steps (read as no echo)"
    )


SPECS = [
    PerturbationSpec(
        "obs_noise", "observation", "zero-mean Gaussian noise on every selected observation channel",
        (0.0, 0.05, 0.1, 0.2, 0.3, 1.0),
        lambda env, lv, seed, g, keys=None: ObservationNoise(env, lv, g, seed, keys=keys),
        lambda lv, _p: f"noise sigma {lv:g} x channel scale (saturated readings unchanged)",
        accepts_keys=True,
    ),
    PerturbationSpec(
        "obs_bias_drift", "observation", "bias growing linearly from zero at reset, random sign per channel",
        (0.0, 0.005, 0.01, 0.02, 0.05, 0.1),
        lambda env, lv, seed, g, keys=None: ObservationBiasDrift(env, lv, g, seed, keys=keys),
        lambda lv, _p: f"bias drift {lv:g} x channel scale per second",
        accepts_keys=True,
    ),
    PerturbationSpec(
        "sensor_dropout", "observation",
        "each reading lost independently per step; it reads the sensor's fail value (no echo, or the last value)",
        (0.0, 0.01, 0.05, 0.1, 0.2, 0.4),
        lambda env, lv, seed, g, keys=None: SensorDropout(env, lv, g, seed, keys=keys),
        lambda lv, _p: f"{lv * 100:g} % of readings lost per step (each reads its sensor's fail value)",
        accepts_keys=True,
    ),
    PerturbationSpec(
        "frozen_sensor", "observation", f"a reading sticks at its value for {FROZEN_HOLD_S:g} s",
        tuple({"p_start": p, "hold_s": FROZEN_HOLD_S} for p in (0.0, 0.0025, 0.005, 0.01, 0.025, 0.05)),
        _frozen, _frozen_text, accepts_keys=True,
    ),
    PerturbationSpec(
        "obs_delay", "observation", "observations arrive late", (0.0, 0.05, 0.1, 0.15, 0.3, 0.45),
        lambda env, lv, seed, g, keys=None: ObservationDelay(
            env, seconds_to_steps(lv, control_period(env)), g, seed, keys=keys),
        lambda lv, p: f"observations {_delay_text(lv, p)} late",
        accepts_keys=True,
    ),
    PerturbationSpec(
        "action_noise", "action", "Gaussian noise on each command, clipped to the action bounds",
        (0.0, 0.05, 0.1, 0.2, 0.3, 0.5),
        lambda env, lv, seed, g: ActionNoise(env, lv, seed),
        lambda lv, _p: f"command noise sigma {lv:g} x half action range",
        # Demonstrations are driven with smooth (OU) noise on the executed action.
        seen_in_training=True,
    ),
    PerturbationSpec(
        "action_delay", "action", "commands reach the actuators late", (0.0, 0.05, 0.1, 0.15, 0.3, 0.45),
        lambda env, lv, seed, g: ActionDelay(env, seconds_to_steps(lv, control_period(env)), seed),
        lambda lv, p: f"commands {_delay_text(lv, p)} late",
    ),
    PerturbationSpec(
        "steer_servo", "action", "worn steering servo: trim offset, slow slewing, backlash",
        tuple({"offset": o, "slew_rad_s": r, "backlash_rad": b} for o, r, b in [
            (0.0, None, 0.0), (0.02, 2.0, 0.005), (0.04, 1.5, 0.01),
            (0.06, 1.0, 0.02), (0.08, 0.75, 0.03), (0.10, 0.5, 0.04)]),
        lambda env, lv, seed, g: SteeringServo(env, lv["offset"], lv["slew_rad_s"], lv["backlash_rad"], seed),
        _steer_text,
    ),
    PerturbationSpec(
        "friction", "physics", "tyre-road friction scaled (wet or slippery road)",
        (1.0, 0.85, 0.7, 0.55, 0.4, 0.25),
        lambda env, lv, seed, g: PhysicsScale(env, friction_scale=lv),
        _friction_text,
    ),
    PerturbationSpec(
        "mass", "physics", "mass and inertia of every car body scaled (payload)",
        (1.0, 1.1, 1.25, 1.5, 1.75, 2.0),
        lambda env, lv, seed, g: PhysicsScale(env, mass_scale=lv),
        _mass_text,
    ),
    PerturbationSpec(
        "rain", "preset", "wet road plus rangefinders that read noisy and lose readings",
        tuple(
            {"friction": f, "range_sigma": s, "range_dropout": d}
            for f, s, d in [(1.0, 0.0, 0.0), (0.9, 0.02, 0.02), (0.8, 0.05, 0.05),
                            (0.7, 0.1, 0.1), (0.6, 0.15, 0.15), (0.5, 0.2, 0.2)]
        ),
        _rain, _rain_text, default_groups=("range",), accepts_keys=True,
    ),
]

for _spec in SPECS:
    register_perturbation(_spec, replace=True)
