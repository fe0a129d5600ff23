"""The fleet allocation (MODEL.md 11) on given tables: hand-solved fleets, the methods against
each other (MIP, Lagrangian-repaired, exact DP over devices, brute force), the bound against an
independent dual LP, and the infeasible fleet."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

from coopt.errors import InstanceError, NoSolutionError
from coopt.fleet.allocation import (
    CAPACITY_TOLERANCE,
    allocate,
    alone,
    device_only,
    lagrangian_dual,
    lp_relaxation,
)
from coopt.mip.highs import Termination
from tests.support.tolerances import RTOL_EXACT

pytestmark = pytest.mark.mip

RTOL_MIP = 1e-9  # HiGHS (tolerances 1e-9) against the exact DP
RTOL_LP = 1e-8  # two LP solves (primal by column generation, dual at once) at HiGHS tolerance 1e-10
INF = math.inf
HALF = [0.0, 0.5, 1.0]


def close(a: float, b: float, rtol: float) -> bool:
    return abs(a - b) <= rtol * max(abs(a), abs(b), 1.0)


def independent_dual_lp(tables, counts, weights, xl, yl) -> float:
    """max sum_g count_g v_g - lam - mu s.t. v_g <= c_gij + lam x_i + mu y_j (every finite entry), lam, mu >= 0."""
    G = len(tables)
    rows, rhs = [], []
    for g, t in enumerate(tables):
        for i, x in enumerate(xl):
            for j, y in enumerate(yl):
                if math.isfinite(t[i][j]):
                    row = np.zeros(G + 2)
                    row[g], row[G], row[G + 1] = 1.0, -x, -y
                    rows.append(row)
                    rhs.append(weights[g] * t[i][j])
    obj = -np.concatenate([np.asarray(counts, float), [-1.0, -1.0]])
    res = linprog(
        obj,
        A_ub=np.array(rows),
        b_ub=np.array(rhs),
        bounds=[(None, None)] * G + [(0, None)] * 2,
        method="highs",
        options={"primal_feasibility_tolerance": 1e-10, "dual_feasibility_tolerance": 1e-10},
    )
    assert res.status == 0, res.message
    return -float(res.fun)


def check_allocation(a, tables, counts, weights, xl, yl) -> None:
    """Shares within capacity; per-device Phi, F, counts and device list consistent with the tables."""
    assert a.shares_used[0] <= 1 + CAPACITY_TOLERANCE and a.shares_used[1] <= 1 + CAPACITY_TOLERANCE
    assert np.array_equal(a.counts.sum(axis=(1, 2)), counts)
    kinds = np.repeat(np.arange(len(tables)), counts)
    phi = np.array([tables[g][i][j] for g, (i, j) in zip(kinds, a.levels)])
    assert np.all(np.isfinite(phi))
    assert np.array_equal(phi, a.phi)
    assert np.array_equal(a.x, np.asarray(xl)[a.levels[:, 0]]) and np.array_equal(a.y, np.asarray(yl)[a.levels[:, 1]])
    assert close(a.objective, float(np.sum(np.asarray(weights)[kinds] * phi)), RTOL_EXACT)
    assert close(a.shares_used[0], float(a.x.sum()), RTOL_EXACT)
    for g in range(len(tables)):
        mine = a.levels[kinds == g]
        for i in range(len(xl)):
            for j in range(len(yl)):
                assert a.counts[g, i, j] == np.sum((mine[:, 0] == i) & (mine[:, 1] == j))
    assert a.bound <= a.objective
    assert a.gap >= 0


# --------------------------------------------------------------------------- fleets solved by hand

# Two identical devices on levels {0, 1/2, 1}: both at (1/2, 1/2) cost 4 + 4 = 8; one at (1, 1) and one
# device-only cost 1 + 10 = 11; (1, 1/2) + (0, 1/2) cost 3 + 10 = 13. F* = 8.
TWINS = [[[10, 10, 10], [10, 4, 3], [10, 3, 1]]]
# Two kinds competing for the whole server: kind 0 saves 4 with (1, 1), kind 1 saves 1. F* = 1 + 3 = 4.
RIVALS = [[[5, 5, 5], [5, 5, 5], [5, 5, 1]], [[3, 3, 3], [3, 3, 3], [3, 3, 2]]]
# Two identical devices, X = {0, 2/3, 1}, Y = {0, 1/2}: only one fits at x >= 2/3, so F* = 1.5 + 10 = 11.5
# (one at (1, 1/2), one device-only). The LP puts 1.5 copies at (2/3, 1/2): bound 2 * 1.5 + 10 * 0.5 = 8,
# band price lambda* = (10 - 2) / (2/3) = 12, edge price 0 (y never binds); L(12, 0) = 2 * 10 - 12 = 8.
GAPPED = [[[10, 10], [10, 2], [10, 1.5]]]
GAPPED_X, GAPPED_Y = [0.0, 2 / 3, 1.0], [0.0, 0.5]


@pytest.mark.parametrize("method", ["mip", "lagrangian", "exact", "brute_force"])
def test_twins_share_the_server_equally(method):
    a = allocate(TWINS, [2], [1.0], HALF, HALF, method=method)
    assert a.objective == 8
    assert a.levels.tolist() == [[1, 1], [1, 1]]
    assert a.optimal and a.gap <= 1e-12
    check_allocation(a, TWINS, [2], [1.0], HALF, HALF)


@pytest.mark.parametrize("method", ["mip", "lagrangian", "exact", "brute_force"])
def test_the_larger_saving_gets_the_server(method):
    a = allocate(RIVALS, [1, 1], [1.0, 1.0], HALF, HALF, method=method)
    assert a.objective == 4
    assert a.levels.tolist() == [[2, 2], [0, 0]] or a.counts[1, 0, 0] + a.counts[1, 1, 0] == 1
    assert a.phi.tolist() == [1, 3]


def test_weights_change_who_gets_the_server():
    # weight 5 on kind 1: its saving 5 * 1 beats kind 0's 4: F* = 5 + 5 * 2 = 15
    a = allocate(RIVALS, [1, 1], [1.0, 5.0], HALF, HALF, method="mip")
    assert a.objective == 15 and a.phi.tolist() == [5, 2]


@pytest.mark.parametrize("method", ["mip", "lagrangian", "exact", "brute_force"])
def test_integrality_gap_bound_and_prices_by_hand(method):
    a = allocate(GAPPED, [2], [1.0], GAPPED_X, GAPPED_Y, method=method)
    assert close(a.objective, 11.5, RTOL_EXACT)
    assert sorted(a.levels.tolist()) == [[0, 0], [2, 1]]
    assert close(a.lagrangian_bound, 8.0, RTOL_LP)
    assert close(a.prices[0], 12.0, RTOL_LP) and abs(a.prices[1]) <= 1e-9
    assert close(lagrangian_dual(GAPPED, [2], [1.0], GAPPED_X, GAPPED_Y, 12.0, 0.0), 8.0, RTOL_EXACT)
    if method == "lagrangian":  # not proven: certified by the bound only
        assert not a.optimal and close(a.gap, 3.5 / 11.5, RTOL_LP)
    else:
        assert a.optimal and a.bound == pytest.approx(11.5, rel=RTOL_MIP)
    if method == "mip":
        assert a.termination is Termination.OPTIMAL and a.solver.startswith("HiGHS")


def test_auto_proves_with_the_mip_only_where_the_lagrangian_leaves_a_gap():
    gapped = allocate(GAPPED, [2], [1.0], GAPPED_X, GAPPED_Y, method="auto")
    assert gapped.method == "mip" and gapped.optimal and close(gapped.objective, 11.5, RTOL_EXACT)
    twins = allocate(TWINS, [2], [1.0], HALF, HALF, method="auto")
    assert twins.method == "lagrangian" and twins.optimal and twins.termination is None


def test_baselines_by_hand():
    assert alone(RIVALS, [1, 1], [1.0, 2.0], HALF, HALF) == 1 + 2 * 2
    assert device_only(RIVALS, [1, 1], [1.0, 2.0], HALF, HALF) == 5 + 2 * 3
    assert device_only(TWINS, [3], [1.0], HALF, HALF) == 30
    stuck = [[[INF, 1], [1, 1]]]
    assert device_only(stuck, [1], [1.0], [0.0, 1.0], [0.0, 1.0]) is None
    with pytest.raises(InstanceError, match="x_levels = .*must contain the share 1"):
        alone(TWINS, [1], [1.0], [0.0, 0.5, 0.75], HALF)


# --------------------------------------------------------------------------- infeasible fleets


@pytest.mark.parametrize("method", ["auto", "mip", "lagrangian", "exact", "brute_force"])
def test_fleet_that_cannot_fit_names_the_kinds(method):
    # 5 copies that need 0.4 of the band or 0.4 of the edge: at most 2 + 2 fit, and none can go device-only.
    # The LP relaxation is feasible (2.5 + 2.5), so only integrality shows it.
    table = [[[INF, 1.0], [1.0, INF]]]
    with pytest.raises(NoSolutionError, match=r"device kinds \[0\] cannot run device-only"):
        allocate(table, [5], [1.0], [0.0, 0.4], [0.0, 0.4], method=method)


def test_fleet_whose_smallest_shares_exceed_the_band():
    # kind 1 needs x >= 1/2 on three copies: 1.5 of the band; kind 0 can always go device-only
    tables = [[[1, 1], [1, 1]], [[INF, INF], [2, 2]]]
    with pytest.raises(NoSolutionError, match=r"device kinds \[1\] cannot run device-only.*1\.5 of the band"):
        allocate(tables, [1, 3], [1.0, 1.0], [0.0, 0.5], [0.0, 1.0])


def test_kind_without_any_finite_entry():
    with pytest.raises(NoSolutionError, match=r"device kinds \[0\] have no finite Phi"):
        allocate([[[INF, INF], [INF, INF]]], [1], [1.0], [0.0, 1.0], [0.0, 1.0])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"counts": [0]}, r"counts = \[0\]: must be 1 integers >= 1"),
        ({"weights": [-1.0]}, r"weights = \[-1.0\]: must be 1 finite numbers > 0"),
        ({"x_levels": [0.0, 1.5]}, r"x_levels = .*every share must be in \[0, 1\]"),
        ({"y_levels": [1.0, 0.0]}, r"y_levels = .*strictly increasing"),
        ({"tables": [[[1.0, float("nan")], [1.0, 1.0]]]}, r"tables\[0\]: entries must be finite numbers or \+inf"),
        ({"tables": [[[1.0, 1.0]]]}, r"tables\[0\]: shape \(1, 2\) must be"),
        ({"method": "greedy"}, r"method = 'greedy': must be one of auto, mip"),
    ],
)
def test_bad_input_is_one_clear_line(kwargs, match):
    args = {"tables": [[[2.0, 1.0], [1.0, 0.5]]], "counts": [1], "weights": [1.0], "x_levels": [0.0, 1.0]}
    args |= {"y_levels": [0.0, 1.0]} | kwargs
    with pytest.raises(InstanceError, match=match):
        allocate(**args)


def test_exact_needs_a_grid():
    with pytest.raises(InstanceError, match="x_levels = .*method exact needs levels k/L"):
        allocate([[[2.0, 1.0], [1.0, 0.5]]], [1], [1.0], [0.0, 1 / math.pi], [0.0, 1.0], method="exact")


def test_brute_force_counts_before_it_builds():
    """4 copies over 17 x 17 finite pairs are C(292, 4) = 296,729,305 multisets: refused by
    count, before any is built (it once built them all and ran out of memory)."""
    with pytest.raises(InstanceError, match=r"method brute_force: 296729305 allocations"):
        allocate([np.ones((17, 17))], [4], [1.0], np.arange(17) / 16, np.arange(17) / 16, method="brute_force")


# --------------------------------------------------------------------------- random fleets


@st.composite
def fleets(draw, max_kinds: int = 3, max_count: int = 3):
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    G = draw(st.integers(1, max_kinds))
    Lx, Ly = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    xl = [k / Lx for k in range(Lx + 1)]
    yl = [k / Ly for k in range(Ly + 1)]
    if draw(st.booleans()):  # drop some levels (still on the grid k/L)
        xl = sorted({xl[0], *rng.choice(xl, size=max(1, len(xl) - 1), replace=False).tolist()})
    monotone = draw(st.booleans())
    tables = []
    for _ in range(G):
        if monotone:
            a, b, c = rng.uniform(0.05, 1.0, 3)
            D = rng.uniform(1.0, 4.0)
            X, Y = np.meshgrid(xl, yl, indexing="ij")
            with np.errstate(divide="ignore"):
                t = np.minimum(D, c + a / X + b / Y)
        else:  # arbitrary, as under rule osla
            t = np.round(rng.uniform(0.0, 5.0, (len(xl), len(yl))), 1)
        t[rng.uniform(size=t.shape) < 0.15] = INF
        tables.append(t)
    counts = rng.integers(1, max_count + 1, G)
    weights = np.round(rng.uniform(0.5, 2.0, G), 2)
    return tables, counts, weights, np.array(xl), np.array(yl)


def solve_or_none(method, fleet):
    try:
        return allocate(*fleet, method=method)
    except NoSolutionError:
        return None


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fleets())
def test_methods_agree_on_random_fleets(fleet):
    exact = solve_or_none("exact", fleet)
    mip = solve_or_none("mip", fleet)
    lag = solve_or_none("lagrangian", fleet)
    assert (exact is None) == (mip is None) == (lag is None)
    if exact is None:
        return
    for a in (exact, mip, lag):
        check_allocation(a, *fleet)
        # the bound never exceeds the optimum, and equals the LP relaxation / maximum of the dual
        assert a.lagrangian_bound <= exact.objective * (1 + RTOL_MIP) + 1e-12
    assert close(mip.objective, exact.objective, RTOL_MIP)
    assert mip.optimal and mip.termination is Termination.OPTIMAL and mip.gap <= 1e-9
    assert lag.objective >= exact.objective * (1 - RTOL_EXACT)
    # the Lagrangian's gap is certified: F - bound covers F - F*
    assert lag.objective - lag.bound >= lag.objective - exact.objective - RTOL_MIP * abs(exact.objective)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fleets(max_kinds=2, max_count=2))
def test_brute_force_agrees_with_the_exact_dp(fleet):
    exact = solve_or_none("exact", fleet)
    brute = solve_or_none("brute_force", fleet)
    assert (exact is None) == (brute is None)
    if exact is not None:
        assert close(brute.objective, exact.objective, RTOL_EXACT)
        check_allocation(brute, *fleet)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fleets(), st.floats(0, 20), st.floats(0, 20))
def test_bound_is_the_lp_relaxation_and_the_dual_maximum(fleet, lam, mu):
    try:
        lp = lp_relaxation(*fleet)
    except NoSolutionError:
        return
    # an independent LP: the dual over every finite entry (no dominance pruning, no column generation)
    assert close(lp.value, independent_dual_lp(*fleet), RTOL_LP)
    # the prices attain it, and no other prices do better (L is maximised there)
    assert close(lagrangian_dual(*fleet, *lp.prices), lp.value, RTOL_LP)
    assert lagrangian_dual(*fleet, lam, mu) <= lp.value + RTOL_LP * max(1.0, abs(lp.value))
    assert lp.prices[0] >= 0 and lp.prices[1] >= 0


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fleets())
def test_lp_split_uses_only_minimisers_at_the_prices(fleet):
    # complementary slackness: the Lagrangian's starting split puts copies only on pairs that attain
    # min_p c_gp + lam x_p + mu y_p, and a capacity with a positive price is used up
    tables, counts, weights, xl, yl = fleet
    try:
        lp = lp_relaxation(*fleet)
    except NoSolutionError:
        return
    lam, mu = lp.prices
    X, Y = np.meshgrid(xl, yl, indexing="ij")
    used_x = used_y = 0.0
    for g, t in enumerate(tables):
        reduced = (weights[g] * np.asarray(t) + lam * X + mu * Y).reshape(-1)
        split = lp.n[g]
        assert split.sum() == pytest.approx(counts[g], rel=1e-9)
        tol = 1e-7 * max(1.0, float(np.min(reduced)))
        assert np.all(reduced[split > 1e-9] <= np.min(reduced) + tol)
        used_x += float(split @ X.reshape(-1))
        used_y += float(split @ Y.reshape(-1))
    if lam > 1e-7:
        assert used_x == pytest.approx(1.0, abs=1e-8)
    if mu > 1e-7:
        assert used_y == pytest.approx(1.0, abs=1e-8)


def test_lagrangian_scales_to_ten_thousand_devices():
    rng = np.random.default_rng(7)
    levels = np.arange(17) / 16
    X, Y = np.meshgrid(levels, levels, indexing="ij")
    with np.errstate(divide="ignore"):
        base = 0.02 / X + 0.05 / Y
    tables = [np.minimum(rng.uniform(1, 3), rng.uniform(0.1, 0.8) + rng.uniform(0.2, 2.0) * base) for _ in range(1000)]
    counts = np.full(1000, 10)
    weights = rng.uniform(0.5, 2.0, 1000)
    a = allocate(tables, counts, weights, levels, levels, method="auto")
    assert a.method == "lagrangian" and len(a.levels) == 10_000
    assert a.shares_used[0] <= 1 + CAPACITY_TOLERANCE and a.shares_used[1] <= 1 + CAPACITY_TOLERANCE
    assert a.bound <= a.objective and 0 <= a.gap < 1e-2
    kinds = np.repeat(np.arange(1000), counts)
    phi = np.array([tables[g][i, j] for g, (i, j) in zip(kinds, a.levels)])
    assert close(a.objective, float(np.sum(weights[kinds] * phi)), RTOL_EXACT)


def test_mip_time_limit_is_never_reported_as_success():
    from coopt.mip.highs import MipOptions

    rng = np.random.default_rng(3)
    levels = np.arange(17) / 16
    tables = [np.round(rng.uniform(0, 5, (17, 17)), 3) for _ in range(40)]
    try:
        a = allocate(
            tables, np.full(40, 2), np.ones(40), levels, levels, method="mip", options=MipOptions(time_limit=1e-6)
        )
    except NoSolutionError as e:
        assert "without any allocation" in str(e) and "time_limit" in str(e)
    else:
        assert a.termination is not Termination.OPTIMAL or a.gap <= 1e-9
        assert a.optimal == (a.termination is Termination.OPTIMAL)
