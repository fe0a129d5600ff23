"""The correlated-fading transition matrices at every correlation (issue 22 items 1 and 7).

``P(delta)`` is checked over the whole range ``delta = 1 - rho`` in (0, 1], down to
``1 - rho = 1e-16`` and ``rho = 1e-16``, against

* an independent closed form: Kibble's bivariate exponential law has the Laguerre
  expansion :math:`f(x, y) = e^{-x-y}\\sum_n \\rho^n L_n(x) L_n(y)` (Hille-Hardy), so
  :math:`P_{ij} = K \\sum_n \\rho^n a_{ni} a_{nj}` with
  :math:`a_{ni} = \\int_{e_i}^{e_{i+1}} e^{-x} L_n(x)\\,dx`, and
  :math:`\\int_x^\\infty e^{-t} L_n = e^{-x}(L_n(x) - L_{n-1}(x))`; here by SciPy's
  ``eval_laguerre``, wherever the series converges quickly (``rho <= 0.95``);
* Monte Carlo pairs of correlated complex Gaussians (any ``rho``);
* its own structure: entries in [0, 1], rows summing to 1, symmetry (the ``K`` bins are
  equiprobable and the joint law of two gains is exchangeable, so ``P = P^T``).
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import special

from coopt import parse_instance, prepare, solve
from coopt.model import fading
from tests.support.instances import make_doc, to_toml

ATOL = 1e-12  # docs/model.md 10.4: every entry to 1e-12


def laguerre_matrix(k: int, delta: float) -> np.ndarray:
    """P by the Laguerre (Hille-Hardy) series, terms by scipy.special.eval_laguerre."""
    rho = 1.0 - delta
    edges = np.concatenate([[0.0], fading.interior_edges(k)])
    terms = 1 if rho <= 0.0 else math.ceil(math.log(1e-18 * delta / 4.0) / math.log(rho))
    rows = []
    for n in range(terms + 1):
        lag = special.eval_laguerre(n, edges) - (special.eval_laguerre(n - 1, edges) if n else 0.0)
        tail = np.concatenate([np.exp(-edges) * lag, [0.0]])  # int_{e}^inf e^-t L_n; e_K = inf
        rows.append(tail[:-1] - tail[1:])
    a = np.array(rows)
    return k * (a.T * rho ** np.arange(terms + 1)) @ a


def monte_carlo(k: int, delta: float, pairs: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Transition counts of pairs (h, h') = (|g|^2, |sqrt(rho) g + sqrt(delta) w|^2)."""
    rng = np.random.default_rng(seed)
    g = (rng.standard_normal(pairs) + 1j * rng.standard_normal(pairs)) / math.sqrt(2.0)
    w = (rng.standard_normal(pairs) + 1j * rng.standard_normal(pairs)) / math.sqrt(2.0)
    h0 = np.abs(g) ** 2
    h1 = np.abs(math.sqrt(1.0 - delta) * g + math.sqrt(delta) * w) ** 2
    edges = fading.interior_edges(k)
    counts = np.zeros((k, k))
    np.add.at(counts, (np.searchsorted(edges, h0), np.searchsorted(edges, h1)), 1.0)
    return counts, counts.sum(axis=1, keepdims=True)


def check_structure(P: np.ndarray) -> None:
    assert np.all(np.isfinite(P))
    assert P.min() >= 0.0 and P.max() <= 1.0
    np.testing.assert_allclose(P.sum(axis=1), 1.0, rtol=0, atol=ATOL)
    np.testing.assert_allclose(P, P.T, rtol=0, atol=ATOL)


def check_monte_carlo(P: np.ndarray, delta: float, seed: int, pairs: int = 40_000) -> None:
    """Every entry within 6 standard errors (at least that of one count) of the frequency."""
    k = P.shape[0]
    counts, n_row = monte_carlo(k, delta, pairs, seed)
    freq = counts / np.maximum(n_row, 1.0)
    se = np.sqrt(np.maximum(P * (1.0 - P), 1.0 / np.maximum(n_row, 1.0)) / np.maximum(n_row, 1.0))
    assert np.all(np.abs(freq - P) <= 6.0 * se), np.max(np.abs(freq - P) / se)


