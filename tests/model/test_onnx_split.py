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
import pytest

from coopt.cli.main import main
from coopt.model.onnx_graph import light_model_path
from tests.support.instances import make_doc, to_toml
from tests.support.onnx_split import check_split_equals_whole

pytestmark = pytest.mark.onnx


@pytest.mark.slow
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
