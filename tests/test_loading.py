import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, helper

from auditor.errors import ModelFileError, NotAClassifierError, UnsupportedOperatorError
from auditor.examples import bundled
from auditor.input_spec import InputSpec, parse_floats, parse_shape
from auditor.loading import Classifier, load_model

from .models import TinyNet, export, tiny_onnx


def test_reads_shape_layout_and_classes_from_the_graph(tmp_path):
    loaded = load_model(tiny_onnx(tmp_path, channels=3), mean=(0.5,), std=(0.25,))
    spec = loaded.spec
    assert (spec.shape, spec.layout, spec.num_classes) == ((3, 8, 8), "NCHW", 4)
    assert (spec.input_name, spec.output_name, spec.input_dtype) == ("input", "logits", "float32")
    assert loaded.opset == 17 and loaded.source_format == "onnx" and len(loaded.sha256) == 64


def test_nhwc_models_are_fed_in_their_own_layout(tmp_path):
    path = tiny_onnx(tmp_path, channels=3, channels_last=True)
    loaded = load_model(path)
    assert loaded.spec.layout == "NHWC" and loaded.spec.shape == (3, 8, 8)
    x = torch.randn(2, 3, 8, 8)
    logits = Classifier(loaded.net, loaded.spec, 0)(x)   # takes NCHW, permutes for the model
    torch.manual_seed(0)
    reference = TinyNet(channels=3, channels_last=True).eval()
    torch.testing.assert_close(logits, reference(x.permute(0, 2, 3, 1)), atol=1e-5, rtol=1e-5)


def test_converted_teacher_matches_the_original(tmp_path):
    loaded = load_model(tiny_onnx(tmp_path))
    torch.manual_seed(0)
    reference = TinyNet().eval()
    x = torch.randn(5, 1, 8, 8)
    torch.testing.assert_close(loaded.net(x), reference(x), atol=1e-5, rtol=1e-5)
    x.requires_grad_(True)
    Classifier(loaded.net, loaded.spec, 0)(x).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0    # the generator needs this


def test_bundled_example_loads():
    example = bundled()
    loaded = load_model(example.model, mean=example.mean, std=example.std)
    assert loaded.spec.shape == (1, 16, 16) and loaded.spec.num_classes == 10


def test_missing_and_corrupt_files(tmp_path):
    with pytest.raises(ModelFileError, match="no such file"):
        load_model(tmp_path / "absent.onnx")
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"\x00\x01 this is not a model" * 10)
    with pytest.raises(ModelFileError, match="not a valid ONNX"):
        load_model(junk)


def _graph_model(tmp_path, node, inputs, outputs, opset=17, domain_opsets=()):
    graph = helper.make_graph([node], "g", inputs, outputs)
    opsets = [helper.make_opsetid("", opset), *domain_opsets]
    model = helper.make_model(graph, opset_imports=opsets)
    path = tmp_path / "g.onnx"
    onnx.save(model, str(path))
    return path


def test_an_image_to_image_model_is_not_a_classifier(tmp_path):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 8, 8])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 3, 8, 8])
    path = _graph_model(tmp_path, helper.make_node("Relu", ["x"], ["y"]), [x], [y])
    with pytest.raises(NotAClassifierError, match="batch × classes"):
        load_model(path)


def test_a_text_model_is_not_an_image_classifier(tmp_path):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 16])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 16])
    path = _graph_model(tmp_path, helper.make_node("Relu", ["x"], ["y"]), [x], [y])
    with pytest.raises(NotAClassifierError, match="--input-shape"):
        load_model(path)


def test_every_unsupported_operator_is_named_at_once(tmp_path):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 1, 8, 8])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4])
    nodes = [helper.make_node("Frobnicate", ["x"], ["a"], domain="com.example"),
             helper.make_node("Twiddle", ["a"], ["y"], domain="com.example")]
    graph = helper.make_graph(nodes, "g", [x], [y])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17),
                                                    helper.make_opsetid("com.example", 1)])
    path = tmp_path / "custom.onnx"
    onnx.save(model, str(path))
    with pytest.raises(UnsupportedOperatorError, match="Frobnicate-1, Twiddle-1"):
        load_model(path)


def test_torchscript_needs_an_input_shape_and_loads_with_one(tmp_path):
    path = tmp_path / "tiny.pt"
    torch.jit.script(TinyNet(channels=3)).save(str(path))
    with pytest.raises(NotAClassifierError, match="--input-shape"):
        load_model(path)
    loaded = load_model(path, input_shape=(3, 8, 8))
    assert loaded.source_format == "torchscript" and loaded.spec.num_classes == 4
    with pytest.raises(NotAClassifierError, match="does not run"):
        load_model(path, input_shape=(3, 10, 10))


