r"""Fleet files (docs/model.md section 11.1): the one parser of a fleet.

A fleet file has a ``[shared]`` table (the band :math:`B`, its noise :math:`\sigma^2`, the
edge clock :math:`f_E`, the share levels :math:`X`, :math:`Y` and an optional
``[shared.path_loss]``) and one ``[[device]]`` entry per kind of device::

    [shared]
    bandwidth_hz = 2.0e6
    noise_w = 2.0e-12
    edge_cpu_hz = 2.0e10
    bandwidth_levels = 16          # the levels k/16, k = 0..16, or a list of shares
    edge_levels = [0, 0.25, 0.5, 1]
    [shared.path_loss]             # mean_gain = ref_gain (d / ref_distance_m)^(-exponent)
    ref_gain = 1.0e-4
    ref_distance_m = 1.0
    exponent = 3.0
    [[device]]
    instance = "sensor.toml"       # a section-8 instance, relative to the fleet file
    count = 10                     # default 1
    weight = 2.0                   # omega_u, default 1
    set = { "channel.states" = 8 } # dotted keys applied to the instance
    distance_m = { disc = [20.0, 100.0], seed = 7 }   # or one distance for every copy

Each device's instance is parsed with the shared keys written in at full shares
(``uplink.bandwidth_hz = B``, ``uplink.noise_w = sigma2``, ``edge.cpu_hz = f_E``): the
instance may omit them, and where it gives them they are replaced and the fleet says so
(:attr:`Fleet.replaced`). :func:`coopt.fleet.tables.instance_at` scales that instance to
shares :math:`(x, y)`. Devices are numbered ``u = 0..U-1`` in file order, the copies of an
entry in order; drawn distances are ``d = sqrt(rng.uniform(r0**2, r1**2, count))`` with
``rng = numpy.random.default_rng(seed)``. Devices whose parsed instances are identical
share one table (:attr:`Fleet.kinds`), whatever their weights.
"""

from __future__ import annotations

import json
import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from coopt.errors import InstanceError
from coopt.model.files import read_text
from coopt.model.instance import Instance, _suggest, instance_keys, key_kind, parse_instance, set_key

DEFAULT_LEVELS = 16
SHARED_KEYS = ("bandwidth_hz", "noise_w", "edge_cpu_hz", "bandwidth_levels", "edge_levels", "path_loss")
PATH_LOSS_KEYS = ("ref_gain", "ref_distance_m", "exponent")
DEVICE_KEYS = ("instance", "count", "weight", "set", "distance_m")
MAX_LEVELS = 1024  # an integer L gives L + 1 levels
# The instance keys [shared] sets, and the value each takes at full shares.
SHARED_INSTANCE_KEYS = {
    "uplink.bandwidth_hz": "bandwidth_hz",
    "uplink.noise_w": "noise_w",
    "edge.cpu_hz": "edge_cpu_hz",
}
MEAN_GAIN_KEY = "channel.mean_gain"


@dataclass(frozen=True)
class PathLoss:
    """``[shared.path_loss]``: :math:`g(d) = g_0 (d / d_0)^{-\\alpha}`."""

    ref_gain: float
    ref_distance_m: float
    exponent: float

    def mean_gain(self, distance_m: float) -> float:
        """The mean channel gain at ``distance_m`` metres."""
        return self.ref_gain * (distance_m / self.ref_distance_m) ** (-self.exponent)


@dataclass(frozen=True)
class Shared:
    """``[shared]``: the resources the devices divide, and the share levels.

    Attributes
    ----------
    bandwidth_hz, noise_w, edge_cpu_hz : :math:`B`, :math:`\\sigma^2` (over all of ``B``), :math:`f_E`.
    x_levels, y_levels : the sorted level sets :math:`X`, :math:`Y` (shares in [0, 1]).
    path_loss : the optional distance law.
    """

    bandwidth_hz: float
    noise_w: float
    edge_cpu_hz: float
    x_levels: tuple[float, ...]
    y_levels: tuple[float, ...]
    path_loss: PathLoss | None = None


