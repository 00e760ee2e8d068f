"""Reshape-19/21, with allowzero, and a static Reshape that torch.export can trace.

onnx2torch's Reshape checks `torch.any(shape == 0)` at run time, a data-dependent branch that
torch.export (the dynamo ONNX exporter) cannot trace. When the target shape is a constant, as
exporters almost always write it, `make_reshapes_static` swaps that module for `StaticReshape`,
whose shape is plain Python ints.
"""

from __future__ import annotations

import torch
from onnx2torch.node_converters.constant import OnnxConstant
from onnx2torch.node_converters.registry import add_converter
from onnx2torch.node_converters.reshape import OnnxReshape
from onnx2torch.utils.common import OperationConverterResult, onnx_mapping_from_node
from torch import nn


class Reshape(nn.Module):
    """ONNX Reshape: 0 copies the input's dimension unless allowzero, -1 is inferred."""

    def __init__(self, allowzero: bool = False):
        super().__init__()
        self.allowzero = allowzero

    def forward(self, x: torch.Tensor, shape: torch.Tensor) -> torch.Tensor:
        return x.reshape(_resolve(x, shape.tolist(), self.allowzero))


class StaticReshape(nn.Module):
    def __init__(self, shape: list[int], allowzero: bool = False):
        super().__init__()
        self.shape, self.allowzero = list(shape), allowzero

    def forward(self, x: torch.Tensor, shape: torch.Tensor | None = None) -> torch.Tensor:
        return x.reshape(_resolve(x, self.shape, self.allowzero))


def _resolve(x: torch.Tensor, shape: list[int], allowzero: bool) -> list[int]:
    if allowzero:
        return shape
    return [x.shape[i] if d == 0 else d for i, d in enumerate(shape)]


@add_converter(operation_type="Reshape", version=19)
@add_converter(operation_type="Reshape", version=21)
def convert_reshape(node, graph) -> OperationConverterResult:
    del graph
    return OperationConverterResult(
        torch_module=Reshape(allowzero=bool(node.attributes.get("allowzero", 0))),
        onnx_mapping=onnx_mapping_from_node(node))


def make_reshapes_static(module: torch.fx.GraphModule) -> int:
    """Replace each Reshape whose shape is a constant with a StaticReshape; returns how many."""
    replaced = 0
    for node in module.graph.nodes:
        if node.op != "call_module" or len(node.args) != 2:
            continue
        reshape = module.get_submodule(node.target)
        source = node.args[1]
        if not isinstance(reshape, (OnnxReshape, Reshape)) or source.op != "call_module":
            continue
        constant = module.get_submodule(source.target)
        if not isinstance(constant, OnnxConstant):
            continue
        shape = torch.as_tensor(constant.value).tolist()
        allowzero = getattr(reshape, "allowzero", False)
        _set_submodule(module, node.target, StaticReshape(shape, allowzero))
        replaced += 1
    if replaced:
        module.recompile()
    return replaced


def _set_submodule(module: nn.Module, target: str, new: nn.Module) -> None:
    parent, _, name = target.rpartition(".")
    setattr(module.get_submodule(parent) if parent else module, name, new)
