"""The square-root rule (coopt.symbolic.fleet) against a continuous solver (scipy.optimize), against
a concrete KKT system solved by SymPy, and against the grid optimum of the fleet allocation
(exact DP) as the levels are refined."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import sympy as sp
from scipy.optimize import minimize

from coopt.fleet.allocation import allocate
from coopt.symbolic.fleet import square_root_allocation, square_root_rule
from tests.support.tolerances import RTOL_EXACT

RTOL_SLSQP = 1e-6  # SLSQP's own tolerance (ftol 1e-12 on an objective of order 10)


def continuous_optimum(a: np.ndarray, b: np.ndarray) -> float:
    U = len(a)

    def f(z):
        return float(np.sum(a / z[:U]) + np.sum(b / z[U:]))

    def grad(z):
        return np.concatenate([-a / z[:U] ** 2, -b / z[U:] ** 2])

    cons = [
        {"type": "ineq", "fun": lambda z: 1 - z[:U].sum(), "jac": lambda z: np.r_[-np.ones(U), np.zeros(U)]},
        {"type": "ineq", "fun": lambda z: 1 - z[U:].sum(), "jac": lambda z: np.r_[np.zeros(U), -np.ones(U)]},
    ]
    res = minimize(
        f,
        np.full(2 * U, 0.5 / U),
        jac=grad,
        constraints=cons,
        bounds=[(1e-6, 1)] * (2 * U),
        method="SLSQP",
        options={"ftol": 1e-12, "maxiter": 500},
    )
    assert res.success, res.message
    return float(res.fun)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_closed_form_matches_scipy(seed):
    rng = np.random.default_rng(seed)
    a, b = rng.uniform(0.1, 3.0, 5), rng.uniform(0.1, 3.0, 5)
    rule = square_root_allocation(a, b)
    assert rule.objective == pytest.approx(continuous_optimum(a, b), rel=RTOL_SLSQP)
    # the shares attain the value, sum to 1, and the prices are the squared sums
    assert float(np.sum(a / rule.x) + np.sum(b / rule.y)) == pytest.approx(rule.objective, rel=RTOL_EXACT)
    assert rule.x.sum() == pytest.approx(1.0, rel=RTOL_EXACT) and rule.y.sum() == pytest.approx(1.0, rel=RTOL_EXACT)
    assert rule.prices[0] == pytest.approx(np.sqrt(a).sum() ** 2, rel=RTOL_EXACT)


def test_prices_are_the_marginal_value_of_capacity():
    # F*(C) = S^2 / C: a finite difference of the continuous optimum at capacity 1 +- h, scaled shares
    a, b = np.array([0.5, 2.0, 1.0]), np.array([1.0, 1.0, 3.0])
    rule = square_root_allocation(a, b)
    h = 1e-6
    F = [float(np.sum(a / (c * rule.x)) + np.sum(b / rule.y)) for c in (1 - h, 1 + h)]
    assert -(F[1] - F[0]) / (2 * h) == pytest.approx(rule.prices[0], rel=1e-8)


def test_kkt_system_solved_by_sympy_for_three_devices():
    # an independent symbolic route: the full KKT system of U = 3 with exact rationals
    a = [sp.Rational(1), sp.Rational(4), sp.Rational(9)]
    b = [sp.Rational(1, 4), sp.Rational(1), sp.Rational(1)]
    xs = sp.symbols("x1:4", positive=True)
    ys = sp.symbols("y1:4", positive=True)
    lx, ly = sp.symbols("lx ly", positive=True)
    eqs = [sp.Eq(-a[k] / xs[k] ** 2 + lx, 0) for k in range(3)] + [sp.Eq(-b[k] / ys[k] ** 2 + ly, 0) for k in range(3)]
    eqs += [sp.Eq(sum(xs), 1), sp.Eq(sum(ys), 1)]
    (sol,) = sp.solve(eqs, [*xs, *ys, lx, ly], dict=True)
    assert [sol[x] for x in xs] == [sp.Rational(1, 6), sp.Rational(1, 3), sp.Rational(1, 2)]
    assert sol[lx] == 36 and sol[ly] == sp.Rational(25, 4)
    rule = square_root_allocation([float(v) for v in a], [float(v) for v in b])
    assert rule.x.tolist() == pytest.approx([1 / 6, 1 / 3, 1 / 2], rel=RTOL_EXACT)
    assert rule.objective == pytest.approx(36 + 25 / 4, rel=RTOL_EXACT)
    derived = square_root_rule()
    assert derived.optimum.free_symbols == {sp.Symbol("S_xi", positive=True), sp.Symbol("S_zeta", positive=True)}


def test_grid_optimum_approaches_the_continuous_one():
    # tables Phi_u(x, y) = a_u / x + b_u / y (+inf at a zero share) on the nested grids k/L, L = 4, 8, 16, 32
    a, b = np.array([0.3, 1.2, 0.7]), np.array([0.9, 0.2, 0.5])
    F_star = square_root_allocation(a, b).objective
    gaps = []
    for L in (4, 8, 16, 32):
        levels = np.arange(L + 1) / L
        X, Y = np.meshgrid(levels, levels, indexing="ij")
        with np.errstate(divide="ignore"):
            tables = [ak / X + bk / Y for ak, bk in zip(a, b)]
        grid = allocate(tables, [1, 1, 1], [1.0, 1.0, 1.0], levels, levels, method="exact")
        gaps.append(grid.objective / F_star - 1)
    assert all(g >= -RTOL_EXACT for g in gaps)  # the grid never beats the continuous optimum
    assert all(later <= earlier + RTOL_EXACT for earlier, later in itertools.pairwise(gaps))  # nested grids
    assert gaps[-1] < 0.01 and gaps[-1] < gaps[0] / 4
