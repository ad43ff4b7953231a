"""Liquid policies: :class:`CfCPolicy` and :class:`LTCPolicy`.

Both take the elapsed time into account: the cell sees ``dt / control_period``
(1 at the nominal rate). With ``wiring="autoncp"`` the core is wired by
``AutoNCP(units, act_dim, sparsity, seed)`` and the motor neurons are the
outputs; with ``wiring="fc"`` it is fully connected (CfC: a linear projection
of all units to ``act_dim``; LTC: the first ``act_dim`` neurons, affine mapped).
The base class then applies the per-dimension affine action map.

State layouts (``[B, state_dim]``):

- CfC wired: all neurons in layer order ``[inter | command | motor]``
  (``units``); CfC fc: the ``units`` hidden values.
- LTC: all neuron potentials in neuron-id order (motor first; ``units``).
- ``mixed_memory=True`` appends the LSTM memory cell: ``[h | c]`` (``2 * units``).
"""

from __future__ import annotations

from typing import Any

from torch import Tensor

from liquidcontrol.errors import LiquidControlError

from .base import RecurrentPolicy
from .cfc import CfC
from .ltc import LTC
from .wirings import FullyConnected, make_wiring

WIRINGS = ("autoncp", "fc")


def _check_wiring(wiring: str) -> str:
    if wiring not in WIRINGS:
        raise LiquidControlError(f"unknown wiring {wiring!r}; expected one of {list(WIRINGS)}.")
    return wiring


class _LiquidPolicy(RecurrentPolicy):
    """Delegates to a sequence model with ``step`` / ``sequence`` on a flat state."""

    model: CfC | LTC

    @property
    def state_dim(self) -> int:
        return self.model.flat_state_size

    def _core_step(self, x: Tensor, state: Tensor, t: Tensor) -> tuple[Tensor, Tensor]:
        return self.model.step(x, state, t)

    def _core_sequence(self, x: Tensor, state: Tensor, t: Tensor, keep: Tensor | None
                       ) -> tuple[Tensor, Tensor]:
        return self.model.sequence(x, state, t, keep)


class CfCPolicy(_LiquidPolicy):
    """Closed-form continuous-time policy (kind ``"cfc-ncp"`` or ``"cfc"``).

    ``backbone_*`` and ``activation`` apply to ``wiring="fc"`` only (a wired
    CfC has no backbone, as in ncps); ``backbone_layers=0`` drops the backbone.
    ``mask_time_heads`` (wired only, off = ncps behaviour) masks the time
    heads with the wiring too.
    """

    def __init__(self, obs_dim: int, act_dim: int, units: int = 12, wiring: str = "autoncp",
                 sparsity: float = 0.5, seed: int = 22222, mode: str = "default",
                 mixed_memory: bool = False, backbone_units: int = 32, backbone_layers: int = 1,
                 backbone_dropout: float = 0.0, activation: str = "lecun_tanh",
                 mask_time_heads: bool = False, control_period: float = 0.05) -> None:
        super().__init__(obs_dim, act_dim, control_period)
        self.wiring = _check_wiring(wiring)
        self.kind = "cfc-ncp" if wiring == "autoncp" else "cfc"
        self.hparams: dict[str, Any] = {
            "units": int(units), "wiring": wiring, "sparsity": float(sparsity), "seed": int(seed),
            "mode": mode, "mixed_memory": bool(mixed_memory),
            "backbone_units": int(backbone_units), "backbone_layers": int(backbone_layers),
            "backbone_dropout": float(backbone_dropout), "activation": activation,
            "mask_time_heads": bool(mask_time_heads)}
        if wiring == "autoncp":
            self.model = CfC(obs_dim, make_wiring("autoncp", units, act_dim, sparsity, seed),
                             mode=mode, mixed_memory=mixed_memory,
                             mask_time_heads=mask_time_heads)
        else:
            self.model = CfC(obs_dim, units, proj_size=act_dim, mode=mode,
                             mixed_memory=mixed_memory, activation=activation,
                             backbone_units=backbone_units, backbone_layers=backbone_layers,
                             backbone_dropout=backbone_dropout)

    def config(self) -> dict[str, Any]:
        return {**super().config(), **self.hparams}


class LTCPolicy(_LiquidPolicy):
    """Liquid time-constant policy (kind ``"ltc-ncp"`` or ``"ltc"``)."""

    def __init__(self, obs_dim: int, act_dim: int, units: int = 12, wiring: str = "autoncp",
                 sparsity: float = 0.5, seed: int = 22222, mixed_memory: bool = False,
                 ode_unfolds: int = 6, control_period: float = 0.05) -> None:
        super().__init__(obs_dim, act_dim, control_period)
        self.wiring = _check_wiring(wiring)
        self.kind = "ltc-ncp" if wiring == "autoncp" else "ltc"
        self.hparams: dict[str, Any] = {
            "units": int(units), "wiring": wiring, "sparsity": float(sparsity), "seed": int(seed),
            "mixed_memory": bool(mixed_memory), "ode_unfolds": int(ode_unfolds)}
        if wiring == "autoncp":
            circuit = make_wiring("autoncp", units, act_dim, sparsity, seed)
        else:
            if not 1 <= act_dim <= units:
                raise LiquidControlError(
                    f"a fully connected LTC needs act_dim <= units, got {act_dim} > {units}.")
            circuit = FullyConnected(units, act_dim, erev_init_seed=seed)
        self.model = LTC(obs_dim, circuit, mixed_memory=mixed_memory, ode_unfolds=ode_unfolds)

    def config(self) -> dict[str, Any]:
        return {**super().config(), **self.hparams}
