"""The engines (coopt.engines): any picklable work, run once per job, on every engine.

Jobs here are plain integers (or ``(i, directory)`` pairs when a worker must leave a
trace the owner can count); the batch functions are module-level so that they pickle.
The Dask engine runs a ``LocalCluster`` on 127.0.0.1 that :func:`run_batches` starts and
closes; its tests are skipped when ``distributed`` is not installed.
"""

from __future__ import annotations

import importlib.util
import math
import time
from collections import Counter
from itertools import pairwise
from pathlib import Path

import pytest

from coopt.engines import MAX_BATCH, MIN_BATCH, batch_size, batches, engine_name, run_batches
from coopt.engines.batching import BATCHES_PER_WORKER
from coopt.engines.run import WINDOW_PER_WORKER
from coopt.errors import InstanceError

needs_dask = pytest.mark.skipif(importlib.util.find_spec("distributed") is None, reason="distributed not installed")
# (engine, workers); local-dask starts a cluster of 2 processes per run (~2-3 s)
ENGINES = [
    pytest.param("serial", 1, id="serial"),
    pytest.param("local", 2, id="local"),
    pytest.param("local-dask", 2, id="local-dask", marks=needs_dask),
]


def square(batch: list[int]) -> list[tuple[int, int]]:
    """Each job with its square: the owner checks which job a result belongs to."""
    return [(x, x * x) for x in batch]


def fails_at_7(batch: list[int]) -> list[int]:
    if 7 in batch:
        raise ValueError("job 7 failed")
    return batch


def bad_input_at_3(batch: list[int]) -> list[int]:
    if 3 in batch:
        raise InstanceError("x = 3: must be an integer != 3")
    return batch


def touch(batch: list[tuple[int, str]]) -> list[int]:
    """Leave one file per job in its directory: how many jobs ever ran, seen from the owner."""
    for i, where in batch:
        (Path(where) / str(i)).touch()
    return [i for i, _ in batch]


def touch_slow_first(batch: list[tuple[int, str]]) -> list[int]:
    """:func:`touch`, job 0 taking long enough that any batch sent meanwhile would run."""
    if any(i == 0 for i, _ in batch):
        time.sleep(0.5)
    return touch(batch)


class Stop(Exception):
    """What a consumer raises to stop a run."""


class Counted:
    """A lazy stream of ``n`` jobs that counts how many were read."""

    def __init__(self, n: int) -> None:
        self.read = 0
        self._it = iter(range(n))

    def __iter__(self) -> Counted:
        return self

    def __next__(self) -> int:
        x = next(self._it)
        self.read += 1
        return x


# --- every engine ------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.dask
@pytest.mark.parametrize("engine,workers", ENGINES)
def test_every_result_comes_back_exactly_once(engine, workers, monkeypatch):
    clusters = _record_clusters(monkeypatch) if engine == "local-dask" else []
    n = 137  # not a multiple of any batch size
    seen: Counter[int] = Counter()
    addresses: set[str] = set()

    def on_result(chunk, results):
        assert [job for job, _ in results] == chunk  # results in the batch's order
        assert all(sq == job * job for job, sq in results)
        seen.update(chunk)
        if clusters:  # where the batches run, while they run
            addresses.update(clusters[0].scheduler_info["workers"])

    done = run_batches(range(n), square, engine=engine, workers=workers, on_result=on_result, progress=False)
    assert done == n
    assert seen == Counter(range(n))  # each job once, none missing, none invented
    if engine == "local-dask":
        (cluster,) = clusters
        assert cluster.scheduler_address.startswith("tcp://127.0.0.1:")
        assert len(addresses) == 2 and all(w.startswith("tcp://127.0.0.1:") for w in addresses)
        assert cluster.status.name == "closed"  # the run shut down the cluster it started


@pytest.mark.parametrize("engine,workers", ENGINES)
def test_first_alone_sends_one_job_first(engine, workers, tmp_path):
    """The first batch is one job, and nothing else runs before its results are handed over."""
    calls = []

    def on_result(chunk, results):
        if not calls:
            assert len(chunk) == 1 and sorted(p.name for p in tmp_path.iterdir()) == [str(chunk[0][0])]
        calls.append(len(chunk))

    jobs = [(i, str(tmp_path)) for i in range(30)]
    done = run_batches(
        jobs, touch, engine=engine, workers=workers, on_result=on_result, first_alone=True, progress=False
    )
    assert done == 30 and calls[0] == 1 and sum(calls) == 30
    assert len(list(tmp_path.iterdir())) == 30


def _record_clusters(monkeypatch) -> list:
    """Record every ``LocalCluster`` the Dask engine starts (it imports the name when it runs)."""
    import distributed

    made = []
    real = distributed.LocalCluster

    def recording(*args, **kwargs):
        cluster = real(*args, **kwargs)
        made.append(cluster)
        return cluster

    monkeypatch.setattr(distributed, "LocalCluster", recording)
    return made


# --- errors ------------------------------------------------------------------------------


@pytest.mark.parametrize("engine,workers", ENGINES[:2])
def test_an_exception_in_fn_is_re_raised_with_a_note_naming_the_engine(engine, workers):
    with pytest.raises(ValueError, match="job 7 failed") as info:
        run_batches(range(40), fails_at_7, engine=engine, workers=workers, batch=5, progress=False)
    (note,) = info.value.__notes__
    assert f"on the {engine!r} engine" in note and "jobs had completed" in note


