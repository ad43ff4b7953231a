"""Batched observations of any structure: a flat ``Box`` or a ``Dict`` of vectors and images.

A *batch* is either an array ``[N, D]`` (flat observations, float32) or a
dict ``{key: array [N, ...]}`` with vectors as float32 and images kept as
uint8 ``[N, H, W, 3]``. These helpers let the rollout loop, the data set and
the agents treat both alike.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from liquidcontrol.errors import LiquidControlError

Batch = np.ndarray | dict[str, np.ndarray]


def is_image_space(space: gym.Space) -> bool:
    """A uint8 H x W x 3 ``Box`` (a camera)."""
    return (isinstance(space, gym.spaces.Box) and space.dtype == np.uint8 and len(space.shape) == 3
            and space.shape[-1] == 3)


def _item_dtype(space: gym.Space) -> np.dtype:
    return np.dtype(np.uint8) if is_image_space(space) else np.dtype(np.float32)


def check_space(space: gym.Space) -> None:
    """Accept a flat Box, or a Dict whose values are flat Boxes or uint8 images."""
    if isinstance(space, gym.spaces.Box) and len(space.shape) == 1:
        return
    if isinstance(space, gym.spaces.Dict):
        for key, sub in space.spaces.items():
            flat = isinstance(sub, gym.spaces.Box) and len(sub.shape) == 1
            if not (flat or is_image_space(sub)):
                raise LiquidControlError(
                    f"observation key {key!r} has space {sub}; expected a flat Box or a uint8 HxWx3 image.")
        return
    raise LiquidControlError(f"observation space {space} is not supported; expected a flat Box or a Dict of them.")


def empty_batch(space: gym.Space, n: int) -> Batch:
    """Zeros for ``n`` observations of ``space``."""
    check_space(space)
    if isinstance(space, gym.spaces.Dict):
        return {k: np.zeros((n, *(s.shape or ())), _item_dtype(s)) for k, s in space.spaces.items()}
    assert space.shape is not None
    return np.zeros((n, int(np.prod(space.shape))), np.float32)


def put(batch: Batch, i: int, obs: Any) -> None:
    """Write one observation into row ``i``."""
    if isinstance(batch, dict):
        if not isinstance(obs, dict) or set(obs) != set(batch):
            raise LiquidControlError(f"expected an observation dict with keys {sorted(batch)}, got {type(obs).__name__}.")
        for k, arr in batch.items():
            arr[i] = np.asarray(obs[k]).reshape(arr.shape[1:])
    else:
        batch[i] = np.asarray(obs, dtype=np.float32).reshape(-1)


def copy(batch: Batch) -> Batch:
    return {k: v.copy() for k, v in batch.items()} if isinstance(batch, dict) else batch.copy()


def row(batch: Batch, i: int) -> Batch:
    """A copy of row ``i`` (one observation, no batch axis)."""
    return {k: v[i].copy() for k, v in batch.items()} if isinstance(batch, dict) else batch[i].copy()


def finite(obs: Any) -> bool:
    """True when every float entry is finite (uint8 images always are)."""
    if isinstance(obs, dict):
        return all(finite(v) for v in obs.values())
    arr = np.asarray(obs)
    return bool(arr.dtype == np.uint8 or np.isfinite(arr).all())


def stack(items: list[Any]) -> Batch:
    """Stack single observations (arrays or dicts) along a new first axis."""
    if items and isinstance(items[0], dict):
        return {k: np.stack([np.asarray(o[k]) for o in items]) for k in items[0]}
    return np.asarray(items, dtype=np.float32)


def concat(batches: list[Batch]) -> Batch:
    """Concatenate batches along the first axis."""
    if batches and isinstance(batches[0], dict):
        return {k: np.concatenate([b[k] for b in batches]) for k in batches[0]}  # type: ignore[index]
    return np.concatenate(batches)  # type: ignore[arg-type]


def length(batch: Batch) -> int:
    if isinstance(batch, dict):
        return int(next(iter(batch.values())).shape[0]) if batch else 0
    return int(batch.shape[0])


def take(batch: Batch, start: int, stop: int) -> Batch:
    """Rows ``start:stop`` (views)."""
    return {k: v[start:stop] for k, v in batch.items()} if isinstance(batch, dict) else batch[start:stop]
