"""The ``coopt channel fit`` subcommand: a ``[channel]`` table fitted to a measured trace.

``coopt channel fit TRACE.csv --states K [--column NAME] [--iid] [--instance FILE]``
prints a ``finite`` (``--iid``) or ``markov`` table ready to paste into an instance
(:mod:`coopt.model.trace`, docs/model.md section 10.5), preceded by comment lines with the
number of samples, the sampling interval (from a ``time_s`` column) and the lag-1
correlation of the trace and of the fitted chain. When equal gains leave fewer states
than ``--states`` asks for (a trace of fewer distinct gains, module :mod:`coopt.model.trace`),
a comment line and a note on stderr say so. With ``--instance`` it warns on stderr
when the interval is far from the instance's epoch durations (its layers' computing
times and its waiting slot).
"""

from __future__ import annotations

import argparse
import sys

from coopt.cli.flags import add_common
from coopt.model.costs import cost_model
from coopt.model.instance import load_instance
from coopt.model.trace import epoch_mismatch, fit_trace, read_trace


def add_channel_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``channel`` subcommand (with its ``fit`` action) to ``subparsers``."""
    parser = subparsers.add_parser(
        "channel", help="fit a [channel] table to a measured trace of power gains", description=__doc__
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    fit = actions.add_parser("fit", help="fit a finite or markov [channel] table to TRACE.csv")
    fit.add_argument("trace", metavar="TRACE.csv", help="CSV with a header: a power-gain column (and time_s)")
    fit.add_argument("--states", type=int, required=True, metavar="K", help="number of states K (>= 1)")
    fit.add_argument("--column", default=None, help="the gain column (default: the only one besides time_s)")
    fit.add_argument("--iid", action="store_true", help='fit an i.i.d. "finite" law instead of a "markov" chain')
    fit.add_argument("--instance", default=None, metavar="FILE", help="warn if the interval is far from its epochs")
    add_common(fit, memory=False)
    return parser


def run_channel(args: argparse.Namespace) -> int:
    trace = read_trace(args.trace, args.column)
    # load the instance first: a bad instance is an error before anything is printed
    instance = load_instance(args.instance) if args.instance is not None else None
    fit = fit_trace(trace.gains, args.states, iid=args.iid, where=args.trace)
    interval = "unknown (no time_s column)" if trace.interval_s is None else f"{trace.interval_s:g} s"
    out = [
        f"# fitted from {args.trace}, column {trace.column!r}: {fit.samples} samples, sampling interval {interval}",
        f"# lag-1 correlation of the gains: trace {_corr(fit.lag1_trace)}, fitted {fit.law} channel "
        f"{_corr(fit.lag1_chain)}",
    ]
    note = fit.note()
    if note is not None:
        out.append(f"# {note}")
    warning = None
    if instance is not None:
        costs = cost_model(instance)
        epochs = [float(t) for t in costs.layer_time_s[1:]]
        slot = instance.wait.slot_s if instance.wait.mode != "never" else None
        if slot is not None:
            epochs.append(slot)
        if trace.interval_s is None:
            warning = "the trace has no time_s column: cannot compare its interval with the instance's epochs"
        else:
            warning = epoch_mismatch(trace.interval_s, epochs)
        if warning is None:
            out.append(f"# the interval is within a factor 2 of the median epoch of {args.instance}")
    print("\n".join(out))
    print(fit.to_toml(), end="")
    if note is not None:
        print(f"coopt: note: {note}", file=sys.stderr)
    if warning is not None:
        print(f"coopt: warning: {warning}", file=sys.stderr)
    return 0


def _corr(value: float | None) -> str:
    return "undefined (constant gains)" if value is None else f"{value:.4f}"
