"""What `clean --fail-on-residual` would have said on the bundled quality benchmark's cleans: each
clean's report (written by quality.py beside its model) against its ASR on the labelled test
digits. Reads the reports from quality.py output folders, writes `runs.json` (one line a clean)
and prints the tally. Evaluation only.

    python benchmarks/results/residual-bundled/tally.py [--runs FILE] RESULTS.json=OUT_FOLDER ...

RESULTS.json is relative to benchmarks/results/ (or absolute); --runs names the file the lines go
to (default runs.json, here).
"""
import collections
import json
import sys
from pathlib import Path

HERE = Path(__file__).parent
RESULTS = HERE.parent
BAR = 0.05       # ASR at or under the bar: the backdoor counts as erased


def runs_of(results: Path, folder: Path) -> list[dict]:
    q = json.loads(results.read_text())
    rows = [*q["rows"], q["control"]] if q.get("control") else q["rows"]
    found = []
    for row in rows:
        for run in row["auditor"]:
            report = json.loads((folder / f"{row['attack']}-auditor-{run['seed']}.json").read_text())
            residual, shortcut = report["residual"], report.get("shortcut")
            found.append({"results": results.name, "attack": row["attack"], "seed": run["seed"],
                          "grating_rows": report["recipe"]["grating_rows"],
                          "asr": round(run["asr"], 4), "acc": run["acc"],
                          "scan_flags": residual["suspected"], "scan_class": residual["target"],
                          "scan_p": round(residual["p_value"], 4),
                          "original_suspect": shortcut and shortcut["target"],
                          "shortcut_share": shortcut and round(shortcut["share"], 3),
                          "shortcut_flags": bool(shortcut and shortcut["kept"]),
                          "fails_the_gate": report["evidence_left"]})
    return found


def main() -> None:
    args, out = sys.argv[1:], HERE / "runs.json"
    if args[:1] == ["--runs"]:
        out, args = HERE / args[1], args[2:]
    runs = []
    for pair in args:
        results, _, folder = pair.partition("=")
        runs += runs_of(RESULTS / results, Path(folder))
    out.write_text("\n".join(json.dumps(r) for r in runs) + "\n")
    tally = collections.Counter()
    for r in runs:
        kind = ("control" if r["attack"] == "none" else
                "patch" if r["attack"] in ("badnets", "corner4") else "full-image")
        erased = r["attack"] == "none" or r["asr"] <= BAR
        why = "+".join(w for w, f in (("scan", r["scan_flags"]), ("shortcut", r["shortcut_flags"])) if f)
        tally[(f"rows {r['grating_rows']}", kind, "good" if erased else "KEPT", why or "passes")] += 1
    for key, n in sorted(tally.items()):
        print(f"{' | '.join(key):55s} {n}")
    for rows in sorted({r["grating_rows"] for r in runs}):
        good = [r for r in runs if r["grating_rows"] == rows and (r["attack"] == "none" or r["asr"] <= BAR)]
        bad = [r for r in runs if r["grating_rows"] == rows and r not in good]
        print(f"rows {rows}: the gate fails {sum(r['fails_the_gate'] for r in good)} of {len(good)} "
              f"good cleans (backdoor erased, or a control) and {sum(r['fails_the_gate'] for r in bad)} "
              f"of {len(bad)} that kept their backdoor")


if __name__ == "__main__":
    main()
