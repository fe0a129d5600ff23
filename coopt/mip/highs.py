"""The one module that calls HiGHS, through Pyomo's solver layer (``pyomo.contrib.solver``).

:func:`solve_mip` solves a model from :func:`coopt.mip.formulation.build_placement_model` and
returns a frozen :class:`PlacementResult` that keeps *why HiGHS stopped*
(:class:`Termination`) apart from *whether a solution exists* (``has_solution``). A
time limit is reported as ``time_limit`` with or without an incumbent, never as
optimal. :func:`solve_fixed` re-solves the same model with the placement fixed (an
LP), reusing the persistent solver.

Gap. For an incumbent objective :math:`\\Phi_{inc}` and a proven lower bound
:math:`\\Phi_{lb}` (both unscaled, cost per task),
``gap = (Phi_inc - Phi_lb) / |Phi_inc|`` (0 when both are 0; ``inf`` without a finite
bound; ``None`` without an incumbent). It is HiGHS's relative MIP gap; a run is
``optimal`` when HiGHS proves ``gap <= mip_gap``.

Tolerances. The coopt MIP must reproduce enumeration to ~1e-9, so HiGHS runs with
primal, dual and integrality tolerances of 1e-9 for the MIP (defaults 1e-7, 1e-7,
1e-6) and 1e-10 for the LPs with a fixed placement (with 1e-9 a row violated by 4e-10
moved one LP objective of data/resnet50.toml by 1.5e-9; the MIP's branch and bound is
less reliable at 1e-10), and absolute gap 0 (default 1e-6, which is large against costs
of order 1e-3); the model's objective is scaled to order one
(:attr:`coopt.mip.data.MipData.scale`). See :data:`PRIMARY_OPTIONS` for the search settings.
A solver's claim of optimality is not taken on trust: :mod:`coopt.mip.method` checks
the proven bound against an exact LP of every placement and re-solves with
:data:`FALLBACK_OPTIONS` when they disagree.

Output. HiGHS writes its log and warnings from C++ to file descriptor 1. Pyomo captures
them around its own set-up and solve calls, :func:`load_model` around the rows it adds,
so ``coopt solve --json`` prints nothing but the result. HiGHS ignores matrix entries at
or below its ``small_matrix_value``; coopt sets it to 1e-12
(:data:`coopt.mip.data.SMALL_FLOW`, HiGHS's smallest) and its model has no positive entry at or below that
(:func:`coopt.mip.data.lp_law`).

Time limit. :attr:`MipOptions.time_limit` is the wall time of the whole ``mip`` method
(:class:`Deadline`): building the model, handing it to HiGHS (:func:`load_model`, in
chunks of rows, since Pyomo's translation is the slowest step on long chains), the MIP,
the per-placement LPs and any re-solve each get what is left, and the
method raises :class:`~coopt.errors.NoSolutionError` naming the step where it ran out.
HiGHS itself may overrun its share slightly (it checks its clock between phases).

Tested with Pyomo 6.10.1 and highspy 1.16.0 (pins in ``pyproject.toml``). Pyomo and
highspy are imported only when a solve is requested.
"""

from __future__ import annotations

import contextlib
import enum
import io
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from coopt.errors import InstanceError, NoSolutionError, SolverUnavailableError
from coopt.mip.data import SMALL_FLOW
from coopt.mip.solution import MipSolution, PolicyTable, policy_table, read_solution
from coopt.progress import progress_bar, terminal_stream

if TYPE_CHECKING:  # pragma: no cover
    import pyomo.environ as pyo

MIP_TOLERANCE = 1e-9
LP_TOLERANCE = 1e-10
# Primary MIP settings. Sub-MIP heuristics (RINS, RENS, root reduced cost) re-solve large
# sub-models to improve incumbents that branching on the few placement binaries finds
# faster (N = 50, K = 64: 3.9 s of HiGHS time instead of 10.6 s, bench/bench_mip.py).
# Restarts are off because with them one shipped example (data/vgg16.toml at tolerance
# 1e-10) was pruned wrongly; with these settings 90 example solves (every wait mode,
# K = 8..64) matched enumeration to 6e-16.
PRIMARY_OPTIONS = {
    "mip_heuristic_run_rins": False,
    "mip_heuristic_run_rens": False,
    "mip_heuristic_run_root_reduced_cost": False,
    "mip_allow_restart": False,
}
# A second, different search path for when an exact LP contradicts the first run's bound.
FALLBACK_OPTIONS = {"mip_allow_restart": False}


