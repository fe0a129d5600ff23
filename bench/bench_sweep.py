"""Benchmark: a 1,000-point DP sweep, in jobs per second, on every engine.

The sweep: ``data/cnn_chain.toml`` over 50 mean SNRs x 20 tasks-per-period values
(enumeration, rule ``optimal``), about 2 ms of solving per point. Each round measures,
in the same process and one after the other:

* ``loop``: ``coopt.solve(parse_instance(doc))`` for every resolved point in a plain
  loop (the floor: no log, no table, no scheduling);
* ``serial``: ``coopt sweep --workers 1`` (:func:`coopt.sweep.engines.run_sweep`),
  with its log and table; target: within 2x of ``loop``;
* ``2 processes``: ``--workers 2`` (pool start-up included); target: >= 1.7x serial;
* ``dask 2 workers``: ``--dask ADDRESS`` on a Dask deployment on 127.0.0.1, a ``dask
  scheduler`` and two single-threaded ``dask worker`` processes, started once before
  the clock and stopped at the end; target: >= 1.5x serial. (Not a ``LocalCluster``:
  its scheduler would run in this process, and its event loop would slow down the
  ``loop`` and ``serial`` measured beside it.)
* ``bare 2 processes``: the loop's solves split in two halves on a 2-process pool
  started before the clock, with no sweep at all: what this machine gives two processes
  of this work, the ceiling of ``2 processes``;
* ``bare dask``: the loop's solves in the sweep's batches on the same Dask deployment,
  nothing returned or recorded: what Dask itself gets here, the ceiling of ``dask 2
  workers``. On 2 cores its scheduler and the client share the cores with the workers.

Each engine writes a fresh directory; every table is checked equal to the serial one
(timing columns aside).

Rounds, medians: on a shared virtual machine the speed of a core drifts by tens of per
cent from one second to the next (the same 1,000 solves took 1.4 to 2.8 s in one
process here), more than the differences measured. So the engines run interleaved, in
``--rounds`` rounds, each round in the order A B C ... C B A (so that a linear drift
cancels) and an engine's rate in a round is over its two runs; each ratio is taken
within its round (``serial`` over the round's ``loop``, the parallel engines over the
round's ``serial``), and the median over the rounds is the figure to quote, beside the
core count.

CPU per job, from the last round: the owner process's CPU (``time.process_time``: for
``serial`` it includes the solves; for Dask it includes the scheduler, which runs in the
owner's process) and the jobs' own CPU (the table's ``cpu_s``).

Run: ``python bench/bench_sweep.py [--points-snr 50] [--points-tasks 20] [--rounds 5]``.

**Sweep size** (``--scale 1000 10000 100000 [1000000]``): time and the owner's peak
memory against the number of points, on a small instance (``data/cnn_chain.toml`` with 2
channel states) over 100 mean SNRs x ``n / 100`` tasks-per-period values, serially (the
owner is also the solver: the worst case for its memory). Each size runs in a fresh
process (``ru_maxrss`` is a high-water mark): first a baseline, a plain loop of
``coopt.solve`` on its first 1,000 points, then ``run_sweep`` on all of them, in the
same process, so that the ratio of the sweep's time per point to the baseline's cancels
the drift of a shared machine. Printed: seconds, ms per point, the ratio, the peak RSS
after the baseline and after the sweep (``resource.getrusage``), the output sizes, and
the exponents of time and of peak RSS fitted against the number of points (log-log
least squares): 1 and 0 are linear time and flat memory.
"""

from __future__ import annotations

import argparse
import csv
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from coopt import solve
from coopt.model.instance import parse_instance
from coopt.sweep import store
from coopt.sweep.engines import batches, run_sweep
from coopt.sweep.spec import Job, load_spec

DATA = Path(__file__).resolve().parent.parent / "data"
ENGINES = ("loop", "serial", "2 processes", "dask 2 workers", "bare 2 processes", "bare dask")
# What each rate is divided by, within its round, and the target of the ratio.
RELATIVE = {
    "serial": ("loop", 0.5),
    "2 processes": ("serial", 1.7),
    "dask 2 workers": ("serial", 1.5),
    "bare 2 processes": ("loop", None),
    "bare dask": ("loop", None),
}


