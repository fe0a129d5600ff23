r"""Figures of the joint optimum against the alternatives (``coopt figures``).

Four figures, one panel per instance (network) in each:

* ``phi``: :math:`\Phi(M)` against the placement :math:`M` for the rules ``optimal``
  and ``osla``, each rule's :math:`M^*` marked with a star;
* ``thresholds``: the stopping thresholds :math:`\theta_n` per epoch in dB
  (:math:`10\log_{10}\theta_n`; the right axis shows the SNR threshold
  :math:`10\log_{10}(\rho\theta_n)`), optimal against OSLA at the same placement: the
  joint optimum :math:`M^*`, or :math:`N` when :math:`M^* = 0` (one epoch shows no
  shape). Epochs that never stop (:math:`\theta_n = +\infty`) are drawn as triangles at
  the top edge, epochs that always stop (:math:`\theta_n = 0`) at the bottom edge. A
  Markov rule is a table per state, not a threshold: its panel marks, per epoch, the
  gains (dB) of the states in which each rule uploads;
* ``costs``: :math:`\Phi` of every policy (:data:`coopt.sim.simulate.POLICIES`) against
  ``tasks_per_period`` (log axis, three decades either side of the instance's value)
  and against the mean SNR :math:`10\log_{10}(\rho\,E[h])` (20 dB either side; every
  channel gain is scaled by the same factor). Every point is a full :func:`coopt.solve`
  of the modified instance; a baseline that the memory limit forbids leaves a gap. The
  y range ends at twice the joint optimum's largest cost in the panel, so that the
  differences between competitive policies stay visible (baselines that download many
  layers for few tasks cost orders of magnitude more and leave the panel);
* ``splits``: the distribution of split epochs of the joint optimum from a Monte Carlo
  run (:func:`coopt.sim.simulate.simulate`) as bars, the exact probabilities as dots;
* ``doppler`` (separately, ``coopt figures --doppler``; Rayleigh instances): against
  the Doppler frequency of Clarke fading from 1 Hz to 1 kHz, the optimum on the
  correlated chain, the i.i.d. model's optimal policy evaluated on that chain and the
  i.i.d. model's own optimum (top), and the Markov chain's error against the simulated
  Zheng-Xiao process with its 95 % interval (bottom).

Every builder returns a :class:`matplotlib.figure.Figure` (created without pyplot, so
nothing global changes and no window opens; saving uses the Agg renderer), whose
``lines`` carry exactly the plotted numbers. Matplotlib is imported lazily.

For a paper: ``size="column"`` or ``"page"`` (:data:`SIZES`, IEEE's 3.5 in and
7.16 in) lays the panels out at that width and sets every text to 8-9 pt at print
size (:data:`PRINT_FONT_PT`); ``title=False`` drops the panel titles. The phi,
thresholds and splits builders also take the :class:`~coopt.dp.results.SolveResult` a
user already has (one rule, no instance needed) and ``ax=`` to draw one panel into an
axes of the caller's figure; they return the figure drawn into. :func:`write_figures`
writes PDF (TrueType fonts, ``pdf.fonttype`` 42: no Type 3 font for a publisher's
checker), SVG (text as paths) and PNG. Axis labels of instance keys come from the one
notation table :mod:`coopt.symbolic.notation`.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from coopt.api import solve, solve_problem
from coopt.dp.results import SolveResult
from coopt.dp.stopping import STOP, evaluate_policy, occupation, policy_at
from coopt.engines import run_batches
from coopt.model.files import write_atomic
from coopt.model.instance import Instance
from coopt.model.problem import Problem, prepare
from coopt.model.vocabulary import Policy, Rule
from coopt.progress import progress_bar
from coopt.sim.simulate import POLICIES, Simulation, simulate
from coopt.symbolic.notation import axis_label

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

FIGURES = ("phi", "thresholds", "costs", "splits")
FORMATS = ("png", "pdf", "svg")
SIZES = {"column": 3.5, "page": 7.16}
"""Figure widths (in) for ``size=``: one IEEE column and the full text width."""
PANEL_HEIGHT_IN = {"column": 2.5, "page": 2.7}
PRINT_FONT_PT = (8.0, 9.0)
"""Every text of a figure built with ``size=`` is between these sizes (titles the larger)."""
SAVE_RC: dict[str, Any] = {"pdf.fonttype": 42, "ps.fonttype": 42, "svg.fonttype": "path"}
"""Saving: TrueType (Type 42) fonts in the PDF, never Type 3; SVG text as paths."""
# Okabe-Ito colours (distinguishable with colour-vision deficiencies and in greyscale by marker)
STYLE: dict[str, dict[str, Any]] = {
    policy: {**look, "label": policy.label}
    for policy, look in {
        Policy.OPTIMAL: {"color": "#000000", "ls": "-", "marker": "o", "lw": 2.2},
        Policy.OSLA: {"color": "#0072B2", "ls": "--", "marker": "s", "lw": 1.6},
        Policy.STATIC: {"color": "#E69F00", "ls": "-.", "marker": "^", "lw": 1.6},
        Policy.EDGE_ONLY: {"color": "#D55E00", "ls": ":", "marker": "v", "lw": 1.8},
        Policy.DEVICE_ONLY: {"color": "#009E73", "ls": ":", "marker": "D", "lw": 1.8},
        Policy.FULL_PLACEMENT: {"color": "#CC79A7", "ls": "--", "marker": "P", "lw": 1.6},
    }.items()
}
"""Each policy's line style, with its :attr:`~coopt.model.vocabulary.Policy.label`."""
COST_LABEL = "expected cost per task $\\Phi$\n($w_E\\cdot$J + $w_T\\cdot$s)"


