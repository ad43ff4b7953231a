"""Turn a torch policy into ``weights.npz`` for the numpy runtime.

Everything that is constant between steps is folded here, once, so the
robot-side step (:mod:`liquidcontrol.runtime.numpy_cells`) is a few numpy
calls per layer:

- observation normalisation ``(obs - mean) / std`` folded into the first
  layer's input weights and bias (or, for an LTC, its sensory mu / sigma),
  and its +-``NORM_CLIP`` clamp turned into a clip of the raw observation
  to ``[mean - 10 std, mean + 10 std]`` (arrays ``input.lo`` / ``input.hi``);
- sparsity masks multiplied into the weights; CfC heads fused in one matrix;
- ``1 / control_period`` and sigmoid's ``0.5`` folded into the time heads;
- positivity (softplus) applied to LTC parameters;
- the affine action map folded into the final linear layer when there is one.

Folding is done and stored in float64: folding the normalisation into the
weights makes large terms that cancel, which float32 would round badly.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from liquidcontrol.errors import LiquidControlError
from liquidcontrol.export.numpy_builder import Arrays, ProgramBuilder, f64
from liquidcontrol.export.numpy_kinds import EXTRACTORS

__all__ = ["Arrays", "EXTRACTORS", "ProgramBuilder", "f64", "numpy_program"]


def numpy_program(policy: Any) -> dict[str, np.ndarray]:
    """Arrays for ``np.savez``: float64 weights plus the JSON program under ``__program__``."""
    kind = str(getattr(policy, "kind", ""))
    builder = EXTRACTORS.get(kind)
    if builder is None:
        raise LiquidControlError(f"no numpy export for model kind {kind!r}; known kinds: {sorted(EXTRACTORS)}.")
    program = ProgramBuilder(policy)
    with torch.no_grad():
        builder(policy, program)
        program.finish()
    return program.arrays()
