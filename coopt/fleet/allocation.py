r"""Dividing the band and the edge clock among a fleet (MODEL.md 11): the allocation on given tables.

Inputs are pure (no instance parsing): ``tables[g]`` is :math:`\Phi_g(X_i, Y_j)` of kind
:math:`g` (shape ``(|X|, |Y|)``, ``+inf`` where infeasible), ``counts[g]`` identical copies,
``weights[g]`` :math:`= \omega_g`, and the sorted level sets :math:`X, Y \subset [0, 1]`.
Every copy gets its own pair of shares (copies of one kind may differ), and

    F* = min  sum_u omega_u Phi_u(x_u, y_u)   s.t.  sum_u x_u <= 1,  sum_u y_u <= 1,

a multiple-choice knapsack with two capacities. With :math:`c_{g,p} = \omega_g \Phi_g(x_p, y_p)`
over the level pairs :math:`p` (:mod:`coopt.fleet.knapsack_data`):

Bound and prices. For :math:`\lambda, \mu \ge 0`,

    L(lambda, mu) = sum_g count_g min_p [c_{g,p} + lambda x_p + mu y_p] - lambda - mu  <=  F*

(:func:`lagrangian_dual`). :math:`L` is concave and piecewise linear, and its maximum is
the LP relaxation of the MIP (LP duality: the relaxation's dual has the variables
:math:`\lambda, \mu` of the two capacity rows and one free :math:`v_g` per kind's
assignment row, and for fixed :math:`\lambda, \mu` the best :math:`v_g` is the inner minimum).
:func:`lp_relaxation` solves that LP with HiGHS (``scipy.optimize.linprog``): its value is
the bound, the negated capacity-row marginals are the prices :math:`(\lambda^*, \mu^*)`
(cost per unit share), and its basic solution is the split of each kind's copies over the
minimisers at the prices (complementary slackness: only pairs attaining the inner minimum
carry copies; a basic solution has at most ``G + 2`` positive entries, so at most two kinds
are split fractionally).

Methods (:func:`allocate`):

* ``mip``: the aggregated MIP of :mod:`coopt.fleet.knapsack` (integer counts per kind and
  pair), proven optimal by HiGHS or reported with its termination and gap.
* ``lagrangian``: the LP split rounded down, the remaining copies put on the fractional
  pair with the smallest share use, then a greedy repair (move copies to pairs that use
  less of a violated capacity, least cost increase per unit share freed, until both
  capacities hold) and a greedy fill (moves that lower :math:`F` and still fit). The gap to
  the bound is certified: :math:`F \ge F^* \ge L(\lambda^*, \mu^*)`.
* ``exact``: levels on grids :math:`k/L_x`, :math:`k/L_y` (detected): dynamic programming over
  the devices with the capacity units used as the state; the exact optimum.
* ``brute_force``: every allocation of a tiny fleet.
* ``auto``: ``lagrangian`` first (well under a second for 10,000 devices); when its certified
  gap is zero it is optimal and returned, otherwise ``mip`` runs if the model is small
  enough to prove quickly (:data:`AUTO_MIP_MAX_COLUMNS`, with the measurements behind it).

Capacities hold to :data:`CAPACITY_TOLERANCE`. Ties (MODEL.md 11): allocations whose
:math:`F` agree to a relative 1e-12 are equally optimal; methods may return different ones.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from coopt.errors import InstanceError, NoSolutionError
from coopt.fleet.knapsack_data import (
    METHODS,
    KnapsackData,
    Method,
    grid_units,
    infeasible_message,
    knapsack_data,
    undominated,
)
from coopt.mip.highs import MipOptions, Termination, relative_gap
from coopt.progress import progress_bar

CAPACITY_TOLERANCE = 1e-12  # sum of shares <= 1 + this (float sums of levels such as 0.1)
LP_TOLERANCE = 1e-10  # HiGHS primal and dual feasibility in the LP relaxation
FRACTION_TOLERANCE = 1e-9  # an LP count within this of an integer is that integer
BRUTE_FORCE_MAX = 2_000_000  # allocations brute_force enumerates at most
BRUTE_FORCE_TICK = 1 << 14  # allocations between updates of its progress bar
PROGRESS_DELAY_S = 2.0  # the exact DP's and brute force's bars appear once they have run this long
DP_MAX_WORK = 2e9  # devices x states x pairs the exact DP accepts
AUTO_MIP_MAX_COLUMNS = 30_000
"""``auto`` runs the MIP only when the Lagrangian's gap is not zero and the MIP has at most this
many integer columns (undominated kind-pair entries; about 100 kinds on 17 x 17 levels).

