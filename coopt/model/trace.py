r"""Channels fitted to a measured trace of power gains (docs/model.md section 10.5).

A trace is a CSV file with a header: a column of power gains sampled at a fixed
interval, and optionally a ``time_s`` column giving that interval. With ``K`` states:

* the samples are put in ``K`` equiprobable empirical quantile bins by rank (sample of
  rank ``r`` of ``n`` in bin ``floor(r K / n)``, so every bin holds ``n/K`` samples up
  to one); a state's gain is the mean of its bin (the empirical conditional mean);
* ``finite`` (i.i.d.): probability ``1/K`` each;
* ``markov``: ``P[i, j]`` = the frequency of moves from bin ``i`` to bin ``j`` between
  consecutive samples, each row normalised. A state never left (all its moves stay in
  it) would be absorbing: that is bad input, and the message names the fix.

The lag-1 correlation of the trace is the Pearson correlation of consecutive gains; that
of the fitted chain is :math:`(\sum_{ij}\pi_i P_{ij} g_i g_j - \mu^2)/(\sum_i \pi_i g_i^2 - \mu^2)`
with :math:`\pi` its stationary law and :math:`\mu = \pi \cdot g` (0 for ``finite``).
The chain makes one move per epoch and per waiting slot, so it is faithful when the
sampling interval is close to an epoch's duration; :func:`epoch_mismatch` compares them.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from coopt.errors import InstanceError
from coopt.model.channel import stationary_distribution
from coopt.model.files import read_text

TIME_COLUMN = "time_s"
INTERVAL_RTOL = 1e-6  # the time column's steps must agree to this relative tolerance
MISMATCH_FACTOR = 2.0  # warn when the interval and the median epoch differ by more than this factor


@dataclass(frozen=True)
class Trace:
    """Power gains ``(n,)`` of one column and the sampling interval (``None`` without a time column)."""

    gains: NDArray[np.float64]
    column: str
    interval_s: float | None


@dataclass(frozen=True, eq=False)
class TraceFit:
    """A fitted ``[channel]``: ``gains (K,)``, ``transition (K, K)`` for ``markov`` (else ``None``)."""

    law: str
    gains: NDArray[np.float64]
    transition: NDArray[np.float64] | None
    samples: int
    lag1_trace: float
    lag1_chain: float

    def to_toml(self) -> str:
        """The ``[channel]`` table, ready to paste into an instance."""
        k = self.gains.shape[0]
        lines = ["[channel]", f'law = "{self.law}"', "gains = [" + ", ".join(f"{g:.9e}" for g in self.gains) + "]"]
        if self.transition is None:
            lines.append("probs = [" + ", ".join(f"{1.0 / k:.15g}" for _ in range(k)) + "]")
        else:
            rows = ["  [" + ", ".join(f"{p:.15g}" for p in row) + "]," for row in self.transition]
            lines += ["transition = [", *rows, "]"]
        return "\n".join(lines) + "\n"


def read_trace(path: str | Path, column: str | None = None) -> Trace:
    """Read a trace CSV; ``column`` names the gain column (default: the only column other than ``time_s``)."""
    path = Path(path)
    text = read_text(path, "trace file")
    rows = [r for r in csv.reader(io.StringIO(text, newline="")) if r and not r[0].lstrip().startswith("#")]
    if not rows:
        raise InstanceError(f"{path}: empty trace; needs a header and one power gain per row")
    header = [h.strip() for h in rows[0]]
    others = [h for h in header if h != TIME_COLUMN]
    if column is None:
        if len(others) != 1:
            raise InstanceError(f"{path}: columns {header}: give --column, one of {others}")
        column = others[0]
    if column not in header:
        raise InstanceError(f"{path}: --column {column!r}: not a column; columns are {header}")

    def numbers(name: str) -> NDArray[np.float64]:
        i = header.index(name)
        out = np.empty(len(rows) - 1)
        for line, r in enumerate(rows[1:], start=2):
            try:
                out[line - 2] = float(r[i])
            except (ValueError, IndexError):
                value = r[i] if i < len(r) else ""
                raise InstanceError(f"{path}: line {line}, column {name!r} = {value!r}: must be a number") from None
        return out

    gains = numbers(column)
    interval = None
    if TIME_COLUMN in header:
        t = numbers(TIME_COLUMN)
        steps = np.diff(t)
        if steps.size == 0 or not np.all(np.isfinite(steps)) or steps.min() <= 0:
            raise InstanceError(f"{path}: column {TIME_COLUMN!r}: must increase strictly")
        interval = float(np.mean(steps))
        if np.abs(steps - interval).max() > INTERVAL_RTOL * interval:
            raise InstanceError(
                f"{path}: column {TIME_COLUMN!r}: steps from {steps.min():g} to {steps.max():g} s; "
                "a trace must be sampled at a fixed interval"
            )
    return Trace(gains, column, interval)


def fit_trace(gains: NDArray[np.float64], states: int, iid: bool = False, where: str = "trace") -> TraceFit:
    """Fit a ``finite`` (``iid``) or ``markov`` channel with ``states`` states to the gains."""
    g = np.asarray(gains, dtype=np.float64)
    n, k = g.shape[0], int(states)
    if k < 1:
        raise InstanceError(f"--states = {k}: must be an integer >= 1")
    bad = np.flatnonzero(~np.isfinite(g))
    if bad.size:
        raise InstanceError(f"{where}: sample {bad[0] + 1} = {g[bad[0]]}: power gains must be finite numbers")
    bad = np.flatnonzero(g <= 0)
    if bad.size:
        raise InstanceError(f"{where}: sample {bad[0] + 1} = {g[bad[0]]:g}: power gains must be > 0")
    if n < 2 * k or n < 3:
        raise InstanceError(f"{where}: {n} samples: too short for {k} states; needs at least {max(2 * k, 3)}")
    order = np.argsort(g, kind="stable")
    state = np.empty(n, dtype=np.intp)
    state[order] = (np.arange(n) * k) // n
    means = np.bincount(state, weights=g, minlength=k) / np.bincount(state, minlength=k)
    lag1 = float(np.corrcoef(g[:-1], g[1:])[0, 1])
    if iid:
        return TraceFit("finite", means, None, n, lag1, 0.0)
    counts = np.zeros((k, k))
    np.add.at(counts, (state[:-1], state[1:]), 1.0)
    for i in range(k):
        if counts[i].sum() == counts[i, i]:
            lo, hi = g[state == i].min(), g[state == i].max()
            raise InstanceError(
                f"{where}: state {i} (gains {lo:.4g} to {hi:.4g}) is never left: the fitted chain would be "
                "absorbing; use fewer --states, a longer trace, or --iid"
            )
    P = counts / counts.sum(axis=1, keepdims=True)
    pi = stationary_distribution(P)
    mu = float(pi @ means)
    var = float(pi @ means**2) - mu * mu
    chain_lag1 = (float(pi @ (P @ means * means)) - mu * mu) / var if var > 0 else 0.0
    return TraceFit("markov", means, P, n, lag1, chain_lag1)


def epoch_mismatch(interval_s: float, epoch_s: list[float]) -> str | None:
    """A warning when the sampling interval is more than ``MISMATCH_FACTOR`` away from the
    median epoch duration (layer times > 0 and the waiting slot), else ``None``."""
    durations = [d for d in epoch_s if d > 0 and math.isfinite(d)]
    if not durations:
        return None
    median = float(np.median(durations))
    ratio = interval_s / median
    if 1.0 / MISMATCH_FACTOR <= ratio <= MISMATCH_FACTOR:
        return None
    return (
        f"the sampling interval {interval_s:g} s is {ratio:.3g} times the median epoch duration {median:g} s "
        f"(epochs from {min(durations):g} to {max(durations):g} s); the chain moves once per epoch, so it "
        "is faithful only when they are close: resample the trace"
    )
