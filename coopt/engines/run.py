"""Running a batch of independent jobs: :func:`run_batches`.

The engine knows nothing of what the jobs are: it takes picklable jobs, a picklable
function ``fn(batch) -> list[result]`` (one result per job, or whatever the caller
wants back), cuts the jobs into batches (:mod:`coopt.engines.batching`), runs them on an
engine (:mod:`coopt.engines.pools`) and hands every batch's results to ``on_result`` as
it completes, in completion order, in this process (the *owner*): the one place where
results are recorded.

Progress: a tqdm bar with an ETA on stderr, counting jobs; by default only on a
terminal (nothing when piped, nor with ``progress=False``, e.g. for ``--json``), and with
``delay_s`` only once the run has lasted that long.

Interruption: Ctrl-C (``KeyboardInterrupt``) cancels the batches not started, closes
the engine (and a ``LocalCluster`` it started) and re-raises. An exception raised by
``fn`` in a worker is re-raised here, after the same clean-up, with a note naming the
engine and the batch; so is one raised by ``on_result`` (e.g. to stop the run).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from coopt.engines import pools
from coopt.engines.batching import batches
from coopt.errors import InstanceError
from coopt.progress import progress_bar

ENGINES = ("serial", "local", "local-dask")  # or the address of a Dask scheduler, tcp://host:port
WINDOW_PER_WORKER = 2  # batches in flight per worker: one running, one queued


def engine_name(workers: int, dask: str | None) -> str:
    """The engine of ``--workers N`` / ``--dask ADDRESS|local``: ``serial`` for one worker
    and no Dask, ``local`` for a process pool, ``local-dask`` or the scheduler's address."""
    if dask is not None:
        return "local-dask" if dask == "local" else dask
    return "serial" if workers == 1 else "local"


def _stream(chunks: Iterator[list[Any]], fn: Callable, engine: str, workers: int, first_alone: bool) -> Iterator:
    window = WINDOW_PER_WORKER * workers
    if engine == "serial":
        return pools.serial(chunks, fn)
    if engine == "local":
        return pools.processes(chunks, fn, workers, window, first_alone)
    return pools.dask(chunks, fn, engine, workers, window, first_alone)


def run_batches(
    jobs: Iterable[Any],
    fn: Callable[[list[Any]], list[Any]],
    *,
    engine: str = "serial",
    workers: int = 1,
    on_result: Callable[[list[Any], list[Any]], None] | None = None,
    total: int | None = None,
    batch: int | None = None,
    first_alone: bool = False,
    progress: bool | None = None,
    desc: str = "jobs",
    unit: str = "job",
    delay_s: float = 0.0,
) -> int:
    """Run ``fn`` on batches of ``jobs`` and hand each batch's results to ``on_result``.

    Parameters
    ----------
    jobs : iterable
        Independent, picklable jobs (for ``serial``, any objects), read lazily: a
        generator of 10^9 jobs starts its first batch at once.
    fn : callable
        ``fn(batch: list[job]) -> list[result]``; picklable (a module-level function)
        except on ``serial``.
    engine : str
        ``"serial"`` (this process), ``"local"`` (``workers`` local processes),
        ``"local-dask"`` (a Dask ``LocalCluster`` of ``workers`` processes started for
        the run) or the address of a Dask scheduler (``tcp://host:port``).
    workers : int
        Processes of ``local`` and ``local-dask``; sets the guided batch sizes.
    on_result : callable, optional
        ``on_result(batch, results)``, called in this process as each batch completes.
    total : int, optional
        The number of jobs (default ``len(jobs)`` if it has one): the progress bar's
        total and the guided batch sizes.
    batch : int, optional
        Jobs per batch (default: guided self-scheduling, :func:`coopt.engines.batching.batches`).
    first_alone : bool
        The first batch is one job, run alone; the rest is submitted after
        ``on_result`` returned for it (so that it can look at a first result and stop).
    progress : bool or None
        Progress bar with ETA on stderr (``None``: only on a terminal).
    delay_s : float
        Show the bar only once the run has lasted this long (short runs print nothing).

    Returns
    -------
    int
        The number of jobs whose results were handed to ``on_result``.
    """
    if workers < 1:
        raise InstanceError(f"workers = {workers}: must be an integer >= 1")
    if batch is not None and batch < 1:
        raise InstanceError(f"batch = {batch}: must be an integer >= 1")
    if engine not in ENGINES and "://" not in engine:
        raise InstanceError(
            f"engine = {engine!r}: must be one of {', '.join(ENGINES)} or a Dask address tcp://host:port"
        )
    if total is None and hasattr(jobs, "__len__"):
        total = len(jobs)  # type: ignore[arg-type]
    chunks = batches(jobs, workers, total, batch, 1 if first_alone else None)
    stream = _stream(chunks, fn, engine, workers, first_alone)
    done = 0
    bar = progress_bar(total, desc, progress, unit, delay_s=delay_s, unit_scale=False, leave=True)
    try:
        for chunk, results in stream:
            if on_result is not None:
                on_result(chunk, results)
            done += len(chunk)
            bar.update(len(chunk))
    except (KeyboardInterrupt, InstanceError):
        raise
    except Exception as exc:
        exc.add_note(f"(raised while running jobs on the {engine!r} engine, after {done} jobs had completed)")
        raise
    finally:
        bar.close()
        stream.close()  # type: ignore[attr-defined]
    return done
