"""coopt.dp.batch: the all-placement sweep of one device for many share variants at once.

The oracle is a loop of coopt.dp.fast.solve_all over the per-variant cost models
(share_costs), itself checked against the reference recursion in tests/dp/test_fast.py; and
share_costs is checked against the instance rewritten at the shares and prepared from scratch.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coopt import prepare
from coopt.dp import batch
from coopt.dp.batch import (
    argmin_placements,
    share_costs,
    share_rates,
    share_stop_costs,
    solve_all_batch,
    solve_share_grid,
)
from coopt.dp.fast import RULES, solve_all
from coopt.dp.markov import solve_all_markov, solve_all_markov_batch
from coopt.dp.placement import argmin_placement, placement_values
from tests.support import tiny
from tests.support.dp_cases import CASES, FINITE4_DUP, TIED_ROWS, exact_counts, near_ties, problems
from tests.support.markov_cases import problems as markov_problems

RTOL = 1e-12
SHARES = st.sampled_from([1.0, 0.5, 0.25, 1 / 16, 0.7, 3 / 16, 1e-3])


def loop_values(prob, mode, xs, ys, rules=RULES):
    """``{rule: (P, N + 1)}`` by one solve_all per pair (the oracle)."""
    out = {rule: [] for rule in rules}
    for x, y in zip(xs, ys, strict=True):
        tables = solve_all(None, prob.channel, mode, share_costs(prob.costs, x, y), rules, method="model")
        for rule in rules:
            out[rule].append(tables[rule].values)
    return {rule: np.array(v) for rule, v in out.items()}


def assert_batch_matches_loop(prob, mode, xs, ys):
    xs, ys = np.asarray(xs, dtype=float), np.asarray(ys, dtype=float)
    rates = share_rates(prob.costs, prob.channel.gains, xs)
    got = solve_all_batch(prob.costs, prob.channel, mode, rates, ys)
    want = loop_values(prob, mode, xs, ys)
    k_tasks = prob.instance.placement.tasks_per_period
    for rule in RULES:
        assert got[rule].shape == want[rule].shape
        np.testing.assert_allclose(got[rule], want[rule], rtol=RTOL, atol=0)
        # the same placement, by coopt solve's own argmin on the loop's values
        for p, (x, y) in enumerate(zip(xs, ys, strict=True)):
            costs_p = share_costs(prob.costs, x, y)
            task = {m: float(want[rule][p, m]) for m in prob.placements}
            best = argmin_placement(placement_values(task, costs_p, prob.placements, k_tasks))
            phi, m_star = argmin_placements(got[rule] + prob.costs.download / k_tasks, prob.placements)
            assert m_star[p] == best.placement
            assert phi[p] == pytest.approx(best.objective, rel=RTOL, abs=0)
    return got


@settings(max_examples=60, deadline=None)
@given(problems(), st.lists(st.tuples(SHARES, SHARES), min_size=1, max_size=6))
def test_hypothesis_batch_equals_loop_of_solve_all(problem, pairs):
    prob, mode = problem
    xs, ys = zip(*pairs, strict=True)
    assert_batch_matches_loop(prob, mode, xs, ys)


@pytest.mark.parametrize("mode", ["never", "last", "any"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_tie_cases_equal_loop(case, mode):
    """The instances of tests/dp/test_fast.py with exact ties (equal rows, duplicate gains,
    one state, a zero-probability state)."""
    rows, channel = CASES[case]
    prob = prepare(tiny.instance(rows=rows, channel=channel, mode=mode))
    xs = [1.0, 0.5, 0.5, 1 / 16, 1.0]
    ys = [1.0, 1.0, 0.25, 1 / 16, 1e-3]
    assert_batch_matches_loop(prob, mode, xs, ys)


@pytest.mark.parametrize("mode", ["never", "last", "any"])
def test_many_states_use_the_binary_search(mode, monkeypatch):
    """Above COUNT_MAX_STATES the sorted-array counts are a batched binary search; both
    branches give the loop's values (here forced on a 24-state channel, and 100 states)."""
    prob = prepare(tiny.instance(rows=CASES["tied-rayleigh24"][0], channel="rayleigh3", mode=mode), states=100)
    xs, ys = [1.0, 0.3, 1 / 16], [0.5, 1.0, 0.2]
    assert_batch_matches_loop(prob, mode, xs, ys)
    prob24 = prepare(tiny.instance(rows=CASES["tied-rayleigh24"][0], channel="rayleigh3", mode=mode), states=24)
    counted = solve_all_batch(
        prob24.costs, prob24.channel, mode, share_rates(prob24.costs, prob24.channel.gains, xs), ys
    )
    monkeypatch.setattr(batch, "COUNT_MAX_STATES", 4)
    searched = assert_batch_matches_loop(prob24, mode, xs, ys)
    for rule in RULES:
        np.testing.assert_array_equal(searched[rule], counted[rule])


