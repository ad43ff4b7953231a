"""Liquid time-constant (LTC) cell and the ``LTC`` sequence model.

Neuron potentials ``v`` [B, U] follow (Hasani et al. 2021)
``cm dv/dt = gleak (vleak - v) + sum_i w_ij sigmoid(sigma_ij (v_i - mu_ij)) (erev_ij - v_j)``
plus the same sum over sensory inputs. One step of elapsed time ``t``
(control periods) runs ``ode_unfolds`` fused semi-implicit Euler updates with
``dt = t / ode_unfolds``::

    v <- (cm/dt * v + gleak * vleak + sum a * erev) / (cm/dt + gleak + sum a + epsilon)

where ``a`` are the synaptic activations (masked by the wiring). As in the
ncps sequence wrapper, ``w``, ``sensory_w``, ``cm`` and ``gleak`` pass through
softplus (trainable values stay unconstrained). Inputs are mapped
``x * input_w + input_b`` and outputs are the motor neurons (ids
``0 .. M-1``) mapped ``v * output_w + output_b`` ("affine" mappings).

Parameters (names and shapes as in ``ncps.torch.LTCCell``): ``gleak, vleak,
cm`` [U]; ``w, sigma, mu, erev`` [U, U] indexed ``[src, dest]``;
``sensory_w, sensory_sigma, sensory_mu, sensory_erev`` [D, U]; buffers
``sparsity_mask`` [U, U] and ``sensory_sparsity_mask`` [D, U] (0/1);
``input_w, input_b`` [D]; ``output_w, output_b`` [M]. The state is all
neurons in neuron-id order (motor first), unlike the wired CfC's layer order.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from liquidcontrol.errors import LiquidControlError

from .cfc import ncps_call
from .memory import MixedMemoryCell
from .wirings import FullyConnected, Wiring

# ncps' initial ranges (uniform) for each parameter.
INIT_RANGES = {
    "gleak": (0.001, 1.0), "vleak": (-0.2, 0.2), "cm": (0.4, 0.6),
    "w": (0.001, 1.0), "sigma": (3.0, 8.0), "mu": (0.3, 0.8),
    "sensory_w": (0.001, 1.0), "sensory_sigma": (3.0, 8.0), "sensory_mu": (0.3, 0.8),
}


class LTCCell(nn.Module):
    """One LTC step on a built ``wiring`` (see module docstring for parameters)."""

    # registered by name in __init__
    gleak: nn.Parameter
    vleak: nn.Parameter
    cm: nn.Parameter
    sigma: nn.Parameter
    mu: nn.Parameter
    w: nn.Parameter
    sensory_sigma: nn.Parameter
    sensory_mu: nn.Parameter
    sensory_w: nn.Parameter
    sparsity_mask: Tensor
    sensory_sparsity_mask: Tensor

    def __init__(self, wiring: Wiring, in_features: int, ode_unfolds: int = 6,
                 epsilon: float = 1e-8) -> None:
        super().__init__()
        if int(ode_unfolds) < 1:
            raise LiquidControlError(f"ode_unfolds must be at least 1, got {ode_unfolds}.")
        wiring.build(in_features)
        self.units, self.sensory_size = wiring.units, int(in_features)
        self.motor_size = int(wiring.output_dim or wiring.units)
        self.ode_unfolds, self.epsilon = int(ode_unfolds), float(epsilon)
        u, d = self.units, self.sensory_size
        shapes = {"gleak": (u,), "vleak": (u,), "cm": (u,), "sigma": (u, u), "mu": (u, u),
                  "w": (u, u), "sensory_sigma": (d, u), "sensory_mu": (d, u), "sensory_w": (d, u)}
        for name, shape in shapes.items():
            low, high = INIT_RANGES[name]
            self.register_parameter(name, nn.Parameter(torch.rand(*shape) * (high - low) + low))
        adj = torch.as_tensor(np.asarray(wiring.adjacency_matrix), dtype=torch.float32)
        sens = torch.as_tensor(np.asarray(wiring.sensory_adjacency_matrix), dtype=torch.float32)
        self.erev = nn.Parameter(adj.clone())
        self.sensory_erev = nn.Parameter(sens.clone())
        self.register_buffer("sparsity_mask", adj.abs())
        self.register_buffer("sensory_sparsity_mask", sens.abs())
        self.input_w, self.input_b = nn.Parameter(torch.ones(d)), nn.Parameter(torch.zeros(d))
        self.output_w = nn.Parameter(torch.ones(self.motor_size))
        self.output_b = nn.Parameter(torch.zeros(self.motor_size))

    def masked_parameter_count(self) -> int:
        """Entries of masked synapses: w, erev, mu and sigma of every absent
        synapse (and their sensory counterparts) never reach the output."""
        return 4 * int((self.sparsity_mask == 0).sum() + (self.sensory_sparsity_mask == 0).sum())

    def _constrained(self) -> dict[str, Tensor]:
        """Positive, masked parameters; computed once per call or sequence."""
        w = F.softplus(self.w) * self.sparsity_mask
        sw = F.softplus(self.sensory_w) * self.sensory_sparsity_mask
        return {"w": w, "w_erev": w * self.erev, "sw": sw, "sw_erev": sw * self.sensory_erev,
                "cm": F.softplus(self.cm), "gleak": F.softplus(self.gleak)}

    def sensory_drive(self, x: Tensor, p: dict[str, Tensor]) -> tuple[Tensor, Tensor]:
        """Sensory numerator / denominator terms for raw inputs ``x`` [..., D]
        -> two [..., U]; independent of the state, so sequences hoist it."""
        x = x * self.input_w + self.input_b
        act = torch.sigmoid((x.unsqueeze(-1) - self.sensory_mu) * self.sensory_sigma)
        return (act * p["sw_erev"]).sum(-2), (act * p["sw"]).sum(-2)

    def solve(self, v: Tensor, num_s: Tensor, den_s: Tensor, t: Tensor | float,
              p: dict[str, Tensor]) -> Tensor:
        """``ode_unfolds`` semi-implicit Euler updates of ``v`` [B, U] over ``t``
        (float or [B, 1], control periods)."""
        cm_t = p["cm"] * (self.ode_unfolds / t)
        leak = p["gleak"] * self.vleak + num_s
        den_const = cm_t + p["gleak"] + den_s + self.epsilon
        for _ in range(self.ode_unfolds):
            act = torch.sigmoid((v.unsqueeze(-1) - self.mu) * self.sigma)  # [B, src, dest]
            num = (act * p["w_erev"]).sum(1)
            den = (act * p["w"]).sum(1)
            v = (cm_t * v + leak + num) / (den_const + den)
        return v

    def output(self, v: Tensor) -> Tensor:
        """Motor neurons (ids 0..M-1) of ``v`` [..., U] -> [..., M], affine mapped."""
        return v[..., : self.motor_size] * self.output_w + self.output_b

    def forward(self, x: Tensor, v: Tensor, t: Tensor | float = 1.0) -> tuple[Tensor, Tensor]:
        """``x`` [B, D], ``v`` [B, U], ``t`` -> (output [B, M], new state [B, U])."""
        p = self._constrained()
        v = self.solve(v, *self.sensory_drive(x, p), t, p)
        return self.output(v), v


class LTC(nn.Module):
    """LTC sequence model, ncps-style: ``LTC(input_size, units_or_wiring, ...)``.

    An int ``units`` means ``FullyConnected(units)`` (output = all units), as
    ncps. ``forward(input [B, T, D], hx=None, timespans=None) -> (output [B, T, M], hx)``
    with ``hx`` [B, U] or ``(h, c)`` with ``mixed_memory``. :meth:`step` and
    :meth:`sequence` use a flat state (``[h | c]`` with mixed memory).
    """

    def __init__(self, input_size: int, units: int | Wiring, mixed_memory: bool = False,
                 ode_unfolds: int = 6, epsilon: float = 1e-8) -> None:
        super().__init__()
        if int(input_size) < 1:
            raise LiquidControlError(f"input_size must be at least 1, got {input_size}.")
        self.input_size = int(input_size)
        wiring = units if isinstance(units, Wiring) else FullyConnected(int(units))
        self.cell = LTCCell(wiring, self.input_size, ode_unfolds, epsilon)
        self.state_size, self.output_size = self.cell.units, self.cell.motor_size
        self.memory = MixedMemoryCell(input_size, self.state_size) if mixed_memory else None

    @property
    def flat_state_size(self) -> int:
        return self.state_size * (2 if self.memory is not None else 1)

    def step(self, x: Tensor, state: Tensor, t: Tensor | float = 1.0) -> tuple[Tensor, Tensor]:
        """``x`` [B, D], flat ``state``, ``t`` float or [B, 1] -> (output [B, M], state)."""
        if self.memory is None:
            return self.cell(x, state, t)
        h, c = state.split(self.state_size, dim=1)
        h, c = self.memory(x, h, c)
        y, h = self.cell(x, h, t)
        return y, torch.cat([h, c], dim=1)

    def sequence(self, x: Tensor, state: Tensor, t: Tensor | None = None,
                 keep: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """``x`` [B, T, D], flat state, ``t`` [B, T, 1] or None (= 1), ``keep``
        [B, T, 1] (0 = reset before the step) or None -> (outputs [B, T, M], state)."""
        p = self.cell._constrained()
        num_s, den_s = self.cell.sensory_drive(x, p)  # [B, T, U], all steps at once
        xp = None if self.memory is None else self.memory.project_inputs(x)
        states = []
        for s in range(x.shape[1]):
            if keep is not None:
                state = state * keep[:, s]
            h, c = state, None
            if xp is not None:
                assert self.memory is not None  # xp is only set with a memory cell
                h, c = self.memory.step_projected(xp[:, s], *state.split(self.state_size, 1))
            h = self.cell.solve(h, num_s[:, s], den_s[:, s], 1.0 if t is None else t[:, s], p)
            states.append(h)
            state = h if c is None else torch.cat([h, c], dim=1)
        return self.cell.output(torch.stack(states, dim=1)), state

    def forward(self, input: Tensor, hx: Tensor | tuple[Tensor, Tensor] | None = None,
                timespans: Tensor | float | None = None) -> tuple[Tensor, Tensor | tuple]:
        return ncps_call(self, input, hx, timespans)
