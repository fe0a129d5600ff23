"""Export of the split (docs/model.md 10.2): head.onnx and tail.onnx, run in onnxruntime.

``tail(head(x))`` must equal the whole model to 1e-5 at every cut of AlexNet and
SqueezeNet and at >= 10 cuts (several inside blocks) of ResNet-50, Inception v1 and
DenseNet-121. The model-zoo graphs from the onnx wheel get seeded random weights first
(:func:`tests.onnx_models.with_random_weights`), stored as external data so that the
halves written beside them share one weight file. Sessions run without graph
optimisations: the halves and the whole model then use the same kernels, and creating a
session does not re-pack hundreds of megabytes of weights per cut.
"""

from __future__ import annotations

import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from coopt.cli.main import main
from coopt.model.onnx_graph import export_split, light_model_path, read_network, splittable_model

from .conftest import make_doc, to_toml
from .onnx_models import with_random_weights

RTOL = 1e-5  # float32 through the same kernels; the halves add no arithmetic


def _session(path) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.log_severity_level = 3
    options.intra_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def _cuts(net, count: int) -> list[int]:
    """At least ``count`` epochs: four inside blocks (live set of several tensors), the
    rest spread evenly, plus the first and last epoch."""
    n_layers = net.profile.n_layers
    inside = [n for n in range(n_layers + 1) if len(net.live[n]) > 1]
    chosen = set(inside[:: max(1, len(inside) // 4)][:4]) | {0, n_layers}
    chosen |= set(np.linspace(1, n_layers - 1, count - len(chosen), dtype=int).tolist())
    return sorted(chosen)


def check_split_equals_whole(tmp_path, name: str, count: int | None, gain: float = 1.0) -> None:
    """Export at every cut (``count = None``) or at ``count`` cuts and compare in onnxruntime
    (``gain`` scales the random weights: ResNet-50's residual sums saturate the softmax at 1)."""
    path = with_random_weights(name, tmp_path / f"{name}.onnx", seed=7, gain=gain)
    net = read_network(path)
    model = splittable_model(net)
    whole = _session(path)
    (input_name,) = [i.name for i in whole.get_inputs()]
    rng = np.random.default_rng(11)
    x = rng.standard_normal((1, 3, 224, 224)).astype(np.float32)
    expected = whole.run(None, {input_name: x})[0]
    other = whole.run(None, {input_name: rng.standard_normal(x.shape).astype(np.float32)})[0]
    # the random weights make the output depend on the input far beyond the tolerance
    assert np.max(np.abs(expected - other)) > 100 * RTOL * np.max(np.abs(expected))
    cuts = list(range(net.profile.n_layers + 1)) if count is None else _cuts(net, count)
    assert count is None or (len(cuts) >= 10 and sum(len(net.live[n]) > 1 for n in cuts) >= 3)
    for epoch in cuts:
        head_path, tail_path = export_split(net, epoch, tmp_path, model)
        head, tail = _session(head_path), _session(tail_path)
        feature = dict(zip([o.name for o in head.get_outputs()], head.run(None, {input_name: x})))
        assert set(feature) == set(net.live[epoch])
        assert sum(v.size for v in feature.values()) == net.profile.out_elems[epoch]
        got = tail.run(None, {i.name: feature[i.name] for i in tail.get_inputs()})[0]
        np.testing.assert_allclose(got, expected, rtol=RTOL, atol=0, err_msg=f"{name} cut at epoch {epoch}")


@pytest.mark.parametrize(("name", "count"), [("bvlc_alexnet", None), ("squeezenet", None), ("inception_v1", 10)])
def test_tail_of_head_is_the_whole_model(tmp_path, name, count):
    check_split_equals_whole(tmp_path, name, count)


def test_split_command_writes_standalone_checked_halves(tmp_path, capsys):
    """`coopt split` elsewhere than beside the model: the halves embed their weights."""
    assert main(["split", "onnx:light/inception_v1", "--at", "20", "--out", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert "live set 4 tensor(s)" in out
    head = onnx.load(str(tmp_path / "out" / "head.onnx"))
    tail = onnx.load(str(tmp_path / "out" / "tail.onnx"))
    onnx.checker.check_model(head, full_check=True)
    onnx.checker.check_model(tail, full_check=True)
    assert [o.name for o in head.graph.output] == [i.name for i in tail.graph.input]
    whole = onnx.load(str(light_model_path("inception_v1")))
    # every node lands in exactly one half, the weights' ConstantOfShape nodes with their consumers
    assert len(head.graph.node) + len(tail.graph.node) == len(whole.graph.node)


def test_split_at_a_bad_epoch(tmp_path, capsys):
    assert main(["split", "onnx:light/squeezenet", "--at", "40", "--out", str(tmp_path)]) == 2
    assert "--at = 40: must be an epoch 0..39" in capsys.readouterr().err


def test_solve_split_out(tmp_path, capsys):
    doc = make_doc(network__profile="onnx:light/squeezenet")
    path = tmp_path / "i.toml"
    path.write_text(to_toml(doc), encoding="utf-8")
    assert main(["solve", str(path), "--json", "--split-out", str(tmp_path / "halves")]) == 0
    result = json.loads(capsys.readouterr().out)
    split = result["split_out"]
    assert split["placement"]["epoch"] == result["placement"]
    stop = result["breakdown"]["stop_prob"]
    assert split["most_frequent_split"]["epoch"] == int(np.argmax(stop))
    for item in split.values():
        for half in ("head", "tail"):
            onnx.checker.check_model(item[half])


def test_split_out_needs_an_onnx_network(tmp_path, capsys):
    path = tmp_path / "i.toml"
    path.write_text(to_toml(make_doc()), encoding="utf-8")
    assert main(["solve", str(path), "--split-out", str(tmp_path / "h")]) == 2
    assert "--split-out: network.profile = 'lenet5' is not an ONNX model" in capsys.readouterr().err
