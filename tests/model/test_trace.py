"""Channels fitted to a trace (docs/model.md 10.5) and the shipped synthetic trace."""

from __future__ import annotations

import itertools
import math
import runpy
import tomllib

import numpy as np
import pytest

from coopt import parse_instance, solve
from coopt.cli.main import main
from coopt.errors import InstanceError
from coopt.model import fading
from coopt.model.trace import fit_trace, read_trace
from tests.support.instances import EXAMPLES as DATA
from tests.support.instances import make_doc

TRACE = DATA / "trace_gauss_markov.csv"


def test_shipped_trace_is_what_its_generator_makes():
    gen = runpy.run_path(str(DATA / "make_trace.py"))
    assert gen["make_trace"]() == TRACE.read_text(encoding="utf-8")


def test_fit_by_hand():
    """Rank bins, conditional means and transition counts recomputed with plain loops."""
    g = read_trace(TRACE).gains
    k = 5
    fit = fit_trace(g, k)
    ranked = sorted(range(len(g)), key=lambda i: (g[i], i))
    bins = {i: r * k // len(g) for r, i in enumerate(ranked)}
    for j in range(k):
        members = [g[i] for i in range(len(g)) if bins[i] == j]
        assert fit.gains[j] == pytest.approx(sum(members) / len(members), rel=1e-12)
    counts = np.zeros((k, k))
    for t in range(len(g) - 1):
        counts[bins[t], bins[t + 1]] += 1
    np.testing.assert_allclose(fit.transition, counts / counts.sum(axis=1, keepdims=True), rtol=0, atol=1e-15)


def test_fitted_chain_matches_the_exact_gauss_markov_matrix():
    """The trace is Gauss-Markov with dt/T_c = 1/4: its bin frequencies estimate P(dt) of 10.4."""
    k = 4
    fit = fit_trace(read_trace(TRACE).gains, k)
    exact = fading.transition_matrix(k, -math.expm1(-2 * 0.25))
    n_i = len(read_trace(TRACE).gains) / k
    se = np.sqrt(exact * (1 - exact) / n_i)
    assert np.all(np.abs(fit.transition - exact) <= 5 * se)


def test_chain_lag1_correlation_matches_a_simulated_path():
    fit = fit_trace(read_trace(TRACE).gains, 4)
    rng = np.random.default_rng(5)
    cum = np.cumsum(fit.transition, axis=1)
    steps = 60_000
    s = np.empty(steps, dtype=int)
    s[0] = 0
    u = rng.random(steps)
    for t in range(1, steps):
        s[t] = min(int(np.searchsorted(cum[s[t - 1]], u[t], side="right")), 3)
    x = fit.gains[s[1000:]]
    sim = np.corrcoef(x[:-1], x[1:])[0, 1]
    assert abs(sim - fit.lag1_chain) < 0.03
    assert read_trace(TRACE).interval_s == pytest.approx(0.005)


def test_iid_fit_pastes_into_an_instance_and_solves(tmp_path, capsys):
    assert main(["channel", "fit", str(TRACE), "--states", "4", "--iid"]) == 0
    out = capsys.readouterr().out
    table = tomllib.loads(out)["channel"]
    assert table["law"] == "finite"
    res = solve(
        parse_instance(make_doc(**{f"channel__{k}": None for k in ("mean_gain", "states")}) | {"channel": table})
    )
    assert res.channel.n_states == 4


def test_markov_fit_pastes_into_an_instance(capsys):
    assert main(["channel", "fit", str(TRACE), "--states", "3"]) == 0
    out = capsys.readouterr().out
    assert "lag-1 correlation" in out and "sampling interval 0.005 s" in out
    table = tomllib.loads(out)["channel"]
    inst = parse_instance(make_doc() | {"channel": table})
    assert solve(inst).channel.is_markov


def test_warning_when_the_interval_is_far_from_the_epochs(capsys):
    assert main(["channel", "fit", str(TRACE), "--states", "3", "--instance", str(DATA / "cnn_chain.toml")]) == 0
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "warning: the sampling interval 0.005 s" in err


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("gain\n1e-9\n2e-9\n", "too short"),
        ("gain\n1e-9\n-2e-9\n3e-9\n4e-9\n5e-9\n6e-9\n", "sample 2 = -2e-09: power gains must be > 0"),
        ("gain\n1e-9\nnan\n3e-9\n4e-9\n5e-9\n6e-9\n", "sample 2 = nan: power gains must be finite"),
        ("gain\n1e-9\n2e-9\n3e-9\n4e-9\n5e-9\n6e-9\n", "is never left"),
        ("gain\n1e-9\nabc\n", "line 3, column 'gain' = 'abc': must be a number"),
        ("time_s,gain\n0,1e-9\n0.1,2e-9\n0.3,3e-9\n", "fixed interval"),
        ("a,b\n1,2\n", "give --column"),
    ],
)
def test_bad_traces_are_one_line_exit_2(tmp_path, capsys, text, message):
    assert_fit_refuses(tmp_path, capsys, text, 2, message)


