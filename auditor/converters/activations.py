"""Gelu became an ONNX operator in opset 20 (the dynamo exporter writes it for ViTs)."""

from onnx2torch.node_converters.registry import add_converter
from onnx2torch.utils.common import OperationConverterResult, onnx_mapping_from_node
from torch import nn


@add_converter(operation_type="Gelu", version=20)
def convert_gelu(node, graph) -> OperationConverterResult:
    del graph
    approximate = node.attributes.get("approximate", "none")
    return OperationConverterResult(torch_module=nn.GELU(approximate=approximate),
                                    onnx_mapping=onnx_mapping_from_node(node))
