r"""Solving a fleet (docs/model.md section 11): tables, allocation, baselines, one result.

:func:`solve_fleet` builds every distinct device's table :math:`\Phi_u(X_i, Y_j)`
(:mod:`coopt.fleet.tables`), allocates the shares (:func:`coopt.fleet.allocation.allocate`,
devices of one kind and one weight aggregated into integer counts), and evaluates the
baselines of MODEL.md 11 exactly, off the level grid where need be:

* ``equal_shares``: :math:`x_u = y_u = 1/U` for every device;
* ``alone``: :math:`\sum_u \omega_u \Phi_u(1, 1)` (a lower bound on :math:`F^*` when every
  device's rule is ``optimal``);
* ``device_only``: :math:`\sum_u \omega_u \Phi_u(0, 0)`;
* ``independent_splits``: each device fixes the split it would choose alone (its :math:`M^*` at
  :math:`(1, 1)`), then the shares are allocated optimally for those splits (a device whose
  split leaves layers to the edge cannot take a zero share);
* ``alternating`` (the iterative alternating optimisation of the literature): from those
  splits, allocate, re-split every device optimally at its shares, and repeat until no split
  changes (at most :data:`MAX_ROUNDS` rounds); its :math:`F` at the end.

Both fixed-split baselines are :math:`\ge F^*` (they restrict the placements).

Each is ``None`` when some device's :math:`\Phi_u` is infeasible there. The prices are
reported per unit share and per Hz (:math:`\lambda^*/B`) and per cycle per second
(:math:`\mu^*/f_E`).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

from coopt.errors import NoSolutionError
from coopt.fleet.allocation import Allocation, Method, allocate
from coopt.fleet.files import Fleet
from coopt.fleet.tables import ShareTable, device_only_value, fleet_tables, phi_at
from coopt.mip.highs import MipOptions
from coopt.model.problem import prepare
from coopt.model.vocabulary import FleetBaseline

BASELINES = tuple(FleetBaseline)
MAX_ROUNDS = 50  # re-split / re-allocate rounds of the alternating baseline
MAX_NAMED = 8  # devices an error message names at most


@dataclass(frozen=True)
class DeviceShare:
    """One device of a solved fleet.

    Attributes
    ----------
    name : ``<instance stem>#<copy>``; ``entry`` its ``[[device]]`` entry.
    x, y : its shares of the band and of the edge clock.
    bandwidth_hz, edge_hz : :math:`x B` and :math:`y f_E`.
    placement : :math:`M^*` at those shares.
    objective : :math:`\\Phi_u(x, y)` (unweighted).
    weight : :math:`\\omega_u`.
    distance_m, mean_gain : where the fleet file set them.
    """

    name: str
    entry: int
    x: float
    y: float
    bandwidth_hz: float
    edge_hz: float
    placement: int
    objective: float
    weight: float
    distance_m: float | None = None
    mean_gain: float | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "entry": self.entry,
            "x": self.x,
            "y": self.y,
            "bandwidth_hz": self.bandwidth_hz,
            "edge_hz": self.edge_hz,
            "placement": self.placement,
            "objective": self.objective,
            "weight": self.weight,
        }
        if self.distance_m is not None:
            out["distance_m"] = self.distance_m
        if self.mean_gain is not None:
            out["mean_gain"] = self.mean_gain
        return out


@dataclass(frozen=True, eq=False)
class FleetResult:
    """A solved fleet (docs/model.md 11.2).

    Attributes
    ----------
    name : the fleet file's stem.
    objective : :math:`F = \\sum_u \\omega_u \\Phi_u(x_u, y_u)` of the returned allocation.
    bound : a proven lower bound on :math:`F^*` (the LP relaxation, or the MIP's when larger).
    lagrangian_bound : :math:`\\max L`, the LP relaxation.
    gap : ``(F - bound) / F``.
    prices : :math:`(\\lambda^*, \\mu^*)`, cost per unit share of the band and of the edge clock.
    shares_used : :math:`(\\sum_u x_u, \\sum_u y_u)`.
    devices : one :class:`DeviceShare` per device, in order.
    baselines : ``{name: F or None}`` for :data:`BASELINES`; in the JSON each is ``null`` or
        ``{"objective": F_b, "gap_percent": 100 (F_b / F - 1)}`` (negative for ``alone``).
    method, optimal, termination, solver : as :class:`~coopt.fleet.allocation.Allocation`.
    bandwidth_hz, edge_cpu_hz : :math:`B` and :math:`f_E`.
    x_levels, y_levels : the level sets.
    kinds : distinct device tables built.
    replaced : the device instances' keys that ``[shared]`` replaced.
    table_time_s, allocation_time_s : wall times of the two stages.
    tables : the tables, one per kind (not in the JSON).
    allocation : the raw allocation (not in the JSON).
    """

    name: str
    objective: float
    bound: float
    lagrangian_bound: float
    gap: float
    prices: tuple[float, float]
    shares_used: tuple[float, float]
    devices: tuple[DeviceShare, ...]
    baselines: dict[str, float | None]
    method: str
    optimal: bool
    termination: str | None
    solver: str | None
    bandwidth_hz: float
    edge_cpu_hz: float
    x_levels: tuple[float, ...]
    y_levels: tuple[float, ...]
    kinds: int
    replaced: tuple[str, ...]
    table_time_s: float
    allocation_time_s: float
    tables: tuple[ShareTable, ...] = field(repr=False)
    allocation: Allocation = field(repr=False)

    @property
    def size(self) -> int:
        return len(self.devices)

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of docs/model.md 11.2 (strict JSON: every number is finite)."""
        lam, mu = self.prices

        def baseline(value: float | None) -> dict[str, float] | None:
            if value is None:
                return None
            return {
                "objective": value,
                "gap_percent": 100.0 * (value / self.objective - 1.0) if self.objective > 0 else 0.0,
            }

        return {
            "fleet": self.name,
            "objective": self.objective,
            "bound": self.bound,
            "lagrangian_bound": self.lagrangian_bound,
            "gap": self.gap,
            "optimal": self.optimal,
            "method": self.method,
            "termination": self.termination,
            "solver": self.solver,
            "prices": {
                "bandwidth": lam,
                "edge": mu,
                "bandwidth_per_hz": lam / self.bandwidth_hz,
                "edge_per_hz": mu / self.edge_cpu_hz,
            },
            "shares_used": {"bandwidth": self.shares_used[0], "edge": self.shares_used[1]},
            "devices": [d.to_dict() for d in self.devices],
            "baselines": {name: baseline(self.baselines[name]) for name in BASELINES},
            "levels": {"bandwidth": list(self.x_levels), "edge": list(self.y_levels)},
            "kinds": self.kinds,
            "replaced": list(self.replaced),
            "wall_time_s": {"tables": self.table_time_s, "allocation": self.allocation_time_s},
        }


def _names(fleet: Fleet, devices: list[int]) -> str:
    shown = ", ".join(f"{fleet.devices[u].name} (device.{fleet.devices[u].entry})" for u in devices[:MAX_NAMED])
    return shown + (f" and {len(devices) - MAX_NAMED} more" if len(devices) > MAX_NAMED else "")


def baselines(fleet: Fleet, tables: list[ShareTable]) -> dict[str, float | None]:
    """The three baselines of MODEL.md 11, each evaluated exactly (module docstring)."""
    shared = fleet.shared

    def at(k: int, s: float) -> tuple[float, int]:  # Phi and M* of kind k at shares (s, s)
        if s in shared.x_levels and s in shared.y_levels:
            i, j = shared.x_levels.index(s), shared.y_levels.index(s)
            return float(tables[k].phi[i, j]), int(tables[k].placement[i, j])
        return tables[k].off_grid.get((s, s)) or phi_at(fleet.kinds[k], shared, s, s)

    out: dict[str, float | None] = {}
    alone: list[tuple[float, int]] = []
    for name, s in {"equal_shares": 1.0 / fleet.size, "alone": 1.0, "device_only": 0.0}.items():
        per_kind = [at(k, s) for k in range(len(fleet.kinds))]
        alone = per_kind if name == "alone" else alone
        total = math.fsum(d.weight * per_kind[d.kind][0] for d in fleet.devices)
        out[name] = total if math.isfinite(total) else None
    splits = [alone[d.kind][1] for d in fleet.devices]
    fixed = _allocate_fixed(fleet, tables, splits)
    out["independent_splits"] = None if fixed is None else fixed[0]
    for _ in range(MAX_ROUNDS):
        if fixed is None:
            break
        resplit = [int(tables[d.kind].placement[i, j]) for d, (i, j) in zip(fleet.devices, fixed[1])]
        if resplit == splits:
            break
        splits = resplit
        fixed = _allocate_fixed(fleet, tables, splits)
    out["alternating"] = None if fixed is None else fixed[0]
    return out


def _grouped(keys: list[tuple]) -> list[list[int]]:
    """Device indices grouped by equal keys, groups in first-appearance order."""
    index: dict[tuple, int] = {}
    groups: list[list[int]] = []
    for u, key in enumerate(keys):
        g = index.setdefault(key, len(groups))
        if g == len(groups):
            groups.append([])
        groups[g].append(u)
    return groups


def _levels_of(groups: list[list[int]], alloc: Allocation) -> list[tuple[int, int]]:
    """Every device's level indices ``(i, j)`` from an allocation over ``groups`` (its rows are
    the copies of group 0, then group 1, ...)."""
    out: list[tuple[int, int]] = [(0, 0)] * sum(len(g) for g in groups)
    row = 0
    for members in groups:
        for u in members:
            out[u] = (int(alloc.levels[row, 0]), int(alloc.levels[row, 1]))
            row += 1
    return out


def _allocate_fixed(
    fleet: Fleet, tables: list[ShareTable], splits: list[int]
) -> tuple[float, list[tuple[int, int]]] | None:
    """The best allocation when device ``u`` must split at ``splits[u]`` (``None`` if infeasible)."""
    groups = _grouped([(d.kind, d.weight, m) for d, m in zip(fleet.devices, splits)])
    firsts = [(fleet.devices[g[0]], splits[g[0]]) for g in groups]
    try:
        alloc = allocate(
            [tables[d.kind].by_placement[:, :, m] for d, m in firsts],
            [len(g) for g in groups],
            [d.weight for d, _ in firsts],
            fleet.shared.x_levels,
            fleet.shared.y_levels,
        )
    except NoSolutionError:
        return None
    return alloc.objective, _levels_of(groups, alloc)


def solve_fleet(
    fleet: Fleet,
    method: Method = "auto",
    options: MipOptions | None = None,
    tables: list[ShareTable] | None = None,
    known_baselines: dict[str, float | None] | None = None,
    *,
    workers: int = 1,
    dask: str | None = None,
    progress: bool | None = False,
) -> FleetResult:
    """Solve a fleet: every device's table, the allocation, the baselines (module docstring).

    Parameters
    ----------
    fleet : Fleet
        From :func:`coopt.fleet.load_fleet`.
    method : {"auto", "mip", "lagrangian", "exact", "brute_force"}
        The allocation method (:func:`coopt.fleet.allocation.allocate`).
    options : MipOptions, optional
        HiGHS's time limit, gap and threads for ``mip``.
    tables : list of ShareTable, optional
        Tables already built for this fleet (:func:`coopt.fleet.tables.fleet_tables`).
    known_baselines : dict, optional
        :func:`baselines` already evaluated on those tables (``coopt verify`` solves one fleet by
        every method and evaluates them once).
    workers, dask, progress
        Where the tables are built when ``tables`` is not given: this process (the default),
        ``workers`` local processes, or Dask (:func:`coopt.fleet.tables.fleet_tables`);
        ``progress`` also shows the allocation MIP's bar (HiGHS's gap, the ETA to the time
        limit) once it has run 2 s.

    Raises
    ------
    NoSolutionError
        No allocation meets both capacities with every device finite (the message names the
        devices that cannot run device-only), or HiGHS stopped without an allocation.
    """
    start = time.perf_counter()
    if tables is None:
        tables = fleet_tables(fleet, workers=workers, dask=dask, progress=progress)
    table_time = time.perf_counter() - start
    groups = _grouped([(d.kind, d.weight) for d in fleet.devices])
    kinds = [fleet.devices[g[0]].kind for g in groups]
    try:
        alloc = allocate(
            [tables[k].phi for k in kinds],
            [len(g) for g in groups],
            [fleet.devices[g[0]].weight for g in groups],
            fleet.shared.x_levels,
            fleet.shared.y_levels,
            method=method,
            options=options,
            progress=progress,
        )
    except NoSolutionError as exc:
        if "infeasible" not in str(exc):
            raise
        stuck = [
            u for u, d in enumerate(fleet.devices) if not math.isfinite(device_only_value(prepare(fleet.kinds[d.kind])))
        ]
        who = (
            f"devices that cannot run device-only (their memory limit forbids M = N): {_names(fleet, stuck)}"
            if stuck
            else "every device can run device-only, but no allocation gives each a finite Phi"
        )
        raise NoSolutionError(
            f"fleet {fleet.name} infeasible: no allocation of the band and the edge meets both capacities; {who}"
        ) from None
    devices = []
    for dev, (i, j) in zip(fleet.devices, _levels_of(groups, alloc)):
        x, y = fleet.shared.x_levels[i], fleet.shared.y_levels[j]
        devices.append(
            DeviceShare(
                name=dev.name,
                entry=dev.entry,
                x=x,
                y=y,
                bandwidth_hz=x * fleet.shared.bandwidth_hz,
                edge_hz=y * fleet.shared.edge_cpu_hz,
                placement=int(tables[dev.kind].placement[i, j]),
                objective=float(tables[dev.kind].phi[i, j]),
                weight=dev.weight,
                distance_m=dev.distance_m,
                mean_gain=dev.mean_gain,
            )
        )
    return FleetResult(
        name=fleet.name,
        objective=alloc.objective,
        bound=alloc.bound,
        lagrangian_bound=alloc.lagrangian_bound,
        gap=alloc.gap,
        prices=alloc.prices,
        shares_used=alloc.shares_used,
        devices=tuple(devices),
        baselines=baselines(fleet, tables) if known_baselines is None else known_baselines,
        method=alloc.method,
        optimal=alloc.optimal,
        termination=None if alloc.termination is None else str(alloc.termination),
        solver=alloc.solver,
        bandwidth_hz=fleet.shared.bandwidth_hz,
        edge_cpu_hz=fleet.shared.edge_cpu_hz,
        x_levels=fleet.shared.x_levels,
        y_levels=fleet.shared.y_levels,
        kinds=len(fleet.kinds),
        replaced=fleet.replaced,
        table_time_s=table_time,
        allocation_time_s=alloc.wall_time_s,
        tables=tuple(tables),
        allocation=alloc,
    )


__all__ = ["BASELINES", "DeviceShare", "FleetResult", "baselines", "solve_fleet"]
