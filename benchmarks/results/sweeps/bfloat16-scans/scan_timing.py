"""Clause (f)'s timing (chosen-2026-12-07.txt): scan_classifier at the defaults on one model,
float32 and bfloat16 alternating, each twice, 2 threads; run alone.

    python scan_timing.py ../shared/models/mnist-cnn-keras2onnx-nhwc.onnx mnist > scan_timing.txt
"""
import dataclasses
import sys

import torch

from auditor.detection import scan_classifier
from auditor.loading import Classifier, load_model
from auditor.presets import PRESETS
from auditor.recipe import ScanSettings

torch.set_num_threads(2)
path, preset = sys.argv[1], sys.argv[2]
mean, std = PRESETS[preset][:2]
loaded = load_model(path, mean=mean, std=std)
model = Classifier(loaded.net, loaded.spec, loaded.output_index)
seconds = {"float32": [], "bfloat16": []}
for precision in ["float32", "bfloat16"] * 2:
    result = scan_classifier(model, loaded.spec, dataclasses.replace(ScanSettings(), precision=precision))
    seconds[precision].append(result.seconds)
    print(f"{precision:9s} {result.seconds:6.1f} s  suspected {result.verdict.suspected}  "
          f"class {result.verdict.suspect}  p {result.verdict.p_value:.3g}", flush=True)
mean_of = {p: sum(s) / len(s) for p, s in seconds.items()}
ratio = mean_of["bfloat16"] / mean_of["float32"]
print(f"mean {mean_of['float32']:.1f} -> {mean_of['bfloat16']:.1f} s, ratio {ratio:.2f} "
      f"(at most 0.7): {'passes' if ratio <= 0.7 else 'FAILS'}")
