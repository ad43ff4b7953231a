"""The real training entry point with a tiny budget: checkpoints, resume,
Ctrl-C and kill -9 lose at most one checkpoint interval."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from liquidcontrol.errors import LiquidControlError
from liquidcontrol.tasks import get_task
from liquidcontrol.train import dagger
from liquidcontrol.train.checkpoint import load_checkpoint, read_progress
from liquidcontrol.train.dagger import DaggerConfig, train

TINY = dict(demo_episodes=4, bc_epochs=2, iterations=1, episodes_per_iteration=4, epochs_per_iteration=1,
            validation_episodes=4, n_envs=4, progress=False)


def test_tiny_run_writes_checkpoint_best_and_data(tmp_path):
    summary = train(DaggerConfig(out=str(tmp_path), **TINY))
    progress = read_progress(tmp_path / "checkpoint")
    assert progress["iteration"] == 3 and progress["bc_epoch"] == 2
    assert [h["iteration"] for h in summary["history"]] == [1, 2]
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == ["iter_000.npz", "iter_001.npz"]
    assert progress["data_files"] == ["iter_000.npz", "iter_001.npz"]
    policy, record, _ = load_checkpoint(tmp_path / "best")
    assert policy.kind == "cfc-ncp" and record["validation_success"] == summary["best_success"]
    assert all(0.0 <= h["validation_success"] <= 1.0 for h in summary["history"])
    # Round 1 rolled out the learner; round 2 (the last) only validated the final fit.
    assert 0.0 <= summary["history"][0]["learner_success"] <= 1.0
    assert summary["history"][-1]["learner_success"] is None and summary["capped"] is False
    assert progress["history"] == summary["history"]  # strict JSON: "not measured" is null, never NaN
    assert float(policy.obs_std.min()) > 0 and not np.allclose(policy.obs_mean.numpy(), 0)  # normalisation set
    assert list((tmp_path / "tb").iterdir())  # TensorBoard events


def test_existing_run_is_not_overwritten(tmp_path):
    train(DaggerConfig(out=str(tmp_path), **{**TINY, "iterations": 0}))
    before = (tmp_path / "checkpoint" / "policy.safetensors").read_bytes()
    with pytest.raises(LiquidControlError, match="--resume"):
        train(DaggerConfig(out=str(tmp_path), **TINY))
    assert (tmp_path / "checkpoint" / "policy.safetensors").read_bytes() == before


def test_resume_without_checkpoint_is_a_clear_error(tmp_path):
    with pytest.raises(LiquidControlError, match="nothing to resume"):
        train(DaggerConfig(out=str(tmp_path), resume=True, **TINY))


def _start(out: Path, *extra: str) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "liquidcontrol", "train", "dagger", "--out", str(out), "--demo-episodes", "4",
           "--bc-epochs", "40", "--iterations", "2", "--episodes-per-iteration", "4", "--epochs-per-iteration", "1",
           "--validation-episodes", "4", "--n-envs", "4", "--progress", "false", *extra]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})


def _wait_for_epoch(out: Path, epoch: int, proc: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    path = out / "checkpoint" / "progress.json"
    while time.monotonic() < deadline:
        if path.exists() and json.loads(path.read_text())["bc_epoch"] >= epoch:
            return
        if proc.poll() is not None:
            raise AssertionError(f"training ended early: {proc.stdout.read() if proc.stdout else ''}")
        time.sleep(0.1)
    raise AssertionError("no checkpoint appeared in time")


def test_ctrl_c_then_kill_then_resume_completes(tmp_path):
    proc = _start(tmp_path)
    _wait_for_epoch(tmp_path, 2, proc)
    proc.send_signal(signal.SIGINT)
    output = proc.communicate(timeout=60)[0]
    assert proc.returncode == 130, output
    assert "checkpoint saved" in output and "Traceback" not in output
    epoch_after_interrupt = read_progress(tmp_path / "checkpoint")["bc_epoch"]
    assert epoch_after_interrupt >= 2

    proc = _start(tmp_path, "--resume", "true")
    _wait_for_epoch(tmp_path, epoch_after_interrupt + 2, proc)
    proc.send_signal(signal.SIGKILL)  # no chance to save: the last checkpoint must still be whole
    proc.communicate(timeout=30)
    killed_at = read_progress(tmp_path / "checkpoint")["bc_epoch"]
    assert killed_at >= epoch_after_interrupt + 2
    load_checkpoint(tmp_path / "checkpoint")  # loads cleanly after kill -9

    proc = _start(tmp_path, "--resume", "true")
    output = proc.communicate(timeout=300)[0]
    assert proc.returncode == 0, output
    assert f"BC epoch {killed_at}" in output  # continued, did not restart
    final = read_progress(tmp_path / "checkpoint")
    assert final["bc_epoch"] == 40 and final["iteration"] == 4
    assert [h["iteration"] for h in final["history"]] == [1, 2, 3]


def _jitter(episode) -> float:
    """Median step-to-step change of the observed x position (m): the car moves at most a few
    cm per step, sensor noise of sigma 0.5 m (obs_noise at severity 5) jumps by decimetres."""
    return float(np.median(np.abs(np.diff(episode.obs[:, 0]))))


def test_training_perturbations_reach_the_learner_not_the_labels(tmp_path):
    from liquidcontrol.train.data import Demonstrations

    train(DaggerConfig(out=str(tmp_path), train_perturbations=["obs_noise:5"], **TINY))
    demos = Demonstrations.load(tmp_path / "data" / "iter_000.npz")
    rollouts = Demonstrations.load(tmp_path / "data" / "iter_001.npz")
    assert max(_jitter(e) for e in demos.episodes) < 0.05  # the expert's demonstrations stay clean
    # Episodes come in seed order, and the first seed of a round is even: even seeds are perturbed.
    jitter = [_jitter(e) for e in rollouts.episodes]
    assert all(j > 0.2 for j in jitter[0::2]), jitter  # the learner saw the noisy sensors
    assert all(j < 0.05 for j in jitter[1::2]), jitter  # the odd-seed half stays clean
    # The labels are the expert's answers from the true state: inside the action bounds, not noisy copies.
    low, high = np.array([-1, -1]), np.array([1, 1])
    acts = np.concatenate([e.act for e in rollouts.episodes])
    assert np.isfinite(acts).all() and (acts >= low - 1e-6).all() and (acts <= high + 1e-6).all()


def test_which_episodes_are_perturbed_depends_on_the_seed_not_the_slot():
    import gymnasium as gym

    from liquidcontrol.perturb import apply_perturbations
    from liquidcontrol.perturb.mix import EpisodeMix
    from liquidcontrol.seeds import training_seeds
    from liquidcontrol.train.collect import collect_episodes

    task = get_task("parking")

    def wrap(env):
        return EpisodeMix(env, apply_perturbations(gym.make(task.env_id), ["obs_noise:3", "friction:5"], [0]))

    seeds = training_seeds(0, 1, 5)
    runs = [collect_episodes(task, seeds, wrap=wrap, n_envs=n, progress=False, max_steps=40)[0] for n in (1, 3)]
    for a, b in zip(*(r.episodes for r in runs)):
        np.testing.assert_array_equal(a.obs, b.obs)
        np.testing.assert_array_equal(a.act, b.act)
    jitter = [_jitter(e) for e in runs[0].episodes]
    assert all(j > 0.05 for j in jitter[0::2]) and all(j < 0.05 for j in jitter[1::2]), jitter


def test_held_out_training_perturbation_is_refused_before_anything_runs(tmp_path):
    with pytest.raises(LiquidControlError, match=r"keeps \['sensor_dropout'\] held out"):
        train(DaggerConfig(out=str(tmp_path / "run"), train_perturbations=["sensor_dropout:5"], **TINY))
    assert not (tmp_path / "run").exists()


def test_safety_cap_validates_the_last_fit_then_stops(tmp_path, capsys):
    summary = train(DaggerConfig(out=str(tmp_path), max_minutes=1e-6, **{**TINY, "iterations": 3}))
    assert summary["capped"] is True
    assert "safety cap" in capsys.readouterr().out
    (last,) = summary["history"]  # the cap fired before the first DAgger round: it only validated
    assert last["iteration"] == 1 and last["learner_success"] is None
    assert 0.0 <= last["validation_success"] <= 1.0
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == ["iter_000.npz"]  # no rollout, no refit
    assert read_progress(tmp_path / "checkpoint")["iteration"] == 2
    # It scored the last fit: validating the saved (behaviour-cloned) policy again gives the same number.
    policy, _, _ = load_checkpoint(tmp_path / "checkpoint")
    assert dagger.validate(get_task("parking"), policy, TINY["validation_episodes"], n_envs=4) == last["validation_success"]


def test_safety_cap_in_a_later_round(tmp_path, monkeypatch):
    # A fake clock: every round takes one minute; the 1.5 min cap fires at the start of round 3.
    clock = {"t": 0.0}
    monkeypatch.setattr(dagger, "time", SimpleNamespace(perf_counter=lambda: clock["t"]))
    real_round = dagger._dagger_iteration

    def one_minute_round(*args, **kwargs):
        real_round(*args, **kwargs)
        clock["t"] += 60.0

    monkeypatch.setattr(dagger, "_dagger_iteration", one_minute_round)
    summary = train(DaggerConfig(out=str(tmp_path), max_minutes=1.5, **{**TINY, "iterations": 5}))
    assert summary["capped"] is True
    assert [h["iteration"] for h in summary["history"]] == [1, 2, 3]
    assert [h["learner_success"] is None for h in summary["history"]] == [False, False, True]
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == ["iter_000.npz", "iter_001.npz", "iter_002.npz"]


def test_resume_refuses_changed_model_or_data_fields(tmp_path):
    train(DaggerConfig(out=str(tmp_path), **{**TINY, "iterations": 0}))
    before = (tmp_path / "checkpoint" / "progress.json").read_bytes()
    with pytest.raises(LiquidControlError) as err:
        train(DaggerConfig(out=str(tmp_path), resume=True, units=8, seed=3, demo_noise=[0.2, 0.0],
                           **{**TINY, "iterations": 0}))
    msg = str(err.value)
    assert "units: saved 12, new 8" in msg and "seed: saved 0, new 3" in msg
    assert "demo_noise: saved [0.1, 0.0], new [0.2, 0.0]" in msg
    assert "kind" not in msg and "lr" not in msg  # only the fields that differ
    assert (tmp_path / "checkpoint" / "progress.json").read_bytes() == before  # nothing was touched


def test_resume_with_new_budget_says_so_and_uses_it(tmp_path, capsys):
    train(DaggerConfig(out=str(tmp_path), **TINY))  # rounds 1 (DAgger) and 2 (validation only)
    capsys.readouterr()
    summary = train(DaggerConfig(out=str(tmp_path), resume=True, lr=0.005,
                                 **{**TINY, "iterations": 2, "epochs_per_iteration": 2}))
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if line.startswith("resuming with new values")]
    assert len(lines) == 1
    assert "lr=0.005 (was 0.01)" in lines[0] and "iterations=2 (was 1)" in lines[0]
    assert "epochs_per_iteration=2 (was 1)" in lines[0] and "units" not in lines[0]
    # The round that only validated becomes a full DAgger round under the larger budget.
    assert [h["iteration"] for h in summary["history"]] == [1, 2, 3]
    assert [h["learner_success"] is None for h in summary["history"]] == [False, False, True]
    assert (tmp_path / "data" / "iter_002.npz").is_file()
    assert read_progress(tmp_path / "checkpoint")["recipe"]["lr"] == 0.005


@pytest.mark.slow
def test_dagger_learns_to_park(tmp_path):
    """Does it actually learn: 8 DAgger rounds of the default recipe (about 3 min)
    lift a 12-neuron CfC-NCP from 0 % to most of the validation seeds."""
    summary = train(DaggerConfig(out=str(tmp_path), iterations=8, progress=False))
    rates = [h["validation_success"] for h in summary["history"]]
    assert rates[0] < 0.2  # behaviour cloning alone does not park
    assert summary["best_success"] >= 0.6


def test_a_resumed_run_ends_with_the_same_policy_as_an_uninterrupted_one(tmp_path):
    from safetensors.numpy import load_file

    budget = {**TINY, "iterations": 2}
    train(DaggerConfig(out=str(tmp_path / "whole"), **budget))
    # The same budget in two sittings: stop after behaviour cloning (iterations=0), then resume.
    train(DaggerConfig(out=str(tmp_path / "split"), **{**budget, "iterations": 0}))
    train(DaggerConfig(out=str(tmp_path / "split"), resume=True, **budget))
    whole = load_file(str(tmp_path / "whole" / "checkpoint" / "policy.safetensors"))
    split = load_file(str(tmp_path / "split" / "checkpoint" / "policy.safetensors"))
    assert whole.keys() == split.keys()
    for key in whole:
        np.testing.assert_array_equal(whole[key], split[key], err_msg=key)
