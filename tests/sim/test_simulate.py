"""Monte Carlo simulation against the exact values (coopt.sim.simulate).

Every simulated mean must lie within ``Z_TOL`` standard errors of the exact value of
the same policy; the exact value itself must equal the solver's number for that
policy. Split-epoch frequencies, waiting slots, latency and energy are checked the
same way against the occupation measure (coopt.dp.stopping.occupation + results.breakdown),
an independent forward computation.
"""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest

from coopt import load_instance, prepare, solve
from coopt.cli.main import main
from coopt.dp.results import breakdown
from coopt.dp.stopping import occupation
from coopt.errors import InstanceError
from coopt.model.vocabulary import Policy
from coopt.sim.simulate import POLICIES, AliasTable, build_policy, simulate
from tests.support.instances import instance_path
from tests.support.tolerances import RTOL_EXACT

Z_TOL = 5.0  # standard errors; a false alarm has probability ~6e-7 per check
TASKS = 60_000

# golden examples, the shipped examples, and instances built so that policies wait
QUANTISED = [
    "golden-finite-last",
    "golden-markov-any",
    "golden-rayleigh-osla",
    "cnn_chain",
    "markov",
    "sim-wait-rayleigh",
    "sim-wait-markov",
    "sim-wait-mlp",
]


def load(name: str):
    return load_instance(instance_path(name))


_cache: dict[str, tuple] = {}


def solved(name: str):
    if name not in _cache:
        inst = load(name)
        _cache[name] = (inst, prepare(inst), solve(inst, rule="optimal"))
    return _cache[name]


def within(x: float, exact: float, se: float) -> bool:
    return abs(x - exact) <= Z_TOL * se + RTOL_EXACT * abs(exact)


@pytest.mark.parametrize("name", QUANTISED)
@pytest.mark.parametrize("policy", POLICIES)
def test_simulated_mean_matches_exact(name: str, policy: str) -> None:
    _inst, problem, res = solved(name)
    sim = simulate(problem, policy, TASKS, seed=11, solved=res)
    key = Policy(policy).key
    solver_value = res.objective if key is None else res.baselines[key].objective
    assert sim.exact == pytest.approx(solver_value, rel=RTOL_EXACT, abs=0)
    assert within(sim.mean, sim.exact, sim.std_error), (sim.mean, sim.exact, sim.std_error)
    assert sim.ci_low < sim.mean < sim.ci_high or sim.std_error == 0.0
    assert sim.ci_high - sim.ci_low == pytest.approx(2 * 1.959963984540054 * sim.std_error)
    assert sim.split_counts.sum() == TASKS


@pytest.mark.parametrize("name", QUANTISED)
@pytest.mark.parametrize("policy", ["optimal", "osla", "static", "edge-only"])
def test_splits_waits_latency_energy_match_occupation(name: str, policy: str) -> None:
    inst, problem, res = solved(name)
    pol = build_policy(problem, policy, res)
    occ = occupation(pol.actions, problem.channel)
    bd = breakdown(occ, problem.channel, problem.costs, pol.download_cost, inst.placement.tasks_per_period)
    sim = simulate(problem, policy, TASKS, seed=5, solved=res)
    p = np.clip(np.asarray(bd.stop_prob), 0.0, 1.0)
    freq = sim.split_fractions
    assert np.all(np.abs(freq - p) <= Z_TOL * np.sqrt(p * (1 - p) / TASKS) + 1e-12)
    assert within(sim.mean_wait_slots, bd.mean_wait_slots, sim.part_errors["wait_slots"])
    for part in ("latency_s", "energy_j", "upload", "waiting"):
        assert within(sim.parts[part], getattr(bd, part), sim.part_errors[part]), part


@pytest.mark.parametrize("name", ["sim-wait-rayleigh", "sim-wait-markov", "sim-wait-mlp"])
def test_waiting_instances_actually_wait(name: str) -> None:
    """The waiting paths of the simulator are exercised (guards the instances' purpose)."""
    _inst, problem, res = solved(name)
    waits = {pol: simulate(problem, pol, 5_000, seed=1, solved=res).mean_wait_slots for pol in POLICIES}
    assert max(waits.values()) > 0.1


