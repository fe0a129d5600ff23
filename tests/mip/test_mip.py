"""The placement MIP (coopt.mip.formulation, coopt.mip.highs, coopt.mip.method) against enumeration.

Enumeration with backward induction is the reference: placement compared exactly,
objectives to RTOL_MIP. QoS-constrained optima are checked against brute force over
every deterministic policy and against the Lagrangian bound of the DP.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coopt import evaluate_policy, occupation, prepare, solve
from coopt.cli.main import main
from coopt.dp.constraints import lagrangian_bound, physical_parts, smallest_achievable
from coopt.dp.enumeration import solve_enumeration
from coopt.dp.stopping import COMPUTE, STOP, WAIT, evaluate_randomised_policy, osla_policy
from coopt.errors import InstanceError, NoSolutionError, SolverUnavailableError
from coopt.mip.data import osla_actions, placement_data
from coopt.mip.formulation import build_placement_model
from coopt.mip.highs import MipOptions, PlacementResult, Termination, relative_gap, solve_fixed, solve_mip
from coopt.mip.solution import flow_residual, objective_from_values, read_solution
from coopt.model.constraints import QoS, parse_constraints
from coopt.model.costs import wait_allowed
from coopt.model.profiles import mlp_profile
from tests.support import tiny
from tests.support.brute import all_policies, independent_values
from tests.support.instances import GOLDEN

pytestmark = pytest.mark.mip

RTOL_MIP = 1e-7  # HiGHS (LP arithmetic, tolerances 1e-9) against backward induction
RTOL_EVAL = 1e-9  # the same policy evaluated two ways
RTOL_QOS = 1e-7  # a QoS row is met to HiGHS's feasibility tolerance
RTOL_BY_PLACEMENT = 1e-12  # by_placement: each LP's certified policy evaluated exactly, vs enumeration

CHANNELS = {
    **tiny.CHANNELS,
    "nakagami3": {"law": "nakagami", "mean_gain": 2e-9, "states": 3, "m": 1.7},
    "rician3": {"law": "rician", "mean_gain": 2e-9, "states": 3, "k_factor": 2.5},
}
CHAIN4 = tiny.CHAIN3 + [("fc2", 5000, 10, 5010)]


def close(a: float, b: float, rtol: float, scale: float = 0.0) -> bool:
    return abs(a - b) <= rtol * max(abs(a), abs(b), scale)


def mip_raw(inst, **kw):
    problem = prepare(inst)
    model = build_placement_model(problem, **kw)
    return problem, model, solve_mip(model)


# Every law x every wait mode (rule optimal), OSLA on a few, Markov with a given
# initial law, and memory limits that bind.
CASES = [
    (ch, mode, "optimal", {})
    for ch in ("finite3", "markov3", "rayleigh3", "nakagami3", "rician3")
    for mode in ("never", "last", "any")
]
CASES += [
    ("markov2", "any", "optimal", {}),
    ("finite3", "last", "osla", {}),
    ("markov3", "any", "osla", {}),
    ("rayleigh3", "never", "osla", {}),
    ("finite2", "any", "osla", {}),
    ("finite3", "last", "optimal", {"placement__memory_bits": 60_000.0}),
    ("markov3", "any", "optimal", {"placement__memory_bits": 60_000.0}),
    ("finite2", "last", "osla", {"placement__memory_bits": 60_000.0}),
]


def case_id(case):
    ch, mode, rule, kw = case
    return f"{ch}-{mode}-{rule}" + ("-memory" if kw else "")


def make(case):
    ch, mode, rule, kw = case
    return tiny.instance(CHAIN4, CHANNELS[ch], mode, **kw).with_rule(rule)


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_mip_equals_enumeration(case):
    inst = make(case)
    ref = solve(inst)
    _problem, _model, res = mip_raw(inst)
    assert res.termination is Termination.OPTIMAL and res.optimal
    assert close(res.objective, ref.objective, RTOL_MIP)
    assert res.gap is not None and res.gap <= 1e-9
    assert res.bound <= res.objective * (1 + 1e-12)
    got = solve(inst, method="mip")
    assert got.placement == ref.placement
    assert close(got.objective, ref.objective, RTOL_MIP)
    assert_by_placement_equal(got, ref)
    assert np.array_equal(got.policy.actions, ref.policy.actions)


def assert_by_placement_equal(got, ref) -> None:
    """Every field of every placement, each relative to its own magnitude."""
    assert [v.placement for v in got.by_placement] == [v.placement for v in ref.by_placement]
    for a, b in zip(got.by_placement, ref.by_placement):
        for field in ("objective", "task_cost", "download_cost"):
            assert close(getattr(a, field), getattr(b, field), RTOL_BY_PLACEMENT), (a.placement, field)


@pytest.mark.parametrize("rule", ["osla", "optimal"])
@pytest.mark.parametrize("channel", ["finite3", "markov3"])
def test_by_placement_of_a_wide_mlp_equals_enumeration(rule, channel):
    """Issue 11's drift: an 8-layer MLP of width 2048 with downloads far above the task
    cost (0.01 tasks per period, 100 kbit/s downlink). HiGHS's Phi(M) - D(M)/K gave
    J(M) off by 6e-8 relative under rule osla; every field now matches enumeration."""
    inst = tiny.instance(
        CHAIN4, CHANNELS[channel], "last", placement__tasks_per_period=0.01, placement__downlink_bps=1e5
    ).with_rule(rule)
    inst = replace(inst, network=replace(inst.network, profile=mlp_profile(7, 2048, 784, 10)))
    ref = solve(inst)
    got = solve(inst, method="mip")
    assert got.placement == ref.placement
    assert_by_placement_equal(got, ref)
    lp_diff = got.solver["by_placement_lp_max_rel_diff"]
    assert 0.0 <= lp_diff <= 1e-9


def test_memory_limit_binds():
    """The limit removes the unconstrained M* and its binary; the MIP follows enumeration."""
    free = tiny.instance(CHAIN4, CHANNELS["finite3"], "last")
    m_free = solve(free).placement
    assert m_free > 0
    limit = float(prepare(free).costs.memory_bits[m_free]) - 1.0
    inst = tiny.instance(CHAIN4, CHANNELS["finite3"], "last", placement__memory_bits=limit)
    ref = solve(inst)
    problem, model, res = mip_raw(inst)
    assert ref.placement < m_free
    assert sorted(model.z) == problem.placements and max(problem.placements) < m_free
    assert res.placement == ref.placement and close(res.objective, ref.objective, RTOL_MIP)


@pytest.mark.parametrize("case", [c for c in CASES if c[2] == "optimal"][::2], ids=case_id)
def test_mip_policy_evaluated_by_dp(case):
    """The incumbent's own policy, evaluated by stopping.evaluate_policy, gives its objective."""
    inst = make(case)
    problem, model, res = mip_raw(inst)
    assert res.policy is not None and not res.policy.randomised()
    m = res.placement
    values = evaluate_policy(res.policy.actions(), problem.Y, problem.channel, problem.costs.wait_cost)
    download = problem.costs.download[m] / inst.placement.tasks_per_period
    assert close(float(problem.channel.initial @ values[0]) + download, res.objective, RTOL_EVAL)
    # the occupation measure of that policy (forward, coopt.dp.stopping) is the MIP's one
    occ = occupation(res.policy.actions(), problem.channel).visits
    reached = res.policy.reached
    assert np.allclose(occ[reached], res.policy.visits[reached], rtol=1e-9, atol=1e-12)
    assert close(objective_from_values(model.coopt_data, res.solution), res.objective, RTOL_EVAL)
    assert flow_residual(model.coopt_data, res.solution) <= 1e-9


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n_layers=st.integers(1, 4),
    k=st.integers(1, 3),
    law=st.sampled_from(["finite", "markov"]),
    mode=st.sampled_from(["never", "last", "any"]),
    rule=st.sampled_from(["optimal", "osla"]),
    seed=st.integers(0, 2**32 - 1),
)
def test_random_instances(n_layers, k, law, mode, rule, seed):
    """On random small instances: the MIP never beats enumeration, equals it, same M*."""
    rng = np.random.default_rng(seed)
    rows = [("input", 0, int(rng.integers(100, 8000)), 0)]
    for i in range(n_layers):
        rows.append(
            (
                f"l{i}",
                int(rng.choice([0, rng.integers(10_000, 3_000_000)])),
                int(rng.integers(10, 9000)),
                int(rng.choice([0, rng.integers(100, 600_000)])),
            )
        )
    gains = sorted((10 ** rng.uniform(-10.5, -8, k)).tolist())
    if law == "finite":
        channel = {"law": "finite", "gains": gains, "probs": rng.dirichlet(np.ones(k)).tolist()}
    else:
        channel = {
            "law": "markov",
            "gains": gains,
            "transition": rng.dirichlet(np.ones(k), size=k).tolist(),
            "initial": rng.dirichlet(np.ones(k)).tolist(),
        }
    kw = {"placement__tasks_per_period": float(10 ** rng.uniform(0, 4))}
    if rng.random() < 0.3:
        kw["placement__memory_bits"] = float(rng.uniform(0, 2e7))
    inst = tiny.instance(rows, channel, mode, **kw).with_rule(rule)
    ref = solve(inst)
    _problem, model, res = mip_raw(inst)
    scale = model.coopt_data.scale
    assert res.optimal
    assert res.objective >= ref.objective - RTOL_MIP * max(ref.objective, scale)
    assert close(res.objective, ref.objective, RTOL_MIP, scale)
    assert solve(inst, method="mip").placement == ref.placement


