r"""The share tables :math:`\Phi_u(x, y)` of a fleet (docs/model.md section 11).

Device ``u`` at shares :math:`(x, y)` is its own instance with ``uplink.bandwidth_hz = x B``,
``uplink.noise_w = x sigma2`` (so its rate is :math:`x B \log_2(1 + P h / (x \sigma^2))`), the
edge clock ``edge.cpu_hz = y f_E`` (:math:`b_i = w_T c_E \mathrm{macs}_i / (y f_E)`) and a
measured ``edge_s`` divided by :math:`y` (:func:`instance_at`). Everything else is the
instance's own. :math:`\Phi_u(x, y)` is that instance's section-5 optimum
:math:`\Phi(M^*)`, solved by the enumeration of :mod:`coopt.dp.placement` (one sweep of every
placement, the same code as ``coopt solve``; a device's whole grid in one batched sweep,
:func:`coopt.dp.batch.solve_share_grid`, with the same values to rounding, and the argmin with
the same tie rule); at :math:`x = 0` or :math:`y = 0` the device
cannot offload and :math:`\Phi_u = A_N + D(N) / K_\mathrm{tasks}` (``+inf`` when the memory
limit forbids :math:`M = N`).

The channel (its quantised gains and, for correlated fading, its transition matrices)
depends on neither share, so it is prepared once per device and reused at every level pair.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np
from numpy.typing import NDArray

from coopt.dp.batch import argmin_placements, solve_share_grid
from coopt.dp.placement import PlacementValue, argmin_placement, enumerate_rules
from coopt.fleet.files import Fleet, Shared
from coopt.model.instance import Instance
from coopt.model.problem import Problem, prepare

DEVICE_ONLY = -1  # ``placement`` where a device cannot run at all (Phi = inf)


@dataclass(frozen=True, eq=False)
class ShareTable:
    """:math:`\\Phi(X_i, Y_j)` of one device and the placement behind each entry.

    Attributes
    ----------
    phi : NDArray[np.float64], shape ``(len(X), len(Y))``
        ``+inf`` where infeasible.
    placement : NDArray[np.int64], same shape
        :math:`M^*` at each pair (``N`` where the device runs everything), :data:`DEVICE_ONLY`
        (``-1``) where infeasible.
    by_placement : NDArray[np.float64], shape ``(len(X), len(Y), N + 1)``
        :math:`\\Phi(M)` at each pair for every placement (``+inf`` where infeasible; at a zero
        share only :math:`M = N` is finite): the splits the baselines fix.
    """

    phi: NDArray[np.float64] = field(repr=False)
    placement: NDArray[np.int64] = field(repr=False)
    by_placement: NDArray[np.float64] = field(repr=False)


def instance_at(instance: Instance, shared: Shared, x: float, y: float) -> Instance:
    """Device ``instance`` (parsed at full shares) with the band share ``x`` and edge share ``y``
    (both ``> 0``; module docstring)."""
    if not (0 < x <= 1 and 0 < y <= 1):
        raise ValueError(f"shares (x, y) = ({x}, {y}): each must be in (0, 1]; at 0 the device runs alone")
    uplink = replace(instance.uplink, bandwidth_hz=x * shared.bandwidth_hz, noise_w=x * shared.noise_w)
    edge = replace(instance.edge, cpu_hz=y * shared.edge_cpu_hz)
    network = instance.network
    if instance.profile.edge_s is not None:  # measured on the whole server: a slice y takes edge_s / y
        network = replace(network, profile=replace(instance.profile, edge_s=instance.profile.edge_s / y))
    return replace(instance, uplink=uplink, edge=edge, network=network)


def device_only_value(problem: Problem) -> float:
    """:math:`A_N + D(N) / K_\\mathrm{tasks}`, or ``inf`` when the memory limit forbids :math:`M = N`."""
    n = problem.costs.n_layers
    if n not in problem.placements:
        return math.inf
    return float(problem.costs.A[n] + problem.costs.download[n] / problem.instance.placement.tasks_per_period)


def _values_by_placement(problem: Problem) -> NDArray[np.float64]:
    """:math:`\\Phi(M)` for every placement ``M = 0..N`` under the device's own rule, shape
    ``(N + 1,)`` (``+inf`` where the memory limit forbids ``M``)."""
    inst = problem.instance
    placements = problem.placements
    out = np.full(problem.costs.n_layers + 1, math.inf)
    if not placements:
        return out
    rule = inst.placement.rule
    values, _ = enumerate_rules(
        problem.Y,
        problem.channel,
        inst.wait.mode,
        problem.costs,
        (rule,),
        placements,
        inst.placement.tasks_per_period,
        method="model",
    )[rule]
    for v in values:
        out[v.placement] = v.objective
    return out


def phi_at(instance: Instance, shared: Shared, x: float, y: float, base: Problem | None = None) -> tuple[float, int]:
    """:math:`(\\Phi_u(x, y), M^*)` of one device at any shares in ``[0, 1]`` (also off the
    level grid, e.g. the equal-shares baseline). ``base`` is the device prepared at full
    shares, when the caller has it."""
    return _best(values_at(instance, shared, x, y, base))


def values_at(
    instance: Instance, shared: Shared, x: float, y: float, base: Problem | None = None
) -> NDArray[np.float64]:
    """:math:`\\Phi_u(M; x, y)` for every placement (:func:`_values_by_placement`); at a zero share only
    device-only, :math:`M = N`, is finite."""
    base = prepare(instance) if base is None else base
    if x == 0 or y == 0:
        out = np.full(base.costs.n_layers + 1, math.inf)
        out[-1] = device_only_value(base)
        return out
    return _values_by_placement(prepare(instance_at(instance, shared, x, y), channel=base.channel))


def share_table(instance: Instance, shared: Shared) -> ShareTable:
    r""":math:`\Phi(X_i, Y_j)` on the whole level grid of one device (module docstring)."""
    base = prepare(instance)
    xs, ys = np.asarray(shared.x_levels), np.asarray(shared.y_levels)
    by_placement = np.full((xs.size, ys.size, base.costs.n_layers + 1), math.inf)
    by_placement[xs == 0, :, -1] = by_placement[:, ys == 0, -1] = device_only_value(base)
    by_placement[np.ix_(xs > 0, ys > 0)] = _batched(base, xs[xs > 0], ys[ys > 0])
    flat = by_placement.reshape(-1, by_placement.shape[-1])
    finite = np.isfinite(flat).any(axis=1)
    phi = np.full(flat.shape[0], math.inf)
    placement = np.full(flat.shape[0], DEVICE_ONLY, dtype=np.int64)
    placements = np.flatnonzero(np.isfinite(flat).any(axis=0))
    if placements.size:
        phi[finite], placement[finite] = argmin_placements(flat[finite], placements.tolist())
    return ShareTable(phi.reshape(xs.size, ys.size), placement.reshape(xs.size, ys.size), by_placement)


def _batched(base: Problem, xs: NDArray[np.float64], ys: NDArray[np.float64]) -> NDArray[np.float64]:
    r""":math:`\Phi(M)` at every pair of positive levels ``xs x ys`` in one batched sweep
    (:func:`coopt.dp.batch.solve_share_grid`: the same values as the per-pair sweep),
    shape ``(|xs|, |ys|, N + 1)``, ``+inf`` where the memory limit forbids ``M``."""
    inst = base.instance
    rule = inst.placement.rule
    J = solve_share_grid(base.costs, base.channel, inst.wait.mode, xs, ys, (rule,))[rule]
    out = np.full(J.shape, math.inf)
    feasible = base.placements
    out[..., feasible] = J[..., feasible] + base.costs.download[feasible] / inst.placement.tasks_per_period
    return out


def _best(values: NDArray[np.float64]) -> tuple[float, int]:
    """The argmin of :math:`\\Phi(M)` with the tie rule of coopt solve (the smaller ``M``)."""
    finite = [PlacementValue(m, float(v), 0.0, 0.0) for m, v in enumerate(values) if math.isfinite(v)]
    if not finite:
        return math.inf, DEVICE_ONLY
    best = argmin_placement(finite)
    return best.objective, best.placement


def fleet_tables(fleet: Fleet) -> list[ShareTable]:
    """One :class:`ShareTable` per distinct device (:attr:`Fleet.kinds`), in order."""
    return [share_table(instance, fleet.shared) for instance in fleet.kinds]


__all__ = [
    "DEVICE_ONLY",
    "ShareTable",
    "device_only_value",
    "fleet_tables",
    "instance_at",
    "phi_at",
    "share_table",
]
