"""The numpy program under construction: blocks, float64 arrays, the input and output maps.

Shared by :mod:`liquidcontrol.export.numpy_kinds` (the per-kind extractors)
and :mod:`liquidcontrol.export.numpy_weights` (the entry point); it imports
neither, so the two do not import each other.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import torch

from liquidcontrol.errors import LiquidControlError
from liquidcontrol.policies.base import NORM_CLIP
from liquidcontrol.runtime.numpy_backend import CLIP_HI, CLIP_LO, PROGRAM_KEY, PROGRAM_VERSION

Arrays = dict[str, np.ndarray]


def f64(t: torch.Tensor | np.ndarray | float) -> np.ndarray:
    if isinstance(t, torch.Tensor):
        return t.detach().cpu().double().numpy()
    return np.asarray(t, dtype=np.float64)


def numpy_exportable(policy: Any) -> bool:
    """True when the numpy runtime can run ``policy``: vector inputs only (no images)."""
    spec = policy.input_spec() if hasattr(policy, "input_spec") else []
    return all(s.get("dtype") == "float32" for s in spec)


def input_stats(policy: Any) -> tuple[np.ndarray, np.ndarray]:
    """``(mean, std)`` [obs_dim] of the raw observation the program takes.

    A flat policy: its ``obs_mean`` / ``obs_std``. A Dict-observation policy
    with vector keys only: the per-key normalisers concatenated in key order,
    which is the order the runtime concatenates the inputs in.
    """
    encoder = getattr(policy, "encoder", None)
    if encoder is None:
        return f64(policy.obs_mean), f64(policy.obs_std)
    parts = [encoder.encoders[s["key"]] for s in encoder.spec]
    if not numpy_exportable(policy) or not all(hasattr(p, "mean") and hasattr(p, "std") for p in parts):
        raise LiquidControlError(
            "the numpy runtime runs vector observations only and this policy takes images; use onnxruntime.")
    return np.concatenate([f64(p.mean) for p in parts]), np.concatenate([f64(p.std) for p in parts])


class ProgramBuilder:
    """Collects blocks and arrays; knows the policy's input and output maps."""

    def __init__(self, policy: Any) -> None:
        self.policy = policy
        self.period = float(policy.control_period)
        mean, std = input_stats(policy)
        # x_norm = obs * in_scale + in_shift
        self.in_scale, self.in_shift = 1.0 / std, -mean / std
        # clamp(x_norm, -NORM_CLIP, NORM_CLIP) == x_norm of clip(obs, lo, hi): applied to the raw obs.
        self.clip_lo, self.clip_hi = mean - NORM_CLIP * std, mean + NORM_CLIP * std
        self.out_scale, self.out_bias = f64(policy.action_scale), f64(policy.action_bias)
        self.blocks: list[dict[str, Any]] = []
        self._arrays: dict[str, np.ndarray] = {}
        self._output_folded = False

    def fold_input(self, w_x: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Input rows ``w_x`` [D, out] and bias [out] of a layer seeing the normalised obs,
        rewritten to take the raw obs."""
        return w_x * self.in_scale[:, None], b + self.in_shift @ w_x

    def fold_output(self, w: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The last linear layer ``y = x @ w + b`` absorbs the action map."""
        self._output_folded = True
        return w * self.out_scale[None, :], b * self.out_scale + self.out_bias

    def absorb_output(self) -> dict[str, np.ndarray]:
        """The action map as arrays for a block that applies it itself."""
        self._output_folded = True
        return {"out_scale": self.out_scale, "out_shift": self.out_bias}

    def add(self, spec: dict[str, Any], arrays: dict[str, Any]) -> None:
        prefix = f"b{len(self.blocks)}."
        spec = {**spec, "prefix": prefix}
        self.blocks.append(spec)
        for key, value in arrays.items():
            self._arrays[prefix + key] = np.array(f64(value), dtype=np.float64, order="C")

    def add_linear(self, w: np.ndarray, b: np.ndarray, activation: str = "none", last: bool = False) -> None:
        """A dense layer; ``w`` [n_in, n_out]. ``last=True`` folds the action map in."""
        if last:
            w, b = self.fold_output(w, b)
        self.add({"type": "linear", "activation": activation}, {"W": w, "b": b})

    def finish(self) -> None:
        if not self._output_folded:
            self.add({"type": "affine"}, {"scale": self.out_scale, "shift": self.out_bias})

    def arrays(self) -> dict[str, np.ndarray]:
        pol = self.policy
        program = {
            "format_version": PROGRAM_VERSION, "kind": pol.kind, "obs_dim": int(pol.obs_dim),
            "act_dim": int(pol.act_dim), "state_dim": int(pol.state_dim), "input_clip": True,
            "blocks": self.blocks,
        }
        clip = {CLIP_LO: np.array(self.clip_lo, dtype=np.float64), CLIP_HI: np.array(self.clip_hi, dtype=np.float64)}
        return {**self._arrays, **clip, PROGRAM_KEY: np.array(json.dumps(program, allow_nan=False))}