def test_bad_input_from_fn_stays_one_line():
    """An InstanceError (exit code 2 in the CLI) comes back as it was, without a note."""
    with pytest.raises(InstanceError, match=r"^x = 3: must be an integer != 3$") as info:
        run_batches(range(10), bad_input_at_3, batch=2, progress=False)
    assert not getattr(info.value, "__notes__", None)


@pytest.mark.parametrize("engine,workers", ENGINES[:2])
def test_on_result_raising_stops_the_run_and_cancels_the_rest(engine, workers, tmp_path):
    """After the consumer raises, no batch beyond those already submitted ever runs."""
    jobs = Counted(10**6)
    tagged = ((i, str(tmp_path)) for i in jobs)
    calls = []

    def on_result(chunk, results):
        calls.append(chunk)
        raise Stop

    with pytest.raises(Stop) as info:
        run_batches(tagged, touch, engine=engine, workers=workers, on_result=on_result, batch=5, progress=False)
    assert len(calls) == 1 and f"on the {engine!r} engine, after 0 jobs" in info.value.__notes__[0]
    # serial: the one batch handed over; local: the window, plus the one submitted as the first completed
    in_flight = 1 if engine == "serial" else WINDOW_PER_WORKER * workers + 1
    assert jobs.read == 5 * in_flight
    ran = len(list(tmp_path.iterdir()))
    assert 5 <= ran <= 5 * in_flight


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"workers": 0}, "workers = 0: must be an integer >= 1"),
        ({"workers": -2, "engine": "local"}, "workers = -2: must be an integer >= 1"),
        ({"batch": 0}, "batch = 0: must be an integer >= 1"),
        (
            {"engine": "gpu"},
            "engine = 'gpu': must be one of serial, local, local-dask or a Dask address tcp://host:port",
        ),
    ],
)
def test_bad_arguments_are_instance_errors(kwargs, message):
    jobs = Counted(10)
    with pytest.raises(InstanceError) as info:
        run_batches(jobs, square, progress=False, **kwargs)
    assert str(info.value) == message
    assert jobs.read == 0  # refused before any job is read


def test_engine_names():
    assert engine_name(1, None) == "serial"
    assert engine_name(4, None) == "local"
    assert engine_name(4, "local") == "local-dask"
    assert engine_name(1, "tcp://10.0.0.1:8786") == "tcp://10.0.0.1:8786"


# --- batching ----------------------------------------------------------------------------


def guided(left: int, workers: int) -> int:
    """Guided self-scheduling written out: a 1 / (2 workers) share of what is left, clamped."""
    return min(100, max(5, -(-left // (2 * workers))))


@pytest.mark.parametrize("n,workers", [(1, 1), (4, 2), (37, 2), (1000, 2), (5000, 8), (100_000, 3)])
def test_guided_batch_sizes_decrease_within_bounds(n, workers):
    sizes = [len(b) for b in batches(range(n), workers)]
    assert sum(sizes) == n
    assert all(a >= b for a, b in pairwise(sizes))  # the large batches go first
    assert all(MIN_BATCH <= s <= MAX_BATCH for s in sizes[:-1])
    assert 1 <= sizes[-1] <= MAX_BATCH  # the last takes what is left
    left = n
    for s in sizes:
        assert s == min(guided(left, workers), left)
        left -= s


def test_batch_size_is_a_share_of_what_is_left():
    assert (MIN_BATCH, MAX_BATCH, BATCHES_PER_WORKER) == (5, 100, 2)  # the numbers guided() writes out
    assert batch_size(1000, 2) == MAX_BATCH  # 250 clamped
    assert batch_size(120, 2) == 30 == math.ceil(120 / 4)
    assert batch_size(3, 2) == MIN_BATCH
    assert [batch_size(left, 1) for left in (400, 199, 20, 9)] == [100, 100, 10, 5]


def test_batches_keep_every_job_in_order():
    jobs = [f"job{i}" for i in range(333)]
    chunks = list(batches(jobs, 3))
    assert [j for c in chunks for j in c] == jobs
    assert [len(c) for c in batches(jobs, 3, size=50)] == [50] * 6 + [33]
    first = list(batches(jobs, 3, first=1))
    assert len(first[0]) == 1 and [j for c in first for j in c] == jobs


def test_a_stream_of_unknown_length_goes_in_minimal_batches():
    sizes = [len(b) for b in batches((i for i in range(23)), 4)]
    assert sizes == [MIN_BATCH] * 4 + [3]


def test_a_billion_jobs_yield_their_first_batch_at_once():
    jobs = Counted(10**9)
    first = next(batches(jobs, 2, total=10**9))
    assert first == list(range(MAX_BATCH)) and jobs.read == MAX_BATCH


@pytest.mark.parametrize("engine,workers", ENGINES[:2])
def test_a_billion_jobs_start_at_once_on_an_engine(engine, workers):
    """run_batches reads only what it submits: stopping after one batch read a few batches."""
    jobs = Counted(10**9)

    def stop(chunk, results):
        raise Stop

    with pytest.raises(Stop):
        run_batches(jobs, square, engine=engine, workers=workers, total=10**9, on_result=stop, progress=False)
    assert MAX_BATCH <= jobs.read <= (WINDOW_PER_WORKER * workers + 1) * MAX_BATCH


def test_serial_takes_any_callable():
    """serial runs in this process: a closure (not picklable) is fine there."""
    offset = 10
    out = []
    run_batches(range(7), lambda b: [x + offset for x in b], on_result=lambda c, r: out.extend(r), progress=False)
    assert sorted(out) == list(range(10, 17))