# ----------------------------------------------------------------------------- model structure


def test_model_structure_follows_wait_mode():
    """Binaries per feasible M; waiting variables only where docs/model.md allows waiting."""
    for mode in ("never", "last", "any"):
        problem = prepare(tiny.instance(CHAIN4, CHANNELS["finite3"], mode))
        model = build_placement_model(problem)
        d = model.coopt_data
        assert list(model.z) == problem.placements
        waits_x = {n for (n, k, a) in model.x if a == WAIT}
        waits_y = {n for (n, k, a) in model.y if a == WAIT}
        n_layers = problem.costs.n_layers
        if mode == "never":
            assert not waits_x and not waits_y
        elif mode == "last":
            # only in terminal copies, at epochs n < N (placement n)
            assert not waits_x and waits_y == set(range(n_layers))
            assert all(wait_allowed(mode, n, n_layers)[n] for n in waits_y)
        else:
            assert waits_x == set(range(n_layers)) - {d.n_max}
        assert not any(a == COMPUTE for (n, k, a) in model.y)
        assert not any(n == d.n_max and a == COMPUTE for (n, k, a) in model.x)


@pytest.mark.parametrize("mode", ["never", "last", "any"])
@pytest.mark.parametrize("channel", ["finite3", "markov3"])
def test_osla_masks_match_osla_policy(mode, channel):
    problem = prepare(tiny.instance(CHAIN4, CHANNELS[channel], mode))
    n = problem.costs.n_layers
    interior, terminal = osla_actions(problem, n)
    for m in range(n + 1):
        acts = osla_policy(problem.Y, problem.channel, m, mode, problem.costs).actions
        assert np.array_equal(acts[:m], interior[:m])
        assert np.array_equal(acts[m], terminal[m])