def test_share_costs_is_the_instance_at_the_shares():
    """share_costs against the instance with bandwidth x B, noise x sigma2 and edge clock y f_E,
    prepared from scratch: every stop cost, R and the rates agree to rounding."""
    inst = tiny.instance(rows=CASES["tied-finite3"][0])
    base = prepare(inst)
    for x, y in [(1.0, 1.0), (0.25, 0.5), (1 / 16, 1e-3)]:
        at = replace(
            inst,
            uplink=replace(inst.uplink, bandwidth_hz=x * inst.uplink.bandwidth_hz, noise_w=x * inst.uplink.noise_w),
            edge=replace(inst.edge, cpu_hz=y * inst.edge.cpu_hz),
        )
        direct = prepare(at)
        ours = share_costs(base.costs, x, y)
        np.testing.assert_allclose(ours.stop_cost(base.channel.gains), direct.Y, rtol=1e-14, atol=0)
        np.testing.assert_allclose(ours.R, direct.costs.R, rtol=1e-14, atol=0)
        np.testing.assert_allclose(
            share_rates(base.costs, base.channel.gains, [x])[0], direct.costs.rate_bps(direct.channel.gains), rtol=1e-14
        )
        np.testing.assert_array_equal(
            share_rates(base.costs, base.channel.gains, [x])[0], ours.rate_bps(base.channel.gains)
        )
        # what does not depend on the shares is unchanged, bit for bit
        for name in ("A", "overhead", "download", "upload_coef", "memory_bits"):
            np.testing.assert_array_equal(getattr(ours, name), getattr(base.costs, name))
        assert ours.wait_cost == base.costs.wait_cost


def test_share_grid_is_the_batch_on_the_product():
    prob = prepare(tiny.instance(mode="any"))
    xs, ys = [1.0, 0.5, 0.125], [1.0, 0.25]
    grid = solve_share_grid(prob.costs, prob.channel, "any", xs, ys)
    for rule in RULES:
        assert grid[rule].shape == (3, 2, prob.costs.n_layers + 1)
        for i, x in enumerate(xs):
            for j, y in enumerate(ys):
                want = solve_all(None, prob.channel, "any", share_costs(prob.costs, x, y), method="model")[rule].values
                np.testing.assert_allclose(grid[rule][i, j], want, rtol=RTOL, atol=0)


def test_full_shares_reproduce_solve_all_of_the_device():
    """At x = y = 1 the batch is the device itself (the values solve_all gives it)."""
    for mode in ("never", "last", "any"):
        prob = prepare(tiny.instance(rows=CASES["tied-finite3"][0], mode=mode))
        got = solve_all_batch(prob.costs, prob.channel, mode, prob.costs.rate_bps(prob.channel.gains)[None, :], [1.0])
        want = solve_all(prob.Y, prob.channel, mode, prob.costs)
        for rule in RULES:
            np.testing.assert_allclose(got[rule][0], want[rule].values, rtol=RTOL, atol=0)


