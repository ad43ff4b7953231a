"""Shared pieces of the perturbation wrappers: seeding, channel selection, scales.

Every perturbation wrapper owns a ``numpy.random.Generator``. It is seeded
from the perturbation's base seed and, when ``reset(seed=s)`` is called, from
``(base seed, s)``: the noise an episode sees then depends only on the
episode seed, not on which of the N lockstep envs ran it or what ran before,
so sweeps are reproducible and comparable across agents.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, SupportsFloat

import gymnasium as gym
import numpy as np

from liquidcontrol.errors import LiquidControlError

SeedLike = int | Sequence[int]


def seed_words(seed: SeedLike) -> list[int]:
    """Turn an int or a sequence of ints into the list SeedSequence accepts."""
    words = [int(seed)] if isinstance(seed, (int, np.integer)) else [int(s) for s in seed]
    if any(w < 0 for w in words):
        raise LiquidControlError(f"seeds must be non-negative integers, got {words}.")
    return words


class PerturbationWrapper(gym.Wrapper):
    """Base wrapper: a seeded generator, re-seeded per episode seed.

    Subclasses implement :meth:`on_reset` and :meth:`on_step`, which receive
    what the inner env returned and give back what the agent should see.
    """

    def __init__(self, env: gym.Env, seed: SeedLike = 0) -> None:
        super().__init__(env)
        self.base_seed = seed_words(seed)
        self.rng = np.random.default_rng(self.base_seed)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict]:
        if seed is not None:
            self.rng = np.random.default_rng([*self.base_seed, int(seed)])
        obs, info = self.env.reset(seed=seed, options=options)
        return self.on_reset(obs), info

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        return self.on_step(obs), reward, terminated, truncated, info

    def on_reset(self, obs: Any) -> Any:
        return obs

    def on_step(self, obs: Any) -> Any:
        return obs


def observation_layout(env: gym.Env) -> list[dict[str, Any]] | None:
    """The base env's ``observation_layout`` (list of {name, unit, group}) or None."""
    return getattr(env.unwrapped, "observation_layout", None)


def control_period(env: gym.Env, default: float = 0.05) -> float:
    """Seconds per env step (``env.control_period``), ``default`` if absent."""
    return float(getattr(env.unwrapped, "control_period", default))


def select_channels(env: gym.Env, groups: Sequence[str] | None) -> np.ndarray:
    """Indices of the observation channels in ``groups`` (all channels if None)."""
    space = env.observation_space
    if not isinstance(space, gym.spaces.Box) or len(space.shape) != 1:
        raise LiquidControlError(
            f"this perturbation needs a flat Box observation, got {space}; use an image perturbation for cameras."
        )
    if groups is None:
        return np.arange(space.shape[0])
    layout = observation_layout(env)
    if layout is None:
        raise LiquidControlError(
            f"cannot target observation groups {list(groups)}: the env has no observation_layout."
        )
    known = sorted({str(entry.get("group")) for entry in layout})
    unknown = [g for g in groups if g not in known]
    if unknown:
        raise LiquidControlError(
            f"unknown observation group(s) {unknown}; this env has groups {', '.join(known)}."
        )
    return np.array([i for i, entry in enumerate(layout) if entry.get("group") in groups], dtype=int)


def channel_scales(env: gym.Env) -> np.ndarray:
    """Nominal scale of each observation channel, in the channel's own unit.

    Noise and drift are given as fractions of this scale. It is the layout's
    ``scale`` entry when present, otherwise half the width of the channel's
    finite observation bound (e.g. 2 m for a 0-4 m range sensor, 1 for a
    cos/sin), otherwise 1 unit (1 m, 1 m/s, 1 rad).
    """
    space = env.observation_space
    assert isinstance(space, gym.spaces.Box), f"channel scales need a Box observation, got {space}"
    low = np.asarray(space.low, dtype=np.float64)
    high = np.asarray(space.high, dtype=np.float64)
    width = high - low
    scales = np.where(np.isfinite(width) & (width > 0), width / 2.0, 1.0)
    for i, entry in enumerate(observation_layout(env) or []):
        if "scale" in entry and i < scales.size:
            scales[i] = float(entry["scale"])
    return scales


def clip_to_space(values: np.ndarray, space: gym.spaces.Box, index: np.ndarray) -> np.ndarray:
    """Clip selected channels to their finite bounds: a range sensor never reads below 0."""
    low = np.asarray(space.low, dtype=np.float64)[index]
    high = np.asarray(space.high, dtype=np.float64)[index]
    return np.clip(values, low, high)
