"""Time to clean, by model size: a ladder of models, each cleaned with the default recipe.

    python benchmarks/speed.py [--device cpu|cuda] [--models a,b] [--warmup W --full F]
                               [--precision P] [--profile] [--out benchmarks/results/speed-cpu.json]

A full default clean (250 iterations) takes hours for the larger models on a CPU, so each model
runs W warm-up iterations (generators only) and F full ones (student, generator, trigger), with
the patch probe between them as in a real run, then the export and the residual check's two
scans (the clean model's and the original's); the time of a default clean is then load + 50
warm-up + 200 full iterations + probe + export + both scans, each measured (an estimate, and
labelled so; the early stop is not in it). `--modes whole` runs the default clean to its end
instead, early stop included, and times it. Per model: seconds per iteration split by phase,
synthetic images per second, peak memory, multiply-adds per image.

Each model runs twice, in its own process (so peak memory is its own): as auditor runs it, and
as the **plain baseline**, the same loop in eager float32 with the fused kernels replaced by
their PyTorch references (`AUDITOR_KERNELS=reference`), every net kept in the layout it was
loaded in (`AUDITOR_MEMORY_FORMAT=contiguous`, see auditor/memory_layout.py), every step
drawing fresh synthetic images (`pool_batches=0`, see auditor/image_pool.py), no compile and no
early stop, its passes and scans float32 whatever --precision says. On a CPU the kernels do not run (they are
CUDA-only), so there the ratio is what the channels-last layout, the image pool and the
precision buy, give or take the machine's noise. `--precision` (default: the recipe's and the
scans' own) sets the auditor and whole rows' passes and scans (auditor/precision.py); each row
records what ran.
`--profile` writes torch.profiler's table of the full iterations beside the JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
# the shared corpus beside the checkout; on the GPU machine, the copy benchmarks/device_prepare.sh
# puts in the carried folder (../shared does not travel there)
CORPUS = Path(os.environ.get("AUDITOR_CORPUS", ROOT.parent / "shared" / "models"))
DEFAULT_WARMUP, DEFAULT_ITERATIONS = 50, 250
PHASES = ("student_step", "generator_step", "trigger_step", "end_warmup")


def _bn_cnn():
    from torch import nn

    def block(i, o):
        return [nn.Conv2d(i, o, 3, padding=1), nn.BatchNorm2d(o), nn.ReLU()]
    return nn.Sequential(*block(1, 32), *block(32, 32), nn.MaxPool2d(2), *block(32, 64),
                         *block(64, 64), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10))


def _depthwise_16px():
    from zoo import Depthwise   # the quality zoo's depthwise-separable net, strided depthwise convolutions included

    return Depthwise(16)


def _resnet18_32px():
    import torchvision
    from torch import nn

    net = torchvision.models.resnet18(num_classes=10)
    net.conv1 = nn.Conv2d(3, 64, 3, padding=1, bias=False)   # the CIFAR variant: 32 px in
    net.maxpool = nn.Identity()
    return net


# name: (how to get the file, preprocessing preset, input shape for built nets)
LADDER = {
    "bundled-cnn": ("bundled", "mnist", None),
    "bn-cnn-16px": (_bn_cnn, "mnist", (1, 16, 16)),
    "depthwise-16px": (_depthwise_16px, "mnist", (1, 16, 16)),
    "corpus-mnist-cnn": ("mnist-cnn-torch-op17-2out.onnx", "mnist", None),
    "corpus-resnet20": ("cifar10-resnet20-torch-op9.onnx", "cifar10", None),
    "resnet18-32px": (_resnet18_32px, "cifar10", (3, 32, 32)),
}
# the corpus's other MNIST models (issue 10's target names them all), run on request only:
# --models corpus-mnist-all
CORPUS_MNIST = {
    "corpus-mnist8-cntk": ("mnist8-cntk.onnx", "mnist", None),
    "corpus-mnist-keras-nhwc": ("mnist-cnn-keras2onnx-nhwc.onnx", "mnist", None),
    "corpus-mnist-tf-f64": ("mnist-cnn-tf2onnx-f64.onnx", "mnist", None),
    "corpus-mnist-dynamo": ("mnist-cnn-torch-dynamo-op20.onnx", "mnist", None),
    "corpus-mnist-mlp": ("mnist-mlp-tf2onnx-op7.onnx", "mnist", None),
}
MODELS = {**LADDER, **CORPUS_MNIST}


def model_file(name: str, folder: Path) -> Path:
    import torch

    source, _, shape = MODELS[name]
    if source == "bundled":
        from auditor.examples import bundled
        return bundled().model
    if isinstance(source, str):
        if not (CORPUS / source).exists():
            raise SystemExit(f"{name}: the shared model corpus is not at {CORPUS}")
        return CORPUS / source
    path = folder / f"{name}.onnx"
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(source().eval(), (torch.zeros(1, *shape),), str(path), dynamo=False,
                          opset_version=17, input_names=["x"], output_names=["y"],
                          dynamic_axes={"x": {0: "b"}, "y": {0: "b"}})
    return path


def multiply_adds(net, example) -> int:
    """Per item of `example` (a batch of one), of Conv and Linear layers (what dominates)."""
    import torch
    from torch import nn

    total = [0]

    def count(module, inputs, output):
        if isinstance(module, nn.Conv2d):
            per_output = module.in_channels // module.groups * module.kernel_size[0] * module.kernel_size[1]
            total[0] += output[0].numel() * per_output
        elif isinstance(module, nn.Linear):
            total[0] += module.in_features * module.out_features
        else:   # onnx2torch's MatMul (tf2onnx writes dense layers as MatMul + Add, not Gemm)
            total[0] += output.numel() // output.shape[0] * inputs[0].shape[-1]

    handles = [m.register_forward_hook(count) for m in net.modules()
               if isinstance(m, (nn.Conv2d, nn.Linear)) or type(m).__name__ == "OnnxMatMul"]
    with torch.no_grad():
        net(example)
    for handle in handles:
        handle.remove()
    return total[0]


def measure_one(name: str, mode: str, device: str, warmup: int, full: int, profile: Path | None,
                precision: str | None = None) -> dict:
    """One model, one mode, in this process."""
    import torch

    from auditor import erasing
    from auditor.cleaning import clean_model
    from auditor.loading import load_model
    from auditor.presets import PRESETS
    from auditor.recipe import Recipe
    from auditor.synthesis import ImageGenerator

    if mode == "plain":
        os.environ["AUDITOR_KERNELS"] = "reference"
        os.environ["AUDITOR_MEMORY_FORMAT"] = "contiguous"
    cuda = device == "cuda"
    spent = {phase: [] for phase in PHASES}

    def timed(phase, function):
        def wrapper(*args, **kwargs):
            if cuda:
                torch.cuda.synchronize()
            start = time.perf_counter()
            out = function(*args, **kwargs)
            if cuda:
                torch.cuda.synchronize()
            spent[phase].append(time.perf_counter() - start)
            return out
        return wrapper

    for phase in PHASES:
        setattr(erasing, phase, timed(phase, getattr(erasing, phase)))
    # iteration times are taken when each iteration's figures arrive: have them arrive at once
    erasing.FigureReader.every = 1
    iteration_times, last = [], [None]

    def on_iteration(i, figures):
        now = time.perf_counter()
        if last[0] is not None:
            iteration_times.append((i, now - last[0]))
        last[0] = now

    with tempfile.TemporaryDirectory() as folder:
        path = model_file(name, Path(folder))
        mean, std = PRESETS[MODELS[name][1]]
        loaded = load_model(path, mean=mean, std=std)
        macs = multiply_adds(loaded.net, loaded.spec.to_layout(torch.zeros(1, *loaded.spec.shape)))
        # the image generator draws every synthetic image; its cost does not shrink with the model
        generator = ImageGenerator(loaded.spec.shape, num_classes=loaded.spec.num_classes).eval()
        generator_macs = multiply_adds(generator, torch.zeros(1, generator.stem.in_features))
        recipe = Recipe().with_overrides(iterations=warmup + full, warmup_iterations=warmup,
                                         pool_batches=0 if mode == "plain" else None,
                                         stop_window=0 if mode == "plain" else None,
                                         precision="float32" if mode == "plain" else precision)
        profiler = None
        if profile is not None:
            profiler = torch.profiler.profile(
                activities=[torch.profiler.ProfilerActivity.CPU]
                + ([torch.profiler.ProfilerActivity.CUDA] if cuda else []),
                schedule=torch.profiler.schedule(wait=warmup + 1, warmup=0, active=full - 1))
            profiler.__enter__()

        def step(i, figures):
            on_iteration(i, figures)
            if profiler is not None:
                profiler.step()

        if cuda:
            torch.cuda.reset_peak_memory_stats()
        start = time.perf_counter()
        scans = _scans("float32" if mode == "plain" else precision)
        result = clean_model(path, Path(folder) / "clean.onnx", recipe=recipe, device=device,
                             mean=mean, std=std, on_iteration=step, residual_scan=scans)
        wall = time.perf_counter() - start
        if profiler is not None:
            profiler.__exit__(None, None, None)
            sort = "self_cuda_time_total" if cuda else "self_cpu_time_total"
            profile.write_text(profiler.key_averages().table(sort_by=sort, row_limit=25))

    # iteration 0 has no start time; iteration `warmup` carries the probe (both are excluded,
    # which is why main() asks for at least 2 of each)
    warm = [t for i, t in iteration_times if i < warmup]
    post = [t for i, t in iteration_times if i > warmup]
    per_warm, per_full = sum(warm) / len(warm), sum(post) / len(post)
    probe = spent["end_warmup"][0] if spent["end_warmup"] else 0.0
    estimate = (result.timings["load"] + DEFAULT_WARMUP * per_warm
                + (DEFAULT_ITERATIONS - DEFAULT_WARMUP) * per_full + probe
                + result.timings["export"] + result.timings.get("residual_scan", 0.0)
                + result.timings.get("original_scan", 0.0))
    batch = recipe.batch_size
    images_per_full = batch * (recipe.student_steps + 2)     # every step takes one batch
    peak = (torch.cuda.max_memory_allocated() if cuda
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
    # per full iteration, over the same iterations as full_iteration (the probe's excluded)
    calls = {"student_step": recipe.student_steps, "generator_step": 1, "trigger_step": 1}
    full_phases = {p: sum(spent[p][-(full - 1) * n:]) / (full - 1) for p, n in calls.items()}
    student_per_iteration = full_phases["student_step"]
    return {
        "model": name, "mode": mode, "device": device, "multiply_adds_per_image": macs,
        "generator_multiply_adds_per_image": generator_macs,
        "iterations_measured": {"warmup": warmup, "full": full},
        "seconds": {"load": result.timings["load"], "warmup_iteration": per_warm,
                    "full_iteration": per_full, "probe": probe,
                    "export": result.timings["export"],
                    "residual_scan": result.timings.get("residual_scan", 0.0),
                    "original_scan": result.timings.get("original_scan", 0.0),
                    "run_measured": wall},
        "full_iteration_split": {"student (all steps)": student_per_iteration,
                                 "generator": full_phases.get("generator_step", 0.0),
                                 "trigger": full_phases.get("trigger_step", 0.0)},
        "estimated_default_clean_s": estimate,
        "synthetic_images_per_s": images_per_full / per_full,
        "peak_memory_bytes": peak,
        "peak_memory_kind": "CUDA max allocated" if cuda else "process max RSS (torch included)",
        "precision": result.erasure.final["precision"],
        "scan_precision": result.residual.precision,
    }


def _scans(precision: str | None):
    """The scans' settings: --precision sets the scans' passes too, as it sets the clean's."""
    from auditor.recipe import ScanSettings

    return ScanSettings(**({"precision": precision} if precision else {}))


