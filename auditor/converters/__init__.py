"""Our extensions of onnx2torch's converter registry, one module per operator family.

onnx2torch 1.5.15 (its last release) stops at opset 17 for many operators and lacks some
legacy versions. Each module here registers converters with `add_converter` on import;
`register()` imports them once. Graph rewrites that a converter cannot express (explicit pads
for auto_pad, a dynamic batch axis) live in `auditor.graph_passes`.
"""

from __future__ import annotations

_registered = False


def register() -> None:
    global _registered
    if _registered:
        return
    from . import activations, aliases, dropout, reduce, reshape  # noqa: F401  (register on import)

    _registered = True
