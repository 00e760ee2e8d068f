"""Reading a third party's model file into a differentiable PyTorch teacher.

ONNX goes through onnx2torch; TorchScript through `torch.jit.load`, which runs no pickled
Python. Nothing here ever unpickles a file (`torch.load`), since the file is untrusted.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import os
import warnings
import zipfile
from pathlib import Path

import onnx
import torch
from torch import nn

from .errors import ModelFileError, NotAClassifierError, UnsupportedOperatorError
from .errors import first_line as _first_line
from .input_spec import InputSpec
from .screening import check_file_size, check_finite_weights, screen_archive, screen_onnx
from .weights import trace_weight_sources

_SMALL_CHANNELS = (1, 2, 3, 4)
# values per image (C × H × W) above which a model is refused: 3 × 2364 × 2364, or 1 × 4096 × 4096
MAX_INPUT_VALUES = 1 << 24
_FLOAT_TYPES = {onnx.TensorProto.FLOAT: "float32", onnx.TensorProto.FLOAT16: "float16",
                onnx.TensorProto.DOUBLE: "float64"}
# uint8 inputs are raw 0-255 pixels that the graph casts and normalises itself; the teacher is
# fed the same values as floats, so the Cast is a no-op and gradients reach the image
_INPUT_TYPES = {**_FLOAT_TYPES, onnx.TensorProto.UINT8: "uint8"}


@dataclasses.dataclass
class LoadedModel:
    net: nn.Module                  # the model as converted: own layout, dtype and every output
    spec: InputSpec
    output_index: int               # which of the net's outputs holds the class scores
    output_names: tuple[str, ...]   # every output, in order (what the clean model must keep)
    output_dtypes: tuple[str, ...]
    source_format: str              # "onnx" or "torchscript"
    sha256: str
    onnx_model: onnx.ModelProto | None = None   # the graph as converted (after graph_passes)
    weight_sources: dict | None = None          # parameter → initializer, see weights.py
    source_files: tuple[Path, ...] = ()         # the model file and its external data files

    @property
    def opset(self) -> int | None:
        if self.onnx_model is None:
            return None
        return next((o.version for o in self.onnx_model.opset_import if o.domain in ("", "ai.onnx")),
                    None)


class Classifier(nn.Module):
    """A loaded net seen as f(normalised N × C × H × W float32) → N × K float32 logits."""

    def __init__(self, net: nn.Module, spec: InputSpec, output_index: int):
        super().__init__()
        self.net, self.spec, self.output_index = net, spec, output_index

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.net(self.spec.to_layout(x))
        if isinstance(out, (tuple, list)):
            out = out[self.output_index]
        return out.float().flatten(1)


def load_model(path: str | Path, *, mean=(0.0,), std=(1.0,), input_shape=None, layout=None,
               output_name: str | None = None) -> LoadedModel:
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"{path}: no such file")
    check_file_size(path)
    data = path.read_bytes()
    sha256 = hashlib.sha256(data).hexdigest()
    if zipfile.is_zipfile(path):
        return _load_torchscript(path, sha256, mean, std, input_shape, layout)
    return _load_onnx(path, data, sha256, mean, std, input_shape, layout, output_name)


def read_onnx(path: Path, data: bytes | None = None) -> onnx.ModelProto:
    """The graph with every weight in memory, checked."""
    path = Path(path)
    if data is None:
        check_file_size(path)
        data = path.read_bytes()
    model = _parse_onnx(path, data)
    _read_external_data_and_check(model, path)
    return model


def _parse_onnx(path: Path, data: bytes) -> onnx.ModelProto:
    try:
        return onnx.load_from_string(data)
    except Exception as err:  # protobuf raises many kinds
        raise ModelFileError(f"{path}: not a valid ONNX or TorchScript model "
                             f"({_first_line(err)})") from None


def _read_external_data_and_check(model: onnx.ModelProto, path: Path) -> None:
    """External data (torch.onnx's `model.onnx.data`) is read from the model's own folder,
    wherever auditor runs from, once `screen_onnx` has checked where each tensor points; onnx's
    reader refuses the same locations again (outside the folder, absolute, symbolic links,
    past the end of the file)."""
    screen_onnx(model, path)
    try:
        onnx.load_external_data_for_model(model, str(path.parent))
    except Exception as err:
        raise ModelFileError(f"{path}: external data refused or unreadable "
                             f"({_first_line(err)})") from None
    try:
        onnx.checker.check_model(model)
    except Exception as err:
        raise ModelFileError(f"{path}: not a valid ONNX model ({_first_line(err)})") from None
    check_finite_weights(model, path)


def external_data_files(model: onnx.ModelProto, path: Path) -> tuple[Path, ...]:
    """The files beside a parsed (not yet completed) model that hold its external weights."""
    from onnx.external_data_helper import ExternalDataInfo, uses_external_data

    locations = {ExternalDataInfo(t).location for t in model.graph.initializer
                 if uses_external_data(t)}
    return tuple(sorted(path.parent / location for location in locations))


@dataclasses.dataclass(frozen=True)
class OnnxInterface:
    """What the graph itself says about its input and outputs, before any conversion."""
    shape: tuple[int, int, int]     # C, H, W
    spec_args: dict                 # InputSpec fields known from the graph and the options
    batch: int | None               # the input's batch dimension if fixed
    output_names: tuple[str, ...]
    output_dtypes: tuple[str, ...]


def onnx_interface(path, model: onnx.ModelProto, *, mean, std, input_shape=None,
                   layout=None) -> OnnxInterface:
    graph = model.graph
    initializers = {i.name for i in graph.initializer}
    inputs = [i for i in graph.input if i.name not in initializers]
    if len(inputs) != 1:
        raise NotAClassifierError(f"{path}: expected one image input, found {len(inputs)} "
                                  f"({', '.join(i.name for i in inputs)})")
    (graph_input,) = inputs
    dtype = _INPUT_TYPES.get(graph_input.type.tensor_type.elem_type)
    if dtype is None:
        raise NotAClassifierError(f"{path}: input {graph_input.name!r} is neither float nor uint8")
    if dtype == "uint8":
        mean, std = (0.0,), (1 / 255,)
    dims = [d.dim_value if d.HasField("dim_value") else None
            for d in graph_input.type.tensor_type.shape.dim]
    shape, detected_layout = _image_shape(path, dims, input_shape)
    spec_args = dict(mean=tuple(mean), std=tuple(std), input_name=graph_input.name,
                     input_dtype=dtype, layout=layout or detected_layout)
    return OnnxInterface(shape, spec_args, dims[0] if dims else None,
                         tuple(o.name for o in graph.output),
                         tuple(_FLOAT_TYPES.get(o.type.tensor_type.elem_type, "float32")
                               for o in graph.output))


def _load_onnx(path, data, sha256, mean, std, input_shape, layout, output_name):
    model = _parse_onnx(path, data)
    files = (path, *external_data_files(model, path))
    _read_external_data_and_check(model, path)
    interface = onnx_interface(path, model, mean=mean, std=std, input_shape=input_shape,
                               layout=layout)
    net, model = _convert(path, model)
    loaded = _finish(path, net, interface.shape, interface.spec_args, interface.output_names,
                     interface.output_dtypes, output_name, "onnx", sha256, model)
    return dataclasses.replace(loaded, source_files=files)


def _load_torchscript(path, sha256, mean, std, input_shape, layout):
    if input_shape is None:
        raise NotAClassifierError(f"{path}: a TorchScript model needs --input-shape CxHxW")
    check_input_size(path, input_shape)
    screen_archive(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)   # deprecated, still the safe loader
            net = torch.jit.load(str(path), map_location="cpu")
    except Exception as err:
        raise ModelFileError(f"{path}: not a valid TorchScript archive ({_first_line(err)})") from None
    spec_args = dict(mean=tuple(mean), std=tuple(std), layout=layout or "NCHW")
    loaded = _finish(path, net, tuple(input_shape), spec_args, None, None, None, "torchscript",
                     sha256, None)
    return dataclasses.replace(loaded, source_files=(path,))


def check_input_size(path, shape) -> None:
    """Refuse, before anything is allocated, an image so large that every batch would exhaust
    memory (a hostile file can declare a 3 × 60000 × 60000 input)."""
    limit = int(os.environ.get("AUDITOR_MAX_INPUT_VALUES", MAX_INPUT_VALUES))
    values = math.prod(shape)
    if values > limit:
        raise NotAClassifierError(f"{path}: an input of {'x'.join(map(str, shape))} is {values:,} "
                                  f"values per image, over the limit of {limit:,} "
                                  f"(AUDITOR_MAX_INPUT_VALUES raises it)")


def _check_finite(path, net) -> None:
    """NaN or Inf in a weight poisons every synthetic image, trigger and score: refuse it."""
    for name, tensor in [*net.named_parameters(), *net.named_buffers()]:
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            raise ModelFileError(f"{path}: weight {name!r} holds NaN or Inf; such a model cannot "
                                 f"be scanned or cleaned")


def _finish(path, net, shape, spec_args, output_names, output_dtypes, output_name, fmt, sha256,
            model):
    net = net.float().eval()
    _check_finite(path, net)
    channels, height, width = shape
    probe_spec = InputSpec(channels, height, width, num_classes=1, **spec_args)
    outputs = _probe(path, net, probe_spec)
    if output_names is None:
        output_names = ("output",) if len(outputs) == 1 else tuple(f"output_{i}" for i in range(len(outputs)))
        output_dtypes = ("float32",) * len(outputs)
    index = class_output(path, outputs, output_names, output_name)
    if not bool(torch.isfinite(outputs[index]).all()):
        raise NotAClassifierError(f"{path}: the class scores are NaN or Inf on blank images")
    spec = dataclasses.replace(probe_spec, num_classes=outputs[index].shape[1],
                               output_name=output_names[index])
    sources = trace_weight_sources(net, model) if model is not None else None
    return LoadedModel(net, spec, index, tuple(output_names), tuple(output_dtypes), fmt, sha256,
                       model, sources)


def _image_shape(path, dims, input_shape):
    """(C, H, W) and layout from the input's dimensions; --input-shape wins where given."""
    if len(dims) == 3:
        shape = (1, dims[1], dims[2])
        layout = "NHW"
    elif len(dims) == 4:
        channels_first = dims[1] in _SMALL_CHANNELS
        channels_last = dims[3] in _SMALL_CHANNELS
        if channels_last and not channels_first:
            shape, layout = (dims[3], dims[1], dims[2]), "NHWC"
        else:
            shape, layout = (dims[1], dims[2], dims[3]), "NCHW"
    elif input_shape is None:
        raise NotAClassifierError(f"{path}: input has rank {len(dims)}, not an N×C×H×W, "
                                  f"N×H×W×C or N×H×W image; pass --input-shape if it is one")
    else:
        shape, layout = tuple(input_shape), "NCHW"
    if input_shape is not None:
        shape = tuple(input_shape)
    if any(d is None or d <= 0 for d in shape):
        raise NotAClassifierError(f"{path}: the image size is not fixed in the graph "
                                  f"(input dims {dims}); pass --input-shape CxHxW")
    check_input_size(path, shape)
    return shape, layout


def _convert(path, model):
    from onnx2torch import convert

    from . import converters, graph_passes
    from .converters.reshape import make_reshapes_static

    converters.register()
    model = graph_passes.normalise(model, path)
    missing = unsupported_operators(model)
    if missing:
        raise UnsupportedOperatorError(f"{path}: cannot convert operators {', '.join(missing)}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            net = convert(model, attach_onnx_mapping=True)   # weights.py reads each node's inputs
    except Exception as err:
        raise UnsupportedOperatorError(f"{path}: conversion failed: {_first_line(err)}") from None
    make_reshapes_static(net)
    _make_initializers_trainable(net)
    return net, model


def _make_initializers_trainable(net: nn.Module) -> None:
    """onnx2torch keeps initializers that feed MatMul, Add and the like as buffers; they are
    weights all the same, and the student must be able to train them."""
    holder = getattr(net, "initializers", None)
    if holder is None:
        return
    for name, value in list(holder.named_buffers(recurse=False)):
        if value.is_floating_point() and value.numel() > 1:
            delattr(holder, name)
            holder.register_parameter(name, nn.Parameter(value.detach().clone()))


def unsupported_operators(model: onnx.ModelProto) -> list[str]:
    """Every op type and version in the graph that has no onnx2torch converter, sorted."""
    from onnx2torch.node_converters.registry import get_converter

    from . import converters

    converters.register()
    opsets = {o.domain or "": o.version for o in model.opset_import}
    opsets.setdefault("ai.onnx", opsets.get("", 1))
    missing = set()
    for node in model.graph.node:
        domain = "" if node.domain in ("", "ai.onnx") else node.domain
        version = opsets.get(domain, 1)
        try:
            get_converter(node.op_type, version, domain)
        except NotImplementedError:
            missing.add(f"{node.op_type}-{_since_version(node.op_type, version, domain)}")
    return sorted(missing)


def _since_version(op_type, version, domain):
    try:
        return onnx.defs.get_schema(op_type, max_inclusive_version=version, domain=domain).since_version
    except Exception:
        return version


def _probe(path, net, spec):
    """Run a batch of two blank images, so batch-size and shape problems surface now."""
    x = torch.zeros(spec.model_input_shape(2))
    try:
        with torch.no_grad():
            out = net(x)
    except Exception as err:
        raise NotAClassifierError(f"{path}: the model does not run on a batch of 2 images of "
                                  f"shape {tuple(x.shape)[1:]}: {_first_line(err)}") from None
    outputs = list(out) if isinstance(out, (tuple, list)) else [out]
    if not all(isinstance(o, torch.Tensor) for o in outputs):
        raise NotAClassifierError(f"{path}: the model's outputs are not all tensors")
    return outputs


def class_output(path, outputs, names, wanted, batch: int = 2) -> int:
    """Which output holds the class scores: `wanted` by name, else the first batch × K."""
    if wanted is not None:
        if wanted not in names:
            raise NotAClassifierError(f"{path}: no output named {wanted!r} (outputs: {', '.join(names)})")
        index = names.index(wanted)
        if not _is_scores(outputs[index], batch):
            raise NotAClassifierError(f"{path}: output {wanted!r} has shape "
                                      f"{tuple(outputs[index].shape)}, not batch × classes")
        return index
    for index, out in enumerate(outputs):
        if _is_scores(out, batch):
            return index
    shapes = ", ".join(f"{n} {tuple(o.shape)}" for n, o in zip(names, outputs))
    raise NotAClassifierError(f"{path}: no output of shape batch × classes ({shapes})")


def _is_scores(out, batch):
    """batch × K, or batch × K × 1 × 1 as some exporters leave a classifier's output."""
    return (out.dim() >= 2 and out.shape[0] == batch and out.shape[1] >= 2
            and all(d == 1 for d in out.shape[2:]) and out.is_floating_point())


__all__ = ["Classifier", "LoadedModel", "load_model", "unsupported_operators"]
