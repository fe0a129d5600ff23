"""Result objects shared by every solution method, and their JSON form.

:class:`SolveResult` is what :func:`coopt.solve` returns for any ``method``; its
:meth:`SolveResult.to_dict` is the object of docs/model.md section 8 printed by
``coopt solve --json``.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from coopt.dp.placement import Baseline, PlacementValue, baselines
from coopt.dp.stopping import ACTION_NAMES, STOP, WAIT, Occupation, StoppingSolution
from coopt.model.channel import Channel
from coopt.model.costs import CostModel
from coopt.model.problem import Problem


@dataclass(frozen=True)
class Breakdown:
    """Expected parts of :math:`\\Phi(M^*)` per task, and the physical totals.

    ``local + upload + edge + waiting = task_cost`` and
    ``task_cost + download_amortised = objective`` (cost units); ``latency_s`` and
    ``energy_j`` are the expected task latency (s) and device energy (J), so that
    ``task_cost = w_E energy_j + w_T latency_s``. ``stop_prob[n]`` is the probability
    that the task uploads (or finishes) at epoch ``n``.
    """

    local: float
    upload: float
    edge: float
    waiting: float
    download_amortised: float
    latency_s: float
    energy_j: float
    mean_wait_slots: float
    stop_prob: tuple[float, ...]


def breakdown(
    occ: Occupation, channel: Channel, costs: CostModel, download_cost: float, tasks_per_period: float
) -> Breakdown:
    """Expected cost parts of a policy from its occupation measure."""
    horizon = occ.visits.shape[0] - 1
    stops = occ.visits[:, :, STOP]
    waits = occ.visits[:, :, WAIT].sum()
    p_stop = stops.sum(axis=1)
    # E[1/r(h)] over the stopping states of each epoch; the upload parts are d_n times it.
    inv_rate = stops @ (1.0 / costs.rate_bps(channel.gains))
    upload = float(inv_rate @ costs.upload_coef[: horizon + 1] + p_stop @ costs.overhead[: horizon + 1])
    tx_time = float(inv_rate @ costs.upload_bits[: horizon + 1])
    over_t = float(p_stop @ costs.overhead_time_s[: horizon + 1])
    over_e = float(p_stop @ costs.overhead_energy_j[: horizon + 1])
    local_t = float(p_stop @ costs.local_time_s[: horizon + 1])
    local_e = float(p_stop @ costs.local_energy_j[: horizon + 1])
    edge_t = float(p_stop @ costs.edge_time_s[: horizon + 1])
    slot = costs.slot_s if waits > 0 else 0.0
    return Breakdown(
        local=float(p_stop @ costs.A[: horizon + 1]),
        upload=upload,
        edge=float(p_stop @ costs.R[: horizon + 1]),
        waiting=float(costs.wait_cost * waits) if waits > 0 else 0.0,
        download_amortised=download_cost / tasks_per_period,
        latency_s=local_t + over_t + tx_time + edge_t + slot * waits,
        energy_j=local_e + over_e + costs.tx_power_w * tx_time + costs.idle_power_w * slot * waits,
        mean_wait_slots=float(waits),
        stop_prob=tuple(float(x) for x in p_stop),
    )


GAP_DEFINITION = "extra cost over the joint optimum, 100 (Phi_b - Phi*) / Phi* %"


@dataclass(frozen=True)
class BaselineGap:
    r"""How much more a policy costs than the joint optimum (:data:`GAP_DEFINITION`).

    Attributes
    ----------
    extra_cost : float
        :math:`\Phi_b - \Phi^*` (cost per task).
    percent : float or None
        :math:`100 (\Phi_b - \Phi^*) / \Phi^*`; ``None`` when :math:`\Phi^* = 0` (a
        network of free layers), where a relative gap means nothing and
        ``extra_cost`` alone says it.
    """

    extra_cost: float
    percent: float | None

    def text(self) -> str:
        """``+12.34 %``, or ``n/a (Phi* = 0), Phi_b - Phi* = 1.2e-04``."""
        if self.percent is None:
            return f"n/a (Phi* = 0), Phi_b - Phi* = {self.extra_cost:.6e}"
        return f"{self.percent:+8.2f} %"


def baseline_gap(baseline: float, optimum: float) -> BaselineGap:
    """The one definition of a baseline's gap, used by ``solve`` and ``compare``."""
    extra = float(baseline) - float(optimum)
    return BaselineGap(extra, None if optimum == 0 else 100.0 * extra / float(optimum))


