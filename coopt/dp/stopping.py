r"""Online splitting for a fixed placement :math:`M`: exact optimal stopping.

Epochs :math:`n = 0..M`; at epoch :math:`n` layers :math:`1..n` are done and the
device sees the state :math:`k` of a finite channel (gain :math:`g_k`). Actions
(docs/model.md section 4): **stop** (cost :math:`Y_n(g_k)`), **compute** (only if
:math:`n < M`), **wait** one slot at cost :math:`c_w` for a fresh state at the same
epoch (where ``wait.mode`` allows it).

Optimal rule, exact backward induction (i.i.d. channel with probabilities :math:`p`)::

    C_n    = p . V_{n+1}                              (n < M; C_M = +inf)
    Wbar_n = E[min(Y_n(h), C_n, c_w + Wbar_n)]        where waiting is allowed
    G_n    = min(C_n, c_w + Wbar_n)   (or C_n)
    V_n(g) = min(Y_n(g), G_n)

The waiting fixed point is solved exactly: with :math:`m = \min(Y_n, C_n)` sorted
increasingly, :math:`\bar W = \min_j (\sum_{i\le j} p_i m_i + c_w \sum_{i>j} p_i)
/ \sum_{i\le j} p_i` (each term is the root of a linear minorant of the concave map
whose root is :math:`\bar W`; the minimising prefix is the set of states that do
not wait). For a Markov channel the same recursion holds per state,
:math:`C_n = P_n V_{n+1}`, and the waiting values solve
:math:`V = \min(m, c_w + P_w V)`, found exactly by policy iteration from "never wait"
(each step a linear solve on the waiting states). :math:`P_n` (epoch ``n`` to ``n + 1``)
and :math:`P_w` (one slot) come from :meth:`Channel.step` and :meth:`Channel.wait_step`:
the same matrix for a homogeneous chain, per-epoch matrices for time-correlated fading
(docs/model.md section 10.4).

The one-stage look-ahead rule (OSLA) compares :math:`Y_n(g)` with
:math:`L^c_n = E[Y_{n+1}]` and :math:`L^w_n = c_w + E[Y_n]` and is then evaluated
exactly as a fixed policy (:func:`evaluate_policy`).

Ties: stop, then compute, then wait; two values within a relative ``TIE_RTOL`` of
each other are tied. Arrays: ``values (M+1, K)``, ``actions (M+1, K)`` with codes
:data:`STOP`, :data:`COMPUTE`, :data:`WAIT`, ``thresholds (M+1,)``. This module uses
NumPy only.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from coopt.model.channel import Channel
from coopt.model.costs import CostModel, wait_allowed
from coopt.model.problem import Problem
from coopt.model.vocabulary import Rule, WaitMode

STOP, COMPUTE, WAIT = 0, 1, 2
ACTION_NAMES = ("stop", "compute", "wait")
RULES = tuple(Rule)
WAIT_MODES = tuple(WaitMode)
TIE_RTOL = 1e-12


def checked_rules(rules: Iterable[str], mode: str) -> tuple[str, ...]:
    """``rules`` without repeats, after checking each is one of :data:`RULES` and ``mode``
    one of :data:`WAIT_MODES` (a ``ValueError`` naming the value otherwise)."""
    rules = tuple(dict.fromkeys(rules))
    if not rules or any(r not in RULES for r in rules):
        raise ValueError(f"rules = {rules!r}: each must be one of {', '.join(RULES)}")
    if mode not in WAIT_MODES:
        raise ValueError(f"mode = {mode!r}: must be one of {', '.join(WAIT_MODES)}")
    return rules


def tied_or_less(x: NDArray[np.float64] | float, y: NDArray[np.float64] | float) -> NDArray[np.bool_]:
    """``x <= y`` where values within a relative ``TIE_RTOL`` count as equal (docs/model.md ties)."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        slack = TIE_RTOL * np.maximum(np.abs(x), np.abs(y))
        finite = np.isfinite(x) & np.isfinite(y)
        return np.where(finite, x <= y + slack, x <= y)


