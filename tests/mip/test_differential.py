"""Differential test: ``coopt solve --method mip --json`` against ``--method enumeration``.

Seeded random instances over every feature (laws finite, rayleigh, nakagami, rician and
markov, correlated fading, per-upload overhead, every wait mode, both rules, memory limits,
measured profile columns), each solved by both methods through the console script and
parsed strictly (no NaN or Infinity, nothing but the JSON object on stdout). Every field
of every ``by_placement`` entry, the placement, the decisions, the thresholds and every
baseline must agree to ``RTOL_EXACT``: the MIP's per-placement values are its certified
policies evaluated exactly (coopt.mip.method.certified_policy), so they differ from
backward induction by rounding only.

Three cases are the ones that found issue 22's items 2, 6 and 8: OSLA values that came
from the LP's policy with "stop" wherever HiGHS showed no visits (4e-11 relative), HiGHS's
warning about ignored matrix entries printed on stdout before the JSON object, and a
correlated channel whose tiny transition probabilities HiGHS dropped.
"""

from __future__ import annotations

import copy
import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.support.instances import to_toml
from tests.support.tolerances import RTOL_EXACT

pytestmark = pytest.mark.mip

BASE: dict[str, Any] = {
    "network": {"profile": "profile.csv", "feature_bits": 16, "param_bits": 16},
    "device": {"cpu_hz": 5e8, "cycles_per_mac": 1.0, "kappa": 1e-27, "tx_power_w": 0.2, "idle_power_w": 0.02},
    "edge": {"cpu_hz": 1e10, "cycles_per_mac": 1.0},
    "uplink": {"bandwidth_hz": 1e6, "noise_w": 1e-12},
    "channel": {},
    "cost": {"energy_weight": 1.0, "time_weight": 0.5},
    "wait": {"mode": "last", "slot_s": 0.01},
    "placement": {"tasks_per_period": 100.0, "downlink_bps": 1e7, "rx_energy_per_bit": 1e-8},
}

LAWS = ("finite", "rayleigh", "nakagami", "rician", "markov", "gauss_markov", "clarke")


def _reject(name: str) -> float:
    raise ValueError(f"non-standard JSON constant {name}")


def strict_json(text: str) -> dict[str, Any]:
    """The whole of ``text`` as one JSON object, NaN and Infinity refused."""
    return json.loads(text, parse_constant=_reject)  # type: ignore[no-any-return]


def run_solve(path: Path, method: str) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, "-m", "coopt", "solve", str(path), "--method", method, "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    return strict_json(proc.stdout)


def random_profile(rng: np.random.Generator, n_layers: int, measured: bool) -> str:
    """A chain profile CSV (input row first), optionally with measured device_s and edge_s."""
    head = "name,macs,out_elems,params" + (",device_s,edge_s" if measured else "")
    rows = [f"input,0,{int(rng.integers(1000, 20000))},0" + (",," if measured else "")]
    for i in range(1, n_layers + 1):
        macs = int(rng.choice([0, int(rng.integers(10_000, 5_000_000))]))
        row = f"l{i},{macs},{int(rng.integers(200, 20000))},{int(rng.integers(0, 200_000))}"
        if measured:
            row += f",{rng.uniform(1e-4, 5e-3):.6g},{rng.uniform(1e-5, 5e-4):.6g}"
        rows.append(row)
    return "\n".join([head, *rows]) + "\n"


def random_channel(rng: np.random.Generator, law: str) -> dict[str, Any]:
    k = int(rng.integers(2, 6))
    mean = float(10 ** rng.uniform(-10, -8))
    if law == "finite":
        return {
            "law": "finite",
            "gains": sorted(float(g) for g in 10 ** rng.uniform(-11, -7, k)),
            "probs": [float(p) for p in rng.dirichlet(np.ones(k))],
        }
    if law == "markov":
        P = rng.dirichlet(np.ones(k), size=k)
        P[0, -1] = 3e-11  # a tiny transition (issue 22 item 6)
        P[0] /= P[0].sum()
        return {
            "law": "markov",
            "gains": sorted(float(g) for g in 10 ** rng.uniform(-11, -7, k)),
            "transition": [[float(x) for x in row] for row in P],
        }
    spec: dict[str, Any] = {"law": "rayleigh", "mean_gain": mean, "states": k}
    if law == "nakagami":
        spec.update(law="nakagami", m=float(rng.uniform(0.6, 3.0)))
    elif law == "rician":
        spec.update(law="rician", k_factor=float(rng.uniform(0.0, 6.0)))
    elif law == "gauss_markov":
        spec["coherence_s"] = float(10 ** rng.uniform(-3, -0.5))
    elif law == "clarke":
        spec["doppler_hz"] = float(10 ** rng.uniform(0, 2.5))
    return spec


