r"""``coopt verify``: solve one instance by independent methods and compare everything.

Checks (one row each in :meth:`VerifyReport.table`):

* the MIP (HiGHS) proved optimality;
* **placement** :math:`M^*` of enumeration (backward induction) and of the MIP method,
  compared exactly;
* two tolerances, both relative to :math:`\max(|a|, |b|, \min_n E[Y_n])` (so that a zero
  objective is compared on the problem's cost scale): values the MIP method evaluates
  exactly by the DP are compared at :data:`RTOL_EXACT` (or ``rtol`` if smaller), HiGHS's
  own numbers at ``rtol`` (default :data:`RTOL_VERIFY`, LP arithmetic);
* **objective** :math:`\Phi(M^*)`: the MIP incumbent's objective (``rtol``) and the
  certified LP at :math:`M^*` (exact), each against enumeration;
* :math:`J(M^*)` and :math:`D(M^*)`; **every field of every placement** of
  ``by_placement`` (the same placements in the same order; ``objective``, ``task_cost``,
  ``download_cost``: each fixed-placement LP's policy certified and evaluated exactly,
  against enumeration under the instance's own rule), all exact; how many states the
  certification changed (under OSLA none may change: the LP has only the rule's
  actions); the LP objectives against those evaluations (``rtol``); the policy at
  :math:`M^*`: decisions exactly and the thresholds (exact; enumeration keeps no policy
  for the other placements); every baseline's placement and objective (exact);
* the MIP objective **recomputed** from its variable values in plain NumPy
  (:func:`coopt.mip.solution.objective_from_values`) and the largest violation of any row
  (:func:`coopt.mip.solution.flow_residual`), independent of Pyomo and HiGHS;
* the MIP's own policy **evaluated exactly by the DP code**
  (:func:`coopt.dp.stopping.evaluate_policy`; a randomised policy by
  :func:`coopt.dp.stopping.evaluate_randomised_policy`) plus :math:`D(M)/K_{tasks}`,
  against the MIP objective;
* the closed form (``--method closed-form``) when :data:`coopt.api.METHODS` has it
  and the instance fits it (:func:`closed_form_checks`, the hook);
* with ``[constraints]`` (enumeration cannot impose them): every bound holds, the
  Lagrangian bound from backward induction is :math:`\le` the MIP optimum (the gap is
  shown), and when the unconstrained optimum meets the bounds, the MIP equals it.

The verdict is :attr:`VerifyReport.ok`; the CLI exits 1 when any check fails.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from coopt import api
from coopt.dp.enumeration import solve_enumeration
from coopt.dp.results import SolveResult
from coopt.errors import InstanceError
from coopt.fleet.files import Fleet
from coopt.mip.highs import MipOptions
from coopt.mip.report import PolicyCertification
from coopt.model.instance import Instance
from coopt.model.problem import Problem, prepare
from coopt.model.vocabulary import Method

if TYPE_CHECKING:  # pragma: no cover
    from coopt.mip.method import MipRun

# Values the MIP method evaluates exactly (each placement's certified policy, by the DP's
# policy evaluation) against backward induction: both are sums of the same terms in another
# order, so they differ by rounding (observed <= 2e-15).
RTOL_EXACT = 1e-12
# HiGHS's own numbers (the incumbent, the LP objectives) against exact ones: LP arithmetic at
# tolerances 1e-9 / 1e-10 on the model's scale (observed ~1e-15, up to 1e-10 before the
# model kept probabilities below 1e-9 that HiGHS dropped). The default of --rtol.
RTOL_VERIFY = 1e-9
RTOL_QOS = 1e-7  # a bound is met when E[q] <= bound (1 + RTOL_QOS): HiGHS's row tolerance
ATOL_RESIDUAL = 1e-7  # largest row violation of a solution (probability units)
CLOSED_FORM = Method.CLOSED_FORM


@dataclass(frozen=True)
class Check:
    """One comparison: ``value`` against ``reference`` within ``tolerance``."""

    name: str
    reference: Any
    value: Any
    difference: float | None
    tolerance: str
    ok: bool
    note: str = ""


@dataclass(frozen=True)
class VerifyReport:
    """All checks of one instance; :attr:`ok` is the verdict."""

    instance: str
    checks: tuple[Check, ...]

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    @property
    def failures(self) -> list[Check]:
        return [c for c in self.checks if not c.ok]

    def table(self) -> str:
        """The comparisons as a text table, then the verdict."""

        def fmt(v: Any) -> str:
            if v is None:
                return "-"
            if isinstance(v, (float, np.floating)):
                return "inf" if math.isinf(v) else f"{float(v):.12g}"
            return str(v)

        rows = [
            (
                c.name,
                fmt(c.reference),
                fmt(c.value),
                "-" if c.difference is None else f"{c.difference:.2e}",
                c.tolerance,
                "ok" if c.ok else "MISMATCH",
                c.note,
            )
            for c in self.checks
        ]
        head = ("check", "reference", "value", "difference", "tolerance", "result", "note")
        widths = [max(len(r[i]) for r in rows + [head]) for i in range(6)]

        def line(r: tuple[str, ...]) -> str:
            return "  ".join(x.ljust(w) for x, w in zip(r[:6], widths)) + (f"  {r[6]}" if r[6] else "")

        out = [f"coopt verify {self.instance}", line(head), line(tuple("-" * w for w in widths) + ("",))]
        out += [line(r) for r in rows]
        n_bad = len(self.failures)
        out.append("")
        out.append("all checks passed" if n_bad == 0 else f"{n_bad} check(s) FAILED")
        return "\n".join(out)

    def to_dict(self) -> dict[str, Any]:
        def plain(v: Any) -> Any:
            if isinstance(v, np.bool_):
                return bool(v)
            if isinstance(v, (np.floating, float)):
                return None if math.isinf(v) or math.isnan(v) else float(v)
            if isinstance(v, np.integer):
                return int(v)
            return v

        return {
            "instance": self.instance,
            "ok": self.ok,
            "checks": [
                {
                    "name": c.name,
                    "reference": plain(c.reference),
                    "value": plain(c.value),
                    "difference": plain(c.difference),
                    "tolerance": c.tolerance,
                    "ok": bool(c.ok),
                    "note": c.note,
                }
                for c in self.checks
            ],
        }


def _close(a: float, b: float, rtol: float, scale: float) -> tuple[float, bool]:
    """Relative difference of ``a`` and ``b`` on the scale ``max(|a|, |b|, scale)``."""
    if math.isinf(a) or math.isinf(b):
        return (0.0, True) if a == b else (math.inf, False)
    diff = abs(a - b) / max(abs(a), abs(b), scale)
    return diff, diff <= rtol


def _value_check(name: str, ref: float, val: float, rtol: float, scale: float, note: str = "") -> Check:
    diff, ok = _close(float(ref), float(val), rtol, scale)
    return Check(name, float(ref), float(val), diff, f"rel {rtol:g}", ok, note)


def closed_form_checks(instance: Instance, reference: SolveResult, rtol: float, scale: float) -> list[Check]:
    """The hook for ``--method closed-form`` (coopt.symbolic.derive): compare it when available.

    Skipped (one informative row) when :data:`coopt.api.METHODS` has no
    ``"closed-form"`` or when the instance does not fit the closed form (the method
    raises :class:`~coopt.errors.InstanceError` saying why).
    """
    if CLOSED_FORM not in api.METHODS:
        return [Check("closed form", None, None, None, "-", True, "skipped: --method closed-form not available")]
    try:
        cf = api.solve(instance, method=CLOSED_FORM)
    except InstanceError as exc:
        return [Check("closed form", None, None, None, "-", True, f"skipped: not applicable ({exc})")]
    return [
        Check(
            "closed form: placement M*",
            reference.placement,
            cf.placement,
            None,
            "exact",
            cf.placement == reference.placement,
            "reference: enumeration",
        ),
        _value_check(
            "closed form: objective Phi(M*)", reference.objective, cf.objective, rtol, scale, "reference: enumeration"
        ),
    ]


BY_PLACEMENT_FIELDS = {"objective": "Phi(M)", "task_cost": "J(M)", "download_cost": "D(M)"}


def _by_placement_checks(enum: SolveResult, mip: SolveResult, rtol: float, scale: float, rule: str) -> list[Check]:
    """Every field of every placement: the same placements, then each value field's worst
    relative difference (on the scale ``max(|a|, |b|, scale)``), under the instance's ``rule``."""
    ref = {v.placement: v for v in enum.by_placement}
    got = {v.placement: v for v in mip.by_placement}
    same = list(ref) == list(got)
    out = [
        Check(
            "by_placement: placements",
            f"{len(ref)} placements",
            f"{len(got)} placements",
            None,
            "same M, same order",
            same,
            "" if same else f"enumeration {sorted(ref)}, MIP {sorted(got)}",
        )
    ]
    if not same:
        return out
    for field, symbol in BY_PLACEMENT_FIELDS.items():
        worst_m, worst = 0, 0.0
        for m in ref:
            diff, _ = _close(getattr(ref[m], field), getattr(got[m], field), rtol, scale)
            if diff >= worst:
                worst_m, worst = m, diff
        out.append(
            Check(
                f"by_placement: {field} {symbol}",
                f"{len(ref)} placements",
                f"worst at M = {worst_m}",
                worst,
                f"rel {rtol:g}",
                worst <= rtol,
                f"each LP's certified {rule} policy evaluated exactly vs enumeration ({rule})",
            )
        )
    return out


