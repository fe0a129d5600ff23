"""``coopt verify``: the cross-checks pass on good instances and fail on a planted error."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

import coopt.api
import coopt.verify as verify_module
from coopt import load_instance, solve
from coopt.cli.main import main
from coopt.errors import InstanceError
from coopt.model.constraints import QoS
from coopt.verify import verify
from tests.support import tiny
from tests.support.instances import EXAMPLE_INSTANCES, EXAMPLES, GOLDEN

pytestmark = pytest.mark.mip

GOLDEN_NAMES = ["golden-finite-last", "golden-markov-any", "golden-rayleigh-osla"]
EXPECTED_ROWS = {
    "MIP termination",
    "MIP bound certifies the LPs",
    "placement M*",
    "objective Phi(M*): MIP incumbent",
    "objective Phi(M*): LP at M*",
    "task_cost J(M*)",
    "download_cost D(M*)",
    "by_placement: placements",
    "by_placement: objective Phi(M)",
    "by_placement: task_cost J(M)",
    "by_placement: download_cost D(M)",
    "LP objectives vs their policies",
    "decisions at M*",
    "thresholds theta_n",
    "MIP objective recomputed",
    "largest row violation",
    "MIP policy evaluated by the DP",
    "baseline edge_only",
    "baseline static_split",
    "baseline osla",
}


@pytest.mark.parametrize("name", GOLDEN_NAMES)
def test_verify_golden_exit_0(name, capsys):
    assert main(["verify", str(GOLDEN / f"{name}.toml")]) == 0
    out = capsys.readouterr().out
    assert out.rstrip().endswith("all checks passed")
    assert "MISMATCH" not in out


@pytest.mark.slow
@pytest.mark.parametrize("path", EXAMPLE_INSTANCES, ids=lambda p: p.stem)
def test_verify_examples(path):
    inst = load_instance(path)
    report = verify(inst)
    assert report.ok, report.table()
    names = {c.name for c in report.checks}
    assert EXPECTED_ROWS <= names
    lp_row = "LP policies are the OSLA rule" if inst.placement.rule == "osla" else "LP policies certified"
    assert lp_row in names
    exact = {c.name: c.tolerance for c in report.checks}
    assert exact["by_placement: objective Phi(M)"] == "rel 1e-12"
    assert exact["objective Phi(M*): MIP incumbent"] == "rel 1e-09"


def test_verify_json(capsys):
    assert main(["verify", str(GOLDEN / "golden-markov-any.toml"), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["ok"] is True and doc["instance"] == "golden-markov-any"
    assert all(c["ok"] for c in doc["checks"])


def test_verify_detects_a_wrong_enumeration(monkeypatch, capsys):
    """A reference off by one part in a million fails the objective rows: exit 1."""
    real = verify_module.solve_enumeration

    def off(problem):
        r = real(problem)
        return replace(r, objective=r.objective * (1 + 1e-6))

    monkeypatch.setattr(verify_module, "solve_enumeration", off)
    report = verify(load_instance(GOLDEN / "golden-finite-last.toml"))
    failed = {c.name for c in report.failures}
    assert failed == {"objective Phi(M*): MIP incumbent", "objective Phi(M*): LP at M*"}
    assert main(["verify", str(GOLDEN / "golden-finite-last.toml")]) == 1
    out = capsys.readouterr().out
    assert "2 check(s) FAILED" in out and "MISMATCH" in out


@pytest.mark.parametrize("field", ["objective", "task_cost", "download_cost"])
def test_verify_compares_every_field_of_every_placement(monkeypatch, field):
    """A drift of 1e-8 in one field of one non-optimal placement fails that row alone."""
    real = verify_module.solve_enumeration
    path = GOLDEN / "golden-finite-last.toml"

    def drifted(problem):
        r = real(problem)
        rows = list(r.by_placement)
        i = next(i for i, v in enumerate(rows) if v.placement != r.placement and getattr(v, field) > 0)
        rows[i] = replace(rows[i], **{field: getattr(rows[i], field) * (1 + 1e-8)})
        return replace(r, by_placement=tuple(rows))

    monkeypatch.setattr(verify_module, "solve_enumeration", drifted)
    report = verify(load_instance(path))
    assert [c.name for c in report.failures] == [f"by_placement: {field} {verify_module.BY_PLACEMENT_FIELDS[field]}"]


def test_verify_detects_a_missing_placement(monkeypatch):
    real = verify_module.solve_enumeration

    def fewer(problem):
        r = real(problem)
        return replace(r, by_placement=r.by_placement[:-1])

    monkeypatch.setattr(verify_module, "solve_enumeration", fewer)
    report = verify(load_instance(GOLDEN / "golden-finite-last.toml"))
    assert [c.name for c in report.failures] == ["by_placement: placements"]


def test_verify_detects_a_wrong_placement(monkeypatch):
    real = verify_module.solve_enumeration

    def moved(problem):
        r = real(problem)
        return replace(r, placement=r.placement + 1)

    monkeypatch.setattr(verify_module, "solve_enumeration", moved)
    report = verify(load_instance(GOLDEN / "golden-finite-last.toml"))
    assert {"placement M*", "decisions at M*"} <= {c.name for c in report.failures}


def test_verify_with_constraints():
    free = tiny.instance(tiny.CHAIN3, tiny.CHANNELS["finite3"], "last", cost__time_weight=0.01)
    lat = solve(free).breakdown.latency_s
    report = verify(replace(free, constraints=QoS(max_latency_s=0.85 * lat)))
    assert report.ok, report.table()
    names = {c.name for c in report.checks}
    assert {"constraints.max_latency_s holds", "Lagrangian bound <= MIP", "binding bounds: MIP >= enumeration"} <= names
    policy_row = next(c for c in report.checks if c.name == "MIP policy evaluated by the DP")
    assert "randomised" in policy_row.note
    slack = verify(replace(free, constraints=QoS(max_latency_s=2 * lat)))
    assert slack.ok and "slack bounds: MIP = enumeration" in {c.name for c in slack.checks}


def test_closed_form_hook(monkeypatch):
    """When --method closed-form exists, verify compares it; when it does not apply, it says so."""
    inst = load_instance(GOLDEN / "golden-finite-last.toml")
    rows = verify_module.closed_form_checks(inst, solve(inst), 1e-9, 1e-3)
    if "closed-form" not in coopt.api.METHODS:
        assert len(rows) == 1 and rows[0].ok and "not available" in rows[0].note
    real_solve = coopt.api.solve

    def fake(instance, *, rule=None, method="enumeration", **kw):
        if method == "closed-form":
            return real_solve(instance, rule=rule)
        return real_solve(instance, rule=rule, method=method, **kw)

    monkeypatch.setattr(coopt.api, "METHODS", coopt.api.METHODS + ("closed-form",))
    monkeypatch.setattr(coopt.api, "solve", fake)
    rows = verify_module.closed_form_checks(inst, solve(inst), 1e-9, 1e-3)
    assert [r.name for r in rows] == ["closed form: placement M*", "closed form: objective Phi(M*)"]
    assert all(r.ok for r in rows)

    def not_applicable(instance, *, rule=None, method="enumeration", **kw):
        raise InstanceError("closed form: the hidden layers are not identical")

    monkeypatch.setattr(coopt.api, "solve", not_applicable)
    rows = verify_module.closed_form_checks(inst, solve(inst), 1e-9, 1e-3)
    assert len(rows) == 1 and rows[0].ok and "not applicable" in rows[0].note


def test_verify_rule_override_checks_the_closed_form(capsys):
    """data/mlp.toml says rule optimal; --rule osla brings the closed form into the table."""
    assert main(["verify", str(EXAMPLES / "mlp.toml"), "--rule", "osla"]) == 0
    out = capsys.readouterr().out
    assert "closed form: placement M*" in out and "all checks passed" in out


def test_verify_detects_a_drifted_baseline(monkeypatch):
    """A baseline 1e-10 off (below the old 1e-9) fails its row: values the DP evaluates compare at 1e-12."""
    real = verify_module.solve_enumeration

    def drifted(problem):
        r = real(problem)
        b = r.baselines["edge_only"]
        return replace(r, baselines={**r.baselines, "edge_only": replace(b, objective=b.objective * (1 + 1e-10))})

    monkeypatch.setattr(verify_module, "solve_enumeration", drifted)
    report = verify(load_instance(GOLDEN / "golden-finite-last.toml"))
    assert [c.name for c in report.failures] == ["baseline edge_only"]


def test_verify_osla_checks_by_placement_under_osla():
    """The instance's own rule: under OSLA the per-placement rows compare OSLA values."""
    report = verify(load_instance(GOLDEN / "golden-rayleigh-osla.toml"))
    assert report.ok, report.table()
    row = next(c for c in report.checks if c.name == "by_placement: objective Phi(M)")
    assert "osla" in row.note and row.tolerance == "rel 1e-12"
