"""Every Triton kernel against its PyTorch reference (in float64), and every reference against
autograd of the plain eager expression, so the oracle itself cannot drift.

Inputs are fresh random draws each run; the seed is in every failure message."""

import math
import os
import random

import pytest
import torch

from auditor import kernels
from auditor.kernels import _dispatch
from auditor.kernels.logit_distance import logit_distance_reference, logit_distance_triton
from auditor.kernels.student_objective import (student_objective_reference,
                                               student_objective_triton)
from auditor.kernels.total_variation import total_variation_reference, total_variation_triton
from auditor.kernels.trigger_paste import (trigger_paste_grad_reference,
                                           trigger_paste_grad_triton, trigger_paste_reference,
                                           trigger_paste_triton)

# dtype -> (atol, rtol) for results the kernel writes in that dtype
TOLERANCES = {torch.float32: (1e-6, 1e-5), torch.float16: (1e-3, 1e-3),
              torch.bfloat16: (1e-2, 1e-2)}
DTYPES = list(TOLERANCES)
LOGIT_SHAPES = [(1, 1), (3, 10), (7, 37), (5, 100), (2, 1000), (2, 5000)]   # 5000: several blocks
IMAGE_SHAPES = [(1, 1, 2, 2), (2, 3, 5, 7), (3, 1, 16, 16), (2, 3, 33, 31)]


@pytest.fixture(autouse=True)
def test_device():
    """AUDITOR_TEST_DEVICE=cuda runs every case on the GPU, on real Triton (with
    TRITON_INTERPRET=0; benchmarks/gpu_check.sh); by default tensors are on the CPU and Triton
    runs under its interpreter."""
    device = os.environ.get("AUDITOR_TEST_DEVICE", "cpu")
    previous = torch.get_default_device()
    torch.set_default_device(device)
    yield device
    torch.set_default_device(previous)


@pytest.fixture
def seed():
    value = random.randrange(2**31)
    torch.manual_seed(value)
    return value


@pytest.fixture
def poisoned(monkeypatch):
    """Outputs the kernels allocate start as NaN, so an element a kernel forgets fails."""
    empty, empty_like = torch.empty, torch.empty_like

    def nan_empty(*args, **kwargs):
        out = empty(*args, **kwargs)
        return out.fill_(math.nan) if out.is_floating_point() else out

    def nan_empty_like(*args, **kwargs):
        out = empty_like(*args, **kwargs)
        return out.fill_(math.nan) if out.is_floating_point() else out

    monkeypatch.setattr(torch, "empty", nan_empty)
    monkeypatch.setattr(torch, "empty_like", nan_empty_like)


def close(got, want, dtype, seed, what):
    atol, rtol = TOLERANCES[dtype]
    torch.testing.assert_close(got.double(), want.double(), atol=atol, rtol=rtol,
                               msg=lambda m: f"{what} (seed {seed}): {m}")


def rand_logits(shape, dtype, n=3):
    # logits on a coarse grid make exact ties (sign 0) likely, so that case is exercised too
    return [(torch.randn(shape) * 4).round().div(2).to(dtype) if i == 0 else
            torch.randn(shape).to(dtype) for i in range(n)]


# ---- Triton vs reference -------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", LOGIT_SHAPES)
def test_student_objective_kernel(shape, dtype, seed, poisoned):
    s, t, p = rand_logits(shape, dtype)
    t = torch.where(torch.rand(shape) < 0.2, s, t)   # ties between s and t
    got = student_objective_triton(s, t, p, 0.3)
    want = student_objective_reference(s.double(), t.double(), p.double(), 0.3)
    close(got[0], want[0], torch.float32, seed, "loss")
    for g, w, name in zip(got[1:], want[1:], ("grad_s", "grad_s_pert")):
        assert g.dtype == dtype
        close(g, w, dtype, seed, name)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", LOGIT_SHAPES)
def test_logit_distance_kernel(shape, dtype, seed, poisoned):
    a, b = rand_logits(shape, dtype, 2)
    got = logit_distance_triton(a, b, -1.0)
    want = logit_distance_reference(a.double(), b.double(), -1.0)
    close(got[0], want[0], torch.float32, seed, "loss")
    close(got[1], want[1], dtype, seed, "grad_a")
    close(got[2], want[2], dtype, seed, "grad_b")


def test_logit_kernels_take_strided_rows(seed, poisoned):
    wide = torch.randn(6, 30)
    a, b = wide[:, :10], wide[:, 10:20]          # row stride 30, column stride 1
    got = logit_distance_triton(a, b, 1.0)
    want = logit_distance_reference(a.double(), b.double(), 1.0)
    close(got[1], want[1], torch.float32, seed, "grad_a")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", IMAGE_SHAPES)
def test_total_variation_kernel(shape, dtype, seed, poisoned):
    x = torch.rand(shape).to(dtype)
    loss, grad = total_variation_triton(x, 0.7, 0.2)
    want_loss, want_grad = total_variation_reference(x.double(), 0.7, 0.2)
    close(loss, want_loss, torch.float32, seed, "loss")
    assert grad.dtype == dtype
    close(grad, want_grad, dtype, seed, "grad")


