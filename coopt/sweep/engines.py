"""Running a sweep: which jobs are left, who runs them, and the one process that records them.

:func:`run_sweep` reads the results directory (:mod:`coopt.sweep.store`), skips the
points already done (and the failed ones unless ``retry_failed``), cuts the rest into
batches, hands them to an engine and records every batch's records as it arrives
(``as_completed``): appended to the log at once, the table rebuilt atomically every
:data:`TABLE_EVERY_S` seconds and at the end. Workers send each record both as its log
line and as its table row, so the owner's work per job is a write. Engines are existing
schedulers, never a home-made one:

* ``serial``: the batches one after the other in this process (``workers = 1``);
* ``processes``: :class:`concurrent.futures.ProcessPoolExecutor` with ``workers``
  processes, which ignore SIGINT so that Ctrl-C reaches only the owner;
* ``dask``: a ``distributed.Client`` on an existing scheduler (``dask = ADDRESS``), or
  on a ``LocalCluster`` of ``workers`` single-threaded processes started for the run
  (``dask = "local"``). Dask is imported only here, only then.

Batches: a DP solve takes about a millisecond, less than a scheduler's round trip, so
jobs go to workers in batches of decreasing sizes, from :data:`MAX_BATCH` down to
:data:`MIN_BATCH` (:func:`batches`); simulating and MIP jobs are long and go one by
one.

Interruption: Ctrl-C (``KeyboardInterrupt``) cancels the batches not started, writes
the table of everything recorded and re-raises; batches in flight are lost and rerun
by the next call. A kill (SIGKILL) loses the same, and at most a torn last log line.
"""

from __future__ import annotations

import logging
import math
import signal
import sys
import time
from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path

from coopt.errors import InstanceError
from coopt.sweep import store
from coopt.sweep.jobs import Finished, run_batch
from coopt.sweep.spec import Job, SweepSpec

MAX_BATCH = 100
MIN_BATCH = 5
BATCHES_PER_WORKER = 2
TABLE_EVERY_S = 30.0

Records = list[Finished]


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


def batches(jobs: list[Job], workers: int, size: int | None = None) -> list[list[Job]]:
    """``jobs`` in consecutive batches of ``size``, or by default of decreasing sizes.

    The default is guided self-scheduling: each batch takes ``1 / (BATCHES_PER_WORKER *
    workers)`` of the jobs left, between :data:`MIN_BATCH` and :data:`MAX_BATCH`. Engines
    hand batches out in order, so the large ones go first (few tasks: a Dask task costs
    milliseconds of scheduling) and the small ones last (the workers finish together).
    Simulating and MIP jobs take from tens of milliseconds to minutes, so a sweep with
    any goes one job at a time: progress shows, and an interruption loses little.
    """
    if size is None and any(job.simulate or job.method == "mip" for job in jobs):
        size = 1
    out, start = [], 0
    while start < len(jobs):
        if size is None:
            guided = math.ceil((len(jobs) - start) / (BATCHES_PER_WORKER * workers))
            n = min(MAX_BATCH, max(MIN_BATCH, guided))
        else:
            n = max(1, size)
        out.append(jobs[start : start + n])
        start += n
    return out


def _serial(chunks: list[list[Job]]) -> Generator[Records, None, None]:
    for chunk in chunks:
        yield run_batch(chunk)


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _processes(chunks: list[list[Job]], workers: int) -> Generator[Records, None, None]:
    from concurrent.futures import ProcessPoolExecutor, as_completed

    pool = ProcessPoolExecutor(max_workers=workers, initializer=_ignore_sigint)
    try:
        # No list of the futures is kept: as_completed drops each one it yields, and with
        # it the batch's records, so the owner's memory does not grow with the sweep.
        for future in as_completed([pool.submit(run_batch, chunk) for chunk in chunks]):
            yield future.result()
    finally:
        # On Ctrl-C or an error: drop what has not started; what runs finishes in the workers.
        pool.shutdown(wait=False, cancel_futures=True)


def _dask(chunks: list[list[Job]], address: str, workers: int) -> Generator[Records, None, None]:
    try:
        from distributed import Client, LocalCluster, as_completed
    except ImportError:
        from coopt.errors import SolverUnavailableError

        raise SolverUnavailableError("--dask needs Dask distributed: pip install 'coopt[dask]'") from None
    cluster = None
    if address == "local":
        # silence_logs: a job's failure comes back as its record; what Dask itself logs is
        # teardown noise (on a loaded machine a worker's heartbeat can race the shutdown
        # and print a traceback at ERROR level), which must not reach the user.
        cluster = LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
            silence_logs=logging.CRITICAL,
        )
        client = Client(cluster)
    else:
        try:
            client = Client(address, timeout="10s")
        except OSError as exc:
            raise InstanceError(f"--dask {address}: cannot reach a Dask scheduler there ({exc})") from None
    # with_results: the client fetches each batch's records in the background as soon as
    # it completes; a yielded future is dropped at once, so the workers free its records.
    completed = as_completed(with_results=True)
    try:
        completed.update(client.submit(run_batch, chunk, pure=False) for chunk in chunks)
        for _, finished in completed:
            yield finished
    finally:
        pending = list(completed.futures)
        if pending:
            client.cancel(pending)
        client.close()
        if cluster is not None:
            cluster.close()


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
    from tqdm import tqdm

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
        chunks = batches(todo, workers, batch)
        if dask is not None:
            stream = _dask(chunks, dask, workers)
        elif workers == 1:
            stream = _serial(chunks)
        else:
            stream = _processes(chunks, workers)
        ran = 0
        last = time.monotonic()
        bar = tqdm(
            total=len(todo),
            unit="job",
            desc="sweep",
            disable=None if progress is None else not progress,
            file=sys.stderr,
        )
        try:
            with store.Log(out) as log:
                for finished in stream:
                    log.write(f.line for f in finished)
                    for f in finished:
                        table[f.key] = f.row
                        status[f.key] = f.status
                    ran += len(finished)
                    bar.update(len(finished))
                    if time.monotonic() - last > TABLE_EVERY_S:
                        store.write_table(out, spec, table)
                        last = time.monotonic()
        finally:
            bar.close()
            stream.close()
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
