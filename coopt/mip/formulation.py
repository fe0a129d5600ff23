r"""The joint placement-and-splitting MIP of docs/model.md section 5, as a Pyomo model.

:func:`build_placement_model` is a pure builder (no solver inside; :mod:`coopt.mip.highs`
solves). The numbers it needs are computed first, in plain NumPy, by
:func:`coopt.mip.data.placement_data`; :func:`coopt.mip.solution.objective_from_values` and
:func:`coopt.mip.solution.flow_residual`
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

Objective (scaled by a constant, see :attr:`coopt.mip.data.MipData.scale`)::

    Phi = sum_{n,k} Y_n(k) (x[n,k,S] + y[n,k,S]) + c_w sum (x[.,.,W] + y[.,.,W])
          + sum_M z_M D(M) / K_tasks

QoS rows (:mod:`coopt.dp.constraints`): :math:`\sum \ell_n(k)(x+y)_{n,k,S} + \tau \sum
(x+y)_{W} \le` ``max_latency_s`` and the same with :math:`\epsilon` and
:math:`P_{idle}\tau` for ``max_energy_j``, each row divided by its bound (right-hand side 1).

Small probabilities. HiGHS ignores matrix entries at or below its ``small_matrix_value``
and says so on stdout. coopt lowers that option to 1e-12, HiGHS's smallest, and moves
every positive probability of the LP's laws at or below :data:`~coopt.mip.data.SMALL_FLOW` = 1e-12 onto
the largest entry of its row (:func:`~coopt.mip.data.lp_law`; counted in
:attr:`~coopt.mip.data.MipData.small_flows`), so
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

import numpy as np
import pyomo.environ as pyo
from numpy.typing import NDArray

from coopt.dp.stopping import COMPUTE, STOP, WAIT
from coopt.mip.data import BuildDeadline, MipData, placement_data
from coopt.model.constraints import QoS
from coopt.model.problem import Problem


def build_placement_model(
    problem: Problem,
    *,
    qos: QoS | None = None,
    placements: list[int] | None = None,
    extra_entry: NDArray[np.float64] | None = None,
    deadline: BuildDeadline | None = None,
) -> pyo.ConcreteModel:
    """Build the joint placement MIP (module docstring) for a prepared problem. No solve inside.

    Parameters
    ----------
    problem : Problem
        From :func:`coopt.model.problem.prepare` (its cost model and finite channel).
    qos : QoS or None, optional
        QoS bounds to impose (:mod:`coopt.mip.method` passes the instance's
        ``[constraints]``); default: none.
    placements, extra_entry
        See :func:`coopt.mip.data.placement_data`.
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
        ``energy_j``; and the :class:`~coopt.mip.data.MipData` as ``model.coopt_data``.
    """
    data = placement_data(problem, placements=placements, qos=qos, extra_entry=extra_entry)
    return _assemble(data, deadline)


def _assemble(d: MipData, deadline: BuildDeadline | None = None) -> pyo.ConcreteModel:
    """The Pyomo model of :class:`~coopt.mip.data.MipData` (module docstring's rows, in order)."""
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


__all__ = ["build_placement_model", "model_size"]