def test_input_spec_parsing_and_normalisation():
    assert parse_shape("3x32x32") == (3, 32, 32)
    assert parse_floats("0.5, 0.25 1") == (0.5, 0.25, 1.0)
    for bad in ("3x32", "ax1x1", "0x4x4"):
        with pytest.raises(ValueError):
            parse_shape(bad)
    with pytest.raises(ValueError, match="--mean has 2 values"):
        InputSpec(3, 4, 4, 10, mean=(0.1, 0.2))
    spec = InputSpec(3, 4, 4, 10, mean=(0.5, 0.5, 0.5), std=(0.5, 0.25, 0.5), layout="NHWC")
    pixels = torch.rand(2, 3, 4, 4)
    x = spec.normalise(pixels)
    torch.testing.assert_close(x[:, 1], (pixels[:, 1] - 0.5) / 0.25)
    assert spec.to_layout(x).shape == (2, 4, 4, 3) and spec.model_input_shape(5) == (5, 4, 4, 3)
    torch.testing.assert_close(spec.to_layout(x).permute(0, 3, 1, 2), x)


def test_uint8_models_that_normalise_in_the_graph(tmp_path):
    """Cast from uint8, Div 255, Sub mean in the graph: fed floats, gradients reach the image."""
    path = tiny_onnx(tmp_path, channels=3, channels_last=True)
    model = onnx.load(str(path))
    graph = model.graph
    graph.input[0].name = "raw"
    graph.input[0].type.tensor_type.elem_type = TensorProto.UINT8
    graph.initializer.extend([onnx.numpy_helper.from_array(np.array(255, np.float32), "k255"),
                              onnx.numpy_helper.from_array(np.array(0.5, np.float32), "half")])
    preprocessing = [helper.make_node("Cast", ["raw"], ["as_float"], to=TensorProto.FLOAT),
                     helper.make_node("Div", ["as_float", "k255"], ["scaled"]),
                     helper.make_node("Sub", ["scaled", "half"], ["input"])]
    for i, node in enumerate(preprocessing):
        graph.node.insert(i, node)
    uint8_path = tmp_path / "uint8.onnx"
    onnx.save(model, str(uint8_path))

    loaded = load_model(uint8_path, mean=(0.3,), std=(0.2,))      # the graph's own wins
    assert loaded.spec.input_dtype == "uint8" and loaded.spec.std == (1 / 255,)
    image = torch.rand(2, 3, 8, 8, requires_grad=True)
    scores = Classifier(loaded.net, loaded.spec, 0)(loaded.spec.normalise(image))
    (scores * torch.randn_like(scores)).sum().backward()
    assert image.grad.abs().sum() > 0

    import onnxruntime as ort
    from auditor.export import export_clean_model
    out = tmp_path / "clean.onnx"
    check = loaded.spec.to_layout(loaded.spec.normalise(torch.rand(4, 3, 8, 8)))
    export_clean_model(loaded, loaded.net, out, check_inputs=check, metadata={})
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    assert session.get_inputs()[0].type == "tensor(uint8)"
    pixels = np.random.randint(0, 256, (3, 8, 8, 3), dtype=np.uint8)
    assert session.run(None, {"raw": pixels})[0].shape == (3, 4)


def test_weights_with_nan_or_inf_are_refused(tmp_path):
    path = tiny_onnx(tmp_path)
    model = onnx.load(str(path))
    weight = model.graph.initializer[0]
    values = onnx.numpy_helper.to_array(weight).copy()
    for bad in (np.nan, np.inf):
        values.flat[0] = bad
        weight.CopyFrom(onnx.numpy_helper.from_array(values, weight.name))
        onnx.save(model, str(path))
        with pytest.raises(ModelFileError, match="holds NaN or Inf"):
            load_model(path)


def test_a_declared_input_too_large_to_allocate_is_refused_at_once(tmp_path, monkeypatch):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 60000, 60000])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 3, 60000, 60000])
    path = _graph_model(tmp_path, helper.make_node("Relu", ["x"], ["y"]), [x], [y])
    with pytest.raises(NotAClassifierError, match="over the limit of 16,777,216"):
        load_model(path)
    with pytest.raises(NotAClassifierError, match="AUDITOR_MAX_INPUT_VALUES"):
        load_model(tiny_onnx(tmp_path), input_shape=(3, 5000, 5000))
    monkeypatch.setenv("AUDITOR_MAX_INPUT_VALUES", "10")
    with pytest.raises(NotAClassifierError, match="over the limit of 10"):
        load_model(tiny_onnx(tmp_path))


