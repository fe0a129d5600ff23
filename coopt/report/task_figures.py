r"""Figures of one task's outcome under every policy, and of the energy-latency trade-off.

``distribution`` (``coopt figures --distribution``): per instance, for every policy of
:data:`coopt.sim.simulate.POLICIES` whose placement the memory limit allows,

* the CDF of the task's latency :math:`\ell` (top) and of its device energy
  :math:`\epsilon` (middle), exact on the quantised channel (:func:`coopt.dp.outcomes.task_law`:
  a discrete law over the stop epoch, the state and the number of waiting slots) as steps,
  with the empirical CDF of a Monte Carlo run (:func:`coopt.sim.simulate.simulate_outcomes`,
  ``tasks`` tasks per policy, the same seed for every policy) over it as a thin line, and
  each policy's 95th percentile marked (its value in the legend);
* the probability of missing a deadline :math:`P(\ell > d)` against the deadline
  :math:`d` (bottom, log scale; exact). With ``deadline_s`` the deadline is drawn and each
  policy's probability of missing it is marked and written in the legend.

``tradeoff`` (``coopt figures --tradeoff``): the expected latency against the expected
device energy per task (download amortised, so that each point's cost
:math:`w_E E + w_T L` is :math:`\Phi`) as the weights move. With :math:`E_0, L_0` those of
the joint optimum at the instance's weights and
:math:`s = w_E E_0 + w_T L_0`, the point at share :math:`\lambda \in (0, 1)` re-solves the
instance exactly (:func:`coopt.solve`) with :math:`w_E = s\lambda/E_0` and
:math:`w_T = s(1-\lambda)/L_0` (:func:`tradeoff_weights`), :math:`\lambda` spaced
logistically from :math:`10^{-3}` to :math:`1 - 10^{-3}`; at the instance's own share
:math:`\lambda_0 = w_E E_0 / s` these are its weights. One curve per policy (each baseline
re-built at the moved weights, its means from its exact law), the instance's own point of
the joint optimum starred.

Every line is one :class:`~matplotlib.lines.Line2D` whose data are exactly the plotted
numbers, with a ``gid``: ``cdf:<quantity>:<policy>`` (x: the distinct values, y: the
CDF, between a leading ``(x_0, 0)`` and a trailing point at the panel's largest value),
``ecdf:<quantity>:<policy>`` (the same for the simulated tasks), ``p95:<quantity>:<policy>``,
``miss:<policy>``, ``deadline:<policy>``, ``tradeoff:<policy>``, ``instance``. Both builders
take an instance (or :class:`~coopt.report.figures.Solved`), ``result=`` the
rule-``optimal`` :class:`~coopt.dp.results.SolveResult` a user already has, ``ax=`` (the
caller's axes: one per row drawn), ``size=`` and ``title=`` as :mod:`coopt.report.figures`,
and return the figure.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from numpy.typing import NDArray

from coopt.api import solve
from coopt.dp.outcomes import TaskLaw, task_law
from coopt.dp.results import SolveResult
from coopt.errors import InstanceError
from coopt.model.instance import Instance
from coopt.model.problem import Problem, prepare
from coopt.model.vocabulary import Policy
from coopt.progress import progress_bar
from coopt.report.figures import STYLE, Solved, _check_rows, _legend_columns, _row_axes, check_size, finish
from coopt.sim.simulate import POLICIES, build_policy, simulate_outcomes
from coopt.symbolic.notation import axis_label

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

TASK_FIGURES = ("distribution", "tradeoff")
QUANTILE = 0.95
DISTRIBUTION_ROWS = ("latency_s", "energy_j", "miss")
"""The rows of the distribution figure: latency CDF, energy CDF, deadline-miss probability."""
TRADEOFF_DECADES = 3.0
"""The trade-off's shares run over :math:`\\lambda/(1-\\lambda)` from :math:`10^{-3}` to :math:`10^{3}`."""
_QUANTITY_KEY = {"latency_s": "task.latency_s", "energy_j": "task.energy_j"}
_SIM_ALPHA = 0.55