@dataclass(frozen=True, eq=False)
class StoppingSolution:
    r"""A splitting policy for one placement and its exact expected cost.

    Attributes
    ----------
    horizon : int
        The placement :math:`M`.
    values : NDArray[np.float64]
        ``(M + 1, K)``: :math:`V_n(g_k)`, the expected total task cost from epoch ``n``
        in state ``k`` under this policy.
    actions : NDArray[np.int8]
        ``(M + 1, K)``: :data:`STOP`, :data:`COMPUTE` or :data:`WAIT`.
    thresholds : NDArray[np.float64] or None
        ``(M + 1,)``: the gain :math:`\theta_n` above which the rule stops (``inf``:
        never; ``0``: always). ``None`` for a Markov channel, whose rule is the table.
    value : float
        Expected task cost :math:`J(M) = \sum_k \mathrm{initial}_k V_0(g_k)`.
    """

    horizon: int
    values: NDArray[np.float64]
    actions: NDArray[np.int8]
    thresholds: NDArray[np.float64] | None
    value: float


def iid_wait_fixed_point(m: NDArray[np.float64], p: NDArray[np.float64], c_w: float) -> float:
    """Exact root :math:`\\bar W` of :math:`\\bar W = E[\\min(m(h), c_w + \\bar W)]`, for ``c_w > 0``."""
    order = np.argsort(m, kind="stable")
    ms, ps = m[order], p[order]
    p_in = np.cumsum(ps)
    p_out = np.concatenate([np.cumsum(ps[::-1])[::-1][1:], [0.0]])
    s_in = np.cumsum(ps * ms)
    ok = p_in > 0
    return float(np.min((s_in[ok] + c_w * p_out[ok]) / p_in[ok]))


def markov_wait_values(m: NDArray[np.float64], transition: NDArray[np.float64], c_w: float) -> NDArray[np.float64]:
    """Exact solution of :math:`V = \\min(m, c_w + P V)` by policy iteration.

    Starts from "never wait" (a proper policy) and switches states to waiting only
    where that is better beyond the tie tolerance, so it ends at the optimal policy
    with docs/model.md's tie-breaking; each step solves ``(I - P_WW) V_W = c_w + P_WS m_S``.
    """
    k = m.shape[0]
    waiting = np.zeros(k, dtype=bool)
    values = m.copy()
    for _ in range(2 * k + 2):
        q = c_w + transition @ values
        new = ~tied_or_less(m, q)
        if np.array_equal(new, waiting):
            return values
        waiting = new
        values = m.copy()
        if waiting.any():
            w, s = waiting, ~waiting
            lhs = np.eye(int(w.sum())) - transition[np.ix_(w, w)]
            rhs = c_w + transition[np.ix_(w, s)] @ m[s]
            values[w] = np.linalg.solve(lhs, rhs)
    raise RuntimeError("policy iteration for the waiting values did not converge")  # pragma: no cover


def thresholds_from(G: NDArray[np.float64], costs: CostModel, forced: NDArray[np.bool_]) -> NDArray[np.float64]:
    r"""Stopping thresholds :math:`\theta_n` (docs/model.md section 4) for continuation values ``G``.

    :math:`\theta_n = (2^{(w_E P + w_T) d_n / (B (G_n - A_n - R_n - O_n))} - 1)/\rho` when
    :math:`G_n > A_n + R_n + O_n`, :math:`+\infty` otherwise, and 0 where stopping is forced
    (:math:`O_n` the per-upload overhead of docs/model.md section 10.3).
    """
    n = G.shape[0]
    base = costs.stop_base[:n]
    coef = costs.upload_coef[:n]
    theta = np.full(n, np.inf)
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        margin = G - base
        live = margin > 0
        theta[live] = np.expm1(np.log(2.0) * coef[live] / (costs.bandwidth_hz * margin[live])) / costs.rho
    theta[forced] = 0.0
    return theta


def _forced(horizon: int, allowed: NDArray[np.bool_]) -> NDArray[np.bool_]:
    forced = np.zeros(horizon + 1, dtype=bool)
    forced[horizon] = not allowed[horizon]
    return forced


def choose_by_tie_order(Y: NDArray[np.float64], C: NDArray[np.float64], Wv: NDArray[np.float64]) -> NDArray[np.int8]:
    """docs/model.md's tie order: stop if ``Y <= min(C, Wv)``, else compute if ``C <= Wv``, else wait.

    ``C`` and ``Wv`` are the values (or look-ahead values) of computing and of waiting,
    ``+inf`` where the action is not allowed.
    """
    G = np.minimum(C, Wv)
    return np.where(tied_or_less(Y, G), STOP, np.where(tied_or_less(C, Wv), COMPUTE, WAIT)).astype(np.int8)


