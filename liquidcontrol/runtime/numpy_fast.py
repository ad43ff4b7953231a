"""Batch-1 fast path of the wired / layered CfC for the numpy runtime.

A robot steps one observation at a time, and at these sizes (tens of
neurons) a numpy call costs more than its arithmetic, so this path is about
*counting calls*. Per step it does, with no temporary arrays:

- only when ``dt`` changed since the last step: rebuild the dt-dependent
  weights of every layer at once (2 calls over one flat buffer), because the
  time head's ``ta * dt + tb`` is linear in the weights;
- the recurrent part of all layers in one matrix product (2 calls);
- per layer 5 calls: input product, add the recurrent part, one ``tanh``
  over ``[ff1 | ff2 | gate | gate]`` (the gate column is duplicated so the
  next product needs no broadcasting, which numpy makes 3x slower), one
  product ``[g | g] * [t1 | t2]``, and a 6-coefficient contraction that
  yields the new state (the gate's ``sigmoid = 0.5 + 0.5 tanh`` is inside
  the coefficients);
- the action map ``h * scale + shift`` as one product of ``[h, 1]``.

Inputs: the layer arrays written by the exporter (see ``numpy_cells._cfc``):
``L{l}.W`` [in_l + n_l, 4 n_l] heads [ff1 | ff2 | ta | tb], ``L{l}.b`` [4 n_l].
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

Arrays = dict[str, np.ndarray]
FastStep = Callable[[np.ndarray, np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]

# new h = coef . [t1, t2, g, g, g t1, g t2] per gated mode (sigma = (1 + g) / 2)
_COEF = {"default": [0.5, 0.5, 0.0, 0.0, -0.5, 0.5], "no_gate": [1.0, 0.5, 0.0, 0.0, 0.0, 0.5]}
H = 4  # head columns per neuron in the fast layout: ff1, ff2, gate, gate


def _split_heads(w: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """``[.., 4n]`` heads [ff1 | ff2 | ta | tb] -> (dt-proportional part A,
    constant part B), each ``[.., 4n]`` laid out [ff1 | ff2 | u | u], u = ta dt + tb."""
    ta, tb = w[..., 2 * n:3 * n], w[..., 3 * n:]
    zero = np.zeros_like(ta)
    a = np.concatenate([zero, zero, ta, ta], axis=-1).astype(np.float64)
    b = np.concatenate([w[..., :2 * n], tb, tb], axis=-1).astype(np.float64)
    return a, b


def _layout(sizes: list[int], in0: int) -> list[tuple[str, int, tuple[int, ...]]]:
    """Regions of the flat dt-dependent buffer: input matrices, block-diagonal
    recurrent matrix, biases."""
    regions: list[tuple[str, int, tuple[int, ...]]] = []
    off, inp = 0, in0
    for i, n in enumerate(sizes):
        regions.append((f"x{i}", off, (inp, H * n)))
        off, inp = off + inp * H * n, n
    total, heads = sum(sizes), H * sum(sizes)
    regions.append(("h", off, (total, heads)))
    regions.append(("b", off + total * heads, (heads,)))
    return regions


def build_fast_cfc(sizes: list[int], mode: str, a: Arrays, in0: int) -> FastStep:
    """``(x [D], state [1, S], dt [1, 1] s) -> (y [n_out], new state [1, S])`` for one sample;
    ``y`` is the action if the block holds ``out_scale`` / ``out_shift``, else the last layer."""
    regions = _layout(sizes, in0)
    size = regions[-1][1] + regions[-1][2][0]
    big_a, big_b = np.zeros(size), np.zeros(size)
    rec_a, rec_b = np.zeros(regions[-2][2]), np.zeros(regions[-2][2])
    col, row = 0, 0
    for i, n in enumerate(sizes):
        in_l, off = a[f"L{i}.W"].shape[0] - n, regions[i][1]
        w_a, w_b = _split_heads(a[f"L{i}.W"], n)
        big_a[off:off + w_a[:in_l].size], big_b[off:off + w_b[:in_l].size] = w_a[:in_l].ravel(), w_b[:in_l].ravel()
        rec_a[row:row + n, col:col + H * n], rec_b[row:row + n, col:col + H * n] = w_a[in_l:], w_b[in_l:]
        b_a, b_b = _split_heads(a[f"L{i}.b"], n)
        b_off = regions[-1][1] + col
        big_a[b_off:b_off + H * n], big_b[b_off:b_off + H * n] = b_a, b_b
        col, row = col + H * n, row + n
    h_off = regions[-2][1]
    big_a[h_off:h_off + rec_a.size], big_b[h_off:h_off + rec_b.size] = rec_a.ravel(), rec_b.ravel()
    out_map = None
    if "out_scale" in a:  # [h_last, 1] @ [[diag(scale)], [shift]] = h_last * scale + shift
        out_map = np.vstack([np.diag(a["out_scale"]), a["out_shift"][None]]).astype(np.float64)
    return _stepper(sizes, mode, big_a.astype(np.float64), big_b.astype(np.float64), regions, out_map)


def _stepper(sizes: list[int], mode: str, big_a: np.ndarray, big_b: np.ndarray,
             regions: list[tuple[str, int, tuple[int, ...]]], out_map: np.ndarray | None) -> FastStep:
    flat = np.empty_like(big_a)
    views = {name: flat[off:off + int(np.prod(shape))].reshape(shape) for name, off, shape in regions}
    total, last = sum(sizes), sizes[-1]
    pre = np.empty(H * total, dtype=np.float64)
    coef_dot = np.array(_COEF[mode], dtype=np.float64).dot
    new = np.ones(total + 1, dtype=np.float64)  # [h of every layer | 1]; the 1 feeds the action map
    layers, col, row = [], 0, 0
    for i, n in enumerate(sizes):
        q = np.empty((6, n), dtype=np.float64)  # rows: t1, t2, g, g, g t1, g t2
        layers.append((views[f"x{i}"], pre[col:col + H * n], q, q[:4].reshape(-1), q[2:4].reshape(-1),
                       q[:2].reshape(-1), q[4:].reshape(-1), new[row:row + n]))
        col, row = col + H * n, row + n
    w_h, bias, tail = views["h"], views["b"], new[total - last:]
    last_dt = [float("nan")]
    add, tanh, mul = np.add, np.tanh, np.multiply

    def step(x: np.ndarray, state: np.ndarray, dt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        # Outputs are passed positionally: keyword parsing costs ~20 % per call here.
        seconds = dt.item()
        if seconds != last_dt[0]:  # at a steady rate this never runs
            mul(big_a, np.float64(seconds), flat)
            add(flat, big_b, flat)
            last_dt[0] = seconds
        state[0].dot(w_h, pre)
        add(pre, bias, pre)
        inp = x
        for w_x, pre_l, q, z, g2, t12, gt, h in layers:
            inp.dot(w_x, z)
            add(z, pre_l, z)
            tanh(z, z)
            mul(g2, t12, gt)
            coef_dot(q, h)
            inp = h
        out = new[None, :total].copy()
        if out_map is None:
            return out[0, total - last:], out
        return tail.dot(out_map), out

    return step
