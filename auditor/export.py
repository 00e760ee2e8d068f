"""Writing the clean student back to ONNX as a drop-in replacement for the original.

The file keeps the original's input and output names, element types, layout and a dynamic batch
axis, is checked in onnxruntime against the student before it is written, and appears only
complete: it is built as a temporary file beside the target and renamed over it at the end.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import os
import shutil
import tempfile
import warnings
from pathlib import Path

import numpy as np
import onnx
import torch
from torch import nn

from .errors import ExportError, OutputPathError, first_line
from .loading import LoadedModel
from .weights import write_weights

_TORCH_DTYPES = {"float32": torch.float32, "float16": torch.float16, "float64": torch.float64,
                 "uint8": torch.uint8}


@dataclasses.dataclass(frozen=True)
class ExportResult:
    path: Path
    exporter: str             # "weights" (original graph, new weights), "dynamo" or "torchscript"
    opset: int
    max_abs_diff: float       # onnxruntime vs PyTorch on the check inputs
    bytes: int
    fallback: str | None = None   # why the original graph could not carry the weights, if so


class _OriginalInterface(nn.Module):
    """Trains in float32, answers in the original's input and output element types."""

    def __init__(self, net: nn.Module, input_dtype: str, output_dtypes: tuple[str, ...]):
        super().__init__()
        self.net = net
        self.input_dtype = _TORCH_DTYPES[input_dtype]
        self.output_dtypes = [_TORCH_DTYPES[d] for d in output_dtypes]

    def forward(self, x):
        out = self.net(x.float())
        if isinstance(out, (tuple, list)):
            return tuple(o.to(d) for o, d in zip(out, self.output_dtypes))
        return out.to(self.output_dtypes[0])


def export_clean_model(loaded: LoadedModel, student_net: nn.Module, out_path: str | Path, *,
                       check_inputs: torch.Tensor, metadata: dict[str, str]) -> ExportResult:
    """check_inputs: a batch in the model's own layout (float32) to compare the two on."""
    out_path = Path(out_path)
    module = _OriginalInterface(student_net.cpu().eval(), loaded.spec.input_dtype,
                                loaded.output_dtypes)
    if module.input_dtype == torch.uint8:
        check_inputs = check_inputs.round().clamp(0, 255)
    example = check_inputs[:2].to(module.input_dtype)
    # a private folder beside the target: exporters may write side files (external data), and
    # the final rename stays on one file system
    try:
        workdir = Path(tempfile.mkdtemp(dir=out_path.parent, prefix=f".{out_path.name}."))
    except OSError as err:
        raise OutputPathError(f"could not write {out_path}: {err.strerror or err}") from None
    tmp = workdir / "model.onnx"
    check_inputs = check_inputs.to(module.input_dtype)
    fallback = None
    try:
        exporter = _export(module, example, tmp, loaded)
        try:
            model, diff = _checked(module, check_inputs, tmp, loaded, metadata, exporter)
        except OSError:
            raise
        except Exception as err:
            if exporter != "weights":
                raise
            # The original graph with the new weights is not the student (a weight went back to
            # the wrong tensor: weights.py). Re-exported, it is, and the run's work is kept.
            fallback = first_line(err)
            exporter = _export(module, example, tmp, loaded, weights=False)
            model, diff = _checked(module, check_inputs, tmp, loaded, metadata, exporter)
        os.replace(tmp, out_path)
    except ExportError:
        raise
    except OSError as err:     # a full disk, a read-only folder, a file-size limit
        raise OutputPathError(f"could not write {out_path} ({err.strerror or err}); nothing "
                              f"was written") from None
    except Exception as err:
        raise ExportError(f"could not write {out_path}: {first_line(err)}") from None
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return ExportResult(out_path, exporter, _opset(model), diff, out_path.stat().st_size, fallback)


def _checked(module, check_inputs, path, loaded, metadata, exporter):
    """The exported model at `path` given the original's interface and metadata, checked, saved
    back: (model, onnxruntime's largest difference from the student)."""
    model = onnx.load(str(path))
    _restore_interface(model, loaded)
    onnx.checker.check_model(model)
    _check_interface(model, loaded)
    _add_metadata(model, loaded, metadata, exporter)
    onnx.save(model, str(path))
    return model, _parity(path, module, check_inputs, loaded)


