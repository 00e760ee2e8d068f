"""Hostile model files, built at test time: each with the exit status and message auditor must
answer with. tests/test_untrusted.py checks them one by one; its fuzz test runs all of them, and
seeded truncations and byte flips of real models, through scan, clean and evaluate."""

from __future__ import annotations

import dataclasses
import os
import random
import warnings
import zipfile
from pathlib import Path

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper, numpy_helper
from onnx.external_data_helper import convert_model_to_external_data

from .models import Branching, TinyNet, archive, tiny_onnx


@dataclasses.dataclass
class Hostile:
    name: str
    path: Path
    status: int                     # scan's and clean's exit status
    message: str                    # a piece of the one-line error
    evaluate_status: int | None = None   # where evaluate (onnxruntime, no conversion) differs
    options: tuple[str, ...] = ()

    @property
    def expected_evaluate(self) -> int:
        return self.status if self.evaluate_status is None else self.evaluate_status


def _folder(root: Path, name: str) -> Path:
    folder = root / name
    folder.mkdir(parents=True)
    return folder


def _save(model: onnx.ModelProto, folder: Path, name: str = "model.onnx") -> Path:
    onnx.save(model, str(folder / name))
    return folder / name


def _io(shape=("N", 1, 8, 8), classes=4, name="x"):
    return (helper.make_tensor_value_info(name, TensorProto.FLOAT, list(shape)),
            helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", classes]))


def _graph(nodes, inputs, outputs, initializers=(), opsets=(("", 17),)) -> onnx.ModelProto:
    graph = helper.make_graph(nodes, "g", list(inputs), list(outputs), list(initializers))
    return helper.make_model(graph, opset_imports=[helper.make_opsetid(d, v) for d, v in opsets])


def _flatten_to_classes():
    """x (N × 1 × 8 × 8) → y (N × 4): flatten, keep four values."""
    starts = numpy_helper.from_array(np.array([0], np.int64), "starts")
    ends = numpy_helper.from_array(np.array([4], np.int64), "ends")
    axes = numpy_helper.from_array(np.array([1], np.int64), "axes")
    nodes = [helper.make_node("Flatten", ["x"], ["f"]),
             helper.make_node("Slice", ["f", "starts", "ends", "axes"], ["y"])]
    return nodes, [starts, ends, axes]


# ------------------------------------------------------------------------- external data

def _external(root: Path, name: str, **entries) -> Path:
    """The tiny classifier with its weights in weights.bin beside it, the first tensor's
    external-data entries then replaced by `entries`."""
    folder = _folder(root, name)
    model = onnx.load(str(tiny_onnx(folder)))
    (folder / "tiny.onnx").unlink()
    convert_model_to_external_data(model, all_tensors_to_one_file=True, location="weights.bin",
                                   size_threshold=0)
    path = _save(model, folder)           # writes weights.bin beside it
    model = onnx.load(str(path), load_external_data=False)
    tensor = model.graph.initializer[0]
    info = {e.key: e.value for e in tensor.external_data}
    info.update({k: str(v) for k, v in entries.items()})
    del tensor.external_data[:]
    for key, value in info.items():
        tensor.external_data.add(key=key, value=value)
    return _save(model, folder)


def external_data_cases(root: Path) -> list[Hostile]:
    outside = root / "secret.bin"
    outside.write_bytes(os.urandom(4096))
    cases = [
        Hostile("ext-parent", _external(root, "ext-parent", location="../../etc/passwd"), 3,
                "leaves the model's folder"),
        Hostile("ext-sibling", _external(root, "ext-sibling", location="../secret.bin"), 3,
                "leaves the model's folder"),
        Hostile("ext-absolute", _external(root, "ext-absolute", location="/etc/hostname"), 3,
                "is an absolute path"),
        Hostile("ext-dev-zero", _external(root, "ext-dev-zero", location="/dev/zero"), 3,
                "is an absolute path"),
        Hostile("ext-offset", _external(root, "ext-offset", offset=10**6), 3,
                "runs past the end"),
        Hostile("ext-length", _external(root, "ext-length", length=10**6), 3,
                "runs past the end"),
        Hostile("ext-short", _external(root, "ext-short", length=4), 3, "holds 4 bytes"),
        Hostile("ext-missing", _external(root, "ext-missing", location="absent.bin"), 3,
                "does not exist"),
        Hostile("ext-empty", _external(root, "ext-empty", location=""), 3, "is empty"),
    ]
    link = _external(root, "ext-symlink", location="link.bin")
    os.symlink(outside, link.parent / "link.bin")
    inner = _external(root, "ext-symlink-inside", location="link.bin")
    os.symlink(inner.parent / "weights.bin", inner.parent / "link.bin")
    via = _external(root, "ext-through-link", location="sub/weights.bin")
    os.symlink(root, via.parent / "sub")
    (root / "weights.bin").write_bytes((via.parent / "weights.bin").read_bytes())
    fifo = _external(root, "ext-fifo", location="pipe")
    os.mkfifo(fifo.parent / "pipe")
    folder = _external(root, "ext-folder", location="folder")
    (folder.parent / "folder").mkdir()
    cases += [
        Hostile("ext-symlink", link, 3, "symbolic link"),
        Hostile("ext-symlink-inside", inner, 3, "symbolic link"),
        Hostile("ext-through-link", via, 3, "symbolic link"),
        Hostile("ext-fifo", fifo, 3, "not a regular file"),
        Hostile("ext-folder", folder, 3, "not a regular file"),
    ]
    return cases


# --------------------------------------------------------------------------- resource bombs

def _million_nodes(folder: Path, count: int = 1_000_001) -> Path:
    """A chain of Identity nodes, serialised by repeating one node's bytes: a repeated protobuf
    field is its elements' encodings one after another (building it node by node takes
    minutes)."""
    x, y = _io()
    base = _graph([helper.make_node("Identity", ["x"], ["y"])], [x], [y])
    node = helper.make_node("Identity", ["x"], ["x"])   # names do not matter: refused by count
    field = b"\x0a" + _varint(node.ByteSize()) + node.SerializeToString()   # GraphProto.node = 1
    graph = base.graph.SerializeToString() + field * (count - 1)
    model = base.SerializeToString().replace(
        b"\x3a" + _varint(base.graph.ByteSize()) + base.graph.SerializeToString(),
        b"\x3a" + _varint(len(graph)) + graph)                              # ModelProto.graph = 7
    path = folder / "model.onnx"
    path.write_bytes(model)
    return path


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _nested_ifs(depth: int) -> onnx.ModelProto:
    """y = If(c) nested `depth` graphs deep."""
    x, y = _io()
    cond = numpy_helper.from_array(np.array(True), "c")

    def leaf(out: str) -> onnx.GraphProto:
        return helper.make_graph([helper.make_node("Identity", ["x"], [out])], "leaf", [],
                                 [helper.make_tensor_value_info(out, TensorProto.FLOAT, None)])

    def level(n: int, out: str) -> onnx.GraphProto:
        if n == 0:
            return leaf(out)
        node = helper.make_node("If", ["c"], [out], then_branch=level(n - 1, f"{out}_"),
                                else_branch=leaf(out + "e"))
        return helper.make_graph([node], f"g{n}", [],
                                 [helper.make_tensor_value_info(out, TensorProto.FLOAT, None)])

    flat, initializers = _flatten_to_classes()
    nodes = [helper.make_node("If", ["c"], ["f0"], then_branch=level(depth - 2, "z"),
                              else_branch=leaf("ze")),
             helper.make_node("Flatten", ["f0"], ["f"]), flat[1]]
    return _graph(nodes, [x], [y], [cond, *initializers])


def _nested_bytes(folder: Path, depth: int) -> Path:
    """Graphs nested deeper than protobuf parses (the Python API cannot even build them), encoded
    by hand: graph = node If whose then_branch attribute holds the next graph."""
    def field(number: int, payload: bytes) -> bytes:
        return _varint(number << 3 | 2) + _varint(len(payload)) + payload

    graph = field(1, field(1, b"x") + field(2, b"y") + field(4, b"Identity"))
    for _ in range(depth):
        attribute = field(1, b"then_branch") + _varint(20 << 3) + _varint(5) + field(6, graph)
        graph = field(1, field(1, b"c") + field(2, b"y") + field(4, b"If") + field(5, attribute))
    path = folder / "model.onnx"
    path.write_bytes(_varint(1 << 3) + _varint(8) + field(7, graph))   # ir_version 8, graph
    return path


def resource_cases(root: Path) -> list[Hostile]:
    x, y = _io(("N", 3, 60000, 60000))
    flat, initializers = _flatten_to_classes()
    input_bomb = _save(_graph([helper.make_node("Flatten", ["x"], ["f"]), flat[1]], [x], [y],
                              initializers), _folder(root, "input-bomb"))
    x, y = _io()
    weight = onnx.TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[60000, 60000],
                              raw_data=b"\0\0\0\0")   # make_tensor refuses to build it
    weight_bomb = _save(_graph([helper.make_node("Flatten", ["x"], ["f"]),
                                helper.make_node("MatMul", ["f", "w"], ["y"])], [x], [y],
                               [weight]), _folder(root, "weight-bomb"))
    values = onnx.TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[60000, 60000],
                              float_data=[1.0])
    value_bomb = _save(_graph([helper.make_node("Flatten", ["x"], ["f"]),
                               helper.make_node("MatMul", ["f", "w"], ["y"])], [x], [y],
                              [values]), _folder(root, "value-bomb"))
    sparse = root / "over-2gb" / "model.onnx"
    sparse.parent.mkdir()
    with open(sparse, "wb") as handle:        # sparse: no disk space, a 2 GiB + 1 byte size
        handle.truncate((2 << 30) + 1)
    return [
        Hostile("input-bomb", input_bomb, 4, "AUDITOR_MAX_INPUT_VALUES"),
        Hostile("weight-bomb", weight_bomb, 3, "but carries bytes: 4"),
        Hostile("value-bomb", value_bomb, 3, "but carries values: 1"),
        Hostile("million-nodes", _million_nodes(_folder(root, "million-nodes")), 3,
                "over the limit of 200,000 nodes"),
        Hostile("nested-graphs", _save(_nested_ifs(6), _folder(root, "nested-graphs")), 3,
                "levels of graphs nested"),
        Hostile("nested-past-protobuf", _nested_bytes(_folder(root, "nested-deep"), 60), 3,
                "not a valid ONNX"),
        Hostile("over-2gb", sparse, 3, "AUDITOR_MAX_FILE_BYTES"),
    ]