Measured with bench/bench_fleet_alloc.py on random monotone tables, 17 x 17 levels, 2 shared
cores (wall s, MIP proven optimal throughout):

=====  ======  ==========  ==========  ===============
G      U       Lagrangian  MIP         Lagrangian gap
=====  ======  ==========  ==========  ===============
10     13      0.014       0.16        5.7e-3
20     29      0.068       0.36        2.1e-3
50     476     0.024       0.51        0
100    961     0.032       1.07        2.0e-5
200    2104    0.067       2.55        3.5e-16
500    5073    0.099       8.57        0
1000   10118   0.197       17.45       0
=====  ======  ==========  ==========  ===============

The Lagrangian stays under 0.2 s up to 10,000 devices; the MIP grows about linearly in its
columns (Pyomo's model build and translation dominate) and passes 1 s at about 100 kinds.
The Lagrangian's certified gap is largest on small, contested fleets (few devices per level,
where one rounded device is a sizeable part of F), exactly where the MIP is cheap; on large
fleets it is 0 or below 1e-4, and a proof would cost seconds to close it."""
AUTO_MIP_MAX_KINDS = AUTO_MIP_MAX_COLUMNS // 289  # the same threshold in kinds at 17 x 17 levels


@dataclass(frozen=True, eq=False)
class LpRelaxation:
    """The LP relaxation of the MIP (= the maximum of the Lagrangian dual).

    Attributes
    ----------
    value : float
        Its optimum: the Lagrangian bound.
    prices : tuple[float, float]
        :math:`(\\lambda^*, \\mu^*)`, cost per unit share of the band and of the edge clock.
    n : NDArray[np.float64], shape (G, P)
        A basic optimal split of the copies over the pairs (fractional).
    """

    value: float
    prices: tuple[float, float]
    n: NDArray[np.float64] = field(repr=False)


@dataclass(frozen=True, eq=False)
class Allocation:
    """An allocation of the band and the edge clock to a fleet.

    Attributes
    ----------
    counts : NDArray[np.int64], shape ``(G, len(X), len(Y))``
        Copies of kind ``g`` at level pair ``(i, j)``; each row sums to ``counts[g]``.
    levels : NDArray[np.int64], shape (U, 2)
        Level indices ``(i, j)`` of every device, in device order (the copies of kind 0,
        then of kind 1, ...; copies of a kind by increasing ``(i, j)``).
    x, y : NDArray[np.float64], shape (U,)
        Every device's shares.
    phi : NDArray[np.float64], shape (U,)
        Every device's :math:`\\Phi_u(x_u, y_u)` (unweighted).
    objective : float
        :math:`F = \\sum_u \\omega_u \\Phi_u(x_u, y_u)`.
    bound : float
        The best proven lower bound on :math:`F^*`: the Lagrangian bound, the MIP's bound
        when larger, :math:`F` itself for ``exact`` and ``brute_force``.
    lagrangian_bound : float
        :math:`\\max L`, which is the LP relaxation.
    gap : float
        ``(F - bound) / |F|``, 0 when ``F = bound`` (also both 0), ``inf`` when ``F = 0`` and
        the bound is negative (only with negative costs); :func:`coopt.mip.highs.relative_gap`.
    prices : tuple[float, float]
        :math:`(\\lambda^*, \\mu^*)` per unit share (divide by :math:`B`, :math:`f_E` for per Hz).
    shares_used : tuple[float, float]
        :math:`(\\sum_u x_u, \\sum_u y_u)`.
    method : str
        The method that produced it (``auto`` resolves to ``mip`` or ``lagrangian``).
    optimal : bool
        Proven optimal (MIP proof, exact DP, brute force, or a zero Lagrangian gap).
    termination : Termination or None
        HiGHS's termination for ``mip``; ``None`` for the other methods.
    wall_time_s : float
        Wall time of the method (including the LP relaxation).
    solver : str or None
        ``"HiGHS x.y.z"`` for ``mip``.
    """

    counts: NDArray[np.int64] = field(repr=False)
    levels: NDArray[np.int64] = field(repr=False)
    x: NDArray[np.float64] = field(repr=False)
    y: NDArray[np.float64] = field(repr=False)
    phi: NDArray[np.float64] = field(repr=False)
    objective: float
    bound: float
    lagrangian_bound: float
    gap: float
    prices: tuple[float, float]
    shares_used: tuple[float, float]
    method: str
    optimal: bool
    termination: Termination | None
    wall_time_s: float
    solver: str | None = None


# ----------------------------------------------------------------------------- the bound


def _restricted_lp(data: KnapsackData, g_idx: NDArray[np.intp], p_idx: NDArray[np.intp], scale: float) -> Any:
    from scipy.optimize import linprog
    from scipy.sparse import csr_array

    cols = g_idx.size
    a_eq = csr_array((np.ones(cols), (g_idx, np.arange(cols))), shape=(data.kinds, cols))
    return linprog(
        data.cost[g_idx, p_idx] / scale,
        A_ub=np.vstack([data.x[p_idx], data.y[p_idx]]),
        b_ub=np.ones(2),
        A_eq=a_eq,
        b_eq=data.counts.astype(np.float64),
        bounds=(0, None),
        method="highs",
        options={"primal_feasibility_tolerance": LP_TOLERANCE, "dual_feasibility_tolerance": LP_TOLERANCE},
    )


def _lp(data: KnapsackData) -> LpRelaxation:
    """The LP relaxation by column generation over the undominated pairs.

    The restricted LP starts with each kind's minimisers at four price points (free
    resources, and resources so dear that the least-share pairs win); its duals price
    every other column (reduced cost ``c/scale - v_g - m_x x_p - m_y y_p``), each kind's most
    negative one joins, until none is negative: then the restricted optimum is optimal for
    the whole LP. (A restricted LP that is infeasible falls back to every column.)
    G = 1,000 kinds on 17 x 17 levels: 0.3 s instead of 2.5 s for the whole LP at once.
    """
    keep = undominated(data)
    scale = float(np.max(np.abs(data.cost[keep]))) or 1.0
    c = np.where(keep, data.cost / scale, np.inf)
    dear = 10.0 * data.devices * (1.0 + float(np.max(c[keep])))
    active = np.zeros_like(keep)
    rows = np.arange(data.kinds)
    for lam, mu in ((0.0, 0.0), (dear, 0.0), (0.0, dear), (dear, dear)):
        # lexicographic: the dear resource first, then the cheaper cost
        active[rows, np.argmin(c + lam * data.x + mu * data.y + (lam + mu) * 1e-6 * data.x * data.y, axis=1)] = True
    active &= keep
    res = None
    for _ in range(200):
        g_idx, p_idx = np.nonzero(active)
        res = _restricted_lp(data, g_idx, p_idx, scale)
        if res.status != 0:
            break
        v = np.asarray(res.eqlin.marginals)
        mx, my = np.asarray(res.ineqlin.marginals)
        reduced = c - v[:, None] - mx * data.x - my * data.y
        best = np.argmin(reduced, axis=1)
        enter = reduced[rows, best] < -LP_TOLERANCE
        if not enter.any():
            break
        active[rows[enter], best[enter]] = True
    else:  # pragma: no cover - column generation on 2 coupling rows converges in a few rounds
        res = None
    if res is None or res.status != 0:
        g_idx, p_idx = np.nonzero(keep)
        res = _restricted_lp(data, g_idx, p_idx, scale)
    if res.status == 2:
        raise NoSolutionError(infeasible_message(data))
    if res.status != 0:
        raise NoSolutionError(f"fleet allocation: the LP relaxation failed ({res.message})")
    n = np.zeros(data.cost.shape)
    n[g_idx, p_idx] = res.x
    lam_s, mu_s = (max(0.0, -float(m) * scale) for m in res.ineqlin.marginals)
    return LpRelaxation(float(res.fun) * scale, (lam_s, mu_s), n)


def _dual(data: KnapsackData, lam: float, mu: float) -> float:
    inner = np.min(data.cost + lam * data.x + mu * data.y, axis=1)
    return float(data.counts @ inner) - lam - mu


def lp_relaxation(
    tables: Sequence[ArrayLike], counts: ArrayLike, weights: ArrayLike, x_levels: ArrayLike, y_levels: ArrayLike
) -> LpRelaxation:
    """The LP relaxation of the allocation MIP: the Lagrangian bound, the prices and a split.

    Raises
    ------
    NoSolutionError
        The relaxation is infeasible (then so is the fleet).
    """
    return _lp(knapsack_data(tables, counts, weights, x_levels, y_levels))


def lagrangian_dual(
    tables: Sequence[ArrayLike],
    counts: ArrayLike,
    weights: ArrayLike,
    x_levels: ArrayLike,
    y_levels: ArrayLike,
    lam: float,
    mu: float,
) -> float:
    """:math:`L(\\lambda, \\mu)` of the module docstring (a lower bound on :math:`F^*` for
    :math:`\\lambda, \\mu \\ge 0`)."""
    if not (lam >= 0 and mu >= 0):
        raise InstanceError(f"lam, mu = {lam!r}, {mu!r}: the prices must be >= 0")
    return _dual(knapsack_data(tables, counts, weights, x_levels, y_levels), float(lam), float(mu))


# ----------------------------------------------------------------------------- results


def _usage(data: KnapsackData, n: NDArray[np.int64]) -> tuple[float, float]:
    return float(np.sum(n @ data.x)), float(np.sum(n @ data.y))


def _fits(data: KnapsackData, n: NDArray[np.int64]) -> bool:
    ux, uy = _usage(data, n)
    return ux <= 1 + CAPACITY_TOLERANCE and uy <= 1 + CAPACITY_TOLERANCE


def _objective(data: KnapsackData, n: NDArray[np.int64]) -> float:
    return float(np.sum(np.where(n > 0, data.cost, 0.0) * n))


def _result(
    data: KnapsackData,
    n: NDArray[np.int64],
    lp: LpRelaxation,
    method: str,
    start: float,
    *,
    bound: float | None = None,
    optimal: bool | None = None,
    termination: Termination | None = None,
    solver: str | None = None,
) -> Allocation:
    if np.any(n.sum(axis=1) != data.counts) or np.any(n < 0):
        raise AssertionError("allocation: every copy must get exactly one pair")  # pragma: no cover
    if np.any((n > 0) & ~np.isfinite(data.cost)):
        raise AssertionError("allocation: a device got an infeasible pair")  # pragma: no cover
    F = _objective(data, n)
    lower = lp.value if bound is None else max(bound, lp.value)
    if lower > F + 1e-7 * max(abs(F), 1.0):
        raise AssertionError(f"allocation: bound {lower!r} above F = {F!r}")  # pragma: no cover
    lower = min(lower, F)  # a bound above F by float noise (the LP's or HiGHS's tolerance) is F
    gap = relative_gap(F, lower)
    assert gap is not None
    dev_g = np.repeat(np.arange(data.kinds), data.counts)
    dev_p = np.concatenate([np.repeat(np.arange(data.pairs), n[g]) for g in range(data.kinds)])
    i, j = np.divmod(dev_p, len(data.y_levels))
    return Allocation(
        counts=n.reshape(data.kinds, len(data.x_levels), len(data.y_levels)).copy(),
        levels=np.stack([i, j], axis=1).astype(np.int64),
        x=data.x[dev_p],
        y=data.y[dev_p],
        phi=data.phi[dev_g, dev_p],
        objective=F,
        bound=lower,
        lagrangian_bound=lp.value,
        gap=gap,
        prices=lp.prices,
        shares_used=_usage(data, n),
        method=method,
        optimal=bool(gap <= 1e-12) if optimal is None else optimal,
        termination=termination,
        wall_time_s=time.perf_counter() - start,
        solver=solver,
    )


# ----------------------------------------------------------------------------- Lagrangian


def _round(data: KnapsackData, lp: LpRelaxation) -> NDArray[np.int64]:
    """The LP split rounded down, each kind's remaining copies on its fractional pair of least share use."""
    n = np.floor(lp.n + FRACTION_TOLERANCE).astype(np.int64)
    rest = data.counts - n.sum(axis=1)
    over = rest < 0  # rounding up of near-integers may overshoot by one
    for g in np.flatnonzero(over):
        while n[g].sum() > data.counts[g]:
            p = int(np.argmax(n[g] * (data.x + data.y + 1)))
            n[g, p] -= 1
    use = data.x + data.y
    for g in np.flatnonzero(rest > 0):
        frac = lp.n[g] - n[g]
        cand = np.flatnonzero((frac > FRACTION_TOLERANCE) & np.isfinite(data.cost[g]))
        if cand.size == 0:
            cand = np.flatnonzero(np.isfinite(data.cost[g]))
        n[g, cand[np.argmin(use[cand])]] += rest[g]
    return n


