"""The ``coopt`` command line: a thin layer over the Python API.

Exit codes: 0 solved, 1 no solution (infeasible, time limit without incumbent),
2 bad input or missing solver, 3 an internal error (a bug), 130 interrupted. Every error is one line
on stderr; :func:`main` is the one guard that turns exceptions into those lines (with
``--debug`` or ``COOPT_DEBUG=1`` an internal error also prints its traceback). Inside
the guard NumPy's floating-point warnings are errors, so that an overflow cannot pass
silently. Outputs and flag combinations are checked before any work starts.
Subcommand handlers import their modules lazily so that ``coopt solve`` does not
pay for Pyomo or SymPy.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import traceback
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from coopt.cli.flags import DEBUG_HELP, add_common, add_engine_arguments, mip_options
from coopt.cli.fleet import fleet_command, fleet_figures_command
from coopt.cli.limits import check_memory
from coopt.cli.output import COMPARE_UNITS, SIMULATE_UNITS, SOLVE_UNITS, VERIFY_UNITS, dumps, version, with_units
from coopt.errors import CooptError, InstanceError
from coopt.model.files import check_output, check_output_dir, write_atomic
from coopt.model.vocabulary import Allocation, Method, Policy, Rule


def _load(args: argparse.Namespace, path: str):  # -> coopt.model.instance.Instance
    """Load an instance and remember it, so that the guard can name its extreme values."""
    from coopt.model.instance import load_instance

    instance = load_instance(path)
    args.loaded.append(instance)
    return instance


def _verify(args: argparse.Namespace) -> int:
    from coopt.mip.highs import MipOptions
    from coopt.verify import verify

    if (code := fleet_command("verify", args)) is not None:
        return code
    instance = _load(args, args.instance)
    if args.rule:
        instance = instance.with_rule(args.rule)
    check_memory("verify", instance, args.max_memory)
    report = verify(instance, mip_options(args) or MipOptions(), rtol=args.rtol, progress=False if args.json else None)
    print(dumps(with_units(report.to_dict(), VERIFY_UNITS)) if args.json else report.table())
    return 0 if report.ok else 1


def _derive(args: argparse.Namespace) -> int:
    from coopt.symbolic.latex import output_names, write_documents  # imports SymPy

    if args.instance and args.names:
        raise InstanceError("derive: give derivation NAMEs or --instance, not both")
    out = Path(args.out) if args.out else Path("." if args.instance else "derivations")
    instance = Path(args.instance) if args.instance else None
    check_output_dir(out, output_names(args.names, instance, args.fragment), "--out", args.force)
    for path in write_documents(out, args.names, instance, args.fragment):
        print(path)
    return 0


def _solve(args: argparse.Namespace) -> int:
    from coopt.api import solve_problem
    from coopt.model.problem import prepare
    from coopt.report.text import solve_report

    if (code := fleet_command("solve", args)) is not None:
        return code
    instance = _load(args, args.instance)
    check_memory(f"solve --method {args.method}", instance, args.max_memory)
    if not args.json:
        _warm_transitions(instance)
    if args.rule is not None:
        instance = instance.with_rule(args.rule)
    problem = prepare(instance)
    result = solve_problem(
        problem, method=args.method, mip_options=mip_options(args), progress=False if args.json else None
    )
    continuous = None
    if args.continuous:
        from coopt.sim.continuous import continuous_summary

        continuous = continuous_summary(problem, result)
    split_out = _write_split(instance, result, args.split_out) if args.split_out else None
    if args.json:
        out = result.to_dict()
        if continuous is not None:
            out["continuous"] = continuous
        if split_out is not None:
            out["split_out"] = split_out
        print(dumps(with_units(out, SOLVE_UNITS)))
    else:
        print(solve_report(result, instance.profile.layer_names))
        if continuous is not None:
            from coopt.sim.continuous import continuous_report

            print("\n" + continuous_report(continuous))
        for what, item in (split_out or {}).items():
            print(f"{what} (epoch {item['epoch']}): wrote {item['head']} and {item['tail']}")
    return 0


def _warm_transitions(instance) -> None:
    """A correlated channel's matrices, built ahead (they are cached) under a progress bar
    on stderr when predicted to take over 2 s and stderr is a terminal."""
    from coopt.progress import bar_enabled, progress_bar

    if not instance.channel.is_correlated or not bar_enabled(None):
        return
    from coopt.model import fading
    from coopt.model.channel import build_channel
    from coopt.model.costs import cost_model

    k = build_channel(instance.channel).n_states
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        times = cost_model(instance).layer_time_s
    deltas = fading.lag_deltas(instance.channel, times, instance.wait.slot_s)
    fading.check_transition_memory(k, len(deltas))
    if sum(fading.predicted_seconds(k, d) for d in set(deltas)) <= 2.0:
        return

    def counted(todo: list[float]):
        with progress_bar(
            len(todo), f"transition matrices K={k}", None, "matrix", delay_s=0.0, unit_scale=False
        ) as bar:
            for delta in todo:
                yield delta  # the caller builds its matrix before asking for the next
                bar.update()

    fading.build_transitions(k, deltas, counted)


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
    from coopt.sim.simulate import simulate, simulation_report

    if (code := fleet_command("simulate", args)) is not None:
        return code
    if args.thresholds is not None and not args.continuous:
        raise InstanceError(f"--thresholds {args.thresholds}: needs --continuous (it chooses the continuous policy)")
    instance = _load(args, args.instance)
    check_memory("simulate", instance, args.max_memory, tasks=args.tasks)
    sim = simulate(
        instance,
        args.policy,
        args.tasks,
        args.seed,
        continuous=args.continuous,
        thresholds=args.thresholds or "quantised",
        progress=None,
    )
    if args.json:
        print(dumps(with_units(sim.to_dict(), SIMULATE_UNITS)))
    else:
        print(simulation_report(sim, instance.profile.layer_names))
    return 0


def _compare(args: argparse.Namespace) -> int:
    from coopt.report.compare import compare, comparison_markdown, comparison_text

    if args.json and args.markdown is not None:
        raise InstanceError("--json and --markdown: give one of them (both choose the output format)")
    to_file = args.markdown not in (None, "-")
    if args.force and not to_file:
        raise InstanceError("--force: needs --markdown FILE (it allows overwriting FILE)")
    target = check_output(args.markdown, "--markdown", args.force) if to_file else None
    instances = [_load(args, path) for path in args.instances]
    for inst in instances:
        check_memory("compare", inst, args.max_memory, tasks=args.tasks)
    comparisons = [compare(inst, args.tasks, args.seed, progress=None) for inst in instances]
    if args.json:
        print(dumps([with_units(c.to_dict(), COMPARE_UNITS) for c in comparisons]))
    elif args.markdown is None:
        print(comparison_text(comparisons))
    elif target is None:
        print(comparison_markdown(comparisons))
    else:
        write_atomic({target: comparison_markdown(comparisons)})
        print(f"wrote {target}")
    return 0


def _figures(args: argparse.Namespace) -> int:
    if args.sweep is not None:
        if args.instances:
            raise InstanceError("figures: give INSTANCE files or --sweep DIR, not both")
        from coopt.sweep.figures import write_sweep_figure

        for path in write_sweep_figure(
            args.sweep, args.out, x=args.x, y=args.y, by=args.by, size=args.size, title=not args.no_title
        ):
            print(path)
        return 0
    if args.instances and (code := fleet_figures_command(args)) is not None:
        return code
    if not args.instances or args.out is None:
        raise InstanceError("figures: give INSTANCE files and --out DIR, or --sweep DIR")
    from coopt.report.figures import FIGURES, FORMATS, make_figures, write_figures

    kinds = [k for k in ("doppler", "distribution", "tradeoff") if getattr(args, k)]
    if args.deadline is not None and "distribution" not in kinds:
        raise InstanceError("--deadline: applies to the --distribution figure")
    names = [f"{name}.{fmt}" for name in (kinds or FIGURES) for fmt in FORMATS]
    check_output_dir(args.out, names, "--out", args.force)
    title = not args.no_title
    instances = [_load(args, path) for path in args.instances]
    for inst in instances:
        check_memory("figures", inst, args.max_memory, tasks=args.tasks)
    if kinds:
        figures = _chosen_figures(kinds, instances, args, title)
    else:
        points = args.points if args.points is not None else 25
        figures = make_figures(
            instances, tasks=args.tasks, seed=args.seed, points=points, progress=None, size=args.size, title=title
        )
    for path in write_figures(figures, args.out, progress=None):
        print(path)
    return 0


def _chosen_figures(kinds: list[str], instances: list[Any], args: argparse.Namespace, title: bool) -> dict[str, Any]:
    """``--doppler``, ``--distribution``, ``--tradeoff``: each chosen figure of the instances."""
    from coopt.report.figures import doppler_figure
    from coopt.report.task_figures import make_task_figures

    out: dict[str, Any] = {}
    for kind in kinds:
        if kind == "doppler":
            points = args.points if args.points is not None else 13
            out[kind] = doppler_figure(
                instances, points, tasks=args.tasks, seed=args.seed, progress=None, size=args.size, title=title
            )
        else:
            points = args.points if args.points is not None else 25
            out.update(
                make_task_figures(
                    instances,
                    (kind,),
                    tasks=args.tasks,
                    seed=args.seed,
                    points=points,
                    deadline_s=args.deadline,
                    progress=None,
                    size=args.size,
                    title=title,
                )
            )
    return out


# ----------------------------------------------------------------------------- flags


def _ranged(kind: type, low: float, what: str, strict: bool = False):
    """An argparse type: a ``kind`` number ``>= low`` (``> low`` when ``strict``), finite."""

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r}: must be {what}") from None
        if not math.isfinite(value) or value < low or (strict and value == low):
            raise argparse.ArgumentTypeError(f"{text}: must be {what}")
        return value

    return parse


_SEED = _ranged(int, 0, "an integer >= 0")
_TASKS = _ranged(int, 2, "an integer >= 2")


def _add_monte_carlo(p: argparse.ArgumentParser, tasks_help: str) -> None:
    """``--tasks`` (default 100000) and ``--seed`` (default 0) of a simulating command."""
    p.add_argument("--tasks", type=_TASKS, default=100_000, help=tasks_help)
    p.add_argument("--seed", type=_SEED, default=0, help="seed of the random generator (default 0)")


def _add_mip_arguments(p: argparse.ArgumentParser) -> None:
    # Their ranges are checked in one place, coopt.mip.highs.MipOptions, before any work.
    p.add_argument(
        "--time-limit",
        type=float,
        metavar="SECONDS",
        help="MIP: wall-time limit of the whole method (build, HiGHS runs, certification)",
    )
    p.add_argument("--mip-gap", type=float, metavar="REL", help="MIP: relative gap to stop at (default 1e-9)")
    p.add_argument("--threads", type=int, help="MIP: HiGHS threads")


def _add_allocation_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--allocation",
        choices=tuple(Allocation),
        default=None,
        help="fleets: how the band and the edge are divided (default auto: the Lagrangian, then the MIP "
        "while the fleet is small enough to prove quickly)",
    )


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
    parser.add_argument("--version", action="version", version=f"coopt {version()}")
    parser.add_argument("--debug", action="store_true", help=DEBUG_HELP)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser(
        "solve", help="solve an instance (optimal placement M*, thresholds, baselines) or a fleet (shares, prices)"
    )
    p.add_argument("instance", help="instance file or fleet file (TOML; a fleet has a [shared] table)")
    p.add_argument("--rule", choices=tuple(Rule), help="override placement.rule")
    p.add_argument(
        "--method",
        default="enumeration",
        choices=tuple(Method),
        help="solution method (default: enumeration with backward induction; mip: one "
        "mixed-integer program solved by HiGHS, which also imposes [constraints]; "
        "closed-form: the equal-neuron MLP's closed-form placement under OSLA)",
    )
    _add_allocation_argument(p)
    add_engine_arguments(p, fleets_only=True)
    _add_mip_arguments(p)
    add_common(p)
    p.add_argument(
        "--json", action="store_true", help="print the result as JSON (docs/model.md section 8; a fleet: section 11.2)"
    )
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

    p = sub.add_parser(
        "simulate", help="Monte Carlo simulation of a policy (or a fleet): mean cost with a 95%% interval"
    )
    p.add_argument("instance", help="instance file or fleet file (TOML)")
    add_common(p)
    add_engine_arguments(p, fleets_only=True)
    _add_monte_carlo(p, "number of simulated tasks (default 100000)")
    p.add_argument(
        "--policy",
        default="optimal",
        help=f"{' | '.join(Policy)} (default optimal)",
    )
    p.add_argument(
        "--continuous",
        action="store_true",
        help="draw gains from the continuous law; the policy acts by thresholds on the gain",
    )
    p.add_argument(
        "--thresholds",
        choices=("quantised", "continuous"),
        default=None,
        help="with --continuous: 'quantised' (the solver's thresholds, default) or 'continuous' "
        "(the rule solved on the continuous law)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(handler=_simulate)

    p = sub.add_parser("compare", help="every policy's exact and simulated cost, and the saving of the joint optimum")
    p.add_argument("instances", nargs="+", metavar="INSTANCE", help="instance files (TOML)")
    add_common(p, force="the --markdown FILE")
    _add_monte_carlo(p, "simulated tasks per policy (default 100000)")
    p.add_argument(
        "--markdown",
        nargs="?",
        const="-",
        metavar="FILE",
        help="write Markdown tables (to FILE, or to stdout without one)",
    )
    p.add_argument("--json", action="store_true", help="print a JSON list, one object per instance")
    p.set_defaults(handler=_compare)

    p = sub.add_parser(
        "figures",
        help="write the figures (PNG, PDF and SVG): Phi(M), thresholds, cost sweeps, split epochs; "
        "--distribution, --tradeoff: each policy's latency and energy CDFs, the energy-latency trade-off; "
        "of a fleet: shares, Phi_u, placements, cost against the number of devices",
    )
    p.add_argument("instances", nargs="*", metavar="INSTANCE", help="instance files (TOML), one panel each")
    p.add_argument("--out", help="output directory (required with INSTANCEs; default with --sweep: DIR)")
    add_common(p, force="figures in --out")
    _add_monte_carlo(p, "simulated tasks for the split-epoch figure")
    p.add_argument(
        "--points",
        type=_ranged(int, 2, "an integer >= 2"),
        default=None,
        help="points per cost sweep (default 25; 13 with --doppler; a fleet: its counts times 1..P, default 4)",
    )
    p.add_argument(
        "--doppler",
        action="store_true",
        help="write only doppler.png/pdf/svg: costs and the Markov chain's error against Clarke Doppler 1 Hz-1 kHz",
    )
    p.add_argument(
        "--distribution",
        action="store_true",
        help="write distribution.png/pdf/svg: CDFs of each policy's latency and device energy per task "
        "(exact, with the simulated --tasks over them), p95, deadline-miss probability",
    )
    p.add_argument(
        "--tradeoff",
        action="store_true",
        help="write tradeoff.png/pdf/svg: expected latency against energy of each policy as w_E/w_T move "
        "(--points shares, default 25, exact re-solves)",
    )
    p.add_argument(
        "--deadline",
        type=_ranged(float, 0.0, "a number of seconds > 0", strict=True),
        metavar="SECONDS",
        help="--distribution: mark this deadline and each policy's probability of missing it",
    )
    p.add_argument(
        "--size",
        choices=("column", "page"),
        default=None,
        help="lay the panels out for print: one IEEE column (3.5 in) or the page width (7.16 in), 8-9 pt text",
    )
    p.add_argument("--no-title", action="store_true", help="no panel titles (a paper's caption says it)")
    p.add_argument(
        "--sweep", metavar="DIR", help="plot the results of `coopt sweep` in DIR instead (sweep.png/.pdf/.svg)"
    )
    p.add_argument("--x", metavar="KEY", help="--sweep: the swept key on the x axis (default: the first numeric one)")
    p.add_argument(
        "--y",
        default="objective",
        metavar="COLUMN",
        help="--sweep: the plotted column (default objective; gap_percent: each baseline's extra cost in %%)",
    )
    p.add_argument(
        "--by",
        default="baseline",
        metavar="baseline|rule|KEY",
        help="--sweep: one line per rule and baseline (default), per rule, or per value of a swept KEY",
    )
    p.set_defaults(handler=_figures)

    p = sub.add_parser("derive", help="write the derivations (or one instance's document with its tables) as LaTeX")
    p.add_argument(
        "names",
        nargs="*",
        metavar="NAME",
        help="derivations to write, one standalone NAME.tex each: model, recursion, thresholds, "
        "waiting, osla, mlp, fading, fleet (default: all of them in derivations.tex)",
    )
    p.add_argument(
        "--instance",
        metavar="INSTANCE",
        help="write INSTANCE's document (<stem>-numbers.tex): a parameter table, the formulas with their values, "
        "and the tables of coopt solve --json (thresholds linear and in dB, Phi(M), the costs at M*, the baselines)",
    )
    p.add_argument(
        "--fragment",
        action="store_true",
        help="also write, beside each standalone X.tex, its body X-fragment.tex to \\input into a paper "
        "(no preamble, no title), with --instance each table as <stem>-numbers-TABLE.tex, "
        "and coopt-macros.tex (one \\newcommand per symbol; \\input it in the preamble)",
    )
    p.add_argument(
        "--out",
        metavar="DIR",
        default=None,
        help="output directory (default: derivations/, or the current directory with --instance)",
    )
    add_common(p, memory=False, force="documents in --out")
    p.set_defaults(handler=_derive)

    p = sub.add_parser(
        "verify",
        help="solve by enumeration, the MIP (and the closed form), or a fleet by every allocation method, "
        "and compare; exit 1 on a mismatch",
    )
    p.add_argument("instance", help="instance file or fleet file (TOML)")
    p.add_argument("--rule", choices=tuple(Rule), help="override placement.rule (osla: the closed form is checked too)")
    p.add_argument(
        "--rtol",
        type=_ranged(float, 0, "a relative tolerance > 0", strict=True),
        default=1e-9,
        help="relative tolerance of comparisons with HiGHS's own numbers (default 1e-9); values evaluated exactly "
        "are compared to 1e-12, or to --rtol if smaller",
    )
    p.add_argument("--json", action="store_true", help="print the checks as JSON")
    p.set_defaults(allocation=None)
    add_engine_arguments(p, fleets_only=True)
    _add_mip_arguments(p)
    add_common(p)
    p.set_defaults(handler=_verify)

    from coopt.cli.channel import add_channel_parser, run_channel
    from coopt.cli.profile import add_profile_parser, run_profile
    from coopt.cli.sweep import add_sweep_parser, run_sweep_command

    profile = add_profile_parser(sub)
    add_common(profile, memory=False)
    profile.set_defaults(handler=run_profile)
    add_channel_parser(sub).set_defaults(handler=run_channel)
    sweep = add_sweep_parser(sub)
    add_common(sweep, memory=False)
    sweep.set_defaults(handler=run_sweep_command)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``coopt`` console script: the one guard around every command.

    Bad input (:class:`~coopt.errors.CooptError`, an unreadable or unwritable file, an
    arithmetic overflow traced to an instance) is one line and its exit code; anything
    else is an internal error: one line, exit code 3, the traceback only with
    ``--debug`` or ``COOPT_DEBUG=1``.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv or os.environ.get("COOPT_DEBUG", "") not in ("", "0")
    args = build_parser().parse_args(argv)
    args.loaded = []
    try:
        with np.errstate(over="raise", divide="raise", invalid="raise"), warnings.catch_warnings():
            warnings.simplefilter("error", RuntimeWarning)
            return args.handler(args)
    except CooptError as exc:
        print(f"coopt: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except BrokenPipeError:
        # The reader (e.g. `head`) went away: not an error of ours. Point stdout at
        # devnull so that the interpreter's final flush does not raise again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except (FloatingPointError, RuntimeWarning) as exc:
        if args.loaded:
            print(f"coopt: error: {_overflow_message(exc, args.loaded)}", file=sys.stderr)
            return 2
        return _internal_error(exc, debug)
    except MemoryError:
        print(
            "coopt: error: out of memory: the instance is too large for this machine "
            "(fewer channel.states or layers, or a smaller --tasks)",
            file=sys.stderr,
        )
        return 2
    except KeyboardInterrupt:
        print("coopt: interrupted (no output file was replaced)", file=sys.stderr)
        return 130
    except OSError as exc:
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"coopt: error: {where}{exc.strerror or exc}", file=sys.stderr)
        return 2
    except Exception as exc:
        return _internal_error(exc, debug)


def _internal_error(exc: BaseException, debug: bool) -> int:
    if debug:
        traceback.print_exception(exc, file=sys.stderr)
    summary = " ".join(f"{type(exc).__name__}: {exc}".split())
    hint = "" if debug else "; run again with --debug (or COOPT_DEBUG=1) for the traceback"
    print(f"coopt: internal error ({summary}): this is a bug in coopt, please report it{hint}", file=sys.stderr)
    return 3


def _overflow_message(exc: BaseException, instances: list) -> str:
    """The line for an arithmetic overflow: the instance value farthest from 1 is the likely cause."""
    from coopt.model.instance import extreme_value

    key, value, allowed = extreme_value(instances[-1])
    return (
        f"arithmetic error ({exc}) in the numbers of instance {instances[-1].name}: they leave float64; "
        f"the value nearest to an end of its range is {key} = {value:g} (allowed {allowed})"
    )


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
