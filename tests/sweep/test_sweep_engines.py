"""Sweep engines and interruptions: every engine writes the same table, and an interrupted
sweep resumed ends with the table of an uninterrupted one (timing columns aside).

The reference is the serial in-process run. The others: 2 local processes, and runs of
``coopt sweep`` interrupted by SIGINT and by SIGKILL after some jobs (the Dask engines
are in ``test_sweep_dask.py``).
"""

from __future__ import annotations

import os
import signal

import pytest

from coopt.sweep import store
from coopt.sweep.engines import MAX_BATCH, MIN_BATCH, batches, run_sweep
from coopt.sweep.spec import load_spec
from tests.support.sweep import (
    SLOW,
    assert_interrupted_cleanly,
    assert_resumes,
    interrupt,
    run_cli,
    serial_reference,
    table,
    write_spec,
)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    return serial_reference(tmp_path_factory.mktemp("reference"))


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


@pytest.mark.mip
def test_simulating_and_mip_sweeps_go_one_job_at_a_time(tmp_path):
    grid = '[grid]\n"placement.tasks_per_period" = [10.0, 100.0, 1000.0]\n"method" = ["enumeration", "mip"]\n'
    assert [len(c) for c in batches(list(load_spec(write_spec(tmp_path, grid)).jobs), 2)] == [1] * 6
    spec = load_spec(write_spec(tmp_path, "[simulate]\ntasks = 100\n" + grid.replace(', "mip"', ""), "sim.toml"))
    assert [len(c) for c in batches(list(spec.jobs), 2)] == [1] * 3


@pytest.mark.slow
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


@pytest.mark.slow
def test_sigint_then_resume_gives_the_same_table(slow_reference, tmp_path):
    spec_path, expected = slow_reference
    out = tmp_path / "out"
    assert_interrupted_cleanly(interrupt(spec_path, out, signal.SIGINT, 3, "--workers", "2"), out, expected)
    assert_resumes(spec_path, out, expected)


@pytest.mark.slow
def test_sigkill_then_resume_gives_the_same_table(slow_reference, tmp_path):
    spec_path, expected = slow_reference
    out = tmp_path / "out"
    run = interrupt(spec_path, out, signal.SIGKILL, 3, "--workers", "1")
    assert run.returncode == -signal.SIGKILL
    assert 3 <= len(store.read_log(out)) < len(expected)  # killed mid-sweep
    assert_resumes(spec_path, out, expected)
