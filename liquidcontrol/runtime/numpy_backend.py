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

    {"format_version": 1, "state_dim": S,
     "blocks": [{"type": "cfc", "prefix": "b0.", "state": [0, 7], ...}, ...]}

Each block maps ``x`` [B, n_in] (and its state slice [B, n], if any) to
``y`` [B, n_out] (and a new state slice); the action is the last ``y``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from liquidcontrol.errors import LiquidControlError
from liquidcontrol.runtime.card import PolicyCard
from liquidcontrol.runtime.numpy_cells import BUILDERS, Arrays, Block

PROGRAM_KEY = "__program__"
PROGRAM_VERSION = 1


def load_numpy_step(path: Path, card: PolicyCard) -> tuple[Callable[..., Any], Callable[..., Any] | None]:
    """Two step functions for the bundle's ``weights.npz``:

    - ``(obs [B, obs_dim], state [B, S], dt [B, 1] s) -> (action [B, act_dim], state [B, S])``;
    - a single-sample shortcut ``(obs [obs_dim], state [1, S], dt [1, 1]) ->
      (action [act_dim], state [1, S])`` when the model has one (wired CfC), else None.
    """
    arrays, program = read_program(path)
    _check_width(program, card, path)
    blocks, slices = [], []
    for spec in program.get("blocks", []):
        build = BUILDERS.get(spec.get("type"))
        if build is None:
            raise LiquidControlError(f"{path} uses the unknown block type {spec.get('type')!r}; upgrade liquidcontrol.")
        try:
            blocks.append(build(spec, _prefixed(arrays, spec.get("prefix", ""))))
        except (KeyError, ValueError, IndexError, TypeError) as exc:
            raise LiquidControlError(f"{path} is inconsistent: its {spec.get('type')} block cannot be built ({exc!r}).") from None
        slices.append(tuple(spec["state"]) if spec.get("state") else None)
    if not blocks:
        raise LiquidControlError(f"{path} describes no model blocks; re-export the bundle.")
    single = getattr(blocks[0], "single", None) if len(blocks) == 1 else None
    return _chain(blocks, slices, card.state_dim), single


def read_program(path: Path) -> tuple[Arrays, dict[str, Any]]:
    """The arrays and the parsed program of a ``weights.npz`` (clear errors if corrupt)."""
    if not path.is_file():
        raise LiquidControlError(f"the bundle has no numpy weights at {path}.")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
        program = json.loads(str(arrays.pop(PROGRAM_KEY)))
    except KeyError:
        raise LiquidControlError(f"{path} has no {PROGRAM_KEY} entry; it was not written by liquidcontrol export.") from None
    except Exception as exc:  # zipfile, pickle refusal, bad JSON: all one user problem
        raise LiquidControlError(f"cannot read the numpy weights {path}: the file is corrupt ({type(exc).__name__}).") from None
    if program.get("format_version") != PROGRAM_VERSION:
        raise LiquidControlError(f"{path} has program version {program.get('format_version')}; this runtime reads {PROGRAM_VERSION}.")
    return {k: np.asarray(v, dtype=np.float64) for k, v in arrays.items()}, program


def _prefixed(arrays: Arrays, prefix: str) -> Arrays:
    return {k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)}


def _check_width(program: dict[str, Any], card: PolicyCard, path: Path) -> None:
    for key, want in (("obs_dim", card.obs_dim), ("act_dim", card.act_dim), ("state_dim", card.state_dim)):
        if program.get(key) != want:
            raise LiquidControlError(f"{path} was exported with {key}={program.get(key)} but the card says {want}.")


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