# ----------------------------------------------------------------------- odd but valid graphs

def odd_graph_cases(root: Path) -> list[Hostile]:
    x, y = _io()
    flat, initializers = _flatten_to_classes()
    custom = _graph([helper.make_node("Frobnicate", ["x"], ["y"], domain="com.example")], [x], [y],
                    opsets=(("", 17), ("com.example", 1)))
    cond = numpy_helper.from_array(np.array(True), "c")
    branch = helper.make_graph([helper.make_node("Flatten", ["x"], ["b"])], "b", [],
                               [helper.make_tensor_value_info("b", TensorProto.FLOAT, None)])
    if_model = _graph([helper.make_node("If", ["c"], ["f"], then_branch=branch, else_branch=branch),
                       flat[1]], [x], [y], [cond, *initializers])
    trips = numpy_helper.from_array(np.array(2, np.int64), "trips")
    body = helper.make_graph(
        [helper.make_node("Identity", ["cond_in"], ["cond_out"]),
         helper.make_node("Relu", ["carried"], ["carried_out"])], "body",
        [helper.make_tensor_value_info("i", TensorProto.INT64, []),
         helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
         helper.make_tensor_value_info("carried", TensorProto.FLOAT, None)],
        [helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
         helper.make_tensor_value_info("carried_out", TensorProto.FLOAT, None)])
    loop = _graph([helper.make_node("Loop", ["trips", "c", "x"], ["looped"], body=body),
                   helper.make_node("Flatten", ["looped"], ["f"]), flat[1]], [x], [y],
                  [trips, cond, *initializers])
    zero_x, zero_y = _io(("N", 1, 0, 8))
    zero = _graph([helper.make_node("Flatten", ["x"], ["f"]), flat[1]], [zero_x], [zero_y],
                  initializers)
    duplicate = _graph([helper.make_node("Flatten", ["x"], ["f"]),
                        helper.make_node("Relu", ["x"], ["f"]), flat[1]], [x], [y], initializers)
    empty = _graph([helper.make_node("Flatten", [""], ["f"]), flat[1]], [x], [y], initializers)
    second = helper.make_tensor_value_info("x2", TensorProto.FLOAT, ["N", 1, 8, 8])
    two_inputs = _graph([helper.make_node("Add", ["x", "x2"], ["s"]),
                         helper.make_node("Flatten", ["s"], ["f"]), flat[1]], [x, second], [y],
                        initializers)
    text_x = helper.make_tensor_value_info("x", TensorProto.INT64, ["N", 16])
    text = _graph([helper.make_node("Cast", ["x"], ["y"], to=TensorProto.FLOAT)], [text_x],
                  [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 16])])
    log = _graph([helper.make_node("Flatten", ["x"], ["f0"]),
                  helper.make_node("Log", ["f0"], ["l"]),        # log 0 = -inf on blank images
                  helper.make_node("Slice", ["l", "starts", "ends", "axes"], ["y"])], [x], [y],
                 initializers)
    cases = [
        ("custom-domain", custom, 5, "Frobnicate", None),   # onnxruntime has no kernel either
        ("if-in-main-graph", if_model, 5, "If-", 0),      # onnxruntime runs it: a correct run
        ("loop-in-main-graph", loop, 5, "Loop-", 0),
        ("zero-sized-input", zero, 4, "image size is not fixed", None),
        ("duplicate-names", duplicate, 3, "not a valid ONNX", None),
        ("empty-name", empty, 3, "not a valid ONNX", None),
        ("two-image-inputs", two_inputs, 4, "expected one image input", None),
        ("text-input", text, 4, "neither float nor uint8", None),
        ("nan-scores", log, 4, "NaN or Inf on blank images", 0),
    ]
    found = [Hostile(name, _save(model, _folder(root, name)), status, message, evaluate)
             for name, model, status, message, evaluate in cases]
    for value in (np.nan, np.inf):
        folder = _folder(root, f"weights-{value}")
        model = onnx.load(str(tiny_onnx(folder)))
        tensor = model.graph.initializer[0]
        array = numpy_helper.to_array(tensor).copy()
        array.flat[3] = value
        tensor.CopyFrom(numpy_helper.from_array(array, tensor.name))
        found.append(Hostile(f"weights-{value}", _save(model, folder), 3, "holds NaN or Inf"))
    return found


