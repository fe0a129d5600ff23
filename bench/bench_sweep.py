"""Benchmark: a 1,000-point DP sweep, in jobs per second, on every engine.

The sweep: ``data/cnn_chain.toml`` over 50 mean SNRs x 20 tasks-per-period values
(enumeration, rule ``optimal``), about 2 ms of solving per point. Printed, in the same
process:

* ``loop``: ``coopt.solve(parse_instance(doc))`` for every resolved point in a plain
  loop (the floor: no log, no table, no scheduling);
* ``serial``: ``coopt sweep --workers 1`` (:func:`coopt.sweep.engines.run_sweep`),
  with its log and table; target: within 2x of ``loop``;
* ``2 processes``: ``--workers 2`` (pool start-up included); target: >= 1.7x serial;
* ``dask 2 workers``: a ``LocalCluster`` of 2 single-threaded worker processes, started
  before the clock (its start-up is printed apart); target: >= 1.5x serial.

Each engine writes a fresh directory; every table is checked equal to the serial one
(timing columns aside). Scaling is bounded by the cores: run it on an idle machine and
report the core count (printed) beside the ratios.

On a machine shared with other work the wall-clock rates say little about scaling, so
CPU times are printed too: the owner process's CPU per job (``time.process_time``: for
``serial`` it includes the solves; for Dask it includes the scheduler, which runs in the
owner's process) and the jobs' own CPU per job (the table's ``cpu_s``). From them,
``idle bound`` is the rate 2 idle cores could reach at most: ``1 / owner`` serially,
``min(2 / (owner + jobs), 1 / owner, 2 / jobs)`` with two workers (the owner and the
workers share the 2 cores). It leaves out the workers' own scheduling and pickling
outside a job, so it is an upper bound, not a measurement.

Run: ``python bench/bench_sweep.py [--points-snr 50] [--points-tasks 20] [--repeat 1]``.
"""

from __future__ import annotations

import argparse
import csv
import os
import tempfile
import time
from pathlib import Path

from coopt import solve
from coopt.model.instance import parse_instance
from coopt.sweep import store
from coopt.sweep.engines import run_sweep
from coopt.sweep.spec import load_spec

DATA = Path(__file__).resolve().parent.parent / "data"


def _table(out: Path) -> list[dict[str, str]]:
    with open(out / store.TABLE, encoding="utf-8", newline="") as f:
        return [{k: v for k, v in r.items() if k not in store.TIMING_COLUMNS} for r in csv.DictReader(f)]


def _cpu(out: Path) -> float:
    """The jobs' CPU seconds, summed over the table."""
    with open(out / store.TABLE, encoding="utf-8", newline="") as f:
        return sum(float(r["cpu_s"]) for r in csv.DictReader(f))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points-snr", type=int, default=50)
    ap.add_argument("--points-tasks", type=int, default=20)
    ap.add_argument("--repeat", type=int, default=1, help="runs per engine (the best is printed)")
    args = ap.parse_args()
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
        n = len(spec.jobs)
        print(f"{n} points, {os.cpu_count()} cores (load average {os.getloadavg()[0]:.1f})")

        def loop() -> None:
            for job in spec.jobs:
                solve(parse_instance(job.doc, base_dir=Path(job.base_dir), name=job.name)).to_dict()

        runs = 0
        cpu: dict[str, tuple[float, float]] = {}  # engine -> (owner CPU s per job, jobs' CPU s per job)

        def engine(**kw) -> None:
            nonlocal runs
            runs += 1
            run_sweep(spec, tmp / f"run{runs}", progress=False, **kw)

        def best(name: str, fn) -> float:
            times = []
            for _ in range(args.repeat):
                t, c = time.perf_counter(), time.process_time()
                fn()
                times.append(time.perf_counter() - t)
                owner = (time.process_time() - c) / n
            jobs = owner if name == "loop" else _cpu(tmp / f"run{runs}") / n
            cpu[name] = (owner, jobs)
            return n / min(times)

        rates = {"loop": best("loop", loop)}
        rates["serial"] = best("serial", lambda: engine(workers=1))
        reference = _table(tmp / f"run{runs}")
        rates["2 processes"] = best("2 processes", lambda: engine(workers=2))
        assert _table(tmp / f"run{runs}") == reference

        from distributed import LocalCluster

        t = time.perf_counter()
        cluster = LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
        )
        startup = time.perf_counter() - t
        c = time.process_time()
        time.sleep(3.0)
        idle_cpu = (time.process_time() - c) / 3.0  # the in-process scheduler's background work
        try:
            rates["dask 2 workers"] = best("dask 2 workers", lambda: engine(workers=2, dask=cluster.scheduler_address))
            assert _table(tmp / f"run{runs}") == reference
        finally:
            cluster.close()

        print(
            f"{'engine':<16} {'jobs/s':>8} {'x serial':>9} {'x loop':>7} {'owner ms':>9} {'jobs ms':>8} {'idle bound':>11}"
        )
        bounds = {}
        for name, rate in rates.items():
            owner, jobs = cpu[name]
            parallel = name not in ("loop", "serial")
            bounds[name] = min(2 / (owner + jobs), 1 / owner, 2 / jobs) if parallel else 1 / owner
            print(
                f"{name:<16} {rate:8.1f} {rate / rates['serial']:9.2f} {rate / rates['loop']:7.2f} "
                f"{1e3 * owner:9.2f} {1e3 * jobs:8.2f} {bounds[name]:8.0f}/s"
            )
        print(
            "idle bound x serial: "
            + ", ".join(f"{k} {v / bounds['serial']:.2f}" for k, v in bounds.items() if k not in ("loop", "serial"))
        )
        print(
            f"(Dask LocalCluster start-up, not in its rate: {startup:.1f} s; its scheduler, in the owner's "
            f"process, uses {1e3 * idle_cpu:.0f} ms of CPU per second while idle)"
        )


if __name__ == "__main__":
    main()
