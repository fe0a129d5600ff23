r"""Every placement at once on a Markov (or time-inhomogeneous) channel.

The placement oracle of docs/model.md section 5 needs :math:`J(M)` for every horizon
:math:`M`. :mod:`coopt.dp.fast` gets them in one sweep for an i.i.d. channel, where a
horizon's continuation value is a scalar. On a Markov channel it is a vector per state,
:math:`C^{(M)}_n = P_n V^{(M)}_{n+1}`, so this module keeps one row per horizon and runs
one backward sweep over the epochs ``n = N..0`` in which every horizon :math:`M > n` is
advanced together. Per epoch:

* **Continuation.** Stacking :math:`V^{(M)}_{n+1}` of the horizons as the rows of a
  matrix ``V`` gives all continuation values in one product ``V @ P_n.T``, with
  :math:`P_n` = ``channel.step(n)`` (never assumed to be the same for all ``n``).
* **Optimal rule, waiting.** Where waiting is allowed the values of one epoch solve
  :math:`V = \min(m, c_w + P_w V)`, :math:`m = \min(Y_n, C_n)`, with
  :math:`P_w` = ``channel.wait_step()``. :func:`wait_fixed_points` solves it for all rows
  at once by the policy iteration of :func:`coopt.dp.stopping.markov_wait_values`
  (same improvement test, same tie tolerance), batched: the test
  :math:`m \le c_w + P_w V` is one matrix product for all rows, and rows with the same
  waiting set share one linear solve with several right-hand sides. Each row starts from
  its waiting set at the epoch after (*warm start*); since every waiting set found is
  optimal for some problem with the same :math:`P_w` and :math:`c_w > 0`, it leaves the
  set with probability one, so it is a proper starting policy and the iteration ends at
  the optimum. Before that, a row that did not wait at the epoch after and has
  :math:`m \le c_w + P_w L` in every state, with :math:`L` the column-wise minimum of
  :math:`m` over the rows, cannot wait (:math:`P_w m \ge P_w L`): one matrix-vector
  product clears most rows of a channel where waiting does not pay. In mode ``last``
  waiting happens only at the last placed epoch, where :math:`C = +\infty`: that fixed
  point (:math:`m = Y_M`) is one row per epoch, shared by every horizon ending there,
  all solved together before the sweep.
* **Equal rows.** Horizons whose rows become equal bit for bit at some epoch (typically
  every longer horizon, once stopping is best in every state there) stay equal at every
  earlier epoch, so they follow one leader row from then on (:func:`_merge_equal_rows`):
  on typical chains a few rows per epoch instead of up to :math:`N + 1`.
* **OSLA.** Its look-ahead values :math:`L^c_n = P_n Y_{n+1}` and
  :math:`L^w_n = c_w + P_w Y_n` do not depend on :math:`M`, so neither do its decisions
  at interior epochs :math:`n < M` (only the last placed epoch :math:`n = M` differs: no
  compute there). So the law of the state on arrival at epoch ``n`` and the expected cost
  paid there do not depend on :math:`M` either, and one *forward* pass gives
  :math:`J_{OSLA}(M)` for every :math:`M` (:func:`_forward_osla`), in :math:`O(N K^2)`.
  The full table of one horizon is evaluated backwards as in
  :func:`coopt.dp.stopping.evaluate_randomised_policy`: stop gives :math:`Y_n`, compute
  :math:`C_n`, and the waiting states ``W`` solve
  :math:`(I - P_{w,WW}) v_W = c_w + P_{w,WS} v_S`, a regular system because OSLA never
  waits forever: a set of states closed under :math:`P_w` in which every state waits
  would need :math:`Y_k > c_w + (P_w Y)_k` for all its states (beyond the tie
  tolerance), false at its state of smallest :math:`Y_k`, where
  :math:`(P_w Y)_k \ge Y_k`. So, unlike the reference evaluator, no infinite values.

Results equal the per-placement reference (:func:`coopt.dp.stopping.backward_induction`,
:func:`coopt.dp.stopping.osla_policy`, kept as the oracle) in decisions and to rounding in
values; only the order of summation differs (matrix products over several horizons,
solves with several right-hand sides, OSLA's forward pass). :meth:`MarkovPlacements.policy`
rebuilds the full table of one horizon by the same backward sweep restricted to it.

Cost: the optimal rule at most :math:`O(N^2 K^2)` for the products (one
``(H, K) @ (K, K)`` per epoch, ``H <= N + 1`` leader rows), plus one :math:`O(|W|^3)` solve per distinct waiting set
and epoch where states wait; OSLA :math:`O(N K^2)` plus one solve per epoch where it
waits. Memory :math:`O(N K)`. NumPy only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from coopt.dp.stopping import (
    COMPUTE,
    RULES,
    STOP,
    WAIT,
    StoppingSolution,
    checked_rules,
    choose_by_tie_order,
    tied_or_less,
)
from coopt.model.channel import Channel
from coopt.model.costs import CostModel


@dataclass(frozen=True, eq=False)
class MarkovPlacements:
    r"""One rule solved on a Markov channel for a set of horizons by :func:`solve_all_markov`.

    Attributes
    ----------
    rule : str
        ``"optimal"`` or ``"osla"``.
    mode : str
        ``wait.mode``.
    values : NDArray[np.float64]
        ``(N + 1,)``: the expected task cost :math:`J(M)` for the solved horizons,
        ``nan`` for the others.
    Y : NDArray[np.float64]
        ``(N + 1, K)``: the stop costs.
    channel : Channel
        The Markov channel.
    costs : CostModel
        The cost model (for :math:`c_w`).
    """

    rule: str
    mode: str
    values: NDArray[np.float64]
    Y: NDArray[np.float64]
    channel: Channel
    costs: CostModel

    def policy(self, horizon: int) -> StoppingSolution:
        """The full policy of placement ``horizon``, as the reference solver returns it
        (values ``(M+1, K)``, actions ``(M+1, K)``, no thresholds on a Markov channel);
        the sweep restricted to this horizon, recording every epoch."""
        n_layers = self.Y.shape[0] - 1
        if not 0 <= horizon <= n_layers:
            raise ValueError(f"horizon = {horizon}: must be in 0..{n_layers}")
        args = (self.channel, self.mode, float(self.costs.wait_cost), np.array([horizon]), True)
        if self.rule == "optimal":
            _, table = _sweep_optimal(self.Y[None], *args)
        else:
            _, table = _sweep_osla(self.Y, *args)
        assert table is not None
        values, actions = table
        return StoppingSolution(horizon, values, actions, None, float(self.channel.initial @ values[0]))


def solve_all_markov(
    Y: NDArray[np.float64],
    channel: Channel,
    mode: str,
    costs: CostModel,
    rules: Iterable[str] = RULES,
    placements: Iterable[int] | None = None,
    tick: Callable[[int, int], None] | None = None,
) -> dict[str, MarkovPlacements]:
    """Solve the placements ``placements`` (default ``0..N``) of a Markov channel, one sweep per rule.

    Parameters
    ----------
    Y : NDArray[np.float64]
        Stop costs :math:`Y_n(g_k)`, shape ``(N + 1, K)`` (any table: Lagrangian ones too).
    channel : Channel
        A Markov channel; transitions are read only through ``channel.step(n)`` and
        ``channel.wait_step()``.
    mode : str
        ``wait.mode``: ``"never"``, ``"last"`` or ``"any"``.
    costs : CostModel
        Supplies :math:`c_w` (``> 0`` unless ``mode = "never"``).
    rules : iterable of str
        Any of ``"optimal"``, ``"osla"``.
    placements : iterable of int, optional
        The horizons to solve; the sweep's work grows with their number.

    Returns
    -------
    dict
        ``{rule: MarkovPlacements}``.
    """
    Y = np.asarray(Y, dtype=np.float64)
    values = solve_all_markov_batch(Y[None], channel, mode, costs, rules, placements, tick)  # one variant
    return {rule: MarkovPlacements(rule, mode, v[0], Y, channel, costs) for rule, v in values.items()}


def solve_all_markov_batch(
    Y: NDArray[np.float64],
    channel: Channel,
    mode: str,
    costs: CostModel,
    rules: Iterable[str] = RULES,
    placements: Iterable[int] | None = None,
    tick: Callable[[int, int], None] | None = None,
) -> dict[str, NDArray[np.float64]]:
    r""":func:`solve_all_markov` for ``P`` variants of one device that share the channel
    and :math:`c_w` and differ in their stop costs (a fleet's share levels,
    :mod:`coopt.dp.batch`), in one sweep per rule.

    ``Y`` has shape ``(P, N + 1, K)``. The optimal rule's sweep stacks the horizons of every
    variant as the rows of one matrix: one product ``V @ P_n.T``, one batched waiting
    fixed point and one merge of equal rows (within a variant only) per epoch for all of
    them, so the Python-level loop over the epochs is paid once, not ``P`` times. Row ``p``
    of a result equals ``solve_all_markov(Y[p], ...)[rule].values`` to rounding (products
    over more rows and solves with more right-hand sides may sum in another order), with
    the same decisions up to ties. OSLA's forward pass is already :math:`O(N K^2)`: it runs
    per variant.

    Returns
    -------
    dict
        ``{rule: values}``, ``values`` of shape ``(P, N + 1)``, ``nan`` for the horizons
        not in ``placements``.
    """
    Y = np.asarray(Y, dtype=np.float64)
    if Y.ndim != 3:
        raise ValueError(f"Y has shape {Y.shape}; expected (P, N + 1, K)")
    rules, c_w, horizons = _checked(Y, channel, mode, costs, rules, placements)
    n_var, n_rows = Y.shape[0], Y.shape[1]
    out: dict[str, NDArray[np.float64]] = {}
    for rule in rules:
        values = np.full((n_var, n_rows), np.nan)
        if rule == "optimal":
            v0 = _sweep_optimal(Y, channel, mode, c_w, horizons, False, tick)[0] @ channel.initial
            values[:, horizons] = v0.reshape(n_var, horizons.size)
        else:
            for p in range(n_var):
                values[p, horizons] = _forward_osla(Y[p], channel, mode, c_w, horizons)
        out[rule] = values
    return out


def _checked(
    Y: NDArray[np.float64],
    channel: Channel,
    mode: str,
    costs: CostModel,
    rules: Iterable[str],
    placements: Iterable[int] | None,
) -> tuple[tuple[str, ...], float, NDArray[np.intp]]:
    """The checked rules, :math:`c_w` and sorted horizons of stop costs ``Y`` ``(P, N + 1, K)``."""
    if not channel.is_markov:
        raise ValueError("solve_all_markov needs a Markov channel; i.i.d. channels use coopt.dp.fast.solve_all")
    rules = checked_rules(rules, mode)
    n_layers, k = Y.shape[1] - 1, Y.shape[2]
    if channel.n_states != k:
        raise ValueError(f"Y has {k} columns; the channel has {channel.n_states} states")
    c_w = float(costs.wait_cost)
    if mode != "never" and n_layers > 0 and not c_w > 0:
        raise ValueError(f"wait cost c_w = {c_w}: must be > 0 when wait.mode = {mode!r}")
    horizons = np.unique(np.fromiter(range(n_layers + 1) if placements is None else placements, dtype=np.intp))
    if horizons.size and not (0 <= horizons[0] and horizons[-1] <= n_layers):
        raise ValueError(f"placements must be in 0..{n_layers}")
    return rules, c_w, horizons


def _step(channel: Channel, n: int) -> NDArray[np.float64]:
    """``channel.step(n)``, which a Markov channel always has."""
    P = channel.step(n)
    if P is None:
        raise ValueError(f"channel.step({n}) is None: not a Markov channel")
    return P


def _wait_step(channel: Channel) -> NDArray[np.float64]:
    """``channel.wait_step()``, which a Markov channel always has."""
    P = channel.wait_step()
    if P is None:
        raise ValueError("channel.wait_step() is None: not a Markov channel")
    return P


# ----------------------------------------------------------------------------- waiting


def wait_fixed_points(
    m: NDArray[np.float64],
    wait_step: NDArray[np.float64],
    c_w: float,
    start: NDArray[np.bool_] | None = None,
) -> tuple[NDArray[np.float64], NDArray[np.bool_], NDArray[np.float64]]:
    r"""Exact solutions of :math:`V = \min(m, c_w + P_w V)` for every row of ``m``.

    The policy iteration of :func:`coopt.dp.stopping.markov_wait_values`, run on all rows
    together: a row's waiting set becomes the states where ``m`` is not
    :func:`~coopt.dp.stopping.tied_or_less` than :math:`c_w + P_w V`, until it no longer
    changes. ``start`` (``(H, K)``, optional) is a proper waiting set per row to start
    from (e.g. an optimal one of another problem with the same :math:`P_w`); default: no
    state waits.

    Returns
    -------
    values, waiting, wait_values
        ``(H, K)`` each: the fixed point :math:`V`, its waiting set, and
        :math:`c_w + P_w V` (the value of waiting one slot).
    """
    h, k = m.shape
    waiting = np.zeros((h, k), dtype=bool) if start is None else start.copy()
    values = m.copy()
    wait_values = np.empty((h, k))
    rows = np.flatnonzero(waiting.any(axis=1))
    _solve_waiting(values, waiting, m, wait_step, c_w, rows)
    rows = np.arange(h)
    for _ in range(2 * k + 2):
        q = c_w + values[rows] @ wait_step.T
        wait_values[rows] = q
        new = _exceeds(m[rows], q)
        changed = (new != waiting[rows]).any(axis=1)
        if not changed.any():
            return values, waiting, wait_values
        rows = rows[changed]
        waiting[rows] = new[changed]
        values[rows] = m[rows]
        _solve_waiting(values, waiting, m, wait_step, c_w, rows)
    raise RuntimeError("policy iteration for the waiting values did not converge")  # pragma: no cover


def _exceeds(m: NDArray[np.float64], q: NDArray[np.float64]) -> NDArray[np.bool_]:
    """``~tied_or_less(m, q)``, testing the tie tolerance only where ``m > q`` (a superset)."""
    out = m > q
    if out.any():
        out[out] = ~tied_or_less(m[out], q[out])
    return out


def _solve_waiting(
    values: NDArray[np.float64],
    waiting: NDArray[np.bool_],
    m: NDArray[np.float64],
    wait_step: NDArray[np.float64],
    c_w: float,
    rows: NDArray[np.intp],
) -> None:
    """Values of the rows ``rows`` under their waiting sets, in place: per distinct set
    ``W``, ``(I - P_WW) V_W = c_w + P_WS m_S`` with one right-hand side per row."""
    rows = rows[waiting[rows].any(axis=1)]
    groups: dict[bytes, list[int]] = {}
    for r, key in zip(rows.tolist(), np.packbits(waiting[rows], axis=1)):
        groups.setdefault(key.tobytes(), []).append(r)
    for members in groups.values():
        w = waiting[members[0]]
        P_ws = wait_step[w]
        lhs = np.eye(P_ws.shape[0]) - P_ws[:, w]
        rhs = c_w + np.where(w, 0.0, m[members]) @ P_ws.T  # P_WS m_S
        values[np.ix_(members, w)] = np.linalg.solve(lhs, rhs.T).T


# ----------------------------------------------------------------------------- the sweeps

Table = tuple[NDArray[np.float64], NDArray[np.int8]]


def _sweep_optimal(
    Y: NDArray[np.float64],
    channel: Channel,
    mode: str,
    c_w: float,
    horizons: NDArray[np.intp],
    record: bool,
    tick: Callable[[int, int], None] | None = None,
) -> tuple[NDArray[np.float64], Table | None]:
    r"""Backward induction for all ``horizons`` (sorted) of ``P`` variants at once.

    ``Y`` is ``(P, N + 1, K)``; row ``p H + j`` of the sweep is horizon ``horizons[j]`` of
    variant ``p``. Returns :math:`V^{(M)}_0` per row, ``(P H, K)``, and with ``record``
    (one variant, one horizon) its values and actions."""
    n_var, n_layers, k = Y.shape[0], Y.shape[1] - 1, Y.shape[2]
    h = horizons.size
    V = np.empty((n_var * h, k))
    if h == 0:
        return V, None
    if record and n_var != 1:
        raise ValueError("record needs one variant")
    top = int(horizons[-1])
    inf = np.full(k, np.inf)
    P_w = _wait_step(channel) if mode != "never" else None
    # The last placed epoch M < N waits against Y_M alone (C = +inf): one fixed point per
    # such epoch and variant, shared by the horizons ending there, all solved together.
    ends = horizons[horizons < n_layers] if P_w is not None else horizons[:0]
    end_wait = np.full((n_var, top + 1, k), np.inf)
    end_set = np.zeros((n_var, top + 1, k), dtype=bool)
    if ends.size:
        assert P_w is not None
        _, found, wait = wait_fixed_points(Y[:, ends].reshape(-1, k), P_w, c_w)
        end_set[:, ends], end_wait[:, ends] = found.reshape(n_var, -1, k), wait.reshape(n_var, -1, k)
    waiting = np.zeros((n_var * h, k), dtype=bool)  # each row's waiting set at the epoch after
    # Rows of one variant whose values have become equal (bit for bit) follow one leader
    # row from then on: typically all M > n once stopping is best in every state at epoch n.
    leader = np.arange(n_var * h)
    variant = np.repeat(np.arange(n_var), h)
    offset = np.arange(n_var)[:, None] * h
    table = (np.empty((top + 1, k)), np.empty((top + 1, k), dtype=np.int8)) if record else None
    for n in range(top, -1, -1):
        first = int(np.searchsorted(horizons, n))
        inner = first + int(horizons[first] == n)  # rows inner.. of each variant have M > n
        y = Y[:, n]
        rows = (offset + np.arange(inner, h)).ravel()
        rows = rows[leader[rows] == rows]
        if rows.size:
            C = V[rows] @ _step(channel, n).T
            m = np.minimum(y[variant[rows]], C)
            Wv = None
            if mode == "any":
                assert P_w is not None
                # Rows that may wait: those that waited at the epoch after, and those not
                # below c_w + P_w L with L the column-wise minimum of m over the rows of
                # their variant. Since P_w m >= P_w L, the others stop or compute in every
                # state, without a product of their own.
                start = waiting[rows]
                may = np.arange(rows.size)
                if table is None:
                    below = c_w + _wait_lower_bound(m, variant[rows], P_w)
                    may = np.flatnonzero(start.any(axis=1) | (m > below).any(axis=1))
                    waiting[rows] = False
                if may.size:
                    _, waiting[rows[may]], Wv = wait_fixed_points(m[may], P_w, c_w, start[may])
                    m[may] = np.minimum(y[variant[rows[may]]], np.minimum(C[may], Wv))
            V[rows] = m
            if table is not None:
                table[0][n] = V[inner]
                table[1][n] = choose_by_tie_order(y[0], C[0], inf if Wv is None else Wv[0])
        if inner > first:  # the horizon M = n ends here: stop, or wait against Y_n alone
            ending = offset[:, 0] + first
            V[ending] = np.minimum(y, end_wait[:, n])
            waiting[ending] = end_set[:, n]
            if table is not None:
                table[0][n], table[1][n] = V[first], choose_by_tie_order(y[0], inf, end_wait[0, n])
        if table is None:
            leader = _merge_equal_rows(V, leader, (offset + np.arange(first, h)).ravel(), variant)
        if tick is not None:
            tick(1, top + 1)
    return V[leader], table


def _wait_lower_bound(
    m: NDArray[np.float64], variant: NDArray[np.intp], P_w: NDArray[np.float64]
) -> NDArray[np.float64]:
    """:math:`P_w L_p` for each row, with :math:`L_p` the column-wise minimum of ``m`` over
    the rows of its variant (``variant`` sorted); broadcastable against ``m``."""
    starts = np.flatnonzero(np.r_[True, variant[1:] != variant[:-1]])
    lowest = np.minimum.reduceat(m, starts, axis=0)
    if starts.size == 1:
        return P_w @ lowest[0]
    return (lowest @ P_w.T)[np.repeat(np.arange(starts.size), np.diff(starts, append=variant.size))]


def _merge_equal_rows(
    V: NDArray[np.float64], leader: NDArray[np.intp], candidates: NDArray[np.intp], variant: NDArray[np.intp]
) -> NDArray[np.intp]:
    """``leader`` with every leader row among ``candidates`` equal to an earlier one of its
    variant following it."""
    rows = candidates[leader[candidates] == candidates]
    seen: dict[tuple[int, bytes], int] = {}
    moved = [
        (i, seen.setdefault((v, row.tobytes()), i)) for i, v, row in zip(rows.tolist(), variant[rows].tolist(), V[rows])
    ]
    moved = [(i, j) for i, j in moved if i != j]
    if not moved:
        return leader
    remap = np.arange(leader.size)
    src, dst = zip(*moved)
    remap[list(src)] = dst
    return remap[leader]


def _osla_decisions(
    Y: NDArray[np.float64], channel: Channel, mode: str, c_w: float, top: int
) -> tuple[NDArray[np.int8], NDArray[np.int8]]:
    """OSLA's actions at epochs ``0..top``, ``(top + 1, K)`` each: at an interior epoch
    ``n < M`` and at the last placed epoch ``n = M``. The look-ahead values are the
    matrix-vector products :func:`coopt.dp.stopping.osla_policy` computes."""
    n_layers, k = Y.shape[0] - 1, Y.shape[1]
    P_w = _wait_step(channel) if mode != "never" else None
    look_c = np.full((top + 1, k), np.inf)
    look_w = np.full((top + 1, k), np.inf)
    for n in range(top + 1):
        if n < top:
            look_c[n] = _step(channel, n) @ Y[n + 1]
        if P_w is not None and n < n_layers:
            look_w[n] = c_w + P_w @ Y[n]
    never = np.full((top + 1, k), np.inf)
    interior = choose_by_tie_order(Y[: top + 1], look_c, look_w if mode == "any" else never)
    terminal = choose_by_tie_order(Y[: top + 1], never, look_w)
    return interior, terminal


def _forward_osla(
    Y: NDArray[np.float64], channel: Channel, mode: str, c_w: float, horizons: NDArray[np.intp]
) -> NDArray[np.float64]:
    r""":math:`J_{OSLA}(M)` for all ``horizons`` (sorted) by one forward pass.

    The interior decisions do not depend on :math:`M`, so neither does the law of the
    state on arrival at epoch ``n`` (not stopped before), :math:`a_n`, nor the expected
    cost :math:`c_n` paid at interior epoch ``n`` (stops and slots). With the visits
    ``v`` of epoch ``n`` (waiting states: :math:`v_W = a_W + v_W P_{w,WW}`,
    :math:`v_S = a_S + v_W P_{w,WS}`), :math:`a_{n+1} = v_{compute} P_n` and
    :math:`J(M) = \sum_{n<M} c_n + a_M \cdot V^{(M)}_M`, where the terminal values
    :math:`V^{(M)}_M` are those of the backward evaluation (:func:`_evaluate_epoch`).
    Cost :math:`O(N K^2)` instead of :math:`O(N^2 K^2)`.
    """
    k = Y.shape[1]
    J = np.empty(horizons.size)
    if horizons.size == 0:
        return J
    top = int(horizons[-1])
    interior, terminal = _osla_decisions(Y, channel, mode, c_w, top)
    P_w = _wait_step(channel) if mode != "never" else None
    arrive = np.asarray(channel.initial, dtype=np.float64)
    paid = 0.0
    zeros = np.zeros((1, k))
    stop_cost = np.where(interior == STOP, Y[: top + 1], 0.0)
    stop_cost[interior == WAIT] = c_w
    goes_on = (interior == COMPUTE).astype(np.float64)
    ends = np.zeros(top + 1, dtype=bool)
    ends[horizons] = True
    j = 0
    for n in range(top + 1):
        if ends[n]:
            J[j] = paid + float(arrive @ _evaluate_epoch(terminal[n], Y[n], zeros.copy(), P_w, c_w)[0])
            j += 1
        if n == top:
            break
        visits = arrive
        w = interior[n] == WAIT
        if w.any():
            assert P_w is not None
            visits = arrive.copy()
            visits[w] = np.linalg.solve(np.eye(int(w.sum())) - P_w[np.ix_(w, w)].T, arrive[w])
            visits[~w] += visits[w] @ P_w[np.ix_(w, ~w)]
        paid += float(visits @ stop_cost[n])
        arrive = (visits * goes_on[n]) @ _step(channel, n)
    return J


def _sweep_osla(
    Y: NDArray[np.float64], channel: Channel, mode: str, c_w: float, horizons: NDArray[np.intp], record: bool
) -> tuple[NDArray[np.float64], Table | None]:
    r"""The OSLA rule's exact values for all ``horizons`` (sorted) at once, backwards;
    returns :math:`V^{(M)}_0` per horizon, ``(H, K)``, and with ``record`` its values and
    actions (:meth:`MarkovPlacements.policy`; :func:`_forward_osla` gives :math:`J` alone)."""
    h, k = horizons.size, Y.shape[1]
    V = np.empty((h, k))
    if h == 0:
        return V, None
    top = int(horizons[-1])
    P_w = _wait_step(channel) if mode != "never" else None
    interior, terminal = _osla_decisions(Y, channel, mode, c_w, top)
    table = (np.empty((top + 1, k)), np.empty((top + 1, k), dtype=np.int8)) if record else None
    for n in range(top, -1, -1):
        first = int(np.searchsorted(horizons, n))
        inner = first + int(horizons[first] == n)
        if inner < h:
            V[inner:] = _evaluate_epoch(interior[n], Y[n], V[inner:] @ _step(channel, n).T, P_w, c_w)
            if table is not None:
                table[0][n], table[1][n] = V[inner], interior[n]
        if inner > first:
            V[first] = _evaluate_epoch(terminal[n], Y[n], np.zeros((1, k)), P_w, c_w)[0]
            if table is not None:
                table[0][n], table[1][n] = V[first], terminal[n]
    return V, table


def _evaluate_epoch(
    actions: NDArray[np.int8],
    y: NDArray[np.float64],
    C: NDArray[np.float64],
    P_w: NDArray[np.float64] | None,
    c_w: float,
) -> NDArray[np.float64]:
    """Values ``(H, K)`` of one epoch under ``actions`` (the same for every row), given
    the continuation values ``C`` ``(H, K)`` (overwritten): stop ``y``, compute ``C``,
    and the waiting states ``W`` from ``(I - P_WW) v_W = c_w + P_WS v_S``."""
    out = C
    stop, w = actions == STOP, actions == WAIT
    out[:, stop] = y[stop]
    if w.any():
        assert P_w is not None
        s = ~w
        lhs = np.eye(int(w.sum())) - P_w[np.ix_(w, w)]
        rhs = c_w + out[:, s] @ P_w[np.ix_(w, s)].T
        out[:, w] = np.linalg.solve(lhs, rhs.T).T
    return out
