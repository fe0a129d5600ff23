"""Markov channels and problems drawn by Hypothesis for the Markov sweep (tests/dp)."""

from __future__ import annotations

from hypothesis import strategies as st

from coopt import prepare
from tests.support import tiny
from tests.support.dp_cases import chains  # the i.i.d. sweep's tied layers and chain draws

MODES = ("never", "last", "any")


@st.composite
def markov_channels(draw, k: int):
    """A random K-state chain; rows with no mass become absorbing (reducible chains often)."""
    rows = []
    for i in range(k):
        weights = draw(st.lists(st.sampled_from([0, 0, 1, 2, 5]), min_size=k, max_size=k))
        if sum(weights) == 0:
            weights[i] = 1
        rows.append([w / sum(weights) for w in weights])
    initial = draw(st.lists(st.sampled_from([0, 1, 3]), min_size=k, max_size=k))
    if sum(initial) == 0:
        initial[0] = 1
    gains = sorted(draw(st.lists(st.sampled_from([5e-11, 2e-10, 1e-9, 4e-9, 2e-8]), min_size=k, max_size=k)))
    return {"law": "markov", "gains": gains, "transition": rows, "initial": [w / sum(initial) for w in initial]}


@st.composite
def problems(draw):
    rows = draw(chains())
    channel = draw(markov_channels(draw(st.integers(1, 6))))
    mode = draw(st.sampled_from(MODES))
    inst = tiny.instance(
        rows=rows,
        channel=channel,
        mode=mode,
        cost__time_weight=draw(st.sampled_from([0.1, 0.5, 3.0])),
        wait__slot_s=draw(st.sampled_from([1e-4, 3e-3, 5e-2])),
        placement__memory_bits=draw(st.sampled_from([1e30, 1e6, 2e4])),
    )
    return prepare(inst), mode