def _num(x: float) -> float | None:
    """JSON number, with +inf as ``null`` (docs/model.md: ``null`` for +inf)."""
    return None if math.isinf(x) else float(x)


@dataclass(frozen=True, eq=False)
class SolveResult:
    """The joint optimum of one instance and everything reported beside it.

    In a notebook: ``str(result)`` is the text report of ``coopt solve`` (registered by
    :mod:`coopt.report.text`, which ``import coopt`` loads; this module stays below the
    report layer), the notebook shows :meth:`_repr_html_`, and :meth:`to_frame` gives
    :math:`\\Phi(M)` per placement as a pandas DataFrame (pandas is the ``frames`` extra).

    Attributes
    ----------
    placement : int
        :math:`M^*`.
    objective, task_cost, download_cost : float
        :math:`\\Phi(M^*)`, :math:`J(M^*)`, :math:`D(M^*)` (per period).
    rule, method, wait_mode : str
        The splitting rule in force, the solution method, ``wait.mode``.
    by_placement : tuple of PlacementValue
        :math:`\\Phi(M)` for every feasible :math:`M`.
    policy : StoppingSolution
        The splitting policy at :math:`M^*` (values, actions, thresholds).
    breakdown : Breakdown
        Expected parts of the objective under that policy.
    baselines : dict
        docs/model.md section 6, keyed ``edge_only`` ... ``osla``; ``None`` if infeasible.
    channel : Channel
        The finite channel every number was computed on.
    solver : dict
        Method-specific fields (the MIP's termination, bound, gap, wall time, ...).
    overhead_s, overhead_j : float
        The per-upload overhead of the instance (docs/model.md section 10.3); in the JSON
        object (``uplink_overhead``) only when one of them is not 0.
    measured : tuple of str
        The profile's measured columns (docs/model.md 10.1) that replaced MAC-derived costs.
    layer_names : tuple of str
        The network's layer names, ``input`` first (for the text report).
    """

    instance_name: str
    placement: int
    objective: float
    task_cost: float
    download_cost: float
    rule: str
    method: str
    wait_mode: str
    tasks_per_period: float
    by_placement: tuple[PlacementValue, ...]
    policy: StoppingSolution
    breakdown: Breakdown
    baselines: dict[str, Baseline | None]
    channel: Channel
    solver: dict[str, Any] = field(default_factory=dict)
    overhead_s: float = 0.0
    overhead_j: float = 0.0
    measured: tuple[str, ...] = ()
    layer_names: tuple[str, ...] = field(default=(), repr=False)

    def __str__(self) -> str:
        report = _TEXT_REPORT.get("solve")
        return repr(self) if report is None else report(self)

    def to_frame(self) -> Any:
        r""":math:`\Phi(M)` of every feasible placement as a ``pandas.DataFrame`` indexed by
        ``placement``: ``objective`` (:math:`\Phi(M)`, per task), ``task_cost``
        (:math:`J(M)`, per task), ``download_cost`` (:math:`D(M)`, per period), ``optimal``
        (``True`` at :math:`M^*`). Needs pandas (``pip install 'coopt[frames]'``)."""
        pd = import_pandas()
        frame = pd.DataFrame(
            {
                "placement": [v.placement for v in self.by_placement],
                "objective": [v.objective for v in self.by_placement],
                "task_cost": [v.task_cost for v in self.by_placement],
                "download_cost": [v.download_cost for v in self.by_placement],
                "optimal": [v.placement == self.placement for v in self.by_placement],
            }
        )
        return frame.set_index("placement")

    def _repr_html_(self) -> str:
        r"""The summary a notebook shows: :math:`M^*`, :math:`\Phi(M^*)` and its parts, and
        every baseline with its extra cost."""
        rows = [
            ("placement M*", str(self.placement)),
            ("objective Phi(M*)", f"{self.objective:.6e}"),
            ("task cost J(M*)", f"{self.task_cost:.6e}"),
            ("download D(M*) per period", f"{self.download_cost:.6e}"),
            ("rule / wait mode / method", f"{self.rule} / {self.wait_mode} / {self.method}"),
            ("latency per task", f"{self.breakdown.latency_s:.6e} s"),
            ("device energy per task", f"{self.breakdown.energy_j:.6e} J"),
        ]
        for name, b in self.baselines.items():
            pct = self.gap_percent(name)
            shown = "infeasible" if b is None else f"{b.objective:.6e}" + ("" if pct is None else f" ({pct:+.2f} %)")
            rows.append((f"baseline {name}", shown))
        body = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in rows)
        return f"<table><caption>coopt: {html.escape(self.instance_name)}</caption>{body}</table>"

    @property
    def decisions(self) -> list[list[str]]:
        """Action names per epoch ``0..M*`` and state (increasing gain)."""
        return [[ACTION_NAMES[a] for a in row] for row in self.policy.actions]

    def gap(self, name: str) -> BaselineGap | None:
        """The baseline ``name``'s :func:`baseline_gap` (``None`` if infeasible)."""
        b = self.baselines[name]
        return None if b is None else baseline_gap(b.objective, self.objective)

    def gap_percent(self, name: str) -> float | None:
        r""":data:`GAP_DEFINITION` of the baseline ``name`` (``None`` if infeasible or
        :math:`\Phi^* = 0`)."""
        g = self.gap(name)
        return None if g is None else g.percent

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of docs/model.md section 8 (plus diagnostic keys)."""
        th = self.policy.thresholds
        bd = self.breakdown
        out: dict[str, Any] = {
            "instance": self.instance_name,
            "placement": self.placement,
            "objective": self.objective,
            "task_cost": self.task_cost,
            "download_cost": self.download_cost,
            "rule": self.rule,
            "method": self.method,
            "wait_mode": self.wait_mode,
            "tasks_per_period": self.tasks_per_period,
            "by_placement": [
                {
                    "placement": v.placement,
                    "objective": v.objective,
                    "task_cost": v.task_cost,
                    "download_cost": v.download_cost,
                }
                for v in self.by_placement
            ],
            "thresholds": None if th is None else [_num(x) for x in th],
            "decisions": self.decisions,
            "breakdown": {
                "local": bd.local,
                "upload": bd.upload,
                "edge": bd.edge,
                "waiting": bd.waiting,
                "download_amortised": bd.download_amortised,
                "latency_s": bd.latency_s,
                "energy_j": bd.energy_j,
                "mean_wait_slots": bd.mean_wait_slots,
                "stop_prob": list(bd.stop_prob),
            },
            "baselines": {
                name: None
                if b is None
                else {
                    "placement": b.placement,
                    "objective": b.objective,
                    "task_cost": b.task_cost,
                    "download_cost": b.download_cost,
                    "feasible": True,
                    "gap_percent": self.gap_percent(name),
                    "extra_cost": b.objective - self.objective,
                }
                for name, b in self.baselines.items()
            },
            "gap_percent_definition": GAP_DEFINITION + " (null when Phi* = 0; extra_cost = Phi_b - Phi*)",
            "channel_states": {
                "gains": [float(g) for g in self.channel.gains],
                "init": [float(p) for p in self.channel.initial],
            },
            "measured": list(self.measured),
        }
        if self.overhead_s > 0 or self.overhead_j > 0:
            out["uplink_overhead"] = {"overhead_s": self.overhead_s, "overhead_j": self.overhead_j}
        if self.solver:
            out["solver"] = self.solver
        return out


_TEXT_REPORT: dict[str, Callable[[SolveResult], str]] = {}


def register_text_report(report: Callable[[SolveResult], str]) -> None:
    """Make ``report`` what ``str(result)`` prints (:mod:`coopt.report.text` registers the
    text report of ``coopt solve`` on import: the report layer sits above this one)."""
    _TEXT_REPORT["solve"] = report


def import_pandas() -> Any:
    """pandas, imported on first use (the ``frames`` extra), or one clear ImportError."""
    try:
        import pandas
    except ImportError:
        raise ImportError("to_frame() needs pandas: pip install 'coopt[frames]'") from None
    return pandas


def thresholds_db(thresholds: NDArray[np.float64]) -> list[float]:
    """Thresholds in dB (``-inf`` for 0, ``+inf`` for never)."""
    with np.errstate(divide="ignore"):
        return [float(x) for x in 10.0 * np.log10(thresholds)]


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
        baselines=baselines(
            problem.Y, channel, inst.wait.mode, costs, problem.placements, k_tasks, osla_values, optimal_values
        ),
        channel=channel,
        overhead_s=inst.uplink.overhead_s,
        overhead_j=inst.uplink.overhead_j,
        solver=solver or {},
        measured=inst.profile.measured,
        layer_names=inst.profile.layer_names,
    )
