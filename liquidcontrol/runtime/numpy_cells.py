"""Numpy blocks of the runtime's single step (see :mod:`liquidcontrol.runtime.numpy_backend`).

Each builder takes the block's JSON spec and its arrays (prefix stripped) and
returns ``block(x [B, n_in], state slice [B, n] or None, dt [B, 1] s) ->
(y [B, n_out], new slice or None)``. Everything constant was folded by the
exporter (:mod:`liquidcontrol.export.numpy_weights`), so each layer is a few
numpy calls. Matrices are stored ``[n_in, n_out]`` so a step is ``x @ W``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from liquidcontrol.errors import LiquidControlError
from liquidcontrol.runtime.numpy_fast import build_fast_cfc

Block = Callable[[np.ndarray, np.ndarray | None, np.ndarray], tuple[np.ndarray, np.ndarray | None]]
Arrays = dict[str, np.ndarray]
Core = Callable[[np.ndarray, np.ndarray], np.ndarray]


def _affine(spec: dict[str, Any], a: Arrays) -> Block:
    """y = x * scale + shift (elementwise, [n])."""
    scale, shift = a["scale"], a["shift"]
    return lambda x, s, dt: (x * scale + shift, None)


def activation(name: str) -> Callable[[np.ndarray], np.ndarray]:
    """Numpy version of the policies' activations (gelu uses erf through tanh-free math)."""
    table: dict[str, Callable[[np.ndarray], np.ndarray]] = {
        "tanh": np.tanh,
        "relu": lambda v: np.maximum(v, 0.0),
        "lecun_tanh": lambda v: 1.7159 * np.tanh(0.666 * v),
        "silu": lambda v: v / (1.0 + np.exp(-v)),
        "elu": lambda v: np.where(v > 0, v, np.expm1(np.minimum(v, 0.0))),
        "none": lambda v: v,
    }
    if name not in table:
        raise LiquidControlError(f"the numpy runtime has no activation {name!r}; use backend='onnxruntime'.")
    return table[name]


def _linear(spec: dict[str, Any], a: Arrays) -> Block:
    """y = act(x @ W + b); ``W`` [n_in, n_out]."""
    w, b = a["W"], a["b"]
    act = spec.get("activation", "none")
    if act == "none":
        return lambda x, s, dt: (x @ w + b, None)
    f = activation(act)
    return lambda x, s, dt: (f(x @ w + b), None)


def sigmoid(v: np.ndarray) -> np.ndarray:
    # 0.5 + 0.5 tanh(v / 2) is one transcendental call and never overflows.
    return 0.5 + 0.5 * np.tanh(0.5 * v)


