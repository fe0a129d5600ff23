r"""Channels fitted to a measured trace of power gains (docs/model.md section 10.5).

A trace is a CSV file with a header: a column of power gains sampled at a fixed
interval, and optionally a ``time_s`` column giving that interval. With ``K`` states:

* the samples are put in ``K`` empirical quantile bins by rank: the sample of rank ``r``
  of ``n`` goes to bin ``floor(r K / n)``, so every bin holds ``n/K`` samples up to one,
  except that equal samples always share a bin: a group of ``c`` equal samples whose
  first has rank ``s`` goes whole into the bin of its middle sample, rank
  ``s + floor((c - 1)/2)``. Bins left empty are dropped, so a trace with ``D < K``
  distinct gains (or with ties across bin edges) gets fewer states than asked for: the
  fit's :attr:`TraceFit.requested_states` keeps ``K`` and the CLI says so. (Splitting
  a tie by position, as the rule without this exception would, gives several states
  of one gain, and a chain whose moves between them record only the order in time.)
  A state's gain is the mean of its bin (the empirical conditional mean), so the gains
  increase strictly;
* ``finite`` (i.i.d.): each state's probability is its bin's share of the samples
  (``1/K`` up to ``1/n`` without ties), so the law's mean is the trace's;
* ``markov``: ``P[i, j]`` = the frequency of moves from bin ``i`` to bin ``j`` between
  consecutive samples, each row normalised. A state never left (all its moves stay in
  it) would be absorbing: that is bad input, and the message names the fix. (A trace of
  one distinct gain is the exception: its chain is the one state ``P = [[1]]``.)

The lag-1 correlation of the trace is the Pearson correlation of consecutive gains
(undefined, ``None``, when either of the two shifted series is constant); that of the
fitted chain is :math:`\sum_{ij}\pi_i P_{ij} (g_i - \mu)(g_j - \mu) / \sum_i \pi_i (g_i - \mu)^2`
with :math:`\pi` its stationary law and :math:`\mu = \pi \cdot g` (0 for ``finite``;
``None`` with one state). Gains must lie in the range of ``channel.gains``
(``1e-30 .. 1e6``), so that the fitted table is a valid instance.
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
from coopt.model.instance import RANGES

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
    """A fitted ``[channel]``: ``gains (K,)`` increasing, ``probs (K,)`` the bins' shares of
    the samples, ``transition (K, K)`` for ``markov`` (else ``None``). ``K`` is at most
    ``requested_states``: fewer when the trace has fewer distinct gains, or ties across bin
    edges (module docstring). A lag-1 correlation is ``None`` where it is undefined."""

    law: str
    gains: NDArray[np.float64]
    probs: NDArray[np.float64]
    transition: NDArray[np.float64] | None
    samples: int
    lag1_trace: float | None
    lag1_chain: float | None
    requested_states: int
    distinct: int

    @property
    def states(self) -> int:
        """The number of fitted states ``K``."""
        return int(self.gains.shape[0])

    def note(self) -> str | None:
        """Why the fit has fewer states than asked for, else ``None``."""
        if self.states == self.requested_states:
            return None
        why = (
            f"the trace has {_count(self.distinct, 'distinct gain')}"
            if self.distinct <= self.requested_states
            else f"equal gains straddle the bin edges ({_count(self.distinct, 'distinct gain')})"
        )
        return (
            f"fitted {_count(self.states, 'state')}, not the {self.requested_states} asked for: {why}, "
            "and equal gains always share a state"
        )

    def to_toml(self) -> str:
        """The ``[channel]`` table, ready to paste into an instance."""
        lines = ["[channel]", f'law = "{self.law}"', "gains = [" + ", ".join(f"{g:.9e}" for g in self.gains) + "]"]
        if self.transition is None:
            lines.append("probs = [" + ", ".join(f"{p:.15g}" for p in self.probs) + "]")
        else:
            rows = ["  [" + ", ".join(f"{p:.15g}" for p in row) + "]," for row in self.transition]
            lines += ["transition = [", *rows, "]"]
        return "\n".join(lines) + "\n"


def _count(n: int, what: str) -> str:
    return f"{n} {what}" if n == 1 else f"{n} {what}s"


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


def _lag1(g: NDArray[np.float64]) -> float | None:
    """Pearson correlation of ``g[:-1]`` and ``g[1:]``; ``None`` when either is constant."""
    if g[:-1].min() == g[:-1].max() or g[1:].min() == g[1:].max():
        return None  # (the centred series of a constant need not be exactly 0)
    a, b = g[:-1] - g[:-1].mean(), g[1:] - g[1:].mean()
    saa, sbb = float(a @ a), float(b @ b)
    return max(-1.0, min(1.0, float(a @ b) / math.sqrt(saa * sbb)))


def tie_bins(g: NDArray[np.float64], states: int) -> NDArray[np.intp]:
    """The bin ``(n,)`` of each sample, ``0 .. K'-1`` with ``K' <= states``: rank bins
    ``floor(r K / n)``, each group of equal samples whole in the bin of its middle sample,
    empty bins dropped (module docstring)."""
    n = g.shape[0]
    k = min(int(states), n)  # K >= n gives every rank its own bin, as K = n does
    order = np.argsort(g, kind="stable")
    ranked = g[order]
    first = np.flatnonzero(np.r_[True, ranked[1:] != ranked[:-1]])  # first rank of each group
    count = np.diff(np.r_[first, n])
    group_bin = ((first + (count - 1) // 2) * k) // n
    _, label = np.unique(group_bin, return_inverse=True)  # drop the empty bins
    state = np.empty(n, dtype=np.intp)
    state[order] = np.repeat(label.reshape(-1), count)
    return state


def fit_trace(gains: NDArray[np.float64], states: int, iid: bool = False, where: str = "trace") -> TraceFit:
    """Fit a ``finite`` (``iid``) or ``markov`` channel with at most ``states`` states to the gains."""
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
    low, high, _ = RANGES["channel.gains"]
    bad = np.flatnonzero((g < low) | (g > high))
    if bad.size:
        raise InstanceError(
            f"{where}: sample {bad[0] + 1} = {g[bad[0]]:g}: power gains must be in [{low:g}, {high:g}] "
            "(the range of channel.gains)"
        )
    if n < 3:
        raise InstanceError(f"{where}: {n} samples: too short for {k} states; needs at least {max(2 * k, 3)}")
    state = tie_bins(g, k)
    fitted = int(state.max()) + 1
    if n < 2 * fitted:
        asked = f"{k} states" if fitted == min(k, n) else f"{fitted} states (its distinct gains; {k} asked for)"
        raise InstanceError(f"{where}: {n} samples: too short for {asked}; needs at least {2 * fitted}")
    sizes = np.bincount(state, minlength=fitted)
    means = np.bincount(state, weights=g, minlength=fitted) / sizes
    distinct = int(np.unique(g).size)
    lag1 = _lag1(g)
    probs = sizes / n
    if iid:
        return TraceFit("finite", means, probs, None, n, lag1, 0.0 if fitted > 1 else None, k, distinct)
    counts = np.zeros((fitted, fitted))
    np.add.at(counts, (state[:-1], state[1:]), 1.0)
    for i in range(fitted if fitted > 1 else 0):
        if counts[i].sum() == counts[i, i]:
            lo, hi = g[state == i].min(), g[state == i].max()
            raise InstanceError(
                f"{where}: state {i} (gains {lo:.4g} to {hi:.4g}) is never left: the fitted chain would be "
                "absorbing; use fewer --states, a longer trace, or --iid"
            )
    P = counts / counts.sum(axis=1, keepdims=True)
    pi = stationary_distribution(P)
    chain_lag1 = None
    if fitted > 1:
        d = means - float(pi @ means)
        var = float(pi @ (d * d))
        chain_lag1 = float(pi @ (P @ d * d)) / var if var > 0 else None
    return TraceFit("markov", means, probs, P, n, lag1, chain_lag1, k, distinct)


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
