"""Running a split ONNX graph: the device half then the edge half equals the whole graph (tests/model)."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort

from coopt.model.onnx_graph import export_split, read_network, splittable_model
from tests.support.onnx_models import with_random_weights

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
