"""Per-upload overhead (docs/model.md 10.3) and time-correlated Rayleigh fading (10.4).

The transition matrices are checked against Monte Carlo pairs of correlated complex
Gaussians, their limits, and their own structure (row sums, symmetry); the solvers on
the time-inhomogeneous chain are checked by brute force in test_stopping.py and by the
MIP in test_mip.py (both parametrised over tiny.CHANNELS, which holds the correlated
channels), and here against simulation.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import special

from coopt import parse_instance, prepare, solve
from coopt.dp.placement import solve_splitting
from coopt.errors import InstanceError
from coopt.model import fading
from coopt.model.costs import wait_allowed
from coopt.sim.simulate import simulate
from tests.support import tiny
from tests.support.instances import make_doc

ATOL_MATRIX = 1e-12  # docs/model.md 10.4: the quadrature is accurate to 1e-12


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"uplink__overhead_s": -1.0}, "uplink.overhead_s = -1.0: must be >= 0"),
        ({"uplink__overhead_j": float("nan")}, "uplink.overhead_j = nan: must be a finite number"),
        ({"channel__doppler_hz": 0.0}, "channel.doppler_hz = 0.0: must be > 0"),
        ({"channel__coherence_s": float("inf")}, "channel.coherence_s = inf: must be a finite number"),
        ({"channel__doppler_hz": 10.0, "channel__coherence_s": 0.01}, "not both"),
        (
            {"channel__law": "nakagami", "channel__m": 2.0, "channel__doppler_hz": 10.0},
            'channel.doppler_hz = 10.0: time-correlated fading needs law = "rayleigh"',
        ),
    ],
)
def test_bad_keys_are_one_line(changes, message):
    with pytest.raises(InstanceError, match=message.replace("(", r"\(").replace(")", r"\)")) as err:
        parse_instance(make_doc(**changes))
    assert "\n" not in str(err.value)


# --------------------------------------------------------------------------- overhead

OVERHEAD = {"uplink__overhead_s": 0.003, "uplink__overhead_j": 0.002}


def test_overhead_adds_its_cost_to_every_upload_and_not_to_finishing():
    plain = prepare(tiny.instance(mode="any"))
    over = prepare(tiny.instance(mode="any", **OVERHEAD))
    w_e, w_t = over.instance.cost.energy_weight, over.instance.cost.time_weight
    o = w_t * 0.003 + w_e * 0.002
    n = over.costs.n_layers
    np.testing.assert_allclose(over.Y[:n] - plain.Y[:n], o, rtol=0, atol=1e-15)
    assert np.array_equal(over.Y[n], plain.Y[n])


@pytest.mark.parametrize("rule", ["optimal", "osla"])
@pytest.mark.parametrize("mode", ["never", "last", "any"])
def test_thresholds_with_overhead_solve_stop_cost_equals_continuation(rule, mode):
    """theta_n is where A_n + R_n + O_n + T_n(theta) equals G_n, computed by hand here."""
    inst = tiny.instance(mode=mode, **OVERHEAD)
    prob = prepare(inst)
    M = inst.n_layers
    pol = solve_splitting(prob.Y, prob.channel, M, mode, prob.costs, rule)
    c, th = prob.costs, pol.thresholds
    assert th is not None
    o = inst.cost.time_weight * 0.003 + inst.cost.energy_weight * 0.002
    p = prob.channel.probs
    allowed = wait_allowed(mode, M, inst.n_layers)
    checked = 0
    for n in range(M + 1):
        if not (0 < th[n] < math.inf):
            continue
        if rule == "osla":
            G = min(p @ prob.Y[n + 1] if n < M else math.inf, c.wait_cost + p @ prob.Y[n] if allowed[n] else math.inf)
        else:
            G = pol.values[n][pol.actions[n] != 0][0]  # the value of every state that does not stop
        rate = inst.uplink.bandwidth_hz * math.log2(1 + inst.device.tx_power_w / inst.uplink.noise_w * th[n])
        y = (
            c.A[n]
            + c.R[n]
            + o
            + (inst.cost.energy_weight * inst.device.tx_power_w + inst.cost.time_weight) * (c.feature_bits[n] / rate)
        )
        assert y == pytest.approx(G, rel=1e-9)
        assert np.array_equal(pol.actions[n] == 0, prob.channel.gains >= th[n])
        checked += 1
    assert checked


def test_overhead_breakdown_matches_simulation():
    """Expected latency and energy include overhead_s and overhead_j once per upload."""
    inst = tiny.instance(mode="last", **OVERHEAD)
    res = solve(inst)
    sim = simulate(inst, tasks=200_000, seed=7)
    bd = res.breakdown
    for key, exact in (("latency_s", bd.latency_s), ("energy_j", bd.energy_j)):
        got, se = sim.parts[key], sim.part_errors[key]
        assert abs(got - exact) <= 5 * se + 1e-12 * abs(exact), key
    p_upload = sum(bd.stop_prob[: inst.n_layers]) if res.placement == inst.n_layers else 1.0
    plain = solve(tiny.instance(mode="last"))
    if plain.placement == res.placement and np.array_equal(plain.policy.actions, res.policy.actions):
        assert bd.latency_s - plain.breakdown.latency_s == pytest.approx(0.003 * p_upload, rel=1e-9)


def test_overhead_changes_the_optimum_consistently():
    """A large overhead makes uploading dearer: the optimum never gets cheaper, and the
    device-only baseline (no upload) is unchanged."""
    plain = solve(tiny.instance(mode="last"))
    over = solve(tiny.instance(mode="last", uplink__overhead_s=0.5))
    assert over.objective >= plain.objective
    assert over.baselines["device_only"].objective == plain.baselines["device_only"].objective


# --------------------------------------------------------------------------- matrices


@pytest.mark.parametrize("k", [3, 8])
@pytest.mark.parametrize("delta", [0.9, 0.02, 1.5e-4, 5e-5, 1e-9])
def test_rows_sum_to_one_and_matrix_is_symmetric(k, delta):
    P = fading.transition_matrix(k, delta)
    assert P.min() >= 0.0
    np.testing.assert_allclose(P.sum(axis=1), 1.0, rtol=0, atol=ATOL_MATRIX)
    np.testing.assert_allclose(P, P.T, rtol=0, atol=ATOL_MATRIX)
    u = np.full(k, 1.0 / k)
    np.testing.assert_allclose(u @ P, u, rtol=0, atol=ATOL_MATRIX)


@pytest.mark.parametrize("k", [4])
def test_limits_iid_and_identity(k):
    np.testing.assert_array_equal(fading.transition_matrix(k, 1.0), np.full((k, k), 1.0 / k))
    np.testing.assert_array_equal(fading.transition_matrix(k, 0.0), np.eye(k))
    np.testing.assert_allclose(fading.transition_matrix(k, 1 - 1e-9), 1.0 / k, rtol=0, atol=1e-8)
    near = fading.transition_matrix(k, 1e-16)
    np.testing.assert_allclose(near, np.eye(k), rtol=0, atol=1e-6)
    assert np.all(np.diag(near) < 1.0)  # but not the identity: the off-diagonal mass is ~sqrt(delta)


def test_the_two_survival_forms_agree_at_the_switch():
    edges = fading.interior_edges(16)
    d = fading.DELTA_SWITCH
    for x in (0.001, 0.05, 0.5, 2.0, 8.0):
        np.testing.assert_allclose(
            fading._survival_ncx2(edges, x, d), fading._survival_mixture(edges, x, d), rtol=0, atol=1e-13
        )


@pytest.mark.parametrize("delta", [0.6, 0.05, 2e-3])
def test_matrix_matches_monte_carlo_pairs_of_correlated_gaussians(delta):
    """h = |g|^2, h' = |r g + sqrt(1 - r^2) w|^2 with g, w independent CN(0, 1)."""
    k, pairs = 6, 400_000
    rng = np.random.default_rng(11)
    r = math.sqrt(1.0 - delta)
    g = (rng.standard_normal(pairs) + 1j * rng.standard_normal(pairs)) / math.sqrt(2)
    w = (rng.standard_normal(pairs) + 1j * rng.standard_normal(pairs)) / math.sqrt(2)
    h0, h1 = np.abs(g) ** 2, np.abs(r * g + math.sqrt(1 - r * r) * w) ** 2
    edges = fading.interior_edges(k)
    counts = np.zeros((k, k))
    np.add.at(counts, (np.searchsorted(edges, h0), np.searchsorted(edges, h1)), 1.0)
    freq = counts / counts.sum(axis=1, keepdims=True)
    P = fading.transition_matrix(k, delta)
    se = np.sqrt(P * (1 - P) / counts.sum(axis=1, keepdims=True))
    assert np.all(np.abs(freq - P) <= 5 * se + 1e-9)


