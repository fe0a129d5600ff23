"""What the command line prints: strict JSON that carries its units and coopt's version.

Costs are weighted sums ``w_E`` x joules + ``w_T`` x seconds with ``w_E`` in 1/J and
``w_T`` in 1/s, so a cost is a pure number (:data:`coopt.model.costs.COST_UNIT`). Keys are added to the JSON objects, never renamed:
``coopt_version`` and ``units`` (a flat map from a key, dotted for nested objects and
``*`` for every entry of a map, to its unit).
"""

from __future__ import annotations

import json
import math
from importlib import metadata
from typing import Any

from coopt.model.costs import COST_UNIT

_PER_TASK = "cost per task"
_PER_PERIOD = "cost per period"

SOLVE_UNITS: dict[str, str] = {
    "cost": COST_UNIT,
    "objective": _PER_TASK,
    "task_cost": _PER_TASK,
    "download_cost": _PER_PERIOD,
    "tasks_per_period": "tasks per period",
    "by_placement.objective": _PER_TASK,
    "by_placement.task_cost": _PER_TASK,
    "by_placement.download_cost": _PER_PERIOD,
    "thresholds": "power gain (linear; null = never upload)",
    "breakdown.local": _PER_TASK,
    "breakdown.upload": _PER_TASK,
    "breakdown.edge": _PER_TASK,
    "breakdown.waiting": _PER_TASK,
    "breakdown.download_amortised": _PER_TASK,
    "breakdown.latency_s": "s per task",
    "breakdown.energy_j": "J per task",
    "breakdown.mean_wait_slots": "slots per task",
    "breakdown.stop_prob": "probability",
    "baselines.*.objective": _PER_TASK,
    "baselines.*.task_cost": _PER_TASK,
    "baselines.*.download_cost": _PER_PERIOD,
    "baselines.*.gap_percent": "%",
    "baselines.*.extra_cost": _PER_TASK,
    "channel_states.gains": "power gain (linear)",
    "uplink_overhead.overhead_s": "s per upload",
    "uplink_overhead.overhead_j": "J per upload",
    "channel_states.init": "probability",
}

SIMULATE_UNITS: dict[str, str] = {
    "cost": COST_UNIT,
    "mean": _PER_TASK,
    "std_error": _PER_TASK,
    "ci_low": _PER_TASK,
    "ci_high": _PER_TASK,
    "exact": _PER_TASK,
    "z_score": "standard errors",
    "confidence": "probability",
    "split_epochs.fraction": "probability",
    "mean_wait_slots": "slots per task",
    "parts.latency_s": "s per task",
    "parts.energy_j": "J per task",
    "parts.*": _PER_TASK,
    "part_errors.latency_s": "s per task",
    "part_errors.energy_j": "J per task",
    "part_errors.wait_slots": "slots per task",
    "part_errors.*": _PER_TASK,
    "thresholds": "power gain (linear; null = never upload)",
}

COMPARE_UNITS: dict[str, str] = {
    "cost": COST_UNIT,
    "policies.exact": _PER_TASK,
    "policies.simulated": _PER_TASK,
    "policies.ci_low": _PER_TASK,
    "policies.ci_high": _PER_TASK,
    "policies.gap_percent": "%",
    "policies.extra_cost": _PER_TASK,
}

VERIFY_UNITS: dict[str, str] = {
    "cost": COST_UNIT,
    "checks.reference": "the checked quantity's unit (cost per task for objectives)",
    "checks.difference": "relative difference (1)",
}


FLEET_UNITS: dict[str, str] = {
    "cost": COST_UNIT,
    "objective": "weighted sum of the devices' cost per task",
    "bound": "weighted sum of the devices' cost per task",
    "lagrangian_bound": "weighted sum of the devices' cost per task",
    "gap": "relative (1)",
    "prices.bandwidth": "cost per unit share of the band",
    "prices.edge": "cost per unit share of the edge clock",
    "prices.bandwidth_per_hz": "cost per Hz",
    "prices.edge_per_hz": "cost per cycle/s",
    "shares_used.*": "share (1)",
    "devices.x": "share of the band (1)",
    "devices.y": "share of the edge clock (1)",
    "devices.bandwidth_hz": "Hz",
    "devices.edge_hz": "Hz (cycles/s)",
    "devices.objective": _PER_TASK,
    "devices.distance_m": "m",
    "devices.mean_gain": "power gain (linear)",
    "baselines.*.objective": "weighted sum of the devices' cost per task",
    "baselines.*.gap_percent": "%",
    "levels.*": "share (1)",
    "wall_time_s.*": "s",
    "mean": "weighted sum of the devices' cost per task",
    "std_error": "weighted sum of the devices' cost per task",
    "ci_low": "weighted sum of the devices' cost per task",
    "ci_high": "weighted sum of the devices' cost per task",
    "exact": "weighted sum of the devices' cost per task",
    "z_score": "standard errors",
    "groups.mean": _PER_TASK,
    "groups.std_error": _PER_TASK,
    "groups.exact": _PER_TASK,
}


def version() -> str:
    """The installed coopt version (``0+unknown`` when run from an uninstalled tree)."""
    try:
        return metadata.version("coopt")
    except metadata.PackageNotFoundError:  # pragma: no cover - the package is installed in every test
        return "0+unknown"


def with_units(obj: dict[str, Any], units: dict[str, str]) -> dict[str, Any]:
    """``obj`` with the keys ``coopt_version`` and ``units`` added (existing keys kept);
    ``units`` lists the keys ``obj`` has (and ``cost``, the definition of the cost unit)."""
    present = {k: v for k, v in units.items() if k == "cost" or k.split(".")[0] in obj}
    return {**obj, "coopt_version": version(), "units": present}


class NonFiniteOutputError(ValueError):
    """A result holds NaN or an infinity where its JSON schema has no ``null``: a bug
    (inputs are range-checked), reported by the command line's guard with exit code 3."""


def _first_non_finite(obj: Any, path: str = "") -> str | None:
    if isinstance(obj, float) and not math.isfinite(obj):
        return f"{path or '(top)'} = {obj}"
    if isinstance(obj, dict):
        items: Any = obj.items()
    elif isinstance(obj, (list, tuple)):
        items = enumerate(obj)
    else:
        return None
    for key, value in items:
        found = _first_non_finite(value, f"{path}.{key}" if path else str(key))
        if found:
            return found
    return None


def dumps(obj: Any) -> str:
    """Strictly valid JSON (no NaN or Infinity): the last line of defence.

    Raises :class:`NonFiniteOutputError` naming the first offending key.
    """
    try:
        return json.dumps(obj, indent=1, allow_nan=False)
    except ValueError:
        where = _first_non_finite(obj) or "a value"
        raise NonFiniteOutputError(f"the JSON result has a non-finite number at {where}") from None
