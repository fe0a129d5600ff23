r"""The exact distribution of one task's latency and device energy under a policy.

A policy on the finite channel (an action table ``(M + 1, K)``, or the probabilities
``(M + 1, K, 3)`` of a randomised one) ends a task at a random epoch :math:`n` in a random
state :math:`k` after a random number :math:`w` of waiting slots (all epochs together).
Given :math:`(n, k, w)` both physical totals are fixed (docs/model.md section 7, the parts of
:func:`coopt.dp.results.breakdown`):

.. math::

    \ell = t^{loc}_n + t^{edge}_n + o_s + d_n / r(g_k) + w\,\tau, \qquad
    \epsilon = e^{loc}_n + o_J + P\,d_n / r(g_k) + w\,P_{idle}\,\tau

(no upload and no overhead at :math:`n = N`). So the law of :math:`(\ell, \epsilon)` is the
discrete law of :math:`(n, k, w)`, which :func:`task_law` computes forward, epoch by epoch:
the mass arriving at epoch :math:`n` is kept per state and per number of slots waited so
far; within the epoch the mass with :math:`w` slots stops, computes on, or waits one slot
(one redraw: a fresh draw, or one step of :math:`P_w`) and joins the mass with
:math:`w + 1` slots. Waiting is geometric, so :math:`w` is unbounded: the computation keeps
:math:`w \le W` and drops the mass that would wait a :math:`(W + 1)`-th slot, doubling
:math:`W` until the dropped mass is at most ``tol`` (or :data:`MAX_WAITS` is reached). The
dropped mass is :attr:`TaskLaw.truncated_mass`, reported: every probability computed from
the law is exact up to it (a CDF is low by at most that much, the probability of missing a
deadline too).

Forward, from the action table alone: independent of the value recursion, so its mean
checks :func:`~coopt.dp.stopping.evaluate_policy` and the :class:`~coopt.dp.results.Breakdown`
of :func:`coopt.solve`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from coopt.dp.stopping import COMPUTE, STOP, WAIT
from coopt.errors import InstanceError
from coopt.model.channel import Channel
from coopt.model.costs import CostModel

TRUNCATION_TOL = 1e-12
"""Default bound on the probability mass dropped by truncating the number of waits."""
MAX_WAITS = 1 << 14
"""The largest number of waiting slots :func:`task_law` keeps (its ``W`` doubles up to this)."""
FIRST_WAITS = 64


@dataclass(frozen=True, eq=False)
class TaskLaw:
    """The discrete law of one task's outcome (atoms of positive probability).

    Attributes
    ----------
    epoch, state, waits : NDArray[np.int64]
        ``(A,)``: the stop epoch :math:`n`, the state :math:`k` at the stop, the slots waited :math:`w`.
    prob : NDArray[np.float64]
        ``(A,)``: the probability of each atom; they add up to ``1 - truncated_mass``.
    latency_s, energy_j : NDArray[np.float64]
        ``(A,)``: the task's latency (s) and device energy (J) at each atom (download excluded).
    truncated_mass : float
        Probability of waiting more than ``max_waits`` slots, left out of the atoms.
    max_waits : int
        :math:`W`, the largest number of slots kept.
    """

    epoch: NDArray[np.int64]
    state: NDArray[np.int64]
    waits: NDArray[np.int64]
    prob: NDArray[np.float64]
    latency_s: NDArray[np.float64]
    energy_j: NDArray[np.float64]
    truncated_mass: float
    max_waits: int

    def values(self, quantity: str) -> NDArray[np.float64]:
        """``latency_s`` or ``energy_j``."""
        if quantity not in ("latency_s", "energy_j"):
            raise InstanceError(f"quantity = {quantity!r}: must be latency_s | energy_j")
        return self.latency_s if quantity == "latency_s" else self.energy_j

    def mean(self, quantity: str) -> float:
        """:math:`E[\\ell]` or :math:`E[\\epsilon]` over the atoms kept."""
        return float(self.prob @ self.values(quantity))

    def cdf(self, quantity: str) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """``(x, F)``: the distinct values, increasing, and :math:`P(X \\le x)` at each
        (shape ``(V,)`` each; ``F[-1] = 1 - truncated_mass``)."""
        v = self.values(quantity)
        order = np.argsort(v, kind="stable")
        xs, first = np.unique(v[order], return_index=True)
        mass = np.add.reduceat(self.prob[order], first)
        return xs, np.minimum(np.cumsum(mass), 1.0)

    def tail(self, quantity: str) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """``(x, S)``: the distinct values, increasing, and :math:`P(X > x)` at each, the
        truncated mass included (an upper bound, exact up to it). Summed from the top, so
        that a small tail keeps its digits (``1 - F`` would lose them)."""
        v = self.values(quantity)
        order = np.argsort(v, kind="stable")
        xs, first = np.unique(v[order], return_index=True)
        mass = np.add.reduceat(self.prob[order], first)
        above = np.concatenate([np.cumsum(mass[::-1])[::-1][1:], [0.0]])
        return xs, np.minimum(above + self.truncated_mass, 1.0)

    def quantile(self, quantity: str, q: float) -> float:
        """The smallest value :math:`x` with :math:`P(X \\le x) \\ge q` (``q`` in (0, 1])."""
        if not 0.0 < q <= 1.0:
            raise InstanceError(f"quantile = {q!r}: must be in (0, 1]")
        xs, F = self.cdf(quantity)
        i = int(np.searchsorted(F, q * (1.0 - 1e-15), side="left"))
        if i >= xs.shape[0]:
            raise InstanceError(
                f"quantile {q:g}: beyond the {1.0 - self.truncated_mass:.3g} of mass kept ({self.max_waits} waits)"
            )
        return float(xs[i])

    def exceed(self, quantity: str, limit: float) -> float:
        """:math:`P(X > \\mathrm{limit})` over the atoms kept, plus the truncated mass
        (every truncated atom waited more than ``max_waits`` slots): an upper bound, exact
        up to ``truncated_mass``."""
        v = self.values(quantity)
        return min(1.0, float(self.prob[v > limit].sum()) + self.truncated_mass)


def stop_outcomes(costs: CostModel, channel: Channel, horizon: int) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """``(latency, energy)`` of stopping at epoch ``n`` in state ``k`` without waiting,
    shape ``(horizon + 1, K)`` each (``inf`` where the rate is 0: a state the policy must
    not stop in)."""
    with np.errstate(divide="ignore"):
        up_t = costs.upload_time_s(channel.gains)[: horizon + 1]
        up_e = costs.upload_energy_j(channel.gains)[: horizon + 1]
    n = slice(0, horizon + 1)
    latency = (costs.local_time_s[n] + costs.edge_time_s[n])[:, None] + up_t
    energy = costs.local_energy_j[n][:, None] + up_e
    return latency, energy


def task_law(
    policy: NDArray[np.int8] | NDArray[np.float64],
    channel: Channel,
    costs: CostModel,
    tol: float = TRUNCATION_TOL,
    max_waits: int = MAX_WAITS,
) -> TaskLaw:
    """The exact law of a task's (epoch, state, waits) and its latency and energy (module docstring).

    ``policy`` is an action table ``(M + 1, K)`` (:data:`STOP`, :data:`COMPUTE`,
    :data:`WAIT`) or action probabilities ``(M + 1, K, 3)``.
    """
    probs = np.eye(3)[policy] if policy.ndim == 2 else np.asarray(policy, dtype=np.float64)
    if probs.ndim != 3 or probs.shape[1] != channel.n_states or probs.shape[2] != 3:
        raise InstanceError(f"policy: shape {policy.shape} is not (M + 1, {channel.n_states}) or (M + 1, K, 3)")
    W = min(FIRST_WAITS, max_waits)
    while True:
        law = _law(probs, channel, costs, W)
        if law.truncated_mass <= tol or W >= max_waits:
            return law
        W = min(2 * W, max_waits)


def _law(probs: NDArray[np.float64], channel: Channel, costs: CostModel, W: int) -> TaskLaw:
    horizon, k = probs.shape[0] - 1, probs.shape[1]
    markov = channel.is_markov
    p = channel.probs
    arrive = np.zeros((k, W + 1))
    arrive[:, 0] = channel.initial
    truncated = 0.0
    parts: list[tuple[int, NDArray[np.float64]]] = []  # (epoch, stop mass (K, W + 1))
    for n in range(horizon + 1):
        ps, pc, pw = probs[n, :, STOP], probs[n, :, COMPUTE], probs[n, :, WAIT]
        if not (pw > 0).any():
            cur = arrive
        else:  # level by level: the mass waiting with w slots joins level w + 1
            cur = arrive.copy()
            P = channel.wait_step() if markov else None
            for w in range(W + 1):
                waiting = cur[:, w] * pw
                total = float(waiting.sum())
                if total == 0.0:
                    continue
                if w == W:
                    truncated += total
                    break
                cur[:, w + 1] += waiting @ P if P is not None else total * p
        parts.append((n, cur * ps[:, None]))
        if n < horizon:
            leave = cur * pc[:, None]
            arrive = (channel.step(n).T @ leave) if markov else np.outer(p, leave.sum(axis=0))  # type: ignore[union-attr]
    base_t, base_e = stop_outcomes(costs, channel, horizon)
    slot = costs.slot_s if math.isfinite(costs.slot_s) else 0.0
    epoch, state, waits, prob = [], [], [], []
    for n, mass in parts:
        ks, ws = np.nonzero(mass > 0.0)
        epoch.append(np.full(ks.shape[0], n, dtype=np.int64))
        state.append(ks.astype(np.int64))
        waits.append(ws.astype(np.int64))
        prob.append(mass[ks, ws])
    e: NDArray[np.int64] = np.concatenate(epoch)
    s: NDArray[np.int64] = np.concatenate(state)
    w_: NDArray[np.int64] = np.concatenate(waits)
    pr: NDArray[np.float64] = np.concatenate(prob)
    latency = base_t[e, s] + slot * w_
    energy = base_e[e, s] + costs.idle_power_w * slot * w_
    return TaskLaw(e, s, w_, pr, latency, energy, truncated, W)


__all__ = ["MAX_WAITS", "TRUNCATION_TOL", "TaskLaw", "stop_outcomes", "task_law"]