def test_decorrelation_models():
    """delta = 1 - r^2 with r = J0(2 pi f_D dt) (Clarke) or exp(-dt/T_c) (Gauss-Markov)."""
    inst = tiny.instance(channel="clarke3")
    for lag in (1e-9, 1e-4, 3e-3):
        r = special.j0(2 * math.pi * 200.0 * lag)
        assert fading.decorrelation(inst.channel, lag) == pytest.approx(1 - r * r, rel=1e-6, abs=1e-15)
    gm = tiny.instance(channel="gaussmarkov3").channel
    assert fading.decorrelation(gm, 1e-3) == pytest.approx(1 - math.exp(-2e-3 / 0.005), rel=1e-14)
    # short lags: the series keeps delta ~ (pi f_D dt)^2 * 2 accurate where 1 - J0^2 cancels
    z = 2 * math.pi * 200.0 * 1e-9
    assert fading.decorrelation(inst.channel, 1e-9) == pytest.approx(z * z / 2, rel=1e-9)


def test_chain_is_built_from_layer_times_and_slot():
    prob = prepare(tiny.instance(channel="gaussmarkov3", mode="any"))
    ch, spec = prob.channel, prob.instance.channel
    assert ch.is_markov and ch.transition is None
    times = [0.004, 0.0, 0.002]  # conv, pool (no MACs), fc1 at 5e8 MAC/s
    for n, t in enumerate(times):
        np.testing.assert_array_equal(ch.step(n), fading.lag_transition(spec, 3, t))
    np.testing.assert_array_equal(ch.step(1), np.eye(3))
    np.testing.assert_array_equal(ch.wait_step(), fading.lag_transition(spec, 3, 0.01))
    np.testing.assert_array_equal(ch.initial, np.full(3, 1 / 3))
    np.testing.assert_allclose(ch.distributions(3)[3], np.full(3, 1 / 3), rtol=0, atol=1e-12)