def _repair(data: KnapsackData, n: NDArray[np.int64]) -> bool:
    """Greedy repair in place (module docstring); ``False`` when no move helps."""
    x, y, cost = data.x, data.y, data.cost
    while True:
        ux, uy = _usage(data, n)
        ex, ey = ux - 1, uy - 1
        if ex <= CAPACITY_TOLERANCE and ey <= CAPACITY_TOLERANCE:
            return True
        g, p = np.nonzero(n)
        dc = cost[g] - cost[g, p][:, None]  # (occupied, P); inf where q is infeasible
        dx = x[p][:, None] - x[None, :]  # share freed (negative: taken)
        dy = y[p][:, None] - y[None, :]
        ok = np.isfinite(dc)
        freed = np.zeros(dc.shape)
        if ex > CAPACITY_TOLERANCE:
            ok &= dx >= 0
            freed += dx
        else:
            ok &= ux - dx <= 1 + CAPACITY_TOLERANCE
        if ey > CAPACITY_TOLERANCE:
            ok &= dy >= 0
            freed += dy
        else:
            ok &= uy - dy <= 1 + CAPACITY_TOLERANCE
        ok &= freed > 0
        if not ok.any():
            return False
        score = np.where(ok, dc / np.where(ok, freed, 1.0), np.inf)
        k, q = np.unravel_index(int(np.argmin(score)), score.shape)
        gk, pk = int(g[k]), int(p[k])
        copies = int(n[gk, pk])
        need = []
        for excess, d in ((ex, dx[k, q]), (ey, dy[k, q])):
            if excess > CAPACITY_TOLERANCE and d > 0:
                need.append(math.ceil(excess / d - 1e-9))
        m = max(1, min([copies, *need]))
        for used, d in ((ux, dx[k, q]), (uy, dy[k, q])):
            if d < 0:  # the move takes share of a capacity that holds: keep it holding
                m = min(m, max(1, int((1 + CAPACITY_TOLERANCE - used) // -d)))
        n[gk, pk] -= m
        n[gk, q] += m


def _fill(data: KnapsackData, n: NDArray[np.int64], max_moves: int) -> None:
    """Greedy improvement in place: the largest cost decrease that still fits, until none."""
    x, y, cost = data.x, data.y, data.cost
    for _ in range(max_moves):
        ux, uy = _usage(data, n)
        g, p = np.nonzero(n)
        here = cost[g, p][:, None]
        dc = cost[g] - here
        ax = x[None, :] - x[p][:, None]
        ay = y[None, :] - y[p][:, None]
        tol = 1e-13 * max(1.0, float(np.abs(here).max()))
        ok = np.isfinite(dc) & (dc < -tol) & (ux + ax <= 1 + CAPACITY_TOLERANCE) & (uy + ay <= 1 + CAPACITY_TOLERANCE)
        if not ok.any():
            return
        k, q = np.unravel_index(int(np.argmin(np.where(ok, dc, np.inf))), dc.shape)
        gk, pk = int(g[k]), int(p[k])
        m = int(n[gk, pk])
        for used, d in ((ux, ax[k, q]), (uy, ay[k, q])):
            if d > 0:
                m = min(m, int((1 + CAPACITY_TOLERANCE - used) // d))
        m = max(1, m)
        n[gk, pk] -= m
        n[gk, q] += m


def _lagrangian(
    data: KnapsackData, lp: LpRelaxation, start: float, options: MipOptions | None, progress: bool | None = False
) -> Allocation:
    n = _round(data, lp)
    if not _repair(data, n):
        # the greedy repair is stuck (the two capacities conflict); the MIP decides
        return _mip(data, lp, start, options, method="lagrangian+mip", progress=progress)
    _fill(data, n, max_moves=10 * data.kinds + 100)
    return _result(data, n, lp, "lagrangian", start)


# ----------------------------------------------------------------------------- MIP


def _mip(
    data: KnapsackData,
    lp: LpRelaxation,
    start: float,
    options: MipOptions | None,
    method: str = "mip",
    progress: bool | None = False,
) -> Allocation:
    from coopt.fleet.knapsack import build_knapsack_model, solve_knapsack

    res = solve_knapsack(build_knapsack_model(data), options, progress=progress)
    if not res.has_solution or res.n is None:
        if res.termination in (Termination.INFEASIBLE, Termination.INFEASIBLE_OR_UNBOUNDED):
            raise NoSolutionError(infeasible_message(data))
        raise NoSolutionError(f"fleet allocation: HiGHS stopped ({res.termination.value}) without any allocation")
    if not _fits(data, res.n):
        raise NoSolutionError(f"fleet allocation: HiGHS's allocation uses shares {_usage(data, res.n)} (> 1)")
    return _result(
        data,
        res.n,
        lp,
        method,
        start,
        bound=res.bound if res.bound is not None and math.isfinite(res.bound) else None,
        optimal=res.optimal,
        termination=res.termination,
        solver=res.solver,
    )


# ----------------------------------------------------------------------------- exact


def _exact(data: KnapsackData, lp: LpRelaxation, start: float, progress: bool | None = False) -> Allocation:
    gx, gy = grid_units(data.x_levels), grid_units(data.y_levels)
    if gx is None or gy is None:
        which = "x_levels" if gx is None else "y_levels"
        levels = data.x_levels if gx is None else data.y_levels
        raise InstanceError(f"{which} = {levels.tolist()!r}: method exact needs levels k/L on a grid (L <= 4096)")
    (Lx, kx), (Ly, ky) = gx, gy
    ux = np.repeat(kx, len(ky))  # units of each pair
    uy = np.tile(ky, len(kx))
    states = (Lx + 1) * (Ly + 1)
    if data.devices * states * data.pairs > DP_MAX_WORK:
        raise InstanceError(
            f"method exact: {data.devices} devices x {states} capacity states x {data.pairs} pairs is too much work; "
            "use mip or lagrangian"
        )
    V = np.full((Lx + 1, Ly + 1), np.inf)
    V[0, 0] = 0.0
    kinds = np.repeat(np.arange(data.kinds), data.counts)
    choice = np.full((len(kinds), Lx + 1, Ly + 1), -1, dtype=np.int32)
    bar = progress_bar(
        len(kinds), "fleet allocation: exact DP", progress, "device", delay_s=PROGRESS_DELAY_S, unit_scale=False
    )
    for d, g in enumerate(kinds):
        new = np.full_like(V, np.inf)
        ch = choice[d]
        for p in np.flatnonzero(np.isfinite(data.cost[g])):
            a, b = int(ux[p]), int(uy[p])
            if a > Lx or b > Ly:
                continue
            cand = V[: Lx + 1 - a, : Ly + 1 - b] + data.cost[g, p]
            view = new[a:, b:]
            better = cand < view
            view[better] = cand[better]
            ch[a:, b:][better] = p
        V = new
        bar.update()
    bar.close()
    if not np.isfinite(V).any():
        raise NoSolutionError(infeasible_message(data))
    sx, sy = (int(v) for v in np.unravel_index(int(np.argmin(V)), V.shape))
    n = np.zeros(data.cost.shape, dtype=np.int64)
    for d in range(len(kinds) - 1, -1, -1):
        q = int(choice[d, sx, sy])
        n[kinds[d], q] += 1
        sx -= int(ux[q])
        sy -= int(uy[q])
    F = _objective(data, n)
    return _result(data, n, lp, "exact", start, bound=F, optimal=True)


def _brute_force(data: KnapsackData, lp: LpRelaxation, start: float, progress: bool | None = False) -> Allocation:
    # identical copies: every multiset of pairs per kind (the order of copies does not matter)
    finite = [np.flatnonzero(np.isfinite(data.cost[g])).tolist() for g in range(data.kinds)]
    # counted before any is built: C(f + c - 1, c) multisets of c copies over f finite pairs
    total = math.prod(math.comb(len(f) + int(c) - 1, int(c)) for f, c in zip(finite, data.counts, strict=True))
    if total > BRUTE_FORCE_MAX:
        count = str(total) if total < 10**12 else f"{float(total):.2e}"
        raise InstanceError(f"method brute_force: {count} allocations (> {BRUTE_FORCE_MAX}); use exact or mip")
    choices = [
        list(itertools.combinations_with_replacement(f, int(c))) for f, c in zip(finite, data.counts, strict=True)
    ]
    per_kind = [
        [(float(data.cost[g, list(c)].sum()), float(data.x[list(c)].sum()), float(data.y[list(c)].sum())) for c in cs]
        for g, cs in enumerate(choices)
    ]
    best = math.inf
    best_pick: tuple[int, ...] | None = None
    bar = progress_bar(total, "fleet allocation: brute force", progress, "allocation", delay_s=PROGRESS_DELAY_S)
    for i, pick in enumerate(itertools.product(*(range(len(c)) for c in choices))):
        if i and not i % BRUTE_FORCE_TICK:
            bar.update(BRUTE_FORCE_TICK)
        F = sx = sy = 0.0
        for g, k in enumerate(pick):
            c, a, b = per_kind[g][k]
            F += c
            sx += a
            sy += b
        if sx <= 1 + CAPACITY_TOLERANCE and sy <= 1 + CAPACITY_TOLERANCE and F < best:
            best, best_pick = F, pick
    bar.update(total - bar.n)
    bar.close()
    if best_pick is None:
        raise NoSolutionError(infeasible_message(data))
    n = np.zeros(data.cost.shape, dtype=np.int64)
    for g, k in enumerate(best_pick):
        for p in choices[g][k]:
            n[g, p] += 1
    return _result(data, n, lp, "brute_force", start, bound=_objective(data, n), optimal=True)


# ----------------------------------------------------------------------------- entry points


def allocate(
    tables: Sequence[ArrayLike],
    counts: ArrayLike,
    weights: ArrayLike,
    x_levels: ArrayLike,
    y_levels: ArrayLike,
    method: Method = "auto",
    options: MipOptions | None = None,
    progress: bool | None = False,
) -> Allocation:
    """Allocate the shares (module docstring for the methods).

    Parameters
    ----------
    tables : sequence of G arrays, each of shape ``(len(X), len(Y))``
        :math:`\\Phi_g(X_i, Y_j)`, ``+inf`` where infeasible.
    counts : (G,) ints >= 1
        Identical copies of each kind.
    weights : (G,) floats > 0
        :math:`\\omega_g`.
    x_levels, y_levels : arrays of shapes ``(len(X),)``, ``(len(Y),)``
        Strictly increasing shares in [0, 1].
    method : {"auto", "mip", "lagrangian", "exact", "brute_force"}
    options : MipOptions, optional
        HiGHS's time limit, gap and threads (``mip``, and ``lagrangian`` when it falls back).
    progress : bool or None
        The MIP's bar on stderr (gap, bounds, ETA to the time limit) once it has run 2 s
        (:class:`coopt.mip.highs.MipProgress`; ``None``: on a terminal only).

    Raises
    ------
    InstanceError
        Malformed input, an unknown method, or a method that does not apply (``exact`` off a
        grid, ``brute_force`` on a large fleet).
    NoSolutionError
        The fleet is infeasible (the message names the kinds that cannot run device-only), or
        HiGHS stopped without an allocation.
    """
    if method not in METHODS:
        raise InstanceError(f"method = {method!r}: must be one of {', '.join(METHODS)}")
    start = time.perf_counter()
    data = knapsack_data(tables, counts, weights, x_levels, y_levels)
    lp = _lp(data)
    if method == "auto":
        lag = _lagrangian(data, lp, start, options, progress)
        if lag.optimal or int(np.count_nonzero(undominated(data))) > AUTO_MIP_MAX_COLUMNS:
            return lag
        return _mip(data, lp, start, options, progress=progress)
    if method == "mip":
        return _mip(data, lp, start, options, progress=progress)
    if method == "lagrangian":
        return _lagrangian(data, lp, start, options, progress)
    if method == "exact":
        return _exact(data, lp, start, progress)
    return _brute_force(data, lp, start, progress)


def _level_index(levels: ArrayLike, share: float, name: str) -> int:
    arr = np.asarray(levels, dtype=np.float64)
    hit = np.flatnonzero(np.abs(arr - share) <= 1e-12)
    if hit.size == 0:
        raise InstanceError(f"{name} = {arr.tolist()!r}: must contain the share {share:g} for this baseline")
    return int(hit[0])


def _baseline(
    tables: Sequence[ArrayLike],
    counts: ArrayLike,
    weights: ArrayLike,
    x_levels: ArrayLike,
    y_levels: ArrayLike,
    s: float,
) -> float | None:
    data = knapsack_data(tables, counts, weights, x_levels, y_levels, check=False)
    i = _level_index(x_levels, s, "x_levels")
    j = _level_index(y_levels, s, "y_levels")
    p = i * len(data.y_levels) + j
    total = float(data.counts @ data.cost[:, p])
    return total if math.isfinite(total) else None


def alone(
    tables: Sequence[ArrayLike], counts: ArrayLike, weights: ArrayLike, x_levels: ArrayLike, y_levels: ArrayLike
) -> float | None:
    """:math:`\\sum_u \\omega_u \\Phi_u(1, 1)`: every device with the whole band and edge
    (``None`` when some :math:`\\Phi_u(1, 1)` is infeasible; 1 must be a level)."""
    return _baseline(tables, counts, weights, x_levels, y_levels, 1.0)


def device_only(
    tables: Sequence[ArrayLike], counts: ArrayLike, weights: ArrayLike, x_levels: ArrayLike, y_levels: ArrayLike
) -> float | None:
    """:math:`\\sum_u \\omega_u \\Phi_u(0, 0)`: nobody offloads (``None`` when some device
    cannot run device-only; 0 must be a level)."""
    return _baseline(tables, counts, weights, x_levels, y_levels, 0.0)


__all__ = [
    "AUTO_MIP_MAX_COLUMNS",
    "AUTO_MIP_MAX_KINDS",
    "CAPACITY_TOLERANCE",
    "METHODS",
    "Allocation",
    "LpRelaxation",
    "allocate",
    "alone",
    "device_only",
    "lagrangian_dual",
    "lp_relaxation",
]
