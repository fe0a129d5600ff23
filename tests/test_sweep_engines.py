"""Sweep engines and interruptions: every engine writes the same table, and an interrupted
sweep resumed ends with the table of an uninterrupted one (timing columns aside).

The reference is the serial in-process run. The others: 2 local processes, and runs of
``coopt sweep`` interrupted by SIGINT and by SIGKILL after some jobs (the Dask engines
are in ``test_sweep_dask.py``).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from coopt.sweep import store
from coopt.sweep.engines import MAX_BATCH, MIN_BATCH, batches, run_sweep
from coopt.sweep.spec import load_spec
from tests.test_sweep import table, write_spec

GRID = """
[grid]
"channel.mean_snr_db" = { linspace = [0.0, 30.0, 6] }
"placement.tasks_per_period" = { geomspace = [10.0, 1000.0, 3] }
"placement.rule" = ["optimal", "osla"]
"uplink.bandwidth_hz" = [5.0e6, -1.0]
"""
# Slow enough jobs (a Monte Carlo run each) that a signal arrives mid-sweep.
SLOW = """
[simulate]
tasks = 30000
seed = 1
[grid]
"channel.mean_snr_db" = { linspace = [0.0, 30.0, 24] }
"""
SWEEP = [sys.executable, "-m", "coopt", "sweep"]


def serial_reference(tmp: Path) -> tuple[Path, list[dict[str, str]]]:
    """The spec of GRID and its serial table (72 points, 36 of which fail: a negative bandwidth)."""
    spec_path = write_spec(tmp, GRID)
    summary = run_sweep(load_spec(spec_path), tmp / "out", workers=1, progress=False)
    assert (summary.done, summary.failed) == (36, 36)
    return spec_path, table(tmp / "out")


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    return serial_reference(tmp_path_factory.mktemp("reference"))


def run_cli(spec: Path, out: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*SWEEP, str(spec), "--out", str(out), "--no-progress", *extra], capture_output=True, text=True
    )


@pytest.mark.parametrize(("points", "workers"), [(1000, 2), (72, 2), (72, 8), (3, 4), (0, 2)])
def test_guided_batches_cover_the_jobs_in_order_largest_first(tmp_path, points, workers):
    spec = load_spec(
        write_spec(tmp_path, f'[grid]\n"placement.tasks_per_period" = {{ linspace = [1.0, 1e4, {max(points, 1)}] }}\n')
    )
    jobs = list(spec.jobs)[:points]
    chunks = batches(jobs, workers)
    assert [j for chunk in chunks for j in chunk] == jobs
    sizes = [len(c) for c in chunks]
    assert sizes == sorted(sizes, reverse=True)
    assert all(MIN_BATCH <= n <= MAX_BATCH for n in sizes[:-1]) and all(0 < n <= MAX_BATCH for n in sizes)
    if points >= MAX_BATCH * 2 * workers:
        assert sizes[0] == MAX_BATCH
    assert all(len(c) == 7 for c in batches(jobs, workers, size=7)[:-1])


def test_simulating_and_mip_sweeps_go_one_job_at_a_time(tmp_path):
    grid = '[grid]\n"placement.tasks_per_period" = [10.0, 100.0, 1000.0]\n"method" = ["enumeration", "mip"]\n'
    assert [len(c) for c in batches(list(load_spec(write_spec(tmp_path, grid)).jobs), 2)] == [1] * 6
    spec = load_spec(write_spec(tmp_path, "[simulate]\ntasks = 100\n" + grid.replace(', "mip"', ""), "sim.toml"))
    assert [len(c) for c in batches(list(spec.jobs), 2)] == [1] * 3


def test_two_local_processes_write_the_serial_table(reference, tmp_path):
    spec_path, expected = reference
    run = run_cli(spec_path, tmp_path / "out", "--workers", "2", "--batch", "5")
    assert run.returncode == 1, run.stderr  # the failing points
    assert "36 done, 36 failed" in run.stdout
    assert table(tmp_path / "out") == expected
    workers = {r["worker"] for r in store.read_table(tmp_path / "out")}
    assert len(workers) == 2 and str(os.getpid()) not in {w.split(":")[1] for w in workers}


@pytest.fixture(scope="module")
def slow_reference(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("slow")
    spec_path = write_spec(tmp, SLOW)
    run_sweep(load_spec(spec_path), tmp / "out", workers=1, progress=False)
    return spec_path, table(tmp / "out")


def interrupt(spec: Path, out: Path, sig: int, after: int, *engine: str) -> subprocess.CompletedProcess:
    """Run `coopt sweep` (with ``engine``'s flags) and send ``sig`` once ``after`` jobs are
    logged; its exit code and output."""
    proc = subprocess.Popen(
        [*SWEEP, str(spec), "--out", str(out), "--no-progress", "--batch", "1", *engine],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    stdout = stderr = ""
    try:
        log = out / store.LOG
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            if log.exists() and log.read_bytes().count(b"\n") >= after:
                break
            time.sleep(0.005)
        proc.send_signal(sig)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)


def assert_resumes(spec_path: Path, out: Path, expected: list[dict[str, str]]) -> None:
    """A serial rerun skips the points recorded and ends with the uninterrupted table."""
    recorded = store.read_log(out)
    run = run_cli(spec_path, out, "--workers", "1")
    assert run.returncode == 0, run.stderr
    assert f"{len(recorded)} skipped" in run.stdout
    final = table(out)
    assert [int(r["index"]) for r in final] == list(range(len(expected)))  # no duplicate, none missing
    assert final == expected
    keys = [json.loads(line)["key"] for line in (out / store.LOG).read_text().splitlines()]
    assert len(keys) == len(set(keys)) == len(expected)


def assert_interrupted_cleanly(run: subprocess.CompletedProcess, out: Path, expected: list[dict[str, str]]) -> None:
    """Ctrl-C: exit 130, one line, and the table of everything recorded written on the way out."""
    assert run.returncode == 130, run.stderr
    assert run.stderr.count("\n") == 1 and "Traceback" not in run.stderr, run.stderr
    recorded = store.read_log(out)
    assert 3 <= len(recorded) < len(expected)  # interrupted mid-sweep
    assert len(table(out)) == len(recorded)


def test_sigint_then_resume_gives_the_same_table(slow_reference, tmp_path):
    spec_path, expected = slow_reference
    out = tmp_path / "out"
    assert_interrupted_cleanly(interrupt(spec_path, out, signal.SIGINT, 3, "--workers", "2"), out, expected)
    assert_resumes(spec_path, out, expected)


def test_sigkill_then_resume_gives_the_same_table(slow_reference, tmp_path):
    spec_path, expected = slow_reference
    out = tmp_path / "out"
    run = interrupt(spec_path, out, signal.SIGKILL, 3, "--workers", "1")
    assert run.returncode == -signal.SIGKILL
    assert 3 <= len(store.read_log(out)) < len(expected)  # killed mid-sweep
    assert_resumes(spec_path, out, expected)