def clean_whole(name: str, device: str, precision: str | None = None,
                overrides: dict | None = None) -> dict:
    """One model cleaned whole with the default recipe (its early stop included; `overrides`:
    recipe fields set otherwise), timed end to end in this process: what a user waits for,
    where `measure_one` estimates it."""
    from auditor.cleaning import clean_model
    from auditor.presets import PRESETS
    from auditor.recipe import Recipe

    with tempfile.TemporaryDirectory() as folder:
        path = model_file(name, Path(folder))
        mean, std = PRESETS[MODELS[name][1]]
        start = time.perf_counter()
        recipe = Recipe().with_overrides(precision=precision).with_overrides(**(overrides or {}))
        result = clean_model(path, Path(folder) / "clean.onnx", recipe=recipe, device=device,
                             mean=mean, std=std, residual_scan=_scans(precision))
        wall = time.perf_counter() - start
    return {"model": name, "mode": "whole", "device": device, "seconds": wall,
            "iterations": result.erasure.iterations, "cap": Recipe().iterations,
            "stop_reason": result.erasure.stop_reason, "student_restart": result.erasure.restart,
            "timings_s": result.timings, "final": result.erasure.final,
            "scan_precision": result.residual.precision, "overrides": overrides or {},
            "earliest_stop": result.recipe.earliest_stop}


