"""Does the clean model follow the original's shortcut as a *shortcut*, a change that sends any
image to the suspected class, or only agree with the original on the images it drew?

For each (original, cleaned) pair: the original is scanned with the defaults; if it is suspected
of class c, it is pushed to c from the shortcut check's dark starts (as auditor/shortcut.py
does), and each start's change d = reached - start is pasted onto the original's scan images of
the other classes (host + d, kept in [0, 1]; host i gets change i mod n). Printed per pair, as a
JSON line: the check's share as it is today, and for the original and the cleaned model the
share of hosts they gave another class before the paste that they give c after it.

    python benchmarks/results/residual-transplant/transplant.py PAIRS.txt > rows.jsonl

PAIRS.txt: one pair a line, "name original.onnx cleaned.onnx preset kind", kind a free label
(kept, erased, control).
"""
import json
import sys
from functools import lru_cache

import torch

from auditor.detection import scan_classifier, search_from, starts_per_class
from auditor.loading import Classifier, load_model
from auditor.presets import PRESETS
from auditor.recipe import START_SCALES, ScanSettings

SETTINGS = ScanSettings()


def model(path: str, preset: str):
    mean, std = PRESETS[preset][:2]
    loaded = load_model(path, mean=mean, std=std)
    return Classifier(loaded.net, loaded.spec, loaded.output_index).eval(), loaded.spec


@lru_cache(maxsize=4)
def original_side(path: str, preset: str):
    original, spec = model(path, preset)
    scan = scan_classifier(original, spec, SETTINGS)
    v = scan.verdict
    if not v.suspected:
        return original, spec, v, None, None, None
    n = starts_per_class(SETTINGS, spec.num_classes)
    first = START_SCALES["dark"] * torch.rand(n, *spec.shape,
                                              generator=torch.Generator().manual_seed(SETTINGS.seed))
    reached = search_from(original, spec, first, torch.full((n,), v.suspect), SETTINGS, "dense")
    change = reached - first
    hosts = torch.cat([scan.inversion.images[k] for k in range(spec.num_classes) if k != v.suspect])
    pasted = (hosts + change.repeat(len(hosts) // n + 1, 1, 1, 1)[:len(hosts)]).clamp(0, 1)
    return original, spec, v, reached, hosts, pasted


@torch.no_grad()
def answers(net, spec, pixels):
    return net(spec.normalise(pixels)).argmax(1)


def flipped(net, spec, hosts, pasted, c) -> float:
    before, after = answers(net, spec, hosts), answers(net, spec, pasted)
    eligible = before != c
    return float(((after == c) & eligible).sum() / eligible.sum().clamp_min(1))


def main() -> None:
    torch.set_num_threads(1)
    for line in open(sys.argv[1]):
        if not line.strip() or line.startswith("#"):
            continue
        name, original_path, cleaned_path, preset, kind = line.split()
        original, spec, v, reached, hosts, pasted = original_side(original_path, preset)
        row = {"name": name, "kind": kind, "suspected": bool(v.suspected), "class": v.suspect,
               "p": v.p_value}
        if reached is not None:
            cleaned, _ = model(cleaned_path, preset)
            c = v.suspect
            row |= {"share": float((answers(cleaned, spec, reached) == c).float().mean()),
                    "original_flips": flipped(original, spec, hosts, pasted, c),
                    "cleaned_flips": flipped(cleaned, spec, hosts, pasted, c)}
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
