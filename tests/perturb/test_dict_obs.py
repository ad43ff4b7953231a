"""Observation perturbations on a ``spaces.Dict`` observation: vectors perturbed, images untouched."""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import pytest
from probes import parking

from liquidcontrol.errors import LiquidControlError
from liquidcontrol.perturb import PERTURBATIONS, make_perturbation, select_channels

#: Vector perturbations that take Dict keys (the camera ones act on the images: tests/perturb/test_image.py).
OBSERVATION_KINDS = sorted(n for n, s in PERTURBATIONS.items() if s.accepts_keys and s.kind != "image")


class DictSensors(gym.Env):
    """A vector "state" with a layout, an undescribed vector "goal" and an 8 x 8 camera.

    ``state`` = (position m, range m, speed m/s): position and speed change
    every step, the range reads 2.0 m (no echo) every 4th step.
    """

    metadata: dict = {"render_modes": []}
    control_period = 0.05
    observation_layout = {
        "state": [
            {"name": "position", "unit": "m", "group": "pose", "scale": 0.5, "fail_value": "hold"},
            {"name": "range", "unit": "m", "group": "range", "scale": 1.0, "fail_value": 2.0,
             "limits": [0.0, 2.0]},
            {"name": "speed", "unit": "m/s", "group": "speed", "scale": 0.2},
        ],
        "image": None,
    }

    def __init__(self) -> None:
        self.observation_space = gym.spaces.Dict({
            "state": gym.spaces.Box(np.array([-5, 0, -1], np.float32), np.array([5, 2, 1], np.float32)),
            "goal": gym.spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32),
            "image": gym.spaces.Box(0, 255, shape=(8, 8, 3), dtype=np.uint8),
        })
        self.action_space = gym.spaces.Box(-1.0, 1.0, shape=(1,), dtype=np.float32)
        self.t = 0

    def set_physics(self, friction_scale: float = 1.0, mass_scale: float = 1.0) -> None:
        """Accepted for the rain preset (no physics here)."""
        self.physics = (friction_scale, mass_scale)

    def _obs(self) -> dict[str, np.ndarray]:
        t = self.t
        rng = self.np_random
        ranged = 2.0 if t % 4 == 0 else 1.0 + 0.5 * math.sin(0.1 * t)
        return {
            "state": np.array([0.01 * t, ranged, 0.1 + 0.001 * t], np.float32),
            "goal": np.array([0.3 + 0.001 * t, -0.2], np.float32),
            "image": rng.integers(0, 256, (8, 8, 3), dtype=np.uint8),
        }

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return self._obs(), {}

    def step(self, action):
        self.t += 1
        return self._obs(), 0.0, False, False, {}


def run(env: gym.Env, steps: int, seed: int = 0) -> list[dict[str, np.ndarray]]:
    obs = [env.reset(seed=seed)[0]]
    obs += [env.step(np.zeros(1, np.float32))[0] for _ in range(steps)]
    return obs


def stack(obs: list[dict[str, np.ndarray]], key: str) -> np.ndarray:
    return np.array([o[key] for o in obs], dtype=np.float64)


def test_select_channels_on_a_dict():
    env = DictSensors()
    picked = select_channels(env)
    assert sorted(picked) == ["goal", "state"]  # the image is no vector: skipped
    np.testing.assert_array_equal(picked["state"], [0, 1, 2])
    np.testing.assert_array_equal(select_channels(env, ["range"])["state"], [1])
    assert list(select_channels(env, keys=["goal"])) == ["goal"]
    with pytest.raises(LiquidControlError, match=r"not flat vectors \(images\?\)"):
        select_channels(env, keys=["image"])
    with pytest.raises(LiquidControlError, match=r"unknown observation key\(s\) \['lidar'\]"):
        select_channels(env, keys=["lidar"])
    with pytest.raises(LiquidControlError, match="no observation_layout"):
        select_channels(env, ["pose"], keys=["goal"])
    with pytest.raises(LiquidControlError, match=r"unknown observation group\(s\) \['steer'\]"):
        select_channels(env, ["steer"])
    with pytest.raises(LiquidControlError, match="need a Dict observation"):
        select_channels(parking(), keys=["state"])


