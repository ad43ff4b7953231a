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

import numpy as np
import pytest

from liquidcontrol.errors import LiquidControlError
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


def test_training_perturbations_reach_the_learner_not_the_labels(tmp_path):
    from liquidcontrol.train.data import Demonstrations

    train(DaggerConfig(out=str(tmp_path), train_perturbations=["sensor_dropout:5"], **TINY))
    demos = Demonstrations.load(tmp_path / "data" / "iter_000.npz")
    dagger = Demonstrations.load(tmp_path / "data" / "iter_001.npz")
    ranges = slice(6, 14)  # Parking-v0 rangefinders; a dropped reading is exactly 0
    assert not (np.concatenate([e.obs for e in demos.episodes])[:, ranges] == 0).any()
    dropped = [float((e.obs[:, ranges] == 0).mean()) for e in dagger.episodes]
    assert max(dropped) > 0.2  # severity 5 drops 40 % of readings in the perturbed envs
    assert min(dropped) == 0.0  # the other half of the envs stay clean


@pytest.mark.slow
def test_dagger_learns_to_park(tmp_path):
    """Does it actually learn: 8 DAgger rounds of the default recipe (about 3 min)
    lift a 12-neuron CfC-NCP from 0 % to most of the validation seeds."""
    summary = train(DaggerConfig(out=str(tmp_path), iterations=8, progress=False))
    rates = [h["validation_success"] for h in summary["history"]]
    assert rates[0] < 0.2  # behaviour cloning alone does not park
    assert summary["best_success"] >= 0.6
