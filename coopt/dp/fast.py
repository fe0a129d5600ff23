r"""Every placement at once: exact backward induction and exact OSLA values for all horizons.

The placement oracle of docs/model.md section 5 needs :math:`J(M)` for every horizon
:math:`M = 0..N`. Solving the :math:`N + 1` stopping problems one by one with
:func:`coopt.dp.stopping.backward_induction` costs :math:`O(N^2 K)`. For an i.i.d.
channel this module gets all of them from one backward sweep over the epochs. It is
exact: it evaluates the same piecewise-linear functions as the reference, through
prefix sums instead of full dot products (values agree to rounding, decisions
exactly, ties included).

Structure used
--------------
Sort row :math:`n` of the stop costs increasingly, :math:`z_{n,0} \le \dots \le
z_{n,K-1}`, with the state probabilities :math:`q_i` in the same order. Since
:math:`Y_n(h)` falls as :math:`h` grows, this is the reversed gain order: no sort.
With prefix sums :math:`S_n[t] = \sum_{i<t} q_i z_{n,i}`, :math:`Q[t] = \sum_{i<t} q_i`
and :math:`\bar Q[t] = \sum_{i\ge t} q_i`,

.. math::

    F_n(c) = E[\min(Y_n(h), c)] = S_n[t] + c\,\bar Q[t], \qquad
    t = \#\{i : z_{n,i} \le c\},

a concave piecewise-linear function of :math:`c`, evaluated in :math:`O(\log K)` by a
binary search (``np.searchsorted``, vectorised over all horizons at once).

Moreover docs/model.md's stop cost has rank one plus a constant:
:math:`Y_n(g_k) = \beta_n + \gamma_n u_k` with :math:`\beta_n = A_n + R_n`,
:math:`\gamma_n = (w_E P + w_T) d_n` and :math:`u_k = 1/r(g_k)`. Then
:math:`S_n[t] = \beta_n Q[t] + \gamma_n U[t]` with :math:`U[t] = \sum_{i<t} q_i u_i`,
and :math:`t = \#\{i : u_i \le (c - \beta_n)/\gamma_n\}`: one sorted array of length
:math:`K` serves every epoch and the :math:`(N+1) \times K` table is never needed
(``method="model"``, the default). ``method="table"`` works on any table ``Y``
(rows sorted where they are not monotone) with per-row prefix sums, in row blocks.

Optimal rule
------------
For :math:`n < M` the value function :math:`V^{(M)}_n` depends on :math:`M` only
through the scalar :math:`C^{(M)}_n = E[V^{(M)}_{n+1}]`, and
:math:`E[V^{(M)}_n] = F_n(G^{(M)}_n)`. Where waiting is allowed at epoch :math:`n`,
let :math:`\bar W^*_n` be the root of :math:`W = F_n(c_w + W)` (waiting without the
compute option). The root :math:`\bar W` of the full fixed point
:math:`\bar W = F_n(\min(C, c_w + \bar W))` is then :math:`F_n(G)` with

.. math::

    G = \min(C,\ c_w + \bar W^*_n):

if :math:`c_w + \bar W^*_n \le C`, :math:`\bar W^*_n` itself solves the full equation;
otherwise :math:`F_n(C) \ge C - c_w` (because :math:`F_n(c_w + W) - W` is
non-increasing and vanishes at :math:`\bar W^*_n > C - c_w`), so :math:`F_n(C)` solves
it; the root is unique for :math:`c_w > 0`. :math:`\bar W^*_n` does not depend on
:math:`M` and is found once per epoch: on the linear piece where :math:`t` states
stop, the root is :math:`W_t = (S_n[t] + c_w \bar Q[t]) / Q[t]`, and
:math:`W_{t+1} < W_t` exactly when :math:`z_{n,t} < c_w + W_t`, a predicate that holds
below the root's piece and fails from it on; a binary search over :math:`t` finds the
piece, i.e. :math:`\min_t W_t`, the formula of
:func:`coopt.dp.stopping.iid_wait_fixed_point`. The sweep runs :math:`n = N, \dots, 0`
and keeps one scalar per horizon:

.. math::

    e^{(M)}_n = F_n(G^{(M)}_n),\quad
    G^{(M)}_n = \min(e^{(M)}_{n+1},\ c_w + \bar W^*_n)\ \
    (\text{or } e^{(M)}_{n+1} \text{ without waiting at } n) \qquad (n < M),

    e^{(M)}_M = \bar W^*_M \ \text{where waiting is allowed at } M,\qquad
    e^{(M)}_M = E[Y_M] \ \text{otherwise},

and :math:`J^*(M) = e^{(M)}_0`.

OSLA rule
---------
Its look-ahead values :math:`L^c_n = E[Y_{n+1}]` and :math:`L^w_n = c_w + E[Y_n]` do
not depend on :math:`M`, so neither do its decisions at an interior epoch
:math:`n < M`: the states with :math:`Y_n \le \min(L^c_n, L^w_n)` (tie tolerance
included) stop, the others all compute or all wait. Its exact value is the affine
scalar recursion :math:`e^{(M)}_n = a_n + b_n e^{(M)}_{n+1}` with
:math:`a_n = S_n[t_n]`, :math:`b_n = \bar Q[t_n]` when the others compute, and
:math:`a_n = (S_n[t_n] + c_w \bar Q[t_n]) / Q[t_n]`, :math:`b_n = 0` when they wait
(a waiting state's value does not involve the next epoch); at :math:`n = M` the rule
stops or waits against :math:`L^w_M` alone, or must stop.

Ties
----
Decisions follow :func:`coopt.dp.stopping.tied_or_less`: the predicate is monotone, so a
stop set is a prefix of the sorted row; its length is found by binary search with a
band of :math:`4 \cdot` ``TIE_RTOL`` around the threshold, whose few entries (if any)
are checked with ``tied_or_less`` itself on the exact stop costs. Values of the
optimal rule involve no tie-breaking (a minimum is a minimum, and :math:`F_n` is
continuous, so a search that lands one piece off at a breakpoint changes nothing).

Cost
----
``method="model"``: :math:`O(K)` once (the gains are already sorted),
:math:`O(N \log K)` for the waiting roots and the OSLA stop sets, and
:math:`O(N^2 \log K)` (optimal) plus :math:`O(N^2)` (OSLA) for the horizon updates.
``method="table"`` adds :math:`O(NK)` for the prefix sums, in row blocks of about
``BLOCK_ELEMENTS`` numbers. Memory is :math:`O(N + K)` beyond the table: the sweep
keeps one vector per rule, :math:`e^{(M)}_n` for every :math:`M \ge n`, overwritten in
place as :math:`n` falls, so that at the end it holds :math:`J(M)`; the per-epoch
scalars (:math:`\bar W^*_n`, OSLA's wait values and affine steps :math:`a_n, b_n`) are
kept too. :meth:`AllPlacements.policy` needs :math:`e^{(M)}_n` for one :math:`M` and
all :math:`n \le M`: one backward pass at :math:`M` in :math:`O(M \log K)` (OSLA:
:math:`O(M)`) by the sweep's own floating-point operations on that one horizon (so the
column is the sweep's, bit for bit), then the full
:class:`~coopt.dp.stopping.StoppingSolution` in :math:`O(MK)` vectorised work, with the
reference's decisions and thresholds. Up to :math:`(N+1)^2 \le` ``KEEP_ELEMENTS``
(:math:`N \le 63`) the sweep also keeps the :math:`(N+1) \times (N+1)` matrices, which
saves the pass; :attr:`AllPlacements.expected` builds them on request otherwise
(:math:`8 (N+1)^2` bytes per rule). Measured on 2 shared cores (``bench/bench_fast.py
--scale``, :math:`K = 256`, wait mode ``last``, both rules and the policy at
:math:`M^*`): 1.2 s at :math:`N = 20{,}000`, 0.73 times a plain :math:`O(N)`-memory
recursion of the optimal rule alone; the whole ``coopt solve --json`` 2.6 s and 140 MB
peak RSS (it was 18 s and 6.4 GB with the matrices).

Markov channels are not handled here (their continuation values are vectors, not
scalars); :mod:`coopt.dp.markov` sweeps them.
This module uses NumPy only.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Iterable, Iterator, MutableMapping
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from coopt.dp.stopping import (
    COMPUTE,
    RULES,
    STOP,
    TIE_RTOL,
    StoppingSolution,
    _forced,
    checked_rules,
    choose_by_tie_order,
    thresholds_from,
    tied_or_less,
)
from coopt.model.channel import Channel
from coopt.model.costs import CostModel, wait_allowed

METHODS = ("auto", "model", "table")
BLOCK_ELEMENTS = 1 << 20
"""Stop-cost entries per row block of ``method="table"`` (8 MiB per temporary array)."""
KEEP_ELEMENTS = 1 << 12
"""Up to ``(N + 1)^2`` of this (``N <= 63``, 32 KiB per rule) the sweep also keeps every
:math:`E[V^{(M)}_n]`, so that a policy needs no backward pass; beyond, memory stays
:math:`O(N)` and :meth:`AllPlacements.policy` makes one pass at its horizon."""
TIE_BAND = 4.0 * TIE_RTOL
"""Relative half-width of the band around a threshold whose entries are tie-checked."""


# ----------------------------------------------------------------------------- results


@dataclass(frozen=True, eq=False)
class AllPlacements:
    r"""One rule solved for every horizon :math:`M = 0..N` by :func:`solve_all`.

    Attributes
    ----------
    rule : str
        ``"optimal"`` or ``"osla"``.
    mode : str
        ``wait.mode``.
    values : NDArray[np.float64]
        ``(N + 1,)``: the expected task cost :math:`J(M)` for ``M = 0..N``.
    wait_values : NDArray[np.float64]
        ``(N + 1,)``: per epoch, the expected cost after deciding to wait, excluding
        the slot: :math:`\bar W^*_n` for the optimal rule, the OSLA policy's wait value
        for ``osla``; ``nan`` where waiting is impossible (``n = N``, mode ``never``).
    mean_stop : NDArray[np.float64]
        ``(N + 1,)``: :math:`E[Y_n(h)]`.
    costs : CostModel
        The cost model (for :math:`c_w` and the thresholds).
    gains : NDArray[np.float64]
        ``(K,)``: the channel's gains.
    Y : NDArray[np.float64] or None
        ``(N + 1, K)``: the stop costs, if the caller had them; otherwise the rows a
        policy needs are computed from ``costs`` and ``gains`` exactly as
        :meth:`CostModel.stop_cost` does.
    sweep : _SweepData
        What a backward pass at one horizon needs (the row source and the per-epoch
        scalars of the sweep), shared by the rules of one :func:`solve_all` call.
    """

    rule: str
    mode: str
    values: NDArray[np.float64]
    wait_values: NDArray[np.float64]
    mean_stop: NDArray[np.float64]
    costs: CostModel
    gains: NDArray[np.float64]
    Y: NDArray[np.float64] | None = None
    sweep: _SweepData | None = field(default=None, repr=False)

    @property
    def n_layers(self) -> int:
        return int(self.values.shape[0]) - 1

    def stop_rows(self, rows: int) -> NDArray[np.float64]:
        """The first ``rows`` rows of the stop-cost table, shape ``(rows, K)``."""
        if self.Y is not None:
            return self.Y[:rows]
        return _stop_rows(self.costs, self.gains, rows)

    def expected_column(self, horizon: int) -> NDArray[np.float64]:
        """``(M + 1,)``: :math:`E[V^{(M)}_n]` for ``n = 0..M`` at ``M = horizon``.

        From the matrix the sweep kept (``(N + 1)^2 <= KEEP_ELEMENTS``), else by one
        backward pass at ``M`` in :math:`O(M \\log K)`, with the sweep's floating-point
        operations (so ``expected_column(M)[0] == values[M]`` exactly).
        """
        n_layers = self.n_layers
        if not 0 <= horizon <= n_layers:
            raise ValueError(f"horizon = {horizon}: must be in 0..{n_layers}")
        if self.sweep is None:
            raise ValueError("this AllPlacements carries no sweep data")
        return self.sweep.column(self.rule, horizon)

    @property
    def expected(self) -> NDArray[np.float64]:
        """``(N + 1, N + 1)``: ``expected[n, M]`` is :math:`E[V^{(M)}_n]` for ``n <= M``,
        ``nan`` below the diagonal; ``values = expected[0]``.

        Kept by the sweep only for small ``N``; otherwise computed here by a second sweep
        that keeps every row (:math:`8 (N+1)^2` bytes: 3.2 GB at ``N = 20,000``). Prefer
        :meth:`expected_column`.
        """
        if self.sweep is None:
            raise ValueError("this AllPlacements carries no sweep data")
        return self.sweep.matrix(self.rule)

    def policy(self, horizon: int) -> StoppingSolution:
        """The full policy of placement ``horizon``, as the reference solver returns it.

        For the optimal rule :math:`V_n = \\min(Y_n, G_n)` with actions by docs/model.md's
        tie order; for OSLA the look-ahead decisions and the exact values of that fixed
        policy. ``values (M+1, K)``, ``actions (M+1, K)``, ``thresholds (M+1,)``;
        ``value`` is ``self.values[horizon]``. The continuation values come from
        :meth:`expected_column` (one backward pass at ``M`` when ``N`` is large).
        """
        m = horizon
        column = self.expected_column(m)
        n_layers = self.n_layers
        allowed = wait_allowed(self.mode, m, n_layers)
        c_w = self.costs.wait_cost
        Y = self.stop_rows(m + 1)
        cont = np.full(m + 1, np.inf)
        cont[:m] = column[1 : m + 1]
        wait = np.full(m + 1, np.inf)
        wait[allowed] = c_w + self.wait_values[: m + 1][allowed]
        if self.rule == "optimal":
            G = np.minimum(cont, wait)
            values = np.minimum(Y, G[:, None])
            actions = choose_by_tie_order(Y, cont[:, None], wait[:, None])
        else:
            look_c = np.full(m + 1, np.inf)
            look_c[:m] = self.mean_stop[1 : m + 1]
            look_w = np.full(m + 1, np.inf)
            look_w[allowed] = c_w + self.mean_stop[: m + 1][allowed]
            G = np.minimum(look_c, look_w)
            actions = choose_by_tie_order(Y, look_c[:, None], look_w[:, None])
            values = np.where(actions == STOP, Y, np.where(actions == COMPUTE, cont[:, None], wait[:, None]))
        thresholds = thresholds_from(G, self.costs, _forced(m, allowed))
        return StoppingSolution(m, values, actions, thresholds, float(self.values[m]))


class PolicySource(Protocol):
    """Anything that builds the full policy of one horizon (:class:`AllPlacements`,
    :class:`coopt.dp.markov.MarkovPlacements`)."""

    def policy(self, horizon: int) -> StoppingSolution: ...


class PolicyMap(MutableMapping[int, StoppingSolution]):
    """``{M: StoppingSolution}`` over a set of placements, each built on first access.

    Behaves like the dict of the reference enumeration without paying :math:`O(MK)`
    for the placements nobody looks at.
    """

    def __init__(self, table: PolicySource, placements: Iterable[int]) -> None:
        self._table = table
        self._keys = list(dict.fromkeys(int(m) for m in placements))
        self._cache: dict[int, StoppingSolution] = {}

    def __getitem__(self, horizon: int) -> StoppingSolution:
        if horizon not in self._cache:
            if horizon not in self._keys:
                raise KeyError(horizon)
            self._cache[horizon] = self._table.policy(horizon)
        return self._cache[horizon]

    def __setitem__(self, horizon: int, policy: StoppingSolution) -> None:
        if horizon not in self._keys:
            self._keys.append(horizon)
        self._cache[horizon] = policy

    def __delitem__(self, horizon: int) -> None:
        self._keys.remove(horizon)
        self._cache.pop(horizon, None)

    def __contains__(self, horizon: object) -> bool:
        return horizon in self._keys

    def __iter__(self) -> Iterator[int]:
        return iter(list(self._keys))

    def __len__(self) -> int:
        return len(self._keys)


def sweep_work(n_layers: int) -> int:
    """The units :func:`solve_all` reports to ``tick`` in all: one per horizon value, ``(N + 1)(N + 2) / 2``."""
    return (n_layers + 1) * (n_layers + 2) // 2


def solve_all(
    Y: NDArray[np.float64] | None,
    channel: Channel,
    mode: str,
    costs: CostModel,
    rules: Iterable[str] = RULES,
    method: str = "auto",
    tick: Callable[[int, int], None] | None = None,
) -> dict[str, AllPlacements]:
    """Solve every placement ``M = 0..N`` of an i.i.d. channel for each rule, in one sweep.

    Parameters
    ----------
    Y : NDArray[np.float64] or None
        Stop costs :math:`Y_n(g_k)`, shape ``(N + 1, K)``, or ``None`` for
        ``costs.stop_cost(channel.gains)`` (then never formed in full). With
        ``method="model"`` it must be that table (three rows are checked) and is used
        only to build policy tables.
    channel : Channel
        An i.i.d. finite channel (``not channel.is_markov``).
    mode : str
        ``wait.mode``: ``"never"``, ``"last"`` or ``"any"``.
    costs : CostModel
        Supplies :math:`c_w` (``> 0`` unless ``mode = "never"``), the thresholds and,
        for ``method="model"``, :math:`\\beta_n`, :math:`\\gamma_n` and the rates.
    rules : iterable of str
        Any of ``"optimal"``, ``"osla"``; they share one sweep.
    method : {"auto", "model", "table"}
        ``"model"``: the rank-one form of docs/model.md's stop cost; ``"table"``: any table
        ``Y``; ``"auto"``: ``"model"`` when ``Y`` is ``None`` or equals
        ``costs.stop_cost(channel.gains)`` exactly (an :math:`O(NK)` comparison),
        ``"table"`` otherwise (e.g. the Lagrangian tables of :mod:`coopt.dp.constraints`).
    tick : callable, optional
        Progress: called after each epoch ``n`` as ``tick(done, total)`` with the horizon
        values it updated (``N - n + 1``) and those of the whole sweep (:func:`sweep_work`).

    Returns
    -------
    dict
        ``{rule: AllPlacements}``.
    """
    if channel.is_markov:
        raise ValueError("solve_all needs an i.i.d. channel; Markov channels are solved per placement")
    rules = checked_rules(rules, mode)
    if method not in METHODS:
        raise ValueError(f"method = {method!r}: must be one of {', '.join(METHODS)}")
    probs = np.asarray(channel.probs, dtype=np.float64)
    gains = np.asarray(channel.gains, dtype=np.float64)
    k = probs.shape[0]
    n_rows = costs.n_layers + 1
    if Y is not None:
        Y = np.asarray(Y, dtype=np.float64)
        if Y.shape != (n_rows, k):
            raise ValueError(f"Y has shape {Y.shape}; expected {(n_rows, k)}")
    c_w = float(costs.wait_cost)
    if mode != "never" and n_rows > 1 and not c_w > 0:
        raise ValueError(f"wait cost c_w = {c_w}: must be > 0 when wait.mode = {mode!r}")
    if method == "auto":
        method = "model" if Y is None or _is_model_table(Y, costs, gains) else "table"
    if method == "model":
        if np.any(np.diff(gains) < 0):
            raise ValueError("channel.gains must be non-decreasing")
        if Y is not None and not _is_model_table(Y, costs, gains, rows_only=True):
            raise ValueError('Y is not costs.stop_cost(channel.gains); use method = "table" for other tables')
        model_rows: _ModelRows | None = _ModelRows(costs, gains, probs)
        blocks: Iterable[_ModelRows | _TableRows] = [model_rows]  # type: ignore[list-item]
    else:
        if Y is None:
            raise ValueError('method = "table" needs the table Y')
        model_rows = None
        blocks = _table_blocks(Y, probs)
    keep = n_rows * n_rows <= KEEP_ELEMENTS
    data = _sweep(blocks, n_rows - 1, mode, c_w, "optimal" in rules, "osla" in rules, keep, tick)
    data.rows = model_rows
    data.Y, data.probs = Y, probs
    out: dict[str, AllPlacements] = {}
    for rule in rules:
        out[rule] = AllPlacements(
            rule=rule,
            mode=mode,
            values=data.values[rule],
            wait_values=data.w_opt if rule == "optimal" else data.w_osla,
            mean_stop=data.mean,
            costs=costs,
            gains=gains,
            Y=Y,
            sweep=data,
        )
    return out


def _stop_rows(costs: CostModel, gains: NDArray[np.float64], rows: int) -> NDArray[np.float64]:
    """Rows ``0..rows-1`` of :meth:`CostModel.stop_cost`, by the same floating-point operations."""
    upload = costs.upload_coef[:rows, None] / costs.rate_bps(gains)[None, :]
    return costs.stop_base[:rows, None] + upload


def _is_model_table(
    Y: NDArray[np.float64], costs: CostModel, gains: NDArray[np.float64], rows_only: bool = False
) -> bool:
    """Whether ``Y`` is exactly ``costs.stop_cost(gains)``: rows ``0``, ``N // 2`` and ``N``
    first, then (unless ``rows_only``) the whole table."""
    n_layers = Y.shape[0] - 1
    rate = costs.rate_bps(gains)
    for n in sorted({0, n_layers // 2, n_layers}):
        row = costs.stop_base[n] + costs.upload_coef[n] / rate  # as CostModel.stop_cost
        if not np.array_equal(Y[n], row):
            return False
    return rows_only or bool(np.array_equal(Y, _stop_rows(costs, gains, n_layers + 1)))


# ----------------------------------------------------------------------------- row sources
#
# A row source describes rows start..stop-1 of the sorted stop-cost table and answers
# what the sweep asks: E[Y_n], prefix sums at given lengths, tie-aware stop-set sizes,
# waiting roots, and F_n(c) for a vector c.


class _ModelRows:
    """All rows of :math:`Y_n(g_k) = \\beta_n + \\gamma_n u_k` from shared ``(K,)`` arrays."""

    def __init__(self, costs: CostModel, gains: NDArray[np.float64], probs: NDArray[np.float64]) -> None:
        self.start, self.stop = 0, costs.n_layers + 1
        self.beta = costs.stop_base
        self.gamma = np.asarray(costs.upload_coef, dtype=np.float64)
        self.rate = costs.rate_bps(gains)
        self.k = gains.shape[0]
        q = probs[::-1]
        self.u = 1.0 / self.rate[::-1]  # increasing (the gains are sorted)
        self.Q = np.concatenate([[0.0], np.cumsum(q)])
        self.Qt = np.concatenate([np.cumsum(q[::-1])[::-1], [0.0]])
        self.U = np.concatenate([[0.0], np.cumsum(q * self.u)])
        self.inv_gamma = np.divide(1.0, self.gamma, out=np.full_like(self.gamma, np.inf), where=self.gamma > 0)
        # Python floats: scalar arithmetic in the per-epoch loop is cheaper on them.
        self._beta, self._gamma, self._inv_gamma = self.beta.tolist(), self.gamma.tolist(), self.inv_gamma.tolist()
        self._lists: tuple[list[float], list[float], list[float], list[float]] | None = None

    def mean(self) -> NDArray[np.float64]:
        return self.beta * self.Q[self.k] + self.gamma * self.U[self.k]

    def partial(self, t: NDArray[np.intp]) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
        """``S_n[t_n], Q[t_n], Qt[t_n]`` for every row ``n``."""
        return self.beta * self.Q[t] + self.gamma * self.U[t], self.Q[t], self.Qt[t]

    def _count(self, x: NDArray[np.float64]) -> NDArray[np.intp]:
        """Approximately ``#{i : z_{n,i} <= x_n}`` (exact up to rounding at breakpoints)."""
        with np.errstate(invalid="ignore", over="ignore"):
            arg = (x - self.beta) * self.inv_gamma
            # gamma = 0: a constant row, all in or all out.
            arg = np.where(self.gamma > 0, arg, np.where(self.beta <= x, np.inf, -np.inf))
        return np.searchsorted(self.u, arg, side="right")

    def count_tied(self, x: NDArray[np.float64]) -> NDArray[np.intp]:
        """``#{i : tied_or_less(z_{n,i}, x_n)}`` per row, exactly (see the module docstring)."""
        finite = np.isfinite(x)
        xf = np.where(finite, x, 0.0)
        band = TIE_BAND * np.abs(xf)
        lo = self._count(xf - band)
        hi = self._count(xf + band)
        t = np.where(finite, lo, np.where(x > 0, self.k, 0))
        for n in np.flatnonzero(finite & (hi > lo)):
            states = self.k - 1 - np.arange(lo[n], hi[n])  # gain order
            exact = self.beta[n] + self.gamma[n] / self.rate[states]  # as CostModel.stop_cost
            t[n] = lo[n] + int(np.count_nonzero(tied_or_less(exact, x[n])))
        return t

    def wait_roots(self, rows: NDArray[np.intp], c_w: float) -> NDArray[np.float64]:
        beta, gamma = self.beta[rows], self.gamma[rows]

        def root(t: NDArray[np.intp]) -> NDArray[np.float64]:
            return (beta * self.Q[t] + gamma * self.U[t] + c_w * self.Qt[t]) / self.Q[t]

        def below(t: NDArray[np.intp], w: NDArray[np.float64]) -> NDArray[np.bool_]:
            return beta + gamma * self.u[t] < c_w + w

        return _search_root(rows.shape[0], self.k, root, below)

    def expect_min(self, n: int, c: NDArray[np.float64]) -> NDArray[np.float64]:
        """:math:`F_n(c)` for a vector ``c``."""
        beta, gamma = self._beta[n], self._gamma[n]
        if gamma <= 0:
            return self.Q[self.k] * np.minimum(beta, c)
        t = self.u.searchsorted((c - beta) * self._inv_gamma[n], side="right")
        return (beta * self.Q.take(t) + gamma * self.U.take(t)) + c * self.Qt.take(t)

    def expect_min_scalar(self, n: int, c: float) -> float:
        """:math:`F_n(c)` for one float, by the floating-point operations of
        :meth:`expect_min` (``bisect_right`` is ``searchsorted(side="right")``)."""
        if self._lists is None:
            self._lists = (self.u.tolist(), self.Q.tolist(), self.U.tolist(), self.Qt.tolist())
        u, Q, U, Qt = self._lists
        beta, gamma = self._beta[n], self._gamma[n]
        if gamma <= 0:
            return Q[self.k] * min(beta, c)
        t = bisect_right(u, (c - beta) * self._inv_gamma[n])
        return (beta * Q[t] + gamma * U[t]) + c * Qt[t]


