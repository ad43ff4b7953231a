"""Reduced-precision copies of the single-step ONNX graph: fp16 and int8.

Both keep the graph's signature (float32 ``obs`` / ``state`` / ``dt`` in,
float32 ``action`` / ``state_out`` out), so the runtime, the card and the
ROS node do not change; only the arithmetic inside does:

- ``fp16``: every float32 weight and constant becomes float16 and the graph
  computes in float16 (a Cast after each input, one before each output).
  Where onnxruntime's CPU provider has no float16 kernel it casts around the
  node itself; GPUs and TensorRT run float16 natively.
- ``int8``: onnxruntime's dynamic quantisation
  (:func:`onnxruntime.quantization.quantize_dynamic`): the weights of the
  matrix products are stored as int8, activations are quantised per call.

Either must pass the closed-loop ONNX check against the float32 torch policy
with its own action tolerance (:data:`liquidcontrol.evaluate.onnx_check.PRECISION_TOLERANCE`).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from liquidcontrol.errors import LiquidControlError
from liquidcontrol.runtime.card import ONNX_PRECISIONS

FLOAT, HALF = TensorProto.FLOAT, TensorProto.FLOAT16


def to_fp16(model: onnx.ModelProto) -> onnx.ModelProto:
    """A float16 copy of ``model`` with the same float32 inputs and outputs."""
    out = onnx.ModelProto()
    out.CopyFrom(model)
    graph = out.graph
    del graph.value_info[:]  # intermediate types change; onnxruntime infers them again
    inputs = {i.name: f"{i.name}__fp16" for i in graph.input if i.type.tensor_type.elem_type == FLOAT}
    outputs = {o.name: f"{o.name}__fp16" for o in graph.output if o.type.tensor_type.elem_type == FLOAT}
    for init in graph.initializer:
        if init.data_type == FLOAT:
            init.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(init).astype(np.float16), init.name))
    for node in graph.node:
        # An output may also feed other nodes (state_out feeds the action head): they read the fp16 twin.
        node.input[:] = [inputs.get(x, outputs.get(x, x)) for x in node.input]
        node.output[:] = [outputs.get(x, x) for x in node.output]
        for attr in node.attribute:
            if node.op_type == "Cast" and attr.name == "to" and attr.i == FLOAT:
                attr.i = HALF
            elif attr.type == onnx.AttributeProto.TENSOR and attr.t.data_type == FLOAT:
                attr.t.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(attr.t).astype(np.float16), attr.t.name))
            elif attr.type == onnx.AttributeProto.GRAPH:
                raise LiquidControlError(f"fp16 export does not handle sub-graphs (node {node.name or node.op_type}).")
    cast_in = [helper.make_node("Cast", [name], [twin], to=HALF, name=f"{name}_to_fp16") for name, twin in inputs.items()]
    cast_out = [helper.make_node("Cast", [twin], [name], to=FLOAT, name=f"{name}_to_fp32") for name, twin in outputs.items()]
    nodes = [*cast_in, *graph.node, *cast_out]
    del graph.node[:]
    graph.node.extend(nodes)
    onnx.checker.check_model(out)
    return out


def to_int8(model: onnx.ModelProto) -> onnx.ModelProto:
    """Dynamic int8 quantisation (onnxruntime) of ``model``'s matrix products; metadata kept."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with tempfile.TemporaryDirectory(prefix="lc_int8_") as tmp:
        src, dst = os.path.join(tmp, "fp32.onnx"), os.path.join(tmp, "int8.onnx")
        onnx.save(model, src)
        quantize_dynamic(src, dst, weight_type=QuantType.QInt8, op_types_to_quantize=["MatMul", "Gemm"])
        out = onnx.load(dst)
    if not any(n.op_type in ("MatMulInteger", "DynamicQuantizeLinear", "DynamicQuantizeMatMul") for n in out.graph.node):
        raise LiquidControlError("int8 quantisation found no matrix product to quantise in this graph.")
    return out


def convert_onnx_file(path: str | Path, precision: str) -> None:
    """Rewrite the ONNX file at ``path`` in ``precision`` (``fp32`` leaves it as is); the
    metadata (the embedded card) is carried over."""
    if precision not in ONNX_PRECISIONS:
        raise LiquidControlError(f"unknown ONNX precision {precision!r}; expected one of {', '.join(ONNX_PRECISIONS)}.")
    if precision == "fp32":
        return
    model = onnx.load(str(path))
    converted = to_fp16(model) if precision == "fp16" else to_int8(model)
    del converted.metadata_props[:]
    converted.metadata_props.extend(model.metadata_props)
    onnx.save(converted, str(path))
