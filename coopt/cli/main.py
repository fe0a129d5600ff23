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
from collections.abc import Sequence

from coopt.errors import CooptError


def _mip_options(args: argparse.Namespace):  # -> coopt.mip.highs.MipOptions | None
    """The MIP options given on the command line (``None`` when none is given)."""
    given = {k: getattr(args, k) for k in ("time_limit", "mip_gap", "threads") if getattr(args, k, None) is not None}
    if not given:
        return None
    from coopt.mip.highs import MipOptions

    return MipOptions(**given)


def _verify(args: argparse.Namespace) -> int:
    from coopt.mip.highs import MipOptions
    from coopt.model.instance import load_instance
    from coopt.verify import verify

    instance = load_instance(args.instance)
    if args.rule:
        instance = instance.with_rule(args.rule)
    report = verify(instance, _mip_options(args) or MipOptions(), rtol=args.rtol)
    print(json.dumps(report.to_dict(), indent=1) if args.json else report.table())
    return 0 if report.ok else 1


def _derive(args: argparse.Namespace) -> int:
    from pathlib import Path

    from coopt.errors import InstanceError
    from coopt.symbolic.latex import write_documents  # imports SymPy

    if args.instance and args.names:
        raise InstanceError("derive: give derivation NAMEs or --instance, not both")
    out = Path(args.out) if args.out else Path("." if args.instance else "derivations")
    instance = Path(args.instance) if args.instance else None
    for path in write_documents(out, args.names, instance):
        print(path)
    return 0


def _solve(args: argparse.Namespace) -> int:
    from coopt.api import solve
    from coopt.model.instance import load_instance
    from coopt.report.text import solve_report

    instance = load_instance(args.instance)
    result = solve(instance, rule=args.rule, method=args.method, mip_options=_mip_options(args))
    continuous = None
    if getattr(args, "continuous", False):
        from coopt.model.problem import prepare
        from coopt.sim.continuous import continuous_summary

        continuous = continuous_summary(prepare(instance.with_rule(result.rule)), result)
    split_out = _write_split(instance, result, args.split_out) if args.split_out else None
    if args.json:
        out = result.to_dict()
        if continuous is not None:
            out["continuous"] = continuous
        if split_out is not None:
            out["split_out"] = split_out
        print(json.dumps(out, indent=1))
    else:
        print(solve_report(result, instance.profile.layer_names))
        if continuous is not None:
            from coopt.sim.continuous import continuous_report

            print("\n" + continuous_report(continuous))
        for what, item in (split_out or {}).items():
            print(f"{what} (epoch {item['epoch']}): wrote {item['head']} and {item['tail']}")
    return 0


def _write_split(instance, result, out: str) -> dict:
    """``--split-out DIR``: the halves at M* (``DIR/placement/``) and at the most frequent
    split epoch of the policy in force (``DIR/most_frequent_split/``)."""
    from pathlib import Path

    from coopt.errors import InstanceError
    from coopt.model.onnx_graph import export_split, splittable_model

    graph = instance.network.graph
    if graph is None:
        raise InstanceError(
            f"--split-out: network.profile = {instance.network.profile_spec!r} is not an ONNX model; "
            "only an ONNX network can be split into two ONNX halves"
        )
    stop_prob = result.breakdown.stop_prob
    frequent = max(range(len(stop_prob)), key=lambda n: (stop_prob[n], -n))  # ties: the earlier epoch
    written = {}
    model = splittable_model(graph)
    for what, epoch in (("placement", result.placement), ("most_frequent_split", frequent)):
        head, tail = export_split(graph, epoch, Path(out) / what, model)
        written[what] = {"epoch": epoch, "head": str(head), "tail": str(tail)}
    return written


def _split(args: argparse.Namespace) -> int:
    from pathlib import Path

    from coopt.model.onnx_graph import export_split, read_network, resolve_onnx_path

    network = read_network(resolve_onnx_path(args.model), args.cuts)
    head, tail = export_split(network, args.at, Path(args.out))
    live = network.live[args.at]
    print(
        f"wrote {head} and {tail}: split of {network.path.name} at epoch {args.at} of {network.profile.n_layers} "
        f"(cuts = {args.cuts}); live set {len(live)} tensor(s), {int(network.profile.out_elems[args.at]):,} elements: "
        + ", ".join(live)
    )
    return 0


def _simulate(args: argparse.Namespace) -> int:
    from coopt.model.instance import load_instance
    from coopt.sim.simulate import simulate, simulation_report

    instance = load_instance(args.instance)
    sim = simulate(
        instance,
        args.policy,
        args.tasks,
        args.seed,
        continuous=args.continuous,
        thresholds=args.thresholds,
        progress=None,
    )
    if args.json:
        print(json.dumps(sim.to_dict(), indent=1))
    else:
        print(simulation_report(sim, instance.profile.layer_names))
    return 0


