"""Fused DHBE objectives: a Triton kernel for CUDA and a PyTorch reference for everything else,
side by side in one module per objective, behind one autograd Function each."""

from .logit_distance import logit_distance, trigger_objective
from .student_objective import student_objective
from .total_variation import total_variation
from .trigger_paste import trigger_paste


def generator_objective(s, t, images, tv_l2_weight: float, tv_l1_weight: float = 0.0,
                        disagreement_weight: float = 1.0):
    """-w · mean|S(x) - T(x)| + the total-variation prior on the generator's images x."""
    return (logit_distance(s, t, -disagreement_weight)
            + total_variation(images, tv_l2_weight, tv_l1_weight))


def feature_objective(clean, triggered, weight: float):
    """w · mean|φ(x ⊕ p) - sg(φ(x))| / sg(mean|φ(x)|) on B × F features: divided by their own
    size, so that one weight fits nets whose features differ in scale."""
    scale = clean.detach().abs().mean().clamp_min(1e-6)
    return logit_distance(triggered / scale, clean.detach() / scale, weight)


__all__ = ["feature_objective", "generator_objective", "logit_distance", "student_objective",
           "total_variation", "trigger_objective", "trigger_paste"]
