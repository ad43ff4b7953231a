"""The shipped parking bundle: found without torch, valid card, and it parks.

This checks the artefact users download, not a freshly trained model: the
card must describe it, and its numpy and onnxruntime backends must agree
and park on held-out seeds at the rate the card claims (within noise).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

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
    clean = card.evaluation["clean"] if "clean" in card.evaluation else card.evaluation  # v1 cards: flat
    assert clean["cfc-ncp (torch)"]["episodes"] >= 500
    assert clean["cfc-ncp (torch)"]["success"] >= 0.95


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


V1_CARD = Path(__file__).parent / "runtime" / "data" / "parking_card_v1.json"


def test_v1_cards_load_as_v2(tmp_path):
    import json

    assert json.loads(V1_CARD.read_text())["format_version"] == 1  # the previous shipped bundle's card
    card = load_card(V1_CARD)
    assert card.format_version == 2 and card.obs_dim == 14 and card.onnx_inputs == ["obs", "state", "dt"]
    assert card.inputs[0]["layout"][0]["name"] == "x"
    assert [(a["low"], a["high"]) for a in card.action] == [(None, None), (None, None)]


def test_default_shipped_bundle_is_v2_with_manifest_and_a_passed_onnx_check():
    import json

    folder = pretrained(NAME)
    assert json.loads((folder / "card.json").read_text())["format_version"] == 2
    assert (folder / "manifest.json").is_file()
    card = load_card(folder)
    assert [(a["low"], a["high"]) for a in card.action] == [(-1.0, 1.0), (-1.0, 1.0)]
    assert card.evaluation["onnx_check"]["passed"] and card.evaluation["onnx_check"]["seed_agreement"] >= 0.98
    assert card.trainable_parameter_count is not None and card.trainable_parameter_count < card.parameter_count


@pytest.mark.parametrize("name", ["../pretrained/" + NAME, "..", "/tmp", NAME + "/../" + NAME])
def test_names_cannot_leave_the_pretrained_folder(name):
    with pytest.raises(LiquidControlError, match="bare folder names"):
        pretrained(name)


def test_update_bundle_card_turns_a_shipped_bundle_into_v2(tmp_path):
    import shutil

    import onnx

    from liquidcontrol.export.bundle import update_bundle_card

    folder = shutil.copytree(pretrained(NAME), tmp_path / NAME)
    graph = onnx.load(str(folder / "policy.onnx")).graph.SerializeToString()
    obs = np.linspace(-1.0, 1.0, 14).astype(np.float32)
    before = [PolicyRunner(folder, backend=b).step(obs) for b in ("numpy", "onnxruntime")]
    card = update_bundle_card(folder, evaluation={"note": "re-evaluated"})
    assert card.format_version == 2 and (folder / "manifest.json").is_file()
    assert onnx.load(str(folder / "policy.onnx")).graph.SerializeToString() == graph
    after = [PolicyRunner(folder, backend=b).step(obs) for b in ("numpy", "onnxruntime")]
    for a, b in zip(before, after):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name, task_name", [("drone_cfc_ncp30_rates", "drone"),
                                             ("drone_cfc_ncp30_motors", "drone_motors"),
                                             ("drone_cfc_ncp30_randomized", "drone_randomized")])
def test_drone_bundles_fly_held_out_courses_with_both_backends(name, task_name):
    from liquidcontrol.tasks import get_task

    card = load_card(pretrained(name))
    task = get_task(card.task)
    assert task.name == task_name and card.model_kind == "cfc-ncp" and card.neurons["total"] == 30
    assert card.evaluation["onnx_check"]["passed"]
    for backend in ("numpy", "onnxruntime"):
        runner = PolicyRunner(pretrained(name), backend=backend)
        env = gym.make(task.env_id, **task.env_kwargs)
        successes = 0
        for seed in range(10):  # held-out evaluation seeds
            obs, _ = env.reset(seed=seed)
            runner.reset()
            done = False
            while not done:
                obs, _, terminated, truncated, info = env.step(runner.step(obs))
                done = terminated or truncated
            successes += bool(info["is_success"])
        assert successes >= 8, (backend, successes)


def test_driving_bundle_laps_held_out_tracks_from_the_camera():
    from liquidcontrol.tasks import get_task

    card = load_card(pretrained("driving_cfc_ncp19"))
    task = get_task(card.task)
    assert task.name == "driving" and card.model_kind == "cfc-ncp" and card.neurons["total"] == 19
    assert card.evaluation["onnx_check"]["passed"]
    assert [i["name"] for i in card.inputs] == ["obs_image", "obs_speed"]
    runner = PolicyRunner(pretrained("driving_cfc_ncp19"), backend="onnxruntime")
    env = gym.make(task.env_id, **task.env_kwargs)
    successes = 0
    for seed in range(6):  # held-out evaluation seeds
        obs, _ = env.reset(seed=seed)
        runner.reset()
        done, info = False, {}
        while not done:
            obs, _, terminated, truncated, info = env.step(runner.step(obs, dt=card.control_period_s))
            done = terminated or truncated
        successes += bool(info["is_success"])
    env.close()
    assert successes >= 5
