"""DHBE, data-free holistic backdoor erasing: the training loop.

The frozen teacher T is the suspect model; the student S starts as a copy of it. Per outer
iteration, after the warm-up:

1. student, `student_steps` times: x from G's last few batches (`ImagePool`, with T(x) kept
   from the generator step), triggered x ⊕ p from the trigger search;
   minimise mean|S(x) - T(x)| + λ · mean|S(x ⊕ p) - sg(S(x))|, over all images but a share of
   those the teacher gives the suspect class (`find_suspect`, once, when the warm-up ends)
2. image generator G: each image drawn for a class, minimise T's cross-entropy on that class
   plus a total-variation prior, minus `disagreement_weight` · mean|S(G(z)) - T(G(z))| (the
   paper's adversarial term; 0 by default, see the README)
3. trigger search, on images from the same pool: maximise, for each trigger family, the rise
   in probability of the one class its triggers raise most across the batch (`class_rise`; the
   paper's mean|S(x) - S(x ⊕ p)| with `targeted_search` off)

Each step is a function that returns its named losses as tensors on the device; the loop
reads them to the host a few iterations at a time (`FigureReader`) and hands them to a callback.
The run ends at `recipe.iterations`, or earlier once the student has settled (`stopping`).
"""

from __future__ import annotations

import copy
import dataclasses
import time
from typing import Callable

import torch
from torch import nn

from .channel_reset import reset_outlier_channels
from .checkpoint import Checkpoint
from .image_pool import ImagePool
from .input_spec import InputSpec
from .kernels import (feature_objective, generator_objective, logit_distance, student_objective,
                      total_variation, trigger_objective)
from .memory_layout import channels_last_wanted, to_channels_last_checked
from .penultimate import head_of, penultimate_features
from .precision import nets_in, pass_dtype, ran_in
from .recipe import Recipe
from .stopping import REACHED_CAP
from .synthesis import ImageGenerator, jittered, restyled
from .triggers import TriggerSearch, default_patch_size

Split = Callable[[torch.Tensor], tuple[torch.Tensor, ...]]   # a batch into its families' shares


@dataclasses.dataclass
class Players:
    teacher: nn.Module
    student: nn.Module
    generator: ImageGenerator
    triggers: TriggerSearch
    spec: InputSpec
    anchor: TriggerSearch | None = None   # the search as it stood when the warm-up ended
    suspect: int | None = None            # the class the warm-up's triggers push images to, if any
    suspect_rise: float | None = None     # how far they raised the top class, see find_suspect
    pool: ImagePool | None = None         # the generator step's recent images; None: draw fresh
    reset_channels: int = 0               # the student's channels re-drawn, see channel_reset


@dataclasses.dataclass
class ErasureResult:
    student: nn.Module
    history: list[dict]               # one dict of named figures per iteration
    seconds: float
    trigger_families: list[str]
    final: dict                       # closing figures on fresh synthetic images, see final_figures
    resumed_from: int = 0             # the iteration a checkpoint let the run start at
    stop_reason: str = REACHED_CAP    # why the run ended, see stopping

    @property
    def iterations(self) -> int:
        return len(self.history)

    @property
    def restart(self) -> dict | None:
        """{iteration, agreement, lr_student} if the student was restarted (student_restart)."""
        return next(({"iteration": i + 1, **f["restart"]} for i, f in enumerate(self.history)
                     if "restart" in f), None)


def erase_backdoor(teacher: nn.Module, spec: InputSpec, recipe: Recipe, *,
                   device: torch.device | str = "cpu",
                   on_iteration: Callable[[int, dict], None] | None = None,
                   inspect: Callable[[int, nn.Module], dict | None] | None = None,
                   checkpoint: Checkpoint | None = None) -> ErasureResult:
    """`inspect(iteration, student)` may add figures the caller measures itself (the benchmarks
    score the student on held-out labelled images); it runs after each iteration's updates.
    With a `checkpoint`, a saved state is resumed and the state is saved as it says; a resumed
    run ends exactly as an uninterrupted one would."""
    recipe = recipe.for_input(spec)
    torch.manual_seed(recipe.seed)
    players = _make_players(teacher, spec, recipe, device)
    optimizers = _make_optimizers(players, recipe)
    history, first = [], 0
    saved = checkpoint.load(device) if checkpoint is not None else None
    if saved is not None:
        history, first = restore_run_state(saved, players, optimizers)
    start = time.perf_counter()
    dtype = pass_dtype(recipe.precision, device)
    with nets_in(dtype, device, [players.teacher, players.student, players.generator]):
        stop_reason = _run(players, optimizers, recipe, history, first, on_iteration, inspect,
                           checkpoint)
        final = final_figures(players, recipe)
    final["precision"] = ran_in(dtype)
    players.student.requires_grad_(False)
    return ErasureResult(players.student, history, time.perf_counter() - start,
                         players.triggers.describe(), final, first, stop_reason or REACHED_CAP)