class _TableRows:
    """Rows ``start..stop-1`` of a stop-cost table, each sorted increasingly, with prefix sums."""

    def __init__(
        self,
        Yb: NDArray[np.float64],
        start: int,
        q: NDArray[np.float64],
        Qa: NDArray[np.float64],
        Qb: NDArray[np.float64],
    ) -> None:
        nb, k = Yb.shape
        self.start, self.stop, self.k = start, start + nb, k
        z = Yb[:, ::-1]
        if k == 1 or bool(np.all(z[:, 1:] >= z[:, :-1])):
            z = np.ascontiguousarray(z)
            weights: NDArray[np.float64] = q
            self.Q = np.broadcast_to(Qa, (nb, k + 1))
            self.Qt = np.broadcast_to(Qb, (nb, k + 1))
        else:
            order = np.argsort(z, axis=1, kind="stable")
            z = np.take_along_axis(z, order, axis=1)
            weights = q[order]
            Q = np.zeros((nb, k + 1))
            np.cumsum(weights, axis=1, out=Q[:, 1:])
            Qt = np.zeros((nb, k + 1))
            Qt[:, :-1] = np.cumsum(weights[:, ::-1], axis=1)[:, ::-1]
            self.Q, self.Qt = Q, Qt
        S = np.empty((nb, k + 1))
        S[:, 0] = 0.0
        np.cumsum(z * weights, axis=1, out=S[:, 1:])
        self.z, self.S = z, S
        self.rows = np.arange(nb)

    def mean(self) -> NDArray[np.float64]:
        return self.S[:, self.k].copy()

    def partial(self, t: NDArray[np.intp]) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
        r = self.rows
        return self.S[r, t], self.Q[r, t], self.Qt[r, t]

    def count_tied(self, x: NDArray[np.float64]) -> NDArray[np.intp]:
        with np.errstate(invalid="ignore"):
            upper = x + TIE_BAND * np.abs(x)
        t = _count_le(self.z, x)
        t_up = _count_le(self.z, upper)
        for r in np.flatnonzero(t_up > t):
            t[r] += int(np.count_nonzero(tied_or_less(self.z[r, t[r] : t_up[r]], x[r])))
        return t

    def wait_roots(self, rows: NDArray[np.intp], c_w: float) -> NDArray[np.float64]:
        z, S, Q, Qt, r = self.z, self.S, self.Q, self.Qt, rows

        def root(t: NDArray[np.intp]) -> NDArray[np.float64]:
            return (S[r, t] + c_w * Qt[r, t]) / Q[r, t]

        def below(t: NDArray[np.intp], w: NDArray[np.float64]) -> NDArray[np.bool_]:
            return z[r, t] < c_w + w

        return _search_root(rows.shape[0], self.k, root, below)

    def expect_min(self, i: int, c: NDArray[np.float64]) -> NDArray[np.float64]:
        t = self.z[i].searchsorted(c, side="right")
        return self.S[i].take(t) + c * self.Qt[i].take(t)


