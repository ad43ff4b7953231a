"""The README's main job with a tiny budget: every artefact exists and is valid."""

from __future__ import annotations

import json

import imageio.v3 as iio
import numpy as np
import pytest
import torch

from liquidcontrol.errors import LiquidControlError
from liquidcontrol.main_job import MainConfig, main_job
from liquidcontrol.runtime import PolicyRunner


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("main")
    cfg = MainConfig(out=str(out), budget="tiny", eval_episodes=6, sweep_episodes=3, severities=[2, 5],
                     perturbations=["rain", "obs_noise"], n_envs=3, progress=False)
    return out, main_job(cfg)


def test_summary_and_card_record_results(run):
    out, summary = run
    assert summary["exit_code"] == 0 and summary["onnx_check"]["passed"]
    assert set(summary["clean"]) == {"expert", "cfc-ncp (torch)", "cfc-ncp (ONNX)"}
    assert summary["clean"]["expert"]["success"] >= 5 / 6
    check = summary["onnx_check"]
    assert check["episodes"] == 6 and check["steps_compared"] > 0 and check["max_abs_action_delta"] <= 1e-4
    assert summary["task"] == "parking" and summary["training"]["capped"] is False
    assert summary["training"]["history"][-1]["learner_success"] is None  # the last round only validates
    card = json.loads((out / "bundle" / "card.json").read_text())
    assert card["env_id"] == "liquidcontrol/Parking-v0"
    assert card["evaluation"]["clean"]["expert"]["episodes"] == 6
    assert card["evaluation"]["clean"] == summary["clean"] and card["evaluation"]["onnx_check"] == check
    assert card["model"]["neurons"] == {"inter": 6, "command": 4, "motor": 2, "total": 12}
    assert card["training"]["recipe"]["algo"] == "bc+dagger"
    saved = json.loads((out / "report" / "summary.json").read_text(), parse_constant=_no_constants)
    assert saved["seconds"]["train"] > 0


def _no_constants(name):
    raise AssertionError(f"summary.json holds {name}, which strict JSON readers refuse")


def test_exported_onnx_matches_torch_in_closed_loop(run):
    out, _ = run
    from liquidcontrol.export import load_policy

    policy = load_policy(out / "bundle")
    runner = PolicyRunner(out / "bundle", backend="onnxruntime")
    rng = np.random.default_rng(0)
    obs = rng.normal(size=policy.obs_dim).astype(np.float32)
    state = policy.initial_state(1)
    for _ in range(50):
        a_onnx = runner.step(obs)
        with torch.no_grad():
            a_torch, state = policy(torch.as_tensor(obs[None]), state, torch.full((1, 1), 0.05))
        np.testing.assert_allclose(a_onnx, a_torch.numpy()[0], atol=1e-5)
        obs = np.concatenate([a_onnx, obs[:-2]]).astype(np.float32) * 0.9  # feed the action back


def test_report_links_plot_and_video(run):
    out, _ = run
    report = out / "report"
    index = (report / "index.html").read_text()
    for target in ("clean/report.html", "robustness/report.html", "episode.mp4"):
        assert target in index and (report / target).is_file()
    plot = report / "robustness" / "success_vs_severity.png"
    assert "success_vs_severity.png" in (report / "robustness" / "report.html").read_text()
    image = iio.imread(plot)
    assert image.ndim == 3 and image.shape[0] > 100 and image.std() > 0
    frame = next(iter(iio.imiter(report / "episode.mp4")))
    assert frame.shape[-1] == 3 and frame.std() > 0


def test_sweep_defaults_to_the_task_sweep():
    from liquidcontrol.main_job import _sweep_names
    from liquidcontrol.tasks import get_task

    task = get_task("parking")
    assert _sweep_names(MainConfig(), task) == list(task.sweep) and task.sweep
    assert _sweep_names(MainConfig(perturbations=["none"]), task) == []
    assert _sweep_names(MainConfig(perturbations=["rain"]), task) == ["rain"]


def test_unknown_perturbation_fails_before_training(tmp_path):
    with pytest.raises(LiquidControlError, match="unknown perturbation"):
        main_job(MainConfig(out=str(tmp_path), budget="tiny", perturbations=["hail"], progress=False))
    assert not (tmp_path / "train").exists()


@pytest.mark.parametrize("change, message", [
    ({"eval_episodes": 0}, "eval-episodes"),
    ({"severities": [7]}, "severity must be"),
    ({"train_perturbations": ["rain:9"]}, "severity must be"),
    ({"train_perturbations": ["sensor_dropout:1"]}, "held out"),
    ({"kind": "ltc-ncp", "param_budget": 500}, "param-budget"),
    ({"perturbations": ["hail"]}, "unknown perturbation"),
])
def test_bad_settings_fail_before_any_training(tmp_path, change, message):
    from liquidcontrol.errors import LiquidControlError
    from liquidcontrol.main_job import MainConfig, main_job

    out = tmp_path / "run"
    with pytest.raises(LiquidControlError, match=message):
        main_job(MainConfig(out=str(out), budget="tiny", progress=False, **change))
    assert not out.exists()


def test_a_failed_onnx_check_is_printed_with_its_reason(run, capsys):
    from liquidcontrol.main_job import _print_summary

    out, summary = run
    failed = {**summary["onnx_check"], "max_abs_action_delta": 0.5, "passed": False}
    _print_summary({**summary, "onnx_check": failed}, out)
    printed = capsys.readouterr().out
    assert "ONNX check FAILED" in printed and "does not compute the policy" in printed and "exit code 3" in printed
    _print_summary(summary, out)
    assert "FAILED" not in capsys.readouterr().out