@dataclass(frozen=True)
class FleetDevice:
    """One device ``u`` of the fleet.

    Attributes
    ----------
    name : ``<instance stem>#<copy>``.
    entry, copy : its ``[[device]]`` entry (0-based) and its copy in that entry.
    kind : the index of its instance in :attr:`Fleet.kinds` (its table).
    weight : :math:`\\omega_u`.
    distance_m, mean_gain : where the fleet set them, else ``None``.
    """

    name: str
    entry: int
    copy: int
    kind: int
    weight: float
    distance_m: float | None = None
    mean_gain: float | None = None


@dataclass(frozen=True)
class Fleet:
    """A validated fleet file (:func:`load_fleet`).

    ``kinds`` are derived from ``shared`` when the fleet is parsed (the band, the noise and
    the edge clock written into each instance), so a variant of the fleet is a document
    parsed again (:func:`parse_fleet`), not a ``dataclasses.replace`` of ``shared``.

    Attributes
    ----------
    shared : the ``[shared]`` table.
    devices : every device in order.
    kinds : the distinct device instances at full shares, one table each.
    replaced : one line per entry whose instance gave keys that ``[shared]`` replaces.
    name : the fleet file's stem.
    """

    shared: Shared
    devices: tuple[FleetDevice, ...]
    kinds: tuple[Instance, ...] = field(repr=False)
    replaced: tuple[str, ...] = ()
    name: str = "fleet"

    @property
    def size(self) -> int:
        """The number of devices :math:`U`."""
        return len(self.devices)


def is_fleet_document(doc: dict[str, Any]) -> bool:
    """A TOML document is a fleet when it has a ``[shared]`` table (MODEL.md 11.1)."""
    return "shared" in doc


def read_toml(path: Path, what: str) -> dict[str, Any]:
    """The parsed TOML of ``path``; bad input raises :class:`InstanceError` naming the file."""
    text = read_text(path, what)
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InstanceError(f"{path}: invalid TOML: {exc}") from None


def is_fleet_file(path: str | Path) -> bool:
    """Whether the TOML file ``path`` is a fleet (it has a ``[shared]`` table)."""
    return is_fleet_document(read_toml(Path(path), "instance file"))


def _number(key: str, value: Any, *, low: float = 0.0, strict: bool = True) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InstanceError(f"{key} = {value!r}: must be a finite number")
    if value < low or (strict and value == low):
        raise InstanceError(f"{key} = {value!r}: must be {'>' if strict else '>='} {low:g}")
    return float(value)


def _levels(key: str, raw: Any) -> tuple[float, ...]:
    if isinstance(raw, int) and not isinstance(raw, bool):
        if not 1 <= raw <= MAX_LEVELS:
            raise InstanceError(f"{key} = {raw}: an integer L must be in 1 .. {MAX_LEVELS} (the levels k/L, k = 0..L)")
        return tuple(k / raw for k in range(raw + 1))
    if not isinstance(raw, list) or not raw:
        raise InstanceError(f"{key} = {raw!r}: must be an integer L (the levels k/L) or a non-empty list of shares")
    shares = []
    for i, v in enumerate(raw):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v <= 1:
            raise InstanceError(f"{key}[{i}] = {v!r}: a share level must be a number in [0, 1]")
        shares.append(float(v))
    if len(set(shares)) != len(shares):
        raise InstanceError(f"{key} = {raw!r}: the levels must be distinct")
    return tuple(sorted(shares))


def _check_keys(where: str, raw: dict[str, Any], allowed: tuple[str, ...]) -> None:
    for key in raw:
        if key not in allowed:
            raise InstanceError(f"{where}.{key}: unknown key" + _suggest(key, list(allowed)))