Source = Instance | Solved


def _unpack(source: Source, result: SolveResult | None) -> tuple[Instance, Problem, SolveResult]:
    """The instance, its problem and its rule-``optimal`` result: ``result`` if it is one,
    else solved here (the baselines and the joint optimum come from the rule ``optimal``)."""
    if isinstance(source, Solved):
        inst, problem, result = source.instance, source.problem, result or source.optimal
    elif isinstance(source, Instance):
        inst, problem = source, prepare(source)
    else:
        raise InstanceError(
            f"figure source: {type(source).__name__} is not an Instance; a SolveResult alone lacks the "
            "per-layer times and energies (pass it as result= beside its instance)"
        )
    if result is None or result.rule != "optimal":
        result = solve(inst, rule="optimal")
    elif result.instance_name != inst.name:
        raise InstanceError(f"result=: solves {result.instance_name!r}, not the instance {inst.name!r}")
    return inst, problem, result


def _log_if_wide(values: NDArray[np.float64]) -> bool:
    v = values[np.isfinite(values) & (values > 0)]
    return bool(v.size and v.min() > 0 and v.max() / v.min() > 20.0)


def _sci(ax: Axes, axis: Literal["x", "y"]) -> None:
    """Powers of ten out of the tick labels of a linear axis (1.25 and a x1e-3 above, not 0.00125)."""
    target = ax.xaxis if axis == "x" else ax.yaxis
    if target.get_scale() == "linear":
        ax.ticklabel_format(axis=axis, style="sci", scilimits=(-2, 3), useMathText=True)


def _fmt(x: float, unit: str) -> str:
    return f"{x:.3g} {unit}"


# ----------------------------------------------------------------------------- distributions


@dataclass(frozen=True, eq=False)
class PolicyOutcomes:
    """One policy's exact task law and (optionally) its simulated outcomes.

    ``samples`` maps ``latency_s`` and ``energy_j`` to arrays ``(tasks,)`` (empty dict without simulation).
    """

    policy: str
    placement: int
    law: TaskLaw
    samples: dict[str, NDArray[np.float64]]

    def p95(self, quantity: str) -> float:
        return self.law.quantile(quantity, QUANTILE)

    def miss(self, deadline_s: float) -> float:
        """:math:`P(\\ell > d)` (exact up to the law's truncated mass, which it includes)."""
        return self.law.exceed("latency_s", deadline_s)


@dataclass(frozen=True, eq=False)
class Distributions:
    """The outcomes of every feasible policy of one instance (``policies`` in :data:`POLICIES` order)."""

    instance: Instance
    result: SolveResult
    policies: tuple[PolicyOutcomes, ...]
    tasks: int
    seed: int | None

    def of(self, policy: str) -> PolicyOutcomes:
        for p in self.policies:
            if p.policy == policy:
                return p
        raise InstanceError(f"policy = {policy!r}: not among {', '.join(p.policy for p in self.policies)}")


def task_distributions(
    source: Source,
    *,
    result: SolveResult | None = None,
    tasks: int = 100_000,
    seed: int | None = 0,
    policies: Sequence[str] = POLICIES,
    progress: bool | None = False,
) -> Distributions:
    """:class:`Distributions` of an instance: each policy's exact law and, with ``tasks > 0``,
    ``tasks`` simulated tasks (seed ``seed`` for every policy). A baseline whose placement the
    memory limit forbids is left out."""
    inst, problem, res = _unpack(source, result)
    out = []
    with progress_bar(len(policies) * max(tasks, 0), "figures: distributions", progress) as bar:
        for name in policies:
            if name not in POLICIES:
                raise InstanceError(f"policy = {name!r}: must be one of {' | '.join(POLICIES)}")
            key = Policy(name).key
            if key is not None and res.baselines[key] is None:
                continue
            pol = build_policy(problem, name, res)
            law = task_law(pol.actions, problem.channel, problem.costs)
            samples: dict[str, NDArray[np.float64]] = {}
            if tasks > 0:
                sim = simulate_outcomes(problem, name, tasks, seed, solved=res)
                samples = {q: sim[q] for q in ("latency_s", "energy_j")}
                bar.update(tasks)
            out.append(PolicyOutcomes(name, pol.placement, law, samples))
    return Distributions(inst, res, tuple(out), max(tasks, 0), seed)


