"""The commands end to end, through Click, on tiny models and few iterations."""

import hashlib
import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from click.testing import CliRunner

from auditor import export as export_module
from auditor.cli import main
from auditor.examples import bundled

from .models import tiny_onnx

QUICK = ["--iterations", "2", "--warmup-iterations", "1", "--batch-size", "8",
         "--student-steps", "1", "-q"]


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def one_line_error(result, code, text):
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and text in lines[0], result.stderr


def test_clean_writes_a_drop_in_onnx_model(tmp_path):
    model = tiny_onnx(tmp_path)
    out, report = tmp_path / "clean.onnx", tmp_path / "report.json"
    result = run("clean", model, "-o", out, "--preset", "mnist", "--report", report, *QUICK)
    assert result.exit_code == 0, result.output
    original, clean = onnx.load(str(model)), onnx.load(str(out))
    onnx.checker.check_model(clean)
    for a, b in ((original.graph.input, clean.graph.input), (original.graph.output, clean.graph.output)):
        assert [(v.name, v.type.tensor_type.elem_type) for v in a] == \
               [(v.name, v.type.tensor_type.elem_type) for v in b]
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    (logits,) = session.run(None, {"input": np.random.rand(3, 1, 8, 8).astype(np.float32)})
    assert logits.shape == (3, 4)      # dynamic batch
    props = {p.key: p.value for p in clean.metadata_props}
    assert props["auditor.source_sha256"] == hashlib.sha256(model.read_bytes()).hexdigest()
    assert props["auditor.iterations"] == "2" and props["auditor.seed"] == "0"
    payload = json.loads(report.read_text())
    assert payload["output"]["sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
    assert payload["recipe"]["iterations"] == 2 and payload["input"]["mean"] == [0.1307]
    assert payload["recipe"]["input_moments_weight"] == 1.0    # a stated normalisation: the prior runs
    assert set(payload["timings_s"]) == {"load", "erase", "export", "residual_scan", "original_scan"}
    assert payload["residual"]["suspected"] in (True, False) and len(payload["residual"]["per_class"]) == 4
    assert len(payload["original_scan"]["per_class"]) == 4
    assert payload["residual"]["precision"] == payload["original_scan"]["precision"] in \
        ("float32", "bfloat16")
    assert (payload["shortcut"] is None) == (not payload["original_scan"]["suspected"])
    assert payload["evidence_left"] == bool(payload["residual"]["suspected"] or
                                            (payload["shortcut"] or {}).get("kept"))
    assert 0 <= payload["figures"]["final"]["agreement"] <= 1


def test_a_graph_that_cannot_carry_the_new_weights_is_re_exported_not_lost(tmp_path, monkeypatch):
    """A weight written back to the wrong tensor makes onnxruntime disagree with the student at
    the very end of a clean: the run's work is kept by torch.onnx's exporters, and said so."""
    model = tiny_onnx(tmp_path)

    def crossed(original, net, sources):      # every weight written back doubled: not the student
        written = onnx.load(str(model))
        for tensor in written.graph.initializer:
            tensor.CopyFrom(onnx.numpy_helper.from_array(2 * onnx.numpy_helper.to_array(tensor),
                                                         tensor.name))
        return written

    monkeypatch.setattr(export_module, "write_weights", crossed)
    out, report = tmp_path / "clean.onnx", tmp_path / "report.json"
    result = run("clean", model, "-o", out, "--report", report, "--no-residual-scan",
                 "--reset-deviations", "0", *QUICK)
    assert result.exit_code == 0, result.output
    payload = json.loads(report.read_text())
    assert payload["output"]["exporter"] in ("dynamo", "torchscript")
    assert "differ" in payload["output"]["fallback"]
    assert "could not carry the new weights" in result.stderr
    assert payload["output"]["max_abs_diff_onnxruntime"] <= 1e-4


@pytest.mark.parametrize("rise", ["1e-9", "0"])
def test_clean_names_the_suspect_class_when_one_stands_out(tmp_path, rise):
    model, report = tiny_onnx(tmp_path), tmp_path / "report.json"
    result = run("clean", model, "-o", tmp_path / "clean.onnx", "--suspect-rise", rise,
                 "--report", report, *QUICK)
    assert result.exit_code == 0, result.output
    suspect = json.loads(report.read_text())["figures"]["final"]["suspect_class"]
    if rise == "0":                       # never suspect
        assert suspect is None and "synthetic images of class" not in result.output
    else:                                 # any rise at all: the top class is named
        assert isinstance(suspect, int) and f"images of class {suspect}," in result.output


def test_the_same_seed_gives_the_same_file(tmp_path):
    model = tiny_onnx(tmp_path)
    outputs = []
    for name in ("a.onnx", "b.onnx"):
        assert run("clean", model, "-o", tmp_path / name, "--seed", "7", *QUICK).exit_code == 0
        outputs.append((tmp_path / name).read_bytes())
    assert outputs[0] == outputs[1]
    assert run("clean", model, "-o", tmp_path / "c.onnx", "--seed", "8", *QUICK).exit_code == 0
    assert (tmp_path / "c.onnx").read_bytes() != outputs[0]


def test_a_failed_export_leaves_nothing_and_keeps_the_model(tmp_path, monkeypatch):
    model = tiny_onnx(tmp_path)
    before = model.read_bytes()
    out = tmp_path / "clean.onnx"

    def mismatch(*args, **kwargs):
        raise export_module.ExportError("onnxruntime and PyTorch differ")

    monkeypatch.setattr(export_module, "_parity", mismatch)
    one_line_error(run("clean", model, "-o", out, *QUICK), 6, "differ")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tiny.onnx"]   # no temporary file either
    assert model.read_bytes() == before


def test_ctrl_c_leaves_nothing(tmp_path, monkeypatch):
    import auditor.erasing

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(auditor.erasing, "generator_step", interrupt)
    model = tiny_onnx(tmp_path)
    one_line_error(run("clean", model, "-o", tmp_path / "clean.onnx", *QUICK), 130, "interrupted")
    assert not (tmp_path / "clean.onnx").exists()


def test_bad_input_gets_one_line_and_its_own_exit_status(tmp_path):
    one_line_error(run("clean", tmp_path / "absent.onnx", "-o", tmp_path / "o.onnx"), 3, "no such file")
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"garbage" * 50)
    one_line_error(run("clean", junk, "-o", tmp_path / "o.onnx"), 3, "not a valid ONNX")
    model = tiny_onnx(tmp_path)
    one_line_error(run("clean", model, "-o", model), 8, "refusing to overwrite")
    one_line_error(run("clean", model, "-o", tmp_path / "nodir" / "o.onnx"), 8, "does not exist")
    one_line_error(run("clean", model, "-o", tmp_path / "o.onnx", "--mean", "0.1,0.2"), 2,
                   "--mean has 2 values but the model has 1 channel(s)")
    for iterations in ("0", "1", "50"):        # never the input, unchanged, as if cleaned
        one_line_error(run("clean", model, "-o", tmp_path / "o.onnx", "--iterations", iterations),
                       2, "must exceed --warmup-iterations")
    result = run("clean", model, "-o", tmp_path / "o.onnx", "--probe-images", "0")
    assert result.exit_code == 2 and "--probe-images must be at least 1" in result.output
    for flag in ("--reset-deviations", "--grating-weight"):
        result = run("clean", model, "-o", tmp_path / "o.onnx", flag, "-1")
        assert result.exit_code == 2 and f"{flag} must be 0 (off) or above" in result.output
    for flag, value, message in (("--noise-weight", "0", "must be above 0"),
                                 ("--restyle-share", "1.5", "must be between 0 and 1")):
        result = run("clean", model, "-o", tmp_path / "o.onnx", flag, value)
        assert result.exit_code == 2 and f"{flag} {message}" in result.output
    result = run("clean", model, "-o", tmp_path / "o.onnx", "--input-shape", "3x32")
    assert result.exit_code == 2 and "CxHxW" in result.output
    assert not (tmp_path / "o.onnx").exists()


