"""coopt.dp.fast (every placement in one sweep) against the per-placement reference recursion.

Every comparison is with :func:`coopt.dp.stopping.backward_induction` /
:func:`coopt.dp.stopping.osla_policy` run separately for each horizon: decisions must be
identical (docs/model.md's tie tolerance included), values equal to rounding.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coopt import prepare
from coopt.dp import fast
from coopt.dp.fast import METHODS, RULES, AllPlacements, PolicyMap, _ModelRows, _TableRows, solve_all, sweep_work
from coopt.dp.placement import baselines, enumerate_placements, enumerate_rules
from coopt.dp.stopping import COMPUTE, STOP, WAIT, backward_induction, osla_policy, tied_or_less
from tests.support import tiny
from tests.support.dp_cases import (
    CASES,
    FINITE4_DUP,
    ONE_STATE,
    TIED_ROWS,
    exact_counts,
    near_ties,
    problems,
)
from tests.support.instances import make_doc
from tests.support.tolerances import RTOL_EXACT

# theta = (2^(coef / (B (G - A - R))) - 1) / rho: the difference G - A - R cancels, so a
# rounding-level change of G shows up magnified in theta (observed up to ~3e-11).
RTOL_THRESHOLD = 1e-8
REFERENCE = {"optimal": backward_induction, "osla": osla_policy}
FAST_METHODS = ("model", "table")


def assert_matches_reference(prob, mode: str, tables: dict[str, AllPlacements]) -> None:
    """Every horizon and rule: decisions identical, values and thresholds to rounding."""
    for rule, table in tables.items():
        for horizon in range(prob.costs.n_layers + 1):
            ref = REFERENCE[rule](prob.Y, prob.channel, horizon, mode, prob.costs)
            got = table.policy(horizon)
            assert np.array_equal(got.actions, ref.actions), (rule, horizon)
            np.testing.assert_allclose(got.values, ref.values, rtol=RTOL_EXACT, atol=0)
            assert table.values[horizon] == pytest.approx(ref.value, rel=RTOL_EXACT, abs=0)
            assert got.value == table.values[horizon]
            assert np.array_equal(np.isinf(got.thresholds), np.isinf(ref.thresholds))
            finite = np.isfinite(ref.thresholds)
            np.testing.assert_allclose(got.thresholds[finite], ref.thresholds[finite], rtol=RTOL_THRESHOLD, atol=0)


def tied_pairs(prob) -> int:
    """How many (epoch, state) stop costs tie E[Y] of the next epoch (OSLA's L^c)."""
    lc = prob.Y[1:] @ prob.channel.probs
    y = prob.Y[:-1]
    return int(np.count_nonzero(tied_or_less(y, lc[:, None]) & tied_or_less(lc[:, None], y)))


# --------------------------------------------------------------------------- parametrised


@pytest.mark.parametrize("method", FAST_METHODS)
@pytest.mark.parametrize("mode", ["never", "last", "any"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_every_placement_matches_reference(case, mode, method):
    rows, channel = CASES[case]
    prob = prepare(tiny.instance(rows=rows, channel=channel, mode=mode))
    tables = solve_all(prob.Y, prob.channel, mode, prob.costs, method=method)
    assert_matches_reference(prob, mode, tables)


def test_tie_cases_really_tie():
    """The one-state tie case has stop costs exactly equal to the next epoch's mean, and
    the reference breaks the tie towards stopping, so the test above is not vacuous."""
    prob = prepare(tiny.instance(rows=TIED_ROWS, channel=ONE_STATE, mode="never"))
    assert np.array_equal(prob.Y[2], prob.Y[3]) and tied_pairs(prob) >= 1
    osla = osla_policy(prob.Y, prob.channel, 3, "never", prob.costs)
    assert osla.actions[2].tolist() == [STOP]


@pytest.mark.parametrize("method", FAST_METHODS)
@pytest.mark.parametrize("shade", [-5e-13, 0.0, 5e-13])
def test_osla_tie_between_compute_and_wait_goes_to_compute(shade, method):
    """A slot cost chosen so that L^w_n = c_w + E[Y_n] ties L^c_n = E[Y_{n+1}] at one
    epoch (within the tolerance, on either side): OSLA must compute there, not wait."""
    rows = [("input", 0, 3000, 0), ("conv", 10**7, 100, 2000), ("fc", 10**5, 10, 1000)]
    channel = {"law": "finite", "gains": [1e-11, 1e-8], "probs": [0.2, 0.8]}
    prob = prepare(tiny.instance(rows=rows, channel=channel, mode="any"))
    mean = prob.Y @ prob.channel.probs
    n = 0  # E[Y_1] > E[Y_0], and the bad state's Y_0 exceeds E[Y_1]: it does not stop
    costs = replace(prob.costs, wait_cost=mean[n + 1] * (1 + shade) - mean[n])
    lc, lw = mean[n + 1], costs.wait_cost + mean[n]
    assert costs.wait_cost > 0 and tied_or_less(lc, lw) and tied_or_less(lw, lc)
    horizon = prob.costs.n_layers
    ref = osla_policy(prob.Y, prob.channel, horizon, "any", costs)
    assert COMPUTE in ref.actions[n] and WAIT not in ref.actions[n]
    table = solve_all(prob.Y, prob.channel, "any", costs, ("osla",), method=method)["osla"]
    assert_matches_reference(replace(prob, costs=costs), "any", {"osla": table})


@pytest.mark.parametrize("mode", ["never", "last", "any"])
def test_cases_exercise_every_action(mode):
    """Across the parametrised cases, both rules stop, compute and (where allowed) wait."""
    seen: dict[str, set[int]] = {"optimal": set(), "osla": set()}
    for rows, channel in CASES.values():
        prob = prepare(tiny.instance(rows=rows, channel=channel, mode=mode))
        for rule, table in solve_all(prob.Y, prob.channel, mode, prob.costs).items():
            for horizon in range(prob.costs.n_layers + 1):
                seen[rule] |= set(np.unique(table.policy(horizon).actions).tolist())
    want = {STOP, COMPUTE} | ({WAIT} if mode != "never" else set())
    assert seen["optimal"] == want and seen["osla"] == want


@pytest.mark.parametrize("mode", ["never", "last", "any"])
def test_rayleigh_many_states_many_layers(mode):
    """A longer chain on a finely quantised channel (K = 257): J for every M, both rules."""
    rng = np.random.default_rng(7)
    n = 24
    rows = [("input", 0, 150_528, 0)] + [
        (f"l{i}", int(rng.integers(0, 4) * 400_000), int(rng.integers(1, 9) * 2000), int(rng.integers(0, 3) * 50_000))
        for i in range(1, n + 1)
    ]
    channel = {"law": "rayleigh", "mean_gain": 1e-9, "states": 257}
    prob = prepare(tiny.instance(rows=rows, channel=channel, mode=mode))
    for method in FAST_METHODS:
        tables = solve_all(prob.Y, prob.channel, mode, prob.costs, method=method)
        for rule, table in tables.items():
            for horizon in (0, 1, n // 2, n - 1, n):
                ref = REFERENCE[rule](prob.Y, prob.channel, horizon, mode, prob.costs)
                got = table.policy(horizon)
                assert np.array_equal(got.actions, ref.actions)
                np.testing.assert_allclose(got.values, ref.values, rtol=RTOL_EXACT, atol=0)


# --------------------------------------------------------------------------- hypothesis


@settings(max_examples=60, deadline=None)
@given(problems(), st.sampled_from(FAST_METHODS))
def test_hypothesis_every_placement_matches_reference(problem, method):
    prob, mode = problem
    assert_matches_reference(prob, mode, solve_all(prob.Y, prob.channel, mode, prob.costs, method=method))


@settings(max_examples=25, deadline=None)
@given(problems(), st.integers(0, 2**32 - 1))
def test_hypothesis_table_method_on_arbitrary_tables(problem, seed):
    """Any table, not only the model's (rows unsorted, ties repeated): the table method
    sorts each row and still reproduces the reference exactly."""
    prob, mode = problem
    rng = np.random.default_rng(seed)
    Y = prob.Y * rng.choice([0.5, 1.0, 2.0], size=prob.Y.shape)
    Y[rng.random(Y.shape[0]) < 0.3] = Y[0]  # repeated rows: exact ties between epochs
    arbitrary = replace(prob, Y=Y)
    tables = solve_all(Y, prob.channel, mode, prob.costs, method="table")
    assert_matches_reference(arbitrary, mode, tables)
    auto = solve_all(Y, prob.channel, mode, prob.costs, method="auto")
    # "auto" takes the model's rank-one route when the drawn factors are all 1 (Y is then
    # the model's table): the same values summed in another order.
    for rule in tables:
        np.testing.assert_allclose(auto[rule].values, tables[rule].values, rtol=RTOL_EXACT, atol=0)


# --------------------------------------------------------------------------- tie-aware counting


@pytest.mark.parametrize("seed", range(4))
def test_stop_set_sizes_are_exact_at_the_tolerance(seed):
    rng = np.random.default_rng(seed)
    prob = prepare(tiny.instance(rows=TIED_ROWS, channel=FINITE4_DUP, mode="last"))
    Y, x = prob.Y, near_ties(prob.Y, rng)
    x[0], x[-1] = np.inf, -np.inf
    want = exact_counts(Y, x)
    model = _ModelRows(prob.costs, prob.channel.gains, prob.channel.probs)
    probs = prob.channel.probs[::-1]
    qa = np.concatenate([[0.0], np.cumsum(probs)])
    qb = np.concatenate([np.cumsum(probs[::-1])[::-1], [0.0]])
    table = _TableRows(Y, 0, probs, qa, qb)
    np.testing.assert_array_equal(model.count_tied(x), want)
    np.testing.assert_array_equal(table.count_tied(x), want)
    assert 0 < want[1:-1].sum() < Y[1:-1].size  # thresholds inside the rows, not all trivial


# --------------------------------------------------------------------------- enumeration API


@pytest.mark.parametrize("mode", ["never", "last", "any"])
@pytest.mark.parametrize("rule", ["optimal", "osla"])
def test_enumerate_placements_default_matches_reference(mode, rule):
    inst = tiny.instance(rows=TIED_ROWS, channel="finite3", mode=mode, placement__memory_bits=2e6)
    prob = prepare(inst)
    placements = prob.placements
    assert placements != list(range(inst.n_layers + 1))  # the memory limit removes some M
    fast_values, fast_policies = enumerate_placements(prob.Y, prob.channel, mode, prob.costs, rule, placements, 150.0)
    ref_values, ref_policies = enumerate_placements(
        prob.Y, prob.channel, mode, prob.costs, rule, placements, 150.0, method="reference"
    )
    assert isinstance(fast_policies, PolicyMap) and isinstance(ref_policies, dict)
    assert [v.placement for v in fast_values] == [v.placement for v in ref_values] == placements
    for f, r in zip(fast_values, ref_values):
        assert f.objective == pytest.approx(r.objective, rel=RTOL_EXACT)
        assert f.task_cost == pytest.approx(r.task_cost, rel=RTOL_EXACT)
        assert f.download_cost == r.download_cost
    assert list(fast_policies) == list(ref_policies) and len(fast_policies) == len(ref_policies)
    for m in placements:
        assert m in fast_policies
        assert np.array_equal(fast_policies[m].actions, ref_policies[m].actions)
    missing = max(set(range(inst.n_layers + 1)) - set(placements))
    assert missing not in fast_policies
    with pytest.raises(KeyError):
        fast_policies[missing]


def test_policy_map_caches_and_accepts_new_entries():
    prob = prepare(tiny.instance(mode="last"))
    table = solve_all(prob.Y, prob.channel, "last", prob.costs, ("optimal",))["optimal"]
    pm = PolicyMap(table, [0, 2])
    assert pm[2] is pm[2]
    extra = backward_induction(prob.Y, prob.channel, 3, "last", prob.costs)
    pm[3] = extra
    assert list(pm) == [0, 2, 3] and pm[3] is extra
    del pm[0]
    assert list(pm) == [2, 3] and 0 not in pm


def test_baselines_from_values_equal_baselines_from_policies():
    prob = prepare(tiny.instance(rows=TIED_ROWS, channel="finite3", mode="any"))
    p = prob.placements
    by_rule = enumerate_rules(prob.Y, prob.channel, "any", prob.costs, ("optimal", "osla"), p, 150.0)
    osla = by_rule["osla"][0]
    from_values = baselines(
        prob.Y,
        prob.channel,
        "any",
        prob.costs,
        p,
        150.0,
        osla,
        {v.placement: v.task_cost for v in by_rule["optimal"][0]},
    )
    from_reference = baselines(prob.Y, prob.channel, "any", prob.costs, p, 150.0, osla)
    for name, b in from_reference.items():
        assert from_values[name].placement == b.placement
        assert from_values[name].objective == pytest.approx(b.objective, rel=RTOL_EXACT)


def test_markov_channels_are_not_solved_here():
    """solve_all refuses a Markov channel; enumeration sends it to coopt.dp.markov
    (tests/dp/test_markov_fast.py), or to the reference with method = "reference"."""
    prob = prepare(tiny.instance(channel="markov3", mode="last"))
    with pytest.raises(ValueError, match="i.i.d."):
        solve_all(prob.Y, prob.channel, "last", prob.costs)
    args = (prob.Y, prob.channel, "last", prob.costs, "optimal", prob.placements, 150.0)
    values, policies = enumerate_placements(*args, method="reference")
    assert isinstance(policies, dict)
    ref = backward_induction(prob.Y, prob.channel, 2, "last", prob.costs)
    assert values[2].task_cost == ref.value
    values, policies = enumerate_placements(*args)
    assert isinstance(policies, PolicyMap)
    assert values[2].task_cost == pytest.approx(ref.value, rel=RTOL_EXACT, abs=0)


def test_model_method_never_forms_the_table_and_refuses_a_foreign_one():
    prob = prepare(tiny.instance(rows=TIED_ROWS, channel="finite3", mode="last"))
    without = solve_all(None, prob.channel, "last", prob.costs, method="model")
    with_y = solve_all(prob.Y, prob.channel, "last", prob.costs, method="model")
    for rule in without:
        np.testing.assert_array_equal(without[rule].values, with_y[rule].values)
        np.testing.assert_array_equal(without[rule].policy(4).values, with_y[rule].policy(4).values)
    with pytest.raises(ValueError, match="not costs.stop_cost"):
        solve_all(prob.Y * 1.5, prob.channel, "last", prob.costs, method="model")


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"rules": ("optimal", "greedy")}, "rules"),
        ({"mode": "sometimes"}, "mode"),
        ({"method": "fastest"}, "method"),
    ],
)
def test_bad_arguments_are_refused(kwargs, match):
    prob = prepare(tiny.instance(mode="last"))
    args = {"Y": prob.Y, "channel": prob.channel, "mode": "last", "costs": prob.costs} | kwargs
    with pytest.raises(ValueError, match=match):
        solve_all(**args)
    assert set(METHODS) == {"auto", "model", "table"}


