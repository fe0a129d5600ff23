"""The flags every subcommand shares: ``--debug`` everywhere, ``--max-memory`` where
there is work, ``--force`` where there is an output file, ``--workers`` and ``--dask``
where independent jobs run on :mod:`coopt.engines`."""

from __future__ import annotations

import argparse
import os

from coopt.cli.limits import add_memory_argument

DEBUG_HELP = "on an internal error, print the traceback (also: COOPT_DEBUG=1)"


def add_common(p: argparse.ArgumentParser, memory: bool = True, force: str | None = None) -> None:
    """Add ``--debug`` to ``p``, ``--max-memory`` when ``memory``, and ``--force`` when
    ``force`` names what it allows to overwrite."""
    p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=DEBUG_HELP)
    if memory:
        add_memory_argument(p)
    if force:
        p.add_argument("--force", action="store_true", help=f"overwrite existing {force}")


def mip_options(args: argparse.Namespace):  # -> coopt.mip.highs.MipOptions | None
    """The MIP options given on the command line (``None`` when none is given)."""
    given = {k: getattr(args, k) for k in ("time_limit", "mip_gap", "threads") if getattr(args, k, None) is not None}
    if not given:
        return None
    from coopt.mip.highs import MipOptions

    return MipOptions(**given)


def add_engine_arguments(p: argparse.ArgumentParser, fleets_only: bool = False) -> None:
    """Add ``--workers N`` and ``--dask ADDRESS|local`` (``fleets_only``: on a verb that also
    takes one instance, where they apply to a fleet's tables only, and default to unset)."""
    prefix = "fleets: the tables on " if fleets_only else ""
    p.add_argument(
        "--workers",
        type=int,
        default=None if fleets_only else os.cpu_count() or 1,
        metavar="N",
        help=prefix + "local worker processes (default: the core count; 1 runs serially), or the --dask local "
        "cluster size",
    )
    p.add_argument(
        "--dask",
        metavar="ADDRESS",
        help=prefix + "a Dask distributed scheduler at ADDRESS (tcp://host:port), or 'local' for a LocalCluster "
        "on 127.0.0.1",
    )


def engine_workers(args: argparse.Namespace) -> int:
    """``--workers``, or the core count when it was not given."""
    workers = getattr(args, "workers", None)
    return int(workers) if workers is not None else os.cpu_count() or 1
