"""Instances: the TOML file of docs/model.md section 8, validated into frozen dataclasses.

This module is the only parser. :func:`load_instance` checks every value at the
boundary and raises :class:`~coopt.errors.InstanceError` with one line naming the
key, the value and what is allowed, e.g. ``channel.states = 0: must be an integer >= 1``.

Defaults (everything else is required)
--------------------------------------
================================  ================================================
key                               default
================================  ================================================
``network.feature_bits``          32
``network.param_bits``            32
``network.cuts``                  ``"all"`` (ONNX profiles only; ``"single"``: only
                                  single-tensor cuts, docs/model.md 10.2)
``device.idle_power_w``           0.0
``device.compute_power_w``        none; required when the profile has ``device_s``
                                  but no ``device_j`` (docs/model.md 10.1)
``channel.states``                16 (continuous laws only)
``channel.initial``               the stationary distribution (Markov only)
``channel.doppler_hz``            none (i.i.d.); Clarke's model, Rayleigh only
``channel.coherence_s``           none (i.i.d.); Gauss-Markov, Rayleigh only
``uplink.overhead_s``             0.0 (fixed latency per upload)
``uplink.overhead_j``             0.0 (fixed device energy per upload)
``wait.mode``                     ``"last"``
``wait.slot_s``                   none; required unless ``wait.mode = "never"``
``placement.rx_energy_per_bit``   0.0
``placement.memory_bits``         unlimited
``placement.rule``                ``"optimal"``
================================  ================================================

Ranges (:data:`RANGES`; inclusive, finite, in SI units)
-------------------------------------------------------
================================  ==================================================
key                               range
================================  ==================================================
``network.feature_bits``          1 .. 1024 bits
``network.param_bits``            1 .. 1024 bits
``device.cpu_hz``                 1 .. 1e15 Hz
``device.cycles_per_mac``         1e-6 .. 1e6 cycles
``device.kappa``                  0 .. 1e-15 J/(Hz^2 cycle)
``device.tx_power_w``             1e-15 .. 1e6 W
``device.idle_power_w``           0 .. 1e6 W
``device.compute_power_w``        0 .. 1e6 W
``edge.cpu_hz``                   1 .. 1e15 Hz
``edge.cycles_per_mac``           1e-6 .. 1e6 cycles
``uplink.bandwidth_hz``           1 .. 1e12 Hz
``uplink.noise_w``                1e-30 .. 1e3 W
``uplink.overhead_s``             0 .. 1e6 s
``uplink.overhead_j``             0 .. 1e6 J
``channel.mean_gain``             1e-30 .. 1e6
``channel.states``                1 .. 1000000
``channel.m``                     0.5 .. 1e4 (checked for ``nakagami`` only)
``channel.k_factor``              0 .. 1e4
``channel.gains``                 1e-30 .. 1e6 each
``channel.doppler_hz``            1e-6 .. 1e9 Hz
``channel.coherence_s``           1e-12 .. 1e6 s
``cost.energy_weight``            0 .. 1e12 1/J
``cost.time_weight``              0 .. 1e12 1/s
``wait.slot_s``                   1e-9 .. 1e6 s (checked unless ``mode = "never"``)
``placement.tasks_per_period``    1e-3 .. 1e15
``placement.downlink_bps``        1 .. 1e15 bit/s
``placement.rx_energy_per_bit``   0 .. 1 J/bit
``placement.memory_bits``         0 .. inf bits
================================  ==================================================

With these, every derived quantity of :mod:`coopt.model.costs` (and so ``Y``,
``Phi`` and ``D``) is finite in float64 for profile counts up to ``2^63 - 1``: the
largest stop cost is about 1e90, the smallest rate about 1e-48 bit/s.
:func:`coopt.model.costs.check_finite` checks the produced numbers again.

Keys that the chosen law or wait mode does not use (``channel.gains`` with
``law = "rayleigh"``, ``wait.slot_s`` with ``mode = "never"``) are accepted and
ignored, so that switching a law is a one-line edit. Unknown keys are errors, with
the closest valid key suggested.

Measured profiles (docs/model.md 10.1): the keys that turn MACs into seconds and joules
are required only where a layer still needs them. ``device.cpu_hz`` and
``device.cycles_per_mac`` when the profile has no ``device_s`` column or no energy
column; ``device.kappa`` when it has neither ``device_j`` nor ``device_s``;
``edge.cpu_hz`` and ``edge.cycles_per_mac`` when it has no ``edge_s`` column.
"""

