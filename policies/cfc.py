"""Closed-form continuous-time (CfC) cells and the ``CfC`` sequence model.

Maths (Hasani et al. 2022; same as ``ncps`` 1.0.1). Heads on a feature
vector ``z`` (``[input; h]``, or a backbone of it): ``ff1, ff2, time_a,
time_b``; with elapsed time ``t`` (in control periods, ``1`` = nominal rate):

- ``default``: ``g = sigmoid(time_a * t + time_b)``; ``h' = tanh(ff1) (1 - g) + g tanh(ff2)``
- ``no_gate``: ``h' = tanh(ff1) + g tanh(ff2)``
- ``pure``:    ``h' = A - A exp(-t (|w_tau| + |ff1|)) ff1`` (only the ff1 head)

Parameter layout (read by the numpy runtime backend):

- :class:`CfCHeads` (one per layer): ``weight`` ``[K*n, F]`` with the K heads
  stacked in the order ff1, ff2, time_a, time_b (K=4; K=1 for ``pure``),
  ``bias`` ``[K*n]``, buffer ``mask`` ``[K*n, F]`` (0/1; ones where unmasked),
  and for ``pure`` ``w_tau`` and ``A`` ``[n]``. Effective weight = weight * mask.
- Wired / no-backbone models (:class:`LayeredCfC`): layer ``l`` has
  ``F = in_l + n_l`` with columns ``[layer input | own state]``; layer 0's input
  is the model input, layer ``l`` 's is the new state of layer ``l-1``. As in
  ncps, masks (from the wiring) cover ff1 / ff2 only, and the own-state columns
  are unmasked. The state is ``[layer 0 | layer 1 | ...]`` (for an NCP:
  ``[inter | command | motor]``) and the output is the last layer.
- Backbone models (:class:`BackboneCfC`, fully connected only): ``backbone[i]``
  Linear layers with the activation after each (``lecun_tanh`` =
  ``1.7159 tanh(0.666 x)``) and dropout after each; the first sees ``[x; h]``.
  Heads see the last backbone output. State and output: all ``units``.

Speed (training): sequence runs multiply masks once per call, fuse the heads
into one matmul, project the inputs of all steps at once, and run the layers
of a wired model as a wavefront: at sweep ``s`` layer ``l`` computes time
``s - l``, so all layers share one matmul per sweep (``T + L - 1`` sweeps
instead of ``T * L`` layer steps). The ``default`` mode has a leaner twin of
that loop in :mod:`liquidcontrol.policies.cfc_fast`. Per-sample time steps work
at any batch size. ``step`` (one control step, the ONNX-exported graph) uses
plain per-layer ops.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, cast

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from liquidcontrol.errors import LiquidControlError

from .cfc_fast import FusedLayout, default_wavefront
from .memory import MixedMemoryCell
from .wirings import Wiring

if TYPE_CHECKING:
    from .ltc import LTC

MODES = ("default", "no_gate", "pure")
ACTIVATIONS = ("lecun_tanh", "tanh", "relu", "silu", "gelu")
TimeArg = Tensor | float


class LeCunTanh(nn.Module):
    """``1.7159 * tanh(0.666 * x)``, the ncps default backbone activation."""

    def forward(self, x: Tensor) -> Tensor:
        return 1.7159 * torch.tanh(0.666 * x)


def make_activation(name: str) -> nn.Module:
    table = {"lecun_tanh": LeCunTanh, "tanh": nn.Tanh, "relu": nn.ReLU, "silu": nn.SiLU,
             "gelu": nn.GELU}
    if name not in table:
        raise LiquidControlError(f"unknown activation {name!r}; expected one of {list(table)}.")
    return table[name]()


def check_mode(mode: str) -> str:
    if mode not in MODES:
        raise LiquidControlError(f"unknown CfC mode {mode!r}; expected one of {list(MODES)}.")
    return mode


def heads_to_state(z: Tensor, t: TimeArg, mode: str, w_tau: Tensor | None = None,
                   a: Tensor | None = None) -> Tensor:
    """CfC update from raw heads ``z`` [B, K*n] (ff1 | ff2 | time_a | time_b).

    ``t``: elapsed time, float or tensor broadcastable to [B, n] (e.g. [B, 1]).
    Returns the new state [B, n].
    """
    if mode == "pure":
        assert w_tau is not None and a is not None, "pure mode needs w_tau and A"
        return a - a * torch.exp(-t * (w_tau.abs() + z.abs())) * z
    n = z.shape[1] // 4
    # split (one autograd node) rather than slices; both ff heads share one tanh
    ff_pre, t_a, t_b = z.split([2 * n, n, n], dim=1)
    ff1, ff2 = torch.tanh(ff_pre).chunk(2, dim=1)
    if isinstance(t, Tensor):
        pre = torch.addcmul(t_b, t_a, t)
    else:  # x * 1.0 == x exactly: skip the multiply at the nominal rate
        pre = t_a + t_b if t == 1.0 else t_a * t + t_b
    gate = torch.sigmoid(pre)
    if mode == "no_gate":
        return torch.addcmul(ff1, gate, ff2)
    return torch.lerp(ff1, ff2, gate)


class CfCHeads(nn.Module):
    """The fused heads of one CfC layer on a feature vector of width ``features``.

    ``mask``: optional ``[n, features]`` 0/1 array applied to ff1 / ff2 (and to
    the time heads too if ``mask_time_heads``, a non-ncps option).
    """

    # registered in __init__ (mask: buffer, only with a mask; w_tau / A: only for pure)
    mask: Tensor
    w_tau: nn.Parameter
    A: nn.Parameter

    def __init__(self, features: int, units: int, mode: str = "default",
                 mask: np.ndarray | None = None, mask_time_heads: bool = False) -> None:
        super().__init__()
        self.mode, self.units, self.features = check_mode(mode), int(units), int(features)
        k = 1 if mode == "pure" else 4
        self.weight = nn.Parameter(torch.empty(k * units, features))
        self.bias = nn.Parameter(torch.empty(k * units))
        if mode == "pure":
            self.w_tau = nn.Parameter(torch.zeros(units))
            self.A = nn.Parameter(torch.ones(units))
        self.has_mask = mask is not None
        if mask is not None:
            m = torch.as_tensor(np.abs(np.asarray(mask)) > 0, dtype=torch.float32)
            ones = torch.ones_like(m)
            blocks = [m, m, m if mask_time_heads else ones, m if mask_time_heads else ones]
            self.register_buffer("mask", torch.cat(blocks[:k], dim=0))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        # Per head like ncps: Xavier-uniform of an [n, features] Linear.
        bound = math.sqrt(6.0 / (self.features + self.units))
        nn.init.uniform_(self.weight, -bound, bound)
        nn.init.uniform_(self.bias, -1 / math.sqrt(self.features), 1 / math.sqrt(self.features))

    def effective_weight(self) -> Tensor:
        return self.weight * self.mask if self.has_mask else self.weight

    def masked_parameter_count(self) -> int:
        """Weight entries the wiring masks out (they can never change the output)."""
        return int((self.mask == 0).sum()) if self.has_mask else 0

    def pure_params(self) -> tuple[Tensor | None, Tensor | None]:
        return (self.w_tau, self.A) if self.mode == "pure" else (None, None)


class LayeredCfC(nn.Module):
    """CfC layers stacked without backbone (wired NCP, or one fully connected layer).

    ``sizes``: neurons per layer; ``masks[l]``: ``[n_l, in_l]`` 0/1 input mask
    or None. State [B, sum(sizes)] in layer order; output = last layer.
    """

    def __init__(self, input_size: int, sizes: list[int], masks: Sequence[np.ndarray | None],
                 mode: str = "default", mask_time_heads: bool = False) -> None:
        super().__init__()
        self.mode, self.input_size, self.sizes = check_mode(mode), int(input_size), list(sizes)
        self.state_size, self.output_size = sum(sizes), sizes[-1]
        self.offsets = [sum(sizes[:i]) for i in range(len(sizes))]
        layers, in_features = [], self.input_size
        for n, mask in zip(sizes, masks):
            full = None if mask is None else np.concatenate([mask, np.ones((n, n))], axis=1)
            layers.append(CfCHeads(in_features + n, n, mode, full, mask_time_heads))
            in_features = n
        self.layers = nn.ModuleList(layers)
        self.layout = FusedLayout(self.input_size, self.sizes, self.layers)

    def step(self, x: Tensor, h: Tensor, t: TimeArg) -> Tensor:
        """One step: ``x`` [B, D], ``h`` [B, state], ``t`` float or [B, 1] -> new state."""
        inp, new = x, []
        for layer, off, n in zip(self.head_layers(), self.offsets, self.sizes):
            z = F.linear(torch.cat([inp, h[:, off : off + n]], dim=1), layer.effective_weight(),
                         layer.bias)
            inp = heads_to_state(z, t, self.mode, *layer.pure_params())
            new.append(inp)
        return torch.cat(new, dim=1) if len(new) > 1 else new[0]

    def head_layers(self) -> Sequence[CfCHeads]:
        """``self.layers`` typed as what it holds (the same module objects)."""
        return cast("Sequence[CfCHeads]", self.layers)

    def _fused(self) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """All layers as one affine map: ``(w_x [K*U, D], w_ff [K*U, U],
        w_rec [K*U, U], bias [K*U])``; rows head-major (head k of every layer).
        ``w_ff`` reads the previous layer's state, ``w_rec`` a layer's own state
        (kept apart because an episode reset clears only the recurrent input)."""
        return self.layout.gather(self.layers)

    def _per_neuron(self, v: Tensor) -> Tensor:
        """[B, T, 1] per-step values -> [T + L - 1, B, U]: layer l sees step s - l
        (padded with ones; idle layers ignore them)."""
        lag, v = len(self.sizes) - 1, v.transpose(0, 1)
        parts = [F.pad(v, (0, 0, 0, 0, i, lag - i), value=1.0).expand(-1, -1, n)
                 for i, n in enumerate(self.sizes)]
        return torch.cat(parts, dim=2)

    def sequence(self, x: Tensor, h: Tensor, t: Tensor | None, keep: Tensor | None
                 ) -> tuple[Tensor, Tensor]:
        """``x`` [B, T, D], ``h`` [B, U], ``t`` [B, T, 1] or None (= 1), ``keep``
        [B, T, 1] (0 resets the state before that step) or None.
        Returns outputs [B, T, n_last] and the final state [B, U]."""
        if self.mode == "default":
            return default_wavefront(self, x, h, t, keep)
        return self.generic_wavefront(x, h, t, keep)

    def generic_wavefront(self, x: Tensor, h: Tensor, t: Tensor | None, keep: Tensor | None
                          ) -> tuple[Tensor, Tensor]:
        """:meth:`sequence` for every mode (``default`` has a faster twin in cfc_fast)."""
        steps, lag = x.shape[1], len(self.sizes) - 1
        w_x, w_ff, w_rec, bias = self._fused()
        # time-major and contiguous, so each step reads a dense [B, .] block
        # (a 2-D matmul: F.linear on a transposed 3-D view falls back to a slow bmm)
        xt = F.pad(x, (0, 0, 0, lag)).transpose(0, 1).reshape(-1, x.shape[2])
        xp = F.linear(xt, w_x, bias).view(steps + lag, x.shape[0], -1).unbind(0)
        ts = [1.0] * (steps + lag) if t is None else self._per_neuron(t).unbind(0)
        ks = None if keep is None else self._per_neuron(keep).unbind(0)
        layer_of = torch.repeat_interleave(torch.arange(len(self.sizes), device=x.device),
                                           torch.tensor(self.sizes, device=x.device))
        pure = self._pure_cat()
        if ks is None:
            w_h_t = (w_ff + w_rec).t()  # disjoint supports: one matmul per sweep
        else:
            w_h_t = torch.cat([w_ff, w_rec], dim=1).t()
        states = []
        for s in range(steps + lag):
            hh = h if ks is None else torch.cat([h, h * ks[s]], dim=1)
            new = heads_to_state(torch.addmm(xp[s], hh, w_h_t), ts[s], self.mode, *pure)
            if s < lag or s >= steps:  # wavefront edges: idle layers keep their state
                new = torch.where(((s - layer_of >= 0) & (s - layer_of < steps)), new, h)
            h = new
            states.append(h)
        out = torch.stack(states[lag:], dim=1)[:, :, self.state_size - self.output_size :]
        return out, h

    def _pure_cat(self) -> tuple[Tensor | None, Tensor | None]:
        if self.mode != "pure":
            return None, None
        return (torch.cat([layer.w_tau for layer in self.head_layers()]),
                torch.cat([layer.A for layer in self.head_layers()]))


class BackboneCfC(nn.Module):
    """Fully connected CfC with a backbone MLP before the heads (ncps' default)."""

    def __init__(self, input_size: int, units: int, mode: str = "default",
                 activation: str = "lecun_tanh", backbone_units: int = 128,
                 backbone_layers: int = 1, backbone_dropout: float = 0.0) -> None:
        super().__init__()
        self.mode, self.input_size = check_mode(mode), int(input_size)
        self.state_size = self.output_size = int(units)
        if backbone_layers < 1 or backbone_units < 1 or not 0.0 <= backbone_dropout < 1.0:
            raise LiquidControlError(
                f"backbone needs layers >= 1, units >= 1 and dropout in [0, 1), got "
                f"{backbone_layers}, {backbone_units}, {backbone_dropout}.")
        widths = [input_size + units] + [backbone_units] * backbone_layers
        self.backbone = nn.ModuleList(nn.Linear(a, b) for a, b in zip(widths, widths[1:]))
        for lin in self.linears():
            nn.init.xavier_uniform_(lin.weight)
        self.activation_name = activation
        self.activation = make_activation(activation)
        self.dropout = nn.Dropout(backbone_dropout)
        self.heads = CfCHeads(backbone_units, units, mode)

    def linears(self) -> Iterable[nn.Linear]:
        """``self.backbone`` typed as what it holds (the same module objects)."""
        return cast("Iterable[nn.Linear]", self.backbone)

    def step(self, x: Tensor, h: Tensor, t: TimeArg) -> Tensor:
        """One step: ``x`` [B, D], ``h`` [B, U], ``t`` float or [B, 1] -> new state."""
        a = torch.cat([x, h], dim=1)
        for lin in self.backbone:
            a = self.dropout(self.activation(lin(a)))
        z = F.linear(a, self.heads.weight, self.heads.bias)
        return heads_to_state(z, t, self.mode, *self.heads.pure_params())

    def _folded(self) -> tuple[list[tuple[Tensor, Tensor]], Tensor, float, float]:
        """Backbone weights with LeCun's constants folded in (so each step needs one
        tanh): returns [(w, b)], head weight, inner scale applied, outer scale."""
        inner, outer = (0.666, 1.7159) if self.activation_name == "lecun_tanh" else (1.0, 1.0)
        folded: list[tuple[Tensor, Tensor]] = []
        carry = 1.0
        for lin in self.linears():
            folded.append((lin.weight * (inner * carry), lin.bias * inner))
            carry = outer
        return folded, self.heads.weight * carry, inner, outer

    def sequence(self, x: Tensor, h: Tensor, t: Tensor | None, keep: Tensor | None
                 ) -> tuple[Tensor, Tensor]:
        """Same contract as :meth:`LayeredCfC.sequence`; outputs [B, T, U]."""
        folded, w_head, _, _ = self._folded()
        act = torch.tanh if self.activation_name == "lecun_tanh" else self.activation
        w0, b0 = folded[0]
        xp = F.linear(x, w0[:, : self.input_size], b0).unbind(1)
        w0h_t, w_head_t = w0[:, self.input_size :].t(), w_head.t()
        states = []
        for s in range(x.shape[1]):
            if keep is not None:
                h = h * keep[:, s]
            a = self.dropout(act(torch.addmm(xp[s], h, w0h_t)))
            for w, b in folded[1:]:
                a = self.dropout(act(torch.addmm(b, a, w.t())))
            z = torch.addmm(self.heads.bias, a, w_head_t)
            h = heads_to_state(z, 1.0 if t is None else t[:, s], self.mode,
                               *self.heads.pure_params())
            states.append(h)
        return torch.stack(states, dim=1), h


class CfC(nn.Module):
    """CfC sequence model, ncps-style: ``CfC(input_size, units_or_wiring, ...)``.

    ``forward(input [B, T, D], hx=None, timespans=None) -> (output [B, T, out], hx)``;
    ``hx`` is [B, state_size], or ``(h, c)`` with ``mixed_memory``. ``timespans``:
    float, [B, T] or [B, T, 1] elapsed time per step (default 1). ``out`` is
    ``proj_size`` if given, else the motor neurons (wired) or all units.

    :meth:`step` / :meth:`sequence` work on a *flat* state [B, flat_state_size]
    (``[h | c]`` with mixed memory); policies use those.
    """

    def __init__(self, input_size: int, units: int | Wiring, proj_size: int | None = None,
                 mixed_memory: bool = False, mode: str = "default",
                 activation: str = "lecun_tanh", backbone_units: int | None = None,
                 backbone_layers: int | None = None, backbone_dropout: float | None = None,
                 mask_time_heads: bool = False) -> None:
        super().__init__()
        if int(input_size) < 1:
            raise LiquidControlError(f"input_size must be at least 1, got {input_size}.")
        self.input_size = int(input_size)
        if isinstance(units, Wiring):
            if (backbone_units, backbone_layers, backbone_dropout) != (None, None, None):
                raise LiquidControlError("a wired CfC has no backbone; drop backbone_* arguments.")
            self.core: LayeredCfC | BackboneCfC = _wired_core(input_size, units, mode,
                                                               mask_time_heads)
        elif backbone_layers == 0:
            self.core = LayeredCfC(input_size, [int(units)], [None], mode)
        else:
            self.core = BackboneCfC(
                input_size, int(units), mode, activation,
                128 if backbone_units is None else backbone_units,
                1 if backbone_layers is None else backbone_layers,
                0.0 if backbone_dropout is None else backbone_dropout)
        self.state_size = self.core.state_size
        self.memory = MixedMemoryCell(input_size, self.state_size) if mixed_memory else None
        self.fc = None if proj_size is None else nn.Linear(self.core.output_size, proj_size)
        self.output_size = self.core.output_size if proj_size is None else int(proj_size)

    @property
    def flat_state_size(self) -> int:
        return self.state_size * (2 if self.memory is not None else 1)

    def _project(self, y: Tensor) -> Tensor:
        return y if self.fc is None else self.fc(y)

    def step(self, x: Tensor, state: Tensor, t: TimeArg = 1.0) -> tuple[Tensor, Tensor]:
        """``x`` [B, D], flat ``state``, ``t`` float or [B, 1] -> (output [B, out], state)."""
        if self.memory is None:
            h = self.core.step(x, state, t)
            return self._project(h[:, self.state_size - self.core.output_size :]), h
        h, c = state.split(self.state_size, dim=1)
        h, c = self.memory(x, h, c)
        h = self.core.step(x, h, t)
        return self._project(h[:, self.state_size - self.core.output_size :]), torch.cat([h, c], 1)

    def sequence(self, x: Tensor, state: Tensor, t: Tensor | None = None,
                 keep: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """``x`` [B, T, D], flat ``state``, ``t`` [B, T, 1] or None, ``keep`` [B, T, 1]
        (0 = reset before the step) or None -> (outputs [B, T, out], final state)."""
        if self.memory is None:
            y, h = self.core.sequence(x, state, t, keep)
            return self._project(y), h
        xp, outs = self.memory.project_inputs(x).unbind(1), []
        for s in range(x.shape[1]):
            if keep is not None:
                state = state * keep[:, s]
            h, c = state.split(self.state_size, dim=1)
            h, c = self.memory.step_projected(xp[s], h, c)
            h = self.core.step(x[:, s], h, 1.0 if t is None else t[:, s])
            outs.append(h[:, self.state_size - self.core.output_size :])
            state = torch.cat([h, c], dim=1)
        return self._project(torch.stack(outs, dim=1)), state

    def forward(self, input: Tensor, hx: Tensor | tuple[Tensor, Tensor] | None = None,
                timespans: Tensor | float | None = None) -> tuple[Tensor, Tensor | tuple]:
        return ncps_call(self, input, hx, timespans)


def ncps_call(model: CfC | LTC, input: Tensor, hx: Tensor | tuple[Tensor, Tensor] | None,
              timespans: Tensor | float | None) -> tuple[Tensor, Tensor | tuple]:
    """The ncps calling convention shared by :class:`CfC` and ``LTC``: check the
    input, flatten ``hx`` (mixed memory passes ``(h, c)``), run ``model.sequence``
    and split the state back the way it came."""
    if input.dim() != 3 or input.shape[-1] != model.input_size:
        raise LiquidControlError(
            f"expected input of shape [batch, time, {model.input_size}], got {list(input.shape)}.")
    batch, steps = input.shape[:2]
    if hx is None:
        state = input.new_zeros(batch, model.flat_state_size)
    else:
        state = torch.cat(list(hx), dim=1) if isinstance(hx, tuple) else hx
    y, state = model.sequence(input, state, timespans_tensor(timespans, batch, steps, input))
    if model.memory is None:
        return y, state
    h, c = state.split(model.state_size, dim=1)
    return y, (h, c)


def timespans_tensor(timespans: Tensor | float | None, batch: int, steps: int, like: Tensor
                     ) -> Tensor | None:
    """None stays None (= 1); a float or [B, T] / [B, T, 1] tensor becomes [B, T, 1]."""
    if timespans is None:
        return None
    if not isinstance(timespans, Tensor):
        return torch.full((batch, steps, 1), float(timespans), dtype=like.dtype, device=like.device)
    t = timespans.to(like.dtype)
    t = t.unsqueeze(-1) if t.dim() == 2 else t
    if tuple(t.shape) != (batch, steps, 1):
        raise LiquidControlError(
            f"expected timespans of shape [{batch}, {steps}] or [{batch}, {steps}, 1], got "
            f"{list(timespans.shape)}.")
    return t


def wiring_masks(wiring: Wiring) -> list[np.ndarray]:
    """Per layer input masks ``[n_l, in_l]`` (0/1) from a built wiring, as ncps uses them."""
    masks, prev = [], None
    for layer in range(wiring.num_layers):
        ids = wiring.get_neurons_of_layer(layer)
        if prev is None:
            assert wiring.sensory_adjacency_matrix is not None  # set by build()
            src = wiring.sensory_adjacency_matrix[:, ids]
        else:
            src = wiring.adjacency_matrix[np.ix_(prev, ids)]
        masks.append((np.abs(src.T) > 0).astype(np.float32))
        prev = ids
    return masks


def _wired_core(input_size: int, wiring: Wiring, mode: str, mask_time_heads: bool) -> LayeredCfC:
    wiring.build(input_size)
    return LayeredCfC(input_size, wiring.layer_sizes, wiring_masks(wiring), mode, mask_time_heads)