def test_lp_relaxation_is_a_valid_bound_and_fixed_placements_are_exact():
    """Relaxing z gives a lower bound (maybe strictly lower: see coopt.mip.formulation); z fixed gives Phi(M)."""
    import pyomo.environ as pyo

    inst = tiny.instance(CHAIN4, CHANNELS["finite3"], "last")
    ref = solve(inst)
    problem = prepare(inst)
    model = build_placement_model(problem)
    for v in ref.by_placement:
        r = solve_fixed(model, v.placement)
        assert r.optimal and close(r.objective, v.objective, RTOL_MIP)
    for q in model.z:
        model.z[q].domain = pyo.UnitInterval
    relaxed = solve_mip(model)
    assert relaxed.objective <= ref.objective * (1 + 1e-12)


# ----------------------------------------------------------------------------- QoS constraints


def latency_and_cost_of_all_policies(problem, tasks_per_period):
    """(Phi, expected latency) of every deterministic policy at every placement (brute force)."""
    costs, channel, Y = problem.costs, problem.channel, problem.Y
    mode, n_layers, k = problem.instance.wait.mode, costs.n_layers, channel.n_states
    parts = physical_parts(costs, channel)
    out = []
    for m in problem.placements:
        for acts in all_policies(m, n_layers, k, mode):
            cost = float(channel.initial @ evaluate_policy(acts, Y, channel, costs.wait_cost)[0])
            if not math.isfinite(cost) or cost < 0:  # waits forever (singular system)
                continue
            lat = float(channel.initial @ evaluate_policy(acts, parts.stop_latency_s, channel, parts.wait_latency_s)[0])
            out.append((cost + costs.download[m] / tasks_per_period, lat, m))
    return out


def tiny_qos_instance(bound=None):
    """N = 3, three channel levels, energy-dominated cost: the optimum waits (mode last),
    so a latency bound can be met by waiting less, i.e. by randomising at the last epoch."""
    inst = tiny.instance(tiny.CHAIN3, CHANNELS["finite3"], "last", cost__time_weight=0.01)
    return inst if bound is None else replace(inst, constraints=QoS(max_latency_s=bound))


