"""A task registered from outside the package runs the whole main job: Dict observations
(vector + uint8 image) through demos, BC, DAgger, export (obs_<key> ONNX inputs), the runtime,
evaluation, the ONNX check and the report. Nothing in the pipeline names this task."""

from __future__ import annotations

import json

import numpy as np
import pytest
import toy_task

from liquidcontrol.tasks import get_task


@pytest.fixture(scope="module")
def toy():
    task = toy_task.register()
    yield task
    toy_task.unregister()


@pytest.fixture(scope="module")
def toy_run(toy, tmp_path_factory):
    from liquidcontrol.main_job import MainConfig, main_job

    out = tmp_path_factory.mktemp("toy")
    summary = main_job(MainConfig(task="toy", out=str(out), budget="tiny", eval_episodes=6, sweep_episodes=3,
                                  severities=[2], n_envs=3, progress=False))
    return out, summary


def test_registered_task_is_found(toy):
    assert get_task("toy") is toy


def test_main_job_runs_end_to_end_on_dict_observations(toy_run):
    out, summary = toy_run
    assert summary["task"] == "toy" and summary["env_id"] == toy_task.TOY_ID
    assert summary["onnx_check"]["passed"], summary["onnx_check"]
    assert summary["onnx_check"]["steps_compared"] > 0
    assert summary["onnx_check"]["max_abs_action_delta"] <= 1e-4
    card = json.loads((out / "bundle" / "card.json").read_text())
    names = [i["name"] for i in card["inputs"]]
    assert names == ["obs_image", "obs_state"]
    image = next(i for i in card["inputs"] if i["name"] == "obs_image")
    assert image["dtype"] == "uint8" and image["shape"] == [16, 16, 3]
    assert card["onnx"]["inputs"] == ["obs_image", "obs_state", "state", "dt"]
    assert [a["low"] for a in card["action"]] == [-1.0, -1.0]
    assert card["evaluation"]["onnx_check"]["passed"]
    assert (out / "report" / "index.html").is_file()
    assert (out / "report" / "robustness" / "results.json").is_file()
    results = json.loads((out / "report" / "clean" / "results.json").read_text())["results"]
    extra = results[0]["conditions"][0]["metrics"]["extra"]
    assert "final_distance_m" in extra
    # A camera policy's report shows its saliency and neurons.
    for name in ("saliency.png", "neurons.png"):
        assert (out / "report" / "interpretability" / name).stat().st_size > 1000
    assert "interpretability/saliency.png" in (out / "report" / "index.md").read_text()


def test_runtime_runs_the_dict_bundle_with_uint8_images(toy_run):
    from liquidcontrol.runtime import PolicyRunner

    out, _ = toy_run
    runner = PolicyRunner(out / "bundle", backend="onnxruntime")
    env = toy_task.ToyReachEnv()
    obs, _ = env.reset(seed=5)
    action = runner.step(obs)
    assert action.shape == (2,) and np.isfinite(action).all()
