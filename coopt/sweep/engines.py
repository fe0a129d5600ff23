"""Running a sweep: which jobs are left, who runs them, and the one process that records them.

:func:`run_sweep` reads the results directory (:mod:`coopt.sweep.store`), skips the
points already done (and the failed ones unless ``retry_failed``), and runs the rest on
an engine of :mod:`coopt.engines` (serial, local processes or Dask; guided batches,
``as_completed``, Ctrl-C, the progress bar), which knows nothing of sweeps: it runs
:func:`coopt.sweep.jobs.run_batch` on batches of jobs and hands every batch's records
to this process as it arrives. They are appended to the log at once, and the table is
rebuilt atomically, streamed from the log, every :data:`TABLE_EVERY_S` seconds (or 10
times the last write's duration, if longer) and at the end. Workers send each record as
its log line and its result columns, so the owner's work per job is a write.

Any size: the jobs are read lazily from the spec (:class:`coopt.sweep.spec.GridJobs`) and
the owner keeps a :class:`coopt.sweep.store.LogIndex` (per point: where its latest record
is, its status and columns), not the records, so its memory does not grow with the rows.
The first job runs alone, and :func:`check_space` refuses, before anything is written,
an output that cannot fit on the disk.

Batches: a DP solve takes about a millisecond, less than a scheduler's round trip, so
jobs go to workers in batches of decreasing sizes, from :data:`MAX_BATCH` down to
:data:`MIN_BATCH` (:func:`batches`); simulating and MIP jobs are long and go one by
one.

Interruption: Ctrl-C (``KeyboardInterrupt``) cancels the batches not started, writes
the table of everything recorded and re-raises; batches in flight are lost and rerun
by the next call. A kill (SIGKILL) loses the same, and at most a torn last log line.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from coopt import engines
from coopt.engines import MAX_BATCH, MIN_BATCH
from coopt.errors import InstanceError
from coopt.sweep import store
from coopt.sweep.jobs import Finished, run_batch
from coopt.sweep.spec import GridJobs, Job, SweepSpec

__all__ = ["MAX_BATCH", "MIN_BATCH", "TABLE_EVERY_S", "Summary", "batches", "check_space", "run_sweep"]

TABLE_EVERY_S = 30.0


@dataclass(frozen=True)
class Summary:
    """What a run did: points recorded as done and failed (in the table, all runs), points
    skipped because an earlier run had recorded them, points ran now, and points left."""

    done: int
    failed: int
    skipped: int
    ran: int
    left: int
    table: Path

    @property
    def exit_code(self) -> int:
        """0 when every point is done, 1 when any failed or is left."""
        return 0 if self.failed == 0 and self.left == 0 else 1

    def line(self) -> str:
        return (
            f"sweep: {self.done} done, {self.failed} failed, {self.skipped} skipped (recorded before), "
            f"{self.ran} run now, {self.left} left -> {self.table}"
        )


def one_by_one(jobs: Sequence[Job]) -> bool:
    """Simulating and MIP jobs take from tens of milliseconds to minutes, so a sweep with
    any goes one job at a time: progress shows, and an interruption loses little."""
    if isinstance(jobs, GridJobs):
        return jobs.slow  # from the spec: its jobs are not built to find out
    return any(job.simulate or job.method == "mip" for job in jobs)


def batches(jobs: list[Job], workers: int, size: int | None = None) -> list[list[Job]]:
    """``jobs`` in consecutive batches of ``size``, or by default of decreasing sizes
    (guided self-scheduling, :func:`coopt.engines.batches`; one by one for simulating
    and MIP jobs, :func:`one_by_one`)."""
    if size is None and one_by_one(jobs):
        size = 1
    return list(engines.batches(jobs, workers, len(jobs), size))


def _size(n: float) -> str:
    """A byte count in SI units (3 significant digits)."""
    for unit in ("B", "kB", "MB", "GB", "TB", "PB"):
        if n < 999.5 or unit == "PB":
            return f"{n:.3g} {unit}"
        n /= 1000.0
    raise AssertionError  # pragma: no cover


def check_space(out: Path, spec: SweepSpec, job: Job, first: Finished, todo: int) -> None:
    """Refuse (:class:`InstanceError`, one line) a sweep whose output cannot fit on the
    disk of ``out``, estimated from its first job: ``todo`` log lines and a table of every
    point, each the size of the first job's (the table is rewritten beside the old one)."""
    line = len(first.line) + 1
    cells = store.row(job, json.loads(first.line))
    row = len(",".join(cells.values())) + 1
    need = todo * line + spec.points * row
    where = out
    while not where.exists():
        where = where.parent
    free = shutil.disk_usage(where).free
    if need > free:
        raise InstanceError(
            f"--out {out}: {spec.points} points need about {_size(need)} ({todo} log lines of {line} B and "
            f"table rows of {row} B, from the first point), {_size(free)} free there; the output cannot fit"
        )


