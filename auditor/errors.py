"""Errors a user can act on. Each has its own exit status so a pipeline can tell them apart;
the CLI prints the message as one line and never a traceback."""

from __future__ import annotations

import click


class AuditorError(click.ClickException):
    exit_code = 1


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


class InterruptedRun(AuditorError):
    exit_code = 130

    def __init__(self):
        super().__init__("interrupted; nothing was written")
