"""Pure-numpy single step of every model kind, from ``weights.npz``.

``weights.npz`` (read with ``allow_pickle=False``) holds float64 arrays and
one JSON string ``__program__`` describing a chain of *blocks*; the exporter
(:mod:`liquidcontrol.export.numpy_weights`) has already fused and folded
everything that does not change between steps: sparsity masks multiplied
into weights, the four CfC heads in one matrix, observation normalisation
folded into the first layer, ``1 / control_period`` and the sigmoid-as-tanh
factor folded into the time heads. A step is then a handful of numpy calls
per layer.

Program JSON::

    {"format_version": 2, "state_dim": S, "input_clip": true,
     "blocks": [{"type": "cfc", "prefix": "b0.", "state": [0, 7], ...}, ...]}

Each block maps ``x`` [B, n_in] (and its state slice [B, n], if any) to
``y`` [B, n_out] (and a new state slice); the action is the last ``y``.

Observation clipping: the torch policies clip the *normalised* observation
to +-``NORM_CLIP`` standard deviations. Normalisation is folded into the
first layer here, so the same clip is applied to the *raw* observation:
``clip(obs, input.lo, input.hi)`` with ``lo = mean - 10 std`` and
``hi = mean + 10 std`` per channel (arrays ``input.lo`` / ``input.hi``,
flag ``input_clip``). Version 1 files have no bounds and are run unclipped.

A bundle with several vector inputs (a Dict observation without images)
feeds the program their concatenation, in the card's input order.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from liquidcontrol.errors import LiquidControlError
from liquidcontrol.runtime.card import PolicyCard
from liquidcontrol.runtime.numpy_cells import BUILDERS, Arrays, Block

PROGRAM_KEY = "__program__"
PROGRAM_VERSION = 2
READABLE_PROGRAM_VERSIONS = (1, 2)
CLIP_LO, CLIP_HI = "input.lo", "input.hi"
StepFn = Callable[[np.ndarray, np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


def load_numpy_step(path: Path, card: PolicyCard, data: bytes | None = None) -> tuple[StepFn, StepFn | None]:
    """Two step functions for the bundle's ``weights.npz`` (``data``: its bytes, if already read):

    - ``(obs [B, obs_dim], state [B, S], dt [B, 1] s) -> (action [B, act_dim], state [B, S])``;
    - a single-sample shortcut ``(obs [obs_dim], state [1, S], dt [1, 1]) ->
      (action [act_dim], state [1, S])`` when the model has one (wired CfC), else None.

    Both apply the observation clip when the file has one. A test step on a
    zero observation runs here, so an inconsistent file fails at load time.
    """
    arrays, program = read_program(path, data)
    _check_width(program, card, path)
    specs = program.get("blocks")
    if not isinstance(specs, list) or not specs:
        raise LiquidControlError(f"{path} describes no model blocks; re-export the bundle.")
    blocks: list[Block] = []
    slices: list[tuple[int, int] | None] = []
    for spec in specs:
        kind = spec.get("type") if isinstance(spec, dict) else None
        build = BUILDERS.get(kind) if isinstance(kind, str) else None
        if build is None:
            raise LiquidControlError(f"{path} uses the unknown block type {str(kind)[:40]!r}; upgrade liquidcontrol.")
        prefix = spec.get("prefix", "")
        sl = spec.get("state")
        if not isinstance(prefix, str) or not _valid_slice(sl, card.state_dim):
            raise LiquidControlError(f"{path} is inconsistent: its {kind} block has a bad prefix or state slice.")
        try:
            blocks.append(build(spec, _prefixed(arrays, prefix)))
        except LiquidControlError:
            raise
        except Exception as exc:  # KeyError, ValueError, IndexError, TypeError ... from a damaged file
            raise LiquidControlError(f"{path} is inconsistent: its {kind} block cannot be built ({type(exc).__name__}).") from None
        slices.append((int(sl[0]), int(sl[1])) if sl else None)
    single = getattr(blocks[0], "single", None) if len(blocks) == 1 else None
    chain = _chain(blocks, slices, card.state_dim)
    clip = _input_clip(arrays, program, card, path)
    if clip is not None:
        chain, single = _clipped(chain, single, *clip)
    _smoke_test(chain, single, card, path)
    return chain, single


def read_program(path: Path, data: bytes | None = None) -> tuple[Arrays, dict[str, Any]]:
    """The arrays and the parsed program of a ``weights.npz`` (clear errors if corrupt)."""
    if data is None:
        if not path.is_file():
            raise LiquidControlError(f"the bundle has no numpy weights at {path}.")
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise LiquidControlError(f"cannot read the numpy weights {path} ({exc.strerror}).") from None
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
        text = arrays.pop(PROGRAM_KEY)
        if text.dtype.kind != "U" or text.shape != ():
            raise TypeError("the program is not a string")
        program = json.loads(str(text))
    except KeyError:
        raise LiquidControlError(f"{path} has no {PROGRAM_KEY} entry; it was not written by liquidcontrol export.") from None
    except Exception as exc:  # zipfile, pickle refusal, bad JSON: all one user problem
        raise LiquidControlError(f"cannot read the numpy weights {path}: the file is corrupt ({type(exc).__name__}).") from None
    if not isinstance(program, dict):
        raise LiquidControlError(f"cannot read the numpy weights {path}: its program is not a JSON object.")
    if program.get("format_version") not in READABLE_PROGRAM_VERSIONS:
        raise LiquidControlError(
            f"{path} has program version {str(program.get('format_version'))[:20]}; this runtime reads "
            f"{' and '.join(map(str, READABLE_PROGRAM_VERSIONS))}.")
    out: Arrays = {}
    for key, value in arrays.items():
        if value.dtype.kind not in "fiub":
            raise LiquidControlError(f"cannot read the numpy weights {path}: array {key[:40]!r} is not numeric.")
        arr = np.asarray(value, dtype=np.float64)
        if not np.isfinite(arr).all():
            raise LiquidControlError(f"the numpy weights {path} hold NaN or infinite values in {key[:40]!r}; the file is corrupt.")
        out[key] = arr
    return out, program


def _valid_slice(sl: Any, state_dim: int) -> bool:
    if sl is None:
        return True
    return (isinstance(sl, list) and len(sl) == 2 and all(isinstance(v, int) and not isinstance(v, bool) for v in sl)
            and 0 <= sl[0] < sl[1] <= state_dim)


def _input_clip(arrays: Arrays, program: dict[str, Any], card: PolicyCard, path: Path
                ) -> tuple[np.ndarray, np.ndarray] | None:
    """``(lo, hi)`` [obs_dim] of the raw-observation clip, or None (version 1 files)."""
    flag = program.get("input_clip", False)
    if flag is False and CLIP_LO not in arrays:
        return None
    lo, hi = arrays.get(CLIP_LO), arrays.get(CLIP_HI)
    shape = (card.obs_dim,)
    if flag is not True or lo is None or hi is None or lo.shape != shape or hi.shape != shape or (lo > hi).any():
        raise LiquidControlError(f"{path} is inconsistent: its observation clip bounds are missing or malformed.")
    return lo, hi


def _clipped(chain: StepFn, single: StepFn | None, lo: np.ndarray, hi: np.ndarray) -> tuple[StepFn, StepFn | None]:
    """Wrap both step functions so the raw observation is first clipped to [lo, hi]."""
    maximum, minimum = np.maximum, np.minimum

    def batch(obs: np.ndarray, state: np.ndarray, dt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return chain(minimum(maximum(obs, lo), hi), state, dt)

    if single is None:
        return batch, None
    run1 = single

    def one(x: np.ndarray, state: np.ndarray, dt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        # Two calls without ``out=``: the fastest form for [obs_dim] float32 against float64 bounds.
        return run1(minimum(maximum(x, lo), hi), state, dt)

    return batch, one


def _smoke_test(chain: StepFn, single: StepFn | None, card: PolicyCard, path: Path) -> None:
    """One step on zeros (batch 2, and the single-sample path): right shapes, finite numbers."""
    period = card.control_period_s
    trials: list[tuple[StepFn, np.ndarray, int, tuple[int, ...]]] = [
        (chain, np.zeros((2, card.obs_dim), np.float32), 2, (2, card.act_dim))]
    if single is not None:
        trials.append((single, np.zeros(card.obs_dim, np.float32), 1, (card.act_dim,)))
    for fn, obs, batch, action_shape in trials:
        try:
            with np.errstate(all="ignore"):
                action, state = fn(obs, np.zeros((batch, card.state_dim), np.float32), np.full((batch, 1), period))
            ok = (np.shape(action) == action_shape and np.shape(state) == (batch, card.state_dim)
                  and bool(np.isfinite(action).all()) and bool(np.isfinite(state).all()))
        except Exception:
            ok = False
        if not ok:
            raise LiquidControlError(
                f"{path} is inconsistent: a test step on a zero observation fails or gives the wrong shapes; re-export the bundle.")


def _prefixed(arrays: Arrays, prefix: str) -> Arrays:
    return {k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)}


def _check_width(program: dict[str, Any], card: PolicyCard, path: Path) -> None:
    for key, want in (("obs_dim", card.obs_dim), ("act_dim", card.act_dim), ("state_dim", card.state_dim)):
        if program.get(key) != want:
            raise LiquidControlError(f"{path} was exported with {key}={str(program.get(key))[:20]} but the card says {want}.")


def _chain(blocks: list[Block], slices: list[tuple[int, int] | None], state_dim: int) -> Callable[..., Any]:
    """Compose blocks; the state is cut into the blocks' slices and glued back in order."""
    if slices[0] == (0, state_dim) and all(sl is None for sl in slices[1:]):
        # The common case: one recurrent block owns the whole state, stateless maps follow.
        first, rest = blocks[0], blocks[1:]

        def simple(obs: np.ndarray, state: np.ndarray, dt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            y, new_state = first(obs, state, dt)
            for block in rest:
                y = block(y, None, dt)[0]
            return y, new_state  # type: ignore[return-value]

        return simple
    order = sorted((s[0], i) for i, s in enumerate(slices) if s is not None)

    def step(obs: np.ndarray, state: np.ndarray, dt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        x = obs
        new: list[np.ndarray | None] = [None] * len(blocks)
        for i, (block, sl) in enumerate(zip(blocks, slices)):
            x, new[i] = block(x, None if sl is None else state[:, sl[0]:sl[1]], dt)
        if not order:  # stateless model: its (dummy) state passes through unchanged
            return x, state
        return x, np.concatenate([new[i] for _, i in order], axis=1)

    return step
