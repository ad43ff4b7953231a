"""Shared pieces of the perturbation wrappers: seeding, channel selection, layouts, scales.

Every perturbation wrapper owns a ``numpy.random.Generator``. It is seeded
from the perturbation's base seed and, when ``reset(seed=s)`` is called, from
``(base seed, s)``: the noise an episode sees then depends only on the
episode seed, not on which of the N lockstep envs ran it or what ran before,
so sweeps are reproducible and comparable across agents.

**Observation layouts.** An env describes its vector observation channels in
``env.observation_layout``: for a flat ``Box`` observation a list with one
dict per channel; for a ``spaces.Dict`` observation a dict ``{key: list of
channel dicts}`` (image keys map to ``None`` or are left out). A channel dict
holds:

``name``, ``unit``, ``group``
    what the channel is; ``group`` lets a perturbation target one kind of
    sensor (``"pose"``, ``"speed"``, ``"steer"``, ``"range"`` for parking).
``scale``
    the channel's nominal sensor scale, in its unit; noise and drift are
    fractions of it (:func:`channel_scales`).
``fail_value``
    what the sensor reports when a reading is lost: a number (a rangefinder
    without echo reports its maximum range) or ``"hold"`` (the last
    delivered value repeats, as a pose estimate, odometry or an encoder on a
    bus that missed a frame does). Without it a channel is ``"hold"``: zero,
    the usual "dropped sensor" value, is a real reading for most sensors (0 m
    = touching an obstacle, 0 m/s = stopped, 0 rad = wheels straight), so a
    lost reading written as 0 tests how a policy copes with a false reading
    far outside the data, not with a lost one.
``limits``
    optional ``[low, high]``: the sensor's physical output range. A reading
    exactly at a limit is saturated (a rangefinder at its maximum range
    means "no echo"); noise and drift leave saturated readings unchanged.

Images (uint8 H x W x 3 ``Box`` values of a ``Dict``) have no channel list;
vector perturbations skip them and pass them through untouched.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, SupportsFloat

import gymnasium as gym
import numpy as np

from liquidcontrol.errors import LiquidControlError

SeedLike = int | Sequence[int]
HOLD = "hold"


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


def control_period(env: gym.Env, default: float = 0.05) -> float:
    """Seconds per env step (``env.control_period``), ``default`` if absent."""
    return float(getattr(env.unwrapped, "control_period", default))


def seconds_to_steps(seconds: float, period: float) -> int:
    """``seconds`` as a whole number of control periods: nearest (halves round up), at least 1 if > 0."""
    if seconds < 0 or period <= 0:
        raise LiquidControlError(f"expected seconds >= 0 and a period > 0, got {seconds} and {period}.")
    if seconds == 0:
        return 0
    return max(1, int(math.floor(seconds / period + 0.5 + 1e-9)))


def is_vector_space(space: gym.Space) -> bool:
    """A flat (1-D) ``Box``: a vector of sensor channels."""
    return isinstance(space, gym.spaces.Box) and len(space.shape) == 1


def observation_layout(env: gym.Env) -> Any:
    """The base env's ``observation_layout``: a list (flat Box), a dict of lists (Dict) or None."""
    return getattr(env.unwrapped, "observation_layout", None)


def key_layout(env: gym.Env, key: str | None = None) -> list[dict[str, Any]] | None:
    """The channel list of the flat observation (``key=None``) or of one Dict key, or None.

    Raises a clear error when the layout's shape does not match the
    observation (a list for a Dict observation, a wrong channel count).
    """
    layout = observation_layout(env)
    if layout is None:
        return None
    if key is None:
        if not isinstance(layout, list):
            raise LiquidControlError(
                f"a flat observation needs observation_layout as a list of channels, got {type(layout).__name__}.")
        entries: list[dict[str, Any]] | None = layout
        space = env.observation_space
    else:
        if not isinstance(layout, dict):
            raise LiquidControlError(
                f"a Dict observation needs observation_layout as {{key: list of channels}}, got {type(layout).__name__}.")
        entries = layout.get(key)
        if entries is None:
            return None
        assert isinstance(env.observation_space, gym.spaces.Dict)
        space = env.observation_space.spaces[key]
    width = int(space.shape[0]) if space.shape else 0
    if not isinstance(entries, list) or len(entries) != width:
        where = "observation" if key is None else f"observation key {key!r}"
        count = len(entries) if isinstance(entries, list) else type(entries).__name__
        raise LiquidControlError(f"the {where} has {width} channels but its observation_layout lists {count}.")
    return entries


