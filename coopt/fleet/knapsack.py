r"""The fleet allocation as a Pyomo MIP (MODEL.md 11), solved with HiGHS.

Aggregated multiple-choice knapsack with two capacities: one integer variable
:math:`n_{g,p} \in \{0..\mathrm{count}_g\}` per kind :math:`g` and level pair :math:`p` with
:math:`c_{g,p}` finite and not dominated (:func:`coopt.fleet.knapsack_data.undominated`: no
pair with smaller shares costs as little; dropping those changes no optimum)::

    min  sum_{g,p} c[g,p] n[g,p] / scale
    s.t. sum_p n[g,p] = count_g           (every copy gets one pair)
         sum_{g,p} x_p n[g,p] <= 1         (band)
         sum_{g,p} y_p n[g,p] <= 1         (edge clock)

``scale`` (the largest finite cost) brings the objective to order one, as
:attr:`coopt.mip.data.MipData.scale` does for the placement MIP. The LP relaxation of
this model is the Lagrangian bound of MODEL.md 11 (:func:`coopt.fleet.allocation.lp_relaxation`).

:func:`build_knapsack_model` is a pure builder; :func:`solve_knapsack` runs HiGHS through
:func:`coopt.mip.highs.new_solver` with the tolerances and the status table of
:mod:`coopt.mip.highs` (a time limit is ``time_limit``, never optimal) and reads the counts.
HiGHS's presolve is off: on this model it is the bottleneck (4.0 s of a 4.1 s solve for
G = 10 kinds on 17 x 17 levels, 0.09 s without it; bench/bench_fleet_alloc.py), and the
model has nothing for it to remove once dominated pairs are gone.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from coopt.fleet.knapsack_data import KnapsackData, undominated
from coopt.mip.highs import (
    MIP_TOLERANCE,
    TERMINATION,  # the one status table of the HiGHS boundary, shared on purpose
    MipOptions,
    MipProgress,
    Termination,
    new_solver,
    relative_gap,
    solver_version,
)

if TYPE_CHECKING:  # pragma: no cover
    import pyomo.environ as pyo


def build_knapsack_model(data: KnapsackData) -> pyo.ConcreteModel:
    """The Pyomo model of the module docstring (no solve inside)."""
    import pyomo.environ as pyo

    keep = undominated(data)
    scale = float(np.max(np.abs(data.cost[keep]))) or 1.0
    index = [(int(g), int(p)) for g, p in zip(*np.nonzero(keep))]
    m = pyo.ConcreteModel(name="fleet_allocation")
    m.coopt_data = data
    m.coopt_scale = scale
    m.GP = pyo.Set(initialize=index, dimen=2, ordered=True)
    m.n = pyo.Var(m.GP, domain=pyo.NonNegativeIntegers, bounds=lambda _, g, p: (0, int(data.counts[g])))
    by_kind: list[list[int]] = [[] for _ in range(data.kinds)]
    for g, p in index:
        by_kind[g].append(p)
    m.K = pyo.RangeSet(0, data.kinds - 1)
    m.one_pair = pyo.Constraint(m.K, rule=lambda m, g: sum(m.n[g, p] for p in by_kind[g]) == int(data.counts[g]))

    def capacity(share: NDArray[np.float64]) -> Any:
        terms = [float(share[p]) * m.n[g, p] for g, p in index if share[p] > 0]
        # no kept pair uses this share: the row holds trivially (Pyomo refuses a constant row)
        return pyo.Constraint(expr=sum(terms) <= 1) if terms else pyo.Constraint(rule=pyo.Constraint.Skip)

    m.band = capacity(data.x)
    m.edge = capacity(data.y)
    m.obj = pyo.Objective(expr=sum(float(data.cost[g, p]) / scale * m.n[g, p] for g, p in index), sense=pyo.minimize)
    return m


@dataclass(frozen=True, eq=False)
class KnapsackResult:
    """One HiGHS run on a knapsack model.

    Attributes
    ----------
    termination : Termination
        Why HiGHS stopped.
    has_solution : bool
        Whether an incumbent exists (then ``n`` holds it).
    objective, bound, gap : float or None
        Incumbent :math:`F`, HiGHS's proven bound (unscaled), relative gap
        (:func:`coopt.mip.highs.relative_gap`).
    n : NDArray[np.int64] or None, shape (G, P)
        The incumbent's counts (rounded from HiGHS's values, which are integral within
        its tolerance).
    wall_time_s : float
        Translation and HiGHS.
    solver : str
        ``"HiGHS x.y.z"``.
    nodes : int or None
        Branch-and-bound nodes.
    """

    termination: Termination
    has_solution: bool
    objective: float | None
    bound: float | None
    gap: float | None
    n: NDArray[np.int64] | None = field(repr=False)
    wall_time_s: float
    solver: str
    nodes: int | None = None

    @property
    def optimal(self) -> bool:
        return self.termination is Termination.OPTIMAL and self.has_solution


def solve_knapsack(
    model: pyo.ConcreteModel,
    options: MipOptions | None = None,
    solver: Any | None = None,
    progress: bool | None = False,
) -> KnapsackResult:
    """Solve a model of :func:`build_knapsack_model` with HiGHS.

    ``progress``: a bar on stderr with HiGHS's gap and bounds (and the ETA to the time
    limit) once the solve has lasted 2 s (:class:`coopt.mip.highs.MipProgress`; ``None``:
    on a terminal only).

    Raises
    ------
    SolverUnavailableError
        Pyomo or highspy is not installed.
    """
    options = options or MipOptions()
    opt = solver or new_solver()
    data: KnapsackData = model.coopt_data
    start = time.perf_counter()
    with MipProgress(progress) as bar:
        if bar.active and getattr(opt, "_model", None) is not model:  # callbacks live on the HiGHS object
            opt.set_instance(model)
        with bar.search(opt, "fleet MIP: branch and bound", options.time_limit, model.coopt_scale):
            res = _solve_call(model, options, opt)
    wall = time.perf_counter() - start
    return _result(model, data, res, opt, wall)


def _solve_call(model: pyo.ConcreteModel, options: MipOptions, opt: Any) -> Any:
    return opt.solve(
        model,
        load_solutions=False,
        raise_exception_on_nonoptimal_result=False,
        time_limit=options.time_limit,
        rel_gap=options.mip_gap,
        abs_gap=0.0,
        threads=options.threads,
        solver_options={
            "primal_feasibility_tolerance": MIP_TOLERANCE,
            "dual_feasibility_tolerance": MIP_TOLERANCE,
            "mip_feasibility_tolerance": MIP_TOLERANCE,
            "presolve": "off",
        },
    )


def _result(model: pyo.ConcreteModel, data: KnapsackData, res: Any, opt: Any, wall: float) -> KnapsackResult:
    termination = TERMINATION.get(res.termination_condition.name, Termination.UNKNOWN)
    has_solution = res.incumbent_objective is not None
    n = None
    objective = bound = None
    if has_solution:
        res.solution_loader.load_vars()
        n = np.zeros(data.cost.shape, dtype=np.int64)
        for (g, p), var in model.n.items():
            n[g, p] = round(var.value or 0.0)
        # F from the rounded counts (exact costs), not HiGHS's scaled floating objective
        objective = float(np.sum(np.where(n > 0, data.cost, 0.0) * n))
    if res.objective_bound is not None:
        bound = float(res.objective_bound) * model.coopt_scale
    nodes = getattr(res.extra_info, "mip_node_count", None)
    return KnapsackResult(
        termination=termination,
        has_solution=has_solution,
        objective=objective,
        bound=bound,
        gap=relative_gap(objective, bound),
        n=n,
        wall_time_s=wall,
        solver=solver_version(opt),
        nodes=None if nodes is None or nodes < 0 else int(nodes),
    )


__all__ = ["KnapsackResult", "build_knapsack_model", "solve_knapsack"]
