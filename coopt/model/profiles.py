"""DNN layer profiles: the per-layer numbers the cost model needs.

A profile describes a chain DNN with layers ``1..N`` by three integer arrays indexed
by epoch ``n = 0..N`` (docs/model.md section 2): ``macs[n]`` multiply-accumulates of layer
``n``, ``out_elems[n]`` output elements of layer ``n`` (``out_elems[0]`` is the input
size ``out_0``) and ``params[n]`` parameters of layer ``n``; ``macs[0] = params[0] = 0``.

On disk a profile is a CSV file with the header ``name,macs,out_elems,params`` (more
columns may follow); the first row is the input and every further row one layer, in
order.

Measured columns (docs/model.md section 10.1)
    ``device_s`` (device computing time of the layer, s), ``device_j`` (device
    computing energy, J), ``edge_s`` (edge computing time, s) and ``out_bits`` (the
    feature size ``d_n`` in bits; row 0: the raw input). A measured column that is
    present needs a finite value >= 0 in every layer row; in the input row
    ``device_s``, ``device_j`` and ``edge_s`` are blank or 0, ``out_bits`` has a value
    (> 0 in every row). The cost model (:mod:`coopt.model.costs`) uses them instead of
    the MAC-derived numbers; other columns are ignored.

Lines starting with ``#`` are comments (the shipped profiles use them to state their
provenance). Shipped profiles live in the package data ``coopt.models`` (the
repository's ``models/`` folder) and are found by name.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from coopt.errors import ProfileError
from coopt.model.files import read_text

REQUIRED_COLUMNS = ("name", "macs", "out_elems", "params")
MEASURED_COLUMNS = ("device_s", "device_j", "edge_s", "out_bits")
INT64_MAX = int(np.iinfo(np.int64).max)  # the largest value a profile column can hold


@dataclass(frozen=True, eq=False)
class Profile:
    """Per-layer numbers of a chain DNN.

    Attributes
    ----------
    name : str
        Profile name (the file stem for a CSV).
    layer_names : tuple of str
        ``N + 1`` names; entry 0 is the input.
    macs, out_elems, params : NDArray[np.int64]
        Shape ``(N + 1,)``; entry 0 describes the input (``macs[0] = params[0] = 0``).
    source : str
        Where the profile came from (a path or ``"generated"``).
    device_s, device_j, edge_s, out_bits : NDArray[np.float64] or None
        Measured columns (module docstring), shape ``(N + 1,)``, ``None`` when absent;
        entry 0 of the first three is 0.
    """

    name: str
    layer_names: tuple[str, ...]
    macs: NDArray[np.int64]
    out_elems: NDArray[np.int64]
    params: NDArray[np.int64]
    source: str = "generated"
    device_s: NDArray[np.float64] | None = None
    device_j: NDArray[np.float64] | None = None
    edge_s: NDArray[np.float64] | None = None
    out_bits: NDArray[np.float64] | None = None

    @property
    def measured(self) -> tuple[str, ...]:
        """The measured columns present, in the order of :data:`MEASURED_COLUMNS`."""
        return tuple(c for c in MEASURED_COLUMNS if getattr(self, c) is not None)

    @property
    def n_layers(self) -> int:
        """Number of layers ``N`` (the input row is not a layer)."""
        return len(self.layer_names) - 1

    def to_csv(self, comments: tuple[str, ...] = ()) -> str:
        """Render the profile in the CSV format read by :func:`read_profile_csv`."""
        buf = io.StringIO()
        for line in comments:
            buf.write(f"# {line}\n" if line else "#\n")
        writer = csv.writer(buf, lineterminator="\n")
        measured = self.measured
        writer.writerow(REQUIRED_COLUMNS + measured)
        columns = [getattr(self, c) for c in measured]
        for i, row in enumerate(zip(self.layer_names, self.macs, self.out_elems, self.params)):
            # repr() of a float round-trips exactly, so a written profile reads back equal.
            extra = [repr(float(col[i])) for col in columns]
            writer.writerow([row[0], int(row[1]), int(row[2]), int(row[3]), *extra])
        return buf.getvalue()


def _models_dir():
    return resources.files("coopt.models")


def list_profiles() -> list[str]:
    """Names of the profiles shipped with coopt, sorted."""
    return sorted(p.name[:-4] for p in _models_dir().iterdir() if p.name.endswith(".csv"))


def load_profile(spec: str, base_dir: Path | None = None) -> Profile:
    """Load a profile by shipped name or by CSV path.

    Parameters
    ----------
    spec : str
        A name from :func:`list_profiles`, or a path to a CSV file. A spec ending in
        ``.csv`` or containing a path separator is a path, relative to ``base_dir``.
    base_dir : Path, optional
        Directory that relative paths are resolved against (the instance file's).
    """
    if spec.endswith(".csv") or "/" in spec or "\\" in spec:
        path = Path(spec)
        if not path.is_absolute() and base_dir is not None:
            path = Path(base_dir) / path
        if path.is_dir():
            raise ProfileError(f"network.profile = {spec!r}: {str(path)!r} is a directory, not a profile CSV file")
        if not path.is_file():
            raise ProfileError(f"network.profile = {spec!r}: no such file {str(path)!r}")
        return read_profile_csv(read_text(path, "profile CSV"), name=path.stem, source=str(path))
    names = list_profiles()
    if spec not in names:
        raise ProfileError(
            f"network.profile = {spec!r}: unknown profile; valid names: {', '.join(names)} (or a path to a CSV file)"
        )
    text = (_models_dir() / f"{spec}.csv").read_text(encoding="utf-8")
    return read_profile_csv(text, name=spec, source=f"coopt.models/{spec}.csv")


def read_profile_csv(text: str, name: str = "profile", source: str = "<string>") -> Profile:
    """Parse and validate the CSV text of a profile (format in the module docstring)."""
    text = text.removeprefix("\ufeff")  # a byte-order mark is not part of the header
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    reader = csv.reader(lines)
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        raise ProfileError(f"profile {source}: empty file; expected header {','.join(REQUIRED_COLUMNS)}") from None
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise ProfileError(
            f"profile {source}: missing column(s) {', '.join(missing)}; "
            f"the header must contain {','.join(REQUIRED_COLUMNS)}"
        )
    col = {c: header.index(c) for c in REQUIRED_COLUMNS}
    names: list[str] = []
    rows: list[list[str]] = []
    table: dict[str, list[int]] = {c: [] for c in REQUIRED_COLUMNS[1:]}
    for i, row in enumerate(reader, start=1):
        if len(row) < len(header):
            raise ProfileError(f"profile {source}: row {i} has {len(row)} fields, expected {len(header)}")
        rows.append(row)
        names.append(row[col["name"]].strip())
        for c in REQUIRED_COLUMNS[1:]:
            table[c].append(_count(row[col[c]].strip(), f"profile {source}: row {i} ({names[-1]}) {c}"))
    if len(names) < 2:
        raise ProfileError(f"profile {source}: needs the input row and at least one layer, found {len(names)} row(s)")
    if table["macs"][0] != 0 or table["params"][0] != 0:
        raise ProfileError(f"profile {source}: the first row is the input and must have macs = 0 and params = 0")
    for i, out in enumerate(table["out_elems"]):
        if out < 1:
            raise ProfileError(f"profile {source}: row {i + 1} ({names[i]}) out_elems = {out}: must be an integer >= 1")
    measured = {c: _measured_column(c, header.index(c), rows, names, source) for c in MEASURED_COLUMNS if c in header}
    return Profile(
        name=name,
        layer_names=tuple(names),
        macs=np.asarray(table["macs"], dtype=np.int64),
        out_elems=np.asarray(table["out_elems"], dtype=np.int64),
        params=np.asarray(table["params"], dtype=np.int64),
        source=source,
        **measured,
    )


def _measured_column(
    column: str, index: int, rows: list[list[str]], names: list[str], source: str
) -> NDArray[np.float64]:
    """One measured column (docs/model.md 10.1): a finite value >= 0 in every layer row (> 0 for
    ``out_bits``, also in the input row); the input row of a cost column is blank or 0."""
    allowed = "a finite number > 0" if column == "out_bits" else "a finite number >= 0"
    values = np.zeros(len(rows))
    for i, row in enumerate(rows):
        raw = row[index].strip()
        where = f"profile {source}: row {i + 1} ({names[i]}) {column}"
        if i == 0 and column != "out_bits":
            if raw not in ("", "0") and _float_or_none(raw) != 0.0:
                raise ProfileError(f"{where} = {raw!r}: the input row does no work; leave it blank or 0")
            continue
        if not raw:
            raise ProfileError(f"{where} is missing: a {column} column needs {allowed} in every layer row")
        value = _float_or_none(raw)
        if value is None or not math.isfinite(value) or value < 0 or (column == "out_bits" and value == 0):
            raise ProfileError(f"{where} = {raw!r}: must be {allowed}")
        values[i] = value
    return values


def _float_or_none(raw: str) -> float | None:
    try:
        return float(raw)
    except ValueError:
        return None


def merge_profiles(device: Profile, edge: Profile) -> Profile:
    """One profile with ``device_s`` (and ``device_j``) of ``device`` and ``edge_s`` of ``edge``.

    Both must describe the same network: the same layer names, ``macs``, ``out_elems``
    and ``params`` (as two runs of ``coopt profile MODEL.onnx --measure`` give).

    Raises
    ------
    ProfileError
        The two profiles differ, or a side lacks its measured column.
    """
    for column in ("layer_names", "macs", "out_elems", "params"):
        a, b = getattr(device, column), getattr(edge, column)
        if len(a) != len(b) or any(x != y for x, y in zip(a, b)):
            raise ProfileError(
                f"--merge: {device.source} and {edge.source} differ in {column}; merge two profiles of one network"
            )
    if device.device_s is None:
        raise ProfileError(f"--merge: {device.source} has no device_s column (measure it with --measure device)")
    if edge.edge_s is None:
        raise ProfileError(f"--merge: {edge.source} has no edge_s column (measure it with --measure edge)")
    return Profile(
        name=device.name,
        layer_names=device.layer_names,
        macs=device.macs,
        out_elems=device.out_elems,
        params=device.params,
        source=f"{device.source} + {edge.source}",
        device_s=device.device_s,
        device_j=device.device_j,
        edge_s=edge.edge_s,
        out_bits=device.out_bits,
    )


def _count(raw: str, where: str) -> int:
    """A profile entry: an integer in ``0..INT64_MAX``, written as an integer or as an
    integral float (``1.5e9``); parsed exactly when written as an integer."""
    try:
        value = int(raw)
    except ValueError:
        try:
            as_float = float(raw)
        except ValueError:
            raise ProfileError(f"{where} = {raw!r}: must be an integer >= 0") from None
        if not np.isfinite(as_float) or as_float != int(as_float):
            raise ProfileError(f"{where} = {raw}: must be an integer >= 0") from None
        value = int(as_float)
    if value < 0:
        raise ProfileError(f"{where} = {raw}: must be an integer >= 0")
    if value > INT64_MAX:
        raise ProfileError(f"{where} = {raw}: must be an integer in 0..{INT64_MAX} (int64)")
    return value


def mlp_profile(depth: int, width: int, input_size: int, classes: int) -> Profile:
    """Equal-neuron MLP: ``depth`` hidden layers of ``width`` neurons, then ``classes`` outputs.

    Layer 1 maps ``input_size -> width``, layers ``2..depth`` map ``width -> width``
    (identical, the structure of docs/model.md's closed form), layer ``depth + 1`` maps
    ``width -> classes``. Each fully connected layer ``u -> v`` has ``u v`` MACs and
    ``u v + v`` parameters (weights and biases); activations cost no MACs.
    """
    for key, value, low in (
        ("depth", depth, 1),
        ("width", width, 1),
        ("input", input_size, 1),
        ("classes", classes, 1),
    ):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < low:
            raise ProfileError(f"mlp.{key} = {value!r}: must be an integer >= {low}")
    sizes = [input_size] + [width] * depth + [classes]
    if max(sizes[i - 1] * sizes[i] + sizes[i] for i in range(1, len(sizes))) > INT64_MAX:
        raise ProfileError(
            f"mlp: a layer of {max(sizes[:-1])} x {max(sizes[1:])} has more than {INT64_MAX} (int64) MACs or parameters"
        )
    names = ["input"] + [f"fc{i}" for i in range(1, depth + 1)] + ["output"]
    macs = [0] + [sizes[i - 1] * sizes[i] for i in range(1, len(sizes))]
    params = [0] + [sizes[i - 1] * sizes[i] + sizes[i] for i in range(1, len(sizes))]
    return Profile(
        name=f"mlp-d{depth}-w{width}-i{input_size}-c{classes}",
        layer_names=tuple(names),
        macs=np.asarray(macs, dtype=np.int64),
        out_elems=np.asarray(sizes, dtype=np.int64),
        params=np.asarray(params, dtype=np.int64),
    )
