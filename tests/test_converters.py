"""Each converter and graph pass we add, on a single-node ONNX model, against onnxruntime."""

import numpy as np
import onnxruntime as ort
import pytest
import torch
from onnx import TensorProto, helper, numpy_helper
from onnx2torch import convert

from auditor import converters, graph_passes
from auditor.converters.reshape import StaticReshape, make_reshapes_static

converters.register()
FLOAT = TensorProto.FLOAT


def single_node(op, inputs, output_shape, opset, attrs=None, initializers=(), output_type=FLOAT,
                n_outputs=1, domain_ir=None):
    """inputs: list of (name, shape) graph inputs; initializers: list of (name, array)."""
    node = helper.make_node(op, [n for n, _ in inputs] + [n for n, _ in initializers],
                            [f"y{i}" for i in range(n_outputs)], **(attrs or {}))
    graph = helper.make_graph(
        [node], op, [helper.make_tensor_value_info(n, FLOAT, s) for n, s in inputs],
        [helper.make_tensor_value_info("y0", output_type, output_shape)] +
        [helper.make_tensor_value_info(f"y{i}", FLOAT, None) for i in range(1, n_outputs)],
        initializer=[numpy_helper.from_array(a, n) for n, a in initializers])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = domain_ir or min(model.ir_version, 10)
    return model


def check_against_onnxruntime(model, *arrays, atol=1e-5):
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]
    want = session.run(None, dict(zip(names, arrays)))[0]
    net = convert(model)
    with torch.no_grad():
        got = net(*[torch.from_numpy(a) for a in arrays])
    got = got[0] if isinstance(got, (tuple, list)) else got
    np.testing.assert_allclose(got.numpy(), want, atol=atol, rtol=1e-5)
    return net


X = np.random.default_rng(0).standard_normal((2, 3, 6, 5)).astype(np.float32)


@pytest.mark.parametrize("opset", [1, 7])
def test_maxpool_1(opset):
    model = single_node("MaxPool", [("x", [2, 3, 6, 5])], None, opset,
                        {"kernel_shape": [2, 2], "strides": [2, 1], "pads": [0, 0, 1, 0]})
    check_against_onnxruntime(model, X)


def test_flatten_1_and_21():
    for opset in (7, 21):
        model = single_node("Flatten", [("x", [2, 3, 6, 5])], None, opset, {"axis": 2})
        check_against_onnxruntime(model, X)


@pytest.mark.parametrize("with_mask", [False, True])
def test_dropout_7_is_identity_and_keeps_the_batch_axis(with_mask):
    model = single_node("Dropout", [("x", [2, 3, 6, 5])], None, 7, {"ratio": 0.3},
                        n_outputs=2 if with_mask else 1)
    net = check_against_onnxruntime(model, X)
    out = net(torch.from_numpy(X))
    assert (out[0] if with_mask else out).shape == X.shape


@pytest.mark.parametrize("opset", [18, 20])
@pytest.mark.parametrize("op", ["ReduceMean", "ReduceMax", "ReduceMin", "ReduceL2", "ReduceSumSquare",
                                "ReduceLogSumExp"])
def test_reductions_with_axes_as_input(op, opset):
    if opset == 20 and op not in ("ReduceMax", "ReduceMin"):
        opset = 18
    model = single_node(op, [("x", [2, 3, 6, 5])], None, opset, {"keepdims": 0},
                        initializers=[("axes", np.array([1, 3], dtype=np.int64))])
    check_against_onnxruntime(model, X, atol=1e-4)


@pytest.mark.parametrize("opset", [19, 21])
def test_reshape_with_allowzero_and_shape(opset):
    for allowzero, target in ((0, [0, -1, 5]), (1, [2, 18, 5])):
        model = single_node("Reshape", [("x", [2, 3, 6, 5])], None, opset, {"allowzero": allowzero},
                            initializers=[("shape", np.array(target, dtype=np.int64))])
        check_against_onnxruntime(model, X)
    model = single_node("Shape", [("x", [2, 3, 6, 5])], None, opset, {"start": 1},
                        output_type=TensorProto.INT64)
    check_against_onnxruntime(model, X)


def test_constant_reshapes_become_static_and_traceable():
    model = single_node("Reshape", [("x", ["N", 3, 6, 5])], None, 14,
                        initializers=[("shape", np.array([0, -1], dtype=np.int64))])
    net = convert(model)
    assert make_reshapes_static(net) == 0          # initializer shapes are get_attr, not Constant
    node = helper.make_node("Constant", [], ["shape"],
                            value=numpy_helper.from_array(np.array([0, -1], dtype=np.int64)))
    model.graph.node.insert(0, node)
    del model.graph.initializer[:]
    net = convert(model)
    assert make_reshapes_static(net) == 1
    assert any(isinstance(m, StaticReshape) for m in net.modules())
    exported = torch.export.export(net, (torch.from_numpy(X),),
                                   dynamic_shapes=({0: torch.export.Dim("batch")},))
    torch.testing.assert_close(exported.module()(torch.from_numpy(X)), torch.from_numpy(X).reshape(2, -1))