def _shared(raw: Any) -> Shared:
    if not isinstance(raw, dict):
        raise InstanceError(f"shared = {raw!r}: must be a table [shared]")
    _check_keys("shared", raw, SHARED_KEYS)
    for key in ("bandwidth_hz", "noise_w", "edge_cpu_hz"):
        if key not in raw:
            raise InstanceError(f"shared.{key}: missing required key")
    path_loss = None
    if "path_loss" in raw:
        pl = raw["path_loss"]
        if not isinstance(pl, dict):
            raise InstanceError(f"shared.path_loss = {pl!r}: must be a table [shared.path_loss]")
        _check_keys("shared.path_loss", pl, PATH_LOSS_KEYS)
        for key in PATH_LOSS_KEYS:
            if key not in pl:
                raise InstanceError(f"shared.path_loss.{key}: missing required key")
        path_loss = PathLoss(
            ref_gain=_number("shared.path_loss.ref_gain", pl["ref_gain"]),
            ref_distance_m=_number("shared.path_loss.ref_distance_m", pl["ref_distance_m"]),
            exponent=_number("shared.path_loss.exponent", pl["exponent"], strict=False),
        )
    return Shared(
        bandwidth_hz=_number("shared.bandwidth_hz", raw["bandwidth_hz"]),
        noise_w=_number("shared.noise_w", raw["noise_w"]),
        edge_cpu_hz=_number("shared.edge_cpu_hz", raw["edge_cpu_hz"]),
        x_levels=_levels("shared.bandwidth_levels", raw.get("bandwidth_levels", DEFAULT_LEVELS)),
        y_levels=_levels("shared.edge_levels", raw.get("edge_levels", DEFAULT_LEVELS)),
        path_loss=path_loss,
    )


def _distances(where: str, raw: Any, count: int, path_loss: PathLoss | None) -> list[float] | None:
    if raw is None:
        return None
    if path_loss is None:
        raise InstanceError(f"{where}.distance_m = {raw!r}: needs [shared.path_loss] (it sets channel.mean_gain)")
    if isinstance(raw, dict):
        _check_keys(f"{where}.distance_m", raw, ("disc", "seed"))
        disc, seed = raw.get("disc"), raw.get("seed")
        if not (
            isinstance(disc, list)
            and len(disc) == 2
            and all(isinstance(r, (int, float)) and not isinstance(r, bool) for r in disc)
            and 0 <= disc[0] < disc[1] < math.inf
        ):
            raise InstanceError(
                f"{where}.distance_m.disc = {disc!r}: must be [r0, r1] with 0 <= r0 < r1, in metres (an annulus)"
            )
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise InstanceError(f"{where}.distance_m.seed = {seed!r}: must be an integer >= 0")
        rng = np.random.default_rng(seed)
        r0, r1 = float(disc[0]), float(disc[1])
        d = np.sqrt(rng.uniform(r0**2, r1**2, count))
        if np.any(d <= 0):  # r0 = 0 draws 0 with probability 0, but a gain at d = 0 is infinite
            raise InstanceError(f"{where}.distance_m.disc = {disc!r}: drew a distance of 0 m; use r0 > 0")
        return [float(v) for v in d]
    return [_number(f"{where}.distance_m", raw)] * count


def _device_doc(where: str, path: Path) -> dict[str, Any]:
    doc = read_toml(path, f"device instance ({where}.instance)")
    if "shared" in doc:
        raise InstanceError(f"{where}.instance = {str(path)!r}: is a fleet file, not a device instance")
    if "constraints" in doc:
        raise InstanceError(
            f"{where}.instance = {str(path)!r}: has [constraints]; QoS constraints are not supported in a fleet yet "
            "(remove the table, or solve the device alone)"
        )
    return doc


def _apply_set(where: str, doc: dict[str, Any], raw: Any) -> None:
    if not isinstance(raw, dict):
        raise InstanceError(
            f'{where}.set = {raw!r}: must be a table of dotted instance keys, e.g. {{ "channel.states" = 8 }}'
        )
    for key, value in raw.items():
        if key in SHARED_INSTANCE_KEYS:
            raise InstanceError(f"{where}.set.{key}: is set by [shared] ({SHARED_INSTANCE_KEYS[key]}) for every device")
        if key_kind(key) is None:
            raise InstanceError(f"{where}.set.{key}: unknown instance key" + _suggest(key, instance_keys()))
        set_key(doc, key, value)


