"""ONNX graph rewrites before conversion, for what converters alone cannot fix.

Each pass takes and returns a ModelProto and changes nothing the model computes for the inputs
it accepted before: explicit pads instead of auto_pad, a dynamic batch axis for graphs exported
with batch 1, Reshape's allowzero dropped where the shape has no zero, an Identity of an
initializer made an initializer of its own.
"""

from __future__ import annotations

import math

import numpy as np
import onnx
from onnx import numpy_helper

from .errors import ModelFileError, UnsupportedOperatorError, first_line

_POOLS_AND_CONVS = {"Conv", "MaxPool", "AveragePool", "LpPool"}
_QUANTIZED = {"QuantizeLinear", "DequantizeLinear", "QLinearConv", "QLinearMatMul",
              "DynamicQuantizeLinear", "ConvInteger", "MatMulInteger"}


def normalise(model: onnx.ModelProto, path) -> onnx.ModelProto:
    refuse_quantized(model, path)
    initializer_identities(model)
    try:
        model = onnx.shape_inference.infer_shapes(model, strict_mode=False)
    except Exception as err:   # the graph contradicts its own declared shapes or types
        raise ModelFileError(f"{path}: not a valid ONNX model ({first_line(err)})") from None
    explicit_pads(model)
    drop_needless_allowzero(model)
    dynamic_batch(model)
    del model.graph.value_info[:]     # stale once the batch axis is symbolic
    return model


def refuse_quantized(model: onnx.ModelProto, path) -> None:
    """Quantized graphs are refused rather than converted.

    Erasing trains the student's weights; a quantized model's weights are integers with fixed
    scales, and writing a QDQ model back at the old scales after training would either clip the
    new weights or silently change accuracy, and re-calibrating needs the data users lack. The
    user who has the float model cleans that and quantizes the result with their usual tooling.
    """
    found = sorted({n.op_type for n in model.graph.node if n.op_type in _QUANTIZED})
    if found:
        raise UnsupportedOperatorError(
            f"{path}: quantized model ({', '.join(found)}); auditor cleans float models: clean the "
            f"float model and quantize the result")


def explicit_pads(model: onnx.ModelProto) -> None:
    shapes = _known_shapes(model)
    initializers = {i.name: i for i in model.graph.initializer}
    for node in model.graph.node:
        if node.op_type not in _POOLS_AND_CONVS:
            continue
        attrs = {a.name: a for a in node.attribute}
        mode = attrs["auto_pad"].s.decode() if "auto_pad" in attrs else "NOTSET"
        if mode == "NOTSET":
            continue
        dims = shapes.get(node.input[0])
        kernel = _kernel_shape(node, attrs, initializers)
        if mode != "VALID" and (dims is None or kernel is None or any(d is None for d in dims[2:])):
            continue   # left to the converter, which names the problem
        spatial = len(kernel) if kernel else len(dims) - 2
        strides = list(attrs["strides"].ints) if "strides" in attrs else [1] * spatial
        dilations = list(attrs["dilations"].ints) if "dilations" in attrs else [1] * spatial
        begin, end = [], []
        for i in range(spatial):
            if mode == "VALID":
                total = 0
            else:
                size = dims[2 + i]
                out = math.ceil(size / strides[i])
                total = max((out - 1) * strides[i] + (kernel[i] - 1) * dilations[i] + 1 - size, 0)
            small, large = total // 2, total - total // 2
            begin.append(small if mode != "SAME_LOWER" else large)
            end.append(large if mode != "SAME_LOWER" else small)
        node.attribute.remove(attrs["auto_pad"])
        if "pads" in attrs:
            node.attribute.remove(attrs["pads"])
        node.attribute.append(onnx.helper.make_attribute("pads", begin + end))


def drop_needless_allowzero(model: onnx.ModelProto) -> None:
    constants = _constant_values(model)
    for node in model.graph.node:
        if node.op_type != "Reshape":
            continue
        for attr in list(node.attribute):
            shape = constants.get(node.input[1])
            if attr.name == "allowzero" and attr.i == 1 and shape is not None and 0 not in shape:
                node.attribute.remove(attr)


