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
from liquidcontrol.export.numpy_builder import ProgramBuilder, f64


def find_module(policy: Any, cls: type) -> Any:
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


def extract_cfc(policy: Any, prog: ProgramBuilder) -> None:
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
    if model.fc is None:
        arrays.update(prog.absorb_output())
    prog.add(spec, arrays)
    if model.fc is not None:
        prog.add_linear(f64(model.fc.weight).T, f64(model.fc.bias), last=True)


def _softplus(v: np.ndarray) -> np.ndarray:
    return np.logaddexp(0.0, v)


def extract_ltc(policy: Any, prog: ProgramBuilder) -> None:
    """LTC (wired or fully connected, optional mixed memory); see the runtime's ``_ltc``."""
    from liquidcontrol.policies.ltc import LTC

    model = find_module(policy, LTC)
    cell = model.cell
    p = {name: f64(t) for name, t in cell.named_parameters()}
    p.update({name: f64(t) for name, t in cell.named_buffers()})
    w = _softplus(p["w"]) * p["sparsity_mask"]
    sw = _softplus(p["sensory_w"]) * p["sensory_sparsity_mask"]
    # Raw obs -> normalised -> input map, as one affine map per input: x' = obs * ia + ib.
    ia, ib = prog.in_scale * p["input_w"], prog.in_shift * p["input_w"] + p["input_b"]
    s_sig = p["sensory_sigma"]
    arrays: dict[str, Any] = {
        "s_k": 0.5 * s_sig * ia[:, None], "s_m": 0.5 * s_sig * (p["sensory_mu"] - ib[:, None]),
        "s_w2": 0.5 * np.stack([sw * p["sensory_erev"], sw]),
        "k": 0.5 * p["sigma"], "m": 0.5 * p["sigma"] * p["mu"],
        "w2": 0.5 * np.stack([w * p["erev"], w]),
        "cm": _softplus(p["cm"]) * cell.ode_unfolds * prog.period,
    }
    gleak = _softplus(p["gleak"])
    arrays["leak"] = gleak * p["vleak"] + 0.5 * (w * p["erev"]).sum(0) + 0.5 * (sw * p["sensory_erev"]).sum(0)
    arrays["den"] = gleak + cell.epsilon + 0.5 * w.sum(0) + 0.5 * sw.sum(0)
    arrays["out_w"], arrays["out_b"] = prog.fold_output(p["output_w"][None, :], p["output_b"])
    arrays["out_w"] = arrays["out_w"][0]
    if model.memory is not None:
        arrays.update(_memory_arrays(model, prog))
    spec = {"type": "ltc", "ode_unfolds": cell.ode_unfolds, "motor": cell.motor_size, "units": cell.units,
            "state": [0, int(model.flat_state_size)], "mixed_memory": model.memory is not None}
    prog.add(spec, arrays)


def extract_lstm(policy: Any, prog: ProgramBuilder) -> None:
    """LSTMPolicy: ``nn.LSTM`` (gates i, f, g, o) then a linear head; state ``[h | c]``."""
    rnn = policy.rnn
    w_x, b = prog.fold_input(f64(rnn.weight_ih_l0).T, f64(rnn.bias_ih_l0) + f64(rnn.bias_hh_l0))
    w, bias = lstm_gates(w_x, f64(rnn.weight_hh_l0).T, b, "ifgo", 0.0)
    prog.add({"type": "lstm", "hidden": policy.hidden, "state": [0, 2 * policy.hidden]}, {"W": w, "b": bias})
    prog.add_linear(f64(policy.head.weight).T, f64(policy.head.bias), last=True)


def extract_gru(policy: Any, prog: ProgramBuilder) -> None:
    """GRUPolicy: ``nn.GRU`` (gates r, z, n) then a linear head; state ``h``."""
    rnn = policy.rnn
    w_x, b_x = prog.fold_input(f64(rnn.weight_ih_l0).T, f64(rnn.bias_ih_l0))
    arrays = {"Wx": w_x, "bx": b_x, "Wh": f64(rnn.weight_hh_l0).T, "bh": f64(rnn.bias_hh_l0)}
    prog.add({"type": "gru", "hidden": policy.hidden, "state": [0, policy.hidden]}, arrays)
    prog.add_linear(f64(policy.head.weight).T, f64(policy.head.bias), last=True)


def extract_mlp(policy: Any, prog: ProgramBuilder) -> None:
    """MLPPolicy: optional frame stack (of *normalised* frames, so normalisation
    stays a separate block then), Linear + activation layers, linear head."""
    linears = [m for m in policy.mlp if isinstance(m, nn.Linear)]
    stacked = policy.frame_stack > 1
    if stacked:
        prog.add({"type": "affine"}, {"scale": prog.in_scale, "shift": prog.in_shift})
        prog.add({"type": "frame_stack", "width": policy.obs_dim, "state": [0, policy.state_dim]}, {})
    for i, lin in enumerate(linears):
        w, b = f64(lin.weight).T, f64(lin.bias)
        if i == 0 and not stacked:
            w, b = prog.fold_input(w, b)
        last = i == len(linears) - 1
        prog.add_linear(w, b, "none" if last else policy.activation, last=last)


EXTRACTORS: dict[str, Callable[[Any, ProgramBuilder], None]] = {
    "cfc-ncp": extract_cfc,
    "cfc": extract_cfc,
    "ltc-ncp": extract_ltc,
    "ltc": extract_ltc,
    "lstm": extract_lstm,
    "gru": extract_gru,
    "mlp": extract_mlp,
}
