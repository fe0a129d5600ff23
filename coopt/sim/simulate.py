r"""Monte Carlo simulation of a placement and splitting policy (docs/model.md section 7).

A run draws ``tasks`` independent tasks and plays them together, epoch by epoch
(NumPy arrays over the tasks still running, in batches of ``BATCH`` tasks so that the
arrays stay in cache; no per-task Python loop):

* epoch 0: every task draws its channel state from ``initial``;
* at epoch ``n`` each task looks up its action for its current state: **stop**
  (upload now, or finish at ``n = N``), **compute** (go to epoch ``n + 1``, where the
  channel is redrawn: a fresh i.i.d. draw, or one Markov transition from the state
  seen at ``n``) or **wait** (one slot at cost :math:`c_w`, then a redraw at the same
  epoch: fresh, or one transition). Waiting tasks redraw until their action is not
  *wait*, so the slots of a task are exact, not truncated;
* a task that stops at epoch ``n`` in state ``k`` after ``w`` waiting slots costs
  :math:`Y_n(g_k) + w c_w + D(M)/K_\mathrm{tasks}`: the simulated objective per task
  includes the amortised download like :math:`\Phi(M)`.

Discrete states are drawn by Walker's alias method (one uniform real per draw, exact
up to rounding), from ``np.random.default_rng(seed)`` only, so a run is reproducible
from its seed. An i.i.d. state is not drawn at an epoch where every state computes
(it could influence nothing); a Markov state is always carried forward.

Policies (names as on the command line)
---------------------------------------
==================  ================================================================
``optimal``         backward induction at :math:`M^*` of rule ``optimal``
``osla``            the OSLA rule at its own best placement
``edge-only``       :math:`M = 0` with the optimal wait rule
``device-only``     :math:`M = N`, never upload
``static``          the static split :math:`n_s` of docs/model.md section 6: compute up to
                    :math:`n_s`, upload there (waiting there by the optimal wait rule
                    only where ``wait.mode`` allows waiting at :math:`n_s`)
``full-placement``  :math:`M = N` with the optimal splitting rule
==================  ================================================================

Each comes with its exact objective on the quantised channel
(:func:`~coopt.dp.stopping.evaluate_policy` plus :math:`D(M)/K_\mathrm{tasks}`), which
equals the solver's :math:`\Phi` of that policy; the simulated mean must agree with it
within its confidence interval.

Continuous law (``continuous=True``, i.i.d. Rayleigh, Nakagami or Rician only)
------------------------------------------------------------------------------
Gains are drawn from the law itself and the policy acts by **thresholds on the
continuous gain**: at epoch ``n`` the task stops iff :math:`h_n \ge \theta_n`;
otherwise it takes the policy's continuation action at ``n`` (compute or wait), which
for an i.i.d. channel does not depend on :math:`h`. The cost of stopping is
:math:`Y_n(h_n)` at the drawn gain. Which thresholds:

* ``thresholds="quantised"`` (default): the thresholds the solver computed on the
  quantised channel (:math:`\theta_n` of docs/model.md section 4, with the solver's
  compute/wait choice: :math:`C_n \le c_w + \bar W_n` for the optimal rule,
  :math:`L^c_n \le L^w_n` for OSLA). This is the policy a device would deploy, run on
  the real channel.
* ``thresholds="continuous"``: the same rule solved on the continuous law by
  quadrature (:mod:`coopt.sim.continuous`) at the same placement.

The exact reference is then the value of that threshold policy on the continuous law
(:func:`coopt.sim.continuous.evaluate_thresholds`); a policy whose value there is infinite
(an upload at every gain at an epoch ``n < N`` on a law whose density does not vanish
at 0) is refused with :class:`~coopt.errors.InstanceError`.

Statistics: the mean cost, its standard error :math:`s/\sqrt{n}` and the 95 % normal
interval :math:`\pm 1.96\,s/\sqrt{n}` (every per-task cost has finite variance: the
stop cost is bounded on a finite channel or above a positive threshold, and the
number of waiting slots is geometric).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from coopt.dp.enumeration import solve_enumeration
from coopt.dp.results import SolveResult
from coopt.dp.stopping import (
    COMPUTE,
    STOP,
    WAIT,
    evaluate_policy,
    iid_wait_fixed_point,
    markov_wait_values,
    policy_at,
    thresholds_from,
    tied_or_less,
)
from coopt.errors import InstanceError
from coopt.model.channel import Channel
from coopt.model.costs import wait_allowed
from coopt.model.instance import Instance
from coopt.model.problem import Problem, prepare
from coopt.model.vocabulary import Policy, Rule
from coopt.progress import progress_bar

POLICIES = tuple(Policy)
Z95 = 1.959963984540054  # standard normal quantile 0.975
MAX_WAIT_ROUNDS = 10_000_000
# Tasks are played in batches of this size: all tasks of a batch advance together, and
# arrays of this size stay in cache (one batch of 1e6 would spend its time in page faults).
BATCH = 1 << 15


def check_policy(name: str) -> str:
    """``name`` if it is one of :data:`POLICIES`, else a one-line ``InstanceError``."""
    if name not in POLICIES:
        raise InstanceError(f"policy = {name!r}: must be one of {' | '.join(POLICIES)}")
    return name


# ----------------------------------------------------------------------------- policies


@dataclass(frozen=True, eq=False)
class SimPolicy:
    """A policy ready to simulate, with its exact value on the quantised channel.

    Attributes
    ----------
    name : str
        One of :data:`POLICIES`.
    placement : int
        :math:`M`.
    actions : NDArray[np.int8]
        ``(M + 1, K)`` action table on the quantised channel.
    thresholds : NDArray[np.float64] or None
        ``(M + 1,)`` gain thresholds of the same rule (``None`` for a Markov channel).
    continuation : NDArray[np.int8] or None
        ``(M + 1,)``: the action below the threshold (compute or wait; stop where
        :math:`\\theta_n = 0`), i.i.d. channels only.
    task_cost, download_cost, objective : float
        Exact :math:`J`, :math:`D(M)` per period, :math:`\\Phi = J + D(M)/K_\\mathrm{tasks}`.
    """

    name: str
    placement: int
    actions: NDArray[np.int8]
    thresholds: NDArray[np.float64] | None
    continuation: NDArray[np.int8] | None
    task_cost: float
    download_cost: float
    objective: float


def _continuation(table: NDArray[np.float64], problem: Problem, horizon: int) -> NDArray[np.int8]:
    """Compute-or-wait choice per epoch (i.i.d.): compute iff :math:`E[t_{n+1}] \\le c_w + E[t_n]`
    (ties: compute), with ``table`` the optimal values :math:`V` (so :math:`C_n` against
    :math:`c_w + \\bar W_n`) or the stop costs :math:`Y` (OSLA's :math:`L^c_n` against
    :math:`L^w_n`); waiting only where ``wait.mode`` allows it."""
    p = problem.channel.probs
    allowed = wait_allowed(problem.instance.wait.mode, horizon, problem.costs.n_layers)
    cont = np.empty(horizon + 1, dtype=np.int8)
    for n in range(horizon + 1):
        go_on = float(p @ table[n + 1]) if n < horizon else math.inf
        wait = problem.costs.wait_cost + float(p @ table[n]) if allowed[n] else math.inf
        cont[n] = COMPUTE if tied_or_less(go_on, wait) else WAIT
    return cont


def _static_policy(problem: Problem, n_s: int) -> tuple[NDArray[np.int8], NDArray[np.float64] | None, NDArray[np.int8]]:
    """Actions, thresholds and continuation of the static split at ``n_s``."""
    costs, channel, Y = problem.costs, problem.channel, problem.Y
    k = channel.n_states
    actions = np.full((n_s + 1, k), COMPUTE, dtype=np.int8)
    cont = np.full(n_s + 1, COMPUTE, dtype=np.int8)
    G = np.full(n_s + 1, -math.inf)  # below A_n + R_n: threshold +inf (never stop)
    forced = np.zeros(n_s + 1, dtype=bool)
    y = Y[n_s]
    if wait_allowed(problem.instance.wait.mode, n_s, costs.n_layers)[n_s]:
        c_w = costs.wait_cost
        if not channel.is_markov:
            Wv = np.full(k, c_w + iid_wait_fixed_point(y, channel.probs, c_w))
        else:
            Pw: NDArray[np.float64] = channel.wait_step()  # type: ignore[assignment]
            Wv = c_w + Pw @ markov_wait_values(y, Pw, c_w)
        actions[n_s] = np.where(tied_or_less(y, Wv), STOP, WAIT)
        G[n_s] = Wv[0]
        cont[n_s] = WAIT
    else:
        actions[n_s] = STOP
        forced[n_s] = True
        cont[n_s] = STOP
    thresholds = None if channel.is_markov else thresholds_from(G, costs, forced)
    return actions, thresholds, cont


def build_policy(problem: Problem, name: str, solved: SolveResult | None = None) -> SimPolicy:
    """The policy ``name`` (see the module docstring) with its exact objective.

    ``solved`` is :func:`coopt.solve` of the instance with rule ``optimal`` (computed
    here when omitted); it fixes :math:`M^*`, the OSLA placement and the static split.

    Raises
    ------
    InstanceError
        For an unknown name, or a baseline whose placement the memory limit forbids.
    """
    check_policy(name)
    inst = problem.instance
    if solved is None:
        solved = solve_enumeration(problem.with_rule(Rule.OPTIMAL))
    if solved.rule != "optimal":
        raise InstanceError("build_policy: needs the result of rule 'optimal' (placement M* of the optimal rule)")
    costs, channel, Y = problem.costs, problem.channel, problem.Y
    iid = not channel.is_markov
    N = costs.n_layers
    key = Policy(name).key
    if key is not None and solved.baselines[key] is None:
        raise InstanceError(
            f"policy = {name!r}: its placement M = {N} exceeds placement.memory_bits = "
            f"{inst.placement.memory_bits:g} (the baseline is infeasible)"
        )
    if name in ("optimal", "edge-only", "full-placement"):
        M = {"optimal": solved.placement, "edge-only": 0, "full-placement": N}[name]
        sol = solved.policy if name == "optimal" else policy_at(problem, M, Rule.OPTIMAL)
        actions, thresholds = sol.actions, sol.thresholds
        cont = _continuation(sol.values, problem, M) if iid else None
    elif name == "osla":
        M = solved.baselines["osla"].placement  # type: ignore[union-attr]
        sol = policy_at(problem, M, Rule.OSLA)
        actions, thresholds = sol.actions, sol.thresholds
        cont = _continuation(Y, problem, M) if iid else None
    elif name == "device-only":
        M = N
        actions = np.full((N + 1, channel.n_states), COMPUTE, dtype=np.int8)
        actions[N] = STOP
        cont = np.full(N + 1, COMPUTE, dtype=np.int8)
        cont[N] = STOP
        thresholds = np.full(N + 1, np.inf) if iid else None
        if thresholds is not None:
            thresholds[N] = 0.0
        cont = cont if iid else None
    else:  # static
        M = solved.baselines["static_split"].placement  # type: ignore[union-attr]
        actions, thresholds, cont = _static_policy(problem, M)
        cont = cont if iid else None
    c_w = costs.wait_cost if math.isfinite(costs.wait_cost) else 0.0
    values = evaluate_policy(actions, Y, channel, c_w)
    task_cost = float(channel.initial @ values[0])
    if not math.isfinite(task_cost):
        raise InstanceError(f"policy = {name!r}: waits forever with positive probability (infinite cost)")
    download = float(costs.download[M])
    return SimPolicy(
        name, M, actions, thresholds, cont, task_cost, download, task_cost + download / inst.placement.tasks_per_period
    )


def continuous_threshold_policy(problem: Problem, policy: SimPolicy, source: str = "quantised"):
    """The :class:`~coopt.sim.continuous.ThresholdPolicy` a policy plays on the continuous law.

    ``source = "quantised"``: the solver's thresholds and continuation;
    ``"continuous"``: the same rule solved on the continuous law at the same placement.
    """
    from coopt.sim.continuous import (
        ThresholdPolicy,
        continuous_optimal,
        continuous_osla,
        quadrature_for,
    )

    if source not in ("quantised", "continuous"):
        raise InstanceError(f"thresholds = {source!r}: must be one of quantised | continuous")
    quad = quadrature_for(problem)  # refuses finite and Markov laws
    M = policy.placement
    if source == "quantised" or policy.name == "device-only":
        assert policy.thresholds is not None and policy.continuation is not None
        return quad, ThresholdPolicy(M, policy.thresholds, policy.continuation)
    mode = problem.instance.wait.mode
    if policy.name in ("optimal", "edge-only", "full-placement"):
        return quad, continuous_optimal(quad, M, mode).policy
    if policy.name == "osla":
        return quad, continuous_osla(quad, M, mode).policy
    # static: compute to n_s, then stop, or wait by the optimal wait rule on the law
    th = np.full(M + 1, np.inf)
    cont = np.full(M + 1, COMPUTE, dtype=np.int8)
    if wait_allowed(mode, M, problem.costs.n_layers)[M]:
        c_w = problem.costs.wait_cost
        th[M] = quad.threshold(M, c_w + quad.wait_fixed_point(M, math.inf, c_w))
        cont[M] = WAIT
    else:
        th[M], cont[M] = 0.0, STOP
    return quad, ThresholdPolicy(M, th, cont)


# ----------------------------------------------------------------------------- sampling


class AliasTable:
    """Walker's alias method for one or several (rows of) discrete distributions.

    ``probs`` has shape ``(K,)`` or ``(R, K)``; :meth:`draw` takes the row of each
    draw (ignored for a single distribution). One uniform real per draw: its integer
    part (times ``K``) picks the column, its fractional part decides between the
    column and its alias (losing only :math:`\\log_2 K` of its 53 bits).
    """

    def __init__(self, probs: NDArray[np.float64]) -> None:
        p = np.atleast_2d(np.asarray(probs, dtype=np.float64))
        rows, k = p.shape
        accept = np.ones((rows, k))
        alias = np.tile(np.arange(k), (rows, 1))
        for r in range(rows):
            scaled = p[r] / p[r].sum() * k
            small = [i for i in range(k) if scaled[i] < 1.0]
            large = [i for i in range(k) if scaled[i] >= 1.0]
            while small and large:
                s, g = small.pop(), large.pop()
                accept[r, s] = scaled[s]
                alias[r, s] = g
                scaled[g] -= 1.0 - scaled[s]
                (small if scaled[g] < 1.0 else large).append(g)
            # what is left in either list has scaled mass 1 up to rounding: accept always
        self.k = k
        self.rows = rows
        self.accept = accept.ravel()
        self.alias = alias.ravel().astype(np.intp)
        self.uniform = bool(np.all(accept == 1.0))

    def draw(self, rng: np.random.Generator, size: int, rows: NDArray[np.intp] | None = None) -> NDArray[np.intp]:
        x = rng.random(size)
        x *= self.k
        j = x.astype(np.intp)
        np.minimum(j, self.k - 1, out=j)  # u * K may round up to K
        if self.uniform:
            return j
        x -= j
        idx = j if rows is None or self.rows == 1 else rows * self.k + j
        out = np.take(self.alias, idx)
        np.copyto(out, j, where=x < np.take(self.accept, idx))
        return out


class _ChannelSampler:
    """Initial draws and redraws (fresh, or one Markov transition: :math:`P_n` from epoch
    ``n`` to ``n + 1``, :math:`P_w` for a waiting slot) of channel states."""

    def __init__(self, channel: Channel) -> None:
        self.channel = channel
        self.first = AliasTable(channel.initial)
        self.markov = channel.is_markov
        self._tables: dict[int | None, AliasTable] = {}

    def initial(self, rng: np.random.Generator, size: int) -> NDArray[np.intp]:
        return self.first.draw(rng, size)

    def begin(self, rng: np.random.Generator, size: int) -> NDArray[np.intp]:
        """A Markov batch's states at epoch 0."""
        return self.first.draw(rng, size)

    def gains(self, states: NDArray[np.intp], ids: NDArray[np.intp]) -> NDArray[np.float64]:
        """The gains of tasks ``ids`` in ``states`` (the states' gains)."""
        return self.channel.gains[states]

    def next(
        self, rng: np.random.Generator, states: NDArray[np.intp], n: int | None, ids: NDArray[np.intp] | None = None
    ) -> NDArray[np.intp]:
        """States after the step from epoch ``n`` to ``n + 1`` (``n = None``: one waiting slot)."""
        if not self.markov:
            return self.first.draw(rng, states.shape[0])
        table = self._tables.get(n)
        if table is None:
            matrix = self.channel.wait_step() if n is None else self.channel.step(n)
            table = self._tables[n] = AliasTable(matrix)  # type: ignore[arg-type]
        return table.draw(rng, states.shape[0], states)