def test_total_variation_kernel_on_constant_images(poisoned):
    x = torch.full((2, 3, 4, 5), 0.5)     # every norm is 0: the gradient must be 0, not NaN
    loss, grad = total_variation_triton(x, 1.0, 1.0)
    assert loss.item() == 0 and torch.equal(grad, torch.zeros_like(x))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,size", [((1, 1, 4, 4), 4), ((3, 3, 16, 16), 3),
                                        ((2, 1, 13, 9), 5), ((4, 3, 32, 32), 5)])
def test_trigger_paste_kernels(shape, size, dtype, seed, poisoned):
    b, c, h, w = shape
    x = torch.randn(shape).to(dtype)
    patch = torch.randn(b, c, size, size).to(dtype)
    rows, cols = torch.randint(0, h - size + 1, (b,)), torch.randint(0, w - size + 1, (b,))
    inv_std = torch.rand(c) + 0.5
    got = trigger_paste_triton(x, patch, rows, cols, inv_std)
    want = trigger_paste_reference(x.double(), patch.double(), rows, cols, inv_std.double())
    close(got, want, dtype, seed, "pasted")
    g = torch.randn(shape).to(dtype)
    close(trigger_paste_grad_triton(g, rows, cols, size, inv_std),
          trigger_paste_grad_reference(g.double(), rows, cols, size, inv_std.double()),
          dtype, seed, "patch gradient")


# ---- the references against autograd of the eager expressions --------------------------------

def eager_grads(fn, *inputs):
    leaves = [x.detach().double().requires_grad_(True) for x in inputs]
    loss = fn(*leaves)
    return loss.detach(), torch.autograd.grad(loss, leaves, allow_unused=True)


@pytest.mark.parametrize("shape", LOGIT_SHAPES[:5])
def test_student_reference_is_the_dhbe_formula(shape, seed):
    s, t, p = rand_logits(shape, torch.float64)
    lam = 0.1
    # DEVELOPERS.md: loss_S = L1(S(x), T(x)) + λ · L1(S(x ⊕ p), S(x).detach())
    l1 = torch.nn.functional.l1_loss
    loss, (gs, _, gp) = eager_grads(lambda s, t, p: l1(s, t) + lam * l1(p, s.detach()), s, t, p)
    ref = student_objective_reference(s, t, p, lam)
    close(ref[0], loss, torch.float32, seed, "loss")
    close(ref[1], gs, torch.float32, seed, "grad_s")
    close(ref[2], gp, torch.float32, seed, "grad_s_pert")


def test_logit_distance_reference_is_eager_l1(seed):
    a, b = rand_logits((6, 11), torch.float64, 2)
    loss, (ga, gb) = eager_grads(lambda a, b: -torch.nn.functional.l1_loss(a, b), a, b)
    ref = logit_distance_reference(a, b, -1.0)
    for r, w in zip(ref, (loss, ga, gb)):
        close(r, w, torch.float32, seed, "logit distance")


def eager_tv(x, l2_weight, l1_weight):
    """DeepInversion's image prior, its l2 and l1 parts, as eager PyTorch."""
    d = [x[:, :, :, :-1] - x[:, :, :, 1:], x[:, :, :-1, :] - x[:, :, 1:, :],
         x[:, :, 1:, :-1] - x[:, :, :-1, 1:], x[:, :, :-1, :-1] - x[:, :, 1:, 1:]]
    return l2_weight * sum(torch.norm(v) for v in d) + l1_weight * sum(v.abs().mean() for v in d)


@pytest.mark.parametrize("shape", IMAGE_SHAPES)
def test_total_variation_reference_is_eager_tv(shape, seed):
    x = torch.rand(shape, dtype=torch.float64)
    loss, (grad,) = eager_grads(lambda x: eager_tv(x, 0.7, 0.2), x)
    ref_loss, ref_grad = total_variation_reference(x, 0.7, 0.2)
    close(ref_loss, loss, torch.float32, seed, "loss")
    close(ref_grad, grad, torch.float32, seed, "grad")


def test_paste_reference_is_pixel_space_addition(seed):
    b, c, h, w, size = 3, 3, 10, 12, 4
    mean, std = torch.rand(c, dtype=torch.float64), torch.rand(c, dtype=torch.float64) + 0.2
    pixels = torch.rand(b, c, h, w, dtype=torch.float64)
    patch = torch.randn(b, c, size, size, dtype=torch.float64)
    rows, cols = torch.randint(0, h - size + 1, (b,)), torch.randint(0, w - size + 1, (b,))
    norm = lambda px: (px - mean.view(1, -1, 1, 1)) / std.view(1, -1, 1, 1)   # noqa: E731

    def eager(patch):   # DEVELOPERS.md: norm(norm⁻¹(x) + p), the patch padded into place
        padded = torch.zeros(b, c, h, w, dtype=torch.float64)
        padded = torch.stack([torch.nn.functional.pad(
            patch[i], (cols[i], w - size - cols[i], rows[i], h - size - rows[i])) for i in range(b)])
        return norm(pixels + padded)

    x = norm(pixels)
    torch.testing.assert_close(trigger_paste_reference(x, patch, rows, cols, 1 / std), eager(patch),
                               msg=lambda m: f"seed {seed}: {m}")
    g = torch.randn(b, c, h, w, dtype=torch.float64)
    (want,) = torch.autograd.grad(eager(patch.requires_grad_(True)), patch, g)
    torch.testing.assert_close(trigger_paste_grad_reference(g, rows, cols, size, 1 / std), want)


