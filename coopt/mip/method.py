r"""``method = "mip"``: the joint problem solved as one MIP, reported like enumeration.

Steps (every number below comes from HiGHS unless said otherwise):

1. Build :func:`coopt.mip.formulation.build_placement_model` (with the instance's QoS bounds) and
   solve it (:func:`coopt.mip.highs.solve_mip`). Infeasible QoS bounds raise
   :class:`~coopt.errors.NoSolutionError` naming the smallest achievable expected
   latency (or energy), computed by backward induction on that physical part alone.
2. ``by_placement``: the same model with :math:`z` fixed to each feasible :math:`M` (an
   LP each, warm persistent solver); under QoS bounds, placements that cannot meet
   them are left out. HiGHS's objective is accurate to its tolerances on the scale of
   the model (about 1e-12 of :attr:`~coopt.mip.data.MipData.scale`), and
   :math:`J(M) = \Phi(M) - D(M)/K_{tasks}` loses more where the download dominates
   (1.4e-8 relative was seen). Worse, HiGHS does not resolve states reached with
   probability below its tolerances: an optimal (or OSLA) policy can reach late
   epochs with probability 1e-11, where the LP shows no visits and so no action
   (stopping there instead moved an OSLA :math:`\Phi(M)` by 4e-11 relative and an
   optimal one on a correlated channel by 1e-9). So each LP's policy is
   **certified** (:func:`certified_policy`): under OSLA it is the rule's own table,
   which the LP confirms where it has visits; under the optimal rule, policy iteration
   from the LP's policy makes it greedy on its own exact values at every state. The
   resulting policy is **evaluated exactly** (:func:`coopt.dp.stopping.evaluate_policy`)
   and ``by_placement`` holds those values. ``solver`` reports the largest relative
   difference to the LP objectives (``by_placement_lp_max_rel_diff``), how many states
   the LP reaches whose action the certification changed
   (``by_placement_changed_states``), how many the LP never visits
   (``by_placement_unvisited_states``) and at how many placements policy iteration
   improved the LP's policy (``by_placement_improved``). With QoS bounds the LP's
   (possibly randomised) policy is evaluated as it is (:func:`evaluated_values`): it
   cannot be improved without looking at the bounds. :math:`M^*` is the argmin by
   docs/model.md's rule (ties within the relative ``1e-12`` of
   :func:`coopt.dp.stopping.tied_or_less` go to the smaller :math:`M`), which resolves
   exact ties the MIP's own choice cannot see. ``solver.certified`` says whether the
   MIP's proven bound confirms this optimum (:func:`_certified`); if HiGHS claimed
   optimality but an exact LP beats its bound, the MIP is solved once more on a
   different search path (``solver.retried_with_fallback``), and a result that stays
   uncertified is flagged in the report and fails ``coopt verify``.
3. The policy at :math:`M^*`:

   * without QoS bounds: the certified policy of step 2 (decisions by docs/model.md's
     tie order against its exact values, and the thresholds :math:`\theta_n` from
     :math:`G_n = \min(C_n, c_w + \bar W_n)`), so that the JSON can be diffed against
     enumeration; under the optimal rule it is optimal from every state, not only from
     the ones the LP reaches;
   * with QoS bounds: the (possibly randomised) policy of the LP at :math:`M^*`; its
     ``decisions`` are the most likely actions, the randomised states are listed in
     ``solver.randomised_decisions``, and there are no thresholds.

4. The expected cost parts come from the LP's occupation measure at :math:`M^*`; the
   baselines are those of the DP route (:func:`coopt.dp.placement.baselines`), which
   ignore QoS bounds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from coopt.dp.constraints import (
    LagrangianBound,
    lagrangian_bound,
    randomised_expectations,
    smallest_achievable,
)
from coopt.dp.placement import argmin_placement, enumerate_placements, placement_values
from coopt.dp.results import SolveResult, assemble_result
from coopt.dp.stopping import (
    ACTION_NAMES,
    COMPUTE,
    STOP,
    WAIT,
    Occupation,
    StoppingSolution,
    choose_by_tie_order,
    evaluate_policy,
    evaluate_randomised_policy,
    lookahead_policy,
    tied_or_less,
)
from coopt.errors import NoSolutionError
from coopt.mip.data import MipData
from coopt.mip.formulation import build_placement_model, model_size
from coopt.mip.highs import (
    Deadline,
    MipOptions,
    MipProgress,
    PlacementResult,
    Termination,
    load_model,
    new_solver,
    solve_fixed,
    solve_mip,
)
from coopt.mip.report import MipReport, PolicyCertification, QosReport, RandomisedDecision
from coopt.mip.solution import PolicyTable, expectations_from_values, flow_residual, objective_from_values
from coopt.model.constraints import QoS
from coopt.model.costs import wait_allowed
from coopt.model.problem import Problem

INFEASIBLE = (Termination.INFEASIBLE, Termination.INFEASIBLE_OR_UNBOUNDED)


def _infeasible_message(problem: Problem, qos: QoS) -> str:
    """One line naming each bound and the smallest expected value any policy achieves."""
    inst = problem.instance
    parts = []
    over = []
    for key in qos.active:
        best = smallest_achievable(
            key, problem.Y, problem.channel, inst.wait.mode, problem.costs, inst.placement.rule, problem.placements
        )
        unit = "s" if key == "max_latency_s" else "J"
        what = "latency" if key == "max_latency_s" else "device energy"
        parts.append(
            f"the smallest achievable expected {what} is {best.value:.6g} {unit} (placement M = {best.placement})"
        )
        if best.value > qos.bound(key) * (1 + 1e-9):
            over.append(key)
    bounds = " and ".join(f"constraints.{k} = {qos.bound(k):g}" for k in qos.active)
    if over or len(qos.active) == 1:
        return f"{bounds}: infeasible; " + "; ".join(parts)
    return f"{bounds}: infeasible together (each alone is achievable); " + "; ".join(parts)


CERTIFY_RTOL = 1e-9


def _certified(res: PlacementResult, lp_best: float, options: MipOptions, scale: float) -> bool:
    r"""Whether the MIP run proves the best per-placement LP optimal.

    ``lp_best`` is :math:`\min_M \Phi(M)` over the exact LPs with :math:`z` fixed. The
    run certifies it when HiGHS proved optimality, its bound does not exceed
    ``lp_best`` (a bound above an attained value is invalid: the search pruned wrongly)
    and its incumbent is within the gap of ``lp_best``; comparisons are relative to
    :math:`\max(|\Phi|, \text{scale})` at ``CERTIFY_RTOL``.
    """
    if not res.optimal or res.bound is None or res.objective is None:
        return False
    tol = CERTIFY_RTOL * max(abs(lp_best), scale)
    return bool(res.bound <= lp_best + tol and res.objective - lp_best <= options.mip_gap * abs(res.objective) + tol)


@dataclass(frozen=True, eq=False)
class CertifiedPolicy:
    """The splitting policy of one placement, read from its LP and made exact (:func:`certified_policy`).

    Attributes
    ----------
    solution : StoppingSolution
        Decisions, their exact values and thresholds (i.i.d. channels).
    changed : int
        States the LP reaches (more than :data:`~coopt.mip.data.REACH_TOL` visits)
        whose action the certification changed.
    unvisited : int
        States without any LP visit, whose action the LP does not say.
    improvements : int
        Rounds of policy improvement (rule ``optimal``; 0 when the LP's policy was already
        greedy on its own values).
    """

    solution: StoppingSolution
    changed: int
    unvisited: int
    improvements: int


def _action_values(problem: Problem, values: NDArray[np.float64], horizon: int, c_w: float) -> NDArray[np.float64]:
    """``(M + 1, K, 3)``: stop, compute and wait at each state, followed by ``values``.

    Compute is :math:`E[V_{n+1}]` (``+inf`` at ``M``), wait :math:`c_w + E_w[V_n]` where
    ``wait.mode`` allows it (``+inf`` elsewhere); states of zero probability do not count,
    even with infinite values (a policy that waits forever somewhere).
    """
    ch, k = problem.channel, problem.channel.n_states
    allowed = wait_allowed(problem.instance.wait.mode, horizon, problem.costs.n_layers)

    def mean(v: NDArray[np.float64], n: int | None) -> NDArray[np.float64] | float:
        """:math:`E[v(h')]` per current state, after the step from ``n`` (``None``: a slot)."""
        P = (ch.wait_step() if n is None else ch.step(n)) if ch.is_markov else ch.probs
        with np.errstate(invalid="ignore"):  # 0 * inf: a state never reached costs nothing
            return np.where(P > 0, P * v, 0.0).sum(axis=-1)  # type: ignore[operator]

    q = np.full((horizon + 1, k, 3), np.inf)
    q[:, :, STOP] = problem.Y[: horizon + 1]
    for n in range(horizon + 1):
        if n < horizon:
            q[n, :, COMPUTE] = mean(values[n + 1], n)
        if allowed[n]:
            q[n, :, WAIT] = c_w + mean(values[n], None)
    return q


def certified_policy(policy: PolicyTable, problem: Problem) -> CertifiedPolicy:
    r"""The rule's policy at the LP's placement, from the LP's policy, with exact values.

    HiGHS does not resolve states reached with probability below its tolerances (an
    optimal policy may reach late epochs with probability ~1e-11), so the LP's policy
    says nothing, or nothing reliable, there; the certification does, on every state:

    * rule ``osla``: the policy is the rule's table (:func:`coopt.dp.stopping.lookahead_policy`
      with ``ahead = Y``); the LP, which has variables for the rule's actions only,
      confirms it on the states it reaches (``changed`` counts where it does not);
    * rule ``optimal``: policy iteration from the LP's policy (its most likely actions,
      stop where it has no visits): evaluate exactly (:func:`coopt.dp.stopping.evaluate_policy`),
      switch every state whose best action beats its current one beyond the tie
      tolerance, until none does. The result satisfies Bellman's equation at every
      state, so it is optimal from every state; its decisions are then read by
      docs/model.md's tie order against its values, as backward induction's are.

    The values returned are those of the returned decisions, evaluated exactly.
    """
    costs, ch, Y = problem.costs, problem.channel, problem.Y
    mode, rule = problem.instance.wait.mode, problem.instance.placement.rule
    horizon = policy.placement
    c_w = 0.0 if math.isnan(costs.wait_cost) else costs.wait_cost
    total = policy.visits.sum(axis=2)
    lp_actions = np.full(total.shape, STOP, dtype=np.int8)
    lp_actions[total > 0] = np.argmax(policy.visits[total > 0], axis=1)
    improvements = 0
    if rule == "osla":
        actions, thresholds = lookahead_policy(Y, Y, ch, horizon, mode, costs)
        values = evaluate_policy(actions, Y, ch, c_w)
    else:
        actions = lp_actions
        while True:
            values = evaluate_policy(actions, Y, ch, c_w)
            q = _action_values(problem, values, horizon, c_w)
            best = choose_by_tie_order(q[:, :, STOP], q[:, :, COMPUTE], q[:, :, WAIT])
            now = np.take_along_axis(q, actions[..., None], axis=2)[..., 0]
            better = np.take_along_axis(q, best[..., None], axis=2)[..., 0]
            switch = ~tied_or_less(now, better)
            if not switch.any():
                break
            improvements += 1
            if improvements > 3 * actions.size + 3:  # pragma: no cover - each round strictly improves
                raise RuntimeError(f"policy iteration at M = {horizon} did not converge; please report this instance")
            actions = np.where(switch, best, actions).astype(np.int8)
        canonical, thresholds = lookahead_policy(Y, values, ch, horizon, mode, costs)
        if not np.array_equal(canonical, actions):  # tied actions: docs/model.md's order
            actions, values = canonical, evaluate_policy(canonical, Y, ch, c_w)
    changed = int(np.count_nonzero(policy.reached & (actions != lp_actions)))
    unvisited = int(np.count_nonzero(total <= 0))
    solution = StoppingSolution(horizon, values, actions, thresholds, float(ch.initial @ values[0]))
    return CertifiedPolicy(solution, changed, unvisited, improvements)


def _randomised_rows(res: PlacementResult) -> tuple[RandomisedDecision, ...]:
    assert res.policy is not None
    return tuple(
        RandomisedDecision(n, k, {ACTION_NAMES[a]: float(p[a]) for a in range(3) if p[a] > 0})
        for n, k, p in res.policy.randomised()
    )


def _finite(x: float | None) -> float | None:
    """``x`` as a float, ``None`` where missing or not finite (no Infinity in the JSON)."""
    return None if x is None or not math.isfinite(x) else float(x)


def evaluated_values(policy: PolicyTable, problem: Problem) -> tuple[NDArray[np.float64], str]:
    """Exact values ``(M + 1, K)`` of an LP's policy, by the DP's policy evaluation.

    A policy that randomises (:meth:`PolicyTable.randomised`) is evaluated as it is
    (:func:`coopt.dp.stopping.evaluate_randomised_policy`); otherwise its most likely
    actions are, so that probabilities of order HiGHS's tolerance do not count
    (:func:`coopt.dp.stopping.evaluate_policy`). Every state with positive visits
    keeps the LP's action, also below :data:`~coopt.mip.data.REACH_TOL`: an
    optimal policy may reach late epochs with probability ~1e-10, and stopping there
    instead moved one :math:`\\Phi(M)` of data/vit_b_16.toml by 2.3e-9 relative. States
    without visits stop. Returns the values and how they were obtained, in words.

    The values of the LP's policy as it is, for QoS-bounded LPs and for ``coopt verify``'s
    check of the MIP incumbent; without bounds ``by_placement`` holds
    :func:`certified_policy`'s values.
    """
    costs = problem.costs
    c_w = 0.0 if math.isnan(costs.wait_cost) else costs.wait_cost
    total = policy.visits.sum(axis=2)
    seen = total > 0
    randomised = policy.randomised()
    if randomised:
        probs = np.zeros_like(policy.visits)
        probs[..., STOP] = 1.0
        probs[seen] = policy.visits[seen] / total[seen][:, None]
        how = f"randomised policy ({len(randomised)} randomised state(s)), exact evaluation"
        return evaluate_randomised_policy(probs, problem.Y, problem.channel, c_w), how
    actions = np.full(total.shape, STOP, dtype=np.int8)
    actions[seen] = np.argmax(policy.visits[seen], axis=1)
    return evaluate_policy(actions, problem.Y, problem.channel, c_w), "deterministic policy, evaluate_policy"


@dataclass(frozen=True, eq=False)
class MipRun:
    """Everything one MIP solve produced: the reported result and the raw HiGHS runs.

    Attributes
    ----------
    result : SolveResult
        What :func:`coopt.solve` returns for ``method = "mip"``; its ``solver`` is
        ``report.to_dict()``.
    report : MipReport
        The method's diagnostics, typed.
    mip : PlacementResult
        The MIP run (its incumbent, bound, gap and raw policy).
    fixed : dict
        Placement -> the LP run with :math:`z` fixed, for :math:`M^*` only: each run holds
        all variable values, ``O(N K)``, so keeping every placement's would need
        ``O(N^2 K)`` memory (8 GB for ``coopt verify`` on 10,000 layers).
    data : MipData
        The model's numbers, for independent recomputation.
    qos : QoS or None
        The bounds imposed.
    lagrangian : LagrangianBound or None
        The DP's Lagrangian bound (with QoS bounds only).
    """

    result: SolveResult
    report: MipReport
    mip: PlacementResult
    fixed: dict[int, PlacementResult]
    data: MipData
    qos: QoS | None
    lagrangian: LagrangianBound | None


def solve_mip_method(problem: Problem, options: MipOptions | None = None, progress: bool | None = False) -> SolveResult:
    """The joint optimum by the MIP (module docstring), as a :class:`SolveResult`.

    ``progress``: bars on stderr for the long steps (:class:`~coopt.mip.highs.MipProgress`;
    ``None``: on a terminal only, once the run has lasted 2 s).

    Raises
    ------
    NoSolutionError
        Infeasible QoS bounds (the message gives the smallest achievable values), or
        HiGHS stopped without any feasible solution (e.g. at the time limit).
    SolverUnavailableError
        Pyomo or highspy is missing.
    """
    return run_mip_method(problem, options, progress).result


def run_mip_method(problem: Problem, options: MipOptions | None = None, progress: bool | None = False) -> MipRun:
    """:func:`solve_mip_method` keeping the raw runs (for ``coopt verify``)."""
    with MipProgress(progress) as bar:
        return _run_mip_method(problem, options or MipOptions(), bar)


def _run_mip_method(problem: Problem, options: MipOptions, bar: MipProgress) -> MipRun:
    inst, costs, channel, Y = problem.instance, problem.costs, problem.channel, problem.Y
    rule, mode = inst.placement.rule, inst.wait.mode
    k_tasks = inst.placement.tasks_per_period
    qos = inst.constraints
    placements = problem.placements

    deadline = Deadline(options.time_limit)
    model = build_placement_model(problem, qos=qos, deadline=bar.building(deadline))
    build_time = deadline.elapsed()
    data = model.coopt_data
    opt = new_solver()
    load_model(model, opt, deadline, progress=bar)
    res = solve_mip(model, deadline.options(options, "starting the MIP"), opt, progress=bar)
    if res.termination in INFEASIBLE and qos is not None:
        raise NoSolutionError(_infeasible_message(problem, qos))
    if res.termination in INFEASIBLE:  # pragma: no cover - M = 0 is always feasible
        raise NoSolutionError("the placement MIP is infeasible; please report this instance")
    if not res.has_solution or res.solution is None:
        limit = f" (time limit {options.time_limit:g} s)" if res.termination is Termination.TIME_LIMIT else ""
        raise NoSolutionError(
            f"HiGHS stopped ({res.termination.value}){limit} after {deadline.elapsed():.3g} s without a feasible "
            "solution; raise --time-limit"
        )

    # Only the best LP so far keeps its solution (see MipRun.fixed); M* is re-solved in
    # the rare case that the tie rule of argmin_placement picks another one.
    fixed: dict[int, PlacementResult] = {}
    kept_cert: dict[int, CertifiedPolicy] = {}
    task: dict[int, float] = {}
    skipped: dict[int, str] = {}
    lp_diff, lp_time_s, kept_objective = 0.0, 0.0, math.inf
    changed = unvisited = improved = 0
    bar.step("MIP: the LP of each placement", len(placements), "LP")
    for i, m in enumerate(placements):
        step = f"solving the per-placement LPs ({i} of {len(placements)} done)"
        r = solve_fixed(model, m, deadline.options(options, step), opt)
        if r.termination is Termination.TIME_LIMIT:
            raise deadline.expired(step)  # a missing placement would silently change M*
        if r.optimal and r.objective is not None and r.policy is not None:
            lp_time_s += r.wall_time_s
            if qos is None:
                cert = certified_policy(r.policy, problem)
                task[m] = cert.solution.value
                changed, unvisited = changed + cert.changed, unvisited + cert.unvisited
                improved += cert.improvements > 0
            else:
                task[m] = float(channel.initial @ evaluated_values(r.policy, problem)[0][0])
            exact = task[m] + costs.download[m] / k_tasks
            lp_diff = max(lp_diff, abs(r.objective - exact) / max(abs(r.objective), abs(exact), data.scale))
            if exact < kept_objective:
                fixed, kept_objective = {m: r}, exact
                kept_cert = {m: cert} if qos is None else {}
        else:
            skipped[m] = r.termination.value
        bar.advance()
    values = placement_values(task, costs, list(task), k_tasks)
    best = argmin_placement(values) if values else None
    if best is None:  # pragma: no cover - the MIP had a solution, so some LP does
        raise NoSolutionError("no placement LP could be solved; see --time-limit")
    star = best.placement
    if star not in fixed:
        fixed = {star: solve_fixed(model, star, deadline.options(options, "re-solving the LP of M*"), opt)}
        kept_cert = {}
    certified = _certified(res, best.objective, options, data.scale)
    retried = False
    if res.optimal and not certified:
        # HiGHS claims optimality, but an exact LP of one placement beats its proven
        # bound: its search pruned wrongly. Solve again on a different search path.
        retried = True
        fresh = new_solver()
        load_model(model, fresh, deadline, progress=bar)
        again = solve_mip(model, deadline.options(options, "re-solving the MIP"), fresh, fallback=True, progress=bar)
        if _certified(again, best.objective, options, data.scale):
            res, certified = again, True
    lp = fixed[star]
    assert lp.policy is not None and lp.solution is not None and res.solution is not None

    if qos is not None:
        vals, _ = evaluated_values(lp.policy, problem)
        policy = StoppingSolution(star, vals, lp.policy.actions(), None, best.task_cost)
    else:
        policy = (kept_cert.get(star) or certified_policy(lp.policy, problem)).solution

    osla_values = (
        values
        if rule == "osla" and qos is None
        else enumerate_placements(Y, channel, mode, costs, "osla", placements, k_tasks)[0]
    )

    size = model_size(model, nonzeros=False)
    lag = qos_report = None
    if qos is not None:
        ex = expectations_from_values(data, lp.solution)
        lag = lagrangian_bound(Y, channel, mode, costs, rule, placements, k_tasks, qos)
        check = randomised_expectations(lp.policy.completed_probs(), Y, channel, costs)
        qos_report = QosReport(
            constraints={key: qos.bound(key) for key in qos.active},
            expected_latency_s=ex["latency_s"],
            expected_energy_j=ex["energy_j"],
            lagrangian_bound=lag.bound,
            lagrangian_multipliers=lag.multipliers,
            lagrangian_gap=(best.objective - lag.bound) / abs(best.objective) if best.objective else 0.0,
            randomised_decisions=_randomised_rows(lp),
            policy_task_cost_evaluated=check["task_cost"],
        )
    report = MipReport(
        version=res.solver.split()[-1],
        termination=res.termination,
        has_solution=res.has_solution,
        objective=_finite(res.objective),
        bound=_finite(res.bound),
        gap=_finite(res.gap),
        wall_time_s=res.wall_time_s,
        highs_time_s=res.highs_time_s,
        nodes=res.nodes,
        build_time_s=build_time,
        rows=size["rows"],
        columns=size["columns"],
        binaries=size["binaries"],
        mip_placement=res.placement,
        certified=certified,
        retried_with_fallback=retried,
        objective_recomputed=float(objective_from_values(data, res.solution)),
        flow_residual=flow_residual(data, res.solution),
        by_placement_lp_time_s=lp_time_s,
        by_placement_lp_max_rel_diff=lp_diff,
        lp_small_flows=data.small_flows,
        lp_small_flow_mass=data.small_flow_mass,
        certification=PolicyCertification(changed, unvisited, improved) if qos is None else None,
        by_placement_skipped=skipped,
        qos=qos_report,
    )
    result = assemble_result(
        problem,
        method="mip",
        values=values,
        best=best,
        policy=policy,
        occ=Occupation(lp.policy.visits),
        osla_values=osla_values,
        solver=report.to_dict(),
    )
    return MipRun(result, report, res, fixed, data, qos, lag)
