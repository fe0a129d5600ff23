"""Values on the continuous fading law (coopt.sim.continuous).

Checks at several strengths: the quadrature J(theta) against 30-digit mpmath, the
law's S/F against scipy.stats, Psi_n against a direct integral of min(Y_n(h), c),
optimality of the continuous recursion against perturbed thresholds, the quantised
value converging to it as K grows, and refusals where the value is infinite.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math

import mpmath as mp
import numpy as np
import pytest
from scipy import integrate, stats

from coopt import load_instance, prepare
from coopt.cli.main import main
from coopt.dp.stopping import backward_induction, osla_policy
from coopt.errors import InstanceError
from coopt.sim.continuous import (
    ThresholdPolicy,
    continuous_law,
    continuous_optimal,
    continuous_osla,
    continuous_summary,
    continuous_values,
    evaluate_thresholds,
    quadrature_for,
)
from tests.support.instances import instance_path

RTOL_QUAD = 1e-10  # quad at epsrel 1e-12 against 30-digit mpmath
LAWS = {
    "rayleigh": {"law": "rayleigh"},
    "nakagami-0.7": {"law": "nakagami", "m": 0.7},
    "nakagami-2.5": {"law": "nakagami", "m": 2.5},
    "rician-3": {"law": "rician", "k_factor": 3.0},
}


def chain(law: str, mode: str = "last", mean_gain: float = 2.0e-9, rule: str = "optimal"):
    """The golden 4-layer chain with the given continuous law and wait mode."""
    base = load_instance(instance_path("golden-rayleigh-osla"))
    ch = dataclasses.replace(base.channel, mean_gain=mean_gain, **LAWS[law])
    return dataclasses.replace(
        base,
        channel=ch,
        wait=dataclasses.replace(base.wait, mode=mode),
        placement=dataclasses.replace(base.placement, rule=rule),
    )


def mp_density(law: str, mean: float):
    spec = LAWS[law]
    mean = mp.mpf(mean)
    if spec["law"] == "rayleigh":
        return lambda h: mp.exp(-h / mean) / mean
    if spec["law"] == "nakagami":
        m = mp.mpf(spec["m"])
        return lambda h: m**m * h ** (m - 1) * mp.exp(-m * h / mean) / (mp.gamma(m) * mean**m)
    k = mp.mpf(spec["k_factor"])
    s2 = mean / (2 * (k + 1))  # h = s2 * X, X ~ noncentral chi-square(2, 2K)
    lam = 2 * k
    return lambda h: mp.exp(-(h / s2 + lam) / 2) * mp.besseli(0, mp.sqrt(lam * h / s2)) / (2 * s2)


@pytest.mark.slow
@pytest.mark.parametrize("law", list(LAWS))
@pytest.mark.parametrize("theta_over_mean", [1e-4, 0.05, 1.0, 6.0])
def test_J_against_mpmath(law: str, theta_over_mean: float) -> None:
    problem = prepare(chain(law))
    quad = quadrature_for(problem)
    mean = problem.instance.channel.mean_gain
    theta = theta_over_mean * mean
    mp.mp.dps = 30
    f = mp_density(law, mean)
    rho, bw = mp.mpf(problem.costs.rho), mp.mpf(problem.costs.bandwidth_hz)
    pts = sorted({mp.mpf(theta), 1 / rho, mp.mpf(mean), 3 * mp.mpf(mean), 10 * mp.mpf(mean)} - {0})
    pts = [p for p in pts if p >= theta] + [mp.inf]
    ref = mp.quad(lambda h: f(h) * mp.log(2) / (bw * mp.log1p(rho * h)), pts)
    assert quad.J(theta) == pytest.approx(float(ref), rel=RTOL_QUAD)


def test_J_at_zero_is_finite_only_for_nakagami_above_one() -> None:
    for law in LAWS:
        quad = quadrature_for(prepare(chain(law)))
        assert math.isinf(quad.J(0.0)) == quad.law.divergent
        assert quad.law.divergent == (law != "nakagami-2.5")
    quad = quadrature_for(prepare(chain("nakagami-2.5")))
    mp.mp.dps = 30
    mean = 2.0e-9
    f = mp_density("nakagami-2.5", mean)
    rho, bw = mp.mpf(quad.costs.rho), mp.mpf(quad.costs.bandwidth_hz)
    ref = mp.quad(lambda h: f(h) * mp.log(2) / (bw * mp.log1p(rho * h)), [0, 1 / rho, mean, 10 * mean, mp.inf])
    assert quad.J(0.0) == pytest.approx(float(ref), rel=RTOL_QUAD)


@pytest.mark.parametrize("law", list(LAWS))
def test_law_distribution_functions_against_scipy(law: str) -> None:
    spec = chain(law).channel
    cl = continuous_law(spec)
    mean = spec.mean_gain
    if spec.law == "rayleigh":
        ref = stats.expon(scale=mean)
    elif spec.law == "nakagami":
        ref = stats.gamma(spec.m, scale=mean / spec.m)
    else:
        ref = stats.ncx2(2, 2 * spec.k_factor, scale=mean / (2 * (spec.k_factor + 1)))
    for x in (1e-3, 0.3, 1.0, 4.0):
        assert cl.sf(x) == pytest.approx(ref.sf(x * mean), rel=1e-12)
        assert cl.cdf(x) == pytest.approx(ref.cdf(x * mean), rel=1e-12)
    assert cl.quantile(0.5) * mean == pytest.approx(ref.median(), rel=1e-10)
    h = cl.sample(np.random.default_rng(0), 200_000)
    assert h.mean() == pytest.approx(mean, rel=5 * h.std() / mean / math.sqrt(h.size))


@pytest.mark.parametrize("law", ["rayleigh", "nakagami-2.5", "rician-3"])
@pytest.mark.parametrize("n", [0, 2])
@pytest.mark.parametrize("c_factor", [0.05, 1.0, 20.0])
def test_psi_against_direct_integral(law: str, n: int, c_factor: float) -> None:
    """Psi_n(c) = E[min(Y_n(h), c)] integrated directly in h (a different route)."""
    problem = prepare(chain(law))
    quad = quadrature_for(problem)
    costs = problem.costs
    base = costs.A[n] + costs.R[n]
    # c between A_n + R_n and beyond Y_n at the mean gain, so that theta spans the law
    c = base + c_factor * costs.upload_coef[n] / float(costs.rate_bps(np.array([2e-9]))[0])
    theta = quad.threshold(n, c)
    assert 0.0 < theta < math.inf
    dist = {
        "rayleigh": stats.expon(scale=2e-9),
        "nakagami-2.5": stats.gamma(2.5, scale=2e-9 / 2.5),
        "rician-3": stats.ncx2(2, 6.0, scale=2e-9 / 8),
    }[law]

    def y(h: float) -> float:
        return base + costs.upload_coef[n] / float(costs.rate_bps(np.array([h]))[0])

    # above the threshold Y_n(h) <= c; check the threshold by the definition too
    assert y(theta * (1 + 1e-9)) <= c <= y(theta * (1 - 1e-9))
    top = dist.isf(1e-25)
    upper = integrate.quad(
        lambda h: y(h) * dist.pdf(h),
        theta,
        top,
        epsabs=0,
        epsrel=1e-12,
        limit=500,
        points=[p for p in (2e-9, 1 / costs.rho) if theta < p < top] or None,
    )[0]
    direct = c * dist.cdf(theta) + upper
    assert quad.psi(n, c) == pytest.approx(direct, rel=1e-9)


@pytest.mark.parametrize(
    ("law", "mode"),
    [
        ("rayleigh", "last"),
        ("rayleigh", "any"),
        ("nakagami-0.7", "last"),
        ("nakagami-2.5", "never"),
        ("rician-3", "any"),
    ],
)
def test_wait_fixed_point_and_optimality(law: str, mode: str) -> None:
    """The continuous optimum beats every perturbation of its thresholds (value evaluated
    independently by evaluate_thresholds), and its waiting values solve the fixed point."""
    problem = prepare(chain(law, mode))
    quad = quadrature_for(problem)
    N = problem.costs.n_layers
    for M in range(N + 1):
        try:
            sol = continuous_optimal(quad, M, mode)
        except InstanceError:
            assert mode == "never" and quad.law.divergent and M < N
            continue
        ev = evaluate_thresholds(quad, sol.policy, mode)
        assert ev.value == pytest.approx(sol.value, rel=1e-10)
        for n in range(M + 1):
            t = sol.thresholds[n]
            if not (0.0 < t < math.inf):
                continue
            for factor in (0.7, 0.97, 1.03, 1.4):
                th = sol.thresholds.copy()
                th[n] = t * factor
                other = evaluate_thresholds(quad, ThresholdPolicy(M, th, sol.policy.continuation), mode).value
                assert other >= sol.value * (1 - 1e-12), (M, n, factor)


@pytest.mark.parametrize(
    ("law", "mode", "M"),
    [
        ("rayleigh", "last", 1),
        ("rayleigh", "last", 3),
        ("rayleigh", "any", 2),
        ("nakagami-0.7", "last", 2),
        ("nakagami-2.5", "never", 3),
        ("rician-3", "last", 2),
    ],
)
def test_quantised_value_converges_to_continuous(law: str, mode: str, M: int) -> None:
    """|J_K(M) - J(M)| decreases as K = 8, 32, 128, 512 and is small at 512."""
    inst = chain(law, mode)
    exact = continuous_optimal(quadrature_for(prepare(inst)), M, mode).value
    errors = []
    for k in (8, 32, 128, 512):
        p = prepare(inst, states=k)
        errors.append(abs(backward_induction(p.Y, p.channel, M, mode, p.costs).value / exact - 1.0))
    assert all(a > b for a, b in itertools.pairwise(errors)), errors
    assert errors[-1] < 1e-4, errors


def test_osla_converges_on_a_law_where_it_is_finite() -> None:
    inst = chain("nakagami-2.5", "never", rule="osla")
    M = 3
    exact = continuous_osla(quadrature_for(prepare(inst)), M, "never")
    p = prepare(inst, states=4096)
    quantised = osla_policy(p.Y, p.channel, M, "never", p.costs)
    assert quantised.value == pytest.approx(exact.value, rel=1e-3)
    # its thresholds converge too
    assert quantised.thresholds[:M] == pytest.approx(exact.thresholds[:M], rel=3e-3)
    opt = continuous_optimal(quadrature_for(prepare(inst)), M, "never")
    assert opt.value <= exact.value * (1 + 1e-12)


def test_refusals_name_the_problem() -> None:
    never = quadrature_for(prepare(chain("rayleigh", "never")))
    with pytest.raises(InstanceError, match='rayleigh, wait.mode = "never": infinite expected cost.*epoch 2 < N = 4'):
        continuous_optimal(never, 2, "never")
    assert math.isfinite(continuous_optimal(never, 4, "never").value)  # M = N never uploads by force
    last = quadrature_for(prepare(chain("rayleigh", "last")))
    assert math.isfinite(continuous_optimal(last, 2, "last").value)
    with pytest.raises(InstanceError, match="OSLA.*waiting cannot help"):
        continuous_osla(last, 2, "last")
    with pytest.raises(InstanceError, match='channel.law = "finite": has no continuous law'):
        quadrature_for(prepare(load_instance(instance_path("golden-finite-last"))))


def test_values_by_placement_mark_infinite_ones() -> None:
    vals = continuous_values(prepare(chain("rayleigh", "never")), "optimal")
    assert [m for m, v in vals.items() if v is None] == [0, 1, 2, 3]
    assert vals[4] is not None


def test_summary_beside_the_quantised_result() -> None:
    from coopt import solve

    inst = chain("rayleigh", "last")
    res = solve(inst)
    summary = continuous_summary(prepare(inst), res)
    exact = continuous_optimal(quadrature_for(prepare(inst)), res.placement, "last").value
    download = prepare(inst).costs.download[res.placement] / inst.placement.tasks_per_period
    assert summary["placement"] == res.placement
    assert summary["objective"] == pytest.approx(exact + download, rel=1e-14)
    assert summary["quantisation_error"] == pytest.approx(res.objective - summary["objective"], rel=1e-14)


def test_cli_solve_continuous_json(capsys: pytest.CaptureFixture[str]) -> None:
    path = instance_path("cnn_chain")
    assert main(["solve", str(path), "--json", "--continuous"]) == 0
    out = json.loads(capsys.readouterr().out)
    from coopt import solve

    inst = load_instance(path)
    ref = continuous_summary(prepare(inst), solve(inst))
    assert out["continuous"]["objective"] == ref["objective"]
    assert out["continuous"]["placement"] == out["placement"]
    assert out["continuous"]["quantised_objective"] == out["objective"]
    assert main(["solve", str(path), "--continuous"]) == 0
    assert "continuous rayleigh law" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("name", "message"),
    [("golden-rayleigh-osla", "infinite expected cost"), ("golden-markov-any", "has no continuous law")],
)
def test_cli_solve_continuous_refusal(name: str, message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["solve", str(instance_path(name)), "--continuous"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1 and message in captured.err