def _nominal_box(env: gym.Env, key: str | None) -> gym.spaces.Box:
    """The base env's Box for ``key`` when it has the same shape (wrappers may widen bounds)."""
    def pick(space: gym.Space) -> gym.Space | None:
        if key is None:
            return space
        return space.spaces.get(key) if isinstance(space, gym.spaces.Dict) else None

    current = pick(env.observation_space)
    assert isinstance(current, gym.spaces.Box)
    base = pick(env.unwrapped.observation_space)
    if isinstance(base, gym.spaces.Box) and base.shape == current.shape:
        return base
    return current


def channel_scales(env: gym.Env, key: str | None = None) -> np.ndarray:
    """Nominal scale of each observation channel, in the channel's own unit.

    Noise and drift are given as fractions of this scale. It is the layout's
    ``scale`` entry when present, otherwise half the width of the channel's
    finite observation bound (e.g. 2 m for a 0-4 m range sensor, 1 for a
    cos/sin), otherwise 1 unit (1 m, 1 m/s, 1 rad). ``key`` picks one vector
    of a Dict observation. Bounds are the base env's, so a wrapper that
    widened them (noise) does not change the scale an outer one sees.
    """
    space = _nominal_box(env, key)
    low = np.asarray(space.low, dtype=np.float64)
    high = np.asarray(space.high, dtype=np.float64)
    width = high - low
    scales = np.where(np.isfinite(width) & (width > 0), width / 2.0, 1.0)
    for i, entry in enumerate(key_layout(env, key) or []):
        if "scale" in entry:
            scales[i] = float(entry["scale"])
    return scales


def fail_values(env: gym.Env, key: str | None = None) -> np.ndarray:
    """Per channel, what a lost reading reports: a number, or NaN for ``"hold"`` (the default)."""
    space = _nominal_box(env, key)
    out = np.full(space.shape[0], np.nan)
    for i, entry in enumerate(key_layout(env, key) or []):
        value = entry.get("fail_value", HOLD)
        if isinstance(value, str) and value == HOLD:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise LiquidControlError(
                f"observation channel {entry.get('name', i)!r}: fail_value must be a finite number or "
                f"'hold', got {value!r}.")
        out[i] = float(value)
    return out


def saturation_limits(env: gym.Env, key: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Per channel, the layout's ``limits`` as (low, high); NaN where a channel has none."""
    space = _nominal_box(env, key)
    low, high = np.full(space.shape[0], np.nan), np.full(space.shape[0], np.nan)
    for i, entry in enumerate(key_layout(env, key) or []):
        if "limits" not in entry:
            continue
        lim = entry["limits"]
        ok = isinstance(lim, (list, tuple)) and len(lim) == 2 and all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in lim)
        if not ok or not lim[0] < lim[1]:
            raise LiquidControlError(
                f"observation channel {entry.get('name', i)!r}: limits must be [low, high] with low < high, "
                f"got {lim!r}.")
        # Compare in the observation's dtype: a float32 reading of 2.0 equals the limit 2.0.
        dtype = space.dtype
        low[i], high[i] = (float(np.asarray(v, dtype=dtype)) for v in lim)
    return low, high


@dataclass(frozen=True)
class ChannelPart:
    """Selected channels of the flat observation (``key=None``) or of one Dict key."""

    key: str | None
    index: np.ndarray
    scales: np.ndarray
    fail: np.ndarray  # NaN = "hold"
    limit_low: np.ndarray  # NaN = no limit
    limit_high: np.ndarray


def _width(space: gym.Space) -> int:
    assert space.shape is not None
    return int(space.shape[0])


def _group_indices(entries: list[dict[str, Any]] | None, groups: Sequence[str] | None, width: int) -> np.ndarray:
    if groups is None:
        return np.arange(width)
    if entries is None:
        return np.zeros(0, dtype=int)
    return np.array([i for i, e in enumerate(entries) if e.get("group") in groups], dtype=int)


