"""A result in a notebook: ``str(result)`` is the text report of ``coopt solve``,
``to_frame()`` the placements as a pandas DataFrame, ``_repr_html_()`` a summary table."""

from __future__ import annotations

import contextlib
import io
import sys

import pytest

from coopt import load_instance, solve
from coopt.cli.main import main
from tests.support.html import cells
from tests.support.instances import EXAMPLE_INSTANCES


def cli_text(path) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["solve", str(path)]) == 0
    return out.getvalue()


@pytest.mark.parametrize("path", EXAMPLE_INSTANCES, ids=lambda p: p.stem)
def test_str_is_the_cli_report(path):
    assert str(solve(load_instance(path))) + "\n" == cli_text(path)


def test_to_frame_is_the_result():
    pd = pytest.importorskip("pandas")
    result = solve(load_instance(EXAMPLE_INSTANCES[0]))
    frame = result.to_frame()
    assert isinstance(frame, pd.DataFrame)
    assert list(frame.columns) == ["objective", "task_cost", "download_cost", "optimal"]
    assert list(frame.index) == [v.placement for v in result.by_placement]
    for v in result.by_placement:
        row = frame.loc[v.placement]
        assert (row.objective, row.task_cost, row.download_cost) == (v.objective, v.task_cost, v.download_cost)
    assert frame.index[frame.optimal].tolist() == [result.placement]
    assert frame.objective.min() == result.objective


def test_to_frame_without_pandas_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "pandas", None)
    result = solve(load_instance(EXAMPLE_INSTANCES[0]))
    with pytest.raises(ImportError, match=r"pip install 'coopt\[frames\]'"):
        result.to_frame()


def test_repr_html_is_a_table_of_the_summary():
    result = solve(load_instance(EXAMPLE_INSTANCES[0]))
    parser = cells(result._repr_html_())
    assert parser.tags[0] == "table" and parser.tags.count("tr") == 7 + len(result.baselines)
    text = parser.text
    assert text[text.index("placement M*") + 1] == str(result.placement)
    assert text[text.index("objective Phi(M*)") + 1] == f"{result.objective:.6e}"
    for name, b in result.baselines.items():
        shown = text[text.index(f"baseline {name}") + 1]
        assert shown == "infeasible" if b is None else shown.startswith(f"{b.objective:.6e}")
