"""The continuous fading processes behind correlated channels (docs/model.md 10.4, coopt.sim.process)."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
from scipy import special

from coopt import prepare
from coopt.dp.stopping import COMPUTE, STOP, evaluate_policy
from coopt.sim.process import ZX_SINUSOIDS, GaussMarkov, ProcessSampler, ZhengXiaoClarke
from coopt.sim.simulate import run_table, simulate
from tests.support import tiny


def _ensemble_autocorrelation(proc, lags, size):
    ids = np.arange(size)
    g0 = proc.amplitude(ids)
    out = []
    at = 0.0
    for lag in lags:
        proc.advance(ids, lag - at, None)
        at = lag
        out.append(g0 * np.conj(proc.amplitude(ids)))
    return out


def test_zheng_xiao_autocorrelation_is_j0():
    """E[g(t) g*(t + tau)] = mean J0(2 pi f_D tau) over independent realisations."""
    size, f_d, mean = 40_000, 50.0, 3.0
    rng = np.random.default_rng(1)
    proc = ZhengXiaoClarke(rng, size, f_d, mean)
    lags = [0.0, 0.002, 0.005, 0.0077, 0.012, 0.03]
    for lag, prod in zip(lags, _ensemble_autocorrelation(proc, lags, size)):
        est = prod.real.mean() / mean
        se = prod.real.std() / mean / math.sqrt(size)
        assert abs(est - special.j0(2 * math.pi * f_d * lag)) <= 5 * se, lag
        assert abs(prod.imag.mean() / mean) <= 5 * prod.imag.std() / mean / math.sqrt(size)
    assert ZX_SINUSOIDS == proc.cos_a.shape[1]


def test_gauss_markov_recursion_autocorrelation_is_exponential():
    size, t_c, mean = 40_000, 0.01, 2.0
    spec = tiny.instance(channel="gaussmarkov3").channel
    spec = replace(spec, coherence_s=t_c, mean_gain=mean)
    rng = np.random.default_rng(2)
    proc = GaussMarkov(rng, size, spec, mean)
    ids = np.arange(size)
    g0 = proc.amplitude(ids)
    assert np.mean(np.abs(g0) ** 2) == pytest.approx(mean, rel=0.03)
    for _ in range(3):  # three steps of 4 ms: correlation exp(-12/10)
        proc.advance(ids, 0.004, rng)
    prod = (g0 * np.conj(proc.amplitude(ids))).real / mean
    assert abs(prod.mean() - math.exp(-0.012 / t_c)) <= 5 * prod.std() / math.sqrt(size)


def test_one_step_policy_on_the_gauss_markov_process_matches_the_chain():
    """A policy that moves at most once sees only the bivariate law, which the chain has
    exactly: compute in the two low states at epoch 0, stop at epoch 1."""
    prob = prepare(tiny.instance(channel="gaussmarkov3", mode="never"))
    actions = np.array([[COMPUTE, COMPUTE, STOP], [STOP, STOP, STOP]], dtype=np.int8)
    exact = float(prob.channel.initial @ evaluate_policy(actions, prob.Y, prob.channel, 0.0)[0])
    rng = np.random.default_rng(4)
    tasks = 200_000
    blocks = run_table(actions, prob.channel, tasks, rng, sampler=ProcessSampler(prob))
    costs = np.concatenate([prob.costs.stop_cost(g)[n] for n, g, _ in blocks])
    assert costs.shape == (tasks,)
    assert abs(costs.mean() - exact) <= 5 * costs.std() / math.sqrt(tasks)
    # the chain's step is exactly the process's: state frequencies at epoch 1 from state 0
    assert sum(g.shape[0] for n, g, _ in blocks if n == 1) == pytest.approx(tasks * 2 / 3, rel=0.01)


@pytest.mark.parametrize("channel", ["clarke3", "gaussmarkov3"])
def test_simulate_continuous_reports_the_chain_value_beside_the_process(channel):
    inst = tiny.instance(channel=channel, mode="any", wait__slot_s=0.001)
    sim = simulate(inst, tasks=20_000, seed=3, continuous=True)
    chain = simulate(inst, tasks=2, seed=3)
    assert sim.channel == "process" and sim.exact == chain.exact
    assert sim.ci_low < sim.mean < sim.ci_high
    assert ("Zheng-Xiao" in sim.to_dict()["process"]) == (channel == "clarke3")


# --------------------------------------------------------------------------- Doppler figure


def test_doppler_figure_plots_solver_values(tmp_path):
    from coopt import solve
    from coopt.cli.main import main
    from coopt.report.figures import doppler_figure, with_doppler

    inst = tiny.instance(channel="rayleigh3", mode="any", wait__slot_s=0.001)
    fig = doppler_figure([inst], points=2, tasks=2000, seed=1)
    top = fig.axes[0]
    lines = {line.get_label(): line for line in top.lines}
    xs = lines["optimal (correlated chain)"].get_xdata()
    np.testing.assert_allclose(xs, [1.0, 1000.0])
    opt = lines["optimal (correlated chain)"].get_ydata()
    for f, y in zip(xs, opt):
        assert y == solve(with_doppler(inst, float(f))).objective
    iid_pol = lines["i.i.d. model's policy on the chain"].get_ydata()
    assert np.all(iid_pol >= opt * (1 - 1e-12))  # no policy beats the chain's optimum on the chain
    iid = solve(with_doppler(inst, None)).objective
    assert lines[r"i.i.d. model's own $\Phi^*$"].get_ydata()[0] == iid
    # at 1 kHz the 4 ms and 2 ms layers decorrelate the channel almost fully: close to i.i.d.
    assert opt[-1] == pytest.approx(iid, rel=0.02)
    path = tmp_path / "i.toml"
    from tests.support.instances import make_doc, to_toml

    path.write_text(to_toml(make_doc(channel__law="nakagami", channel__m=2.0)))
    assert main(["figures", str(path), "--out", str(tmp_path), "--doppler", "--points", "2"]) == 2
