"""Figures from a sweep's results table (``coopt figures --sweep DIR``).

One figure: a column ``y`` of the table (default ``objective``, :math:`\\Phi(M^*)`)
against a swept axis ``x`` (default the first numeric axis with more than one value),
one line per series, one panel per combination of the other swept axes (at most
:data:`MAX_PANELS`):

* ``by = "baseline"`` (default, ``y = objective`` only): the objective of every rule
  in the table (``optimal``: the joint optimum, ``osla``: the OSLA rule) and the
  baselines of docs/model.md section 6 (``baselines.<name>.objective`` of the rule
  ``optimal`` rows; the ``osla`` baseline is left out when the rule ``osla`` is swept,
  being that same number);
* ``by = "rule"`` or any swept key: one line per value of that key;
* ``y = "gap_percent"`` (with ``by = "baseline"``): the extra cost of every baseline over
  the joint optimum of the same row, :data:`coopt.dp.results.GAP_DEFINITION`
  (``baselines.<name>.gap_percent``; an empty cell where the baseline is infeasible or
  :math:`\\Phi^* = 0`), with a zero line, on a symmetric-log axis (linear within 1 %)
  when the gaps span more than a factor 20.

Where the sweep simulated (``[simulate]``), a line whose policy was simulated gets its
95 % confidence band (``sim.<policy>.ci_low`` to ``ci_high``). The x axis is logarithmic
when the grid spaced it so (``logspace``/``geomspace``), the y axis when the plotted
values span more than a factor 20. Failed points and infeasible baselines (empty cells)
leave gaps.

Every line has one of the colour-blind-safe (Okabe-Ito) styles of the policy figures
(:data:`coopt.report.figures.STYLE`; the lines of ``--by KEY`` take them in turn, each
with its own colour, dash and marker). An integer column (``placement``,
:data:`INTEGER_COLUMNS`) is drawn as steps with integer ticks. Axis labels, panel titles
and legends name quantities (``mean SNR $\\rho\\,E[h]$ (dB)``, ``$K_\\mathrm{tasks}$ = 10``)
from the notation table :mod:`coopt.symbolic.notation`; ``size`` and ``title`` are those
of :func:`coopt.report.figures.finish`.
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from coopt.errors import InstanceError
from coopt.model.vocabulary import Policy, Rule
from coopt.report.figures import COST_LABEL, STYLE, _figure, _maybe_log, _panel, finish, write_figures
from coopt.sweep import store
from coopt.symbolic.notation import axis_label, value_label

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

MAX_PANELS = 12
RULE_KEY = "placement.rule"
BY_BASELINE = "baseline"
RULE_LABEL: dict[str, str] = {Rule.OPTIMAL: Policy.OPTIMAL.label, Rule.OSLA: "OSLA rule"}
SERIES_STYLES = tuple(STYLE.values())
"""The styles the lines of ``--by KEY`` take in turn (those of the policies, in their order)."""
INTEGER_COLUMNS = frozenset({"placement"})
"""Result columns that are integers: drawn as steps, with integer ticks."""
GAP = "gap_percent"
"""``--y gap_percent``: each baseline's extra cost over the joint optimum, in percent."""


def _float(cell: str | None) -> float:
    """A table cell as a number; ``nan`` for an empty cell (null, failed point) or a non-number."""
    try:
        return float(cell) if cell else math.nan
    except ValueError:
        return math.nan


