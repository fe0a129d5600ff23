"""Benchmark: coopt.dp.fast (every placement in one sweep) against the straightforward
per-placement recursion, quantecon's DiscreteDP backward induction, the MIP (HiGHS)
and the floor (building the N x K stop-cost table once with NumPy).

    python bench/bench_fast.py                  # the grid N in {50, 200, 1000} x K in {64, 1024, 16384}
    python bench/bench_fast.py --n 200 --k 1024 # one size
    python bench/bench_fast.py --budget 30      # skip slow methods estimated above 30 s

Everything runs in this one process. Times are medians of repeated runs (a method
whose one run takes over a second is run once). Instances: a random chain of N layers
(bench_mip's generator), i.i.d. Rayleigh fading quantised to K states.

Table 1 (wait mode ``never``, rule ``optimal``, every placement M = 0..N): the three
DP routes must give the same J(M) for every M (fast vs reference and vs quantecon to
1e-12 relative), and the MIP the same Phi(M*) (to 1e-9). quantecon has no notion of a
horizon-indexed family, so a user encodes each placement as its own DiscreteDP
(states (epoch, channel state), a "draw" state between epochs, an absorbing "done"
state; beta = 1; 2M + 1 periods) and calls ``backward_induction`` once per placement;
its time includes building each DiscreteDP. A slow method is skipped when a timed
run of its largest placement, extrapolated to all placements, exceeds ``--budget``.

Table 2 (the targets): N = 200, K = 4096, wait mode ``last``, both rules, every
placement: the fast solver's median against 20 ms and against 10 x the floor.

Table 3: peak memory (tracemalloc) of quantising the channel, building Y and solving
every placement for N = 1000, K = 16384, against 1 GB.

Table 4 (``--scale``; issue 19 item 1): N = 2,000 .. 50,000 units, K = 256, wait mode
``last``, every placement, both rules. In this process: the sweep (both rules, then the
policy at M* by one backward pass) against a plain O(N)-memory recursion (optimal rule
only: one vector of continuation values, each row sorted with its prefix sums, the
waiting root of :func:`coopt.dp.stopping.iid_wait_fixed_point`), same J(M) to 1e-12. As a
fresh process: ``coopt solve --json`` under ``/usr/bin/time -v`` (wall time, peak RSS).
Exponents are least-squares slopes of log time (or log of the RSS above the 50-unit
run's) against log N. Targets at N = 20,000: peak RSS <= 500 MB, sweep <= 1.5 x the
recursion.

The instances are generated CSV profiles (the chain of ``bench/chains.py``'s generator,
as in ``bench_solve_cli.py``) with a TOML beside them; to build the 20,000-unit one::

    python bench/bench_fast.py --write-instance 20000 /tmp/big  # /tmp/big/chain20000.{csv,toml}
    /usr/bin/time -v coopt solve /tmp/big/chain20000.toml --json > /dev/null
"""

from __future__ import annotations

import argparse
import math
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
import warnings
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from bench_solve_cli import CHAIN_TOML, chain_csv, coopt_command
from chains import chain_profile  # bench/chains.py (the script's folder is on sys.path)
from coopt import parse_instance
from coopt.dp.fast import solve_all
from coopt.dp.placement import argmin_placement, enumerate_rules
from coopt.dp.stopping import iid_wait_fixed_point
from coopt.model.problem import Problem, prepare

RTOL_DP = 1e-12
SCALE_N = [2000, 5000, 10_000, 20_000, 50_000]
SCALE_K = 256
TARGET_RSS_BYTES = 500 * 10**6
TARGET_RATIO = 1.5
RTOL_MIP = 1e-9
QE_MEMORY_LIMIT = 2 * 2**30  # bytes quantecon's backward_induction may allocate for one placement


# ----------------------------------------------------------------------------- instances


def make_problem(n_layers: int, states: int, mode: str, seed: int = 0) -> Problem:
    doc = {
        "network": {"profile": "lenet5", "feature_bits": 32, "param_bits": 32},
        "device": {"cpu_hz": 1.5e9, "cycles_per_mac": 1.0, "kappa": 1e-28, "tx_power_w": 0.2, "idle_power_w": 0.01},
        "edge": {"cpu_hz": 3e9, "cycles_per_mac": 0.02},
        "uplink": {"bandwidth_hz": 2e7, "noise_w": 1e-13},
        "channel": {"law": "rayleigh", "mean_gain": 5e-11, "states": states},
        "cost": {"energy_weight": 1.0, "time_weight": 1.5},
        "wait": {"mode": mode, "slot_s": 0.005},
        "placement": {"tasks_per_period": 2000, "downlink_bps": 1e8, "rx_energy_per_bit": 5e-9},
    }
    inst = parse_instance(doc, name=f"chain{n_layers}-K{states}")
    inst = replace(inst, network=replace(inst.network, profile=chain_profile(n_layers, seed)))
    return prepare(inst)


