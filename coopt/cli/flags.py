"""The flags every subcommand shares: ``--debug`` everywhere, ``--max-memory`` where
there is work, ``--force`` where there is an output file."""

from __future__ import annotations

import argparse

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
