r"""Placement by enumeration, and the baselines of docs/model.md section 6.

.. math::

    \Phi(M) = J(M) + D(M)/K_\mathrm{tasks}, \qquad
    M^* = \arg\min\{\Phi(M) : M \in 0..N,\ \textstyle\sum_{i\le M} s_i \le S_{max}\}

with :math:`J` the optimal value :math:`J^*` (rule ``optimal``, backward induction)
or the exact value of the OSLA policy (rule ``osla``). Ties go to the smaller
:math:`M` (objectives within the relative tie tolerance count as equal). Since
:math:`S_0 = 0`, :math:`M = 0` is always feasible, so enumeration always has an answer.

Baselines (each evaluated exactly on the same quantised model; those that can wait
use the optimal wait rule whatever ``rule`` says; ``None`` where the memory limit
forbids the placement):

* ``edge_only``: :math:`M = 0`, i.e. :math:`J^*(0)`;
* ``device_only``: :math:`M = N`, never upload: :math:`A_N`;
* ``static_split``: :math:`n_s = \arg\min_n E[Y_n(h_n)]` over feasible :math:`n` (ties:
  smaller), with :math:`h_n \sim` ``initial`` :math:`P_0 \cdots P_{n-1}` for a Markov channel;
  placement :math:`n_s`; upload at :math:`n_s`, waiting there (optimally) only if
  ``wait.mode`` allows waiting at epoch :math:`n_s` of placement :math:`n_s`;
* ``full_placement``: :math:`J^*(N)`;
* ``osla``: the OSLA rule at its own best feasible placement.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from coopt.dp.fast import PolicyMap, solve_all
from coopt.dp.markov import solve_all_markov
from coopt.dp.stopping import (
    StoppingSolution,
    backward_induction,
    iid_wait_fixed_point,
    markov_wait_values,
    osla_policy,
    tied_or_less,
)
from coopt.model.channel import Channel
from coopt.model.costs import CostModel, wait_allowed


@dataclass(frozen=True)
class PlacementValue:
    """:math:`\\Phi(M)` and its parts for one feasible placement."""

    placement: int
    objective: float
    task_cost: float
    download_cost: float


@dataclass(frozen=True)
class Baseline:
    """A baseline policy's placement and exact expected cost per task."""

    name: str
    placement: int
    objective: float
    task_cost: float
    download_cost: float


def solve_splitting(
    Y: NDArray[np.float64], channel: Channel, horizon: int, mode: str, costs: CostModel, rule: str
) -> StoppingSolution:
    """The splitting policy of ``rule`` (``"optimal"`` or ``"osla"``) for one placement."""
    solver = backward_induction if rule == "optimal" else osla_policy
    return solver(Y, channel, horizon, mode, costs)


def argmin_placement(values: list[PlacementValue]) -> PlacementValue:
    """The smallest-objective placement; ties (relative tolerance) go to the smaller ``M``."""
    best = values[0]
    for v in values[1:]:
        if not tied_or_less(best.objective, v.objective):
            best = v
    return best


ENUMERATION_METHODS = ("auto", "model", "table", "reference")


def enumerate_placements(
    Y: NDArray[np.float64],
    channel: Channel,
    mode: str,
    costs: CostModel,
    rule: str,
    placements: list[int],
    tasks_per_period: float,
    *,
    method: str = "auto",
) -> tuple[list[PlacementValue], MutableMapping[int, StoppingSolution]]:
    """:math:`\\Phi(M)` for every placement in ``placements`` and the policies behind it.

    ``method``: ``"reference"`` solves each placement with :mod:`coopt.dp.stopping` (the
    straightforward recursion, kept as the oracle that tests compare against). The
    default ``"auto"`` (and ``"model"``, ``"table"``, see :func:`coopt.dp.fast.solve_all`)
    solves every placement of an i.i.d. channel in one sweep of :mod:`coopt.dp.fast`, with
    identical decisions and values equal to rounding; the policies are then built on
    first access. A Markov channel is solved for all placements at once by
    :func:`coopt.dp.markov.solve_all_markov` (any method but ``"reference"``; ``"model"``
    and ``"table"`` mean the same there).
    """
    return enumerate_rules(Y, channel, mode, costs, (rule,), placements, tasks_per_period, method=method)[rule]


