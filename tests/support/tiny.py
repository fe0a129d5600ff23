"""Tiny instances built in memory, for brute force and hand calculations."""

from __future__ import annotations

import copy
from dataclasses import replace
from typing import Any

import numpy as np

from coopt import Profile, parse_instance
from coopt.model.instance import Instance


def profile(rows: list[tuple[str, int, int, int]]) -> Profile:
    """A Profile from ``(name, macs, out_elems, params)`` rows, the first being the input."""
    return Profile(
        name="tiny",
        layer_names=tuple(r[0] for r in rows),
        macs=np.array([r[1] for r in rows], dtype=np.int64),
        out_elems=np.array([r[2] for r in rows], dtype=np.int64),
        params=np.array([r[3] for r in rows], dtype=np.int64),
    )


# The first three layers of the golden chain4 profile (N = 3).
CHAIN3 = [
    ("input", 0, 4000, 0),
    ("conv", 2_000_000, 8000, 3000),
    ("pool", 0, 2000, 0),
    ("fc1", 1_000_000, 500, 500_500),
]

GOLDEN_DOC: dict[str, Any] = {
    "network": {"profile": "lenet5", "feature_bits": 16, "param_bits": 16},
    "device": {"cpu_hz": 5e8, "cycles_per_mac": 1.0, "kappa": 1e-27, "tx_power_w": 0.2, "idle_power_w": 0.02},
    "edge": {"cpu_hz": 1e10, "cycles_per_mac": 1.0},
    "uplink": {"bandwidth_hz": 1e6, "noise_w": 1e-12},
    "channel": {"law": "finite", "gains": [1e-10, 1e-9, 1e-8], "probs": [0.3, 0.5, 0.2]},
    "cost": {"energy_weight": 1.0, "time_weight": 0.5},
    "wait": {"mode": "last", "slot_s": 0.01},
    "placement": {"tasks_per_period": 100, "downlink_bps": 1e7, "rx_energy_per_bit": 1e-8},
}

CHANNELS: dict[str, dict[str, Any]] = {
    "finite3": {"law": "finite", "gains": [1e-10, 1e-9, 1e-8], "probs": [0.3, 0.5, 0.2]},
    "finite2": {"law": "finite", "gains": [3e-10, 4e-9], "probs": [0.6, 0.4]},
    "markov3": {
        "law": "markov",
        "gains": [1e-10, 1e-9, 1e-8],
        "transition": [[0.6, 0.3, 0.1], [0.2, 0.5, 0.3], [0.1, 0.3, 0.6]],
    },
    "markov2": {"law": "markov", "gains": [2e-10, 5e-9], "transition": [[0.8, 0.2], [0.3, 0.7]], "initial": [1.0, 0.0]},
    "rayleigh3": {"law": "rayleigh", "mean_gain": 2e-9, "states": 3},
    # time-correlated fading (docs/model.md 10.4): layer times 4 ms, 0 (identity), 2 ms
    "clarke3": {"law": "rayleigh", "mean_gain": 2e-9, "states": 3, "doppler_hz": 200.0},
    "gaussmarkov3": {"law": "rayleigh", "mean_gain": 2e-9, "states": 3, "coherence_s": 0.005},
}


def instance(
    rows: list[tuple[str, int, int, int]] = CHAIN3,
    channel: str | dict[str, Any] = "finite3",
    mode: str = "last",
    **changes: Any,
) -> Instance:
    """An instance with the golden example's device, the given profile rows and channel."""
    doc = copy.deepcopy(GOLDEN_DOC)
    doc["channel"] = copy.deepcopy(CHANNELS[channel] if isinstance(channel, str) else channel)
    doc["wait"]["mode"] = mode
    for name, value in changes.items():
        table, key = name.split("__")
        doc[table][key] = value
    inst = parse_instance(doc)
    return replace(inst, network=replace(inst.network, profile=profile(rows)))
