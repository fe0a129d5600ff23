r"""Figures of a solved fleet (``coopt figures FLEET.toml``, docs/model.md section 11).

Four figures (:data:`FLEET_FIGURES`), one panel each:

* ``fleet_shares``: every device's band share :math:`x_u` and edge share :math:`y_u`;
* ``fleet_phi``: every device's cost :math:`\Phi_u(x_u, y_u)` (unweighted);
* ``fleet_placement``: the placement :math:`M^*_u` each device runs at its shares (an
  integer: markers joined by steps, integer ticks);
* ``fleet_costs``: :math:`F` of the optimum and of every baseline of
  :data:`coopt.fleet.solve.BASELINES` against the number of devices :math:`U`, the fleet
  scaled by :func:`scaled_fleet` (every device replicated ``k`` times at its distance, so
  every ``[[device]]`` entry's ``count`` is multiplied by ``k``) and re-solved by
  :func:`~coopt.fleet.solve.solve_fleet` on the same share tables (a table does not depend
  on ``count``). A scale at which no allocation is feasible leaves a gap in the optimum and
  in the fixed-split baselines.

The first three plot against the distance :math:`d_u` when every device has one (a fleet
with ``[shared.path_loss]`` and ``distance_m`` on every entry), else against the device
index :math:`u`; one colour per ``[[device]]`` entry (Okabe-Ito), the quantity told apart by
marker and line style. Every series is one :class:`~matplotlib.lines.Line2D` whose data are
exactly the plotted numbers, sorted by the x value, with ``gid`` ``"<quantity>:<entry>"``
(``x``, ``y``, ``phi``, ``placement``) or, in ``fleet_costs``, ``"optimum"`` and the baseline
names. Each builder takes ``ax=`` (draw into the caller's axes), ``size=`` and ``title=`` as
:mod:`coopt.report.figures`, and returns the figure; :func:`coopt.report.figures.write_figures`
saves them (PDF with TrueType fonts, SVG, PNG).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from coopt.errors import InstanceError, NoSolutionError
from coopt.fleet.allocation import Method
from coopt.fleet.files import Fleet, FleetDevice
from coopt.fleet.solve import BASELINES, FleetResult, baselines, solve_fleet
from coopt.fleet.tables import ShareTable
from coopt.mip.highs import MipOptions
from coopt.model.vocabulary import FleetBaseline
from coopt.report.figures import _figure, _maybe_log, check_size, finish
from coopt.symbolic.notation import axis_label

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

FLEET_FIGURES = ("fleet_shares", "fleet_phi", "fleet_placement", "fleet_costs")
DEFAULT_SCALES = (1, 2, 3, 4)
"""The count multipliers of ``fleet_costs`` by default."""
MAX_SCALE = 1000
LEGEND_ROW_IN = 0.17  # the figure grows by this per row of its legend
# Okabe-Ito, one per [[device]] entry (cycled beyond seven entries)
ENTRY_COLOURS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000")
COST_STYLE: dict[str, dict[str, Any]] = {
    "optimum": {"color": "#000000", "ls": "-", "marker": "o", "lw": 2.2, "label": "optimum $F^*$"},
    **{
        baseline: {"label": baseline.label, **look}
        for baseline, look in {
            FleetBaseline.EQUAL_SHARES: {"color": "#E69F00", "ls": "-.", "marker": "^", "lw": 1.6},
            FleetBaseline.ALONE: {"color": "0.45", "ls": ":", "marker": "x", "lw": 1.4, "label": "alone (lower bound)"},
            FleetBaseline.DEVICE_ONLY: {"color": "#009E73", "ls": ":", "marker": "D", "lw": 1.8},
            FleetBaseline.INDEPENDENT_SPLITS: {"color": "#0072B2", "ls": "--", "marker": "s", "lw": 1.6},
            FleetBaseline.ALTERNATING: {"color": "#D55E00", "ls": "--", "marker": "v", "lw": 1.6},
        }.items()
    },
}
"""The optimum's and each baseline's line, labelled by :class:`~coopt.model.vocabulary.FleetBaseline`."""
SHARE_STYLE: dict[str, dict[str, Any]] = {
    "x": {"marker": "o", "ls": "-", "mfc": None, "label": "$x_u$ (band)"},
    "y": {"marker": "s", "ls": "--", "mfc": "white", "label": "$y_u$ (edge)"},
}


# ----------------------------------------------------------------------------- per device


def uses_distance(result: FleetResult) -> bool:
    """Whether the per-device figures plot against :math:`d_u` (every device has one)."""
    return all(d.distance_m is not None for d in result.devices)


def device_x(result: FleetResult) -> np.ndarray:
    """The x value of every device: its distance (m), or its index ``u``."""
    if uses_distance(result):
        return np.asarray([d.distance_m for d in result.devices], dtype=np.float64)
    return np.arange(result.size, dtype=np.float64)


def entries(result: FleetResult) -> dict[int, list[int]]:
    """The devices of each ``[[device]]`` entry, ``{entry: [u, ...]}`` sorted by the x value."""
    xs = device_x(result)
    out: dict[int, list[int]] = {}
    for u, d in enumerate(result.devices):
        out.setdefault(d.entry, []).append(u)
    return {e: sorted(us, key=lambda u: (xs[u], u)) for e, us in out.items()}


def _entry_label(result: FleetResult, entry: int, members: list[int]) -> str:
    stem = result.devices[members[0]].name.rpartition("#")[0]
    return f"device.{entry} ({stem}, {len(members)})"


def _single(ax: Axes | None, size: str | None) -> tuple[Figure, Axes]:
    if ax is not None:
        fig = ax.get_figure()
        assert fig is not None
        return fig, ax  # type: ignore[return-value]
    fig, axes = _figure(1, size=size)
    return fig, axes[0, 0]


def _done(fig: Figure, ax: Axes, own: bool, size: str | None, title: bool) -> Figure:
    """:func:`~coopt.report.figures.finish` a figure built here; into a caller's axes only
    that axes' title goes (the caller's other panels and text sizes stay as they are)."""
    if own:
        return finish(fig, size, title)
    if not title:
        ax.set_title("")
    return fig


def _legend(fig: Figure, ax: Axes, own: bool, handles: list[Any] | None = None) -> None:
    """The legend under the panel of a figure built here, in two columns, the figure taller by
    its rows (so it hides no point); in a caller's axes, inside them."""
    if handles is None:
        handles, _ = ax.get_legend_handles_labels()
    if not own:
        ax.legend(handles=handles, fontsize=7)
        return
    fig.set_figheight(fig.get_figheight() + LEGEND_ROW_IN * math.ceil(len(handles) / 2))
    fig.legend(handles=handles, loc="outside lower center", ncol=2, fontsize=7, frameon=False)


