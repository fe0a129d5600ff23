"""The diagnostics of ``method = "mip"``: a typed, frozen :class:`MipReport`.

:func:`coopt.mip.method.run_mip_method` fills it; :meth:`MipReport.to_dict` is the
``solver`` object of the JSON result (docs/model.md section 8), with the same keys in
the same order as before the report was typed, so every golden file stays as it is.
Readers read its fields: ``coopt verify`` from the run itself
(:attr:`coopt.mip.method.MipRun.report`), the text report and the sweep from a
:class:`~coopt.dp.results.SolveResult`, whose ``solver`` holds the JSON form, through
:meth:`MipReport.from_dict` (:func:`mip_report`), its exact inverse.

The report imports neither Pyomo nor highspy.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from coopt.dp.results import SolveResult
from coopt.mip.highs import Termination

SOLVER_NAME = "HiGHS"


@dataclass(frozen=True, eq=False)
class RandomisedDecision:
    """A reached state where the LP's policy at :math:`M^*` randomises (QoS bounds only).

    Attributes
    ----------
    epoch, state : int
        :math:`n` and :math:`k` (states by increasing gain).
    probs : dict
        Action name -> probability, for the actions of positive probability.
    """

    epoch: int
    state: int
    probs: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        return {"epoch": self.epoch, "state": self.state, "probs": dict(self.probs)}


@dataclass(frozen=True, eq=False)
class QosReport:
    """What the method reports under ``[constraints]`` (docs/model.md section 9).

    Attributes
    ----------
    constraints : dict
        The active bound keys (``max_latency_s``, ``max_energy_j``) and their values.
    expected_latency_s, expected_energy_j : float
        The expected latency (s) and device energy (J) of the LP's policy at :math:`M^*`.
    lagrangian_bound : float
        The DP's Lagrangian lower bound on the constrained optimum.
    lagrangian_multipliers : dict
        Its maximising multipliers per active bound key.
    lagrangian_gap : float
        ``(Phi* - bound) / |Phi*|`` (0 when :math:`\\Phi^* = 0`).
    randomised_decisions : tuple of RandomisedDecision
        The states where the policy randomises.
    policy_task_cost_evaluated : float
        The task cost of the completed randomised policy, evaluated by the DP.
    """

    constraints: dict[str, float]
    expected_latency_s: float
    expected_energy_j: float
    lagrangian_bound: float
    lagrangian_multipliers: dict[str, float]
    lagrangian_gap: float
    randomised_decisions: tuple[RandomisedDecision, ...]
    policy_task_cost_evaluated: float

    def expected(self, key: str) -> float:
        """The expected value bounded by ``key`` (``max_latency_s`` or ``max_energy_j``)."""
        return {"max_latency_s": self.expected_latency_s, "max_energy_j": self.expected_energy_j}[key]


@dataclass(frozen=True, eq=False)
class PolicyCertification:
    """How the per-placement LPs' policies were certified (without QoS bounds only).

    Attributes
    ----------
    changed_states : int
        States the LPs reach whose action the certification changed (summed over placements).
    unvisited_states : int
        States the LPs never visit.
    improved : int
        Placements at which policy iteration improved the LP's policy.
    """

    changed_states: int
    unvisited_states: int
    improved: int


@dataclass(frozen=True, eq=False)
class MipReport:
    """The ``solver`` object of ``method = "mip"`` (:mod:`coopt.mip.method`).

    Attributes
    ----------
    version : str
        HiGHS's version (the JSON's ``name`` is always ``"HiGHS"``).
    termination : Termination
        Why the MIP run stopped.
    has_solution : bool
        Whether it has an incumbent.
    objective, bound, gap : float or None
        The incumbent's :math:`\\Phi`, the proven bound and the relative gap
        (:mod:`coopt.mip.highs`); ``None`` where missing or not finite.
    wall_time_s : float
        Wall time of the MIP call.
    highs_time_s : float or None
        HiGHS's own time for it.
    nodes : int or None
        Branch-and-bound nodes.
    build_time_s : float
        Time to build the Pyomo model.
    rows, columns, binaries : int
        The model's size as built.
    mip_placement : int or None
        The incumbent's :math:`M` (may differ from :math:`M^*` on exact ties).
    certified : bool
        Whether the MIP's proven bound confirms the best exact per-placement LP.
    retried_with_fallback : bool
        Whether the MIP was solved again on the fallback search path.
    objective_recomputed : float
        The incumbent's :math:`\\Phi` recomputed in NumPy from its variable values.
    flow_residual : float
        The largest row violation of the incumbent, recomputed in NumPy.
    by_placement_lp_time_s : float
        Wall time of the per-placement LPs.
    by_placement_lp_max_rel_diff : float
        The largest relative difference between an LP's objective and its policy's exact value.
    lp_small_flows : int
        Transition probabilities below HiGHS's smallest matrix value, left out of the model.
    lp_small_flow_mass : float
        The largest probability mass so left out of one row.
    certification : PolicyCertification or None
        Without QoS bounds: how the LPs' policies were certified (``by_placement_changed_states``,
        ``by_placement_unvisited_states``, ``by_placement_improved`` in the JSON).
    by_placement_skipped : dict
        Placement -> termination of the LPs without a solution (in the JSON only when not empty).
    qos : QosReport or None
        With QoS bounds: their report (its fields are keys of the same JSON object).
    """

    version: str
    termination: Termination
    has_solution: bool
    objective: float | None
    bound: float | None
    gap: float | None
    wall_time_s: float
    highs_time_s: float | None
    nodes: int | None
    build_time_s: float
    rows: int
    columns: int
    binaries: int
    mip_placement: int | None
    certified: bool
    retried_with_fallback: bool
    objective_recomputed: float
    flow_residual: float
    by_placement_lp_time_s: float
    by_placement_lp_max_rel_diff: float
    lp_small_flows: int
    lp_small_flow_mass: float
    certification: PolicyCertification | None
    by_placement_skipped: dict[int, str]
    qos: QosReport | None

    @property
    def optimal(self) -> bool:
        """Whether HiGHS proved its incumbent optimal (to the gap)."""
        return self.termination is Termination.OPTIMAL

    def to_dict(self) -> dict[str, Any]:
        """The ``solver`` object of the JSON result (keys in docs/model.md section 8's order)."""
        out: dict[str, Any] = {
            "name": SOLVER_NAME,
            "version": self.version,
            "termination": self.termination.value,
        }
        for key in _PLAIN:
            out[key] = getattr(self, key)
        if self.certification is not None:
            c = self.certification
            out["by_placement_changed_states"] = c.changed_states
            out["by_placement_unvisited_states"] = c.unvisited_states
            out["by_placement_improved"] = c.improved
        if self.by_placement_skipped:
            out["by_placement_skipped"] = {str(m): t for m, t in self.by_placement_skipped.items()}
        if self.qos is not None:
            q = self.qos
            out.update(
                constraints=dict(q.constraints),
                expected_latency_s=q.expected_latency_s,
                expected_energy_j=q.expected_energy_j,
                lagrangian_bound=q.lagrangian_bound,
                lagrangian_multipliers=dict(q.lagrangian_multipliers),
                lagrangian_gap=q.lagrangian_gap,
                randomised_decisions=[r.to_dict() for r in q.randomised_decisions],
                policy_task_cost_evaluated=q.policy_task_cost_evaluated,
            )
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> MipReport:
        """The report whose :meth:`to_dict` is ``d`` (its exact inverse).

        Raises
        ------
        ValueError
            ``d`` is not the ``solver`` object of a MIP result (a key missing, unknown or
            of the wrong shape): the JSON and this class went apart, a bug.
        """
        known = {"name", "version", "termination", *_PLAIN, *_CERTIFICATION, "by_placement_skipped", *_QOS}
        unknown = set(d) - known
        if unknown or d.get("name") != SOLVER_NAME:
            raise ValueError(f"not the solver object of a MIP result: unknown keys {sorted(unknown)}")
        try:
            certification = None
            if any(k in d for k in _CERTIFICATION):
                certification = PolicyCertification(*(d[k] for k in _CERTIFICATION))
            qos = None
            if any(k in d for k in _QOS):
                qos = QosReport(
                    constraints=dict(d["constraints"]),
                    expected_latency_s=d["expected_latency_s"],
                    expected_energy_j=d["expected_energy_j"],
                    lagrangian_bound=d["lagrangian_bound"],
                    lagrangian_multipliers=dict(d["lagrangian_multipliers"]),
                    lagrangian_gap=d["lagrangian_gap"],
                    randomised_decisions=tuple(
                        RandomisedDecision(r["epoch"], r["state"], dict(r["probs"])) for r in d["randomised_decisions"]
                    ),
                    policy_task_cost_evaluated=d["policy_task_cost_evaluated"],
                )
            return cls(
                version=d["version"],
                termination=Termination(d["termination"]),
                **{key: d[key] for key in _PLAIN},
                certification=certification,
                by_placement_skipped={int(m): t for m, t in d.get("by_placement_skipped", {}).items()},
                qos=qos,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"not the solver object of a MIP result: {exc!r}") from None


# The fields written under their own names, in the JSON's order.
_PLAIN = (
    "has_solution",
    "objective",
    "bound",
    "gap",
    "wall_time_s",
    "highs_time_s",
    "nodes",
    "build_time_s",
    "rows",
    "columns",
    "binaries",
    "mip_placement",
    "certified",
    "retried_with_fallback",
    "objective_recomputed",
    "flow_residual",
    "by_placement_lp_time_s",
    "by_placement_lp_max_rel_diff",
    "lp_small_flows",
    "lp_small_flow_mass",
)
_CERTIFICATION = ("by_placement_changed_states", "by_placement_unvisited_states", "by_placement_improved")
_QOS = (
    "constraints",
    "expected_latency_s",
    "expected_energy_j",
    "lagrangian_bound",
    "lagrangian_multipliers",
    "lagrangian_gap",
    "randomised_decisions",
    "policy_task_cost_evaluated",
)


def mip_report(result: SolveResult) -> MipReport | None:
    """The typed report of a ``method = "mip"`` result, ``None`` for the other methods."""
    return MipReport.from_dict(result.solver) if result.method == "mip" else None


__all__ = ["MipReport", "PolicyCertification", "QosReport", "RandomisedDecision", "mip_report"]
