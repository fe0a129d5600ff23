"""A zero objective is a valid answer: a network of free layers (0 MACs, 0 parameters).

Device-only then costs nothing (no compute, no upload, no download), so
:math:`\\Phi^* = \\Phi(N) = 0` exactly, while uploading earlier costs the transmission.
Every output must say so without NaN or Infinity; the baseline gap
(:func:`coopt.dp.results.baseline_gap`) is ``None`` / ``n/a (Phi* = 0)`` with the
absolute difference given.
"""

from __future__ import annotations

import json
import math

import pytest

from coopt import load_instance, prepare, solve
from coopt.cli.main import main
from coopt.dp.results import GAP_DEFINITION, baseline_gap
from tests.support.instances import make_doc

FREE_CSV = "name,macs,out_elems,params\ninput,0,100,0\nid1,0,100,0\nid2,0,100,0\n"


@pytest.fixture
def free_path(tmp_path, write_instance):
    (tmp_path / "free.csv").write_text(FREE_CSV, encoding="utf-8")
    return write_instance(make_doc(network__profile="free.csv"))


def strict_json(text: str):
    def refuse(name: str):
        raise AssertionError(f"{name} in JSON output")

    return json.loads(text, parse_constant=refuse)


def test_baseline_gap_definition():
    assert baseline_gap(3.0, 2.0).percent == pytest.approx(50.0, rel=1e-15)
    assert baseline_gap(3.0, 2.0).extra_cost == 1.0
    zero = baseline_gap(2.5e-4, 0.0)
    assert zero.percent is None and zero.extra_cost == 2.5e-4
    assert zero.text().startswith("n/a (Phi* = 0)") and "2.500000e-04" in zero.text()
    assert baseline_gap(0.0, 0.0).percent is None


def test_enumeration_finds_the_free_device_only_placement(free_path):
    inst = load_instance(free_path)
    problem = prepare(inst)
    # Independent check: every device-side cost of the free layers is zero.
    n = inst.n_layers
    assert problem.costs.A[n] == 0.0 and problem.costs.download[n] == 0.0
    res = solve(inst)
    assert res.placement == n and res.objective == 0.0
    assert all(v.objective > 0 for v in res.by_placement if v.placement < n)
    assert res.gap_percent("edge_only") is None
    gap = res.gap("edge_only")
    assert gap is not None and gap.extra_cost == res.baselines["edge_only"].objective


def test_report_and_json_have_no_nan(free_path, capsys):
    assert main(["solve", str(free_path)]) == 0
    out = capsys.readouterr().out
    assert "nan" not in out.lower() and "inf %" not in out
    assert out.count("n/a (Phi* = 0)") == 5
    assert GAP_DEFINITION in out
    assert main(["solve", str(free_path), "--json"]) == 0
    data = strict_json(capsys.readouterr().out)
    assert data["objective"] == 0.0
    assert data["gap_percent_definition"].startswith(GAP_DEFINITION)
    for b in data["baselines"].values():
        assert b["gap_percent"] is None and b["extra_cost"] == b["objective"]


def test_continuous_value_of_a_zero_objective(free_path, capsys):
    assert main(["solve", str(free_path), "--continuous", "--json"]) == 0
    cont = strict_json(capsys.readouterr().out)["continuous"]
    assert cont["objective"] == 0.0 and cont["relative_error"] is None
    assert main(["solve", str(free_path), "--continuous"]) == 0
    out = capsys.readouterr().out
    assert "nan" not in out.lower() and "n/a (Phi = 0)" in out


@pytest.mark.mip
def test_mip_accepts_a_zero_objective(free_path, capsys):
    pytest.importorskip("pyomo")
    pytest.importorskip("highspy")
    assert main(["solve", str(free_path), "--method", "mip", "--json"]) == 0
    data = strict_json(capsys.readouterr().out)
    ref = solve(load_instance(free_path))
    assert data["placement"] == ref.placement and data["objective"] == 0.0
    for got, want in zip(data["by_placement"], ref.by_placement):
        assert got["placement"] == want.placement
        assert math.isclose(got["objective"], want.objective, rel_tol=1e-9, abs_tol=1e-18)
    assert main(["verify", str(free_path)]) == 0
    capsys.readouterr()


def test_compare_reports_the_absolute_difference(free_path, capsys):
    assert main(["compare", str(free_path), "--tasks", "500", "--json"]) == 0
    data = strict_json(capsys.readouterr().out)[0]
    for row in data["policies"]:
        if row["policy"] != "optimal":
            assert row["gap_percent"] is None and row["extra_cost"] == row["exact"]
    assert main(["compare", str(free_path), "--tasks", "500"]) == 0
    out = capsys.readouterr().out
    assert "nan" not in out.lower() and "n/a (Phi* = 0)" in out


def test_cost_figure_with_a_zero_optimum(free_path):
    pytest.importorskip("matplotlib")
    from coopt.report.figures import cost_figure, solve_both

    fig = cost_figure([solve_both(load_instance(free_path))], points=3)  # warnings are errors
    low, high = fig.axes[0].get_ylim()
    assert low == 0.0 and high > 0.0
