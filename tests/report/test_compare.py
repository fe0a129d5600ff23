"""The comparison report (coopt.report.compare): its numbers are the solver's and the simulator's."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from coopt import load_instance, solve
from coopt.cli.main import main
from coopt.dp.results import GAP_DEFINITION
from coopt.model.vocabulary import Policy
from coopt.report.compare import compare, comparison_markdown, comparison_text
from coopt.sim.simulate import POLICIES, simulate
from tests.support.instances import DATA, instance_path

TASKS = 4_000


@pytest.fixture(scope="module")
def cnn():
    inst = load_instance(instance_path("cnn_chain"))
    return inst, compare(inst, TASKS, seed=1)


def test_exact_values_are_the_solvers(cnn) -> None:
    inst, comp = cnn
    res = solve(inst, rule="optimal")
    assert [r.policy for r in comp.rows] == list(POLICIES)
    for r in comp.rows:
        key = Policy(r.policy).key
        ref = res if key is None else res.baselines[key]
        assert r.exact == ref.objective and r.placement == ref.placement
        if key is None:
            assert r.gap is None
        else:
            # one definition of the gap: compare reports exactly what solve does
            assert r.gap is not None and r.gap.percent == res.gap_percent(key)
            assert r.gap.percent == pytest.approx(100 * (ref.objective - res.objective) / res.objective, rel=1e-14)
            assert r.gap.extra_cost == ref.objective - res.objective
            # the joint optimum beats or ties every baseline
            assert r.gap.percent >= -1e-10


def test_simulated_values_are_the_simulators(cnn) -> None:
    inst, comp = cnn
    for r in comp.rows:
        sim = simulate(inst, r.policy, TASKS, seed=1)
        assert r.simulated is not None
        assert (r.simulated.mean, r.simulated.ci_low, r.simulated.ci_high) == (sim.mean, sim.ci_low, sim.ci_high)
        assert abs(sim.mean - r.exact) <= 5 * sim.std_error + 1e-12 * r.exact


def test_text_and_markdown_show_the_numbers(cnn) -> None:
    _, comp = cnn
    text = comparison_text([comp])
    md = comparison_markdown([comp])
    assert text.splitlines()[0].startswith("instance cnn_chain: 7 layers, rayleigh channel")
    assert md.startswith("### cnn_chain")
    table = [ln for ln in md.splitlines() if ln.startswith("| ") and not ln.startswith("| policy")]
    assert len(table) == len(POLICIES)
    for r, row in zip(comp.rows, table):
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert cells[0] == Policy(r.policy).label
        assert int(cells[1]) == r.placement
        assert float(cells[2]) == pytest.approx(r.exact, rel=1e-6)
        assert float(cells[3]) == pytest.approx(r.simulated.mean, rel=1e-6)
        if r.gap is not None:
            assert r.gap.percent is not None
            assert float(cells[5].rstrip(" %")) == pytest.approx(r.gap.percent, abs=0.005)
            assert f"{r.gap.percent:+.2f} %" in text
        assert f"{r.exact:.6e}" in text


def test_infeasible_baselines_are_listed() -> None:
    inst = load_instance(instance_path("golden-finite-last"))
    small = dataclasses.replace(inst, placement=dataclasses.replace(inst.placement, memory_bits=1.0e5))
    comp = compare(small, 2_000, seed=0)
    infeasible = {r.policy for r in comp.rows if not r.feasible}
    assert infeasible == {"device-only", "full-placement"}
    assert "infeasible under the memory limit" in comparison_text([comp])
    assert "| device-only | – | infeasible |" in comparison_markdown([comp])
    assert comp.to_dict()["policies"][4]["feasible"] is False


def test_cli_compare_text_markdown_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    paths = [str(instance_path("golden-finite-last")), str(instance_path("golden-markov-any"))]
    args = ["compare", *paths, "--tasks", "2000", "--seed", "5"]
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "instance golden-finite-last" in text and "instance golden-markov-any" in text
    assert main([*args, "--markdown"]) == 0
    md = capsys.readouterr().out
    assert md.count("| policy | M |") == 2
    target = tmp_path / "cmp.md"
    assert main([*args, "--markdown", str(target)]) == 0
    assert capsys.readouterr().out.strip() == f"wrote {target}"
    assert target.read_text(encoding="utf-8").strip() == md.strip()
    assert main([*args, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    res = solve(load_instance(paths[1]), rule="optimal")
    row = {p["policy"]: p for p in out[1]["policies"]}
    assert row["optimal"]["exact"] == res.objective
    assert row["osla"]["exact"] == res.baselines["osla"].objective
    assert row["static"]["gap_percent"] == pytest.approx(
        100 * (res.baselines["static_split"].objective - res.objective) / res.objective
    )
    assert out[1]["gap_percent_definition"].startswith(GAP_DEFINITION)


def test_cli_compare_bad_input(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compare", str(DATA / "missing.toml")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no such instance file" in err
