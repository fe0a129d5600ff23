"""coopt.dp.markov (every placement of a Markov channel in one sweep) against the
per-placement reference recursion of coopt.dp.stopping.

Every comparison is with :func:`coopt.dp.stopping.backward_induction` /
:func:`coopt.dp.stopping.osla_policy` run separately for each horizon: decisions must be
identical (docs/model.md's tie tolerance included), values equal to rounding. A
time-inhomogeneous channel is checked against the reference (which reads
``channel.step(n)``) and against a direct recursion written here.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pytest
from hypothesis import given, settings
from numpy.typing import NDArray

from coopt import prepare
from coopt.dp.fast import PolicyMap
from coopt.dp.markov import MarkovPlacements, solve_all_markov, wait_fixed_points
from coopt.dp.placement import enumerate_rules
from coopt.dp.stopping import (
    COMPUTE,
    STOP,
    WAIT,
    backward_induction,
    evaluate_policy,
    markov_wait_values,
    osla_policy,
)
from coopt.model.channel import Channel
from coopt.model.costs import feasible_placements
from tests.support import tiny
from tests.support.dp_cases import TIED_ROWS  # the i.i.d. sweep's tied layers and chain draws
from tests.support.markov_cases import MODES, problems
from tests.support.tolerances import RTOL_EXACT

REFERENCE = {"optimal": backward_induction, "osla": osla_policy}

GAINS4 = [1e-10, 6e-10, 2e-9, 1e-8]
# Reducible: states 0 and 3 absorbing (identity rows: with the tied layers, stop and
# compute tie exactly there), 1 and 2 transient.
REDUCIBLE4 = {
    "law": "markov",
    "gains": GAINS4,
    "transition": [[1, 0, 0, 0], [0.3, 0.4, 0.2, 0.1], [0.1, 0.2, 0.3, 0.4], [0, 0, 0, 1]],
    "initial": [0.25, 0.25, 0.25, 0.25],
}
TWO_CLASSES4 = {
    "law": "markov",
    "gains": GAINS4,
    "transition": [[0.5, 0.5, 0, 0], [0.2, 0.8, 0, 0], [0, 0, 0.9, 0.1], [0, 0, 0.6, 0.4]],
    "initial": [0.1, 0.2, 0.3, 0.4],
}
CASES = {
    "chain3-markov3": (tiny.CHAIN3, "markov3"),
    "chain3-markov2": (tiny.CHAIN3, "markov2"),
    "tied-markov3": (TIED_ROWS, "markov3"),
    "tied-reducible4": (TIED_ROWS, REDUCIBLE4),
    "tied-two-classes4": (TIED_ROWS, TWO_CLASSES4),
    "one-state": (TIED_ROWS, {"law": "markov", "gains": [1e-9], "transition": [[1.0]]}),
}


def assert_matches_reference(prob, mode: str, tables: dict[str, MarkovPlacements], horizons=None) -> None:
    """Every (given) horizon and rule: decisions identical, values to rounding."""
    horizons = range(prob.costs.n_layers + 1) if horizons is None else horizons
    for rule, table in tables.items():
        for horizon in horizons:
            ref = REFERENCE[rule](prob.Y, prob.channel, horizon, mode, prob.costs)
            got = table.policy(horizon)
            assert np.array_equal(got.actions, ref.actions), (rule, horizon)
            np.testing.assert_allclose(got.values, ref.values, rtol=RTOL_EXACT, atol=0)
            assert table.values[horizon] == pytest.approx(ref.value, rel=RTOL_EXACT, abs=0)
            assert got.value == pytest.approx(ref.value, rel=RTOL_EXACT, abs=0)
            assert got.thresholds is None


@pytest.mark.parametrize("slot_s", [1e-2, 1e-4])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("case", sorted(CASES))
def test_every_placement_matches_reference(case, mode, slot_s):
    rows, channel = CASES[case]
    prob = prepare(tiny.instance(rows=rows, channel=channel, mode=mode, wait__slot_s=slot_s))
    assert_matches_reference(prob, mode, solve_all_markov(prob.Y, prob.channel, mode, prob.costs))


def test_interior_waiting_is_exercised():
    """With cheap slots the optimal rule waits before its last placed epoch in mode any
    (so the sweep's batched fixed points, not only the terminal ones, are tested)."""
    prob = prepare(tiny.instance(rows=TIED_ROWS, channel=TWO_CLASSES4, mode="any", wait__slot_s=1e-4))
    table = solve_all_markov(prob.Y, prob.channel, "any", prob.costs, ("optimal",))["optimal"]
    n = prob.costs.n_layers
    assert any(WAIT in table.policy(m).actions[:m] for m in range(1, n + 1))


def test_identity_rows_tie_stop_and_compute():
    """On an absorbing state, with the zero-cost layer 3 placed last, stopping at epoch 2
    and computing cost exactly the same (C_2 = P Y_3 = Y_2 there, for both rules); the
    reference breaks the tie towards stopping, so does the sweep."""
    prob = prepare(tiny.instance(rows=TIED_ROWS, channel=REDUCIBLE4, mode="never"))
    assert np.array_equal(prob.Y[2], prob.Y[3])
    C = prob.channel.step(2) @ prob.Y[3]
    assert C[0] == prob.Y[2][0] and C[3] == prob.Y[2][3]
    for rule, table in solve_all_markov(prob.Y, prob.channel, "never", prob.costs).items():
        got = table.policy(3)
        ref = REFERENCE[rule](prob.Y, prob.channel, 3, "never", prob.costs)
        assert got.actions[2, 0] == got.actions[2, 3] == STOP == ref.actions[2, 0] == ref.actions[2, 3]


@pytest.mark.parametrize("mode", MODES)
def test_cases_exercise_every_action(mode):
    """Across the parametrised cases, both rules stop, compute and (where allowed) wait."""
    seen: dict[str, set[int]] = {"optimal": set(), "osla": set()}
    for rows, channel in CASES.values():
        prob = prepare(tiny.instance(rows=rows, channel=channel, mode=mode, wait__slot_s=1e-4))
        for rule, table in solve_all_markov(prob.Y, prob.channel, mode, prob.costs).items():
            for horizon in range(prob.costs.n_layers + 1):
                seen[rule] |= set(np.unique(table.policy(horizon).actions).tolist())
    want = {STOP, COMPUTE} | ({WAIT} if mode != "never" else set())
    assert seen["optimal"] == want and seen["osla"] == want


# --------------------------------------------------------------------------- random chains


@settings(max_examples=80, deadline=None)
@given(problems())
def test_hypothesis_every_placement_matches_reference(problem):
    """Random chains (reducible ones too), every mode and rule, under memory limits: the
    sweep over the feasible placements only equals the reference on each of them."""
    prob, mode = problem
    placements = prob.placements
    tables = solve_all_markov(prob.Y, prob.channel, mode, prob.costs, placements=placements)
    for table in tables.values():
        solved = np.flatnonzero(~np.isnan(table.values)).tolist()
        assert solved == placements
    assert_matches_reference(prob, mode, tables, placements)


@settings(max_examples=40, deadline=None)
@given(problems())
def test_hypothesis_enumeration_routes_markov_through_the_sweep(problem):
    """enumerate_rules on a Markov channel: the sweep by default (policies built lazily),
    the reference with method = "reference"; same objectives, same policies."""
    prob, mode = problem
    placements = prob.placements
    args = (prob.Y, prob.channel, mode, prob.costs, ("optimal", "osla"), placements, 100.0)
    fast = enumerate_rules(*args)
    ref = enumerate_rules(*args, method="reference")
    for rule in ("optimal", "osla"):
        values, policies = fast[rule]
        ref_values, ref_policies = ref[rule]
        assert isinstance(policies, PolicyMap) and not isinstance(ref_policies, PolicyMap)
        for v, r in zip(values, ref_values):
            assert v.placement == r.placement
            assert v.objective == pytest.approx(r.objective, rel=RTOL_EXACT, abs=0)
        best = placements[-1]
        assert np.array_equal(policies[best].actions, ref_policies[best].actions)


# --------------------------------------------------------------------------- waiting fixed points


def test_wait_fixed_points_match_policy_iteration_row_by_row():
    """Batched, warm-started policy iteration equals markov_wait_values on each row, from
    no waiting and from the optimal sets of other rows (proper starts)."""
    rng = np.random.default_rng(3)
    for k in (1, 2, 5, 12, 40):
        P = rng.random((k, k)) ** 4
        P[rng.random((k, k)) < 0.5] = 0.0
        P[np.arange(k), np.arange(k)] += 0.05
        P /= P.sum(axis=1, keepdims=True)
        m = rng.random((9, k)) * 10.0 + rng.random((9, 1))
        c_w = 0.02
        values, waiting, wv = wait_fixed_points(m, P, c_w)
        for r in range(m.shape[0]):
            ref = markov_wait_values(m[r], P, c_w)
            np.testing.assert_allclose(values[r], ref, rtol=RTOL_EXACT, atol=0)
            np.testing.assert_allclose(wv[r], c_w + P @ ref, rtol=RTOL_EXACT, atol=0)
        assert waiting.any() or k < 5
        again, waiting2, _ = wait_fixed_points(m, P, c_w, start=np.roll(waiting, 1, axis=0))
        np.testing.assert_allclose(again, values, rtol=RTOL_EXACT, atol=0)
        assert np.array_equal(waiting2, waiting)


@pytest.mark.parametrize("shade", [-5e-13, 0.0, 5e-13, 1e-9])
def test_wait_fixed_points_tie_goes_to_stopping(shade):
    """m = (0, 2 c_w (1 + shade)) on a chain that redraws uniformly: waiting in state 1
    costs c_w + m_1 / 2, a tie with m_1 at shade 0. Within the tie tolerance the state
    stops (as in markov_wait_values); beyond it, it waits."""
    c_w = 0.3
    P = np.full((2, 2), 0.5)
    m = np.array([[0.0, 2 * c_w * (1 + shade)]])
    values, waiting, _ = wait_fixed_points(m, P, c_w)
    expect_wait = shade > 1e-12
    assert waiting[0].tolist() == [False, expect_wait]
    np.testing.assert_allclose(values[0], markov_wait_values(m[0], P, c_w), rtol=RTOL_EXACT, atol=0)
    # The same tie inside the sweep: a table whose rows 0..2 are m on that chain, so the
    # last placed epoch M < N = 3 waits or stops against exactly this fixed point.
    uniform = {"law": "markov", "gains": [1e-10, 1e-9], "transition": [[0.5, 0.5], [0.5, 0.5]]}
    prob = prepare(tiny.instance(rows=tiny.CHAIN3, channel=uniform))
    Y = np.vstack([np.repeat(m, 3, axis=0), [[5.0, 5.0]]])
    costs = replace(prob.costs, wait_cost=c_w)
    for mode in ("last", "any"):
        for table in solve_all_markov(Y, prob.channel, mode, costs).values():
            for horizon in range(4):
                ref = REFERENCE[table.rule](Y, prob.channel, horizon, mode, costs)
                got = table.policy(horizon)
                assert np.array_equal(got.actions, ref.actions)
                assert (WAIT in got.actions[horizon]) == (expect_wait and horizon < 3)
                assert table.values[horizon] == pytest.approx(ref.value, rel=RTOL_EXACT, abs=0)


# --------------------------------------------------------------------------- time-inhomogeneous


@dataclass(frozen=True, eq=False)
class DriftingChannel(Channel):
    """A chain with its own transition per epoch and another one per waiting slot."""

    steps: tuple[NDArray[np.float64], ...] = ()
    slot: NDArray[np.float64] | None = None

    def step(self, n: int) -> NDArray[np.float64] | None:
        return self.steps[n]

    def wait_step(self) -> NDArray[np.float64] | None:
        return self.slot


def drifting(prob, seed: int) -> DriftingChannel:
    rng = np.random.default_rng(seed)
    k, n_layers = prob.channel.n_states, prob.costs.n_layers

    def stochastic() -> NDArray[np.float64]:
        P = rng.random((k, k)) ** 3
        P[rng.random((k, k)) < 0.3] = 0.0
        P[np.arange(k), rng.integers(0, k, k)] += 0.01
        return P / P.sum(axis=1, keepdims=True)

    ch = prob.channel
    return DriftingChannel(
        gains=ch.gains,
        initial=ch.initial,
        transition=ch.transition,
        spec=ch.spec,
        steps=tuple(stochastic() for _ in range(n_layers)),
        slot=stochastic(),
    )


def direct_never(Y: NDArray[np.float64], channel: DriftingChannel, horizon: int) -> float:
    """J*(M) without waiting, straight from the recursion V_n = min(Y_n, P_n V_{n+1})."""
    V = Y[horizon]
    for n in range(horizon - 1, -1, -1):
        V = np.minimum(Y[n], channel.steps[n] @ V)
    return float(channel.initial @ V)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_time_inhomogeneous_channel(mode, seed):
    """Different random matrices per epoch and per slot: the sweep equals the reference
    (which reads step(n) and wait_step()), and in mode never a direct recursion; the
    one-pass OSLA value equals evaluate_policy of its table."""
    rows = TIED_ROWS + [("fc3", 2_000_000, 5, 1000), ("fc4", 0, 5, 0)]
    base = prepare(tiny.instance(rows=rows, channel=REDUCIBLE4, mode=mode, wait__slot_s=3e-4))
    channel = drifting(base, seed)
    assert not np.array_equal(channel.step(0), channel.step(1))
    prob = replace(base, channel=channel)
    tables = solve_all_markov(prob.Y, channel, mode, prob.costs)
    assert_matches_reference(prob, mode, tables)
    for horizon in range(prob.costs.n_layers + 1):
        if mode == "never":
            assert tables["optimal"].values[horizon] == pytest.approx(
                direct_never(prob.Y, channel, horizon), rel=RTOL_EXACT, abs=0
            )
        acts = tables["osla"].policy(horizon).actions
        value = float(channel.initial @ evaluate_policy(acts, prob.Y, channel, prob.costs.wait_cost)[0])
        assert tables["osla"].values[horizon] == pytest.approx(value, rel=RTOL_EXACT, abs=0)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("fading", [{"coherence_s": 2e-3}, {"doppler_hz": 40.0}])
def test_time_correlated_rayleigh_matches_reference(fading, mode):
    """docs/model.md 10.4: a per-epoch chain built from the device's layer times (and its own
    slot matrix) goes through the sweep by default and equals the reference."""
    channel = {"law": "rayleigh", "mean_gain": 2e-9, "states": 5, **fading}
    prob = prepare(tiny.instance(rows=TIED_ROWS, channel=channel, mode=mode, wait__slot_s=1e-3))
    assert prob.channel.is_markov and prob.channel.transition is None
    assert not np.allclose(prob.channel.step(0), prob.channel.step(1))
    assert_matches_reference(prob, mode, solve_all_markov(prob.Y, prob.channel, mode, prob.costs))


def test_time_inhomogeneous_differs_from_homogeneous():
    """The drifting chain changes the answer (so the test above is not vacuous)."""
    base = prepare(tiny.instance(rows=TIED_ROWS, channel=REDUCIBLE4, mode="any", wait__slot_s=3e-4))
    drift = solve_all_markov(base.Y, drifting(base, 0), "any", base.costs)
    homo = solve_all_markov(base.Y, base.channel, "any", base.costs)
    for rule in ("optimal", "osla"):
        assert not np.allclose(drift[rule].values, homo[rule].values, rtol=1e-6, atol=0)


# --------------------------------------------------------------------------- the solve route and errors


def test_solve_uses_the_sweep_and_matches_reference(monkeypatch):
    """coopt's enumeration on a Markov instance goes through the sweep; the result is the
    reference's (placement, objective, by_placement)."""
    import coopt.dp.placement as placement
    from coopt.dp.enumeration import solve_enumeration

    calls = []
    real = placement.solve_all_markov
    monkeypatch.setattr(placement, "solve_all_markov", lambda *a, **kw: calls.append(a) or real(*a, **kw))
    for mode in MODES:
        prob = prepare(tiny.instance(rows=TIED_ROWS, channel="markov3", mode=mode, wait__slot_s=1e-4))
        res = solve_enumeration(prob)
        k_tasks = prob.instance.placement.tasks_per_period
        ref_values = enumerate_rules(
            prob.Y, prob.channel, mode, prob.costs, ("optimal",), prob.placements, k_tasks, method="reference"
        )["optimal"][0]
        best = min(ref_values, key=lambda v: (v.objective, v.placement))
        assert res.placement == best.placement
        assert res.objective == pytest.approx(best.objective, rel=RTOL_EXACT, abs=0)
    assert len(calls) == len(MODES)


def test_feasible_placements_only():
    prob = prepare(tiny.instance(rows=TIED_ROWS, channel="markov3", placement__memory_bits=2e5))
    placements = feasible_placements(prob.costs, prob.instance.placement.memory_bits)
    assert placements != list(range(prob.costs.n_layers + 1))
    table = solve_all_markov(prob.Y, prob.channel, "last", prob.costs, ("optimal",), placements)["optimal"]
    assert np.isnan(table.values[prob.costs.n_layers]) and not np.isnan(table.values[placements]).any()


def test_bad_arguments():
    prob = prepare(tiny.instance(rows=TIED_ROWS, channel="markov3"))
    iid = prepare(tiny.instance(rows=TIED_ROWS, channel="finite3"))
    with pytest.raises(ValueError, match="Markov"):
        solve_all_markov(iid.Y, iid.channel, "last", iid.costs)
    with pytest.raises(ValueError, match="rules"):
        solve_all_markov(prob.Y, prob.channel, "last", prob.costs, ("best",))
    with pytest.raises(ValueError, match="mode"):
        solve_all_markov(prob.Y, prob.channel, "often", prob.costs)
    with pytest.raises(ValueError, match="c_w"):
        solve_all_markov(prob.Y, prob.channel, "any", replace(prob.costs, wait_cost=0.0))
    with pytest.raises(ValueError, match="placements"):
        solve_all_markov(prob.Y, prob.channel, "last", prob.costs, placements=[99])
    with pytest.raises(ValueError, match="horizon"):
        solve_all_markov(prob.Y, prob.channel, "last", prob.costs)["osla"].policy(-1)
