"""Registry behaviour: identity at severity 0, seeding, composition, bad input."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from standin_env import StandInParkingEnv

from liquidcontrol.errors import LiquidControlError
from liquidcontrol.perturb import (
    PERTURBATIONS,
    ObservationNoise,
    PerturbationSpec,
    PhysicsScale,
    apply_perturbations,
    make_perturbation,
    parse_item,
    register_perturbation,
)


def trace(env, seed: int, steps: int = 25) -> np.ndarray:
    obs = [env.reset(seed=seed)[0]]
    rng = np.random.default_rng(0)
    for _ in range(steps):
        obs.append(env.step(rng.uniform(-1, 1, 2).astype(np.float32))[0])
    return np.array(obs)


@pytest.mark.parametrize("name", sorted(PERTURBATIONS))
def test_severity_zero_is_identity(name):
    base = StandInParkingEnv()
    assert make_perturbation(name, 0, seed=3).apply(base) is base
    assert PERTURBATIONS[name].describe(0) == "none"


@pytest.mark.parametrize("name", sorted(PERTURBATIONS))
def test_same_seed_same_rollout(name):
    a = make_perturbation(name, 3, seed=11).apply(StandInParkingEnv())
    b = make_perturbation(name, 3, seed=11).apply(StandInParkingEnv())
    np.testing.assert_array_equal(trace(a, 5), trace(b, 5))


@pytest.mark.parametrize("name", ["obs_noise", "sensor_dropout", "obs_bias_drift", "frozen_sensor", "rain"])
def test_seed_changes_noise_and_episode_seed_reseeds(name):
    a = make_perturbation(name, 5, seed=1).apply(StandInParkingEnv())
    b = make_perturbation(name, 5, seed=2).apply(StandInParkingEnv())
    first = trace(a, 5, 80)
    assert not np.array_equal(first, trace(b, 5, 80))
    trace(a, 9, 80)  # another episode in between must not change episode 5's noise
    np.testing.assert_array_equal(trace(a, 5, 80), first)


def test_composition_order_and_independent_streams():
    base = StandInParkingEnv(frozen=True, max_steps=10**6)
    env = apply_perturbations(base, [("obs_noise", 2), "obs_noise:2", ("friction", 3), ("mass", 2)], seed=4)
    assert isinstance(env, PhysicsScale) and isinstance(env.env, PhysicsScale)
    assert isinstance(env.env.env.env, ObservationNoise)
    env.reset(seed=0)
    assert base.friction_scale == pytest.approx(0.55) and base.mass_scale == pytest.approx(1.25)
    obs = trace(env, 0, 3000)
    # Two independent noise sources of sigma 0.1 add up to sigma 0.1 * sqrt(2).
    assert obs[:, 0].std() == pytest.approx(0.1 * np.sqrt(2), rel=0.06)


def test_physics_factors_multiply():
    base = StandInParkingEnv()
    apply_perturbations(base, [("rain", 5), ("friction", 5)], seed=0).reset(seed=0)
    assert base.friction_scale == pytest.approx(0.5 * 0.25)


def test_groups_restrict_channels():
    env = make_perturbation("obs_noise", 5, seed=0, groups=["speed"]).apply(StandInParkingEnv(frozen=True))
    obs = trace(env, 0, 50)
    assert np.ptp(obs[:, 4]) > 0 and np.ptp(np.delete(obs, 4, axis=1), axis=0).max() == 0


def test_spec_table_and_training_flag():
    rows = PERTURBATIONS["obs_delay"].table(control_period_s=0.1)
    assert [r["level"] for r in rows] == [0, 1, 2, 3, 6, 9]
    assert rows[3]["meaning"] == "observations 3 steps (300 ms) late"
    assert PERTURBATIONS["action_noise"].seen_in_training and not PERTURBATIONS["rain"].seen_in_training


def test_register_new_kind_without_changes():
    spec = PerturbationSpec("test_wind", "wind", "constant push", (0, 1, 2, 3, 4, 5),
                            lambda env, lv, seed, g: env, lambda lv, p: f"{lv} N")
    register_perturbation(spec)
    try:
        assert make_perturbation("test_wind", 4).describe() == "test_wind 4: 4 N"
        with pytest.raises(LiquidControlError, match="already registered"):
            register_perturbation(spec)
    finally:
        PERTURBATIONS.pop("test_wind")


def test_unknown_name_lists_choices():
    with pytest.raises(LiquidControlError, match=r"unknown perturbation 'snow'; choose one of .*rain"):
        make_perturbation("snow", 1)


@pytest.mark.parametrize("severity", [-1, 6, 2.5, True, "3"])
def test_bad_severity(severity):
    with pytest.raises(LiquidControlError, match="severity must be an integer from 0"):
        make_perturbation("rain", severity)


@pytest.mark.parametrize("item", ["rain", "rain:x", ("rain",), 3])
def test_bad_items(item):
    with pytest.raises(LiquidControlError, match="expected a perturbation"):
        parse_item(item)


def test_unknown_group_and_missing_set_physics():
    with pytest.raises(LiquidControlError, match=r"unknown observation group\(s\) \['lidar'\]"):
        make_perturbation("obs_noise", 1, groups=["lidar"]).apply(StandInParkingEnv())
    with pytest.raises(LiquidControlError, match="has no set_physics"):
        make_perturbation("friction", 1).apply(gym.make("CartPole-v1"))