def _lp_policy_check(cert: PolicyCertification, rule: str) -> Check:
    """How far the per-placement LPs' policies were from the certified ones.

    Under OSLA the LP has variables for the rule's actions only, so every state it
    reaches must already take the rule's action; under the optimal rule policy
    iteration may correct states the LP resolves only to its tolerances (shown, not
    a failure).
    """
    changed = cert.changed_states
    note = (
        f"{changed} reached state(s) changed, {cert.unvisited_states} never visited, "
        f"policy iteration improved {cert.improved} placement(s)"
    )
    if rule == "osla":
        return Check("LP policies are the OSLA rule", 0, changed, None, "exact", changed == 0, note)
    return Check("LP policies certified", None, changed, None, "-", True, note)


def _baseline_checks(enum: SolveResult, mip: SolveResult, rtol: float, scale: float) -> list[Check]:
    """Each baseline: the same placement (or both infeasible) and the same objective."""
    out = []
    for name, ref in enum.baselines.items():
        got = mip.baselines.get(name)
        if ref is None or got is None:
            out.append(
                Check(
                    f"baseline {name}",
                    None if ref is None else ref.objective,
                    None if got is None else got.objective,
                    None,
                    "both infeasible",
                    ref is None and got is None,
                )
            )
            continue
        diff, ok = _close(ref.objective, got.objective, rtol, scale)
        out.append(
            Check(
                f"baseline {name}",
                ref.objective,
                got.objective,
                diff,
                f"rel {rtol:g}, same M",
                ok and ref.placement == got.placement,
                f"M = {ref.placement}" + ("" if ref.placement == got.placement else f" vs {got.placement}"),
            )
        )
    return out


