"""Brute force over policies: every deterministic policy of a small chain, valued by one linear solve each (tests/dp, tests/mip)."""

from __future__ import annotations

import itertools

import numpy as np

from coopt.dp.stopping import COMPUTE, STOP, WAIT
from coopt.model.costs import wait_allowed


def independent_values(actions_batch, Y, channel, c_w):
    """Expected task cost of many deterministic policies at once, from the whole chain.

    States are (n, k); the policy's transient matrix Q (built from the channel's matrices
    of each epoch step and of a waiting slot, so time-inhomogeneous chains are covered)
    and one-visit cost r give
    v = (I - Q)^{-1} r. Written without coopt.dp.stopping, so it checks it. Where I - Q is
    singular, the system is restricted to the states reachable from the initial
    distribution: still singular means the task can wait forever (+inf); otherwise
    the trap lies where the task never goes.
    """
    n_pol, m1, k = actions_batch.shape
    s = m1 * k
    iid = np.tile(channel.probs, (k, 1))
    Tc = np.zeros((s, s))
    Tw = np.zeros((s, s))
    for n in range(m1):
        Tw[n * k : (n + 1) * k, n * k : (n + 1) * k] = channel.wait_step() if channel.is_markov else iid
        if n + 1 < m1:
            Tc[n * k : (n + 1) * k, (n + 1) * k : (n + 2) * k] = channel.step(n) if channel.is_markov else iid
    a = actions_batch.reshape(n_pol, s)
    Q = (a == COMPUTE)[:, :, None] * Tc + (a == WAIT)[:, :, None] * Tw
    r = np.where(a == STOP, Y[:m1].reshape(-1), 0.0) + np.where(a == WAIT, c_w, 0.0)
    lhs = np.eye(s) - Q
    det = np.abs(np.linalg.det(lhs))
    ok = det > 1e-9
    out = np.full(n_pol, np.inf)
    v = np.linalg.solve(lhs[ok], r[ok][:, :, None])[:, :, 0]
    out[ok] = v[:, :k] @ channel.initial
    start = np.zeros(s, dtype=bool)
    start[:k] = channel.initial > 0
    for i in np.flatnonzero(~ok):
        reach = start.copy()
        while True:
            grown = reach | (Q[i][reach] > 0).any(axis=0)
            if np.array_equal(grown, reach):
                break
            reach = grown
        sub = lhs[i][np.ix_(reach, reach)]
        if abs(np.linalg.det(sub)) > 1e-9:
            vals = np.zeros(s)
            vals[reach] = np.linalg.solve(sub, r[i][reach])
            out[i] = vals[:k][start[:k]] @ channel.initial[start[:k]]
    return out


def all_policies(horizon, n_layers, k, mode):
    allowed = wait_allowed(mode, horizon, n_layers)
    choices = []
    for n in range(horizon + 1):
        acts = [STOP] + ([COMPUTE] if n < horizon else []) + ([WAIT] if allowed[n] else [])
        choices += [acts] * k
    grid = np.array(list(itertools.product(*choices)), dtype=np.int8)
    return grid.reshape(len(grid), horizon + 1, k)
