"""Load ``ncps`` 1.0.1 (PyTorch) models into liquidcontrol's ``CfC`` / ``LTC``.

``cfc_from_ncps(model)`` and ``ltc_from_ncps(model)`` build our model with
the same architecture and copy the weights; the result computes the same
outputs and states (tested to 1e-5 in float32, ~1e-15 in float64) and the
same gradients. ``load_ncps_cfc`` / ``load_ncps_ltc`` copy into an existing
model. ncps is not imported here: the functions read the model's attributes.

Intentional differences from ncps (why our layout differs):

1. **Fused heads.** ncps keeps ``ff1, ff2, time_a, time_b`` as four ``Linear``
   modules; we stack them into one ``weight`` [K*n, F] / ``bias`` per layer so a
   step is one matmul. ncps' sparsity mask is a frozen ``Parameter`` [F, n]
   multiplied in every step; ours is a buffer ``mask`` [K*n, F] applied once
   per sequence (it no longer appears in ``parameters()``).
2. **Per-sample time steps.** ncps squeezes ``timespans[:, t]`` to [B] and
   broadcasts it against [B, n], which is wrong for batch > 1 (ncps issues
   #81, #83); we use [B, 1]. Both agree for batch 1 or a scalar time step.
3. **Initialisation** (matters only for fresh models): same per-head Xavier
   bound, but ``pure`` mode starts from ``w_tau = 0, A = 1`` (ncps runs
   Xavier over these [1, n] parameters too), and our backbone applies dropout
   after *every* backbone layer (ncps never after the first one).
4. **Wirings** are copied (matrices and layers), so one wiring object can be
   reused by several models (ncps #75). Optional ``mask_time_heads`` (off by
   default, so conversions match ncps) also masks the time heads (ncps #53).
5. **LTC**: only the ncps sequence-wrapper setting is supported: softplus
   positivity (``implicit_param_constraints=True``) and affine input/output
   mappings. Other settings raise ``LiquidControlError``.
6. **Call convention**: batch-first [B, T, D] input and full sequences only
   (ncps' ``return_sequences=False`` equals our ``output[:, -1]``).

State layouts are the same as ncps: wired CfC layer order
``[inter | command | motor]``, LTC neuron-id order, ``(h, c)`` with mixed memory.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from liquidcontrol.errors import LiquidControlError

from .cfc import BackboneCfC, CfC, CfCHeads, LayeredCfC
from .ltc import LTC
from .wirings import Wiring

_ACTIVATION_NAMES = {"LeCun": "lecun_tanh", "Tanh": "tanh", "ReLU": "relu", "SiLU": "silu",
                     "GELU": "gelu"}


class CopiedWiring(Wiring):
    """A built wiring with given matrices and layers (copied from another package)."""

    def __init__(self, source: Any) -> None:
        super().__init__(int(source.units))
        self.adjacency_matrix = np.asarray(source.adjacency_matrix, dtype=np.int32).copy()
        self.sensory_adjacency_matrix = np.asarray(source.sensory_adjacency_matrix,
                                                   dtype=np.int32).copy()
        self.input_dim = int(source.input_dim)
        self.output_dim = int(source.output_dim)
        self._layers = [list(source.get_neurons_of_layer(i)) for i in range(source.num_layers)]

    @property
    def num_layers(self) -> int:
        return len(self._layers)

    def get_neurons_of_layer(self, layer_id: int) -> list[int]:
        return list(self._layers[layer_id])


def _copy_heads(ours: CfCHeads, cell: Any) -> None:
    names = ["ff1"] if ours.mode == "pure" else ["ff1", "ff2", "time_a", "time_b"]
    with torch.no_grad():
        ours.weight.copy_(torch.cat([getattr(cell, n).weight for n in names]))
        ours.bias.copy_(torch.cat([getattr(cell, n).bias for n in names]))
        if ours.mode == "pure":
            ours.w_tau.copy_(cell.w_tau.reshape(-1))
            ours.A.copy_(cell.A.reshape(-1))
        if ours.has_mask and cell.sparsity_mask is not None:
            theirs = cell.sparsity_mask.to(ours.mask.dtype)  # ncps stores it [n, F]
            if not torch.equal(ours.mask[: ours.units], theirs):
                raise LiquidControlError("the wiring masks of the two models differ; "
                                         "build ours from the same wiring.")


def _backbone_spec(cell: Any) -> dict[str, Any]:
    if cell.backbone_layers == 0:
        return {"backbone_layers": 0}
    linears = [m for m in cell.backbone if isinstance(m, nn.Linear)]
    dropouts = [m.p for m in cell.backbone if isinstance(m, nn.Dropout)]
    act = type(cell.backbone[1]).__name__
    if act not in _ACTIVATION_NAMES:
        raise LiquidControlError(f"unsupported ncps backbone activation {act!r}.")
    return {"backbone_layers": len(linears), "backbone_units": linears[0].out_features,
            "backbone_dropout": dropouts[0] if dropouts else 0.0,
            "activation": _ACTIVATION_NAMES[act]}


def cfc_from_ncps(model: Any) -> CfC:
    """Our :class:`CfC` with the architecture and weights of an ``ncps.torch.CfC``."""
    cell = model.rnn_cell
    proj = None if isinstance(model.fc, nn.Identity) else model.fc.out_features
    if type(cell).__name__ == "WiredCfCCell":
        ours = CfC(int(model.input_size), CopiedWiring(model.wiring), proj_size=proj,
                   mixed_memory=model.use_mixed, mode=cell._layers[0].mode)
    else:
        ours = CfC(int(model.input_size), int(model.state_size), proj_size=proj,
                   mixed_memory=model.use_mixed, mode=cell.mode, **_backbone_spec(cell))
    load_ncps_cfc(ours, model)
    return ours.to(next(model.parameters()).dtype)


def load_ncps_cfc(ours: CfC, model: Any) -> None:
    """Copy an ``ncps.torch.CfC``'s weights into ``ours`` (same architecture)."""
    cell = model.rnn_cell
    ours.to(next(model.parameters()).dtype)
    core = ours.core
    if type(cell).__name__ == "WiredCfCCell":
        assert isinstance(core, LayeredCfC), "ours needs the same architecture (wired)"
        for layer, theirs in zip(core.head_layers(), cell._layers):
            _copy_heads(layer, theirs)
    elif cell.backbone_layers == 0:
        assert isinstance(core, LayeredCfC), "ours needs the same architecture (no backbone)"
        _copy_heads(core.head_layers()[0], cell)
    else:
        assert isinstance(core, BackboneCfC), "ours needs the same architecture (backbone)"
        linears = [m for m in cell.backbone if isinstance(m, nn.Linear)]
        for mine, theirs in zip(core.backbone, linears):
            mine.load_state_dict(theirs.state_dict())
        _copy_heads(core.heads, cell)
    if ours.memory is not None:
        ours.memory.load_state_dict(model.lstm.state_dict())
    if ours.fc is not None:
        ours.fc.load_state_dict(model.fc.state_dict())


def ltc_from_ncps(model: Any) -> LTC:
    """Our :class:`LTC` with the architecture and weights of an ``ncps.torch.LTC``."""
    cell = model.rnn_cell
    ours = LTC(int(model.input_size), CopiedWiring(model._wiring), mixed_memory=model.use_mixed,
               ode_unfolds=cell._ode_unfolds, epsilon=cell._epsilon)
    load_ncps_ltc(ours, model)
    return ours


def load_ncps_ltc(ours: LTC, model: Any) -> None:
    """Copy an ``ncps.torch.LTC``'s weights into ``ours`` (same architecture)."""
    cell = model.rnn_cell
    if not cell._implicit_param_constraints or (cell._input_mapping, cell._output_mapping) != (
            "affine", "affine"):
        raise LiquidControlError("only ncps LTCs with softplus constraints and affine "
                                 "mappings (the ncps.torch.LTC defaults) can be converted.")
    ours.to(next(model.parameters()).dtype)
    state = {}
    for key, value in model.state_dict().items():
        state[key.replace("rnn_cell.", "cell.", 1).replace("lstm.", "memory.", 1)] = value
    ours.load_state_dict(state, strict=True)