def _threshold_check(enum: SolveResult, mip: SolveResult, rtol: float, rule: str) -> Check:
    a, b = enum.policy.thresholds, mip.policy.thresholds
    if a is None or b is None:
        return Check("thresholds theta_n", None, None, None, "-", a is None and b is None, "Markov channel: none")
    if a.shape != b.shape:
        return Check("thresholds theta_n", len(a), len(b), None, "same length", False)
    worst = 0.0
    for x, y in zip(a, b):
        diff, _ = _close(float(x), float(y), rtol, 0.0) if (x or y) else (0.0, True)
        worst = max(worst, diff)
    return Check(
        "thresholds theta_n",
        f"{len(a)} epochs",
        "MIP method",
        worst,
        f"rel {rtol:g}",
        worst <= rtol,
        "the OSLA rule's look-ahead values" if rule == "osla" else "from the MIP's value function",
    )


def verify(
    instance: Instance,
    options: MipOptions | None = None,
    rtol: float = RTOL_VERIFY,
    closed_form: Callable[[Instance, SolveResult, float, float], list[Check]] = closed_form_checks,
    progress: bool | None = False,
) -> VerifyReport:
    """Solve ``instance`` by every applicable method and compare (module docstring).

    ``progress``: the MIP's bars on stderr (:class:`coopt.mip.highs.MipProgress`).

    Raises
    ------
    coopt.errors.CooptError
        Bad input, a missing solver, or infeasible QoS bounds.
    """
    from coopt.mip.highs import require_solver

    require_solver()
    from coopt.mip.method import evaluated_values, run_mip_method

    problem = prepare(instance)
    qos = instance.constraints
    run = run_mip_method(problem, options, progress)
    mip, res, report = run.result, run.mip, run.report
    scale = run.data.scale
    exact = min(rtol, RTOL_EXACT)
    rule = instance.placement.rule
    checks: list[Check] = [
        Check(
            "MIP termination",
            "optimal",
            res.termination.value,
            res.gap,
            "proven",
            res.optimal,
            f"gap {res.gap:.1e}, {res.wall_time_s:.3g} s" if res.gap is not None else "",
        ),
        Check(
            "MIP bound certifies the LPs",
            True,
            report.certified,
            None,
            "exact",
            report.certified,
            "bound <= min_M LP(M) <= incumbent"
            + (" (after a fallback re-solve)" if report.retried_with_fallback else ""),
        ),
    ]
    assert res.solution is not None and res.policy is not None and res.objective is not None
    if qos is None:
        assert report.certification is not None
        enum = solve_enumeration(problem)
        checks += [
            Check(
                "placement M*",
                enum.placement,
                mip.placement,
                None,
                "exact",
                enum.placement == mip.placement,
                "enumeration vs MIP"
                + (
                    ""
                    if res.placement == mip.placement
                    else f" (MIP incumbent M = {res.placement}, tied; docs/model.md: smaller M)"
                ),
            ),
            _value_check(
                "objective Phi(M*): MIP incumbent", enum.objective, res.objective, rtol, scale, "enumeration vs HiGHS"
            ),
            _value_check(
                "objective Phi(M*): LP at M*",
                enum.objective,
                mip.objective,
                exact,
                scale,
                "certified, evaluated exactly",
            ),
            _value_check("task_cost J(M*)", enum.task_cost, mip.task_cost, exact, scale),
            _value_check("download_cost D(M*)", enum.download_cost, mip.download_cost, exact, scale),
            *_by_placement_checks(enum, mip, exact, scale, rule),
            _lp_policy_check(report.certification, rule),
            Check(
                "decisions at M*",
                "enumeration",
                "MIP method",
                None,
                "exact",
                enum.placement == mip.placement and np.array_equal(enum.policy.actions, mip.policy.actions),
                "the OSLA rule's table at the MIP's M*"
                if rule == "osla"
                else "tie order of docs/model.md applied to the MIP's values",
            ),
            _threshold_check(enum, mip, exact, rule),
            *_baseline_checks(enum, mip, exact, scale),
        ]
    else:
        checks.append(Check("enumeration", None, None, None, "-", True, "skipped: cannot impose [constraints]"))
    checks.append(
        _value_check(
            "MIP objective recomputed",
            res.objective,
            report.objective_recomputed,
            rtol,
            scale,
            "plain NumPy from variable values",
        )
    )
    resid = report.flow_residual
    checks.append(
        Check(
            "largest row violation",
            0.0,
            resid,
            resid,
            f"abs {ATOL_RESIDUAL:g}",
            resid <= ATOL_RESIDUAL,
            "balance, linking and QoS rows in NumPy",
        )
    )
    lp_diff = report.by_placement_lp_max_rel_diff
    checks.append(
        Check(
            "LP objectives vs their policies",
            0.0,
            lp_diff,
            lp_diff,
            f"rel {rtol:g}",
            lp_diff <= rtol,
            "HiGHS's Phi(M) against its policy evaluated exactly, worst M",
        )
    )
    m_inc = res.placement
    assert m_inc is not None
    download = problem.costs.download[m_inc] / instance.placement.tasks_per_period
    vals, how = evaluated_values(res.policy, problem)
    channel = problem.channel
    checks.append(
        _value_check(
            "MIP policy evaluated by the DP",
            res.objective,
            float(channel.initial @ vals[0]) + download,
            rtol,
            scale,
            how,
        )
    )
    if qos is None:
        checks += closed_form(instance, enum, rtol, scale)
    else:
        checks += _qos_checks(run, problem, rtol, scale)
    return VerifyReport(instance.name, tuple(checks))


