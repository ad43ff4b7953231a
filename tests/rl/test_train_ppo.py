"""``liquidcontrol train ppo``: a task of the registry end to end (Dict observations with an image),
resume, export through the ONNX check, fine-tuning checks and bad input."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import toy_task
from stable_baselines3.common.vec_env import DummyVecEnv

from liquidcontrol.cli import main
from liquidcontrol.errors import LiquidControlError
from liquidcontrol.rl import LiquidPPO, NonFiniteLoss
from liquidcontrol.rl.train import PPOConfig, train

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")
TINY = ["--n-envs", "2", "--n-steps", "32", "--seq-len", "8", "--batch-size", "64", "--n-epochs", "1",
        "--eval-every", "64", "--eval-episodes", "4", "--progress", "false"]


@pytest.fixture(scope="module")
def toy():
    task = toy_task.register()
    yield task
    toy_task.unregister()


def test_train_method_ppo_runs_resumes_and_exports_a_checked_bundle(toy: Any, tmp_path: Path, capsys: Any) -> None:
    out = tmp_path / "run"
    assert main(["train", "--method", "ppo", "--task", "toy", "--steps", "128", "--check-episodes", "4",
                 "--out", str(out), *TINY]) == 0
    history = json.loads((out / "history.json").read_text())
    assert [h["steps"] for h in history] == [0, 64, 128]
    assert all(0.0 <= h["validation_success"] <= 1.0 for h in history)
    assert (out / "history.csv").read_text().splitlines()[0].startswith("steps,updates,wall_seconds,validation_success")
    # each evaluation scores the weights after every update of its steps (n_epochs 1: one update a rollout)
    assert [h["updates"] for h in history] == [0, 1, 2]
    card = json.loads((out / "bundle" / "card.json").read_text())
    assert card["task"] == "toy" and card["evaluation"]["onnx_check"]["passed"]
    assert [i["key"] for i in card["inputs"]] == ["image", "state"]
    assert card["training"]["recipe"]["algo"] == "ppo"
    assert any(p.name.startswith("events") for p in (out / "tb").rglob("*"))
    # resume: the step count, weights and history carry on
    before = LiquidPPO.load(out / "checkpoint" / "model.zip")
    assert before.num_timesteps == 128 and before._n_updates == 2  # the last update is saved
    assert main(["train", "ppo", "--task", "toy", "--steps", "192", "--check-episodes", "0", "--resume", "true",
                 "--out", str(out), *TINY]) == 0
    history = json.loads((out / "history.json").read_text())
    assert [h["steps"] for h in history] == [0, 64, 128, 192]
    assert LiquidPPO.load(out / "checkpoint" / "model.zip").num_timesteps == 192
    # a fresh run into a used folder, or a resume with another model, is refused and loses nothing
    capsys.readouterr()
    assert main(["train", "ppo", "--task", "toy", "--steps", "64", "--out", str(out), *TINY]) == 2
    assert "already holds a PPO run" in capsys.readouterr().err
    assert main(["train", "ppo", "--task", "toy", "--kind", "gru", "--steps", "256", "--resume", "true",
                 "--out", str(out), *TINY]) == 2
    assert "cannot resume" in capsys.readouterr().err
    assert LiquidPPO.load(out / "checkpoint" / "model.zip").num_timesteps == 192


def test_unknown_method_kind_and_critic_get_one_sentence(toy: Any, tmp_path: Path, capsys: Any) -> None:
    assert main(["train", "--method", "sac", "--task", "toy"]) == 2
    assert "unknown training method 'sac'" in capsys.readouterr().err
    assert main(["train", "ppo", "--task", "toy", "--kind", "transformer", "--out", str(tmp_path / "a"), *TINY]) == 2
    assert "unknown model kind 'transformer'" in capsys.readouterr().err
    assert main(["train", "ppo", "--task", "toy", "--critic", "both", "--out", str(tmp_path / "b"), *TINY]) == 2
    assert "--critic 'both' is unknown" in capsys.readouterr().err
    assert main(["train", "ppo", "--task", "toy", "--lr-schedule", "cosine", "--out", str(tmp_path / "d"), *TINY]) == 2
    assert "--lr-schedule 'cosine' is unknown; choose one of constant, linear." in capsys.readouterr().err
    assert main(["train", "ppo", "--task", "nosuchtask", "--out", str(tmp_path / "c"), *TINY]) == 2
    assert not any((tmp_path / n).exists() for n in "abcd")


def test_fine_tuning_refuses_a_bundle_of_another_task(toy: Any, tmp_path: Path) -> None:
    from liquidcontrol.runtime.pretrained import pretrained

    bundle = pretrained("parking_cfc_ncp12")
    with pytest.raises(LiquidControlError, match="the policy reads a flat vector but the env observes keys"):
        train(PPOConfig(task="toy", init_from=str(bundle), out=str(tmp_path / "x"), steps=64, n_envs=2, n_steps=32,
                        seq_len=8, batch_size=64, progress=False))
    with pytest.raises(LiquidControlError, match="not a bundle folder"):
        train(PPOConfig(task="toy", init_from=str(tmp_path), out=str(tmp_path / "y"), progress=False))


def test_fine_tuning_starts_from_the_bundle_actor(toy: Any, tmp_path: Path) -> None:
    # an imitation bundle of the toy task, then PPO from it: the actor starts as the bundle's
    from liquidcontrol.export.bundle import load_policy
    from liquidcontrol.main_job import MainConfig, main_job

    main_job(MainConfig(task="toy", out=str(tmp_path / "bc"), budget="tiny", eval_episodes=4, sweep_episodes=2,
                        severities=[], n_envs=2, progress=False, expert=False))
    bundle = next((tmp_path / "bc").rglob("card.json")).parent
    cfg = PPOConfig(task="toy", init_from=str(bundle), out=str(tmp_path / "ft"), steps=64, n_envs=2, n_steps=32,
                    seq_len=8, batch_size=64, n_epochs=1, eval_every=64, eval_episodes=4, check_episodes=0,
                    progress=False)
    from liquidcontrol.rl.train import build_model, make_vec_env, resolve

    resolved, task, actor = resolve(cfg)
    assert resolved.normalize == "frozen" and resolved.critic_warmup_steps == 5 * 2 * 32
    model = build_model(resolved, make_vec_env(task, resolved), actor)
    original = load_policy(bundle)
    for k, v in original.state_dict().items():
        torch.testing.assert_close(model.actor.state_dict()[k], v)
    model.learn(64)  # inside the critic warm-up: the actor is unchanged
    for k, v in original.state_dict().items():
        torch.testing.assert_close(model.actor.state_dict()[k], v)


def test_a_nan_loss_stops_training_and_keeps_the_last_checkpoint(toy: Any, tmp_path: Path,
                                                                 monkeypatch: Any, capsys: Any) -> None:
    out = tmp_path / "nan"
    assert main(["train", "ppo", "--task", "toy", "--steps", "64", "--check-episodes", "0", "--out", str(out),
                 *TINY]) == 0
    saved = (out / "checkpoint" / "model.zip").read_bytes()
    step = toy_task.ToyReachEnv.step

    def nan_step(self: Any, action: Any) -> Any:
        obs, _, term, trunc, info = step(self, action)
        return obs, float("nan"), term, trunc, info

    monkeypatch.setattr(toy_task.ToyReachEnv, "step", nan_step)
    capsys.readouterr()
    assert main(["train", "ppo", "--task", "toy", "--steps", "256", "--check-episodes", "0", "--resume", "true",
                 "--out", str(out), *TINY]) == 2
    assert "NaN or infinite" in capsys.readouterr().err
    assert (out / "checkpoint" / "model.zip").read_bytes() == saved


def test_replay_is_exact_on_dict_observations_with_images(toy: Any) -> None:
    env = DummyVecEnv([toy_task.ToyReachEnv for _ in range(3)])
    model = LiquidPPO("cfc-ncp", env, units=8, n_steps=48, seq_len=16, batch_size=96, n_epochs=1, seed=0)
    model.learn(3 * 48)
    from test_ppo import _collected, _replay_gaps

    _collected(model)
    assert model.rollout_buffer.observations["image"].dtype == np.uint8
    lp, v = _replay_gaps(model)
    assert lp < 1e-4 and v < 1e-4
    assert issubclass(NonFiniteLoss, LiquidControlError)


def test_learning_curves_plot_and_refuse_a_folder_without_history(tmp_path: Path) -> None:
    from liquidcontrol.rl.plot import main as plot_main

    run = tmp_path / "run"
    run.mkdir()
    (run / "history.json").write_text(json.dumps([{"steps": 0, "wall_seconds": 1.0, "validation_success": 0.0},
                                                  {"steps": 1000, "wall_seconds": 9.0, "validation_success": 0.5}]))
    out = tmp_path / "curves.png"
    assert plot_main([str(out), str(run)]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert plot_main([str(tmp_path / "x.png"), str(tmp_path)]) == 2
    assert not (tmp_path / "x.png").exists()


def test_stop_success_ends_the_run_at_the_first_evaluation_that_reaches_it(toy: Any, tmp_path: Path,
                                                                          monkeypatch: Any, capsys: Any) -> None:
    import liquidcontrol.train.dagger as dagger

    scores = iter([0.0, 0.5, 0.97, 0.99, 1.0])
    monkeypatch.setattr(dagger, "validate", lambda *args, **kwargs: next(scores))
    out = tmp_path / "run"
    assert main(["train", "ppo", "--task", "toy", "--steps", "320", "--check-episodes", "0", "--stop-success", "0.95",
                 "--out", str(out), *TINY]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert [h["steps"] for h in summary["history"]] == [0, 64, 128]
    assert summary["steps"] == 128 and summary["stopped_at_success"] is True
    assert summary["best_success"] == 0.97
    assert LiquidPPO.load(out / "checkpoint" / "model.zip")._n_updates == 2  # no update after the stop
    assert "reached --stop-success 0.95: stopped at 128 env steps" in capsys.readouterr().out
    # resuming it with the same bar trains nothing more (no evaluation is drawn from the scores)
    assert main(["train", "ppo", "--task", "toy", "--steps", "320", "--check-episodes", "0", "--stop-success", "0.95",
                 "--resume", "true", "--out", str(out), *TINY]) == 0
    assert json.loads((out / "summary.json").read_text())["steps"] == 128
    assert [h["steps"] for h in json.loads((out / "history.json").read_text())] == [0, 64, 128]
    assert LiquidPPO.load(out / "checkpoint" / "model.zip")._n_updates == 2
    # off (the default) it trains all the steps; out of [0, 1] it is refused
    scores = iter([0.0, 0.5, 0.97, 0.99, 1.0, 1.0])
    assert main(["train", "ppo", "--task", "toy", "--steps", "256", "--check-episodes", "0",
                 "--out", str(tmp_path / "all"), *TINY]) == 0
    assert json.loads((tmp_path / "all" / "summary.json").read_text())["steps"] == 256
    capsys.readouterr()
    assert main(["train", "ppo", "--task", "toy", "--stop-success", "95", "--out", str(tmp_path / "bad"), *TINY]) == 2
    assert "--stop-success must be a success rate in [0, 1], got 95.0." in capsys.readouterr().err


def test_run_table_reads_summaries_and_the_held_out_check(tmp_path: Path, capsys: Any) -> None:
    from liquidcontrol.rl.table import main as table_main

    def run(name: str, successes: list[float], check: dict[str, Any] | None, stopped: bool) -> Path:
        folder = tmp_path / name
        folder.mkdir()
        history = [{"steps": 100_000 * i, "wall_seconds": 60.0 * i, "validation_success": s}
                   for i, s in enumerate(successes)]
        (folder / "summary.json").write_text(json.dumps({"history": history, "stopped_at_success": stopped,
                                                         "config": {"kind": "cfc-ncp", "units": 30, "seed": 1}}))
        if check is not None:  # as export prints it: the JSON, then an error line if the check failed
            # (stderr may land before the JSON when stdout is buffered)
            text = json.dumps({"onnx_check": check}, indent=2)
            text = text if check["passed"] else "warning: slow\n" + text + "\nerror: failed"
            (folder / "heldout_onnx_check.txt").write_text(text)
        return folder

    a = run("m_s0", [0.0, 0.0, 0.5, 0.97, 0.97], {"torch_success": 0.955, "episodes": 200, "passed": True,
                                                 "seed_agreement": 1.0}, True)
    b = run("m_s1", [0.0, 0.3, 0.91, 0.6], {"torch_success": 0.9, "episodes": 200, "passed": False,
                                           "seed_agreement": 0.955, "max_abs_action_delta": 4.8e-7}, False)
    c = run("m_s2", [0.0, 0.0, 0.0], None, False)
    d = run("m_s3", [0.0, 0.5], {"torch_success": 0.0, "episodes": 200, "passed": False, "seed_agreement": 1.0,
                                 "max_abs_action_delta": None}, False)  # a non-finite difference, stored as null
    out = tmp_path / "table.csv"
    assert table_main([str(out), str(a), str(b), str(c), str(d)]) == 0
    text = capsys.readouterr().out
    assert "| m_s0 | 0.20 M | 0.30 M | 97.0 % | 95.5 % | passed (100.0 % agreement) | 97.0 % | 0.40 M*: 97.0 % | 4 min |" in text
    assert "| m_s1 | 0.10 M | 0.20 M | 91.0 % | 90.0 % | failed (95.5 % agreement, max \\|Δa\\| 5e-07) | 60.0 % | 0.30 M: 60.0 % | 3 min |" in text
    assert "| m_s2 | never | never | 0.0 % | – | – | – | 0.20 M: 0.0 % | 2 min |" in text
    assert "| failed (100.0 % agreement, max \\|Δa\\| non-finite) |" in text
    assert ("- m: 2/4 seeds reach ≥ 90 % validation, median 0.25 M; 1/4 have a best checkpoint ≥ 90 % held out "
            "that passes the ONNX check.") in text
    rows = out.read_text().splitlines()
    assert rows[0].startswith("run,model,kind,units") and rows[1].startswith("m_s0,m,cfc-ncp,30,")
    import csv

    first, second = list(csv.DictReader(out.read_text().splitlines()))[:2]
    assert first["max_abs_action_delta"] == "" and second["max_abs_action_delta"] == "4.8e-07"
    assert first["best_steps"] == "400000"  # the latest of equal bests, the one training keeps in best/
    # a folder that is not a finished run, or a garbled check, is one sentence and no table
    (tmp_path / "empty").mkdir()
    assert table_main([str(tmp_path / "t2.csv"), str(a), str(tmp_path / "empty")]) == 2
    assert "holds no summary.json; is it a finished train ppo run?" in capsys.readouterr().err
    (c / "heldout_onnx_check.txt").write_text("error: the bundle folder is missing")
    assert table_main([str(tmp_path / "t2.csv"), str(c)]) == 2
    assert "holds no ONNX check record (error: the bundle folder is missing)." in capsys.readouterr().err
    assert not (tmp_path / "t2.csv").exists()