def assert_fit_refuses(tmp_path, capsys, text: str, states: int, message: str) -> None:
    """`coopt channel fit` of the trace ``text``: exit 2, one line on stderr holding ``message``."""
    path = tmp_path / "t.csv"
    path.write_text(text)
    assert main(["channel", "fit", str(path), "--states", str(states)]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1 and message in captured.err, captured.err


def test_fit_refuses_nothing_valid():
    with pytest.raises(InstanceError, match="--states = 0"):
        fit_trace(np.ones(10), 0)


# ---- traces with ties (issue 22 item 3): equal gains share a state, never exit 3


def _tied_trace(distinct: int, n: int = 400, seed: int = 3) -> np.ndarray:
    """``n`` samples drawn from ``distinct`` gains 1e-11 .. (a seeded local generator)."""
    rng = np.random.default_rng(seed)
    values = 1e-11 * (1.0 + np.arange(distinct)) ** 1.5
    g = values[rng.integers(0, distinct, size=n)]
    g[:distinct] = values  # every value occurs
    return g


def _by_value(g: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One state per distinct gain, by plain loops: gains, shares, transition frequencies."""
    values = sorted(set(g.tolist()))
    index = {v: i for i, v in enumerate(values)}
    k = len(values)
    shares = np.array([sum(1 for x in g if x == v) / len(g) for v in values])
    counts = np.zeros((k, k))
    for a, b in itertools.pairwise(g):
        counts[index[a], index[b]] += 1
    return np.array(values), shares, counts / counts.sum(axis=1, keepdims=True)


@pytest.mark.parametrize("distinct", [1, 2, 7])
@pytest.mark.parametrize("iid", [False, True])
def test_fewer_distinct_gains_than_states_fit_one_state_each(distinct, iid):
    """K = 8 asked for; 1, 2 and K - 1 distinct gains give that many states, each a distinct gain."""
    g = _tied_trace(distinct)
    fit = fit_trace(g, 8, iid=iid)
    values, shares, transition = _by_value(g)
    assert fit.states == distinct and fit.requested_states == 8 and fit.distinct == distinct
    np.testing.assert_allclose(fit.gains, values, rtol=1e-14)
    np.testing.assert_allclose(fit.probs, shares, rtol=1e-14)
    assert float(fit.probs @ fit.gains) == pytest.approx(float(g.mean()), rel=1e-13)  # the trace's mean
    assert f"fitted {distinct} state" in (fit.note() or "") and "not the 8 asked for" in fit.note()
    if iid:
        assert fit.transition is None
    else:
        np.testing.assert_allclose(fit.transition, transition, rtol=1e-14)
    if distinct == 1:
        assert fit.lag1_trace is None and fit.lag1_chain is None
    else:
        x, y = g[:-1], g[1:]
        pearson = ((x - x.mean()) @ (y - y.mean())) / math.sqrt(
            ((x - x.mean()) ** 2).sum() * ((y - y.mean()) ** 2).sum()
        )
        assert fit.lag1_trace == pytest.approx(pearson, abs=1e-12)


@pytest.mark.parametrize("value", [1e-10, 0.5, 1.0, 3e-17])
def test_constant_trace_is_one_state(value):
    """A constant trace (any value: 0.5 made NumPy divide 0 by 0) is the constant channel."""
    fit = fit_trace(np.full(50, value), 8)
    assert fit.states == 1 and fit.gains[0] == pytest.approx(value, rel=1e-15)
    assert fit.transition.tolist() == [[1.0]] and fit.lag1_trace is None


@pytest.mark.parametrize("distinct", [1, 2, 7])
@pytest.mark.parametrize("iid", [False, True])
def test_fewer_distinct_gains_through_the_cli(distinct, iid, tmp_path, capsys):
    """Exit 0, a note on stderr and in the output; the table pastes into an instance and solves."""
    path = tmp_path / "t.csv"
    path.write_text("gain\n" + "".join(f"{float(x)!r}\n" for x in _tied_trace(distinct)))
    argv = ["channel", "fit", str(path), "--states", "8"] + (["--iid"] if iid else [])
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1 and captured.err.startswith("coopt: note: fitted")
    assert f"the trace has {distinct} distinct gain" in captured.err
    assert f"# fitted {distinct} state" in captured.out
    table = tomllib.loads(captured.out)["channel"]
    assert len(table["gains"]) == distinct
    res = solve(parse_instance(make_doc() | {"channel": table}))
    assert res.channel.n_states == distinct and math.isfinite(res.objective)


def _rule_by_hand(g: np.ndarray, k: int) -> list[int]:
    """The binning rule of the module docstring with plain loops: rank bins, each group of
    equal samples in the bin of its middle sample, empty bins dropped."""
    n = len(g)
    ranked = sorted(range(n), key=lambda i: (g[i], i))
    bin_of = {}
    r = 0
    while r < n:
        c = 1
        while r + c < n and g[ranked[r + c]] == g[ranked[r]]:
            c += 1
        for j in range(c):
            bin_of[ranked[r + j]] = (r + (c - 1) // 2) * k // n
        r += c
    used = sorted(set(bin_of.values()))
    return [used.index(bin_of[i]) for i in range(n)]


def test_ties_across_bin_edges_share_a_state():
    """Quantised gains (as an RSSI in whole dB would give): 12 distinct values, K = 5. Equal
    gains never fall in two states, and the states follow the documented rule."""
    rng = np.random.default_rng(11)
    db = np.round(rng.normal(-100.0, 3.0, size=600))
    g = 10.0 ** (db / 10.0)
    from coopt.model.trace import tie_bins

    state = tie_bins(g, 5)
    assert state.tolist() == _rule_by_hand(g, 5)
    for v in set(g.tolist()):
        assert len(set(state[g == v].tolist())) == 1
    fit = fit_trace(g, 5)
    assert np.all(np.diff(fit.gains) > 0)
    np.testing.assert_allclose(fit.probs, np.bincount(state) / len(g), rtol=1e-15)


def test_without_ties_nothing_changes():
    """A trace without ties keeps the plain rank bins floor(rK/n) and K states, no note."""
    g = read_trace(TRACE).gains
    assert np.unique(g).size == g.size
    from coopt.model.trace import tie_bins

    for k in (1, 3, 7, 1000):
        ranked = np.argsort(g, kind="stable")
        expected = np.empty(g.size, dtype=int)
        expected[ranked] = np.arange(g.size) * k // g.size
        assert tie_bins(g, k).tolist() == expected.tolist()
    fit = fit_trace(g, 7, iid=True)
    assert fit.states == 7 and fit.note() is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("gain\n1e-9\n1e-9\n", "2 samples: too short"),
        ("gain\n1e-9\n2e7\n3e-9\n4e-9\n", "sample 2 = 2e+07: power gains must be in [1e-30, 1e+06]"),
        ("gain\n1e-9\n1e-40\n3e-9\n4e-9\n", "sample 2 = 1e-40"),
        ("gain\n1e-9\n1e400\n3e-9\n4e-9\n", "sample 2 = inf: power gains must be finite"),
        ("gain\n1e-9\n1e-9\n2e-9\n", "3 samples: too short for 2 states (its distinct gains; 8 asked for)"),
    ],
)
def test_more_bad_traces(tmp_path, capsys, text, message):
    assert_fit_refuses(tmp_path, capsys, text, 8, message)
