"""The user-facing verbs: :func:`solve` and the pieces studies script with.

``solve`` dispatches on ``method``: ``"enumeration"`` (backward induction or OSLA
evaluation for every feasible placement, the reference), and the methods that later
modules add. Pyomo and SymPy are imported only by the methods that need them, so the
enumeration route starts fast.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from .channel import Channel, build_channel
from .costs import CostModel, cost_model
from .errors import InstanceError
from .instance import Instance
from .placement import (
    PlacementValue,
    argmin_placement,
    baselines,
    enumerate_rules,
    feasible_placements,
)
from .results import SolveResult, breakdown
from .stopping import Occupation, StoppingSolution, occupation

if TYPE_CHECKING:  # pragma: no cover
    from .highs import MipOptions

METHODS = ("enumeration", "mip", "closed-form")


@dataclass(frozen=True, eq=False)
class Problem:
    """An instance with its derived numbers: the cost model, the finite channel and
    the stop-cost table ``Y`` of shape ``(N + 1, K)``."""

    instance: Instance
    costs: CostModel
    channel: Channel
    Y: NDArray[np.float64]

    @property
    def placements(self) -> list[int]:
        """Feasible placements under the memory limit."""
        return feasible_placements(self.costs, self.instance.placement.memory_bits)


def prepare(instance: Instance, states: int | None = None) -> Problem:
    """Derive the cost model, the channel (``states`` overrides ``channel.states``) and ``Y``."""
    costs = cost_model(instance)
    channel = build_channel(instance.channel, states)
    return Problem(instance, costs, channel, costs.stop_cost(channel.gains))


def solve(
    instance: Instance, *, rule: str | None = None, method: str = "enumeration", mip_options: MipOptions | None = None
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
        ``"mip"``: one mixed-integer program solved by HiGHS (:mod:`coopt.mip`); it
        also imposes the instance's ``[constraints]`` (QoS bounds).
        ``"closed-form"``: the closed-form placement of the equal-neuron MLP under OSLA
        (:mod:`coopt.closed_form`, SymPy); an :class:`InstanceError` names the condition
        that fails when it does not apply.
    mip_options : coopt.highs.MipOptions, optional
        Time limit, relative gap and threads of the ``"mip"`` method.

    Returns
    -------
    SolveResult
        :math:`M^*`, :math:`\\Phi(M^*)`, :math:`\\Phi(M)` for every :math:`M`, the policy
        at :math:`M^*`, the expected cost parts and the baselines.
    """
    if rule is not None:
        instance = instance.with_rule(rule)
    if method not in METHODS:
        raise InstanceError(f"method = {method!r}: must be one of {', '.join(METHODS)}")
    if method == "mip":
        from .highs import require_solver

        require_solver()
        from .mip_method import solve_mip_method

        return solve_mip_method(prepare(instance), mip_options)
    if mip_options is not None:
        raise InstanceError(f"--time-limit, --mip-gap and --threads apply to --method mip, not {method!r}")
    if method == "closed-form":
        from .closed_form import solve_closed_form  # imports SymPy

        return solve_closed_form(prepare(instance))
    return solve_enumeration(prepare(instance))


def solve_enumeration(problem: Problem) -> SolveResult:
    """The enumeration oracle of MODEL.md section 5, with the baselines of section 6."""
    from .constraints import reject_constraints

    reject_constraints(problem.instance.extra, "enumeration")
    inst, costs, channel, Y = problem.instance, problem.costs, problem.channel, problem.Y
    rule, mode = inst.placement.rule, inst.wait.mode
    k_tasks = inst.placement.tasks_per_period
    placements = problem.placements
    # An i.i.d. channel gets both rules from one sweep of coopt.fast, which uses the
    # rank-one form of Y = costs.stop_cost(gains) (prepare() built it so); J* feeds the baselines.
    rules = ("optimal", "osla") if rule == "optimal" or channel.transition is None else ("osla",)
    by_rule = enumerate_rules(Y, channel, mode, costs, rules, placements, k_tasks, method="model")
    values, policies = by_rule[rule]
    osla_values = by_rule["osla"][0]
    optimal_values = {v.placement: v.task_cost for v in by_rule["optimal"][0]} if "optimal" in by_rule else {}
    best = argmin_placement(values)
    policy = policies[best.placement]
    return assemble_result(
        problem,
        method="enumeration",
        values=values,
        best=best,
        policy=policy,
        occ=occupation(policy.actions, channel),
        osla_values=osla_values,
        optimal_values=optimal_values,
    )


def assemble_result(
    problem: Problem,
    *,
    method: str,
    values: list[PlacementValue],
    best: PlacementValue,
    policy: StoppingSolution,
    occ: Occupation,
    osla_values: list[PlacementValue],
    optimal_values: Mapping[int, float] | None = None,
    solver: dict[str, Any] | None = None,
) -> SolveResult:
    """The :class:`SolveResult` of any method: its :math:`\\Phi(M)` values, the chosen
    placement ``best`` with its policy and occupation measure, plus the expected cost
    parts and the baselines (from :math:`\\Phi_{OSLA}` and known :math:`J^*` values)."""
    inst, costs, channel = problem.instance, problem.costs, problem.channel
    k_tasks = inst.placement.tasks_per_period
    return SolveResult(
        instance_name=inst.name,
        placement=best.placement,
        objective=best.objective,
        task_cost=best.task_cost,
        download_cost=best.download_cost,
        rule=inst.placement.rule,
        method=method,
        wait_mode=inst.wait.mode,
        tasks_per_period=k_tasks,
        by_placement=tuple(values),
        policy=policy,
        breakdown=breakdown(occ, channel, costs, best.download_cost, k_tasks),
        baselines=baselines(problem.Y, channel, inst.wait.mode, costs, problem.placements, k_tasks, osla_values, optimal_values),
        channel=channel,
        solver=solver or {},
    )

