"""Operator versions whose semantics match a version onnx2torch already converts.

Newer versions here only widen the accepted element types (int4, float8, bfloat16, ...), and
the legacy versions differ only in attributes that classifiers leave at their defaults, so the
existing converter is registered again under the new (op, version).
"""

from onnx2torch.node_converters.registry import add_converter, get_converter

# (operator, version to add, version whose converter has the same semantics)
ALIASES = [
    ("Flatten", 1, 9), ("Flatten", 21, 13),
    ("MaxPool", 1, 8),
    ("Shape", 19, 15), ("Shape", 21, 15),
    ("Cast", 19, 13), ("Cast", 21, 13),
    ("Identity", 19, 16), ("Identity", 21, 16),
    ("Transpose", 21, 13),
    ("Unsqueeze", 21, 13),
    ("Constant", 19, 13), ("Constant", 21, 13),
    ("ConstantOfShape", 20, 9), ("ConstantOfShape", 21, 9),
    ("Equal", 19, 13),
]

for operation, version, same_as in ALIASES:
    add_converter(operation_type=operation, version=version)(get_converter(operation, same_as))
