"""Observation layouts say how each sensor fails and saturates; perturbations read them."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from liquidcontrol.envs import ParkingEnv
from liquidcontrol.envs import parking_constants as pc
from probes import CH, RANGE, lockstep, parking, wiggle
from standin_env import StandInParkingEnv

from liquidcontrol.errors import LiquidControlError
from liquidcontrol.perturb import (
    ObservationNoise,
    SensorDropout,
    channel_scales,
    fail_values,
    saturation_limits,
    select_channels,
)


def test_parking_layout_declares_fail_values_and_limits():
    layout = ParkingEnv.observation_layout
    for entry in layout:
        if entry["group"] == "range":
            assert entry["fail_value"] == pc.MAX_RANGE == 2.0  # no echo
            assert entry["limits"] == [0.0, pc.MAX_RANGE]
        else:
            assert entry["fail_value"] == "hold" and "limits" not in entry
    env = parking()
    fail = fail_values(env)
    assert np.isnan(fail[:6]).all() and np.all(fail[6:] == 2.0)
    low, high = saturation_limits(env)
    assert np.isnan(low[:6]).all() and np.all(low[6:] == 0.0) and np.all(high[6:] == 2.0)
    assert [int(i) for i in select_channels(env, ["range"])] == RANGE


def test_the_rangefinders_report_no_echo_as_their_fail_value():
    """The layout's fail value is what the real sensor model reads when nothing is in range."""
    obs, _ = parking().reset(seed=1)
    assert pc.MAX_RANGE in obs[RANGE] and obs[RANGE].max() == pc.MAX_RANGE


def test_env_without_fail_values_holds_and_has_no_limits():
    env = StandInParkingEnv()
    assert np.isnan(fail_values(env)).all()
    assert np.isnan(saturation_limits(env)[0]).all()
    # Scales fall back to half the finite bound width, else 1 unit.
    np.testing.assert_allclose(channel_scales(env), [1, 1, 1, 1, 1, 0.4, 2, 2, 2, 2], rtol=1e-6)
    obs = []
    wrapped = SensorDropout(StandInParkingEnv(), 0.5, seed=0)
    obs.append(wrapped.reset(seed=0)[0])
    for _ in range(100):
        obs.append(wrapped.step(np.array([0.3, -0.2], np.float32))[0])
    obs = np.array(obs)
    clean = StandInParkingEnv()
    ref = [clean.reset(seed=0)[0]] + [clean.step(np.array([0.3, -0.2], np.float32))[0] for _ in range(100)]
    lost = obs != np.array(ref)
    assert lost.mean() > 0.15  # losses happened (visible where the reading changes); each repeats the last
    rows, cols = np.nonzero(lost)
    np.testing.assert_array_equal(obs[rows, cols], obs[rows - 1, cols])


class _Layout(gym.Env):
    observation_space = gym.spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32)
    action_space = gym.spaces.Box(-1.0, 1.0, shape=(1,), dtype=np.float32)

    def __init__(self, layout):
        self.observation_layout = layout


@pytest.mark.parametrize("layout,match", [
    ([{"name": "a", "unit": "m"}], "has 2 channels but its observation_layout lists 1"),
    ([{"name": "a", "unit": "m", "fail_value": "zero"}, {"name": "b", "unit": "m"}], "fail_value must be"),
    ([{"name": "a", "unit": "m", "limits": [2, 0]}, {"name": "b", "unit": "m"}], "limits must be"),
    ({"state": []}, "a flat observation needs observation_layout as a list"),
])
def test_bad_layouts_are_refused_clearly(layout, match):
    with pytest.raises(LiquidControlError, match=match):
        SensorDropout(_Layout(layout), 0.1)


def test_noise_on_a_saturated_reading_changes_nothing_and_elsewhere_everything():
    env = ObservationNoise(parking(), 0.3, seed=0)
    (p, c), = lockstep(env, wiggle(100), seeds=[0])
    ranges_p, ranges_c = p[:, RANGE], c[:, RANGE]
    assert (ranges_c == 2.0).any() and (ranges_c != 2.0).any()
    np.testing.assert_array_equal(ranges_p[ranges_c == 2.0], 2.0)
    assert np.all(ranges_p[ranges_c != 2.0] != ranges_c[ranges_c != 2.0])
    assert np.all(p[:, CH["x"]] != c[:, CH["x"]])
    # The wrapper's space is unbounded where the noise is, unchanged elsewhere.
    assert np.all(np.isinf(env.observation_space.high)) and env.env.observation_space.high[6] == 2.0