def _run(players, optimizers, recipe, history, first, on_iteration, inspect, checkpoint):
    """The outer iterations from `first`; returns why the run stopped early, or None."""
    reader = FigureReader(history, on_iteration)
    stop, stop_reason = recipe.stop_rule(), None
    restart = recipe.restart_rule()
    for iteration in range(first, recipe.iterations):
        figures = {}
        _set_learning_rates(optimizers, recipe, iteration)
        if iteration == recipe.warmup_iterations:
            figures.update(end_warmup(players, recipe))
        if iteration >= recipe.warmup_iterations:
            for _ in range(recipe.student_steps):
                figures.update(student_step(players, optimizers["student"], recipe))
        warming = iteration < recipe.warmup_iterations
        for _ in range(recipe.warmup_generator_steps if warming else 1):
            figures.update(generator_step(players, optimizers["generator"], recipe))
        figures.update(trigger_step(players, optimizers["triggers"], recipe))
        if inspect is not None:
            figures.update(inspect(iteration, players.student) or {})
        saving = checkpoint is not None and checkpoint.due(iteration + 1, recipe.iterations)
        checking = iteration + 1 < recipe.iterations and stop.due(iteration + 1)
        restarting = restart.due(iteration + 1)
        reader.add(iteration, figures,
                   now=saving or checking or restarting or iteration + 1 == recipe.iterations)
        if restarting and (agreement := restart.agreement_if_lost(history)) is not None:
            history[-1]["restart"] = restart_student(players, optimizers, recipe, agreement)
        if checking and (stop_reason := stop.reason(history)):
            # before the save: a checkpoint of the iteration the run stopped at would resume
            # past the stop; the last one saved replays up to it and stops there again
            break
        if saving:
            checkpoint.save(run_state(players, optimizers, history, iteration + 1))
    return stop_reason


class FigureReader:
    """Moves each iteration's figures to the host and into `history`, a few iterations at a
    time, then calls `on_iteration` for each in order.

    Reading a figure on a CUDA device (`.item()`) waits for every queued kernel: read at every
    step, the ten or so figures of an iteration would stall the host between its passes. So they
    stay tensors until `every` iterations have gathered or `seconds` have passed since the last
    read (a slow model still reports each iteration), and are read in one transfer. On the CPU
    nothing waits, and this costs a stack of a few scalars."""
    every = 10
    seconds = 1.0

    def __init__(self, history: list[dict], on_iteration: Callable[[int, dict], None] | None):
        self.history, self.on_iteration = history, on_iteration
        self.pending: list[tuple[int, dict]] = []
        self.last_read = time.perf_counter()

    def add(self, iteration: int, figures: dict, *, now: bool = False) -> None:
        self.pending.append((iteration, figures))
        if now or len(self.pending) >= self.every or \
                time.perf_counter() - self.last_read >= self.seconds:
            self.read()

    def read(self) -> None:
        tensors = [v for _, f in self.pending for v in f.values() if isinstance(v, torch.Tensor)]
        values = iter(torch.stack([t.detach().float().reshape(()) for t in tensors]).tolist()
                      if tensors else [])
        for iteration, figures in self.pending:
            figures = {k: next(values) if isinstance(v, torch.Tensor) else v
                       for k, v in figures.items()}
            self.history.append(figures)
            if self.on_iteration is not None:
                self.on_iteration(iteration, figures)
        self.pending.clear()
        self.last_read = time.perf_counter()