def test_an_untrained_batchnorm_net_from_the_torchscript_exporter_loads(tmp_path):
    """Its folded biases are equal, and the exporter stores them once (graph_passes)."""
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3, padding=1, bias=False), torch.nn.BatchNorm2d(4),
                              torch.nn.ReLU(), torch.nn.Conv2d(4, 4, 3, stride=2, padding=1, groups=4,
                                                               bias=False),
                              torch.nn.BatchNorm2d(4), torch.nn.Flatten(), torch.nn.Linear(64, 3)).eval()
    path = export(net, torch.zeros(1, 1, 8, 8), tmp_path / "bn.onnx")
    assert "Identity" in {n.op_type for n in onnx.load(str(path)).graph.node}
    loaded = load_model(path)
    x = torch.randn(5, 1, 8, 8)
    torch.testing.assert_close(loaded.net(x), net(x), atol=1e-5, rtol=1e-5)


def test_equal_weights_are_written_back_where_each_came_from(tmp_path):
    """The untrained BatchNorm net's folded biases are equal (all zero), so their values alone
    cannot say which initializer each came from; once training makes them differ, each must go
    back to its own node's (weights.py reads the node from onnx2torch's mapping)."""
    import onnxruntime as ort

    from auditor.weights import write_weights

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3, padding=1, bias=False), torch.nn.BatchNorm2d(4),
                              torch.nn.ReLU(), torch.nn.Conv2d(4, 4, 3, padding=1, bias=False),
                              torch.nn.BatchNorm2d(4), torch.nn.ReLU(),
                              torch.nn.Conv2d(4, 4, 3, stride=2, padding=1, bias=False),
                              torch.nn.BatchNorm2d(4), torch.nn.Flatten(), torch.nn.Linear(64, 3)).eval()
    path = export(net, torch.zeros(1, 1, 8, 8), tmp_path / "bn.onnx")
    loaded = load_model(path)
    with torch.no_grad():                 # training, as far as the graph can tell
        for parameter in loaded.net.parameters():
            parameter.add_(torch.randn_like(parameter))
    model = write_weights(loaded.onnx_model, loaded.net, loaded.weight_sources)
    assert model is not None
    x = torch.randn(5, 1, 8, 8)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    (got,) = session.run(None, {loaded.spec.input_name: x.numpy()})
    with torch.no_grad():
        want = loaded.net(x)
    np.testing.assert_allclose(got, want.numpy(), atol=1e-4, rtol=1e-4)


def test_equal_initializers_a_node_reads_as_inputs_are_written_back_where_each_came_from(tmp_path):
    """MatMul + Add with equal zero biases: onnx2torch holds such initializers as numbered
    buffers (made trainable here), which name no node; the order the nodes read them does."""
    import onnxruntime as ort

    from auditor.weights import write_weights

    rng = np.random.default_rng(0)
    tensors = {"w1": rng.normal(size=(64, 8)), "b2": np.zeros(8), "w2": rng.normal(size=(8, 8)),
               "b1": np.zeros(8), "w3": rng.normal(size=(8, 4))}     # b2 stored before b1
    nodes = [helper.make_node("Flatten", ["input"], ["f"]),
             helper.make_node("MatMul", ["f", "w1"], ["m1"]), helper.make_node("Add", ["m1", "b1"], ["a1"]),
             helper.make_node("Relu", ["a1"], ["r1"]),
             helper.make_node("MatMul", ["r1", "w2"], ["m2"]), helper.make_node("Add", ["m2", "b2"], ["a2"]),
             helper.make_node("Relu", ["a2"], ["r2"]), helper.make_node("MatMul", ["r2", "w3"], ["logits"])]
    graph = helper.make_graph(
        nodes, "mlp", [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 1, 8, 8])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 4])],
        initializer=[onnx.numpy_helper.from_array(v.astype(np.float32), k) for k, v in tensors.items()])
    path = tmp_path / "mlp.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), str(path))
    loaded = load_model(path)
    torch.manual_seed(0)
    with torch.no_grad():
        for parameter in loaded.net.parameters():
            parameter.add_(torch.randn_like(parameter))
    model = write_weights(loaded.onnx_model, loaded.net, loaded.weight_sources)
    x = torch.rand(3, 1, 8, 8)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    (got,) = session.run(None, {"input": x.numpy()})
    with torch.no_grad():
        want = loaded.net(x)
    np.testing.assert_allclose(got, want.numpy(), atol=1e-4, rtol=1e-4)
