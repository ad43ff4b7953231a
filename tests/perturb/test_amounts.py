"""Every perturbation at every severity changes what it claims, by the documented amount, on the real env.

The measurements and the claims live in ``probes.py``; ``test_probes.py``
shows that each check fails for a wrapper that does nothing.
"""

from __future__ import annotations

import numpy as np
import pytest
from probes import (
    DT,
    ON_PARKING,
    VERIFY,
    check_effects,
    lockstep,
    parking,
    physics_effects,
    verify_sensor_dropout,
    wiggle,
)

from liquidcontrol.perturb import PERTURBATIONS, SensorDropout, make_perturbation
from liquidcontrol.perturb.base import seconds_to_steps
from liquidcontrol.perturb.catalog import FRICTION_EFFECTS, MASS_EFFECTS

SEVERITIES = [1, 2, 3, 4, 5]


def test_every_registered_perturbation_has_a_real_env_check():
    assert sorted(VERIFY) == ON_PARKING


@pytest.mark.parametrize("severity", SEVERITIES)
@pytest.mark.parametrize("name", sorted(VERIFY))
def test_perturbation_does_what_its_table_says(name, severity):
    VERIFY[name](make_perturbation(name, severity, seed=severity).apply, severity)


@pytest.mark.parametrize("severity", [1, 4])
def test_dropout_with_an_explicit_value_reads_that_value(severity):
    p = PERTURBATIONS["sensor_dropout"].levels[severity]
    verify_sensor_dropout(lambda env: SensorDropout(env, p, seed=3, value=0.0), severity, value=0.0)


def test_dropout_hold_repeats_what_the_agent_saw_last_even_over_several_losses():
    env = SensorDropout(parking(), 0.4, groups=["pose"], seed=1)
    (p, c), = lockstep(env, wiggle(200), seeds=[0])
    lost = p[:, 0] != c[:, 0]
    runs = np.flatnonzero(lost[1:] & lost[:-1]) + 1
    assert runs.size > 5  # consecutive losses happen at p = 0.4
    np.testing.assert_array_equal(p[runs, 0], p[runs - 1, 0])


@pytest.mark.parametrize("name", ["obs_delay", "action_delay"])
def test_delays_are_seconds_and_describe_prints_both(name):
    spec = PERTURBATIONS[name]
    assert spec.levels == (0.0, 0.05, 0.1, 0.15, 0.3, 0.45)
    assert [seconds_to_steps(lv, DT) for lv in spec.levels] == [0, 1, 2, 3, 6, 9]
    assert "0.15 s (3 steps at 50 ms)" in spec.describe(3)
    # At a 20 ms period the same 0.15 s is 8 steps (7.5 rounds up), at 1 s it is still one step.
    assert "0.15 s (8 steps at 20 ms)" in spec.describe(3, control_period_s=0.02)
    assert "0.05 s (1 step at 1000 ms)" in spec.describe(1, control_period_s=1.0)


def test_frozen_hold_is_seconds():
    spec = PERTURBATIONS["frozen_sensor"]
    assert all(lv["hold_s"] == 1.0 for lv in spec.levels)
    env = make_perturbation("frozen_sensor", 2).apply(parking())
    assert env.hold_steps == 20
    assert "1 s (20 steps at 50 ms)" in spec.describe(2) and "9 % of steps frozen" in spec.describe(2)


def test_seconds_to_steps_rounds_to_the_nearest_step_with_at_least_one():
    assert seconds_to_steps(0.0, 0.05) == 0
    assert seconds_to_steps(0.01, 0.05) == 1
    assert seconds_to_steps(0.15, 0.1) == 2  # 1.5 steps rounds up, despite 0.15 / 0.1 = 1.4999...
    assert seconds_to_steps(0.45, 0.05) == 9
    assert seconds_to_steps(0.12, 0.05) == 2


def test_noise_is_not_clipped_near_a_bound():
    """Readings near the 0 / 2 m bounds move both ways; the old clipping pushed them inward."""
    env = make_perturbation("obs_noise", 5, seed=2, groups=["range"]).apply(parking())
    episodes = lockstep(env, wiggle(800), seeds=[0, 1])
    p = np.concatenate([e[0] for e in episodes])[:, 6:]
    c = np.concatenate([e[1] for e in episodes])[:, 6:]
    echo = c != 2.0
    assert (p[echo] > 2.0).any() and (p[echo] < 0.0).any()
    np.testing.assert_array_equal(p[~echo], 2.0)


@pytest.mark.parametrize("kind,factor", [("friction", f) for f in FRICTION_EFFECTS] + [("mass", m) for m in MASS_EFFECTS])
def test_documented_physical_effects_are_measured(kind, factor):
    """Every number of the friction / mass / rain descriptions, including rain's friction levels."""
    env = parking()
    env.unwrapped.set_physics(**{f"{kind}_scale": factor})
    check_effects(physics_effects(env), (FRICTION_EFFECTS if kind == "friction" else MASS_EFFECTS)[factor])


def test_rain_friction_levels_are_documented():
    assert {lv["friction"] for lv in PERTURBATIONS["rain"].levels} <= set(FRICTION_EFFECTS)
