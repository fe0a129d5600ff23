"""Instances of the all-placement sweep: exact ties, duplicate gains, one state, zero probabilities, and Hypothesis strategies (tests/dp)."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from coopt import prepare
from coopt.dp.stopping import tied_or_less
from tests.support import tiny

# Layers with exact ties: "pool" has no MACs and no parameters; "id" also keeps the
# feature size, so its stop costs equal the previous layer's exactly.
TIED_ROWS = [
    ("input", 0, 3000, 0),
    ("conv", 1_500_000, 6000, 2000),
    ("pool", 0, 1500, 0),
    ("id", 0, 1500, 0),
    ("fc1", 800_000, 400, 400_400),
    ("fc2", 4000, 10, 4010),
]


FINITE4_DUP = {"law": "finite", "gains": [2e-10, 1e-9, 1e-9, 6e-9], "probs": [0.25, 0.25, 0.25, 0.25]}


ONE_STATE = {"law": "finite", "gains": [1e-9], "probs": [1.0]}


ZERO_PROB = {"law": "finite", "gains": [1e-10, 1e-9, 5e-9], "probs": [0.0, 0.7, 0.3]}


RAYLEIGH = {"law": "rayleigh", "mean_gain": 2e-9, "states": 24}


CASES = {
    "chain3-finite3": (tiny.CHAIN3, "finite3"),
    "tied-finite3": (TIED_ROWS, "finite3"),
    "tied-duplicate-gains": (TIED_ROWS, FINITE4_DUP),
    "tied-one-state": (TIED_ROWS, ONE_STATE),
    "tied-zero-prob": (TIED_ROWS, ZERO_PROB),
    "tied-rayleigh24": (TIED_ROWS, RAYLEIGH),
    "chain3-one-state": (tiny.CHAIN3, ONE_STATE),
    "one-layer-one-state": ([("input", 0, 2000, 0), ("fc", 10**6, 10, 1000)], ONE_STATE),
}


layer = st.tuples(
    st.sampled_from([0, 0, 250_000, 1_000_000, 3_000_000]),  # zero-MAC layers often
    st.sampled_from([None, 200, 2000, 9000]),  # None: keep the previous feature size
    st.sampled_from([0, 0, 1000, 300_000]),  # zero-parameter layers often
)


@st.composite
def chains(draw):
    """Profile rows of a chain of 1 to 9 layers (``tiny.instance`` rows)."""
    out0 = draw(st.sampled_from([500, 4000, 20_000]))
    rows = [("input", 0, out0, 0)]
    for i, (macs, out, params) in enumerate(draw(st.lists(layer, min_size=1, max_size=9)), start=1):
        rows.append((f"l{i}", macs, rows[-1][2] if out is None else out, params))
    return rows


@st.composite
def problems(draw):
    rows = draw(chains())
    k = draw(st.integers(1, 7))
    gains = sorted(draw(st.lists(st.sampled_from([5e-11, 2e-10, 1e-9, 4e-9, 2e-8]), min_size=k, max_size=k)))
    weights = draw(st.lists(st.sampled_from([0, 1, 2, 5]), min_size=k, max_size=k))
    if sum(weights) == 0:
        weights[-1] = 1
    probs = [w / sum(weights) for w in weights]
    mode = draw(st.sampled_from(["never", "last", "any"]))
    inst = tiny.instance(
        rows=rows,
        channel={"law": "finite", "gains": gains, "probs": probs},
        mode=mode,
        cost__time_weight=draw(st.sampled_from([0.1, 0.5, 3.0])),
        wait__slot_s=draw(st.sampled_from([1e-4, 3e-3, 5e-2])),
    )
    return prepare(inst), mode


def exact_counts(Y, x):
    return np.array([np.count_nonzero(tied_or_less(Y[n], x[n])) for n in range(Y.shape[0])])


def near_ties(Y, rng):
    """Thresholds on and around entries of each row, within and just beyond the tolerance."""
    n, k = Y.shape
    base = Y[np.arange(n), rng.integers(0, k, n)]
    factor = rng.choice([1.0, 1 + 0.9e-12, 1 - 0.9e-12, 1 + 1.1e-12, 1 - 1.1e-12, 1 + 3e-12, 1 + 5e-12], size=n)
    return base * factor
