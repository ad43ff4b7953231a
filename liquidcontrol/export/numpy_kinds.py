"""Per model kind: read the torch modules, add folded blocks to the numpy program.

Each extractor mirrors the parameter layout documented in the matching
``policies/`` module; the parity tests (torch vs numpy over a closed loop)
catch any drift between the two.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from torch import nn

from liquidcontrol.errors import LiquidControlError
from liquidcontrol.export.numpy_weights import ProgramBuilder, f64


def find_module(policy: nn.Module, cls: type) -> Any:
    for module in policy.modules():
        if isinstance(module, cls):
            return module
    raise LiquidControlError(f"the {policy.kind} policy has no {cls.__name__} module to export.")


def lstm_gates(w_x: np.ndarray, w_h: np.ndarray, b: np.ndarray, order: str, forget_bias: float
               ) -> tuple[np.ndarray, np.ndarray]:
    """Stack ``[w_x; w_h]`` ([D + H, 4H]) with gate columns reordered from ``order``
    (letters i, f, g, o) to ``ifgo`` and ``forget_bias`` added to the forget bias."""
    n = b.shape[0] // 4
    cols = np.concatenate([np.arange(order.index(g) * n, (order.index(g) + 1) * n) for g in "ifgo"])
    w, bias = np.concatenate([w_x, w_h], axis=0)[:, cols], b[cols].copy()
    bias[n:2 * n] += forget_bias
    return w, bias


def _fold_time_heads(w: np.ndarray, b: np.ndarray, n: int, period: float) -> tuple[np.ndarray, np.ndarray]:
    """sigmoid(ta * dt / period + tb) = 0.5 + 0.5 tanh(0.5 ta / period * dt + 0.5 tb)."""
    w, b = w.copy(), b.copy()
    w[:, 2 * n:3 * n] *= 0.5 / period
    b[2 * n:3 * n] *= 0.5 / period
    w[:, 3 * n:] *= 0.5
    b[3 * n:] *= 0.5
    return w, b


def _memory_arrays(model: Any, prog: ProgramBuilder) -> dict[str, np.ndarray]:
    """The mixed-memory LSTM (gates cand, in, forget, out; forget + 1) as ``ifgo``."""
    mem = model.memory
    w_x, b = prog.fold_input(f64(mem.input_map.weight).T, f64(mem.input_map.bias))
    w, bias = lstm_gates(w_x, f64(mem.recurrent_map.weight).T, b, "gifo", 1.0)
    return {"mem.W": w, "mem.b": bias}


def extract_cfc(policy: nn.Module, prog: ProgramBuilder) -> None:
    """CfC (wired or fully connected, any mode, backbone, mixed memory, projection)."""
    from liquidcontrol.policies.cfc import CfC, LayeredCfC

    model = find_module(policy, CfC)
    core, d = model.core, model.input_size
    spec: dict[str, Any] = {"type": "cfc", "mode": core.mode, "state": [0, int(model.flat_state_size)],
                            "mixed_memory": model.memory is not None}
    arrays: dict[str, Any] = {"neg_inv_period": np.array(-1.0 / prog.period)}
    if isinstance(core, LayeredCfC):
        spec["sizes"] = list(core.sizes)
        heads = list(core.layers)
    else:
        spec["sizes"] = [int(core.state_size)]
        spec["backbone_layers"] = len(core.backbone)
        spec["backbone_activation"] = core.activation_name
        heads = [core.heads]
        for i, lin in enumerate(core.backbone):
            w, b = f64(lin.weight).T, f64(lin.bias)
            if i == 0:
                w = w.copy()
                w[:d], b = prog.fold_input(w[:d], b)
            arrays[f"bb{i}.W"], arrays[f"bb{i}.b"] = w, b
    for i, (layer, n) in enumerate(zip(heads, spec["sizes"])):
        w, b = f64(layer.effective_weight()).T.copy(), f64(layer.bias)
        if i == 0 and isinstance(core, LayeredCfC):
            w[:d], b = prog.fold_input(w[:d], b)
        if core.mode == "pure":
            arrays[f"L{i}.A"], arrays[f"L{i}.w_tau_abs"] = f64(layer.A), np.abs(f64(layer.w_tau))
        else:
            w, b = _fold_time_heads(w, b, n, prog.period)
        arrays[f"L{i}.W"], arrays[f"L{i}.b"] = w, b
    if model.memory is not None:
        arrays.update(_memory_arrays(model, prog))
    prog.add(spec, arrays)
    if model.fc is not None:
        prog.add_linear(f64(model.fc.weight).T, f64(model.fc.bias), last=True)


EXTRACTORS: dict[str, Callable[[nn.Module, ProgramBuilder], None]] = {
    "cfc-ncp": extract_cfc,
    "cfc": extract_cfc,
}
