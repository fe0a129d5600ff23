"""The ``coopt sweep`` subcommand: run (or resume) a parameter study.

``coopt sweep SPEC.toml --out DIR [--workers N | --dask ADDRESS|local] [--retry-failed]``

The spec format is :mod:`coopt.sweep.spec`, the directory :mod:`coopt.sweep.store`, the
engines :mod:`coopt.sweep.engines`. The last line on stdout is the summary; the exit
code is 0 when every point is done, 1 when any failed (or was left by an interrupt:
then 130, as for any Ctrl-C), 2 for a bad spec or a directory of another spec (nothing
written).
"""

from __future__ import annotations

import argparse
import sys

from coopt.cli.flags import add_engine_arguments


def add_sweep_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``sweep`` subcommand to ``subparsers`` and return its parser."""
    p = subparsers.add_parser(
        "sweep",
        help="run or resume a parameter study (a grid of solves) into a results table",
        description="Solve every point of a sweep spec; rerun to resume (points already done are skipped).",
    )
    p.add_argument("spec", metavar="SPEC", help="sweep spec (TOML): base instance, [grid], options")
    p.add_argument("--out", required=True, metavar="DIR", help="results directory (log.jsonl, results.csv)")
    add_engine_arguments(p)
    p.add_argument("--retry-failed", action="store_true", help="run the points recorded as failed again")
    p.add_argument("--batch", type=int, metavar="N", help="jobs per batch sent to a worker (default: automatic)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar (default: shown on a terminal)")
    return p


def run_sweep_command(args: argparse.Namespace) -> int:
    """Handler of ``coopt sweep``."""
    from coopt.sweep.engines import run_sweep
    from coopt.sweep.spec import load_spec

    spec = load_spec(args.spec)
    try:
        summary = run_sweep(
            spec,
            args.out,
            workers=args.workers,
            dask=args.dask,
            retry_failed=args.retry_failed,
            batch=args.batch,
            progress=False if args.no_progress else None,
        )
    except KeyboardInterrupt:
        print("coopt: sweep interrupted; rerun the same command to resume", file=sys.stderr)
        return 130
    print(summary.line())
    return summary.exit_code