def _batches(tasks: int) -> list[int]:
    """Batch sizes: all tasks advance together within a batch of ``BATCH`` (cache-sized arrays)."""
    return [min(BATCH, tasks - start) for start in range(0, tasks, BATCH)]


def run_table(
    actions: NDArray[np.int8],
    channel: Channel,
    tasks: int,
    rng: np.random.Generator,
    progress: bool | None = False,
    sampler: Any = None,
) -> list[tuple[int, NDArray[np.float64], NDArray[np.int64]]]:
    """Play ``tasks`` tasks under an action table ``(M + 1, K)`` on a finite channel.

    Returns blocks ``(n, gains, waits)`` of the tasks that stop at epoch ``n`` (their
    gain when stopping and their number of waiting slots); several per epoch.
    ``sampler`` replaces the channel's own draws (e.g. the continuous fading process of
    :mod:`coopt.sim.process`, whose gains are those of the process, not of the states).

    A Markov state is carried from epoch to epoch (one transition per epoch and per
    waiting slot). An i.i.d. state is drawn afresh at each epoch, and not at all at an
    epoch where every state computes: that draw could influence nothing, so leaving it
    out does not change the distribution of anything simulated.
    """
    sampler = _ChannelSampler(channel) if sampler is None else sampler
    markov = sampler.markov
    horizon = actions.shape[0] - 1
    all_compute = (actions == COMPUTE).all(axis=1)
    any_compute = (actions == COMPUTE).any(axis=1)
    any_wait = (actions == WAIT).any(axis=1)
    blocks = []
    with progress_bar(tasks, "simulate", progress) as bar:
        for size in _batches(tasks):
            waits = np.zeros(size, dtype=np.int64)
            ids = np.arange(size)
            state: NDArray[np.intp] | None = sampler.begin(rng, size) if markov else None
            for n in range(horizon + 1):
                alive = waits.shape[0]
                if alive == 0:
                    break
                if markov:
                    if n > 0:
                        state = sampler.next(rng, state, n - 1, ids)
                elif not all_compute[n]:
                    state = sampler.initial(rng, alive)
                if all_compute[n]:
                    continue
                assert state is not None
                act = actions[n]
                if any_wait[n]:
                    w = np.flatnonzero(np.take(act, state) == WAIT)
                    rounds = 0
                    while w.size:
                        rounds += 1
                        if rounds > MAX_WAIT_ROUNDS:
                            raise InstanceError(
                                f"simulation: tasks still waiting at epoch {n} after {MAX_WAIT_ROUNDS} slots"
                            )
                        state[w] = sampler.next(rng, state[w], None, ids[w])
                        waits[w] += 1
                        w = w[np.take(act, state[w]) == WAIT]
                if not any_compute[n]:
                    blocks.append((n, sampler.gains(state, ids), waits))
                    waits = waits[:0]
                    break
                stop = np.take(act, state) == STOP
                if stop.any():
                    blocks.append((n, sampler.gains(state[stop], ids[stop]), waits[stop]))
                    keep = ~stop
                    waits = waits[keep]
                    state = state[keep]
                    ids = ids[keep]
            if waits.shape[0]:  # pragma: no cover - the last epoch always stops or waits
                raise InstanceError(f"simulation: {waits.shape[0]} tasks did not stop by epoch {horizon}")
            bar.update(size)
    return blocks


