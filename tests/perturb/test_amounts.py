"""Every perturbation at every severity changes what it should, by the documented amount."""

from __future__ import annotations

import numpy as np
import pytest
from standin_env import StandInParkingEnv

from liquidcontrol.perturb import PERTURBATIONS, make_perturbation

SEVERITIES = [1, 2, 3, 4, 5]
# float32 like the env, so equality checks are exact.
STILL_OBS = np.array([0.5, 0.5, 1.0, 0.0, 0.0, 0.2, 1.5, 2.5, 1.5, 2.5], np.float32).astype(np.float64)
RANGE = [6, 7, 8, 9]


class ActionRecorder(StandInParkingEnv):
    """Remembers every action that reaches the env (after action perturbations)."""

    def __init__(self) -> None:
        super().__init__(frozen=True, max_steps=10**6)
        self.received: list[np.ndarray] = []

    def step(self, action):
        self.received.append(np.array(action, dtype=np.float64))
        return super().step(action)


def rollout(env, steps: int, seed: int = 7, action=None) -> np.ndarray:
    """Observations [steps + 1, obs_dim] from reset, with a constant action."""
    act = np.zeros(2, np.float32) if action is None else action
    obs = [env.reset(seed=seed)[0]]
    obs += [env.step(act)[0] for _ in range(steps)]
    return np.array(obs, dtype=np.float64)


@pytest.mark.parametrize("severity", SEVERITIES)
def test_obs_noise_sigma_is_fraction_of_channel_scale(still_env, severity):
    sigma = PERTURBATIONS["obs_noise"].levels[severity]
    obs = rollout(make_perturbation("obs_noise", severity, seed=1).apply(still_env), 4000)
    err = obs - STILL_OBS
    # x, y and speed have unbounded spaces: scale 1 unit, never clipped.
    np.testing.assert_allclose(err[:, [0, 1, 4]].std(axis=0), sigma, rtol=0.06)
    np.testing.assert_allclose(err[:, [0, 1, 4]].mean(axis=0), 0.0, atol=5 * sigma / np.sqrt(4000))
    if sigma <= 0.2:  # range sensors: 0-4 m bound, scale 2 m; clipping negligible here
        np.testing.assert_allclose(err[:, RANGE].std(axis=0), 2.0 * sigma, rtol=0.06)


@pytest.mark.parametrize("severity", SEVERITIES)
def test_bias_drift_grows_linearly(still_env, severity):
    rate = PERTURBATIONS["obs_bias_drift"].levels[severity]
    obs = rollout(make_perturbation("obs_bias_drift", severity, seed=2).apply(still_env), 40)
    steps = np.arange(41)[:, None]
    scales = np.array([1, 1, 1, 1, 1, 0.4, 2, 2, 2, 2])
    expected = rate * scales * steps * 0.05
    np.testing.assert_allclose(np.abs(obs - STILL_OBS), expected, atol=1e-5)


@pytest.mark.parametrize("severity", SEVERITIES)
def test_sensor_dropout_rate(still_env, severity):
    p = PERTURBATIONS["sensor_dropout"].levels[severity]
    obs = rollout(make_perturbation("sensor_dropout", severity, seed=3).apply(still_env), 3000)
    nonzero = [0, 1, 2, 5, 6, 7, 8, 9]  # sin(theta) and speed read 0 anyway
    lost = obs[:, nonzero] == 0.0
    n = lost.size
    assert abs(lost.mean() - p) < 5 * np.sqrt(p * (1 - p) / n) + 1e-9
    assert np.all((obs[:, nonzero] == 0) | (obs[:, nonzero] == STILL_OBS[nonzero]))


