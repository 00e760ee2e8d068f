"""The hyperparameters of a DHBE run (ours by default, the paper's on request) and of a scan.

No torch here: the command line reads the defaults for its --help."""

from __future__ import annotations

import dataclasses

from .stopping import StopRule, last_stage
from .student_restart import RestartRule


@dataclasses.dataclass(frozen=True)
class Recipe:
    iterations: int = 250             # outer iterations (the paper: 300 epochs × 50)
    warmup_iterations: int = 50       # first iterations train only the two generators
    warmup_generator_steps: int = 1   # image generator updates per warm-up iteration (1 after it)
    batch_size: int = 128
    student_steps: int = 5            # student updates per outer iteration
    lr_student: float = 0.003         # SGD, momentum 0.9, weight decay 5e-4
    lr_generator: float = 1e-3        # Adam
    lr_trigger: float = 1e-3          # Adam, every trigger family
    reg_weight: float = 0.5           # λ, weight of the trigger-consistency penalty
    tv_weight: float = 1e-4           # total-variation (l2) prior on synthetic images
    image_l2_weight: float = 0.0      # DeepInversion's l2 prior: normalised images pulled to the mean
    input_moments_weight: float = 1.0 # batch mean and std of normalised images pulled to 0 and 1
    image_jitter: int = 0             # G's images each rolled up to this many pixels before T reads them
    disagreement_weight: float = 0.0  # weight of G's adversarial term mean|S(G(z)) - T(G(z))|
    class_weight: float = 1.0         # cross-entropy of T on each image's drawn class (G's balance)
    pool_batches: int = 8             # steps other than G's draw from its last n batches (0: fresh)
    generator_width: int = 128        # G's channels (DFAD's 128); G is most of an iteration's cost
    patch_size: int | None = None     # None: 5 px on 32 px, scaled to the image
    patch_scales: tuple[float, ...] = (1.0, 1.5)   # patch families, in multiples of patch_size
    patch_weight: float = 2.0         # a patch family's share of the triggered batch, relative to the others
    blend_alpha: float = 0.15         # largest blend weight of a full-image trigger; 0 disables
    additive_epsilon: float = 0.08    # largest amplitude (pixels) of an additive trigger; 0 disables
    targeted_search: bool = True      # triggers scored by the one class they raise (else: any shift)
    patch_probe: bool = True          # fixed patterns stamped everywhere show the patches where to go
    probe_images: int = 128           # synthetic images the probe stamps (at most batch_size)
    probe_screen_images: int = 32     # every stamp first on this many of them, the strongest then on all (0: all on all)
    grating_weight: float = 0.0       # share of the grating family (suspect-raising gratings; 0: none), see triggers
    grating_rows: int = 24            # images added to each student step's triggered batch, each blending a kept grating (0: none)
    clamp_triggers: bool = False      # triggered images kept within the pixel range [0, 1]
    anchor_share: float = 0.5         # share of triggered images drawn from the warm-up's search
    stamp_every: int = 4              # every n-th patch image carries a probe stamp (0: none)
    noise_alpha: float = 0.4          # largest weight of a fresh uniform-noise blend; 0 disables
    noise_weight: float = 1.0         # the noise family's share of triggered images, relative to the others
    restyle_share: float = 0.0        # share of images remapped in intensity (synthesis.restyled; 0: none)
    suspect_rise: float = 0.5         # a class the warm-up's triggers raise this much is suspect (0: never)
    suspect_share: float = 0.5        # share of images the teacher gives the suspect kept for distillation
    lr_decay_at: tuple[float, ...] = (0.6, 0.8)   # ×0.1 at these fractions of the run
    student_ramp: int = 0             # the student's lr rises linearly over this many iterations
    feature_weight: float = 0.0       # penalty on the student's penultimate features, triggered vs clean
    tether_weight: float = 0.0        # L2 pull of the student's weights towards the teacher's (L2-SP)
    reset_deviations: float = 3.0     # student's conv channels this many std above their layer's gain bound re-drawn (0: none)
    restart_agreement: float = 0.3    # student restarted at lr/10 when it agrees less after 20 full iterations (0: never)
    stop_window: int = 10             # stop once settled over this many iterations (0: run them all)
    stop_agreement: float = 0.96      # settled: mean agreement with the teacher at least this, see stopping
    stop_after: int = 100             # full iterations (after the warm-up) before the run may stop (150 of 250: the first decay)
    stop_after_clear: int | None = 50 # ... instead, when the original's scan found no backdoor evidence (None: stop_after), see stopping
    suspect_from_scan: bool = True    # the class the original's scan suspects is the suspect, not the warm-up's guess
    scan_suspect: int | None = None   # set by after_scan: the class the original's scan suspected (None: none, or not scanned)
    precision: str = "auto"           # the nets' passes, one of PRECISIONS (auditor.precision)
    seed: int = 0

    @classmethod
    def paper(cls, **overrides) -> "Recipe":
        """DHBE as published: one 5 px (on 32 px) patch family, no warm-up or class balance."""
        fields = dict(iterations=300 * 50, warmup_iterations=0, batch_size=256, lr_student=0.1,
                      reg_weight=0.1, disagreement_weight=1.0, class_weight=0.0, anchor_share=0.0,
                      targeted_search=False, patch_probe=False, stamp_every=0, suspect_rise=0.0,
                      input_moments_weight=0.0,
                      patch_scales=(1.0,), blend_alpha=0.0,
                      additive_epsilon=0.0, noise_alpha=0.0, pool_batches=0,
                      patch_weight=1.0, reset_deviations=0.0, stop_window=0,
                      restart_agreement=0.0, grating_rows=0, suspect_from_scan=False)
        fields.update(overrides)
        return cls(**fields)

    def for_input(self, spec) -> "Recipe":
        """The recipe as it runs on a model with this InputSpec: the input-moments prior pulls
        towards the data statistics the normalisation states, and a zero mean states none."""
        if self.input_moments_weight and not spec.states_statistics:
            return dataclasses.replace(self, input_moments_weight=0.0)
        return self

    def after_scan(self, suspected: bool | None, target: int | None = None) -> "Recipe":
        """The recipe the erasing runs with once the original's scan has answered (None: it was
        not scanned): where it found no backdoor evidence, the run may stop from
        `stop_after_clear` full iterations on (never later than `stop_after`); where it suspects
        `target`, that class is the suspect (`suspect_from_scan`; erasing.find_suspect)."""
        if suspected is False and self.stop_after_clear is not None:
            return dataclasses.replace(self, stop_after=min(self.stop_after, self.stop_after_clear))
        if suspected and self.suspect_from_scan:
            return dataclasses.replace(self, scan_suspect=target)
        return self

    @property
    def earliest_stop(self) -> int:
        """The first iteration the run may stop at (see stopping)."""
        return self.warmup_iterations + self.stop_after

    def with_overrides(self, **overrides) -> "Recipe":
        return dataclasses.replace(self, **{k: v for k, v in overrides.items() if v is not None})

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)

    def restart_rule(self) -> "RestartRule":
        return RestartRule(least=self.restart_agreement, warmup=self.warmup_iterations)

    def stop_rule(self) -> "StopRule":
        return StopRule(window=self.stop_window, agreement=self.stop_agreement,
                        after=self.stop_after, warmup=self.warmup_iterations,
                        last_stage=last_stage(self.iterations, self.lr_decay_at))