def _series(
    rows: list[dict[str, str]], y: str, by: str, by_values: list[str]
) -> list[tuple[str, str, list[dict[str, str]], str, str]]:
    """(label, style name, rows, y column, simulated policy) of every line."""
    if by != BY_BASELINE:
        return [
            (
                RULE_LABEL.get(v, v) if by == RULE_KEY else value_label(by, v),
                v if by == RULE_KEY else f"#{i}",
                own,
                y,
                "rule",
            )
            for i, v in enumerate(by_values)
            for own in ([r for r in rows if r.get(by) == v],)
        ]
    rules = sorted({r.get(RULE_KEY) or r["rule"] for r in rows if r["status"] == "done"})
    if y == GAP:  # every baseline against the joint optimum of its own row (rule optimal)
        own = [r for r in rows if (r.get(RULE_KEY) or r["rule"]) == "optimal"]
        return [(p.label, p, own, f"baselines.{p.key}.{GAP}", "none") for p in Policy if p.key is not None]
    lines = []
    for rule in rules:
        own = [r for r in rows if (r.get(RULE_KEY) or r["rule"]) == rule]
        lines.append((RULE_LABEL.get(rule, rule), rule, own, "objective", "rule"))
    base_rows = [r for r in rows if (r.get(RULE_KEY) or r["rule"]) == ("optimal" if "optimal" in rules else rules[0])]
    for policy in Policy:
        if policy.key is None or (policy is Policy.OSLA and Rule.OSLA in rules):
            continue
        lines.append((policy.label, policy, base_rows, f"baselines.{policy.key}.objective", policy))
    return lines


def _style(name: str) -> dict[str, Any]:
    """A policy's style, or (``#i``) the ``i``-th of :data:`SERIES_STYLES`."""
    if name.startswith("#"):
        return SERIES_STYLES[int(name[1:]) % len(SERIES_STYLES)]
    return STYLE.get(name, SERIES_STYLES[0])


def _plot(ax: Axes, x: str, series: list[Any], log_x: bool, steps: bool = False, gap: bool = False) -> None:
    plotted: list[float] = []
    for label, style_name, own, column, policy in series:
        pts = sorted((_float(r.get(x)), r) for r in own if not math.isnan(_float(r.get(x))))
        xs = [p[0] for p in pts]
        ys = [_float(p[1].get(column)) for p in pts]
        st = _style(style_name)
        ax.plot(
            xs,
            ys,
            color=st["color"],
            ls=st["ls"],
            lw=st["lw"],
            marker=st["marker"],
            ms=4,
            label=label,
            drawstyle="steps-mid" if steps else "default",
        )
        plotted += ys
        lo_col, hi_col = f"sim.{policy}.ci_low", f"sim.{policy}.ci_high"
        if own and lo_col in own[0]:
            lo = [_float(p[1].get(lo_col)) for p in pts]
            hi = [_float(p[1].get(hi_col)) for p in pts]
            ax.fill_between(xs, lo, hi, color=st["color"], alpha=0.2, lw=0)
    if log_x:
        ax.set_xscale("log")
    if steps:
        from matplotlib.ticker import MaxNLocator

        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    elif gap:
        _gap_scale(ax, plotted)
    else:
        _maybe_log(ax, plotted)
    ax.grid(alpha=0.3)


def _gap_scale(ax: Axes, values: list[float]) -> None:
    """A zero line; a symmetric-log y axis (linear within 1 %) when the positive gaps span more
    than a factor 20, so that a gap of 0 (a baseline as good as the optimum) stays on the panel."""
    ax.axhline(0.0, color="0.5", lw=0.8)
    v = [g for g in values if math.isfinite(g) and g > 0]
    if v and max(v) / min(v) > 20.0 and max(v) > 10.0:
        ax.set_yscale("symlog", linthresh=1.0)
        if min(g for g in values if math.isfinite(g)) >= -1e-6:  # no negative decades to show (rounding aside)
            ax.set_ylim(bottom=-0.2)