@pytest.mark.parametrize("severity", SEVERITIES)
def test_frozen_sensor_holds_for_documented_steps(counter_env, severity):
    p = PERTURBATIONS["frozen_sensor"].levels[severity]
    obs = rollout(make_perturbation("frozen_sensor", severity, seed=4).apply(counter_env), 12000)
    t = np.arange(obs.shape[0])[:, None]
    frozen = obs != t
    expected = p * 20 / (1 + p * 20)
    assert abs(frozen.mean() - expected) < 0.25 * expected
    for ch in range(obs.shape[1]):
        edges = np.flatnonzero(np.diff(np.r_[0, frozen[:, ch].astype(int), 0]))
        starts_ends = edges.reshape(-1, 2)
        lengths = [e - s for s, e in starts_ends if e < len(obs)]  # the last spell may be cut off
        # Each spell lasts 20 steps; a new one may start the step the last one ends.
        assert lengths and all(n % 20 == 0 for n in lengths)
        starts = np.flatnonzero(np.diff(np.r_[0, frozen[:, ch]]) == 1)
        # A stuck sensor repeats the reading it reported just before.
        np.testing.assert_array_equal(obs[starts, ch], obs[starts - 1, ch])


@pytest.mark.parametrize("severity", SEVERITIES)
def test_obs_delay_exact_steps(counter_env, severity):
    delay = PERTURBATIONS["obs_delay"].levels[severity]
    obs = rollout(make_perturbation("obs_delay", severity).apply(counter_env), 30)
    t = np.arange(31)
    np.testing.assert_array_equal(obs[:, 0], np.maximum(t - delay, 0))
    assert "ms" in PERTURBATIONS["obs_delay"].describe(severity) and f"{delay * 50} ms" in \
        PERTURBATIONS["obs_delay"].describe(severity)


@pytest.mark.parametrize("severity", SEVERITIES)
def test_action_noise_sigma(severity):
    sigma = PERTURBATIONS["action_noise"].levels[severity]
    base = ActionRecorder()
    rollout(make_perturbation("action_noise", severity, seed=5).apply(base), 4000)
    got = np.array(base.received)
    # Median absolute deviation / 0.6745 estimates sigma even with clipping at +-1.
    np.testing.assert_allclose(np.median(np.abs(got), axis=0) / 0.6745, sigma, rtol=0.08)
    assert np.all(np.abs(got) <= 1.0)


@pytest.mark.parametrize("severity", SEVERITIES)
def test_action_delay_exact_steps(severity):
    delay = PERTURBATIONS["action_delay"].levels[severity]
    base = ActionRecorder()
    env = make_perturbation("action_delay", severity).apply(base)
    env.reset(seed=0)
    sent = [np.array([k / 100, -k / 100], np.float32) for k in range(1, 31)]
    for a in sent:
        env.step(a)
    got = np.array(base.received)
    np.testing.assert_array_equal(got[:delay], 0.0)
    np.testing.assert_allclose(got[delay:], np.array(sent[: 30 - delay]), rtol=1e-6)


@pytest.mark.parametrize("severity", SEVERITIES)
@pytest.mark.parametrize("name,attr", [("friction", "friction_scale"), ("mass", "mass_scale")])
def test_physics_scales_reach_env_at_reset(name, attr, severity):
    base = StandInParkingEnv()
    env = make_perturbation(name, severity).apply(base)
    env.reset(seed=0)
    assert getattr(base, attr) == pytest.approx(PERTURBATIONS[name].levels[severity])
    other = "mass_scale" if attr == "friction_scale" else "friction_scale"
    assert getattr(base, other) == 1.0


@pytest.mark.parametrize("severity", SEVERITIES)
def test_rain_wets_road_and_range_sensors_only(severity):
    level = PERTURBATIONS["rain"].levels[severity]
    base = StandInParkingEnv(frozen=True, max_steps=10**6)
    obs = rollout(make_perturbation("rain", severity, seed=6).apply(base), 4000)
    assert base.friction_scale == pytest.approx(level["friction"])
    np.testing.assert_array_equal(obs[:, :6], np.broadcast_to(STILL_OBS[:6], obs[:, :6].shape))
    ranges = obs[:, RANGE]
    lost = ranges == 0.0
    n = lost.size
    p = level["range_dropout"]
    assert abs(lost.mean() - p) < 5 * np.sqrt(p * (1 - p) / n)
    kept = (ranges - STILL_OBS[RANGE])[~lost]
    assert kept.std() == pytest.approx(2.0 * level["range_sigma"], rel=0.06)
    assert PERTURBATIONS["rain"].levels[severity]["friction"] < PERTURBATIONS["rain"].levels[severity - 1]["friction"]
