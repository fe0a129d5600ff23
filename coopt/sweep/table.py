"""A sweep's results table as a Python object: :func:`load_sweep_table`.

``coopt sweep SPEC --out DIR`` (or :func:`coopt.sweep.engines.run_sweep`) leaves the table
``DIR/results.csv`` (:mod:`coopt.sweep.store`: one row per finished point, in grid order;
the columns ``index``, ``key``, ``status``, ``exit_code``, ``reason``, the swept keys, the
solve JSON of docs/model.md section 8 flattened with dotted names, then ``coopt_version``,
``worker``, ``wall_s`` and ``cpu_s``). :func:`load_sweep_table` reads it back with the
directory's manifest into a :class:`SweepTable` whose cells are typed again:

* an empty cell (JSON ``null``: a threshold of ``+inf``, an infeasible baseline, a failed
  point's results) is ``None``;
* ``true`` and ``false`` are booleans, a cell that is a JSON list or object (``thresholds``,
  ``by_placement``, ``decisions``) is that list or dict;
* the columns of :data:`TEXT_COLUMNS` and the swept keys whose values are strings stay
  strings; any other cell is an ``int`` when it is written as one, else a ``float`` when it
  parses as one, else the string.

The units of the result columns are those of the solve JSON (``coopt solve --json`` prints
them under ``units``): ``objective``, ``task_cost`` and ``baselines.<name>.objective`` in
cost per task, ``download_cost`` per period, ``breakdown.latency_s`` in s,
``breakdown.energy_j`` in J, ``thresholds`` as linear power gains; ``wall_s`` and ``cpu_s``
in s.

``str(table)`` is a text table of the points (the swept keys, the status, :math:`M^*` and
:math:`\\Phi(M^*)`, the reason of a failure), ``table._repr_html_()`` the same as HTML with
a summary above it (what a notebook shows), :meth:`SweepTable.to_frame` every column as a
pandas DataFrame (pandas is an optional extra, ``coopt[frames]``).
"""

from __future__ import annotations

import csv
import html
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from coopt.dp.results import import_pandas
from coopt.errors import InstanceError
from coopt.sweep import store
from coopt.sweep.spec import Axis

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

TEXT_COLUMNS = frozenset(
    {
        "key",
        "status",
        "reason",
        "instance",
        "rule",
        "method",
        "wait_mode",
        "gap_percent_definition",
        "coopt_version",
        "worker",
        "solver.termination",
        "solver.status",
    }
)
"""Columns that hold text whatever their cells look like."""
SUMMARY_COLUMNS = ("placement", "objective")
"""The result columns that :meth:`SweepTable.text` and the HTML view show for every point."""
MAX_TEXT_ROWS = 40
"""Points :meth:`SweepTable.text` shows in full; a longer table shows its first and last 10."""

_INT = re.compile(r"^[+-]?\d+$")


def parse_cell(cell: str, text: bool = False) -> Any:
    """One cell of ``results.csv`` as the value it was written from (module docstring)."""
    if cell == "":
        return None
    if text:
        return cell
    if cell in ("true", "false"):
        return cell == "true"
    if cell[0] in "[{":
        try:
            return json.loads(cell)
        except json.JSONDecodeError:
            return cell
    if _INT.match(cell):
        return int(cell)
    try:
        return float(cell)
    except ValueError:
        return cell


