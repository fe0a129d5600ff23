"""Sweeps of any size (issue 19 item 4): lazy jobs, a table streamed from the log, the disk check.

The references are independent of the code under test: grid points by ``itertools.product``
over the axis values, the fingerprint by hashing the list of every job key, and the table
by joining the rows of :func:`coopt.sweep.store.row` of the records of
:func:`coopt.sweep.store.read_log`, all held in memory, as the table was written before it
was streamed.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
import shutil
import time
from collections import namedtuple

import numpy as np
import pytest

from coopt.cli.main import main
from coopt.sweep import engines as sweep_engines
from coopt.sweep import spec as sweep_spec
from coopt.sweep import store
from coopt.sweep.engines import run_sweep
from coopt.sweep.spec import load_spec
from tests.support.sweep import write_spec

HUGE = """
[grid]
"channel.mean_snr_db" = { linspace = [0.0, 30.0, 1000] }
"placement.tasks_per_period" = { geomspace = [10.0, 1.0e4, 1000] }
"device.cpu_hz" = { geomspace = [1.0e8, 1.0e10, 1000] }
"""
SMALL = """
[grid]
"placement.tasks_per_period" = { geomspace = [10.0, 1000.0, 3] }
"uplink.bandwidth_hz" = [5.0e6, -1.0]
"placement.rule" = ["optimal", "osla"]
"""
Usage = namedtuple("Usage", "total used free")


def old_table(out, spec) -> bytes:
    """The table as it was written before streaming: every row in memory, joined."""
    records = store.read_log(out)
    rows = [store.row(j, records[j.key]) for j in spec.jobs if j.key in records]
    cols = store.columns(spec, rows)
    lines = [",".join(store.field(c) for c in cols)]
    lines.extend(",".join([r.get(c, "") for c in cols]) for r in rows)
    return ("\n".join(lines) + "\n").encode("utf-8")


def test_huge_grid_is_counted_not_listed_and_its_points_are_the_product(tmp_path):
    t = time.perf_counter()
    spec = load_spec(write_spec(tmp_path, HUGE))
    assert spec.points == len(spec.jobs) == 10**9
    assert len(spec.fingerprint) == 64
    assert time.perf_counter() - t < 20  # 3,000 probe jobs, not 10^9
    axes = [a.values for a in spec.axes]
    for index in (0, 1, 999, 1000, 123_456_789, 10**9 - 1):
        expected = (axes[0][index // 10**6], axes[1][index // 1000 % 1000], axes[2][index % 1000])
        job = spec.jobs[index]
        assert tuple(job.values.values()) == expected and job.index == index
        assert job.doc["device"]["cpu_hz"] == expected[2]
    assert spec.jobs[-1].values == spec.jobs[10**9 - 1].values
    with pytest.raises(IndexError):
        spec.jobs[10**9]


def test_lazy_jobs_are_the_itertools_product_with_the_old_keys(tmp_path):
    body = (
        'zip = [["device.cpu_hz", "device.kappa"]]\n'
        + SMALL
        + '"device.cpu_hz" = [5.0e8, 1.0e9]\n"device.kappa" = [1.0e-27, 2.0e-27]\n'
    )
    spec = load_spec(write_spec(tmp_path, body))
    keys = [a.key for a in spec.axes]
    values = [a.values for a in spec.axes]
    blocks = [list(zip(values[0])), list(zip(values[1])), list(zip(values[2])), list(zip(values[3], values[4]))]
    expected = [dict(zip(keys, (v for part in combo for v in part))) for combo in itertools.product(*blocks)]
    assert [j.values for j in spec.jobs] == expected == [spec.jobs[i].values for i in range(len(expected))]
    assert [j.key for j in spec.jobs] == [spec.jobs[i].key for i in range(len(expected))]
    text = json.dumps({"axes": keys, "jobs": [j.key for j in spec.jobs]}, sort_keys=True, separators=(",", ":"))
    assert spec.fingerprint == hashlib.sha256(text.encode()).hexdigest()


def test_repeat_in_a_later_axis_names_the_first_repeated_point(tmp_path):
    # grid order: the repeat of the rule axis (points 0 and 1) comes before that of the tasks axis (0 and 4)
    body = '[grid]\n"placement.tasks_per_period" = [10.0, 10.0]\n"channel.mean_snr_db" = [1.0, 2.0]\n"placement.rule" = ["osla", "osla"]\n'
    with pytest.raises(Exception, match=r"points 0 and 1 are the same job"):
        load_spec(write_spec(tmp_path, body))
    body = '[grid]\n"placement.tasks_per_period" = [10.0, 20.0, 10.0]\n"placement.rule" = ["osla", "optimal"]\n'
    with pytest.raises(Exception, match=r"points 0 and 4 are the same job"):
        load_spec(write_spec(tmp_path, body))
    # an axis that another one overrides: the mean SNR sets channel.mean_gain
    body = '[grid]\n"channel.mean_gain" = [1.0e-11, 2.0e-11]\n"channel.mean_snr_db" = [5.0, 10.0]\n'
    with pytest.raises(Exception, match=r"points 0 and 2 are the same job"):
        load_spec(write_spec(tmp_path, body))


def test_huge_grid_refuses_at_once_for_the_disk_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "out"
    t = time.perf_counter()
    assert main(["sweep", str(write_spec(tmp_path, HUGE)), "--out", str(out), "--workers", "1"]) == 2
    assert time.perf_counter() - t < 30
    err = capsys.readouterr().err
    free = shutil.disk_usage(tmp_path).free
    assert err.count("\n") == 1 and "1000000000 points need about" in err and "TB" in err
    assert "free there; the output cannot fit" in err and free < 10**9 * 4000  # the refusal is right
    assert not out.exists()


def test_huge_grid_starts_its_first_job_within_seconds(tmp_path, monkeypatch):
    """With room for it, a 10^9-point grid records its first jobs at once; stopped by a
    Ctrl-C after three batches, its table holds exactly the jobs it logged."""
    monkeypatch.setattr(shutil, "disk_usage", lambda _: Usage(10**16, 0, 10**16))
    calls = []
    run_batch = sweep_engines.run_batch

    def stop_after_three(jobs):
        calls.append(time.perf_counter())
        if len(calls) > 3:
            raise KeyboardInterrupt
        return run_batch(jobs)

    monkeypatch.setattr(sweep_engines, "run_batch", stop_after_three)
    spec = load_spec(write_spec(tmp_path, HUGE))
    out = tmp_path / "out"
    t = time.perf_counter()
    with pytest.raises(KeyboardInterrupt):
        run_sweep(spec, out, batch=7, progress=False)
    assert calls[0] - t < 10  # the first job starts within seconds
    lines = (out / store.LOG).read_text().splitlines()
    assert [json.loads(line)["index"] for line in lines] == list(range(1 + 7 + 7))  # the first alone, then batches
    rows = store.read_table(out)
    assert [int(r["index"]) for r in rows] == list(range(15))
    assert json.loads((out / store.MANIFEST).read_text())["points"] == 10**9


def test_disk_refusal_names_count_estimate_and_free_space(tmp_path, monkeypatch, capsys):
    spec_path = write_spec(tmp_path, SMALL)
    out = tmp_path / "out"
    assert main(["sweep", str(spec_path), "--out", str(out), "--workers", "1"]) == 1  # the negative bandwidth fails
    log, table = (out / store.LOG).read_bytes(), (out / store.TABLE).read_bytes()
    lines = log.splitlines()
    capsys.readouterr()
    # the estimate: the first point's log line and row times the points (12 rows, 0 lines left to log)
    free = 1000
    monkeypatch.setattr(shutil, "disk_usage", lambda _: Usage(10**9, 10**9 - free, free))
    fresh = tmp_path / "fresh"
    assert main(["sweep", str(spec_path), "--out", str(fresh), "--workers", "1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "12 points need about" in err and "1 kB free there" in err, err
    found = re.search(r"about ([0-9.]+) kB \(12 log lines of (\d+) B and table rows of (\d+) B", err)
    assert found, err
    need, line_bytes, row_bytes = float(found[1]) * 1000, int(found[2]), int(found[3])
    assert need == pytest.approx(12 * line_bytes + 12 * row_bytes, rel=5e-3)  # 3 significant digits
    # the first point's record and row, but for its timing fields (their lengths vary)
    assert abs(line_bytes - (len(lines[0]) + 1)) < 40
    assert abs(row_bytes - len(table.splitlines()[1]) - 1) < 40
    assert not fresh.exists()
    # a resume that must run jobs is refused too, and leaves the directory untouched
    assert main(["sweep", str(spec_path), "--out", str(out), "--workers", "1", "--retry-failed"]) == 2
    assert "6 log lines of" in capsys.readouterr().err
    assert (out / store.LOG).read_bytes() == log and (out / store.TABLE).read_bytes() == table
    # a resume with nothing to run needs no room
    assert main(["sweep", str(spec_path), "--out", str(out), "--workers", "1"]) == 1
    assert (out / store.TABLE).read_bytes() == table


def test_streamed_table_is_the_old_table_byte_for_byte(tmp_path):
    spec = load_spec(write_spec(tmp_path, SMALL))
    out = tmp_path / "out"
    run_sweep(spec, out, progress=False)
    assert (out / store.TABLE).read_bytes() == old_table(out, spec)
    # --retry-failed: the failed points' latest records win, in grid order
    run_sweep(spec, out, retry_failed=True, progress=False)
    assert len((out / store.LOG).read_text().splitlines()) == 18
    assert (out / store.TABLE).read_bytes() == old_table(out, spec)
    # some of a grid's jobs as a tuple (their own fingerprint, positions by key)
    some = sweep_spec.SweepSpec(spec.path, spec.axes, tuple(spec.jobs[1::3]))
    run_sweep(some, tmp_path / "some", progress=False)
    assert (tmp_path / "some" / store.TABLE).read_bytes() == old_table(tmp_path / "some", some)


def test_large_grid_fingerprint_is_structural_and_resumes(tmp_path, monkeypatch):
    """Beyond EXACT_FINGERPRINT_POINTS the fingerprint hashes the probe keys: a changed
    value changes it, and a resume of the same spec is accepted."""
    monkeypatch.setattr(sweep_spec, "EXACT_FINGERPRINT_POINTS", 4)
    spec = load_spec(write_spec(tmp_path, SMALL))
    exact = hashlib.sha256(
        json.dumps(
            {"axes": [a.key for a in spec.axes], "jobs": [j.key for j in spec.jobs]},
            sort_keys=True,
            separators=(",", ":"),
        ).encode()
    ).hexdigest()
    assert spec.fingerprint != exact
    assert (
        load_spec(write_spec(tmp_path, SMALL.replace("1000.0, 3", "1000.0, 4"), "b.toml")).fingerprint
        != spec.fingerprint
    )
    assert (
        load_spec(
            write_spec(tmp_path, SMALL.replace('["optimal", "osla"]', '["osla", "optimal"]'), "c.toml")
        ).fingerprint
        != spec.fingerprint
    )
    out = tmp_path / "out"
    first = run_sweep(spec, out, progress=False)
    again = run_sweep(load_spec(write_spec(tmp_path, SMALL)), out, progress=False)
    assert (first.done, again.skipped, again.ran) == (6, 12, 0)


def test_log_index_holds_chunks_only_where_points_were_recorded():
    index = store.LogIndex(10**9)
    index.record(5, 0, "done", ("a",))
    index.record(700_000_000, 100, "failed", ())
    index.record(5, 200, "failed", ("b",))  # the latest record wins
    assert len(index._offsets) == 2
    assert list(index.lines()) == [(5, 200), (700_000_000, 100)]
    assert index.counts[1] == 0 and index.counts[2] == 2 and index.recorded == 2
    assert sorted(index.column_sets()) == [(), ("b",)]
    todo = index.todo({"done", "failed"})
    assert list(itertools.islice(todo, 7)) == [0, 1, 2, 3, 4, 6, 7]
    assert index.count_todo({"done"}) == 10**9
    assert np.int64(index._offsets[0][5]) == 201


@pytest.mark.parametrize("probe_jobs", [2, 1000])
def test_repeat_beyond_the_probed_jobs_is_found_by_its_value(tmp_path, monkeypatch, probe_jobs):
    """Past PROBE_JOBS values a block is checked by its values' JSON, with the same answer."""
    monkeypatch.setattr(sweep_spec, "PROBE_JOBS", probe_jobs)
    body = '[grid]\n"placement.rule" = ["optimal", "osla"]\n"placement.tasks_per_period" = [10.0, 20.0, 30.0, 20.0, 10.0]\n'
    with pytest.raises(
        Exception,
        match=r"points 1 and 3 are the same job \(\{'placement.rule': 'optimal', 'placement.tasks_per_period': 20.0\}\)",
    ):
        load_spec(write_spec(tmp_path, body))
    ok = load_spec(write_spec(tmp_path, body.replace("20.0, 10.0]", "40.0, 50.0]"), "ok.toml"))
    assert ok.points == 10 and len(ok.jobs.probe()) == (2 + 5 if probe_jobs == 1000 else 2 + 2 + 1)