def random_case(seed: int) -> tuple[dict[str, Any], str]:
    """An instance (dict) and its profile CSV; the law cycles with the seed so all appear."""
    rng = np.random.default_rng(seed)
    doc = copy.deepcopy(BASE)
    doc["channel"] = random_channel(rng, LAWS[seed % len(LAWS)])
    doc["wait"]["mode"] = ("never", "last", "any")[seed % 3]
    doc["placement"]["rule"] = ("optimal", "osla")[seed % 2]
    doc["placement"]["tasks_per_period"] = float(10 ** rng.uniform(0, 3))
    doc["uplink"]["bandwidth_hz"] = float(10 ** rng.uniform(5.5, 7))
    doc["cost"]["time_weight"] = float(10 ** rng.uniform(-1.5, 0.5))
    if seed % 3 == 1:
        doc["uplink"].update(overhead_s=float(rng.uniform(0, 2e-3)), overhead_j=float(rng.uniform(0, 1e-4)))
    measured = seed % 4 == 3
    if measured:
        doc["device"]["compute_power_w"] = float(rng.uniform(0.5, 3.0))
    profile = random_profile(rng, int(rng.integers(2, 5)), measured)
    if seed % 4 == 2:  # a memory limit that binds: only the first placements fit
        doc["placement"]["memory_bits"] = 16.0 * 4000
    return doc, profile


def item2_osla() -> tuple[dict[str, Any], str | None]:
    """Issue 22 item 2: finite law with 4 gains, wait never, OSLA, one task per period,
    8-bit parameters. The OSLA policy reaches epoch 7 of M = 9 with probability 1e-11,
    where HiGHS shows no visits; stopping there moved Phi(9) by 4.4e-11 relative."""
    doc = copy.deepcopy(BASE)
    doc["network"] = {"profile": "mlp8x512", "feature_bits": 32, "param_bits": 8}
    doc["device"].update(cpu_hz=278573303.5841014, idle_power_w=0.01)
    doc["edge"].update(cpu_hz=1034446473.8884141, cycles_per_mac=0.05)
    doc["uplink"] = {"bandwidth_hz": 9149811.4271393, "noise_w": 1e-13}
    doc["channel"] = {
        "law": "finite",
        "gains": [2.2895829384999963e-13, 1.0947348649311026e-11, 1.3619552022364932e-10, 6.145692878284673e-09],
        "probs": [0.03841848639037584, 0.06184685573568123, 0.1983845253990528, 0.7013501324748901],
    }
    doc["cost"]["time_weight"] = 0.10608700458017696
    doc["wait"] = {"mode": "never", "slot_s": 0.005}
    doc["placement"] = {"tasks_per_period": 1.0, "downlink_bps": 8e7, "rx_energy_per_bit": 5e-8, "rule": "osla"}
    return doc, None


CHAIN3 = "name,macs,out_elems,params\ninput,0,4000,0\nconv,2000000,8000,3000\npool,0,2000,0\nfc1,1000000,500,500500\n"


def item6_markov_tiny() -> tuple[dict[str, Any], str | None]:
    """Issue 22 item 6: a Markov chain with one entry below 1e-9; HiGHS printed
    ``WARNING: HighsSparseMatrix ... ignored`` on stdout before the JSON object."""
    doc = copy.deepcopy(BASE)
    doc["channel"] = {
        "law": "markov",
        "gains": [1e-10, 1e-9, 1e-8],
        "transition": [[0.6, 0.4 - 2e-12, 2e-12], [0.2, 0.5, 0.3], [0.1, 0.3, 0.6]],
    }
    doc["wait"]["mode"] = "any"
    return doc, CHAIN3


