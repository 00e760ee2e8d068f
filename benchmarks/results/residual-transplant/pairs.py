"""(original, cleaned) pairs for transplant.py, one line each: "name original cleaned preset
kind", kind from the clean's ASR on triggered test images (kept > 5 %), or control.

    python benchmarks/results/residual-transplant/pairs.py benchmarks/out/q-screen32 ... > bundled-pairs.txt
    python benchmarks/results/residual-transplant/pairs.py --zoo quality-zoo-kept.json benchmarks/out/zoo-kept > zoo-pairs.txt

Without --zoo: quality.py's folders (its quality.json, originals and cleans side by side). With
--zoo: quality_zoo.py's JSON and the folder its --keep left the cleans in.
"""
import json
import os
import sys
from pathlib import Path


def kind(attack, asr: float) -> str:
    return "control" if attack in (None, "none") else "kept" if asr > 0.05 else "erased"


def bundled(folders):
    for folder in map(Path, folders):
        report = json.loads((folder / "quality.json").read_text())
        for row in [*report["rows"], report["control"]]:
            attack = row["attack"]
            runs = [("auditor", r) for r in row["auditor"]]
            if row.get("no_regulariser"):
                runs.append(("no_regulariser", row["no_regulariser"]))
            for variant, r in runs:
                stem = f"{attack}-{variant}-{r['seed']}"
                yield (f"{folder.name}/{stem}", folder / f"{attack}.onnx", folder / f"{stem}.onnx",
                       kind(attack, r["asr"]))


def zoo(report_path, folder):
    for row in json.loads(Path(report_path).read_text())["rows"]:
        if row.get("after") and not row["after"].get("exit"):
            yield (row["name"], os.path.relpath(row["model"]), Path(folder) / f"{row['name']}.onnx",
                   kind(row["attack"], row["after"]["asr"]))


if __name__ == "__main__":
    pairs = zoo(*sys.argv[2:4]) if sys.argv[1] == "--zoo" else bundled(sys.argv[1:])
    for name, original, cleaned, what in pairs:
        print(f"{name} {original} {cleaned} mnist {what}")
