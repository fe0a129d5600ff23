r"""Monte Carlo of a solved fleet (``coopt simulate FLEET``, docs/model.md section 11).

Every device plays its own rule at the shares the allocation gives it (device-only at a
zero share). Devices of one kind at the same shares are one group :math:`g` with total
weight :math:`W_g`; each group is simulated once (:func:`coopt.sim.simulate.simulate`, its own
seed from ``numpy.random.SeedSequence(seed)``), so the fleet's estimate is
:math:`\hat F = \sum_g W_g \bar c_g` with standard error
:math:`\sqrt{\sum_g W_g^2 s_g^2}` (the groups are independent) and the 95 % normal interval
:math:`\hat F \pm 1.96\,\mathrm{se}`. The exact value is the allocation's :math:`F`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from coopt.fleet.files import Fleet
from coopt.fleet.solve import FleetResult, solve_fleet
from coopt.fleet.tables import instance_at
from coopt.sim.simulate import Z95, simulate


@dataclass(frozen=True)
class GroupSimulation:
    """One group: a kind at one pair of shares, its devices and its simulated mean."""

    kind: int
    x: float
    y: float
    devices: int
    weight: float
    mean: float
    std_error: float
    exact: float


@dataclass(frozen=True, eq=False)
class FleetSimulation:
    """The fleet's simulated mean cost against its exact value (module docstring)."""

    name: str
    tasks: int
    seed: int
    mean: float
    std_error: float
    ci_low: float
    ci_high: float
    exact: float
    groups: tuple[GroupSimulation, ...]

    @property
    def z_score(self) -> float:
        return 0.0 if self.std_error == 0 else (self.mean - self.exact) / self.std_error

    def to_dict(self) -> dict[str, Any]:
        return {
            "fleet": self.name,
            "tasks": self.tasks,
            "seed": self.seed,
            "mean": self.mean,
            "std_error": self.std_error,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "exact": self.exact,
            "z_score": self.z_score,
            "groups": [vars(g) for g in self.groups],
        }


def simulate_fleet(
    fleet: Fleet, tasks: int = 100_000, seed: int = 0, result: FleetResult | None = None
) -> FleetSimulation:
    """Simulate ``tasks`` tasks of every group of a solved fleet (``result``, solved here when
    not given)."""
    result = solve_fleet(fleet) if result is None else result
    members: dict[tuple[int, float, float], list[int]] = {}
    for u, (dev, share) in enumerate(zip(fleet.devices, result.devices)):
        members.setdefault((dev.kind, share.x, share.y), []).append(u)
    seeds = np.random.SeedSequence(seed).generate_state(len(members))
    groups = []
    for ((kind, x, y), us), child in zip(members.items(), seeds):
        instance = fleet.kinds[kind]
        if x == 0 or y == 0:
            sim = simulate(instance, "device-only", tasks, int(child))
        else:
            sim = simulate(instance_at(instance, fleet.shared, x, y), instance.placement.rule, tasks, int(child))
        weight = math.fsum(fleet.devices[u].weight for u in us)
        groups.append(GroupSimulation(kind, x, y, len(us), weight, sim.mean, sim.std_error, sim.exact))
    mean = math.fsum(g.weight * g.mean for g in groups)
    se = math.sqrt(math.fsum((g.weight * g.std_error) ** 2 for g in groups))
    return FleetSimulation(
        name=fleet.name,
        tasks=tasks,
        seed=seed,
        mean=mean,
        std_error=se,
        ci_low=mean - Z95 * se,
        ci_high=mean + Z95 * se,
        exact=result.objective,
        groups=tuple(groups),
    )


def fleet_simulation_report(sim: FleetSimulation) -> str:
    """A few lines: the estimate, its interval and the exact value."""
    inside = "inside" if sim.ci_low <= sim.exact <= sim.ci_high else "OUTSIDE"
    lines = [
        f"fleet {sim.name}: {sum(g.devices for g in sim.groups)} devices in {len(sim.groups)} groups "
        f"(a kind at one pair of shares), {sim.tasks} tasks each, seed {sim.seed}",
        f"simulated F = {sim.mean:.6e} +- {Z95 * sim.std_error:.3e} (95% interval [{sim.ci_low:.6e}, {sim.ci_high:.6e}])",
        f"exact     F = {sim.exact:.6e} ({inside} the interval, z = {sim.z_score:+.2f})",
    ]
    return "\n".join(lines)


__all__ = ["FleetSimulation", "GroupSimulation", "fleet_simulation_report", "simulate_fleet"]