class Termination(enum.StrEnum):
    """Why HiGHS stopped (independent of whether a solution exists)."""

    OPTIMAL = "optimal"
    INFEASIBLE = "infeasible"
    INFEASIBLE_OR_UNBOUNDED = "infeasible_or_unbounded"
    UNBOUNDED = "unbounded"
    TIME_LIMIT = "time_limit"
    ITERATION_LIMIT = "iteration_limit"
    OBJECTIVE_LIMIT = "objective_limit"
    INTERRUPTED = "interrupted"
    ERROR = "error"
    UNKNOWN = "unknown"


# The one table from Pyomo's TerminationCondition (by member name) to ours (also used by
# coopt.fleet.knapsack).
TERMINATION: dict[str, Termination] = {
    "convergenceCriteriaSatisfied": Termination.OPTIMAL,
    "provenInfeasible": Termination.INFEASIBLE,
    "locallyInfeasible": Termination.INFEASIBLE,
    "infeasibleOrUnbounded": Termination.INFEASIBLE_OR_UNBOUNDED,
    "unbounded": Termination.UNBOUNDED,
    "maxTimeLimit": Termination.TIME_LIMIT,
    "iterationLimit": Termination.ITERATION_LIMIT,
    "objectiveLimit": Termination.OBJECTIVE_LIMIT,
    "minStepLength": Termination.ERROR,
    "interrupted": Termination.INTERRUPTED,
    "error": Termination.ERROR,
    "licensingProblems": Termination.ERROR,
    "emptyModel": Termination.UNKNOWN,
    "unknown": Termination.UNKNOWN,
}
_TERMINATION = TERMINATION  # the former private name, kept for callers not yet moved


@dataclass(frozen=True)
class MipOptions:
    """Solver options (one typed config).

    Attributes
    ----------
    time_limit : float or None
        Wall-time seconds for the whole ``mip`` method: build, translation, every
        HiGHS run (``None``: no limit; see :class:`Deadline`).
    mip_gap : float
        Relative gap at which HiGHS may stop and call the incumbent optimal (see the
        module docstring; default 1e-9).
    threads : int or None
        HiGHS threads (``None``: HiGHS's choice).
    """

    time_limit: float | None = None
    mip_gap: float = 1e-9
    threads: int | None = None

    def __post_init__(self) -> None:
        if self.time_limit is not None and not (
            isinstance(self.time_limit, (int, float)) and self.time_limit > 0 and math.isfinite(self.time_limit)
        ):
            raise InstanceError(f"--time-limit = {self.time_limit!r}: must be a number of seconds > 0")
        if not (isinstance(self.mip_gap, (int, float)) and 0 <= self.mip_gap < 1):
            raise InstanceError(f"--mip-gap = {self.mip_gap!r}: must be a number in [0, 1)")
        if self.threads is not None and (
            isinstance(self.threads, bool) or not isinstance(self.threads, int) or self.threads < 1
        ):
            raise InstanceError(f"--threads = {self.threads!r}: must be an integer >= 1")


class Deadline:
    """The wall-time budget of one run of the ``mip`` method, counted from creation.

    :meth:`check` raises :class:`~coopt.errors.NoSolutionError` once ``limit_s`` has
    passed, naming the step; :meth:`options` gives a HiGHS run the time that is left.
    """

    def __init__(self, limit_s: float | None) -> None:
        self.limit_s = limit_s
        self.start = time.perf_counter()

    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def passed(self) -> bool:
        return self.limit_s is not None and self.elapsed() >= self.limit_s

    def check(self, step: str) -> None:
        """Raise :meth:`expired` if the limit has passed (``step``: what was running)."""
        if self.passed():
            raise self.expired(step)

    def expired(self, step: str) -> NoSolutionError:
        """The error of a run that ran out of time during ``step``."""
        return NoSolutionError(
            f"--time-limit {self.limit_s:g} s (wall time of the whole method) reached while {step}, "
            f"after {self.elapsed():.3g} s; raise --time-limit"
        )

    def options(self, options: MipOptions, step: str) -> MipOptions:
        """``options`` with the time left as HiGHS's limit (after :meth:`check`)."""
        self.check(step)
        if self.limit_s is None:
            return options
        return replace(options, time_limit=self.limit_s - self.elapsed())


