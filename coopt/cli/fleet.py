"""The fleet's side of ``coopt solve``, ``verify``, ``simulate`` and ``figures`` (docs/model.md section 11).

A file with a ``[shared]`` table is a fleet: :func:`fleet_command` routes the verb to the
fleet handler, after refusing the flags that apply to one instance only
(:func:`fleet_figures_command` for ``figures``, which takes a list of files).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from coopt.cli.flags import engine_workers, mip_options
from coopt.cli.limits import check_fleet_memory
from coopt.cli.output import FLEET_UNITS, VERIFY_UNITS, dumps, with_units
from coopt.errors import InstanceError
from coopt.fleet.files import Fleet, load_fleet

# Flags of a single instance, with the value that means "not given".
_INSTANCE_ONLY = {
    "rule": (None, "--rule"),
    "continuous": (False, "--continuous"),
    "split_out": (None, "--split-out"),
    "thresholds": (None, "--thresholds"),
}


def _check_flags(args: argparse.Namespace) -> None:
    for attr, (unset, flag) in _INSTANCE_ONLY.items():
        if getattr(args, attr, unset) != unset:
            raise InstanceError(f"{flag}: applies to one instance, not to a fleet ({args.instance} has [shared])")
    if getattr(args, "method", "enumeration") != "enumeration":
        raise InstanceError(
            f"--method {args.method}: a fleet's tables are always solved by enumeration; "
            "choose the allocation with --allocation auto|mip|lagrangian|exact|brute_force"
        )
    if getattr(args, "policy", "optimal") != "optimal":
        raise InstanceError(f"--policy {args.policy}: a fleet simulates each device's own rule at its shares")


def _load(args: argparse.Namespace, command: str) -> Fleet:
    _check_flags(args)
    fleet = load_fleet(args.instance)
    args.loaded.extend(fleet.kinds)
    check_fleet_memory(command, fleet, args.max_memory, tasks=getattr(args, "tasks", 0))
    return fleet


def _engine(args: argparse.Namespace) -> dict:
    """The tables' engine: ``--workers`` (default the core count), ``--dask``, and a progress
    bar on a terminal unless ``--json``."""
    return {"workers": engine_workers(args), "dask": args.dask, "progress": False if args.json else None}


def solve(args: argparse.Namespace) -> int:
    from coopt.fleet.solve import solve_fleet
    from coopt.report.fleet import fleet_report

    fleet = _load(args, "solve")
    result = solve_fleet(fleet, args.allocation or "auto", mip_options(args), **_engine(args))
    print(dumps(with_units(result.to_dict(), FLEET_UNITS)) if args.json else fleet_report(result))
    return 0


def verify(args: argparse.Namespace) -> int:
    from coopt.verify import verify_fleet

    if args.allocation:
        raise InstanceError("--allocation: verify runs every allocation method")
    fleet = _load(args, "verify")
    report = verify_fleet(fleet, mip_options(args), rtol=args.rtol, **_engine(args))
    print(dumps(with_units(report.to_dict(), VERIFY_UNITS)) if args.json else report.table())
    return 0 if report.ok else 1


def simulate(args: argparse.Namespace) -> int:
    from coopt.fleet.simulate import fleet_simulation_report, simulate_fleet
    from coopt.fleet.solve import solve_fleet

    fleet = _load(args, "simulate")
    sim = simulate_fleet(fleet, args.tasks, args.seed, solve_fleet(fleet, **_engine(args)))
    print(dumps(with_units(sim.to_dict(), FLEET_UNITS)) if args.json else fleet_simulation_report(sim))
    return 0


DEFAULT_FIGURE_SCALES = 4  # fleet_costs: the counts times 1..4 unless --points says otherwise


def figures(args: argparse.Namespace) -> int:
    """``coopt figures FLEET --out DIR``: the figures of :mod:`coopt.report.fleet_figures`,
    ``--points P`` count multipliers 1..P in ``fleet_costs``."""
    from coopt.model.files import check_output_dir
    from coopt.report.figures import FORMATS, write_figures
    from coopt.report.fleet_figures import FLEET_FIGURES, MAX_SCALE, make_fleet_figures

    if len(args.instances) != 1:
        raise InstanceError(f"figures: {args.instance} is a fleet; give it alone (got {len(args.instances)} files)")
    for flag in ("doppler", "distribution", "tradeoff"):
        if getattr(args, flag, False):
            raise InstanceError(f"--{flag}: applies to one instance, not to a fleet ({args.instance} has [shared])")
    if args.out is None:
        raise InstanceError("figures: give INSTANCE files and --out DIR, or --sweep DIR")
    points = DEFAULT_FIGURE_SCALES if args.points is None else args.points
    if points > MAX_SCALE:
        raise InstanceError(f"--points {points}: a fleet's count multipliers 1..P allow P <= {MAX_SCALE}")
    check_output_dir(args.out, [f"{n}.{fmt}" for n in FLEET_FIGURES for fmt in FORMATS], "--out", args.force)
    _check_flags(args)
    fleet = load_fleet(args.instance)
    args.loaded.extend(fleet.kinds)
    check_fleet_memory("figures", fleet, args.max_memory)
    figs = make_fleet_figures(fleet, scales=range(1, points + 1), size=args.size, title=not args.no_title)
    for path in write_figures(figs, args.out, progress=None):
        print(path)
    return 0


def fleet_figures_command(args: argparse.Namespace) -> int | None:
    """Run ``coopt figures`` on a fleet when one of ``args.instances`` is one, else ``None``."""
    from coopt.fleet.files import is_fleet_file

    fleets = [path for path in args.instances if is_fleet_file(path)]
    if not fleets:
        return None
    args.instance = fleets[0]
    return figures(args)


HANDLERS: dict[str, Callable[[argparse.Namespace], int]] = {"solve": solve, "verify": verify, "simulate": simulate}


def fleet_command(command: str, args: argparse.Namespace) -> int | None:
    """Run ``command`` on a fleet when ``args.instance`` is one, else ``None`` (an instance).

    Also refuses ``--allocation``, ``--workers`` and ``--dask`` on a single instance."""
    from coopt.fleet.files import is_fleet_file

    if not is_fleet_file(args.instance):
        for flag in ("allocation", "workers", "dask"):
            if getattr(args, flag, None) is not None:
                raise InstanceError(f"--{flag}: applies to a fleet file (with [shared]), not to {args.instance}")
        return None
    return HANDLERS[command](args)