def test_binding_latency_bound_randomises_between_brute_force_bounds():
    free = tiny_qos_instance()
    problem = prepare(free)
    unconstrained = solve(free)
    lat_free = unconstrained.breakdown.latency_s
    lat_min = smallest_achievable(
        "max_latency_s", problem.Y, problem.channel, "last", problem.costs, "optimal", problem.placements
    ).value
    assert lat_min < lat_free
    bound = 0.5 * (lat_min + lat_free)
    inst = tiny_qos_instance(bound)
    got = solve(inst, method="mip")
    # the bound binds: the optimal randomised policy uses all of it
    assert close(got.solver["expected_latency_s"], bound, RTOL_QOS)
    assert close(got.breakdown.latency_s, bound, RTOL_QOS)
    # brute force over every deterministic policy of every placement
    policies = latency_and_cost_of_all_policies(problem, free.placement.tasks_per_period)
    best_det = min(c for c, lat, m in policies if lat <= bound)
    assert min(c for c, lat, m in policies) == pytest.approx(unconstrained.objective, rel=1e-12)
    assert unconstrained.objective * (1 - RTOL_MIP) <= got.objective <= best_det * (1 + RTOL_MIP)
    # strictly between here, which only a randomised policy can achieve
    assert got.objective < best_det * (1 - 1e-6)
    assert got.solver["randomised_decisions"]
    # the Lagrangian bound from backward induction lies below, and the gap is reported
    lag = got.solver["lagrangian_bound"]
    assert lag <= got.objective * (1 + RTOL_MIP)
    assert got.solver["lagrangian_gap"] == pytest.approx((got.objective - lag) / got.objective)
    # the randomised policy's exact value (evaluated outside the MIP) is its objective
    assert close(got.solver["policy_task_cost_evaluated"], got.task_cost, RTOL_EVAL)


def test_lagrangian_bound_is_a_bound_for_every_multiplier():
    free = tiny_qos_instance()
    problem = prepare(free)
    lat = solve(free).breakdown.latency_s
    qos = QoS(max_latency_s=0.9 * lat)
    got = solve(tiny_qos_instance(qos.max_latency_s), method="mip")
    lag = lagrangian_bound(
        problem.Y,
        problem.channel,
        "last",
        problem.costs,
        "optimal",
        problem.placements,
        free.placement.tasks_per_period,
        qos,
    )
    assert lag.bound <= lag.upper * (1 + 1e-12)
    assert lag.bound <= got.objective * (1 + RTOL_MIP)
    assert lag.multipliers["max_latency_s"] > 0


@pytest.mark.parametrize("channel", ["markov2", "finite3"])
def test_randomised_evaluation_matches_dp_and_detects_waiting_forever(channel):
    """Deterministic tables agree with a whole-chain linear solve; waiting in every state is +inf."""
    problem = prepare(tiny.instance(tiny.CHAIN3, CHANNELS[channel], "last"))
    Y, ch, c_w = problem.Y, problem.channel, problem.costs.wait_cost
    k = ch.n_states
    tables = all_policies(2, 3, k, "any")
    want = independent_values(tables, Y, ch, c_w)
    with np.errstate(invalid="ignore"):  # 0 * inf for a trapped state the task never enters
        got = np.array(
            [np.nansum(ch.initial * evaluate_randomised_policy(np.eye(3)[acts], Y, ch, c_w)[0]) for acts in tables]
        )
    assert np.array_equal(np.isinf(got), np.isinf(want))
    finite = np.isfinite(want)
    assert finite.sum() > 0 and np.isinf(want).sum() > 0
    assert np.allclose(got[finite], want[finite], rtol=RTOL_EVAL, atol=0)
    forever = np.zeros((2, k, 3))
    forever[0, :, COMPUTE] = 1.0
    forever[1, :, WAIT] = 1.0
    assert np.isinf(evaluate_randomised_policy(forever, Y, ch, c_w)).all()
    # stop or wait with probability 1/2 each at epoch 1: v = Y/2 + (c_w + T v)/2, where
    # T is one fresh draw (the whole chain written out here, not coopt's recursion)
    mixed = forever.copy()
    mixed[1, :, WAIT] = 0.5
    mixed[1, :, STOP] = 0.5
    T = ch.transition if ch.transition is not None else np.tile(ch.probs, (k, 1))
    v1 = np.linalg.solve(np.eye(k) - 0.5 * T, 0.5 * Y[1] + 0.5 * c_w)
    v = evaluate_randomised_policy(mixed, Y, ch, c_w)
    assert np.allclose(v[1], v1, rtol=RTOL_EVAL, atol=0)
    assert np.allclose(v[0], T @ v1, rtol=RTOL_EVAL, atol=0)


def test_slack_bounds_equal_enumeration():
    free = tiny.instance(CHAIN4, CHANNELS["markov3"], "any")
    ref = solve(free)
    inst = replace(
        free,
        constraints=QoS(max_latency_s=10 * ref.breakdown.latency_s, max_energy_j=10 * ref.breakdown.energy_j),
    )
    got = solve(inst, method="mip")
    assert got.placement == ref.placement and close(got.objective, ref.objective, RTOL_MIP)
    assert not got.solver["randomised_decisions"]
    assert close(got.solver["lagrangian_bound"], ref.objective, 1e-12)


