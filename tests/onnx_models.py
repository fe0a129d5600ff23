"""Test helpers for the ONNX model-zoo graphs shipped in the onnx wheel (``onnx:light/NAME``).

Their weights are ``ConstantOfShape`` nodes (all zeros): :func:`with_random_weights` turns
every such node into a seeded random initializer of the same shape, so that different
inputs give different outputs and a wrong split cannot go unnoticed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper

from coopt.model.onnx_graph import light_model_path


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