# --------------------------------------------------------------------------- start-up


@pytest.mark.parametrize(
    "channel",
    [
        {"law": "rician", "mean_gain": 5e-11, "k_factor": 4.0, "states": 64},
        {"law": "rayleigh", "mean_gain": 5e-11, "states": 256},
    ],
)
def test_solve_route_imports_no_slow_module(write_instance, channel):
    """`coopt solve` stays on NumPy (and scipy.special for the Rician law): no
    scipy.stats (~0.7 s to import), Pyomo, SymPy, Matplotlib, Dask, onnx or onnxruntime."""
    path = write_instance(make_doc() | {"channel": channel})
    code = (
        "import sys; from coopt.cli.main import main; main(['solve', sys.argv[1]]); "
        "slow = [m for m in ('scipy.stats', 'pyomo', 'sympy', 'matplotlib', 'dask', 'distributed', 'onnx', "
        "'onnxruntime') if m in sys.modules]; "
        "assert not slow, slow"
    )
    run = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr


# --------------------------------------------------------------------------- O(N) memory


@pytest.fixture
def no_kept_matrix(monkeypatch):
    """Every sweep as for large N: no (N+1) x (N+1) matrix, one backward pass per policy."""
    monkeypatch.setattr(fast, "KEEP_ELEMENTS", 0)