def item8_gauss_markov() -> tuple[dict[str, Any], str | None]:
    """Issue 22 item 8: Rayleigh with channel.coherence_s (Gauss-Markov), N = 3, K = 8,
    rule optimal. HiGHS dropped the chains' entries below 1e-9 and showed no visits where
    only they lead; stopping there put Phi(2) 1.4e-10 relative too high."""
    doc = copy.deepcopy(BASE)
    doc["channel"] = {
        "law": "rayleigh",
        "mean_gain": 2.14551088315976e-08,
        "states": 8,
        "coherence_s": 0.15503274818363658,
    }
    doc["wait"] = {"mode": "any", "slot_s": 0.00045738828530926485}
    doc["uplink"]["bandwidth_hz"] = 1216616.7195736817
    doc["placement"]["tasks_per_period"] = 5.34091806889606
    doc["cost"]["time_weight"] = 0.012525883190786546
    doc["edge"]["cpu_hz"] = 23528424301.069202
    return doc, CHAIN3


def close(a: float | None, b: float | None, rtol: float = RTOL_EXACT) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return a == b or abs(a - b) <= rtol * max(abs(a), abs(b))


def assert_same(ref: dict[str, Any], got: dict[str, Any]) -> None:
    """Everything the two methods must share (module docstring)."""
    assert got["placement"] == ref["placement"]
    for key in ("objective", "task_cost", "download_cost"):
        assert close(ref[key], got[key]), key
    assert [v["placement"] for v in got["by_placement"]] == [v["placement"] for v in ref["by_placement"]]
    for a, b in zip(ref["by_placement"], got["by_placement"]):
        for key in ("objective", "task_cost", "download_cost"):
            assert close(a[key], b[key]), (a["placement"], key, a[key], b[key])
    assert got["decisions"] == ref["decisions"]
    if ref["thresholds"] is None:
        assert got["thresholds"] is None
    else:
        assert len(got["thresholds"]) == len(ref["thresholds"])
        for a, b in zip(ref["thresholds"], got["thresholds"]):
            assert close(a, b), (a, b)
    assert set(got["baselines"]) == set(ref["baselines"])
    for name, a in ref["baselines"].items():
        b = got["baselines"][name]
        if a is None:
            assert b is None, name
            continue
        assert b["placement"] == a["placement"], name
        for key in ("objective", "task_cost", "download_cost"):
            assert close(a[key], b[key]), (name, key)
    solver = got["solver"]
    assert solver["certified"] is True
    if got["rule"] == "osla":
        assert solver["by_placement_changed_states"] == 0  # the LP holds only the rule's actions


EXPLICIT = {"item2-osla": item2_osla, "item6-markov-tiny": item6_markov_tiny, "item8-gauss-markov": item8_gauss_markov}
SEEDS = range(7)


def write(tmp_path: Path, doc: dict[str, Any], profile: str | None) -> Path:
    if profile is not None:
        (tmp_path / "profile.csv").write_text(profile, encoding="utf-8")
        doc["network"]["profile"] = "profile.csv"
    path = tmp_path / "instance.toml"
    path.write_text(to_toml(doc), encoding="utf-8")
    return path


@pytest.mark.slow
@pytest.mark.parametrize("name", list(EXPLICIT))
def test_issue_22_cases(name, tmp_path):
    doc, profile = EXPLICIT[name]()
    path = write(tmp_path, doc, profile)
    assert_same(run_solve(path, "enumeration"), run_solve(path, "mip"))


@pytest.mark.slow
@pytest.mark.parametrize("seed", SEEDS)
def test_random_instance(seed, tmp_path):
    doc, profile = random_case(seed)
    path = write(tmp_path, doc, profile)
    ref, got = run_solve(path, "enumeration"), run_solve(path, "mip")
    assert got["rule"] == doc["placement"]["rule"] and got["wait_mode"] == doc["wait"]["mode"]
    assert_same(ref, got)


def test_the_seeds_cover_every_feature():
    """The random cases above together use every law, wait mode, rule and option."""
    docs = [random_case(s) for s in SEEDS]
    laws = {LAWS[s % len(LAWS)] for s in SEEDS}
    assert laws == set(LAWS)
    assert {d["wait"]["mode"] for d, _ in docs} == {"never", "last", "any"}
    assert {d["placement"]["rule"] for d, _ in docs} == {"optimal", "osla"}
    assert any("overhead_s" in d["uplink"] for d, _ in docs)
    assert any(math.isfinite(d["placement"].get("memory_bits", math.inf)) for d, _ in docs)
    assert any("device_s" in p for _, p in docs)
