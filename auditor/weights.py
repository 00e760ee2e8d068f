"""Trained weights written back into the original ONNX graph.

The cleanest drop-in replacement is the original graph itself, untouched but for its weights:
same operators, opset, names, layout and element types. onnx2torch builds each trainable
tensor from one initializer (as is, or transposed for Gemm without transB), so before
training we find, for every parameter, the initializer it equals; after training we write the
parameter back there. If some parameter has no source, the caller falls back to re-exporting
with torch.onnx; either way the result is checked against the student in onnxruntime.
"""

from __future__ import annotations

import copy
import dataclasses

import numpy as np
import onnx
from onnx import numpy_helper
from torch import nn

_FLOAT = {onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16, onnx.TensorProto.DOUBLE}


@dataclasses.dataclass(frozen=True)
class WeightSource:
    initializer: str     # name of the initializer the parameter was built from
    transposed: bool     # the parameter is that initializer's transpose


def trace_weight_sources(net: nn.Module, model: onnx.ModelProto) -> dict[str, WeightSource]:
    """Tensor name → its initializer, for every parameter and floating buffer (BatchNorm's
    running statistics) with an unused match."""
    initializers = {i.name: numpy_helper.to_array(i).astype(np.float32)
                    for i in model.graph.initializer if i.data_type in _FLOAT}
    used, sources = set(), {}
    tensors = [*net.named_parameters(), *((n, b) for n, b in net.named_buffers() if b.is_floating_point())]
    for name, tensor in tensors:
        value = tensor.detach().cpu().float().numpy()
        for init_name, init in initializers.items():
            if init_name in used:
                continue
            if init.shape == value.shape and np.array_equal(init, value):
                sources[name] = WeightSource(init_name, False)
            elif init.ndim == 2 and init.T.shape == value.shape and np.array_equal(init.T, value):
                sources[name] = WeightSource(init_name, True)
            else:
                continue
            used.add(init_name)
            break
    return sources


def write_weights(model: onnx.ModelProto, net: nn.Module,
                  sources: dict[str, WeightSource]) -> onnx.ModelProto | None:
    """A copy of `model` with the net's parameters in place, or None if one has no source."""
    if {name for name, _ in net.named_parameters()} - set(sources):
        return None
    tensors = net.state_dict()
    model = copy.deepcopy(model)
    by_name = {i.name: i for i in model.graph.initializer}
    for name, source in sources.items():
        target = by_name[source.initializer]
        value = tensors[name].detach().cpu().numpy()
        value = value.T if source.transposed else value
        dtype = onnx.helper.tensor_dtype_to_np_dtype(target.data_type)
        target.CopyFrom(numpy_helper.from_array(np.ascontiguousarray(value).astype(dtype), target.name))
    return model
