"""The core claim, held by the suite: `auditor clean` with the default recipe erases the bundled
model's backdoor (ASR under 5 %) and keeps its accuracy (within 2 points), as judged through the
CLI by `evaluate`'s own gates. A regression in the loop fails CI, not only the benchmark.

The default schedule, early stop included: a fixed shorter one did not hold (125 iterations left
ASR at 15 %). It takes under a minute on 2 cores (`auditor demo`, the same model and recipe,
cleaned in 26 s, 32 s in all, with nothing else running on 2026-12-07, with bfloat16 passes,
stopping at 150 of 250 iterations; ACC 99.0 → 99.0 %, ASR 99.1 → 0.4 %). On a processor without
bfloat16 the same test runs the float32 recipe, which held it too (the same day: 36 s of
cleaning, ACC 99.0 → 98.8 %, ASR 0.4 %)."""

import json

from auditor.examples import bundled

from .test_cli import run


def test_clean_erases_the_bundled_backdoor_and_keeps_accuracy(tmp_path):
    example = bundled()
    out, scores = tmp_path / "clean.onnx", tmp_path / "scores.json"
    result = run("clean", example.model, "-o", out, "--preset", "mnist", "--no-residual-scan", "-q")
    assert result.exit_code == 0, result.output
    gated = run("evaluate", out, "--data", example.test_set, "--trigger", example.trigger,
                "--preset", "mnist", "--max-asr", "5", "--baseline", example.model,
                "--max-acc-drop", "2", "--json", scores)
    figures = json.loads(scores.read_text())
    assert figures["baseline"]["asr"] > 0.9, figures     # the backdoor was there to erase
    assert gated.exit_code == 0, gated.output             # and the gates say it is gone
    assert figures["asr"] < 0.05 and figures["baseline"]["acc"] - figures["acc"] <= 0.02