# ----------------------------------------------------------------------------- timing


def median_time(fn: Callable[[], Any], min_total: float = 0.5, max_runs: int = 31) -> tuple[float, Any]:
    """Median wall time of ``fn`` over repeated runs (one run if it takes over a second)."""
    times: list[float] = []
    out = None
    while True:
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
        if times[0] > 1.0 or len(times) >= max_runs or (sum(times) >= min_total and len(times) >= 5):
            return statistics.median(times), out


def fmt_time(seconds: float | None) -> str:
    if seconds is None or math.isnan(seconds):
        return "-"
    return f"{seconds * 1e3:.3g} ms" if seconds < 1 else f"{seconds:.3g} s"


# ----------------------------------------------------------------------------- the methods


def fast_values(problem: Problem, mode: str, rules: tuple[str, ...], method: str = "model") -> dict[str, np.ndarray]:
    tables = solve_all(problem.Y, problem.channel, mode, problem.costs, rules, method=method)
    return {r: tables[r].values for r in rules}


def reference_values(
    problem: Problem, mode: str, rules: tuple[str, ...], horizons: list[int] | None = None
) -> dict[str, np.ndarray]:
    placements = list(range(problem.costs.n_layers + 1)) if horizons is None else horizons
    by_rule = enumerate_rules(
        problem.Y, problem.channel, mode, problem.costs, rules, placements, 1.0, method="reference"
    )
    return {r: np.array([v.task_cost for v in by_rule[r][0]]) for r in rules}


def quantecon_value(Y: np.ndarray, p: np.ndarray, horizon: int) -> float:
    """J*(M) (wait mode never) from quantecon's backward induction on a DiscreteDP.

    States: (n, k) for n = 0..M (index n K + k), then draw_1..draw_M, then done.
    (n, k) has "stop" (reward -Y_n(g_k), to done) and, for n < M, "compute" (reward 0,
    to draw_{n+1}); draw_n moves to (n, k') with probability p_k'; done is absorbing.
    T = 2M + 1 periods from epoch 0 reach done on every path.
    """
    from quantecon.markov import DiscreteDP, backward_induction
    from scipy import sparse

    m = horizon
    k = Y.shape[1]
    n_grid = (m + 1) * k
    done = n_grid + m
    grid = np.arange(n_grid)
    epoch = grid // k
    pairs = 1 + (epoch < m)
    first = np.concatenate([[0], np.cumsum(pairs)[:-1]])
    n_pairs = int(pairs.sum())
    s_grid = np.repeat(grid, pairs)
    a_grid = np.zeros(n_pairs, dtype=int)
    a_grid[first[epoch < m] + 1] = 1
    r_grid = np.zeros(n_pairs)
    r_grid[first] = -Y[: m + 1].ravel()
    to = np.where(a_grid == 0, done, n_grid + epoch[s_grid])  # draw_{n+1} is n_grid + n
    s_idx = np.concatenate([s_grid, n_grid + np.arange(m), [done]])
    a_idx = np.concatenate([a_grid, np.zeros(m, dtype=int), [0]])
    reward = np.concatenate([r_grid, np.zeros(m), [0.0]])
    n_sa = s_idx.size
    rows = np.concatenate([np.arange(n_pairs), np.repeat(n_pairs + np.arange(m), k), [n_sa - 1]])
    cols = np.concatenate([to, (np.arange(1, m + 1)[:, None] * k + np.arange(k)[None, :]).ravel(), [done]])
    vals = np.concatenate([np.ones(n_pairs), np.tile(p, m), [1.0]])
    Q = sparse.csr_matrix((vals, (rows, cols)), shape=(n_sa, done + 1))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "infinite horizon methods disabled with beta=1"
        ddp = DiscreteDP(reward, Q, 1.0, s_idx, a_idx)
    vs, _ = backward_induction(ddp, 2 * m + 1)
    return float(-(p @ vs[0][:k]))


