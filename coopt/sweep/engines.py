"""Running a sweep: which jobs are left, who runs them, and the one process that records them.

:func:`run_sweep` reads the results directory (:mod:`coopt.sweep.store`), skips the
points already done (and the failed ones unless ``retry_failed``), and runs the rest on
an engine of :mod:`coopt.engines` (serial, local processes or Dask; guided batches,
``as_completed``, Ctrl-C, the progress bar), which knows nothing of sweeps: it runs
:func:`coopt.sweep.jobs.run_batch` on batches of jobs and hands every batch's records
to this process as it arrives. They are appended to the log at once, and the table is
rebuilt atomically every :data:`TABLE_EVERY_S` seconds and at the end. Workers send
each record both as its log line and as its table row, so the owner's work per job is a
write.

Batches: a DP solve takes about a millisecond, less than a scheduler's round trip, so
jobs go to workers in batches of decreasing sizes, from :data:`MAX_BATCH` down to
:data:`MIN_BATCH` (:func:`batches`); simulating and MIP jobs are long and go one by
one.

Interruption: Ctrl-C (``KeyboardInterrupt``) cancels the batches not started, writes
the table of everything recorded and re-raises; batches in flight are lost and rerun
by the next call. A kill (SIGKILL) loses the same, and at most a torn last log line.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from coopt import engines
from coopt.engines import MAX_BATCH, MIN_BATCH
from coopt.errors import InstanceError
from coopt.sweep import store
from coopt.sweep.jobs import Finished, run_batch
from coopt.sweep.spec import Job, SweepSpec

__all__ = ["MAX_BATCH", "MIN_BATCH", "TABLE_EVERY_S", "Summary", "batches", "run_sweep"]

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


def one_by_one(jobs: list[Job]) -> bool:
    """Simulating and MIP jobs take from tens of milliseconds to minutes, so a sweep with
    any goes one job at a time: progress shows, and an interruption loses little."""
    return any(job.simulate or job.method == "mip" for job in jobs)


def batches(jobs: list[Job], workers: int, size: int | None = None) -> list[list[Job]]:
    """``jobs`` in consecutive batches of ``size``, or by default of decreasing sizes
    (guided self-scheduling, :func:`coopt.engines.batches`; one by one for simulating
    and MIP jobs, :func:`one_by_one`)."""
    if size is None and one_by_one(jobs):
        size = 1
    return list(engines.batches(jobs, workers, len(jobs), size))


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
    """
    if workers < 1:
        raise InstanceError(f"--workers = {workers}: must be an integer >= 1")
    if batch is not None and batch < 1:
        raise InstanceError(f"--batch = {batch}: must be an integer >= 1")
    out = Path(out)
    if not store.check_directory(out, spec):
        store.open_directory(out, spec)
    with store.lock(out):
        records = store.read_log(out, repair=True)
        keep = {"done", "failed"} if not retry_failed else {"done"}
        todo = [j for j in spec.jobs if records.get(j.key, {}).get("status") not in keep]
        skipped = len(spec.jobs) - len(todo)
        status = {key: rec["status"] for key, rec in records.items()}
        table = {j.key: store.row(j, records[j.key]) for j in spec.jobs if j.key in records}
        if batch is None and one_by_one(todo):
            batch = 1
        last = time.monotonic()
        try:
            with store.Log(out) as log:

                def record(_: list[Job], finished: list[Finished]) -> None:
                    nonlocal last
                    log.write(f.line for f in finished)
                    for f in finished:
                        table[f.key] = f.row
                        status[f.key] = f.status
                    if time.monotonic() - last > TABLE_EVERY_S:
                        store.write_table(out, spec, table)
                        last = time.monotonic()

                ran = engines.run_batches(
                    todo,
                    run_batch,
                    engine=engines.engine_name(workers, dask),
                    workers=workers,
                    on_result=record,
                    batch=batch,
                    progress=progress,
                    desc="sweep",
                )
        except KeyboardInterrupt:
            # Ctrl-C may land between a batch's log line and its table rows: the table written
            # on the way out is read back from the log, so it holds exactly what is recorded.
            records = store.read_log(out)
            table = {j.key: store.row(j, records[j.key]) for j in spec.jobs if j.key in records}
            raise
        finally:
            store.write_table(out, spec, table)
    final = [status[j.key] for j in spec.jobs if j.key in status]
    return Summary(
        done=final.count("done"),
        failed=final.count("failed"),
        skipped=skipped,
        ran=ran,
        left=len(spec.jobs) - len(final),
        table=out / store.TABLE,
    )
