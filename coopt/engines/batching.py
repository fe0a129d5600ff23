"""Cutting a stream of jobs into batches: guided self-scheduling, lazily.

A cheap job (a DP solve takes about a millisecond) costs less than a scheduler's round
trip, so jobs travel in batches. :func:`batches` takes each batch's size from the number
of jobs left when it is cut: ``1 / (BATCHES_PER_WORKER * workers)`` of them, between
:data:`MIN_BATCH` and :data:`MAX_BATCH` (guided self-scheduling). Engines hand batches
out in order, so the large ones go first (few tasks) and the small ones last (the
workers finish together). The jobs are read from an iterator only as batches are cut,
so a stream of 10^9 jobs costs nothing before its first batch.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from itertools import islice
from typing import TypeVar

MAX_BATCH = 100
MIN_BATCH = 5
BATCHES_PER_WORKER = 2

J = TypeVar("J")


def batch_size(left: int, workers: int) -> int:
    """The guided size of the next batch when ``left`` jobs are left for ``workers`` workers."""
    guided = math.ceil(left / (BATCHES_PER_WORKER * workers))
    return min(MAX_BATCH, max(MIN_BATCH, guided))


def batches(
    jobs: Iterable[J], workers: int, total: int | None = None, size: int | None = None, first: int | None = None
) -> Iterator[list[J]]:
    """``jobs`` in consecutive batches, cut lazily.

    Parameters
    ----------
    jobs : iterable
        The jobs, read as batches are cut.
    workers : int
        Workers that share the batches (sets the guided sizes).
    total : int, optional
        How many jobs ``jobs`` yields (default ``len(jobs)``; when unknown, batches of
        :data:`MIN_BATCH`). A wrong count changes only the sizes, never which jobs run.
    size : int, optional
        Fixed batch size instead of guided sizes.
    first : int, optional
        Size of the first batch (e.g. 1: a first result arrives as soon as possible).
    """
    if total is None:
        total = len(jobs) if hasattr(jobs, "__len__") else None  # type: ignore[arg-type]
    it = iter(jobs)
    taken = 0
    while True:
        if taken == 0 and first is not None:
            n = max(1, first)
        elif size is not None:
            n = max(1, size)
        elif total is None:
            n = MIN_BATCH
        else:
            n = batch_size(max(total - taken, 1), workers)
        chunk = list(islice(it, n))
        if not chunk:
            return
        taken += len(chunk)
        yield chunk
