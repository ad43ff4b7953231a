"""Demonstrations: episodes of (observation, action label, dt) on disk as ``.npz``.

The file is an open format any numpy user can read (``allow_pickle=False``):

========== ================= ==========================================
key        shape             meaning
========== ================= ==========================================
obs        [N, obs_dim]      observations, all episodes concatenated
act        [N, act_dim]      action labels (the expert's answer)
dt         [N]               seconds since the previous step
lengths    [E]               steps per episode (sum = N)
meta       []                JSON string: env id, layouts, provenance
========== ================= ==========================================
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from liquidcontrol.errors import LiquidControlError
from liquidcontrol.fileio import atomic_path


@dataclass
class Episode:
    """One episode: ``obs`` [T, obs_dim], ``act`` [T, act_dim], ``dt`` [T] seconds."""

    obs: np.ndarray
    act: np.ndarray
    dt: np.ndarray

    def __len__(self) -> int:
        return int(self.obs.shape[0])


@dataclass
class Demonstrations:
    """A growing set of episodes (DAgger aggregates into one of these)."""

    episodes: list[Episode] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.episodes)

    @property
    def num_steps(self) -> int:
        return sum(len(e) for e in self.episodes)

    def add(self, episode: Episode) -> None:
        if len(episode) == 0:
            return
        if not (np.isfinite(episode.obs).all() and np.isfinite(episode.act).all()):
            raise LiquidControlError("an episode contains NaN or infinite values; it was not added.")
        self.episodes.append(episode)

    def extend(self, other: Demonstrations) -> None:
        for ep in other.episodes:
            self.add(ep)

    def obs_stats(self, std_floor: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
        """Per-channel mean and std over all steps (for policy normalisation).

        ``std_floor`` (in each channel's unit) bounds the std from below: a
        sensor that barely varied in the demonstrations (a rangefinder that
        always read its maximum) would otherwise turn a few centimetres of
        noise into an input tens of standard deviations out.
        """
        obs = np.concatenate([e.obs for e in self.episodes])
        return obs.mean(axis=0), np.maximum(obs.std(axis=0), std_floor)

    def save(self, path: str | Path) -> Path:
        if not self.episodes:
            raise LiquidControlError(f"refusing to save an empty demonstration set to {path}.")
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as fh:
                np.savez_compressed(
                    fh,
                    obs=np.concatenate([e.obs for e in self.episodes]).astype(np.float32),
                    act=np.concatenate([e.act for e in self.episodes]).astype(np.float32),
                    dt=np.concatenate([e.dt for e in self.episodes]).astype(np.float32),
                    lengths=np.array([len(e) for e in self.episodes], dtype=np.int64),
                    meta=np.array(json.dumps(self.meta)),
                )
        return Path(path)

    @classmethod
    def load(cls, path: str | Path) -> Demonstrations:
        path = Path(path)
        if not path.is_file():
            raise LiquidControlError(f"demonstration file {path} does not exist.")
        try:
            with np.load(path, allow_pickle=False) as data:
                obs, act, dt, lengths = (data[k] for k in ("obs", "act", "dt", "lengths"))
                meta = json.loads(str(data["meta"])) if "meta" in data else {}
        except (OSError, ValueError, KeyError, zipfile.BadZipFile, json.JSONDecodeError) as exc:
            raise LiquidControlError(f"{path} is not a valid demonstration file ({exc}).") from None
        if lengths.sum() != len(obs) or not (len(obs) == len(act) == len(dt)):
            raise LiquidControlError(f"{path} is inconsistent: episode lengths do not match the arrays.")
        demos = cls(meta=meta)
        bounds = np.concatenate([[0], np.cumsum(lengths)])
        for a, b in zip(bounds[:-1], bounds[1:]):
            demos.add(Episode(obs[a:b], act[a:b], dt[a:b]))
        return demos

    def batches(self, batch_size: int, rng: np.random.Generator) -> Iterator[PaddedBatch]:
        """Shuffled batches of whole episodes, padded to the longest in the batch.

        Episodes of similar length go together (sorted with a random
        tie-break, then batches shuffled) so little compute goes to padding.
        """
        lengths = np.array([len(e) for e in self.episodes])
        order = np.lexsort((rng.random(len(self.episodes)), lengths))
        groups = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
        for g in rng.permutation(len(groups)):
            yield PaddedBatch.from_episodes([self.episodes[i] for i in groups[g]])


@dataclass
class PaddedBatch:
    """Episodes padded to one length: ``obs`` [B, T, D], ``act`` [B, T, A],
    ``dt`` [B, T], ``mask`` [B, T] (1 on real steps, 0 on padding)."""

    obs: np.ndarray
    act: np.ndarray
    dt: np.ndarray
    mask: np.ndarray

    @classmethod
    def from_episodes(cls, episodes: list[Episode]) -> PaddedBatch:
        steps = max(len(e) for e in episodes)
        n = len(episodes)
        obs = np.zeros((n, steps, episodes[0].obs.shape[1]), np.float32)
        act = np.zeros((n, steps, episodes[0].act.shape[1]), np.float32)
        dt = np.zeros((n, steps), np.float32)
        mask = np.zeros((n, steps), np.float32)
        for i, e in enumerate(episodes):
            t = len(e)
            obs[i, :t], act[i, :t], dt[i, :t], mask[i, :t] = e.obs, e.act, e.dt, 1.0
            # Padding repeats the nominal period so the cell never sees dt = 0.
            dt[i, t:] = e.dt[-1] if t else 0.05
        return cls(obs, act, dt, mask)
