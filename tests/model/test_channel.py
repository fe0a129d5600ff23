"""Channels: quantisation of continuous laws, finite and Markov chains."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate, stats

from coopt.model.channel import build_channel, stationary_distribution
from coopt.model.instance import ChannelSpec

RTOL_MEAN = 1e-12  # sum_k p_k g_k against mean_gain
RTOL_QUAD = 1e-9  # conditional means against numerical quadrature


def continuous_law(spec: ChannelSpec):
    """The power-gain distribution as a frozen scipy.stats object (independent of coopt)."""
    mean = spec.mean_gain
    if spec.law == "rayleigh":
        return stats.expon(scale=mean)
    if spec.law == "nakagami":
        return stats.gamma(a=spec.m, scale=mean / spec.m)
    sigma2 = mean / (2 * (spec.k_factor + 1))
    return stats.ncx2(df=2, nc=2 * spec.k_factor, scale=sigma2)


SPECS = [
    ChannelSpec("rayleigh", mean_gain=1.0, states=1),
    ChannelSpec("rayleigh", mean_gain=2e-9, states=4),
    ChannelSpec("rayleigh", mean_gain=1.0, states=16),
    ChannelSpec("nakagami", mean_gain=1.0, states=8, m=0.5),
    ChannelSpec("nakagami", mean_gain=3e-10, states=8, m=1.0),
    ChannelSpec("nakagami", mean_gain=1.0, states=16, m=2.5),
    ChannelSpec("rician", mean_gain=1.0, states=8, k_factor=0.0),
    ChannelSpec("rician", mean_gain=1.0, states=8, k_factor=1.0),
    ChannelSpec("rician", mean_gain=5e-11, states=16, k_factor=6.0),
]


def _id(spec):
    return f"{spec.law}-K{spec.states}-m{spec.m}-k{spec.k_factor}-{spec.mean_gain:g}"


@pytest.mark.parametrize("spec", SPECS, ids=_id)
def test_quantised_states_are_equiprobable_increasing_and_mean_preserving(spec):
    ch = build_channel(spec)
    assert ch.n_states == spec.states and ch.transition is None
    np.testing.assert_array_equal(ch.probs, np.full(spec.states, 1.0 / spec.states))
    assert np.all(np.diff(ch.gains) > 0)
    assert ch.gains @ ch.probs == pytest.approx(spec.mean_gain, rel=RTOL_MEAN)


@pytest.mark.parametrize("spec", SPECS, ids=_id)
def test_conditional_means_match_quadrature(spec):
    law = continuous_law(spec)
    k = spec.states
    edges = law.ppf(np.arange(k + 1) / k)
    ch = build_channel(spec)
    scale = spec.mean_gain
    for j in range(k):
        # Integrate in units of the mean so that quad's tolerances mean something.
        val, _err = integrate.quad(
            lambda x: x * law.pdf(x * scale) * scale,
            edges[j] / scale,
            edges[j + 1] / scale,
            epsabs=0,
            epsrel=1e-12,
            limit=200,
        )
        assert ch.gains[j] == pytest.approx(k * val * scale, rel=RTOL_QUAD), f"state {j}"


def test_rayleigh_closed_form_known_value():
    # The top state of Exp(mean) with K = 4 has gain mean (1 + ln 4) (golden example).
    ch = build_channel(ChannelSpec("rayleigh", mean_gain=2e-9, states=4))
    assert ch.gains[-1] == pytest.approx(2e-9 * (1 + np.log(4)), rel=1e-14)


def test_finite_states_are_sorted_with_their_probabilities():
    ch = build_channel(ChannelSpec("finite", gains=(3.0, 1.0, 2.0), probs=(0.5, 0.2, 0.3)))
    np.testing.assert_array_equal(ch.gains, [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(ch.probs, [0.2, 0.3, 0.5])


def test_markov_sorting_permutes_the_transition_matrix():
    spec = ChannelSpec("markov", gains=(5.0, 1.0), transition=((0.9, 0.1), (0.4, 0.6)))
    ch = build_channel(spec)
    np.testing.assert_array_equal(ch.gains, [1.0, 5.0])
    np.testing.assert_array_equal(ch.transition, [[0.6, 0.4], [0.1, 0.9]])
    # Stationary law of the original chain is (0.8, 0.2); sorted, (0.2, 0.8).
    np.testing.assert_allclose(ch.initial, [0.2, 0.8], rtol=1e-14)
    np.testing.assert_allclose(ch.distributions(3)[3], ch.initial, rtol=1e-13)


def test_markov_initial_is_used_and_propagated():
    spec = ChannelSpec("markov", gains=(1.0, 5.0), transition=((0.9, 0.1), (0.4, 0.6)), initial=(1.0, 0.0))
    ch = build_channel(spec)
    np.testing.assert_allclose(ch.distributions(2)[2], [0.9 * 0.9 + 0.1 * 0.4, 0.9 * 0.1 + 0.1 * 0.6], rtol=1e-14)


def test_stationary_distribution_of_a_three_state_chain():
    P = np.array([[0.5, 0.5, 0.0], [0.25, 0.5, 0.25], [0.0, 0.5, 0.5]])
    np.testing.assert_allclose(stationary_distribution(P), [0.25, 0.5, 0.25], rtol=1e-14)