def _rows(out: Path) -> list[dict[str, str]]:
    with open(out / store.TABLE, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def _table(out: Path) -> list[dict[str, str]]:
    return [{k: v for k, v in r.items() if k not in store.TIMING_COLUMNS} for r in _rows(out)]


def dask_deployment(log: Path) -> tuple[str, list[subprocess.Popen[bytes]]]:
    """A ``dask scheduler`` and two ``dask worker`` processes on 127.0.0.1, ready."""
    from distributed import Client

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    address = f"tcp://127.0.0.1:{port}"
    dask = str(Path(sys.executable).parent / "dask")
    out = open(log, "w")
    procs = [
        subprocess.Popen(
            [dask, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"], stdout=out, stderr=out
        )
    ]
    for _ in range(2):
        procs.append(
            subprocess.Popen(
                [dask, "worker", address, "--host", "127.0.0.1", "--nthreads", "1", "--no-dashboard"],
                stdout=out,
                stderr=out,
            )
        )
    with Client(address, timeout="60s") as client:
        client.wait_for_workers(2, timeout=60)
    return address, procs


def loop(jobs: list[Job]) -> None:
    for job in jobs:
        solve(parse_instance(job.doc, base_dir=Path(job.base_dir), name=job.name)).to_dict()


SMALL_STATES = 2


def scale_one(points: int, tmp: Path) -> dict[str, float]:
    """One size of ``--scale``, in this (fresh) process: baseline loop, then the sweep."""
    import resource

    base = tmp / "small.toml"
    base.write_text(
        (DATA / "cnn_chain.toml").read_text(encoding="utf-8").replace("states = 16", f"states = {SMALL_STATES}")
    )
    spec_path = tmp / "scale.toml"
    spec_path.write_text(
        f'base = "{base.as_posix()}"\n[grid]\n'
        f'"placement.tasks_per_period" = {{ geomspace = [10.0, 1.0e4, {points // 100}] }}\n'
        '"channel.mean_snr_db" = { linspace = [0.0, 30.0, 100] }\n',
        encoding="utf-8",
    )
    t = time.perf_counter()
    spec = load_spec(spec_path)
    load_s = time.perf_counter() - t
    sample = spec.jobs[: min(points, 1000)]
    t = time.perf_counter()
    loop(sample)
    baseline = (time.perf_counter() - t) / len(sample)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out = tmp / "out"
    t = time.perf_counter()
    summary = run_sweep(spec, out, workers=1, progress=False)
    seconds = time.perf_counter() - t
    assert summary.done == points, summary.line()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "points": points,
        "load_s": load_s,
        "seconds": seconds,
        "ms_per_point": 1e3 * seconds / points,
        "ratio": seconds / points / baseline,
        "rss_before_mb": rss_before,
        "rss_mb": rss,
        "log_mb": (out / store.LOG).stat().st_size / 1e6,
        "table_mb": (out / store.TABLE).stat().st_size / 1e6,
    }


def scale(sizes: list[int]) -> None:
    """``--scale``: every size in its own process, then the fitted exponents."""
    import json

    import numpy as np

    print(f"sweep size, serial, {os.cpu_count()} cores (load average {os.getloadavg()[0]:.1f})")
    print(
        f"{'points':>8} {'load s':>7} {'sweep s':>8} {'ms/pt':>6} {'x loop':>7} {'RSS before':>11} {'peak RSS':>9} {'log MB':>8} {'table MB':>9}"
    )
    rows = []
    for n in sizes:
        if n % 100 or n < 200:
            raise SystemExit(f"--scale {n}: a multiple of 100, at least 200")
        run = subprocess.run(
            [sys.executable, __file__, "--scale-one", str(n)], capture_output=True, text=True, check=True
        )
        r = json.loads(run.stdout.splitlines()[-1])
        rows.append(r)
        print(
            f"{n:>8} {r['load_s']:7.2f} {r['seconds']:8.1f} {r['ms_per_point']:6.2f} {r['ratio']:7.2f} "
            f"{r['rss_before_mb']:9.1f} MB {r['rss_mb']:6.1f} MB {r['log_mb']:8.1f} {r['table_mb']:9.1f}",
            flush=True,
        )
    if len(rows) >= 2:
        x = np.log([r["points"] for r in rows])
        for what in ("seconds", "rss_mb"):
            slope = np.polyfit(x, np.log([r[what] for r in rows]), 1)[0]
            print(f"fitted exponent of {what} against points: {slope:.3f}")
        growth = rows[-1]["rss_mb"] - rows[0]["rss_mb"]
        print(f"peak RSS grows by {growth:.1f} MB from {rows[0]['points']} to {rows[-1]['points']} points")


def main() -> None:
    if "--scale-one" in sys.argv:
        import json

        with tempfile.TemporaryDirectory() as tmp:
            print(json.dumps(scale_one(int(sys.argv[sys.argv.index("--scale-one") + 1]), Path(tmp))))
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points-snr", type=int, default=50)
    ap.add_argument("--points-tasks", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=5, help="interleaved rounds (the median ratio is quoted)")
    ap.add_argument("--scale", type=int, nargs="+", metavar="POINTS", help="time and owner memory against sweep size")
    args = ap.parse_args()
    if args.scale:
        scale(args.scale)
        return
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        spec_path = tmp / "bench.toml"
        spec_path.write_text(
            f'base = "{(DATA / "cnn_chain.toml").as_posix()}"\n[grid]\n'
            f'"channel.mean_snr_db" = {{ linspace = [0.0, 30.0, {args.points_snr}] }}\n'
            f'"placement.tasks_per_period" = {{ geomspace = [10.0, 1.0e4, {args.points_tasks}] }}\n',
            encoding="utf-8",
        )
        spec = load_spec(spec_path)
        jobs = list(spec.jobs)
        n = len(jobs)
        print(f"{n} points, {os.cpu_count()} cores (load average {os.getloadavg()[0]:.1f}), {args.rounds} rounds")

        t = time.perf_counter()
        address, procs = dask_deployment(tmp / "dask.log")
        startup = time.perf_counter() - t
        bare = ProcessPoolExecutor(max_workers=2)
        list(bare.map(loop, [jobs[:10], jobs[10:20]]))  # started and warm before the clock
        runs = 0
        reference: list[dict[str, str]] | None = None

        def sweep(**kw: object) -> Callable[[], Path]:
            def run() -> Path:
                nonlocal runs
                runs += 1
                out = tmp / f"run{runs}"
                run_sweep(spec, out, progress=False, **kw)  # type: ignore[arg-type]
                return out

            return run

        def split() -> None:
            list(bare.map(loop, [jobs[0::2], jobs[1::2]]))

        def bare_dask() -> None:
            from distributed import Client, as_completed

            with Client(address) as client:
                for future in as_completed([client.submit(loop, chunk, pure=False) for chunk in batches(jobs, 2)]):
                    future.result()

        engines: dict[str, Callable[[], Path | None]] = {
            "loop": lambda: loop(jobs),
            "serial": sweep(workers=1),
            "2 processes": sweep(workers=2),
            "dask 2 workers": sweep(workers=2, dask=address),
            "bare 2 processes": split,
            "bare dask": bare_dask,
        }
        rates: dict[str, list[float]] = {name: [] for name in ENGINES}
        cpu: dict[str, tuple[float, float]] = {}  # engine -> (owner CPU ms per job, jobs' CPU ms per job)
        try:
            print("round  " + "  ".join(f"{name:>16}" for name in ENGINES) + "   (jobs/s)")
            for r in range(args.rounds):
                seconds = dict.fromkeys(ENGINES, 0.0)
                for name in [*ENGINES, *reversed(ENGINES)]:  # A B C C B A: a linear drift cancels
                    t, c = time.perf_counter(), time.process_time()
                    out = engines[name]()
                    seconds[name] += time.perf_counter() - t
                    owner = 1e3 * (time.process_time() - c) / n
                    if out is not None:
                        table = _table(out)
                        reference = reference or table
                        assert table == reference, f"{name}: its table differs from the first sweep's"
                        cpu[name] = (owner, 1e3 * sum(float(row["cpu_s"]) for row in _rows(out)) / n)
                    elif name == "loop":
                        cpu[name] = (owner, owner)
                for name in ENGINES:
                    rates[name].append(2 * n / seconds[name])
                print(f"{r + 1:>5}  " + "  ".join(f"{rates[name][-1]:16.1f}" for name in ENGINES), flush=True)
        finally:
            bare.shutdown()
            for proc in reversed(procs):  # workers first: a worker without its scheduler retries
                proc.terminate()
                proc.wait(timeout=30)

        print(f"\n{'engine':<17} {'median jobs/s':>13} {'ratio':>20} {'rounds':>22} {'owner ms':>9} {'jobs ms':>8}")
        for name in ENGINES:
            owner, job_ms = (f"{x:.2f}" for x in cpu[name]) if name in cpu else ("-", "-")
            ratio = per_round = ""
            if name in RELATIVE:
                base, target = RELATIVE[name]
                ratios = [a / b for a, b in zip(rates[name], rates[base])]
                goal = f" (>= {target})" if target else ""
                ratio = f"{statistics.median(ratios):.2f}x {base}{goal}"
                per_round = " ".join(f"{x:.2f}" for x in ratios)
            print(
                f"{name:<17} {statistics.median(rates[name]):13.1f} {ratio:>20} {per_round:>22} {owner:>9} {job_ms:>8}"
            )
        print(f"(Dask deployment start-up, not in its rate: {startup:.1f} s)")


if __name__ == "__main__":
    main()
