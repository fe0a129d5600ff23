"""The law of one task's latency and energy (coopt.dp.outcomes) and its figures
(coopt.report.task_figures): distributions per policy, and the energy-latency trade-off.

The exact law is computed forward from the action table; its means are checked against the
solver's own expected parts (backward values, occupation measure), its CDF against a Monte
Carlo run inside the Dvoretzky-Kiefer-Wolfowitz band. The figure checks read the plotted
numbers back from the lines (by ``gid``) and compare them with those independent numbers.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from coopt import load_instance, prepare, solve
from coopt.dp.outcomes import task_law
from coopt.errors import InstanceError
from coopt.model.vocabulary import Policy
from coopt.report.task_figures import (
    Distributions,
    distribution_figure,
    task_distributions,
    tradeoff_figure,
    tradeoff_sweep,
    with_weights,
)
from coopt.sim.simulate import POLICIES, build_policy
from tests.support.figures import font_subtypes
from tests.support.instances import instance_path

RTOL_SUM = 1e-12  # the same expectation summed in another order
DKW_ALPHA = 1e-4  # probability that a correct CDF leaves the band (the runs are seeded)
TASKS = 20_000
# i.i.d. with waits (continuous law quantised), a Markov chain whose OSLA and edge-only
# rules wait ~7.5 slots, a CNN without waits, a Markov chain
LAW_CASES = ["sim-wait-rayleigh", "sim-wait-markov", "sim-wait-mlp", "cnn_chain", "markov"]


def lines(fig) -> dict[str, object]:
    return {ln.get_gid(): ln for ax in fig.axes for ln in ax.get_lines() if ln.get_gid()}


def dkw_epsilon(n: int, alpha: float = DKW_ALPHA) -> float:
    """P(sup |F_n - F| > eps) <= 2 exp(-2 n eps^2) = alpha."""
    return math.sqrt(math.log(2.0 / alpha) / (2.0 * n))


def step_at(xs: np.ndarray, F: np.ndarray, x: np.ndarray) -> np.ndarray:
    """A right-continuous step function through (xs, F), 0 before xs[0]."""
    i = np.searchsorted(xs, x, side="right") - 1
    return np.where(i >= 0, F[np.clip(i, 0, None)], 0.0)


def cdf_line(line) -> tuple[np.ndarray, np.ndarray]:
    """The distinct values and CDF of a plotted step line (without its leading and trailing points)."""
    return np.asarray(line.get_xdata())[1:-1], np.asarray(line.get_ydata())[1:-1]


def expected_task_cost(res, name: str) -> float:
    key = Policy(name).key
    return res.task_cost if key is None else res.baselines[key].task_cost


@pytest.fixture(scope="module")
def dists() -> dict[str, Distributions]:
    return {n: task_distributions(load_instance(instance_path(n)), tasks=TASKS, seed=5) for n in LAW_CASES}


# ----------------------------------------------------------------------------- the law


@pytest.mark.parametrize("name", LAW_CASES)
def test_law_means_are_the_solvers_expected_parts(name: str) -> None:
    inst = load_instance(instance_path(name))
    problem, res = prepare(inst), solve(inst, rule="optimal")
    c = problem.costs
    for policy in POLICIES:
        key = Policy(policy).key
        if key is not None and res.baselines[key] is None:
            continue
        law = task_law(build_policy(problem, policy, res).actions, problem.channel, c)
        assert law.truncated_mass <= 1e-12
        assert math.isclose(law.prob.sum() + law.truncated_mass, 1.0, rel_tol=RTOL_SUM)
        cost = c.energy_weight * law.mean("energy_j") + c.time_weight * law.mean("latency_s")
        assert cost == pytest.approx(expected_task_cost(res, policy), rel=RTOL_SUM), policy
        if policy == "optimal":
            bd = res.breakdown
            assert law.mean("latency_s") == pytest.approx(bd.latency_s, rel=RTOL_SUM)
            assert law.mean("energy_j") == pytest.approx(bd.energy_j, rel=RTOL_SUM)
            assert float(law.prob @ law.waits) == pytest.approx(bd.mean_wait_slots, rel=RTOL_SUM, abs=1e-15)
            assert np.allclose(np.bincount(law.epoch, law.prob, res.placement + 1), bd.stop_prob, rtol=0, atol=1e-14)


def test_truncating_the_waits_drops_exactly_the_mass_of_longer_waits() -> None:
    inst = load_instance(instance_path("sim-wait-markov"))
    problem, res = prepare(inst), solve(inst, rule="optimal")
    actions = build_policy(problem, "osla", res).actions
    full = task_law(actions, problem.channel, problem.costs)
    assert full.max_waits > 64  # ~7.5 waits on average: the first W = 64 leaves more than 1e-12
    for W in (0, 3, 20):
        short = task_law(actions, problem.channel, problem.costs, tol=0.0, max_waits=W)
        assert short.max_waits == W and int(short.waits.max()) <= W
        tail = float(full.prob[full.waits > W].sum())
        assert short.truncated_mass == pytest.approx(tail, rel=1e-10)
        assert short.prob.sum() + short.truncated_mass == pytest.approx(1.0, rel=RTOL_SUM)
        assert short.exceed("latency_s", -1.0) == pytest.approx(1.0, rel=RTOL_SUM)


def test_bad_policy_shape_and_quantile_are_refused() -> None:
    inst = load_instance(instance_path("cnn_chain"))
    problem, res = prepare(inst), solve(inst)
    with pytest.raises(InstanceError, match="policy: shape"):
        task_law(np.zeros((3, problem.channel.n_states + 1), dtype=np.int8), problem.channel, problem.costs)
    law = task_law(res.policy.actions, problem.channel, problem.costs)
    with pytest.raises(InstanceError, match="quantile = 1.5"):
        law.quantile("latency_s", 1.5)
    with pytest.raises(InstanceError, match="quantity = 'power'"):
        law.mean("power")


# ----------------------------------------------------------------------------- distribution figure


@pytest.mark.parametrize("name", LAW_CASES)
def test_plotted_cdfs_have_the_solvers_means_and_the_simulation_inside_the_dkw_band(dists, name: str) -> None:
    d = dists[name]
    fig = distribution_figure(d)
    got = lines(fig)
    c = prepare(d.instance).costs
    eps = dkw_epsilon(TASKS)
    for po in d.policies:
        means = {}
        for q in ("latency_s", "energy_j"):
            xs, F = cdf_line(got[f"cdf:{q}:{po.policy}"])
            assert np.all(np.diff(xs) > 0) and np.all(np.diff(F) >= 0)
            means[q] = float(xs @ np.diff(F, prepend=0.0))
            # the simulated tasks' empirical CDF, read back, within the DKW band of the exact one
            ex, eF = cdf_line(got[f"ecdf:{q}:{po.policy}"])
            probe = np.concatenate([xs * (1 - 1e-9), xs * (1 + 1e-9)])
            dev = np.abs(step_at(ex, eF, probe) - step_at(xs, F, probe)).max()
            assert dev <= eps, (po.policy, q, dev, eps)
            # the p95 marker: the smallest value with F >= 0.95
            p95 = got[f"p95:{q}:{po.policy}"].get_xdata()[0]
            assert step_at(xs, F, np.array([p95]))[0] >= 0.95 - 1e-12
            assert step_at(xs, F, np.array([p95 * (1 - 1e-9)]))[0] < 0.95
            assert p95 in xs  # the marker sits on an exact atom
            # the simulated 95th percentile lies between the exact quantiles at 0.95 -+ eps
            sim95 = float(np.quantile(po.samples[q], 0.95, method="inverted_cdf"))
            lo = xs[np.searchsorted(F, 0.95 - eps - 1e-12)]
            hi = xs[min(np.searchsorted(F, 0.95 + eps - 1e-12), xs.shape[0] - 1)]
            assert lo * (1 - 1e-9) <= sim95 <= hi * (1 + 1e-9), (po.policy, q)
        cost = c.energy_weight * means["energy_j"] + c.time_weight * means["latency_s"]
        assert cost == pytest.approx(expected_task_cost(d.result, po.policy), rel=1e-10), po.policy
        if po.policy == "optimal":
            assert means["latency_s"] == pytest.approx(d.result.breakdown.latency_s, rel=1e-10)
            assert means["energy_j"] == pytest.approx(d.result.breakdown.energy_j, rel=1e-10)


def test_deadline_miss_probability_is_the_exact_tail_and_the_simulated_fraction(dists) -> None:
    d = dists["sim-wait-rayleigh"]
    deadline = float(np.median(d.of("optimal").samples["latency_s"]))
    fig = distribution_figure(d, deadline_s=deadline)
    got = lines(fig)
    eps = dkw_epsilon(TASKS)
    for po in d.policies:
        marker = got[f"deadline:{po.policy}"]
        p = marker.get_ydata()[0]
        tail = float(po.law.prob[po.law.latency_s > deadline].sum()) + po.law.truncated_mass
        if tail == 0:
            assert np.isnan(p)
            continue
        assert p == pytest.approx(tail, rel=RTOL_SUM)
        assert abs(float(np.mean(po.samples["latency_s"] > deadline)) - tail) <= eps
        assert f"{tail:.3g}" in [t.get_text() for t in fig.axes[2].get_legend().get_texts()][d.policies.index(po)]
        # the plotted miss curve at the deadline is the same tail
        xs, miss = np.asarray(got[f"miss:{po.policy}"].get_xdata()), np.asarray(got[f"miss:{po.policy}"].get_ydata())
        assert step_at(xs[1:], np.nan_to_num(miss[1:]), np.array([deadline]))[0] == pytest.approx(tail, rel=1e-12)


def test_distribution_figure_takes_a_result_and_axes_and_refuses_bad_input() -> None:
    from matplotlib.figure import Figure

    inst = load_instance(instance_path("cnn_chain"))
    res = solve(inst)
    fig = Figure()
    axes = fig.subplots(1, 2)
    assert distribution_figure(inst, tasks=0, result=res, rows=("latency_s", "miss"), ax=axes) is fig
    got = lines(fig)
    assert "ecdf:latency_s:optimal" not in got  # tasks = 0: exact only
    xs, F = cdf_line(got["cdf:latency_s:optimal"])
    assert float(xs @ np.diff(F, prepend=0.0)) == pytest.approx(res.breakdown.latency_s, rel=1e-12)
    with pytest.raises(InstanceError, match="ax=: 1 axes for 1 items of 3 rows"):
        distribution_figure(inst, tasks=0, ax=axes[0])
    with pytest.raises(InstanceError, match="--deadline = -1"):
        distribution_figure(inst, tasks=0, deadline_s=-1.0)
    with pytest.raises(InstanceError, match="rows = "):
        distribution_figure(inst, tasks=0, rows=("power",))
    with pytest.raises(InstanceError, match="SolveResult alone"):
        distribution_figure(res, tasks=0)


# ----------------------------------------------------------------------------- trade-off


def amortised_point(inst, res) -> tuple[float, float]:
    """Expected latency and energy per task with the download over K_tasks, from the instance's fields."""
    pl = inst.placement
    bits = float(np.sum(inst.profile.params[: res.placement + 1])) * inst.network.param_bits
    k = pl.tasks_per_period
    return (
        res.breakdown.latency_s + bits / pl.downlink_bps / k,
        res.breakdown.energy_j + bits * pl.rx_energy_per_bit / k,
    )