def empirical_cdf(samples: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """``(x, F_n)``: the distinct sample values and the fraction of samples at or below each."""
    xs, counts = np.unique(samples, return_counts=True)
    return xs, np.cumsum(counts) / samples.shape[0]


def distribution_figure(
    sources: Source | Distributions | Sequence[Source | Distributions],
    tasks: int = 100_000,
    seed: int | None = 0,
    deadline_s: float | None = None,
    progress: bool | None = False,
    *,
    result: SolveResult | None = None,
    rows: Sequence[str] = DISTRIBUTION_ROWS,
    ax: Axes | Sequence[Axes] | None = None,
    size: str | None = None,
    title: bool = True,
) -> Figure:
    """Per instance: latency CDF, energy CDF and deadline-miss probability of every policy
    (module docstring). ``rows`` picks some of :data:`DISTRIBUTION_ROWS`; ``ax`` is one
    axes per row (one instance)."""
    check_size(size)
    rows = _check_rows(rows, DISTRIBUTION_ROWS)
    if deadline_s is not None and not (math.isfinite(deadline_s) and deadline_s > 0):
        raise InstanceError(f"--deadline = {deadline_s!r}: must be a number of seconds > 0")
    items: list[Any] = list(sources) if isinstance(sources, (list, tuple)) else [sources]
    if result is not None and len(items) != 1:
        raise InstanceError(f"result=: one result for {len(items)} instances")
    dists = [
        d
        if isinstance(d, Distributions)
        else task_distributions(d, result=result, tasks=tasks, seed=seed, progress=progress)
        for d in items
    ]
    fig, panel = _row_axes(len(dists), rows, ax, size, height=3.0)
    for i, d in enumerate(dists):
        for r, row in enumerate(rows):
            a = panel(i, r)
            if row == "miss":
                _miss_panel(a, d, deadline_s)
            else:
                _cdf_panel(a, d, row, deadline_s if row == "latency_s" else None)
    return finish(fig, size, title)


def _cdf_panel(ax: Axes, d: Distributions, quantity: str, deadline_s: float | None) -> None:
    unit = "s" if quantity == "latency_s" else "J"
    spread: list[float] = []
    for po in d.policies:
        spread += [float(po.law.values(quantity).min()), float(po.law.values(quantity).max())]
        if po.samples:
            spread += [float(po.samples[quantity].min()), float(po.samples[quantity].max())]
    right = max(spread)  # every step line runs on to the panel's largest value
    for j, po in enumerate(d.policies):
        st = STYLE[po.policy]
        xs, F = po.law.cdf(quantity)
        p95 = po.p95(quantity)
        ax.plot(
            np.concatenate([xs[:1], xs, [right]]),
            np.concatenate([[0.0], F, F[-1:]]),
            drawstyle="steps-post",
            color=st["color"],
            ls=st["ls"],
            lw=st["lw"],
            gid=f"cdf:{quantity}:{po.policy}",
            label=f"{st['label']}: p95 {_fmt(p95, unit)}",
        )
        ax.plot(
            [p95],
            [QUANTILE],
            ls="none",
            marker=st["marker"],
            ms=6,
            color=st["color"],
            gid=f"p95:{quantity}:{po.policy}",
            label="_nolegend_",
        )
        if po.samples:
            ex, eF = empirical_cdf(po.samples[quantity])
            ax.plot(
                np.concatenate([ex[:1], ex, [right]]),
                np.concatenate([[0.0], eF, eF[-1:]]),
                drawstyle="steps-post",
                color=st["color"],
                lw=0.8,
                alpha=_SIM_ALPHA,
                gid=f"ecdf:{quantity}:{po.policy}",
                label=f"thin: simulated, {d.tasks} tasks" if j == 0 else "_nolegend_",
            )
    ax.axhline(QUANTILE, color="0.6", lw=0.8, ls=":")
    if deadline_s is not None:
        ax.axvline(deadline_s, color="0.3", lw=1.0, ls="--")
    if _log_if_wide(np.asarray(spread)):
        ax.set_xscale("log")
    ax.set_ylim(0.0, 1.02)
    _sci(ax, "x")
    ax.set_xlabel(axis_label(_QUANTITY_KEY[quantity]))
    ax.set_ylabel(axis_label("task.cdf"))
    what = "latency" if quantity == "latency_s" else "device energy"
    ax.set_title(f"{d.instance.name}: CDF of the {what} per task")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="best")


