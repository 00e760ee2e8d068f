"""What the shortcut check's images are on the bundled benchmark's models: the original pushed to
its target (class 0) from the check's 32 dark starts by the scan's dense search, as
auditor/shortcut.py does, and which models then answer 0: the original, its clean (recipe seed 0),
the control trained without poison and the control's clean. Then the mean change per pixel (a
picture of what the search drew) for the patch models. Models from quality.py's folder.

    python benchmarks/results/residual-bundled/what_the_shortcut_draws.py [OUT_FOLDER]
"""
import sys
from pathlib import Path

import torch

from auditor.detection import search_from, starts_per_class
from auditor.loading import Classifier, load_model
from auditor.presets import PRESETS
from auditor.recipe import START_SCALES, ScanSettings


def model(path: Path):
    loaded = load_model(path, mean=PRESETS["mnist"][0], std=PRESETS["mnist"][1])
    return Classifier(loaded.net, loaded.spec, loaded.output_index).eval(), loaded.spec


def main() -> None:
    torch.set_num_threads(1)
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "benchmarks/out")
    settings = ScanSettings()
    for attack in ("badnets", "corner4", "blend", "sig"):
        original, spec = model(out / f"{attack}.onnx")
        others = [("its clean, seed 0", out / f"{attack}-auditor-0.onnx"),
                  ("control (no poison)", out / "none.onnx"),
                  ("the control's clean", out / "none-auditor-0.onnx")]
        n = starts_per_class(settings, spec.num_classes)
        first = START_SCALES["dark"] * torch.rand(n, *spec.shape,
                                                  generator=torch.Generator().manual_seed(settings.seed))
        reached = search_from(original, spec, first, torch.zeros(n, dtype=torch.long), settings, "dense")
        print(f"{attack}: {n} dark starts pushed to class 0, mean |change| {float((reached - first).abs().mean()):.3f}")
        for name, net in [("original", original), *((name, model(path)[0]) for name, path in others)]:
            with torch.no_grad():
                share = float((net(spec.normalise(reached)).argmax(1) == 0).float().mean())
            print(f"  {name:22s} answers 0 on {share:.2f} of them")
        if attack in ("badnets", "corner4"):
            print("  mean change per pixel, x100:")
            for row in (reached - first).mean(0)[0]:
                print("   " + " ".join(f"{100 * v:4.0f}" for v in row))


if __name__ == "__main__":
    main()
