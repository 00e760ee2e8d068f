"""The runs of chosen-2026-12-07.txt: every model scanned, and every clean gated, in float32 and
then in bfloat16, in one process on one thread; a JSON line per job.

    python compare.py jobs.txt [--part I/N] > rows-I.jsonl
    python compare.py --summary rows-*.jsonl > compare.txt

jobs.txt (jobs.py writes it): "original NAME MODEL PRESET KIND" (KIND backdoored or clean) or
"pair NAME ORIGINAL CLEANED PRESET KIND" (KIND kept, erased or control, pairs.py's). A pair's
gate is what `auditor clean --fail-on-residual` reads (CleanResult.evidence): the clean model's
own scan suspected, or the original's scan suspected and its shortcut kept.
"""
import dataclasses
import json
import sys
from functools import lru_cache

import torch

from auditor.detection import scan_classifier
from auditor.loading import Classifier, load_model
from auditor.presets import PRESETS
from auditor.recipe import ScanSettings
from auditor.shortcut import check_shortcut

PRECISIONS = ("float32", "bfloat16")


def model(path: str, preset: str):
    mean, std = PRESETS[preset][:2]
    loaded = load_model(path, mean=mean, std=std)
    return Classifier(loaded.net, loaded.spec, loaded.output_index).eval(), loaded.spec


@lru_cache(maxsize=4)
def scanned(path: str, preset: str, precision: str):
    net, spec = model(path, preset)
    return net, spec, scan_classifier(net, spec, ScanSettings(precision=precision))


def verdict(scan) -> dict:
    v = scan.verdict
    return {"suspected": bool(v.suspected), "class": v.suspect, "p": v.p_value,
            "seconds": scan.seconds, "ran": scan.precision}


def original(name, path, preset, kind) -> dict:
    row = {"job": "original", "name": name, "kind": kind}
    for precision in PRECISIONS:
        row[precision] = verdict(scanned(path, preset, precision)[2])
    return row


def pair(name, original_path, cleaned_path, preset, kind) -> dict:
    row = {"job": "pair", "name": name, "kind": kind}
    for precision in PRECISIONS:
        teacher, spec, original_scan = scanned(original_path, preset, precision)
        cleaned, _ = model(cleaned_path, preset)
        residual = scan_classifier(cleaned, spec, ScanSettings(precision=precision))
        shortcut = check_shortcut(original_scan, teacher, cleaned, spec)
        row[precision] = {"residual": verdict(residual), "original": verdict(original_scan),
                          "shortcut": dataclasses.asdict(shortcut) if shortcut else None,
                          "flagged": bool(residual.verdict.suspected
                                          or (shortcut is not None and shortcut.kept))}
    return row


def run(jobs_path: str, part: str) -> None:
    torch.set_num_threads(1)
    index, parts = map(int, part.split("/"))
    lines = [line.split() for line in open(jobs_path) if line.strip() and not line.startswith("#")]
    # a part takes every job of an original (its own scan, its pairs): each is scanned once a part
    groups = list(dict.fromkeys(fields[1] for _, *fields in lines))
    for job, *fields in lines:
        if groups.index(fields[1]) % parts == index:
            try:
                row = (original if job == "original" else pair)(*fields)
            except Exception as err:   # a corpus model that does not load: counted out, shown
                row = {"job": job, "name": fields[0], "error": f"{type(err).__name__}: {err}"}
            print(json.dumps(row), flush=True)


def flagged(row, precision) -> bool:
    side = row[precision]
    return side["flagged"] if row["job"] == "pair" else side["suspected"]


def auroc(rows, precision) -> float:
    import math
    score = lambda r: -math.log(max(r[precision]["p"], 1e-300))
    pos = [score(r) for r in rows if r["kind"] == "backdoored"]
    neg = [score(r) for r in rows if r["kind"] == "clean"]
    return sum((p > n) + 0.5 * (p == n) for p in pos for n in neg) / (len(pos) * len(neg))