def initializer_identities(model: onnx.ModelProto) -> None:
    """Each Identity whose input is an initializer becomes a copy of it under the output's name.

    torch.onnx's TorchScript exporter stores equal tensors once and hands out the others through
    Identity nodes: in an untrained net, or one whose BatchNorm shifts are all zero, the biases
    that folding BatchNorm gives every convolution of one width are equal. onnx2torch's Conv
    reads weight and bias from initializers only, so such a file did not load. Apart, each copy
    is trained on its own, as the layers it feeds were separate layers before the export."""
    graph = model.graph
    initializers = {i.name: i for i in graph.initializer}
    outputs = {o.name for o in graph.output}
    kept = []
    for node in graph.node:
        if node.op_type != "Identity" or node.input[0] not in initializers or node.output[0] in outputs:
            kept.append(node)
            continue
        copy = onnx.TensorProto()
        copy.CopyFrom(initializers[node.input[0]])
        copy.name = node.output[0]
        graph.initializer.append(copy)
        if model.ir_version < 4:   # before IR 4 every initializer is also a graph input
            graph.input.append(onnx.helper.make_tensor_value_info(
                copy.name, copy.data_type, list(copy.dims)))
    if len(kept) < len(graph.node):
        del graph.node[:]
        graph.node.extend(kept)


def dynamic_batch(model: onnx.ModelProto) -> None:
    """A graph exported with batch 1 often bakes the 1 into Reshape targets; make it -1."""
    graph = model.graph
    initializer_names = {i.name for i in graph.initializer}
    inputs = [i for i in graph.input if i.name not in initializer_names]
    if len(inputs) != 1:
        return
    batch_dim = inputs[0].type.tensor_type.shape.dim
    if not batch_dim or not batch_dim[0].HasField("dim_value") or batch_dim[0].dim_value != 1:
        return
    shapes = _known_shapes(model)
    constants = _constant_values(model)
    for node in graph.node:
        if node.op_type != "Reshape":
            continue
        target, out = constants.get(node.input[1]), shapes.get(node.output[0])
        if target and target[0] == 1 and out and out[0] == 1 and all(d is not None for d in out[1:]):
            new_name = f"{node.input[1]}__dynamic_batch"
            graph.initializer.append(numpy_helper.from_array(
                np.array([-1, *out[1:]], dtype=np.int64), new_name))
            if model.ir_version < 4:   # before IR 4 every initializer is also a graph input
                graph.input.append(onnx.helper.make_tensor_value_info(
                    new_name, onnx.TensorProto.INT64, [len(out)]))
            node.input[1] = new_name
    for value in [inputs[0], *graph.output]:
        dims = value.type.tensor_type.shape.dim
        if dims and dims[0].HasField("dim_value") and dims[0].dim_value == 1:
            dims[0].dim_param = "batch"


def _known_shapes(model: onnx.ModelProto) -> dict:
    shapes = {}
    for value in [*model.graph.input, *model.graph.value_info, *model.graph.output]:
        tensor = value.type.tensor_type
        if tensor.HasField("shape"):
            shapes[value.name] = [d.dim_value if d.HasField("dim_value") else None
                                  for d in tensor.shape.dim]
    return shapes


def _constant_values(model: onnx.ModelProto) -> dict:
    values = {i.name: numpy_helper.to_array(i).tolist() for i in model.graph.initializer
              if i.data_type == onnx.TensorProto.INT64 and len(i.dims) == 1}
    for node in model.graph.node:
        if node.op_type == "Constant":
            for attr in node.attribute:
                if attr.name == "value" and attr.t.data_type == onnx.TensorProto.INT64:
                    values[node.output[0]] = numpy_helper.to_array(attr.t).reshape(-1).tolist()
    return values


def _kernel_shape(node, attrs, initializers):
    if "kernel_shape" in attrs:
        return list(attrs["kernel_shape"].ints)
    if node.op_type == "Conv" and len(node.input) > 1 and node.input[1] in initializers:
        return list(initializers[node.input[1]].dims[2:])
    return None
