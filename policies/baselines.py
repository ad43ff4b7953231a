"""Baseline policies: LSTM, GRU and a feed-forward MLP, sized by parameter budget.

All are discrete-time: they ignore ``dt`` (the liquid models use it). Each
follows :class:`~liquidcontrol.policies.base.RecurrentPolicy` (flat state,
affine action map after a linear head) and has ``for_budget(obs_dim,
act_dim, budget, ...)`` choosing the width whose *total trainable* parameter
count (head and action map included) is closest to ``budget``.

State layouts (``[B, state_dim]``):

- :class:`LSTMPolicy`: ``[h | c]``, ``2 * hidden``. Parameters are those of
  ``nn.LSTM`` (``rnn.weight_ih_l0`` [4H, D], ``rnn.weight_hh_l0`` [4H, H],
  ``rnn.bias_ih_l0``, ``rnn.bias_hh_l0`` [4H]; gate rows i, f, g, o).
- :class:`GRUPolicy`: ``h``, ``hidden``; ``nn.GRU`` parameters, gate rows r, z, n;
  ``n = tanh(W_in x + b_in + r * (W_hn h + b_hn))``, ``h' = (1 - z) n + z h``.
- :class:`MLPPolicy`: the previous ``frame_stack - 1`` normalised
  observations, oldest first, ``(frame_stack - 1) * obs_dim``; with
  ``frame_stack == 1`` a 1-wide dummy state (always zero) so every model kind
  exports the same ONNX signature.
"""

from __future__ import annotations

from typing import Any, cast

import torch
from torch import Tensor, nn

from liquidcontrol.errors import LiquidControlError

from .base import RecurrentPolicy


def _check_width(name: str, value: int) -> int:
    if int(value) < 1:
        raise LiquidControlError(f"{name} must be at least 1, got {value}.")
    return int(value)


def _closest(count_fn: Any, budget: int) -> int:
    """Width in 1..4096 whose parameter count ``count_fn(width)`` is closest to budget."""
    if budget < count_fn(1):
        raise LiquidControlError(
            f"parameter budget {budget} is below the smallest model ({count_fn(1)} parameters).")
    return min(range(1, 4097), key=lambda width: abs(count_fn(width) - budget))


class _GatedRNNPolicy(RecurrentPolicy):
    """Shared code of the LSTM / GRU policies (``gates`` blocks of ``hidden`` rows)."""

    gates = 4
    rnn_class: type[nn.LSTM] | type[nn.GRU] = nn.LSTM

    def __init__(self, obs_dim: int, act_dim: int, hidden: int = 16,
                 control_period: float = 0.05) -> None:
        super().__init__(obs_dim, act_dim, control_period)
        self.hidden = _check_width("hidden", hidden)
        self.rnn = self.rnn_class(obs_dim, self.hidden, batch_first=True)
        self.head = nn.Linear(self.hidden, act_dim)

    @classmethod
    def count_parameters(cls, obs_dim: int, act_dim: int, hidden: int) -> int:
        rnn = cls.gates * hidden * (obs_dim + hidden + 2)
        return rnn + hidden * act_dim + act_dim + 2 * act_dim

    @classmethod
    def for_budget(cls, obs_dim: int, act_dim: int, budget: int, **kwargs: Any) -> Any:
        hidden = _closest(lambda h: cls.count_parameters(obs_dim, act_dim, h), budget)
        return cls(obs_dim, act_dim, hidden=hidden, **kwargs)

    def config(self) -> dict[str, Any]:
        return {**super().config(), "hidden": self.hidden}

    def _gates(self, x: Tensor, h: Tensor) -> tuple[Tensor, Tensor]:
        """Input and recurrent pre-activations, both [B, gates * H]."""
        # layer-0 parameters, created by name in RNNBase.__init__ (untyped there)
        b_ih, w_ih = cast(Tensor, self.rnn.bias_ih_l0), cast(Tensor, self.rnn.weight_ih_l0)
        b_hh, w_hh = cast(Tensor, self.rnn.bias_hh_l0), cast(Tensor, self.rnn.weight_hh_l0)
        gi = torch.addmm(b_ih, x, w_ih.t())
        gh = torch.addmm(b_hh, h, w_hh.t())
        return gi, gh

    def _core_sequence(self, x: Tensor, state: Tensor, t: Tensor, keep: Tensor | None
                       ) -> tuple[Tensor, Tensor]:
        if keep is not None:  # resets inside the sequence: step by step
            return super()._core_sequence(x, state, t, keep)
        out, final = self.rnn(x, self._unflatten(state))
        return self.head(out), self._flatten(final)

    def _unflatten(self, state: Tensor) -> Any:
        raise NotImplementedError

    def _flatten(self, final: Any) -> Tensor:
        raise NotImplementedError