def run_thresholds(
    thresholds: NDArray[np.float64],
    continuation: NDArray[np.int8],
    law,
    tasks: int,
    rng: np.random.Generator,
    progress: bool | None = False,
) -> list[tuple[int, NDArray[np.float64], NDArray[np.int64]]]:
    """Play ``tasks`` tasks under a threshold policy with gains drawn from a continuous law.

    Returns blocks ``(n, gains, waits)`` of the tasks that stop at epoch ``n``.
    """
    horizon = thresholds.shape[0] - 1
    blocks = []
    with progress_bar(tasks, "simulate", progress) as bar:
        for size in _batches(tasks):
            active = size
            waits = np.zeros(size, dtype=np.int64)
            for n in range(horizon + 1):
                if active == 0:
                    break
                theta = float(thresholds[n])
                h = law.sample(rng, active)
                if continuation[n] == WAIT:
                    if theta == math.inf:
                        raise InstanceError(f"threshold policy waits forever at epoch {n} (theta = +inf)")
                    w = np.flatnonzero(h < theta)
                    rounds = 0
                    while w.size:
                        rounds += 1
                        if rounds > MAX_WAIT_ROUNDS:
                            raise InstanceError(
                                f"simulation: tasks still waiting at epoch {n} after {MAX_WAIT_ROUNDS} slots"
                            )
                        h[w] = law.sample(rng, w.size)
                        waits[w] += 1
                        w = w[h[w] < theta]
                stop = h >= theta
                if stop.any():
                    blocks.append((n, h[stop], waits[stop]))
                    waits = waits[~stop]
                    active = waits.shape[0]
            if active:
                raise InstanceError(
                    f"threshold policy: {active} tasks did not stop by epoch {horizon} (theta_M > 0 without waiting)"
                )
            bar.update(size)
    return blocks


