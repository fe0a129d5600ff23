r"""DAG networks from ONNX files (docs/model.md section 10.2): units, live sets, cuts.

An ONNX graph lists its nodes in topological order. This module reads it with the
``onnx`` package (imported lazily: ``coopt solve`` on a CSV profile never loads it) and
turns it into a :class:`~coopt.model.profiles.Profile` whose epochs are cuts of the DAG.

Shapes
    Every tensor's shape comes from ONNX's own shape inference,
    ``onnx.shape_inference.infer_shapes(model, data_prop=True)``: data propagation lets
    constants fix shapes (``Reshape`` targets, ``ConstantOfShape`` weights). A symbolic
    leading dimension (a dynamic batch) counts as 1; any other unknown dimension is an
    error that names the node and the tensor.

Constants
    Initializers, ``Constant`` nodes and every node whose inputs are all constants
    (``ConstantOfShape`` of a shape initializer, as in the weight-stripped model-zoo graphs
    of ``onnx/backend/test/data/light``) are constants, not work. A unit's ``params`` are
    the elements of the floating-point constants its nodes consume (integer constants are
    shapes and indices, not weights); a constant shared by several units is counted once,
    by the first.

Units
    A **unit** is a node that does work, together with the **followers** fused into it:
    an element-wise or data-movement node (:data:`FUSABLE`: activations, element-wise
    arithmetic, ``Dropout``, ``Reshape``, ``Transpose``, ...) whose non-constant inputs
    all come from that one unit, as inference runtimes fuse them. Every other node
    (convolution, matrix product, pooling, normalisation, softmax, a ``Concat`` or a
    residual ``Add`` of two branches, ...) starts a unit. Units keep the file's order;
    epoch ``n`` means the first ``n`` units are done.

Live set
    At epoch ``n`` the live set is every tensor produced by units ``1..n`` (or a
    non-constant graph input) that a later unit consumes or that is a graph output;
    ``out_n`` is the sum of their element counts. A tensor produced by unit ``p`` whose
    last consumer is unit ``c`` (``N + 1`` for a graph output) is live at epochs
    ``p <= n < c``; the sums are one difference array, so a graph of thousands of nodes
    takes milliseconds.

MACs (the convention of docs/model.md section 2)
    ``Conv``: ``out_elems * (C_in / groups) * k_h * k_w`` (the weight's elements per
    output channel); ``ConvTranspose``: ``in_elems * (C_out / groups) * k_h * k_w``;
    ``Gemm`` and ``MatMul``: ``M N K`` (the output's elements times the contracted
    length). Every other operator counts 0.

Cuts
    ``cuts = "all"``: every epoch. ``cuts = "single"``: only the epochs whose live set is
    one tensor (and the last), the units in between merged into one layer (MACs and
    params summed); this reproduces block-boundary profiles such as ``models/resnet50.csv``.

Where the operator knowledge comes from
    ONNX's shape inference knows every standard operator's shapes, so nothing here
    re-derives a shape. Third-party counters (``onnx-tool``) were considered: they run
    their own shape inference and charge MACs to every operator (activations, norms,
    pooling) by per-operator constants, which is not docs/model.md's convention; the four
    counting rules above are all the table this module needs.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from coopt.errors import ProfileError
from coopt.model.profiles import Profile

CUTS = ("all", "single")
SCHEME = "onnx:"
# ``onnx:light/NAME`` -> onnx/backend/test/data/light/light_NAME.onnx inside the installed onnx package.
LIGHT_NAMES = (
    "bvlc_alexnet",
    "zfnet512",
    "vgg19",
    "resnet50",
    "squeezenet",
    "shufflenet",
    "inception_v1",
    "inception_v2",
    "densenet121",
)

# Element-wise and data-movement operators: fused into the unit that alone feeds them.
FUSABLE = frozenset(
    {
        "Abs", "Add", "BatchNormalization", "BitShift", "Cast", "Ceil", "Celu", "Clip", "Div", "Dropout", "Elu", "Equal", "Erf",
        "Exp", "Expand", "Flatten", "Floor", "Gelu", "Greater", "HardSigmoid", "HardSwish", "Identity",
        "LeakyRelu", "Less", "Log", "Max", "Mean", "Min", "Mish", "Mod", "Mul", "Neg", "Not", "PRelu", "Pow",
        "Reciprocal", "Relu", "Reshape", "Round", "Selu", "Sigmoid", "Sign", "Softplus", "Softsign", "Sqrt",
        "Squeeze", "Sub", "Sum", "Tanh", "ThresholdedRelu", "Transpose", "Unsqueeze", "Where",
    }
)  # fmt: skip
FLOAT_TYPES = frozenset({1, 10, 11, 16})  # FLOAT, FLOAT16, DOUBLE, BFLOAT16 (onnx.TensorProto)


@dataclass(frozen=True, eq=False)
class OnnxNetwork:
    """An ONNX graph cut into units (module docstring).

    Attributes
    ----------
    profile : Profile
        ``macs``, ``out_elems`` (live-set elements) and ``params`` per epoch ``n = 0..N``.
    live : tuple of tuple of str
        The live tensors at each epoch of ``profile`` (``N + 1`` entries).
    unit_nodes : tuple of tuple of int
        Per layer ``1..N`` (entry 0 empty), the indices of its graph nodes.
    path : Path
        The ONNX file.
    """

    profile: Profile
    live: tuple[tuple[str, ...], ...]
    unit_nodes: tuple[tuple[int, ...], ...]
    path: Path


def is_onnx_spec(spec: str) -> bool:
    """Whether ``network.profile`` names an ONNX graph (a ``.onnx`` path or ``onnx:...``)."""
    return spec.startswith(SCHEME) or spec.lower().endswith(".onnx")


def light_model_path(name: str) -> Path:
    """The file of ``onnx:light/NAME`` in the installed onnx package (:data:`LIGHT_NAMES`)."""
    if name not in LIGHT_NAMES:
        raise ProfileError(
            f"network.profile = 'onnx:light/{name}': unknown light model; valid names: {', '.join(LIGHT_NAMES)}"
        )
    try:
        root = resources.files("onnx")
    except ModuleNotFoundError:
        raise ProfileError(f"network.profile = 'onnx:light/{name}': the onnx package is not installed") from None
    return Path(str(root.joinpath("backend", "test", "data", "light", f"light_{name}.onnx")))


def resolve_onnx_path(spec: str, base_dir: Path | None = None) -> Path:
    """The file an ONNX ``network.profile`` names (relative paths: against ``base_dir``)."""
    if spec.startswith(SCHEME):
        rest = spec[len(SCHEME) :]
        if not rest.startswith("light/"):
            raise ProfileError(f"network.profile = {spec!r}: the onnx: scheme knows 'onnx:light/NAME' only")
        path = light_model_path(rest[len("light/") :])
    else:
        path = Path(spec)
        if not path.is_absolute() and base_dir is not None:
            path = Path(base_dir) / path
    if not path.is_file():
        raise ProfileError(f"network.profile = {spec!r}: no such file {str(path)!r}")
    return path


def _import_onnx() -> Any:
    try:
        import onnx
    except ImportError:  # pragma: no cover - onnx is a dependency
        raise ProfileError("reading an ONNX graph needs the onnx package: pip install onnx") from None
    return onnx


def load_model(path: Path) -> Any:
    """``onnx.load`` with a one-line error for a file that is not an ONNX model.

    Weights stored as external data stay on disk (only their references are read): the
    profile needs their shapes, and a split either shares the weight file or loads the
    weights it needs (:func:`export_split`).
    """
    onnx = _import_onnx()
    try:
        return onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # onnx raises DecodeError, ValueError, ... for a bad file
        raise ProfileError(f"{path}: not a readable ONNX model ({exc.__class__.__name__})") from None


def check_external_data(model: Any, path: Path) -> None:
    """Refuse, naming the file and the tensor, an initializer whose external data file
    (relative to ``path``'s directory) is missing, not a file, or shorter than the
    tensor's ``offset + length``: a command that reads the weights would otherwise fail
    inside onnx, after it had started."""
    from onnx.external_data_helper import ExternalDataInfo, uses_external_data

    base = Path(path).resolve().parent
    for tensor in model.graph.initializer:
        if not uses_external_data(tensor):
            continue
        info = ExternalDataInfo(tensor)
        where = base / info.location
        what = f"{path}: initializer {tensor.name!r}: its external data file {str(where)!r}"
        if not where.exists():
            raise ProfileError(f"{what} does not exist; put it beside the model")
        if not where.is_file():
            raise ProfileError(f"{what} is not a regular file")
        size = where.stat().st_size
        end = (info.offset or 0) + (info.length or 0)
        if end > size:
            raise ProfileError(f"{what} has {size} bytes; the tensor needs {end}")


def _infer_shapes(model: Any) -> Any:
    """``model`` with ``value_info`` from ``infer_shapes(..., data_prop=True)``.

    The inference runs on a stub whose float initializers (the weights) are graph inputs
    of the same type and shape: it reads only their shapes, and a model of hundreds of
    megabytes is then not serialised for the C++ inference. Integer initializers (shapes,
    indices) stay, so that data propagation still sees their values.
    """
    onnx = _import_onnx()
    graph = model.graph
    heavy = [t for t in graph.initializer if int(t.data_type) in FLOAT_TYPES]
    heavy_names = {t.name for t in heavy}
    stub = onnx.ModelProto()
    stub.ir_version = max(int(model.ir_version), 4)
    stub.opset_import.extend(model.opset_import)
    stub.graph.name = graph.name
    stub.graph.node.extend(graph.node)
    stub.graph.initializer.extend(t for t in graph.initializer if t.name not in heavy_names)
    stub.graph.input.extend(vi for vi in graph.input if vi.name not in heavy_names)
    stub.graph.input.extend(
        onnx.helper.make_tensor_value_info(t.name, int(t.data_type), [int(d) for d in t.dims]) for t in heavy
    )
    stub.graph.output.extend(graph.output)
    stub.graph.value_info.extend(graph.value_info)
    inferred = onnx.shape_inference.infer_shapes(stub, data_prop=True)
    known = heavy_names | {vi.name for vi in graph.input} | {vi.name for vi in graph.value_info}
    model.graph.value_info.extend(vi for vi in inferred.graph.value_info if vi.name not in known)
    for declared, found in zip(model.graph.output, inferred.graph.output):
        if _dims(declared.type) is None and _dims(found.type) is not None:
            declared.type.CopyFrom(found.type)  # an output declared without a shape gets the inferred one
    return model


def _dims(type_proto: Any) -> list[int | None] | None:
    """Dimensions of a tensor type (``None`` for an unknown one, 1 for a symbolic one)."""
    if not type_proto.HasField("tensor_type") or not type_proto.tensor_type.HasField("shape"):
        return None
    out: list[int | None] = []
    for axis, d in enumerate(type_proto.tensor_type.shape.dim):
        if d.HasField("dim_value"):
            out.append(int(d.dim_value))
        elif axis == 0 and d.HasField("dim_param"):
            out.append(1)  # a dynamic batch dimension counts as 1 (docs/model.md 10.2)
        else:
            out.append(None)
    return out


def _elem_type(type_proto: Any) -> int:
    return int(type_proto.tensor_type.elem_type) if type_proto.HasField("tensor_type") else 0


def read_network(path: Path, cuts: str = "all") -> OnnxNetwork:
    """Read an ONNX file and cut it into units (module docstring).

    Raises
    ------
    ProfileError
        One line: an unreadable file, a graph without a non-constant input, a tensor whose
        shape inference leaves unknown (naming the node), or an invalid ``cuts``.
    """
    if cuts not in CUTS:
        raise ProfileError(f'network.cuts = {cuts!r}: must be one of "all" | "single"')
    model = load_model(path)
    try:
        model = _infer_shapes(model)
    except Exception as exc:  # InferenceError, ValidationError: one line naming what failed
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
        raise ProfileError(f"{path}: ONNX shape inference failed: {first}") from None
    graph = model.graph
    shapes: dict[str, list[int | None] | None] = {}
    types: dict[str, int] = {}
    for vi in list(graph.input) + list(graph.value_info) + list(graph.output):
        if shapes.get(vi.name) is None:
            shapes[vi.name] = _dims(vi.type)
            types[vi.name] = _elem_type(vi.type)
    const: set[str] = set()
    for init in graph.initializer:
        const.add(init.name)
        shapes[init.name] = [int(d) for d in init.dims]
        types[init.name] = int(init.data_type)
    inputs = [vi.name for vi in graph.input if vi.name not in const]
    if not inputs:
        raise ProfileError(f"{path}: the graph has no input that is not an initializer")

    nodes = list(graph.node)
    unit_of_tensor: dict[str, int] = {name: 0 for name in inputs}
    unit_nodes: list[list[int]] = [[]]
    unit_names: list[str] = ["input"]
    for index, node in enumerate(nodes):
        data_inputs = [t for t in node.input if t and t not in const]
        if node.op_type == "Constant" or not data_inputs:
            const.update(t for t in node.output if t)
            continue
        producers = {unit_of_tensor.get(t, -1) for t in data_inputs}
        if -1 in producers:
            missing = next(t for t in data_inputs if t not in unit_of_tensor)
            raise ProfileError(
                f"{path}: node {node.name or node.op_type!r} ({node.op_type}) reads {missing!r}, which no earlier "
                "node produces (the graph is not in topological order)"
            )
        if node.op_type in FUSABLE and len(producers) == 1 and next(iter(producers)) > 0:
            unit = next(iter(producers))
        else:
            unit = len(unit_nodes)
            unit_nodes.append([])
            unit_names.append(f"{node.name or node.output[0]}:{node.op_type}")
        unit_nodes[unit].append(index)
        for t in node.output:
            if t:
                unit_of_tensor[t] = unit
    n_units = len(unit_nodes) - 1
    if n_units < 1:
        raise ProfileError(f"{path}: the graph has no operator that works on its input")

    def known(tensor: str) -> bool:
        dims = shapes.get(tensor)
        return dims is not None and all(d is not None for d in dims)

    def elems(tensor: str, node: Any) -> int:
        dims = shapes.get(tensor)
        if dims is None or any(d is None for d in dims):
            what = "no shape" if dims is None else f"shape {['?' if d is None else d for d in dims]}"
            # where inference stopped: the first node with known inputs and an unknown output
            stop = next(
                (n for n in nodes if all(known(t) for t in n.input if t) and not all(known(t) for t in n.output if t)),
                node,
            )
            where = (
                f"node {stop.name or stop.op_type!r} ({stop.op_type}{', domain ' + stop.domain if stop.domain else ''})"
            )
            raise ProfileError(
                f"{path}: node {node.name or node.op_type!r} ({node.op_type}): tensor {tensor!r} has {what} after ONNX "
                f"shape inference, which stops at {where}: an unsupported operator, or give the graph input "
                "fixed dimensions"
            )
        return math.prod(d for d in dims if d is not None)

    # MACs and parameters per unit.
    macs = np.zeros(n_units + 1, dtype=np.int64)
    params = np.zeros(n_units + 1, dtype=np.int64)
    counted: set[str] = set()
    for unit in range(1, n_units + 1):
        for index in unit_nodes[unit]:
            node = nodes[index]
            macs[unit] += _node_macs(node, lambda t, node=node: elems(t, node), shapes)
            for t in node.input:
                if t and t in const and t not in counted and types.get(t, 0) in FLOAT_TYPES:
                    counted.add(t)
                    params[unit] += elems(t, node)

    # Live sets: tensor t produced by unit p, last consumed by unit c, is live at p <= n < c.
    last_use: dict[str, int] = {}
    for unit in range(1, n_units + 1):
        for index in unit_nodes[unit]:
            for t in nodes[index].input:
                if t in unit_of_tensor and unit_of_tensor[t] != unit:
                    last_use[t] = unit
    for out in graph.output:
        if out.name in unit_of_tensor:
            last_use[out.name] = n_units + 1
    producer_node = {t: nodes[i] for u in unit_nodes for i in u for t in nodes[i].output}
    size_delta = np.zeros(n_units + 2, dtype=np.int64)
    live_at: list[list[str]] = [[] for _ in range(n_units + 1)]
    for t, c in last_use.items():
        p = unit_of_tensor[t]
        if c <= p:
            continue
        node = producer_node.get(t)
        n_elems = elems(t, node) if node is not None else _input_elems(path, t, shapes)
        size_delta[p] += n_elems
        size_delta[c] -= n_elems
        for n in range(p, min(c, n_units + 1)):
            live_at[n].append(t)
    out_elems = np.cumsum(size_delta)[: n_units + 1]

    names = tuple(unit_names)
    live = tuple(tuple(ts) for ts in live_at)
    groups = [tuple(u) for u in unit_nodes]
    if cuts == "single":
        keep = [n for n in range(n_units + 1) if n == 0 or n == n_units or len(live[n]) == 1]
        macs, params = _merge(macs, keep), _merge(params, keep)
        out_elems = out_elems[keep]
        names = tuple(names[k] for k in keep)
        live = tuple(live[k] for k in keep)
        groups = [()] + [
            tuple(i for u in range(a + 1, b + 1) for i in unit_nodes[u]) for a, b in itertools.pairwise(keep)
        ]
    profile = Profile(
        name=path.stem,
        layer_names=names,
        macs=macs,
        out_elems=out_elems.astype(np.int64),
        params=params,
        source=str(path),
    )
    return OnnxNetwork(profile, live, tuple(groups), path)


def _merge(per_unit: NDArray[np.int64], keep: list[int]) -> NDArray[np.int64]:
    """Per-layer sums when layer ``j`` is units ``keep[j-1]+1 .. keep[j]`` (entry 0 stays 0)."""
    cum = np.cumsum(per_unit)[keep]
    return np.concatenate([[0], np.diff(cum)]).astype(np.int64)


def _node_macs(node: Any, elems: Any, shapes: dict[str, list[int | None] | None]) -> int:
    """MACs of one node (module docstring): Conv, ConvTranspose, Gemm, MatMul; else 0.
    ``elems(tensor)`` is the element count of a tensor (it raises, naming the node, when
    the shape is unknown)."""
    op = node.op_type
    if op not in ("Conv", "ConvTranspose", "Gemm", "MatMul"):
        return 0

    def dims(tensor: str) -> list[int]:
        elems(tensor)  # raises unless every dimension is known
        return [d for d in shapes[tensor] or [] if d is not None]

    if op == "Conv":
        return int(elems(node.output[0])) * math.prod(dims(node.input[1])[1:])
    if op == "ConvTranspose":
        return int(elems(node.input[0])) * math.prod(dims(node.input[1])[1:])
    a = dims(node.input[0])
    trans_a = op == "Gemm" and any(at.name == "transA" and at.i for at in node.attribute)
    k = a[-2] if trans_a and len(a) >= 2 else a[-1]
    return int(elems(node.output[0])) * k


def _input_elems(path: Path, tensor: str, shapes: dict[str, list[int | None] | None]) -> int:
    dims = shapes.get(tensor)
    if dims is None or any(d is None for d in dims):
        raise ProfileError(f"{path}: graph input {tensor!r} has no fixed shape; give every dimension but the batch")
    return math.prod(d for d in dims if d is not None)


# ----------------------------------------------------------------------------- the two halves


def splittable_model(network: OnnxNetwork) -> Any:
    """The model of ``network`` ready for :func:`split_models`: IR >= 4 (initializers are
    not graph inputs) and every intermediate tensor typed in ``value_info`` (Extractor
    reads the types of the new inputs and outputs from there). Load it once to cut many
    splits."""
    model = load_model(network.path)
    check_external_data(model, network.path)
    if model.ir_version < 4:
        # IR < 4 lists every initializer among the graph inputs; the halves are written
        # with IR 4, where an initializer is not an input.
        inits = {i.name for i in model.graph.initializer}
        kept = [vi for vi in model.graph.input if vi.name not in inits]
        del model.graph.input[:]
        model.graph.input.extend(kept)
        model.ir_version = 4
    return _infer_shapes(model)


def split_models(network: OnnxNetwork, epoch: int, model: Any | None = None) -> tuple[Any, Any]:
    """The head and the tail of the split at ``epoch`` (ONNX ``ModelProto``).

    The head maps the graph inputs to the live set at ``epoch``; the tail maps the live
    set (which holds every graph input a later unit still reads) to the graph outputs.
    Both are cut out by ``onnx.utils.Extractor``: the nodes between the given inputs and
    outputs, with the initializers they read, whether the weights are initializers or
    constant nodes. ``model`` is :func:`splittable_model`'s result (loaded here when not
    given). :func:`export_split` writes and checks them.

    Raises
    ------
    ProfileError
        ``epoch`` outside ``0..N``.
    """
    n_layers = network.profile.n_layers
    if not 0 <= epoch <= n_layers:
        raise ProfileError(f"--at = {epoch}: must be an epoch 0..{n_layers} of {network.path.name}")
    _import_onnx()
    from onnx.utils import Extractor

    if model is None:
        model = splittable_model(network)
    extractor = Extractor(model)
    live = list(network.live[epoch])
    head = extractor.extract_model(list(network.live[0]), live)
    tail = extractor.extract_model(live, [o.name for o in model.graph.output])
    return head, tail


def export_split(network: OnnxNetwork, epoch: int, out_dir: Path, model: Any | None = None) -> tuple[Path, Path]:
    """Write ``head.onnx`` and ``tail.onnx`` of :func:`split_models` into ``out_dir`` and
    check both files with ``onnx.checker.check_model``.

    A source whose weights are external data: written into the source's own directory,
    the halves refer to the same weight file; anywhere else they get the weights they
    need embedded, so that they stand alone.

    Raises
    ------
    ProfileError
        ``epoch`` outside ``0..N``, or an output directory that cannot be written.
    """
    onnx = _import_onnx()
    from onnx.external_data_helper import load_external_data_for_model, uses_external_data

    head, tail = split_models(network, epoch, model)
    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ProfileError(f"--out {str(out_dir)!r}: cannot create the directory: {exc.strerror}") from None
    source_dir = network.path.resolve().parent
    paths = (out_dir / "head.onnx", out_dir / "tail.onnx")
    for half, path in zip((head, tail), paths):
        external = any(uses_external_data(t) for t in half.graph.initializer)
        if external and out_dir.resolve() != source_dir:
            load_external_data_for_model(half, str(source_dir))
        onnx.save(half, str(path))
        onnx.checker.check_model(str(path))
    return paths
