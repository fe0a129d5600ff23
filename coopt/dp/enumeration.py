"""The enumeration oracle (docs/model.md section 5): every feasible placement solved exactly,
then the argmin, with the baselines of section 6."""

from __future__ import annotations

from collections.abc import Callable

from coopt.dp.constraints import reject_constraints
from coopt.dp.placement import argmin_placement, enumerate_rules
from coopt.dp.results import SolveResult, assemble_result
from coopt.dp.stopping import occupation
from coopt.model.problem import Problem


def solve_enumeration(problem: Problem, tick: Callable[[int, int], None] | None = None) -> SolveResult:
    """The enumeration oracle of docs/model.md section 5, with the baselines of section 6.

    ``tick(done, total)``: the progress of the all-placement sweep
    (:func:`coopt.dp.fast.solve_all`, :func:`coopt.dp.markov.solve_all_markov`)."""
    reject_constraints(problem.instance.constraints, "enumeration")
    inst, costs, channel, Y = problem.instance, problem.costs, problem.channel, problem.Y
    rule, mode = inst.placement.rule, inst.wait.mode
    k_tasks = inst.placement.tasks_per_period
    placements = problem.placements
    # An i.i.d. channel gets both rules from one sweep of coopt.dp.fast, which uses the
    # rank-one form of Y = costs.stop_cost(gains) (prepare() built it so); J* feeds the baselines.
    rules = ("optimal", "osla") if rule == "optimal" or not channel.is_markov else ("osla",)
    by_rule = enumerate_rules(Y, channel, mode, costs, rules, placements, k_tasks, method="model", tick=tick)
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
