"""The user-facing verbs: :func:`solve` and the pieces studies script with.

``solve`` dispatches on ``method``: ``"enumeration"`` (backward induction or OSLA
evaluation for every feasible placement, the reference), and the methods that later
modules add. Pyomo and SymPy are imported only by the methods that need them, so the
enumeration route starts fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from coopt.dp.enumeration import solve_enumeration
from coopt.dp.results import SolveResult
from coopt.errors import InstanceError
from coopt.model.instance import Instance
from coopt.model.problem import Problem, prepare
from coopt.model.vocabulary import Method
from coopt.progress import bar_enabled, progress_bar

if TYPE_CHECKING:  # pragma: no cover
    from coopt.mip.highs import MipOptions

METHODS = tuple(Method)
ENUMERATION_BAR_DELAY_S = 2.0
"""An enumeration shows its bar once it has run this long (a short solve draws nothing)."""


def solve(
    instance: Instance,
    *,
    rule: str | None = None,
    method: str = "enumeration",
    mip_options: MipOptions | None = None,
    progress: bool | None = False,
) -> SolveResult:
    """Solve the joint placement and splitting problem of an instance.

    Parameters
    ----------
    instance : Instance
        From :func:`coopt.load_instance`.
    rule : {"optimal", "osla"}, optional
        Overrides ``placement.rule``.
    method : str
        ``"enumeration"``: every feasible placement solved exactly, then the argmin.
        ``"mip"``: one mixed-integer program solved by HiGHS (:mod:`coopt.mip.formulation`); it
        also imposes the instance's ``[constraints]`` (QoS bounds).
        ``"closed-form"``: the closed-form placement of the equal-neuron MLP under OSLA
        (:mod:`coopt.symbolic.closed_form`, SymPy); an :class:`InstanceError` names the condition
        that fails when it does not apply.
    mip_options : coopt.mip.highs.MipOptions, optional
        Time limit, relative gap and threads of the ``"mip"`` method.
    progress : bool or None
        A progress bar on stderr once the run has lasted 2 s: ``"mip"``, HiGHS's gap and
        bounds and the ETA to the time limit; ``"enumeration"`` on an i.i.d. channel, the
        all-placement sweep with its ETA. ``None``: only when stderr is a terminal.

    Returns
    -------
    SolveResult
        :math:`M^*`, :math:`\\Phi(M^*)`, :math:`\\Phi(M)` for every :math:`M`, the policy
        at :math:`M^*`, the expected cost parts and the baselines.
    """
    if rule is not None:
        instance = instance.with_rule(rule)
    _check_method(method, mip_options)  # before prepare: a bad option costs no work
    return solve_problem(prepare(instance), method=method, mip_options=mip_options, progress=progress)


def solve_problem(
    problem: Problem,
    *,
    method: str = "enumeration",
    mip_options: MipOptions | None = None,
    progress: bool | None = False,
) -> SolveResult:
    """:func:`solve` of a problem already prepared (:func:`coopt.model.problem.prepare`).

    For a study that needs the :class:`~coopt.model.problem.Problem` as well as the
    result (to simulate, or to solve under both rules with
    :meth:`~coopt.model.problem.Problem.with_rule`): it is prepared once.
    """
    _check_method(method, mip_options)
    if method == "mip":
        from coopt.mip.method import solve_mip_method

        return solve_mip_method(problem, mip_options, progress)
    if method == "closed-form":
        from coopt.symbolic.closed_form import solve_closed_form  # imports SymPy

        return solve_closed_form(problem)
    if not bar_enabled(progress):
        return solve_enumeration(problem)
    with progress_bar(None, "solve", True, unit="step", delay_s=ENUMERATION_BAR_DELAY_S) as bar:

        def tick(done: int, total: int) -> None:
            bar.total = total  # the sweep knows its size: horizon values (i.i.d.) or epochs (Markov)
            bar.update(done)

        return solve_enumeration(problem, tick=tick)


def _check_method(method: str, mip_options: MipOptions | None) -> None:
    """A known method, HiGHS present for ``"mip"``, and MIP options only with it."""
    if method not in METHODS:
        raise InstanceError(f"method = {method!r}: must be one of {', '.join(METHODS)}")
    if method == "mip":
        from coopt.mip.highs import require_solver

        require_solver()
    elif mip_options is not None:
        raise InstanceError(f"--time-limit, --mip-gap and --threads apply to --method mip, not {method!r}")
