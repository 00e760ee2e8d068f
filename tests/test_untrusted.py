"""Hostile model files (tests/hostile.py) through scan, clean and evaluate: each refused with its
documented status and its reason on one line, or, where the file is odd but valid, a correct
run; never a traceback, never an output file from a refusal, within stated time and memory
bounds. Then seeded truncations and byte flips of real models, with the same guarantees."""

import json
import subprocess
import sys
from pathlib import Path

import onnx
import pytest

from auditor.errors import EXIT_STATUSES
from auditor.examples import bundled
from auditor.loading import onnx_interface

from .hostile import catalogue, evaluation_data, mutations
from .test_corpus import CORPUS, FILES

ADDRESS_SPACE = 6 << 30      # the worker's whole address space, torch included
PEAK_RSS = 3 << 30           # resident memory it may reach over every job
SECONDS_PER_COMMAND = 60     # a hang guard: every refusal here takes well under 2 s
QUICK_CLEAN = ["--iterations", "2", "--warmup-iterations", "1", "--batch-size", "8",
               "--student-steps", "1", "--probe-images", "2", "--no-residual-scan", "-q"]
QUICK_SCAN = ["--scan-steps", "2", "--scan-starts", "2", "-q"]
MUTATED = 24                 # 8 each of three kinds; with the catalogue, 66 files in all


def _jobs(name: str, path: Path, data: Path, out: Path, options=()) -> list[dict]:
    options = list(options)
    return [
        {"file": name, "command": "scan", "args": ["scan", str(path), *QUICK_SCAN, *options]},
        {"file": name, "command": "clean", "out": str(out),
         "args": ["clean", str(path), "-o", str(out), *QUICK_CLEAN, *options]},
        {"file": name, "command": "evaluate",
         "args": ["evaluate", str(path), "--data", str(data), *options]},
    ]


def _run_worker(folder: Path, jobs: list[dict]) -> dict:
    jobs_path, results_path = folder / "jobs.json", folder / "results.json"
    jobs_path.write_text(json.dumps(jobs))
    process = subprocess.run([sys.executable, "-m", "tests.fuzz_worker", str(jobs_path),
                              str(results_path), str(ADDRESS_SPACE)],
                             cwd=Path(__file__).parents[1], capture_output=True, text=True,
                             timeout=SECONDS_PER_COMMAND * len(jobs))
    assert process.returncode == 0, process.stderr[-2000:]
    return json.loads(results_path.read_text())


@pytest.fixture(scope="module")
def hostile_runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile")
    cases = {case.name: case for case in catalogue(root / "files")}
    data = evaluation_data(root / "data.npz")
    ts_data = evaluation_data(root / "data16.npz", shape=(16, 16, 1))
    jobs = []
    for case in cases.values():
        uses = ts_data if case.path.suffix == ".pt" else data
        jobs += _jobs(case.name, case.path, uses, root / "out" / f"{case.name}.onnx", case.options)
    (root / "out").mkdir()
    answers = _run_worker(root, jobs)
    return cases, answers


def _answers_for(answers: dict, name: str) -> dict:
    return {r["command"]: r for r in answers["results"] if r["file"] == name}


def _assert_well_behaved(result: dict) -> None:
    """Documented status, not a bug's 70; no traceback; a refusal is one line on stderr; no
    output from a refusal; within the hang guard."""
    status = result["status"]
    assert result["exception"] is None, result
    assert status in EXIT_STATUSES and status != 70, result
    assert "Traceback" not in result["stderr"] + result["stdout"], result
    if status >= 2:
        lines = [line for line in result["stderr"].splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("Error: "), result
    if "out" in result:
        assert Path(result["out"]).exists() == (status in (0, 1)), result
        assert not list(Path(result["out"]).parent.glob(".*")), "a temporary file was left"
    assert result["seconds"] < SECONDS_PER_COMMAND, result


def _names():
    """The catalogue's names (pytest collects before fixtures run), from a throwaway build."""
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        return [case.name for case in catalogue(Path(folder))]


@pytest.mark.parametrize("name", _names())
def test_each_hostile_file_gets_its_status_and_reason(hostile_runs, name):
    cases, answers = hostile_runs
    case, results = cases[name], _answers_for(answers, name)
    for command, result in results.items():
        _assert_well_behaved(result)
        expected = case.expected_evaluate if command == "evaluate" else case.status
        assert result["status"] == expected, (command, result)
        if expected >= 2:
            assert case.message in result["stderr"], (command, result["stderr"])


def test_the_catalogue_stays_within_its_memory_bound(hostile_runs):
    _, answers = hostile_runs
    assert len(answers["results"]) >= 3 * 40
    assert answers["peak_rss_bytes"] < PEAK_RSS, answers["peak_rss_bytes"]


def _mutation_sources() -> list[Path]:
    """The bundled model and, where the corpus is present (always in CI), three small
    third-party ones."""
    small = ["mnist8-cntk.onnx", "mnist-cnn-torch-op17-2out.onnx", "cifar100-selu-torch-op14.onnx"]
    return [bundled().model, *[CORPUS / f for f in small if f in FILES]]


def test_truncated_and_flipped_models_never_crash(tmp_path):
    sources = _mutation_sources()
    files = mutations(sources, tmp_path, MUTATED, seed=0)
    (tmp_path / "out").mkdir()
    data, jobs = {}, []
    for path in files:
        source = next(s for s in sources if path.stem.endswith(s.stem))
        if source not in data:
            interface = onnx_interface(source, onnx.load(str(source)), mean=(0.0,), std=(1.0,))
            c, h, w = interface.shape
            data[source] = evaluation_data(tmp_path / f"{source.stem}.npz", (h, w, c))
        jobs += _jobs(path.name, path, data[source], tmp_path / "out" / f"{path.stem}.onnx")
    answers = _run_worker(tmp_path, jobs)
    for result in answers["results"]:
        _assert_well_behaved(result)
    refused = [r for r in answers["results"] if r["status"] >= 2]
    # a flip inside the weights leaves a valid model, which may run; truncations never do
    assert all(r["status"] >= 2 for r in answers["results"] if "truncated" in r["file"])
    assert len(refused) >= len(answers["results"]) // 2
    assert answers["peak_rss_bytes"] < PEAK_RSS