# --------------------------------------------------------------------------- the class


def deltas() -> st.SearchStrategy[float]:
    """delta log-uniform in [1e-16, 1], or rho log-uniform in [1e-16, 1] (delta = 1 - rho)."""
    exponent = st.floats(min_value=-16.0, max_value=0.0)
    small_delta = exponent.map(lambda e: 10.0**e)
    small_rho = exponent.map(lambda e: 1.0 - 10.0**e)
    return st.one_of(small_delta, small_rho, st.floats(min_value=0.0, max_value=1.0))


@settings(max_examples=40, deadline=None)
@given(k=st.integers(min_value=1, max_value=24), delta=deltas(), seed=st.integers(0, 2**32 - 1))
def test_every_correlation_gives_a_symmetric_stochastic_matrix(k, delta, seed):
    P = fading.transition_matrix(k, delta)
    assert P.shape == (k, k)
    check_structure(P)
    if 1.0 - delta <= 0.95:
        np.testing.assert_allclose(P, laguerre_matrix(k, delta), rtol=0, atol=ATOL)
    check_monte_carlo(P, delta, seed)


@settings(max_examples=15, deadline=None)
@given(k=st.integers(min_value=2, max_value=12), delta=deltas())
def test_the_adaptive_reference_never_fails(k, delta):
    """The reference quadrature (kept as the oracle) at every correlation too."""
    P = fading._transition_adaptive(k, delta)
    check_structure(P)
    if 1.0 - delta <= 0.95:
        np.testing.assert_allclose(P, laguerre_matrix(k, delta), rtol=0, atol=ATOL)


# --------------------------------------------------------------------------- the reported cases


# issue 22 item 7: a probe at 200 random delta in (0.05, 0.999) crashed at these three
# (u = 1 reached by a Gauss-Kronrod node of an interval next to the end of the last bin)
ITEM7 = [(16, 0.8691010737756626), (32, 0.824245022861334), (32, 0.8706746023353347), (16, 0.869), (32, 0.818)]


@pytest.mark.parametrize(("k", "delta"), ITEM7)
def test_item7_deltas_give_the_closed_form(k, delta):
    for P in (fading._transition_adaptive(k, delta), fading.transition_matrix(k, delta)):
        check_structure(P)
        np.testing.assert_allclose(P, laguerre_matrix(k, delta), rtol=0, atol=ATOL)


def test_item7_random_probe_of_delta():
    """The probe of item 7 (a seeded sample of its range), on both implementations."""
    rng = np.random.default_rng(22)
    for _ in range(60):
        k, delta = int(rng.choice([16, 32])), float(rng.uniform(0.05, 0.999))
        ref = laguerre_matrix(k, delta)
        np.testing.assert_allclose(fading._transition_adaptive(k, delta), ref, rtol=0, atol=ATOL)
        np.testing.assert_allclose(fading.transition_matrix(k, delta), ref, rtol=0, atol=ATOL)


def test_item7_gauss_markov_one_layer_wait_never(tmp_path):
    """A Gauss-Markov channel, one 1 ms layer, K = 16, wait never, 1 - rho = 0.869."""
    coherence = -2e-3 / math.log1p(-0.8691010737756626)  # delta = 1 - exp(-2 t / T_c) = 0.869... at 1 ms (crashed)
    profile = tmp_path / "one_layer.csv"
    profile.write_text("name,macs,out_elems,params\ninput,0,4096,0\nfc,500000,10,5000\n")  # 1 ms at 5e8 MAC/s
    doc = make_doc(
        network__profile=str(profile),
        channel__states=16,
        channel__coherence_s=coherence,
        wait__mode="never",
        wait__slot_s=None,
    )
    inst = parse_instance(doc)
    prob = prepare(inst)
    assert fading.decorrelation(inst.channel, 1e-3) == pytest.approx(0.8691010737756626, rel=1e-13)
    np.testing.assert_allclose(prob.channel.step(0), laguerre_matrix(16, 0.8691010737756626), rtol=0, atol=ATOL)
    res = solve(inst)
    assert math.isfinite(res.objective)