def channel_parts(
    env: gym.Env, groups: Sequence[str] | None = None, keys: Sequence[str] | None = None
) -> list[ChannelPart]:
    """The selected vector channels, one :class:`ChannelPart` per observation vector.

    ``groups`` keeps the channels whose layout group is listed (None = all);
    ``keys`` keeps the listed keys of a Dict observation (None = every
    vector key; images are never selected). Unknown groups or keys, keys on
    a flat observation and an empty selection raise clear errors.
    """
    if isinstance(groups, str):
        groups = (groups,)
    if isinstance(keys, str):
        keys = (keys,)
    space = env.observation_space
    if isinstance(space, gym.spaces.Dict):
        vector_keys = [k for k, s in space.spaces.items() if is_vector_space(s)]
        if keys is None:
            chosen = vector_keys
        else:
            missing = [k for k in keys if k not in space.spaces]
            if missing:
                raise LiquidControlError(
                    f"unknown observation key(s) {missing}; this env has keys {', '.join(space.spaces)}.")
            bad = [k for k in keys if k not in vector_keys]
            if bad:
                raise LiquidControlError(
                    f"observation key(s) {bad} are not flat vectors (images?); vector perturbations "
                    f"act on {vector_keys}, use an image perturbation for cameras.")
            chosen = list(keys)
        layouts = {k: key_layout(env, k) for k in chosen}
        slots: list[tuple[str | None, list[dict[str, Any]] | None, int]] = [
            (k, layouts[k], _width(space.spaces[k])) for k in chosen]
    elif is_vector_space(space):
        if keys is not None:
            raise LiquidControlError(
                f"observation keys {list(keys)} need a Dict observation; this env's is {space}.")
        slots = [(None, key_layout(env, None), _width(space))]
    else:
        raise LiquidControlError(
            f"this perturbation needs a flat Box observation or a Dict of them, got {space}; "
            "use an image perturbation for cameras.")
    if groups is not None:
        if all(entries is None for _, entries, _ in slots):
            raise LiquidControlError(
                f"cannot target observation groups {list(groups)}: the env has no observation_layout.")
        known = sorted({str(e.get("group")) for _, entries, _ in slots for e in entries or []})
        unknown = [g for g in groups if g not in known]
        if unknown:
            raise LiquidControlError(
                f"unknown observation group(s) {unknown}; this env has groups {', '.join(known)}.")
    parts = []
    for key, entries, width in slots:
        index = _group_indices(entries, groups, width)
        if index.size == 0:
            continue
        low, high = saturation_limits(env, key)
        parts.append(ChannelPart(key, index, channel_scales(env, key)[index], fail_values(env, key)[index],
                                 low[index], high[index]))
    if not parts:
        raise LiquidControlError("the selection of observation channels is empty.")
    return parts


def select_channels(
    env: gym.Env, groups: Sequence[str] | None = None, keys: Sequence[str] | None = None
) -> np.ndarray | dict[str, np.ndarray]:
    """Indices of the observation channels in ``groups`` (all channels if None).

    A flat Box observation gives an index array; a Dict observation gives
    ``{key: index array}`` for the selected vector keys (``keys``, default
    every vector key; image keys are skipped).
    """
    parts = channel_parts(env, groups, keys)
    if isinstance(env.observation_space, gym.spaces.Dict):
        return {str(p.key): p.index for p in parts}
    return parts[0].index


def widen_space(space: gym.Space, parts: Sequence[ChannelPart]) -> gym.Space:
    """``space`` with the selected channels unbounded (for noise and drift, which do not clip)."""
    def widen(box: gym.spaces.Box, index: np.ndarray) -> gym.spaces.Box:
        low, high = np.array(box.low, copy=True), np.array(box.high, copy=True)
        low[index], high[index] = -np.inf, np.inf
        return gym.spaces.Box(low, high, dtype=box.dtype)  # type: ignore[arg-type]

    if isinstance(space, gym.spaces.Dict):
        by_key = {p.key: p.index for p in parts}
        subs: dict[str, gym.Space] = {}
        for k, sub in space.spaces.items():
            subs[k] = widen(sub, by_key[k]) if k in by_key and isinstance(sub, gym.spaces.Box) else sub
        return gym.spaces.Dict(subs)
    assert isinstance(space, gym.spaces.Box)
    return widen(space, parts[0].index)
