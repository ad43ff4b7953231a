"""ONNX export and policy bundles (training side: needs torch, onnx, safetensors).

- :func:`export_onnx` — the single-step ONNX graph (inputs obs/obs_<key>, state, dt) with the card embedded.
- :func:`save_bundle` / :func:`load_policy` — write / rebuild a policy bundle.
- :func:`update_bundle_card` — put evaluation results into a bundle's card and ONNX
  metadata without re-tracing the graph.
- :func:`card_from_policy` — a validated :class:`~liquidcontrol.runtime.card.PolicyCard`.
"""

from liquidcontrol.export.bundle import (
           card_from_policy,
           load_policy,
           save_bundle,
           update_bundle_card,
)
from liquidcontrol.export.onnx_export import export_onnx, read_embedded_card

__all__ = ["card_from_policy", "export_onnx", "load_policy", "read_embedded_card", "save_bundle",
           "update_bundle_card"]
