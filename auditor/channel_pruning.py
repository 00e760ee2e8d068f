"""Channels a backdoor is likely to live in, found from the weights alone, and kept at zero.

After CLP (Zheng et al., "Data-free backdoor removal based on channel Lipschitzness", ECCV
2022): a trigger is a small input that moves the output a lot, so the channels that carry it
need a large gain. A convolution's output channel k has gain at most the spectral norm of its
weight W_k (in_channels × kernel area); channels whose bound stands `u` deviations above their
layer's mean are outliers. Exported models usually fold BatchNorm into the convolution before
it, so W_k already carries BatchNorm's scale, as CLP's combined bound does.

CLP zeroes those channels and stops. Here the student starts with them zeroed and keeps them
so while it is distilled: it has to re-learn what the teacher does with the channels it has
left, instead of un-learning a backdoor it was handed.
"""

from __future__ import annotations

import torch
from torch import nn


def lipschitz_outliers(conv: nn.Conv2d, u: float) -> torch.Tensor:
    """Output channels whose upper Lipschitz bound is above mean + u · std of the layer's."""
    w = conv.weight.detach().float()
    bounds = torch.linalg.matrix_norm(w.reshape(w.shape[0], w.shape[1], -1), ord=2)
    return bounds > bounds.mean() + u * bounds.std()


class ChannelMask:
    """The outlier channels of every convolution with more than one output channel, zeroed in
    `net` at construction and again by `apply` (after each optimiser step: momentum, weight decay
    and the gradient would move them)."""

    def __init__(self, net: nn.Module, u: float):
        self.kept: list[tuple[torch.Tensor, torch.Tensor]] = []   # (parameter, 1 = kept)
        self.pruned = 0
        for conv in net.modules():
            if not isinstance(conv, nn.Conv2d) or conv.out_channels < 2:
                continue
            out = lipschitz_outliers(conv, u)
            if not out.any():
                continue
            self.pruned += int(out.sum())
            keep = (~out).to(conv.weight.dtype)
            self.kept.append((conv.weight, keep.view(-1, *[1] * (conv.weight.dim() - 1))))
            if conv.bias is not None:
                self.kept.append((conv.bias, keep))
        self.apply()

    @torch.no_grad()
    def apply(self) -> None:
        for param, keep in self.kept:
            param.mul_(keep.to(param.device))
