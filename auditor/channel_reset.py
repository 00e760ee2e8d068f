"""Channels a backdoor is likely to live in, found from the weights alone, and re-initialised.

After CLP (Zheng et al., "Data-free backdoor removal based on channel Lipschitzness", ECCV
2022): a trigger is a small input that moves the output a lot, so the channels that carry it
need a large gain. A convolution's output channel k has gain at most the spectral norm of its
weight W_k (in_channels × kernel area); channels whose bound stands `u` deviations above their
layer's mean are outliers. Exported models usually fold BatchNorm into the convolution before
it, so W_k already carries BatchNorm's scale, as CLP's combined bound does.

CLP zeroes those channels and stops. Here the student starts with them re-initialised and
distillation trains them with the rest: the student re-learns from the teacher what they did on
synthetic images, which rarely carry the trigger, instead of un-learning a backdoor it was
handed. Kept at zero through distillation instead, the same channels left the BatchNorm nets
about as clean, but a 16-32-channel CNN lost 2.6 points of accuracy to one missing channel
(benchmarks/results/sweeps.md).
"""

from __future__ import annotations

import torch
from torch import nn


def lipschitz_outliers(conv: nn.Conv2d, u: float) -> torch.Tensor:
    """Output channels whose upper Lipschitz bound is above mean + u · std of the layer's.

    With n channels no bound can stand more than (n - 1) / √n sample deviations above the mean,
    so at u = 3 a layer of fewer than 11 channels never has an outlier."""
    w = conv.weight.detach().float()
    bounds = torch.linalg.matrix_norm(w.reshape(w.shape[0], w.shape[1], -1), ord=2)
    return bounds > bounds.mean() + u * bounds.std()


@torch.no_grad()
def reset_outlier_channels(net: nn.Module, u: float) -> int:
    """Re-draws the outlier channels of every convolution with more than one output channel:
    Gaussian weights at the spread of the layer's other channels' weights (a fresh default
    init would be far smaller than weights with BatchNorm folded in), the others' mean bias.
    Returns how many channels were reset; draws random numbers only when there are some."""
    reset = 0
    for conv in net.modules():
        if not isinstance(conv, nn.Conv2d) or conv.out_channels < 2:
            continue
        out = lipschitz_outliers(conv, u)
        if not out.any() or conv.weight[~out].numel() < 2:
            continue
        conv.weight[out] = torch.randn_like(conv.weight[out]) * conv.weight[~out].std()
        if conv.bias is not None:
            conv.bias[out] = conv.bias[~out].mean()
        reset += int(out.sum())
    return reset
