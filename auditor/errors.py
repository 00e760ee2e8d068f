"""Errors a user can act on, and the exit statuses every command shares.

Each error has its own status so a pipeline can tell them apart; the CLI prints the message as
one line and never a traceback. Status 1 is kept for findings (a suspected backdoor, a failed
gate) and is never an error's. `EXIT_STATUSES` is the table the README and `--help` show.
"""

from __future__ import annotations

import click

FINDING = 1

EXIT_STATUSES = {
    0: "success: no backdoor evidence, every gate passed",
    1: "finding: backdoor suspected (scan; clean --fail-on-residual) or a gate failed (evaluate)",
    2: "bad options or usage, including a --resume checkpoint made for another run",
    3: "model file missing, unreadable, not valid ONNX/TorchScript, over a size limit, or "
       "refused as unsafe (external data, archive contents)",
    4: "not an image classifier (input N×C×H×W, output N×K)",
    5: "ONNX operators that cannot be converted (all listed)",
    6: "the clean model could not be exported or did not match",
    7: "bad evaluation data or trigger file",
    8: "output path unusable (missing folder, is a folder, would overwrite the model, unwritable)",
    9: "requested device unavailable (--device cuda without a GPU)",
    70: "internal error (a bug: please report it with AUDITOR_DEBUG=1 output)",
    130: "interrupted (Ctrl-C); nothing was written",
    143: "terminated (SIGTERM: a CI timeout, docker stop); nothing was written",
}


class AuditorError(click.ClickException):
    """Base class; every error that reaches the user is one of the subclasses below."""
    exit_code = 70


class OptionError(AuditorError):
    """An option does not fit the model (say, three --mean values for a grey-scale model)."""
    exit_code = 2


class ModelFileError(AuditorError):
    """The model file is missing, unreadable, or not a valid ONNX / TorchScript file."""
    exit_code = 3


class NotAClassifierError(AuditorError):
    """The model does not look like an image classifier (input N×C×H×W, output N×K)."""
    exit_code = 4


class UnsupportedOperatorError(AuditorError):
    """The ONNX graph uses operators we cannot convert to PyTorch."""
    exit_code = 5


class ExportError(AuditorError):
    """The cleaned model could not be written, or did not match the student in onnxruntime."""
    exit_code = 6


class DataFileError(AuditorError):
    """An evaluation data or trigger file is missing or malformed."""
    exit_code = 7


class OutputPathError(AuditorError):
    """Where the user asked us to write cannot be written to."""
    exit_code = 8


class DeviceError(AuditorError):
    """The requested device is not available."""
    exit_code = 9


class InternalError(AuditorError):
    """Anything unforeseen: still one line and the base class's 70, not a finding's 1."""


class InterruptedRun(AuditorError):
    exit_code = 130

    def __init__(self):
        super().__init__("interrupted; nothing was written")


def first_line(err: BaseException, limit: int = 300) -> str:
    """An exception as one line for the user: its message's first line, or its type."""
    text = str(err).strip().splitlines()
    return text[0][:limit] if text else type(err).__name__


def exit_status_help() -> str:
    """The table as plain lines, for --help epilogs."""
    return "\n".join(f"{code:>4}  {text}" for code, text in EXIT_STATUSES.items())


class Terminated(BaseException):
    """Raised by the SIGTERM handler; a BaseException, like KeyboardInterrupt, so that no
    `except Exception` on the way up swallows it before the temporary files are removed."""


class TerminatedRun(AuditorError):
    exit_code = 143

    def __init__(self):
        super().__init__("terminated; nothing was written")