@pytest.mark.parametrize("name", OBSERVATION_KINDS)
def test_images_pass_through_and_dicts_keep_keys_and_dtypes(name):
    groups = None if name != "rain" else ["range"]
    env = make_perturbation(name, 5, seed=1, groups=groups).apply(DictSensors())
    got, clean = run(env, 200), run(DictSensors(), 200)
    for o, c in zip(got, clean):
        assert list(o) == list(c)  # same keys, in the env's order
        assert all(o[k].dtype == c[k].dtype and o[k].shape == c[k].shape for k in o)
        np.testing.assert_array_equal(o["image"], c["image"])
        assert env.observation_space.contains(o)
    assert list(env.observation_space.spaces) == list(DictSensors().observation_space.spaces)
    assert env.observation_space["image"] == DictSensors().observation_space["image"]
    assert not np.array_equal(stack(got, "state"), stack(clean, "state"))


@pytest.mark.parametrize("name", OBSERVATION_KINDS)
def test_keys_select_which_vectors_change(name):
    env = make_perturbation(name, 5, seed=2, keys=["goal"]).apply(DictSensors()) if name != "rain" else \
        make_perturbation(name, 5, seed=2, groups=["range"], keys=["state"]).apply(DictSensors())
    got, clean = run(env, 200), run(DictSensors(), 200)
    changed, kept = ("goal", "state") if name != "rain" else ("state", "goal")
    np.testing.assert_array_equal(stack(got, kept), stack(clean, kept))
    assert not np.array_equal(stack(got, changed), stack(clean, changed))


def test_noise_sigma_and_saturation_on_a_dict_vector():
    env = make_perturbation("obs_noise", 3, seed=3, keys=["state"]).apply(DictSensors())
    got, clean = stack(run(env, 4000), "state"), stack(run(DictSensors(), 4000), "state")
    err = got - clean
    sigma = 0.2 * np.array([0.5, 1.0, 0.2])
    echo = clean[:, 1] != 2.0
    np.testing.assert_array_equal(got[~echo, 1], 2.0)  # no echo stays no echo
    measured = [err[:, 0].std(), err[echo, 1].std(), err[:, 2].std()]
    np.testing.assert_allclose(measured, sigma, rtol=0.05)
    assert np.all(np.abs([err[:, 0].mean(), err[echo, 1].mean(), err[:, 2].mean()]) < 5 * sigma / np.sqrt(3000))


def test_dropout_uses_the_dict_layout_fail_values():
    env = make_perturbation("sensor_dropout", 5, seed=4, keys=["state"]).apply(DictSensors())
    got, clean = stack(run(env, 3000), "state"), stack(run(DictSensors(), 3000), "state")
    lost = got != clean
    assert 0.35 < lost[1:, 0].mean() < 0.45  # p = 0.4; position and speed change every step
    np.testing.assert_array_equal(got[1:][lost[1:, 1], 1], 2.0)  # range: no echo
    for ch in (0, 2):  # position holds ("hold"), speed holds (no fail_value: the default)
        rows = np.flatnonzero(lost[:, ch])
        np.testing.assert_array_equal(got[rows, ch], got[rows - 1, ch])


def test_delay_on_a_dict_vector_is_whole_steps():
    env = make_perturbation("obs_delay", 4, keys=["state"]).apply(DictSensors())  # 0.3 s = 6 steps
    got, clean = stack(run(env, 50), "state"), stack(run(DictSensors(), 50), "state")
    np.testing.assert_array_equal(got, clean[np.maximum(np.arange(51) - 6, 0)])


def test_keys_only_for_observation_perturbations():
    with pytest.raises(LiquidControlError, match="takes no observation keys"):
        make_perturbation("friction", 1, keys=["state"])
    with pytest.raises(LiquidControlError, match="takes no observation keys"):
        make_perturbation("action_delay", 1, keys=["state"])
