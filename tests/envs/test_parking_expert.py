"""The scripted expert parks, from clean and from perturbed starts, and keeps no hidden state."""

from __future__ import annotations

import numpy as np
import pytest
from liquidcontrol.envs import ParallelParkingExpert, ParkingEnv


def _episode(env: ParkingEnv, expert: ParallelParkingExpert, seed: int, random_steps: int = 0,
             gain_noise: float = 0.0, additive_noise: float = 0.0) -> dict:
    """One episode; the first ``random_steps`` actions are random, later ones noisy if asked."""
    env.reset(seed=seed)
    expert.reset()
    rng = np.random.default_rng(seed)
    step, done, info = 0, False, {}
    while not done:
        action = expert.act(env)
        assert action.shape == (2,) and np.all(np.abs(action) <= 1.0)
        if step < random_steps:
            action = rng.uniform(-1, 1, 2)
        elif gain_noise or additive_noise:
            action = action * (1 + rng.normal(0, gain_noise, 2)) + rng.normal(0, additive_noise, 2)
            action = np.clip(action, -1, 1)
        _, _, terminated, truncated, info = env.step(action)
        done, step = terminated or truncated, step + 1
    return info


def _successes(seeds, **kwargs) -> int:
    env, expert = ParkingEnv(), ParallelParkingExpert()
    return sum(bool(_episode(env, expert, s, **kwargs)["is_success"]) for s in seeds)


def test_expert_parks_quick():
    assert _successes(range(20)) >= 19


def test_expert_recovers_from_random_driving_quick():
    rng = np.random.default_rng(1)
    assert _successes(range(100, 110), random_steps=int(rng.integers(20, 40))) >= 9


def test_expert_answer_depends_only_on_the_state():
    env, used = ParkingEnv(), ParallelParkingExpert()
    env.reset(seed=5)
    for _ in range(60):
        env.step(used.act(env))
    fresh = ParallelParkingExpert()
    np.testing.assert_array_equal(used.act(env), fresh.act(env))
    np.testing.assert_array_equal(used.act(env), used.act(env))


def test_expert_answers_off_its_path():
    """States a learner might reach (odd headings, inside the slot, in the lane) get finite actions."""
    env, expert = ParkingEnv(), ParallelParkingExpert()
    env.reset(seed=0)
    for x, y, theta, speed in [(0.0, 0.05, 0.3, 0.0), (0.5, 0.5, -0.6, 0.3), (-0.9, 0.6, 0.2, -0.2),
                               (0.1, 0.25, 1.0, 0.1), (2.0, 1.5, 3.0, 0.0)]:
        action = expert.act_from_state(x, y, theta, speed, env.slot)
        assert np.all(np.isfinite(action)) and np.all(np.abs(action) <= 1.0)


@pytest.mark.slow
def test_expert_parks_500_seeds():
    assert _successes(range(500)) >= 490  # >= 98 %


@pytest.mark.slow
def test_expert_recovers_from_perturbed_starts():
    seeds = range(1000, 1050)
    random_steps = [int(s) for s in np.random.default_rng(2).integers(20, 41, size=50)]
    env, expert = ParkingEnv(), ParallelParkingExpert()
    ok = sum(bool(_episode(env, expert, s, random_steps=k)["is_success"])
             for s, k in zip(seeds, random_steps))
    assert ok >= 46  # >= 92 % after 1-2 s of random driving


@pytest.mark.slow
def test_expert_tolerates_noisy_execution():
    assert _successes(range(2000, 2050), gain_noise=0.2) >= 46


@pytest.mark.slow
def test_expert_tolerates_additive_action_noise():
    """Gaussian noise of 0.1 x half range on both commands (the action_noise perturbation)."""
    assert _successes(range(3000, 3050), additive_noise=0.1) >= 46
