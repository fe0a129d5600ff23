"""The ``coopt`` command line: a thin layer over the Python API.

Exit codes: 0 solved, 1 no solution (infeasible, time limit without incumbent),
2 bad input or missing solver. Errors are one line on stderr, never a traceback.
Subcommand handlers import their modules lazily so that ``coopt solve`` does not
pay for Pyomo or SymPy.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Sequence

from .errors import CooptError


def _derive(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .errors import InstanceError
    from .latex import write_documents  # imports SymPy

    if args.instance and args.names:
        raise InstanceError("derive: give derivation NAMEs or --instance, not both")
    out = Path(args.out) if args.out else Path("." if args.instance else "derivations")
    instance = Path(args.instance) if args.instance else None
    for path in write_documents(out, args.names, instance):
        print(path)
    return 0


def _solve(args: argparse.Namespace) -> int:
    from .api import solve
    from .instance import load_instance
    from .report import solve_report

    instance = load_instance(args.instance)
    result = solve(instance, rule=args.rule, method=args.method)
    if args.json:
        print(json.dumps(result.to_dict(), indent=1))
    else:
        print(solve_report(result, instance.profile.layer_names))
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = argparse.ArgumentParser(
        prog="coopt",
        description="Optimal model placement and online model splitting for device-edge co-inference.",
    )
    parser.add_argument("--version", action="version", version="coopt 0.1.0")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("solve", help="solve an instance: optimal placement M*, thresholds, baselines")
    p.add_argument("instance", help="instance file (TOML)")
    p.add_argument("--rule", choices=("optimal", "osla"), help="override placement.rule")
    p.add_argument("--method", default="enumeration", choices=("enumeration", "closed-form"),
                   help="solution method (default: enumeration with backward induction; "
                        "closed-form: the equal-neuron MLP's closed-form placement under OSLA)")
    p.add_argument("--json", action="store_true", help="print the result as JSON (MODEL.md section 8)")
    p.set_defaults(handler=_solve)

    p = sub.add_parser("derive", help="write the derivations (or one instance's numbers in them) as LaTeX")
    p.add_argument("names", nargs="*", metavar="NAME",
                   help="derivations to write, one standalone NAME.tex each: model, recursion, thresholds, "
                        "waiting, osla, mlp (default: all of them in derivations.tex)")
    p.add_argument("--instance", metavar="INSTANCE",
                   help="write INSTANCE's numbers into the formulas, with its thresholds and Phi(M) (<stem>.tex)")
    p.add_argument("--out", metavar="DIR", default=None,
                   help="output directory (default: derivations/, or the current directory with --instance)")
    p.set_defaults(handler=_derive)

    from .profile_cmd import add_profile_parser, run_profile

    add_profile_parser(sub).set_defaults(handler=run_profile)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``coopt`` console script."""
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except CooptError as exc:
        print(f"coopt: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except BrokenPipeError:
        # The reader (e.g. `head`) went away: not an error of ours. Point stdout at
        # devnull so that the interpreter's final flush does not raise again.
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
