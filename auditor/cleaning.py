"""`auditor clean` as a library call: load, erase, export. Returns a result; never prints."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import tempfile
import time
from pathlib import Path
from typing import Callable

import torch

from . import __version__
from .checkpoint import Checkpoint
from .detection import MIN_CLASSES, ScanResult, ScanSettings, scan_classifier
from .erasing import ErasureResult, erase_backdoor
from .errors import DeviceError, OptionError, OutputPathError
from .export import ExportResult, export_clean_model
from .loading import Classifier, LoadedModel, load_model
from .recipe import Recipe
from .shortcut import ShortcutCheck, check_shortcut
from .student_restart import WARN_BELOW


@dataclasses.dataclass
class CleanResult:
    loaded: LoadedModel
    erasure: ErasureResult
    export: ExportResult
    device: str
    timings: dict[str, float]     # seconds: load, erase, export, residual and original scans
    recipe: Recipe                # as the erasing ran (Recipe.after_scan)
    residual: ScanResult | None = None   # the clean model scanned for what is left
    original_scan: ScanResult | None = None   # the model as given, scanned the same way
    shortcut: ShortcutCheck | None = None     # whether the original's suspected shortcut is left

    @property
    def evidence(self) -> list[str]:
        """Why backdoor evidence remains, if it does: the clean model's own scan, the original's
        shortcut still followed."""
        found = []
        if self.residual is not None and self.residual.verdict.suspected:
            v = self.residual.verdict
            found.append(f"class {v.suspect} stands out in the clean model's scan (p = {v.p_value:.3g})")
        if self.shortcut is not None and self.shortcut.kept:
            found.append(f"the clean model follows the original's shortcut to class "
                         f"{self.shortcut.target} on {100 * self.shortcut.share:.0f} % of its images")
        return found

    @property
    def warnings(self) -> list[str]:
        found = []
        if self.export.fallback is not None:
            found.append(f"the original graph could not carry the new weights "
                         f"({self.export.fallback}); the clean model was written by torch.onnx's "
                         f"{self.export.exporter} exporter instead, and matches the student")
        agreement = self.erasure.final["agreement"]
        if agreement < WARN_BELOW:
            found.append(f"the clean model agrees with the original on only {100 * agreement:.1f} % "
                         "of synthetic images and may have lost accuracy: check it on labelled "
                         "images before shipping it (auditor evaluate --baseline MODEL "
                         "--max-acc-drop POINTS)")
        return found

    def report(self, model_path: Path) -> dict:
        """Everything a pipeline needs to audit the run, as plain JSON values."""
        history = self.erasure.history
        return {
            "tool": {"name": "auditor", "version": __version__, "method": "DHBE"},
            "model": {"path": str(model_path), "sha256": self.loaded.sha256,
                      "format": self.loaded.source_format, "opset": self.loaded.opset,
                      "external_data": [str(f) for f in self.loaded.source_files[1:]]},
            "input": dataclasses.asdict(self.loaded.spec),
            "output": {"path": str(self.export.path), "sha256": _sha256(self.export.path),
                       "bytes": self.export.bytes, "exporter": self.export.exporter,
                       "opset": self.export.opset,
                       "max_abs_diff_onnxruntime": self.export.max_abs_diff,
                       "fallback": self.export.fallback},
            "recipe": self.recipe.for_input(self.loaded.spec).as_dict(),   # as it ran
            "device": self.device,
            "trigger_families": self.erasure.trigger_families,
            "figures": {"final": self.erasure.final, "last_iteration": history[-1] if history else {}},
            "timings_s": self.timings,
            "resumed_from_iteration": self.erasure.resumed_from,
            "stop": {"iterations": self.erasure.iterations, "cap": self.recipe.iterations,
                     "reason": self.erasure.stop_reason, "earliest": self.recipe.earliest_stop},
            "student_restart": self.erasure.restart,
            "warnings": self.warnings,
            "residual": self.residual.as_dict() if self.residual is not None else None,
            "original_scan": self.original_scan.as_dict() if self.original_scan is not None else None,
            "shortcut": self.shortcut.as_dict() if self.shortcut is not None else None,
            "evidence_left": bool(self.evidence), "evidence": self.evidence,
        }


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise DeviceError("--device cuda: no CUDA device is available (try --device cpu)")
    return torch.device(name)


def clean_model(model_path: str | Path, out_path: str | Path, *, recipe: Recipe,
                device: str = "auto", mean=(0.0,), std=(1.0,), input_shape=None, layout=None,
                output_name: str | None = None,
                on_iteration: Callable[[int, dict], None] | None = None,
                on_stop: Callable[[int, str], None] | None = None,
                residual_scan: ScanSettings | None = None,
                on_scan_step: Callable[[int, int], None] | None = None,
                on_original_scan_step: Callable[[int, int], None] | None = None,
                checkpoint: Path | None = None, checkpoint_every: int = 10,
                resume: bool = False) -> CleanResult:
    """on_stop(iterations run, why): called once the erasing loop ends.
    residual_scan: settings to scan the clean model with (before it is written), or None; the
    original is scanned the same way first, and if it is suspected, `shortcut` says whether the
    clean model still follows it to that class; if not, the erasing may stop earlier
    (Recipe.after_scan). on_original_scan_step, on_scan_step: (steps done, of) for each scan.
    checkpoint: where to save the run every `checkpoint_every` iterations (and, with `resume`,
    continue from); removed once the clean model is written."""
    model_path, out_path = Path(model_path), Path(out_path)
    if recipe.iterations <= recipe.warmup_iterations:
        # the warm-up trains only the generators: the student would be the model, unchanged
        raise OptionError(f"--iterations ({recipe.iterations}) must exceed --warmup-iterations "
                          f"({recipe.warmup_iterations}), or nothing is cleaned")
    if resume and checkpoint is None:
        raise OptionError("--resume needs --checkpoint PATH")
    _check_out_path((model_path,), out_path)
    if checkpoint is not None:
        _check_out_path((model_path, out_path), Path(checkpoint))
    torch_device = resolve_device(device)
    timings = {}
    start = time.perf_counter()
    loaded = load_model(model_path, mean=mean, std=std, input_shape=input_shape, layout=layout,
                        output_name=output_name)
    _check_out_path(loaded.source_files, out_path)
    timings["load"] = time.perf_counter() - start
    teacher = Classifier(loaded.net, loaded.spec, loaded.output_index)
    scanning = residual_scan is not None and loaded.spec.num_classes >= MIN_CLASSES
    original_scan = scan_classifier(teacher, loaded.spec, residual_scan, device=torch_device,
                                    on_step=on_original_scan_step) if scanning else None
    recipe = recipe.after_scan(original_scan.verdict.suspected if scanning else None,
                               original_scan.verdict.suspect if scanning else None)
    saving = None
    if checkpoint is not None:
        _check_out_path(loaded.source_files, Path(checkpoint))
        saving = Checkpoint.for_run(checkpoint, checkpoint_every, resume=resume,
                                    model_sha256=loaded.sha256, recipe=recipe.as_dict(),
                                    spec=dataclasses.asdict(loaded.spec),
                                    device=torch_device.type)
    erasure = erase_backdoor(teacher, loaded.spec, recipe, device=torch_device,
                             on_iteration=on_iteration, checkpoint=saving)
    timings["erase"] = erasure.seconds
    if on_stop is not None:
        on_stop(erasure.iterations, erasure.stop_reason)
    # scanned before it is written, so that a run stopped at any point writes nothing
    residual = shortcut = None
    if scanning:
        residual = scan_classifier(erasure.student, loaded.spec, residual_scan, device=torch_device,
                                   on_step=on_scan_step)
        shortcut = check_shortcut(original_scan, teacher, erasure.student, loaded.spec,
                                  device=torch_device)
        timings["residual_scan"] = residual.seconds
        timings["original_scan"] = original_scan.seconds + (shortcut.seconds if shortcut else 0.0)
    start = time.perf_counter()
    generator = torch.Generator().manual_seed(recipe.seed)
    check_pixels = torch.rand(8, *loaded.spec.shape, generator=generator)
    check_inputs = loaded.spec.to_layout(loaded.spec.normalise(check_pixels))
    metadata = {"version": __version__, "method": "DHBE data-free holistic backdoor erasing",
                "source_sha256": loaded.sha256, "seed": recipe.seed,
                "iterations": erasure.iterations}
    export = export_clean_model(loaded, erasure.student.net, out_path, check_inputs=check_inputs,
                                metadata=metadata)
    timings["export"] = time.perf_counter() - start
    if saving is not None:
        saving.remove()      # the run is written out whole; the checkpoint is stale
    return CleanResult(loaded, erasure, export, str(torch_device), timings, recipe, residual,
                       original_scan, shortcut)


def _check_out_path(model_files, out_path: Path) -> None:
    """model_files: the model and the files it reads its weights from (ONNX external data)."""
    if not out_path.parent.is_dir():
        raise OutputPathError(f"{out_path}: the folder {out_path.parent} does not exist")
    if any(os.path.realpath(out_path) == os.path.realpath(f) for f in model_files):
        raise OutputPathError(f"{out_path}: refusing to overwrite the model being cleaned, "
                              f"its external data or the clean model")
    if out_path.is_dir():
        raise OutputPathError(f"{out_path}: is a folder; give a file name such as clean.onnx")
    # before the long run, not after it: a read-only or full folder fails now
    try:
        handle, probe = tempfile.mkstemp(dir=out_path.parent, prefix=f".{out_path.name}.")
        os.close(handle)
        os.unlink(probe)
    except OSError as err:
        raise OutputPathError(f"{out_path}: cannot write in {out_path.parent} "
                              f"({err.strerror or err})") from None


def _sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()