def enumerate_rules(
    Y: NDArray[np.float64],
    channel: Channel,
    mode: str,
    costs: CostModel,
    rules: tuple[str, ...],
    placements: list[int],
    tasks_per_period: float,
    *,
    method: str = "auto",
    tick: Callable[[int, int], None] | None = None,
) -> dict[str, tuple[list[PlacementValue], MutableMapping[int, StoppingSolution]]]:
    """:func:`enumerate_placements` for several rules; for an i.i.d. channel they share one
    sweep (``tick``: its progress, as :func:`coopt.dp.fast.solve_all` and
    :func:`coopt.dp.markov.solve_all_markov` report it)."""
    if method not in ENUMERATION_METHODS:
        raise ValueError(f"method = {method!r}: must be one of {', '.join(ENUMERATION_METHODS)}")
    out: dict[str, tuple[list[PlacementValue], MutableMapping[int, StoppingSolution]]] = {}
    if method != "reference":  # every horizon of a rule in one sweep
        tables = (
            solve_all_markov(Y, channel, mode, costs, rules, placements, tick=tick)
            if channel.is_markov
            else solve_all(Y, channel, mode, costs, rules, method=method, tick=tick)
        )
        for rule in rules:
            task = {m: float(tables[rule].values[m]) for m in placements}
            out[rule] = (
                placement_values(task, costs, placements, tasks_per_period),
                PolicyMap(tables[rule], placements),
            )
        return out
    for rule in rules:
        policies = {m: solve_splitting(Y, channel, m, mode, costs, rule) for m in placements}
        task = {m: policies[m].value for m in placements}
        out[rule] = (placement_values(task, costs, placements, tasks_per_period), policies)
    return out


def placement_values(
    task: dict[int, float], costs: CostModel, placements: list[int], tasks_per_period: float
) -> list[PlacementValue]:
    """:math:`\\Phi(M) = J(M) + D(M) / K_{tasks}` from the task costs ``task[M]``."""
    return [
        PlacementValue(
            placement=m,
            objective=task[m] + costs.download[m] / tasks_per_period,
            task_cost=task[m],
            download_cost=float(costs.download[m]),
        )
        for m in placements
    ]


def _baseline(name: str, placement: int, task_cost: float, costs: CostModel, tasks_per_period: float) -> Baseline:
    download = float(costs.download[placement])
    return Baseline(name, placement, task_cost + download / tasks_per_period, task_cost, download)


def static_split_cost(
    Y: NDArray[np.float64], channel: Channel, mode: str, costs: CostModel, placements: list[int]
) -> tuple[int, float]:
    """The static split :math:`n_s` and its exact expected task cost."""
    if not channel.is_markov:
        expected = Y[placements] @ channel.probs
    else:  # the law of h_n is initial P_0 ... P_{n-1}
        dists = channel.distributions(max(placements))
        expected = np.einsum("ik,ik->i", dists[placements], Y[placements])
    best = 0
    for i in range(1, len(placements)):
        if not tied_or_less(expected[best], expected[i]):
            best = i
    n_s = placements[best]
    if not wait_allowed(mode, n_s, costs.n_layers)[n_s]:
        return n_s, float(expected[best])
    y = Y[n_s]
    if not channel.is_markov:
        return n_s, iid_wait_fixed_point(y, channel.probs, costs.wait_cost)
    values = markov_wait_values(y, channel.wait_step(), costs.wait_cost)  # type: ignore[arg-type]
    return n_s, float(dists[n_s] @ values)


def baselines(
    Y: NDArray[np.float64],
    channel: Channel,
    mode: str,
    costs: CostModel,
    placements: list[int],
    tasks_per_period: float,
    osla_values: list[PlacementValue],
    optimal_values: Mapping[int, float] | None = None,
) -> dict[str, Baseline | None]:
    """The five baselines of docs/model.md section 6 (``None`` where infeasible).

    ``osla_values`` is :math:`\\Phi_{OSLA}(M)` over ``placements``; ``optimal_values``
    may give :math:`J^*(M)` already computed (``M = 0`` and ``N`` are solved here if
    missing).
    """
    n = costs.n_layers
    full_ok = n in placements

    def j_star(m: int) -> float:
        if optimal_values is not None and m in optimal_values:
            return float(optimal_values[m])
        return backward_induction(Y, channel, m, mode, costs).value

    n_s, static_cost = static_split_cost(Y, channel, mode, costs, placements)
    best_osla = argmin_placement(osla_values)
    return {
        "edge_only": _baseline("edge_only", 0, j_star(0), costs, tasks_per_period),
        "device_only": _baseline("device_only", n, float(costs.A[n]), costs, tasks_per_period) if full_ok else None,
        "static_split": _baseline("static_split", n_s, static_cost, costs, tasks_per_period),
        "full_placement": _baseline("full_placement", n, j_star(n), costs, tasks_per_period) if full_ok else None,
        "osla": Baseline(
            "osla", best_osla.placement, best_osla.objective, best_osla.task_cost, best_osla.download_cost
        ),
    }
