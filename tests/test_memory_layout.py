"""Channels-last layout: taken where a net answers as before, refused where it would not."""

import pytest
import torch
from torch import nn

from auditor.memory_layout import LAYOUT_ENV, to_channels_last


class RawView(nn.Module):
    """Flattens with .view, which needs the contiguous layout it was written for."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.fc = nn.Linear(8 * 6 * 6, 4)

    def forward(self, x):
        h = self.conv(x)
        return self.fc(h.view(h.shape[0], -1))


class Permuted(nn.Module):
    """Reads the channels-last layout as if it were the flat one, giving other answers."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)

    def forward(self, x):
        h = self.conv(x)
        flat = torch.as_strided(h, (h.shape[0], h[0].numel()), (h[0].numel(), 1))
        return flat[:, :5]


def _conv_net():
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                         nn.Flatten(), nn.Linear(8 * 6 * 6, 4)).eval()


def _example():
    return torch.randn(4, 3, 6, 6)


def test_a_plain_conv_net_moves_and_answers_as_before():
    net, x = _conv_net(), _example()
    before = net(x).detach()
    assert to_channels_last(net, x)
    assert net[0].weight.is_contiguous(memory_format=torch.channels_last)
    assert not net[0].weight.is_contiguous()
    torch.testing.assert_close(net(x).detach(), before, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("make", [RawView, Permuted], ids=["raises", "answers-differently"])
def test_a_net_that_reads_raw_memory_stays_as_loaded(make):
    net, x = make().eval(), _example()
    before = net(x).detach()
    assert not to_channels_last(net, x)
    assert net.conv.weight.is_contiguous()
    torch.testing.assert_close(net(x).detach(), before)


def test_the_environment_keeps_every_net_as_loaded(monkeypatch):
    monkeypatch.setenv(LAYOUT_ENV, "contiguous")
    net = _conv_net()
    assert not to_channels_last(net, _example())
    assert net[0].weight.is_contiguous()
    monkeypatch.setenv(LAYOUT_ENV, "nhwc")
    with pytest.raises(ValueError, match=LAYOUT_ENV):
        to_channels_last(net, _example())


def _conv_weights(net):
    return [m.weight for m in net.modules() if isinstance(m, nn.Conv2d)]


@pytest.mark.parametrize("layout", ["channels_last", "contiguous"])
def test_a_run_trains_its_nets_in_the_layout_asked_for(tmp_path, monkeypatch, layout):
    from auditor.erasing import erase_backdoor
    from auditor.loading import Classifier, load_model
    from auditor.recipe import Recipe

    from .models import tiny_onnx

    monkeypatch.setenv(LAYOUT_ENV, layout)
    loaded = load_model(tiny_onnx(tmp_path, channels=3))   # RGB: the two layouts differ
    teacher = Classifier(loaded.net, loaded.spec, 0)
    recipe = Recipe(iterations=2, warmup_iterations=1, batch_size=8, student_steps=1)
    student = erase_backdoor(teacher, loaded.spec, recipe).student
    wanted, other = torch.channels_last, torch.contiguous_format
    if layout == "contiguous":
        wanted, other = other, wanted
    weights = _conv_weights(teacher) + _conv_weights(student)
    assert weights and all(w.is_contiguous(memory_format=wanted) for w in weights)
    assert not any(w.is_contiguous(memory_format=other) for w in weights)
