"""The shipped parking bundle: found without torch, valid card, and it parks.

This checks the artefact users download, not a freshly trained model: the
card must describe it, and its numpy and onnxruntime backends must agree
and park on held-out seeds at the rate the card claims (within noise).
"""

from __future__ import annotations

import subprocess
import sys

import gymnasium as gym
import liquidcontrol.envs  # noqa: F401 - registers the ids
import numpy as np
import pytest

from liquidcontrol.errors import LiquidControlError
from liquidcontrol.runtime import PolicyRunner, available_pretrained, load_card, pretrained

NAME = "parking_cfc_ncp12"
# The default bundle (clean training) and the one trained with rain and sensor noise.
BUNDLES = [NAME, "parking_cfc_ncp12_rain"]


@pytest.mark.parametrize("name", BUNDLES)
def test_bundle_is_listed_and_described(name):
    assert name in available_pretrained()
    card = load_card(pretrained(name))
    assert card.env_id == "liquidcontrol/Parking-v0"
    assert card.model_kind == "cfc-ncp" and card.neurons["total"] == 12
    assert card.evaluation["cfc-ncp (torch)"]["episodes"] >= 500
    assert card.evaluation["cfc-ncp (torch)"]["success"] >= 0.95


def test_unknown_name_lists_the_available_ones():
    with pytest.raises(LiquidControlError, match=NAME):
        pretrained("no_such_policy")


def test_located_without_importing_torch():
    code = ("import sys; from liquidcontrol.runtime import pretrained; "
            f"pretrained({NAME!r}); assert 'torch' not in sys.modules, 'torch was imported'")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


@pytest.mark.parametrize("name", BUNDLES)
def test_parks_on_held_out_seeds_with_both_backends(name):
    runners = [PolicyRunner(pretrained(name), backend=b) for b in ("numpy", "onnxruntime")]
    env = gym.make("liquidcontrol/Parking-v0")
    successes = 0
    for seed in range(20):
        obs, _ = env.reset(seed=seed)
        for r in runners:
            r.reset()
        done, step = False, 0
        while not done:
            a_np, a_ort = (r.step(obs) for r in runners)
            np.testing.assert_allclose(a_np, a_ort, atol=1e-5)  # whole episodes, up to 800 steps
            obs, _, term, trunc, info = env.step(a_np)
            done, step = term or trunc, step + 1
        successes += bool(info["is_success"])
    assert successes >= 17  # cards claim >= 95 %; 17/20 leaves room for sampling noise


def test_rain_bundle_records_its_training_perturbations():
    recipe = load_card(pretrained("parking_cfc_ncp12_rain")).training["recipe"]
    assert recipe["train_perturbations"] == ["rain:2", "obs_noise:1"]
