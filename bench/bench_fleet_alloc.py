"""Benchmark: the fleet allocation (MODEL.md 11) on random monotone tables, MIP against Lagrangian.

    python bench/bench_fleet_alloc.py                      # G in {10, 20, 50, 100, 200, 500, 1000}
    python bench/bench_fleet_alloc.py --kinds 50 --mip-max 200 --time-limit 60

Each of G distinct kinds has a random number of copies (1..19, mean 10: G = 1000 is about
10,000 devices) and a table on the 17 x 17 levels k/16 that falls as either share grows:
``Phi(x, y) = min(D, c + a / x + b / y)`` (``D`` device-only, ``+inf`` terms at a zero share),
random ``a, b, c, D``. For each G it prints the LP relaxation's time, the Lagrangian's
time and certified gap, the MIP's wall time (Pyomo build + HiGHS), termination and gap,
and the Lagrangian's excess over the MIP's F. These numbers set
``coopt.fleet.allocation.AUTO_MIP_MAX_KINDS``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from coopt.fleet.allocation import allocate, lp_relaxation
from coopt.mip.highs import MipOptions

LEVELS = np.arange(17) / 16


def random_fleet(kinds: int, seed: int, max_count: int = 19) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X, Y = np.meshgrid(LEVELS, LEVELS, indexing="ij")
    with np.errstate(divide="ignore"):
        inv_x, inv_y = 1 / X, 1 / Y
    tables = []
    for _ in range(kinds):
        D = rng.uniform(1.0, 3.0)
        a, b = rng.uniform(0.005, 0.1, 2)
        c = rng.uniform(0.1, 0.8)
        tables.append(np.minimum(D, c + a * inv_x + b * inv_y))
    counts = rng.integers(1, max_count + 1, kinds)
    weights = rng.uniform(0.5, 2.0, kinds)
    return tables, counts, weights


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kinds", type=int, nargs="*", default=[10, 20, 50, 100, 200, 500, 1000])
    ap.add_argument("--mip-max", type=int, default=1000, help="largest G the MIP is run on")
    ap.add_argument("--time-limit", type=float, default=120.0, help="MIP wall-time limit, s")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--max-count", type=int, default=19, help="copies per kind: uniform on 1..this")
    args = ap.parse_args()
    print(
        f"{'G':>5} {'U':>6} {'LP s':>7} {'Lagr s':>7} {'Lagr gap':>9} {'MIP s':>7} {'MIP status':>11} {'MIP gap':>8} {'Lagr/MIP-1':>10}"
    )
    for G in args.kinds:
        tables, counts, weights = random_fleet(G, args.seed + G, args.max_count)
        t0 = time.perf_counter()
        lp_relaxation(tables, counts, weights, LEVELS, LEVELS)
        t_lp = time.perf_counter() - t0
        lag = allocate(tables, counts, weights, LEVELS, LEVELS, method="lagrangian")
        mip_cols = ["-", "-", "-", "-"]
        if G <= args.mip_max:
            mip = allocate(
                tables, counts, weights, LEVELS, LEVELS, method="mip", options=MipOptions(time_limit=args.time_limit)
            )
            status = mip.termination.value if mip.termination else "-"
            mip_cols = [
                f"{mip.wall_time_s:7.2f}",
                status,
                f"{mip.gap:8.1e}",
                f"{lag.objective / mip.objective - 1:10.1e}",
            ]
            assert lag.objective >= mip.bound * (1 - 1e-9), "the Lagrangian beat a proven bound"
        print(
            f"{G:5d} {int(counts.sum()):6d} {t_lp:7.3f} {lag.wall_time_s:7.3f} {lag.gap:9.1e} "
            f"{mip_cols[0]:>7} {mip_cols[1]:>11} {mip_cols[2]:>8} {mip_cols[3]:>10}",
            flush=True,
        )


if __name__ == "__main__":
    main()