def test_limits_are_exact_where_delta_reaches_an_end():
    """delta = 0 or below DELTA_IDENTITY: the identity; delta >= 1: the i.i.d. law; and just
    inside, the matrix is within its analytic distance of them."""
    for k in (1, 2, 7):
        np.testing.assert_array_equal(fading.transition_matrix(k, 0.0), np.eye(k))
        np.testing.assert_array_equal(fading.transition_matrix(k, 5e-324), np.eye(k))
        np.testing.assert_array_equal(fading.transition_matrix(k, fading.DELTA_IDENTITY), np.eye(k))
        np.testing.assert_array_equal(fading.transition_matrix(k, 1.0), np.full((k, k), 1.0 / k))
        # rho = 1e-16: P - 1/K = K rho a_1 a_1^T + ..., |.| <= 4 rho / (1 - rho)
        np.testing.assert_allclose(fading.transition_matrix(k, 1.0 - 1e-16), 1.0 / k, rtol=0, atol=1e-15)
        for delta in (2 * fading.DELTA_IDENTITY, 1e-40, 1e-20):
            P = fading.transition_matrix(k, delta)
            check_structure(P)
            off = 1.0 - np.diag(P)
            assert np.all(off <= 6 * k * (4 * delta) ** (1 / 3) + 1e-15)  # the bound of fading._limit
    # not the identity just inside: the off-diagonal mass is ~ sqrt(delta), far above rounding
    near = fading.transition_matrix(8, 1e-16)
    assert np.all(1.0 - np.diag(near) > 1e-9)


def test_breakpoints_stay_strictly_inside_the_bin():
    """Near u = 1 the geometric breakpoints of the last bin round onto its end: dropped."""
    for k in (2, 16, 10**6):
        edges = fading.interior_edges(k)
        lo_x = float(edges[-1])
        for delta in (0.9, 1e-3, 1e-12):
            pts = fading._breakpoints(lo_x, math.inf, delta) or []
            assert all((k - 1) / k < u < 1.0 for u in pts)


# --------------------------------------------------------------------------- item 1, end to end

# A strided CNN: at 5e8 MAC/s its layers take 4.7 ms down to 3 us, so at Clarke's
# 300 Hz the power correlation over one layer ranges from about 0.004 to above 0.9995.
STRIDED_CNN = """name,macs,out_elems,params
input,0,12288,0
conv1_s2,2350000,16384,448
conv2_s2,1173512,8192,4640
conv3_s2,600000,4096,18496
conv4_s2,150000,2048,36928
pool,0,512,0
fc1,60000,128,65664
fc2,12000,64,8256
fc3,1500,10,650
"""


def strided_doc(profile: Path) -> dict:
    return make_doc(
        network__profile=str(profile),
        channel__states=16,
        channel__doppler_hz=300.0,
        wait__mode="any",
        wait__slot_s=0.0005,
        placement__rule="osla",
    )


def test_item1_correlations_of_the_strided_cnn_span_the_range(tmp_path):
    profile = tmp_path / "strided.csv"
    profile.write_text(STRIDED_CNN)
    inst = parse_instance(strided_doc(profile))
    times = np.array([m / 5e8 for m in (2350000, 1173512, 600000, 150000, 60000, 12000, 1500)])
    rho = 1.0 - np.array([fading.decorrelation(inst.channel, float(t)) for t in times])
    assert rho.min() < 0.005 and rho.max() > 0.9995
    for t in [*times, 0.0005]:
        delta = fading.decorrelation(inst.channel, float(t))
        check_structure(fading.transition_matrix(16, delta))