def run_state(p: Players, optimizers: dict, history: list[dict], iteration: int) -> dict:
    """Everything the loop's next iteration depends on, as tensors and plain values."""
    return {
        "iteration": iteration, "history": history,
        "student": p.student.state_dict(), "generator": p.generator.state_dict(),
        "triggers": p.triggers.state_dict(),
        "anchor": p.anchor.state_dict() if p.anchor is not None else None,
        "suspect": p.suspect, "suspect_rise": p.suspect_rise,
        "pool": p.pool.state_dict() if p.pool is not None else None,
        "optimizers": {name: opt.state_dict() for name, opt in optimizers.items()},
        "rng": {"cpu": torch.get_rng_state(),
                "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else []},
    }


def restore_run_state(state: dict, p: Players, optimizers: dict) -> tuple[list[dict], int]:
    """The inverse of run_state, on freshly made players; returns the history and the
    iteration to continue from."""
    p.student.load_state_dict(state["student"])
    p.generator.load_state_dict(state["generator"])
    p.triggers.load_state_dict(state["triggers"])
    if state["anchor"] is not None:
        p.anchor = copy.deepcopy(p.triggers).eval().requires_grad_(False)
        p.anchor.load_state_dict(state["anchor"])
    p.suspect, p.suspect_rise = state["suspect"], state["suspect_rise"]
    if p.pool is not None:
        p.pool.load_state_dict(state["pool"])
    for name, opt in optimizers.items():
        opt.load_state_dict(state["optimizers"][name])
    torch.set_rng_state(state["rng"]["cpu"].cpu())
    if state["rng"]["cuda"]:
        torch.cuda.set_rng_state_all([s.cpu() for s in state["rng"]["cuda"]])
    return list(state["history"]), state["iteration"]


@torch.no_grad()
def end_warmup(p: Players, recipe: Recipe) -> dict:
    """Once the generators have trained: probe patch positions, freeze the search as the anchor,
    guess the suspect class, in that order (the anchor carries the probe's stamps, and the
    suspect is read from the anchor), then aim the families that wait for it."""
    if recipe.patch_probe:
        # the generator's images at the end of the warm-up, not before: probed at its midpoint
        # the patterns raised some class nearly everywhere and the planted corner was missed
        images = p.generator.sample(min(recipe.probe_images, recipe.batch_size))
        p.triggers.probe(p.teacher, images, screen_images=recipe.probe_screen_images)
    if recipe.anchor_share > 0:
        p.anchor = copy.deepcopy(p.triggers).eval().requires_grad_(False)
    found = find_suspect(p, recipe) if recipe.suspect_rise > 0 else {}
    for search in (p.triggers, p.anchor):
        if search is not None:
            search.focus(p.suspect)
    return found


@torch.no_grad()
def synthetic_batch(p: Players, batch: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Normalised synthetic images and the teacher's logits on them: from the pool when there
    is one (filled first if the generator step has not run yet), else freshly drawn."""
    if p.pool is None or not len(p.pool):
        x = p.spec.normalise(p.generator.sample(batch))
        if p.pool is None:
            return x, p.teacher(x)
        p.pool.add(x, p.teacher(x))
    return p.pool.draw(batch)


def student_step(p: Players, optimizer, recipe: Recipe) -> dict:
    with torch.no_grad():
        x, t = synthetic_batch(p, recipe.batch_size)
        if recipe.restyle_share:
            x, where = restyled(x, recipe.restyle_share, p.spec)
            t = t.clone()
            t[where] = p.teacher(x[where])
        x_triggered = p.triggers(x)
        if p.anchor is not None:
            # triggers found against the untouched teacher stay in play: the live search drifts
            # away from them once the student ignores them, and distillation would teach them back.
            # The live half is the tail of one split of the whole batch: the families late in the
            # order (blend, additive, noise) at twice their share, the 1.5x patch at half, none of
            # the 1x patch. The recipe was tuned on that; splitting each half between all families
            # left the SIG backdoors on the zoo's ResNet far more (benchmarks/results/sweeps/anchor-split/)
            anchored = int(recipe.anchor_share * x.shape[0])
            x_triggered = torch.cat([p.anchor(x[:anchored]), x_triggered[anchored:]])
        x_added = p.triggers.extra_rows(x[:recipe.grating_rows]) if recipe.grating_rows else None
    p.student.requires_grad_(True)
    with penultimate_features(p.student, enabled=bool(recipe.feature_weight)) as features:
        s = p.student(x)
        s_added_clean = s[:len(x_added)] if x_added is not None else None
        if p.suspect is not None:
            # when the suspect is the target, the generator draws it with the trigger: distilling
            # on all of those images teaches the erased backdoor back
            keep = (t.argmax(1) != p.suspect) | (torch.rand(len(t), device=t.device) < recipe.suspect_share)
            if keep.any():
                s, t, x_triggered = s[keep], t[keep], x_triggered[keep]
                if features:
                    features[0] = features[0][keep]
                if x_added is not None:
                    added_kept = keep[:len(x_added)]
                    x_added, s_added_clean = x_added[added_kept], s_added_clean[added_kept]
        s_triggered = p.student(x_triggered)
    loss = student_objective(s, t, s_triggered, recipe.reg_weight)
    if features:
        loss = loss + feature_objective(features[0], features[1], recipe.feature_weight)
    if x_added is not None and len(x_added):
        # the same penalty per image as the batch's own triggered images
        loss = loss + logit_distance(p.student(x_added), s_added_clean.detach(),
                                     recipe.reg_weight * len(x_added) / len(s))
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if recipe.tether_weight:
        _tether(p.student, p.teacher, recipe.tether_weight)
    optimizer.step()
    p.student.requires_grad_(False)
    with torch.no_grad():
        return {"student": loss.detach(),
                "distill": (s - t).abs().mean(),
                "trigger_shift": (s_triggered - s).abs().mean(),
                "agreement": (s.argmax(1) == t.argmax(1)).float().mean()}


def generator_step(p: Players, optimizer, recipe: Recipe) -> dict:
    pixels, labels = p.generator.sample_labelled(recipe.batch_size)
    if recipe.image_jitter:
        # the pool keeps the rolled images: each is labelled by the teacher as it was read
        pixels = jittered(pixels, recipe.image_jitter)
    x = p.spec.normalise(pixels)
    t = p.teacher(x)
    # Class by class inversion keeps the synthetic set balanced. An entropy bonus on the batch-mean
    # prediction is not enough: on a blend-backdoored teacher every noise-like start image is the
    # target class, the softmax saturates and the bonus has no gradient.
    class_loss = nn.functional.cross_entropy(t, labels)
    if recipe.disagreement_weight:
        prior = generator_objective(p.student(x), t, pixels, recipe.tv_weight,
                                    disagreement_weight=recipe.disagreement_weight)
    else:
        # without the paper's adversarial term the student's forward and backward pass (a
        # twentieth of an iteration) would only add zeros to the generator's gradient
        prior = total_variation(pixels, recipe.tv_weight)
    if recipe.image_l2_weight:
        # DeepInversion's l2 prior, in the model's normalised space: left alone the generator
        # drew bright images (pixel mean 0.74 on a digits VGG, real digits 0.31), and a student
        # made blind to a trigger there still followed it on real, dark images (sweeps.md)
        prior = prior + recipe.image_l2_weight * x.pow(2).mean()
    if recipe.input_moments_weight:
        prior = prior + recipe.input_moments_weight * input_moments(x)
    loss = prior + recipe.class_weight * class_loss
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    if p.pool is not None:
        p.pool.add(x, t)
    mean_prediction = t.detach().softmax(1).mean(0)
    entropy = -(mean_prediction * mean_prediction.clamp_min(1e-12).log()).sum()
    return {"generator": loss.detach(), "class_loss": class_loss.detach(),
            "class_entropy": entropy.detach()}


def input_moments(x: torch.Tensor) -> torch.Tensor:
    """How far the batch's per-channel mean and std stray from 0 and 1 in the normalised space.

    DeepInversion matches every BatchNorm layer's batch statistics to its running ones; exported
    models have theirs folded away (sweeps.md), but the input normalisation is such a layer
    whose statistics every model states: the mean and std its makers measured on their data.
    Unlike the l2 prior, which pulls every pixel to the mean and so also shrinks the contrast,
    this leaves images free to be dark with bright strokes, as digits are. A normalisation
    with a zero mean states nothing: Recipe.for_input turns the prior off there."""
    mean, std = x.mean((0, 2, 3)), x.std((0, 2, 3))
    return (mean.pow(2) + (std - 1).pow(2)).mean()


def trigger_step(p: Players, optimizer, recipe: Recipe) -> dict:
    with torch.no_grad():
        x = synthetic_batch(p, recipe.batch_size)[0]
        if recipe.restyle_share:
            x = restyled(x, recipe.restyle_share, p.spec)[0]
        s = p.student(x)
    s_triggered = p.student(p.triggers(x))
    if recipe.targeted_search:
        loss = -class_rise(s, s_triggered, p.triggers.split)
    else:
        loss = trigger_objective(s, s_triggered)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    p.triggers.observe((s_triggered.detach() - s).abs().mean(1))
    return {"trigger": loss.detach()}


def class_rise(s: torch.Tensor, s_triggered: torch.Tensor, split: Split) -> torch.Tensor:
    """For each family's share of the batch, how far its triggers raise the probability of the
    one class they raise most, on average over the share; the mean over families.

    A backdoor sends nearly every image to its target. The untargeted shift mean|S(x ⊕ p) - S(x)|
    also rewards perturbations that push each image to its own nearest class: on the BadNets
    digits model the blend and additive families it found flipped 68-78 % of the teacher's
    predictions on synthetic images, 0-9 % of them to the target, and the student was then
    penalised for following the teacher there. Scored this way they flip to the target (blend
    family: 91 %), and across 8 runs (4 attacks, 2 seeds) mean ASR fell from 22.8 to 16.8 %
    and mean ACC drop from 2.6 to 2.2 points (benchmarks/results/sweeps.md)."""
    return family_rises(s, s_triggered, split).amax(1).mean()


def family_rises(out: torch.Tensor, out_triggered: torch.Tensor, split: Split) -> torch.Tensor:
    """Families × classes: the mean rise of each class's probability over each family's share of
    the batch (the search splits one batch between its families, in order)."""
    rise = out_triggered.softmax(1) - out.softmax(1)
    return torch.stack([share.mean(0) for share in split(rise) if share.shape[0]])


@torch.no_grad()
def find_suspect(p: Players, recipe: Recipe) -> dict:
    """The class the search's triggers (and the probe's strongest stamps) raise most on the
    teacher, if it rises by `suspect_rise`.

    Not a backdoor detector. On 16 × 16 digits a single family or stamp often raises some class
    by 0.8-0.9 on synthetic images with no backdoor behind it (a 4 × 4 stamp draws a stroke that
    reads as a 5; a digits model trained without poison gave 0.86), so this names a class nearly
    always, and on 4 of the quality benchmark's 12 backdoored runs it was not the target. Sparing
    only half of that class's images keeps a wrong guess cheap. The average over families named
    the target on five runs checked where this rule missed three, but gave the sinusoid's only
    0.16 against a clean model's 0.41, and measured worse as the default
    (benchmarks/results/sweeps.md). A class the scan of the original suspects replaces the guess
    (`recipe.scan_suspect`); the guess is still returned."""
    x = p.spec.normalise(p.generator.sample(recipe.batch_size))
    search = p.anchor if p.anchor is not None else p.triggers
    rises = [family_rises(p.teacher(x), p.teacher(search(x)), search.split)]
    # a family's stamps take a share of its images only; the probe measured them on all
    rises += [f.stamp_rise[None] for f in search.families
              if getattr(f, "stamp_rise", None) is not None]
    rise = torch.cat(rises).amax(0)
    top = int(rise.argmax())
    p.suspect = top if rise[top] >= recipe.suspect_rise else None
    p.suspect_rise = rise[top].item()
    guess = {"suspect_class": top, "suspect_rise": p.suspect_rise, "suspect": p.suspect is not None}
    if recipe.scan_suspect is not None:
        # the scan of the original named a class at its significance level, where this names the
        # class the triggers raise most on synthetic images: on two held-out Fashion ResNets it was
        # the bag, which a small square sends real images of every class to on that net, clean or
        # not, while the scan named the target (benchmarks/results/sweeps/scan-suspect/)
        p.suspect, p.suspect_rise = recipe.scan_suspect, rise[recipe.scan_suspect].item()
    return guess


@torch.no_grad()
def _tether(student: nn.Module, teacher: nn.Module, weight: float) -> None:
    """Adds the gradient of weight/2 · ||θ_S - θ_T||² (L2-SP). Synthetic images pin the student
    down only where they lie, and real images lie elsewhere; the tether keeps the student near
    the teacher there too. Off by default: the two runs measured were no better on balance
    (benchmarks/results/sweeps.md)."""
    for mine, theirs in zip(student.parameters(), teacher.parameters()):
        if mine.grad is not None:
            mine.grad.add_(mine - theirs, alpha=weight)


@torch.no_grad()
def final_figures(p: Players, recipe: Recipe) -> dict:
    """The suspect class (None if no class stood out), how far the student still follows the
    teacher, and how often the last triggers the search found flip each network's prediction, on
    a fresh synthetic batch."""
    p.generator.eval()
    x = p.spec.normalise(p.generator.sample(recipe.batch_size))
    x_triggered = p.triggers(x)
    t, s = p.teacher(x).argmax(1), p.student(x).argmax(1)
    return {"suspect_class": p.suspect, "suspect_rise": p.suspect_rise,
            "reset_channels": p.reset_channels,
            # whether --feature-weight found a Linear head to read (reported only when set)
            **({"feature_head": head_of(p.student) is not None} if recipe.feature_weight else {}),
            "agreement": (s == t).float().mean().item(),
            "teacher_trigger_flips": (p.teacher(x_triggered).argmax(1) != t).float().mean().item(),
            "student_trigger_flips": (p.student(x_triggered).argmax(1) != s).float().mean().item()}


def _make_players(teacher, spec, recipe, device) -> Players:
    teacher = teacher.to(device).eval().requires_grad_(False)
    to_channels_last_checked(teacher, spec, device)
    # The student stays in eval mode: BatchNorm statistics of synthetic images would replace the
    # teacher's, and dropout would make S(x) and S(x ⊕ p) disagree for no reason.
    student = copy.deepcopy(teacher).eval()
    generator = ImageGenerator(spec.shape, num_classes=spec.num_classes,
                               width=recipe.generator_width).to(device).train()
    if channels_last_wanted():
        generator.to(memory_format=torch.channels_last)
    patch = recipe.patch_size or default_patch_size(spec)
    sizes = sorted({min(round(patch * k), spec.height, spec.width) for k in recipe.patch_scales})
    triggers = TriggerSearch.build(spec, patch_sizes=sizes, blend_alpha=recipe.blend_alpha,
                                   additive_epsilon=recipe.additive_epsilon,
                                   clamp=recipe.clamp_triggers,
                                   stamp_every=recipe.stamp_every,
                                   noise_alpha=recipe.noise_alpha,
                                   patch_weight=recipe.patch_weight,
                                   noise_weight=recipe.noise_weight,
                                   grating_weight=recipe.grating_weight,
                                   grating_rows=recipe.grating_rows).to(device).train()
    pool = ImagePool(recipe.pool_batches) if recipe.pool_batches else None
    # after the generator and the search are drawn, so that a model with no outliers runs on the
    # random numbers it ran on before the reset existed
    reset = reset_outlier_channels(student, recipe.reset_deviations) if recipe.reset_deviations else 0
    return Players(teacher, student, generator, triggers, spec, pool=pool, reset_channels=reset)


def _make_optimizers(p: Players, recipe: Recipe) -> dict:
    optimizers = {
        "student": _student_optimizer(p, recipe.lr_student),
        "generator": torch.optim.Adam(p.generator.parameters(), lr=recipe.lr_generator),
        "triggers": torch.optim.Adam(p.triggers.parameters(), lr=recipe.lr_trigger),
    }
    for opt in optimizers.values():
        for group in opt.param_groups:
            group["initial_lr"] = group["lr"]
    return optimizers


def restart_student(p: Players, optimizers: dict, recipe: Recipe, agreement: float) -> dict:
    """The student again a copy of the teacher (outlier channels re-drawn as at the start), its
    optimizer fresh at a tenth of the learning rate it had; returns what was done, for the report."""
    with torch.no_grad():
        p.student.load_state_dict(p.teacher.state_dict())
    p.reset_channels = reset_outlier_channels(p.student, recipe.reset_deviations) \
        if recipe.reset_deviations else 0
    rate = optimizers["student"].param_groups[0]["initial_lr"] / 10
    optimizers["student"] = _student_optimizer(p, rate)
    return {"agreement": agreement, "lr_student": rate}


def _student_optimizer(p: Players, lr: float) -> torch.optim.Optimizer:
    optimizer = torch.optim.SGD(p.student.parameters(), lr=lr, momentum=0.9, weight_decay=5e-4)
    optimizer.param_groups[0]["initial_lr"] = lr
    return optimizer


def _set_learning_rates(optimizers: dict, recipe: Recipe, iteration: int) -> None:
    """×0.1 at each of `lr_decay_at` (fractions of the run), for every player; the student's
    rises from 0 over `student_ramp` iterations after the warm-up."""
    factor = 0.1 ** sum(iteration >= f * recipe.iterations for f in recipe.lr_decay_at)
    # The first student steps meet the strongest triggers the warm-up found, at full λ: at full
    # lr they knocked clean accuracy down to 75-85 % (blend, sinusoid) and the distillation that
    # then repaired it taught part of the backdoor back.
    ramp = min(1.0, (iteration - recipe.warmup_iterations + 1) / recipe.student_ramp) \
        if recipe.student_ramp else 1.0
    for name, opt in optimizers.items():
        for group in opt.param_groups:
            group["lr"] = group["initial_lr"] * factor * (ramp if name == "student" else 1.0)
