"""Sweep specs, tables and interrupted runs shared by tests/sweep (serial, processes, Dask)."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import time
from pathlib import Path

from coopt.sweep import store
from coopt.sweep.engines import run_sweep
from coopt.sweep.spec import load_spec
from tests.support.instances import EXAMPLES

TIMING = set(store.TIMING_COLUMNS)


def write_spec(tmp_path: Path, body: str, name: str = "spec.toml") -> Path:
    path = tmp_path / name
    path.write_text(f'base = "{(EXAMPLES / "cnn_chain.toml").as_posix()}"\n{body}', encoding="utf-8")
    return path


def table(out: Path) -> list[dict[str, str]]:
    """The results table without its timing columns."""
    with open(out / store.TABLE, encoding="utf-8", newline="") as f:
        return [{k: v for k, v in row.items() if k not in TIMING} for row in csv.DictReader(f)]


ENGINE_GRID = """
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
    """The spec of ENGINE_GRID and its serial table (72 points, 36 of which fail: a negative bandwidth)."""
    spec_path = write_spec(tmp, ENGINE_GRID)
    summary = run_sweep(load_spec(spec_path), tmp / "out", workers=1, progress=False)
    assert (summary.done, summary.failed) == (36, 36)
    return spec_path, table(tmp / "out")


def run_cli(spec: Path, out: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*SWEEP, str(spec), "--out", str(out), "--no-progress", *extra], capture_output=True, text=True
    )


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
