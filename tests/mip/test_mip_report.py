"""The MIP method's typed report (coopt.mip.report): its JSON form, its inverse and its readers.

The JSON ``solver`` object must keep the keys, order and values it had as an untyped dict
(docs/model.md section 8 and the golden files rely on them); the key lists below are that
dict's, written out once more by hand.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace

import pytest

from coopt import prepare, solve
from coopt.mip.highs import Termination
from coopt.mip.report import MipReport, PolicyCertification, QosReport, RandomisedDecision, mip_report
from coopt.model.constraints import QoS
from tests.support import tiny
from tests.support.instances import DATA

pytestmark = [pytest.mark.filterwarnings("error"), pytest.mark.mip]

# The solver object as the untyped dict wrote it (method.py before MipReport).
HIGHS_KEYS = ["name", "version", "termination", "has_solution", "objective", "bound", "gap"]
HIGHS_KEYS += ["wall_time_s", "highs_time_s", "nodes"]
METHOD_KEYS = [
    "build_time_s",
    "rows",
    "columns",
    "binaries",
    "mip_placement",
    "certified",
    "retried_with_fallback",
    "objective_recomputed",
    "flow_residual",
    "by_placement_lp_time_s",
    "by_placement_lp_max_rel_diff",
    "lp_small_flows",
    "lp_small_flow_mass",
]
FREE_KEYS = ["by_placement_changed_states", "by_placement_unvisited_states", "by_placement_improved"]
QOS_KEYS = [
    "constraints",
    "expected_latency_s",
    "expected_energy_j",
    "lagrangian_bound",
    "lagrangian_multipliers",
    "lagrangian_gap",
    "randomised_decisions",
    "policy_task_cost_evaluated",
]


def qos_instance(factor: float):
    """N = 3, energy-dominated cost, mode last: a latency bound of ``factor`` times the
    unconstrained optimum's latency (below 1 it binds and the policy randomises)."""
    free = tiny.instance(tiny.CHAIN3, "finite3", "last", cost__time_weight=0.01)
    latency = solve(free).breakdown.latency_s
    return replace(free, constraints=QoS(max_latency_s=factor * latency))


FREE = tiny.instance(tiny.CHAIN3, "markov3", "any")


@pytest.fixture(scope="module")
def free_run():
    from coopt.mip.method import run_mip_method

    return run_mip_method(prepare(FREE))


@pytest.fixture(scope="module")
def qos_run():
    from coopt.mip.method import run_mip_method

    return run_mip_method(prepare(qos_instance(0.97)))


def test_free_report_keys_and_fields(free_run):
    report, result = free_run.report, free_run.result
    assert list(result.solver) == HIGHS_KEYS + METHOD_KEYS + FREE_KEYS
    assert result.solver == report.to_dict()
    assert report.qos is None and isinstance(report.certification, PolicyCertification)
    # the fields are the run's own numbers, not copies of something else
    res = free_run.mip
    assert report.termination is res.termination is Termination.OPTIMAL and report.optimal
    assert (report.objective, report.bound, report.nodes) == (res.objective, res.bound, res.nodes)
    assert report.mip_placement == res.placement and report.certified is True
    assert result.solver["name"] == "HiGHS" and res.solver == f"HiGHS {report.version}"
    assert report.binaries == len(prepare(FREE).placements)  # one z_M per feasible placement
    assert report.lp_small_flows == free_run.data.small_flows
    json.dumps(result.solver, allow_nan=False)  # no NaN, no Infinity


def test_qos_report_keys_and_fields(qos_run):
    report, result = qos_run.report, qos_run.result
    assert list(result.solver) == HIGHS_KEYS + METHOD_KEYS + QOS_KEYS
    assert report.certification is None and isinstance(report.qos, QosReport)
    q = report.qos
    assert q.constraints == {"max_latency_s": qos_run.qos.max_latency_s}
    assert q.expected("max_latency_s") == q.expected_latency_s == result.solver["expected_latency_s"]
    assert q.expected("max_energy_j") == q.expected_energy_j
    assert q.lagrangian_bound == qos_run.lagrangian.bound
    assert q.randomised_decisions and all(isinstance(r, RandomisedDecision) for r in q.randomised_decisions)
    for row in q.randomised_decisions:
        assert sum(row.probs.values()) == pytest.approx(1.0, abs=1e-6) and len(row.probs) >= 2
    assert result.solver["randomised_decisions"] == [
        {"epoch": r.epoch, "state": r.state, "probs": r.probs} for r in q.randomised_decisions
    ]
    json.dumps(result.solver, allow_nan=False)


def test_skipped_placements_are_listed_by_string_key():
    """A tight bound leaves placements whose LP is infeasible; the JSON keys them as strings."""
    from coopt.mip.method import run_mip_method

    run = run_mip_method(prepare(qos_instance(0.9)))
    skipped = run.report.by_placement_skipped
    assert skipped  # some placements cannot meet 0.9 of the free latency at all
    assert all(isinstance(m, int) for m in skipped)
    keys = list(run.result.solver)
    assert keys.index("by_placement_skipped") == len(HIGHS_KEYS + METHOD_KEYS)
    assert run.result.solver["by_placement_skipped"] == {str(m): t for m, t in skipped.items()}


@pytest.mark.parametrize("which", ["free_run", "qos_run"])
def test_from_dict_is_the_inverse_of_to_dict(which, request):
    run = request.getfixturevalue(which)
    d = run.result.solver
    back = MipReport.from_dict(json.loads(json.dumps(d)))  # through the JSON text, as a sweep reads it
    assert back.to_dict() == d and list(back.to_dict()) == list(d)
    assert back.termination is Termination.OPTIMAL
    assert mip_report(run.result).to_dict() == d


@pytest.mark.parametrize(
    "change",
    [
        lambda d: d.update(extra_key=1),
        lambda d: d.pop("flow_residual"),
        lambda d: d.update(name="Gurobi"),
        lambda d: d.update(termination="done"),
    ],
    ids=["unknown key", "missing key", "other solver", "unknown termination"],
)
def test_from_dict_rejects_what_to_dict_never_writes(change, free_run):
    d = dict(free_run.result.solver)
    change(d)
    with pytest.raises(ValueError, match="not the solver object of a MIP result"):
        MipReport.from_dict(d)


def test_other_methods_have_no_mip_report():
    result = solve(tiny.instance())
    assert result.method == "enumeration" and mip_report(result) is None


def test_the_report_module_does_not_import_pyomo():
    code = "import coopt.mip.report, sys; assert 'pyomo' not in sys.modules and 'highspy' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_the_dp_route_does_not_import_the_mip_package():
    """The text report reads the MIP's report only for a MIP result: coopt solve stays fast."""
    code = (
        "import sys; from coopt.cli.main import main; main(['solve', sys.argv[1]]); "
        "assert not [m for m in sys.modules if m.startswith('coopt.mip')], 'coopt.mip imported'"
    )
    path = DATA / "golden-finite-last.toml"
    subprocess.run([sys.executable, "-c", code, str(path)], check=True, capture_output=True)
