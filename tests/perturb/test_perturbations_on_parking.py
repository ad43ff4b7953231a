"""Every perturbation applies to the real parking env (skipped until it is importable)."""

from __future__ import annotations

import numpy as np
import pytest

from liquidcontrol.perturb import PERTURBATIONS, apply_perturbations

envs = pytest.importorskip("liquidcontrol.envs")


@pytest.mark.parametrize("name", sorted(PERTURBATIONS))
def test_perturbation_runs_on_parking(name):
    import gymnasium as gym

    env = apply_perturbations(gym.make(envs.PARKING_ID), [(name, 5)], seed=0)
    obs, _ = env.reset(seed=1)
    for _ in range(3):
        obs, *_ = env.step(np.zeros(2, np.float32))
    assert np.all(np.isfinite(obs)) and obs.shape == env.observation_space.shape
    env.close()


def test_rain_targets_only_range_sensors():
    import gymnasium as gym

    layout = gym.make(envs.PARKING_ID).unwrapped.observation_layout
    clean, rainy = gym.make(envs.PARKING_ID), apply_perturbations(gym.make(envs.PARKING_ID), [("rain", 5)], seed=0)
    a, b = clean.reset(seed=3)[0], rainy.reset(seed=3)[0]
    is_range = np.array([e["group"] == "range" for e in layout])
    np.testing.assert_array_equal(a[~is_range], b[~is_range])
    assert is_range.any() and not np.array_equal(a[is_range], b[is_range])
