"""The command line: parse, call the library, render. Errors are one line and an exit status."""

from __future__ import annotations

import functools
import os
import signal
import sys
import threading
import warnings
from pathlib import Path

import click

from . import __version__
from .errors import (FINDING, AuditorError, InternalError, InterruptedRun, OptionError, Terminated,
                     TerminatedRun, exit_status_help)
from .presets import PRESETS, parse_floats, parse_shape
from .recipe import PRECISIONS, SEARCHES, START_SCALES, Recipe, ScanSettings


class _Parsed(click.ParamType):
    """A value parsed by one of input_spec's parsers, whose ValueError becomes a usage error."""

    def __init__(self, name: str, parse):
        self.name, self.parse = name, parse

    def convert(self, value, param, ctx):
        if isinstance(value, tuple):
            return value
        try:
            return self.parse(value)
        except ValueError as err:
            self.fail(str(err), param, ctx)


def preprocessing_options(command):
    """--preset / --mean / --std / --input-shape / --layout / --output, shared by commands."""
    options = [
        click.option("--preset", type=click.Choice(sorted(PRESETS)), default="none",
                     show_default=True, help="Normalisation the model expects on [0, 1] pixels."),
        click.option("--mean", type=_Parsed("floats", parse_floats), help="Per-channel mean, e.g. 0.5,0.5,0.5 (overrides --preset)."),
        click.option("--std", type=_Parsed("floats", parse_floats), help="Per-channel std (overrides --preset)."),
        click.option("--input-shape", type=_Parsed("CxHxW", parse_shape), help="CxHxW; needed for TorchScript."),
        click.option("--layout", type=click.Choice(["NCHW", "NHWC", "NHW"]),
                     help="Input layout, if the graph's shape does not tell."),
        click.option("--output", "output_name", metavar="NAME",
                     help="Which model output holds the class scores (default: the first N x K)."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _preprocessing(preset, mean, std, input_shape, layout, output_name) -> dict:
    preset_mean, preset_std = PRESETS[preset]
    return dict(mean=mean or preset_mean, std=std or preset_std, input_shape=input_shape,
                layout=layout, output_name=output_name)


def handle_errors(command):
    """Bad input becomes one line on stderr and a distinct exit status, never a traceback;
    anything unforeseen too (exit 70, never 1, which means a finding), unless AUDITOR_DEBUG is
    set, which shows the traceback for a bug report."""
    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except KeyboardInterrupt:
            raise InterruptedRun() from None
        except Terminated:
            raise TerminatedRun() from None
        except (AuditorError, click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except ValueError as err:
            raise OptionError(str(err)) from None
        except Exception as err:
            if os.environ.get("AUDITOR_DEBUG"):
                raise
            text = str(err).strip().splitlines()
            raise InternalError(f"internal error: {type(err).__name__}: "
                                f"{text[0][:300] if text else ''} (AUDITOR_DEBUG=1 shows where)") from None
    return wrapper


def finding(message: str) -> None:
    """Exit 1, the status kept for findings, with the finding on stderr."""
    click.echo(f"auditor: {message}", err=True)
    raise click.exceptions.Exit(FINDING)


EPILOG = "\b\nExit status (every command):\n" + exit_status_help()


@click.group(epilog=EPILOG)
@click.version_option(__version__, prog_name="auditor")
@click.pass_context
def main(ctx):
    """Erase backdoors from image classifiers without clean data (DHBE)."""
    # converted graphs warn about their own idioms at every forward pass; nothing a user can act on
    warnings.filterwarnings("ignore", module="onnx2torch")
    # SIGTERM (CI timeouts, docker stop) unwinds like Ctrl-C, so temporary files are removed
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, _terminated)
        ctx.call_on_close(lambda: signal.signal(signal.SIGTERM, previous))


def _terminated(signum, frame):
    raise Terminated()


_RECIPE_OPTIONS = [
    ("--iterations", int, "Outer iterations at most (the run stops earlier once settled, or unsettled when the learning rates fall to a hundredth, see --stop-window)."),
    ("--warmup-iterations", int, "Leading iterations that train only the generators."),
    ("--warmup-generator-steps", int, "Image generator updates per warm-up iteration (one per iteration after it)."),
    ("--batch-size", int, "Synthetic images per step."),
    ("--student-steps", int, "Student updates per iteration."),
    ("--lr-student", float, "Student SGD learning rate."),
    ("--student-ramp", int, "Iterations over which the student's learning rate rises from 0."),
    ("--feature-weight", float, "Weight of the penalty on the student's penultimate features (the input of its last Linear layer) under the triggers, relative to their size; 0 = none. No effect on a model whose logits come from no Linear layer (the run's printout says so)."),
    ("--tether-weight", float, "Pull of the student's weights towards the suspect model's (L2-SP)."),
    ("--reset-deviations", float, "Re-initialise the student's convolution channels whose gain bound is this many deviations above their layer's (CLP's rule); 0 = none."),
    ("--lr-generator", float, "Image generator Adam learning rate."),
    ("--lr-trigger", float, "Trigger generators' Adam learning rate."),
    ("--reg-weight", float, "Weight of the trigger-consistency penalty (lambda); 0 = plain distillation."),
    ("--tv-weight", float, "Total-variation prior weight."),
    ("--image-l2-weight", float, "Weight of the prior that pulls synthetic images towards the normalisation's mean (DeepInversion's l2); 0 = none."),
    ("--input-moments-weight", float, "Weight of the prior that matches the synthetic images' per-channel mean and std to the normalisation's (DeepInversion's feature statistics, at the input); 0 = none. Off when the normalisation's mean is 0 (no --preset or --mean given, or a uint8 input)."),
    ("--image-jitter", int, "Roll each synthetic image by up to this many pixels before the suspect model reads it in the generator's step (DeepInversion's jitter); 0 = none."),
    ("--class-weight", float, "Weight of the generator's class-by-class inversion term."),
    ("--pool-batches", int, "Steps other than the generator's draw from its last n batches; 0 = fresh images."),
    ("--generator-width", int, "Channels of the image generator (most of an iteration's cost)."),
    ("--disagreement-weight", float, "Weight of the generator's student-teacher disagreement term."),
    ("--patch-size", int, "Smallest trigger patch, in pixels (default 5 px per 32 px)."),
    ("--patch-weight", float, "Each patch family's share of the triggered images, relative to the other families'."),
    ("--blend-alpha", float, "Largest blend weight of full-image triggers; 0 disables them."),
    ("--additive-epsilon", float, "Largest amplitude of additive triggers, in pixels; 0 disables."),
    ("--targeted-search", bool, "Search for triggers that send every image to one class."),
    ("--patch-probe", bool, "Probe every patch position with fixed patterns when the warm-up ends."),
    ("--probe-images", int, "Synthetic images the patch probe uses."),
    ("--probe-screen-images", int, "Measure every probe stamp on this many of the probe's images first, and only the 64 strongest of each patch family on all of them; 0, or at least --probe-images, = every stamp on all."),
    ("--stamp-every", int, "Every n-th patch image carries one of the probe's strongest stamps; 0 = none."),
    ("--noise-alpha", float, "Largest weight of fresh uniform-noise blends among the triggers; 0 disables."),
    ("--noise-weight", float, "The noise-blend family's share of the triggered images, relative to the blend and additive families'."),
    ("--grating-weight", float, "Share of triggered images, relative to the other families', that blend one of the gratings (whole-image sinusoids, at --blend-alpha) the warm-up found raising the suspect class most; 0 = none."),
    ("--grating-rows", int, "Images added to each student step's triggered images, each blending one of the gratings (at --blend-alpha) the warm-up found raising the suspect class or any class most; 0 = none."),
    ("--restyle-share", float, "Share of synthetic images the student and the trigger search see remapped in intensity (inverted or not, then a random power), labelled afresh by the suspect model; 0 = none."),
    ("--suspect-rise", float, "Class rise of the warm-up's triggers that makes a class suspect; 0 = never."),
    ("--suspect-share", float, "Share of the suspect class's synthetic images kept for distillation."),
    ("--clamp-triggers", bool, "Keep triggered images within the pixel range (the paper does not)."),
    ("--anchor-share", float, "Share of triggered images drawn from the search as the warm-up left it."),
    ("--restart-agreement", float, "Restart the student from the teacher at a tenth of its learning rate when it agrees with it on fewer synthetic images (0-1) after 20 full iterations; 0 = never."),
    ("--stop-window", int, "Stop once agreement with the teacher and the trigger search have settled over this many iterations, or at the second learning-rate decay if they never do; 0 = run all --iterations."),
    ("--stop-agreement", float, "Least mean agreement with the teacher (0-1) over the window for the run to stop."),
    ("--stop-after", int, "Full iterations (after the warm-up) before the run may stop."),
    ("--suspect-from-scan", bool, "Where the scan of the original suspects a class, that class is the suspect class instead of the warm-up's guess (needs the residual scan, which then scans the original first)."),
    ("--stop-after-clear", int, "Full iterations before the run may stop when the original's scan finds no backdoor evidence (instead of --stop-after, if fewer; needs the residual scan, which then scans the original first). Set it to --stop-after's value to turn it off."),
    ("--precision", PRECISIONS, "Number format of the three nets' passes during the clean: float32, bfloat16 (autocast; weights, losses and the written model stay float32), or auto (bfloat16 where the processor or GPU computes it natively). The report says which ran."),
    ("--seed", int, "Random seed; the same seed on the same machine gives the same file."),
]


def _defaults(flag: str) -> str:
    """Both recipes' values, as the default hangs on --recipe and click can show only one."""
    field = flag[2:].replace("-", "_")
    if field == "patch_size":   # None in both: scaled to the image, as the help text says
        return ""
    ours, paper = getattr(Recipe(), field), getattr(Recipe.paper(), field)
    return f"  [default: {ours}" + (f"; paper: {paper}]" if paper != ours else "]")


def recipe_options(command):
    for flag, kind, text in reversed(_RECIPE_OPTIONS):
        text += _defaults(flag)
        if kind is bool:
            command = click.option(f"{flag}/--no-{flag[2:]}", default=None, help=text)(command)
        elif isinstance(kind, tuple):
            command = click.option(flag, type=click.Choice(kind), help=text)(command)
        else:
            command = click.option(flag, type=click.IntRange(min=0) if kind is int else kind,
                                   help=text)(command)
    command = click.option("--recipe", "recipe_name", type=click.Choice(["default", "paper"]),
                           default="default", show_default=True,
                           help="Starting hyperparameters: ours, or the DHBE paper's.")(command)
    return command


def _recipe(recipe_name: str, overrides: dict) -> Recipe:
    base = Recipe.paper() if recipe_name == "paper" else Recipe()
    recipe = base.with_overrides(**overrides)
    if min(recipe.batch_size, recipe.student_steps, recipe.probe_images) < 1:
        raise click.BadParameter("--batch-size, --student-steps and --probe-images must be at least 1")
    if recipe.generator_width < 2:
        raise click.BadParameter("--generator-width must be at least 2")
    for flag, value in (("--patch-weight", recipe.patch_weight), ("--noise-weight", recipe.noise_weight)):
        if value <= 0:
            raise click.BadParameter(f"{flag} must be above 0")
    for flag, value in (("--stop-agreement", recipe.stop_agreement),
                        ("--restyle-share", recipe.restyle_share),
                        ("--restart-agreement", recipe.restart_agreement)):
        if not 0 <= value <= 1:
            raise click.BadParameter(f"{flag} must be between 0 and 1")
    for flag, value in (("--reset-deviations", recipe.reset_deviations), ("--grating-weight", recipe.grating_weight)):
        if value < 0:
            raise click.BadParameter(f"{flag} must be 0 (off) or above")
    return recipe


def scan_options(command):
    """How hard the scan looks and how sure it must be; shared by scan and clean's residual scan."""
    defaults = ScanSettings()
    options = [
        click.option("--alpha", type=click.FloatRange(0, 1, min_open=True, max_open=True),
                     default=defaults.alpha, show_default=True,
                     help="Significance level: suspect a backdoor when p < alpha."),
        click.option("--scan-steps", type=click.IntRange(min=1), default=defaults.steps,
                     show_default=True, help="Optimisation steps per class."),
        click.option("--scan-starts", type=click.IntRange(min=1), default=defaults.images_per_class,
                     show_default=True, help="Random starting images per class."),
        click.option("--scan-from", type=_Parsed("kinds", _some_of(START_SCALES)),
                     default=",".join(defaults.starts), show_default=True,
                     help=f"Kinds of starting image, comma-separated: {', '.join(START_SCALES)} "
                          f"(dark: pixels in [0, 0.2])."),
        click.option("--scan-search", type=_Parsed("searches", _some_of(SEARCHES)),
                     default=",".join(defaults.searches), show_default=True,
                     help="How starts move towards each class, comma-separated: dense (small steps "
                          "on every pixel), sparse (large steps on a few pixels) or patch (large "
                          "steps in one small square; not in the default, see the README). Each "
                          "kind of start is searched each way; the verdict corrects for every "
                          "look."),
        click.option("--scan-precision", type=click.Choice(PRECISIONS), default=defaults.precision,
                     show_default=True,
                     help="Number format of the scanned model's passes: float32, bfloat16 "
                          "(autocast; the margins and the search stay float32), or auto "
                          "(bfloat16 where the processor or GPU computes it natively)."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _some_of(names):
    def parse(text: str) -> tuple[str, ...]:
        chosen = tuple(dict.fromkeys(k.strip() for k in text.split(",") if k.strip()))
        if not chosen or any(k not in names for k in chosen):
            raise ValueError(f"expected some of {', '.join(names)}, comma-separated")
        return chosen
    return parse


def _scan_settings(alpha, scan_steps, scan_starts, scan_from, scan_search, scan_precision, seed):
    return ScanSettings(images_per_class=scan_starts, steps=scan_steps, alpha=alpha, seed=seed,
                        starts=scan_from, searches=scan_search, precision=scan_precision)


_DEVICE = click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto",
                       show_default=True)
_QUIET = click.option("-q", "--quiet", is_flag=True, help="No progress (bar or CI lines).")


def _json_path(flag: str, text: str):
    return click.option(flag, flag[2:] + "_path", type=click.Path(dir_okay=False, path_type=Path),
                        help=text)


@main.command(epilog=EPILOG)
@click.argument("model", type=click.Path(dir_okay=False, path_type=Path))
@click.option("-o", "--out", "out_path", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write the clean ONNX model.")
@preprocessing_options
@recipe_options
@_DEVICE
@_json_path("--report", "Write settings, figures, timings and the residual scan as JSON here.")
@click.option("--residual-scan/--no-residual-scan", default=True, show_default=True,
              help="Scan the clean model, and the original, for backdoor evidence left in it.")
@click.option("--fail-on-residual", is_flag=True,
              help="Exit 1 when the clean model still looks backdoored: its own scan, or it "
                   "still follows the shortcut the original was suspected of (it is written anyway).")
@scan_options
@click.option("--checkpoint", "checkpoint_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Save the run here every --checkpoint-every iterations (removed once the "
                   "clean model is written).")
@click.option("--checkpoint-every", type=click.IntRange(min=1), default=10, show_default=True,
              help="Iterations between checkpoint saves.")
@click.option("--resume", is_flag=True,
              help="Continue from --checkpoint if it exists (same model, recipe and options); "
                   "the result is the file an uninterrupted run writes.")
@_QUIET
@handle_errors
def clean(model, out_path, preset, mean, std, input_shape, layout, output_name, recipe_name,
          device, report_path, residual_scan, fail_on_residual, alpha, scan_steps, scan_starts,
          scan_from, scan_search, scan_precision, checkpoint_path, checkpoint_every, resume, quiet,
          **overrides):
    """Erase any backdoor from MODEL (.onnx or TorchScript) and write a clean ONNX model."""
    from .rendering import run_clean

    recipe = _recipe(recipe_name, overrides)
    if fail_on_residual and not residual_scan:
        raise click.BadParameter("--fail-on-residual needs the residual scan", param_hint="--no-residual-scan")
    settings = (_scan_settings(alpha, scan_steps, scan_starts, scan_from, scan_search,
                               scan_precision, recipe.seed) if residual_scan else None)
    report = run_clean(model, out_path, recipe=recipe, device=device, report_path=report_path,
                       quiet=quiet, residual_scan=settings, checkpoint=checkpoint_path,
                       checkpoint_every=checkpoint_every, resume=resume,
                       **_preprocessing(preset, mean, std, input_shape, layout, output_name))
    if fail_on_residual and report.get("evidence_left"):
        finding(f"the clean model {out_path} still looks backdoored ({'; '.join(report['evidence'])}); "
                f"it was written for inspection")


@main.command(epilog=EPILOG)
@click.argument("model", type=click.Path(dir_okay=False, path_type=Path))
@preprocessing_options
@scan_options
@_DEVICE
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed of the starting images.")
@_json_path("--report", "Write the verdict, every class's statistic and the null model as JSON here.")
@_json_path("--sarif", "Write the findings as SARIF 2.1.0 here (for code-scanning UIs).")
@click.option("--figures", "figures_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Write PNGs here: each class's inverted image, the suspected target's trigger.")
@_QUIET
@handle_errors
def scan(model, preset, mean, std, input_shape, layout, output_name, alpha, scan_steps,
         scan_starts, scan_from, scan_search, scan_precision, device, seed, report_path, sarif_path,
         figures_dir, quiet):
    """Is MODEL backdoored? A data-free verdict; exit 1 when a backdoor is suspected.

    For each class, noise images (uniform, then dark) take a few steps up its logit margin,
    small ones on every pixel and then large ones on a few pixels; a backdoor target's margin
    rises abnormally far against the other classes (after MM-BD). The looks are combined class
    by class (Simes' test): a class that stands out in several looks counts for more.
    """
    from .rendering import run_scan

    settings = _scan_settings(alpha, scan_steps, scan_starts, scan_from, scan_search,
                              scan_precision, seed)
    suspected = run_scan(model, settings=settings, device=device, report_path=report_path,
                         sarif_path=sarif_path, figures_dir=figures_dir, quiet=quiet,
                         **_preprocessing(preset, mean, std, input_shape, layout, output_name))
    if suspected:
        finding(f"backdoor suspected in {model}")


_PERCENT = click.FloatRange(0, 100)


@main.command(epilog=EPILOG)
@click.argument("model", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--data", "data_path", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help=".npz with images (N,H,W,C pixels) and labels.")
@click.option("--trigger", "trigger_path", type=click.Path(dir_okay=False, path_type=Path),
              help=".npz with pattern and mask (H,W,C) and maybe target.")
@click.option("--target", type=click.IntRange(min=0), help="The attacker's class (overrides the file's).")
@preprocessing_options
@_json_path("--json", "Also write the figures and gates as JSON here.")
@click.option("--min-acc", type=_PERCENT, help="Gate: exit 1 if ACC is below this, in %.")
@click.option("--max-asr", type=_PERCENT, help="Gate: exit 1 if ASR is above this, in % (needs --trigger).")
@click.option("--baseline", type=click.Path(dir_okay=False, path_type=Path),
              help="The original model, scored on the same data for --max-acc-drop.")
@click.option("--max-acc-drop", type=_PERCENT,
              help="Gate: exit 1 if ACC is more than this many points below --baseline's.")
@handle_errors
def evaluate(model, data_path, trigger_path, target, preset, mean, std, input_shape, layout,
             output_name, json_path, min_acc, max_asr, baseline, max_acc_drop):
    """Clean accuracy (ACC) and attack success rate (ASR) of MODEL on labelled images; with
    gates, exit 1 when one fails."""
    from .gates import Gates
    from .rendering import run_evaluate

    if (max_acc_drop is None) != (baseline is None):
        raise click.UsageError("--max-acc-drop and --baseline go together")
    failed = run_evaluate(model, data_path, trigger_path, target, json_path,
                          gates=Gates(min_acc, max_asr, max_acc_drop), baseline=baseline,
                          **_preprocessing(preset, mean, std, input_shape, layout, output_name))
    if failed:
        finding("gate failed: " + "; ".join(failed))


@main.command(epilog=EPILOG)
@click.option("-o", "--out", "out_path", type=click.Path(dir_okay=False, path_type=Path),
              default=Path("auditor-demo-clean.onnx"), show_default=True)
@click.option("--iterations", type=click.IntRange(min=1), help="Fewer for a quicker look.")
@click.option("--report", "report_path", type=click.Path(dir_okay=False, path_type=Path))
@handle_errors
def demo(out_path, iterations, report_path):
    """Clean the bundled backdoored digits classifier; print ACC and ASR before and after."""
    from .rendering import run_demo

    run_demo(out_path, iterations=iterations, report_path=report_path)


if __name__ == "__main__":
    sys.exit(main())
