"""The first set of perturbations and their severity tables.

Severity 0 is always "none". Where it makes sense the tables contain the
Real-World RL suite's easy / medium / hard settings (Dulac-Arnold et al.):
Gaussian noise σ 0.1 / 0.3 / 1.0 (severities 2 / 4 / 5), delays of 3 / 6 / 9
steps (severities 3 / 4 / 5) and dropped readings 1 / 5 / 10 % (severities
1 / 2 / 3); the steps in between and beyond fill a 0-5 scale. Noise and drift
are fractions of each channel's scale (``channel_scales``); delays are in
control periods (150 / 300 / 450 ms at the parking env's 50 ms).

| name | severity 1 … 5 | meaning |
|---|---|---|
| obs_noise | σ 0.05, 0.1, 0.2, 0.3, 1.0 × scale | Gaussian sensor noise |
| obs_bias_drift | 0.005, 0.01, 0.02, 0.05, 0.1 × scale / s | decalibrating sensors |
| sensor_dropout | p 1, 5, 10, 20, 40 % per step | readings lost (read 0) |
| frozen_sensor | p 0.25, 0.5, 1, 2.5, 5 % per step, 20 steps | stuck sensors (≈5-50 % of steps frozen) |
| obs_delay | 1, 2, 3, 6, 9 steps | sensor latency |
| action_noise | σ 0.05, 0.1, 0.2, 0.3, 0.5 × half range | actuator noise |
| action_delay | 1, 2, 3, 6, 9 steps | command latency |
| friction | × 0.85, 0.7, 0.55, 0.4, 0.25 | damp … wet … standing water … near ice |
| mass | × 1.1, 1.25, 1.5, 1.75, 2.0 | payload (battery, computer, sensors) |
| rain | friction × 0.9 … 0.5, range σ 0.02 … 0.2, range dropout 2 … 20 % | wet road + wet range sensors |
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym

from liquidcontrol.perturb.action import ActionDelay, ActionNoise
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

FROZEN_HOLD_STEPS = 20  # 1 s at 50 ms: long enough for a stuck reading to mislead the controller.


def _steps_text(steps: int, period: float) -> str:
    return f"{steps} steps ({steps * period * 1000:.0f} ms)"


def _rain(env: gym.Env, level: dict[str, float], seed: list[int], groups: Groups) -> gym.Env:
    """Wet road, then noisy range sensors, then lost range readings (outermost, so a lost reading is exactly 0)."""
    target = groups if groups is not None else ("range",)
    env = PhysicsScale(env, friction_scale=level["friction"])
    env = ObservationNoise(env, level["range_sigma"], target, seed=[*seed, 0])
    return SensorDropout(env, level["range_dropout"], target, seed=[*seed, 1])


def _rain_text(level: dict[str, Any], _period: float) -> str:
    return (
        f"road friction x{level['friction']:.2f}, range noise sigma {level['range_sigma']:.2f} x scale, "
        f"range readings lost {level['range_dropout'] * 100:.0f} % of steps"
    )


SPECS = [
    PerturbationSpec(
        "obs_noise", "observation", "Gaussian noise on every selected observation channel",
        (0.0, 0.05, 0.1, 0.2, 0.3, 1.0),
        lambda env, lv, seed, g: ObservationNoise(env, lv, g, seed),
        lambda lv, _p: f"noise sigma {lv:g} x channel scale",
    ),
    PerturbationSpec(
        "obs_bias_drift", "observation", "bias growing linearly from zero at reset, random sign per channel",
        (0.0, 0.005, 0.01, 0.02, 0.05, 0.1),
        lambda env, lv, seed, g: ObservationBiasDrift(env, lv, g, seed),
        lambda lv, _p: f"bias drift {lv:g} x channel scale per second",
    ),
    PerturbationSpec(
        "sensor_dropout", "observation", "each reading lost (reads 0) independently per step",
        (0.0, 0.01, 0.05, 0.1, 0.2, 0.4),
        lambda env, lv, seed, g: SensorDropout(env, lv, g, seed),
        lambda lv, _p: f"{lv * 100:g} % of readings lost per step",
    ),
    PerturbationSpec(
        "frozen_sensor", "observation", f"a reading sticks at its value for {FROZEN_HOLD_STEPS} steps",
        (0.0, 0.0025, 0.005, 0.01, 0.025, 0.05),
        lambda env, lv, seed, g: FrozenSensor(env, lv, FROZEN_HOLD_STEPS, g, seed),
        lambda lv, p: (
            f"sticks with p {lv * 100:g} % per step for {_steps_text(FROZEN_HOLD_STEPS, p)}, "
            f"about {lv * FROZEN_HOLD_STEPS / (1 + lv * FROZEN_HOLD_STEPS) * 100:.0f} % of steps frozen"
        ),
    ),
    PerturbationSpec(
        "obs_delay", "observation", "observations arrive late", (0, 1, 2, 3, 6, 9),
        lambda env, lv, seed, g: ObservationDelay(env, lv, g, seed),
        lambda lv, p: f"observations {_steps_text(lv, p)} late",
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
        "action_delay", "action", "commands reach the actuators late", (0, 1, 2, 3, 6, 9),
        lambda env, lv, seed, g: ActionDelay(env, lv, seed),
        lambda lv, p: f"commands {_steps_text(lv, p)} late",
    ),
    PerturbationSpec(
        "friction", "physics", "tyre-road friction scaled (wet road)",
        (1.0, 0.85, 0.7, 0.55, 0.4, 0.25),
        lambda env, lv, seed, g: PhysicsScale(env, friction_scale=lv),
        lambda lv, _p: f"friction x{lv:g}",
    ),
    PerturbationSpec(
        "mass", "physics", "vehicle mass scaled (payload)",
        (1.0, 1.1, 1.25, 1.5, 1.75, 2.0),
        lambda env, lv, seed, g: PhysicsScale(env, mass_scale=lv),
        lambda lv, _p: f"mass x{lv:g}",
    ),
    PerturbationSpec(
        "rain", "preset", "wet road plus range sensors that read noisy and drop out",
        tuple(
            {"friction": f, "range_sigma": s, "range_dropout": d}
            for f, s, d in [(1.0, 0.0, 0.0), (0.9, 0.02, 0.02), (0.8, 0.05, 0.05),
                            (0.7, 0.1, 0.1), (0.6, 0.15, 0.15), (0.5, 0.2, 0.2)]
        ),
        _rain, _rain_text, default_groups=("range",),
    ),
]

for _spec in SPECS:
    register_perturbation(_spec, replace=True)
