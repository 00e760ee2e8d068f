"""Score residual rules on residual-transfer.py's rows (2026-11-29; see chosen-2026-11-29.txt).

    python score.py ROWS.jsonl [--looked-at NAMES.txt]

A clean "kept" the backdoor when its ASR after is above 5 % (the bar). Rules:
- scan: the residual scan of the clean model (p < 0.05), what `auditor clean` reported before;
- R_dd: the scan of the original suspected (Šidák-corrected over its four looks, p < 0.05) for a
  class c, and the clean model gives c to at least half of the original's dark/dense images of c;
  the residual scan where the original is not suspected; also flagged when the scan flags.
"""
import json, sys
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
from auditor.detection import strongest, verdict  # noqa: E402


def judge(r):
    best = strongest({k: verdict(v["teacher_margin"], 0.05) for k, v in r["looks"].items()})
    share = r["looks"]["dark/dense"]["student_share"][best.suspect]
    scan = r["residual_p"] < 0.05
    return {"scan": scan, "R_dd": scan or (best.suspected and share >= 0.5),
            "original_flag": best.suspected, "class": best.suspect, "share": share}


def main():
    rows = [json.loads(l) for l in open(sys.argv[1])]
    looked = set(Path(sys.argv[3]).read_text().split()) if "--looked-at" in sys.argv else set()
    print(f"{'model':34s} {'set':6s} {'ASR':>5s} kept | orig flag cls share(dd) | scan R_dd")
    groups = {}
    for r in rows:
        j = judge(r)
        asr = 100 * (r["asr_after"] or 0)
        kept = r["attack"] is not None and asr > 5
        kind = "kept" if kept else ("control" if r["attack"] is None else "erased")
        part = "chosen" if r["name"] in looked else "after"
        for g in (part, "all"):
            for rule in ("scan", "R_dd"):
                groups.setdefault((g, kind, rule), []).append(j[rule])
        print(f"{r['name']:34s} {part:6s} {asr:5.1f} {'Y' if kept else 'n':4s} | "
              f"{'Y' if j['original_flag'] else 'n'}    {j['class']}   {j['share']:.2f}     | "
              f"{'Y' if j['scan'] else 'n'}    {'Y' if j['R_dd'] else 'n'}")
    print("\nflagged / rows:")
    for g in ("chosen", "after", "all"):
        print(f"  {g:6s} " + "  ".join(
            f"{kind} {rule} {sum(groups.get((g, kind, rule), []))}/{len(groups.get((g, kind, rule), []))}"
            for kind in ("kept", "erased", "control") for rule in ("scan", "R_dd")))


if __name__ == "__main__":
    main()