@pytest.mark.parametrize("name", ["cnn_chain", "sim-wait-rayleigh", "markov"])
def test_tradeoff_points_are_exact_resolves_and_each_optimum_beats_every_plotted_point(name: str) -> None:
    inst = load_instance(instance_path(name))
    tr = tradeoff_sweep(inst, points=9)
    fig = tradeoff_figure(tr)
    got = lines(fig)
    opt = got["tradeoff:optimal"]
    lat, en = np.asarray(opt.get_xdata()), np.asarray(opt.get_ydata())
    assert lat.shape == (tr.share.shape[0],) == (10,)  # 9 shares and the instance's own
    every = [
        (x, y)
        for gid, ln in got.items()
        if gid.startswith("tradeoff:")
        for x, y in zip(ln.get_xdata(), ln.get_ydata())
        if np.isfinite(x)
    ]
    for i in range(lat.shape[0]):
        moved = with_weights(inst, float(tr.energy_weight[i]), float(tr.time_weight[i]))
        res = solve(moved)
        t, e = amortised_point(moved, res)
        assert (lat[i], en[i]) == pytest.approx((t, e), rel=1e-10)
        # the point's weighted cost is Phi (the download cost D(M) too), and no plotted point does better
        cost = tr.energy_weight[i] * en[i] + tr.time_weight[i] * lat[i]
        assert cost == pytest.approx(res.objective, rel=1e-10)
        worst_gap = min(tr.energy_weight[i] * y + tr.time_weight[i] * x for x, y in every) - cost
        assert worst_gap >= -1e-10 * cost
    star = got["instance"]
    own = amortised_point(inst, solve(inst, rule="optimal"))
    assert (star.get_xdata()[0], star.get_ydata()[0]) == pytest.approx(own, rel=1e-12)
    j = int(np.flatnonzero(tr.share == tr.share0)[0])
    assert (lat[j], en[j]) == pytest.approx(own, rel=1e-10)
    assert (tr.energy_weight[j], tr.time_weight[j]) == pytest.approx(
        (inst.cost.energy_weight, inst.cost.time_weight), rel=1e-12
    )


