"""bfloat16 passes: the nets' insides change precision, nothing around them does."""

import pytest
import torch
from torch import nn

from auditor.erasing import erase_backdoor
from auditor.loading import Classifier, load_model
from auditor.precision import bfloat16_is_fast, nets_in, pass_dtype
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