@pytest.mark.parametrize("name", ["sim-wait-mlp", "markov"])
def test_cost_parts_and_physical_totals_are_consistent(name: str) -> None:
    """Per task, cost = w_E * energy + w_T * latency (+ amortised download); parts add up."""
    inst, problem, res = solved(name)
    sim = simulate(problem, "optimal", 20_000, seed=3, solved=res)
    p = sim.parts
    w_e, w_t = inst.cost.energy_weight, inst.cost.time_weight
    assert w_e * p["energy_j"] + w_t * p["latency_s"] + p["download_amortised"] == pytest.approx(sim.mean, rel=1e-12)
    total = p["local"] + p["upload"] + p["edge"] + p["waiting"] + p["download_amortised"]
    assert total == pytest.approx(sim.mean, rel=1e-12)


def test_reproducible_from_seed() -> None:
    inst, problem, res = solved("sim-wait-markov")
    a = simulate(problem, "osla", 10_000, seed=42, solved=res)
    b = simulate(inst, "osla", 10_000, seed=42)
    c = simulate(problem, "osla", 10_000, seed=43, solved=res)
    assert (
        a.mean == b.mean and np.array_equal(a.split_counts, b.split_counts) and a.mean_wait_slots == b.mean_wait_slots
    )
    assert a.mean != c.mean


def test_constant_cost_has_zero_spread() -> None:
    _inst, problem, res = solved("cnn_chain")
    sim = simulate(problem, "device-only", 1_000, seed=0, solved=res)
    assert sim.std_error == 0.0 and sim.z_score == 0.0
    assert sim.mean == pytest.approx(res.baselines["device_only"].objective, rel=RTOL_EXACT)


@pytest.mark.parametrize(
    "probs",
    [
        np.array([0.3, 0.5, 0.2]),
        np.full(16, 1 / 16),
        np.array([0.01, 0.0, 0.49, 0.5]),
        np.array([[0.9, 0.1, 0.0], [0.2, 0.3, 0.5], [0.0, 0.0, 1.0]]),
    ],
)
def test_alias_table_draws_the_distribution(probs: np.ndarray) -> None:
    table = AliasTable(probs)
    rng = np.random.default_rng(7)
    p = np.atleast_2d(probs)
    n = 200_000
    for r in range(p.shape[0]):
        rows = np.full(n, r, dtype=np.intp)
        draws = table.draw(rng, n, rows if p.shape[0] > 1 else None)
        freq = np.bincount(draws, minlength=p.shape[1]) / n
        assert np.all(np.abs(freq - p[r]) <= Z_TOL * np.sqrt(p[r] * (1 - p[r]) / n) + 1e-12)
        assert np.all(freq[p[r] == 0] == 0)


# ----------------------------------------------------------------------------- continuous law


CONTINUOUS = [
    ("cnn_chain", "optimal"),
    ("cnn_chain", "edge-only"),
    ("cnn_chain", "full-placement"),
    ("cnn_chain", "osla"),
    ("sim-wait-mlp", "optimal"),
    ("sim-wait-mlp", "static"),
    ("sim-wait-mlp", "osla"),
    ("sim-wait-mlp", "device-only"),
    ("sim-wait-rayleigh", "optimal"),
    ("sim-wait-rayleigh", "edge-only"),
]


@pytest.mark.parametrize(("name", "policy"), CONTINUOUS)
def test_continuous_simulation_matches_quadrature(name: str, policy: str) -> None:
    """Gains from the law itself; the quantised policy's thresholds applied to them."""
    _inst, problem, res = solved(name)
    sim = simulate(problem, policy, TASKS, seed=9, continuous=True, solved=res)
    assert sim.channel == "continuous" and math.isfinite(sim.exact)
    assert within(sim.mean, sim.exact, sim.std_error), (sim.mean, sim.exact, sim.std_error)