def parse_fleet(doc: dict[str, Any], base_dir: Path, name: str = "fleet") -> Fleet:
    """Validate a parsed fleet document (module docstring); device instances are read
    relative to ``base_dir``."""
    for table in doc:
        if table not in ("shared", "device"):
            raise InstanceError(f"[{table}]: unknown table in a fleet file; valid tables: [shared], [[device]]")
    shared = _shared(doc["shared"])
    entries = doc.get("device")
    if not isinstance(entries, list) or not entries or not all(isinstance(e, dict) for e in entries):
        raise InstanceError("[[device]]: a fleet needs at least one [[device]] entry (a table array)")
    full = {
        "uplink.bandwidth_hz": shared.bandwidth_hz,
        "uplink.noise_w": shared.noise_w,
        "edge.cpu_hz": shared.edge_cpu_hz,
    }
    devices: list[FleetDevice] = []
    kinds: list[Instance] = []
    kind_of: dict[str, int] = {}
    replaced: list[str] = []
    for e, entry in enumerate(entries):
        where = f"device.{e}"
        _check_keys(where, entry, DEVICE_KEYS)
        if "instance" not in entry:
            raise InstanceError(f"{where}.instance: missing required key (a device instance file)")
        if not isinstance(entry["instance"], str):
            raise InstanceError(f"{where}.instance = {entry['instance']!r}: must be a file name")
        path = Path(entry["instance"])
        path = path if path.is_absolute() else base_dir / path
        count = entry.get("count", 1)
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise InstanceError(f"{where}.count = {count!r}: must be an integer >= 1")
        weight = _number(f"{where}.weight", entry.get("weight", 1.0))
        doc_u = _device_doc(where, path)
        _apply_set(where, doc_u, entry.get("set", {}))
        given = [k for k in SHARED_INSTANCE_KEYS if k.partition(".")[2] in (doc_u.get(k.partition(".")[0]) or {})]
        if given:
            replaced.append(f"{where} ({path.name}): {', '.join(given)} replaced by [shared]")
        for key, value in full.items():
            set_key(doc_u, key, value)
        distances = _distances(where, entry.get("distance_m"), count, shared.path_loss)
        if distances is not None and MEAN_GAIN_KEY in entry.get("set", {}):
            raise InstanceError(f"{where}: distance_m and set.{MEAN_GAIN_KEY} both set the mean gain; give one")
        for c in range(count):
            gain = None
            if distances is not None:
                assert shared.path_loss is not None  # _distances checked it
                gain = shared.path_loss.mean_gain(distances[c])
                set_key(doc_u, MEAN_GAIN_KEY, gain)
            key = json.dumps([str(path.parent.resolve()), doc_u], sort_keys=True, default=str)
            if key not in kind_of:
                try:
                    instance = parse_instance(doc_u, base_dir=path.resolve().parent, name=path.stem)
                except InstanceError as exc:
                    raise InstanceError(f"{where} ({path.name}): {exc}") from None
                kind_of[key] = len(kinds)
                kinds.append(instance)
            devices.append(
                FleetDevice(
                    name=f"{path.stem}#{c}",
                    entry=e,
                    copy=c,
                    kind=kind_of[key],
                    weight=weight,
                    distance_m=None if distances is None else distances[c],
                    mean_gain=gain,
                )
            )
    return Fleet(shared, tuple(devices), tuple(kinds), tuple(replaced), name)