@dataclass(frozen=True, eq=False)
class SweepTable:
    """The results table of a sweep directory, with its manifest (:func:`load_sweep_table`).

    Attributes
    ----------
    path : Path
        The results directory.
    spec : str
        The spec file the directory was made by (as given to ``coopt sweep``).
    axes : tuple of Axis
        The swept keys, their values and whether they were spaced logarithmically.
    points : int
        Points of the spec's grid (rows of a finished sweep).
    columns : tuple of str
        The table's columns, in its order.
    rows : tuple of dict
        One dict per finished point, in grid order: column -> typed value (module docstring).
    """

    path: Path
    spec: str
    axes: tuple[Axis, ...]
    points: int
    columns: tuple[str, ...]
    rows: tuple[dict[str, Any], ...]

    def __len__(self) -> int:
        return len(self.rows)

    def count(self, status: str) -> int:
        """Rows whose ``status`` is ``status`` (``"done"`` or ``"failed"``)."""
        return sum(1 for r in self.rows if r.get("status") == status)

    def column(self, name: str) -> list[Any]:
        """The values of one column, in row order (``None`` where a row has no value)."""
        if name not in self.columns:
            raise InstanceError(f"column = {name!r}: not a column of {self.path / store.TABLE}")
        return [r.get(name) for r in self.rows]

    def summary(self) -> str:
        """One line: the spec, the rows recorded of the grid, done and failed."""
        return (
            f"sweep {self.spec}: {len(self)} of {self.points} points recorded "
            f"({self.count('done')} done, {self.count('failed')} failed) in {self.path}"
        )

    def _point_rows(self) -> tuple[list[str], list[tuple[str, ...]]]:
        shown = [c for c in SUMMARY_COLUMNS if c in self.columns]
        header = ["index", *(a.key for a in self.axes), "status", *shown, "reason"]
        rows = [
            tuple(_show(r.get(c)) for c in ("index", *(a.key for a in self.axes), "status", *shown, "reason"))
            for r in self.rows
        ]
        return header, rows

    def text(self) -> str:
        """The summary, the axes and one line per point (``str(table)``)."""
        header, rows = self._point_rows()
        lines = [self.summary()]
        for a in self.axes:
            lines.append(f"  {a.key}: {len(a.values)} values{' (log-spaced)' if a.log else ''}, {_span(a.values)}")
        lines.append("")
        if len(rows) > MAX_TEXT_ROWS:
            rows = [*rows[:10], (f"... {len(rows) - 20} more points ...",), *rows[-10:]]
        full = [r for r in rows if len(r) == len(header)]
        widths = [max([len(h)] + [len(r[i]) for r in full]) for i, h in enumerate(header)]
        lines.append(_line(header, widths))
        lines += [("  " + r[0]) if len(r) == 1 else _line(r, widths) for r in rows]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.text()

    def _repr_html_(self) -> str:
        header, rows = self._point_rows()
        fields = [
            ("spec", self.spec),
            ("directory", str(self.path)),
            (
                "points",
                f"{len(self)} of {self.points} recorded: {self.count('done')} done, {self.count('failed')} failed",
            ),
            *(
                (a.key, f"{len(a.values)} values{' (log-spaced)' if a.log else ''}, {_span(a.values)}")
                for a in self.axes
            ),
            ("columns", f"{len(self.columns)}: table.to_frame() has them all"),
        ]
        fields_html = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in fields)
        parts = [f"<table><caption>coopt sweep: {html.escape(self.spec)}</caption>{fields_html}</table>"]
        if rows:
            shown = rows if len(rows) <= MAX_TEXT_ROWS else [*rows[:10], *rows[-10:]]
            head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
            body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in shown)
            more = (
                f"<p>{len(rows) - len(shown)} more points: table.to_frame() has them all.</p>"
                if len(shown) < len(rows)
                else ""
            )
            parts.append(
                f"<table><caption>points (objective: cost per task)</caption><tr>{head}</tr>{body}</table>{more}"
            )
        else:
            parts.append("<p>No point recorded yet.</p>")
        return '<div class="coopt-sweep">' + "".join(parts) + "</div>"

    def to_frame(self) -> pd.DataFrame:
        """Every column as a pandas DataFrame (pandas is an optional extra, ``coopt[frames]``,
        imported here; ``ImportError`` says so when it is missing).

        One row per finished point, in grid order, index ``index`` (the point's grid index);
        the other columns in the table's order, with the values of :attr:`rows` (``None`` is
        NaN in a numeric column, a list cell stays a list). Units: module docstring.
        """
        pd = import_pandas()
        data = {c: [r.get(c) for r in self.rows] for c in self.columns if c != "index"}
        return pd.DataFrame(data, index=pd.Index([r.get("index") for r in self.rows], name="index"))


def _show(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6e}" if value != 0 and (abs(value) < 1e-3 or abs(value) >= 1e6) else f"{value:g}"
    return str(value)


def _span(values: Sequence[Any]) -> str:
    if len(values) <= 4:
        return ", ".join(_show(v) for v in values)
    return f"{_show(values[0])}, {_show(values[1])}, ..., {_show(values[-1])}"


def _line(cells: Sequence[str], widths: Sequence[int]) -> str:
    return ("  " + "  ".join(f"{c:<{w}}" for c, w in zip(cells, widths))).rstrip()


def load_sweep_table(path: str | Path) -> SweepTable:
    """The results table of the sweep directory ``path`` (``coopt sweep ... --out DIR``).

    Raises :class:`~coopt.errors.InstanceError` when ``path`` is not a sweep directory (no
    ``sweep.json``) or has no ``results.csv`` yet. See the module docstring for the cells.
    """
    out = Path(path)
    manifest = store.read_manifest(out)
    axes = tuple(Axis(a["key"], tuple(a["values"]), bool(a["log"])) for a in manifest.get("axes", []))
    text_axes = {a.key for a in axes if any(isinstance(v, str) for v in a.values)}
    text = TEXT_COLUMNS | text_axes
    try:
        with open(out / store.TABLE, encoding="utf-8", newline="") as f:
            lines = list(csv.reader(f))
    except FileNotFoundError:
        raise InstanceError(f"--sweep {out}: no {store.TABLE} yet (run `coopt sweep` first)") from None
    columns = tuple(lines[0]) if lines else ()
    rows = tuple({c: parse_cell(v, c in text) for c, v in zip(columns, cells)} for cells in lines[1:])
    return SweepTable(
        path=out,
        spec=str(manifest.get("spec", "")),
        axes=axes,
        points=int(manifest.get("points", len(rows))),
        columns=columns,
        rows=rows,
    )


__all__ = ["TEXT_COLUMNS", "SweepTable", "load_sweep_table", "parse_cell"]