def test_item1_solve_exits_0_with_strict_json(tmp_path):
    profile = tmp_path / "strided.csv"
    profile.write_text(STRIDED_CNN)
    path = tmp_path / "strided-clarke300.toml"
    path.write_text(to_toml(strided_doc(profile)))
    proc = subprocess.run(
        [sys.executable, "-m", "coopt", "solve", str(path), "--json"], capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr

    def refuse(name: str) -> None:
        raise ValueError(name)

    out = json.loads(proc.stdout, parse_constant=refuse)
    assert out["rule"] == "osla" and out["wait_mode"] == "any"
    assert math.isfinite(out["objective"]) and out["objective"] > 0


# --------------------------------------------------------------------------- issue 19 item 2: the fast matrices

# 1 - rho from near 0 (rho near 1: the Gaussian-mixture form, the identity limit) through the
# switch to the noncentral chi-square form, the switch to the series, to rho near 0
GRID_DELTAS = [
    2 * fading.DELTA_IDENTITY,
    1e-30,
    1e-14,
    1e-9,
    3e-6,
    fading.DELTA_SWITCH * (1 - 1e-9),
    fading.DELTA_SWITCH,
    1e-3,
    6e-3,
    0.02,
    0.3,
    0.9,
    1 - 1e-9,
]


@pytest.mark.slow
@pytest.mark.parametrize("k", [2, 3, 7, 16])
@pytest.mark.parametrize("delta", GRID_DELTAS)
def test_fast_matrix_equals_the_adaptive_reference_entrywise(k, delta):
    fast = fading.transition_matrix(k, delta)
    ref = fading._transition_adaptive(k, delta)
    check_structure(fast)
    np.testing.assert_allclose(fast, ref, rtol=0, atol=ATOL)
    assert not fast.flags.writeable


@pytest.mark.slow
@pytest.mark.parametrize("delta", [1e-12, 5e-5, 2e-3, 0.05])
def test_fast_matrix_at_larger_k(delta):
    """K = 40: many bins inside a band, the grading of wide last bins."""
    fast = fading.transition_matrix(40, delta)
    check_structure(fast)
    np.testing.assert_allclose(fast, fading._transition_adaptive(40, delta), rtol=0, atol=ATOL)


@pytest.mark.parametrize("delta", [2e-3, 8e-3, 0.02])
def test_both_fast_methods_agree_where_they_meet(delta):
    """The series and the panels on either side of their switch, against each other and the reference."""
    ref = fading._transition_adaptive(12, delta)
    for method in (fading._transition_series, fading._transition_panels):
        P = method(12, delta)
        check_structure(P)
        np.testing.assert_allclose(P, ref, rtol=0, atol=ATOL)


def test_large_k_rows_sum_to_one_and_methods_agree():
    """K = 256, where rounding accumulates over a row: both methods, to 1e-12 and each other."""
    for delta in (8e-3, 0.05):
        series, panels = fading._transition_series(256, delta), fading._transition_panels(256, delta)
        check_structure(series)
        check_structure(panels)
        np.testing.assert_allclose(series, panels, rtol=0, atol=ATOL)


def test_matrices_are_cached_per_k_and_delta():
    a = fading.transition_matrix(9, 0.123)
    assert fading.transition_matrix(9, 0.123) is a
    assert fading.transition_matrix(10, 0.123) is not a


def test_k_beyond_memory_is_refused_in_one_line_before_any_work():
    with pytest.raises(fading.InstanceError, match=r"channel.states = 100000: .* GiB, more than the limit") as err:
        fading.check_transition_memory(100_000, 8, limit=2**30)
    assert "\n" not in str(err.value)
    fading.check_transition_memory(64, 8, limit=2**30)  # 64 x 64: fits
    inst = parse_instance(make_doc(channel__states=1_000_000, channel__doppler_hz=50.0))
    with pytest.raises(fading.InstanceError, match="channel.states = 1000000"):
        prepare(inst)  # refused by correlate() before a matrix is built
