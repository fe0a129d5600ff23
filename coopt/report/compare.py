r"""Every policy of an instance side by side: exact cost, simulated cost, extra cost.

For each policy of :data:`coopt.sim.simulate.POLICIES` (the joint optimum, OSLA and the
baselines of docs/model.md section 6) the comparison holds its placement, its exact
objective :math:`\Phi` on the quantised channel (the solver's number), a Monte Carlo
estimate with its 95 % interval (:func:`coopt.sim.simulate.simulate`, same seed for every
policy) and its **extra cost over the joint optimum**, the same
:func:`coopt.dp.results.baseline_gap` that ``coopt solve`` reports,

.. math::  100\,(\Phi_b - \Phi^*) / \Phi^* \;\%

(``None``, shown as ``n/a (Phi* = 0)`` with the absolute difference, when
:math:`\Phi^* = 0`). A baseline that the memory limit forbids is listed as infeasible.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from coopt.api import solve
from coopt.dp.results import GAP_DEFINITION, BaselineGap, baseline_gap
from coopt.model.instance import Instance
from coopt.model.problem import prepare
from coopt.model.vocabulary import Policy
from coopt.sim.simulate import POLICIES, Simulation, simulate


@dataclass(frozen=True)
class PolicyRow:
    """One policy of a :class:`Comparison`; ``placement``, ``exact``, ``simulated`` and
    ``gap`` are ``None`` for an infeasible baseline (``gap`` also for the optimum
    itself)."""

    policy: str
    placement: int | None
    exact: float | None
    simulated: Simulation | None
    gap: BaselineGap | None

    @property
    def feasible(self) -> bool:
        return self.exact is not None


@dataclass(frozen=True)
class Comparison:
    """All policies of one instance."""

    instance_name: str
    n_layers: int
    law: str
    wait_mode: str
    tasks: int
    seed: int | None
    rows: tuple[PolicyRow, ...]
    measured: tuple[str, ...] = ()  # the profile's measured columns (docs/model.md 10.1)

    def row(self, policy: str) -> PolicyRow:
        return next(r for r in self.rows if r.policy == policy)

    def to_dict(self) -> dict[str, Any]:
        return {
            "instance": self.instance_name,
            "tasks": self.tasks,
            "seed": self.seed,
            "gap_percent_definition": GAP_DEFINITION + " (null when Phi* = 0; extra_cost = Phi_b - Phi*)",
            "measured": list(self.measured),
            "policies": [
                {
                    "policy": r.policy,
                    "feasible": r.feasible,
                    "placement": r.placement,
                    "exact": r.exact,
                    "simulated": None if r.simulated is None else r.simulated.mean,
                    "ci_low": None if r.simulated is None else r.simulated.ci_low,
                    "ci_high": None if r.simulated is None else r.simulated.ci_high,
                    "gap_percent": None if r.gap is None else r.gap.percent,
                    "extra_cost": None if r.gap is None else r.gap.extra_cost,
                }
                for r in self.rows
            ],
        }


def compare(
    instance: Instance, tasks: int = 100_000, seed: int | None = 0, progress: bool | None = False
) -> Comparison:
    """Exact and simulated cost of every policy of ``instance`` (module docstring)."""
    problem = prepare(instance)
    solved = solve(instance, rule="optimal")
    best = solved.objective
    rows = []
    for name in POLICIES:
        key = Policy(name).key
        base = None if key is None else solved.baselines[key]
        if key is not None and base is None:
            rows.append(PolicyRow(name, None, None, None, None))
            continue
        exact = best if base is None else base.objective
        placement = solved.placement if base is None else base.placement
        sim = simulate(problem, name, tasks, seed, solved=solved, progress=progress)
        gap = None if key is None else baseline_gap(exact, best)
        rows.append(PolicyRow(name, placement, exact, sim, gap))
    return Comparison(
        instance.name,
        instance.n_layers,
        instance.channel.law,
        instance.wait.mode,
        tasks,
        seed,
        tuple(rows),
        instance.profile.measured,
    )


def _e(x: float) -> str:
    return f"{x:.6e}"


def _header(c: Comparison) -> str:
    return (
        f"instance {c.instance_name}: {c.n_layers} layers, {c.law} channel, wait mode {c.wait_mode}; "
        f"{c.tasks} simulated tasks per policy, seed {c.seed}"
        + (f"; measured layer costs: {', '.join(c.measured)}" if c.measured else "")
    )


def comparison_text(comparisons: list[Comparison]) -> str:
    """The readable report of ``coopt compare``."""
    blocks = []
    for c in comparisons:
        lines = [
            _header(c),
            f"  last column: the {GAP_DEFINITION}",
            f"  {'policy':<15} {'M':>3}  {'exact Phi':>13}  {'simulated':>13}  {'95% CI':<29}  {'extra cost':>10}",
        ]
        for r in c.rows:
            label = Policy(r.policy).label
            if not r.feasible:
                lines.append(f"  {label:<15} {'-':>3}  infeasible under the memory limit")
                continue
            s = r.simulated
            assert s is not None and r.exact is not None
            gap = "-" if r.gap is None else r.gap.text()
            lines.append(
                f"  {label:<15} {r.placement:>3}  {_e(r.exact):>13}  {_e(s.mean):>13}  "
                f"[{_e(s.ci_low)}, {_e(s.ci_high)}]  {gap:>10}"
            )
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def comparison_markdown(comparisons: list[Comparison]) -> str:
    """The same as :func:`comparison_text`, one Markdown table per instance."""
    out = []
    for c in comparisons:
        out += [
            f"### {c.instance_name}",
            "",
            f"{c.n_layers} layers, {c.law} channel, wait mode `{c.wait_mode}`; {c.tasks} simulated tasks per policy, seed {c.seed}.",
            "",
            f"Last column: the {GAP_DEFINITION}.",
            "",
            "| policy | M | exact Φ | simulated Φ | 95% CI | extra cost over the joint optimum |",
            "|---|--:|--:|--:|---|--:|",
        ]
        for r in c.rows:
            label = Policy(r.policy).label
            if not r.feasible:
                out.append(f"| {label} | – | infeasible | – | – | – |")
                continue
            s = r.simulated
            assert s is not None and r.exact is not None
            gap = "–" if r.gap is None else r.gap.text()
            out.append(
                f"| {label} | {r.placement} | {_e(r.exact)} | {_e(s.mean)} | [{_e(s.ci_low)}, {_e(s.ci_high)}] | {gap} |"
            )
        out.append("")
    return "\n".join(out)