def test_iid_rayleigh_is_unchanged():
    a = prepare(tiny.instance(channel="rayleigh3"))
    assert not a.channel.is_markov and a.channel.epoch_transitions is None


@pytest.mark.parametrize("channel", ["clarke3", "gaussmarkov3"])
@pytest.mark.parametrize("policy", ["optimal", "static", "osla"])
def test_simulation_on_the_correlated_chain_agrees_with_exact(channel, policy):
    inst = tiny.instance(channel=channel, mode="any", wait__slot_s=0.001)
    sim = simulate(inst, tasks=100_000, seed=3, policy=policy)
    assert abs(sim.mean - sim.exact) <= 5 * sim.std_error + 1e-12 * abs(sim.exact)


# --------------------------------------------------------------------------- derivation


def test_derivation_formulas_agree_with_the_numbers():
    """The derivation's density integrates to its Marcum-Q survival function, and its P_ij
    integral (with Q_1(a, b) = ncx2.sf(b^2, 2, a^2)) reproduces transition_matrix."""
    import sympy as sp
    from scipy import integrate, stats

    from coopt.symbolic import derive as S

    funcs = {"I_0": special.i0, "Q_1": lambda a, b: stats.ncx2.sf(b * b, 2, a * a), "exp": math.exp}
    lam, hm, x0 = 0.6, 2.0, 1.3
    steps = {st.lhs: st.rhs for st in S.fading_derivation().steps if st.rhs is not None}
    dens = sp.lambdify(S.y_g, steps[r"f(y \mid x)"].subs({S.lam: lam, S.h_mean: hm, S.x_g: x0}), [funcs, "math"])
    surv = sp.lambdify(
        S.y_g, steps[r"\Pr(h' > y \mid h = x)"].subs({S.lam: lam, S.h_mean: hm, S.x_g: x0}), [funcs, "math"]
    )
    for y0 in (0.2, 1.0, 3.0):
        assert integrate.quad(dens, y0, np.inf, epsabs=1e-13)[0] == pytest.approx(surv(y0), abs=1e-10)
    k = 3
    edges = [0.0, *(-hm * np.log1p(-np.arange(1, k) / k)), np.inf]
    integrand = steps[r"P_{ij}(\Delta_{t})"] / S.K
    P = fading.transition_matrix(k, 1 - lam)
    for i in range(1, k + 1):
        for j in range(1, k + 1):
            sub = {S.lam: lam, S.h_mean: hm, S.K: k}
            inner = integrand.subs(sub).function.subs(S.j, j).replace(S.Surv_f, S.fading_survival).subs(sub)
            inner = inner.subs({S.e_edge[j - 1]: edges[j - 1], S.e_edge[j]: edges[j]})
            f = sp.lambdify(S.x_g, inner, [funcs, "math"])
            value = k * integrate.quad(f, edges[i - 1], edges[i], epsabs=1e-13)[0]
            assert value == pytest.approx(P[i - 1, j - 1], abs=1e-9)
