"""The image generator G: noise in, synthetic pixels out.

The DFAD/DHBE generator (linear stem, upsample-conv-BN-LeakyReLU stages), with one change the
paper does not make: the output is a sigmoid, pixels in [0, 1], which the model's own
normalisation then maps to its input space. DHBE's tanh + affine-free BatchNorm output lets the
generator wander outside anything a camera could produce; on small real models that gave the
teacher images it maps almost all to one class (see the README).
"""

from __future__ import annotations

import math

import torch
from torch import nn


class ImageGenerator(nn.Module):
    """num_classes > 0 makes it class-conditional: each image is drawn for a class, which the
    generator's objective asks the teacher to recognise (see erasing.generator_step)."""

    def __init__(self, shape: tuple[int, int, int], *, latent_dim: int = 256, width: int = 128,
                 num_classes: int = 0):
        super().__init__()
        channels, height, width_px = shape
        self.shape, self.latent_dim, self.num_classes = shape, latent_dim, num_classes
        # enough ×2 upsampling stages that the stem stays at most 8 × 8 (DFAD uses 2 on CIFAR)
        stages = max(2, math.ceil(math.log2(max(height, width_px) / 8)))
        self.stem_size = (math.ceil(height / 2**stages), math.ceil(width_px / 2**stages))
        self.stem = nn.Linear(latent_dim + num_classes, width * self.stem_size[0] * self.stem_size[1])
        self.stem_norm = nn.BatchNorm2d(width)
        layers = []
        for stage in range(stages):
            out = width if stage < stages - 1 else width // 2
            layers += [nn.Upsample(scale_factor=2), nn.Conv2d(width, out, 3, padding=1, bias=False),
                       nn.BatchNorm2d(out), nn.LeakyReLU(0.2)]
            width = out
        layers += [nn.Conv2d(width, channels, 3, padding=1)]
        self.body = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = self.stem(z).view(z.shape[0], -1, *self.stem_size)
        out = self.body(self.stem_norm(h))
        return torch.sigmoid(out[..., : self.shape[1], : self.shape[2]])

    def sample(self, batch: int) -> torch.Tensor:
        return self.sample_labelled(batch)[0]

    def sample_labelled(self, batch: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Pixels, and the class each was drawn for: every class equally often."""
        device = self.stem.weight.device
        z = torch.randn(batch, self.latent_dim, device=device)
        if not self.num_classes:
            return self(z), None
        labels = torch.arange(batch, device=device) % self.num_classes
        one_hot = nn.functional.one_hot(labels, self.num_classes).to(z.dtype)
        return self(torch.cat([z, one_hot], 1)), labels


def jittered(pixels: torch.Tensor, most: int) -> torch.Tensor:
    """Each image rolled by its own random shift of at most `most` pixels down and across.

    DeepInversion's jitter: an image the teacher must read as its class at every small shift
    cannot rest on a pixel-exact adversarial pattern, the easiest way for a generator to satisfy
    a classifier, and real images are not pixel-exact either. Rolled, not padded, so no border
    of a constant value is added that the data may never have had."""
    b, c, h, w = pixels.shape
    shifts = torch.randint(-most, most + 1, (2, b, 1, 1, 1), device=pixels.device)
    rows = (torch.arange(h, device=pixels.device).view(1, 1, h, 1) - shifts[0]) % h
    cols = (torch.arange(w, device=pixels.device).view(1, 1, 1, w) - shifts[1]) % w
    return pixels.gather(2, rows.expand(b, c, h, w)).gather(3, cols.expand(b, c, h, w))


def restyled(x: torch.Tensor, share: float, spec) -> tuple[torch.Tensor, torch.Tensor]:
    """Normalised images with a random `share` of them remapped in intensity (inverted half the
    time, then raised to a random power in [0.5, 3]), and the indices of those.

    The generator's images are not the model's data: on a digits VGG they were bright (pixel
    mean 0.74, none below 0.1), where real digits are dark on 42 % of their pixels. A student
    made blind to the planted blend trigger on such images still followed it on real digits (60
    % of them); shown the same trigger on remapped images as well, 3 % (sweeps.md, "synthetic
    images unlike real ones"). The teacher labels the remapped images afresh, and that is why it
    is off by default: distilling its answers on them taught the bundled corner-patch backdoor
    back (ASR 29-76 %; with them left out of distillation it was erased, at 12 points of ACC)."""
    where = torch.randperm(len(x), device=x.device)[:int(share * len(x))]
    pixels = spec.denormalise(x[where]).clamp(0, 1)
    shape = (len(where), *[1] * (x.dim() - 1))
    invert = torch.rand(shape, device=x.device) < 0.5
    pixels = torch.where(invert, 1 - pixels, pixels)
    power = torch.empty(shape, device=x.device).uniform_(math.log(0.5), math.log(3.0)).exp()
    x = x.clone()
    x[where] = spec.normalise(pixels.clamp_min(1e-6) ** power)
    return x, where
