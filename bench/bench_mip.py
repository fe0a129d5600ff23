"""Benchmark: the placement MIP (Pyomo build + HiGHS solve) against enumeration with
backward induction, on synthetic chain profiles of N layers and K channel states.

    python bench/bench_mip.py                 # the grid N in {20, 50, 100} x K in {16, 64, 256}
    python bench/bench_mip.py --n 50 --k 64   # one size
    python bench/bench_mip.py --markov        # a K-state Markov channel instead of Rayleigh

For each size it prints the model size (rows, columns, binaries, nonzeros, as built),
the MIP's build (Pyomo) and solve (Pyomo's translation + HiGHS) wall times, the DP's
time on the same instance (``DP``: enumeration as coopt runs it, the one-sweep i.i.d.
solver of coopt.dp.fast, best of three; ``DPref``: backward induction per placement,
coopt.dp.stopping), the ratios (build + solve) / DP, and checks that both agree
(placement exactly, objective to 1e-9 relative). Target: N = 50, K = 64 solved to
proven optimality in under 10 s.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace

import numpy as np

from chains import chain_profile  # bench/chains.py (the script's folder is on sys.path)
from coopt import parse_instance
from coopt.dp.placement import argmin_placement, enumerate_placements
from coopt.model.problem import prepare


def make_instance(n_layers: int, states: int, markov: bool, seed: int = 0):
    if markov:
        rng = np.random.default_rng(seed + 1)
        gains = sorted((10 ** rng.uniform(-11, -9, states)).tolist())
        # A sticky birth-death chain: neighbouring states, then renormalised rows.
        T = np.zeros((states, states))
        for k in range(states):
            T[k, k] = 0.6
            T[k, max(k - 1, 0)] += 0.2
            T[k, min(k + 1, states - 1)] += 0.2
        channel = {"law": "markov", "gains": gains, "transition": T.tolist()}
    else:
        channel = {"law": "rayleigh", "mean_gain": 5e-11, "states": states}
    doc = {
        "network": {"profile": "lenet5", "feature_bits": 32, "param_bits": 32},
        "device": {"cpu_hz": 1.5e9, "cycles_per_mac": 1.0, "kappa": 1e-28, "tx_power_w": 0.2, "idle_power_w": 0.01},
        "edge": {"cpu_hz": 3e9, "cycles_per_mac": 0.02},
        "uplink": {"bandwidth_hz": 2e7, "noise_w": 1e-13},
        "channel": channel,
        "cost": {"energy_weight": 1.0, "time_weight": 1.5},
        "wait": {"mode": "last", "slot_s": 0.005},
        "placement": {"tasks_per_period": 2000, "downlink_bps": 1e8, "rx_energy_per_bit": 5e-9},
    }
    inst = parse_instance(doc, name=f"chain{n_layers}-K{states}")
    return replace(inst, network=replace(inst.network, profile=chain_profile(n_layers, seed)))


def run(n_layers: int, states: int, markov: bool, time_limit: float | None) -> dict:
    from coopt.mip.formulation import build_placement_model, model_size
    from coopt.mip.highs import MipOptions, solve_mip

    inst = make_instance(n_layers, states, markov)
    problem = prepare(inst)
    dp_times: dict[str, list[float]] = {"auto": [], "reference": []}
    for method in ("auto", "reference"):
        for _ in range(3 if method == "auto" else 1):
            t0 = time.perf_counter()
            values, _ = enumerate_placements(
                problem.Y,
                problem.channel,
                inst.wait.mode,
                problem.costs,
                "optimal",
                problem.placements,
                inst.placement.tasks_per_period,
                method=method,
            )
            best = argmin_placement(values)
            dp_times[method].append(time.perf_counter() - t0)
    t0 = time.perf_counter()
    model = build_placement_model(problem)
    build = time.perf_counter() - t0
    size = model_size(model)
    res = solve_mip(model, MipOptions(time_limit=time_limit))
    rel = abs(res.objective - best.objective) / best.objective if res.objective is not None else float("nan")
    # Exact ties between placements are resolved by by_placement in the method; here a
    # different M is only acceptable if its objective is tied.
    agree = res.optimal and rel <= 1e-9 and (res.placement == best.placement or rel <= 1e-12)
    return {
        "N": n_layers,
        "K": states,
        **size,
        "dp_s": min(dp_times["auto"]),
        "dp_ref_s": dp_times["reference"][0],
        "build_s": build,
        "solve_s": res.wall_time_s,
        "highs_s": res.highs_time_s,
        "nodes": res.nodes,
        "status": res.termination.value,
        "gap": res.gap,
        "M_dp": best.placement,
        "M_mip": res.placement,
        "rel_diff": rel,
        "agree": agree,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, nargs="*", default=[20, 50, 100])
    ap.add_argument("--k", type=int, nargs="*", default=[16, 64, 256])
    ap.add_argument("--markov", action="store_true")
    ap.add_argument("--time-limit", type=float, default=600.0)
    args = ap.parse_args(argv)
    head = (
        f"{'N':>4} {'K':>4} {'rows':>7} {'cols':>7} {'bin':>4} {'nnz':>8} {'DP s':>8} {'DPref s':>8} "
        f"{'build s':>8} {'solve s':>8} {'nodes':>6} {'MIP/DP':>8} {'MIP/DPref':>9} {'M':>4} {'rel diff':>9}  status"
    )
    print(f"channel: {'Markov (birth-death)' if args.markov else 'Rayleigh quantised'}, wait mode last, rule optimal")
    print(head)
    ok = True
    for n in args.n:
        for k in args.k:
            r = run(n, k, args.markov, args.time_limit)
            ok &= r["agree"]
            mip = r["build_s"] + r["solve_s"]
            print(
                f"{r['N']:>4} {r['K']:>4} {r['rows']:>7} {r['columns']:>7} {r['binaries']:>4} {r['nonzeros']:>8} "
                f"{r['dp_s']:>8.4f} {r['dp_ref_s']:>8.4f} {r['build_s']:>8.3f} {r['solve_s']:>8.3f} {r['nodes']!s:>6} "
                f"{mip / r['dp_s']:>8.0f} {mip / r['dp_ref_s']:>9.0f} {r['M_mip']:>4} {r['rel_diff']:>9.1e}  "
                f"{r['status']}{'' if r['agree'] else '  MISMATCH (DP M* = ' + str(r['M_dp']) + ')'}",
                flush=True,
            )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