def lstm_update(z: np.ndarray, c: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """LSTM gates ``z`` [B, 4n] in order [i, f, g, o] (forget bias folded) -> (h', c')."""
    g = sigmoid(z)
    c2 = g[:, n:2 * n] * c + g[:, :n] * np.tanh(z[:, 2 * n:3 * n])
    return g[:, 3 * n:] * np.tanh(c2), c2


def _cfc(spec: dict[str, Any], a: Arrays) -> Block:
    """A whole CfC (wired layers, or one layer with a backbone; optional mixed memory).

    Layer ``l``: ``L{l}.W`` [in_l + n_l, 4 n_l] heads [ff1 | ff2 | ta | tb]
    (masks applied) with ta = 0.5 time_a / period and tb = 0.5 time_b, so that
    sigmoid(time_a dt / period + time_b) = 0.5 + 0.5 tanh(ta dt + tb).
    State: ``[layer 0 | layer 1 | ... | c]``; output: the last layer's units,
    times ``out_scale`` plus ``out_shift`` if present (the folded action map).
    """
    sizes, mode = [int(n) for n in spec["sizes"]], spec["mode"]
    total = sum(sizes)
    layers = [(a[f"L{i}.W"], a[f"L{i}.b"], _cfc_core(mode, n, a, i)) for i, n in enumerate(sizes)]
    offsets = [sum(sizes[:i]) for i in range(len(sizes))]
    backbone = [(a[f"bb{i}.W"], a[f"bb{i}.b"]) for i in range(int(spec.get("backbone_layers", 0)))]
    bb_act = activation(spec.get("backbone_activation", "lecun_tanh"))
    mem = (a["mem.W"], a["mem.b"]) if spec.get("mixed_memory") else None
    out_map = (a["out_scale"], a["out_shift"]) if "out_scale" in a else None
    fast = None
    if mem is None and not backbone and mode != "pure":
        fast = build_fast_cfc(sizes, mode, a, a["L0.W"].shape[0] - sizes[0])

    def step(x: np.ndarray, s: np.ndarray | None, dt: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        assert s is not None
        if fast is not None and x.shape[0] == 1:
            y1, s1 = fast(x[0], s, dt)
            return y1[None], s1
        h = s[:, :total]
        if mem is not None:
            h, c = lstm_update(np.concatenate((x, h), axis=1) @ mem[0] + mem[1], s[:, total:], total)
        inp, new = x, []
        for (w, b, core), off, n in zip(layers, offsets, sizes):
            z = np.concatenate((inp, h[:, off:off + n]), axis=1)
            for bw, bb in backbone:
                z = bb_act(z @ bw + bb)
            inp = core(z @ w + b, dt)
            new.append(inp)
        if mem is not None:
            new.append(c)
        y = inp if out_map is None else inp * out_map[0] + out_map[1]
        return y, (new[0] if len(new) == 1 else np.concatenate(new, axis=1))

    step.single = fast if out_map is not None else None  # type: ignore[attr-defined]  # read by the loader
    return step


def _cfc_core(mode: str, n: int, a: Arrays, layer: int) -> Core:
    """The closed-form update from fused heads ``z`` and ``dt`` [B, 1] seconds."""
    if mode == "pure":
        # h = A - A exp(-t (|w_tau| + |ff1|)) ff1 with t = dt / period; k = -1 / period.
        amp, w_tau, k = a[f"L{layer}.A"], a[f"L{layer}.w_tau_abs"], float(a["neg_inv_period"])
        return lambda z, dt: amp - amp * np.exp((dt * k) * (w_tau + np.abs(z))) * z
    no_gate = mode == "no_gate"

    def core(z: np.ndarray, dt: np.ndarray) -> np.ndarray:
        u = z[:, 2 * n:3 * n]
        u *= dt
        u += z[:, 3 * n:]
        t = np.tanh(z[:, :3 * n])  # [tanh ff1 | tanh ff2 | tanh u] in one call
        t1, t2, g = t[:, :n], t[:, n:2 * n], t[:, 2 * n:]
        if no_gate:  # h = t1 + sigma t2
            return t1 + 0.5 * (g + 1.0) * t2
        return t1 + 0.5 * (g + 1.0) * (t2 - t1)  # h = t1 (1 - sigma) + sigma t2

    return core


def _ltc(spec: dict[str, Any], a: Arrays) -> Block:
    """LTC with ``ode_unfolds`` fused semi-implicit Euler updates.

    Every sigmoid is written ``0.5 + 0.5 tanh(v k - m)``, the 0.5 factors and
    the constant halves of the synaptic sums are folded into the arrays:
    sensory ``s_k``, ``s_m`` [D, U] (input map and normalisation folded in),
    ``s_w2`` [2, D, U] (0.5 w erev and 0.5 w, masked, positive); the same for
    neuron-to-neuron synapses ``k``, ``m`` [U, U], ``w2`` [2, U, U];
    ``leak`` = gleak vleak + constant halves, ``den`` = gleak + eps + halves,
    ``cm`` = cm unfolds period (so cm / dt_step = cm / dt) [U]; output map
    ``out_w``, ``out_b`` [M] (action map folded in). State ``[v | c]``.
    """
    unfolds, motor, n = int(spec["ode_unfolds"]), int(spec["motor"]), int(spec["units"])
    s_k, s_m, s_w2, k, m, w2 = a["s_k"], a["s_m"], a["s_w2"][None], a["k"], a["m"], a["w2"][None]
    leak_c, den_c, cm, out_w, out_b = a["leak"], a["den"], a["cm"], a["out_w"], a["out_b"]
    mem = (a["mem.W"], a["mem.b"]) if spec.get("mixed_memory") else None

    def step(x: np.ndarray, s: np.ndarray | None, dt: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        assert s is not None
        v = s[:, :n]
        if mem is not None:
            v, c = lstm_update(np.concatenate((x, v), axis=1) @ mem[0] + mem[1], s[:, n:], n)
        sens = (np.tanh(x[:, :, None] * s_k - s_m)[:, None] * s_w2).sum(axis=2)  # [B, 2, U]
        cm_t = cm / dt
        leak, den = leak_c + sens[:, 0], (den_c + cm_t) + sens[:, 1]
        for _ in range(unfolds):
            syn = (np.tanh(v[:, :, None] * k - m)[:, None] * w2).sum(axis=2)  # [B, 2, U]
            v = (cm_t * v + leak + syn[:, 0]) / (den + syn[:, 1])
        y = v[:, :motor] * out_w + out_b
        return y, (v if mem is None else np.concatenate((v, c), axis=1))

    return step


def _lstm(spec: dict[str, Any], a: Arrays) -> Block:
    """LSTM cell: ``W`` [D + H, 4H] gates [i, f, g, o]; state ``[h | c]``; output h."""
    n, w, b = int(spec["hidden"]), a["W"], a["b"]

    def step(x: np.ndarray, s: np.ndarray | None, dt: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        assert s is not None
        h, c = lstm_update(np.concatenate((x, s[:, :n]), axis=1) @ w + b, s[:, n:], n)
        return h, np.concatenate((h, c), axis=1)

    return step


def _gru(spec: dict[str, Any], a: Arrays) -> Block:
    """GRU cell (torch convention): ``Wx`` [D, 3H], ``Wh`` [H, 3H], gates [r, z, n]."""
    n, wx, bx, wh, bh = int(spec["hidden"]), a["Wx"], a["bx"], a["Wh"], a["bh"]

    def step(x: np.ndarray, s: np.ndarray | None, dt: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        assert s is not None
        gx, gh = x @ wx + bx, s @ wh + bh
        rz = sigmoid(gx[:, :2 * n] + gh[:, :2 * n])
        cand = np.tanh(gx[:, 2 * n:] + rz[:, :n] * gh[:, 2 * n:])
        h = cand + rz[:, n:] * (s - cand)  # (1 - z) cand + z h
        return h, h

    return step


def _frame_stack(spec: dict[str, Any], a: Arrays) -> Block:
    """Feed-forward memory: state holds the previous ``k - 1`` frames (oldest
    first, ``width`` each); output ``[previous frames | x]``, state shifted."""
    width = int(spec["width"])

    def step(x: np.ndarray, s: np.ndarray | None, dt: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        assert s is not None
        y = np.concatenate((s, x), axis=1)
        return y, y[:, width:]

    return step


BUILDERS: dict[str, Callable[[dict[str, Any], Arrays], Block]] = {
    "affine": _affine,
    "linear": _linear,
    "cfc": _cfc,
    "ltc": _ltc,
    "lstm": _lstm,
    "gru": _gru,
    "frame_stack": _frame_stack,
}