def _x_axis(ax: Axes, result: FleetResult) -> None:
    if uses_distance(result):
        ax.set_xlabel(axis_label("devices.distance_m"))
    else:
        from matplotlib.ticker import MaxNLocator

        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("device $u$ (file order)")
    ax.grid(alpha=0.3)


def _per_entry(
    ax: Axes, result: FleetResult, quantity: str, values: Sequence[float], style: dict[str, Any], suffix: str = ""
) -> None:
    xs = device_x(result)
    for e, members in entries(result).items():
        colour = ENTRY_COLOURS[e % len(ENTRY_COLOURS)]
        mfc = style.get("mfc") or colour
        (line,) = ax.plot(
            xs[members],
            np.asarray([values[u] for u in members], dtype=np.float64),
            color=colour,
            ls=style.get("ls", "-"),
            lw=1.0,
            marker=style["marker"],
            ms=5,
            mfc=mfc,
            drawstyle=style.get("drawstyle", "default"),
            label=f"{style['label']}{suffix}, {_entry_label(result, e, members)}"
            if style.get("label")
            else _entry_label(result, e, members),
        )
        line.set_gid(f"{quantity}:{e}")


def share_figure(result: FleetResult, *, ax: Axes | None = None, size: str | None = None, title: bool = True) -> Figure:
    """Every device's shares :math:`x_u` and :math:`y_u` against its distance (or index)."""
    check_size(size)
    own = ax is None
    fig, ax = _single(ax, size)
    for q in ("x", "y"):
        _per_entry(ax, result, q, [getattr(d, q) for d in result.devices], SHARE_STYLE[q])
    _x_axis(ax, result)
    ax.set_ylim(-0.04, 1.1 * max(1e-9, max(max(d.x, d.y) for d in result.devices)))
    ax.set_ylabel("share $x_u$, $y_u$ of the band, the edge")
    ax.set_title(
        f"{result.name}: each device's shares ($\\sum x_u$ = {result.shares_used[0]:.3g}, "
        f"$\\sum y_u$ = {result.shares_used[1]:.3g})"
    )
    # one legend entry per colour (entry) and one per marker (quantity), not one per line
    from matplotlib.lines import Line2D

    handles = [
        Line2D([], [], color=ENTRY_COLOURS[e % len(ENTRY_COLOURS)], lw=2.0, label=_entry_label(result, e, members))
        for e, members in entries(result).items()
    ] + [
        Line2D([], [], color="0.2", ls=st["ls"], marker=st["marker"], mfc=st["mfc"] or "0.2", label=st["label"])
        for st in SHARE_STYLE.values()
    ]
    _legend(fig, ax, own, handles)
    return _done(fig, ax, own, size, title)


