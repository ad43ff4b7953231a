"""Parking-v0 as a Gymnasium env: API checks, determinism, rewards, termination, errors."""

from __future__ import annotations

import gymnasium as gym
import liquidcontrol.envs as envs
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from liquidcontrol.envs import parking_constants as pc

from liquidcontrol.errors import LiquidControlError


def _rollout(env: gym.Env, seed: int, steps: int) -> list[np.ndarray]:
    obs, _ = env.reset(seed=seed)
    actions = np.random.default_rng(seed).uniform(-1, 1, size=(steps, 2)).astype(np.float32)
    out = [obs]
    for action in actions:
        obs, _, terminated, truncated, _ = env.step(action)
        out.append(obs)
        if terminated or truncated:
            break
    return out


def test_check_env_passes():
    check_env(gym.make(envs.PARKING_ID).unwrapped, skip_render_check=False)


def test_unknown_id_is_a_gymnasium_error():
    with pytest.raises(gym.error.Error):
        gym.make("liquidcontrol/Parkng-v0")


def test_layouts_describe_the_spaces():
    env = gym.make(envs.PARKING_ID)
    u = env.unwrapped
    assert len(u.observation_layout) == env.observation_space.shape[0] == 14
    assert {e["group"] for e in u.observation_layout} == {"pose", "speed", "steer", "range"}
    assert [e["name"] for e in u.action_layout] == ["steering", "speed"]
    assert u.action_layout[0]["scale"] == pc.MAX_STEER and u.action_layout[1]["scale"] == pc.MAX_SPEED
    assert u.control_period == pytest.approx(u.model.opt.timestep * u.frame_skip) == 0.05


def test_same_seed_same_rollout_and_seeds_differ():
    a = _rollout(envs.ParkingEnv(), seed=7, steps=60)
    b = _rollout(envs.ParkingEnv(), seed=7, steps=60)
    c = _rollout(envs.ParkingEnv(), seed=8, steps=60)
    assert len(a) == len(b)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(a[0], c[0])


def test_reward_terms_sum_to_reward():
    env = envs.ParkingEnv()
    env.reset(seed=3)
    rng = np.random.default_rng(0)
    for _ in range(100):
        _, reward, terminated, truncated, info = env.step(rng.uniform(-1, 1, 2))
        terms = [v for k, v in info.items() if k.startswith("reward_")]
        assert len(terms) == 4 and reward == pytest.approx(sum(terms))
        assert {"is_success", "collision", "unstable", "car_pose", "speed"} <= set(info)
        if terminated or truncated:
            break


def test_reversing_at_full_lock_hits_something_and_ends():
    env = envs.ParkingEnv()
    env.reset(seed=0)
    for _ in range(400):
        _, _, terminated, truncated, info = env.step(np.array([-1.0, -1.0], np.float32))
        if terminated or truncated:
            break
    assert terminated and info["collision"] and not info["is_success"]
    assert info["reward_collision"] == -10.0


def test_time_limit_truncates():
    env = envs.ParkingEnv(max_episode_seconds=1.0)
    env.reset(seed=0)
    steps, terminated, truncated = 0, False, False
    while not (terminated or truncated) and steps < 100:
        _, _, terminated, truncated, _ = env.step(np.zeros(2, np.float32))
        steps += 1
    assert truncated and not terminated and steps == 20


def test_nan_and_badly_shaped_actions_raise_one_clear_error():
    env = envs.ParkingEnv()
    env.reset(seed=0)
    with pytest.raises(LiquidControlError, match="NaN"):
        env.step(np.array([np.nan, 0.0]))
    with pytest.raises(LiquidControlError, match="shape"):
        env.step(np.zeros(3))


def test_instability_ends_the_episode_with_a_flag():
    env = envs.ParkingEnv()
    env.reset(seed=0)
    env.model.opt.timestep = 5.0  # absurd: the integrator must blow up
    for _ in range(5):
        obs, _, terminated, _, info = env.step(np.array([1.0, 1.0], np.float32))
        if terminated:
            break
    assert terminated and info["unstable"] and np.all(np.isfinite(obs))


def test_set_physics_applies_from_next_reset_and_validates():
    env = envs.ParkingEnv()
    env.reset(seed=0)
    road = env.model.geom_friction[env.car.grip_geoms[-1], 0]
    mass = env.model.body_mass[env.car.body]
    env.set_physics(friction_scale=0.5, mass_scale=1.5)
    assert env.model.geom_friction[env.car.grip_geoms[-1], 0] == road
    env.reset(seed=0)
    assert env.model.geom_friction[env.car.grip_geoms[-1], 0] == pytest.approx(0.5 * road)
    assert env.model.body_mass[env.car.body] == pytest.approx(1.5 * mass)
    with pytest.raises(LiquidControlError, match="friction_scale"):
        env.set_physics(friction_scale=float("nan"))
    with pytest.raises(LiquidControlError, match="mass_scale"):
        env.set_physics(mass_scale=0.0)


def test_start_state_is_in_the_documented_ranges():
    env = envs.ParkingEnv()
    for seed in range(20):
        obs, info = env.reset(seed=seed)
        x, y, theta = info["car_pose"]
        assert 0.80 <= env.slot.length <= 1.05
        assert -0.3 <= x - env.slot.length / 2 <= 0.6 and 0.42 <= y <= 0.60 and abs(theta) <= 0.1
        assert env.observation_space.contains(obs)


def test_rgb_array_render_is_a_real_image():
    env = gym.make(envs.PARKING_ID, render_mode="rgb_array")
    env.reset(seed=0)
    frame = env.render()
    assert frame.shape == (240, 320, 3) and frame.dtype == np.uint8
    assert frame.std() > 10  # not blank: road, cars and curb differ in colour
    env.close()
