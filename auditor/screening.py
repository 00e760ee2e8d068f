"""What an untrusted model file must pass before anything converts, allocates or runs it.

Every check reads the file's structure only: sizes, names, counts, pickle opcodes. Nothing is
unpickled or executed here, and each refusal says what was refused and why (exit 3). The limits
are generous for image classifiers and each is raised by an environment variable (`LIMITS`).
"""

from __future__ import annotations

import math
import os
import pickletools
import re
import stat
import zipfile
from pathlib import Path

import onnx

from .errors import ModelFileError

# name: (environment variable, default, what it bounds)
LIMITS = {
    "file_bytes": ("AUDITOR_MAX_FILE_BYTES", 2 << 30,
                   "bytes in the model file (protobuf's own limit is 2 GiB)"),
    "weight_bytes": ("AUDITOR_MAX_WEIGHT_BYTES", 4 << 30,
                     "bytes of weights the graph declares, external data included"),
    "nodes": ("AUDITOR_MAX_NODES", 200_000, "nodes, subgraphs included"),
    "graph_depth": ("AUDITOR_MAX_GRAPH_DEPTH", 4, "levels of graphs nested in If/Loop/Scan"),
}


def limit(name: str) -> int:
    variable, default, _ = LIMITS[name]
    return int(os.environ.get(variable, default))


def _over(path, name: str, amount: int, unit: str) -> ModelFileError:
    variable, _, what = LIMITS[name]
    return ModelFileError(f"{path}: {amount:,} {unit}, over the limit of {limit(name):,} {what} "
                          f"({variable} raises it)")


def check_file_size(path: Path) -> None:
    """Before a byte is read: the whole file is read into memory to hash and parse it."""
    status = path.stat()
    if not stat.S_ISREG(status.st_mode):
        raise ModelFileError(f"{path}: not a regular file")
    if status.st_size > limit("file_bytes"):
        raise _over(path, "file_bytes", status.st_size, "bytes")


# ----------------------------------------------------------------------------- ONNX graphs

def screen_onnx(model: onnx.ModelProto, path: Path) -> None:
    """Graph size and nesting, every tensor's declared size against what it carries, and every
    external data location: before onnx reads external data, so nothing it names is opened."""
    nodes, tensors = 0, []
    for graph, depth in _graphs(model.graph, path):
        nodes += len(graph.node)
        if nodes > limit("nodes"):
            raise _over(path, "nodes", nodes, "nodes or more")
        tensors += _tensors(graph)
    total = 0
    for tensor in tensors:
        declared = _declared_bytes(tensor)
        total += declared
        if tensor.data_location == onnx.TensorProto.EXTERNAL:
            _check_external(tensor, declared, path)
        else:
            _check_carried(tensor, declared, path)
    if total > limit("weight_bytes"):
        raise _over(path, "weight_bytes", total, "bytes of weights declared")


def _graphs(graph: onnx.GraphProto, path):
    """Every graph with its nesting depth (the main graph is 1), the depth bounded as we go."""
    stack = [(graph, 1)]
    while stack:
        graph, depth = stack.pop()
        if depth > limit("graph_depth"):
            raise _over(path, "graph_depth", depth, "levels of nested graphs")
        yield graph, depth
        for node in graph.node:
            for attribute in node.attribute:
                subgraphs = [attribute.g] if attribute.HasField("g") else []
                stack += [(g, depth + 1) for g in [*subgraphs, *attribute.graphs]]


def _tensors(graph: onnx.GraphProto) -> list[onnx.TensorProto]:
    found = list(graph.initializer)
    for sparse in graph.sparse_initializer:
        found += [sparse.values, sparse.indices]
    for node in graph.node:
        for attribute in node.attribute:
            found += ([attribute.t] if attribute.HasField("t") else []) + list(attribute.tensors)
            for sparse in ([attribute.sparse_tensor] if attribute.HasField("sparse_tensor") else []) \
                    + list(attribute.sparse_tensors):
                found += [sparse.values, sparse.indices]
    return found