def test_argmin_ties_go_to_the_smaller_placement():
    obj = np.array([[3.0, 2.0, 2.0 * (1 + 1e-13), 5.0], [1.0, 1.0, 0.5, 0.5], [4.0, 3.0, 2.0, 1.0]])
    phi, m = argmin_placements(obj, [0, 1, 2, 3])
    assert m.tolist() == [1, 2, 3]
    assert phi.tolist() == [2.0, 0.5, 1.0]
    _, m = argmin_placements(obj, [0, 1])  # only the feasible placements count
    assert m.tolist() == [1, 0, 1]


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"rates": np.ones((2, 5))}, "rates has shape"),
        ({"rates": np.array([[1e6, 0.0, 2e6], [1e6, 2e6, 3e6]])}, "positive"),
        ({"rates": np.array([[3e6, 2e6, 1e6], [1e6, 2e6, 3e6]])}, "non-decreasing"),
        ({"edge_shares": np.array([1.0])}, "edge_shares has shape"),
        ({"edge_shares": np.array([1.0, 0.0])}, r"\(0, 1\]"),
        ({"mode": "sometimes"}, "mode"),
        ({"rules": ("best",)}, "rules"),
    ],
)
def test_bad_arguments_are_refused(change, match):
    prob = prepare(tiny.instance())
    kwargs = {
        "costs": prob.costs,
        "channel": prob.channel,
        "mode": "last",
        "rates": share_rates(prob.costs, prob.channel.gains, [1.0, 0.5]),
        "edge_shares": np.array([1.0, 0.5]),
    } | change
    with pytest.raises(ValueError, match=match):
        solve_all_batch(**kwargs)


def test_markov_channels_and_zero_shares_are_refused():
    prob = prepare(tiny.instance(channel="markov3"))
    with pytest.raises(ValueError, match="i.i.d."):
        solve_all_batch(prob.costs, prob.channel, "last", np.ones((1, 3)), [1.0])
    with pytest.raises(ValueError, match=r"\(0, 1\]"):
        share_costs(prob.costs, 0.0, 1.0)
    with pytest.raises(ValueError, match=r"\(0, 1\]"):
        share_rates(prob.costs, prob.channel.gains, [0.5, 0.0])


@pytest.mark.parametrize("seed", range(4))
def test_stop_set_sizes_are_exact_at_the_tolerance(seed):
    """The batched tie-aware counts equal tied_or_less counted entry by entry, for
    thresholds on and just inside / outside the tolerance of entries of each variant's rows."""
    rng = np.random.default_rng(seed)
    prob = prepare(tiny.instance(rows=TIED_ROWS, channel=FINITE4_DUP, mode="last"))
    xs, ys = np.array([1.0, 0.4, 1 / 16]), np.array([1.0, 0.3, 0.9])
    rows = batch._BatchRows(prob.costs, ys, share_rates(prob.costs, prob.channel.gains, xs), prob.channel.probs)
    Ys = [share_costs(prob.costs, x, y).stop_cost(prob.channel.gains) for x, y in zip(xs, ys, strict=True)]
    x = np.array([near_ties(Y, rng) for Y in Ys])
    x[:, 0], x[:, -1] = np.inf, -np.inf
    want = np.array([exact_counts(Y, xp) for Y, xp in zip(Ys, x, strict=True)])
    np.testing.assert_array_equal(rows.count_tied(x), want)
    assert 0 < want[:, 1:-1].sum() < want[:, 1:-1].size * prob.channel.n_states


@pytest.mark.parametrize("shade", [-5e-13, 0.0, 5e-13])
def test_osla_tie_between_compute_and_wait_in_one_variant(shade):
    """tests/dp/test_fast.py's compute/wait tie of OSLA, made to hold in the second of three
    variants only (c_w chosen from that variant's means): the batch follows the loop there."""
    rows = [("input", 0, 3000, 0), ("conv", 10**7, 100, 2000), ("fc", 10**5, 10, 1000)]
    channel = {"law": "finite", "gains": [1e-11, 1e-8], "probs": [0.2, 0.8]}
    prob = prepare(tiny.instance(rows=rows, channel=channel, mode="any"))
    xs, ys = [1.0, 0.5, 0.25], [1.0, 0.5, 1.0]
    mean = share_costs(prob.costs, xs[1], ys[1]).stop_cost(prob.channel.gains) @ prob.channel.probs
    costs = replace(prob.costs, wait_cost=mean[1] * (1 + shade) - mean[0])
    assert costs.wait_cost > 0
    got = assert_batch_matches_loop(replace(prob, costs=costs), "any", xs, ys)
    want = loop_values(replace(prob, costs=costs), "any", xs, ys)
    np.testing.assert_array_equal(got["osla"], want["osla"])