def test_binding_energy_bound_holds():
    free = tiny.instance(CHAIN4, CHANNELS["rayleigh3"], "last")
    ref = solve(free)
    problem = prepare(free)
    e_min = smallest_achievable(
        "max_energy_j", problem.Y, problem.channel, "last", problem.costs, "optimal", problem.placements
    ).value
    bound = 0.5 * (e_min + ref.breakdown.energy_j)
    got = solve(replace(free, constraints=QoS(max_energy_j=bound)), method="mip")
    assert got.solver["expected_energy_j"] <= bound * (1 + RTOL_QOS)
    assert got.objective >= ref.objective * (1 - RTOL_MIP)
    assert got.solver["lagrangian_bound"] <= got.objective * (1 + RTOL_MIP)


def chain_doc():
    """The golden chain4 instance with the 2-state finite channel, as a TOML-able document."""
    import copy

    doc = copy.deepcopy(tiny.GOLDEN_DOC)
    doc["channel"] = dict(CHANNELS["finite2"])
    doc["network"]["profile"] = str(GOLDEN / "chain4.csv")
    return doc


@pytest.mark.parametrize("key,word", [("max_latency_s", "latency"), ("max_energy_j", "device energy")])
def test_infeasible_bound_exit_1_with_smallest_achievable(key, word, write_instance, capsys):
    from coopt import load_instance

    doc = chain_doc()
    problem = prepare(load_instance(write_instance(doc)))
    best = smallest_achievable(key, problem.Y, problem.channel, "last", problem.costs, "optimal", problem.placements)
    # independent check of the minimum: brute force over every deterministic policy
    parts = physical_parts(problem.costs, problem.channel)
    stop, wait = parts.stop(key), parts.wait(key)
    brute = min(
        float(problem.channel.initial @ evaluate_policy(acts, stop, problem.channel, wait)[0])
        for m in problem.placements
        for acts in all_policies(m, problem.costs.n_layers, problem.channel.n_states, "last")
    )
    assert close(best.value, brute, 1e-12)
    doc["constraints"] = {key: 0.5 * best.value}
    path = write_instance(doc)
    assert main(["solve", str(path), "--method", "mip"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    assert f"constraints.{key}" in err and "infeasible" in err
    assert f"smallest achievable expected {word} is {best.value:.6g}" in err
    with pytest.raises(NoSolutionError):
        solve(load_instance(path), method="mip")


@pytest.mark.parametrize(
    "table,fragment",
    [
        ({"max_latency": 1.0}, "constraints.max_latency: unknown key; did you mean 'max_latency_s'?"),
        ({"max_energy": 1.0}, "did you mean 'max_energy_j'?"),
        ({"latency_bound": 1.0}, "unknown key"),
        ({"max_latency_s": 0.0}, "constraints.max_latency_s = 0.0: must be > 0 (s)"),
        ({"max_energy_j": -1}, "constraints.max_energy_j = -1: must be > 0 (J)"),
        ({"max_latency_s": "fast"}, "constraints.max_latency_s = 'fast': must be a finite number > 0 (s)"),
        ({"max_latency_s": True}, "must be a finite number"),
    ],
)
def test_constraints_validation(table, fragment):
    with pytest.raises(InstanceError) as exc:
        parse_constraints(table)
    assert fragment in str(exc.value)
    assert "\n" not in str(exc.value)


def test_enumeration_refuses_constraints(write_instance, capsys):
    inst = tiny_qos_instance(1.0)
    with pytest.raises(InstanceError, match="use --method mip"):
        solve(inst)
    with pytest.raises(InstanceError, match="use --method mip"):
        solve_enumeration(prepare(inst))
    doc = chain_doc()
    doc["constraints"] = {"max_latency_s": 1.0}
    assert main(["solve", str(write_instance(doc))]) == 2
    assert "use --method mip" in capsys.readouterr().err
    assert parse_constraints({}) is None


# ----------------------------------------------------------------------------- solver boundary


def test_termination_table_covers_pyomo():
    from pyomo.contrib.solver.common.results import TerminationCondition

    from coopt.mip.highs import TERMINATION as _TERMINATION

    assert set(_TERMINATION) == set(TerminationCondition.__members__)
    assert _TERMINATION["maxTimeLimit"] is Termination.TIME_LIMIT
    assert [k for k, v in _TERMINATION.items() if v is Termination.OPTIMAL] == ["convergenceCriteriaSatisfied"]


def test_relative_gap_definition():
    assert relative_gap(None, 1.0) is None
    assert relative_gap(2.0, 1.0) == 0.5
    assert relative_gap(2.0, None) == math.inf
    assert relative_gap(0.0, 0.0) == 0.0


def test_time_limit_is_never_optimal():
    """A limit HiGHS cannot meet is reported as time_limit, with or without incumbent."""
    problem = prepare(wide_instance())
    model = build_placement_model(problem)
    res = solve_mip(model, MipOptions(time_limit=0.005))
    assert res.termination is Termination.TIME_LIMIT
    assert not res.optimal
    assert res.has_solution == (res.objective is not None)


def test_time_limit_without_incumbent_is_no_solution(monkeypatch, write_instance, capsys):
    import coopt.mip.method as mm

    def no_incumbent(model, options=None, solver=None, progress=None):
        return PlacementResult(Termination.TIME_LIMIT, False, None, 0.5, None, 1.0, 1.0, "HiGHS 1.16.0", None)

    monkeypatch.setattr(mm, "solve_mip", no_incumbent)
    with pytest.raises(NoSolutionError, match="time_limit.*time limit 1 s.*without a feasible solution"):
        solve(tiny_qos_instance(), method="mip", mip_options=MipOptions(time_limit=1.0))
    assert main(["solve", str(write_instance(chain_doc())), "--method", "mip", "--time-limit", "1"]) == 1
    assert "without a feasible solution" in capsys.readouterr().err


WIDE_ROWS = [("input", 0, 12288, 0)] + [(f"l{i}", 1_000_000, 12288 - 900 * i, 2000 * i) for i in range(1, 13)]


def wide_instance():
    """N = 12, K = 48: a build of ~0.3 s, long against a limit of a millisecond."""
    return tiny.instance(WIDE_ROWS, {"law": "rayleigh", "mean_gain": 2e-9, "states": 48}, "last")


def test_time_limit_covers_the_build(write_instance, capsys):
    """The limit is the method's wall time: a build that alone exceeds it is stopped."""
    with pytest.raises(NoSolutionError, match=r"--time-limit 0.001 s .* reached while building the MIP"):
        solve(wide_instance(), method="mip", mip_options=MipOptions(time_limit=1e-3))


def test_time_limit_covers_handing_the_model_to_highs():
    from coopt.mip.highs import Deadline, load_model, new_solver

    model = build_placement_model(prepare(wide_instance()))
    late = Deadline(1e-9)
    with pytest.raises(NoSolutionError, match=r"reached while handing the model to HiGHS \(0 of \d+ rows\)"):
        load_model(model, new_solver(), late)


def test_load_model_gives_the_set_instance_model():
    """Loading in chunks of rows is the same HiGHS model: same optimum, same search."""
    from coopt.mip.highs import Deadline, load_model, new_solver

    inst = tiny.instance(CHAIN4, CHANNELS["markov3"], "any")
    plain = solve_mip(build_placement_model(prepare(inst)))
    model = build_placement_model(prepare(inst))
    opt = new_solver()
    load_model(model, opt, Deadline(None), rows_per_chunk=7)
    chunked = solve_mip(model, None, opt)
    assert chunked.objective == plain.objective and chunked.placement == plain.placement
    assert chunked.nodes == plain.nodes


def test_every_highs_run_gets_the_time_left(monkeypatch):
    """The MIP and each fixed-placement LP get the limit minus the time spent."""
    import coopt.mip.method as mm

    limits = []
    real_mip, real_fixed = mm.solve_mip, mm.solve_fixed

    def spy_mip(model, options=None, solver=None, **kw):
        limits.append(options.time_limit)
        return real_mip(model, options, solver, **kw)

    def spy_fixed(model, placement, options=None, solver=None):
        limits.append(options.time_limit)
        return real_fixed(model, placement, options, solver)

    monkeypatch.setattr(mm, "solve_mip", spy_mip)
    monkeypatch.setattr(mm, "solve_fixed", spy_fixed)
    inst = tiny.instance(CHAIN4, CHANNELS["finite3"], "last")
    solve(inst, method="mip", mip_options=MipOptions(time_limit=600.0))
    # the MIP, one LP per placement (the policy at M* is certified from its LP, no more LP)
    assert len(limits) == 1 + len(prepare(inst).placements)
    assert all(0 < t < 600.0 for t in limits)
    assert limits == sorted(limits, reverse=True)


def test_a_per_placement_lp_at_the_time_limit_is_no_solution(monkeypatch):
    """A placement LP stopped by the limit would silently drop M from the argmin: refuse."""
    import coopt.mip.method as mm

    def stopped(model, placement, options=None, solver=None):
        return PlacementResult(Termination.TIME_LIMIT, False, None, None, None, 1.0, 1.0, "HiGHS 1.16.0", None)

    monkeypatch.setattr(mm, "solve_fixed", stopped)
    with pytest.raises(NoSolutionError, match=r"reached while solving the per-placement LPs \(0 of 5 done\)"):
        solve(tiny.instance(CHAIN4, CHANNELS["finite3"], "last"), method="mip", mip_options=MipOptions(time_limit=60))


def test_time_limit_with_incumbent_is_reported_not_optimal(monkeypatch, capsys):
    import coopt.mip.method as mm

    real = mm.solve_mip
    calls = []

    def stopped(model, options=None, solver=None, progress=None):
        """The first run (the MIP) stops at its time limit with its incumbent."""
        r = real(model, options, solver)
        calls.append(r)
        if len(calls) > 1:
            return r
        return replace(r, termination=Termination.TIME_LIMIT, bound=r.objective * 0.9, gap=0.1)

    monkeypatch.setattr(mm, "solve_mip", stopped)
    got = solve(tiny_qos_instance(), method="mip")
    assert got.solver["termination"] == "time_limit" and got.solver["gap"] == 0.1
    from coopt.report.text import solve_report

    assert "NOT proven optimal" in solve_report(got, tiny_qos_instance().profile.layer_names)


@pytest.mark.parametrize("fallback_also_wrong", [False, True])
def test_a_wrong_optimality_claim_is_caught(fallback_also_wrong, monkeypatch):
    """A run whose bound exceeds an exact LP is re-solved; if that fails too, it is flagged."""
    import coopt.mip.method as mm
    from coopt.report.text import solve_report
    from coopt.verify import verify

    real = mm.solve_mip
    fallbacks = []

    def wrong(model, options=None, solver=None, *, fallback=False, progress=None):
        r = real(model, options, solver, fallback=fallback)
        if fallback:
            fallbacks.append(r)
        if fallback and not fallback_also_wrong:
            return r
        return replace(r, objective=r.objective * 1.01, bound=r.objective * 1.01)

    monkeypatch.setattr(mm, "solve_mip", wrong)
    inst = tiny.instance(CHAIN4, CHANNELS["finite3"], "last")
    got = solve(inst, method="mip")
    assert len(fallbacks) == 1 and got.solver["retried_with_fallback"] is True
    assert got.solver["certified"] is (not fallback_also_wrong)
    assert close(got.objective, solve(inst).objective, RTOL_MIP)  # the exact LPs decide M*
    assert ("WARNING" in solve_report(got, inst.profile.layer_names)) is fallback_also_wrong
    report = verify(inst)
    assert report.ok is (not fallback_also_wrong)


def test_missing_highspy_is_one_line(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "highspy", None)
    with pytest.raises(SolverUnavailableError, match="pip install") as exc:
        solve(tiny_qos_instance(), method="mip")
    assert "\n" not in str(exc.value) and exc.value.exit_code == 2
    path = GOLDEN / "golden-finite-last.toml"
    assert main(["solve", str(path), "--method", "mip"]) == 2
    assert capsys.readouterr().err.strip().startswith("coopt: error: HiGHS is not installed")


@pytest.mark.parametrize(
    "args,fragment",
    [
        (["--time-limit", "-1"], "--time-limit = -1.0: must be"),
        (["--mip-gap", "2"], "--mip-gap = 2.0: must be"),
        (["--threads", "0"], "--threads = 0: must be an integer >= 1"),
    ],
)
def test_bad_solver_options_exit_2(args, fragment, capsys):
    assert main(["solve", str(GOLDEN / "golden-finite-last.toml"), "--method", "mip", *args]) == 2
    assert fragment in capsys.readouterr().err


def test_solver_options_need_method_mip(capsys):
    assert main(["solve", str(GOLDEN / "golden-finite-last.toml"), "--threads", "1"]) == 2
    assert "apply to --method mip" in capsys.readouterr().err


# ----------------------------------------------------------------------------- CLI


def _same(a, b, path=""):
    """JSON values equal: numbers to RTOL_MIP (or 1e-15 absolute for costs and
    probabilities that are 0 in one and round-off in the other), the rest exactly."""
    if isinstance(a, dict):
        assert set(a) == set(b), path
        for k in a:
            _same(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, list):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            _same(x, y, f"{path}[{i}]")
    elif isinstance(a, float) and not isinstance(a, bool):
        strict = "thresholds" in path or "gains" in path
        ok = close(a, b, RTOL_MIP) or (not strict and abs(a - b) <= 1e-15)
        assert isinstance(b, (int, float)) and ok, f"{path}: {a} != {b}"
    else:
        assert a == b, f"{path}: {a!r} != {b!r}"


@pytest.mark.parametrize("name", ["golden-finite-last", "golden-markov-any", "golden-rayleigh-osla"])
def test_cli_mip_json_matches_enumeration(name, capsys):
    path = str(GOLDEN / f"{name}.toml")
    assert main(["solve", path, "--json"]) == 0
    enum = json.loads(capsys.readouterr().out)
    assert main(["solve", path, "--json", "--method", "mip"]) == 0
    mip = json.loads(capsys.readouterr().out)
    solver = mip.pop("solver")
    assert mip.pop("method") == "mip" and enum.pop("method") == "enumeration"
    _same(enum, mip)
    assert solver["termination"] == "optimal" and solver["name"] == "HiGHS"
    assert close(solver["objective"], enum["objective"], RTOL_MIP)


def test_cli_mip_readable_report(capsys):
    assert main(["solve", str(GOLDEN / "golden-finite-last.toml"), "--method", "mip"]) == 0
    out = capsys.readouterr().out
    assert "method mip" in out and "optimal placement  M* = 2" in out
    assert "solver details" in out and "termination                  optimal" in out


def test_solve_route_does_not_import_pyomo():
    code = (
        "import sys; from coopt.cli.main import main; main(['solve', sys.argv[1], '--json']); "
        "assert 'pyomo' not in sys.modules, 'pyomo imported'; assert 'highspy' not in sys.modules"
    )
    run = subprocess.run(
        [sys.executable, "-c", code, str(GOLDEN / "golden-finite-last.toml")], capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr


def test_read_solution_roundtrip():
    """read_solution gives what the Pyomo expressions evaluate to."""
    import pyomo.environ as pyo

    problem, model, _res = mip_raw(tiny.instance(CHAIN4, CHANNELS["markov3"], "last"))
    sol = read_solution(model)
    assert close(objective_from_values(model.coopt_data, sol), pyo.value(model.phi), 1e-12)
    d = placement_data(problem)
    assert d.n_max == model.coopt_data.n_max and d.mass == 1.0


def test_lp_law_moves_tiny_probabilities_onto_the_largest_entry():
    """Entries in (0, SMALL_FLOW] go to their row's largest entry; rows still sum to 1."""
    from coopt.mip.data import SMALL_FLOW, lp_law

    P = np.array([[0.5, 0.5 - 3e-13, 3e-13], [0.2, 0.3, 0.5], [1e-20, 0.0, 1.0 - 1e-20]])
    out, count, mass = lp_law(P)
    assert count == 2 and mass == pytest.approx(3e-13, rel=1e-12)
    assert out[0, 2] == 0.0 and out[0, 0] == 0.5 + 3e-13 and out[2, 0] == 0.0
    assert np.array_equal(out[1], P[1])  # untouched rows are bit-identical
    assert np.allclose(out.sum(axis=1), 1.0, rtol=0, atol=1e-16)
    assert not ((out > 0) & (out <= SMALL_FLOW)).any()
    p = np.array([0.25, 0.75])
    assert lp_law(p)[0] is not None and np.array_equal(lp_law(p)[0], p) and lp_law(p)[1] == 0


def test_the_model_keeps_no_probability_highs_would_drop():
    """A Gauss-Markov chain with entries down to 1e-41: the LP's laws have none <= 1e-12."""
    inst = tiny.instance(tiny.CHAIN3, {"law": "rayleigh", "mean_gain": 2e-9, "states": 8, "coherence_s": 0.3}, "any")
    d = placement_data(prepare(inst))
    assert d.small_flows > 0 and 0 < d.small_flow_mass <= 8e-12
    for law in [*d.steps, d.wait_step]:
        assert not ((law > 0) & (law <= 1e-12)).any()
        assert np.allclose(law.sum(axis=1), 1.0, rtol=0, atol=1e-15)
    got = solve(inst, method="mip")
    assert got.solver["lp_small_flows"] == d.small_flows
    assert_by_placement_equal(got, solve(inst))


@pytest.mark.parametrize("rule", ["optimal", "osla"])
@pytest.mark.parametrize("channel", ["finite3", "markov3", "gaussmarkov3"])
def test_certified_policy_from_an_empty_lp_is_the_rules_policy(rule, channel):
    """An LP policy without any visits says nothing: the certification alone gives the
    rule's policy (OSLA: its table; optimal: policy iteration to backward induction's)."""
    from coopt.dp.stopping import backward_induction
    from coopt.mip.method import certified_policy
    from coopt.mip.solution import PolicyTable

    inst = tiny.instance(CHAIN4, CHANNELS[channel], "any").with_rule(rule)
    problem = prepare(inst)
    m = 3
    k = problem.channel.n_states
    empty = PolicyTable(m, np.zeros((m + 1, k, 3)), np.full((m + 1, k, 3), np.nan))
    cert = certified_policy(empty, problem)
    ref = (osla_policy if rule == "osla" else backward_induction)(problem.Y, problem.channel, m, "any", problem.costs)
    assert np.array_equal(cert.solution.actions, ref.actions)
    assert close(cert.solution.value, ref.value, 1e-13)
    assert np.allclose(cert.solution.values, ref.values, rtol=1e-13, atol=0)
    assert cert.unvisited == (m + 1) * k and cert.changed == 0
    if rule == "osla":
        assert cert.solution.value == ref.value and cert.improvements == 0  # the rule's own evaluation
    else:
        assert cert.improvements >= 1