def _versions(device: str) -> dict:
    import platform

    import onnxruntime
    import torch

    info = {"python": platform.python_version(), "torch": torch.__version__,
            "onnxruntime": onnxruntime.__version__, "cpu_threads": torch.get_num_threads(),
            "cpu": platform.processor() or platform.machine()}
    if device == "cuda":
        info["gpu"] = torch.cuda.get_device_name()
        try:
            import triton
            info["triton"] = triton.__version__
        except ImportError:
            pass
    return info


def main() -> None:
    from auditor.recipe import PRECISIONS
    from sweep import parse_overrides

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--models", default=",".join(LADDER),
                        help="comma-separated; corpus-mnist-all adds the corpus's other MNIST models")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--full", type=int, default=3)
    parser.add_argument("--modes", default="auditor,plain",
                        help="auditor and plain: a few iterations, timed by phase, the clean "
                             "estimated; whole: the default clean run to its stop and timed")
    parser.add_argument("--precision", choices=PRECISIONS,
                        help="the auditor and whole rows' passes (default: the recipe's)")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--set", nargs="*", default=[], dest="overrides", metavar="FIELD=VALUE",
                        help="recipe fields of the whole rows set otherwise (as sweep.py's --set)")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--mode", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.full < 2 or args.warmup < 2:
        parser.error("--warmup and --full must be at least 2 (the first iteration of each has no "
                     "start time; the first full one carries the probe)")
    out = args.out or ROOT / "benchmarks" / "results" / f"speed-{args.device}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    if args.one:
        profile = out.with_name(f"profile-{args.one}-{args.device}.txt") if args.profile else None
        print(json.dumps(clean_whole(args.one, args.device, args.precision,
                                     parse_overrides(args.overrides))
                         if args.mode == "whole" else
                         measure_one(args.one, args.mode, args.device, args.warmup, args.full,
                                     profile, args.precision)))
        return
    rows = []
    names = args.models.replace("corpus-mnist-all", ",".join(CORPUS_MNIST)).split(",")
    unknown = [n for n in names if n not in MODELS]
    if unknown:
        parser.error(f"unknown models {unknown}; known: {', '.join(MODELS)}, corpus-mnist-all")
    for name in names:
        for mode in args.modes.split(","):
            command = [sys.executable, __file__, "--one", name, "--mode", mode, "--device",
                       args.device, "--warmup", str(args.warmup), "--full", str(args.full),
                       "--out", str(out)] + (["--profile"] if args.profile and mode == "auditor" else []) \
                + (["--precision", args.precision] if args.precision else []) \
                + (["--set", *args.overrides] if args.overrides else [])
            done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
            if done.returncode != 0:
                raise SystemExit(f"{name} ({mode}) failed:\n{done.stderr[-3000:]}")
            rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
            _print_row(rows[-1])
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"versions": _versions(args.device), "rows": rows}, indent=1))
    print(f"wrote {out}")