@pytest.mark.parametrize("mode", ["never", "last", "any"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_batch_is_the_loop_bit_for_bit(case, mode):
    """Not only to 1e-12: each element goes through the single-device sweep's operations, so
    the values are the loop's to the last bit (a change of order in either sweep shows here)."""
    rows, channel = CASES[case]
    prob = prepare(tiny.instance(rows=rows, channel=channel, mode=mode))
    rng = np.random.default_rng(7)
    xs, ys = rng.uniform(0.01, 1.0, 12), rng.uniform(0.01, 1.0, 12)
    got = solve_all_batch(prob.costs, prob.channel, mode, share_rates(prob.costs, prob.channel.gains, xs), ys)
    want = loop_values(prob, mode, xs, ys)
    for rule in RULES:
        np.testing.assert_array_equal(got[rule], want[rule])


# ----------------------------------------------------------------------------- Markov channels


def markov_loop(prob, mode, xs, ys, rules=RULES):
    """``{rule: (P, N + 1)}`` by one solve_all_markov per pair on the share_costs table (the oracle)."""
    out = {rule: [] for rule in rules}
    for x, y in zip(xs, ys, strict=True):
        costs = share_costs(prob.costs, x, y)
        tables = solve_all_markov(costs.stop_cost(prob.channel.gains), prob.channel, mode, costs, rules)
        for rule in rules:
            out[rule].append(tables[rule].values)
    return {rule: np.array(v) for rule, v in out.items()}


def assert_markov_batch_matches_loop(prob, mode, xs, ys):
    xs, ys = np.asarray(xs, dtype=float), np.asarray(ys, dtype=float)
    rates = share_rates(prob.costs, prob.channel.gains, xs)
    Y = share_stop_costs(prob.costs, rates, ys)
    for p, (x, y) in enumerate(zip(xs, ys, strict=True)):  # the stop costs: bit for bit
        np.testing.assert_array_equal(Y[p], share_costs(prob.costs, x, y).stop_cost(prob.channel.gains))
    got = solve_all_markov_batch(Y, prob.channel, mode, prob.costs)
    want = markov_loop(prob, mode, xs, ys)
    for rule in RULES:
        assert got[rule].shape == want[rule].shape == (xs.size, prob.costs.n_layers + 1)
        np.testing.assert_allclose(got[rule], want[rule], rtol=RTOL, atol=0)
    return got


@settings(max_examples=50, deadline=None)
@given(markov_problems(), st.lists(st.tuples(SHARES, SHARES), min_size=1, max_size=6))
def test_hypothesis_markov_batch_equals_loop_of_solve_all_markov(problem, pairs):
    """Random (often reducible) chains, every mode: the stacked sweep equals one
    solve_all_markov per pair, each itself checked against the reference recursion in
    tests/dp/test_markov_fast.py."""
    prob, mode = problem
    xs, ys = zip(*pairs, strict=True)
    assert_markov_batch_matches_loop(prob, mode, xs, ys)


@pytest.mark.parametrize("mode", ["never", "last", "any"])
@pytest.mark.parametrize("channel", ["markov3", "clarke3"])
def test_markov_and_correlated_fading_share_grid(channel, mode):
    """A Markov chain and time-correlated Clarke fading (per-epoch transitions): the grid,
    with placements that tie (TIED_ROWS), equals the loop; identical pairs give identical rows."""
    prob = prepare(tiny.instance(rows=TIED_ROWS, channel=channel, mode=mode))
    assert prob.channel.is_markov
    xs, ys = [1.0, 0.5, 1 / 16], [1.0, 0.25, 1e-3]
    grid = solve_share_grid(prob.costs, prob.channel, mode, xs, ys)
    pairs = [(x, y) for x in xs for y in ys]
    want = markov_loop(prob, mode, *zip(*pairs, strict=True))
    for rule in RULES:
        np.testing.assert_allclose(grid[rule].reshape(len(pairs), -1), want[rule], rtol=RTOL, atol=0)
    twice = assert_markov_batch_matches_loop(prob, mode, [0.5, 0.5], [0.25, 0.25])
    for rule in RULES:
        np.testing.assert_array_equal(twice[rule][0], twice[rule][1])


def test_markov_batch_refuses_bad_shapes():
    prob = prepare(tiny.instance(channel="markov3"))
    with pytest.raises(ValueError, match="expected"):
        solve_all_markov_batch(prob.Y, prob.channel, "any", prob.costs)
    with pytest.raises(ValueError, match="columns"):
        solve_all_markov_batch(prob.Y[None, :, :2], prob.channel, "any", prob.costs)
