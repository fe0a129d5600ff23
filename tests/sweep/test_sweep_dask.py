"""The Dask engines write the serial table: a ``LocalCluster`` started by ``coopt sweep
--dask local``, and a real deployment (a ``dask scheduler`` and two ``dask worker``
processes on 127.0.0.1 at a free port, started here and stopped at the end, even on
failure). Both run ``coopt sweep`` in a subprocess, as a user would.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys

import pytest

from coopt.sweep import store
from coopt.sweep.engines import run_sweep
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

pytestmark = pytest.mark.dask

pytest.importorskip("distributed")

DASK = [sys.executable, "-m", "dask"]  # the dask CLI of this interpreter, with or without its script


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    return serial_reference(tmp_path_factory.mktemp("reference"))


@pytest.mark.slow
def test_dask_local_cluster_writes_the_serial_table(reference, tmp_path):
    spec_path, expected = reference
    run = run_cli(spec_path, tmp_path / "out", "--dask", "local", "--workers", "2", "--batch", "4")
    assert run.returncode == 1, run.stderr
    assert table(tmp_path / "out") == expected
    assert "Traceback" not in run.stderr and "Warning" not in run.stderr, run.stderr


@pytest.mark.slow
def test_ctrl_c_on_a_local_cluster_then_resume_gives_the_same_table(tmp_path):
    """Ctrl-C cancels the batches not run and stops the cluster; a rerun finishes the table."""
    spec_path = write_spec(tmp_path, SLOW)
    run_sweep(load_spec(spec_path), tmp_path / "reference", workers=1, progress=False)
    expected = table(tmp_path / "reference")
    out = tmp_path / "out"
    run = interrupt(spec_path, out, signal.SIGINT, 3, "--dask", "local", "--workers", "2")
    assert_interrupted_cleanly(run, out, expected)
    assert_resumes(spec_path, out, expected)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stop(procs: list[subprocess.Popen]) -> None:
    """Terminate and wait, workers first: a worker whose scheduler is gone retries for 30 s."""
    for p in reversed(procs):
        p.terminate()
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


@pytest.mark.slow
def test_real_dask_deployment_writes_the_serial_table(reference, tmp_path):
    """A `dask scheduler` and two `dask worker` processes on 127.0.0.1, random free ports."""
    spec_path, expected = reference
    address = f"tcp://127.0.0.1:{_free_port()}"
    logs = open(tmp_path / "dask.log", "w")  # closed in finally
    procs: list[subprocess.Popen] = []
    try:
        procs.append(
            subprocess.Popen(
                [*DASK, "scheduler", "--host", "127.0.0.1", "--port", address.rsplit(":", 1)[1], "--no-dashboard"],
                stdout=logs,
                stderr=logs,
            )
        )
        for _ in range(2):
            procs.append(
                subprocess.Popen(
                    [
                        *DASK,
                        "worker",
                        address,
                        "--host",
                        "127.0.0.1",
                        "--nthreads",
                        "1",
                        "--no-nanny",
                        "--no-dashboard",
                    ],
                    stdout=logs,
                    stderr=logs,
                )
            )
        from distributed import Client

        with Client(address, timeout="60s") as client:
            client.wait_for_workers(2, timeout=60)
        run = run_cli(spec_path, tmp_path / "out", "--dask", address, "--workers", "2", "--batch", "6")
        assert run.returncode == 1, run.stderr
        assert table(tmp_path / "out") == expected
        workers = {r["worker"] for r in store.read_table(tmp_path / "out")}
        assert len(workers) == 2
    finally:
        _stop(procs)
        logs.close()