# ------------------------------------------------------------------------------- TorchScript

_TS = ("--input-shape", "1x16x16")


def _rewrite(source: Path, target: Path, change) -> Path:
    """Copy an archive entry by entry, `change(name, data)` returning new (name, data) pairs."""
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w") as new:
        for entry in old.infolist():
            for name, data in change(entry.filename, old.read(entry)):
                new.writestr(name, data)
    return target


def torchscript_cases(root: Path) -> list[Hostile]:
    folder = _folder(root, "torchscript")
    good = archive(folder / "good.pt", "script", Branching())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        extra = folder / "extra.pt"
        torch.jit.save(torch.jit.script(TinyNet(size=16).eval()), str(extra),
                       _extra_files={"notes.txt": b"anything at all"})

    def swap(old: bytes, new: bytes):
        return lambda name, data: [(name, data.replace(old, new) if name.endswith("data.pkl") else data)]

    def add(name, data):
        root = name.split("/", 1)[0]
        return [(name, data)] + ([(f"{root}/../../escape.txt", b"x")] if name.endswith("/version") else [])

    def code(name, data):
        if name.endswith(".py") and b"def forward" in data:
            data = data.replace(b"def forward", b"def __setstate__(self, state: Tuple[int]):\n"
                                                b"    pass\n  def forward", 1)
        return [(name, data)]

    def from_file(name, data):
        if name.endswith(".py") and b"def forward" in data:
            data = data + b"\ndef leak() -> Tensor:\n  return torch.from_file(\"/etc/passwd\")\n"
        return [(name, data)]

    def two_roots(name, data):
        return [(name, data), ("other/" + name.split("/", 1)[1], data)]

    junk = folder / "junk.pt"
    with zipfile.ZipFile(junk, "w") as handle:
        handle.writestr("junk/readme.txt", "not a model")
    return [
        Hostile("ts-extra-files", extra, 3, "extra file 'notes.txt'", options=_TS),
        Hostile("ts-pickle-global", _rewrite(good, folder / "global.pt",
                                             swap(b"collections\nOrderedDict", b"posix\nsystem\n\n\n\n\n")),
                3, "refers to 'posix system", options=_TS),
        Hostile("ts-zip-slip", _rewrite(good, folder / "slip.pt", add), 3, "'../../escape.txt' is not part",
                options=_TS),
        Hostile("ts-setstate", _rewrite(good, folder / "setstate.pt", code), 3, "__setstate__",
                options=_TS),
        Hostile("ts-from-file", _rewrite(good, folder / "from_file.pt", from_file), 3, "from_file",
                options=_TS),
        Hostile("ts-two-roots", _rewrite(good, folder / "roots.pt", two_roots), 3, "one top folder",
                options=_TS),
        Hostile("ts-not-a-module", junk, 3, "not part of a TorchScript", options=_TS),
    ]