@pytest.mark.parametrize("method", FAST_METHODS)
@pytest.mark.parametrize("mode", ["never", "last", "any"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_one_pass_policies_match_reference(case, mode, method, no_kept_matrix):
    rows, channel = CASES[case]
    prob = prepare(tiny.instance(rows=rows, channel=channel, mode=mode))
    tables = solve_all(prob.Y, prob.channel, mode, prob.costs, method=method)
    assert all(not t.sweep.kept for t in tables.values())
    assert_matches_reference(prob, mode, tables)


@pytest.mark.parametrize("method", FAST_METHODS)
@pytest.mark.parametrize("mode", ["never", "last", "any"])
def test_backward_pass_is_the_kept_column_bit_for_bit(mode, method, monkeypatch):
    """A policy's backward pass at M does the sweep's floating-point operations on one
    horizon: its column equals the kept matrix's column exactly, and its first entry is
    J(M) exactly; the values of a sweep without the matrix are the same numbers too."""
    rng = np.random.default_rng(11)
    n = 40
    rows = [("input", 0, 150_528, 0)] + [
        (f"l{i}", int(rng.integers(0, 4) * 400_000), int(rng.integers(1, 9) * 2000), int(rng.integers(0, 3) * 50_000))
        for i in range(1, n + 1)
    ]
    prob = prepare(tiny.instance(rows=rows, channel={"law": "rayleigh", "mean_gain": 1e-9, "states": 33}, mode=mode))
    kept = solve_all(prob.Y, prob.channel, mode, prob.costs, method=method)
    monkeypatch.setattr(fast, "KEEP_ELEMENTS", 0)
    lean = solve_all(prob.Y, prob.channel, mode, prob.costs, method=method)
    for rule in RULES:
        matrix = kept[rule].sweep.kept[rule]
        assert rule not in lean[rule].sweep.kept
        np.testing.assert_array_equal(lean[rule].values, kept[rule].values)
        np.testing.assert_array_equal(lean[rule].values, matrix[0])
        for m in range(n + 1):
            column = lean[rule].expected_column(m)
            np.testing.assert_array_equal(column, matrix[: m + 1, m])
            assert column[0] == lean[rule].values[m]
        # the full matrix on request: a second sweep that keeps it
        np.testing.assert_array_equal(lean[rule].expected, matrix)
        with pytest.raises(ValueError, match="horizon"):
            lean[rule].expected_column(n + 1)


@pytest.mark.parametrize("mode", ["never", "last", "any"])
def test_tick_counts_every_horizon_value_and_changes_nothing(mode):
    prob = prepare(tiny.instance(mode=mode))
    n = prob.costs.n_layers
    ticks: list[tuple[int, int]] = []
    quiet = solve_all(None, prob.channel, mode, prob.costs)
    loud = solve_all(None, prob.channel, mode, prob.costs, tick=lambda done, total: ticks.append((done, total)))
    assert [d for d, _ in ticks] == list(range(1, n + 2)) and sum(d for d, _ in ticks) == sweep_work(n)
    assert {t for _, t in ticks} == {sweep_work(n)} == {(n + 1) * (n + 2) // 2}
    for rule in quiet:
        assert np.array_equal(quiet[rule].values, loud[rule].values)


@pytest.mark.parametrize("mode", ["never", "last", "any"])
def test_markov_tick_counts_the_epochs_and_changes_nothing(mode):
    from coopt.dp.enumeration import solve_enumeration

    prob = prepare(tiny.instance(channel="markov3", mode=mode))
    ticks: list[tuple[int, int]] = []
    loud = solve_enumeration(prob, tick=lambda done, total: ticks.append((done, total)))
    top = max(prob.placements)
    assert ticks == [(1, top + 1)] * (top + 1)
    assert loud.to_dict() == solve_enumeration(prob).to_dict()
