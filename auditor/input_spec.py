"""A model's input contract: what its input tensor is and how pixels become that tensor.

Everything the tool does in pixel space (synthetic images, pasted triggers, evaluation data)
goes through `InputSpec`, so the normalisation and layout are written down once.
"""

from __future__ import annotations

import dataclasses

import torch

from .presets import PRESETS, parse_floats, parse_shape  # noqa: F401  (re-exported)

LAYOUTS = ("NCHW", "NHWC", "NHW")


@dataclasses.dataclass(frozen=True)
class InputSpec:
    channels: int                 # C; 1 for channel-less N × H × W inputs
    height: int                   # H in pixels
    width: int                    # W in pixels
    num_classes: int              # K, the length of the class-score output
    layout: str = "NCHW"          # how the model's input tensor is laid out, one of LAYOUTS
    mean: tuple[float, ...] = (0.0,)   # per-channel, on pixels in [0, 1]; one value broadcasts
    std: tuple[float, ...] = (1.0,)
    input_name: str = "input"     # the graph's input and class-score output names
    output_name: str = "output"
    input_dtype: str = "float32"  # the model's input element type (numpy name)

    def __post_init__(self):
        if self.layout not in LAYOUTS:
            raise ValueError(f"layout must be one of {LAYOUTS}, not {self.layout!r}")
        for name in ("mean", "std"):
            values = getattr(self, name)
            if len(values) not in (1, self.channels):
                raise ValueError(f"--{name} has {len(values)} values but the model has "
                                 f"{self.channels} channel(s)")
        if any(s <= 0 for s in self.std):
            raise ValueError("--std values must be positive")

    @property
    def shape(self) -> tuple[int, int, int]:
        return self.channels, self.height, self.width

    @property
    def states_statistics(self) -> bool:
        """Whether the normalisation says anything of the data. No data of pixels in [0, 1] has
        mean 0 (it would be all black), so a zero mean is a scale, not statistics: the identity
        a model gets when no --preset, --mean or --std is given, or a uint8 input's 1/255."""
        return any(m != 0 for m in self.mean)

    def mean_tensor(self, device=None) -> torch.Tensor:
        return _per_channel(self.mean, self.channels, device)

    def std_tensor(self, device=None) -> torch.Tensor:
        return _per_channel(self.std, self.channels, device)

    def normalise(self, pixels: torch.Tensor) -> torch.Tensor:
        """N × C × H × W pixels in [0, 1] → the normalised N × C × H × W the model expects."""
        mean = self.mean_tensor(pixels.device).view(1, -1, 1, 1)
        std = self.std_tensor(pixels.device).view(1, -1, 1, 1)
        return (pixels - mean) / std

    def denormalise(self, x: torch.Tensor) -> torch.Tensor:
        """The inverse of `normalise`: model inputs N × C × H × W → pixels."""
        mean = self.mean_tensor(x.device).view(1, -1, 1, 1)
        std = self.std_tensor(x.device).view(1, -1, 1, 1)
        return x * std + mean

    def clamp_to_pixels(self, x: torch.Tensor) -> torch.Tensor:
        """Normalised N × C × H × W → the nearest input whose pixels lie in [0, 1]."""
        return self.normalise(self.denormalise(x).clamp(0, 1))

    def to_layout(self, x: torch.Tensor) -> torch.Tensor:
        """N × C × H × W → the model's own layout."""
        if self.layout == "NHWC":
            return x.permute(0, 2, 3, 1)
        if self.layout == "NHW":
            return x[:, 0]
        return x

    def model_input_shape(self, batch: int) -> tuple[int, ...]:
        return tuple(self.to_layout(torch.empty(batch, *self.shape, device="meta")).shape)


def _per_channel(values, channels, device):
    t = torch.tensor(values, dtype=torch.float32, device=device)
    return t.expand(channels).contiguous() if t.numel() == 1 else t
