"""Dropout before opset 10: identity at inference, which is all a classifier export needs.

A Dropout node that declares its mask output gets a module returning (x, mask of ones; before
opset 10 the mask has the input's type), so the graph's wiring, which takes output 0, keeps the
batch axis.
"""

import torch
from onnx2torch.node_converters.registry import add_converter
from onnx2torch.utils.common import OperationConverterResult, onnx_mapping_from_node
from torch import nn


class InferenceDropout(nn.Module):
    def __init__(self, with_mask: bool):
        super().__init__()
        self.with_mask = with_mask

    def forward(self, x: torch.Tensor):
        if self.with_mask:
            return x, torch.ones_like(x)
        return x


@add_converter(operation_type="Dropout", version=1)
@add_converter(operation_type="Dropout", version=6)
@add_converter(operation_type="Dropout", version=7)
def convert_dropout(node, graph) -> OperationConverterResult:
    del graph
    with_mask = len(node.output_values) > 1 and bool(node.output_values[1])
    return OperationConverterResult(torch_module=InferenceDropout(with_mask),
                                    onnx_mapping=onnx_mapping_from_node(node))