def _compare(args: argparse.Namespace) -> int:
    from coopt.model.instance import load_instance
    from coopt.report.compare import compare, comparison_markdown, comparison_text

    instances = [load_instance(path) for path in args.instances]
    comparisons = [compare(inst, args.tasks, args.seed, progress=None) for inst in instances]
    if args.json:
        print(json.dumps([c.to_dict() for c in comparisons], indent=1))
    elif args.markdown is None:
        print(comparison_text(comparisons))
    elif args.markdown == "-":
        print(comparison_markdown(comparisons))
    else:
        from pathlib import Path

        Path(args.markdown).write_text(comparison_markdown(comparisons), encoding="utf-8")
        print(f"wrote {args.markdown}")
    return 0


def _figures(args: argparse.Namespace) -> int:
    from coopt.errors import InstanceError

    if args.sweep is not None:
        if args.instances:
            raise InstanceError("figures: give INSTANCE files or --sweep DIR, not both")
        from coopt.sweep.figures import write_sweep_figure

        for path in write_sweep_figure(args.sweep, args.out, x=args.x, y=args.y, by=args.by):
            print(path)
        return 0
    if not args.instances or args.out is None:
        raise InstanceError("figures: give INSTANCE files and --out DIR, or --sweep DIR")
    from coopt.model.instance import load_instance
    from coopt.report.figures import make_figures, write_figures

    points = args.points if args.points is not None else (13 if args.doppler else 25)
    if points < 2:
        raise InstanceError(f"--points = {points}: must be an integer >= 2")
    instances = [load_instance(path) for path in args.instances]
    if args.doppler:
        from coopt.report.figures import doppler_figure

        figures = {"doppler": doppler_figure(instances, points, tasks=args.tasks, seed=args.seed, progress=None)}
    else:
        figures = make_figures(instances, tasks=args.tasks, seed=args.seed, points=points, progress=None)
    for path in write_figures(figures, args.out):
        print(path)
    return 0


def _add_mip_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--time-limit",
        type=float,
        metavar="SECONDS",
        help="MIP: wall-time limit of the whole method (build, HiGHS runs, certification)",
    )
    p.add_argument("--mip-gap", type=float, metavar="REL", help="MIP: relative gap to stop at (default 1e-9)")
    p.add_argument("--threads", type=int, help="MIP: HiGHS threads")