def next_state_mean(channel: Channel, v: NDArray[np.float64], n: int | None) -> NDArray[np.float64]:
    """:math:`E[v(h')]` given the state seen now, shape ``(K,)``: ``P_n @ v`` after the step
    from epoch ``n`` to ``n + 1``, or ``P_w @ v`` after one waiting slot (``n = None``), for a
    Markov channel; ``p @ v`` in every state for an i.i.d. one."""
    if channel.is_markov:
        P = channel.wait_step() if n is None else channel.step(n)
        return P @ v  # type: ignore[operator]  # a chain's step is a matrix
    return np.full(v.shape[0], channel.probs @ v)


def backward_induction(
    Y: NDArray[np.float64], channel: Channel, horizon: int, mode: str, costs: CostModel
) -> StoppingSolution:
    """The optimal splitting policy for placement ``horizon`` (docs/model.md section 4).

    Parameters
    ----------
    Y : NDArray[np.float64]
        Stop costs :math:`Y_n(g_k)`, shape ``(N + 1, K)`` (:meth:`CostModel.stop_cost`).
    channel : Channel
        The finite channel (i.i.d. or Markov).
    horizon : int
        The placement :math:`M`, ``0 <= M <= N``.
    mode : str
        ``wait.mode``: ``"never"``, ``"last"`` or ``"any"``.
    costs : CostModel
        Supplies :math:`c_w` and the threshold formula's terms.
    """
    n_layers = Y.shape[0] - 1
    k = Y.shape[1]
    allowed = wait_allowed(mode, horizon, n_layers)
    c_w = costs.wait_cost
    values = np.empty((horizon + 1, k))
    actions = np.empty((horizon + 1, k), dtype=np.int8)
    G_scalar = np.empty(horizon + 1)
    markov = channel.is_markov
    p = channel.probs
    for n in range(horizon, -1, -1):
        y = Y[n]
        if n < horizon:
            C = next_state_mean(channel, values[n + 1], n)
        else:
            C = np.full(k, np.inf)
        m = np.minimum(y, C)
        if allowed[n]:
            if not markov:
                Wv = np.full(k, c_w + iid_wait_fixed_point(m, p, c_w))
            else:
                Pw = channel.wait_step()
                Wv = c_w + Pw @ markov_wait_values(m, Pw, c_w)  # type: ignore[operator,arg-type]
        else:
            Wv = np.full(k, np.inf)
        G = np.minimum(C, Wv)
        values[n] = np.minimum(y, G)
        actions[n] = choose_by_tie_order(y, C, Wv)
        G_scalar[n] = G[0]
    thresholds = None if markov else thresholds_from(G_scalar, costs, _forced(horizon, allowed))
    return StoppingSolution(horizon, values, actions, thresholds, float(channel.initial @ values[0]))


def osla_policy(
    Y: NDArray[np.float64], channel: Channel, horizon: int, mode: str, costs: CostModel
) -> StoppingSolution:
    """The one-stage look-ahead rule for placement ``horizon``, evaluated exactly.

    Stops at ``(n, k)`` iff :math:`Y_n(g_k) \\le \\min(L^c_n, L^w_n)` with
    :math:`L^c_n = E[Y_{n+1}]` (``n < M``) and :math:`L^w_n = c_w + E[Y_n]` (where
    waiting is allowed); otherwise takes the continuation with the smaller look-ahead
    value (ties: compute). Expectations are over the row of the current state for a
    Markov channel (:math:`L^c_n = P_n Y_{n+1}`, :math:`L^w_n = c_w + P_w Y_n`). The
    returned ``values`` are the exact values of this policy.
    """
    actions, thresholds = lookahead_policy(Y, Y, channel, horizon, mode, costs)
    values = evaluate_policy(actions, Y, channel, costs.wait_cost)
    return StoppingSolution(horizon, values, actions, thresholds, float(channel.initial @ values[0]))