class LSTMPolicy(_GatedRNNPolicy):
    """LSTM baseline; state ``[h | c]`` [B, 2 * hidden]."""

    kind = "lstm"
    gates, rnn_class = 4, nn.LSTM

    @property
    def state_dim(self) -> int:
        return 2 * self.hidden

    def _core_step(self, x: Tensor, state: Tensor, t: Tensor) -> tuple[Tensor, Tensor]:
        h, c = state.split(self.hidden, dim=1)
        gi, gh = self._gates(x, h)
        i, f, g, o = (gi + gh).chunk(4, dim=1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        return self.head(h), torch.cat([h, c], dim=1)

    def _unflatten(self, state: Tensor) -> tuple[Tensor, Tensor]:
        h, c = state.split(self.hidden, dim=1)
        return h.unsqueeze(0).contiguous(), c.unsqueeze(0).contiguous()

    def _flatten(self, final: tuple[Tensor, Tensor]) -> Tensor:
        return torch.cat([final[0][0], final[1][0]], dim=1)


class GRUPolicy(_GatedRNNPolicy):
    """GRU baseline; state ``h`` [B, hidden]."""

    kind = "gru"
    gates, rnn_class = 3, nn.GRU

    @property
    def state_dim(self) -> int:
        return self.hidden

    def _core_step(self, x: Tensor, state: Tensor, t: Tensor) -> tuple[Tensor, Tensor]:
        gi, gh = self._gates(x, state)
        i_r, i_z, i_n = gi.chunk(3, dim=1)
        h_r, h_z, h_n = gh.chunk(3, dim=1)
        r, z = torch.sigmoid(i_r + h_r), torch.sigmoid(i_z + h_z)
        n = torch.tanh(i_n + r * h_n)
        h = torch.lerp(n, state, z)  # (1 - z) n + z h
        return self.head(h), h

    def _unflatten(self, state: Tensor) -> Tensor:
        return state.unsqueeze(0).contiguous()

    def _flatten(self, final: Tensor) -> Tensor:
        return final[0]


class MLPPolicy(RecurrentPolicy):
    """Feed-forward MLP on the last ``frame_stack`` normalised observations.

    ``layers`` hidden layers of width ``hidden`` with ``activation`` (tanh or
    relu), then a linear head.
    """

    kind = "mlp"

    def __init__(self, obs_dim: int, act_dim: int, hidden: int = 64, layers: int = 2,
                 frame_stack: int = 1, activation: str = "tanh",
                 control_period: float = 0.05) -> None:
        super().__init__(obs_dim, act_dim, control_period)
        self.hidden, self.layers = _check_width("hidden", hidden), _check_width("layers", layers)
        self.frame_stack = _check_width("frame_stack", frame_stack)
        acts = {"tanh": nn.Tanh, "relu": nn.ReLU}
        if activation not in acts:
            raise LiquidControlError(f"unknown activation {activation!r}; expected one of {list(acts)}.")
        self.activation = activation
        widths = [obs_dim * self.frame_stack] + [self.hidden] * self.layers
        blocks: list[nn.Module] = []
        for a, b in zip(widths, widths[1:]):
            blocks += [nn.Linear(a, b), acts[activation]()]
        self.mlp = nn.Sequential(*blocks, nn.Linear(self.hidden, act_dim))

    @classmethod
    def count_parameters(cls, obs_dim: int, act_dim: int, hidden: int, layers: int = 2,
                         frame_stack: int = 1) -> int:
        widths = [obs_dim * frame_stack] + [hidden] * layers + [act_dim]
        return sum(a * b + b for a, b in zip(widths, widths[1:])) + 2 * act_dim

    @classmethod
    def for_budget(cls, obs_dim: int, act_dim: int, budget: int, layers: int = 2,
                   frame_stack: int = 1, **kwargs: Any) -> MLPPolicy:
        hidden = _closest(
            lambda h: cls.count_parameters(obs_dim, act_dim, h, layers, frame_stack), budget)
        return cls(obs_dim, act_dim, hidden=hidden, layers=layers, frame_stack=frame_stack,
                   **kwargs)

    @property
    def state_dim(self) -> int:
        return max((self.frame_stack - 1) * self.obs_dim, 1)

    def config(self) -> dict[str, Any]:
        return {**super().config(), "hidden": self.hidden, "layers": self.layers,
                "frame_stack": self.frame_stack, "activation": self.activation}

    def _core_step(self, x: Tensor, state: Tensor, t: Tensor) -> tuple[Tensor, Tensor]:
        if self.frame_stack == 1:
            return self.mlp(x), state
        frames = torch.cat([state, x], dim=1)
        return self.mlp(frames), frames[:, self.obs_dim :]

    def _core_sequence(self, x: Tensor, state: Tensor, t: Tensor, keep: Tensor | None
                       ) -> tuple[Tensor, Tensor]:
        if self.frame_stack == 1:
            return self.mlp(x), state
        batch, steps, d = x.shape
        k = self.frame_stack
        full = torch.cat([state.view(batch, k - 1, d), x], dim=1)  # [B, T + k - 1, D]
        resets = torch.zeros_like(x[..., :1]) if keep is None else 1.0 - keep
        # counts[t] = resets up to and including step t; counts of "step -1.." are 0
        counts = torch.cat([torch.zeros_like(resets[:, :k - 1]), resets.cumsum(1)], dim=1)
        frames = []
        for lag in range(k - 1, -1, -1):  # oldest first, like the step state
            frame = full[:, k - 1 - lag : k - 1 - lag + steps]
            if lag > 0:  # valid iff no reset in steps t - lag + 1 .. t
                since = counts[:, k - 1 : k - 1 + steps] - counts[:, k - 1 - lag : k - 1 - lag + steps]
                frame = frame * (since == 0).to(x.dtype)
            frames.append(frame)
        stacked = torch.cat(frames, dim=2)  # [B, T, k * D]
        return self.mlp(stacked), stacked[:, -1, d:]