def _qos_checks(run: MipRun, problem: Problem, rtol: float, scale: float) -> list[Check]:
    mip = run.result
    qos, report = run.qos, run.report.qos
    assert qos is not None and report is not None and run.lagrangian is not None
    out: list[Check] = []
    for key in ("max_latency_s", "max_energy_j"):
        bound = getattr(qos, key)
        if bound is not None:
            got = report.expected(key)
            out.append(
                Check(
                    f"constraints.{key} holds",
                    bound,
                    got,
                    (got - bound) / bound,
                    f"rel {RTOL_QOS:g}",
                    got <= bound * (1 + RTOL_QOS),
                    "expected value of the MIP's policy",
                )
            )
    lag = run.lagrangian
    out.append(
        Check(
            "Lagrangian bound <= MIP",
            lag.bound,
            mip.objective,
            (mip.objective - lag.bound) / max(abs(mip.objective), scale),
            "bound <= value",
            lag.bound <= mip.objective + rtol * max(abs(mip.objective), scale),
            "duality gap shown as difference; multipliers "
            + ", ".join(f"{k} {v:.4g}" for k, v in lag.multipliers.items()),
        )
    )
    free = solve_enumeration(replace(problem, instance=replace(problem.instance, constraints=None)))
    b = free.breakdown
    slack = all(
        getattr(qos, k) is None or q <= getattr(qos, k)
        for k, q in (("max_latency_s", b.latency_s), ("max_energy_j", b.energy_j))
    )
    if slack:
        out.append(
            _value_check(
                "slack bounds: MIP = enumeration",
                free.objective,
                mip.objective,
                rtol,
                scale,
                "the unconstrained optimum meets the bounds",
            )
        )
    else:
        out.append(
            Check(
                "binding bounds: MIP >= enumeration",
                free.objective,
                mip.objective,
                None,
                "value >= ref",
                mip.objective >= free.objective * (1 - rtol),
                "the unconstrained optimum violates a bound",
            )
        )
    return out