# ----------------------------------------------------------------------------- results


@dataclass(frozen=True, eq=False)
class Simulation:
    """The outcome of one Monte Carlo run (all costs per task, download amortised).

    ``split_counts[n]`` is the number of tasks that uploaded (or finished) at epoch
    ``n``; ``parts`` holds the mean cost parts (``local``, ``upload``, ``edge``,
    ``waiting``, ``download_amortised``; they add up to ``mean``) and the mean
    physical totals per task ``latency_s`` and ``energy_j`` (download excluded, as in
    :class:`~coopt.dp.results.Breakdown`); ``part_errors`` their standard errors (and that
    of ``mean_wait_slots`` under ``wait_slots``). ``exact`` is the policy's exact
    objective on the channel simulated (an infinite one is refused before simulating).
    """

    instance_name: str
    policy: str
    placement: int
    tasks: int
    seed: int | None
    channel: str
    thresholds_source: str | None
    mean: float
    std_error: float
    ci_low: float
    ci_high: float
    exact: float
    split_counts: NDArray[np.int64]
    mean_wait_slots: float
    parts: dict[str, float]
    part_errors: dict[str, float]
    thresholds: NDArray[np.float64] | None = field(default=None)

    @property
    def z_score(self) -> float:
        """``(mean - exact) / std_error`` (0 when the cost does not vary)."""
        if self.std_error == 0.0:
            return 0.0 if tied_or_less(abs(self.mean - self.exact), 1e-12 * abs(self.exact)) else math.inf
        return (self.mean - self.exact) / self.std_error

    @property
    def split_fractions(self) -> NDArray[np.float64]:
        return self.split_counts / self.tasks

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "instance": self.instance_name,
            "policy": self.policy,
            "placement": self.placement,
            "tasks": self.tasks,
            "seed": self.seed,
            "channel": self.channel,
            "mean": self.mean,
            "std_error": self.std_error,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "confidence": 0.95,
            "exact": self.exact,
            "z_score": self.z_score,
            "split_epochs": {
                "epoch": list(range(self.placement + 1)),
                "count": [int(c) for c in self.split_counts],
                "fraction": [float(f) for f in self.split_fractions],
            },
            "mean_wait_slots": self.mean_wait_slots,
            "parts": dict(self.parts),
            "part_errors": dict(self.part_errors),
        }
        if self.channel == "process":
            out["process"] = self.thresholds_source
            out["exact_source"] = "markov chain"
        if self.channel == "continuous":
            out["thresholds_source"] = self.thresholds_source
            out["thresholds"] = [None if math.isinf(x) else float(x) for x in self.thresholds]  # type: ignore[union-attr]
        return out