@dataclass(frozen=True, eq=False)
class Solved:
    """An instance with its prepared problem and its solutions under both rules."""

    instance: Instance
    problem: Problem
    optimal: SolveResult
    osla: SolveResult

    @property
    def name(self) -> str:
        return self.instance.name


def solve_both(instance: Instance) -> Solved:
    """Prepared once, solved under both rules."""
    problem = prepare(instance)
    return Solved(
        instance,
        problem,
        solve_problem(problem.with_rule(Rule.OPTIMAL)),
        solve_problem(problem.with_rule(Rule.OSLA)),
    )


def check_size(size: str | None) -> None:
    from coopt.errors import InstanceError

    if size is not None and size not in SIZES:
        raise InstanceError(f"--size = {size!r}: must be one of {', '.join(SIZES)}")


def _figure(
    n_panels: int, rows_per_panel: int = 1, height: float = 3.6, width: float = 5.0, size: str | None = None
) -> tuple[Figure, NDArray[Any]]:
    """A figure with one column per instance (at most 3 per row) and ``rows_per_panel`` rows
    each; with ``size`` (:data:`SIZES`) the whole figure is that wide: one column of
    panels at column width, up to three at page width."""
    from matplotlib.figure import Figure

    check_size(size)
    if size is None:
        ncols = min(n_panels, 3)
        figsize = (width * ncols, height * rows_per_panel * math.ceil(n_panels / ncols))
    else:
        ncols = 1 if size == "column" else min(n_panels, 3 if rows_per_panel == 1 else 2)
        figsize = (SIZES[size], PANEL_HEIGHT_IN[size] * rows_per_panel * math.ceil(n_panels / ncols))
    block_rows = math.ceil(n_panels / ncols)
    fig = Figure(figsize=figsize, layout="constrained")
    axes = fig.subplots(rows_per_panel * block_rows, ncols, squeeze=False)
    for extra in range(n_panels, ncols * block_rows):  # unused panels of the last block row
        for r in range(rows_per_panel):
            axes[(extra // ncols) * rows_per_panel + r, extra % ncols].set_visible(False)
    return fig, axes


def finish(fig: Figure, size: str | None = None, title: bool = True) -> Figure:
    """The paper layout of a built figure: without ``title`` no panel titles; with
    ``size`` every text between :data:`PRINT_FONT_PT` (titles at the larger, wrapped to
    their panel's width) and legends without a frame shadow."""
    from matplotlib.text import Text

    if not title:
        for ax in fig.axes:
            ax.set_title("")
    if size is None:
        return fig
    lo, hi = PRINT_FONT_PT
    for sub in fig.findobj(lambda o: hasattr(o, "tick_params")):  # the secondary axes too
        sub.tick_params(labelsize=lo)  # type: ignore[attr-defined]
    for ax in fig.axes:
        _narrow_epoch_labels(ax, fig)
        if ax.get_title():
            width_in = ax.get_position().width * fig.get_figwidth()
            chars = max(20, int(width_in * 72.0 / (0.5 * hi)))
            ax.set_title(textwrap.fill(ax.get_title().replace("\n", " "), chars), fontsize=hi)
    for text in fig.findobj(Text):
        if text.get_text():
            text.set_fontsize(min(max(float(text.get_fontsize()), lo), hi))
    return fig


def _narrow_epoch_labels(ax: Axes, fig: Figure) -> None:
    """Epoch numbers only where the layer names of :func:`_epoch_ticks` would collide at
    print size (less than 0.45 in per name below its number, 0.16 in per slanted one)."""
    labels = [tick.get_text() for tick in ax.get_xticklabels()]
    if not labels or not any(label.strip() for label in labels):
        return
    per_tick = ax.get_position().width * fig.get_figwidth() / len(labels)
    stacked = any("\n" in label for label in labels)
    if (stacked and per_tick < 0.45) or (not stacked and " " in labels[0] and per_tick < 0.16):
        numbers = [label.split("\n")[0] if stacked else label.rsplit(" ", 1)[-1] for label in labels]
        ax.set_xticks(ax.get_xticks(), numbers, rotation=0, ha="center")


def _panel(axes: NDArray[Any], i: int, row: int = 0, rows_per_panel: int = 1) -> Axes:
    ncols = axes.shape[1]
    return axes[(i // ncols) * rows_per_panel + row, i % ncols]


def _maybe_log(ax: Axes, values: list[float]) -> None:
    """Log scale on y when the plotted costs span more than a factor 20."""
    v = np.asarray([x for x in values if x is not None and np.isfinite(x) and x > 0])
    if v.size and v.max() / v.min() > 20.0:
        ax.set_yscale("log")


def _db_shift(offset_db: float) -> tuple[Callable[[Any], Any], Callable[[Any], Any]]:
    """The forward and inverse maps of a secondary axis shifted by ``offset_db`` (gain dB to SNR dB)."""
    return (lambda d: d + offset_db), (lambda v: v - offset_db)


def _epoch_ticks(ax: Axes, layer_names: tuple[str, ...], epochs: list[int]) -> None:
    """Epoch numbers with layer names: below the number for a few epochs, slanted for
    more, numbers only beyond 16 (names would collide)."""
    if len(epochs) > 16:
        from matplotlib.ticker import MaxNLocator

        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        return
    ax.set_xticks(epochs)
    if len(epochs) <= 6:
        ax.set_xticklabels([f"{n}\n{layer_names[n]}" for n in epochs], fontsize=8)
    else:
        ax.set_xticklabels(
            [f"{layer_names[n]} {n}" for n in epochs], fontsize=7, rotation=40, ha="right", rotation_mode="anchor"
        )


# ----------------------------------------------------------------------------- (a) Phi(M)


Drawable = Solved | SolveResult
"""What the phi, thresholds and splits builders draw: an instance solved under both rules
(:func:`solve_both`), or one :class:`~coopt.dp.results.SolveResult` (its own rule only)."""


def _items(data: Any) -> list[Any]:
    return list(data) if isinstance(data, (list, tuple)) else [data]


def _layout(
    items: list[Any], ax: Axes | None, size: str | None, rows_per_panel: int = 1, height: float = 3.6
) -> tuple[Figure, Callable[[int, int], Axes]]:
    """The figure and a ``panel(i, row)`` lookup: a new grid, or the caller's ``ax`` (one item)."""
    if ax is not None:
        from coopt.errors import InstanceError

        if len(items) != 1 or rows_per_panel != 1:
            raise InstanceError(f"ax=: draws one panel, got {len(items)} items to draw")
        fig = ax.get_figure()
        assert fig is not None
        return fig, lambda i, row: ax  # type: ignore[return-value]
    fig, axes = _figure(len(items), rows_per_panel=rows_per_panel, height=height, size=size)
    return fig, lambda i, row: _panel(axes, i, row, rows_per_panel)


def _rules(item: Drawable) -> list[tuple[str, SolveResult]]:
    if isinstance(item, Solved):
        return [("optimal", item.optimal), ("osla", item.osla)]
    return [("optimal" if item.rule == "optimal" else "osla", item)]


def _item_name(item: Drawable) -> str:
    return item.name if isinstance(item, Solved) else item.instance_name


def _layer_names(item: Drawable) -> tuple[str, ...] | None:
    return item.instance.profile.layer_names if isinstance(item, Solved) else None


def _integer_ticks(ax: Axes, layer_names: tuple[str, ...] | None, epochs: list[int]) -> None:
    if layer_names is None:
        from matplotlib.ticker import MaxNLocator

        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    else:
        _epoch_ticks(ax, layer_names, epochs)


def phi_figure(
    solved: Drawable | Sequence[Drawable], *, ax: Axes | None = None, size: str | None = None, title: bool = True
) -> Figure:
    """:math:`\\Phi(M)` against :math:`M` for both rules (or a result's own rule), :math:`M^*` marked."""
    items = _items(solved)
    fig, panel = _layout(items, ax, size)
    for i, s in enumerate(items):
        _phi_panel(panel(i, 0), s)
    return finish(fig, size, title)


def _phi_panel(ax: Axes, s: Drawable) -> None:
    values: list[float] = []
    for rule, res in _rules(s):
        st = STYLE[rule]
        x = [v.placement for v in res.by_placement]
        y = [v.objective for v in res.by_placement]
        values += y
        label = "optimal rule" if rule == "optimal" else "OSLA rule"
        ax.plot(x, y, color=st["color"], ls=st["ls"], marker=st["marker"], lw=st["lw"], ms=5, label=label)
        # the optimal rule's star is drawn larger, so both show where the rules agree on M*
        ax.plot(
            [res.placement],
            [res.objective],
            ls="none",
            marker="*",
            ms=20 if rule == "optimal" else 12,
            color=st["color"],
            markeredgecolor="white",
            markeredgewidth=0.8,
            zorder=5 if rule == "optimal" else 6,
            label=f"$M^*$ = {res.placement} ({'optimal' if rule == 'optimal' else 'OSLA'})",
        )
    _maybe_log(ax, values)
    _integer_ticks(ax, _layer_names(s), [v.placement for v in _rules(s)[0][1].by_placement])
    ax.set_xlabel("placement $M$ (layers 1..$M$ on the device)")
    ax.set_ylabel(COST_LABEL)
    ax.set_title(f"{_item_name(s)}: $\\Phi(M) = J(M) + D(M)/K_\\mathrm{{tasks}}$")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)


# ----------------------------------------------------------------------------- (b) thresholds


def threshold_placement(s: Solved) -> int:
    """Where the thresholds figure compares the rules: :math:`M^*`, or :math:`N` if :math:`M^* = 0`."""
    return s.optimal.placement if s.optimal.placement > 0 else s.instance.n_layers


def threshold_values(s: Solved) -> tuple[int, NDArray[np.float64], NDArray[np.float64]] | None:
    """``(M, theta_optimal, theta_osla)`` at :func:`threshold_placement`; ``None`` for a Markov channel."""
    p = s.problem
    if p.channel.is_markov:
        return None
    M = threshold_placement(s)
    opt, osl = policy_at(p, M, Rule.OPTIMAL).thresholds, policy_at(p, M, Rule.OSLA).thresholds
    assert opt is not None and osl is not None
    return M, opt, osl


def to_db(x: NDArray[np.float64]) -> NDArray[np.float64]:
    """:math:`10\\log_{10} x` with ``nan`` where ``x`` is 0 or infinite (those are drawn as edge markers)."""
    out = np.full(x.shape, np.nan)
    ok = np.isfinite(x) & (x > 0)
    out[ok] = 10.0 * np.log10(x[ok])
    return out


def threshold_figure(
    solved: Drawable | Sequence[Drawable], *, ax: Axes | None = None, size: str | None = None, title: bool = True
) -> Figure:
    """Thresholds per epoch in dB, optimal against OSLA at the same placement (a
    :class:`~coopt.dp.results.SolveResult`: its own rule's thresholds at its :math:`M^*`)."""
    items = _items(solved)
    fig, panel = _layout(items, ax, size)
    for i, s in enumerate(items):
        _threshold_panel(panel(i, 0), s)
    if ax is None:
        _figure_legend(fig, size)
    else:
        ax.legend(fontsize=8)
    return finish(fig, size, title)


def _threshold_panel(ax: Axes, s: Drawable) -> None:
    channel = s.problem.channel if isinstance(s, Solved) else s.channel
    rho = s.problem.costs.rho if isinstance(s, Solved) else None
    if channel.is_markov:
        _markov_stop_states(ax, s)
        return
    if isinstance(s, Solved):
        tv = threshold_values(s)
        assert tv is not None
        M, opt, osl = tv
        rules = [("optimal", opt, -0.06), ("osla", osl, 0.06)]
    else:
        assert s.policy.thresholds is not None
        M = s.placement
        rules = [(_rules(s)[0][0], s.policy.thresholds, 0.0)]
    epochs = np.arange(M + 1)
    mean_db = 10.0 * math.log10(float(channel.initial @ channel.gains))
    finite = [v for v in np.concatenate([to_db(th) for _, th, _ in rules]) if np.isfinite(v)] + [mean_db]
    lo, hi = min(finite) - 4.0, max(finite) + 4.0
    ax.set_ylim(lo, hi)
    for rule, th, dx in rules:
        st = STYLE[rule]
        name = "optimal" if rule == "optimal" else "OSLA"
        ax.plot(
            epochs,
            to_db(th),
            color=st["color"],
            ls=st["ls"],
            marker=st["marker"],
            lw=st["lw"],
            ms=8 if rule == "optimal" else 5,
            label=f"{name} $\\theta_n$",
        )
        # edge markers, nudged apart so that both rules show where they agree
        edges = (
            (np.isinf(th), hi, "^", f"{name}: never stops ($\\theta_n=+\\infty$)"),
            (th == 0.0, lo, "v", f"{name}: always stops ($\\theta_n=0$)"),
        )
        for where, level, marker, label in edges:
            if where.any():
                ax.plot(
                    epochs[where] + dx,
                    np.full(where.sum(), level),
                    ls="none",
                    marker=marker,
                    ms=10,
                    color=st["color"],
                    clip_on=False,
                    label=label,
                )
    ax.axhline(mean_db, color="0.5", ls=":", lw=1.2, label="mean gain $E[h]$")
    if rho is not None:
        sec = ax.secondary_yaxis("right", functions=_db_shift(10.0 * math.log10(rho)))
        sec.set_ylabel("SNR threshold $\\rho\\theta_n$ [dB]")
    _integer_ticks(ax, _layer_names(s), list(epochs))
    ax.set_xlabel("epoch $n$ (after layer $n$)")
    ax.set_ylabel("gain threshold $\\theta_n$ [dB]")
    ax.set_title(f"{_item_name(s)}: thresholds at placement $M$ = {M}")
    ax.grid(alpha=0.3)


def _figure_legend(fig: Figure, size: str | None = None) -> None:
    """One legend above all panels: the union of the panels' labelled artists."""
    seen: dict[str, Any] = {}
    for ax in fig.axes:
        for h, label in zip(*ax.get_legend_handles_labels()):
            seen.setdefault(label, h)
    if seen:
        fig.legend(
            list(seen.values()),
            list(seen.keys()),
            loc="outside upper center",
            ncol=min(len(seen), 5 if size is None else 1 if size == "column" else 3),  # long labels
            fontsize=9,
        )


def markov_stop_gains(s: Solved) -> tuple[int, list[NDArray[np.float64]], list[NDArray[np.float64]]]:
    """``(M, optimal, osla)``: per epoch, the gains (dB) of the states in which each rule uploads."""
    p = s.problem
    M = threshold_placement(s)
    db = 10.0 * np.log10(p.channel.gains)
    out = []
    for rule in Rule:
        actions = policy_at(p, M, rule).actions
        out.append([db[actions[n] == STOP] for n in range(M + 1)])
    return M, out[0], out[1]


def _markov_stop_states(ax: Axes, s: Drawable) -> None:
    """A Markov rule is a table per state, not a threshold: mark the states where each rule uploads."""
    channel = s.problem.channel if isinstance(s, Solved) else s.channel
    if isinstance(s, Solved):
        M, opt, osl = markov_stop_gains(s)
        rules = [("optimal", opt, -0.12, None), ("osla", osl, 0.12, "none")]
    else:
        M = s.placement
        db = 10.0 * np.log10(channel.gains)
        rules = [(_rules(s)[0][0], [db[s.policy.actions[n] == STOP] for n in range(M + 1)], 0.0, None)]
    for g in 10.0 * np.log10(channel.gains):
        ax.axhline(g, color="0.85", lw=1.0, zorder=0)
    for rule, per_epoch, dx, fill in rules:
        st = STYLE[rule]
        xs = np.concatenate([np.full(len(v), n + dx) for n, v in enumerate(per_epoch)])
        ys = np.concatenate(per_epoch)
        name = "optimal" if rule == "optimal" else "OSLA"
        ax.plot(
            xs,
            ys,
            ls="none",
            marker=st["marker"],
            ms=8,
            color=st["color"],
            markerfacecolor=fill if fill else st["color"],
            label=f"{name}: uploads in this state",
        )
    if isinstance(s, Solved):
        sec = ax.secondary_yaxis("right", functions=_db_shift(10.0 * math.log10(s.problem.costs.rho)))
        sec.set_ylabel("state SNR $\\rho g_k$ [dB]")
    g_db = 10.0 * np.log10(channel.gains)
    ax.set_yticks(g_db)
    ax.set_yticklabels([f"{g:.1f}" for g in g_db])
    span = max(g_db.max() - g_db.min(), 6.0)
    ax.set_ylim(g_db.min() - 0.15 * span, g_db.max() + 0.15 * span)
    _integer_ticks(ax, _layer_names(s), list(range(M + 1)))
    ax.set_xlabel("epoch $n$ (after layer $n$)")
    ax.set_ylabel("state gain $g_k$ [dB]")
    ax.set_title(f"{_item_name(s)} (Markov): upload states at placement $M$ = {M}")
    ax.grid(alpha=0.3, axis="x")


# ----------------------------------------------------------------------------- (c) sweeps


def policy_objectives(result: SolveResult) -> dict[str, float]:
    """:math:`\\Phi` of every policy from a rule-``optimal`` result (``nan`` if infeasible)."""
    out: dict[str, float] = {}
    for policy in Policy:
        if policy.key is None:
            out[policy] = result.objective
        else:
            b = result.baselines[policy.key]
            out[policy] = math.nan if b is None else b.objective
    return out


def with_tasks(instance: Instance, tasks_per_period: float) -> Instance:
    return replace(instance, placement=replace(instance.placement, tasks_per_period=float(tasks_per_period)))


def with_gain_scale(instance: Instance, factor: float) -> Instance:
    """Every channel gain (or the mean gain of a continuous law) multiplied by ``factor``."""
    ch = instance.channel
    if ch.is_continuous:
        return replace(instance, channel=replace(ch, mean_gain=ch.mean_gain * factor))  # type: ignore[operator]
    return replace(instance, channel=replace(ch, gains=tuple(g * factor for g in ch.gains)))  # type: ignore[union-attr]


def mean_snr_db(problem: Problem) -> float:
    """:math:`10\\log_{10}(\\rho\\,E[h])` with :math:`E[h]` under the initial (for Markov: by default stationary) law."""
    return 10.0 * math.log10(problem.costs.rho * float(problem.channel.initial @ problem.channel.gains))


@dataclass(frozen=True)
class Sweep:
    """:math:`\\Phi` of every policy along one parameter: ``x`` (shape ``(P,)``) and ``cost[policy]``."""

    x: NDArray[np.float64]
    cost: dict[str, NDArray[np.float64]]
    current: float


def sweep(
    instance: Instance,
    xs: NDArray[np.float64],
    modify: Callable[[Instance, float], Instance],
    current: float,
    tick: Callable[[], None] = lambda: None,
) -> Sweep:
    """:math:`\\Phi` of every policy at each ``modify(instance, x)``, on the serial engine of
    :mod:`coopt.engines`: ``modify`` is a closure (not picklable, so no worker process can
    take it), a point costs milliseconds, and ``tick`` advances the caller's own progress bar."""
    cost: dict[str, list[float]] = {name: [] for name in POLICIES}

    def solve_points(batch: list[float]) -> list[dict[str, float]]:
        return [policy_objectives(solve(modify(instance, float(x)), rule="optimal")) for x in batch]

    def record(_: list[float], results: list[dict[str, float]]) -> None:
        for objs in results:
            for name in POLICIES:
                cost[name].append(objs[name])
            tick()

    run_batches([float(x) for x in xs], solve_points, engine="serial", batch=1, on_result=record, progress=False)
    return Sweep(np.asarray(xs, dtype=np.float64), {k: np.asarray(v) for k, v in cost.items()}, current)


def task_sweep(s: Solved, points: int, tick: Callable[[], None] = lambda: None) -> Sweep:
    k = s.instance.placement.tasks_per_period
    xs = np.logspace(math.log10(k) - 3.0, math.log10(k) + 3.0, points)
    return sweep(s.instance, xs, with_tasks, k, tick)


def snr_sweep(s: Solved, points: int, tick: Callable[[], None] = lambda: None) -> Sweep:
    base = mean_snr_db(s.problem)
    xs = base + np.linspace(-20.0, 20.0, points)
    return sweep(s.instance, xs, lambda inst, x: with_gain_scale(inst, 10.0 ** ((x - base) / 10.0)), base, tick)


def _plot_sweep(ax: Axes, sw: Sweep, xlabel: str, logx: bool, current_label: str) -> None:
    for name in POLICIES:
        st = STYLE[name]
        y = sw.cost[name]
        every = max(1, len(sw.x) // 8)
        ax.plot(
            sw.x,
            y,
            color=st["color"],
            ls=st["ls"],
            lw=st["lw"],
            marker=st["marker"],
            ms=5,
            markevery=every,
            label=st["label"],
        )
    ax.axvline(sw.current, color="0.5", ls=":", lw=1.0, label=current_label)
    if logx:
        ax.set_xscale("log")
    # Baselines that must download many layers for few tasks cost orders of magnitude
    # more; a y range up to twice the joint optimum's worst value keeps the gaps
    # between the competitive policies readable (curves above it leave the panel).
    top = 2.0 * float(np.nanmax(sw.cost["optimal"]))
    if not top > 0:  # a network of free layers: the optimum costs nothing
        all_costs = np.concatenate([np.asarray(sw.cost[name], dtype=np.float64) for name in POLICIES])
        all_costs = all_costs[np.isfinite(all_costs)]
        top = float(all_costs.max()) if all_costs.size and all_costs.max() > 0 else 1.0
    ax.set_ylim(0.0, top)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(COST_LABEL)
    ax.grid(alpha=0.3)


def _legend_columns(n_labels: int, size: str | None) -> int:
    """Columns of a figure legend above the panels: all in a row on screen, fewer in print."""
    return n_labels if size is None else min(n_labels, 2 if size == "column" else 4)


COST_ROWS = ("tasks", "snr")
"""The rows of the cost figure: against ``tasks_per_period`` and against the mean SNR."""


def _row_axes(
    n_items: int, rows: tuple[str, ...], ax: Axes | Sequence[Axes] | None, size: str | None, height: float
) -> tuple[Figure, Callable[[int, int], Axes]]:
    """A grid of one column per item and one row per entry of ``rows``, or the caller's
    axes: one :class:`~matplotlib.axes.Axes` per row of one item (a sequence or an array)."""
    from coopt.errors import InstanceError

    if ax is None:
        fig, axes = _figure(n_items, rows_per_panel=len(rows), height=height, size=size)
        return fig, lambda i, r: _panel(axes, i, r, len(rows))
    given: list[Any] = [ax] if hasattr(ax, "get_figure") else list(np.asarray(ax, dtype=object).ravel())
    if n_items != 1 or len(given) != len(rows):
        raise InstanceError(
            f"ax=: {len(given)} axes for {n_items} items of {len(rows)} rows ({', '.join(rows)}); "
            "give one axes per row of one item"
        )
    own: Any = given[0].get_figure()
    assert own is not None
    return own, lambda i, r: given[r]


def _check_rows(rows: Sequence[str], allowed: tuple[str, ...]) -> tuple[str, ...]:
    from coopt.errors import InstanceError

    out = tuple(rows)
    if not out or any(r not in allowed for r in out):
        raise InstanceError(f"rows = {out!r}: must be some of {', '.join(allowed)}")
    return out


def cost_figure(
    solved: Solved | Instance | Sequence[Solved | Instance],
    points: int = 25,
    progress: bool | None = False,
    *,
    rows: Sequence[str] = COST_ROWS,
    ax: Axes | Sequence[Axes] | None = None,
    size: str | None = None,
    title: bool = True,
) -> Figure:
    """Cost of every policy against ``tasks_per_period`` (top) and mean SNR (bottom).

    Every point re-solves a modified instance, so the figure takes the instance (or its
    :class:`Solved`), not a :class:`~coopt.dp.results.SolveResult`; ``rows`` picks some of
    :data:`COST_ROWS`, and ``ax`` is one axes per row (one instance)."""
    rows = _check_rows(rows, COST_ROWS)
    items = [s if isinstance(s, Solved) else solve_both(s) for s in _items(solved)]
    fig, panel = _row_axes(len(items), rows, ax, size, height=3.5)
    with progress_bar(
        len(rows) * points * len(items), "figures: sweeps", progress, unit="solve", unit_scale=False
    ) as bar:
        for i, s in enumerate(items):
            tick = lambda: bar.update(1)  # noqa: E731
            for r, row in enumerate(rows):
                a = panel(i, r)
                if row == "tasks":
                    sw, label, logx = task_sweep(s, points, tick), "placement.tasks_per_period", True
                    a.set_title(f"{s.name}: cost against tasks per period")
                else:
                    sw, label, logx = snr_sweep(s, points, tick), "channel.mean_snr_db", False
                    a.set_title(f"{s.name}: cost against mean SNR")
                _plot_sweep(a, sw, axis_label(label), logx, "this instance")
    handles, labels = panel(0, 0).get_legend_handles_labels()
    if ax is None:
        fig.legend(handles, labels, loc="outside upper center", ncol=_legend_columns(len(labels), size), fontsize=9)
    else:
        panel(0, 0).legend(fontsize=7)
    return finish(fig, size, title)


# ----------------------------------------------------------------------------- (d) splits


def split_figure(
    solved: Drawable | Sequence[Drawable],
    sims: list[Simulation] | None = None,
    *,
    ax: Axes | None = None,
    size: str | None = None,
    title: bool = True,
) -> Figure:
    """Split-epoch distribution of the joint optimum: simulated bars (when ``sims`` are
    given, one per item), exact dots."""
    items = _items(solved)
    fig, panel = _layout(items, ax, size)
    for i, s in enumerate(items):
        _split_panel(panel(i, 0), s, None if sims is None else sims[i])
    return finish(fig, size, title)


def _split_panel(ax: Axes, s: Drawable, sim: Simulation | None) -> None:
    exact = exact_split_probs(s)
    epochs = np.arange(len(exact))
    top = float(exact.max())
    if sim is not None:
        ax.bar(
            epochs,
            sim.split_fractions,
            width=0.7,
            color="#56B4E9",
            edgecolor="#0072B2",
            label=f"simulated ({sim.tasks} tasks)",
        )
        top = max(top, float(sim.split_fractions.max()))
    ax.plot(epochs, exact, ls="none", marker="o", ms=7, color="black", label="exact")
    _integer_ticks(ax, _layer_names(s), list(epochs))
    ax.set_ylim(0.0, 1.3 * max(1e-9, top))
    ax.set_xlabel("split epoch $n$ (upload after layer $n$)")
    ax.set_ylabel("fraction of tasks")
    placement = s.optimal.placement if isinstance(s, Solved) else s.placement
    ax.set_title(f"{_item_name(s)}: where the joint optimum splits ($M^*$ = {placement})")
    ax.grid(alpha=0.3, axis="y")
    handles, labels = ax.get_legend_handles_labels()
    ax.legend(handles[::-1], labels[::-1], fontsize=8, loc="upper right")


def exact_split_probs(s: Drawable) -> NDArray[np.float64]:
    """Exact probability of splitting at each epoch of the joint optimum (occupation measure)."""
    if isinstance(s, Solved):
        return occupation(s.optimal.policy.actions, s.problem.channel).stop_prob
    return occupation(s.policy.actions, s.channel).stop_prob


# ----------------------------------------------------------------------------- (e) Doppler

DOPPLER_RANGE_HZ = (1.0, 1000.0)


@dataclass(frozen=True)
class DopplerSweep:
    r"""Costs against the Doppler frequency of Clarke fading (docs/model.md 10.4), shape ``(P,)`` each.

    ``optimal``: :math:`\Phi^*` on the correlated chain; ``iid_policy``: the i.i.d.
    model's optimal policy (its placement and decisions) evaluated exactly on the
    correlated chain (``inf`` if it can wait forever there); ``iid_model``: the
    i.i.d. model's own :math:`\Phi^*` (one number); ``chain_error``: (simulated process
    mean - chain value) / chain value of the optimal policy, and ``error_ci`` the 95 %
    half-width of that ratio (:func:`coopt.sim.simulate.simulate` with ``continuous``).
    """

    doppler_hz: NDArray[np.float64]
    optimal: NDArray[np.float64]
    iid_policy: NDArray[np.float64]
    iid_model: float
    chain_error: NDArray[np.float64]
    error_ci: NDArray[np.float64]


def with_doppler(instance: Instance, doppler_hz: float | None) -> Instance:
    """The instance with Clarke fading at ``doppler_hz`` (``None``: i.i.d.), rule ``optimal``."""
    from coopt.errors import InstanceError

    ch = instance.channel
    if ch.law != "rayleigh":
        raise InstanceError(f'channel.law = "{ch.law}": the Doppler figure needs law = "rayleigh"')
    channel = replace(ch, doppler_hz=None if doppler_hz is None else float(doppler_hz), coherence_s=None)
    return replace(instance, channel=channel).with_rule("optimal")


def doppler_sweep(
    instance: Instance, points: int, tasks: int, seed: int | None, tick: Callable[[], None] = lambda: None
) -> DopplerSweep:
    """:class:`DopplerSweep` at ``points`` log-spaced Doppler frequencies in :data:`DOPPLER_RANGE_HZ`."""
    lo, hi = DOPPLER_RANGE_HZ
    xs = np.logspace(math.log10(lo), math.log10(hi), points)
    iid = solve(with_doppler(instance, None))
    m_iid = iid.placement
    out: dict[str, list[float]] = {"optimal": [], "iid_policy": [], "chain_error": [], "error_ci": []}

    # The points run on the serial engine of coopt.engines, one by one in order: the figure
    # command has no workers option, and `tick` advances the caller's progress bar.
    def point(f: float) -> dict[str, float]:
        inst = with_doppler(instance, float(f))
        problem = prepare(inst)
        res = solve_problem(problem)
        c_w = problem.costs.wait_cost if math.isfinite(problem.costs.wait_cost) else 0.0
        values = evaluate_policy(iid.policy.actions, problem.Y, problem.channel, c_w)
        download = problem.costs.download[m_iid] / inst.placement.tasks_per_period
        sim = simulate(problem, "optimal", tasks, seed, continuous=True, solved=res)
        return {
            "optimal": res.objective,
            "iid_policy": float(problem.channel.initial @ values[0]) + float(download),
            "chain_error": (sim.mean - sim.exact) / sim.exact,
            "error_ci": (sim.ci_high - sim.mean) / sim.exact,
        }

    def record(_: list[float], results: list[dict[str, float]]) -> None:
        for values in results:
            for key, value in values.items():
                out[key].append(value)
            tick()

    run_batches(
        [float(f) for f in xs],
        lambda b: [point(f) for f in b],
        engine="serial",
        batch=1,
        on_result=record,
        progress=False,
    )
    return DopplerSweep(
        doppler_hz=xs,
        optimal=np.asarray(out["optimal"]),
        iid_policy=np.asarray(out["iid_policy"]),
        iid_model=iid.objective,
        chain_error=np.asarray(out["chain_error"]),
        error_ci=np.asarray(out["error_ci"]),
    )


DOPPLER_ROWS = ("cost", "error")
"""The rows of the Doppler figure: the costs, and the Markov chain's error."""


def doppler_figure(
    instances: Instance | Sequence[Instance],
    points: int = 13,
    tasks: int = 100_000,
    seed: int | None = 0,
    progress: bool | None = False,
    *,
    rows: Sequence[str] = DOPPLER_ROWS,
    ax: Axes | Sequence[Axes] | None = None,
    size: str | None = None,
    title: bool = True,
) -> Figure:
    """Per instance: the costs against the Doppler frequency (top) and the Markov chain's
    error against the simulated Clarke process, in percent with its 95 % interval (bottom).

    Every point re-solves the instance at another Doppler frequency, so the figure takes
    the instance; ``rows`` picks some of :data:`DOPPLER_ROWS`, and ``ax`` is one axes per
    row (one instance)."""
    rows = _check_rows(rows, DOPPLER_ROWS)
    items = _items(instances)
    fig, panel = _row_axes(len(items), rows, ax, size, height=3.3)
    with progress_bar(points * len(items), "figures: Doppler", progress, unit="point", unit_scale=False) as bar:
        for i, inst in enumerate(items):
            sw = doppler_sweep(inst, points, tasks, seed, lambda: bar.update(1))
            for r, row in enumerate(rows):
                (_doppler_costs if row == "cost" else _doppler_error)(panel(i, r), inst, sw, tasks)
    return finish(fig, size, title)


def _doppler_costs(top: Axes, inst: Instance, sw: DopplerSweep, tasks: int) -> None:
    top.plot(sw.doppler_hz, sw.optimal, marker="o", color="#000000", lw=2.0, label="optimal (correlated chain)")
    top.plot(
        sw.doppler_hz,
        np.where(np.isfinite(sw.iid_policy), sw.iid_policy, np.nan),
        marker="s",
        color="#D55E00",
        ls="--",
        label="i.i.d. model's policy on the chain",
    )
    top.axhline(sw.iid_model, color="#0072B2", ls=":", label=r"i.i.d. model's own $\Phi^*$")
    top.set_xscale("log")
    top.set_xlabel(axis_label("channel.doppler_hz"))
    top.set_ylabel(COST_LABEL)
    top.set_title(f"{inst.name}: cost against Doppler (Clarke fading)")
    top.grid(alpha=0.3)
    top.legend(fontsize=8)


def _doppler_error(bottom: Axes, inst: Instance, sw: DopplerSweep, tasks: int) -> None:
    bottom.errorbar(
        sw.doppler_hz,
        100.0 * sw.chain_error,
        yerr=100.0 * sw.error_ci,
        marker="o",
        color="#009E73",
        capsize=3,
        label=f"process (Zheng-Xiao) - chain, {tasks} tasks",
    )
    bottom.axhline(0.0, color="0.5", lw=1.0)
    bottom.set_xscale("log")
    bottom.set_xlabel(axis_label("channel.doppler_hz"))
    bottom.set_ylabel("chain error [%]")
    bottom.set_title(f"{inst.name}: Markov chain's error (95 % interval)")
    bottom.grid(alpha=0.3)
    bottom.legend(fontsize=8)


# ----------------------------------------------------------------------------- all


def make_figures(
    instances: list[Instance],
    tasks: int = 100_000,
    seed: int | None = 0,
    points: int = 25,
    progress: bool | None = False,
    *,
    size: str | None = None,
    title: bool = True,
) -> dict[str, Figure]:
    """The four figures (:data:`FIGURES`) for one or more instances."""
    check_size(size)
    solved = [solve_both(inst) for inst in instances]
    sims = [simulate(s.problem, "optimal", tasks, seed, solved=s.optimal, progress=progress) for s in solved]
    return {
        "phi": phi_figure(solved, size=size, title=title),
        "thresholds": threshold_figure(solved, size=size, title=title),
        "costs": cost_figure(solved, points, progress, size=size, title=title),
        "splits": split_figure(solved, sims, size=size, title=title),
    }


def write_figures(
    figures: dict[str, Figure],
    out_dir: str | Path,
    formats: tuple[str, ...] = FORMATS,
    progress: bool | None = False,
) -> list[Path]:
    """Save every figure as ``<out_dir>/<name>.<format>``, all or nothing (each file is
    rendered to a temporary file first), with :data:`SAVE_RC` (TrueType fonts in the
    PDF); returns the paths written. Rendering takes most of ``coopt figures``'s time
    (about 0.4 s a file), so ``progress`` counts the files (``None``: a bar on a terminal
    once it has lasted a second)."""
    from matplotlib import rc_context

    out = Path(out_dir)
    total = len(figures) * len(formats)
    with progress_bar(total, "figures: writing", progress, "file", unit_scale=False) as bar:

        def saver(fig: Figure, fmt: str):
            def save(tmp: Any) -> None:
                with rc_context(SAVE_RC):  # type: ignore[arg-type]
                    fig.savefig(tmp, dpi=150, format=fmt)
                bar.update()

            return save

        return write_atomic(
            {out / f"{name}.{fmt}": saver(fig, fmt) for name, fig in figures.items() for fmt in formats}
        )
