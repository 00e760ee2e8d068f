"""Trained weights written back into the original ONNX graph.

The cleanest drop-in replacement is the original graph itself, untouched but for its weights:
same operators, opset, names, layout and element types. onnx2torch builds each trainable
tensor from one initializer (as is, or transposed for Gemm without transB), so before
training we find, for every parameter, the initializer it equals; after training we write the
parameter back there. If some parameter has no source, the caller falls back to re-exporting
with torch.onnx; either way the result is checked against the student in onnxruntime.

Values alone are ambiguous where tensors are equal: an untrained BatchNorm net's folded biases
are all zero, and a bias matched to another node's zeros is written back there once training
has made them differ (onnxruntime then disagrees with the student, and the clean fails at its
last step). So a parameter is matched among its own node's inputs first: onnx2torch records
the values each module it builds reads and writes (`onnx_mapping`, asked for at conversion);
the node that writes them is the module's, and the initializers the modules read as inputs are
numbered, in its holder, in the order they read them.
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
    running statistics) with a match.

    An initializer that feeds several nodes becomes one tensor per node in onnx2torch; those
    parameters are tied back into one, so training keeps them equal as the graph requires.
    """
    initializers = {i.name: numpy_helper.to_array(i).astype(np.float32)
                    for i in model.graph.initializer if i.data_type in _FLOAT}
    owner: dict[str, str] = {}          # initializer → the tensor name that took it first
    sources: dict[str, WeightSource] = {}
    tensors = [*net.named_parameters(), *((n, b) for n, b in net.named_buffers() if b.is_floating_point())]
    reads = {output: set(node.input) for node in model.graph.node for output in node.output}
    held = _held_initializers(net, {i.name for i in model.graph.initializer})
    for name, tensor in tensors:
        value = tensor.detach().cpu().float().numpy()
        own = {held[name]} if name in held else _node_inputs(net, name, reads)
        matches = (_matching(initializers, [n for n in initializers if n in own], value)
                   or _matching(initializers, initializers, value))
        fresh = [m for m in matches if m[0] not in owner]
        if fresh:
            init_name, transposed = fresh[0]
            owner[init_name] = name
            sources[name] = WeightSource(init_name, transposed)
        elif matches and isinstance(tensor, nn.Parameter):
            first = owner[matches[0][0]]
            if sources[first].transposed == matches[0][1]:
                _tie(net, name, first)
    return sources


def _node_inputs(net: nn.Module, name: str, reads: dict[str, set[str]]) -> set[str]:
    """The ONNX values read by the node that built this tensor's module (found by the values it
    writes, which onnx2torch records); empty where that is not known."""
    module_name = name.rpartition(".")[0]
    mapping = getattr(net.get_submodule(module_name), "onnx_mapping", None) if module_name else None
    outputs = mapping.outputs if mapping is not None else ()
    return set().union(*(reads.get(output, set()) for output in outputs))


def _held_initializers(net: nn.Module, names: set[str]) -> dict[str, str]:
    """`initializers.onnx_initializer_K` → the ONNX initializer it holds. onnx2torch keeps the
    initializers a node reads as inputs (MatMul's, Add's) in one holder, numbered in the order
    the nodes read them, one copy per read; its modules are added in node order."""
    if getattr(net, "initializers", None) is None:
        return {}
    reads = [value for _, module in net.named_children()
             for value in getattr(getattr(module, "onnx_mapping", None), "inputs", ())
             if value in names]
    return {f"initializers.onnx_initializer_{k}": value for k, value in enumerate(reads)}


def _matching(initializers: dict[str, np.ndarray], names, value: np.ndarray) -> list[tuple[str, bool]]:
    """(name, transposed) of each of `names` whose initializer equals `value`, or its transpose."""
    return [(name, transposed) for name in names for transposed in (False, True)
            if _equal(initializers[name], value, transposed)]


def _equal(init: np.ndarray, value: np.ndarray, transposed: bool) -> bool:
    if transposed:
        return init.ndim == 2 and init.T.shape == value.shape and np.array_equal(init.T, value)
    return init.shape == value.shape and np.array_equal(init, value)


def _tie(net: nn.Module, name: str, to: str) -> None:
    module_name, _, attr = name.rpartition(".")
    setattr(net.get_submodule(module_name) if module_name else net, attr, net.get_parameter(to))


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
