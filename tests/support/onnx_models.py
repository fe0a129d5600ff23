"""Test helpers for the ONNX model-zoo graphs shipped in the onnx wheel (``onnx:light/NAME``).

Their weights are ``ConstantOfShape`` nodes (all zeros): :func:`with_random_weights` turns
every such node into a seeded random initializer of the same shape, so that different
inputs give different outputs and a wrong split cannot go unnoticed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from coopt.model.onnx_graph import light_model_path

STACK_D, STACK_SEQ = 16, 8  # transformer_stack's width and sequence length


def with_random_weights(name: str, out: Path, seed: int = 0, gain: float = 1.0) -> Path:
    """Write ``light_NAME.onnx`` with seeded random weights to ``out`` and return it.

    The weights go to one external-data file beside it (``<stem>.weights``), so that
    splits exported into the same directory share it instead of copying hundreds of
    megabytes per cut.

    Weights of rank >= 2 are He-normal (std ``sqrt(2 / fan_in)``) times ``gain``; the
    batch-norm scale and variance (and DenseNet's separate scale vectors) are uniform
    on [0.5, 1.5] (a variance must be positive); other vectors (biases, shifts, means) are normal with std 0.1, so that the
    output depends on the input rather than on the biases.
    """
    rng = np.random.default_rng(seed)
    model = onnx.load(str(light_model_path(name)))
    inits = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    positive = {t for n in model.graph.node if n.op_type == "BatchNormalization" for t in (n.input[1], n.input[4])}
    # DenseNet's Caffe "Scale" layer: a vector unsqueezed, then multiplied in
    multiplied = {t for n in model.graph.node if n.op_type == "Mul" for t in n.input}
    positive |= {n.input[0] for n in model.graph.node if n.op_type == "Unsqueeze" and n.output[0] in multiplied}
    kept, new_inits = [], []
    for node in model.graph.node:
        if node.op_type == "ConstantOfShape" and node.input and node.input[0] in inits:
            shape = tuple(int(d) for d in inits[node.input[0]])
            if len(shape) >= 2:
                fan_in = int(np.prod(shape[1:]))
                values = rng.standard_normal(shape, dtype=np.float32) * np.float32(gain * np.sqrt(2.0 / fan_in))
            elif node.output[0] in positive:
                values = rng.uniform(0.5, 1.5, size=shape).astype(np.float32)
            else:
                values = rng.normal(0.0, 0.1, size=shape).astype(np.float32)
            new_inits.append(numpy_helper.from_array(values, node.output[0]))
        else:
            kept.append(node)
    del model.graph.node[:]
    model.graph.node.extend(kept)
    model.graph.initializer.extend(new_inits)
    if model.ir_version < 4:  # IR 3 lists initializers among the inputs
        model.graph.input.extend(
            onnx.helper.make_tensor_value_info(t.name, onnx.TensorProto.FLOAT, list(t.dims)) for t in new_inits
        )
    onnx.save(
        model,
        str(out),
        save_as_external_data=True,
        all_tensors_to_one_file=True,
        location=f"{out.stem}.weights",
        size_threshold=1024,
    )
    return out


def transformer_stack(path: Path, blocks: int) -> Path:
    """A transformer-like stack: ``blocks`` blocks ``x -> Softmax(x W_i + b_i)`` on a ``(1, STACK_SEQ,
    STACK_D)`` tensor, ``3 blocks`` nodes and ``2 blocks`` units (each Add fuses into its MatMul);
    seeded weights. tests/model/test_onnx_scale.py and bench/bench_onnx.py --stack."""
    rng = np.random.default_rng(0)
    nodes, inits, x = [], [], "x"
    for i in range(blocks):
        inits += [
            numpy_helper.from_array(rng.standard_normal((STACK_D, STACK_D)).astype(np.float32), f"w{i}"),
            numpy_helper.from_array(rng.standard_normal(STACK_D).astype(np.float32), f"b{i}"),
        ]
        nodes += [
            helper.make_node("MatMul", [x, f"w{i}"], [f"m{i}"], name=f"m{i}"),
            helper.make_node("Add", [f"m{i}", f"b{i}"], [f"a{i}"], name=f"a{i}"),
            helper.make_node("Softmax", [f"a{i}"], [f"s{i}"], name=f"s{i}", axis=-1),
        ]
        x = f"s{i}"
    tensor = [helper.make_tensor_value_info(name, TensorProto.FLOAT, [1, STACK_SEQ, STACK_D]) for name in ("x", x)]
    graph = helper.make_graph(nodes, "stack", tensor[:1], tensor[1:], inits)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


STACK_INSTANCE = """\
[network]
profile = "{model}"
cuts = "all"
feature_bits = 8
param_bits = 8

[device]
cpu_hz = 2.39e9
cycles_per_mac = 0.016
kappa = 1.0e-28
tx_power_w = 0.2
idle_power_w = 0.1

[edge]
cpu_hz = 1.59e9
cycles_per_mac = 7.8e-4

[uplink]
bandwidth_hz = 4.0e7
noise_w = 5.04e-13

[channel]
law = "rayleigh"
mean_gain = 1.58e-11
states = 32

[cost]
energy_weight = 1.0
time_weight = 1.0

[wait]
mode = "last"
slot_s = 0.024

[placement]
tasks_per_period = 3600
downlink_bps = 2.0e8
rx_energy_per_bit = 5.0e-9
"""


def onnx_instance(profile: str) -> str:
    """An instance (TOML) of the ONNX graph ``profile`` (a path or ``onnx:light/NAME``): every
    cut allowed, Rayleigh fading with 32 states, wait mode ``last`` (bench/bench_onnx.py)."""
    return STACK_INSTANCE.format(model=profile)


def stack_instance(model: Path) -> str:
    """:func:`onnx_instance` of a generated stack: the instance of tests/model/test_onnx_scale.py
    and bench/bench_onnx.py --stack."""
    return onnx_instance(model.as_posix())