def _print_row(row: dict) -> None:
    if row["mode"] == "whole":
        print(f"{row['model']:18} whole    {row['seconds'] / 60:.1f} min, stopped at "
              f"{row['iterations']}/{row['cap']}: {row['stop_reason']} ({row['final']['precision']})",
              flush=True)
        return
    s = row["seconds"]
    split = row["full_iteration_split"]
    if row["mode"] == "auditor":
        print(f"{'model':18} {'mode':8} {'M MAC':>7} {'G M MAC':>7} {'warm s/it':>9} {'full s/it':>9} "
              f"{'student':>8} {'gen':>6} {'trig':>6} {'probe s':>7} {'export s':>8} "
              f"{'scan s':>6} {'img/s':>7} {'peak MB':>8} {'est. clean':>10}")
    print(f"{row['model']:18} {row['mode']:8} {row['multiply_adds_per_image'] / 1e6:7.1f} "
          f"{row['generator_multiply_adds_per_image'] / 1e6:7.1f} "
          f"{s['warmup_iteration']:9.2f} {s['full_iteration']:9.2f} "
          f"{split['student (all steps)']:8.2f} {split['generator']:6.2f} {split['trigger']:6.2f} "
          f"{s['probe']:7.1f} {s['export']:8.1f} {s['residual_scan']:6.1f} "
          f"{row['synthetic_images_per_s']:7.0f} {row['peak_memory_bytes'] / 2**20:8.0f} "
          f"{row['estimated_default_clean_s'] / 60:8.1f} min  {row['precision']}", flush=True)


if __name__ == "__main__":
    main()
