"""The wheel holds every package: the editable install the tests use would hide a missing one."""

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_package_folder_is_listed_in_pyproject():
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(setuptools["packages"])
    on_disk = set()
    for name, folder in setuptools["package-dir"].items():
        for init in (ROOT / folder).rglob("__init__.py"):
            relative = init.parent.relative_to(ROOT / folder).parts
            on_disk.add(".".join((name, *relative)))
    assert on_disk <= listed, f"packages missing from pyproject.toml: {sorted(on_disk - listed)}"


def test_a_checkout_run_without_installing_finds_its_kernels(tmp_path):
    """The GPU machine runs the checkout without installing it (benchmarks/device_check.sh):
    auditor.kernels must come from that checkout's kernels/, not from the editable install."""
    import shutil
    import subprocess
    import sys

    for name in ("auditor", "kernels"):
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    found = subprocess.run(
        [sys.executable, "-c", "import sys; sys.path.insert(0, sys.argv[1]); "
                               "import auditor.kernels; print(auditor.kernels.__file__)", str(tmp_path)],
        capture_output=True, text=True, check=True, cwd=tmp_path.parent).stdout.strip()
    assert Path(found) == tmp_path / "kernels" / "__init__.py"
