"""Benchmark: coopt.dp.markov (every placement of a Markov channel in one sweep) against
the per-placement reference recursion (coopt.dp.stopping, method="reference") and
quantecon's DiscreteDP backward induction.

    python bench/bench_markov.py                          # every table
    python bench/bench_markov.py --repeat 5               # more runs per median
    OPENBLAS_NUM_THREADS=1 python bench/bench_markov.py   # BLAS on one thread

Everything runs in this one process; times are medians over ``--repeat`` runs (the
reference, when a run takes over ``--slow`` seconds, once). Instances: a random chain of
N layers (bench/chains.py) on a Markov channel whose K states have the gains of i.i.d.
Rayleigh fading quantised to K states, built through the instance parser like
``coopt solve`` does:

* ``banded``: from state i to j with weight exp(-|i-j|/4) for |i-j| <= 4 (slow fading);
  slot 50 ms: no state ever waits.
* ``waiting``: half banded (width 2), half uniform jump; mean gain 2e-12, slot 50 us:
  waiting is the best action in many states (its share is printed).

Every sweep result is checked against the reference: J(M) for every placement to 1e-12
relative, and the decisions of placements 0, N/2 and N exactly (``policy(M).actions``).

Table 1 (targets): N = 200, K = 64, banded, wait modes never and last, both rules, every
placement: the sweep against 100 ms. Table 2 (target): N = 200, K = 256, banded, mode
any: against 1 s, and mode last for the issue's comparison. Table 3: quantecon, wait
mode never, rule optimal (quantecon has no waiting fixed point): each placement as its
own DiscreteDP (states (epoch, channel state) and an absorbing "done"; beta = 1; M + 1
periods), built and solved once per placement. Table 4: the ``waiting`` chain, mode
any, both rules, K doubling: time and its growth exponent. Table 5: LeNet-5 with Clarke
fading at 50 Hz, in this process: the matrices' time and the solve against the i.i.d.
solve at the same K. Table 6: the same chains end to end, each ``coopt solve --json`` a
fresh subprocess (start-up, parsing, matrices, solve, JSON), Clarke against i.i.d. at
the same K (targets: 3x at K = 64, 20x at K = 512); ``--e2e-only`` runs just this table.
"""

from __future__ import annotations

import argparse
import copy
import itertools
import math
import os
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # tests/support

from tests.support.instances import BASE_DOC as LENET_DOC  # the 7-layer LeNet-5 chain of issue 19 item 2
from tests.support.instances import to_toml

from chains import chain_profile  # bench/chains.py (the script's folder is on sys.path)
from coopt import parse_instance
from coopt.dp.markov import solve_all_markov
from coopt.dp.placement import enumerate_rules
from coopt.dp.stopping import WAIT, backward_induction, osla_policy
from coopt.model.channel import quantise
from coopt.model.problem import Problem, prepare

RTOL = 1e-12
RULES = ("optimal", "osla")
REFERENCE = {"optimal": backward_induction, "osla": osla_policy}


# ----------------------------------------------------------------------------- instances


def banded(k: int, width: int) -> np.ndarray:
    i = np.arange(k)
    d = np.abs(i[:, None] - i[None, :])
    P = np.where(d <= width, np.exp(-d / max(width, 1)), 0.0)
    return P / P.sum(axis=1, keepdims=True)


CHAINS: dict[str, dict[str, Any]] = {
    "banded": {"mean_gain": 5e-11, "slot_s": 0.05, "matrix": lambda k: banded(k, 4)},
    "waiting": {"mean_gain": 2e-12, "slot_s": 5e-5, "matrix": lambda k: 0.5 * banded(k, 2) + 0.5 / k},
}


def make_problem(n_layers: int, states: int, mode: str, chain: str, seed: int = 0) -> Problem:
    spec = CHAINS[chain]
    doc: dict[str, Any] = {
        "network": {"profile": "lenet5", "feature_bits": 32, "param_bits": 32},
        "device": {"cpu_hz": 1.5e9, "cycles_per_mac": 1.0, "kappa": 1e-28, "tx_power_w": 0.2, "idle_power_w": 0.01},
        "edge": {"cpu_hz": 3e9, "cycles_per_mac": 0.02},
        "uplink": {"bandwidth_hz": 2e7, "noise_w": 1e-13},
        "channel": {"law": "rayleigh", "mean_gain": spec["mean_gain"], "states": states},
        "cost": {"energy_weight": 1.0, "time_weight": 1.5},
        "wait": {"mode": mode, "slot_s": spec["slot_s"]},
        "placement": {"tasks_per_period": 2000, "downlink_bps": 1e8, "rx_energy_per_bit": 5e-9},
    }
    gains, _ = quantise(parse_instance(copy.deepcopy(doc)).channel)
    doc["channel"] = {"law": "markov", "gains": gains.tolist(), "transition": spec["matrix"](states).tolist()}
    inst = parse_instance(doc, name=f"chain{n_layers}-{chain}{states}")
    inst = replace(inst, network=replace(inst.network, profile=chain_profile(n_layers, seed)))
    return prepare(inst)


