"""Demonstration files: round trip, padding, corrupt input."""

from __future__ import annotations

import numpy as np
import pytest

from liquidcontrol.errors import LiquidControlError
from liquidcontrol.train.data import Demonstrations, Episode


def _episode(rng: np.random.Generator, steps: int) -> Episode:
    return Episode(rng.normal(size=(steps, 5)).astype(np.float32),
                   rng.uniform(-1, 1, size=(steps, 2)).astype(np.float32),
                   np.full(steps, 0.05, np.float32))


def test_round_trip_keeps_every_episode(tmp_path):
    rng = np.random.default_rng(0)
    demos = Demonstrations(meta={"env_id": "x"})
    for steps in (3, 10, 7):
        demos.add(_episode(rng, steps))
    path = demos.save(tmp_path / "d.npz")
    back = Demonstrations.load(path)
    assert [len(e) for e in back.episodes] == [3, 10, 7]
    assert back.meta == {"env_id": "x"}
    for a, b in zip(demos.episodes, back.episodes):
        np.testing.assert_array_equal(a.obs, b.obs)
        np.testing.assert_array_equal(a.act, b.act)


def test_batches_cover_all_steps_once_with_mask(tmp_path):
    rng = np.random.default_rng(1)
    demos = Demonstrations()
    lengths = [5, 9, 2, 9, 4]
    for n in lengths:
        demos.add(_episode(rng, n))
    seen = 0.0
    for batch in demos.batches(2, np.random.default_rng(0)):
        for start in range(0, batch.steps, 4):  # TBPTT chunks of 4 steps, built when trained on
            obs, act, dt, mask = batch.chunk(start, start + 4)
            assert obs.shape[:2] == mask.shape == act.shape[:2] == dt.shape
            seen += mask.sum()
            assert (dt > 0).all()  # padding never feeds dt = 0 to a cell
    assert seen == sum(lengths)


def test_nan_episode_is_rejected():
    ep = _episode(np.random.default_rng(2), 4)
    ep.obs[1, 2] = np.nan
    with pytest.raises(LiquidControlError, match="NaN"):
        Demonstrations().add(ep)


def test_corrupt_and_missing_files_give_clear_errors(tmp_path):
    with pytest.raises(LiquidControlError, match="does not exist"):
        Demonstrations.load(tmp_path / "missing.npz")
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip file")
    with pytest.raises(LiquidControlError, match="not a valid demonstration file"):
        Demonstrations.load(bad)


def test_failed_save_keeps_previous_file(tmp_path):
    rng = np.random.default_rng(3)
    demos = Demonstrations()
    demos.add(_episode(rng, 4))
    path = demos.save(tmp_path / "d.npz")
    before = path.read_bytes()
    with pytest.raises(LiquidControlError):
        Demonstrations().save(path)  # empty: refused, old file intact
    assert path.read_bytes() == before


def test_obs_std_floor_bounds_near_constant_channels():
    ep = Episode(np.stack([np.full(50, 2.0), np.linspace(-1, 1, 50)], axis=1).astype(np.float32),
                 np.zeros((50, 2), np.float32), np.full(50, 0.05, np.float32))
    demos = Demonstrations(episodes=[ep])
    mean, std = demos.obs_stats(std_floor=0.05)
    assert std[0] == pytest.approx(0.05) and mean[0] == pytest.approx(2.0)
    assert std[1] == pytest.approx(np.linspace(-1, 1, 50).std(), rel=1e-5)
