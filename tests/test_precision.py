"""bfloat16 passes: the nets' insides change precision, nothing around them does."""

import pytest
import torch
from torch import nn

from auditor.erasing import erase_backdoor
from auditor.loading import Classifier, load_model
from auditor.precision import bfloat16_is_fast, nets_in, pass_dtype, slow_in_bfloat16
from auditor.recipe import Recipe

from .models import tiny_onnx


def _net():
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Flatten(),
                         nn.Linear(4 * 6 * 6, 3))


def _inner_dtypes(net):
    seen = []
    net[0].register_forward_hook(lambda module, args, out: seen.append(out.dtype))
    return seen


def test_pass_dtype_follows_the_choice_and_auto_asks_the_processor():
    assert pass_dtype("float32", "cpu") is None
    assert pass_dtype("bfloat16", "cpu") is torch.bfloat16
    assert pass_dtype("auto", "cpu") is (torch.bfloat16 if bfloat16_is_fast(torch.device("cpu"))
                                         else None)
    with pytest.raises(ValueError, match="precision"):
        pass_dtype("float16", "cpu")


def test_auto_on_a_gpu_that_only_emulates_bfloat16_stays_float32(monkeypatch):
    asked = []

    def supported(including_emulation=True):      # a T4 or V100: emulated, not native
        asked.append(including_emulation)
        return including_emulation

    monkeypatch.setattr(torch.cuda, "is_bf16_supported", supported)
    assert not bfloat16_is_fast(torch.device("cuda"))
    assert pass_dtype("auto", "cuda") is None and pass_dtype("bfloat16", "cuda") is torch.bfloat16
    assert asked == [False, False]


def test_inside_the_nets_run_bfloat16_and_hand_out_float32_with_float32_gradients():
    torch.manual_seed(0)
    net, other = _net(), _net()
    inner, other_inner = _inner_dtypes(net), _inner_dtypes(other)
    x = torch.randn(5, 1, 6, 6)
    with nets_in(torch.bfloat16, "cpu", [net]):
        out = net(x)
        other(x)
        assert not torch.is_autocast_enabled("cpu")      # only within the listed nets' passes
    assert inner == [torch.bfloat16] and other_inner == [torch.float32]
    assert out.dtype == torch.float32
    out.square().mean().backward()
    assert all(p.dtype == torch.float32 and p.grad.dtype == torch.float32 for p in net.parameters())
    with torch.no_grad():
        reference = net(x)                                  # the block is over: float32 again
    assert inner[-1] == torch.float32
    assert 0 < (out.detach() - reference).abs().max() < 0.05 * reference.abs().max()


def test_the_hooks_go_when_the_block_ends_even_after_a_failing_pass():
    net = _net()
    inner = _inner_dtypes(net)
    with pytest.raises(RuntimeError):
        with nets_in(torch.bfloat16, "cpu", [net]):
            net(torch.randn(2, 3, 6, 6))                   # wrong channel count
    assert not torch.is_autocast_enabled("cpu")
    assert not net._forward_hooks and not net._forward_pre_hooks
    net(torch.randn(2, 1, 6, 6))
    assert inner == [torch.float32]


@pytest.mark.parametrize("precision", ["float32", "bfloat16"])
def test_a_run_reports_its_precision_and_returns_a_float32_student(tmp_path, precision):
    loaded = load_model(tiny_onnx(tmp_path))
    recipe = Recipe(iterations=3, warmup_iterations=1, batch_size=8, student_steps=2,
                    precision=precision)
    result = erase_backdoor(Classifier(loaded.net, loaded.spec, 0), loaded.spec, recipe)
    assert result.final["precision"] == precision
    assert all(p.dtype == torch.float32 for p in result.student.parameters())
    assert all(not module._forward_hooks and not module._forward_pre_hooks
               for module in result.student.modules())
    assert all(type(v) is float for f in result.history for k, v in f.items()
               if k not in ("suspect_class", "suspect"))


def test_strided_depthwise_convolutions_stay_float32_within_a_bfloat16_pass():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU6(),
                        nn.Conv2d(8, 8, 3, stride=2, padding=1, groups=8),      # slow in bfloat16
                        nn.Conv2d(8, 8, 3, padding=1, groups=8),                # stride 1: not
                        nn.Conv2d(8, 8, 3, stride=2, padding=1, groups=4),      # grouped: not
                        nn.Flatten(), nn.Linear(8 * 2 * 2, 3))
    seen = {}
    for i in (0, 2, 3, 4):
        net[i].register_forward_hook(lambda module, args, out, i=i: seen.update({i: out.dtype}))
    assert [slow_in_bfloat16(m) for m in net] == [False, False, True, False, False, False, False]
    with nets_in(torch.bfloat16, "cpu", [net]):
        out = net(torch.randn(4, 1, 8, 8))
        assert not torch.is_autocast_enabled("cpu")
    assert seen == {0: torch.bfloat16, 2: torch.float32, 3: torch.bfloat16, 4: torch.bfloat16}
    out.sum().backward()
    assert out.dtype == torch.float32 and net[2].weight.grad.dtype == torch.float32
    assert all(not m._forward_pre_hooks for m in net.modules())