def _miss_panel(ax: Axes, d: Distributions, deadline_s: float | None) -> None:
    floor = math.inf
    for po in d.policies:
        st = STYLE[po.policy]
        xs, miss = po.law.tail("latency_s")
        shown = np.where(miss > 0, miss, np.nan)  # P = 0 beyond the largest latency: off the log axis
        label = st["label"]
        if deadline_s is not None:
            label += f": {po.miss(deadline_s):.3g}"
        ax.plot(
            np.concatenate([xs[:1], xs]),
            np.concatenate([[1.0], shown]),
            drawstyle="steps-post",
            color=st["color"],
            ls=st["ls"],
            lw=st["lw"],
            gid=f"miss:{po.policy}",
            label=label,
        )
        positive = miss[miss > 0]
        if positive.size:
            floor = min(floor, float(positive.min()))
        if deadline_s is not None:
            p = po.miss(deadline_s)
            ax.plot(
                [deadline_s],
                [p if p > 0 else np.nan],
                ls="none",
                marker=st["marker"],
                ms=6,
                color=st["color"],
                gid=f"deadline:{po.policy}",
                label="_nolegend_",
            )
    ax.set_yscale("log")
    if math.isfinite(floor):
        ax.set_ylim(max(floor / 3.0, 1e-12), 2.0)
    spread = np.concatenate([po.law.latency_s for po in d.policies])
    if _log_if_wide(spread):
        ax.set_xscale("log")
    if deadline_s is not None:
        ax.axvline(deadline_s, color="0.3", lw=1.0, ls="--", label=f"deadline {_fmt(deadline_s, 's')}")
    _sci(ax, "x")
    ax.set_xlabel(axis_label("task.deadline_s"))
    ax.set_ylabel(axis_label("task.miss_probability"))
    ax.set_title(f"{d.instance.name}: probability of missing a deadline")
    ax.grid(alpha=0.3, which="both")
    if deadline_s is not None:
        ax.legend(fontsize=7, loc="upper right", title="$P(\\ell > d)$ at the deadline", title_fontsize=7)


# ----------------------------------------------------------------------------- trade-off


@dataclass(frozen=True)
class Tradeoff:
    r"""The trade-off points of one instance (shape ``(P,)`` each, P shares).

    ``share``: :math:`\lambda`; ``energy_weight``, ``time_weight``: the weights of each
    point; ``latency_s[policy]``, ``energy_j[policy]``: expected latency and device energy
    per task with the download amortised (``nan`` where the baseline is infeasible);
    ``placement[policy]``; ``share0``, ``latency0_s``, ``energy0_j``: the instance's own
    share and its joint optimum's point.
    """

    share: NDArray[np.float64]
    energy_weight: NDArray[np.float64]
    time_weight: NDArray[np.float64]
    latency_s: dict[str, NDArray[np.float64]]
    energy_j: dict[str, NDArray[np.float64]]
    placement: dict[str, NDArray[np.float64]]
    share0: float
    latency0_s: float
    energy0_j: float