def _table_blocks(Y: NDArray[np.float64], probs: NDArray[np.float64]) -> Iterator[_TableRows]:
    """Row blocks of ``Y`` from the last rows to the first."""
    n_rows, k = Y.shape
    q = probs[::-1]
    Qa = np.concatenate([[0.0], np.cumsum(q)])
    Qb = np.concatenate([np.cumsum(q[::-1])[::-1], [0.0]])
    step = max(1, BLOCK_ELEMENTS // (k + 1))
    for stop in range(n_rows, 0, -step):
        start = max(0, stop - step)
        yield _TableRows(Y[start:stop], start, q, Qa, Qb)


def _count_le(z: NDArray[np.float64], x: NDArray[np.float64]) -> NDArray[np.intp]:
    """``#{i : z[r, i] <= x[r]}`` per row of the row-sorted ``z``: a batched binary search."""
    nb, k = z.shape
    rows = np.arange(nb)
    lo = np.zeros(nb, dtype=np.intp)
    hi = np.full(nb, k, dtype=np.intp)
    for _ in range(k.bit_length()):
        active = lo < hi
        mid = (lo + hi) >> 1
        le = z[rows, np.minimum(mid, k - 1)] <= x
        lo = np.where(active & le, mid + 1, lo)
        hi = np.where(active & ~le, mid, hi)
    return lo


def _search_root(
    nb: int,
    k: int,
    root: Callable[[NDArray[np.intp]], NDArray[np.float64]],
    below: Callable[[NDArray[np.intp], NDArray[np.float64]], NDArray[np.bool_]],
) -> NDArray[np.float64]:
    r"""Batched binary search for the waiting root of ``nb`` rows (``c_w > 0``).

    ``root(t)`` is :math:`W_t` for ``t`` states stopping (``t = 1..K``) and
    ``below(t, w)`` tests :math:`z_t < c_w + w` (``t = 1..K-1``), which holds for
    ``t`` below the root's piece and fails from it on.
    """
    lo = np.ones(nb, dtype=np.intp)
    hi = np.full(nb, k, dtype=np.intp)
    with np.errstate(divide="ignore", invalid="ignore"):
        for _ in range(k.bit_length()):
            active = lo < hi
            mid = (lo + hi) >> 1
            t = np.minimum(mid, k - 1)
            right = below(t, root(t))
            lo = np.where(active & right, mid + 1, lo)
            hi = np.where(active & ~right, mid, hi)
        return root(lo)


# ----------------------------------------------------------------------------- the sweep


class _SweepData:
    """What one sweep leaves behind: :math:`J(M)` per rule, the per-epoch scalars that do
    not depend on the horizon, and what a backward pass at one horizon needs.

    ``a_osla[n] + b_osla[n] e`` is OSLA's affine step at an interior epoch ``n``
    (``b_osla[n] = 0``: the others wait, and the step is ``a_osla[n]``). ``kept`` holds the
    full ``(N + 1) x (N + 1)`` matrices when the sweep was asked to keep them.
    """

    def __init__(self, n_layers: int, mode: str, c_w: float) -> None:
        size = n_layers + 1
        self.n_layers, self.mode, self.c_w = n_layers, mode, c_w
        self.waits = mode != "never"  # waiting possible at every epoch n < N of some placement
        self.waits_inside = mode == "any"  # ... also before the last placed epoch
        self.mean = np.empty(size)
        self.w_opt = np.full(size, np.nan)
        self.w_osla = np.full(size, np.nan)
        self.a_osla = np.empty(size)  # written for every row by an OSLA sweep
        self.b_osla = np.empty(size)
        self.values: dict[str, NDArray[np.float64]] = {}
        self.kept: dict[str, NDArray[np.float64]] = {}
        self.rows: _ModelRows | None = None
        self.Y: NDArray[np.float64] | None = None
        self.probs: NDArray[np.float64] | None = None

    def start_value(self, rule: str, m: int) -> float:
        """:math:`e^{(M)}_M`: the expected cost at the last placed epoch."""
        if m == self.n_layers or not self.waits:
            return float(self.mean[m])
        return float(self.w_opt[m] if rule == "optimal" else self.w_osla[m])

    def column(self, rule: str, m: int) -> NDArray[np.float64]:
        """:math:`E[V^{(M)}_n]` for ``n = 0..M``: the kept matrix's column, or one backward
        pass at ``M`` by the sweep's operations on one horizon (the same numbers)."""
        if rule in self.kept:
            return self.kept[rule][: m + 1, m].copy()
        col = np.empty(m + 1)
        col[m] = self.start_value(rule, m)
        if rule == "osla":
            a, b = self.a_osla.tolist(), self.b_osla.tolist()
            e = col[m]
            for n in range(m - 1, -1, -1):
                e = a[n] if b[n] == 0.0 else a[n] + b[n] * e
                col[n] = e
            return col
        c_w, inside, w = self.c_w, self.waits_inside, self.w_opt.tolist()
        if self.rows is not None:
            rows = self.rows
            e = float(col[m])
            for n in range(m - 1, -1, -1):
                e = rows.expect_min_scalar(n, min(e, c_w + w[n]) if inside else e)
                col[n] = e
            return col
        assert self.Y is not None and self.probs is not None
        for blk in _table_blocks(self.Y[: m + 1], self.probs):
            for i in range(blk.stop - blk.start - 1, -1, -1):
                n = blk.start + i
                if n < m:
                    c = col[n + 1 : n + 2]
                    if inside:
                        c = np.minimum(c, c_w + w[n])
                    col[n] = blk.expect_min(i, c)[0]
        return col

    def matrix(self, rule: str) -> NDArray[np.float64]:
        """The full ``(N + 1) x (N + 1)`` matrix of ``rule``: kept, or by a second sweep."""
        if rule not in self.kept:
            blocks: Iterable[_ModelRows | _TableRows]
            if self.rows is not None:
                blocks = [self.rows]
            else:
                assert self.Y is not None and self.probs is not None
                blocks = _table_blocks(self.Y, self.probs)
            again = _sweep(blocks, self.n_layers, self.mode, self.c_w, rule == "optimal", rule == "osla", keep=True)
            self.kept[rule] = again.kept[rule]
        return self.kept[rule]


def _sweep(
    blocks: Iterable[_ModelRows | _TableRows],
    n_layers: int,
    mode: str,
    c_w: float,
    do_opt: bool,
    do_osla: bool,
    keep: bool = False,
    tick: Callable[[int, int], None] | None = None,
) -> _SweepData:
    """Backward sweep over the epochs ``n = N..0`` updating every horizon ``M >= n``.

    One vector per rule holds :math:`e^{(M)}_n` for every ``M >= n`` and is updated in
    place: ``ev[n+1:] = F_n(G)`` with ``G`` from ``ev[n+1:]``, then ``ev[n]`` starts
    horizon ``n``; memory :math:`O(N)` beyond the row source. ``keep``: also record
    every row in ``(N + 1) x (N + 1)`` matrices (``nan`` below the diagonal).
    """
    size = n_layers + 1
    work = sweep_work(n_layers)
    data = _SweepData(n_layers, mode, c_w)
    waits, waits_inside = data.waits, data.waits_inside
    mean_stop, w_opt, w_osla = data.mean, data.w_opt, data.w_osla
    ev = np.empty(size if do_opt and not keep else 0)
    eo = np.empty(size if do_osla and not keep else 0)
    EV = np.full((size, size), np.nan) if do_opt and keep else None
    EO = np.full((size, size), np.nan) if do_osla and keep else None
    next_mean = np.nan  # E[Y_n] of the row after the current block
    for blk in blocks:
        start, stop = blk.start, blk.stop
        nb = stop - start
        epochs = np.arange(start, stop)
        mean = blk.mean()
        mean_stop[start:stop] = mean
        can_wait = (epochs < n_layers) if waits else np.zeros(nb, dtype=bool)
        wait_rows = np.flatnonzero(can_wait)
        if do_opt and wait_rows.size:
            w_opt[start + wait_rows] = blk.wait_roots(wait_rows, c_w)
        if do_osla:
            look_w = np.full(nb, np.inf)
            if waits:
                look_w[can_wait] = c_w + mean[can_wait]
                t = blk.count_tied(look_w)
                S_t, Q_t, Qt_t = blk.partial(t)
                with np.errstate(divide="ignore", invalid="ignore"):
                    w_osla[start + wait_rows] = ((S_t + c_w * Qt_t) / Q_t)[wait_rows]
            look_c = np.append(mean[1:], next_mean)
            look_c[epochs == n_layers] = np.inf  # never an interior epoch
            if not waits_inside:
                look_w = np.full(nb, np.inf)
            t = blk.count_tied(np.minimum(look_c, look_w))
            S_t, _, Qt_t = blk.partial(t)
            computes = tied_or_less(look_c, look_w)
            slope = np.where(computes, Qt_t, 0.0)
            offset = np.where(computes, S_t, w_osla[start:stop])
            data.b_osla[start:stop] = slope
            data.a_osla[start:stop] = offset
        for i in range(nb - 1, -1, -1):
            n = start + i
            last = n == n_layers
            # Kept: row n of the matrix from row n + 1; otherwise the one vector in place.
            if do_opt:
                dst = EV[n] if EV is not None else ev
                if not last:
                    c = (EV[n + 1] if EV is not None else ev)[n + 1 :]
                    if waits_inside:
                        c = np.minimum(c, c_w + w_opt[n])
                    dst[n + 1 :] = blk.expect_min(i, c)
                dst[n] = mean[i] if last or not waits else w_opt[n]
            if do_osla:
                dst = EO[n] if EO is not None else eo
                if not last:
                    if slope[i] == 0.0:
                        dst[n + 1 :] = offset[i]
                    else:
                        tail = dst[n + 1 :]
                        np.multiply((EO[n + 1] if EO is not None else eo)[n + 1 :], slope[i], out=tail)
                        np.add(tail, offset[i], out=tail)
                dst[n] = mean[i] if last or not waits else w_osla[n]
            if tick is not None:
                tick(size - n, work)
        next_mean = mean[0]
    if do_opt:
        data.values["optimal"] = ev if EV is None else EV[0].copy()
        if EV is not None:
            data.kept["optimal"] = EV
    if do_osla:
        data.values["osla"] = eo if EO is None else EO[0].copy()
        if EO is not None:
            data.kept["osla"] = EO
    return data