def _mean_and_error(x: NDArray[np.float64]) -> tuple[float, float]:
    """Sample mean and its standard error :math:`s/\\sqrt{n}`, from deviations to the first
    sample so that a constant sample has exactly zero spread."""
    ref = float(x[0])
    dev = x - ref
    return ref + float(dev.mean()), float(dev.std(ddof=1) / math.sqrt(x.shape[0]))


def task_outcomes(
    problem: Problem,
    policy: SimPolicy,
    tasks: int,
    stops: list[tuple[int, NDArray[np.float64], NDArray[np.int64]]],
) -> tuple[dict[str, NDArray[np.float64]], NDArray[np.int64]]:
    """Per-task arrays ``(tasks,)`` from the stop blocks ``(n, gains at stop, waits)``:
    ``cost`` (download amortised) and its parts ``local``, ``upload``, ``edge``,
    ``waiting``, the physical totals ``latency_s`` and ``energy_j`` (download excluded)
    and ``wait_slots``; with the count of tasks per stop epoch ``(M + 1,)``."""
    costs = problem.costs
    N = costs.n_layers
    c_w = costs.wait_cost if math.isfinite(costs.wait_cost) else 0.0
    slot = costs.slot_s if math.isfinite(costs.slot_s) else 0.0
    download = policy.download_cost / problem.instance.placement.tasks_per_period
    names = ("cost", "local", "upload", "edge", "waiting", "latency_s", "energy_j", "wait_slots")
    per_task = {k: np.empty(tasks) for k in names}
    counts = np.zeros(policy.placement + 1, dtype=np.int64)
    at = 0
    for n, gains, waits in stops:
        m = gains.shape[0]
        counts[n] += m
        if m == 0:
            continue
        if n < N:
            rate = costs.rate_bps(gains)
            upload = costs.overhead[n] + costs.upload_coef[n] / rate
            up_time = costs.feature_bits[n] / rate
        else:
            upload = up_time = np.zeros(m)
        sl = slice(at, at + m)
        at += m
        per_task["local"][sl] = costs.A[n]
        per_task["edge"][sl] = costs.R[n]
        per_task["upload"][sl] = upload
        per_task["waiting"][sl] = c_w * waits
        per_task["cost"][sl] = (costs.A[n] + costs.R[n]) + upload + c_w * waits + download
        per_task["wait_slots"][sl] = waits
        per_task["latency_s"][sl] = (
            (costs.local_time_s[n] + costs.edge_time_s[n]) + costs.overhead_time_s[n] + up_time + slot * waits
        )
        per_task["energy_j"][sl] = (
            costs.local_energy_j[n]
            + costs.overhead_energy_j[n]
            + costs.tx_power_w * up_time
            + costs.idle_power_w * slot * waits
        )
    if at != tasks:  # pragma: no cover - every task stops exactly once
        raise RuntimeError(f"simulation lost tasks: {at} of {tasks} stopped")
    return per_task, counts