@pytest.mark.parametrize(
    ("name", "policy"),
    [
        ("cnn_chain", "optimal"),
        ("sim-wait-mlp", "static"),
        ("sim-wait-mlp", "osla"),
        ("sim-wait-rayleigh", "full-placement"),
    ],
)
def test_continuous_thresholds_simulation(name: str, policy: str) -> None:
    """The rule solved on the law (coopt.sim.continuous) and simulated on it."""
    from coopt.sim.continuous import continuous_optimal, quadrature_for

    inst, problem, res = solved(name)
    sim = simulate(problem, policy, TASKS, seed=4, continuous=True, thresholds="continuous", solved=res)
    assert within(sim.mean, sim.exact, sim.std_error)
    if policy in ("optimal", "full-placement"):
        quad = quadrature_for(problem)
        ref = continuous_optimal(quad, sim.placement, inst.wait.mode).value
        download = problem.costs.download[sim.placement] / inst.placement.tasks_per_period
        assert sim.exact == pytest.approx(ref + download, rel=1e-12)


def test_continuous_simulation_of_the_quantised_policy_costs_at_least_the_continuous_optimum() -> None:
    _inst, problem, res = solved("cnn_chain")
    deployed = simulate(problem, "optimal", 2_000, seed=1, continuous=True, solved=res).exact
    best = simulate(problem, "optimal", 2_000, seed=1, continuous=True, thresholds="continuous", solved=res).exact
    assert best <= deployed * (1 + 1e-12)


# ----------------------------------------------------------------------------- bad input


def test_infinite_continuous_configuration_is_refused() -> None:
    _inst, problem, res = solved("golden-rayleigh-osla")  # wait.mode = "never"
    with pytest.raises(InstanceError, match='wait.mode = "never".*infinite expected cost.*epoch 0 < N = 4'):
        simulate(problem, "edge-only", 1_000, continuous=True, solved=res)


def test_markov_has_no_continuous_law() -> None:
    with pytest.raises(InstanceError, match="no continuous law"):
        simulate(load("markov"), "optimal", 1_000, continuous=True)


def test_unknown_policy_and_bad_tasks() -> None:
    inst = load("cnn_chain")
    with pytest.raises(InstanceError, match="policy = 'bogus': must be one of optimal"):
        simulate(inst, "bogus", 1_000)
    with pytest.raises(InstanceError, match="tasks = 1: must be an integer >= 2"):
        simulate(inst, "optimal", 1)


def test_infeasible_baseline_is_refused() -> None:
    inst = load("cnn_chain")
    small = dataclasses.replace(inst, placement=dataclasses.replace(inst.placement, memory_bits=1.0e5))
    with pytest.raises(InstanceError, match="policy = 'device-only'.*memory_bits"):
        simulate(small, "device-only", 1_000)
    assert simulate(small, "optimal", 1_000).placement <= 7


# ----------------------------------------------------------------------------- CLI


def test_cli_json(capsys: pytest.CaptureFixture[str]) -> None:
    path = instance_path("sim-wait-markov")
    assert main(["simulate", str(path), "--tasks", "5000", "--seed", "3", "--policy", "osla", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    sim = simulate(load_instance(path), "osla", 5000, seed=3)
    for key in ("mean", "ci_low", "ci_high", "tasks", "seed", "policy", "exact", "mean_wait_slots"):
        assert out[key] == getattr(sim, key), key
    assert out["split_epochs"]["count"] == [int(c) for c in sim.split_counts]


def test_cli_text_and_continuous(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", str(instance_path("cnn_chain")), "--tasks", "3000", "--continuous"]) == 0
    out = capsys.readouterr().out
    assert "continuous law" in out and "95% CI" in out and "split epochs" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--policy", "bogus"], "policy = 'bogus'"),
        (["--continuous", "--policy", "edge-only"], "infinite expected cost"),
        (["--tasks", "0"], "--tasks: 0: must be an integer >= 2"),
        (["--continuous", "--thresholds", "fine"], "--thresholds: invalid choice: 'fine'"),
    ],
)
def test_cli_bad_input_is_one_line_exit_2(args: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    try:
        code = main(["simulate", str(instance_path("golden-rayleigh-osla")), *args])
    except SystemExit as exc:  # the flags' ranges and choices are checked by the parser
        code = exc.code
    assert code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err and err.startswith("coopt")
