"""Synthetic chain profiles shared by the benchmarks (bench_fast.py, bench_mip.py)."""

from __future__ import annotations

import numpy as np

from coopt import Profile


def chain_profile(n_layers: int, seed: int = 0) -> Profile:
    """A chain of ``n_layers`` layers: a 3x64x64 input, features shrinking by a random
    0.80-1.05 per layer, 0.2-2 M MACs per layer, parameters growing towards the end."""
    rng = np.random.default_rng(seed)
    out, macs, params = [12288], [0], [0]
    for i in range(1, n_layers + 1):
        depth = i / n_layers
        out.append(max(16, int(out[-1] * rng.uniform(0.8, 1.05))) if i < n_layers else 10)
        macs.append(int(rng.uniform(2e5, 2e6)))
        params.append(int(rng.uniform(5e2, 5e3) * (1 + 30 * depth**2)))
    return Profile(
        name=f"chain{n_layers}",
        layer_names=("input",) + tuple(f"layer{i}" for i in range(1, n_layers + 1)),
        macs=np.asarray(macs, dtype=np.int64),
        out_elems=np.asarray(out, dtype=np.int64),
        params=np.asarray(params, dtype=np.int64),
    )
