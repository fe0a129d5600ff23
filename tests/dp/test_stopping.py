"""Online splitting: brute force over every policy, a hand-worked case, invariants."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coopt import backward_induction, evaluate_policy, occupation, osla_policy, prepare, solve
from coopt.dp.stopping import COMPUTE, STOP, WAIT, tied_or_less
from tests.support import tiny
from tests.support.brute import all_policies, independent_values
from tests.support.tolerances import RTOL_EXACT

RTOL_SOLVE = 1e-10  # a linear solve in between


SLOTS = [0.01, 0.001]  # an expensive and a cheap waiting slot


@pytest.mark.slow
@pytest.mark.parametrize("slot", SLOTS)
@pytest.mark.parametrize("mode", ["never", "last", "any"])
@pytest.mark.parametrize("channel", sorted(tiny.CHANNELS))
@pytest.mark.parametrize("horizon", [0, 1, 2, 3])
def test_backward_induction_beats_every_policy(mode, channel, horizon, slot):
    prob = prepare(tiny.instance(channel=channel, mode=mode, wait__slot_s=slot))
    c_w = prob.costs.wait_cost
    policies = all_policies(horizon, 3, prob.channel.n_states, mode)
    brute = independent_values(policies, prob.Y, prob.channel, c_w)
    sol = backward_induction(prob.Y, prob.channel, horizon, mode, prob.costs)
    assert sol.value == pytest.approx(brute.min(), rel=RTOL_SOLVE)
    own = independent_values(sol.actions[None], prob.Y, prob.channel, c_w)[0]
    assert own == pytest.approx(brute.min(), rel=RTOL_SOLVE)


@pytest.mark.parametrize("channel", sorted(tiny.CHANNELS))
def test_brute_force_cases_are_not_trivial(channel):
    """On every brute-force channel the optimal policies use every action (else they prove little)."""
    prob = prepare(tiny.instance(channel=channel, mode="any", wait__slot_s=SLOTS[1]))
    seen = set()
    for horizon in range(4):
        seen |= set(backward_induction(prob.Y, prob.channel, horizon, "any", prob.costs).actions.ravel().tolist())
    assert seen == {STOP, COMPUTE, WAIT}


# --------------------------------------------------------------------------- by hand

HAND_ROWS = [("input", 0, 8, 0), ("l1", 100, 4, 10), ("l2", 200, 1, 5)]


def hand_instance(mode):
    # rho = 1 and gains 1, 3 make log2(1 + rho h) = 1, 2: every number is rational.
    return tiny.instance(
        rows=HAND_ROWS,
        channel={"law": "finite", "gains": [1.0, 3.0], "probs": [0.5, 0.5]},
        mode=mode,
        network__feature_bits=1,
        network__param_bits=1,
        device__cpu_hz=200.0,
        device__kappa=0.0,
        device__tx_power_w=1.0,
        device__idle_power_w=0.0,
        edge__cpu_hz=10000.0,
        uplink__bandwidth_hz=8.0,
        uplink__noise_w=1.0,
        cost__energy_weight=1.0,
        cost__time_weight=1.0,
        wait__slot_s=0.1,
        placement__tasks_per_period=10,
        placement__downlink_bps=100.0,
        placement__rx_energy_per_bit=0.0,
    )


F = Fraction


def test_hand_worked_costs():
    # a = (1/2, 1), b = (1/100, 1/50); T_0 = 2/log2(1+h), T_1 = 1/log2(1+h).
    prob = prepare(hand_instance("never"))
    want = [[F(203, 100), F(103, 100)], [F(152, 100), F(102, 100)], [F(3, 2), F(3, 2)]]
    np.testing.assert_allclose(prob.Y, np.array(want, dtype=float), rtol=RTOL_EXACT)


@pytest.mark.parametrize(
    "mode, phi, m_star",
    [
        # never: J(0) = 153/100, J(1) = 115/100, J(2) = (126/100 + 103/100)/2 = 229/200;
        # Phi(1) = Phi(2) = 116/100 exactly, and the tie goes to the smaller M.
        ("never", [F(153, 100), F(115, 100) + F(1, 100), F(229, 200) + F(15, 1000)], 1),
        # last: at M = 0, Wbar solves W = (c_w + W)/2 + 103/200, W = 113/100 (wait on the bad
        # state); at M = 1, W = 112/100, V_1 = (122/100, 102/100), C_0 = 112/100, J(1) = 215/200.
        ("last", [F(113, 100), F(215, 200) + F(1, 100), F(229, 200) + F(15, 1000)], 1),
    ],
)
def test_hand_worked_placement(mode, phi, m_star):
    res = solve(hand_instance(mode))
    np.testing.assert_allclose([v.objective for v in res.by_placement], [float(x) for x in phi], rtol=RTOL_EXACT)
    assert res.placement == m_star


def test_hand_worked_policy_and_threshold():
    prob = prepare(hand_instance("last"))
    sol = backward_induction(prob.Y, prob.channel, 1, "last", prob.costs)
    assert sol.actions.tolist() == [[COMPUTE, STOP], [WAIT, STOP]]
    np.testing.assert_allclose(sol.values, [[1.12, 1.03], [1.22, 1.02]], rtol=RTOL_EXACT)
    # theta_1 solves A_1 + R_1 + 1/log2(1 + theta) = c_w + Wbar_1 = 122/100, so
    # log2(1 + theta) = 1/(122/100 - 52/100) = 10/7.
    assert sol.thresholds[1] == pytest.approx(2 ** (10 / 7) - 1, rel=RTOL_EXACT)
    # theta_0 solves 3/100 + 2/log2(1 + theta) = C_0 = 112/100.
    assert sol.thresholds[0] == pytest.approx(2 ** (2 / (1.12 - 0.03)) - 1, rel=RTOL_EXACT)


# --------------------------------------------------------------------------- invariants

tiny_rows = st.lists(
    st.tuples(st.integers(0, 3_000_000), st.integers(1, 10_000), st.integers(0, 600_000)), min_size=1, max_size=5
)


@st.composite
def instances(draw):
    rows = [("input", 0, draw(st.integers(1, 10_000)), 0)]
    rows += [(f"l{i}", *r) for i, r in enumerate(draw(tiny_rows), start=1)]
    channel = draw(st.sampled_from(sorted(tiny.CHANNELS)))
    mode = draw(st.sampled_from(["never", "last", "any"]))
    return tiny.instance(
        rows=rows, channel=channel, mode=mode, cost__time_weight=draw(st.sampled_from([0.1, 0.5, 2.0]))
    )


@settings(max_examples=60, deadline=None)
@given(instances())
def test_osla_never_beats_optimal_and_decisions_follow_ties(inst):
    prob = prepare(inst)
    n = inst.n_layers
    for horizon in range(n + 1):
        opt = backward_induction(prob.Y, prob.channel, horizon, inst.wait.mode, prob.costs)
        osla = osla_policy(prob.Y, prob.channel, horizon, inst.wait.mode, prob.costs)
        assert osla.value >= opt.value * (1 - RTOL_SOLVE)
        # The optimal values are those of the optimal policy (evaluated separately).
        again = evaluate_policy(opt.actions, prob.Y, prob.channel, prob.costs.wait_cost)
        np.testing.assert_allclose(again, opt.values, rtol=RTOL_SOLVE)
        # Occupation measure (forward) gives the same expected cost as the values (backward).
        occ = occupation(osla.actions, prob.channel).visits
        waits = occ[:, :, WAIT].sum()
        fwd = (occ[:, :, STOP] * prob.Y[: horizon + 1]).sum() + (prob.costs.wait_cost * waits if waits else 0.0)
        assert fwd == pytest.approx(osla.value, rel=RTOL_SOLVE)
        assert occ[:, :, STOP].sum() == pytest.approx(1.0, rel=RTOL_SOLVE)
        # Stop exactly where stopping ties the optimal value (docs/model.md: ties go to stop).
        assert np.array_equal(opt.actions == STOP, tied_or_less(prob.Y[: horizon + 1], opt.values))


@settings(max_examples=60, deadline=None)
@given(instances())
def test_thresholds_agree_with_decisions(inst):
    prob = prepare(inst)
    if prob.channel.is_markov:
        return
    g = prob.channel.gains
    for horizon in range(inst.n_layers + 1):
        for solver in (backward_induction, osla_policy):
            sol = solver(prob.Y, prob.channel, horizon, inst.wait.mode, prob.costs)
            th = sol.thresholds
            assert th.shape == (horizon + 1,)
            assert np.all((th >= 0) & ~np.isnan(th))
            clear_above = g[None, :] > th[:, None] * (1 + 1e-6)
            clear_below = g[None, :] < th[:, None] * (1 - 1e-6)
            stop = sol.actions == STOP
            assert np.all(stop[clear_above]) and not np.any(stop[clear_below])


@pytest.mark.parametrize("channel", ["finite3", "markov3", "rayleigh3", "markov2"])
@pytest.mark.parametrize("horizon", [0, 1])
def test_osla_is_optimal_for_one_step_horizons(channel, horizon):
    """With no waiting and M <= 1, the look-ahead value is the true continuation value."""
    prob = prepare(tiny.instance(channel=channel, mode="never"))
    opt = backward_induction(prob.Y, prob.channel, horizon, "never", prob.costs)
    osla = osla_policy(prob.Y, prob.channel, horizon, "never", prob.costs)
    assert np.array_equal(opt.actions, osla.actions)
    np.testing.assert_allclose(osla.values, opt.values, rtol=RTOL_EXACT)


def test_exact_ties_break_towards_stopping():
    """A zero-MAC, zero-parameter layer that keeps the feature size on a one-state channel
    makes stopping at epoch 1 and computing on to epoch 2 cost exactly the same."""
    rows = [("input", 0, 4000, 0), ("conv", 2_000_000, 2000, 3000), ("id", 0, 2000, 0), ("fc", 10**6, 500, 500_500)]
    one_state = {"law": "finite", "gains": [1e-9], "probs": [1.0]}
    prob = prepare(tiny.instance(rows=rows, channel=one_state, mode="never"))
    assert np.array_equal(prob.Y[1], prob.Y[2])
    sol = backward_induction(prob.Y, prob.channel, 2, "never", prob.costs)
    assert sol.actions[1].tolist() == [STOP]
    # The same layer ties Phi(1) with Phi(2); if they are the minimum, the smaller M wins.
    res = solve(tiny.instance(rows=rows, channel=one_state, mode="never"))
    phi = [v.objective for v in res.by_placement]
    assert phi[1] == pytest.approx(phi[2], rel=RTOL_EXACT)
    assert res.placement == 1 and min(phi) == pytest.approx(phi[1], rel=RTOL_EXACT)