__all__ = ["CLOSED_FORM", "RTOL_EXACT", "RTOL_VERIFY", "Check", "VerifyReport", "closed_form_checks", "verify"]


# ----------------------------------------------------------------------------- fleets (MODEL.md 11)

FLEET_SAMPLE = 12  # distinct devices whose chosen table entry is re-solved by coopt.solve


def verify_fleet(
    fleet: Fleet,
    options: MipOptions | None = None,
    rtol: float = RTOL_VERIFY,
    *,
    workers: int = 1,
    dask: str | None = None,
    progress: bool | None = False,
) -> VerifyReport:
    r"""``coopt verify FLEET``: every allocation method, the bound and the tables, compared.

    * each method of :func:`coopt.fleet.allocation.allocate` that applies (``mip``,
      ``lagrangian``, ``exact`` on a common grid, ``brute_force`` on a tiny fleet): a proven
      optimum equals the smallest :math:`F` found (``rtol``); the Lagrangian's :math:`F` lies
      within its certified gap;
    * the bound: the LP relaxation is :math:`\le F^*`, and :math:`L(\lambda^*, \mu^*)` (the
      dual evaluated in plain NumPy at the prices) equals it;
    * ``alone`` is :math:`\le F^*` when every device's rule is ``optimal``;
    * tables: under rule ``optimal`` each table is non-increasing in ``x`` and ``y`` and never
      above :math:`\Phi(0, 0)`; for up to :data:`FLEET_SAMPLE` distinct devices, the entry
      at the shares the optimum gives them equals :func:`coopt.solve` of the device's
      instance at those shares (a fresh ``prepare``, both rules' sweep), to :data:`RTOL_EXACT`.

    ``workers``, ``dask`` and ``progress`` say where the tables are built
    (:func:`coopt.fleet.tables.fleet_tables`).
    """
    from coopt.fleet.allocation import METHODS as ALLOCATION_METHODS
    from coopt.fleet.allocation import lagrangian_dual
    from coopt.fleet.solve import baselines, solve_fleet
    from coopt.fleet.tables import fleet_tables, instance_at

    tables = fleet_tables(fleet, workers=workers, dask=dask, progress=progress)
    known = baselines(fleet, tables)
    checks: list[Check] = []
    results = {}
    for method in ALLOCATION_METHODS:
        if method == "auto":
            continue
        try:
            results[method] = solve_fleet(
                fleet,
                method,  # type: ignore[arg-type]
                options,
                tables=tables,
                known_baselines=known,
                progress=progress,
            )
        except InstanceError as exc:  # exact off a grid, brute force on a large fleet
            checks.append(Check(f"allocation {method}", None, None, None, "-", True, f"not applicable: {exc}"))
    best = min(r.objective for r in results.values())
    scale = abs(best)
    for method, r in results.items():
        if r.optimal:
            checks.append(_value_check(f"allocation {method}: F (proven optimal)", best, r.objective, rtol, scale))
        else:
            ok = r.bound <= best * (1 + rtol) and best <= r.objective * (1 + rtol)
            checks.append(
                Check(f"allocation {method}: bound <= F* <= F", best, r.objective, r.gap, "certified gap", ok, "")
            )
        over = max(r.shares_used) - 1.0
        checks.append(
            Check(f"allocation {method}: sum of shares <= 1", 1.0, max(r.shares_used), over, "1e-12", over <= 1e-12)
        )
    some = next(iter(results.values()))
    groups = {(d.kind, d.weight) for d in fleet.devices}
    kinds = sorted(groups)
    counts = [sum(1 for d in fleet.devices if (d.kind, d.weight) == g) for g in kinds]
    dual = lagrangian_dual(
        [tables[k].phi for k, _ in kinds],
        counts,
        [w for _, w in kinds],
        fleet.shared.x_levels,
        fleet.shared.y_levels,
        *some.prices,
    )
    checks.append(_value_check("bound: L(lambda*, mu*) = LP relaxation", some.lagrangian_bound, dual, rtol, scale))
    checks.append(
        Check(
            "bound: LP relaxation <= F*",
            best,
            some.lagrangian_bound,
            None,
            f"rel {rtol:g}",
            some.lagrangian_bound <= best * (1 + rtol),
        )
    )
    all_optimal = all(inst.placement.rule == "optimal" for inst in fleet.kinds)
    alone = known["alone"]
    if all_optimal and alone is not None:
        checks.append(
            Check(
                "baseline alone <= F* (every rule optimal)",
                best,
                alone,
                None,
                f"rel {rtol:g}",
                alone <= best * (1 + rtol),
            )
        )
    for k, inst in enumerate(fleet.kinds):
        if inst.placement.rule != "optimal":
            continue
        phi = tables[k].phi
        with np.errstate(invalid="ignore"):
            rises = np.concatenate(
                [
                    (np.diff(phi, axis=0) > RTOL_EXACT * np.abs(phi[1:])).ravel(),
                    (np.diff(phi, axis=1) > RTOL_EXACT * np.abs(phi[:, 1:])).ravel(),
                ]
            )
        above = phi > phi[0, 0] * (1 + RTOL_EXACT)
        if rises.any() or above.any():
            checks.append(
                Check(
                    f"table {k} ({inst.name}): falls in x and y",
                    None,
                    None,
                    None,
                    "exact",
                    False,
                    f"{int(rises.sum())} rises, {int(above.sum())} entries above Phi(0, 0)",
                )
            )
    optimum = min(results.values(), key=lambda r: r.objective)
    seen: set[tuple[int, float, float]] = set()
    for dev, share in zip(fleet.devices, optimum.devices):
        key = (dev.kind, share.x, share.y)
        if key in seen or len(seen) >= FLEET_SAMPLE or share.x == 0 or share.y == 0:
            continue
        seen.add(key)
        inst = instance_at(fleet.kinds[dev.kind], fleet.shared, share.x, share.y)
        alone_solve = api.solve(inst)
        checks.append(
            _value_check(
                f"table {dev.kind} at ({share.x:g}, {share.y:g}): Phi = coopt.solve",
                alone_solve.objective,
                share.objective,
                min(rtol, RTOL_EXACT),
                scale,
            )
        )
    return VerifyReport(fleet.name, tuple(checks))