# number formats of the nets' passes in a clean: auto is bfloat16 where the hardware has it
PRECISIONS = ("float32", "bfloat16", "auto")

# kinds of starting image for the scan: pixels uniform in [0, scale] (auditor.detection)
START_SCALES = {"noise": 1.0, "dark": 0.2}
# how the scan moves its starts towards a class: small Adam steps on every pixel (dense), large
# steps on a few pixels anywhere (sparse), or on one small square (patch: a patch trigger
# changes few pixels by much, side by side)
SEARCHES = ("dense", "sparse", "patch")


@dataclasses.dataclass(frozen=True)
class ScanSettings:
    images_per_class: int = 32   # random starts per class (MM-BD: 30)
    max_starts: int = 2048       # starts over all classes: fewer per class past 64 classes
    steps: int = 20              # optimisation steps (MM-BD: 300 SGD steps, keeping the largest)
    lr: float = 0.01             # Adam, on pixels in [0, 1]
    alpha: float = 0.05          # significance level of the verdict
    seed: int = 0
    starts: tuple[str, ...] = ("noise", "dark")   # kinds of starting image (START_SCALES)
    searches: tuple[str, ...] = ("dense", "sparse")   # each kind of start is searched each way
                                                      # (patch: an option that did not hold out)
    sparse_share: float = 0.0115   # sparse search: pixels it may change, a share of the image's
    sparse_min: int = 9            # ... but at least this many (9 of 16×16 and 28×28, as tuned)
    sparse_step: float = 0.25      # ... and how far the pixel of largest gradient moves a step (patch too)
    patch_share: float = 0.15      # patch search: the square's side, a share of the image's
    patch_min: int = 4             # ... but at least this (4 on 16×16 and 28×28, as tuned; 5 on 32)
    precision: str = "auto"        # the scanned model's passes, one of PRECISIONS (auditor.precision)

    @property
    def total_steps(self) -> int:
        """Steps over every look: each kind of start, each search."""
        return self.steps * len(self.starts) * len(self.searches)
