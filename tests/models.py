"""Tiny models the tests build themselves."""

import warnings
from pathlib import Path

import torch
from torch import nn


class TinyNet(nn.Module):
    def __init__(self, channels=1, size=8, classes=4, channels_last=False):
        super().__init__()
        self.channels_last = channels_last
        self.conv = nn.Conv2d(channels, 4, 3, padding=1)
        self.fc = nn.Linear(4 * (size // 2) ** 2, classes)

    def forward(self, x):
        if self.channels_last:
            x = x.permute(0, 3, 1, 2)
        x = nn.functional.max_pool2d(torch.relu(self.conv(x)), 2)
        return self.fc(x.flatten(1))


def export(module: nn.Module, example: torch.Tensor, path: Path, *, input_name="input",
           output_names=("logits",)) -> Path:
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module.eval(), (example,), str(path), dynamo=False, opset_version=17,
                          input_names=[input_name], output_names=list(output_names),
                          dynamic_axes={input_name: {0: "batch"},
                                        **{n: {0: "batch"} for n in output_names}})
    return path


def tiny_onnx(tmp_path: Path, **kwargs) -> Path:
    torch.manual_seed(0)
    net = TinyNet(**kwargs)
    size = 8
    c = kwargs.get("channels", 1)
    example = torch.zeros(1, size, size, c) if kwargs.get("channels_last") else torch.zeros(1, c, size, size)
    return export(net, example, tmp_path / "tiny.onnx")


def quadrant_onnx(tmp_path: Path) -> Path:
    """A TinyNet that answers which quadrant of the image is brightest: its answers spread over
    the 4 classes, so a student that collapsed to one class cannot agree with it by chance (a
    random TinyNet answers class 0 for nearly every image)."""
    net = TinyNet()
    with torch.no_grad():
        net.conv.weight.fill_(1 / 9)
        net.conv.bias.zero_()
        quadrants = torch.zeros(4, 4, 4, 4)            # class, channel, row, column after the pool
        for k, (r, c) in enumerate([(0, 0), (0, 2), (2, 0), (2, 2)]):
            quadrants[k, :, r:r + 2, c:c + 2] = 10.0
        net.fc.weight.copy_(quadrants.flatten(1))
        net.fc.bias.zero_()
    return export(net, torch.zeros(1, 1, 8, 8), tmp_path / "quadrant.onnx")


class Normalising(nn.Module):
    """The wrapper people trace: normalisation in the archive, the net a submodule."""

    def __init__(self):
        super().__init__()
        self.net = TinyNet(size=16)
        self.register_buffer("mean", torch.tensor(0.5))
        self.register_buffer("std", torch.tensor(0.25))

    def forward(self, x):
        return self.net((x - self.mean) / self.std)


class Branching(nn.Module):
    """A scripted archive with data-dependent control flow, which a trace would freeze."""

    def __init__(self):
        super().__init__()
        self.net = TinyNet(size=16)

    def forward(self, x):
        out = self.net(x)
        if bool(x.mean() > 0.5):
            out = -out
        return out


def archive(path: Path, how: str, module: nn.Module) -> Path:
    """A TorchScript archive of a 1 × 16 × 16 classifier, made by torch.jit.trace or script."""
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        made = (torch.jit.trace(module.eval(), torch.rand(2, 1, 16, 16)) if how == "trace"
                else torch.jit.script(module.eval()))
        torch.jit.save(made, str(path))
    return path


def dynamo_with_external_data(folder: Path) -> Path:
    """What torch.onnx.export writes by default since torch 2.9: model.onnx + model.onnx.data."""
    folder.mkdir(parents=True)
    torch.manual_seed(0)
    path = folder / "model.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(TinyNet().eval(), (torch.rand(2, 1, 8, 8),), str(path), dynamo=True,
                          verbose=False, dynamic_shapes=({0: torch.export.Dim("batch")},))
    if not (folder / "model.onnx.data").is_file():
        raise RuntimeError("torch.onnx no longer writes external data by default")
    return path