def quantecon_bytes(n_layers: int, states: int) -> int:
    """Memory of ``backward_induction``'s value and policy arrays for placement N."""
    n_states = (n_layers + 1) * states + n_layers + 1
    return (2 * n_layers + 2) * n_states * 8 * 2


def quantecon_values(problem: Problem) -> np.ndarray:
    p = problem.channel.probs
    return np.array([quantecon_value(problem.Y, p, m) for m in range(problem.costs.n_layers + 1)])


def mip_objective(problem: Problem, time_limit: float) -> tuple[float | None, int | None, str]:
    from coopt.mip.formulation import build_placement_model
    from coopt.mip.highs import MipOptions, solve_mip

    res = solve_mip(build_placement_model(problem), MipOptions(time_limit=time_limit))
    return res.objective, res.placement, res.termination.value


def mip_available() -> bool:
    try:
        import coopt.mip.formulation
        import coopt.mip.highs  # noqa: F401
    except ImportError:
        return False
    return True


# ----------------------------------------------------------------------------- tables


def estimate_all(one_run: float, horizon: int, n_layers: int, power: int) -> float:
    """Extrapolate the time of one placement ``horizon`` to all placements ``0..N``
    when one placement costs ~ M^power."""
    return one_run * sum((m / horizon) ** power for m in range(n_layers + 1))