def phi_figure(result: FleetResult, *, ax: Axes | None = None, size: str | None = None, title: bool = True) -> Figure:
    """Every device's :math:`\\Phi_u(x_u, y_u)` against its distance (or index)."""
    check_size(size)
    own = ax is None
    fig, ax = _single(ax, size)
    values = [d.objective for d in result.devices]
    _per_entry(ax, result, "phi", values, {"marker": "o", "ls": "-"})
    _maybe_log(ax, values)
    _x_axis(ax, result)
    ax.set_ylabel(axis_label("devices.objective"))
    ax.set_title(f"{result.name}: each device's cost at its shares (unweighted)")
    _legend(fig, ax, own)
    return _done(fig, ax, own, size, title)


def placement_figure(
    result: FleetResult, *, ax: Axes | None = None, size: str | None = None, title: bool = True
) -> Figure:
    """The placement :math:`M^*_u` of every device at its shares (steps, integer ticks)."""
    from matplotlib.ticker import MaxNLocator

    check_size(size)
    own = ax is None
    fig, ax = _single(ax, size)
    values = [float(d.placement) for d in result.devices]
    _per_entry(ax, result, "placement", values, {"marker": "o", "ls": "-", "drawstyle": "steps-mid"})
    _x_axis(ax, result)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylim(-0.5, max(values) + 0.5)
    ax.set_ylabel(axis_label("devices.placement"))
    ax.set_title(f"{result.name}: where each device splits (layers $1..M^*_u$ on the device)")
    _legend(fig, ax, own)
    return _done(fig, ax, own, size, title)


# ----------------------------------------------------------------------------- against the number of devices


def scaled_fleet(fleet: Fleet, k: int) -> Fleet:
    """The fleet with every device replicated ``k`` times (each entry's ``count`` times ``k``):
    the copies of one entry are its ``c`` devices, then the same ``c`` again, ..., each copy at
    the distance, gain and weight of the one it repeats; the kinds (tables) are the same."""
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= MAX_SCALE:
        raise InstanceError(f"count scale = {k!r}: must be an integer in 1 .. {MAX_SCALE}")
    by_entry: dict[int, list[FleetDevice]] = {}
    for d in fleet.devices:
        by_entry.setdefault(d.entry, []).append(d)
    devices: list[FleetDevice] = []
    for members in by_entry.values():
        stem = members[0].name.rpartition("#")[0]
        for r in range(k):
            for i, d in enumerate(members):
                copy = r * len(members) + i
                devices.append(replace(d, name=f"{stem}#{copy}", copy=copy))
    return replace(fleet, devices=tuple(devices))


@dataclass(frozen=True)
class CountSweep:
    """:math:`F` against the number of devices (:func:`count_sweep`).

    Attributes
    ----------
    scales : the count multipliers ``k``.
    devices : :math:`U` at each scale.
    optimum : the allocation's :math:`F` at each scale, ``None`` where no allocation is feasible.
    baselines : ``{name: (F_b or None, ...)}`` for :data:`~coopt.fleet.solve.BASELINES`.
    optimal : whether each allocation was proven optimal.
    name : the fleet's name.
    """

    scales: tuple[int, ...]
    devices: tuple[int, ...]
    optimum: tuple[float | None, ...]
    baselines: dict[str, tuple[float | None, ...]]
    optimal: tuple[bool, ...]
    name: str


