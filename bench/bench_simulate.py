"""Benchmark: Monte Carlo simulation of 1,000,000 tasks on a 50-layer network.

Target: under 3 s per policy. Printed beside each time, in the same process:

* ``draw-only``: the time to draw just the channel states the run consumed (one
  alias draw per task and epoch reached, plus one per waiting slot), i.e. the
  floor set by the random numbers alone;
* ``naive``: a straightforward per-task Python loop (the same policy table and
  sampler semantics, one task at a time) on a subset, extrapolated linearly.

Run: ``python bench/bench_simulate.py [--tasks 1000000]``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from coopt import parse_instance, prepare, solve
from coopt.dp.stopping import STOP, WAIT
from coopt.model.profiles import mlp_profile
from coopt.sim.simulate import AliasTable, build_policy, simulate

MARKOV = {
    "law": "markov",
    "gains": [2.0e-12, 1.0e-11, 3.0e-11, 8.0e-11],
    "transition": [[0.7, 0.2, 0.07, 0.03], [0.15, 0.6, 0.2, 0.05], [0.05, 0.2, 0.6, 0.15], [0.03, 0.07, 0.2, 0.7]],
}


def instance_50_layers(tmp: Path, channel: dict):
    """A 50-layer equal-width MLP, waiting allowed at every epoch (cheap slots: some tasks wait)."""
    prof = mlp_profile(depth=49, width=256, input_size=784, classes=10)
    (tmp / "mlp50.csv").write_text(prof.to_csv(), encoding="utf-8")
    doc = {
        "network": {"profile": "mlp50.csv"},
        "device": {"cpu_hz": 1.0e9, "cycles_per_mac": 1.0, "kappa": 1.0e-27, "tx_power_w": 0.2, "idle_power_w": 0.01},
        "edge": {"cpu_hz": 3.0e9, "cycles_per_mac": 0.05},
        "uplink": {"bandwidth_hz": 1.0e6, "noise_w": 1.0e-13},
        "channel": channel,
        "cost": {"energy_weight": 1.0, "time_weight": 1.0},
        "wait": {"mode": "any", "slot_s": 0.0002},
        "placement": {"tasks_per_period": 1.0e5, "downlink_bps": 2.0e7, "rx_energy_per_bit": 5.0e-8},
    }
    return parse_instance(doc, base_dir=tmp, name="mlp50")


def naive(actions, channel, Y, c_w, download_per_task, tasks, rng) -> float:
    """One task at a time: the reference loop the vectorised engine replaces."""
    first = AliasTable(channel.initial)
    step = AliasTable(channel.transition) if channel.is_markov else first

    def redraw(state: int) -> int:
        rows = np.array([state]) if channel.is_markov else None
        return int(step.draw(rng, 1, rows)[0])

    horizon = actions.shape[0] - 1
    total = 0.0
    for _ in range(tasks):
        state = int(first.draw(rng, 1)[0])
        waits = 0
        n = 0
        while True:
            a = actions[n, state]
            if a == WAIT:
                waits += 1
                state = redraw(state)
                continue
            if a == STOP or n == horizon:
                total += Y[n, state] + c_w * waits + download_per_task
                break
            n += 1
            state = redraw(state)
    return total / tasks


def draw_only(problem, policy, sim, rng) -> float:
    """Seconds to draw only the states the run drew, in the same batches as the simulator:
    every task alive at an epoch (i.i.d.: only at epochs where some state does not
    compute; the simulator skips the others), plus one per waiting slot."""
    from coopt.dp.stopping import COMPUTE
    from coopt.sim.simulate import BATCH

    ch = problem.channel
    step = AliasTable(ch.transition) if ch.is_markov else AliasTable(ch.initial)
    needed = np.ones(policy.placement + 1, dtype=bool) if ch.is_markov else ~(policy.actions == COMPUTE).all(axis=1)
    alive = np.cumsum(sim.split_counts[::-1])[::-1]  # tasks alive at each epoch
    sizes = []
    for n in np.flatnonzero(needed):
        total = int(alive[n])
        sizes += [min(BATCH, total - start) for start in range(0, total, BATCH)]
    sizes.append(round(sim.mean_wait_slots * sim.tasks))
    t0 = time.perf_counter()
    for size in sizes:
        step.draw(rng, size, np.zeros(size, dtype=np.intp) if ch.is_markov else None)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", type=int, default=1_000_000)
    ap.add_argument("--naive-tasks", type=int, default=20_000)
    args = ap.parse_args()
    for label, channel in (("rayleigh", {"law": "rayleigh", "mean_gain": 2.0e-11, "states": 16}), ("markov", MARKOV)):
        with tempfile.TemporaryDirectory() as tmp:
            inst = instance_50_layers(Path(tmp), channel)
        run(inst, label, args)


def run(inst, label: str, args: argparse.Namespace) -> None:
    problem = prepare(inst)
    solved = solve(inst, rule="optimal")
    print(
        f"mlp50 on {label}: N = {inst.n_layers} layers, K = {problem.channel.n_states} states, "
        f"wait mode {inst.wait.mode}, M* = {solved.placement}; {args.tasks} tasks per run"
    )
    simulate(problem, "optimal", 1000, seed=1, solved=solved)  # warm-up (imports, caches)
    for name in ("optimal", "full-placement", "device-only"):
        pol = build_policy(problem, name, solved)
        t0 = time.perf_counter()
        sim = simulate(problem, name, args.tasks, seed=1, solved=solved)
        t_sim = time.perf_counter() - t0
        t_draw = draw_only(problem, pol, sim, np.random.default_rng(2))
        t0 = time.perf_counter()
        c_w = problem.costs.wait_cost
        est = naive(
            pol.actions,
            problem.channel,
            problem.Y,
            c_w,
            pol.download_cost / inst.placement.tasks_per_period,
            args.naive_tasks,
            np.random.default_rng(3),
        )
        t_naive = (time.perf_counter() - t0) * args.tasks / args.naive_tasks
        print(
            f"  {name:<15} M = {sim.placement:>2}  {t_sim:6.3f} s  (mean {sim.mean:.6e}, exact {sim.exact:.6e}, "
            f"z = {sim.z_score:+.2f}, waiting slots {sim.mean_wait_slots:.3f}; naive-loop mean {est:.4e})"
        )
        print(
            f"  {'':<15}         draw-only {t_draw:6.3f} s -> ratio {t_sim / t_draw:5.2f};  "
            f"naive loop {t_naive:7.1f} s (extrapolated from {args.naive_tasks}) -> speed-up {t_naive / t_sim:5.0f}x"
        )


if __name__ == "__main__":
    main()