_FOUR_BIT = {getattr(onnx.TensorProto, n) for n in ("INT4", "UINT4", "FLOAT4E2M1")
             if hasattr(onnx.TensorProto, n)}
_TYPED_FIELDS = ("float_data", "int32_data", "int64_data", "double_data", "uint64_data")


def _values(tensor) -> int:
    return math.prod(tensor.dims)


def _declared_bytes(tensor) -> int:
    if tensor.data_type in _FOUR_BIT:
        return (_values(tensor) + 1) // 2
    if tensor.data_type in (onnx.TensorProto.STRING, onnx.TensorProto.UNDEFINED):
        return sum(len(s) for s in tensor.string_data)
    itemsize = onnx.helper.tensor_dtype_to_np_dtype(tensor.data_type).itemsize
    return _values(tensor) * itemsize


def _check_carried(tensor, declared: int, path) -> None:
    """A tensor whose dims promise more than its bytes would be allocated at the dims' size."""
    if tensor.data_type == onnx.TensorProto.STRING:
        return
    if tensor.HasField("raw_data"):
        carried, unit = len(tensor.raw_data), declared
    else:
        per_value = 2 if tensor.data_type in (onnx.TensorProto.COMPLEX64,
                                              onnx.TensorProto.COMPLEX128) else 1
        carried = sum(len(getattr(tensor, f)) for f in _TYPED_FIELDS) // per_value
        unit = _values(tensor)
        if tensor.data_type in _FOUR_BIT:
            unit = (unit + 1) // 2
    if carried != unit and not (carried == 0 and unit == 0):
        raise ModelFileError(f"{path}: tensor {tensor.name!r} declares shape "
                             f"{list(tensor.dims)} ({declared:,} bytes) but carries "
                             f"{'bytes' if tensor.HasField('raw_data') else 'values'}: {carried:,}")


def _check_external(tensor, declared: int, path: Path) -> None:
    """Where onnx would read: inside the model's folder, a regular file, within its size."""
    info = {entry.key: entry.value for entry in tensor.external_data}
    location = info.get("location", "")

    def refuse(why: str) -> ModelFileError:
        return ModelFileError(f"{path}: external data of tensor {tensor.name!r} refused: "
                              f"{location!r} {why}")

    if not location:
        raise refuse("is empty: no file named")
    if os.path.isabs(location) or location.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", location):
        raise refuse("is an absolute path; external data must lie beside the model")
    folder = os.path.realpath(path.parent)
    target = os.path.normpath(os.path.join(folder, location))
    if os.path.commonpath([folder, target]) != folder:
        raise refuse("leaves the model's folder")
    try:
        status = os.lstat(target)
    except OSError:
        raise refuse("does not exist beside the model") from None
    if stat.S_ISLNK(status.st_mode) or os.path.realpath(target) != target:
        raise refuse("is or passes through a symbolic link")
    if not stat.S_ISREG(status.st_mode):
        raise refuse("is not a regular file (a folder, FIFO or device)")
    try:
        offset = int(info.get("offset", 0))
        length = int(info["length"]) if "length" in info else status.st_size - offset
    except ValueError:
        raise refuse("has a non-numeric offset or length") from None
    if offset < 0 or length < 0 or offset + length > status.st_size:
        raise refuse(f"offset {offset:,} + length {length:,} runs past the end of the "
                     f"{status.st_size:,}-byte file")
    if length != declared:
        raise refuse(f"holds {length:,} bytes for a tensor of shape {list(tensor.dims)} "
                     f"({declared:,} bytes)")


def check_finite_weights(model: onnx.ModelProto, path) -> None:
    """NaN or Inf in a weight poisons every synthetic image, trigger, score and prediction."""
    import numpy as np

    for tensor in model.graph.initializer:
        if tensor.data_type in (onnx.TensorProto.FLOAT, onnx.TensorProto.DOUBLE,
                                onnx.TensorProto.FLOAT16, onnx.TensorProto.BFLOAT16):
            values = onnx.numpy_helper.to_array(tensor)
            if not np.isfinite(values.astype(np.float32)).all():
                raise ModelFileError(f"{path}: weight {tensor.name!r} holds NaN or Inf; such a "
                                     f"model cannot be scanned, cleaned or evaluated")


