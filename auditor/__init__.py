"""auditor: erase backdoors from image classifiers without clean data."""

import os as _os

__version__ = "0.1.0"

# kernels/ sits beside this package in the source tree and is installed as auditor.kernels
# (pyproject.toml). A checkout run without installing, as on the GPU machine, whose Python can
# import our dependencies but not install this project (benchmarks/device_check.sh), finds it
# here instead: the checkout's root is searched for auditor's subpackages after this folder.
_root = _os.path.dirname(_os.path.dirname(_os.path.abspath(__file__)))
if not _os.path.isdir(_os.path.join(__path__[0], "kernels")) and all(
        _os.path.isfile(_os.path.join(_root, *p)) for p in (("pyproject.toml",),
                                                              ("kernels", "__init__.py"))):
    __path__.append(_root)