@pytest.mark.parametrize("op,opset,attrs", [
    ("Cast", 19, {"to": FLOAT}), ("Cast", 21, {"to": FLOAT}), ("Identity", 19, {}),
    ("Identity", 21, {}), ("Transpose", 21, {"perm": [0, 2, 3, 1]}), ("Gelu", 20, {}),
    ("Gelu", 20, {"approximate": "tanh"}),
])
def test_newer_versions_of_familiar_operators(op, opset, attrs):
    model = single_node(op, [("x", [2, 3, 6, 5])], None, opset, attrs)
    check_against_onnxruntime(model, X)


def test_unsqueeze_21_and_equal_19():
    model = single_node("Unsqueeze", [("x", [2, 3, 6, 5])], None, 21,
                        initializers=[("axes", np.array([1], dtype=np.int64))])
    check_against_onnxruntime(model, X)
    model = single_node("Equal", [("x", [2, 3, 6, 5]), ("z", [2, 3, 6, 5])], None, 19,
                        output_type=TensorProto.BOOL)
    check_against_onnxruntime(model, X, np.where(X > 0, X, 0).astype(np.float32))


@pytest.mark.parametrize("mode", ["SAME_UPPER", "SAME_LOWER", "VALID"])
@pytest.mark.parametrize("op", ["Conv", "MaxPool", "AveragePool"])
def test_auto_pad_becomes_explicit_pads(op, mode):
    weight = np.random.default_rng(1).standard_normal((4, 3, 3, 2)).astype(np.float32)
    attrs = {"auto_pad": mode, "strides": [2, 1]}
    initializers = [("w", weight)] if op == "Conv" else []
    if op == "MaxPool":
        attrs["kernel_shape"] = [3, 2]
    if op == "AveragePool":   # onnx2torch pools average only over symmetric pads: 3 x 3, stride 1
        attrs.update(kernel_shape=[3, 3], strides=[1, 1])
    model = single_node(op, [("x", [2, 3, 6, 5])], None, 11, attrs, initializers=initializers)
    session_model = model.SerializeToString()
    model = graph_passes.normalise(model, "test")
    assert not any(a.name == "auto_pad" for a in model.graph.node[0].attribute)
    session = ort.InferenceSession(session_model, providers=["CPUExecutionProvider"])
    want = session.run(None, {"x": X})[0]
    with torch.no_grad():
        got = convert(model)(torch.from_numpy(X)).numpy()
    np.testing.assert_allclose(got, want, atol=1e-5)


def test_batch_one_graphs_get_a_dynamic_batch():
    model = single_node("Reshape", [("x", [1, 3, 6, 5])], [1, 90], 13,
                        initializers=[("shape", np.array([1, -1], dtype=np.int64))])
    model = graph_passes.normalise(model, "test")
    assert model.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    assert session.run(None, {"x": X})[0].shape == (2, 90)
    with torch.no_grad():
        assert convert(model)(torch.from_numpy(X)).shape == (2, 90)


def test_an_identity_of_an_initializer_becomes_an_initializer():
    """The TorchScript exporter's way of storing two equal biases once (see the pass)."""
    rng = np.random.default_rng(2)
    weights = [rng.standard_normal((3, 3, 3, 3)).astype(np.float32) for _ in range(2)]
    nodes = [helper.make_node("Identity", ["bias"], ["bias_copy"]),
             helper.make_node("Conv", ["x", "w0", "bias"], ["h"], pads=[1, 1, 1, 1]),
             helper.make_node("Conv", ["h", "w1", "bias_copy"], ["y0"], pads=[1, 1, 1, 1])]
    graph = helper.make_graph(
        nodes, "shared", [helper.make_tensor_value_info("x", FLOAT, [2, 3, 6, 5])],
        [helper.make_tensor_value_info("y0", FLOAT, None)],
        initializer=[numpy_helper.from_array(weights[0], "w0"), numpy_helper.from_array(weights[1], "w1"),
                     numpy_helper.from_array(np.array([0.5, -1.0, 2.0], np.float32), "bias")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    normalised = graph_passes.normalise(model, "test")
    assert [n.op_type for n in normalised.graph.node] == ["Conv", "Conv"]
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    want = session.run(None, {"x": X})[0]
    with torch.no_grad():
        got = convert(normalised)(torch.from_numpy(X)).numpy()
    np.testing.assert_allclose(got, want, atol=1e-4, rtol=1e-5)