def _positions(spec: SweepSpec) -> Callable[[dict[str, Any]], int | None]:
    """The position in grid order of a log record's point (``None``: not a point of ``spec``).

    A grid's record names its position (its index; the fingerprint ties the log to the
    spec); a sequence of some of a grid's jobs is looked up by index and key.
    """
    if isinstance(spec.jobs, GridJobs):
        size = spec.points

        def position(rec: dict[str, Any]) -> int | None:
            index = rec.get("index")
            return index if isinstance(index, int) and 0 <= index < size else None

        return position
    by_key = {job.key: p for p, job in enumerate(spec.jobs)}
    return lambda rec: by_key.get(rec.get("key"))  # type: ignore[arg-type]


def _scan(out: Path, spec: SweepSpec, repair: bool) -> store.LogIndex:
    index = store.LogIndex(spec.points)
    position = _positions(spec)
    for offset, rec in store.scan_log(out, repair=repair):
        p = position(rec)
        if p is not None:
            index.record(p, offset, rec["status"], store.result_columns(rec))
    return index


def run_sweep(
    spec: SweepSpec,
    out: str | Path,
    *,
    workers: int = 1,
    dask: str | None = None,
    retry_failed: bool = False,
    batch: int | None = None,
    progress: bool | None = None,
) -> Summary:
    """Run the jobs of ``spec`` that ``out`` does not hold yet (see the module docstring).

    Parameters
    ----------
    spec : SweepSpec
        From :func:`coopt.sweep.spec.load_spec`.
    out : path
        The results directory; created, or resumed when it holds this spec's results.
    workers : int
        Local processes (1: run serially in this process), or the ``LocalCluster`` size.
    dask : str, optional
        ``"local"`` or the address of a Dask scheduler (``tcp://host:port``).
    retry_failed : bool
        Run the points recorded as failed again.
    batch : int, optional
        Jobs per batch (default: see :func:`batches`).
    progress : bool or None
        Progress bar with ETA on stderr (``None``: only on a terminal).

    Raises
    ------
    InstanceError
        A directory of another spec, or an output that cannot fit on its disk (estimated
        from the first job, :func:`check_space`); nothing is written then.
    """
    if workers < 1:
        raise InstanceError(f"--workers = {workers}: must be an integer >= 1")
    if batch is not None and batch < 1:
        raise InstanceError(f"--batch = {batch}: must be an integer >= 1")
    out = Path(out)
    existing = store.check_directory(out, spec)
    with ExitStack() as stack:
        if existing:
            stack.enter_context(store.lock(out))
            index = _scan(out, spec, repair=True)
        else:
            index = store.LogIndex(spec.points)
        keep = {"done", "failed"} if not retry_failed else {"done"}
        left = index.count_todo(keep)
        skipped = spec.points - left

        def todo_jobs() -> Iterator[Job]:
            return (spec.jobs[p] for p in index.todo(keep))

        todo = todo_jobs()
        if batch is None and left and one_by_one(spec.jobs if isinstance(spec.jobs, GridJobs) else list(todo_jobs())):
            batch = 1
        log: store.Log | None = None
        position = _positions(spec)
        refused = False
        last, every = time.monotonic(), TABLE_EVERY_S

        def record(chunk: list[Job], finished: list[Finished]) -> None:
            nonlocal log, refused, last, every
            if log is None:  # the first result: will the output fit? Nothing is written before.
                try:
                    check_space(out, spec, chunk[0], finished[0], left)
                except InstanceError:
                    refused = True
                    raise
                if not existing:
                    store.open_directory(out, spec)
                    stack.enter_context(store.lock(out))
                log = stack.enter_context(store.Log(out, repair=False))
            offsets = log.write(f.line for f in finished)
            for job, f, offset in zip(chunk, finished, offsets):
                p = position({"index": job.index, "key": job.key})
                assert p is not None
                index.record(p, offset, f.status, f.columns)
            if time.monotonic() - last > every:
                start = time.monotonic()
                store.write_table(out, spec, index)
                last = time.monotonic()
                every = max(TABLE_EVERY_S, 10 * (last - start))  # writing the table stays under 10 %

        try:
            ran = engines.run_batches(
                todo,
                run_batch,
                engine=engines.engine_name(workers, dask),
                workers=workers,
                on_result=record,
                total=left,
                batch=batch,
                first_alone=True,
                progress=progress,
                desc="sweep",
            )
        except KeyboardInterrupt:
            # Ctrl-C may land between a batch's log line and its index entries: the table
            # written on the way out is read back from the log, so it holds exactly what is recorded.
            if log is not None:  # every batch is flushed as it is written
                index = _scan(out, spec, repair=False)
            raise
        finally:
            if (existing or log is not None) and not refused:
                store.write_table(out, spec, index)
    return Summary(
        done=index.counts[1],
        failed=index.counts[2],
        skipped=skipped,
        ran=ran,
        left=spec.points - index.recorded,
        table=out / store.TABLE,
    )