# --------------------------------------------------------------------------- broken bytes

def junk_cases(root: Path) -> list[Hostile]:
    folder = _folder(root, "junk")
    (folder / "empty.onnx").write_bytes(b"")
    (folder / "random.onnx").write_bytes(random.Random(0).randbytes(5000))
    (folder / "text.onnx").write_text("ir_version: 8\ngraph { name: 'g' }\n")
    return [Hostile("empty-file", folder / "empty.onnx", 3, "not a valid ONNX"),
            Hostile("random-bytes", folder / "random.onnx", 3, "not a valid ONNX"),
            Hostile("text-file", folder / "text.onnx", 3, "not a valid ONNX")]


def mutations(sources: list[Path], root: Path, count: int, seed: int = 0) -> list[Path]:
    """Seeded damage to real model files, a third each: truncations, byte flips anywhere (most
    land in weights, which leaves a valid model) and byte flips in the graph's structure (outside
    every initializer's data, where they change what the graph is)."""
    folder = _folder(root, "mutated")
    rng = random.Random(seed)
    made = []
    for i in range(count):
        source = sources[(i // 3) % len(sources)]
        data = bytearray(source.read_bytes())
        kind = ("truncated", "flipped", "flipped-structure")[i % 3]
        if kind == "truncated":
            data = data[:rng.randrange(1, len(data))]
        else:
            positions = range(len(data)) if kind == "flipped" else _structure(source, data)
            for _ in range(rng.choice((1, 4, 32))):
                data[rng.choice(positions)] ^= 1 << rng.randrange(8)
        path = folder / f"{kind}-{i:02d}-{source.stem}.onnx"
        path.write_bytes(bytes(data))
        made.append(path)
    return made


def _structure(source: Path, data: bytearray) -> list[int]:
    """Byte offsets that are not inside an initializer's raw data."""
    weights = bytearray(len(data))
    for tensor in onnx.load(str(source)).graph.initializer:
        if len(tensor.raw_data) >= 16:
            start = bytes(data).find(tensor.raw_data)
            if start >= 0:
                weights[start:start + len(tensor.raw_data)] = b"\1" * len(tensor.raw_data)
    return [i for i, w in enumerate(weights) if not w]


def catalogue(root: Path) -> list[Hostile]:
    root.mkdir(parents=True, exist_ok=True)
    return [*external_data_cases(root), *resource_cases(root), *odd_graph_cases(root),
            *torchscript_cases(root), *junk_cases(root)]


def evaluation_data(path: Path, shape=(8, 8, 1), classes: int = 4) -> Path:
    rng = np.random.default_rng(0)
    np.savez(path, images=rng.random((16, *shape), dtype=np.float32),
             labels=rng.integers(0, classes, 16))
    return path