def sweep_figure(
    out: str | Path,
    x: str | None = None,
    y: str = "objective",
    by: str = BY_BASELINE,
    *,
    ax: Axes | None = None,
    size: str | None = None,
    title: bool = True,
) -> Figure:
    """The figure of a results directory (see the module docstring); with ``ax``, its one
    panel drawn into the caller's axes (a sweep with several panels is refused)."""
    out = Path(out)
    manifest = store.read_manifest(out)
    rows = store.read_table(out)
    axes = {a["key"]: a for a in manifest["axes"]}
    by = RULE_KEY if by == "rule" else by
    numeric = [
        k for k, a in axes.items() if len(a["values"]) > 1 and all(isinstance(v, (int, float)) for v in a["values"])
    ]
    if x is None:
        if not numeric:
            raise InstanceError(f"--sweep {out}: no numeric axis with more than one value to plot against")
        x = numeric[0]
    if x not in axes:
        raise InstanceError(f"--x = {x!r}: not a swept key of {out} (swept: {', '.join(axes)})")
    if y == GAP:
        if by != BY_BASELINE:
            raise InstanceError(f"--y {GAP}: one line per baseline; use it with --by baseline (not {by!r})")
        if rows and not any(c.endswith(f".{GAP}") for c in rows[0]):
            raise InstanceError(f"--y {GAP}: {out / store.TABLE} has no baselines.*.{GAP} column")
    elif rows and y not in rows[0]:
        raise InstanceError(f"--y = {y!r}: not a column of {out / store.TABLE}")
    if by == BY_BASELINE and y not in ("objective", GAP):
        raise InstanceError(f"--by baseline plots objectives or {GAP}; with --y {y} choose --by rule or a swept key")
    if by != BY_BASELINE and by not in axes:
        raise InstanceError(f"--by = {by!r}: must be 'baseline', 'rule' or a swept key ({', '.join(axes)})")
    fixed = {x, by} | ({RULE_KEY} if by == BY_BASELINE else set())
    panel_keys = [k for k, a in axes.items() if k not in fixed and len(a["values"]) > 1]
    panel_values = list(itertools.product(*([str(v) for v in axes[k]["values"]] for k in panel_keys)))
    if len(panel_values) > MAX_PANELS:
        raise InstanceError(
            f"--sweep {out}: {len(panel_values)} panels (one per value of {', '.join(panel_keys)}); "
            f"at most {MAX_PANELS}: put one of them in --by"
        )
    by_values = [] if by == BY_BASELINE else [str(v) for v in axes[by]["values"]]
    # cells are strings; compare them with the axis values written the same way
    for row in rows:
        for k in axes:
            row[k] = str(_float(row[k])) if k in numeric or k == x else row[k]
    panel_values = [tuple(str(_float(v)) if k in numeric else v for k, v in zip(panel_keys, p)) for p in panel_values]
    if by in numeric:
        by_values = [str(_float(v)) for v in by_values]
    if ax is not None and len(panel_values) != 1:
        raise InstanceError(
            f"ax=: draws one panel, {out} has {len(panel_values)} (one per value of {', '.join(panel_keys)})"
        )
    if ax is None:
        fig, grid = _figure(len(panel_values), size=size)
        panel = lambda i: _panel(grid, i)  # noqa: E731
    else:
        given: Axes = ax
        own: Any = given.get_figure()
        fig, panel = own, lambda i: given
    for i, values in enumerate(panel_values):
        ax = panel(i)
        own = [r for r in rows if all(r[k] == v for k, v in zip(panel_keys, values))]
        _plot(ax, x, _series(own, y, by, by_values), bool(axes[x]["log"]), steps=y in INTEGER_COLUMNS, gap=y == GAP)
        ax.set_title(", ".join(value_label(k, v) for k, v in zip(panel_keys, values)) or out.name, fontsize=9)
        ax.set_xlabel(axis_label(x))
        ax.set_ylabel(COST_LABEL if y == "objective" else axis_label(y))  # gap_percent: the notation's row
    panel(0).legend(fontsize=7)
    return finish(fig, size, title)


def write_sweep_figure(
    out: str | Path,
    dest: str | Path | None = None,
    x: str | None = None,
    y: str = "objective",
    by: str = BY_BASELINE,
    *,
    size: str | None = None,
    title: bool = True,
) -> list[Path]:
    """Save :func:`sweep_figure` as ``<dest>/sweep.png``, ``.pdf`` and ``.svg`` (``sweep_gap.*``
    with ``y = "gap_percent"``; ``dest`` defaults to ``out``)."""
    fig = sweep_figure(out, x, y, by, size=size, title=title)
    return write_figures({"sweep_gap" if y == GAP else "sweep": fig}, dest if dest is not None else out)