def _summarise(
    problem: Problem,
    policy: SimPolicy,
    tasks: int,
    seed: int | None,
    channel: str,
    source: str | None,
    exact: float,
    stops: list[tuple[int, NDArray[np.float64], NDArray[np.int64]]],
    thresholds: NDArray[np.float64] | None,
) -> Simulation:
    """Costs and parts per task from the stop blocks ``(n, gains at stop, waits)``."""
    download = policy.download_cost / problem.instance.placement.tasks_per_period
    per_task, counts = task_outcomes(problem, policy, tasks, stops)
    stats = {k: _mean_and_error(v) for k, v in per_task.items()}
    mean, se = stats["cost"]
    parts = {k: stats[k][0] for k in ("local", "upload", "edge", "waiting", "latency_s", "energy_j")}
    parts["download_amortised"] = download
    errors = {k: stats[k][1] for k in ("local", "upload", "edge", "waiting", "latency_s", "energy_j", "wait_slots")}
    return Simulation(
        instance_name=problem.instance.name,
        policy=policy.name,
        placement=policy.placement,
        tasks=tasks,
        seed=seed,
        channel=channel,
        thresholds_source=source,
        mean=mean,
        std_error=se,
        ci_low=mean - Z95 * se,
        ci_high=mean + Z95 * se,
        exact=exact,
        split_counts=counts,
        mean_wait_slots=stats["wait_slots"][0],
        parts=parts,
        part_errors=errors,
        thresholds=thresholds,
    )


