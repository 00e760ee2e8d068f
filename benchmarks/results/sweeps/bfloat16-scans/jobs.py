"""Writes compare.py's jobs (chosen-2026-12-07.txt's models and pairs), from the repository root:

    python benchmarks/results/sweeps/bfloat16-scans/jobs.py > /tmp/jobs.txt
"""
import json
import subprocess
import sys
from pathlib import Path

OUT = Path("benchmarks/out")
HERE = Path(__file__).parent
PAIRS = HERE.parent.parent / "residual-transplant" / "pairs.py"


def pairs(*args) -> list[str]:
    return subprocess.run([sys.executable, str(PAIRS), *args], capture_output=True, text=True,
                          check=True).stdout.splitlines()


# the originals: zoo, bundled, corpus (as corpus_scan.sh presets them)
for meta in sorted(OUT.glob("zoo/*/meta.json")):
    info = json.loads(meta.read_text())
    print(f"original {info['name']} {meta.parent / 'model.onnx'} mnist "
          f"{'clean' if info['attack'] is None else 'backdoored'}")
for attack in ("badnets", "blend", "sig", "corner4", "none"):
    print(f"original bundled-{attack} {OUT / 'q-bf16' / f'{attack}.onnx'} mnist "
          f"{'clean' if attack == 'none' else 'backdoored'}")
for path in sorted(Path("../shared/models").glob("*.onnx")):
    preset = "mnist" if path.name.startswith("mnist") else \
        "cifar10" if path.name.startswith(("cifar", "gtsrb")) else None
    if preset:
        print(f"original corpus-{path.stem} {path} {preset} clean")
# the pairs: this morning's bfloat16 cleans, the depthwise rows from the amended run
amended = pairs("--zoo", str(OUT / "zoo-bf16/quality-zoo-depthwise-amended.json"),
                str(OUT / "zoo-bf16/kept-amended"))
replaced = {line.split()[0] for line in amended}
zoo = [line for line in pairs("--zoo", str(OUT / "zoo-bf16/quality-zoo.json"),
                              str(OUT / "zoo-bf16/kept")) if line.split()[0] not in replaced]
for line in pairs(str(OUT / "q-bf16")) + zoo + amended:
    print(f"pair {line}")
