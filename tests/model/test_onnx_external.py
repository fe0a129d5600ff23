"""An ONNX model whose external data file is missing (issue 22 item 4): every command
that reads the weights says so in one line, exit 2, and writes nothing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from coopt.cli.main import main  # noqa: E402
from tests.support.instances import make_doc, to_toml  # noqa: E402

pytestmark = pytest.mark.onnx


def _model(tmp_path: Path) -> Path:
    """Two MatMul layers whose weights are external data in ``weights.bin``."""
    rng = np.random.default_rng(0)
    w1 = numpy_helper.from_array(rng.random((16, 32)).astype(np.float32), "w1")
    w2 = numpy_helper.from_array(rng.random((32, 8)).astype(np.float32), "w2")
    graph = helper.make_graph(
        [
            helper.make_node("MatMul", ["x", "w1"], ["h"], name="fc1"),
            helper.make_node("MatMul", ["h", "w2"], ["y"], name="fc2"),
        ],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 16])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8])],
        initializer=[w1, w2],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    path = tmp_path / "net.onnx"
    onnx.save_model(model, str(path), save_as_external_data=True, location="weights.bin", size_threshold=0)
    return path


def _snapshot(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): p.stat().st_mtime_ns for p in root.rglob("*")}


def test_the_intact_model_splits(tmp_path, capsys):
    path = _model(tmp_path)
    assert main(["split", str(path), "--at", "1", "--out", str(tmp_path / "out")]) == 0
    assert (tmp_path / "out" / "head.onnx").exists()


@pytest.mark.parametrize("damage", ["missing", "directory", "truncated"])
@pytest.mark.parametrize("command", ["split", "solve-split-out"])
def test_missing_external_data_is_one_line_exit_2(damage, command, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _model(tmp_path)
    data = tmp_path / "weights.bin"
    if damage == "missing":
        data.unlink()
    elif damage == "directory":
        data.unlink()
        data.mkdir()
    else:
        data.write_bytes(data.read_bytes()[:100])
    (tmp_path / "inst.toml").write_text(to_toml(make_doc(network__profile="net.onnx", channel__states=4)))
    before = _snapshot(tmp_path)
    if command == "split":
        argv = ["split", "net.onnx", "--at", "1", "--out", "out"]
    else:
        argv = ["solve", "inst.toml", "--split-out", "out"]
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and "Traceback" not in err
    assert "weights.bin" in err and "initializer 'w1'" in err
    assert {"missing": "does not exist", "directory": "not a regular file", "truncated": "bytes"}[damage] in err
    assert _snapshot(tmp_path) == before


def test_measure_checks_the_external_data(tmp_path):
    pytest.importorskip("onnxruntime")
    from coopt.errors import ProfileError
    from coopt.model.onnx_graph import read_network
    from coopt.model.onnx_measure import measure_units

    path = _model(tmp_path)
    network = read_network(path)
    (tmp_path / "weights.bin").unlink()
    with pytest.raises(ProfileError, match="initializer 'w1'.*does not exist"):
        measure_units(network, repeats=1)
