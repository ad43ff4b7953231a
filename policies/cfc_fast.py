"""Fast training path of the ``default`` CfC mode for stacked / wired layers.

Same function as :meth:`liquidcontrol.policies.cfc.LayeredCfC.sequence`, with
fewer autograd nodes per step (bookkeeping, not arithmetic, dominates tiny
recurrent models on CPU). Three exact rewrites:

1. ``tanh(a) = 2 sigmoid(2a) - 1``: the ff rows are scaled by 2 once per call,
   so one ``sigmoid`` serves all heads (``tanh`` is also ~4x slower on CPU).
2. Carry ``u = (h + 1) / 2`` instead of ``h``: then the default update
   ``h' = lerp(tanh ff1, tanh ff2, g)`` becomes ``u' = lerp(s1, s2, g)``, and the
   affine change of variables folds into the recurrent weights
   (``W h = 2 W u - W 1``). ``h`` is recovered once for the whole sequence.
3. A time step that is the same for every sample and step (the usual case,
   e.g. the nominal rate) folds into the gate: ``time_a * c + time_b`` is one
   head, so a step is ``addmm, sigmoid, split, lerp``.

The layers still run as a wavefront (see :mod:`liquidcontrol.policies.cfc`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

if TYPE_CHECKING:
    from .cfc import CfCHeads


def constant_time(t: Tensor | None) -> float | None:
    """The single value of ``t`` if all entries are equal (None -> 1.0), else None."""
    if t is None:
        return 1.0
    first = t.reshape(-1)[0]
    return float(first) if bool((t == first).all()) else None


def _prepare(core: Any, c: float | None, with_keep: bool) -> tuple[Tensor, Tensor, Tensor]:
    """Weights in u-space: ``(w_x [R, D], w_h_t [U or 2U, R], bias [R])`` with rows
    ``[2 ff1 | 2 ff2 | c time_a + time_b]`` (R = 3U) or ``[2 ff1 | 2 ff2 | time_a | time_b]``."""
    units = core.state_size
    w_x, w_ff, w_rec, bias = core._fused()
    scale = torch.ones(4 * units, 1, dtype=bias.dtype, device=bias.device)
    scale[: 2 * units] = 2.0  # tanh(a) = 2 sigmoid(2a) - 1

    def rows(m: Tensor) -> Tensor:
        m = m * (scale if m.dim() == 2 else scale[:, 0])
        if c is None:
            return m
        return torch.cat([m[: 2 * units], m[2 * units : 3 * units] * c + m[3 * units :]])

    w_x, w_ff, w_rec, bias = rows(w_x), rows(w_ff), rows(w_rec), rows(bias)
    bias = bias - w_ff.sum(1) - w_rec.sum(1)  # from h = 2u - 1
    w_h = torch.cat([w_ff, w_rec], dim=1) if with_keep else w_ff + w_rec
    return w_x, (2.0 * w_h).t(), bias


def default_wavefront(core: Any, x: Tensor, h: Tensor, t: Tensor | None,
                      keep: Tensor | None) -> tuple[Tensor, Tensor]:
    """Contract of ``LayeredCfC.sequence`` for ``mode == "default"``."""
    steps, lag, units = x.shape[1], len(core.sizes) - 1, core.state_size
    c = constant_time(t)
    w_x, w_h_t, bias = _prepare(core, c, keep is not None)
    xt = F.pad(x, (0, 0, 0, lag)).transpose(0, 1).reshape(-1, x.shape[2])
    xp = F.linear(xt, w_x, bias).view(steps + lag, x.shape[0], -1).unbind(0)
    ts = None if c is not None else core._per_neuron(t).unbind(0)
    ks: tuple[Tensor, ...] | None = None
    offs: tuple[Tensor, ...] | None = None
    if keep is not None:
        k_all = core._per_neuron(keep)
        ks, offs = k_all.unbind(0), (0.5 - 0.5 * k_all).unbind(0)  # reset: u -> 1/2
    layer_of = torch.repeat_interleave(torch.arange(len(core.sizes), device=x.device),
                                       torch.tensor(core.sizes, device=x.device))
    u, states = (h + 1.0) * 0.5, []
    for s in range(steps + lag):
        if ks is None:
            uu = u
        else:
            assert offs is not None  # set together with ks
            uu = torch.cat([u, torch.addcmul(offs[s], u, ks[s])], dim=1)
        z = torch.addmm(xp[s], uu, w_h_t)
        if ts is None:
            s1, s2, gate = torch.sigmoid(z).chunk(3, dim=1)
        else:
            ff, t_a, t_b = z.split([2 * units, units, units], dim=1)
            s1, s2 = torch.sigmoid(ff).chunk(2, dim=1)
            gate = torch.sigmoid(torch.addcmul(t_b, t_a, ts[s]))
        new = torch.lerp(s1, s2, gate)
        if s < lag or s >= steps:  # wavefront edges: idle layers keep their state
            new = torch.where((s - layer_of >= 0) & (s - layer_of < steps), new, u)
        u = new
        states.append(u)
    out = torch.stack(states[lag:], dim=1)[:, :, units - core.output_size :]
    return out * 2.0 - 1.0, u * 2.0 - 1.0


class FusedLayout(nn.Module):
    """Index map from the per-layer head parameters to the fused wavefront matrices.

    Built once: ``gather`` then needs one ``cat``, one multiply (wiring masks)
    and one index op per call, instead of dozens of slices and pads (each an
    autograd node on every training step).
    """

    # buffers registered in __init__
    index: Tensor
    source_mask: Tensor

    def __init__(self, input_size: int, sizes: list[int], layers: nn.ModuleList) -> None:
        super().__init__()
        cells = _heads(layers)
        heads = cells[0].weight.shape[0] // sizes[0]
        total, offsets = sum(sizes), [sum(sizes[:i]) for i in range(len(sizes))]
        # source vector: [0, layer weights (row-major) ..., layer biases ...]
        w_base = np.cumsum([1] + [m.weight.numel() for m in cells])
        b_base = np.cumsum([w_base[-1]] + [m.bias.numel() for m in cells])
        idx_x = np.zeros((heads * total, input_size), np.int64)
        idx_ff, idx_rec = (np.zeros((heads * total, total), np.int64) for _ in range(2))
        idx_b, row = np.zeros(heads * total, np.int64), 0
        for k in range(heads):
            for i, n in enumerate(sizes):
                width = cells[i].weight.shape[1]
                for r in range(k * n, (k + 1) * n):
                    cols = w_base[i] + r * width + np.arange(width)
                    if i == 0:
                        idx_x[row] = cols[: width - n]
                    else:
                        idx_ff[row, offsets[i - 1] : offsets[i - 1] + width - n] = cols[: width - n]
                    idx_rec[row, offsets[i] : offsets[i] + n] = cols[width - n :]
                    idx_b[row], row = b_base[i] + r, row + 1
        self.shapes = [idx_x.shape, idx_ff.shape, idx_rec.shape, idx_b.shape]
        index = np.concatenate([a.reshape(-1) for a in (idx_x, idx_ff, idx_rec, idx_b)])
        self.register_buffer("index", torch.as_tensor(index), persistent=False)
        masks = [m.mask.reshape(-1) if m.has_mask else torch.ones(m.weight.numel())
                 for m in cells]
        source_mask = torch.cat([torch.zeros(1), *masks, torch.ones(int(b_base[-1] - w_base[-1]))])
        self.register_buffer("source_mask", source_mask, persistent=False)

    def gather(self, layers: nn.ModuleList) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """``(w_x, w_ff, w_rec, bias)`` of the current (masked) parameters."""
        cells = _heads(layers)
        first = cells[0].weight
        source = torch.cat([first.new_zeros(1), *[m.weight.reshape(-1) for m in cells],
                            *[m.bias for m in cells]])
        flat = (source * self.source_mask)[self.index]
        parts = flat.split([int(np.prod(s)) for s in self.shapes])
        return tuple(p.view(*s) for p, s in zip(parts, self.shapes))  # type: ignore[return-value]


def _heads(layers: nn.ModuleList) -> Sequence[CfCHeads]:
    """``layers`` typed as what it holds (the same module objects, no copy)."""
    return cast("Sequence[CfCHeads]", layers)
