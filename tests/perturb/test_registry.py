"""Registry behaviour: identity at severity 0, seeding, composition, bad input."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from probes import CH, ON_PARKING, lockstep, parking, wiggle
from standin_env import StandInParkingEnv

from liquidcontrol.errors import LiquidControlError
from liquidcontrol.perturb import (
    PERTURBATIONS,
    ObservationNoise,
    Perturbation,
    PerturbationSpec,
    PhysicsScale,
    SteeringServo,
    apply_perturbations,
    make_perturbation,
    parse_item,
    register_perturbation,
)

RANDOM = ["obs_noise", "sensor_dropout", "obs_bias_drift", "frozen_sensor", "rain", "action_noise"]


def trace(env, seed: int, steps: int = 60) -> np.ndarray:
    obs = [env.reset(seed=seed)[0]]
    obs += [env.step(a)[0] for a in wiggle(steps)]
    return np.array(obs)


@pytest.mark.parametrize("name", ON_PARKING)
def test_severity_zero_is_identity(name):
    base = parking()
    assert make_perturbation(name, 0, seed=3).apply(base) is base
    assert PERTURBATIONS[name].describe(0) == "none"


@pytest.mark.parametrize("name", ON_PARKING)
def test_same_seed_same_rollout(name):
    a = make_perturbation(name, 3, seed=11).apply(parking())
    b = make_perturbation(name, 3, seed=11).apply(parking())
    np.testing.assert_array_equal(trace(a, 5), trace(b, 5))


@pytest.mark.parametrize("name", RANDOM)
def test_seed_changes_noise_and_episode_seed_reseeds(name):
    a = make_perturbation(name, 5, seed=1).apply(parking())
    b = make_perturbation(name, 5, seed=2).apply(parking())
    first = trace(a, 5, 120)
    assert not np.array_equal(first, trace(b, 5, 120))
    trace(a, 9, 120)  # another episode in between must not change episode 5's noise
    np.testing.assert_array_equal(trace(a, 5, 120), first)


def test_steer_servo_offset_sign_is_drawn_per_episode():
    env = make_perturbation("steer_servo", 3, seed=0).apply(parking())
    signs = set()
    for seed in range(12):
        env.reset(seed=seed)
        servo = env
        assert isinstance(servo, SteeringServo)
        signs.add(servo.offset_rad > 0)
        assert abs(servo.offset_rad) == pytest.approx(0.06 * 0.38)
    assert signs == {True, False}


def test_composition_order_and_independent_streams():
    base = parking()
    env = apply_perturbations(base, [("obs_noise", 2), "obs_noise:2", ("friction", 3), ("mass", 2)], seed=4)
    assert isinstance(env, PhysicsScale) and isinstance(env.env, PhysicsScale)
    assert isinstance(env.env.env.env, ObservationNoise)
    env.reset(seed=0)
    u = base.unwrapped
    np.testing.assert_allclose(u.model.geom_friction[u.car.grip_geoms, 0], 0.55 * u.car.base_friction)
    assert u.car.mass_scale == pytest.approx(1.25)
    # Two independent noise sources of sigma 0.1 x 0.5 m add up to sigma 0.05 m x sqrt(2) on x.
    clean = parking()
    clean.unwrapped.set_physics(friction_scale=0.55, mass_scale=1.25)
    episodes = lockstep(env, wiggle(800), seeds=[0, 1, 2, 3], clean=clean)
    err = np.concatenate([p[:, CH["x"]] - c[:, CH["x"]] for p, c in episodes])
    assert err.std() == pytest.approx(0.05 * np.sqrt(2), rel=0.05)


def test_physics_factors_multiply():
    base = parking()
    apply_perturbations(base, [("rain", 5), ("friction", 5)], seed=0).reset(seed=0)
    u = base.unwrapped
    np.testing.assert_allclose(u.model.geom_friction[u.car.grip_geoms, 0], 0.5 * 0.25 * u.car.base_friction)


def test_groups_restrict_channels():
    env = make_perturbation("obs_noise", 5, seed=0, groups=["speed"]).apply(parking())
    (p, c), = lockstep(env, wiggle(50), seeds=[0])
    assert np.all(p[:, CH["speed"]] != c[:, CH["speed"]])
    np.testing.assert_array_equal(np.delete(p, CH["speed"], axis=1), np.delete(c, CH["speed"], axis=1))


def test_spec_table_and_training_flag():
    rows = PERTURBATIONS["obs_delay"].table(control_period_s=0.1)
    assert [r["level"] for r in rows] == [0.0, 0.05, 0.1, 0.15, 0.3, 0.45]
    assert rows[3]["meaning"] == "observations 0.15 s (2 steps at 100 ms) late"
    assert PERTURBATIONS["action_noise"].seen_in_training and not PERTURBATIONS["rain"].seen_in_training
    assert PERTURBATIONS["rain"].default_groups == ("range",)


def test_public_api_stays_backwards_compatible():
    spec = PERTURBATIONS["obs_noise"]
    bound = Perturbation(spec, 2, (0,), ("pose",))  # positional fields as before
    assert (bound.name, bound.level, bound.groups, bound.keys) == ("obs_noise", 0.1, ("pose",), None)
    assert {"name", "kind", "summary", "levels", "build", "describe_level", "seen_in_training",
            "default_groups"} <= set(PerturbationSpec.__dataclass_fields__)


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
        make_perturbation("obs_noise", 1, groups=["lidar"]).apply(parking())
    with pytest.raises(LiquidControlError, match="has no set_physics"):
        make_perturbation("friction", 1).apply(gym.make("CartPole-v1"))


def test_steer_servo_needs_a_steering_action_channel():
    with pytest.raises(LiquidControlError, match=r"no action channel named 'steering'; its action channels: vx, vy"):
        make_perturbation("steer_servo", 1).apply(StandInParkingEnv())
    with pytest.raises(LiquidControlError, match="need a Box action space"):
        make_perturbation("steer_servo", 1).apply(gym.make("CartPole-v1"))
