"""Nulls fitted without the lowest class(es) as well, or by median and MAD, each with its own
simulated null (ten normal draws): on missed backdoors a class that is hard to reach widens the
others' spread (chosen-2026-12-06-difference.txt's session; tuning rows only, none held up there,
so the held-out rows were not scored):

    python score_trimmed.py tuning.jsonl
"""
import functools, json, sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
import auditor.detection as detection  # noqa: E402
from score import evaluate  # noqa: E402  (this folder's)

LOOKS = ("noise-adam0.01-20", "dark-adam0.01-20", "noise-l0k9-20", "dark-l0k9-20")


def trimmed_verdict(low: int, robust: bool = False):
    def centre_scale(rest):
        if robust:
            median = np.median(rest, axis=-1)
            return median, 1.4826 * np.median(np.abs(rest - median[..., None]), axis=-1)
        return rest.mean(-1), rest.std(-1, ddof=1)

    @functools.lru_cache(maxsize=4)
    def null(k, draws=20000):
        x = np.sort(np.random.default_rng(0).standard_normal((draws, k)), axis=1)
        centre, scale = centre_scale(x[:, low:-1])
        return np.sort((x[:, -1] - centre) / scale)

    def verdict(statistics, alpha):
        stats = np.asarray(statistics, dtype=np.float64)
        centre, scale = centre_scale(np.sort(stats)[low:-1])
        scale = max(float(scale), 1e-6)
        scores = (stats - centre) / scale
        draws = null(len(stats))
        p = [float((1 + len(draws) - np.searchsorted(draws, z, side="left")) / (len(draws) + 1))
             for z in scores]
        top = int(np.argmax(stats))
        return detection.Verdict(stats.tolist(), scores.tolist(), p[top], top, p[top] < alpha, alpha,
                                 detection.NullModel(float(centre), scale), p)
    return verdict


def main():
    variants = {"the others' mean and std (default)": detection.verdict,
                "without the lowest class too": trimmed_verdict(1),
                "without the two lowest too": trimmed_verdict(2),
                "median and MAD of the others": trimmed_verdict(0, robust=True)}
    for name in sys.argv[1:]:
        rows = [json.loads(line) for line in open(name)]
        print(name)
        for label, verdict in variants.items():
            print("  {:36s} TPR {:.2f}  FPR {:.2f}  AUROC {:.3f}  named {:.2f}".format(
                label, *evaluate(rows, LOOKS, read=verdict)))


if __name__ == "__main__":
    main()