def table_one(sizes: list[tuple[int, int]], budget: float, mip_max: tuple[int, int]) -> list[dict[str, Any]]:
    mode = "never"
    have_mip = mip_available()
    # quantecon compiles its Bellman operator with Numba on first use: not part of any size's time.
    warm = make_problem(3, 4, mode)
    quantecon_value(warm.Y, warm.channel.probs, 3)
    print(f"Table 1: wait mode {mode}, rule optimal, every placement M = 0..N; medians; i.i.d. Rayleigh")
    print(
        f"{'N':>5} {'K':>6} {'floor':>10} {'fast':>10} {'fast/floor':>10} {'table':>10} {'reference':>10} "
        f"{'ref/fast':>9} {'quantecon':>10} {'qe/fast':>9} {'MIP':>10} {'MIP/fast':>9}  checks"
    )
    rows = []
    for n, k in sizes:
        problem = make_problem(n, k, mode)
        t_floor, _ = median_time(lambda: problem.costs.stop_cost(problem.channel.gains))
        t_fast, fast = median_time(lambda: fast_values(problem, mode, ("optimal",)))
        t_table, table = median_time(lambda: fast_values(problem, mode, ("optimal",), "table"))
        J = fast["optimal"]
        checks = [f"table {np.max(np.abs(table['optimal'] - J) / J):.0e}"]
        row: dict[str, Any] = {"N": n, "K": k, "floor": t_floor, "fast": t_fast, "table": t_table}
        # Reference: one placement costs ~ M, all ~ N^2 / 2.
        t0 = time.perf_counter()
        reference_values(problem, mode, ("optimal",), [n])
        est = estimate_all(time.perf_counter() - t0, n, n, 1)
        if est <= budget:
            t_ref, ref = median_time(lambda: reference_values(problem, mode, ("optimal",)))
            rel = np.max(np.abs(ref["optimal"] - J) / J)
            checks.append(f"ref {rel:.0e}" + ("" if rel <= RTOL_DP else " MISMATCH"))
            row["reference"] = t_ref
        else:
            checks.append(f"ref skipped (est. {est:.0f} s)")
        # quantecon: one placement costs ~ M^2 (2M+1 periods over ~2MK state-actions),
        # and backward_induction keeps every period's values: (2M+2) x ((M+1)K + M + 1).
        memory = quantecon_bytes(n, k)
        probe = max(1, min(n, n // 4))
        t0 = time.perf_counter()
        if memory <= QE_MEMORY_LIMIT:
            quantecon_value(problem.Y, problem.channel.probs, probe)
        est = estimate_all(time.perf_counter() - t0, probe, n, 2)
        if memory > QE_MEMORY_LIMIT:
            checks.append(f"qe skipped (needs {memory / 2**30:.0f} GiB for M = N)")
        elif est <= budget:
            t_qe, qe = median_time(lambda: quantecon_values(problem), min_total=0.0, max_runs=3)
            rel = np.max(np.abs(qe - J) / J)
            checks.append(f"qe {rel:.0e}" + ("" if rel <= RTOL_DP else " MISMATCH"))
            row["quantecon"] = t_qe
        else:
            checks.append(f"qe skipped (est. {est:.0f} s)")
        if have_mip and n <= mip_max[0] and k <= mip_max[1]:
            t0 = time.perf_counter()
            obj, m_mip, status = mip_objective(problem, budget)
            row["mip"] = time.perf_counter() - t0
            best = argmin_placement(
                enumerate_rules(
                    problem.Y,
                    problem.channel,
                    mode,
                    problem.costs,
                    ("optimal",),
                    problem.placements,
                    problem.instance.placement.tasks_per_period,
                )["optimal"][0]
            )
            rel = abs(obj - best.objective) / best.objective if obj is not None else math.nan
            checks.append(f"MIP {status} M={m_mip} {rel:.0e}" + ("" if rel <= RTOL_MIP else " MISMATCH"))
        elif not have_mip:
            checks.append("MIP not available")
        row["checks"] = checks
        rows.append(row)

        def ratio(key: str) -> str:
            return f"{row[key] / t_fast:9.0f}" if key in row else f"{'-':>9}"

        print(
            f"{n:>5} {k:>6} {fmt_time(t_floor):>10} {fmt_time(t_fast):>10} {t_fast / t_floor:>10.2f} "
            f"{fmt_time(t_table):>10} {fmt_time(row.get('reference')):>10} {ratio('reference')} "
            f"{fmt_time(row.get('quantecon')):>10} {ratio('quantecon')} {fmt_time(row.get('mip')):>10} "
            f"{ratio('mip')}  {'; '.join(checks)}",
            flush=True,
        )
    return rows


def table_two(n: int = 200, k: int = 4096) -> bool:
    mode = "last"
    problem = make_problem(n, k, mode)
    rules = ("optimal", "osla")
    print(f"\nTable 2 (targets): N = {n}, K = {k}, i.i.d. Rayleigh, wait mode {mode}, both rules, every placement")
    t_floor, _ = median_time(lambda: problem.costs.stop_cost(problem.channel.gains), min_total=1.0)
    results = {}
    for method in ("model", "table", "auto"):
        results[method] = median_time(lambda: fast_values(problem, mode, rules, method), min_total=1.0)
    t0 = time.perf_counter()
    ref = reference_values(problem, mode, rules)
    t_ref = time.perf_counter() - t0
    worst = max(np.max(np.abs(results["model"][1][r] - ref[r]) / ref[r]) for r in rules)
    for method, (t, _) in results.items():
        print(
            f"  fast ({method:>5}): {fmt_time(t):>9}  = {t / t_floor:5.2f} x floor, reference / fast = {t_ref / t:6.0f}"
        )
    t_fast = results["model"][0]
    print(
        f"  floor (Y table once): {fmt_time(t_floor)}; reference (one run, both rules): {fmt_time(t_ref)}; "
        f"max relative difference fast vs reference {worst:.1e}"
    )
    ok = t_fast < 0.020 and t_fast <= 10 * t_floor and worst <= RTOL_DP
    print(
        f"  target < 20 ms: {'met' if t_fast < 0.020 else 'MISSED'}; within 10 x floor: "
        f"{'met' if t_fast <= 10 * t_floor else 'MISSED'}"
    )
    return ok


def table_three(n: int = 1000, k: int = 16384) -> bool:
    print(f"\nTable 3: peak memory for N = {n}, K = {k} (quantise, Y, both rules every placement, policy of M*)")
    tracemalloc.start()
    tracemalloc.reset_peak()
    t0 = time.perf_counter()
    problem = make_problem(n, k, "last")
    tables = solve_all(problem.Y, problem.channel, "last", problem.costs)
    best = int(np.argmin(tables["optimal"].values))
    tables["optimal"].policy(best)
    wall = time.perf_counter() - t0
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    y_bytes = problem.Y.nbytes
    print(
        f"  tracemalloc peak {peak / 2**20:.0f} MiB (the Y table alone: {y_bytes / 2**20:.0f} MiB), wall {wall:.2f} s"
    )
    t_model, _ = median_time(lambda: solve_all(None, problem.channel, "last", problem.costs), min_total=1.0)
    tracemalloc.start()
    solve_all(None, problem.channel, "last", problem.costs)
    _, peak_model = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(
        f"  solving from the cost model alone (Y never formed): {fmt_time(t_model)}, peak {peak_model / 2**20:.0f} MiB"
    )
    return peak < 2**30


def write_instance(n_layers: int, folder: Path) -> Path:
    """``folder/chain{N}.csv`` (bench_solve_cli's generated chain profile) and the TOML
    that uses it: i.i.d. Rayleigh, K = 256, wait mode ``last``. Returns the TOML's path."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"chain{n_layers}.csv").write_text(chain_csv(n_layers), encoding="utf-8")
    toml = folder / f"chain{n_layers}.toml"
    text = CHAIN_TOML.replace("chain50.csv", f"chain{n_layers}.csv").replace("50-layer", f"{n_layers}-layer")
    toml.write_text(text.replace("states = 256", f"states = {SCALE_K}"), encoding="utf-8")
    return toml


def plain_recursion(Y: np.ndarray, p: np.ndarray, c_w: float) -> np.ndarray:
    """J*(M) for every M, wait mode ``last``, in O(N) memory: one vector ``e[M]`` of
    E[V_n^(M)] updated from n = N down to 0 (each row sorted, prefix sums, a binary search
    per horizon); ``e[n]`` starts horizon n at its waiting root (or E[Y_N])."""
    n_rows, k = Y.shape
    e = np.empty(n_rows)
    for n in range(n_rows - 1, -1, -1):
        order = np.argsort(Y[n], kind="stable")
        z, q = Y[n][order], p[order]
        S = np.concatenate([[0.0], np.cumsum(z * q)])
        tail = np.concatenate([np.cumsum(q[::-1])[::-1], [0.0]])
        if n < n_rows - 1:
            c = e[n + 1 :]
            t = z.searchsorted(c, side="right")
            e[n + 1 :] = S[t] + c * tail[t]
        e[n] = iid_wait_fixed_point(Y[n], p, c_w) if n < n_rows - 1 else S[k]
    return e


def peak_rss(cmd: list[str]) -> tuple[float, int]:
    """Wall time and peak RSS (bytes) of ``cmd`` as a fresh process: ``/usr/bin/time -v``
    where it exists, else the child's own ``getrusage`` from a wrapper."""
    if shutil.which("/usr/bin/time"):
        t0 = time.perf_counter()
        run = subprocess.run(["/usr/bin/time", "-v"] + cmd, capture_output=True, text=True, check=True)
        wall = time.perf_counter() - t0
        line = next(x for x in run.stderr.splitlines() if "Maximum resident set size" in x)
        return wall, int(line.split(":")[-1]) * 1024
    code = (
        "import resource, subprocess, sys, time; t = time.perf_counter(); "
        "subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL); "
        "print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    out = subprocess.run([sys.executable, "-c", code] + cmd, capture_output=True, text=True, check=True).stdout
    wall_s, kib = out.split()
    return float(wall_s), int(kib) * 1024


def slope(xs: list[float], ys: list[float]) -> float:
    """Least-squares slope of log y against log x (the fitted exponent)."""
    good = [(math.log(x), math.log(y)) for x, y in zip(xs, ys) if y > 0]
    return float(np.polyfit([g[0] for g in good], [g[1] for g in good], 1)[0]) if len(good) >= 2 else math.nan


def table_four(sizes: list[int]) -> bool:
    print(
        f"\nTable 4: N units, K = {SCALE_K}, i.i.d. Rayleigh, wait mode last, every placement; "
        "sweep = both rules + policy at M*; plain = O(N) recursion, optimal only (one run each)"
    )
    print(
        f"{'N':>7} {'sweep':>9} {'plain':>9} {'sweep/plain':>11} {'max rel J':>9}  "
        f"{'coopt solve --json':>18} {'peak RSS':>10} {'estimate':>10}"
    )
    from coopt.cli.limits import estimate_bytes
    from coopt.model.instance import load_instance

    ok = True
    rows: list[dict[str, float]] = []
    with tempfile.TemporaryDirectory(prefix="bench_fast_") as tmp:
        _, base_rss = peak_rss(coopt_command() + ["solve", str(write_instance(50, Path(tmp))), "--json"])
        for n in sizes:
            problem = make_problem(n, SCALE_K, "last")
            t0 = time.perf_counter()
            tables = solve_all(None, problem.channel, "last", problem.costs)
            best = int(np.argmin(tables["optimal"].values))
            tables["optimal"].policy(best)
            t_sweep = time.perf_counter() - t0
            t0 = time.perf_counter()
            plain = plain_recursion(problem.Y, problem.channel.probs, problem.costs.wait_cost)
            t_plain = time.perf_counter() - t0
            rel = float(np.max(np.abs(tables["optimal"].values - plain) / plain))
            del tables, problem
            toml = write_instance(n, Path(tmp))
            wall, rss = peak_rss(coopt_command() + ["solve", str(toml), "--json", "--max-memory", "1TB"])
            estimate = estimate_bytes("solve", load_instance(toml))
            rows.append({"N": n, "sweep": t_sweep, "plain": t_plain, "wall": wall, "rss": rss})
            flag = "" if rel <= RTOL_DP else " MISMATCH"
            ok &= rel <= RTOL_DP and rss <= estimate
            print(
                f"{n:>7} {fmt_time(t_sweep):>9} {fmt_time(t_plain):>9} {t_sweep / t_plain:>11.2f} {rel:>9.0e}  "
                f"{fmt_time(wall):>18} {rss / 1e6:>7.0f} MB {estimate / 1e6:>7.0f} MB{flag}",
                flush=True,
            )
    ns = [r["N"] for r in rows]
    print(
        f"  fitted exponents (time ~ N^a): sweep {slope(ns, [r['sweep'] for r in rows]):.2f}, "
        f"plain {slope(ns, [r['plain'] for r in rows]):.2f}, coopt solve {slope(ns, [r['wall'] for r in rows]):.2f}; "
        f"peak RSS above the 50-unit run's ({base_rss / 1e6:.0f} MB) ~ N^"
        f"{slope(ns, [r['rss'] - base_rss for r in rows]):.2f}"
    )
    at = next((r for r in rows if r["N"] == 20_000), None)
    if at is not None:
        rss_ok, ratio_ok = at["rss"] <= TARGET_RSS_BYTES, at["sweep"] <= TARGET_RATIO * at["plain"]
        print(
            f"  N = 20,000: peak RSS {at['rss'] / 1e6:.0f} MB (target <= {TARGET_RSS_BYTES / 1e6:.0f} MB: "
            f"{'met' if rss_ok else 'MISSED'}); sweep / plain {at['sweep'] / at['plain']:.2f} "
            f"(target <= {TARGET_RATIO}: {'met' if ratio_ok else 'MISSED'})"
        )
        ok &= rss_ok and ratio_ok
    return ok


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, nargs="*", default=[50, 200, 1000])
    ap.add_argument("--k", type=int, nargs="*", default=[64, 1024, 16384])
    ap.add_argument("--budget", type=float, default=60.0, help="seconds a slow method may take on one size")
    ap.add_argument(
        "--mip-max", type=int, nargs=2, default=[50, 64], metavar=("N", "K"), help="largest size given to the MIP"
    )
    ap.add_argument("--skip-targets", action="store_true")
    ap.add_argument(
        "--scale", type=int, nargs="*", default=None, metavar="N", help=f"only Table 4, at these N (empty: {SCALE_N})"
    )
    ap.add_argument(
        "--write-instance", nargs=2, metavar=("N", "DIR"), help="write DIR/chainN.csv and DIR/chainN.toml, then exit"
    )
    args = ap.parse_args(argv)
    if args.write_instance:
        print(write_instance(int(args.write_instance[0]), Path(args.write_instance[1])))
        return 0
    if args.scale is not None:
        return 0 if table_four(args.scale or SCALE_N) else 1
    print(f"machine: {os.cpu_count()} cores (nproc), numpy {np.__version__}, python {sys.version.split()[0]}")
    rows = table_one([(n, k) for n in args.n for k in args.k], args.budget, tuple(args.mip_max))
    ok = all("MISMATCH" not in c for r in rows for c in r["checks"])
    qe_rows = [r for r in rows if "quantecon" in r]
    if qe_rows:
        big = max(qe_rows, key=lambda r: (r["quantecon"] <= 60, r["N"] * r["K"]))
        print(
            f"\nquantecon: largest size done within {args.budget:.0f} s: N = {big['N']}, K = {big['K']}, "
            f"{fmt_time(big['quantecon'])}, {big['quantecon'] / big['fast']:.0f} x the fast solver (target >= 100 x)"
        )
    if not args.skip_targets:
        ok &= table_two()
        ok &= table_three()
        ok &= table_four(SCALE_N)
    print(f"\npeak RSS of this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**10:.0f} MiB")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
