"""Every policy of an instance side by side: exact cost, simulated cost, saving.

For each policy of :data:`coopt.sim.simulate.POLICIES` (the joint optimum, OSLA and the
baselines of MODEL.md section 6) the comparison holds its placement, its exact
objective :math:`\\Phi` on the quantised channel (the solver's number), a Monte Carlo
estimate with its 95 % interval (:func:`coopt.sim.simulate.simulate`, same seed for every
policy) and the **saving of the joint optimum over it**,

.. math::  100\\,(\\Phi_\\text{policy} - \\Phi^*) / \\Phi_\\text{policy} \\;\\%,

i.e. the share of the policy's cost that the joint optimum avoids (the solver's
``gap_percent`` is the same difference relative to :math:`\\Phi^*` instead). A baseline
that the memory limit forbids is listed as infeasible.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from coopt.api import solve
from coopt.model.instance import Instance
from coopt.model.problem import prepare
from coopt.sim.simulate import BASELINE_KEY, POLICIES, Simulation, simulate

LABELS = {
    "optimal": "joint optimum",
    "osla": "OSLA",
    "static": "static split",
    "edge-only": "edge-only",
    "device-only": "device-only",
    "full-placement": "full placement",
}


@dataclass(frozen=True)
class PolicyRow:
    """One policy of a :class:`Comparison`; ``placement``, ``exact``, ``simulated`` and
    ``saved_percent`` are ``None`` for an infeasible baseline (``saved_percent`` also
    for the optimum itself)."""

    policy: str
    placement: int | None
    exact: float | None
    simulated: Simulation | None
    saved_percent: float | None

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
    measured: tuple[str, ...] = ()  # the profile's measured columns (MODEL.md 10.1)

    def row(self, policy: str) -> PolicyRow:
        return next(r for r in self.rows if r.policy == policy)

    def to_dict(self) -> dict[str, Any]:
        return {
            "instance": self.instance_name,
            "tasks": self.tasks,
            "seed": self.seed,
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
                    "saved_percent": r.saved_percent,
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
        key = BASELINE_KEY[name]
        base = None if key is None else solved.baselines[key]
        if key is not None and base is None:
            rows.append(PolicyRow(name, None, None, None, None))
            continue
        exact = best if base is None else base.objective
        placement = solved.placement if base is None else base.placement
        sim = simulate(problem, name, tasks, seed, solved=solved, progress=progress)
        saved = None if key is None else saved_percent(exact, best)
        rows.append(PolicyRow(name, placement, exact, sim, saved))
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
            f"  {'policy':<15} {'M':>3}  {'exact Phi':>13}  {'simulated':>13}  {'95% CI':<29}  {'saved by optimum':>16}",
        ]
        for r in c.rows:
            label = LABELS[r.policy]
            if not r.feasible:
                lines.append(f"  {label:<15} {'-':>3}  infeasible under the memory limit")
                continue
            s = r.simulated
            assert s is not None and r.exact is not None
            saved = "-" if r.saved_percent is None else f"{r.saved_percent:.2f} %"
            lines.append(
                f"  {label:<15} {r.placement:>3}  {_e(r.exact):>13}  {_e(s.mean):>13}  "
                f"[{_e(s.ci_low)}, {_e(s.ci_high)}]  {saved:>16}"
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
            "| policy | M | exact Φ | simulated Φ | 95% CI | saved by the joint optimum |",
            "|---|--:|--:|--:|---|--:|",
        ]
        for r in c.rows:
            label = LABELS[r.policy]
            if not r.feasible:
                out.append(f"| {label} | – | infeasible | – | – | – |")
                continue
            s = r.simulated
            assert s is not None and r.exact is not None
            saved = "–" if r.saved_percent is None else f"{r.saved_percent:.2f} %"
            out.append(
                f"| {label} | {r.placement} | {_e(r.exact)} | {_e(s.mean)} | [{_e(s.ci_low)}, {_e(s.ci_high)}] | {saved} |"
            )
        out.append("")
    return "\n".join(out)


def saved_percent(baseline: float, optimum: float) -> float:
    """Share of ``baseline`` that ``optimum`` avoids, in percent."""
    return 100.0 * (baseline - optimum) / baseline if baseline != 0 else math.nan