def test_tradeoff_figure_draws_into_an_axes_with_a_result() -> None:
    from matplotlib.figure import Figure

    inst = load_instance(instance_path("cnn_chain"))
    res = solve(inst)
    fig = Figure()
    ax = fig.subplots()
    assert tradeoff_figure(inst, points=3, result=res, ax=ax) is fig
    assert len(lines(fig)["tradeoff:optimal"].get_xdata()) == 4
    with pytest.raises(InstanceError, match="--points = 1"):
        tradeoff_sweep(inst, points=1)


# ----------------------------------------------------------------------------- the command


@pytest.mark.parametrize("size", ["column", "page"])
def test_cli_writes_both_figures_at_print_size_with_truetype_fonts(tmp_path, capsys, size: str) -> None:
    import re

    from coopt.cli.main import main
    from coopt.report.figures import SIZES

    out = tmp_path / "figs"
    args = ["figures", str(instance_path("sim-wait-rayleigh")), str(instance_path("markov")), "--out", str(out)]
    opts = ["--distribution", "--tradeoff", "--deadline", "0.012", "--tasks", "300", "--points", "3", "--size", size]
    assert main([*args, *opts]) == 0
    written = sorted(p.split("/")[-1] for p in capsys.readouterr().out.split())
    assert written == sorted(f"{k}.{f}" for k in ("distribution", "tradeoff") for f in ("pdf", "png", "svg"))
    for kind in ("distribution", "tradeoff"):
        pdf = (out / f"{kind}.pdf").read_bytes()
        subtypes = font_subtypes(pdf)
        assert subtypes and subtypes <= {b"TrueType", b"Type0", b"CIDFontType2"}, subtypes
        box = re.search(rb"/MediaBox\s*\[\s*0 0 ([\d.]+) ([\d.]+)\s*\]", pdf)
        assert box is not None and float(box.group(1)) == pytest.approx(72 * SIZES[size], abs=0.5)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--deadline", "0.01"], "--deadline: applies to the --distribution figure"),
        (["--distribution", "--deadline", "0"], "a number of seconds > 0"),
    ],
)
def test_cli_refuses_a_deadline_without_its_figure(tmp_path, capsys, extra, message) -> None:
    from coopt.cli.main import main

    args = ["figures", str(instance_path("cnn_chain")), "--out", str(tmp_path / "f"), *extra]
    try:
        code = main(args)
    except SystemExit as exc:  # argparse's own range check
        code = exc.code
    assert code == 2
    assert message in capsys.readouterr().err


