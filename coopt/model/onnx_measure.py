r"""Measured unit times of an ONNX network on this host (docs/model.md 10.1 and 10.2).

``coopt profile MODEL.onnx --measure device|edge [--repeats R]`` runs the model with
ONNX Runtime (the optional extra ``coopt[measure]``) at batch 1 on a seeded random input
and writes the ``device_s`` or ``edge_s`` column: per unit, the median over ``R`` runs,
after ``warmup`` untimed runs, of the summed kernel times that ONNX Runtime's profiler
(``SessionOptions.enable_profiling``, a Chrome-trace JSON file) records for the unit's
nodes. Run it once on the device and once on the server, then merge the two CSVs with
``coopt profile --merge DEVICE.csv EDGE.csv``.

Attribution of kernels to units
    The session runs with ONNX Runtime's default optimisations, as deployed, so kernels
    may be fused. A kernel event named after a graph node (``<node>_kernel_time``) goes
    to that node's unit. A fused kernel carries the name of the tensor it writes
    (``r2_nchwc`` for Conv + BatchNormalization + Relu writing ``r2``): it goes to the
    unit that produces that tensor in the original graph (the longest tensor name that
    prefixes the kernel name), so a convolution fused with the residual ``Add`` after it
    is charged to the ``Add``'s unit. A kernel that matches neither (a layout reorder the
    runtime inserts) is charged to the unit of the kernel run just before it. The unit
    times of one run add up to the run's total kernel time; the time between kernels
    (scheduling, the session's own overhead) is not charged to any unit.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from coopt.errors import ProfileError
from coopt.model.onnx_graph import OnnxNetwork, check_external_data, load_model

SIDES = ("device", "edge")
KERNEL_SUFFIX = "_kernel_time"
INPUT_TYPES = {"tensor(float)": np.float32, "tensor(double)": np.float64, "tensor(float16)": np.float16}


def _runtime() -> Any:
    try:
        import onnxruntime
    except ImportError:
        raise ProfileError(
            "--measure needs ONNX Runtime: pip install 'coopt[measure]' (or pip install onnxruntime)"
        ) from None
    return onnxruntime


def _unit_lookup(network: OnnxNetwork) -> tuple[dict[str, int], dict[str, int]]:
    """Layer index of every node name and of every tensor a node writes (0: not in a layer)."""
    nodes = load_model(network.path).graph.node
    by_node: dict[str, int] = {}
    by_tensor: dict[str, int] = {}
    for layer, indices in enumerate(network.unit_nodes):
        for i in indices:
            if nodes[i].name:
                by_node[nodes[i].name] = layer
            for t in nodes[i].output:
                by_tensor[t] = layer
    return by_node, by_tensor


def attribute(
    events: list[dict[str, Any]], by_node: dict[str, int], by_tensor: dict[str, int], n_layers: int, warmup: int
) -> NDArray[np.float64]:
    """Per-run unit times, shape ``(runs, N + 1)`` in seconds, from a profiler trace.

    ``events`` is the JSON list ONNX Runtime writes; kernel events (``cat == "Node"``,
    name ending in ``_kernel_time``) are grouped into the ``model_run`` intervals, the
    first ``warmup`` runs dropped, and attributed as the module docstring says.
    """
    runs = sorted((e["ts"], e["ts"] + e["dur"]) for e in events if e.get("name") == "model_run")
    kernels = sorted(
        (e for e in events if e.get("cat") == "Node" and str(e.get("name", "")).endswith(KERNEL_SUFFIX)),
        key=lambda e: e["ts"],
    )
    tensors = sorted(by_tensor, key=len, reverse=True)
    times = np.zeros((len(runs), n_layers + 1))
    previous = 0
    for e in kernels:
        run = next((k for k, (start, end) in enumerate(runs) if start <= e["ts"] <= end), None)
        if run is None:
            continue
        name = e["name"][: -len(KERNEL_SUFFIX)]
        layer = by_node.get(name)
        if layer is None:
            layer = next((by_tensor[t] for t in tensors if name.startswith(t)), None)
        if layer is None:
            layer = previous
        previous = layer
        times[run, layer] += e["dur"] * 1e-6  # the trace's durations are in microseconds
    return times[warmup:]


def measure_units(network: OnnxNetwork, repeats: int = 10, warmup: int = 2, seed: int = 0) -> NDArray[np.float64]:
    """Median seconds per layer ``0..N`` over ``repeats`` runs (entry 0 is 0).

    Raises
    ------
    ProfileError
        ``repeats < 1``, ONNX Runtime missing, a missing external data file, or a graph
        input without a fixed shape.
    """
    if repeats < 1:
        raise ProfileError(f"--repeats = {repeats}: must be an integer >= 1")
    ort = _runtime()
    check_external_data(load_model(network.path), network.path)  # before ONNX Runtime reads the weights
    rng = np.random.default_rng(seed)
    with tempfile.TemporaryDirectory(prefix="coopt-measure-") as tmp:
        options = ort.SessionOptions()
        options.enable_profiling = True
        options.profile_file_prefix = str(Path(tmp) / "trace")
        options.log_severity_level = 3
        session = ort.InferenceSession(str(network.path), options, providers=["CPUExecutionProvider"])
        feed = {}
        for inp in session.get_inputs():
            if inp.name not in network.live[0]:
                continue  # an initializer listed as an input (IR 3): the model's own value
            if any(not isinstance(d, int) for d in inp.shape[1:]):
                raise ProfileError(
                    f"--measure: graph input {inp.name!r} has shape {inp.shape}; only the batch may vary"
                )
            if inp.type not in INPUT_TYPES:
                raise ProfileError(f"--measure: graph input {inp.name!r} is a {inp.type}; only float inputs are drawn")
            shape = [d if isinstance(d, int) else 1 for d in inp.shape]  # a dynamic batch: 1
            feed[inp.name] = rng.standard_normal(shape).astype(INPUT_TYPES[inp.type])
        for _ in range(warmup + repeats):
            session.run(None, feed)
        trace = Path(session.end_profiling())
        events = json.loads(trace.read_text(encoding="utf-8"))
    by_node, by_tensor = _unit_lookup(network)
    n_layers = network.profile.n_layers
    # network.unit_nodes already groups the units merged by --cuts single into one layer
    times = attribute(events, by_node, by_tensor, n_layers, warmup)
    out = np.median(times, axis=0)
    out[0] = 0.0
    return out
