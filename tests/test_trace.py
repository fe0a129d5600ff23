"""Channels fitted to a trace (docs/model.md 10.5) and the shipped synthetic trace."""

from __future__ import annotations

import math
import runpy
import tomllib
from pathlib import Path

import numpy as np
import pytest

from coopt import parse_instance, solve
from coopt.cli.main import main
from coopt.errors import InstanceError
from coopt.model import fading
from coopt.model.trace import fit_trace, read_trace

from .conftest import make_doc

DATA = Path(__file__).parent.parent / "data"
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
    path = tmp_path / "t.csv"
    path.write_text(text)
    assert main(["channel", "fit", str(path), "--states", "2"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1 and message in captured.err


def test_fit_refuses_nothing_valid():
    with pytest.raises(InstanceError, match="--states = 0"):
        fit_trace(np.ones(10), 0)
