"""Benchmark: ONNX import and solving a DAG network with every cut allowed.

    python bench/bench_onnx.py            # 5 runs per command
    python bench/bench_onnx.py --runs 9
    python bench/bench_onnx.py --stack 10000 20000   # generated transformer stacks, time per stage

Timed as fresh processes (median of ``--runs``), beside the baseline ``python -c pass``
measured the same way, on the DenseNet-121 graph the onnx wheel ships
(``onnx:light/densenet121``, 1,746 nodes, 184 units):

* ``coopt profile onnx:light/densenet121`` (start-up included). Target: under 2 s wall.
* ``coopt solve`` of an instance on that graph with ``network.cuts = "all"``: every
  placement ``M = 0..184``, rule ``optimal`` (whose result also carries the OSLA
  baseline, i.e. both rules), Rayleigh fading with 32 states. Target: under 1 s for the
  solve itself; the import of the graph (the first command) is reported separately, by
  subtracting it from the whole command.

With ``--stack UNITS``: a transformer-like stack of MatMul, Add and Softmax of that many
units (tests/support/onnx_models.py's ``transformer_stack``, the graph tests/model/test_onnx_scale.py
checks), every cut allowed, K = 32: the wall time of ``coopt solve --json`` end to end in a
fresh process (target under 10 s at 10,000 units) and, in this process, each stage: writing
the graph, reading it into an instance (``onnx`` import included on the first), the cost
model and channel (``prepare``), the all-placement sweep with both rules, the rest of
``solve`` (the policy at M* and the baselines), and the JSON.

The machine is shared and loaded: the numbers are noisy; compare the ratios to the
baseline, not the absolute times. CPU seconds (user + system of the child process) are
printed beside the wall time, since they do not include waiting for a core.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests/support/onnx_models.py

TARGET_PROFILE_S = 2.0
TARGET_SOLVE_S = 1.0
TARGET_STACK_S = 10.0


def wall(argv: list[str], runs: int) -> tuple[float, float]:
    """Median wall seconds and median CPU seconds (user + system) of a fresh process."""
    times, cpu = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run(argv, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return statistics.median(times), statistics.median(cpu)


def in_process(runs: int, path: Path) -> tuple[float, float]:
    """Median seconds of (reading the graph into an instance, solving it) in this process."""
    from coopt import solve
    from coopt.model.instance import load_instance

    load, solving = [], []
    for _ in range(runs):
        start = time.perf_counter()
        inst = load_instance(path)
        mid = time.perf_counter()
        solve(inst)
        load.append(mid - start)
        solving.append(time.perf_counter() - mid)
    return statistics.median(load), statistics.median(solving)


def stack_stages(units: int, tmp: Path) -> None:
    """``--stack``: the time of each stage on a generated stack of ``units`` units."""
    import json

    from tests.support.onnx_models import stack_instance, transformer_stack

    from coopt import prepare, solve
    from coopt.dp.fast import solve_all
    from coopt.model.instance import load_instance

    stages: dict[str, float] = {}
    t = time.perf_counter()
    model = transformer_stack(tmp / f"stack{units}.onnx", units // 2)
    stages["write the graph (onnx.helper)"] = time.perf_counter() - t
    path = tmp / f"stack{units}.toml"
    path.write_text(stack_instance(model), encoding="utf-8")
    end_to_end, _ = wall([sys.executable, "-m", "coopt", "solve", str(path), "--json"], 1)
    t = time.perf_counter()
    inst = load_instance(path)
    stages["read into an instance"] = time.perf_counter() - t
    t = time.perf_counter()
    prob = prepare(inst)
    stages["prepare (costs, channel)"] = time.perf_counter() - t
    t = time.perf_counter()
    solve_all(prob.Y, prob.channel, inst.wait.mode, prob.costs)
    stages["sweep, every M, both rules"] = time.perf_counter() - t
    t = time.perf_counter()
    result = solve(inst)
    stages["solve (sweep, policy at M*, baselines)"] = time.perf_counter() - t
    t = time.perf_counter()
    json.dumps(result.to_dict())
    stages["JSON"] = time.perf_counter() - t
    print(
        f"stack of {inst.n_layers} units: coopt solve --json end to end {end_to_end:6.2f} s "
        f"(target < {TARGET_STACK_S} s: {'ok' if end_to_end < TARGET_STACK_S else 'MISSED'}); M* = {result.placement}"
    )
    for name, seconds in stages.items():
        print(f"  {name:<40} {seconds:7.3f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--stack", type=int, nargs="+", metavar="UNITS", help="generated stacks of these sizes")
    args = parser.parse_args()
    if args.stack:
        with tempfile.TemporaryDirectory() as tmp:
            for units in args.stack:
                stack_stages(units, Path(tmp))
        return
    python = sys.executable
    base, base_cpu = wall([python, "-c", "pass"], args.runs)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "densenet121.toml"
        from tests.support.onnx_models import onnx_instance

        header = "# DenseNet-121 as an ONNX graph, every cut allowed (bench_onnx).\n"
        path.write_text(header + onnx_instance("onnx:light/densenet121"), encoding="utf-8")
        profile, profile_cpu = wall([python, "-m", "coopt", "profile", "onnx:light/densenet121"], args.runs)
        solve_cli, solve_cpu = wall([python, "-m", "coopt", "solve", str(path)], args.runs)
        load_s, solve_s = in_process(args.runs, path)
    print(f"python -c pass                          {base:7.3f} s wall  {base_cpu:6.3f} s CPU")
    print(
        f"coopt profile onnx:light/densenet121    {profile:7.3f} s wall  {profile_cpu:6.3f} s CPU  "
        f"({profile / base:5.1f}x python start; target < {TARGET_PROFILE_S} s wall: "
        f"{'ok' if profile < TARGET_PROFILE_S else 'MISSED'})"
    )
    print(
        f"coopt solve (184 cuts, K = 32, both)    {solve_cli:7.3f} s wall  {solve_cpu:6.3f} s CPU  "
        f"({solve_cli / base:5.1f}x python start)"
    )
    print(f"  in process: load_instance (graph)     {load_s:7.3f} s")
    print(
        f"  in process: solve, every M, both rules {solve_s:6.3f} s  "
        f"(target < {TARGET_SOLVE_S} s: {'ok' if solve_s < TARGET_SOLVE_S else 'MISSED'})"
    )


if __name__ == "__main__":
    main()
