"""Benchmark: one device's share table (issue 18 item 2), batched against loops.

    python bench/bench_fleet_tables.py                 # N in {7, 20, 50} x K in {8, 16}, 17 x 17 levels
    python bench/bench_fleet_tables.py --levels 16 --mode any --rule osla
    python bench/bench_fleet_tables.py --channel clarke --mode any   # or --channel markov

For each device (N = 7 is LeNet-5, N = 20 and 50 bench/chains.py's chains; i.i.d. Rayleigh
fading quantised to K states; ``--channel clarke`` the same law time-correlated at 50 Hz,
``--channel markov`` a birth-death chain) and every pair of the ``levels x levels`` grid of positive share
levels ``k / levels``, Phi(x, y) = min_M [J_{x,y}(M) + D(M)/K_tasks] and its M* three ways,
in this one process:

* ``batch``: :func:`coopt.dp.batch.solve_share_grid` (one sweep for every pair) and
  :func:`coopt.dp.batch.argmin_placements`;
* ``loop``: per pair, :func:`coopt.dp.batch.share_costs` and
  :func:`coopt.dp.placement.enumerate_rules` (``method="model"``, the one sweep of
  :mod:`coopt.dp.fast`) and :func:`coopt.dp.placement.argmin_placement`: what a fleet's table
  does without batching;
* ``solve``: per pair, :func:`coopt.solve` of the instance rewritten at the shares
  (bandwidth x B, noise x sigma2, edge clock y f_E): the public API, one single-device optimum
  per call (it also builds the policy at M* and the baselines).

The batch must equal the loop (J(M) to 1e-12 relative, the same M* at every pair) and
coopt.solve (Phi to 1e-9: its R comes from y f_E, not R / y). Printed: the per-device time of
each, the ratio loop / batch and solve / batch, and the rate in single-device optima per second.
Times are medians of repeated runs (once, if a run takes over 2 s).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np

from chains import chain_profile  # bench/chains.py (the script's folder is on sys.path)
from coopt import parse_instance, solve
from coopt.dp.batch import argmin_placements, share_costs, solve_share_grid
from coopt.dp.placement import argmin_placement, enumerate_rules
from coopt.model.instance import Instance
from coopt.model.problem import Problem, prepare

RTOL_LOOP = 1e-12
RTOL_SOLVE = 1e-9


def channel_doc(channel: str, states: int) -> dict[str, Any]:
    """i.i.d. Rayleigh fading, time-correlated Clarke fading at 50 Hz (docs/model.md 10.4), or
    a birth-death Markov chain over gains spaced geometrically about the same mean."""
    if channel == "iid":
        return {"law": "rayleigh", "mean_gain": 5e-11, "states": states}
    if channel == "clarke":
        return {"law": "rayleigh", "mean_gain": 5e-11, "states": states, "doppler_hz": 50.0}
    gains = (5e-11 * np.geomspace(0.05, 4.0, states)).tolist()
    P = np.zeros((states, states))
    for i in range(states):
        for j in (i - 1, i + 1):
            if 0 <= j < states:
                P[i, j] = 0.2
        P[i, i] = 1.0 - P[i].sum()
    return {"law": "markov", "gains": gains, "transition": P.tolist()}


def make_instance(n_layers: int, states: int, mode: str, rule: str, channel: str = "iid") -> Instance:
    doc = {
        "network": {"profile": "lenet5", "feature_bits": 32, "param_bits": 32},
        "device": {"cpu_hz": 1.5e9, "cycles_per_mac": 1.0, "kappa": 1e-28, "tx_power_w": 0.2, "idle_power_w": 0.01},
        "edge": {"cpu_hz": 3e9, "cycles_per_mac": 0.02},
        "uplink": {"bandwidth_hz": 2e7, "noise_w": 1e-13},
        "channel": channel_doc(channel, states),
        "cost": {"energy_weight": 1.0, "time_weight": 1.5},
        "wait": {"mode": mode, "slot_s": 0.005},
        "placement": {"tasks_per_period": 2000, "downlink_bps": 1e8, "rx_energy_per_bit": 5e-9, "rule": rule},
    }
    inst = parse_instance(doc, name=f"N{n_layers}-K{states}")
    if n_layers != 7:  # N = 7 is LeNet-5 itself
        inst = replace(inst, network=replace(inst.network, profile=chain_profile(n_layers, seed=n_layers)))
    return inst


def instance_at(inst: Instance, x: float, y: float) -> Instance:
    uplink = replace(inst.uplink, bandwidth_hz=x * inst.uplink.bandwidth_hz, noise_w=x * inst.uplink.noise_w)
    return replace(inst, uplink=uplink, edge=replace(inst.edge, cpu_hz=y * inst.edge.cpu_hz))


def median_time(fn: Callable[[], Any], min_total: float = 1.0, max_runs: int = 21) -> tuple[float, Any]:
    times: list[float] = []
    while True:
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
        if times[0] > 2.0 or len(times) >= max_runs or (sum(times) >= min_total and len(times) >= 3):
            return statistics.median(times), out


def batch_table(prob: Problem, levels: np.ndarray, rule: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    inst = prob.instance
    values = solve_share_grid(prob.costs, prob.channel, inst.wait.mode, levels, levels, (rule,))[rule]
    n_pairs = levels.shape[0] ** 2
    flat = values.reshape(n_pairs, -1)
    phi, m_star = argmin_placements(flat + prob.costs.download / inst.placement.tasks_per_period, prob.placements)
    return flat, phi, m_star


def loop_table(prob: Problem, levels: np.ndarray, rule: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    inst = prob.instance
    flat, phi, m_star = [], [], []
    for x in levels.tolist():
        for y in levels.tolist():
            costs = share_costs(prob.costs, x, y)
            values, _ = enumerate_rules(
                costs.stop_cost(prob.channel.gains),
                prob.channel,
                inst.wait.mode,
                costs,
                (rule,),
                prob.placements,
                inst.placement.tasks_per_period,
                method="model",
            )[rule]
            best = argmin_placement(values)
            flat.append([v.task_cost for v in values])
            phi.append(best.objective)
            m_star.append(best.placement)
    return np.array(flat), np.array(phi), np.array(m_star)


def solve_table(inst: Instance, levels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    phi, m_star = [], []
    for x in levels.tolist():
        for y in levels.tolist():
            res = solve(instance_at(inst, x, y))
            phi.append(res.objective)
            m_star.append(res.placement)
    return np.array(phi), np.array(m_star)


def fmt(seconds: float) -> str:
    return f"{seconds * 1e3:.3g} ms" if seconds < 1 else f"{seconds:.3g} s"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, nargs="+", default=[7, 20, 50], help="layers N (7 = LeNet-5)")
    ap.add_argument("--k", type=int, nargs="+", default=[8, 16], help="channel states K")
    ap.add_argument("--levels", type=int, default=17, help="share levels per resource (pairs = levels^2)")
    ap.add_argument("--mode", default="last", choices=["never", "last", "any"])
    ap.add_argument("--rule", default="optimal", choices=["optimal", "osla"])
    ap.add_argument(
        "--channel", default="iid", choices=["iid", "clarke", "markov"], help="fading law (default i.i.d. Rayleigh)"
    )
    args = ap.parse_args(argv)
    levels = np.arange(1, args.levels + 1) / args.levels
    pairs = levels.shape[0] ** 2
    print(
        f"{pairs} pairs per device ({args.levels} x {args.levels} levels k/{args.levels}), mode {args.mode}, "
        f"rule {args.rule}, channel {args.channel}"
    )
    head = f"{'N':>3} {'K':>3} | {'batch':>9} {'loop':>9} {'solve':>9} | {'loop/b':>7} {'solve/b':>7} | optima/s: {'batch':>8} {'loop':>7} {'solve':>7}"
    print(head)
    print("-" * len(head))
    ok = True
    for n in args.n:
        for k in args.k:
            inst = make_instance(n, k, args.mode, args.rule, args.channel)
            prob = prepare(inst)
            t_b, (vb, phib, mb) = median_time(lambda prob=prob: batch_table(prob, levels, args.rule))
            t_l, (vl, phil, ml) = median_time(lambda prob=prob: loop_table(prob, levels, args.rule))
            t_s, (phis, ms) = median_time(lambda inst=inst: solve_table(inst, levels))
            same = (
                np.allclose(vb[:, prob.placements], vl, rtol=RTOL_LOOP, atol=0)
                and np.array_equal(mb, ml)
                and np.allclose(phib, phil, rtol=RTOL_LOOP, atol=0)
                and np.array_equal(mb, ms)
                and np.allclose(phib, phis, rtol=RTOL_SOLVE, atol=0)
            )
            ok &= bool(same)
            print(
                f"{n:>3} {k:>3} | {fmt(t_b):>9} {fmt(t_l):>9} {fmt(t_s):>9} | {t_l / t_b:>6.1f}x {t_s / t_b:>6.0f}x |"
                f"           {pairs / t_b:>8.0f} {pairs / t_l:>7.0f} {pairs / t_s:>7.0f}"
                + ("" if same else "  MISMATCH")
            )
    print("batch = loop (J to 1e-12, same M*) and = coopt.solve (Phi to 1e-9, same M*):", "yes" if ok else "NO")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