def download_parts(problem: Problem, placement: int) -> tuple[float, float]:
    r"""``(seconds, joules)`` of the download of layers ``1..placement`` per task: the
    parameter bits :math:`\sum_{i \le M} s_i` over the downlink rate, times the receive
    energy per bit, each over :math:`K_\mathrm{tasks}` (so that
    :math:`w_T` times the one plus :math:`w_E` times the other is :math:`D(M)/K_\mathrm{tasks}`)."""
    pl = problem.instance.placement
    bits = float(problem.costs.memory_bits[placement])
    k = pl.tasks_per_period
    return bits / pl.downlink_bps / k, bits * pl.rx_energy_per_bit / k


def _amortised(problem: Problem, placement: int, latency_s: float, energy_j: float) -> tuple[float, float]:
    dt, de = download_parts(problem, placement)
    return latency_s + dt, energy_j + de


def tradeoff_weights(problem: Problem, result: SolveResult, share: float) -> tuple[float, float]:
    r""":math:`(w_E, w_T)` of the share :math:`\lambda` (module docstring); the instance's own
    weights at :math:`\lambda_0`."""
    t0, e0 = _amortised(problem, result.placement, result.breakdown.latency_s, result.breakdown.energy_j)
    if not (e0 > 0 and t0 > 0):
        raise InstanceError(
            f"tradeoff: the joint optimum of {problem.instance.name!r} spends {e0:g} J and {t0:g} s per task; "
            "a trade-off needs both > 0"
        )
    c = problem.instance.cost
    s = c.energy_weight * e0 + c.time_weight * t0
    return s * share / e0, s * (1.0 - share) / t0


def with_weights(instance: Instance, energy_weight: float, time_weight: float) -> Instance:
    return replace(instance, cost=replace(instance.cost, energy_weight=energy_weight, time_weight=time_weight))


def tradeoff_sweep(
    source: Source,
    points: int = 25,
    *,
    result: SolveResult | None = None,
    policies: Sequence[str] = POLICIES,
    tick: Callable[[], None] = lambda: None,
) -> Tradeoff:
    """:class:`Tradeoff` at ``points`` shares (module docstring)."""
    if points < 2:
        raise InstanceError(f"--points = {points}: must be an integer >= 2")
    inst, base, res = _unpack(source, result)
    c = inst.cost
    t0, e0 = _amortised(base, res.placement, res.breakdown.latency_s, res.breakdown.energy_j)
    share0 = c.energy_weight * e0 / (c.energy_weight * e0 + c.time_weight * t0)
    u = np.linspace(-TRADEOFF_DECADES, TRADEOFF_DECADES, points)
    shares = np.unique(np.concatenate([1.0 / (1.0 + 10.0 ** (-u)), [share0]]))
    points = shares.shape[0]
    w_e, w_t = np.empty(points), np.empty(points)
    lat = {p: np.full(points, np.nan) for p in policies}
    en = {p: np.full(points, np.nan) for p in policies}
    pl = {p: np.full(points, np.nan) for p in policies}
    for i, lam in enumerate(shares):
        w_e[i], w_t[i] = tradeoff_weights(base, res, float(lam))
        moved = with_weights(inst, float(w_e[i]), float(w_t[i]))
        problem = prepare(moved)
        r = solve(moved, rule="optimal")
        for name in policies:
            key = Policy(name).key
            if key is not None and r.baselines[key] is None:
                continue
            pol = build_policy(problem, name, r)
            law = task_law(pol.actions, problem.channel, problem.costs)
            lat[name][i], en[name][i] = _amortised(problem, pol.placement, law.mean("latency_s"), law.mean("energy_j"))
            pl[name][i] = pol.placement
        tick()
    return Tradeoff(shares, w_e, w_t, lat, en, pl, share0, t0, e0)