def simulate(
    source: Instance | Problem,
    policy: str = "optimal",
    tasks: int = 100_000,
    seed: int | None = 0,
    *,
    continuous: bool = False,
    thresholds: str = "quantised",
    solved: SolveResult | None = None,
    progress: bool | None = False,
) -> Simulation:
    """Simulate ``tasks`` tasks of an instance under ``policy`` (see the module docstring).

    Parameters
    ----------
    source : Instance or Problem
        The instance (prepared with its own ``channel.states`` when an ``Instance``).
    policy : str
        One of :data:`POLICIES`.
    tasks : int
        Number of tasks, ``>= 2``.
    seed : int or None
        Seed of ``np.random.default_rng``; the same seed gives the same result.
    continuous : bool
        Draw gains from the continuous law (i.i.d. continuous laws only).
    thresholds : {"quantised", "continuous"}
        With ``continuous``: which thresholds the policy plays.
    solved : SolveResult, optional
        :func:`coopt.solve` with rule ``optimal``, to reuse.
    progress : bool or None
        Progress bar on stderr: ``None`` shows it on a terminal for runs over a second.
    """
    problem = source if isinstance(source, Problem) else prepare(source)
    check_policy(policy)
    if isinstance(tasks, bool) or not isinstance(tasks, (int, np.integer)) or tasks < 2:
        raise InstanceError(f"tasks = {tasks!r}: must be an integer >= 2")
    tasks = int(tasks)
    pol = build_policy(problem, policy, solved)
    rng = np.random.default_rng(seed)
    k_tasks = problem.instance.placement.tasks_per_period
    if not continuous:
        ch = problem.channel
        stops = run_table(pol.actions, ch, tasks, rng, progress)
        return _summarise(problem, pol, tasks, seed, "quantised", None, pol.objective, stops, None)
    if problem.instance.channel.is_correlated:
        return _simulate_process(problem, pol, tasks, seed, rng, progress)
    from coopt.sim.continuous import evaluate_thresholds

    quad, tp = continuous_threshold_policy(problem, pol, thresholds)
    who = f"policy {policy!r} (placement M = {pol.placement}, {thresholds} thresholds)"
    exact = evaluate_thresholds(quad, tp, problem.instance.wait.mode, who).value + pol.download_cost / k_tasks
    stops = run_thresholds(tp.thresholds, tp.continuation, quad.law, tasks, rng, progress)
    return _summarise(problem, pol, tasks, seed, "continuous", thresholds, exact, stops, tp.thresholds)