from __future__ import annotations

import difflib
import math
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from coopt.errors import InstanceError
from coopt.model.constraints import QoS, parse_constraints
from coopt.model.files import read_text
from coopt.model.onnx_graph import CUTS, is_onnx_spec, read_network, resolve_onnx_path
from coopt.model.profiles import Profile, load_profile
from coopt.model.vocabulary import Rule, WaitMode

LAWS = ("rayleigh", "nakagami", "rician", "finite", "markov")
WAIT_MODES = tuple(WaitMode)
RULES = tuple(Rule)
PROB_TOL = 1e-9


@dataclass(frozen=True)
class Network:
    """The ``[network]`` table; ``graph`` is the :class:`~coopt.model.onnx_graph.OnnxNetwork`
    when the profile is an ONNX file (its live sets, for exporting the split)."""

    profile_spec: str
    feature_bits: int
    param_bits: int
    profile: Profile = field(compare=False, repr=False)
    cuts: str = "all"
    graph: Any = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Device:
    """The ``[device]`` table; a key the profile's measured columns make unneeded is ``None``."""

    cpu_hz: float | None
    cycles_per_mac: float | None
    kappa: float | None
    tx_power_w: float
    idle_power_w: float
    compute_power_w: float | None = None


@dataclass(frozen=True)
class Edge:
    """The ``[edge]`` table; ``None`` where the profile measures ``edge_s``."""

    cpu_hz: float | None
    cycles_per_mac: float | None


@dataclass(frozen=True)
class Uplink:
    bandwidth_hz: float
    noise_w: float
    overhead_s: float = 0.0
    overhead_j: float = 0.0


@dataclass(frozen=True)
class ChannelSpec:
    """The ``[channel]`` table. Lists are tuples; unused keys are ``None``."""

    law: str
    mean_gain: float | None = None
    states: int = 16
    m: float | None = None
    k_factor: float | None = None
    gains: tuple[float, ...] | None = None
    probs: tuple[float, ...] | None = None
    transition: tuple[tuple[float, ...], ...] | None = None
    initial: tuple[float, ...] | None = None
    doppler_hz: float | None = None
    coherence_s: float | None = None

    @property
    def is_markov(self) -> bool:
        """A chain given as a matrix (``law = "markov"``); see also :attr:`is_correlated`."""
        return self.law == "markov"

    @property
    def is_correlated(self) -> bool:
        """Rayleigh fading that evolves in real time (docs/model.md section 10.4)."""
        return self.doppler_hz is not None or self.coherence_s is not None

    @property
    def is_continuous(self) -> bool:
        return self.law in ("rayleigh", "nakagami", "rician")


@dataclass(frozen=True)
class CostWeights:
    energy_weight: float
    time_weight: float


@dataclass(frozen=True)
class Wait:
    mode: str = "last"
    slot_s: float | None = None


@dataclass(frozen=True)
class PlacementSpec:
    tasks_per_period: float
    downlink_bps: float
    rx_energy_per_bit: float = 0.0
    memory_bits: float = math.inf
    rule: str = "optimal"


@dataclass(frozen=True)
class Instance:
    """A validated instance. Build it with :func:`load_instance` or :func:`parse_instance`."""

    network: Network
    device: Device
    edge: Edge
    uplink: Uplink
    channel: ChannelSpec
    cost: CostWeights
    wait: Wait
    placement: PlacementSpec
    name: str = "instance"
    constraints: QoS | None = None

    @property
    def profile(self) -> Profile:
        return self.network.profile

    @property
    def n_layers(self) -> int:
        return self.network.profile.n_layers

    def with_rule(self, rule: str) -> Instance:
        """A copy with ``placement.rule`` replaced (validated)."""
        _check_choice("placement.rule", rule, RULES)
        return replace(self, placement=replace(self.placement, rule=rule))


