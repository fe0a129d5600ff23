"""Paths and instances the tests share: the repository's folders, a small valid instance and a TOML writer."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]  # the repository
DATA = ROOT / "tests" / "data"  # test instances and copies of shared/examples (golden-*)
GOLDEN = DATA
EXAMPLES = ROOT / "data"  # the shipped examples
MODELS = ROOT / "models"  # the shipped layer profiles
# the shipped example instances (data/sweep_*.toml are sweep specs, data/fleet_*.toml fleets, not instances)
EXAMPLE_INSTANCES = sorted(p for p in EXAMPLES.glob("*.toml") if not p.stem.startswith(("sweep_", "fleet_")))


def instance_path(name: str) -> Path:
    """A shipped example (``data/NAME.toml``) or else a test instance (``tests/data/NAME.toml``)."""
    shipped = EXAMPLES / f"{name}.toml"
    return shipped if shipped.exists() else DATA / f"{name}.toml"


# A small valid instance as a dict; tests copy it and change one thing.
BASE_DOC: dict[str, Any] = {
    "network": {"profile": "lenet5", "feature_bits": 32, "param_bits": 32},
    "device": {"cpu_hz": 5e8, "cycles_per_mac": 1.0, "kappa": 1e-27, "tx_power_w": 0.2, "idle_power_w": 0.01},
    "edge": {"cpu_hz": 3e9, "cycles_per_mac": 0.05},
    "uplink": {"bandwidth_hz": 5e6, "noise_w": 1e-13},
    "channel": {"law": "rayleigh", "mean_gain": 5e-11, "states": 8},
    "cost": {"energy_weight": 1.0, "time_weight": 1.5},
    "wait": {"mode": "last", "slot_s": 0.005},
    "placement": {"tasks_per_period": 150, "downlink_bps": 8e7, "rx_energy_per_bit": 5e-8},
}


def make_doc(**changes: Any) -> dict[str, Any]:
    """A deep copy of BASE_DOC with ``table__key=value`` changes (value None deletes)."""
    doc = copy.deepcopy(BASE_DOC)
    for name, value in changes.items():
        table, key = name.split("__")
        if value is None:
            doc[table].pop(key, None)
        else:
            doc.setdefault(table, {})[key] = value
    return doc


def to_toml(doc: dict[str, Any]) -> str:
    """Minimal TOML writer for the flat tables of an instance (tests only)."""

    def val(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, str):
            return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
        if isinstance(v, (list, tuple)):
            return "[" + ", ".join(val(x) for x in v) + "]"
        return repr(v)

    out = []
    for table, body in doc.items():
        out.append(f"[{table}]")
        out += [f"{k} = {val(v)}" for k, v in body.items()]
        out.append("")
    return "\n".join(out)