# ----------------------------------------------------------------------------- timing


def median_time(fn: Callable[[], Any], repeat: int, slow: float = math.inf) -> tuple[float, Any]:
    """Median wall time of ``fn`` over ``repeat`` runs (one run if the first exceeds ``slow`` s)."""
    times: list[float] = []
    out = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
        if times[0] > slow:
            break
    return statistics.median(times), out


def fmt_time(seconds: float | None) -> str:
    if seconds is None or math.isnan(seconds):
        return "-"
    return f"{seconds * 1e3:.3g} ms" if seconds < 1 else f"{seconds:.3g} s"


# ----------------------------------------------------------------------------- the methods


def sweep_values(problem: Problem, mode: str, rules: tuple[str, ...]) -> dict[str, Any]:
    return solve_all_markov(problem.Y, problem.channel, mode, problem.costs, rules)


def reference_values(problem: Problem, mode: str, rules: tuple[str, ...]) -> dict[str, np.ndarray]:
    placements = list(range(problem.costs.n_layers + 1))
    by_rule = enumerate_rules(
        problem.Y, problem.channel, mode, problem.costs, rules, placements, 1.0, method="reference"
    )
    return {r: np.array([v.task_cost for v in by_rule[r][0]]) for r in rules}


def check(problem: Problem, mode: str, tables: dict[str, Any], ref: dict[str, np.ndarray]) -> tuple[float, bool]:
    """Largest relative difference of J(M) over every placement and rule, and whether the
    decisions of placements 0, N/2, N equal the reference's."""
    worst, same = 0.0, True
    n = problem.costs.n_layers
    for rule, table in tables.items():
        worst = max(worst, float(np.max(np.abs(table.values - ref[rule]) / np.abs(ref[rule]))))
        for m in sorted({0, n // 2, n}):
            expect = REFERENCE[rule](problem.Y, problem.channel, m, mode, problem.costs).actions
            same &= bool(np.array_equal(table.policy(m).actions, expect))
    return worst, same


def wait_share(problem: Problem, mode: str, tables: dict[str, Any]) -> float:
    """Share of (epoch, state) pairs where the optimal policy of placement N waits."""
    return float(np.mean(tables["optimal"].policy(problem.costs.n_layers).actions == WAIT))


def quantecon_value(Y: np.ndarray, P: np.ndarray, initial: np.ndarray, horizon: int) -> float:
    """J*(M) (wait mode never) from quantecon's backward induction on a DiscreteDP.

    States (n, k) for n = 0..M (index n K + k), then done (absorbing). (n, k) has
    "stop" (reward -Y_n(g_k), to done) and, for n < M, "compute" (reward 0, to
    (n + 1, k') with probability P[k, k']). M + 1 periods reach done on every path.
    """
    from quantecon.markov import DiscreteDP, backward_induction
    from scipy import sparse

    m, k = horizon, Y.shape[1]
    n_grid = (m + 1) * k
    done = n_grid
    grid = np.arange(n_grid)
    epoch = grid // k
    computes = grid[epoch < m]
    s_idx = np.concatenate([grid, computes, [done]])
    a_idx = np.concatenate([np.zeros(n_grid, dtype=int), np.ones(computes.size, dtype=int), [0]])
    reward = np.concatenate([-Y[: m + 1].ravel(), np.zeros(computes.size), [0.0]])
    n_sa = s_idx.size
    support = P > 0
    per_row = support.sum(axis=1)
    rows = np.concatenate(
        [np.arange(n_grid), n_grid + np.repeat(np.arange(computes.size), per_row[computes % k]), [n_sa - 1]]
    )
    nxt_cols = [(epoch[s] + 1) * k + np.flatnonzero(support[s % k]) for s in computes]
    cols = np.concatenate([np.full(n_grid, done), *nxt_cols, [done]])
    vals = np.concatenate([np.ones(n_grid), *[P[s % k][support[s % k]] for s in computes], [1.0]])
    Q = sparse.csr_matrix((vals, (rows, cols)), shape=(n_sa, done + 1))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "infinite horizon methods disabled with beta=1"
        ddp = DiscreteDP(reward, Q, 1.0, s_idx, a_idx)
    vs, _ = backward_induction(ddp, m + 1)
    return float(-(initial @ vs[0][:k]))


def quantecon_values(problem: Problem) -> np.ndarray:
    ch = problem.channel
    assert ch.transition is not None
    return np.array(
        [quantecon_value(problem.Y, ch.transition, ch.initial, m) for m in range(problem.costs.n_layers + 1)]
    )


# ----------------------------------------------------------------------------- tables


def sweep_vs_reference(
    n: int, k: int, mode: str, chain: str, repeat: int, slow: float, with_reference: bool = True
) -> dict[str, Any]:
    problem = make_problem(n, k, mode, chain)
    t_sweep, tables = median_time(lambda: sweep_values(problem, mode, RULES), repeat)
    row: dict[str, Any] = {"N": n, "K": k, "mode": mode, "chain": chain, "sweep": t_sweep}
    row["wait_share"] = wait_share(problem, mode, tables)
    if with_reference:
        t_ref, ref = median_time(lambda: reference_values(problem, mode, RULES), repeat, slow)
        row["reference"] = t_ref
        row["rel"], row["same"] = check(problem, mode, tables, ref)
    return row


def print_row(row: dict[str, Any]) -> None:
    ref = row.get("reference")
    ratio = f"{ref / row['sweep']:8.1f}" if ref is not None else f"{'-':>8}"
    checks = (
        "-" if "rel" not in row else f"{row['rel']:.0e} " + ("same decisions" if row["same"] else "DECISIONS DIFFER")
    )
    print(
        f"{row['N']:>5} {row['K']:>5} {row['mode']:>6} {row['chain']:>8} {row['wait_share']:>6.2f} "
        f"{fmt_time(row['sweep']):>10} {fmt_time(ref):>10} {ratio}  {checks}",
        flush=True,
    )


HEADER = f"{'N':>5} {'K':>5} {'mode':>6} {'chain':>8} {'waits':>6} {'sweep':>10} {'reference':>10} {'ref/sw':>8}  J rel. diff, decisions"


def ok(row: dict[str, Any]) -> bool:
    return "rel" not in row or (row["rel"] <= RTOL and row["same"])


def clarke_table(ks: list[int]) -> bool:
    """Table 5: LeNet-5 with Clarke fading at 50 Hz: the time of its transition matrices
    (cache cleared) and of the whole solve against the same chain's i.i.d. solve, K doubling;
    every matrix's rows sum to 1 and it is symmetric to 1e-12."""
    from coopt import solve
    from coopt.model import fading

    print(
        "\nTable 5: LeNet-5, Clarke fading at 50 Hz: matrices and solve vs the i.i.d. solve (targets: K=64 3x, K=512 20x)"
    )
    print(f"{'K':>5} {'matrices':>10} {'clarke solve':>13} {'iid solve':>10} {'ratio':>7}  rows, symmetry")
    good, prev = True, None
    for k in ks:
        doc = copy.deepcopy(LENET_DOC)
        doc["channel"]["states"] = k
        iid = parse_instance(copy.deepcopy(doc))
        doc["channel"]["doppler_hz"] = 50.0
        clarke = parse_instance(doc)
        t_iid, _ = median_time(lambda: solve(iid), 3)
        fading._transition.cache_clear()
        t0 = time.perf_counter()
        problem = prepare(clarke)
        t_mat = time.perf_counter() - t0
        fading._transition.cache_clear()
        t0 = time.perf_counter()
        solve(clarke)
        t_solve = time.perf_counter() - t0
        mats = [*problem.channel.epoch_transitions, problem.channel.slot_transition]  # type: ignore[misc]
        rows = max(float(np.max(np.abs(P.sum(axis=1) - 1.0))) for P in mats)
        sym = max(float(np.max(np.abs(P - P.T))) for P in mats)
        good &= rows <= 1e-12 and sym <= 1e-12
        print(
            f"{k:>5} {fmt_time(t_mat):>10} {fmt_time(t_solve):>13} {fmt_time(t_iid):>10} {t_solve / t_iid:>7.0f}  {rows:.0e}, {sym:.0e}",
            flush=True,
        )
        if prev is not None:
            print(f"      K {prev[0]} -> {k}: matrices ~ K^{math.log(t_mat / prev[1]) / math.log(k / prev[0]):.2f}")
        prev = (k, t_mat)
    return good


E2E_TARGETS = {64: 3.0, 512: 20.0}  # issue 19 item 2: Clarke within this factor of the i.i.d. solve


def _cli_run(path: str) -> tuple[float, dict[str, Any]]:
    """Wall time of ``coopt solve PATH --json`` as a fresh process, and its JSON."""
    import json
    import subprocess

    t0 = time.perf_counter()
    run = subprocess.run(
        [sys.executable, "-m", "coopt", "solve", path, "--json"], capture_output=True, text=True, check=True
    )
    wall = time.perf_counter() - t0

    def no_constant(name: str) -> None:
        raise ValueError(f"coopt solve {path} --json wrote {name}")

    return wall, json.loads(run.stdout, parse_constant=no_constant)


def e2e_table(ks: list[int], repeat: int) -> bool:
    """Table 6: ``coopt solve --json`` end to end (module docstring), medians of ``repeat``
    runs each; both JSONs must parse (no NaN or Infinity) and have K channel states."""
    import subprocess
    import tempfile

    print(
        "\nTable 6: LeNet-5 end to end, `coopt solve --json` as a fresh process: Clarke 50 Hz vs i.i.d. at the same K"
    )
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "coopt", "--version"], capture_output=True, check=True)
    print(f"      start-up alone (coopt --version): {fmt_time(time.perf_counter() - t0)}")
    print(f"{'K':>5} {'iid':>10} {'clarke':>10} {'ratio':>7} {'target':>7}  M* (iid, clarke)")
    good = True
    with tempfile.TemporaryDirectory(prefix="bench_markov_") as tmp:
        for k in ks:
            paths = {}
            for kind in ("iid", "clarke"):
                doc = copy.deepcopy(LENET_DOC)
                doc["channel"]["states"] = k
                if kind == "clarke":
                    doc["channel"]["doppler_hz"] = 50.0
                paths[kind] = os.path.join(tmp, f"lenet_{kind}_{k}.toml")
                with open(paths[kind], "w", encoding="utf-8") as fh:
                    fh.write(to_toml(doc))
            runs = {kind: [_cli_run(path) for _ in range(repeat)] for kind, path in paths.items()}
            wall = {kind: statistics.median(t for t, _ in r) for kind, r in runs.items()}
            out = {kind: r[0][1] for kind, r in runs.items()}
            ratio = wall["clarke"] / wall["iid"]
            target = E2E_TARGETS.get(k)
            verdict = "" if target is None else ("met" if ratio <= target else "MISSED")
            good &= all(len(o["channel_states"]["gains"]) == k for o in out.values())
            print(
                f"{k:>5} {fmt_time(wall['iid']):>10} {fmt_time(wall['clarke']):>10} {ratio:>7.2f} "
                f"{'' if target is None else f'{target:g}x':>7}  {out['iid']['placement']}, {out['clarke']['placement']}"
                f"  {verdict}",
                flush=True,
            )
    return good


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5, help="runs per median")
    ap.add_argument("--slow", type=float, default=3.0, help="a reference run longer than this is run once")
    ap.add_argument("--growth", type=int, nargs="*", default=[16, 32, 64, 128, 256], help="K of table 4")
    ap.add_argument("--clarke-k", type=int, nargs="*", default=[16, 32, 64, 128, 256, 512, 1024], help="K of table 5")
    ap.add_argument("--qe-budget", type=float, default=60.0, help="seconds quantecon may take on one size")
    ap.add_argument("--e2e-k", type=int, nargs="*", default=[64, 512], help="K of table 6 (end to end)")
    ap.add_argument("--e2e-repeat", type=int, default=3, help="runs per median in table 6")
    ap.add_argument("--e2e-only", action="store_true", help="run table 6 only")
    args = ap.parse_args(argv)
    threads = os.environ.get("OPENBLAS_NUM_THREADS", "unset (OpenBLAS default: one per core)")
    print(
        f"machine: {os.cpu_count()} cores (nproc), numpy {np.__version__}, python {sys.version.split()[0]}, "
        f"OPENBLAS_NUM_THREADS {threads}; medians of {args.repeat} runs"
    )
    good = True
    if args.e2e_only:
        good = e2e_table(args.e2e_k, args.e2e_repeat)
        print("\nall checks passed" if good else "\nSOME CHECK FAILED")
        return 0 if good else 1

    print("\nTable 1 (targets): N = 200, K = 64, banded, both rules, every placement; target sweep < 100 ms")
    print(HEADER)
    for mode in ("never", "last"):
        row = sweep_vs_reference(200, 64, mode, "banded", args.repeat, args.slow)
        print_row(row)
        good &= ok(row)
        print(f"      target < 100 ms: {'met' if row['sweep'] < 0.1 else 'MISSED'}")

    print("\nTable 2 (target): N = 200, K = 256, banded, both rules, every placement; mode any: sweep < 1 s")
    print(HEADER)
    for mode in ("last", "any"):
        row = sweep_vs_reference(200, 256, mode, "banded", args.repeat, args.slow)
        print_row(row)
        good &= ok(row)
        if mode == "any":
            print(
                f"      no state waits: {row['wait_share'] == 0}; target < 1 s: {'met' if row['sweep'] < 1 else 'MISSED'}"
            )
            optimal_only = make_problem(200, 256, mode, "banded")
            t_opt, _ = median_time(lambda: sweep_values(optimal_only, mode, ("optimal",)), args.repeat)
            print(f"      of which rule optimal alone: {fmt_time(t_opt)}")

    print("\nTable 3: quantecon DiscreteDP, wait mode never, rule optimal, every placement, banded chain")
    print(f"{'N':>5} {'K':>5} {'sweep':>10} {'reference':>10} {'quantecon':>10} {'qe/sweep':>9}  J rel. diff")
    warm = make_problem(3, 4, "never", "banded")
    assert warm.channel.transition is not None
    quantecon_value(warm.Y, warm.channel.transition, warm.channel.initial, 3)  # Numba compiles on first use
    for n, k in ((50, 16), (50, 64), (200, 16), (200, 64)):
        problem = make_problem(n, k, "never", "banded")
        t_sweep, tables = median_time(lambda: sweep_values(problem, "never", ("optimal",)), args.repeat)
        t_ref, ref = median_time(lambda: reference_values(problem, "never", ("optimal",)), args.repeat, args.slow)
        t0 = time.perf_counter()
        quantecon_value(problem.Y, problem.channel.transition, problem.channel.initial, n)  # type: ignore[arg-type]
        est = (time.perf_counter() - t0) * (n + 1) / 2  # one placement costs ~ M
        if est <= args.qe_budget:
            t_qe, qe = median_time(lambda: quantecon_values(problem), 3, args.slow)
            J = tables["optimal"].values
            rel = max(float(np.max(np.abs(qe - J) / J)), float(np.max(np.abs(ref["optimal"] - J) / J)))
            good &= rel <= RTOL
            print(
                f"{n:>5} {k:>5} {fmt_time(t_sweep):>10} {fmt_time(t_ref):>10} {fmt_time(t_qe):>10} "
                f"{t_qe / t_sweep:>9.0f}  {rel:.0e}",
                flush=True,
            )
        else:
            print(f"{n:>5} {k:>5} {fmt_time(t_sweep):>10} {fmt_time(t_ref):>10}  quantecon skipped (est. {est:.0f} s)")

    print("\nTable 4: waiting active in many states: N = 200, mode any, both rules, every placement")
    print(HEADER)
    rows = []
    for k in args.growth:
        row = sweep_vs_reference(200, k, "any", "waiting", args.repeat, args.slow, with_reference=k <= 64)
        print_row(row)
        good &= ok(row)
        rows.append(row)
    for a, b in itertools.pairwise(rows):
        growth = math.log(b["sweep"] / a["sweep"]) / math.log(b["K"] / a["K"])
        print(f"      K {a['K']} -> {b['K']}: time x {b['sweep'] / a['sweep']:.2f}, i.e. ~ K^{growth:.2f}")
    good &= clarke_table(args.clarke_k)
    good &= e2e_table(args.e2e_k, args.e2e_repeat)
    print("\nall checks passed" if good else "\nSOME CHECK FAILED")
    return 0 if good else 1


if __name__ == "__main__":
    sys.exit(main())
