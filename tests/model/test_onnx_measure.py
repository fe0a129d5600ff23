"""Measured unit times with ONNX Runtime (coopt profile MODEL.onnx --measure) and --merge."""

from __future__ import annotations

import numpy as np
import pytest

from coopt.cli.main import main
from coopt.model.onnx_measure import attribute
from coopt.model.profiles import read_profile_csv

pytestmark = pytest.mark.onnx


def _kernel(name: str, ts: int, dur: int) -> dict:
    return {"cat": "Node", "name": f"{name}_kernel_time", "ts": ts, "dur": dur}


def test_attribution_by_node_by_written_tensor_and_by_order():
    by_node = {"conv1": 1, "relu1": 1, "pool": 2, "add": 3}
    by_tensor = {"r1": 1, "r2": 1, "r20": 2, "s": 3}
    events = [{"name": "model_run", "ts": 0, "dur": 100}, {"name": "model_run", "ts": 200, "dur": 100}]
    # warm-up run: ignored
    events += [_kernel("conv1", 10, 50), _kernel("pool", 70, 5)]
    # timed run: a node kernel, a fused kernel named by its output (the longest prefix: r20,
    # not r2), a layout reorder (charged to the kernel before it) and a fused residual add
    events += [
        _kernel("conv1", 210, 7),
        _kernel("r20_nchwc", 220, 3),
        _kernel("ReorderOutput_token_5", 230, 2),
        _kernel("s_nchwc", 240, 11),
        {"cat": "Session", "name": "SequentialExecutor::Execute", "ts": 205, "dur": 90},
    ]
    times = attribute(events, by_node, by_tensor, n_layers=3, warmup=1)
    np.testing.assert_allclose(times, [[0.0, 7e-6, 5e-6, 11e-6]])


def test_measure_merge_and_solve(tmp_path, capsys):
    dev, edge, merged = tmp_path / "dev.csv", tmp_path / "edge.csv", tmp_path / "merged.csv"
    for side, csv in (("device", dev), ("edge", edge)):
        argv = ["profile", "onnx:light/squeezenet", "--cuts", "single", "--measure", side, "--repeats", "2"]
        assert main([*argv, "--csv", str(csv)]) == 0
    assert main(["profile", "--merge", str(dev), str(edge), "--csv", str(merged)]) == 0
    capsys.readouterr()
    d, e, m = (read_profile_csv(p.read_text()) for p in (dev, edge, merged))
    assert d.measured == ("device_s",) and e.measured == ("edge_s",)
    assert m.measured == ("device_s", "edge_s")
    np.testing.assert_array_equal(m.device_s, d.device_s)
    np.testing.assert_array_equal(m.edge_s, e.edge_s)
    assert m.device_s[0] == 0 and (m.device_s >= 0).all() and m.device_s.sum() > 0
    # the units that hold convolutions (most of the MACs) take time
    assert (m.device_s[m.macs > 0] > 0).mean() > 0.5
    text = merged.read_text()
    assert "median over 2 runs" in text and "Merged by `coopt profile --merge" in text


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["profile", "alexnet", "--measure", "device"], "--measure: only for an ONNX model"),
        (["profile", "onnx:light/squeezenet", "--measure", "edge", "--repeats", "0"], "--repeats = 0"),
    ],
)
def test_bad_measure_arguments(argv, fragment, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and fragment in err


def test_merge_refuses_different_networks(tmp_path, capsys):
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    a.write_text("name,macs,out_elems,params,device_s\ninput,0,10,0,0\nfc,30,3,33,0.1\n")
    b.write_text("name,macs,out_elems,params,edge_s\ninput,0,10,0,0\nfc,31,3,33,0.01\n")
    assert main(["profile", "--merge", str(a), str(b)]) == 2
    assert "differ in macs" in capsys.readouterr().err
    b.write_text("name,macs,out_elems,params\ninput,0,10,0\nfc,30,3,33\n")
    assert main(["profile", "--merge", str(a), str(b)]) == 2
    assert "has no edge_s column" in capsys.readouterr().err
