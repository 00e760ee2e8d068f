"""One bundled-benchmark clean through the CLI with given options, on a model quality.py built
already, scored as quality.py scores it; one JSON line on stdout. Run from the worktree whose
auditor is measured (its `python -m auditor.cli` is what cleans).

    python bundled_dose.py MODELS_DIR ATTACK SEED NAME -- CLEAN OPTIONS...
"""
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path.cwd() / "benchmarks"))
import quality  # noqa: E402  (the checkout's own benchmarks/quality.py)
from auditor.examples import digits  # noqa: E402


def main():
    models, attack, seed, name = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4]
    extra = sys.argv[sys.argv.index("--") + 1:]
    model_path, data_path = models / f"{attack}.onnx", models / f"{attack}-test.npz"
    out = Path("benchmarks/out/dose") / f"{attack}-{name}-{seed}.onnx"
    out.parent.mkdir(parents=True, exist_ok=True)
    seconds, iterations = quality.clean(model_path, out, ["--seed", str(seed), *extra], threads=1)
    # the control is scored with the BadNets trigger, as quality.py scores it
    t = digits.make_trigger("badnets" if attack == quality.CONTROL else attack)
    pixel_trigger = quality.PixelTrigger(t.pattern, t.mask, t.target)
    print(json.dumps({"attack": attack, "seed": seed, "name": name, "args": extra,
                      **quality.score(out, data_path, pixel_trigger),
                      "seconds": round(seconds, 1), "iterations": iterations}), flush=True)


if __name__ == "__main__":
    main()