def lookahead_policy(
    Y: NDArray[np.float64],
    ahead: NDArray[np.float64],
    channel: Channel,
    horizon: int,
    mode: str,
    costs: CostModel,
) -> tuple[NDArray[np.int8], NDArray[np.float64] | None]:
    r"""Decisions by the tie order against values one step ahead, and their thresholds.

    With :math:`C_n = E[\text{ahead}_{n+1}]` (``+inf`` at ``horizon``) and
    :math:`c_w + E[\text{ahead}_n]` where waiting is allowed (``+inf`` elsewhere), the
    decision at :math:`(n, k)` is :func:`choose_by_tie_order` of :math:`Y_n(g_k)`
    against them; thresholds (i.i.d. channels only, else ``None``) follow from their
    minimum. ``ahead = Y`` is the OSLA rule; the optimal values :math:`V` give the
    optimal rule's canonical decisions (how the MIP reads its policy).
    """
    k = Y.shape[1]
    allowed = wait_allowed(mode, horizon, Y.shape[0] - 1)
    actions = np.empty((horizon + 1, k), dtype=np.int8)
    G = np.empty(horizon + 1)
    for n in range(horizon + 1):
        C = next_state_mean(channel, ahead[n + 1], n) if n < horizon else np.full(k, np.inf)
        Wv = costs.wait_cost + next_state_mean(channel, ahead[n], None) if allowed[n] else np.full(k, np.inf)
        actions[n] = choose_by_tie_order(Y[n], C, Wv)
        G[n] = min(C[0], Wv[0])
    thresholds = None if channel.is_markov else thresholds_from(G, costs, _forced(horizon, allowed))
    return actions, thresholds


def evaluate_policy(
    actions: NDArray[np.int8], Y: NDArray[np.float64], channel: Channel, c_w: float
) -> NDArray[np.float64]:
    """Exact values ``(M + 1, K)`` of a deterministic policy given by its ``actions`` table.

    The deterministic case of :func:`evaluate_randomised_policy`.
    """
    return evaluate_randomised_policy(np.eye(3)[actions], Y, channel, c_w)


def evaluate_randomised_policy(
    probs: NDArray[np.float64], Y: NDArray[np.float64], channel: Channel, c_w: float
) -> NDArray[np.float64]:
    r"""Exact values ``(M + 1, K)`` of a (possibly randomised) policy.

    ``probs[n, k, a]`` is the probability of action ``a`` (:data:`STOP`,
    :data:`COMPUTE`, :data:`WAIT`) at epoch ``n`` in state ``k``, shape
    ``(M + 1, K, 3)``, rows summing to 1 (no compute at ``n = M``); ``Y`` holds the
    one-time cost of stopping (shape at least ``(M + 1, K)``) and ``c_w`` the cost of a
    slot. Passing latency or energy parts as ``Y`` and ``c_w`` gives the policy's
    expected latency or energy.

    Backward over epochs. With :math:`b = \pi_S Y_n + \pi_C C_n` and
    :math:`C_n = E[V_{n+1}]`, the values of one epoch solve
    :math:`v = b + \pi_W (c_w + P v)` (i.i.d.: a scalar equation in :math:`p \cdot v`).
    Where the policy can wait forever with positive probability the values are
    ``+inf``, found by reachability rather than from a near-singular solve (which may
    return huge finite numbers): the *trapped* states are the largest set that waits
    with probability 1 and moves only within itself; every state that reaches them by
    waiting, or waits towards an infinite value, is infinite too.
    """
    horizon, k = probs.shape[0] - 1, probs.shape[1]
    markov = channel.is_markov
    p = channel.probs
    values = np.empty((horizon + 1, k))
    for n in range(horizon, -1, -1):
        ps, pc, pw = probs[n, :, STOP], probs[n, :, COMPUTE], probs[n, :, WAIT]
        if n < horizon:
            if markov:
                C = _expect_rows(channel.step(n), values[n + 1])  # type: ignore[arg-type]
            else:
                C = np.full(k, _mean(p, values[n + 1]))
        else:
            C = np.zeros(k)
        with np.errstate(invalid="ignore"):  # 0 * inf: an action never taken costs nothing
            b = np.where(ps > 0, ps * Y[n], 0.0) + np.where(pc > 0, pc * C, 0.0)
        waits = pw > 0
        if not waits.any():
            values[n] = b
            continue
        if not markov:
            stay = float(p @ pw)
            W = np.inf if stay >= 1.0 else (_mean(p, b) + c_w * stay) / (1.0 - stay)
            with np.errstate(invalid="ignore"):
                values[n] = b + np.where(waits, pw * (c_w + W), 0.0)
            continue
        P: NDArray[np.float64] = channel.wait_step()  # type: ignore[assignment]
        infinite = ~np.isfinite(b) | _trapped(pw, P)
        while True:  # close under "waits with positive probability towards an infinite state"
            grow = waits & ~infinite & (P[:, infinite] > 0).any(axis=1)
            if not grow.any():
                break
            infinite |= grow
        v = np.full(k, np.inf)
        ok = ~infinite
        if ok.any():
            lhs = np.eye(int(ok.sum())) - pw[ok, None] * P[np.ix_(ok, ok)]
            v[ok] = np.linalg.solve(lhs, b[ok] + np.where(waits[ok], pw[ok] * c_w, 0.0))
        values[n] = v
    return values