def test_readme_numbers_of_the_cnn_chain_distribution(dists) -> None:
    """README: p95 latency 1.33 ms (optimum), 3.18 ms (OSLA, edge-only), 0.83 ms (device-only);
    P(latency > 2 ms) = 0.0625 for OSLA and edge-only, 0 for the others."""
    d = dists["cnn_chain"]
    quoted = {"optimal": 1.33e-3, "osla": 3.18e-3, "edge-only": 3.18e-3, "device-only": 0.833e-3}
    for policy, p95 in quoted.items():
        assert float(f"{d.of(policy).p95('latency_s'):.3g}") == pytest.approx(p95, rel=1e-12)
        sim = float(np.quantile(d.of(policy).samples["latency_s"], 0.95, method="inverted_cdf"))
        assert sim == pytest.approx(d.of(policy).p95("latency_s"), rel=1e-9)
    for po in d.policies:
        assert po.miss(2e-3) == pytest.approx(0.0625 if po.policy in ("osla", "edge-only") else 0.0, abs=1e-12)


def test_tail_keeps_the_digits_of_a_small_miss_probability(dists) -> None:
    """P(latency > x) summed from the top: equal to the direct sum over the atoms above x, to
    1e-12 relative even where it is 1e-13 (where 1 - F would keep about three digits)."""
    law = dists["sim-wait-rayleigh"].of("optimal").law
    xs, tail = law.tail("latency_s")
    xs_f, F = law.cdf("latency_s")
    assert np.array_equal(xs, xs_f)
    picks = np.flatnonzero(tail > 0)[:: max(1, len(xs) // 40)]
    for i in picks:
        direct = float(law.prob[law.latency_s > xs[i]].sum()) + law.truncated_mass
        assert tail[i] == pytest.approx(direct, rel=1e-12, abs=1e-300)
    assert tail[picks].min() < 1e-12  # the test reaches the small tail
    assert np.allclose(tail + F, 1.0 + law.truncated_mass, rtol=0, atol=1e-14)


@pytest.mark.parametrize("name", ["sim-wait-rayleigh", "cnn_chain"])
def test_law_on_a_time_correlated_chain_has_the_solvers_costs(name: str) -> None:
    """Clarke fading at 30 Hz (a time-inhomogeneous chain, P_n per epoch and P_w per slot)."""
    from coopt.report.figures import with_doppler

    inst = with_doppler(load_instance(instance_path(name)), 30.0)
    problem, res = prepare(inst), solve(inst)
    assert problem.channel.epoch_transitions is not None
    c = problem.costs
    for policy in POLICIES:
        key = Policy(policy).key
        if key is not None and res.baselines[key] is None:
            continue
        law = task_law(build_policy(problem, policy, res).actions, problem.channel, c, tol=1e-18)
        assert law.truncated_mass <= 1e-18
        cost = c.energy_weight * law.mean("energy_j") + c.time_weight * law.mean("latency_s")
        assert cost == pytest.approx(expected_task_cost(res, policy), rel=1e-11), policy
