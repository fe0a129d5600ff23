"""ONNX import (docs/model.md 10.2): units, live sets, MACs and parameters, cuts, errors.

The nine model-zoo graphs come from the installed onnx wheel (``onnx:light/NAME``), never
from the repository.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from coopt.cli.main import main
from coopt.errors import ProfileError
from coopt.model.onnx_graph import LIGHT_NAMES, light_model_path, read_network
from coopt.model.profiles import load_profile, read_profile_csv
from tests.support.instances import make_doc, to_toml

pytestmark = pytest.mark.onnx

# Published parameter counts (trainable: weights, biases, batch-norm scale and shift; ONNX
# also stores the batch-norm running mean and variance, which are subtracted here) and MAC
# counts (conv and fc/matmul only) of the networks, where the graph's conventions match.
PUBLISHED_PARAMS = {
    "bvlc_alexnet": 60_965_224,  # BVLC AlexNet (Caffe model zoo), two-group convolutions
    "vgg19": 143_667_240,  # torchvision vgg19
    "resnet50": 25_557_032,  # torchvision resnet50
    "squeezenet": 1_235_496,  # torchvision squeezenet1_1 (the zoo graph is SqueezeNet 1.1)
    "inception_v1": 6_998_552,  # BVLC GoogLeNet without the auxiliary classifiers
    "densenet121": 7_978_856,  # torchvision densenet121
}
PUBLISHED_MACS = {  # (MACs, relative tolerance of the published rounding)
    "vgg19": (19.63e9, 0.001),  # torchvision: 19.63 GFLOPS (a MAC count)
    "resnet50": (4.09e9, 0.001),  # torchvision resnet50: 4.09 (stride on the 3x3 conv, as this graph)
    "squeezenet": (0.35e9, 0.01),  # torchvision squeezenet1_1: 0.35
    "densenet121": (2.83e9, 0.002),  # torchvision densenet121: 2.83
    "inception_v1": (1.5e9, 0.05),  # Szegedy et al. 2015: "1.5 billion multiply-adds"
}
# No published figure with this graph's conventions: AlexNet's MACs (published for 227x227
# input; the graph takes 224x224), ZFNet-512, ShuffleNet and Inception v2 (Caffe2 variants).
# Those are checked against an independent count below.


@pytest.fixture(scope="module")
def networks():
    return {name: read_network(light_model_path(name)) for name in LIGHT_NAMES}


def _independent_counts(name: str, with_macs: bool) -> tuple[int, int, int | None]:
    """(trainable params, batch-norm running statistics, MACs), computed without coopt's
    importer: the weights are the float initializers and ConstantOfShape outputs that a node reads (shapes
    from their shape initializers); the MACs use the tensor shapes seen when onnxruntime
    runs the graph with every Conv/Gemm input and output exposed."""
    import onnxruntime as ort

    model = onnx.load(str(light_model_path(name)))
    arrays = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    size = {k: a.size for k, a in arrays.items() if a.dtype.kind == "f"}
    for node in model.graph.node:
        if node.op_type == "ConstantOfShape" and node.input[0] in arrays:
            size[node.output[0]] = math.prod(int(d) for d in arrays[node.input[0]])
    consumed = {t for node in model.graph.node for t in node.input}
    size = {k: v for k, v in size.items() if k in consumed}  # ZFNet-512 carries an unused 1x1 input
    # Not trainable: batch-norm running mean and variance; in DenseNet-121 (Caffe BatchNorm
    # followed by a Scale layer, the Mul and Add here) also the BatchNormalization node's
    # own scale and bias, which Caffe fixes at 1 and 0.
    fixed = slice(1, 5) if name == "densenet121" else slice(3, 5)
    running = {t for node in model.graph.node if node.op_type == "BatchNormalization" for t in node.input[fixed]}
    params = sum(v for k, v in size.items() if k not in running)
    stats = sum(v for k, v in size.items() if k in running)
    if not with_macs:
        return params, stats, None
    work = [n for n in model.graph.node if n.op_type in ("Conv", "Gemm")]
    exposed = {t for n in work for t in (n.input[0], n.input[1], n.output[0])} - set(arrays)
    model.graph.output.extend(helper.make_empty_tensor_value_info(t) for t in sorted(exposed))
    options = ort.SessionOptions()
    options.log_severity_level = 3
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    feed = {
        i.name: np.zeros([d if isinstance(d, int) else 1 for d in i.shape], np.float32)
        for i in session.get_inputs()
        if i.name not in arrays
    }
    shape = {o.name: v.shape for o, v in zip(session.get_outputs(), session.run(None, feed))}
    macs = 0
    for n in work:
        out = math.prod(shape[n.output[0]])
        if n.op_type == "Conv":
            macs += out * math.prod(shape[n.input[1]][1:])
        else:
            a = shape[n.input[0]]
            trans_a = any(att.name == "transA" and att.i for att in n.attribute)
            macs += out * (a[0] if trans_a else a[1])
    return params, stats, macs


@pytest.mark.slow
@pytest.mark.parametrize("name", LIGHT_NAMES)
def test_totals_against_published_and_independent_counts(networks, name):
    profile = networks[name].profile
    # The onnxruntime run (~1-7 s) only where no published MAC figure checks the count.
    params, stats, macs = _independent_counts(name, with_macs=name not in PUBLISHED_MACS)
    assert int(profile.params.sum()) == params + stats
    if macs is not None:
        assert int(profile.macs.sum()) == macs
    if name in PUBLISHED_PARAMS:
        assert params == PUBLISHED_PARAMS[name]
    if name in PUBLISHED_MACS:
        value, rtol = PUBLISHED_MACS[name]
        assert int(profile.macs.sum()) == pytest.approx(value, rel=rtol)


def test_resnet50_single_cuts_are_the_block_boundaries(networks):
    single = read_network(light_model_path("resnet50"), "single").profile
    blocks = load_profile("resnet50")
    # the graph ends with a softmax, one epoch more than models/resnet50.csv (which ends at fc)
    assert single.n_layers == blocks.n_layers + 1
    np.testing.assert_array_equal(single.out_elems[:-1], blocks.out_elems)
    np.testing.assert_array_equal(single.macs[:-1], blocks.macs)
    assert single.layer_names[-1].endswith(":Softmax")
    full = networks["resnet50"]
    assert max(len(live) for live in full.live) == 2  # a residual block in flight: branch and shortcut
    assert int(full.profile.macs.sum()) == int(single.macs.sum())
    assert int(full.profile.params.sum()) == int(single.params.sum())


def _tiny_residual(path: Path, dynamic_batch: bool = False) -> Path:
    """x(1x2x4x4) -> Conv a (3x3, 2->2) -> Relu -> Conv b (1x1, 2->2); Add(b, x) -> Relu ->
    Reshape (shape from a Constant node) -> MatMul (32x5); weights as initializers."""
    rng = np.random.default_rng(0)
    batch = "N" if dynamic_batch else 1
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, 2, 4, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    inits = [
        numpy_helper.from_array(rng.standard_normal((2, 2, 3, 3)).astype(np.float32), "wa"),
        numpy_helper.from_array(rng.standard_normal((2, 2, 1, 1)).astype(np.float32), "wb"),
        numpy_helper.from_array(rng.standard_normal((32, 5)).astype(np.float32), "wm"),
    ]
    nodes = [
        helper.make_node("Conv", ["x", "wa"], ["a"], name="conv_a", pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["a"], ["ar"], name="relu_a"),
        helper.make_node("Conv", ["ar", "wb"], ["b"], name="conv_b"),
        helper.make_node("Add", ["b", "x"], ["s"], name="add"),
        helper.make_node("Relu", ["s"], ["sr"], name="relu_s"),
        helper.make_node(
            "Constant", [], ["shape"], value=numpy_helper.from_array(np.array([1, 32], np.int64), "shape")
        ),
        helper.make_node("Reshape", ["sr", "shape"], ["flat"], name="flatten"),
        helper.make_node("MatMul", ["flat", "wm"], ["y"], name="fc"),
    ]
    graph = helper.make_graph(nodes, "tiny", [x], [y], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    onnx.save(model, str(path))
    return path


def test_tiny_residual_by_hand(tmp_path):
    net = read_network(_tiny_residual(tmp_path / "tiny.onnx"))
    p = net.profile
    # units: conv_a (+relu_a), conv_b, add (+relu_s, reshape: fed by it alone), fc
    assert p.layer_names == ("input", "conv_a:Conv", "conv_b:Conv", "add:Add", "fc:MatMul")
    assert [sorted(live) for live in net.live] == [["x"], ["ar", "x"], ["b", "x"], ["flat"], ["y"]]
    assert list(p.out_elems) == [32, 64, 64, 32, 5]
    assert list(p.macs) == [0, 32 * 2 * 9, 32 * 2, 0, 32 * 5]
    assert list(p.params) == [0, 36, 4, 0, 160]
    single = read_network(tmp_path / "tiny.onnx", "single").profile
    assert single.layer_names == ("input", "add:Add", "fc:MatMul")
    assert list(single.macs) == [0, 32 * 18 + 64, 160]
    assert list(single.params) == [0, 40, 160]


def test_dynamic_batch_counts_as_one(tmp_path):
    net = read_network(_tiny_residual(tmp_path / "tiny.onnx", dynamic_batch=True))
    assert list(net.profile.out_elems) == [32, 64, 64, 32, 5]


def test_shapeless_graph_is_one_line_naming_the_node(tmp_path, capsys):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, "H", "W"])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    w = numpy_helper.from_array(np.ones((4, 3, 3, 3), np.float32), "w")
    graph = helper.make_graph([helper.make_node("Conv", ["x", "w"], ["y"], name="conv1")], "g", [x], [y], [w])
    path = tmp_path / "shapeless.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), str(path))
    assert main(["profile", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err
    assert "node 'conv1' (Conv)" in err and "tensor 'y'" in err


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["profile", "onnx:light/resnet1000"], "unknown light model"),
        (["profile", "onnx:heavy/resnet50"], "'onnx:light/NAME' only"),
        (["profile", "missing.onnx"], "no such file"),
        (["profile", "alexnet", "--cuts", "single"], "--cuts: only for an ONNX model"),
    ],
)
def test_bad_onnx_arguments_one_line_exit_2(argv, fragment, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and fragment in err


def test_not_an_onnx_file(tmp_path, capsys):
    path = tmp_path / "junk.onnx"
    path.write_bytes(b"not a protobuf at all \xff\xfe")
    assert main(["profile", str(path)]) == 2
    assert "not a readable ONNX model" in capsys.readouterr().err


def test_profile_csv_round_trip(tmp_path, capsys):
    out = tmp_path / "r50.csv"
    assert main(["profile", "onnx:light/resnet50", "--cuts", "single", "--csv", str(out)]) == 0
    capsys.readouterr()
    again = read_profile_csv(out.read_text(encoding="utf-8"))
    single = read_network(light_model_path("resnet50"), "single").profile
    np.testing.assert_array_equal(again.out_elems, single.out_elems)
    np.testing.assert_array_equal(again.macs, single.macs)


def test_instance_with_an_onnx_profile_solves_like_its_csv(tmp_path, capsys):
    """network.profile = "onnx:light/squeezenet" solves exactly as the CSV it exports."""
    csv_path = tmp_path / "sq.csv"
    assert main(["profile", "onnx:light/squeezenet", "--csv", str(csv_path)]) == 0
    results = []
    for spec in ("onnx:light/squeezenet", "sq.csv"):
        path = tmp_path / "i.toml"
        path.write_text(to_toml(make_doc(network__profile=spec)), encoding="utf-8")
        capsys.readouterr()
        assert main(["solve", str(path), "--json"]) == 0
        results.append(capsys.readouterr().out)
    import json

    a, b = (json.loads(r) for r in results)
    assert a["placement"] == b["placement"] and a["objective"] == b["objective"]
    assert a["by_placement"] == b["by_placement"]


def test_bad_cuts_key(tmp_path, capsys):
    path = tmp_path / "i.toml"
    path.write_text(to_toml(make_doc(network__profile="onnx:light/squeezenet", network__cuts="some")), "utf-8")
    assert main(["solve", str(path)]) == 2
    assert 'network.cuts = \'some\': must be one of "all" | "single"' in capsys.readouterr().err


def test_read_network_rejects_bad_cuts():
    with pytest.raises(ProfileError, match="network.cuts"):
        read_network(light_model_path("squeezenet"), "most")


def test_resnet50_onnx_example_splits_inside_a_block():
    """data/resnet50_onnx.toml: its header states the result, and the optimal policy
    uploads a live set of several tensors (inside a residual block) with positive probability."""
    from coopt import load_instance, solve
    from tests.support.examples import assert_header_states_result
    from tests.support.instances import EXAMPLES

    inst = load_instance(EXAMPLES / "resnet50_onnx.toml")
    res = solve(inst)
    text = assert_header_states_result("resnet50_onnx", inst, res)
    live = inst.network.graph.live
    inside = {n: p for n, p in enumerate(res.breakdown.stop_prob) if p > 0 and len(live[n]) > 1}
    assert inside, "the optimal policy never splits inside a block"
    for n, p in inside.items():
        assert f"{inst.profile.out_elems[n]:,} elements" in text
        assert f"({100 * p:.2f} % of tasks)" in text or f"({100 * p:.2f} %)" in text


def test_unsupported_operator_is_one_line_naming_the_node(tmp_path, capsys):
    """An operator that ONNX's shape inference does not know leaves its output without a
    shape: the error names that node and the tensor."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    w = numpy_helper.from_array(np.ones((4, 3, 3, 3), np.float32), "w")
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"], name="conv1"),
        helper.make_node("MagicPool", ["c"], ["m"], name="magic", domain="com.example"),
        helper.make_node("Relu", ["m"], ["y"], name="relu"),
    ]
    graph = helper.make_graph(nodes, "g", [x], [y], [w])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13), helper.make_opsetid("com.example", 1)])
    path = tmp_path / "custom.onnx"
    onnx.save(model, str(path))
    assert main(["profile", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "tensor 'y' has no shape" in err
    assert "stops at node 'magic' (MagicPool, domain com.example)" in err


def test_instance_with_a_relative_onnx_path(tmp_path, capsys):
    _tiny_residual(tmp_path / "tiny.onnx")
    path = tmp_path / "i.toml"
    path.write_text(to_toml(make_doc(network__profile="tiny.onnx", network__cuts="single")), encoding="utf-8")
    assert main(["solve", str(path), "--json"]) == 0
    import json

    result = json.loads(capsys.readouterr().out)
    assert len(result["by_placement"]) == 3  # epochs 0..2 of the single-tensor cuts