class _Parser(argparse.ArgumentParser):
    """argparse with the one-line error of every other bad input (usage stays in --help)."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = _Parser(
        prog="coopt",
        description="Optimal model placement and online model splitting for device-edge co-inference.",
    )
    parser.add_argument("--version", action="version", version="coopt 0.1.0")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("solve", help="solve an instance: optimal placement M*, thresholds, baselines")
    p.add_argument("instance", help="instance file (TOML)")
    p.add_argument("--rule", choices=("optimal", "osla"), help="override placement.rule")
    p.add_argument(
        "--method",
        default="enumeration",
        choices=("enumeration", "mip", "closed-form"),
        help="solution method (default: enumeration with backward induction; mip: one "
        "mixed-integer program solved by HiGHS, which also imposes [constraints]; "
        "closed-form: the equal-neuron MLP's closed-form placement under OSLA)",
    )
    _add_mip_arguments(p)
    p.add_argument("--json", action="store_true", help="print the result as JSON (MODEL.md section 8)")
    p.add_argument(
        "--continuous",
        action="store_true",
        help="also evaluate the rule at M* on the continuous fading law by quadrature "
        "(JSON key 'continuous'; i.i.d. Rayleigh, Nakagami, Rician)",
    )
    p.add_argument(
        "--split-out",
        metavar="DIR",
        help="ONNX networks: write head.onnx and tail.onnx for M* (DIR/placement/) and for the most "
        "frequent split epoch of the policy (DIR/most_frequent_split/)",
    )
    p.set_defaults(handler=_solve)

    p = sub.add_parser("split", help="cut an ONNX model at an epoch into head.onnx and tail.onnx")
    p.add_argument("model", metavar="MODEL", help="an ONNX file (or onnx:light/NAME)")
    p.add_argument("--at", type=int, required=True, metavar="N", help="the epoch: the first N units go to the head")
    p.add_argument("--out", required=True, metavar="DIR", help="output directory")
    p.add_argument("--cuts", choices=("all", "single"), default="all", help="how epochs are numbered (as network.cuts)")
    p.set_defaults(handler=_split)

    p = sub.add_parser("simulate", help="Monte Carlo simulation of a policy: mean cost with a 95%% interval")
    p.add_argument("instance", help="instance file (TOML)")
    p.add_argument("--tasks", type=int, default=100_000, help="number of simulated tasks (default 100000)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random generator (default 0)")
    p.add_argument(
        "--policy",
        default="optimal",
        help="optimal | osla | static | edge-only | device-only | full-placement (default optimal)",
    )
    p.add_argument(
        "--continuous",
        action="store_true",
        help="draw gains from the continuous law; the policy acts by thresholds on the gain",
    )
    p.add_argument(
        "--thresholds",
        default="quantised",
        help="with --continuous: 'quantised' (the solver's thresholds, default) or 'continuous' "
        "(the rule solved on the continuous law)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(handler=_simulate)

    p = sub.add_parser("compare", help="every policy's exact and simulated cost, and the saving of the joint optimum")
    p.add_argument("instances", nargs="+", metavar="INSTANCE", help="instance files (TOML)")
    p.add_argument("--tasks", type=int, default=100_000, help="simulated tasks per policy (default 100000)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random generator (default 0)")
    p.add_argument(
        "--markdown",
        nargs="?",
        const="-",
        metavar="FILE",
        help="write Markdown tables (to FILE, or to stdout without one)",
    )
    p.add_argument("--json", action="store_true", help="print a JSON list, one object per instance")
    p.set_defaults(handler=_compare)

    p = sub.add_parser("figures", help="write the figures (PNG and PDF): Phi(M), thresholds, cost sweeps, split epochs")
    p.add_argument("instances", nargs="*", metavar="INSTANCE", help="instance files (TOML), one panel each")
    p.add_argument("--out", help="output directory (required with INSTANCEs; default with --sweep: DIR)")
    p.add_argument("--tasks", type=int, default=100_000, help="simulated tasks for the split-epoch figure")
    p.add_argument("--seed", type=int, default=0, help="seed of the random generator (default 0)")
    p.add_argument("--points", type=int, default=None, help="points per cost sweep (default 25; 13 with --doppler)")
    p.add_argument(
        "--doppler",
        action="store_true",
        help="write only doppler.png/pdf: costs and the Markov chain's error against Clarke Doppler 1 Hz-1 kHz",
    )
    p.add_argument("--sweep", metavar="DIR", help="plot the results of `coopt sweep` in DIR instead (sweep.png/.pdf)")
    p.add_argument("--x", metavar="KEY", help="--sweep: the swept key on the x axis (default: the first numeric one)")
    p.add_argument("--y", default="objective", metavar="COLUMN", help="--sweep: the plotted column (default objective)")
    p.add_argument(
        "--by",
        default="baseline",
        metavar="baseline|rule|KEY",
        help="--sweep: one line per rule and baseline (default), per rule, or per value of a swept KEY",
    )
    p.set_defaults(handler=_figures)

    p = sub.add_parser("derive", help="write the derivations (or one instance's numbers in them) as LaTeX")
    p.add_argument(
        "names",
        nargs="*",
        metavar="NAME",
        help="derivations to write, one standalone NAME.tex each: model, recursion, thresholds, "
        "waiting, osla, mlp (default: all of them in derivations.tex)",
    )
    p.add_argument(
        "--instance",
        metavar="INSTANCE",
        help="write INSTANCE's numbers into the formulas, with its thresholds and Phi(M) (<stem>.tex)",
    )
    p.add_argument(
        "--out",
        metavar="DIR",
        default=None,
        help="output directory (default: derivations/, or the current directory with --instance)",
    )
    p.set_defaults(handler=_derive)

    p = sub.add_parser(
        "verify", help="solve by enumeration, the MIP (and the closed form) and compare; exit 1 on a mismatch"
    )
    p.add_argument("instance", help="instance file (TOML)")
    p.add_argument(
        "--rule", choices=("optimal", "osla"), help="override placement.rule (osla: the closed form is checked too)"
    )
    p.add_argument("--rtol", type=float, default=1e-9, help="relative tolerance of value comparisons (default 1e-9)")
    p.add_argument("--json", action="store_true", help="print the checks as JSON")
    _add_mip_arguments(p)
    p.set_defaults(handler=_verify)

    from coopt.cli.channel import add_channel_parser, run_channel
    from coopt.cli.profile import add_profile_parser, run_profile
    from coopt.cli.sweep import add_sweep_parser, run_sweep_command

    add_profile_parser(sub).set_defaults(handler=run_profile)
    add_channel_parser(sub).set_defaults(handler=run_channel)
    add_sweep_parser(sub).set_defaults(handler=run_sweep_command)
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
