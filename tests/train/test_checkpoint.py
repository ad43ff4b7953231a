"""Checkpoints are written as a whole and hold no pickle."""

from __future__ import annotations

import pytest
import torch
from liquidcontrol.policies import make_policy

from liquidcontrol.errors import LiquidControlError
from liquidcontrol.train import checkpoint as ck


def _policy_and_optimizer():
    policy = make_policy("cfc-ncp", 6, 2, units=8)
    opt = torch.optim.Adam(policy.parameters(), lr=1e-3)
    loss = policy(torch.randn(3, 6), policy.initial_state(3), torch.full((3, 1), 0.05))[0].sum()
    loss.backward()
    opt.step()
    return policy, opt


def test_round_trip_restores_weights_and_optimizer_without_pickle(tmp_path):
    policy, opt = _policy_and_optimizer()
    ck.save_checkpoint(tmp_path / "c", policy, {"iteration": 3}, opt)
    assert sorted(p.name for p in (tmp_path / "c").iterdir()) == [
        "optimizer.json", "optimizer.safetensors", "policy.safetensors", "progress.json"]
    loaded, record, opt2 = ck.load_checkpoint(tmp_path / "c", lambda p: torch.optim.Adam(p, lr=5.0))
    assert record["iteration"] == 3
    for a, b in zip(policy.parameters(), loaded.parameters()):
        assert torch.equal(a, b)
    s1, s2 = opt.state_dict(), opt2.state_dict()
    assert s2["param_groups"][0]["lr"] == 1e-3
    for idx, entries in s1["state"].items():
        for name, value in entries.items():
            assert torch.equal(value, s2["state"][idx][name]), (idx, name)


def test_a_failure_while_writing_leaves_the_previous_checkpoint_whole(tmp_path, monkeypatch):
    policy, opt = _policy_and_optimizer()
    ck.save_checkpoint(tmp_path / "c", policy, {"iteration": 1}, opt)
    before = {p.name: p.read_bytes() for p in (tmp_path / "c").iterdir()}
    with torch.no_grad():
        for p in policy.parameters():
            p.add_(1.0)

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(ck, "save_file", broken)  # the optimizer tensors fail after the weights were written
    with pytest.raises(OSError):
        ck.save_checkpoint(tmp_path / "c", policy, {"iteration": 2}, opt)
    assert {p.name: p.read_bytes() for p in (tmp_path / "c").iterdir()} == before
    assert [p.name for p in tmp_path.iterdir()] == ["c"]  # no temporary folder left behind


def test_corrupt_optimizer_state_is_one_clear_error(tmp_path):
    policy, opt = _policy_and_optimizer()
    ck.save_checkpoint(tmp_path / "c", policy, {"iteration": 1}, opt)
    (tmp_path / "c" / "optimizer.json").write_text("{broken")
    with pytest.raises(LiquidControlError, match="optimizer state .* is corrupt"):
        ck.load_checkpoint(tmp_path / "c", lambda p: torch.optim.Adam(p))
