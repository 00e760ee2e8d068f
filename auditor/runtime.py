"""Running a model file as it will run in production, for evaluation: ONNX in onnxruntime
(no conversion, so any model onnxruntime runs can be scored), TorchScript in PyTorch.
Predictions take N × H × W × C pixels in [0, 1]."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import torch

from .errors import ModelFileError, NotAClassifierError, UnsupportedOperatorError, first_line
from .input_spec import InputSpec
from .loading import Classifier, class_output, load_model, onnx_interface, read_onnx

_NUMPY_DTYPES = {"float32": np.float32, "float16": np.float16, "float64": np.float64,
                 "uint8": np.uint8}


def ort_session(path):
    """An onnxruntime CPU session that logs errors only: its warnings about legacy graphs
    (initializers listed as inputs, unused initializers) are not the user's to act on."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


class ModelRunner:
    def __init__(self, spec: InputSpec, logits, batch: int):
        self.spec, self._logits, self.batch = spec, logits, batch

    @classmethod
    def open(cls, path, *, mean=(0.0,), std=(1.0,), input_shape=None, layout=None,
             output_name=None) -> "ModelRunner":
        path = Path(path)
        if not path.is_file():
            raise ModelFileError(f"{path}: no such file")
        if path.suffix.lower() != ".onnx":
            loaded = load_model(path, mean=mean, std=std, input_shape=input_shape, layout=layout,
                                output_name=output_name)
            classifier = Classifier(loaded.net, loaded.spec, loaded.output_index)
            return cls(loaded.spec, lambda x: classifier(x).detach().numpy(), 256)
        return cls._open_onnx(path, mean, std, input_shape, layout, output_name)

    @classmethod
    def _open_onnx(cls, path, mean, std, input_shape, layout, output_name):
        interface = onnx_interface(path, read_onnx(path), mean=mean, std=std,
                                   input_shape=input_shape, layout=layout)
        channels, height, width = interface.shape
        spec = InputSpec(channels, height, width, num_classes=1, **interface.spec_args)
        try:
            session = ort_session(path)
        except Exception as err:
            text = first_line(err)
            kind = UnsupportedOperatorError if "not a registered" in text else ModelFileError
            raise kind(f"{path}: onnxruntime cannot load it: {text}") from None
        batch = interface.batch or 256

        def run(x: torch.Tensor) -> list[np.ndarray]:
            feed = spec.to_layout(x).numpy()
            if spec.input_dtype == "uint8":
                feed = np.rint(feed).clip(0, 255)
            feed = feed.astype(_NUMPY_DTYPES[spec.input_dtype])
            return session.run(None, {spec.input_name: feed})

        probe_batch = min(batch, 2)
        try:
            outputs = run(torch.zeros(probe_batch, *spec.shape))
        except Exception as err:
            raise NotAClassifierError(f"{path}: onnxruntime cannot run it: {err}") from None
        index = class_output(path, [torch.from_numpy(np.asarray(o)) for o in outputs],
                             interface.output_names, output_name, probe_batch)
        spec = dataclasses.replace(spec, num_classes=outputs[index].shape[1],
                                   output_name=interface.output_names[index])
        return cls(spec, lambda x: run(x)[index].astype(np.float32).reshape(len(x), -1), batch)

    def predict(self, pixels_nhwc: np.ndarray) -> np.ndarray:
        """Labels for N × H × W × C pixels in [0, 1], in batches the model accepts."""
        labels = []
        for i in range(0, len(pixels_nhwc), self.batch):
            chunk = torch.from_numpy(np.ascontiguousarray(pixels_nhwc[i:i + self.batch]))
            with torch.no_grad():
                labels.append(self._logits(self.spec.normalise(chunk.permute(0, 3, 1, 2))).argmax(1))
        return np.concatenate(labels) if labels else np.zeros(0, np.int64)
