"""Normalisation presets and the parsers of --input-shape, --mean and --std.

Kept free of torch so that the command line parses, and answers --help, without importing it.
"""

from __future__ import annotations

PRESETS = {
    "none": ((0.0,), (1.0,)),
    "mnist": ((0.1307,), (0.3081,)),
    "cifar10": ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
    "imagenet": ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
}


def parse_shape(text: str) -> tuple[int, int, int]:
    """'3x32x32' → (3, 32, 32)."""
    parts = text.lower().replace("×", "x").split("x")
    if len(parts) != 3 or not all(p.strip().isdigit() and int(p) > 0 for p in parts):
        raise ValueError(f"expected CxHxW such as 3x32x32, got {text!r}")
    return tuple(int(p) for p in parts)


def parse_floats(text: str) -> tuple[float, ...]:
    try:
        values = tuple(float(v) for v in text.replace(",", " ").split())
    except ValueError:
        raise ValueError(f"expected numbers such as 0.5,0.5,0.5, got {text!r}") from None
    if not values:
        raise ValueError("expected at least one number")
    return values
