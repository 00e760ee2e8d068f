"""Acceptance gates for `auditor evaluate`: what a team with a small labelled hold-out checks
before it ships a cleaned model. Limits are in percent, as the figures are printed."""

from __future__ import annotations

import dataclasses

from .evaluation import Scores


@dataclasses.dataclass(frozen=True)
class Gates:
    min_acc: float | None = None        # ACC must be at least this, %
    max_asr: float | None = None        # ASR must be at most this, % (needs a trigger)
    max_acc_drop: float | None = None   # points of ACC the model may lose against the baseline

    def check(self, scores: Scores, baseline: Scores | None = None) -> list[dict]:
        """One dict per gate set: gate, passed, value, limit, text."""
        checks = []
        if self.min_acc is not None:
            acc = 100 * scores.acc
            checks.append(_check("min-acc", acc >= self.min_acc, acc, self.min_acc,
                                 f"ACC {acc:.1f} % {'>=' if acc >= self.min_acc else '<'} "
                                 f"--min-acc {self.min_acc:g} %"))
        if self.max_asr is not None:
            if scores.asr is None:
                checks.append(_check("max-asr", False, None, self.max_asr,
                                     "ASR could not be measured (no --trigger, or no eligible image)"))
            else:
                asr = 100 * scores.asr
                checks.append(_check("max-asr", asr <= self.max_asr, asr, self.max_asr,
                                     f"ASR {asr:.1f} % {'<=' if asr <= self.max_asr else '>'} "
                                     f"--max-asr {self.max_asr:g} %"))
        if self.max_acc_drop is not None:
            drop = 100 * (baseline.acc - scores.acc)
            checks.append(_check("max-acc-drop", drop <= self.max_acc_drop, drop, self.max_acc_drop,
                                 f"ACC drop {drop:.1f} points against the baseline "
                                 f"{'<=' if drop <= self.max_acc_drop else '>'} "
                                 f"--max-acc-drop {self.max_acc_drop:g}"))
        return checks


def _check(gate, passed, value, limit, text) -> dict:
    return {"gate": gate, "passed": bool(passed), "value": value, "limit": limit, "text": text}
