r"""The joint placement-and-splitting MIP of docs/model.md section 5, as a Pyomo model.

:func:`build_placement_model` is a pure builder (no solver inside; :mod:`coopt.mip.highs`
solves). The numbers it needs are computed first, in plain NumPy, by
:func:`placement_data`; :func:`objective_from_values` and :func:`flow_residual`
recompute the objective and every balance row from variable values, without Pyomo,
so that a solution can be checked independently of the solver.

Formulation
-----------
Data (docs/model.md symbols): feasible placements :math:`\mathcal M = \{M : \sum_{i\le M}
s_i \le S_{max}\} = \{0..\bar M\}` (a prefix, since :math:`S_M` is cumulative; the memory
limit enters through this index set), stop costs :math:`Y_n(k)`, slot cost
:math:`c_w`, download :math:`D(M)`, the initial law :math:`\iota` and either i.i.d.
probabilities :math:`p` or Markov matrices: :math:`P_n` from epoch :math:`n` to
:math:`n+1` and :math:`P_w` for a waiting slot (one matrix :math:`P` for a homogeneous
chain, per-epoch matrices for time-correlated fading, docs/model.md 10.4). Write
:math:`T(v)_k = p_k \sum_j v_j` (i.i.d.) or :math:`T(v)_k = \sum_j v_j P_{jk}` (Markov,
with the matrix of that move) for "one fresh draw after leaving states with mass :math:`v`".

Variables (all :math:`\ge 0`):

* :math:`z_M \in \{0,1\}`, :math:`M \in \mathcal M`: the placement; :math:`\sum_M z_M = 1`.
* interior copy of epoch :math:`n < \bar M` (used when :math:`M > n`):
  :math:`x_{n,k,a}`, :math:`a \in \{S, C\}` plus :math:`W` in wait mode ``any``;
* terminal copy of epoch :math:`n` (used when :math:`M = n`): :math:`y_{n,k,a}`,
  :math:`a \in \{S\}` plus :math:`W` where docs/model.md allows waiting at epoch :math:`n`
  of placement :math:`n` (mode ``last`` and ``any``, :math:`n < N`);
* terminal entries :math:`e_{n,k}`: the part of the arrivals at epoch :math:`n` that
  enters the terminal copy; reach :math:`r_n = \sum_k x_{n-1,k,C}`.

:math:`x, y` are occupation measures: expected numbers of visits of
(epoch, state, action). Arrivals :math:`\alpha_0 = \iota`,
:math:`\alpha_n = T(x_{n-1,\cdot,C})` for :math:`n \ge 1`. Flow balance::

    sum_a x[n,k,a] + e[n,k] = alpha_n(k) + T(x[n,.,W])_k          (interior, n < Mbar)
    sum_a y[n,k,a]          = e[n,k]     + T(y[n,.,W])_k          (terminal)

(at :math:`n = \bar M` there is no interior copy and :math:`e_{\bar M} = \alpha_{\bar M}`).
Linking, big-M free because every right-hand side is a probability::

    r[n+1]         <= sum_{M > n} z_M      each task computes at epoch n at most once
    sum_k e[n,k]   <= z_n                  entries are arrivals, a probability
    sum_{k,a} x[n,k,a] <= sum_{M > n} z_M  (only where the interior copy cannot wait
                                            and a terminal copy exists: visits <= 1)

Objective (scaled by a constant, see :attr:`MipData.scale`)::

    Phi = sum_{n,k} Y_n(k) (x[n,k,S] + y[n,k,S]) + c_w sum (x[.,.,W] + y[.,.,W])
          + sum_M z_M D(M) / K_tasks

QoS rows (:mod:`coopt.dp.constraints`): :math:`\sum \ell_n(k)(x+y)_{n,k,S} + \tau \sum
(x+y)_{W} \le` ``max_latency_s`` and the same with :math:`\epsilon` and
:math:`P_{idle}\tau` for ``max_energy_j``, each row divided by its bound (right-hand side 1).

Small probabilities. HiGHS ignores matrix entries at or below its ``small_matrix_value``
and says so on stdout. coopt lowers that option to 1e-12, HiGHS's smallest, and moves
every positive probability of the LP's laws at or below :data:`SMALL_FLOW` = 1e-12 onto
the largest entry of its row (:func:`lp_law`; counted in :attr:`MipData.small_flows`), so
the LP is the model up to at most :math:`K \cdot 10^{-12}` of probability per row. The
values reported by :mod:`coopt.mip.method` do not depend on it: every policy is
evaluated exactly on the true channel.

Why it is exact. For integer :math:`z` with :math:`z_M = 1`: no task computes at or
beyond :math:`M` (first row), so nothing arrives after :math:`M`; at :math:`n < M`
the terminal copy is closed (second row), so waiting happens only where the interior
copy may wait (mode ``any``); at :math:`n = M` the interior copy cannot compute, so
its visits only stop (or wait, in mode ``any``, which is allowed at :math:`M < N`) and
the terminal copy carries the waiting of mode ``last``. Summing both copies, the
occupation of each epoch satisfies the balance of the MDP of placement :math:`M`, and
any such occupation is that of the randomised policy
:math:`\pi(a|n,k) = (x+y)_{n,k,a} / \sum_a (x+y)_{n,k,a}`. Conversely every policy of
placement :math:`M` gives a feasible point. Waiting visits can exceed 1 and are left
unbounded: a waiting cycle without inflow (possible in a closed copy) has no stop,
positive cost :math:`c_w` per visit and non-negative latency and energy, so it is
never part of an optimum and needs no bound. The MDP LP of a fixed :math:`M` has
deterministic optimal vertices, so without QoS rows the optimum equals enumeration
with backward induction; with QoS rows it may randomise.

With rule ``osla`` the policy of each placement is fixed, so the variables of the
actions the one-stage look-ahead rule does not take are removed: interior copies keep
the rule's action for :math:`M > n` (:math:`L^c_n = E[Y_{n+1}]`, :math:`L^w_n` only in
mode ``any``), terminal copies its action at :math:`n = M` (:math:`L^c = \infty`). The
terminal copy then exists at every epoch, and the third linking row stops interior
stops from replacing the rule's terminal waits. The optimum is
:math:`\min_M \Phi_{OSLA}(M)`.

Strength of the relaxation. It is **not tight** in general. With fractional
:math:`z` the budget :math:`\sum_{M>n} z_M` of computing at epoch :math:`n` may be
spent adaptively on the states where continuing helps most, which no mixture of
placements can do, so the LP bound can lie below :math:`\min_M \Phi(M)` (the
download is charged only :math:`\sum_M z_M D(M)`). A disaggregated formulation with
one occupation measure per placement, :math:`x^M = z_M \cdot` (policy of :math:`M`), is
tight (each per-placement polytope is the MDP polytope scaled by :math:`z_M`, so the
relaxation is the convex hull and its optimum :math:`\min_M \Phi(M)`), but has
:math:`O(N^2 K)` variables instead of :math:`O(N K)`. Measured root gaps are small
without QoS rows (the synthetic chains of bench/bench_mip.py, scaled objective: N = 50,
K = 64: LP 0.8105 against 0.8111; N = 20, K = 256: 0.7646 against 0.7653) and larger with
a binding bound (data/cnn_chain.toml with ``max_energy_j`` at 95 % of the
unconstrained energy: 12 %); HiGHS closes them at the root node or after a few branches.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
import pyomo.environ as pyo
from numpy.typing import NDArray

from coopt.dp.constraints import QoS, parse_constraints, physical_parts
from coopt.dp.stopping import (
    COMPUTE,
    STOP,
    WAIT,
    choose_by_tie_order,
    next_state_mean,
)
from coopt.model.channel import Channel
from coopt.model.costs import wait_allowed
from coopt.model.instance import Instance
from coopt.model.problem import Problem, prepare

ACTIONS = (STOP, COMPUTE, WAIT)
# HiGHS ignores every matrix entry at or below its option ``small_matrix_value`` (default
# 1e-9, smallest allowed 1e-12) and prints a warning on stdout. coopt.mip.highs sets it to
# 1e-12, and the model's laws keep no positive entry at or below it: such a probability is
# moved onto the largest entry of its row (:func:`lp_law`), so that every row of the LP is
# still a probability law and nothing is dropped unannounced.
SMALL_FLOW = 1e-12
# Visits below this (in probability units) count as "never reached" when a policy table
# is read off a solution: LP solutions carry round-off of order 1e-15.
REACH_TOL = 1e-9

_FROM_INSTANCE = object()


class BuildDeadline(Protocol):
    """What the builder needs of a time limit (:class:`coopt.mip.highs.Deadline`)."""

    def passed(self) -> bool: ...

    def check(self, step: str) -> None: ...


@dataclass(frozen=True, eq=False)
class MipData:
    """Everything the MIP needs, as NumPy arrays (no Pyomo).

    Attributes
    ----------
    n_layers : int
        :math:`N`.
    placements : tuple of int
        Feasible placements ``0..Mbar`` (memory limit) or a given subset.
    n_max : int
        :math:`\\bar M`, the largest placement in ``placements``.
    Y : NDArray[np.float64]
        ``(Mbar + 1, K)`` stop costs.
    wait_cost : float
        :math:`c_w` (0 when waiting is impossible).
    download_per_task : NDArray[np.float64]
        ``(Mbar + 1,)``: :math:`D(M)/K_{tasks}`.
    initial, probs, steps, wait_step
        The channel: ``probs`` for i.i.d.; for a Markov chain ``steps`` ``(Mbar, K, K)``
        (:math:`P_n`, epoch ``n`` to ``n + 1``) and ``wait_step`` :math:`P_w` (``None``
        where there is no slot); the others ``None``.
    interior_allowed : NDArray[numpy.bool]
        ``(Mbar + 1, K, 3)``: actions with a variable in the interior copy (row
        ``Mbar`` is all False: there is no interior copy there).
    terminal : NDArray[numpy.bool]
        ``(Mbar + 1,)``: whether epoch ``n`` has a terminal copy.
    terminal_allowed : NDArray[numpy.bool]
        ``(Mbar + 1, K, 3)``: actions with a variable in the terminal copy.
    entry : NDArray[np.float64]
        ``(Mbar + 1, K)``: arrivals from outside; row 0 is the initial law plus any
        extra mass (see :func:`placement_data`).
    mass : float
        Total outside arrivals (1 for the placement problem); the linking rows' scale.
    stop_latency_s, stop_energy_j : NDArray[np.float64]
        ``(Mbar + 1, K)`` physical parts of stopping.
    wait_latency_s, wait_energy_j : float
        Physical parts of one slot.
    qos : QoS or None
        The QoS bounds imposed.
    rule, mode : str
        ``placement.rule`` and ``wait.mode``.
    scale : float
        The objective in the model is :math:`\\Phi` / ``scale`` (``scale`` = the least
        expected stop cost :math:`\\min_n E[Y_n]`), so that its coefficients are of order
        one and HiGHS's absolute tolerances act as relative ones.
    small_flows, small_flow_mass : int, float
        How many positive probabilities of ``probs``, ``steps`` and ``wait_step`` were at
        or below :data:`SMALL_FLOW` and moved onto their row's largest entry
        (:func:`lp_law`), and the largest mass so moved in one row. ``probs``, ``steps``
        and ``wait_step`` are the laws after that move; the channel itself is unchanged.
    """

    n_layers: int
    placements: tuple[int, ...]
    n_max: int
    Y: NDArray[np.float64]
    wait_cost: float
    download_per_task: NDArray[np.float64]
    initial: NDArray[np.float64]
    probs: NDArray[np.float64] | None
    steps: NDArray[np.float64] | None
    wait_step: NDArray[np.float64] | None
    interior_allowed: NDArray[np.bool_]
    terminal: NDArray[np.bool_]
    terminal_allowed: NDArray[np.bool_]
    entry: NDArray[np.float64]
    mass: float
    stop_latency_s: NDArray[np.float64]
    stop_energy_j: NDArray[np.float64]
    wait_latency_s: float
    wait_energy_j: float
    qos: QoS | None
    rule: str
    mode: str
    scale: float
    small_flows: int = 0
    small_flow_mass: float = 0.0

    @property
    def n_states(self) -> int:
        return int(self.Y.shape[1])

    def has_interior(self, n: int) -> bool:
        return n < self.n_max

    def later(self, n: int) -> list[int]:
        """Placements :math:`M > n`."""
        return [m for m in self.placements if m > n]

    def interior_waits(self, n: int) -> bool:
        return bool(self.interior_allowed[n, :, WAIT].any())

    def visits_link(self, n: int) -> bool:
        """Whether the interior visits of epoch ``n`` are linked (not only its computes)."""
        return self.has_interior(n) and bool(self.terminal[n]) and not self.interior_waits(n)


def osla_actions(problem: Problem, n_max: int) -> tuple[NDArray[np.int8], NDArray[np.int8]]:
    """The OSLA rule's action at every epoch as an interior epoch and as the last placed one.

    Returns ``(interior, terminal)``, each ``(n_max + 1, K)``: ``interior[n]`` is the
    action at ``n`` under any placement ``M > n`` (it does not depend on ``M``);
    ``terminal[n]`` is the action at ``n = M`` (row ``n_max`` of ``interior`` is unused).
    """
    Y, ch, costs = problem.Y, problem.channel, problem.costs
    mode, n_layers = problem.instance.wait.mode, costs.n_layers
    k = ch.n_states
    inf = np.full(k, np.inf)
    interior = np.zeros((n_max + 1, k), dtype=np.int8)
    terminal = np.zeros((n_max + 1, k), dtype=np.int8)
    for n in range(n_max + 1):
        lw_ok = wait_allowed(mode, n, n_layers)[n]
        lw_term = costs.wait_cost + next_state_mean(ch, Y[n], None) if lw_ok else inf
        terminal[n] = choose_by_tie_order(Y[n], inf, lw_term)
        if n < n_max:
            lw_int = costs.wait_cost + next_state_mean(ch, Y[n], None) if mode == "any" and n < n_layers else inf
            interior[n] = choose_by_tie_order(Y[n], next_state_mean(ch, Y[n + 1], n), lw_int)
    return interior, terminal


def lp_law(law: NDArray[np.float64]) -> tuple[NDArray[np.float64], int, float]:
    """``law`` (a probability vector or row-stochastic matrix) with every positive entry at
    or below :data:`SMALL_FLOW` moved onto the largest entry of its row.

    Returns the new law, how many entries moved and the largest mass moved in one row
    (at most ``K * SMALL_FLOW``). Rows without such entries are returned bit-identical.
    """
    rows = np.array(law, dtype=np.float64, ndmin=2)
    small = (rows > 0) & (rows <= SMALL_FLOW)
    if not small.any():
        return np.asarray(law, dtype=np.float64), 0, 0.0
    moved = np.where(small, rows, 0.0).sum(axis=1)
    rows[small] = 0.0
    top = np.argmax(rows, axis=1)
    rows[np.arange(rows.shape[0]), top] += moved
    out = rows.reshape(np.shape(law))
    return out, int(small.sum()), float(moved.max())


def placement_data(
    problem: Problem,
    *,
    placements: list[int] | None = None,
    qos: QoS | None = None,
    extra_entry: NDArray[np.float64] | None = None,
) -> MipData:
    """The MIP's numbers for a prepared problem (plain NumPy).

    Parameters
    ----------
    problem : Problem
        From :func:`coopt.model.problem.prepare`.
    placements : list of int, optional
        A subset of the feasible placements (a prefix ``0..Mbar`` is not required, but
        epochs run to its largest element); default: all feasible placements.
    qos : QoS, optional
        Bounds to impose.
    extra_entry : NDArray, optional
        ``(Mbar + 1, K)`` mass entering each (epoch, state) from outside, beyond the
        initial law at epoch 0. A strictly positive one makes the LP's policy optimal
        from every state (used to read a complete decision table).
    """
    inst, costs, ch = problem.instance, problem.costs, problem.channel
    feasible = problem.placements
    if placements is None:
        placements = feasible
    bad = [m for m in placements if m not in feasible]
    if bad or not placements:
        raise ValueError(f"placements {placements}: must be a non-empty subset of the feasible {feasible}")
    placements = sorted(set(placements))
    n_max = placements[-1]
    n_layers = costs.n_layers
    mode, rule = inst.wait.mode, inst.placement.rule
    k = ch.n_states
    Y = problem.Y[: n_max + 1]
    interior_allowed = np.zeros((n_max + 1, k, 3), dtype=bool)
    terminal_allowed = np.zeros((n_max + 1, k, 3), dtype=bool)
    terminal = np.zeros(n_max + 1, dtype=bool)
    for n in range(n_max + 1):
        if n < n_max:
            interior_allowed[n, :, STOP] = True
            interior_allowed[n, :, COMPUTE] = True
            interior_allowed[n, :, WAIT] = mode == "any" and n < n_layers
        terminal[n] = n in placements and (n == n_max or rule == "osla" or (mode == "last" and n < n_layers))
        if terminal[n]:
            terminal_allowed[n, :, STOP] = True
            terminal_allowed[n, :, WAIT] = bool(wait_allowed(mode, n, n_layers)[n])
    if rule == "osla":
        a_int, a_term = osla_actions(problem, n_max)
        onehot_int = np.eye(3, dtype=bool)[a_int]
        onehot_term = np.eye(3, dtype=bool)[a_term]
        interior_allowed &= onehot_int
        terminal_allowed &= onehot_term
    # A placement outside a given subset has no binary; its epoch keeps its interior
    # copy (a task may stop there under any larger placement) but has no terminal copy.
    entry = np.zeros((n_max + 1, k))
    entry[0] = ch.initial
    if extra_entry is not None:
        entry = entry + np.asarray(extra_entry, dtype=np.float64)[: n_max + 1]
    parts = physical_parts(costs, ch)
    waiting = bool(interior_allowed[..., WAIT].any() or terminal_allowed[..., WAIT].any())
    c_w = costs.wait_cost if waiting else 0.0
    expected = np.einsum("nk,nk->n", ch.distributions(n_max), problem.Y[: n_max + 1]).tolist()
    scale = min((e for e in expected if e > 0), default=1.0)
    small_flows, small_flow_mass = 0, 0.0

    def law(x: NDArray[np.float64]) -> NDArray[np.float64]:
        nonlocal small_flows, small_flow_mass
        out, count, mass = lp_law(x)
        small_flows += count
        small_flow_mass = max(small_flow_mass, mass)
        return out

    probs = None if ch.is_markov else law(ch.probs)
    steps = (
        np.stack([law(ch.step(n)) for n in range(n_max)])  # type: ignore[arg-type]
        if ch.is_markov and n_max > 0
        else None
    )
    wait_step = law(ch.wait_step()) if ch.is_markov and waiting else None  # type: ignore[arg-type]
    return MipData(
        n_layers=n_layers,
        placements=tuple(placements),
        n_max=n_max,
        Y=Y,
        wait_cost=float(c_w),
        download_per_task=costs.download[: n_max + 1] / inst.placement.tasks_per_period,
        initial=ch.initial,
        probs=probs,
        steps=steps,
        wait_step=wait_step,
        interior_allowed=interior_allowed,
        terminal=terminal,
        terminal_allowed=terminal_allowed,
        entry=entry,
        mass=float(entry.sum()),
        stop_latency_s=parts.stop_latency_s[: n_max + 1],
        stop_energy_j=parts.stop_energy_j[: n_max + 1],
        wait_latency_s=parts.wait_latency_s if waiting else 0.0,
        wait_energy_j=parts.wait_energy_j if waiting else 0.0,
        qos=qos,
        rule=rule,
        mode=mode,
        scale=scale,
        small_flows=small_flows,
        small_flow_mass=small_flow_mass,
    )


def build_placement_model(
    instance: Instance | Problem,
    channel: Channel | None = None,
    *,
    qos: QoS | object | None = _FROM_INSTANCE,
    placements: list[int] | None = None,
    extra_entry: NDArray[np.float64] | None = None,
    deadline: BuildDeadline | None = None,
) -> pyo.ConcreteModel:
    """Build the joint placement MIP (module docstring) for an instance. No solve inside.

    Parameters
    ----------
    instance : Instance or Problem
        An instance (its cost model and channel are derived here) or a prepared
        :class:`~coopt.model.problem.Problem`.
    channel : Channel, optional
        The finite channel to use with an :class:`Instance` (default: its quantised
        ``[channel]``); must be omitted with a Problem.
    qos : QoS or None, optional
        QoS bounds; default: the instance's ``[constraints]`` table.
    placements, extra_entry
        See :func:`placement_data`.
    deadline : BuildDeadline, optional
        The ``mip`` method's time limit: once it has passed, the remaining rows of the
        component being built are skipped and :class:`~coopt.errors.NoSolutionError`
        is raised after it (not from inside a Pyomo rule, which would log the error).

    Returns
    -------
    pyomo.environ.ConcreteModel
        With variables ``z`` (binary, per placement), ``x`` (interior occupation,
        indexed ``(n, k, a)``), ``y`` (terminal occupation), ``e`` (terminal entries),
        ``r`` (reach); expressions ``phi`` (:math:`\\Phi`, unscaled), ``latency_s``,
        ``energy_j``; and the :class:`MipData` as ``model.coopt_data``.
    """
    if isinstance(instance, Problem):
        if channel is not None:
            raise ValueError("pass the channel inside the Problem, not beside it")
        problem = instance
    else:
        problem = prepare(instance)
        if channel is not None:
            problem = Problem(instance, problem.costs, channel, problem.costs.stop_cost(channel.gains))
    if qos is _FROM_INSTANCE:
        qos = parse_constraints(problem.instance.extra)
    data = placement_data(problem, placements=placements, qos=qos, extra_entry=extra_entry)  # type: ignore[arg-type]
    return _assemble(data, deadline)


def _assemble(d: MipData, deadline: BuildDeadline | None = None) -> pyo.ConcreteModel:
    """The Pyomo model of :class:`MipData` (module docstring's rows, in order)."""
    step = f"building the MIP ({len(d.placements)} placements, {d.n_max} epochs, {d.n_states} channel states)"

    def check() -> None:
        if deadline is not None:
            deadline.check(step)

    def late() -> bool:
        return deadline is not None and deadline.passed()

    k_states = d.n_states
    states = range(k_states)
    epochs = range(d.n_max + 1)
    iid = d.probs is not None
    m = pyo.ConcreteModel(name="coopt_placement")
    m.coopt_data = d

    x_idx = [(n, k, a) for n, k, a in zip(*np.nonzero(d.interior_allowed))]
    y_idx = [(n, k, a) for n, k, a in zip(*np.nonzero(d.terminal_allowed))]
    x_idx = [(int(n), int(k), int(a)) for n, k, a in x_idx]
    y_idx = [(int(n), int(k), int(a)) for n, k, a in y_idx]
    e_idx = [(n, k) for n in epochs if d.terminal[n] and d.has_interior(n) for k in states]

    m.z = pyo.Var(list(d.placements), within=pyo.Binary)
    m.x = pyo.Var(x_idx, within=pyo.NonNegativeReals)
    m.y = pyo.Var(y_idx, within=pyo.NonNegativeReals)
    m.e = pyo.Var(e_idx, within=pyo.NonNegativeReals)
    m.r = pyo.Var(range(1, d.n_max + 1), within=pyo.NonNegativeReals)
    check()

    def by(idx: list[tuple[int, int, int]]) -> dict[tuple[int, int], list[int]]:
        out: dict[tuple[int, int], list[int]] = {}
        for n, k, a in idx:
            out.setdefault((n, k), []).append(a)
        return out

    x_at, y_at = by(x_idx), by(y_idx)

    def xs(n: int, a: int) -> list[tuple[int, int]]:
        """(k, var) pairs of interior action ``a`` at epoch ``n``."""
        return [(k, m.x[n, k, a]) for k in states if a in x_at.get((n, k), ())]

    def ys(n: int, a: int) -> list[tuple[int, int]]:
        return [(k, m.y[n, k, a]) for k in states if a in y_at.get((n, k), ())]

    m.one = pyo.Constraint(expr=pyo.quicksum(m.z[p] for p in d.placements) == 1)
    m.reach = pyo.Constraint(
        range(1, d.n_max + 1), rule=lambda m, n: m.r[n] == pyo.quicksum(v for _, v in xs(n - 1, COMPUTE))
    )
    check()

    # i.i.d.: scalar wait totals keep each balance row O(1) long instead of O(K).
    if iid:
        m.w_int = pyo.Var([n for n in epochs if xs(n, WAIT)], within=pyo.NonNegativeReals)
        m.w_term = pyo.Var([n for n in epochs if ys(n, WAIT)], within=pyo.NonNegativeReals)
        m.w_int_def = pyo.Constraint(
            list(m.w_int.index_set()), rule=lambda m, n: m.w_int[n] == pyo.quicksum(v for _, v in xs(n, WAIT))
        )
        m.w_term_def = pyo.Constraint(
            list(m.w_term.index_set()), rule=lambda m, n: m.w_term[n] == pyo.quicksum(v for _, v in ys(n, WAIT))
        )
        check()

    p = d.probs

    def draw(pairs: list[tuple[int, pyo.Var]], total: pyo.Var | None, k: int, P: NDArray[np.float64] | None):
        """T(v)_k: the mass arriving in state k after leaving the states in ``pairs`` by the
        move whose matrix is ``P`` (unused for i.i.d.)."""
        if iid:
            assert p is not None
            return float(p[k]) * total if total is not None and p[k] != 0 else 0.0
        if not pairs:
            return 0.0
        assert P is not None
        col = P[:, k]
        return pyo.quicksum(float(col[j]) * v for j, v in pairs if col[j] != 0)

    def arrivals(n: int, k: int):
        inflow = float(d.entry[n, k])
        if n == 0:
            return inflow
        P = None if iid else d.steps[n - 1]  # type: ignore[index]
        return inflow + draw(xs(n - 1, COMPUTE), m.r[n], k, P)

    def flow_int(m, n, k):
        if late():
            return pyo.Constraint.Skip
        lhs = pyo.quicksum(m.x[n, k, a] for a in x_at.get((n, k), ()))
        if d.terminal[n]:
            lhs = lhs + m.e[n, k]
        rec = draw(xs(n, WAIT), m.w_int[n] if iid and n in m.w_int else None, k, d.wait_step)
        return lhs == arrivals(n, k) + rec

    def flow_term(m, n, k):
        if late():
            return pyo.Constraint.Skip
        lhs = pyo.quicksum(m.y[n, k, a] for a in y_at.get((n, k), ()))
        inflow = m.e[n, k] if d.has_interior(n) else arrivals(n, k)
        rec = draw(ys(n, WAIT), m.w_term[n] if iid and n in m.w_term else None, k, d.wait_step)
        return lhs == inflow + rec

    check()
    interior_epochs = [n for n in epochs if d.has_interior(n)]
    terminal_epochs = [n for n in epochs if d.terminal[n]]
    m.flow_int = pyo.Constraint(interior_epochs, list(states), rule=flow_int)
    check()
    m.flow_term = pyo.Constraint(terminal_epochs, list(states), rule=flow_term)
    check()

    def later(n: int):
        return pyo.quicksum(m.z[q] for q in d.later(n))

    m.link_compute = pyo.Constraint(
        [n for n in interior_epochs if not d.visits_link(n)],
        rule=lambda m, n: pyo.Constraint.Skip if late() else m.r[n + 1] <= d.mass * later(n),
    )
    check()
    m.link_visits = pyo.Constraint(
        [n for n in interior_epochs if d.visits_link(n)],
        rule=lambda m, n: (
            pyo.Constraint.Skip
            if late()
            else pyo.quicksum(m.x[n, k, a] for k in states for a in x_at.get((n, k), ())) <= d.mass * later(n)
        ),
    )
    check()
    m.link_terminal = pyo.Constraint(
        [n for n in terminal_epochs if d.has_interior(n)],
        rule=lambda m, n: pyo.quicksum(m.e[n, k] for k in states) <= d.mass * m.z[n],
    )

    def weighted(stop: NDArray[np.float64], wait: float):
        # Python floats: a NumPy scalar times a Pyomo variable takes NumPy's ufunc path,
        # about 40 us a term (half the build of a 1,000-layer chain).
        terms = [float(stop[n, k]) * m.x[n, k, a] for n, k, a in x_idx if a == STOP and stop[n, k] != 0]
        terms += [float(stop[n, k]) * m.y[n, k, a] for n, k, a in y_idx if a == STOP and stop[n, k] != 0]
        if wait != 0:
            terms += [wait * m.x[i] for i in x_idx if i[2] == WAIT]
            terms += [wait * m.y[i] for i in y_idx if i[2] == WAIT]
        return pyo.quicksum(terms)

    m.task_cost = pyo.Expression(expr=weighted(d.Y, d.wait_cost))
    check()
    m.download = pyo.Expression(expr=pyo.quicksum(float(d.download_per_task[q]) * m.z[q] for q in d.placements))
    m.phi = pyo.Expression(expr=m.task_cost + m.download)
    m.latency_s = pyo.Expression(expr=weighted(d.stop_latency_s, d.wait_latency_s))
    check()
    m.energy_j = pyo.Expression(expr=weighted(d.stop_energy_j, d.wait_energy_j))
    check()
    # QoS rows divided by their bound: coefficients in seconds or joules can be far below
    # HiGHS's small_matrix_value, relative to the bound they are of order one.
    if d.qos is not None and d.qos.max_latency_s is not None:
        b = float(d.qos.max_latency_s)
        m.qos_latency = pyo.Constraint(expr=weighted(d.stop_latency_s / b, d.wait_latency_s / b) <= 1.0)
    if d.qos is not None and d.qos.max_energy_j is not None:
        b = float(d.qos.max_energy_j)
        m.qos_energy = pyo.Constraint(expr=weighted(d.stop_energy_j / b, d.wait_energy_j / b) <= 1.0)
    m.objective = pyo.Objective(expr=m.phi / d.scale, sense=pyo.minimize)
    return m


# ----------------------------------------------------------------------------- solutions


@dataclass(frozen=True, eq=False)
class MipSolution:
    """Variable values of a solved model, as arrays.

    Attributes
    ----------
    z : dict
        Placement -> value of :math:`z_M`.
    interior, terminal : NDArray[np.float64]
        ``(Mbar + 1, K, 3)`` occupation of the two copies (0 where no variable).
    entry : NDArray[np.float64]
        ``(Mbar + 1, K)`` terminal entries :math:`e_{n,k}`.
    """

    z: dict[int, float]
    interior: NDArray[np.float64]
    terminal: NDArray[np.float64]
    entry: NDArray[np.float64]

    @property
    def visits(self) -> NDArray[np.float64]:
        """Occupation of each (epoch, state, action), both copies summed: ``(Mbar + 1, K, 3)``."""
        return self.interior + self.terminal

    @property
    def placement(self) -> int:
        """The chosen placement: the largest :math:`z_M` (ties: smaller :math:`M`)."""
        return max(self.z, key=lambda q: (self.z[q], -q))


def read_solution(model: pyo.ConcreteModel) -> MipSolution:
    """The values currently loaded in ``model``'s variables (``None`` values read as 0)."""
    d: MipData = model.coopt_data
    shape = (d.n_max + 1, d.n_states, 3)
    interior, terminal = np.zeros(shape), np.zeros(shape)
    entry = np.zeros(shape[:2])
    for (n, k, a), v in model.x.items():
        interior[n, k, a] = v.value or 0.0
    for (n, k, a), v in model.y.items():
        terminal[n, k, a] = v.value or 0.0
    for (n, k), v in model.e.items():
        entry[n, k] = v.value or 0.0
    z = {q: float(model.z[q].value or 0.0) for q in d.placements}
    return MipSolution(z, interior, terminal, entry)


def objective_from_values(d: MipData, sol: MipSolution) -> float:
    """:math:`\\Phi` recomputed from variable values in plain NumPy (no Pyomo expression)."""
    v = sol.visits
    task = float(np.sum(d.Y * v[:, :, STOP]) + d.wait_cost * np.sum(v[:, :, WAIT]))
    return task + sum(d.download_per_task[q] * sol.z[q] for q in d.placements)


def expectations_from_values(d: MipData, sol: MipSolution) -> dict[str, float]:
    """Expected task cost, latency (s) and device energy (J) from variable values."""
    v = sol.visits
    waits = float(np.sum(v[:, :, WAIT]))
    return {
        "task_cost": float(np.sum(d.Y * v[:, :, STOP])) + d.wait_cost * waits,
        "latency_s": float(np.sum(d.stop_latency_s * v[:, :, STOP])) + d.wait_latency_s * waits,
        "energy_j": float(np.sum(d.stop_energy_j * v[:, :, STOP])) + d.wait_energy_j * waits,
    }


def flow_residual(d: MipData, sol: MipSolution) -> float:
    """Largest violation of any row of the model by ``sol``, recomputed in NumPy.

    Checks nonnegativity, :math:`\\sum z = 1`, both balance rows of every copy, the
    linking rows and the QoS rows (QoS violations relative to the bound).
    """
    x, y, e = sol.interior, sol.terminal, sol.entry
    worst = max(0.0, -float(min(x.min(), y.min(), e.min(), min(sol.z.values()))))
    worst = max(worst, abs(sum(sol.z.values()) - 1.0))

    def draw(v: NDArray[np.float64], P: NDArray[np.float64] | None) -> NDArray[np.float64]:
        if d.probs is not None:
            return d.probs * v.sum()
        return v @ P if P is not None else np.zeros_like(v)

    for n in range(d.n_max + 1):
        step = None if d.steps is None or n == 0 else d.steps[n - 1]
        arrive = d.entry[n] + (draw(x[n - 1, :, COMPUTE], step) if n > 0 else 0.0)
        later = sum(sol.z[q] for q in d.later(n))
        if d.has_interior(n):
            lhs = x[n].sum(axis=1) + (e[n] if d.terminal[n] else 0.0)
            worst = max(worst, float(np.abs(lhs - arrive - draw(x[n, :, WAIT], d.wait_step)).max()))
            worst = max(worst, float(x[n, :, COMPUTE].sum() - d.mass * later))
            if d.visits_link(n):
                worst = max(worst, float(x[n].sum() - d.mass * later))
        if d.terminal[n]:
            inflow = e[n] if d.has_interior(n) else arrive
            worst = max(worst, float(np.abs(y[n].sum(axis=1) - inflow - draw(y[n, :, WAIT], d.wait_step)).max()))
            if d.has_interior(n):
                worst = max(worst, float(e[n].sum() - d.mass * sol.z[n]))
        worst = max(worst, float(np.abs(x[n][~d.interior_allowed[n]]).max(initial=0.0)))
        worst = max(worst, float(np.abs(y[n][~d.terminal_allowed[n]]).max(initial=0.0)))
    if d.qos is not None:
        ex = expectations_from_values(d, sol)
        for key, got in (("max_latency_s", ex["latency_s"]), ("max_energy_j", ex["energy_j"])):
            bound = getattr(d.qos, key)
            if bound is not None:
                worst = max(worst, (got - bound) / bound)
    return worst


@dataclass(frozen=True, eq=False)
class PolicyTable:
    """The (possibly randomised) splitting policy of a solution at its placement.

    Attributes
    ----------
    placement : int
        :math:`M`.
    visits : NDArray[np.float64]
        ``(M + 1, K, 3)`` expected visits.
    probs : NDArray[np.float64]
        ``(M + 1, K, 3)``: :math:`\\pi(a|n,k)`; ``nan`` rows where the state is never
        reached (fewer than :data:`REACH_TOL` expected visits).
    """

    placement: int
    visits: NDArray[np.float64]
    probs: NDArray[np.float64]

    @property
    def reached(self) -> NDArray[np.bool_]:
        """``(M + 1, K)``: states visited with positive probability."""
        return ~np.isnan(self.probs[:, :, 0])

    def randomised(self, tol: float = 1e-7) -> list[tuple[int, int, NDArray[np.float64]]]:
        """``(n, k, probs)`` of the reached states where no action has probability >= 1 - tol."""
        out = []
        for n, k in zip(*np.nonzero(self.reached)):
            if self.probs[n, k].max() < 1.0 - tol:
                out.append((int(n), int(k), self.probs[n, k]))
        return out

    def actions(self) -> NDArray[np.int8]:
        """The most likely action per state (``STOP`` where never reached), ``(M + 1, K)``."""
        act = np.full(self.probs.shape[:2], STOP, dtype=np.int8)
        reached = self.reached
        act[reached] = np.argmax(self.probs[reached], axis=1)
        return act

    def completed_probs(self) -> NDArray[np.float64]:
        """``probs`` with unreached states set to stop (for exact evaluation)."""
        out = self.probs.copy()
        out[~self.reached] = np.eye(3)[STOP]
        return out


def policy_table(sol: MipSolution, placement: int | None = None) -> PolicyTable:
    """The policy :math:`\\pi(a|n,k) = v_{n,k,a} / \\sum_a v_{n,k,a}` at the chosen placement."""
    m = sol.placement if placement is None else placement
    visits = np.clip(sol.visits[: m + 1], 0.0, None)
    total = visits.sum(axis=2, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        probs = np.where(total > REACH_TOL, visits / total, np.nan)
    return PolicyTable(m, visits, probs)


def model_size(model: pyo.ConcreteModel, nonzeros: bool = True) -> dict[str, int]:
    """Rows, columns, binaries (and nonzeros, which take a pass over every row) as built."""
    from pyomo.repn import generate_standard_repn

    cols = sum(len(v) for v in model.component_objects(pyo.Var, active=True))
    rows = sum(len(c) for c in model.component_objects(pyo.Constraint, active=True))
    out = {"rows": rows, "columns": cols, "binaries": len(model.z)}
    if nonzeros:
        out["nonzeros"] = sum(
            len(generate_standard_repn(c.body, quadratic=False).linear_vars)
            for c in model.component_data_objects(pyo.Constraint, active=True)
        )
    return out


__all__ = [
    "MipData",
    "MipSolution",
    "PolicyTable",
    "build_placement_model",
    "expectations_from_values",
    "flow_residual",
    "model_size",
    "objective_from_values",
    "osla_actions",
    "placement_data",
    "policy_table",
    "read_solution",
]
