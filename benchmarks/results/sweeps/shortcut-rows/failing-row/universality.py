"""Do the original's shortcut changes that act like a backdoor also act like one on data-free
hosts? Per zoo row: the teacher is pushed to the planted target from 128 dark starts (64 by the
scan's dense search, 64 by its sparse one, as `--shortcut-rows` does; the changes are reached -
start). Each change is then added (in pixels, kept in [0, 1]) to
- data-free hosts: images the teacher was pushed to each other class from uniform noise by the
  scan's dense search (16 a class), and
- real test images of the other classes (an oracle, only to read the first against),
and the share of hosts the teacher then gives the target is that change's flip rate on each.
What the real hosts turn into when they do not flip is counted too (the failing row's clean
reads zeros and ones as 8s).

    python universality.py ROW [ROW ...]
"""
import sys
from pathlib import Path

import numpy as np
import torch

RESULTS = Path(__file__).resolve().parents[3]
sys.path[:0] = [str(RESULTS.parents[1]), str(RESULTS.parent), str(RESULTS / "accuracy-warning"),
                str(RESULTS / "residual-transplant")]
import sweep  # noqa: E402
from auditor.detection import search_from  # noqa: E402
from auditor.recipe import START_SCALES, ScanSettings  # noqa: E402
from impressions import answers  # noqa: E402  (accuracy-warning/)
from oracle_trigger import pushed_to  # noqa: E402  (benchmarks/)
from transplant import model as loaded_classifier  # noqa: E402  (residual-transplant/)

CHANGES, HOSTS_PER_CLASS, REAL_HOSTS = 128, 16, 400


def flip_rates(model, spec, changes, hosts, target):
    """Per change, the share of hosts sent to target, and the answers on every host."""
    rates, answered = [], []
    for change in changes:
        got = answers(model, spec, (hosts + change).clamp(0, 1))
        rates.append(float((got == target).float().mean()))
        answered.append(got)
    return np.array(rates), torch.stack(answered)


def main():
    torch.set_num_threads(1)
    settings = ScanSettings()
    for name in sys.argv[1:]:
        job = sweep._zoo_job(name)
        model, spec = loaded_classifier(str(job["model_path"]), "mnist")   # every zoo model's preset
        model.requires_grad_(False)
        target, classes = job["target"], spec.num_classes
        gen = torch.Generator().manual_seed(0)
        first = START_SCALES["dark"] * torch.rand(CHANGES, *spec.shape, generator=gen)
        reached = pushed_to(model, spec, first, target)
        changes = reached - first
        reach = float((answers(model, spec, reached) == target).float().mean())
        others = [c for c in range(classes) if c != target]
        host_labels = torch.tensor(others).repeat_interleave(HOSTS_PER_CLASS)
        noise = torch.rand(len(host_labels), *spec.shape, generator=gen)
        free_hosts = search_from(model, spec, noise, host_labels, settings, "dense")
        free_ok = float((answers(model, spec, free_hosts) == host_labels).float().mean())
        images = torch.from_numpy(job["test"].images).permute(0, 3, 1, 2).float()
        real = images[torch.from_numpy(job["test"].labels) != target][:REAL_HOSTS]
        free, _ = flip_rates(model, spec, changes, free_hosts, target)
        oracle, got = flip_rates(model, spec, changes, real, target)
        wrong = got[got != target]
        unflipped = np.bincount(wrong.numpy(), minlength=classes) if len(wrong) else np.zeros(classes)
        top = unflipped.argsort()[::-1][:3]
        print(f"{name}: reach {reach:.2f}; free hosts read as their class {free_ok:.2f}")
        for half, part in (("dense", slice(0, CHANGES // 2)), ("sparse", slice(CHANGES // 2, None))):
            f, o = free[part], oracle[part]
            corr = np.corrcoef(f, o)[0, 1] if f.std() > 0 and o.std() > 0 else float("nan")
            print(f"  {half:6s} flips on free hosts: mean {f.mean():.2f} (q25 {np.quantile(f, .25):.2f}, "
                  f"q75 {np.quantile(f, .75):.2f}); on real hosts: mean {o.mean():.2f} "
                  f"(q25 {np.quantile(o, .25):.2f}, q75 {np.quantile(o, .75):.2f}); corr {corr:.2f}; "
                  f"real mean where free >= 0.5: "
                  f"{o[f >= 0.5].mean() if (f >= 0.5).any() else float('nan'):.2f} ({(f >= 0.5).sum()}), "
                  f"where < 0.5: {o[f < 0.5].mean() if (f < 0.5).any() else float('nan'):.2f}")
        print("  real hosts not flipped, answered most: " +
              ", ".join(f"{k} {unflipped[k] / max(1, unflipped.sum()):.2f}" for k in top), flush=True)


if __name__ == "__main__":
    main()
