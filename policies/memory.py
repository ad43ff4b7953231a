"""Mixed-memory LSTM cell shared by the CfC and LTC sequence models.

With ``mixed_memory=True`` the liquid state ``h`` first passes through this
LSTM cell with its own cell state ``c`` (the "memory cell" of Lechner &
Hasani 2020), then the liquid cell steps from the LSTM's output, as in
``ncps`` 1.0.1. The flat state of a mixed model is ``[h | c]``.

Parameters (names as in ``ncps.torch.LSTMCell``, so weights convert 1:1):
``input_map`` Linear(input_size, 4H) with bias, ``recurrent_map``
Linear(H, 4H) without bias; gate order in the 4H rows: candidate, input
gate, forget gate (+1 bias inside the sigmoid), output gate.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


class MixedMemoryCell(nn.Module):
    """LSTM cell: ``(x [B, D], h [B, H], c [B, H]) -> (h', c')``."""

    def __init__(self, input_size: int, hidden_size: int) -> None:
        super().__init__()
        self.hidden_size = int(hidden_size)
        self.input_map = nn.Linear(input_size, 4 * hidden_size)
        self.recurrent_map = nn.Linear(hidden_size, 4 * hidden_size, bias=False)
        nn.init.xavier_uniform_(self.input_map.weight)
        nn.init.uniform_(self.input_map.bias, -0.1, 0.1)
        nn.init.orthogonal_(self.recurrent_map.weight)

    def project_inputs(self, x: Tensor) -> Tensor:
        """Input part of the gates for any leading shape: ``[..., D] -> [..., 4H]``.
        Sequence models call this once for all steps (it does not depend on h)."""
        return self.input_map(x)

    def step_projected(self, xp: Tensor, h: Tensor, c: Tensor) -> tuple[Tensor, Tensor]:
        """One step from a pre-projected input ``xp`` [B, 4H]."""
        z = torch.addmm(xp, h, self.recurrent_map.weight.t())
        cand, gate_in, gate_forget, gate_out = z.chunk(4, dim=1)
        c_new = c * torch.sigmoid(gate_forget + 1.0) + torch.tanh(cand) * torch.sigmoid(gate_in)
        return torch.tanh(c_new) * torch.sigmoid(gate_out), c_new

    def forward(self, x: Tensor, h: Tensor, c: Tensor) -> tuple[Tensor, Tensor]:
        return self.step_projected(self.project_inputs(x), h, c)