def _export(module, example, path, loaded, *, weights: bool = True) -> str:
    """The original graph with the new weights where every parameter has a source (see
    weights.py), else the dynamo exporter where it works (torch's future), else the TorchScript
    one.

    Both get placeholder names (exporters reject some valid ONNX names, such as '208'); the
    original's are put back afterwards by `_restore_interface`."""
    if weights and loaded.onnx_model is not None and loaded.weight_sources:
        model = write_weights(loaded.onnx_model, module.net, loaded.weight_sources)
        if model is not None:
            onnx.save(model, str(path))
            return "weights"
    names = dict(input_names=["auditor_input"],
                 output_names=[f"auditor_output_{i}" for i in range(len(loaded.output_names))])
    # the original's opset where the exporter can write it, so the consumer's runtime copes
    opset = max(loaded.opset or 17, 7)
    if not isinstance(loaded.net, torch.jit.ScriptModule):
        try:
            with _quiet():
                torch.onnx.export(module, (example,), str(path), dynamo=True, verbose=False,
                                  opset_version=opset, optimize=True, external_data=False,
                                  dynamic_shapes=({0: torch.export.Dim("batch")},), **names)
            return "dynamo"
        except Exception:
            pass  # onnx2torch modules with data-dependent checks; the TorchScript path copes
    axes = {name: {0: "batch"} for name in names["input_names"] + names["output_names"]}
    if isinstance(module.net, torch.jit.ScriptModule):
        # the exporter refuses a ScriptModule called from an eager wrapper ("not part of the
        # active trace"), and needs none: an archive is loaded as float32 in and out, so the
        # wrapper's casts do nothing, and its own graph keeps any control flow it scripted
        module = module.net
    with _quiet():
        torch.onnx.export(module, (example,), str(path), dynamo=False, opset_version=max(opset, 9),
                          dynamic_axes=axes, **names)
    return "torchscript"


@contextlib.contextmanager
def _quiet():
    """torch.onnx narrates its work on stdout and warns about deprecations; our CLI reports."""
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), \
            contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")
        yield


def _restore_interface(model: onnx.ModelProto, loaded: LoadedModel) -> None:
    """The original's input and output names, and its declared shapes with a dynamic batch."""
    renames = {"auditor_input": loaded.spec.input_name}
    renames.update({f"auditor_output_{i}": name for i, name in enumerate(loaded.output_names)})
    graph = model.graph
    for node in graph.node:
        node.input[:] = [renames.get(n, n) for n in node.input]
        node.output[:] = [renames.get(n, n) for n in node.output]
    for value in [*graph.input, *graph.output]:
        value.name = renames.get(value.name, value.name)
    if loaded.onnx_model is None:
        return
    declared = {v.name: v for v in [*loaded.onnx_model.graph.input, *loaded.onnx_model.graph.output]}
    for value in [*graph.input, *graph.output]:
        original = declared.get(value.name)
        if original is None or not original.type.tensor_type.HasField("shape"):
            continue
        dims = value.type.tensor_type.shape.dim
        want = original.type.tensor_type.shape.dim
        if len(dims) != len(want):
            continue
        for i, (dim, source) in enumerate(zip(dims, want)):
            if i > 0 and source.HasField("dim_value"):
                dim.dim_value = source.dim_value
        if dims:
            dims[0].dim_param = "batch"


def _check_interface(model: onnx.ModelProto, loaded: LoadedModel) -> None:
    initializers = {i.name for i in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in initializers]
    if [i.name for i in inputs] != [loaded.spec.input_name]:
        raise ExportError(f"exported inputs {[i.name for i in inputs]} differ from the original's")
    if tuple(o.name for o in model.graph.output) != loaded.output_names:
        raise ExportError("exported outputs differ from the original's")


def _add_metadata(model, loaded: LoadedModel, metadata: dict, exporter: str) -> None:
    props = {p.key: p.value for p in (loaded.onnx_model.metadata_props if loaded.onnx_model else [])}
    props.update({f"auditor.{k}": str(v) for k, v in metadata.items()})
    props["auditor.exporter"] = exporter
    del model.metadata_props[:]
    for key, value in props.items():
        model.metadata_props.add(key=key, value=value)


def _parity(path, module, inputs, loaded) -> float:
    from .runtime import ort_session

    got = ort_session(path).run(None, {loaded.spec.input_name: inputs.numpy()})
    with torch.no_grad():
        want = module(inputs)
    want = [w.float().numpy() for w in (want if isinstance(want, tuple) else (want,))]
    worst = 0.0
    for g, w, name in zip(got, want, loaded.output_names):
        if g.shape != w.shape:
            raise ExportError(f"output {name!r}: onnxruntime gives shape {g.shape}, PyTorch {w.shape}")
        diff = float(np.abs(g.astype(np.float32) - w).max()) if w.size else 0.0
        tolerance = _tolerance(loaded.spec.input_dtype) * max(1.0, float(np.abs(w).max()))
        if not diff <= tolerance:
            raise ExportError(f"output {name!r}: onnxruntime and PyTorch differ by {diff:.3g} "
                              f"(tolerance {tolerance:.3g}); nothing was written")
        worst = max(worst, diff)
    return worst


def _tolerance(dtype: str) -> float:
    return 1e-2 if dtype == "float16" else 1e-4


def _opset(model) -> int:
    return next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))
