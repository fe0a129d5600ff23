"""Benchmark: a whole fleet (MODEL.md 11), tables and allocation, against one `coopt solve`.

    python bench/bench_fleet.py                    # 100 and 1000 devices, 16 x 16 levels
    python bench/bench_fleet.py --devices 100 300  # other sizes

The cell: 4 kinds of device (data/cnn_chain.toml, data/mlp.toml, data/markov.toml and
data/alexnet.toml, 8 channel states each) in equal numbers, each copy at its own distance
drawn over the ring 20-150 m (so every device has its own table), 16 x 16 share levels. It
prints, in one process:

* the wall time of one ``coopt solve data/cnn_chain.toml`` (the console script, the baseline
  of the issue's "100 x one solve");
* the tables' time and their rate in single-device optima per second, against a loop of
  ``coopt.solve`` over the same scaled instances (a sample of pairs, timed in process);
* the allocation's time, method, certified gap;
* the whole fleet's wall time as a multiple of the one solve.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from coopt import solve
from coopt.fleet import load_fleet, solve_fleet
from coopt.fleet.tables import fleet_tables, instance_at

ROOT = Path(__file__).resolve().parent.parent
KINDS = ("cnn_chain", "mlp", "markov", "alexnet")


def fleet_file(directory: Path, devices: int, levels: int) -> Path:
    entries = "".join(
        f'[[device]]\ninstance = "{ROOT / "data" / kind}.toml"\ncount = {devices // len(KINDS)}\n'
        f'distance_m = {{ disc = [20.0, 150.0], seed = {s} }}\nset = {{ "channel.states" = 8 }}\n'
        for s, kind in enumerate(KINDS)
    )
    path = directory / f"cell{devices}.toml"
    path.write_text(
        f"[shared]\nbandwidth_hz = 4.0e7\nnoise_w = 1.6e-13\nedge_cpu_hz = 4.0e10\n"
        f"bandwidth_levels = {levels}\nedge_levels = {levels}\n"
        "[shared.path_loss]\nref_gain = 1.0e-4\nref_distance_m = 1.0\nexponent = 3.0\n" + entries
    )
    return path


def one_solve_s(repeats: int = 3) -> float:
    cmd = [sys.executable, "-m", "coopt", "solve", str(ROOT / "data" / "cnn_chain.toml"), "--json"]
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        times.append(time.perf_counter() - t)
    return min(times)


def solve_loop_rate(fleet, pairs: int = 200) -> float:
    """Single-device optima per second of a loop over coopt.solve (a sample of grid pairs)."""
    shared = fleet.shared
    work = [(inst, x, y) for inst in fleet.kinds[:4] for x in shared.x_levels[1:] for y in shared.y_levels[1:]]
    work = work[:: max(1, len(work) // pairs)][:pairs]
    t = time.perf_counter()
    for inst, x, y in work:
        solve(instance_at(inst, shared, x, y))
    return len(work) / (time.perf_counter() - t)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--levels", type=int, default=16)
    args = parser.parse_args()
    base = one_solve_s()
    print(f"one `coopt solve data/cnn_chain.toml --json`: {base:.3f} s (console script, best of 3)")
    print(
        f"{'U':>6} {'kinds':>6} {'optima':>8} {'tables s':>9} {'optima/s':>9} {'loop/s':>8} {'ratio':>6} "
        f"{'alloc s':>8} {'method':>11} {'gap':>9} {'total s':>8} {'x solve':>8}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        for devices in args.devices:
            start = time.perf_counter()
            fleet = load_fleet(fleet_file(Path(tmp), devices, args.levels))
            t = time.perf_counter()
            tables = fleet_tables(fleet)
            table_s = time.perf_counter() - t
            result = solve_fleet(fleet, tables=tables)
            total = time.perf_counter() - start
            optima = len(fleet.kinds) * len(fleet.shared.x_levels) * len(fleet.shared.y_levels)
            rate = optima / table_s
            loop = solve_loop_rate(fleet)
            print(
                f"{fleet.size:>6} {len(fleet.kinds):>6} {optima:>8} {table_s:>9.2f} {rate:>9.0f} {loop:>8.0f} "
                f"{rate / loop:>6.1f} {result.allocation_time_s:>8.2f} {result.method:>11} {result.gap:>9.2e} "
                f"{total:>8.1f} {total / base:>8.1f}"
            )


if __name__ == "__main__":
    main()
