"""Step 0's clauses of the second and third rules over probe_screen.py's rows.

    python score.py v2 step0-v2.jsonl step0-v2-fresh.jsonl
    python score.py v3 step0-v3.jsonl

They differ in (b): the second counts kept sets of the same stamps, the third kept sets of the
same strengths (each kept stamp's largest class rise on all images, sorted, within 1e-5)."""
import json
import sys
from pathlib import Path

PLANTED_PATCHES = ("badnets", "corner4")


def main():
    rule, files = sys.argv[1], sys.argv[2:]
    models = [json.loads(line) for path in files for line in Path(path).read_text().splitlines()]
    pairs = [(m, f) for m in models for f in m["families"]]
    agree = lambda f: f["top_rise_diff"] <= 1e-5                  # noqa: E731
    share = lambda test: 100 * sum(test(f) for _, f in pairs) / len(pairs)   # noqa: E731
    print(f"{len(models)} warm-ups, {len(pairs)} (model, family) pairs; probe seconds "
          f"{sum(f['seconds_full'] for _, f in pairs):.0f} (all 128) -> "
          f"{sum(f['seconds_screened'] for _, f in pairs):.0f} (screened)")
    same = (lambda f: f["same_set"]) if rule == "v2" else (lambda f: f["kept_strength_diff"] <= 1e-5)
    a, b = share(agree), share(same)
    c = sum(f["prior_tv"] for _, f in pairs) / len(pairs)
    planted = [(m, f) for m, f in pairs if m["model"] in PLANTED_PATCHES]
    off = [(m["model"], m["seed"], f["family"], f["top_rise_diff"]) for m, f in planted if not agree(f)]
    print(f"(a) top rises within 1e-5: {a:.1f} % (>= 95): {'passes' if a >= 95 else 'FAILS'}")
    print(f"(b) same kept {'set' if rule == 'v2' else 'strengths'}: {b:.1f} % (>= 80): {'passes' if b >= 80 else 'FAILS'}")
    print(f"(c) mean TV of the maps' draws: {c:.4f} (<= 0.05): {'passes' if c <= 0.05 else 'FAILS'}")
    print(f"(d) planted-patch pairs whose top rises differ: {len(off)} of {len(planted)}: "
          f"{'passes' if not off else 'FAILS'} {off}")
    print(f"reported: same top stamp {share(lambda f: f['same_top']):.1f} %, same kept set "
          f"{share(lambda f: f['same_set']):.1f} %; pairs off in (a): "
          + "; ".join(f"{m['model']} s{m['seed']} {f['family']} {f['top_rise_diff']:.3f}"
                      for m, f in pairs if not agree(f)))


if __name__ == "__main__":
    main()