def _mean(p: NDArray[np.float64], v: NDArray[np.float64]) -> float:
    """``p @ v`` where zero-probability states do not count (even with infinite ``v``)."""
    with np.errstate(invalid="ignore"):
        return float(np.sum(np.where(p > 0, p * v, 0.0)))


def _expect_rows(P: NDArray[np.float64], v: NDArray[np.float64]) -> NDArray[np.float64]:
    """``P @ v`` per row, ``+inf`` where a row reaches an infinite entry with positive probability."""
    inf = np.isinf(v)
    if not inf.any():
        return P @ v
    return np.where((P[:, inf] > 0).any(axis=1), np.inf, P[:, ~inf] @ v[~inf])


def _trapped(pw: NDArray[np.float64], P: NDArray[np.float64]) -> NDArray[np.bool_]:
    """The largest set of states that wait with probability 1 and move only within it."""
    trapped = pw >= 1.0
    while True:
        leaves = trapped & (P[:, ~trapped] > 0).any(axis=1)
        if not leaves.any():
            return trapped
        trapped &= ~leaves


@dataclass(frozen=True, eq=False)
class Occupation:
    """Expected visits of a policy: ``visits[n, k, a]`` is the expected number of
    times action ``a`` is taken in state ``k`` at epoch ``n``; shape ``(M + 1, K, 3)``."""

    visits: NDArray[np.float64]

    @property
    def stop_prob(self) -> NDArray[np.float64]:
        """Probability of uploading (or finishing) at each epoch, shape ``(M + 1,)``."""
        return self.visits[:, :, STOP].sum(axis=1)

    @property
    def mean_wait_slots(self) -> float:
        return float(self.visits[:, :, WAIT].sum())


def occupation(actions: NDArray[np.int8], channel: Channel) -> Occupation:
    """Forward computation of the occupation measure of a deterministic policy.

    Independent of the value recursion, so expected costs computed from it check
    :func:`backward_induction` and :func:`evaluate_policy`.
    """
    horizon, k = actions.shape[0] - 1, actions.shape[1]
    markov = channel.is_markov
    p = channel.probs
    visits = np.zeros((horizon + 1, k, 3))
    arrive = channel.initial.copy()
    for n in range(horizon + 1):
        w = actions[n] == WAIT
        if not w.any():
            v = arrive
        elif not markov:
            p_w = p[w].sum()
            total_wait = arrive[w].sum() / (1.0 - p_w) if p_w < 1 else np.inf
            v = arrive + total_wait * p
        else:
            v = np.linalg.solve((np.eye(k) - w[:, None] * channel.wait_step()).T, arrive)
        for a in (STOP, COMPUTE, WAIT):
            visits[n, :, a] = np.where(actions[n] == a, v, 0.0)
        if n < horizon:
            leave = visits[n, :, COMPUTE]
            arrive = leave @ channel.step(n) if markov else leave.sum() * p
    return Occupation(visits)


def policy_at(problem: Problem, horizon: int, rule: str) -> StoppingSolution:
    """The splitting policy of ``rule`` (``"optimal"``: :func:`backward_induction`,
    ``"osla"``: :func:`osla_policy`) at placement ``horizon`` of a prepared problem.

    The entry point for callers that hold a :class:`~coopt.model.problem.Problem`; the two
    array-level functions stay as the oracles the tests call."""
    solver = osla_policy if checked_rules((rule,), problem.instance.wait.mode) == (Rule.OSLA,) else backward_induction
    return solver(problem.Y, problem.channel, horizon, problem.instance.wait.mode, problem.costs)
