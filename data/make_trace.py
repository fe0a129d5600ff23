"""Generate data/trace_gauss_markov.csv: a synthetic trace of power gains.

Gauss-Markov Rayleigh fading (docs/model.md 10.4): the complex amplitude follows the exact
recursion g[t+1] = r g[t] + sqrt(1 - r^2) w[t] with r = exp(-dt / T_c) and w[t]
independent CN(0, mean_gain), g[0] ~ CN(0, mean_gain); the power gain is |g[t]|^2.
Parameters: 2000 samples at dt = 5 ms, T_c = 20 ms (lag-1 amplitude correlation
exp(-1/4) = 0.78, power-gain correlation r^2 = 0.61), mean_gain = 5e-11 (the gain of
data/cnn_chain.toml), seed 20261129 (numpy.random.default_rng). The test
tests/model/test_trace.py regenerates the file and compares it byte for byte.

Usage: python data/make_trace.py [OUTPUT.csv]
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np

SEED = 20261129
SAMPLES = 2000
INTERVAL_S = 0.005
COHERENCE_S = 0.02
MEAN_GAIN = 5e-11
OUTPUT = Path(__file__).with_name("trace_gauss_markov.csv")


def make_trace(samples: int = SAMPLES, seed: int = SEED) -> str:
    """The CSV text (header ``time_s,gain``)."""
    rng = np.random.default_rng(seed)
    r = math.exp(-INTERVAL_S / COHERENCE_S)
    s = math.sqrt(1.0 - r * r)
    z = (rng.standard_normal((samples, 2)) @ np.array([1.0, 1j])) * math.sqrt(MEAN_GAIN / 2.0)
    g = np.empty(samples, dtype=np.complex128)
    g[0] = z[0]
    for t in range(1, samples):
        g[t] = r * g[t - 1] + s * z[t]
    lines = ["time_s,gain"] + [f"{t * INTERVAL_S:.6f},{abs(x) ** 2:.9e}" for t, x in enumerate(g)]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else OUTPUT
    out.write_text(make_trace(), encoding="utf-8")
