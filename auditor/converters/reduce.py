"""Reductions from opset 18 on, where `axes` moved from an attribute to an optional input.

Constant axes (what exporters write) become a static reduction; the result is the same module
onnx2torch builds for the attribute form.
"""

from onnx2torch.node_converters.reduce import OnnxReduceStaticAxes
from onnx2torch.node_converters.registry import add_converter
from onnx2torch.utils.common import OnnxMapping, OperationConverterResult, get_const_value

OPERATIONS_18 = ["ReduceL1", "ReduceL2", "ReduceLogSum", "ReduceLogSumExp", "ReduceMax", "ReduceMean",
                 "ReduceMin", "ReduceProd", "ReduceSumSquare"]


def convert_reduce(node, graph) -> OperationConverterResult:
    axes = None
    if len(node.input_values) > 1 and node.input_values[1]:
        try:
            axes = get_const_value(node.input_values[1], graph).tolist()
        except KeyError:
            raise NotImplementedError(f"{node.operation_type} with axes computed at run time") from None
    if not axes and node.attributes.get("noop_with_empty_axes", 0):
        raise NotImplementedError(f"{node.operation_type} with noop_with_empty_axes=1")
    return OperationConverterResult(
        torch_module=OnnxReduceStaticAxes(operation_type=node.operation_type, axes=axes,
                                          keepdims=node.attributes.get("keepdims", 1)),
        onnx_mapping=OnnxMapping(inputs=(node.input_values[0],), outputs=node.output_values),
    )


for _operation in OPERATIONS_18:
    add_converter(operation_type=_operation, version=18)(convert_reduce)
for _operation in ("ReduceMax", "ReduceMin"):   # 20 adds boolean inputs only
    add_converter(operation_type=_operation, version=20)(convert_reduce)