def fleet_key_kind(doc: dict[str, Any], key: str) -> str:
    """The kind of value a dotted key of a fleet document takes (a sweep axis over a fleet):
    ``shared.<key>``, ``shared.path_loss.<key>``, ``device.<i>.<key>`` of the ``i``-th
    ``[[device]]`` entry, or ``device.<i>.set.<instance key>``. Returns ``"number"``,
    ``"integer"``, ``"levels"``, ``"distance"``, ``"string"`` or an instance key's kind.

    Raises
    ------
    InstanceError
        An unknown key, naming the keys allowed there.
    """
    head, _, rest = key.partition(".")
    if head == "shared":
        if rest.startswith("path_loss."):
            sub = rest.partition(".")[2]
            if sub not in PATH_LOSS_KEYS:
                raise InstanceError(f"{key}: unknown key" + _suggest(sub, list(PATH_LOSS_KEYS)))
            return "number"
        if rest not in SHARED_KEYS or rest == "path_loss":
            allowed = [k for k in SHARED_KEYS if k != "path_loss"] + [f"path_loss.{k}" for k in PATH_LOSS_KEYS]
            raise InstanceError(f"{key}: unknown key" + _suggest(rest, allowed))
        return "levels" if rest.endswith("_levels") else "number"
    if head == "device":
        index, _, sub = rest.partition(".")
        entries = doc.get("device")
        n = len(entries) if isinstance(entries, list) else 0
        if not index.isdigit() or int(index) >= n:
            raise InstanceError(f"{key}: device.<i> must name a [[device]] entry, i in 0 .. {n - 1}")
        if sub.startswith("set."):
            inner = sub.partition(".")[2]
            if inner in SHARED_INSTANCE_KEYS:
                raise InstanceError(f"{key}: is set by [shared] ({SHARED_INSTANCE_KEYS[inner]}) for every device")
            kind = key_kind(inner)
            if kind is None:
                raise InstanceError(f"{key}: unknown instance key" + _suggest(inner, instance_keys()))
            return kind
        if sub not in DEVICE_KEYS or sub == "set":
            allowed = [k for k in DEVICE_KEYS if k != "set"] + ["set.<instance key>"]
            raise InstanceError(f"{key}: unknown key" + _suggest(sub, allowed))
        return {"count": "integer", "weight": "number", "distance_m": "distance", "instance": "string"}[sub]
    raise InstanceError(f"{key}: unknown key of a fleet; valid: shared.<key>, device.<i>.<key>, method")


def set_fleet_key(doc: dict[str, Any], key: str, value: Any) -> None:
    """Write ``value`` at the dotted ``key`` of a fleet document (:func:`fleet_key_kind`
    names the keys); the nested tables it needs are created."""
    fleet_key_kind(doc, key)
    head, _, rest = key.partition(".")
    if head == "shared":
        table = doc.setdefault("shared", {})
        if rest.startswith("path_loss."):
            table = table.setdefault("path_loss", {})
            rest = rest.partition(".")[2]
        table[rest] = value
        return
    index, _, sub = rest.partition(".")
    entry = doc["device"][int(index)]
    if sub.startswith("set."):
        entry.setdefault("set", {})[sub.partition(".")[2]] = value
    else:
        entry[sub] = value


def load_fleet(path: str | Path) -> Fleet:
    """Read and validate a fleet file (docs/model.md section 11.1).

    Raises
    ------
    InstanceError
        One line naming the key, the value and what is allowed (an unknown key, a share level
        outside [0, 1], a missing device instance, ``distance_m`` without
        ``[shared.path_loss]``, ``count < 1``, a bad dotted key in ``set``, a device instance
        with ``[constraints]``, or any error of the device instance itself).
    """
    path = Path(path)
    doc = read_toml(path, "fleet file")
    if not is_fleet_document(doc):
        raise InstanceError(f"{path}: not a fleet file (a fleet file has a [shared] table)")
    return parse_fleet(doc, path.resolve().parent, path.stem)


__all__ = [
    "DEFAULT_LEVELS",
    "Fleet",
    "FleetDevice",
    "PathLoss",
    "Shared",
    "fleet_key_kind",
    "is_fleet_document",
    "is_fleet_file",
    "load_fleet",
    "parse_fleet",
    "set_fleet_key",
]