def count_sweep(
    fleet: Fleet,
    scales: Sequence[int] = DEFAULT_SCALES,
    *,
    tables: Sequence[ShareTable] | None = None,
    method: Method = "auto",
    options: MipOptions | None = None,
    base: FleetResult | None = None,
) -> CountSweep:
    """Solve :func:`scaled_fleet` at each scale (:func:`~coopt.fleet.solve.solve_fleet`, the
    tables built once, or ``tables`` given, e.g. a :class:`~coopt.fleet.solve.FleetResult`'s);
    ``base``, the fleet already solved by ``method``, stands for scale 1."""
    scales = tuple(scales)
    if not scales or len(set(scales)) != len(scales):
        raise InstanceError(f"count scales = {list(scales)!r}: must be a non-empty list of distinct integers")
    for k in scales:
        scaled_fleet(fleet, k)  # checks every scale before any work
    from coopt.fleet.tables import fleet_tables

    if tables is None and base is not None:
        tables = base.tables
    table_list = list(fleet_tables(fleet) if tables is None else tables)
    if len(table_list) != len(fleet.kinds):
        raise InstanceError(f"tables: {len(table_list)} given for {len(fleet.kinds)} distinct devices")
    optimum: list[float | None] = []
    optimal: list[bool] = []
    values: dict[str, list[float | None]] = {name: [] for name in BASELINES}
    for k in sorted(scales):
        scaled = scaled_fleet(fleet, k)
        try:
            res = base if k == 1 and base is not None else solve_fleet(scaled, method, options, tables=table_list)
        except NoSolutionError as exc:
            if "infeasible" not in str(exc):
                raise
            optimum.append(None)
            optimal.append(False)
            found = baselines(scaled, table_list)
        else:
            optimum.append(res.objective)
            optimal.append(res.optimal)
            found = res.baselines
        for name in BASELINES:
            values[name].append(found[name])
    ordered = tuple(sorted(scales))
    return CountSweep(
        scales=ordered,
        devices=tuple(k * fleet.size for k in ordered),
        optimum=tuple(optimum),
        baselines={name: tuple(v) for name, v in values.items()},
        optimal=tuple(optimal),
        name=fleet.name,
    )


def _nan(values: Sequence[float | None]) -> np.ndarray:
    return np.asarray([np.nan if v is None else v for v in values], dtype=np.float64)


def count_figure(sweep: CountSweep, *, ax: Axes | None = None, size: str | None = None, title: bool = True) -> Figure:
    """:math:`F` of the optimum and of every baseline against the number of devices."""
    from matplotlib.ticker import MaxNLocator

    check_size(size)
    own = ax is None
    fig, ax = _single(ax, size)
    xs = np.asarray(sweep.devices, dtype=np.float64)
    series = {"optimum": sweep.optimum, **sweep.baselines}
    shown: list[float] = []
    for name, vals in series.items():
        st = COST_STYLE[name]
        (line,) = ax.plot(
            xs,
            _nan(vals),
            color=st["color"],
            ls=st["ls"],
            marker=st["marker"],
            lw=st["lw"],
            ms=5,
            label=st["label"],
        )
        line.set_gid(name)
        shown += [v for v in vals if v is not None]
    _maybe_log(ax, shown)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel(axis_label("fleet.devices") + " (every device replicated)")
    ax.set_ylabel(axis_label("fleet.objective"))
    ax.set_title(f"{sweep.name}: cost against the number of devices")
    ax.grid(alpha=0.3)
    _legend(fig, ax, own)
    return _done(fig, ax, own, size, title)


def make_fleet_figures(
    fleet: Fleet,
    result: FleetResult | None = None,
    scales: Sequence[int] = DEFAULT_SCALES,
    *,
    method: Method = "auto",
    options: MipOptions | None = None,
    size: str | None = None,
    title: bool = True,
) -> dict[str, Figure]:
    """The four figures (:data:`FLEET_FIGURES`) of ``fleet`` (solved here unless ``result`` is given)."""
    check_size(size)
    result = solve_fleet(fleet, method, options) if result is None else result
    sweep = count_sweep(fleet, scales, method=method, options=options, base=result)
    return {
        "fleet_shares": share_figure(result, size=size, title=title),
        "fleet_phi": phi_figure(result, size=size, title=title),
        "fleet_placement": placement_figure(result, size=size, title=title),
        "fleet_costs": count_figure(sweep, size=size, title=title),
    }


__all__ = [
    "DEFAULT_SCALES",
    "FLEET_FIGURES",
    "CountSweep",
    "count_figure",
    "count_sweep",
    "make_fleet_figures",
    "phi_figure",
    "placement_figure",
    "scaled_fleet",
    "share_figure",
]
