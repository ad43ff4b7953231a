"""Turn a torch policy into ``weights.npz`` for the numpy runtime.

Everything that is constant between steps is folded here, once, so the
robot-side step (:mod:`liquidcontrol.runtime.numpy_cells`) is a few numpy
calls per layer:

- observation normalisation ``(obs - mean) / std`` folded into the first
  layer's input weights and bias (or, for an LTC, its sensory mu / sigma);
- sparsity masks multiplied into the weights; CfC heads fused in one matrix;
- ``1 / control_period`` and sigmoid's ``0.5`` folded into the time heads;
- positivity (softplus) applied to LTC parameters;
- the affine action map folded into the final linear layer when there is one.

Folding is done and stored in float64: folding the normalisation into the
weights makes large terms that cancel, which float32 would round badly.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import torch

from liquidcontrol.errors import LiquidControlError
from liquidcontrol.runtime.numpy_backend import PROGRAM_KEY, PROGRAM_VERSION

Arrays = dict[str, np.ndarray]


def numpy_program(policy: Any) -> dict[str, np.ndarray]:
    """Arrays for ``np.savez``: float64 weights plus the JSON program under ``__program__``."""
    from liquidcontrol.export import numpy_kinds

    kind = str(getattr(policy, "kind", ""))
    builder = numpy_kinds.EXTRACTORS.get(kind)
    if builder is None:
        raise LiquidControlError(f"no numpy export for model kind {kind!r}; known kinds: {sorted(numpy_kinds.EXTRACTORS)}.")
    program = ProgramBuilder(policy)
    with torch.no_grad():
        builder(policy, program)
        program.finish()
    return program.arrays()


def f64(t: torch.Tensor | np.ndarray | float) -> np.ndarray:
    if isinstance(t, torch.Tensor):
        return t.detach().cpu().double().numpy()
    return np.asarray(t, dtype=np.float64)


class ProgramBuilder:
    """Collects blocks and arrays; knows the policy's input and output maps."""

    def __init__(self, policy: Any) -> None:
        self.policy = policy
        self.period = float(policy.control_period)
        std = f64(policy.obs_std)
        # x_norm = obs * in_scale + in_shift
        self.in_scale, self.in_shift = 1.0 / std, -f64(policy.obs_mean) / std
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
            "act_dim": int(pol.act_dim), "state_dim": int(pol.state_dim), "blocks": self.blocks,
        }
        return {**self._arrays, PROGRAM_KEY: np.array(json.dumps(program))}