# ----------------------------------------------------------------------- TorchScript archives

# What torch.jit.save writes for a module, under the archive's one top folder. Anything else
# (the `extra/` files a saver can attach, stray files) is not needed to run the model: refused.
_ARCHIVE_ENTRIES = re.compile(
    r"(data\.pkl|constants\.pkl|version|byteorder|\.data/version|\.data/serialization_id"
    r"|data/\d+|constants/\d+|traced_inputs\.pkl|traced_inputs/\d+"
    r"|code/[\w./-]+\.py(\.debug_pkl)?)")
# What a module's pickles may name: its own TorchScript classes, tensors and their storages,
# and the containers torch's unpickler rebuilds. Checked on the opcodes, never unpickled.
_PICKLE_GLOBALS = re.compile(
    r"(__torch__(\.[\w.]+)? \w+|torch\._utils _rebuild_tensor_v2|torch \w+Storage"
    r"|collections OrderedDict|torch\.jit\._pickle (build_\w+|restore_type_tag))")
# TorchScript can call any registered operator; these read or write files, or run code when
# the archive is loaded (a class's __setstate__ runs inside torch.jit.load)
_CODE_REFUSED = re.compile(r"\b(from_file|__setstate__|torch\.ops\.(?!aten\b)\w+)")


def screen_archive(path: Path) -> None:
    try:
        with zipfile.ZipFile(path) as archive:
            entries = archive.infolist()
            _check_entries(path, entries)
            for entry in entries:
                name = entry.filename.split("/", 1)[1]
                if name in ("data.pkl", "constants.pkl", "traced_inputs.pkl"):
                    _check_pickle(path, name, archive.read(entry))
                elif name.endswith(".py"):
                    _check_code(path, name, archive.read(entry))
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as err:
        raise ModelFileError(f"{path}: not a valid TorchScript archive ({err})") from None


def _check_entries(path, entries) -> None:
    roots = {e.filename.split("/", 1)[0] for e in entries}
    if len(roots) != 1 or any("/" not in e.filename for e in entries):
        raise ModelFileError(f"{path}: a TorchScript archive has one top folder; this has "
                             f"{len(roots)}")
    total = sum(e.file_size for e in entries)
    if total > limit("file_bytes"):
        raise _over(path, "file_bytes", total, "bytes unpacked")
    for entry in entries:
        name = entry.filename.split("/", 1)[1]
        if entry.is_dir():
            continue
        if name.startswith("extra/"):
            raise ModelFileError(f"{path}: refused: the archive carries an extra file "
                                 f"{name[6:]!r}, which running the model does not need")
        if ".." in name.split("/") or not _ARCHIVE_ENTRIES.fullmatch(name):
            raise ModelFileError(f"{path}: refused: {name!r} is not part of a TorchScript module")


def _check_pickle(path, name: str, data: bytes) -> None:
    strings = []   # STACK_GLOBAL takes module and name from the two strings pushed before it
    for opcode, argument, _ in pickletools.genops(data):
        if opcode.name in ("SHORT_BINUNICODE", "BINUNICODE", "UNICODE", "BINUNICODE8"):
            strings.append(argument)
        referred = (argument if opcode.name == "GLOBAL"
                    else " ".join(strings[-2:]) if opcode.name == "STACK_GLOBAL" else None)
        if referred is not None and not _PICKLE_GLOBALS.fullmatch(referred):
            raise ModelFileError(f"{path}: refused: {name} refers to {referred!r}, which a "
                                 f"module's weights never need")
        if name == "constants.pkl" and referred is not None and "__torch__" in referred:
            raise ModelFileError(f"{path}: refused: constants.pkl holds an object "
                                 f"({referred}), not tensors")


def _check_code(path, name: str, data: bytes) -> None:
    found = _CODE_REFUSED.search(data.decode("utf-8", "replace"))
    if found:
        raise ModelFileError(f"{path}: refused: its code ({name}) uses {found.group(1)!r}, which "
                             f"reads files or runs code when the archive is loaded")
