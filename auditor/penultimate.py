"""The student's penultimate features: the input of its last Linear layer, captured as it runs.

The logit penalty lets the student keep a backdoor's features as long as the head maps them to
the same logits on the triggers the search found; the feature penalty (`Recipe.feature_weight`)
asks for the same features under those triggers, one layer earlier (sweeps.md, "The penalty on
the student's features").
"""

from __future__ import annotations

import contextlib

import torch
from torch import nn


def head_of(model: nn.Module) -> nn.Linear | None:
    """The model's last Linear layer in module order; None when its logits come from elsewhere
    (a MatMul node, a 1×1 convolution)."""
    return next((m for m in reversed(list(model.modules())) if isinstance(m, nn.Linear)), None)


@contextlib.contextmanager
def penultimate_features(model: nn.Module, enabled: bool = True):
    """Yields a list that gets the head's input, flattened to B × F, at each forward pass inside."""
    captured: list[torch.Tensor] = []
    head = head_of(model) if enabled else None
    if head is None:
        yield captured
        return
    hook = head.register_forward_pre_hook(lambda module, args: captured.append(args[0].flatten(1)))
    try:
        yield captured
    finally:
        hook.remove()