def test_evaluate_scores_the_bundled_model(tmp_path):
    example = bundled()
    out = tmp_path / "scores.json"
    result = run("evaluate", example.model, "--data", example.test_set, "--trigger",
                 example.trigger, "--preset", "mnist", "--json", out)
    assert result.exit_code == 0, result.output
    scores = json.loads(out.read_text())
    assert scores["acc"] > 0.95 and scores["asr"] > 0.9 and scores["n_images"] == 500
    result = run("evaluate", example.model, "--data", example.trigger, "--preset", "mnist")
    one_line_error(result, 7, "missing array(s) images, labels")


def test_demo_runs_briefly(tmp_path):
    result = run("demo", "-o", tmp_path / "demo.onnx", "--iterations", "2")
    assert result.exit_code == 0, result.output
    assert "ASR (attack success)" in result.output and (tmp_path / "demo.onnx").exists()


@pytest.mark.parametrize("recipe", ["paper"])
def test_the_paper_recipe_is_selectable(tmp_path, recipe):
    model = tiny_onnx(tmp_path)
    out, report = tmp_path / "clean.onnx", tmp_path / "r.json"
    result = run("clean", model, "-o", out, "--recipe", recipe, "--report", report, *QUICK)
    assert result.exit_code == 0, result.output
    payload = json.loads(report.read_text())
    assert payload["recipe"]["lr_student"] == 0.1 and payload["trigger_families"] == ["patch 2x2"]


def test_help_shows_both_recipes_defaults():
    from auditor.recipe import Recipe
    result = CliRunner().invoke(main, ["clean", "--help"], terminal_width=400)
    assert result.exit_code == 0
    line = next(l for l in result.output.splitlines() if "--blend-alpha" in l)
    assert f"[default: {Recipe().blend_alpha}; paper: {Recipe.paper().blend_alpha}]" in line
    line = next(l for l in result.output.splitlines() if "--student-steps" in l)
    assert line.endswith(f"[default: {Recipe().student_steps}]  [x>=0]")


def test_the_class_the_scan_of_the_original_suspects_is_the_clean_s_suspect(tmp_path):
    out, report = tmp_path / "clean.onnx", tmp_path / "report.json"
    # an alpha a tiny untrained model's scan falls below, so that its top class is suspected
    clean = ["clean", tiny_onnx(tmp_path), "-o", out, "--report", report, "--preset", "mnist",
             "--iterations", "6", "--warmup-iterations", "2", "--batch-size", "8",
             "--student-steps", "1", "--generator-width", "8", "--scan-steps", "2",
             "--scan-starts", "4", "--alpha", "0.999", "--suspect-rise", "0.001"]
    result = run(*clean)
    assert result.exit_code == 0, result.output
    written = json.loads(report.read_text())
    assert written["original_scan"]["suspected"] is True
    target = written["original_scan"]["target"]
    assert written["recipe"]["scan_suspect"] == written["figures"]["final"]["suspect_class"] == target
    assert f"of class {target}, which the scan of the original suspects" in result.stdout
    # turned off, the warm-up's guess is used and worded as one
    result = run(*clean, "--no-suspect-from-scan")
    assert result.exit_code == 0, result.output
    assert json.loads(report.read_text())["recipe"]["scan_suspect"] is None
    assert "a guess at a target, not a detection" in result.stdout