def tradeoff_figure(
    sources: Source | Tradeoff | Sequence[Source],
    points: int = 25,
    progress: bool | None = False,
    *,
    result: SolveResult | None = None,
    ax: Axes | None = None,
    size: str | None = None,
    title: bool = True,
) -> Figure:
    """Per instance: expected latency against expected device energy of every policy as the weights move."""
    check_size(size)
    items: list[Any] = list(sources) if isinstance(sources, (list, tuple)) else [sources]
    if result is not None and len(items) != 1:
        raise InstanceError(f"result=: one result for {len(items)} instances")
    fig, panel = _row_axes(len(items), ("tradeoff",), ax, size, height=4.0)
    with progress_bar(points * len(items), "figures: trade-off", progress, unit="solve") as bar:
        for i, item in enumerate(items):
            if isinstance(item, Tradeoff):
                tr, name = item, ""
            else:
                tr = tradeoff_sweep(item, points, result=result, tick=lambda: bar.update(1))
                name = item.name
            _tradeoff_panel(panel(i, 0), tr, name)
    if ax is None:
        handles, labels = panel(0, 0).get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside upper center", ncol=_legend_columns(len(labels), size), fontsize=9)
    else:
        ax.legend(fontsize=7)
    return finish(fig, size, title)


def _tradeoff_panel(ax: Axes, tr: Tradeoff, name: str) -> None:
    xs: list[float] = []
    ys: list[float] = []
    for policy, lat in tr.latency_s.items():
        st = STYLE[policy]
        ax.plot(
            lat,
            tr.energy_j[policy],
            color=st["color"],
            ls=st["ls"],
            lw=st["lw"],
            marker=st["marker"],
            ms=4,
            markevery=max(1, len(lat) // 8),
            gid=f"tradeoff:{policy}",
            label=st["label"],
        )
        xs += [float(v) for v in lat if np.isfinite(v)]
        ys += [float(v) for v in tr.energy_j[policy] if np.isfinite(v)]
    ax.plot(
        [tr.latency0_s],
        [tr.energy0_j],
        ls="none",
        marker="*",
        ms=16,
        color=STYLE["optimal"]["color"],
        markeredgecolor="white",
        gid="instance",
        label=f"this instance ($\\lambda_0$ = {tr.share0:.3g})",
    )
    if _log_if_wide(np.asarray(xs)):
        ax.set_xscale("log")
    if _log_if_wide(np.asarray(ys)):
        ax.set_yscale("log")
    _sci(ax, "x")
    _sci(ax, "y")
    ax.set_xlabel(axis_label("tradeoff.latency_s"))
    ax.set_ylabel(axis_label("tradeoff.energy_j"))
    ax.set_title(f"{name + ': ' if name else ''}energy against latency as $w_E/w_T$ moves")
    ax.grid(alpha=0.3, which="both")


def make_task_figures(
    instances: list[Instance],
    kinds: Sequence[str] = TASK_FIGURES,
    tasks: int = 100_000,
    seed: int | None = 0,
    points: int = 25,
    deadline_s: float | None = None,
    progress: bool | None = False,
    *,
    size: str | None = None,
    title: bool = True,
) -> dict[str, Figure]:
    """The figures ``kinds`` (some of :data:`TASK_FIGURES`) of one or more instances."""
    check_size(size)
    out: dict[str, Figure] = {}
    for kind in kinds:
        if kind == "distribution":
            out[kind] = distribution_figure(instances, tasks, seed, deadline_s, progress, size=size, title=title)
        elif kind == "tradeoff":
            out[kind] = tradeoff_figure(instances, points, progress, size=size, title=title)
        else:
            raise InstanceError(f"figure {kind!r}: must be one of {', '.join(TASK_FIGURES)}")
    return out
