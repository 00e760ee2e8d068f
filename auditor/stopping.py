"""When a clean is done: the run stops once the student has settled, with --iterations as the cap.

A fixed 250 iterations was a guess. On the bundled digits models the student re-learns what
the triggers made it doubt (clean accuracy back within 1-2 points) 50 to 110 iterations after
the warm-up, and what follows adds nothing: over 100 earlier sweep runs the state at iteration
150 was within 0.2 points of ACC (mean) of the end, and at full learning rate a longer run
taught a blend backdoor back (ASR 0 % at 150, 16-21 % at 250, benchmarks/results/sweeps.md).

The rule reads only the loop's own figures, so it needs no data:
- agreement with the teacher on the synthetic images has settled: its mean over the last
  `window` iterations is at least `agreement` (the student predicts what the teacher does on
  nearly every image it is distilled on: the class it doubted is back), and
- the trigger search is no longer gaining on the student: its score (the class rise it reaches)
  averaged over the last `window` iterations is no higher than over the `window` before.

The earliest stop is the first decay (100 full iterations, iteration 150 of 250), not 50 full
iterations as first chosen: there the rule ended runs whose backdoor was still going. A Fashion-MNIST
SIG model stopped at iteration 100 at 86.9 % ASR with its target class at 53 % accuracy, and was at
about 54-60 % ASR by 150-160, with more accuracy, not less; on the digits tuning rows the later
earliest stop took the mean ASR from 24.1 to 22.1 % (benchmarks/results/sweeps.md, "The earliest
stop at the first decay").

That cost is worth paying where a backdoor may be at work. When the original's scan (clean runs
it before erasing) finds no backdoor evidence, the earliest stop is 50 full iterations again
(`Recipe.stop_after_clear`, iteration 100). Under a rule written before its runs, on the bundled
benchmark and 27 zoo models, that changed three kinds of run: the bundled control and the digits
VGG control ended at the same accuracy, and the Fashion VGG warp, a backdoor the scan misses,
went from 94.9 to 96.2 % ASR (it is not erased either way). The other five backdoors the scan
missed did not settle before 150 and ran as before, and the Fashion-MNIST SIG model above is
suspected, so it keeps the later stop. The corpus's keras2onnx MNIST CNN, in which the scan finds
nothing, stopped at 110 (benchmarks/results/sweeps/clear-stop/).

It is checked every `every` iterations only, from `after` full iterations on, so the iteration a
run stops at does not depend on when the loop happened to read its figures (the same seed gives
the same file) and a resumed run stops where an uninterrupted one does.

A run that has not settled by the time its learning rates fall to a hundredth (the second decay,
iteration 200 of 250) ends there: what comes after moved nothing that matters. Over 104 earlier
sweep runs of 250 iterations (37 sweeps of the bundled and zoo tuning models,
benchmarks/results/sweeps/), the state at 200 against the end differed by 0.00 points of ACC on
average (-0.8 to +0.6) and -0.12 of ASR (-5.3 to +1.1), and no run crossed the 5 % ASR bar
between the two; four held-out zoo models, checked after, moved by at most 0.6. On the corpus
ResNet-20, which never settles, those 50 iterations are about two minutes of a 2-core run.
"""

from __future__ import annotations

import dataclasses
import math

REACHED_CAP = "reached --iterations"   # why a run that never settled ended


@dataclasses.dataclass(frozen=True)
class StopRule:
    window: int          # iterations each figure is averaged over; 0: never stop early
    agreement: float     # the least mean agreement with the teacher over the window
    after: int           # full iterations (after the warm-up) before the first check
    warmup: int          # the warm-up's iterations, which train no student
    every: int = 10      # iterations between checks
    last_stage: int = 0  # iteration where the rates fall to a hundredth: the run ends there (0: never)

    @property
    def active(self) -> bool:
        return self.window > 0

    def due(self, done: int) -> bool:
        """Whether to check after `done` iterations."""
        return self.active and (done % self.every == 0 or done == self.last_stage) and \
            done - self.warmup >= max(self.after, 2 * self.window)

    def latest_end(self, iterations: int) -> int:
        """The iteration a run of `iterations` ends by at the latest: the last stage where the
        rule is checked there, else the cap."""
        return self.last_stage if self.last_stage and self.due(self.last_stage) else iterations

    def reason(self, history: list[dict]) -> str | None:
        """Why the run may stop now, or None; history: the figures of every iteration so far."""
        recent, before = history[-self.window:], history[-2 * self.window:-self.window]
        agreement = mean_figure(recent, "agreement")
        # the search minimises "trigger", the negative of the rise it reaches
        score, earlier = mean_figure(recent, "trigger"), mean_figure(before, "trigger")
        if None in (agreement, score, earlier) or agreement < self.agreement or score < earlier:
            return self._last_stage_reached(len(history))
        return (f"settled: agreement with the teacher {100 * agreement:.1f} % over the last "
                f"{self.window} iterations, trigger search no longer gaining "
                f"(class rise {-score:.3f}, from {-earlier:.3f})")

    def _last_stage_reached(self, done: int) -> str | None:
        if not self.last_stage or done < self.last_stage:
            return None
        return (f"not settled by iteration {self.last_stage}, where the learning rates fall to a "
                f"hundredth and the run ends")


def mean_figure(figures: list[dict], name: str) -> float | None:
    """The mean of a figure over the iterations that report it, or None if none does."""
    values = [f[name] for f in figures if isinstance(f.get(name), float)]
    return sum(values) / len(values) if values else None


def last_stage(iterations: int, decay_at: tuple[float, ...]) -> int:
    """The first iteration trained at a hundredth of the rates (×0.1 at each of `decay_at`, as
    fractions of the run), or 0 when the rates never fall that far."""
    starts = sorted(math.ceil(f * iterations) for f in decay_at)
    return starts[1] if len(starts) > 1 and starts[1] < iterations else 0
