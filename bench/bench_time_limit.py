"""Benchmark: does ``--method mip --time-limit T`` return after about T seconds?

    python bench/bench_time_limit.py                      # N = 1000 layers, K = 16, T = 2
    python bench/bench_time_limit.py --n 300 1000 --limit 2 10

For each chain (bench/chains.py, Rayleigh quantised to K states, wait mode last) and
limit it runs ``coopt.solve(..., method="mip")`` once and prints the wall time of the
call, its ratio to the limit, and how it ended: solved (with HiGHS's termination) or
the step named by the ``NoSolutionError``. The time counts from the call, after Pyomo
is imported (the first call imports it outside the timing). Wall times are noisy on a
shared machine: read the ratios, not the digits.
"""

from __future__ import annotations

import argparse
import sys
import time

from bench_mip import make_instance  # bench/bench_mip.py (the script's folder is on sys.path)
from coopt import solve
from coopt.errors import NoSolutionError


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, nargs="*", default=[1000])
    ap.add_argument("--k", type=int, default=16)
    ap.add_argument("--limit", type=float, nargs="*", default=[2.0])
    args = ap.parse_args(argv)
    from coopt.mip.highs import MipOptions, require_solver
    from coopt.mip.report import mip_report

    require_solver()
    import coopt.mip.method  # noqa: F401  (Pyomo's import outside the timing)

    print(f"{'N':>5} {'K':>4} {'limit s':>8} {'wall s':>8} {'wall/limit':>10}  outcome")
    for n in args.n:
        inst = make_instance(n, args.k, markov=False)
        for limit in args.limit:
            t0 = time.perf_counter()
            try:
                res = solve(inst, method="mip", mip_options=MipOptions(time_limit=limit))
                report = mip_report(res)
                assert report is not None
                outcome = f"solved: {report.termination}, M* = {res.placement}"
            except NoSolutionError as exc:
                outcome = "stopped: " + str(exc).split(" reached while ")[-1].split(", after")[0]
            wall = time.perf_counter() - t0
            print(f"{n:>5} {args.k:>4} {limit:>8.3g} {wall:>8.2f} {wall / limit:>10.2f}  {outcome}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
