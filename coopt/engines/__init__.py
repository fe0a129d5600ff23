"""Engines: run a batch of independent, picklable jobs on this process, local processes or Dask.

They know nothing of what the jobs are: :func:`run_batches` takes the jobs, the batch
function and a callback for the results. :mod:`coopt.sweep` runs its grid points on
them, and the fleet its tables. Only :mod:`coopt.errors` is imported from coopt.
"""

from coopt.engines.batching import BATCHES_PER_WORKER, MAX_BATCH, MIN_BATCH, batch_size, batches
from coopt.engines.run import ENGINES, engine_name, run_batches

__all__ = [
    "BATCHES_PER_WORKER",
    "ENGINES",
    "MAX_BATCH",
    "MIN_BATCH",
    "batch_size",
    "batches",
    "engine_name",
    "run_batches",
]
