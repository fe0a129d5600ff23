"""Where batches run: this process, a pool of local processes, or Dask.

Each engine is a generator that takes an iterator of batches and the batch function
``fn(batch) -> list[result]`` and yields ``(batch, results)`` pairs as the batches
complete (``as_completed``), in completion order. Engines are existing schedulers,
never a home-made one:

* :func:`serial`: the batches one after the other in this process;
* :func:`processes`: :class:`concurrent.futures.ProcessPoolExecutor` with ``workers``
  processes, which ignore SIGINT so that Ctrl-C reaches only the owner;
* :func:`dask`: a ``distributed.Client`` on an existing scheduler (``tcp://host:port``),
  or on a ``LocalCluster`` of ``workers`` single-threaded processes on 127.0.0.1 started
  for the run (``"local-dask"``). Dask is imported only there, only then.

A bounded window: at most ``window`` batches are in flight, and the next batch is cut
(from a lazy iterator) only when one completes. The owner never holds a future per job,
so its memory does not grow with the number of jobs, and the first batch starts at once
whatever their number. With ``first_alone``, the first batch runs alone: the rest is
submitted only after the consumer has taken the first results (and may have stopped the
run, e.g. because a first result says the output cannot fit).

On Ctrl-C or an error the generator's ``finally`` cancels the batches not started; the
batches in flight finish in their workers and are dropped.
"""

from __future__ import annotations

import logging
import signal
from collections.abc import Callable, Iterator
from typing import Any

from coopt.errors import InstanceError, SolverUnavailableError

Pair = tuple[list[Any], list[Any]]
Fn = Callable[[list[Any]], list[Any]]


def serial(chunks: Iterator[list[Any]], fn: Fn) -> Iterator[Pair]:
    for chunk in chunks:
        yield chunk, fn(chunk)


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def processes(chunks: Iterator[list[Any]], fn: Fn, workers: int, window: int, first_alone: bool) -> Iterator[Pair]:
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    pool = ProcessPoolExecutor(max_workers=workers, initializer=_ignore_sigint)
    pending: dict[Any, list[Any]] = {}  # future -> its batch

    def submit(n: int) -> None:
        for _ in range(n):
            chunk = next(chunks, None)
            if chunk is None:
                return
            pending[pool.submit(fn, chunk)] = chunk

    try:
        submit(1 if first_alone else window)
        alone = first_alone
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                chunk = pending.pop(future)
                results = future.result()
                if alone:  # the consumer sees the first results before anything else is sent
                    yield chunk, results
                    alone = False
                    submit(window - len(pending))
                    continue
                submit(1)  # before the owner handles the results: the workers stay busy
                yield chunk, results
    finally:
        # On Ctrl-C or an error: drop what has not started; what runs finishes in the workers.
        pool.shutdown(wait=False, cancel_futures=True)


def dask(
    chunks: Iterator[list[Any]], fn: Fn, address: str, workers: int, window: int, first_alone: bool
) -> Iterator[Pair]:
    try:
        from distributed import Client, LocalCluster, as_completed
    except ImportError:
        raise SolverUnavailableError("--dask needs Dask distributed: pip install 'coopt[dask]'") from None
    cluster = None
    if address == "local-dask":
        # silence_logs: a job's failure comes back as its result; what Dask itself logs is
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
    # with_results: the client fetches each batch's results in the background as soon as
    # it completes; a yielded future is dropped at once, so the workers free its results.
    completed = as_completed(with_results=True)
    batch_of: dict[Any, list[Any]] = {}  # future key -> its batch

    def submit(n: int) -> None:
        for _ in range(n):
            chunk = next(chunks, None)
            if chunk is None:
                return
            future = client.submit(fn, chunk, pure=False)
            batch_of[future.key] = chunk
            completed.add(future)

    try:
        submit(1 if first_alone else window)
        alone = first_alone
        for future, results in completed:
            chunk = batch_of.pop(future.key)
            if alone:
                yield chunk, results
                alone = False
                submit(window - len(batch_of))
                continue
            submit(1)
            yield chunk, results
    finally:
        pending = list(completed.futures)
        if pending:
            client.cancel(pending)
        client.close()
        if cluster is not None:
            cluster.close()