def summary(paths) -> None:
    rows = [json.loads(line) for path in paths for line in open(path) if line.strip()]
    for r in rows:
        if "error" in r:
            print(f"not counted: {r['name']}: {r['error'][:150]}")
    rows = [r for r in rows if "error" not in r]
    originals = [r for r in rows if r["job"] == "original"]
    pairs = [r for r in rows if r["job"] == "pair"]
    a, b = PRECISIONS
    print(f"{len(originals)} originals, {len(pairs)} pairs; float32 -> bfloat16\n")
    print("originals whose verdict differs:")
    for r in originals:
        if flagged(r, a) != flagged(r, b):
            print(f"  {r['name']} ({r['kind']}): {flagged(r, a)} (p {r[a]['p']:.3g}) -> "
                  f"{flagged(r, b)} (p {r[b]['p']:.3g})")
    print("pairs whose gate differs:")
    for r in pairs:
        if flagged(r, a) != flagged(r, b):
            print(f"  {r['name']} ({r['kind']}): {flagged(r, a)} -> {flagged(r, b)}")

    def count(group, precision):
        return sum(flagged(r, precision) for r in group)

    differ_o = sum(flagged(r, a) != flagged(r, b) for r in originals)
    differ_p = sum(flagged(r, a) != flagged(r, b) for r in pairs)
    back = [r for r in originals if r["kind"] == "backdoored"]
    clean = [r for r in originals if r["kind"] == "clean"]
    kept = [r for r in pairs if r["kind"] == "kept"]
    good = [r for r in pairs if r["kind"] != "kept"]
    zoo = [r for r in originals if r["name"].startswith(("digits-", "fashion-"))]
    seconds = {p: sum(r[p]["seconds"] for r in zoo) for p in PRECISIONS}
    clauses = [
        ("a", f"original verdicts differing: {differ_o} of {len(originals)} (at most 3)", differ_o <= 3),
        ("b", f"backdoored originals flagged: {count(back, a)} -> {count(back, b)} of {len(back)} "
              "(at most 1 fewer)", count(back, b) >= count(back, a) - 1),
        ("c", f"clean originals flagged: {count(clean, a)} -> {count(clean, b)} of {len(clean)} "
              "(not more)", count(clean, b) <= count(clean, a)),
        ("d", f"gate verdicts differing: {differ_p} of {len(pairs)} (at most 3)", differ_p <= 3),
        ("e", f"kept pairs flagged: {count(kept, a)} -> {count(kept, b)} of {len(kept)} (at most 1 "
              f"fewer); erased and control pairs flagged: {count(good, a)} -> {count(good, b)} of "
              f"{len(good)} (at most 1 more)",
         count(kept, b) >= count(kept, a) - 1 and count(good, b) <= count(good, a) + 1),
        ("f, zoo part", f"zoo originals' scan seconds summed: {seconds[a]:.0f} -> {seconds[b]:.0f} "
                        f"(ratio {seconds[b] / seconds[a]:.2f}, at most 0.85)",
         seconds[b] <= 0.85 * seconds[a]),
    ]
    print()
    for name, text, ok in clauses:
        print(f"({name}) {text}: {'passes' if ok else 'FAILS'}")
    zoo_back = [r for r in zoo if r["kind"] == "backdoored"]
    zoo_clean = [r for r in zoo if r["kind"] == "clean"]
    print(f"\nreported: zoo AUROC of -log p {auroc(zoo_back + zoo_clean, a):.3f} -> "
          f"{auroc(zoo_back + zoo_clean, b):.3f}")
    both = [r for r in originals if r[a]["suspected"] and r[b]["suspected"]]
    print(f"reported: suspected class the same where both flag: "
          f"{sum(r[a]['class'] == r[b]['class'] for r in both)} of {len(both)}")
    ratios = sorted(r[b]["seconds"] / r[a]["seconds"] for r in originals)
    print(f"reported: per-original scan time ratio, min / median / max: {ratios[0]:.2f} / "
          f"{ratios[len(ratios) // 2]:.2f} / {ratios[-1]:.2f}")


if __name__ == "__main__":
    if sys.argv[1] == "--summary":
        summary(sys.argv[2:])
    else:
        run(sys.argv[1], sys.argv[3] if len(sys.argv) > 3 and sys.argv[2] == "--part" else "0/1")
