"""The closed-form MLP placement (--method closed-form) against enumeration, decision for decision.

The oracle is coopt.solve(instance, rule="osla") (enumeration of J_OSLA(M) by exact
policy evaluation). The cases span small and large tasks_per_period, widths 4..1024,
depths 1..40, Rayleigh, Nakagami, Rician and finite channels, wait modes never and
last and memory limits, with M* at 0, in the interior and at N (checked below).
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from dataclasses import replace

import pytest

from coopt import InstanceError, mlp_profile, parse_instance, prepare, solve
from coopt.dp.stopping import evaluate_policy
from coopt.model.profiles import Profile

RTOL_VALUE = 1e-9  # closed form vs recursion: same quantities, different arithmetic
RTOL_THRESHOLD = 1e-9

CHANNELS = {
    "rayleigh": {"law": "rayleigh", "mean_gain": 4e-11, "states": 8},
    "nakagami": {"law": "nakagami", "m": 2.0, "mean_gain": 4e-11, "states": 6},
    "rician": {"law": "rician", "k_factor": 3.0, "mean_gain": 4e-11, "states": 5},
    "finite": {"law": "finite", "gains": [1e-12, 5e-11, 4e-10], "probs": [0.3, 0.5, 0.2]},
    "finite1": {"law": "finite", "gains": [3e-11], "probs": [1.0]},
}


def mlp_doc(channel: str, mode: str, tasks: float, **placement) -> dict:
    return {
        "network": {"profile": "mlp8x512", "feature_bits": 32, "param_bits": 32},
        "device": {"cpu_hz": 8.6e8, "cycles_per_mac": 1.0, "kappa": 1e-27, "tx_power_w": 0.2, "idle_power_w": 0.01},
        "edge": {"cpu_hz": 3e9, "cycles_per_mac": 0.05},
        "uplink": {"bandwidth_hz": 1.2e6, "noise_w": 1e-13},
        "channel": CHANNELS[channel],
        "cost": {"energy_weight": 1.0, "time_weight": 0.6},
        "wait": {"mode": mode, "slot_s": 0.005},
        "placement": {
            "tasks_per_period": tasks,
            "downlink_bps": 2.2e7,
            "rx_energy_per_bit": 5e-8,
            "rule": "osla",
            **placement,
        },
    }


def mlp_instance(
    depth: int, width: int, channel: str, mode: str, tasks: float, inputs: int = 784, classes: int = 10, **placement
):
    inst = parse_instance(mlp_doc(channel, mode, tasks, **placement), name=f"mlp-d{depth}-w{width}")
    return replace(inst, network=replace(inst.network, profile=mlp_profile(depth, width, inputs, classes)))


# (depth, width, channel, mode, tasks_per_period, extra placement keys)
CASES = [
    (8, 512, "nakagami", "last", 4e4, {}),
    (8, 512, "rayleigh", "never", 400, {}),
    (8, 512, "rayleigh", "never", 1e12, {}),
    (5, 64, "finite", "last", 1e6, {}),
    (1, 100, "rayleigh", "last", 1e3, {}),
    (1, 100, "finite", "never", 1e9, {}),
    (2, 300, "nakagami", "never", 1e9, {}),
    (2, 300, "rician", "last", 50, {}),
    (30, 64, "rayleigh", "last", 1e7, {}),
    (30, 64, "finite", "never", 1e9, {}),
    (40, 16, "rician", "never", 1e5, {}),
    (12, 4, "nakagami", "last", 1e8, {}),
    (6, 1024, "rayleigh", "last", 2e5, {}),
    (6, 1024, "finite1", "never", 1e10, {}),
    (10, 256, "rician", "last", 1e6, {"memory_bits": 1.2e7}),
    (10, 256, "finite", "never", 1e10, {"memory_bits": 1.5e7}),
    (10, 256, "finite", "never", 1e10, {"memory_bits": 5.0e6}),
    (10, 256, "nakagami", "never", 1e10, {"memory_bits": 5.0e7}),
    (4, 32, "finite", "last", 1.0, {}),
]


def _id(case) -> str:
    depth, width, channel, mode, tasks, extra = case
    return f"d{depth}-w{width}-{channel}-{mode}-K{tasks:g}" + (f"-mem{extra['memory_bits']:g}" if extra else "")


@pytest.fixture(scope="module")
def solved() -> dict[str, tuple]:
    out = {}
    for case in CASES:
        depth, width, channel, mode, tasks, extra = case
        inst = mlp_instance(depth, width, channel, mode, tasks, **extra)
        out[_id(case)] = (inst, solve(inst, rule="osla"), solve(inst, method="closed-form"))
    return out


@pytest.mark.parametrize("case", CASES, ids=_id)
def test_closed_form_matches_enumeration(solved, case):
    _inst, enum, closed = solved[_id(case)]
    assert closed.method == "closed-form" and closed.rule == "osla"
    assert closed.placement == enum.placement
    assert [v.placement for v in closed.by_placement] == [v.placement for v in enum.by_placement]
    for c, e in zip(closed.by_placement, enum.by_placement):
        assert c.objective == pytest.approx(e.objective, rel=RTOL_VALUE)
        assert c.task_cost == pytest.approx(e.task_cost, rel=RTOL_VALUE)
        assert c.download_cost == pytest.approx(e.download_cost, rel=RTOL_VALUE)
    assert closed.objective == pytest.approx(enum.objective, rel=RTOL_VALUE)
    assert closed.decisions == enum.decisions
    for c, e in zip(closed.policy.thresholds, enum.policy.thresholds):
        if math.isinf(c) or math.isinf(e):
            assert c == e
        else:
            assert c == pytest.approx(e, rel=RTOL_THRESHOLD)


@pytest.mark.parametrize("case", CASES, ids=_id)
def test_closed_form_policy_value_is_its_task_cost(solved, case):
    # the closed-form J(M*) against policy evaluation of the closed-form decisions
    inst, enum, closed = solved[_id(case)]
    problem = prepare(inst)
    values = evaluate_policy(closed.policy.actions, problem.Y, problem.channel, problem.costs.wait_cost)
    assert closed.task_cost == pytest.approx(float(problem.channel.initial @ values[0]), rel=RTOL_VALUE)
    assert closed.breakdown.download_amortised + closed.task_cost == pytest.approx(closed.objective, rel=1e-12)
    assert closed.baselines["osla"].placement == enum.baselines["osla"].placement


def test_cases_cover_boundaries_and_interior(solved):
    where = set()
    for inst, enum, _closed in solved.values():
        n = inst.n_layers
        top = enum.by_placement[-1].placement
        where.add(
            "zero"
            if enum.placement == 0
            else ("full" if enum.placement == n else ("memory" if enum.placement == top else "interior"))
        )
    assert {"zero", "interior", "full", "memory"} <= where
    mh = {closed.solver["hidden_best"] for _, _, closed in solved.values()}
    assert len(mh) >= 4  # the logarithmic formula at several values, not only its clipped ends


def test_json_has_the_enumeration_keys(solved):
    _inst, enum, closed = next(iter(solved.values()))
    c, e = closed.to_dict(), enum.to_dict()
    assert c["method"] == "closed-form"
    assert set(e) <= set(c)
    json.dumps(c, allow_nan=False)


# ----------------------------------------------------------------------------- applicability


def test_rule_optimal_is_refused():
    inst = mlp_instance(3, 8, "rayleigh", "last", 100).with_rule("optimal")
    with pytest.raises(InstanceError, match='placement.rule = "optimal".*osla'):
        solve(inst, method="closed-form")


def test_markov_channel_is_refused():
    doc = mlp_doc("rayleigh", "last", 100)
    doc["channel"] = {"law": "markov", "gains": [1e-11, 1e-10], "transition": [[0.9, 0.1], [0.2, 0.8]]}
    inst = parse_instance(doc)
    with pytest.raises(InstanceError, match='channel.law = "markov".*i.i.d.'):
        solve(inst, method="closed-form")


def test_wait_any_is_refused():
    inst = mlp_instance(3, 8, "rayleigh", "any", 100)
    with pytest.raises(InstanceError, match='wait.mode = "any"'):
        solve(inst, method="closed-form")


def test_non_mlp_profile_is_refused():
    doc = mlp_doc("rayleigh", "last", 100)
    doc["network"]["profile"] = "lenet5"
    with pytest.raises(InstanceError, match="not an equal-neuron MLP"):
        solve(parse_instance(doc), method="closed-form")


def test_constraints_are_refused():
    doc = mlp_doc("rayleigh", "last", 100)
    doc["constraints"] = {"max_latency_s": 1.0}
    inst = parse_instance(doc)
    with pytest.raises(InstanceError, match="constraints"):
        solve(inst, method="closed-form")


def _renamed(profile: Profile, name: str, **arrays) -> Profile:
    return replace(profile, name=name, **arrays)


def test_detection_uses_the_arrays_not_the_name():
    base = mlp_instance(4, 16, "finite", "never", 1e6)
    prof = base.profile
    # identical hidden rows under another name: accepted, same answer as enumeration
    plain = replace(base, network=replace(base.network, profile=_renamed(prof, "anything")))
    assert solve(plain, method="closed-form").placement == solve(plain).placement
    # an "mlp" name with one hidden row changed: refused, naming the row and the field
    params = prof.params.copy()
    params[3] += 1
    broken = replace(base, network=replace(base.network, profile=_renamed(prof, "mlp-looking", params=params)))
    with pytest.raises(InstanceError, match="hidden layer 3 .* params"):
        solve(broken, method="closed-form")


@pytest.mark.slow
def test_cli_closed_form_json(tmp_path):
    from tests.support.instances import to_toml

    path = tmp_path / "mlp.toml"
    path.write_text(to_toml(mlp_doc("nakagami", "last", 4e4)), encoding="utf-8")
    out = subprocess.run(
        [sys.executable, "-m", "coopt", "solve", str(path), "--method", "closed-form", "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(out.stdout)
    ref = solve(parse_instance(mlp_doc("nakagami", "last", 4e4)))
    assert result["method"] == "closed-form" and result["placement"] == ref.placement
    bad = subprocess.run(
        [sys.executable, "-m", "coopt", "solve", str(path), "--method", "closed-form", "--rule", "optimal"],
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "osla" in bad.stderr


def test_import_coopt_and_enumeration_do_not_import_sympy():
    code = "import sys, coopt, coopt.cli.main; from coopt import solve, prepare; print('sympy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