def simulate_outcomes(
    source: Instance | Problem,
    policy: str = "optimal",
    tasks: int = 100_000,
    seed: int | None = 0,
    *,
    solved: SolveResult | None = None,
    progress: bool | None = False,
) -> dict[str, NDArray[np.float64]]:
    """Every simulated task's outcome on the quantised channel (the run of :func:`simulate`
    with the same arguments, so the same seed draws the same tasks): the arrays of
    :func:`task_outcomes`, shape ``(tasks,)`` each, for empirical distributions."""
    problem = source if isinstance(source, Problem) else prepare(source)
    check_policy(policy)
    if isinstance(tasks, bool) or not isinstance(tasks, (int, np.integer)) or tasks < 2:
        raise InstanceError(f"tasks = {tasks!r}: must be an integer >= 2")
    pol = build_policy(problem, policy, solved)
    stops = run_table(pol.actions, problem.channel, int(tasks), np.random.default_rng(seed), progress)
    return task_outcomes(problem, pol, int(tasks), stops)[0]


def _simulate_process(
    problem: Problem,
    pol: SimPolicy,
    tasks: int,
    seed: int | None,
    rng: np.random.Generator,
    progress: bool | None,
) -> Simulation:
    """The policy's table played on the continuous fading process (:mod:`coopt.sim.process`);
    ``exact`` is the value on the Markov chain, so the difference measures the chain's error."""
    from coopt.sim.process import ProcessSampler, process_name

    stops = run_table(pol.actions, problem.channel, tasks, rng, progress, sampler=ProcessSampler(problem))
    return _summarise(problem, pol, tasks, seed, "process", process_name(problem), pol.objective, stops, None)


def simulation_report(sim: Simulation, layer_names: tuple[str, ...] | None = None) -> str:
    """Readable summary of a :class:`Simulation`."""
    p = sim.parts
    chan = {
        "quantised": "the quantised channel",
        "continuous": f"the continuous law ({sim.thresholds_source} thresholds)",
        "process": f"the {sim.thresholds_source}, acting on the bin of each gain",
    }[sim.channel]
    exact = "exact value (chain) " if sim.channel == "process" else "exact value         "
    lines = [
        f"instance {sim.instance_name}: policy {sim.policy} at placement M = {sim.placement}, "
        f"{sim.tasks} tasks on {chan}, seed {sim.seed}",
        f"mean cost per task  {sim.mean:.6e}   95% CI [{sim.ci_low:.6e}, {sim.ci_high:.6e}]  (std. error {sim.std_error:.2e})",
        f"{exact}{sim.exact:.6e}   (simulated - exact = {sim.z_score:+.2f} std. errors)",
        f"  local {p['local']:.4e}  upload {p['upload']:.4e}  edge {p['edge']:.4e}  waiting {p['waiting']:.4e}  "
        f"download/K {p['download_amortised']:.4e}",
        f"mean latency {p['latency_s']:.6g} s, mean device energy {p['energy_j']:.6g} J per task (download excluded), "
        f"mean waiting slots {sim.mean_wait_slots:.4g}",
        "split epochs (where tasks upload; N = finish on the device)",
    ]
    for n, (c, f) in enumerate(zip(sim.split_counts, sim.split_fractions)):
        if c == 0:
            continue
        name = f" {layer_names[n]:<14}" if layer_names is not None else ""
        lines.append(f"  {n:>3}{name} {f:8.4f}  {'#' * round(40 * f)}")
    return "\n".join(lines)
