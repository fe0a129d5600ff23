r"""Sweep specifications: a base instance, a grid of values, and one job per grid point.

A spec is a TOML file::

    base = "cnn_chain.toml"        # the base instance, relative to the spec file
    method = "enumeration"         # default method of every point (optional)
    zip = [["device.cpu_hz", "device.kappa"]]   # axes that move together (optional)

    [grid]                         # axis key -> values; axes are crossed, the first slowest
    "channel.mean_snr_db" = { linspace = [0.0, 30.0, 7] }
    "placement.tasks_per_period" = { geomspace = [10.0, 1.0e4, 4] }
    "placement.rule" = ["optimal", "osla"]

    [mip]                          # options of method "mip" (optional)
    time_limit = 10.0

    [simulate]                     # Monte Carlo per point (optional)
    tasks = 20000
    seed = 0
    policies = ["rule", "static"]  # "rule" is the point's own rule (the default)

Axis keys are instance keys (``table.key`` of docs/model.md section 8, as
:func:`coopt.model.instance.instance_keys` lists them), ``method``, and
``channel.mean_snr_db``: the mean SNR :math:`10\log_{10}(\rho\,E[h])` with
:math:`\rho = P/\sigma^2`, which sets ``channel.mean_gain`` of a continuous law to
:math:`10^{x/10}\sigma^2/P` after every other axis of the point is applied. Values are
a non-empty list, or a range ``{linspace = [start, stop, num]}``,
``{logspace = [start_exponent, stop_exponent, num]}`` (base 10) or
``{geomspace = [start, stop, num]}`` with NumPy's meaning; logarithmic ranges mark the
axis for log scales in figures. Zipped axes have equal lengths and form one crossed
axis, placed where the first of them is.

A **job** is one grid point: the base TOML document with the point's values written
into it (the *resolved* instance), the method and its options. Its key is the SHA-256
of that resolved document, the contents of a profile file it names, the method options
and the simulation settings (canonical JSON), so a job is recognised whatever the grid it came from; the spec's fingerprint is
the hash of the ordered job keys, which changes whenever the base instance, a value, an
axis or an option changes. Grid order (the index of a point) is the canonical row order
of the results table. Jobs are made on demand (:class:`GridJobs`): a grid of 10^9 points
is counted, not listed; beyond :data:`EXACT_FINGERPRINT_POINTS` points the fingerprint
hashes the probe keys (point 0 and the points one axis away from it) instead.

A base with a ``[shared]`` table is a fleet (docs/model.md section 11): its axes are the
fleet file's keys (:func:`coopt.fleet.files.fleet_key_kind`: ``shared.<key>``,
``device.<i>.<key>``, ``device.<i>.set.<instance key>``) and ``method`` is an allocation
method; the first point is parsed as a fleet before any job runs, and each job runs
:func:`coopt.fleet.solve.solve_fleet` (docs/model.md section 12).

Spec errors (an unknown key, an empty range, a value of the wrong type for its key, two
points that are the same job) raise :class:`~coopt.errors.InstanceError` before anything
runs. Values that have the right type but that the instance validation refuses (a
negative bandwidth) are not spec errors: their jobs fail and are recorded as failed.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
import math
import tomllib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, overload

import numpy as np

from coopt.errors import InstanceError
from coopt.model.instance import _suggest, instance_keys, key_kind, set_key
from coopt.model.vocabulary import Method

SNR_KEY = "channel.mean_snr_db"
METHOD_KEY = "method"
METHODS = tuple(Method)
RANGES = ("linspace", "logspace", "geomspace")
SPEC_KEYS = ("base", "method", "zip", "grid", "mip", "simulate")
MIP_KEYS = ("time_limit", "mip_gap", "threads")
SIMULATE_KEYS = ("tasks", "seed", "policies")
RULE_POLICY = "rule"  # in simulate.policies: the point's own rule


@dataclass(frozen=True)
class Axis:
    """One swept key: its values (JSON scalars) and whether they were spaced logarithmically."""

    key: str
    values: tuple[Any, ...]
    log: bool


@dataclass(frozen=True)
class Job:
    """One grid point, ready to run anywhere (plain data, picklable).

    ``doc`` is the resolved instance document (TOML as a dict), ``base_dir`` where its
    relative profile path is looked up, ``values`` the point's value of every axis.
    """

    index: int
    key: str
    values: dict[str, Any]
    doc: dict[str, Any]
    base_dir: str
    name: str
    method: str
    mip: dict[str, Any]
    simulate: dict[str, Any] | None
    fleet: bool = False  # doc is a fleet document (docs/model.md 11.1), solved by solve_fleet


class _Block(Sequence[dict[str, Any]]):
    """One crossed block of a grid (an axis, or a zipped group): point ``i`` is
    ``{key: values[i]}`` for each of its keys, made when asked for (the values are the
    axes' own tuples, so a block of 10^6 values holds no dict per value)."""

    def __init__(self, keys: list[str], values: list[tuple[Any, ...]]):
        self._keys = keys
        self._values = values

    def __len__(self) -> int:
        return len(self._values[0])

    @overload
    def __getitem__(self, i: int) -> dict[str, Any]: ...

    @overload
    def __getitem__(self, i: slice) -> list[dict[str, Any]]: ...

    def __getitem__(self, i: int | slice) -> dict[str, Any] | list[dict[str, Any]]:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        return {k: v[i] for k, v in zip(self._keys, self._values)}


PROBE_JOBS = 1000  # values of a block whose jobs are built at load (GridJobs.probe)


def _values_digest(block: Sequence[dict[str, Any]], start: int) -> str:
    """SHA-256 of the canonical JSON of a block's values from ``start`` on, one a line."""
    digest = hashlib.sha256()
    for i in range(start, len(block)):
        digest.update(_canonical(block[i]).encode("utf-8") + b"\n")
    return digest.hexdigest()


def _repeated_value(block: Sequence[dict[str, Any]]) -> tuple[int, int] | None:
    """``(later, first)``: the first value of ``block`` whose canonical JSON repeats an
    earlier one's, and that one; ``None`` when all differ. Hashes in an array, sorted, and
    equal hashes confirmed by their texts: no set of a million strings."""
    hashes = np.fromiter((hash(_canonical(block[i])) for i in range(len(block))), np.int64, len(block))
    order = np.argsort(hashes, kind="stable")
    ranked = hashes[order]
    best: tuple[int, int] | None = None
    for k in np.flatnonzero(ranked[1:] == ranked[:-1]).tolist():
        a, b = int(order[k]), int(order[k + 1])  # a < b: the sort is stable
        if _canonical(block[a]) == _canonical(block[b]) and (best is None or b < best[0]):
            best = (b, a)
    if best is not None:  # the first occurrence of the repeated text
        text = _canonical(block[best[0]])
        best = (best[0], next(i for i in range(best[0]) if _canonical(block[i]) == text))
    return best


class GridJobs(Sequence[Job]):
    """The jobs of a grid, made on demand: job ``i`` is built (its document resolved and
    its key hashed) only when it is asked for, so a grid of 10^9 points costs nothing
    until its jobs are read, and its length is the product of the axis lengths.

    ``blocks`` are the crossed axes (a zipped group is one block), each the list of its
    points' ``{key: value}``; the first block varies slowest. ``make(index, values)``
    builds one job.
    """

    def __init__(
        self, blocks: Sequence[Sequence[dict[str, Any]]], make: Callable[[int, dict[str, Any]], Job], slow: bool
    ):
        self._blocks = blocks
        self._make = make
        self.slow = slow  # every job simulates or may be a MIP: batches of one (coopt.sweep.engines)
        sizes = [len(b) for b in blocks]
        self._count = math.prod(sizes)
        self.strides = [math.prod(sizes[b + 1 :]) for b in range(len(sizes))]
        self._probe: list[str] | None = None

    @property
    def size(self) -> int:
        """The number of points (also ``len``, when it fits in an index)."""
        return self._count

    def __len__(self) -> int:
        return self._count

    def values(self, index: int) -> dict[str, Any]:
        """The axis values of point ``index`` (no document is built)."""
        parts = []
        for block, stride in zip(self._blocks, self.strides):
            parts.append(block[(index // stride) % len(block)])
        return {k: v for part in parts for k, v in part.items()}

    @overload
    def __getitem__(self, index: int) -> Job: ...

    @overload
    def __getitem__(self, index: slice) -> list[Job]: ...

    def __getitem__(self, index: int | slice) -> Job | list[Job]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(self._count))]
        if index < 0:
            index += self._count
        if not 0 <= index < self._count:
            raise IndexError(f"point {index} of a grid of {self._count}")
        return self._make(index, self.values(index))

    def __iter__(self) -> Iterator[Job]:
        ranges = [range(len(block)) for block in self._blocks]
        for index, combo in enumerate(itertools.product(*ranges)):
            parts = [block[i] for block, i in zip(self._blocks, combo)]
            yield self._make(index, {k: v for part in parts for k, v in part.items()})

    def probe(self) -> list[str]:
        """The keys of point 0 and of every point that differs from it in one block, block
        by block (``sum`` of the axis lengths, not their product); beyond the first
        :data:`PROBE_JOBS` values of a block, the SHA-256 of its other values instead.

        Raises :class:`InstanceError` when two points are the same job: a block with two
        values that give the same job (a repeated value, or an axis that another one
        overrides) repeats every point, and the first repeat in grid order is one of
        these. An override shows in the first two values; a repeated value beyond the
        first :data:`PROBE_JOBS` is found by its canonical JSON text (equal text, equal job).
        """
        if self._probe is not None:
            return self._probe
        keys: list[str] = []
        repeats: list[tuple[int, int, dict[str, Any]]] = []
        job0 = self[0]
        for block, stride in zip(self._blocks, self.strides):
            seen: dict[str, int] = {}
            for i in range(min(len(block), PROBE_JOBS)):
                job = job0 if i == 0 else self[i * stride]
                keys.append(job.key)
                if job.key not in seen:
                    seen[job.key] = i * stride
                else:
                    repeats.append((i * stride, seen[job.key], job.values))
                    break
            if len(block) > PROBE_JOBS:
                keys.append(_values_digest(block, PROBE_JOBS))
                repeat = _repeated_value(block)
                if repeat is not None:
                    later, first = repeat
                    repeats.append((later * stride, first * stride, self.values(later * stride)))
        if repeats:
            index, first, values = min(repeats, key=lambda r: r[0])
            raise InstanceError(f"grid: points {first} and {index} are the same job ({values}); remove the repeat")
        self._probe = keys
        return keys


# Up to this many points the fingerprint hashes every job key (as it always has, so that
# the directories of earlier runs resume); beyond, it hashes the probe keys
# (GridJobs.probe), since building 10^9 jobs before the first one runs would take hours.
EXACT_FINGERPRINT_POINTS = 100_000


@dataclass(frozen=True)
class SweepSpec:
    """A parsed spec: its axes in file order and its jobs in grid order (made lazily, see
    :class:`GridJobs`; any sequence of jobs will do, e.g. a tuple of some of them)."""

    path: Path
    axes: tuple[Axis, ...]
    jobs: Sequence[Job]

    @property
    def points(self) -> int:
        """The number of grid points (jobs)."""
        return self.jobs.size if isinstance(self.jobs, GridJobs) else len(self.jobs)

    @cached_property
    def fingerprint(self) -> str:
        """SHA-256 of the ordered job keys and axis names: equal specs, equal fingerprints.

        Beyond :data:`EXACT_FINGERPRINT_POINTS` points of a grid, the SHA-256 of the axis
        names, the number of points and the probe keys (:meth:`GridJobs.probe`): every
        key is a function of the block values, each of which the probe keys hold.
        """
        axes = [a.key for a in self.axes]
        if isinstance(self.jobs, GridJobs) and self.jobs.size > EXACT_FINGERPRINT_POINTS:
            return _sha256({"axes": axes, "points": self.jobs.size, "probe": self.jobs.probe()})
        # _sha256({"axes": axes, "jobs": keys}), streamed: the keys are not held at once.
        digest = hashlib.sha256()
        digest.update(b'{"axes":' + _canonical(axes).encode("utf-8") + b',"jobs":[')
        for i, job in enumerate(self.jobs):
            digest.update(f'{"," if i else ""}"{job.key}"'.encode())
        digest.update(b"]}")
        return digest.hexdigest()

    def manifest(self) -> dict[str, Any]:
        """What a results directory records about the spec that owns it."""
        return {
            "spec": str(self.path),
            "fingerprint": self.fingerprint,
            "points": self.points,
            "axes": [{"key": a.key, "values": list(a.values), "log": a.log} for a in self.axes],
        }


def _canonical(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=False)


def _sha256(obj: Any) -> str:
    return hashlib.sha256(_canonical(obj).encode("utf-8")).hexdigest()


def _flatten_grid(grid: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``[grid]`` entries as dotted keys: unquoted ``channel.mean_gain = ...`` is a nested table in TOML."""
    out: dict[str, Any] = {}
    for name, value in grid.items():
        key = f"{prefix}{name}"
        if isinstance(value, dict) and not (set(value) & set(RANGES)):
            out.update(_flatten_grid(value, key + "."))
        else:
            out[key] = value
    return out


def _range(key: str, spec: dict[str, Any]) -> tuple[list[float], bool]:
    if len(spec) != 1 or next(iter(spec)) not in RANGES:
        raise InstanceError(f"grid.{key} = {spec}: a range is one of {{{' | '.join(RANGES)} = [start, stop, num]}}")
    kind, args = next(iter(spec.items()))
    if (
        not isinstance(args, list)
        or len(args) != 3
        or any(isinstance(a, bool) or not isinstance(a, (int, float)) or not math.isfinite(a) for a in args)
    ):
        raise InstanceError(f"grid.{key}.{kind} = {args}: must be [start, stop, num] (finite numbers)")
    start, stop, num = args
    if not isinstance(num, int) or num < 1:
        raise InstanceError(f"grid.{key}.{kind} = {args}: num = {num} must be an integer >= 1 (the range is empty)")
    if kind == "geomspace" and (start == 0 or stop == 0 or (start < 0) != (stop < 0)):
        raise InstanceError(f"grid.{key}.geomspace = {args}: start and stop must be nonzero with the same sign")
    values = getattr(np, kind)(start, stop, num)
    return [float(v) for v in values], kind != "linspace"


def _check_value(key: str, kind: str | None, value: Any) -> Any:
    """A grid value of the right JSON type for its key (ranges are checked by the instance parser)."""
    number = not isinstance(value, bool) and isinstance(value, (int, float))
    if kind == "number" and not (number and math.isfinite(value)):
        raise InstanceError(f"grid.{key}: value {value!r} is not a number ({key} takes a number)")
    if kind == "integer":
        if not number or not float(value).is_integer():
            raise InstanceError(f"grid.{key}: value {value!r} is not an integer ({key} takes an integer)")
        return int(value)
    if kind == "string" and not isinstance(value, str):
        raise InstanceError(f"grid.{key}: value {value!r} is not a string ({key} takes a string)")
    if kind == "list" and not isinstance(value, list):
        raise InstanceError(f"grid.{key}: value {value!r} is not a list ({key} takes a list)")
    if key == METHOD_KEY and value not in METHODS:
        raise InstanceError(f"grid.method: value {value!r} is not one of {', '.join(METHODS)}")
    return value


def _axis(key: str, raw: Any) -> Axis:
    kind = "number" if key == SNR_KEY else (None if key == METHOD_KEY else key_kind(key))
    if kind is None and key != METHOD_KEY:
        valid = [*instance_keys(), SNR_KEY, METHOD_KEY]
        raise InstanceError(f"grid.{key}: unknown key" + _suggest(key, valid))
    log = False
    if isinstance(raw, dict):
        values, log = _range(key, raw)
    elif isinstance(raw, list):
        if not raw:
            raise InstanceError(f"grid.{key} = []: must be a non-empty list of values or a range")
        values = raw
    else:
        raise InstanceError(f"grid.{key} = {raw!r}: must be a non-empty list of values or a range")
    return Axis(key, tuple(_check_value(key, kind, v) for v in values), log)


def _zip_groups(raw: Any, axes: dict[str, Axis]) -> list[list[str]]:
    if raw is None:
        return []
    if not isinstance(raw, list) or not all(isinstance(g, list) and g for g in raw):
        raise InstanceError(f"zip = {raw!r}: must be a list of lists of grid keys")
    seen: set[str] = set()
    for group in raw:
        for key in group:
            if key not in axes:
                raise InstanceError(f"zip: {key!r} is not a key of [grid]")
            if key in seen:
                raise InstanceError(f"zip: {key!r} appears in more than one group")
            seen.add(key)
        lengths = {len(axes[k].values) for k in group}
        if len(lengths) > 1:
            sizes = ", ".join(f"{k}: {len(axes[k].values)}" for k in group)
            raise InstanceError(f"zip {group}: zipped axes must have equal lengths, got {sizes}")
    return raw


def _options(table: str, raw: Any, allowed: tuple[str, ...]) -> dict[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise InstanceError(f"{table} = {raw!r}: must be a table [{table}]")
    for key in raw:
        if key not in allowed:
            raise InstanceError(f"{table}.{key}: unknown key" + _suggest(key, list(allowed)))
    return dict(raw)


def _simulate_options(raw: Any) -> dict[str, Any] | None:
    if raw is None:
        return None
    from coopt.sim.simulate import POLICIES

    opts = _options("simulate", raw, SIMULATE_KEYS)
    tasks = opts.get("tasks", 10_000)
    if isinstance(tasks, bool) or not isinstance(tasks, int) or tasks < 2:
        raise InstanceError(f"simulate.tasks = {tasks!r}: must be an integer >= 2")
    seed = opts.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise InstanceError(f"simulate.seed = {seed!r}: must be an integer >= 0")
    policies = opts.get("policies", [RULE_POLICY])
    allowed = (RULE_POLICY, *POLICIES)
    if not isinstance(policies, list) or not policies or any(p not in allowed for p in policies):
        raise InstanceError(f"simulate.policies = {policies!r}: must be a non-empty list of {', '.join(allowed)}")
    return {"tasks": tasks, "seed": seed, "policies": list(dict.fromkeys(policies))}


def _apply_snr(doc: dict[str, Any], snr_db: float) -> None:
    """``channel.mean_gain`` from the mean SNR; a base that cannot take it fails in the parser."""
    try:
        noise, power = doc["uplink"]["noise_w"], doc["device"]["tx_power_w"]
        gain = 10.0 ** (snr_db / 10.0) * noise / power
    except (KeyError, TypeError, ZeroDivisionError):
        raise InstanceError(f"{SNR_KEY} = {snr_db}: needs numeric uplink.noise_w and device.tx_power_w > 0") from None
    law = doc.get("channel", {}).get("law")
    if law not in ("rayleigh", "nakagami", "rician"):
        raise InstanceError(f"{SNR_KEY} = {snr_db}: applies to a continuous channel.law, not {law!r}")
    set_key(doc, "channel.mean_gain", gain)


def _blocks(axes: list[Axis], groups: list[list[str]]) -> list[_Block]:
    """The crossed blocks of the grid, each the list of its points ``{axis key: value}``:
    zipped groups move together (one block), blocks are crossed, the first slowest."""
    zipped = {k: g for g in groups for k in g}
    blocks: list[_Block] = []
    for axis in axes:
        group = zipped.get(axis.key, [axis.key])
        if group[0] != axis.key:
            continue  # a later member of a zipped group: placed with its first member
        by_key = {a.key: a.values for a in axes if a.key in group}
        blocks.append(_Block(list(group), [by_key[k] for k in group]))
    return blocks


def _profile_digest(doc: dict[str, Any], base_dir: Path) -> str | None:
    """SHA-256 of a profile file the instance names (a CSV or ONNX path), so that editing
    the file changes the job keys; ``None`` for a shipped profile (part of ``coopt_version``)."""
    spec = doc.get("network", {}).get("profile")
    if not isinstance(spec, str):
        return None
    path = Path(spec) if Path(spec).is_absolute() else base_dir / spec
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None


def _read_toml(path: Path, what: str) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InstanceError(f"{path}: no such {what} file") from None
    except (IsADirectoryError, PermissionError, UnicodeDecodeError) as exc:
        raise InstanceError(f"{path}: cannot read {what} file ({exc.__class__.__name__})") from None
    except tomllib.TOMLDecodeError as exc:
        raise InstanceError(f"{path}: invalid TOML: {exc}") from None


def load_spec(path: str | Path) -> SweepSpec:
    """Read a sweep spec and expand it into jobs (see the module docstring).

    Raises
    ------
    InstanceError
        One line naming the spec key, the value and what is allowed.
    """
    path = Path(path)
    raw = _read_toml(path, "sweep spec")
    for key in raw:
        if key not in SPEC_KEYS:
            raise InstanceError(f"{path.name}: {key}: unknown key" + _suggest(key, list(SPEC_KEYS)))
    base = raw.get("base")
    if not isinstance(base, str) or not base:
        raise InstanceError(f"base = {base!r}: must name the base instance file (relative to the spec)")
    base_path = (path.resolve().parent / base).resolve()
    base_doc = _read_toml(base_path, "instance")
    if "shared" in base_doc:  # a fleet (MODEL.md 11.1): its own keys, methods and solver
        return _fleet_spec(path, raw, base_path, base_doc)
    method = raw.get("method", "enumeration")
    _check_value(METHOD_KEY, None, method)
    grid = raw.get("grid")
    if not isinstance(grid, dict) or not grid:
        raise InstanceError("grid: missing or empty; a spec sweeps at least one key")
    axes = [_axis(key, values) for key, values in _flatten_grid(grid).items()]
    groups = _zip_groups(raw.get("zip"), {a.key: a for a in axes})
    mip = _options("mip", raw.get("mip"), MIP_KEYS)
    if mip:
        from coopt.mip.highs import MipOptions

        MipOptions(**mip)  # validates the values now, not in every job
    sim = _simulate_options(raw.get("simulate"))

    base_dir = base_path.parent

    def make(index: int, values: dict[str, Any]) -> Job:
        doc = copy.deepcopy(base_doc)
        for key, value in values.items():
            if key not in (METHOD_KEY, SNR_KEY):
                set_key(doc, key, value)
        job_method = values.get(METHOD_KEY, method)
        job_mip = mip if job_method == "mip" else {}
        if SNR_KEY in values:
            try:
                _apply_snr(doc, values[SNR_KEY])
            except InstanceError as exc:
                raise InstanceError(f"grid.{exc}") from None
        profile = _profile_digest(doc, base_dir)
        key = _sha256({"instance": doc, "profile": profile, "method": job_method, "mip": job_mip, "simulate": sim})
        return Job(index, key, values, doc, str(base_dir), base_path.stem, job_method, job_mip, sim)

    methods = {v for a in axes if a.key == METHOD_KEY for v in a.values} or {method}
    jobs = GridJobs(_blocks(axes, groups), make, slow=sim is not None or "mip" in methods)
    jobs.probe()  # every value's job built once: bad values and repeated jobs are refused now
    return SweepSpec(path=path, axes=tuple(axes), jobs=jobs)


FLEET_SPEC_KEYS = ("base", "method", "zip", "grid", "mip")


def _check_fleet_value(key: str, kind: str, value: Any) -> Any:
    """A grid value of the right JSON type for a fleet key (ranges are the fleet parser's)."""
    number = not isinstance(value, bool) and isinstance(value, (int, float))
    if kind == "levels":
        if not (number and float(value).is_integer()) and not isinstance(value, list):
            raise InstanceError(
                f"grid.{key}: value {value!r} is not an integer L or a list of shares ({key} takes levels)"
            )
        return int(value) if number else value
    if kind == "distance":
        if not (number and math.isfinite(value)) and not isinstance(value, dict):
            raise InstanceError(f"grid.{key}: value {value!r} is not a distance in metres or {{ disc, seed }}")
        return value
    return _check_value(key, kind, value)


def _fleet_digest(doc: dict[str, Any], base_dir: Path) -> list[str | None]:
    """SHA-256 of each device instance file and of the profile it names, so that editing them
    changes the job keys (``None`` for a missing file: its job fails in the parser)."""
    out: list[str | None] = []
    for entry in doc.get("device", []) if isinstance(doc.get("device"), list) else []:
        name = entry.get("instance") if isinstance(entry, dict) else None
        path = Path(name) if isinstance(name, str) else None
        if path is not None and not path.is_absolute():
            path = base_dir / path
        if path is None or not path.is_file():
            out.append(None)
            continue
        out.append(hashlib.sha256(path.read_bytes()).hexdigest())
        try:
            instance_doc = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError):
            continue
        out.append(_profile_digest(instance_doc, path.parent))
    return out


def _fleet_spec(path: Path, raw: dict[str, Any], base_path: Path, base_doc: dict[str, Any]) -> SweepSpec:
    """The jobs of a sweep whose base is a fleet file: axes ``shared.<key>``,
    ``device.<i>.<key>``, ``device.<i>.set.<instance key>`` and ``method`` (a fleet method)."""
    from coopt.fleet.files import fleet_key_kind, parse_fleet, set_fleet_key
    from coopt.fleet.knapsack_data import METHODS as FLEET_METHODS

    for key in raw:
        if key not in FLEET_SPEC_KEYS:
            extra = " (not supported with a fleet base yet)" if key == "simulate" else ""
            raise InstanceError(f"{path.name}: {key}: unknown key{extra}" + _suggest(key, list(FLEET_SPEC_KEYS)))
    method = raw.get("method", "auto")
    if method not in FLEET_METHODS:
        raise InstanceError(f"method = {method!r}: a fleet's method is one of {', '.join(FLEET_METHODS)}")
    grid = raw.get("grid")
    if not isinstance(grid, dict) or not grid:
        raise InstanceError("grid: missing or empty; a spec sweeps at least one key")
    axes = []
    for key, values in _flatten_grid(grid).items():
        if key == METHOD_KEY:
            axis = _axis_values(key, values)
            bad = [v for v in axis.values if v not in FLEET_METHODS]
            if bad:
                raise InstanceError(f"grid.method: value {bad[0]!r} is not one of {', '.join(FLEET_METHODS)}")
        else:
            try:
                kind = fleet_key_kind(base_doc, key)
            except InstanceError as exc:
                raise InstanceError(f"grid.{exc}") from None
            axis = _axis_values(key, values)
            axis = Axis(key, tuple(_check_fleet_value(key, kind, v) for v in axis.values), axis.log)
        axes.append(axis)
    groups = _zip_groups(raw.get("zip"), {a.key: a for a in axes})
    mip = _options("mip", raw.get("mip"), MIP_KEYS)
    if mip:
        from coopt.mip.highs import MipOptions

        MipOptions(**mip)

    base_dir = base_path.parent

    def make(index: int, values: dict[str, Any]) -> Job:
        doc = copy.deepcopy(base_doc)
        for key, value in values.items():
            if key != METHOD_KEY:
                set_fleet_key(doc, key, copy.deepcopy(value))
        job_method = values.get(METHOD_KEY, method)
        job_mip = mip if job_method in ("mip", "auto") else {}
        files = _fleet_digest(doc, base_dir)
        key = _sha256({"fleet": doc, "files": files, "method": job_method, "mip": job_mip})
        return Job(index, key, values, doc, str(base_dir), base_path.stem, job_method, job_mip, None, fleet=True)

    methods = {v for a in axes if a.key == METHOD_KEY for v in a.values} or {method}
    jobs = GridJobs(_blocks(axes, groups), make, slow="mip" in methods)
    first = jobs[0]  # fail fast on the first point: the fleet parser's own one-line errors
    try:
        parse_fleet(copy.deepcopy(first.doc), base_dir, base_path.stem)
    except InstanceError as exc:
        raise InstanceError(f"grid (point 0, {first.values}): {exc}") from None
    jobs.probe()
    return SweepSpec(path=path, axes=tuple(axes), jobs=jobs)


def _axis_values(key: str, raw: Any) -> Axis:
    """An axis's raw values (a list or a range), unchecked."""
    if isinstance(raw, dict):
        values, log = _range(key, raw)
        return Axis(key, tuple(values), log)
    if isinstance(raw, list) and raw:
        return Axis(key, tuple(raw), False)
    raise InstanceError(f"grid.{key} = {raw!r}: must be a non-empty list of values or a range")
