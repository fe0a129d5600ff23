"""A sweep's table as a Python object (coopt.sweep.load_sweep_table): every cell typed back to
the value the log recorded, as text, as a notebook's HTML and as a pandas DataFrame."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from coopt.errors import InstanceError
from coopt.sweep import SweepTable, load_sweep_table, store
from coopt.sweep.engines import run_sweep
from coopt.sweep.spec import load_spec
from coopt.sweep.table import parse_cell
from tests.support.html import cells
from tests.support.sweep import write_spec

SPEC = """
[grid]
"channel.mean_snr_db" = [0.0, 30.0]
"placement.rule" = ["optimal", "osla"]
"uplink.bandwidth_hz" = [5e6, -1.0]
"""


@pytest.fixture(scope="module")
def sweep_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """8 points of the CNN chain; the 4 with a negative bandwidth fail (exit code 2)."""
    tmp = tmp_path_factory.mktemp("sweep")
    summary = run_sweep(load_spec(write_spec(tmp, SPEC)), tmp / "out", workers=1, progress=False)
    assert (summary.done, summary.failed) == (4, 4)
    return tmp / "out"


def log_records(out: Path) -> list[dict[str, Any]]:
    records = [json.loads(line) for line in (out / store.LOG).read_text(encoding="utf-8").splitlines()]
    return sorted(records, key=lambda r: r["index"])


def test_rows_are_the_logged_records(sweep_dir: Path) -> None:
    table = load_sweep_table(sweep_dir)
    assert isinstance(table, SweepTable)
    assert (len(table), table.points, table.count("done"), table.count("failed")) == (8, 8, 4, 4)
    assert [a.key for a in table.axes] == ["channel.mean_snr_db", "placement.rule", "uplink.bandwidth_hz"]
    for row, rec in zip(table.rows, log_records(sweep_dir), strict=True):
        assert (row["index"], row["key"], row["status"]) == (rec["index"], rec["key"], rec["status"])
        assert (row["exit_code"], row["reason"]) == (rec["exit_code"], rec["reason"])
        if rec["status"] == "failed":
            assert rec["exit_code"] == 2 and "bandwidth_hz" in row["reason"]
            assert row["objective"] is None and row["placement"] is None
            continue
        for key, value in store.flatten(rec["result"]).items():
            assert row[key] == value, key  # typed back exactly: ints, floats, strings, lists, None
        assert isinstance(row["placement"], int) and isinstance(row["objective"], float)
    assert table.column("objective") == [r.get("objective") for r in table.rows]
    with pytest.raises(InstanceError, match="column = 'nope': not a column"):
        table.column("nope")


def test_frame_is_the_table(sweep_dir: Path) -> None:
    pytest.importorskip("pandas")
    table = load_sweep_table(sweep_dir)
    frame = table.to_frame()
    assert list(frame.index) == list(range(8))
    assert list(frame.columns) == [c for c in table.columns if c != "index"]
    done = [r for r in table.rows if r["status"] == "done"]
    assert list(frame.loc[frame["status"] == "done", "objective"]) == [r["objective"] for r in done]
    assert frame.loc[frame["status"] == "failed", "objective"].isna().all()
    assert list(frame["thresholds"].iloc[:1]) == [done[0]["thresholds"]]


def test_text_and_html(sweep_dir: Path) -> None:
    table = load_sweep_table(sweep_dir)
    text = str(table)
    assert text.splitlines()[0] == f"sweep {table.spec}: 8 of 8 points recorded (4 done, 4 failed) in {sweep_dir}"
    assert len(text.splitlines()) == 1 + 3 + 1 + 1 + 8  # summary, axes, blank, header, points
    for row in table.rows:
        if row["status"] == "done":
            assert f"{row['objective']:.6e}" in text or f"{row['objective']:g}" in text
    view = cells(table._repr_html_())
    assert view.tags.count("table") == 2 and not any(v and "http" in v for _, v in view.attrs)
    shown = " ".join(view.text)
    assert "4 done, 4 failed" in shown and "uplink.bandwidth_hz" in shown


def test_a_directory_without_a_sweep_is_bad_input(tmp_path: Path) -> None:
    with pytest.raises(InstanceError, match="not a sweep directory"):
        load_sweep_table(tmp_path)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0.1, False),
        (-3.0e-300, False),
        (7, False),
        (True, False),
        (None, False),
        ([1.5, None, 2], False),
        ({"a": 1}, False),
        ("optimal", False),
        ('a, b "quoted"', False),
        ("12", True),
    ],
)
def test_cells_read_back_as_written(value: Any, text: bool) -> None:
    cell = store._cell(value)
    (field,) = next(csv.reader([cell])) if cell else [""]
    assert parse_cell(field, text=text) == value


def test_missing_pandas_is_a_clear_import_error(sweep_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    table = load_sweep_table(sweep_dir)
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(ImportError, match=r"pip install 'coopt\[frames\]'"):
        table.to_frame()
