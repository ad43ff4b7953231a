"""Demonstrations: episodes of (observation, action label, dt) on disk as ``.npz``.

The file is an open format any numpy user can read (``allow_pickle=False``):

============== ================= ==========================================
key            shape             meaning
============== ================= ==========================================
obs            [N, obs_dim]      flat observations, all episodes concatenated
obs.<key>      [N, ...]          Dict observations: one array per key
                                 (vectors float32, images uint8 [N, H, W, 3])
act            [N, act_dim]      action labels (the expert's answer)
dt             [N]               seconds since the previous step
lengths        [E]               steps per episode (sum = N)
meta           []                JSON string: env id, task, provenance
============== ================= ==========================================

Training reads batches of whole episodes, in TBPTT chunks: a chunk's arrays
([B, chunk, ...], padded where an episode already ended) are built only when
the chunk is trained on, so camera episodes are never padded to the longest
episode in memory.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from liquidcontrol import obs as obslib
from liquidcontrol.errors import LiquidControlError
from liquidcontrol.fileio import atomic_path

ObsStats = tuple[np.ndarray, np.ndarray] | dict[str, tuple[np.ndarray, np.ndarray]]


@dataclass
class Episode:
    """One episode: ``obs`` [T, obs_dim] (or a dict of [T, ...] arrays),
    ``act`` [T, act_dim], ``dt`` [T] seconds."""

    obs: obslib.Batch
    act: np.ndarray
    dt: np.ndarray

    def __len__(self) -> int:
        return int(self.act.shape[0])


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
        if obslib.length(episode.obs) != len(episode) or len(episode.dt) != len(episode):
            raise LiquidControlError("an episode's observations, actions and dt differ in length; it was not added.")
        if not (obslib.finite(episode.obs) and np.isfinite(episode.act).all()):
            raise LiquidControlError("an episode contains NaN or infinite values; it was not added.")
        self.episodes.append(episode)

    def extend(self, other: Demonstrations) -> None:
        for ep in other.episodes:
            self.add(ep)

    def obs_stats(self, std_floor: float = 0.0) -> ObsStats:
        """Per-channel mean and std over all steps (for policy normalisation):
        ``(mean, std)`` for flat observations, ``{key: (mean, std)}`` for the
        vector keys of Dict observations (images are not normalised here).

        ``std_floor`` (in each channel's unit) bounds the std from below: a
        sensor that barely varied in the demonstrations (a rangefinder that
        always read its maximum) would otherwise turn a few centimetres of
        noise into an input tens of standard deviations out.
        """
        obs = obslib.concat([e.obs for e in self.episodes])
        if isinstance(obs, dict):
            return {k: (v.mean(axis=0), np.maximum(v.std(axis=0), std_floor))
                    for k, v in obs.items() if v.dtype != np.uint8}
        return obs.mean(axis=0), np.maximum(obs.std(axis=0), std_floor)

    def save(self, path: str | Path) -> Path:
        if not self.episodes:
            raise LiquidControlError(f"refusing to save an empty demonstration set to {path}.")
        obs = obslib.concat([e.obs for e in self.episodes])
        arrays = ({f"obs.{k}": v for k, v in obs.items()} if isinstance(obs, dict)
                  else {"obs": obs.astype(np.float32)})
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as fh:
                np.savez_compressed(
                    fh, **arrays,
                    act=np.concatenate([e.act for e in self.episodes]).astype(np.float32),
                    dt=np.concatenate([e.dt for e in self.episodes]).astype(np.float32),
                    lengths=np.array([len(e) for e in self.episodes], dtype=np.int64),
                    meta=np.array(json.dumps(self.meta, allow_nan=False)),
                )
        return Path(path)

    @classmethod
    def load(cls, path: str | Path) -> Demonstrations:
        path = Path(path)
        if not path.is_file():
            raise LiquidControlError(f"demonstration file {path} does not exist.")
        try:
            with np.load(path, allow_pickle=False) as data:
                act, dt, lengths = (data[k] for k in ("act", "dt", "lengths"))
                keys = [k for k in data.files if k.startswith("obs.")]
                obs: obslib.Batch = {k[4:]: data[k] for k in keys} if keys else data["obs"]
                meta = json.loads(str(data["meta"])) if "meta" in data else {}
        except (OSError, ValueError, KeyError, zipfile.BadZipFile, json.JSONDecodeError) as exc:
            raise LiquidControlError(f"{path} is not a valid demonstration file ({exc}).") from None
        n = obslib.length(obs)
        if lengths.sum() != n or not (n == len(act) == len(dt)) or (
                isinstance(obs, dict) and len({len(v) for v in obs.values()}) > 1):
            raise LiquidControlError(f"{path} is inconsistent: episode lengths do not match the arrays.")
        demos = cls(meta=meta)
        bounds = np.concatenate([[0], np.cumsum(lengths)])
        for a, b in zip(bounds[:-1], bounds[1:]):
            demos.add(Episode(obslib.take(obs, int(a), int(b)), act[a:b], dt[a:b]))
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
    """Episodes trained together; :meth:`chunk` builds the padded arrays of
    steps ``[start, stop)``: ``obs`` [B, T, ...] (or a dict of them), ``act``
    [B, T, A], ``dt`` [B, T], ``mask`` [B, T] (1 on real steps, 0 on padding)."""

    episodes: list[Episode]

    @classmethod
    def from_episodes(cls, episodes: list[Episode]) -> PaddedBatch:
        return cls(list(episodes))

    @property
    def steps(self) -> int:
        return max(len(e) for e in self.episodes)

    def chunk(self, start: int, stop: int) -> tuple[obslib.Batch, np.ndarray, np.ndarray, np.ndarray]:
        stop = min(stop, self.steps)
        t, n = stop - start, len(self.episodes)
        first = self.episodes[0]
        act = np.zeros((n, t, first.act.shape[1]), np.float32)
        dt = np.zeros((n, t), np.float32)
        mask = np.zeros((n, t), np.float32)
        if isinstance(first.obs, dict):
            obs: obslib.Batch = {k: np.zeros((n, t, *v.shape[1:]), v.dtype) for k, v in first.obs.items()}
        else:
            obs = np.zeros((n, t, first.obs.shape[1]), np.float32)
        for i, e in enumerate(self.episodes):
            a, b = min(start, len(e)), min(stop, len(e))
            k = b - a
            if isinstance(obs, dict):
                for key, arr in obs.items():
                    arr[i, :k] = e.obs[key][a:b]  # type: ignore[index]
            else:
                obs[i, :k] = e.obs[a:b]  # type: ignore[index]
            act[i, :k], dt[i, :k], mask[i, :k] = e.act[a:b], e.dt[a:b], 1.0
            # Padding repeats the nominal period so the cell never sees dt = 0.
            dt[i, k:] = e.dt[-1] if len(e) else 0.05
        return obs, act, dt, mask