# ---- the autograd Functions: dispatch, backward rescaling, errors -----------------------------

@pytest.mark.parametrize("backend", ["reference", "triton"])
def test_functions_backprop_scaled_losses(backend, monkeypatch, seed):
    """Loss × 3 takes backward's rescaling path; both backends agree with eager autograd."""
    monkeypatch.setenv(_dispatch.BACKEND_ENV, backend)
    s, t, p = (torch.randn(4, 9, requires_grad=True) for _ in range(3))
    f, f_pert = (torch.randn(3, 13, requires_grad=True) for _ in range(2))
    x = torch.rand(2, 3, 6, 5, requires_grad=True)
    patch = torch.randn(2, 3, 2, 2, requires_grad=True)
    rows, cols, inv_std = torch.tensor([0, 4]), torch.tensor([3, 1]), torch.tensor([2.0, 1.0, 0.5])
    total = (3 * kernels.student_objective(s, t, p, 0.2)
             + 3 * kernels.generator_objective(s, t, x, 0.5, 0.1)
             + 3 * kernels.trigger_objective(s, p)
             + 3 * kernels.feature_objective(f, f_pert, 0.7)
             + kernels.trigger_paste(x, patch, rows, cols, inv_std).square().sum())
    got = torch.autograd.grad(total, [s, t, p, f, f_pert, x, patch], allow_unused=True)

    l1 = torch.nn.functional.l1_loss
    leaves = [v.detach().clone().requires_grad_(True) for v in (s, t, p, f, f_pert, x, patch)]
    es, et, ep, ef, ef_pert, ex, epatch = leaves
    eager = (3 * (l1(es, et.detach()) + 0.2 * l1(ep, es.detach()))
             + 3 * (-l1(es, et) + eager_tv(ex, 0.5, 0.1))
             - 3 * l1(es, ep)
             + 3 * 0.7 * l1(ef_pert, ef.detach()) / ef.detach().abs().mean()
             + trigger_paste_reference(ex, epatch, rows, cols, inv_std).square().sum())
    want = torch.autograd.grad(eager, leaves, allow_unused=True)
    assert got[3] is None and want[3] is None       # the clean features are the fixed target
    for g, w, name in zip(got, want, ("s", "t", "s_pert", "features", "triggered features",
                                      "images", "patch")):
        if name != "features":
            close(g, w, torch.float32, seed, f"grad {name}")


def test_dispatch_follows_the_device_and_the_override(monkeypatch):
    cpu = torch.zeros(1)
    monkeypatch.delenv(_dispatch.BACKEND_ENV, raising=False)
    assert not _dispatch.use_triton(cpu)
    monkeypatch.setenv(_dispatch.BACKEND_ENV, "triton")
    assert _dispatch.use_triton(cpu)
    monkeypatch.setenv(_dispatch.BACKEND_ENV, "reference")
    assert not _dispatch.use_triton(cpu)
    monkeypatch.setenv(_dispatch.BACKEND_ENV, "fast")
    with pytest.raises(ValueError, match="AUDITOR_KERNELS"):
        _dispatch.use_triton(cpu)


@pytest.mark.parametrize("backend", ["reference", "triton"])
def test_empty_batches_are_refused(backend, monkeypatch):
    monkeypatch.setenv(_dispatch.BACKEND_ENV, backend)
    empty = torch.zeros(0, 10)
    with pytest.raises(ValueError, match="empty"):
        kernels.student_objective(empty, empty, empty, 0.1)
    with pytest.raises(ValueError, match="empty"):
        kernels.trigger_objective(empty, empty)
    with pytest.raises(ValueError, match="empty"):
        kernels.total_variation(torch.zeros(0, 3, 4, 4))
    with pytest.raises(ValueError, match="empty"):
        kernels.trigger_paste(torch.zeros(0, 1, 4, 4), torch.zeros(0, 1, 2, 2),
                              torch.zeros(0, dtype=torch.long), torch.zeros(0, dtype=torch.long),
                              torch.ones(1))


def test_paste_refuses_a_patch_outside_the_image():
    with pytest.raises(ValueError, match="does not fit"):
        kernels.trigger_paste(torch.zeros(1, 1, 4, 4), torch.zeros(1, 1, 2, 2),
                              torch.tensor([3]), torch.tensor([0]), torch.ones(1))
