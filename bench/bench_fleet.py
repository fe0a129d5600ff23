"""Benchmark: a whole fleet (MODEL.md 11), tables and allocation, against one `coopt solve`.

    python bench/bench_fleet.py                    # 100 and 1000 devices, 16 x 16 levels, serial tables
    python bench/bench_fleet.py --devices 100 300  # other sizes
    python bench/bench_fleet.py --devices 1000 10000 --engines serial local dask
                                                   # the tables on 2 local processes and on a real
                                                   # 2-worker Dask deployment (scheduler and workers
                                                   # started here on 127.0.0.1, stopped at the end)

The cell: 4 kinds of device (data/cnn_chain.toml, data/mlp.toml, data/markov.toml and
data/alexnet.toml, 8 channel states each) in equal numbers, each copy at its own distance
drawn over the ring 20-150 m (so every device has its own table), 16 x 16 share levels. It
prints, in one process:

* the wall time of one ``coopt solve data/cnn_chain.toml`` (the console script, the baseline
  of the issue's "100 x one solve");
* the tables' time and their rate in single-device optima per second, against a loop of
  ``coopt.solve`` over the same scaled instances (a sample of pairs, timed in process);
* the allocation's time, method, certified gap;
* the whole fleet's wall time as a multiple of the one solve;
* with ``--engines``, the tables' time on each engine and its speed-up over serial (the
  tables must be equal bit for bit on every engine).
"""

from __future__ import annotations

import argparse
import contextlib
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

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


@contextlib.contextmanager
def dask_deployment(workers: int = 2) -> Iterator[str]:
    """A real Dask deployment: ``dask scheduler`` and ``workers`` single-threaded ``dask worker``
    processes on 127.0.0.1 at a free port; yields the scheduler's address."""
    from distributed import Client

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    address = f"tcp://127.0.0.1:{port}"
    dask = [sys.executable, "-m", "dask"]
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    procs = [
        subprocess.Popen([*dask, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"], **quiet)  # type: ignore[call-overload]
    ]
    try:
        procs += [
            subprocess.Popen(
                [*dask, "worker", address, "--nthreads", "1", "--no-dashboard", "--host", "127.0.0.1"], **quiet
            )  # type: ignore[call-overload]
            for _ in range(workers)
        ]
        with Client(address, timeout="30s") as client:
            client.wait_for_workers(workers, timeout=60)
        yield address
    finally:
        for proc in reversed(procs):
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=30)


def engine_tables(fleet, engines: list[str], serial_s: float, serial_tables) -> None:
    """The tables on each engine: time, speed-up over serial, and equality bit for bit."""
    for engine in engines:
        if engine == "serial":
            continue
        with contextlib.ExitStack() as stack:
            kwargs = {"workers": 2}
            if engine == "dask":
                kwargs["dask"] = stack.enter_context(dask_deployment(2))
            t = time.perf_counter()
            tables = fleet_tables(fleet, **kwargs)
            took = time.perf_counter() - t
        same = all(np.array_equal(a.by_placement, b.by_placement) for a, b in zip(serial_tables, tables, strict=True))
        print(
            f"{'':>6} tables on {engine:<6} (2 workers): {took:>7.2f} s, {serial_s / took:>4.2f} x serial"
            + ("" if same else "  MISMATCH")
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--levels", type=int, default=16)
    parser.add_argument(
        "--engines", nargs="+", default=["serial"], choices=["serial", "local", "dask"], help="where the tables run"
    )
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
            engine_tables(fleet, args.engines, table_s, tables)


if __name__ == "__main__":
    main()
