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
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
from numpy.typing import NDArray

from coopt.dp.batch import argmin_placements, solve_share_pairs
from coopt.engines import engine_name, run_batches
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
    off_grid : dict
        ``{(x, y): (Phi, M*)}`` at shares off the level grid solved with the table (the
        equal-shares baseline, :func:`fleet_tables`).
    """

    phi: NDArray[np.float64] = field(repr=False)
    placement: NDArray[np.int64] = field(repr=False)
    by_placement: NDArray[np.float64] = field(repr=False)
    off_grid: dict[tuple[float, float], tuple[float, int]] = field(default_factory=dict, repr=False)


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


def phi_at(instance: Instance, shared: Shared, x: float, y: float, base: Problem | None = None) -> tuple[float, int]:
    """:math:`(\\Phi_u(x, y), M^*)` of one device at any shares in ``[0, 1]`` (also off the
    level grid, e.g. the equal-shares baseline). ``base`` is the device prepared at full
    shares, when the caller has it."""
    return _best(values_at(instance, shared, x, y, base))


def values_at(
    instance: Instance, shared: Shared, x: float, y: float, base: Problem | None = None
) -> NDArray[np.float64]:
    """:math:`\\Phi_u(M; x, y)` for every placement, by the sweep of the tables (:func:`_pair_values`),
    ``+inf`` where the memory limit forbids ``M``; at a zero share only device-only,
    :math:`M = N`, is finite."""
    base = prepare(instance) if base is None else base
    if x == 0 or y == 0:
        out = np.full(base.costs.n_layers + 1, math.inf)
        out[-1] = device_only_value(base)
        return out
    return _pair_values(base, [float(x)], [float(y)])[0]


def share_table(instance: Instance, shared: Shared, off_grid: Iterable[tuple[float, float]] = ()) -> ShareTable:
    r""":math:`\Phi(X_i, Y_j)` on the whole level grid of one device (module docstring), and at
    the pairs ``off_grid``, all in one batched sweep."""
    base = prepare(instance)
    xs, ys = np.asarray(shared.x_levels), np.asarray(shared.y_levels)
    extra = list(dict.fromkeys((float(x), float(y)) for x, y in off_grid))
    by_placement = np.full((xs.size, ys.size, base.costs.n_layers + 1), math.inf)
    by_placement[xs == 0, :, -1] = by_placement[:, ys == 0, -1] = device_only_value(base)
    gx, gy = np.meshgrid(xs[xs > 0], ys[ys > 0], indexing="ij")
    inside = [(x, y) for x, y in extra if x > 0 and y > 0]
    values = _pair_values(base, [*gx.ravel(), *(x for x, _ in inside)], [*gy.ravel(), *(y for _, y in inside)])
    by_placement[np.ix_(xs > 0, ys > 0)] = values[: gx.size].reshape(*gx.shape, -1)
    flat = by_placement.reshape(-1, by_placement.shape[-1])
    phi, placement = _argmin_rows(flat)
    found = dict(zip(inside, zip(*_argmin_rows(values[gx.size :]), strict=True), strict=True))
    at_zero = _best(values_at(instance, shared, 0.0, 0.0, base))
    return ShareTable(
        phi.reshape(xs.size, ys.size),
        placement.reshape(xs.size, ys.size),
        by_placement,
        {pair: (float(v), int(m)) for pair, (v, m) in ((p, found.get(p, at_zero)) for p in extra)},
    )


def _argmin_rows(values: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    r"""Per row of ``values`` ``(P, N + 1)``, :math:`\min_M \Phi(M)` and its :math:`M` by the tie
    rule of coopt solve; ``(inf, DEVICE_ONLY)`` where no placement is finite."""
    finite = np.isfinite(values).any(axis=1)
    phi = np.full(values.shape[0], math.inf)
    placement = np.full(values.shape[0], DEVICE_ONLY, dtype=np.int64)
    placements = np.flatnonzero(np.isfinite(values).any(axis=0))
    if placements.size:
        phi[finite], placement[finite] = argmin_placements(values[finite], placements.tolist())
    return phi, placement


def _pair_values(base: Problem, xs: Sequence[float], ys: Sequence[float]) -> NDArray[np.float64]:
    r""":math:`\Phi(M)` at the pairs ``(xs[p], ys[p])`` of positive shares in one batched sweep
    (:func:`coopt.dp.batch.solve_share_pairs`: the same values as the per-pair sweep),
    shape ``(P, N + 1)``, ``+inf`` where the memory limit forbids ``M``."""
    inst = base.instance
    rule = inst.placement.rule
    J = solve_share_pairs(base.costs, base.channel, inst.wait.mode, xs, ys, (rule,))[rule]
    out = np.full(J.shape, math.inf)
    feasible = base.placements
    out[..., feasible] = J[..., feasible] + base.costs.download[feasible] / inst.placement.tasks_per_period
    return out


def _best(values: NDArray[np.float64]) -> tuple[float, int]:
    """The argmin of :math:`\\Phi(M)` with the tie rule of coopt solve (the smaller ``M``)."""
    phi, m = _argmin_rows(np.asarray(values)[None, :])
    return float(phi[0]), int(m[0])


def fleet_tables(
    fleet: Fleet, *, workers: int = 1, dask: str | None = None, progress: bool | None = False
) -> list[ShareTable]:
    """One :class:`ShareTable` per distinct device (:attr:`Fleet.kinds`), in order.

    The devices are independent jobs run on :mod:`coopt.engines` (the sweep's engines):
    in this process (``workers = 1``, no ``dask``: the default of the Python API), on
    ``workers`` local processes, or on Dask (``dask`` a scheduler's address
    ``tcp://host:port``, or ``"local"`` for a ``LocalCluster`` of ``workers`` processes
    on 127.0.0.1). Every engine gives the same tables, bit for bit: each is computed
    by the same code from the same instance. ``progress``: a bar with an ETA on stderr,
    shown after :data:`PROGRESS_AFTER_S` (``None``: only on a terminal).
    """
    tables: list[ShareTable | None] = [None] * len(fleet.kinds)

    def record(batch: list[Job], results: list[ShareTable]) -> None:
        for (k, *_), table in zip(batch, results, strict=True):
            tables[k] = table

    equal = 1.0 / fleet.size  # the equal-shares baseline's pair, solved with the tables
    run_batches(
        [(k, instance, fleet.shared, ((equal, equal),)) for k, instance in enumerate(fleet.kinds)],
        _share_tables,
        engine=engine_name(workers, dask),
        workers=workers,
        on_result=record,
        progress=progress,
        desc="share tables",
        unit="device",
        delay_s=PROGRESS_AFTER_S,
    )
    done = [table for table in tables if table is not None]
    assert len(done) == len(tables), "an engine returned without every table"
    return done


PROGRESS_AFTER_S = 2.0
"""The tables' progress bar shows only once they have taken this long."""


Job = tuple[int, Instance, Shared, tuple[tuple[float, float], ...]]  # kind, instance, levels, off-grid pairs


def _share_tables(batch: list[Job]) -> list[ShareTable]:
    """The engines' job function: the tables of a batch of devices."""
    return [share_table(instance, shared, off_grid) for _, instance, shared, off_grid in batch]


__all__ = [
    "DEVICE_ONLY",
    "ShareTable",
    "device_only_value",
    "fleet_tables",
    "instance_at",
    "phi_at",
    "share_table",
]