MIP_BAR_DELAY_S = 2.0  # a MIP's bars appear once its whole run has lasted this long
MIP_BAR_INTERVAL_S = 0.2  # HiGHS calls its interrupt callback often; the bar is updated at most this often


class MipProgress:
    """Progress of one MIP run on stderr, shown on a terminal once the run has lasted
    :data:`MIP_BAR_DELAY_S` (nothing when stderr is piped or ``enabled`` is ``False``,
    as with ``--json``; :mod:`coopt.progress`).

    One bar per step, each replacing the last: :meth:`step` for counted steps (rows
    handed to HiGHS, per-placement LPs; tqdm's ETA), :meth:`search` around a HiGHS run
    of branch and bound. There HiGHS's MIP interrupt callback (highspy's
    ``cbMipInterrupt``) reports its running time, the incumbent (primal bound), the
    proven (dual) bound, the gap and the nodes; a branch and bound has no count of work
    left, so with a time limit the bar counts seconds against it and its ETA is the time
    left until the limit (an upper bound, HiGHS may prove optimality sooner), and without
    one it shows the elapsed time and the gap only. The bounds are shown unscaled
    (``scale``, e.g. :attr:`coopt.mip.data.MipData.scale`). A context manager.
    """

    def __init__(self, enabled: bool | None = False) -> None:
        self.start = time.perf_counter()
        self._stack = contextlib.ExitStack()
        self.file = self._stack.enter_context(terminal_stream(enabled))
        self.bar: Any = None

    @property
    def active(self) -> bool:
        return self.file is not None

    def __enter__(self) -> MipProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._close_bar()
        self._stack.close()

    def _close_bar(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def step(
        self,
        desc: str,
        total: float | None = None,
        unit: str = "it",
        *,
        seconds: bool = False,
        bar_format: str | None = None,
    ) -> None:
        """Start the bar of a new step (the previous one is closed)."""
        if not self.active:
            return
        self._close_bar()
        delay = max(0.0, MIP_BAR_DELAY_S - (time.perf_counter() - self.start))
        self.bar = progress_bar(
            total, desc, True, unit, delay_s=delay, file=self.file, unit_scale=seconds, bar_format=bar_format
        )

    def advance(self, n: float = 1) -> None:
        if self.bar is not None:
            self.bar.update(n)

    def building(self, deadline: Deadline) -> Deadline:
        """``deadline`` for :func:`coopt.mip.formulation.build_placement_model`, counting on
        a bar the rows it builds (the builder asks :meth:`Deadline.passed` once per flow
        row); ``deadline`` itself when no bar is drawn."""
        if not self.active:
            return deadline
        self.step("MIP: building the model", None, "row", bar_format="{desc}: {n_fmt} rows [{elapsed}]")
        return _CountingDeadline(deadline, self)

    @contextlib.contextmanager
    def search(self, solver: Any, desc: str, time_limit_s: float | None, scale: float = 1.0) -> Iterator[None]:
        """A bar fed by HiGHS's MIP callback while the persistent ``solver`` runs (class docstring)."""
        if not self.active:
            yield
            return
        highs = _highs(solver)
        if time_limit_s is None:
            self.step(desc, None, "s", seconds=True, bar_format="{desc}: {elapsed}{postfix}")
        else:
            self.step(desc + " (ETA <= time limit)", time_limit_s, "s", seconds=True)
        last = [-math.inf]

        def on_interrupt(event: Any) -> None:
            out = event.data_out
            now = float(out.running_time)
            if now - last[0] < MIP_BAR_INTERVAL_S:
                return
            last[0] = now
            self.bar.n = min(now, self.bar.total or math.inf)
            # redrawn here, at most every MIP_BAR_INTERVAL_S (tqdm's own update would wait for
            # its minimum interval), but not before the run has lasted MIP_BAR_DELAY_S
            shown = time.perf_counter() - self.start >= MIP_BAR_DELAY_S
            self.bar.set_postfix_str(_search_postfix(out, scale), refresh=shown)

        highs.cbMipInterrupt.subscribe(on_interrupt)
        try:
            yield
        finally:
            highs.cbMipInterrupt.unsubscribe(on_interrupt)
            self._close_bar()


class _CountingDeadline(Deadline):
    """A :class:`Deadline` whose :meth:`passed` also advances a :class:`MipProgress`."""

    def __init__(self, deadline: Deadline, progress: MipProgress) -> None:
        self.limit_s, self.start, self._progress = deadline.limit_s, deadline.start, progress

    def passed(self) -> bool:
        self._progress.advance()
        return super().passed()

    def check(self, step: str) -> None:  # between components: not a row
        if super().passed():
            raise self.expired(step)


def _search_postfix(out: Any, scale: float) -> str:
    """``gap 1.2e-03, incumbent 0.0123, bound 0.0121, 40 nodes`` from HiGHS's callback data."""
    primal, dual = float(out.mip_primal_bound), float(out.mip_dual_bound)
    parts = [f"gap {out.mip_gap:.2e}" if math.isfinite(primal) and math.isfinite(out.mip_gap) else "no incumbent yet"]
    if math.isfinite(primal):
        parts.append(f"incumbent {primal * scale:.6g}")
    if math.isfinite(dual):
        parts.append(f"bound {dual * scale:.6g}")
    parts.append(f"{int(out.mip_node_count):,} nodes")
    return ", ".join(parts)


def load_model(
    model: pyo.ConcreteModel,
    solver: Any,
    deadline: Deadline,
    rows_per_chunk: int = 200,
    progress: MipProgress | None = None,
) -> None:
    """Hand ``model`` to the persistent ``solver``, checking ``deadline`` between chunks of rows.

    The same HiGHS model as ``solver.set_instance(model)`` (rows in the same order,
    columns in order of first use), but Pyomo's translation, which takes longer than
    building the model on long chains, can stop at the time limit. Chunks are small
    because the linking rows of an N-layer chain hold O(N) terms each (200 of them
    took about 1 s at N = 1,000 on the loaded test machine). ``progress`` counts the rows.
    """
    import pyomo.environ as pyo
    from pyomo.common.tee import capture_output

    blocks = list(model.component_objects(pyo.Constraint, active=True))
    objectives = list(model.component_objects(pyo.Objective, active=True))
    rows = list(model.component_data_objects(pyo.Constraint, active=True, descend_into=True))
    for c in blocks + objectives:
        c.deactivate()
    try:
        solver.set_instance(model)  # variables and parameters only
    finally:
        for c in blocks + objectives:
            c.activate()
    # Pyomo captures HiGHS's output around set_instance and solve, not around
    # add_constraints, where HiGHS (C++, file descriptor 1) reports matrix entries it
    # ignores; stdout must carry only coopt's result, so the descriptors are captured here.
    with capture_output(io.StringIO(), capture_fd=True):
        _highs(solver).setOptionValue("small_matrix_value", SMALL_FLOW)
        if progress is not None:
            progress.step("MIP: handing the model to HiGHS", len(rows), "row")
        for i in range(0, len(rows), rows_per_chunk):
            deadline.check(f"handing the model to HiGHS ({i} of {len(rows)} rows)")
            solver.add_constraints(rows[i : i + rows_per_chunk])
            if progress is not None:
                progress.advance(len(rows[i : i + rows_per_chunk]))
        for obj in objectives:
            solver.set_objective(obj)


def _highs(solver: Any) -> Any:
    """The ``highspy.Highs`` object behind Pyomo's persistent interface.

    Pyomo applies ``solver_options`` only when it solves, after the rows are in; the
    option ``small_matrix_value`` (:data:`coopt.mip.data.SMALL_FLOW`) must be set before HiGHS first sees them.
    """
    highs = getattr(solver, "_solver_model", None)
    if highs is None or not hasattr(highs, "setOptionValue"):  # pragma: no cover - Pyomo changed
        raise SolverUnavailableError(
            "this Pyomo's HiGHS interface has no _solver_model; use the pinned 'pyomo>=6.8,<7'"
        )
    return highs


@dataclass(frozen=True, eq=False)
class PlacementResult:
    """One HiGHS run on a placement model.

    Attributes
    ----------
    termination : Termination
        Why HiGHS stopped.
    has_solution : bool
        Whether a feasible incumbent exists (then ``solution`` is loaded).
    objective : float or None
        :math:`\\Phi` of the incumbent (cost per task, unscaled).
    bound : float or None
        Proven lower bound on :math:`\\Phi`.
    gap : float or None
        Relative gap (module docstring).
    wall_time_s : float
        Wall time of the whole call (Pyomo's translation and HiGHS).
    highs_time_s : float or None
        HiGHS's own run time.
    solver : str
        ``"HiGHS x.y.z"``.
    placement : int or None
        The incumbent's :math:`M` (largest :math:`z_M`).
    policy : PolicyTable or None
        The incumbent's (possibly randomised) splitting policy at ``placement``.
    solution : MipSolution or None
        All variable values, for independent recomputation.
    nodes : int or None
        Branch-and-bound nodes (``None`` for an LP).
    """

    termination: Termination
    has_solution: bool
    objective: float | None
    bound: float | None
    gap: float | None
    wall_time_s: float
    highs_time_s: float | None
    solver: str
    placement: int | None
    policy: PolicyTable | None = field(repr=False, default=None)
    solution: MipSolution | None = field(repr=False, default=None)
    nodes: int | None = None

    @property
    def optimal(self) -> bool:
        return self.termination is Termination.OPTIMAL and self.has_solution


def relative_gap(objective: float | None, bound: float | None) -> float | None:
    """``(objective - bound) / |objective|`` (module docstring)."""
    if objective is None:
        return None
    if bound is None or not math.isfinite(bound):
        return math.inf
    if objective == 0:
        return 0.0 if bound == 0 else math.inf
    return max(0.0, (objective - bound) / abs(objective))


def require_solver() -> None:
    """Raise :class:`SolverUnavailableError` (one line) unless Pyomo and highspy import."""
    try:
        import pyomo.contrib.solver.solvers.highs  # noqa: F401
    except ImportError:
        raise SolverUnavailableError(
            "Pyomo is not installed: pip install 'pyomo>=6.8,<7' (needed by --method mip)"
        ) from None
    try:
        import highspy  # noqa: F401
    except ImportError:
        raise SolverUnavailableError(
            "HiGHS is not installed: pip install 'highspy>=1.16,<2' (needed by --method mip)"
        ) from None


def new_solver() -> Any:
    """A persistent Pyomo HiGHS interface (raises :class:`SolverUnavailableError`)."""
    require_solver()
    from pyomo.contrib.solver.solvers.highs import Highs

    opt = Highs()
    if not opt.available():
        raise SolverUnavailableError("HiGHS is not available: pip install 'highspy>=1.16,<2' (needed by --method mip)")
    return opt


def solver_version(opt: Any) -> str:
    return "HiGHS " + ".".join(str(v) for v in opt.version())


def _run(
    model: pyo.ConcreteModel,
    options: MipOptions,
    opt: Any,
    tolerance: float,
    settings: dict[str, Any],
    progress: MipProgress | None = None,
) -> PlacementResult:
    d = model.coopt_data
    start = time.perf_counter()
    watch = (
        progress.search(opt, "MIP: branch and bound", options.time_limit, d.scale)
        if progress is not None and getattr(opt, "_solver_model", None) is not None
        else contextlib.nullcontext()
    )
    with watch:
        res = _solve_call(model, options, opt, tolerance, settings)
    return _result(model, res, opt, time.perf_counter() - start)


def _solve_call(
    model: pyo.ConcreteModel, options: MipOptions, opt: Any, tolerance: float, settings: dict[str, Any]
) -> Any:
    return opt.solve(
        model,
        load_solutions=False,
        raise_exception_on_nonoptimal_result=False,
        time_limit=options.time_limit,
        rel_gap=options.mip_gap,
        abs_gap=0.0,
        threads=options.threads,
        solver_options={
            "primal_feasibility_tolerance": tolerance,
            "dual_feasibility_tolerance": tolerance,
            "mip_feasibility_tolerance": tolerance,
            "small_matrix_value": SMALL_FLOW,
            **settings,
        },
    )


def _result(model: pyo.ConcreteModel, res: Any, opt: Any, wall: float) -> PlacementResult:
    d = model.coopt_data
    termination = TERMINATION.get(res.termination_condition.name, Termination.UNKNOWN)
    has_solution = res.incumbent_objective is not None
    objective = bound = None
    solution = policy = None
    placement = None
    if has_solution:
        res.solution_loader.load_vars()
        solution = read_solution(model)
        placement = solution.placement
        policy = policy_table(solution, placement)
        objective = float(res.incumbent_objective) * d.scale
    if res.objective_bound is not None:
        bound = float(res.objective_bound) * d.scale
    nodes = getattr(res.extra_info, "mip_node_count", None)
    highs_time = getattr(res.timing_info, "highs_time", None)
    return PlacementResult(
        termination=termination,
        has_solution=has_solution,
        objective=objective,
        bound=bound,
        gap=relative_gap(objective, bound),
        wall_time_s=wall,
        highs_time_s=None if highs_time is None else float(highs_time),
        solver=solver_version(opt),
        placement=placement,
        policy=policy,
        solution=solution,
        nodes=None if nodes is None or nodes < 0 else int(nodes),
    )


def solve_mip(
    model: pyo.ConcreteModel,
    options: MipOptions | None = None,
    solver: Any | None = None,
    *,
    fallback: bool = False,
    progress: MipProgress | None = None,
) -> PlacementResult:
    """Solve a placement model with HiGHS.

    Parameters
    ----------
    model : pyomo.environ.ConcreteModel
        From :func:`coopt.mip.formulation.build_placement_model`.
    options : MipOptions, optional
        Time limit, relative gap, threads.
    solver : optional
        A persistent interface from :func:`new_solver` to reuse (e.g. across
        :func:`solve_fixed` calls on the same model).
    fallback : bool
        Use :data:`FALLBACK_OPTIONS` and the LP tolerance (a different search path).
    progress : MipProgress, optional
        Shows the branch and bound (gap, bounds, ETA to the time limit) while HiGHS runs;
        needs a ``solver`` that already holds the model (:func:`load_model`).

    Raises
    ------
    SolverUnavailableError
        Pyomo or highspy is not installed.
    """
    if fallback:
        return _run(model, options or MipOptions(), solver or new_solver(), LP_TOLERANCE, FALLBACK_OPTIONS, progress)
    return _run(model, options or MipOptions(), solver or new_solver(), MIP_TOLERANCE, PRIMARY_OPTIONS, progress)


def solve_fixed(
    model: pyo.ConcreteModel, placement: int, options: MipOptions | None = None, solver: Any | None = None
) -> PlacementResult:
    """Solve the model with :math:`z_M = 1` for ``placement`` and the other ``z`` 0 (an LP).

    The binaries are unfixed again afterwards, so the model can be solved as a MIP again.
    """
    z = model.z
    for q in z:
        z[q].fix(1.0 if q == placement else 0.0)
    try:
        return _run(model, options or MipOptions(), solver or new_solver(), LP_TOLERANCE, PRIMARY_OPTIONS)
    finally:
        for q in z:
            z[q].unfix()


__all__ = [
    "TERMINATION",
    "Deadline",
    "MipOptions",
    "MipProgress",
    "PlacementResult",
    "Termination",
    "load_model",
    "new_solver",
    "relative_gap",
    "require_solver",
    "solve_fixed",
    "solve_mip",
    "solver_version",
]
