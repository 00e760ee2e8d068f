"""A run's whole state on disk, so a clean killed by a CI timeout continues where it stopped.

The state (players, optimisers, random number generators, iteration, figures; see
erasing.run_state) is written every `every` iterations to a temporary file beside the
checkpoint and renamed over it, so the checkpoint on disk is always a whole one. It is read back
with `torch.load(weights_only=True)`: tensors and plain containers only, never pickled code.
A checkpoint names the model (sha256), recipe, input and auditor version it was made for; any
other run refuses it.
"""

from __future__ import annotations

import dataclasses
import io
import os
import tempfile
from pathlib import Path

import torch

from . import __version__
from .errors import OptionError, OutputPathError, first_line

FORMAT = 1


@dataclasses.dataclass
class Checkpoint:
    path: Path
    every: int                 # iterations between saves
    fingerprint: dict          # what the run is: model sha256, recipe, input, version, device
    resume: bool = False       # continue from the saved state, if there is one

    @classmethod
    def for_run(cls, path, every: int, *, resume: bool, model_sha256: str, recipe: dict,
                spec: dict, device: str) -> "Checkpoint":
        return cls(Path(path), every, {"format": FORMAT, "version": __version__,
                                       "model_sha256": model_sha256, "recipe": recipe,
                                       "input": spec, "device": device}, resume)

    def due(self, done: int, total: int) -> bool:
        """After `done` iterations of `total`: a save is due (never after the last: the run is
        then written out as the clean model)."""
        return self.every > 0 and done % self.every == 0 and done < total

    def save(self, state: dict) -> None:
        # serialised in memory first: torch's zip writer reports a failed write (a full disk)
        # as an opaque RuntimeError, a plain write as the OSError it is
        buffer = io.BytesIO()
        torch.save({"fingerprint": self.fingerprint, "state": state}, buffer)
        try:
            handle, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.")
        except OSError as err:
            raise OutputPathError(f"{self.path}: could not write the checkpoint "
                                  f"({err.strerror or err})") from None
        try:
            with os.fdopen(handle, "wb") as file:
                file.write(buffer.getbuffer())
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, self.path)
        except OSError as err:
            raise OutputPathError(f"{self.path}: could not write the checkpoint "
                                  f"({err.strerror or err}); the last whole one is kept") from None
        finally:
            if os.path.exists(temporary):
                os.unlink(temporary)

    def load(self, device) -> dict | None:
        """The saved state if resuming and there is one, after checking it belongs to this run."""
        if not self.resume or not self.path.exists():
            return None
        try:
            saved = torch.load(self.path, map_location=device, weights_only=True)
            fingerprint, state = saved["fingerprint"], saved["state"]
        except Exception as err:
            raise OptionError(f"--resume: {self.path} is not a readable auditor checkpoint "
                              f"({first_line(err, 200)})") from None
        for key, what in (("format", "checkpoint format"), ("version", "auditor version"),
                          ("model_sha256", "model"), ("recipe", "recipe"),
                          ("input", "input settings"), ("device", "device")):
            if fingerprint.get(key) != self.fingerprint[key]:
                raise OptionError(f"--resume: {self.path} was written for another {what}; "
                                  f"remove it or pass the same {what}")
        return state

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)