# ----------------------------------------------------------------------------- checks

REQUIRED = object()


def _fmt(value: Any) -> str:
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, list) and len(value) > 8:
        return "[" + ", ".join(map(str, value[:8])) + ", ...]"
    return str(value)


def _check_choice(key: str, value: Any, choices: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in choices:
        allowed = " | ".join(f'"{c}"' for c in choices)
        raise InstanceError(f"{key} = {_fmt(value)}: must be one of {allowed}")
    return value


def _number(key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InstanceError(f"{key} = {_fmt(value)}: must be a number, got {type(value).__name__}")
    if not math.isfinite(value):
        raise InstanceError(f"{key} = {_fmt(value)}: must be a finite number")
    return float(value)


def positive(key: str, value: Any) -> float:
    v = _number(key, value)
    if v <= 0:
        raise InstanceError(f"{key} = {_fmt(value)}: must be > 0")
    return v


def nonnegative(key: str, value: Any) -> float:
    v = _number(key, value)
    if v < 0:
        raise InstanceError(f"{key} = {_fmt(value)}: must be >= 0")
    return v


def _int_at_least(low: int) -> Callable[[str, Any], int]:
    def check(key: str, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise InstanceError(f"{key} = {_fmt(value)}: must be an integer >= {low}")
        return int(value)

    return check


def _string(key: str, value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise InstanceError(f"{key} = {_fmt(value)}: must be a non-empty string")
    return value


def _vector(key: str, value: Any, check: Callable[[str, Any], float]) -> tuple[float, ...]:
    if not isinstance(value, list) or not value:
        raise InstanceError(f"{key} = {_fmt(value)}: must be a non-empty list of numbers")
    return tuple(check(f"{key}[{i}]", v) for i, v in enumerate(value))


def _distribution(key: str, value: Any) -> tuple[float, ...]:
    p = _vector(key, value, nonnegative)
    total = math.fsum(p)
    if abs(total - 1.0) > PROB_TOL:
        raise InstanceError(f"{key} = {_fmt(list(value))}: must sum to 1 within {PROB_TOL:g}, sums to {total!r}")
    return tuple(x / total for x in p)


def _matrix(key: str, value: Any, n: int) -> tuple[tuple[float, ...], ...]:
    if not isinstance(value, list) or not all(isinstance(r, list) for r in value):
        raise InstanceError(f"{key} = {_fmt(value)}: must be a list of rows (a square matrix)")
    if len(value) != n or any(len(r) != len(value) for r in value):
        shape = f"{len(value)} rows of lengths {[len(r) for r in value]}"
        raise InstanceError(f"{key}: must be a square {n} x {n} matrix matching channel.gains, got {shape}")
    return tuple(_distribution(f"{key}[{i}]", r) for i, r in enumerate(value))


# Finite ranges of every numeric key: (low, high, unit). They are wide enough for any
# physical device, link and model, and narrow enough that every derived quantity
# (a_i, b_i, rates, T_n, Y_n, D(M), Phi) stays far inside float64 for a profile of
# int64 counts: the largest stop cost they allow is about 1e90 and the smallest rate
# about 1e-48 bit/s (see README "Instance files").
RANGES: dict[str, tuple[float, float, str]] = {
    "network.feature_bits": (1, 1024, "bits"),
    "network.param_bits": (1, 1024, "bits"),
    "device.cpu_hz": (1.0, 1e15, "Hz"),
    "device.cycles_per_mac": (1e-6, 1e6, "cycles"),
    "device.kappa": (0.0, 1e-15, "J/(Hz^2 cycle)"),
    "device.tx_power_w": (1e-15, 1e6, "W"),
    "device.idle_power_w": (0.0, 1e6, "W"),
    "device.compute_power_w": (0.0, 1e6, "W"),
    "edge.cpu_hz": (1.0, 1e15, "Hz"),
    "edge.cycles_per_mac": (1e-6, 1e6, "cycles"),
    "uplink.bandwidth_hz": (1.0, 1e12, "Hz"),
    "uplink.noise_w": (1e-30, 1e3, "W"),
    "uplink.overhead_s": (0.0, 1e6, "s"),
    "uplink.overhead_j": (0.0, 1e6, "J"),
    "channel.mean_gain": (1e-30, 1e6, ""),
    "channel.states": (1, 1_000_000, "states"),
    "channel.m": (0.5, 1e4, ""),
    "channel.k_factor": (0.0, 1e4, ""),
    "channel.gains": (1e-30, 1e6, ""),
    "channel.doppler_hz": (1e-6, 1e9, "Hz"),
    "channel.coherence_s": (1e-12, 1e6, "s"),
    "cost.energy_weight": (0.0, 1e12, "1/J"),
    "cost.time_weight": (0.0, 1e12, "1/s"),
    "wait.slot_s": (1e-9, 1e6, "s"),
    "placement.tasks_per_period": (1e-3, 1e15, "tasks"),
    "placement.downlink_bps": (1.0, 1e15, "bit/s"),
    "placement.rx_energy_per_bit": (0.0, 1.0, "J/bit"),
    "placement.memory_bits": (0.0, math.inf, "bits"),
}


def _range_text(low: float, high: float, unit: str) -> str:
    return f"in [{low:g}, {high:g}]" + (f" {unit}" if unit else "")


def _ranged(key: str, check: Callable[[str, Any], Any]) -> Callable[[str, Any], Any]:
    """``check`` followed by the range of ``key`` in :data:`RANGES` (each entry of a list)."""
    low, high, unit = RANGES[key]

    def in_range(name: str, value: Any) -> Any:
        v = check(name, value)
        for i, x in enumerate(v if isinstance(v, tuple) else (v,)):
            if not low <= x <= high:
                where = f"{name}[{i}]" if isinstance(v, tuple) else name
                shown = value[i] if isinstance(v, tuple) else value
                raise InstanceError(f"{where} = {_fmt(shown)}: must be {_range_text(low, high, unit)}")
        return v

    in_range.__wrapped__ = check  # type: ignore[attr-defined]  # key_kind reads the plain check
    return in_range


# Schema: table -> key -> (checker, default). REQUIRED marks required keys; keys whose
# requirement depends on other keys are checked in _build_* below.
_SCHEMA: dict[str, dict[str, tuple[Callable[[str, Any], Any], Any]]] = {
    "network": {
        "profile": (_string, REQUIRED),
        "feature_bits": (_int_at_least(1), 32),
        "param_bits": (_int_at_least(1), 32),
        "cuts": (lambda k, v: _check_choice(k, v, CUTS), "all"),
    },
    # cpu_hz, cycles_per_mac and kappa are required unless measured columns make them
    # unneeded: checked against the profile in _check_measured.
    "device": {
        "cpu_hz": (positive, None),
        "cycles_per_mac": (positive, None),
        "kappa": (nonnegative, None),
        "tx_power_w": (positive, REQUIRED),
        "idle_power_w": (nonnegative, 0.0),
        "compute_power_w": (nonnegative, None),
    },
    "edge": {
        "cpu_hz": (positive, None),
        "cycles_per_mac": (positive, None),
    },
    "uplink": {
        "bandwidth_hz": (positive, REQUIRED),
        "noise_w": (positive, REQUIRED),
        "overhead_s": (nonnegative, 0.0),
        "overhead_j": (nonnegative, 0.0),
    },
    "channel": {
        "law": (lambda k, v: _check_choice(k, v, LAWS), REQUIRED),
        "mean_gain": (positive, None),
        "states": (_int_at_least(1), 16),
        "m": (_number, None),
        "k_factor": (nonnegative, None),
        "gains": (lambda k, v: _vector(k, v, positive), None),
        "probs": (_distribution, None),
        "transition": (lambda k, v: v, None),  # checked against gains in _build_channel
        "initial": (_distribution, None),
        "doppler_hz": (positive, None),
        "coherence_s": (positive, None),
    },
    "cost": {
        "energy_weight": (nonnegative, REQUIRED),
        "time_weight": (nonnegative, REQUIRED),
    },
    "wait": {
        "mode": (lambda k, v: _check_choice(k, v, WAIT_MODES), "last"),
        "slot_s": (_number, None),
    },
    "placement": {
        "tasks_per_period": (positive, REQUIRED),
        "downlink_bps": (positive, REQUIRED),
        "rx_energy_per_bit": (nonnegative, 0.0),
        "memory_bits": (nonnegative, math.inf),
        "rule": (lambda k, v: _check_choice(k, v, RULES), "optimal"),
    },
}
# wait.slot_s and channel.m are range-checked where they are used (an unused key is ignored).
_USED_ONLY = ("wait.slot_s", "channel.m")
for _table, _keys in _SCHEMA.items():
    for _key, (_check, _default) in _keys.items():
        if f"{_table}.{_key}" in RANGES and f"{_table}.{_key}" not in _USED_ONLY:
            _keys[_key] = (_ranged(f"{_table}.{_key}", _check), _default)

# Keys whose value is a list (vectors and matrices).
_LIST_KEYS = ("channel.gains", "channel.probs", "channel.transition", "channel.initial")

# Optional tables, each parsed by its own module ([constraints]: coopt.model.constraints).
_OPTIONAL_TABLES = ("constraints",)


def key_kind(key: str) -> str | None:
    """The type of value an instance key takes, for tools that write instances (sweeps).

    ``"number"``, ``"integer"``, ``"string"`` or ``"list"`` for a dotted key such as
    ``"channel.mean_gain"``; ``None`` for a key that is not in the schema. Ranges are not
    checked here: :func:`parse_instance` does that.
    """
    table, _, name = key.partition(".")
    entry = _SCHEMA.get(table, {}).get(name)
    if entry is None:
        return None
    check = getattr(entry[0], "__wrapped__", entry[0])
    if check in (positive, nonnegative, _number):
        return "number"
    if check.__qualname__.startswith(_int_at_least.__name__):
        return "integer"
    if key in _LIST_KEYS:
        return "list"
    return "string"


def instance_keys() -> list[str]:
    """Every dotted key of the schema, table by table."""
    return [f"{table}.{name}" for table, keys in _SCHEMA.items() for name in keys]


def set_key(doc: dict[str, Any], key: str, value: Any) -> None:
    """Set the dotted key ``table.name`` of a parsed TOML document (a sweep point, a fleet's
    ``set``); the value is checked when the document is parsed."""
    table, _, name = key.partition(".")
    sub = doc.setdefault(table, {})
    if not isinstance(sub, dict):
        raise InstanceError(f"{table} = {sub!r}: must be a table [{table}]")
    sub[name] = value


def _suggest(word: str, options: list[str]) -> str:
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.5)
    return f"; did you mean {close[0]!r}?" if close else f"; valid keys: {', '.join(options)}"


def _read_table(doc: dict[str, Any], table: str) -> dict[str, Any]:
    schema = _SCHEMA[table]
    raw = doc.get(table, {})
    if not isinstance(raw, dict):
        raise InstanceError(f"{table} = {_fmt(raw)}: must be a table [{table}]")
    for key in raw:
        if key not in schema:
            raise InstanceError(f"{table}.{key}: unknown key" + _suggest(key, list(schema)))
    out: dict[str, Any] = {}
    for key, (check, default) in schema.items():
        if key in raw:
            out[key] = check(f"{table}.{key}", raw[key])
        elif default is REQUIRED:
            raise InstanceError(f"{table}.{key}: missing required key")
        else:
            out[key] = default
    return out


def _build_channel(c: dict[str, Any]) -> ChannelSpec:
    law = c["law"]
    if law in ("rayleigh", "nakagami", "rician"):
        if c["mean_gain"] is None:
            raise InstanceError(f'channel.mean_gain: missing; required by law = "{law}" (a power gain > 0)')
        if law == "nakagami":
            if c["m"] is None:
                raise InstanceError('channel.m: missing; required by law = "nakagami" (shape m >= 0.5)')
            if c["m"] < 0.5:
                raise InstanceError(f"channel.m = {c['m']}: must be >= 0.5")
            _ranged("channel.m", _number)("channel.m", c["m"])
        if law == "rician" and c["k_factor"] is None:
            raise InstanceError('channel.k_factor: missing; required by law = "rician" (K-factor >= 0)')
        _check_correlation(c)
        return ChannelSpec(
            law=law,
            mean_gain=c["mean_gain"],
            states=c["states"],
            m=c["m"],
            k_factor=c["k_factor"],
            doppler_hz=c["doppler_hz"],
            coherence_s=c["coherence_s"],
        )
    _check_correlation(c)
    gains = c["gains"]
    if gains is None:
        raise InstanceError(f'channel.gains: missing; required by law = "{law}" (a list of power gains > 0)')
    n = len(gains)
    if law == "finite":
        if c["probs"] is None:
            raise InstanceError('channel.probs: missing; required by law = "finite" (one probability per gain)')
        if len(c["probs"]) != n:
            raise InstanceError(f"channel.probs: has {len(c['probs'])} entries, must match the {n} channel.gains")
        return ChannelSpec(law=law, gains=gains, probs=c["probs"])
    if c["transition"] is None:
        raise InstanceError('channel.transition: missing; required by law = "markov" (a row-stochastic square matrix)')
    transition = _matrix("channel.transition", c["transition"], n)
    initial = c["initial"]
    if initial is not None and len(initial) != n:
        raise InstanceError(f"channel.initial: has {len(initial)} entries, must match the {n} channel.gains")
    return ChannelSpec(law=law, gains=gains, transition=transition, initial=initial)


def _check_correlation(c: dict[str, Any]) -> None:
    """``doppler_hz`` (Clarke) or ``coherence_s`` (Gauss-Markov): one of them, and only with Rayleigh."""
    given = [key for key in ("doppler_hz", "coherence_s") if c[key] is not None]
    if len(given) == 2:
        raise InstanceError(
            f"channel.doppler_hz = {c['doppler_hz']} and channel.coherence_s = {c['coherence_s']}: "
            "give one of them (Clarke's model or Gauss-Markov), not both"
        )
    if given and c["law"] != "rayleigh":
        key = given[0]
        raise InstanceError(
            f'channel.{key} = {c[key]}: time-correlated fading needs law = "rayleigh", got law = "{c["law"]}"'
        )


def _check_measured(profile: Profile, device: Device, edge: Edge) -> None:
    """Require the ``[device]``/``[edge]`` keys that some layer still needs (docs/model.md 10.1)."""
    measured = profile.measured
    why = f"network.profile {profile.name!r}"
    if "device_s" in measured and "device_j" not in measured and device.compute_power_w is None:
        raise InstanceError(
            f"device.compute_power_w: missing; required because {why} has a device_s column but no device_j "
            "(device energy = compute_power_w * device_s; give one, in W, or add a device_j column)"
        )
    energy_from_macs = "device_j" not in measured and "device_s" not in measured
    needs: list[tuple[str, float | None, str]] = []
    if "device_s" not in measured:
        reason = "the device's time of a layer is c_L macs / f_L (no device_s column)"
        needs += [("device.cpu_hz", device.cpu_hz, reason), ("device.cycles_per_mac", device.cycles_per_mac, reason)]
    if energy_from_macs:
        needs.append(("device.kappa", device.kappa, "the device's energy is kappa f_L^2 c_L macs (no device_j column)"))
    if "edge_s" not in measured:
        reason = "the edge's time of a layer is c_E macs / f_E (no edge_s column)"
        needs += [("edge.cpu_hz", edge.cpu_hz, reason), ("edge.cycles_per_mac", edge.cycles_per_mac, reason)]
    for key, value, reason in needs:
        if value is None:
            raise InstanceError(f"{key}: missing required key ({reason} in {why})")


def parse_instance(doc: dict[str, Any], base_dir: Path | None = None, name: str = "instance") -> Instance:
    """Validate a parsed TOML document (a dict) into an :class:`Instance`.

    ``base_dir`` is where a profile given as a relative CSV path is looked up.
    """
    for table in doc:
        if table not in _SCHEMA and table not in _OPTIONAL_TABLES:
            raise InstanceError(f"[{table}]: unknown table" + _suggest(table, list(_SCHEMA) + list(_OPTIONAL_TABLES)))
    t = {table: _read_table(doc, table) for table in _SCHEMA}
    net = t["network"]
    graph = None
    if is_onnx_spec(net["profile"]):
        graph = read_network(resolve_onnx_path(net["profile"], base_dir), net["cuts"])
        profile = graph.profile
    else:
        profile = load_profile(net["profile"], base_dir)
    network = Network(net["profile"], net["feature_bits"], net["param_bits"], profile, net["cuts"], graph)
    cost = CostWeights(**t["cost"])
    if cost.energy_weight == 0 and cost.time_weight == 0:
        raise InstanceError("cost.energy_weight = 0 and cost.time_weight = 0: at least one weight must be > 0")
    device = Device(**t["device"])
    edge = Edge(**t["edge"])
    _check_measured(profile, device, edge)
    wait = Wait(**t["wait"])
    if wait.mode != "never":
        if wait.slot_s is None:
            raise InstanceError(
                f'wait.slot_s: missing; required when wait.mode = "{wait.mode}" (a slot length > 0 in s)'
            )
        if wait.slot_s <= 0:
            raise InstanceError(f'wait.slot_s = {wait.slot_s}: must be > 0 when wait.mode = "{wait.mode}"')
        low, high, unit = RANGES["wait.slot_s"]
        if not low <= wait.slot_s <= high:
            raise InstanceError(
                f'wait.slot_s = {wait.slot_s}: must be {_range_text(low, high, unit)} when wait.mode = "{wait.mode}"'
            )
        c_w = cost.time_weight * wait.slot_s + cost.energy_weight * device.idle_power_w * wait.slot_s
        if c_w <= 0:
            raise InstanceError(
                "wait: the slot cost c_w = time_weight*slot_s + energy_weight*idle_power_w*slot_s is 0; "
                "it must be > 0 when waiting is on (raise cost.time_weight or device.idle_power_w)"
            )
    return Instance(
        network=network,
        device=device,
        edge=edge,
        uplink=Uplink(**t["uplink"]),
        channel=_build_channel(t["channel"]),
        cost=cost,
        wait=wait,
        placement=PlacementSpec(**t["placement"]),
        name=name,
        constraints=parse_constraints(doc.get("constraints")),
    )


def load_instance(path: str | Path) -> Instance:
    """Read and validate an instance file (TOML, docs/model.md section 8).

    Raises
    ------
    InstanceError
        One line naming the key, the value and what is allowed.
    """
    path = Path(path)
    text = read_text(path, "instance file")
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InstanceError(f"{path}: invalid TOML: {exc}") from None
    return parse_instance(doc, base_dir=path.resolve().parent, name=path.stem)


def extreme_value(instance: Instance) -> tuple[str, float, str]:
    """The numeric value of ``instance`` nearest (in decades) to an end of its range in
    :data:`RANGES`, with its key and the allowed range: the likely cause of an overflow."""
    best: tuple[float, str, float] = (math.inf, "", math.nan)
    for key, (low, high, _) in RANGES.items():
        table, name = key.split(".")
        raw = getattr(getattr(instance, table), name)
        for value in raw if isinstance(raw, tuple) else (raw,):
            if value is None or not 0 < value < math.inf:
                continue
            ends = [math.log10(x) for x in (low, high) if 0 < x < math.inf]
            distance = min((abs(math.log10(value) - e) for e in ends), default=math.inf)
            if distance < best[0]:
                best = (distance, key, float(value))
    _, key, value = best
    low, high, unit = RANGES[key] if key else (math.nan, math.nan, "")
    return key or "(none)", value, _range_text(low, high, unit)
