"""Every perturbation runs on the real parking env at its worst severity, alone and all together."""

from __future__ import annotations

import numpy as np
import pytest
from probes import ON_PARKING, parking, wiggle

from liquidcontrol.perturb import apply_perturbations


@pytest.mark.parametrize("name", ON_PARKING)
def test_perturbation_runs_on_parking(name):
    env = apply_perturbations(parking(), [(name, 5)], seed=0)
    obs, _ = env.reset(seed=1)
    for a in wiggle(100):
        obs, *_ = env.step(a)
        assert np.all(np.isfinite(obs)) and obs.shape == env.observation_space.shape
        assert env.observation_space.contains(obs)
    env.close()


def test_everything_at_once():
    env = apply_perturbations(parking(), [(n, 5) for n in ON_PARKING], seed=0)
    obs, _ = env.reset(seed=2)
    for a in wiggle(200):
        obs, _, terminated, truncated, _ = env.step(a)
        assert np.all(np.isfinite(obs))
        if terminated or truncated:
            obs, _ = env.reset()


def test_rain_targets_only_range_sensors():
    layout = parking().unwrapped.observation_layout
    clean, rainy = parking(), apply_perturbations(parking(), [("rain", 5)], seed=0)
    a, b = clean.reset(seed=3)[0], rainy.reset(seed=3)[0]
    is_range = np.array([e["group"] == "range" for e in layout])
    np.testing.assert_array_equal(a[~is_range], b[~is_range])
    assert is_range.any() and not np.array_equal(a[is_range], b[is_range])
