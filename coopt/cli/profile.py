"""The ``coopt profile`` subcommand: list, show and export DNN layer profiles.

``coopt profile --list``
    the shipped profiles with their layer count, total MACs and parameters;
``coopt profile NAME``
    a table per layer ``i``: MACs ``macs_i``, output elements ``out_i``, the feature
    size ``d_i = out_i * feature_bits`` in kB (1 kB = 1000 bytes, so that the number
    reads directly against a rate in kbit/s / 8), parameters ``params_i``, and the
    cumulative MACs and parameters ``sum_{j<=i}`` (docs/model.md section 2);
``coopt profile NAME --csv PATH``
    the profile as a CSV file (its provenance comments kept);
``coopt profile mlp --depth L --width Q --input U --classes C``
    the same for the equal-neuron MLP of :func:`coopt.model.profiles.mlp_profile`;
``coopt profile MODEL.onnx [--cuts all|single] [--csv PATH]``
    the units, live sets and cuts of an ONNX graph (:mod:`coopt.model.onnx_graph`,
    docs/model.md 10.2); ``MODEL`` may also be ``onnx:light/NAME``;
``coopt profile MODEL.onnx --measure device|edge [--repeats R] [--csv PATH]``
    adds the measured ``device_s`` or ``edge_s`` column, timed on this host with ONNX
    Runtime (:mod:`coopt.model.onnx_measure`);
``coopt profile --merge DEVICE.csv EDGE.csv [--csv PATH]``
    one profile with the ``device_s`` of the first and the ``edge_s`` of the second.

``NAME`` is a shipped profile (:func:`coopt.model.profiles.list_profiles`), ``mlp``, or a
path to a CSV file. The command-line module wires :func:`add_profile_parser` into its
subparsers and calls :func:`run_profile`; errors are raised as
:class:`coopt.errors.ProfileError` / :class:`coopt.errors.InstanceError` for it to
print.
"""

from __future__ import annotations

import argparse
import platform
from dataclasses import replace
from importlib import resources
from pathlib import Path

from coopt.errors import InstanceError, ProfileError
from coopt.model.files import check_output, read_text, write_atomic
from coopt.model.onnx_graph import CUTS, is_onnx_spec, read_network, resolve_onnx_path
from coopt.model.profiles import Profile, list_profiles, load_profile, merge_profiles, mlp_profile, read_profile_csv

SIDES = ("device", "edge")

MLP_NAME = "mlp"
_MLP_OPTIONS = ("depth", "width", "input", "classes")


def add_profile_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``profile`` subcommand to ``subparsers`` and return its parser."""
    parser = subparsers.add_parser(
        "profile",
        help="list, show or export DNN layer profiles",
        description="Show a DNN layer profile per layer, list the shipped ones, or export one as CSV.",
    )
    parser.add_argument(
        "name",
        nargs="?",
        metavar="NAME",
        help=f"a shipped profile (see --list), '{MLP_NAME}', a path to a CSV file, or an ONNX model "
        "(MODEL.onnx or onnx:light/NAME)",
    )
    parser.add_argument("--list", action="store_true", help="list the shipped profiles and exit")
    parser.add_argument(
        "--cuts",
        choices=CUTS,
        default=None,
        help="ONNX models: 'all' (every unit boundary, default) or 'single' (only single-tensor cuts)",
    )
    parser.add_argument("--csv", metavar="PATH", type=Path, help="write the profile as CSV to PATH")
    parser.add_argument("--force", action="store_true", help="overwrite an existing --csv PATH")
    parser.add_argument(
        "--measure",
        choices=SIDES,
        help="ONNX models: time every unit on this host with ONNX Runtime and add the device_s or edge_s column",
    )
    parser.add_argument(
        "--repeats", type=int, default=10, metavar="R", help="--measure: timed runs, median per unit (default 10)"
    )
    parser.add_argument(
        "--merge",
        nargs=2,
        metavar=("DEVICE_CSV", "EDGE_CSV"),
        help="merge two measured profiles of one network: device_s from the first, edge_s from the second",
    )
    parser.add_argument(
        "--feature-bits",
        type=int,
        default=None,
        metavar="BITS",
        help="bits per output element for the kB column of the table (default: 32)",
    )
    mlp = parser.add_argument_group(f"the '{MLP_NAME}' family (equal-neuron MLP), all four required")
    mlp.add_argument("--depth", type=int, metavar="L", help="hidden layers")
    mlp.add_argument("--width", type=int, metavar="Q", help="neurons per hidden layer")
    mlp.add_argument("--input", type=int, metavar="U", help="input size in elements")
    mlp.add_argument("--classes", type=int, metavar="C", help="output classes")
    return parser


def run_profile(args: argparse.Namespace) -> int:
    """Carry out ``coopt profile`` for parsed ``args``; returns the exit status 0.

    Raises
    ------
    ProfileError
        Unknown profile name (the message lists the valid ones), malformed CSV, or
        bad MLP sizes.
    InstanceError
        Conflicting or missing options, ``--feature-bits`` below 1, or an unwritable
        ``--csv`` path.
    """
    if args.feature_bits is not None and args.feature_bits < 1:
        raise InstanceError(f"--feature-bits = {args.feature_bits}: must be an integer >= 1")
    if args.list and (args.name is not None or args.csv is not None or args.feature_bits is not None):
        raise InstanceError("coopt profile --list takes neither NAME, --csv nor --feature-bits")
    if args.csv is not None and args.feature_bits is not None:
        raise InstanceError("--feature-bits: only for the table; the --csv export has no kB column")
    if args.force and args.csv is None:
        raise InstanceError("--force: needs --csv PATH (it allows overwriting PATH)")
    target = check_output(args.csv, "--csv", args.force) if args.csv is not None else None
    if args.merge is not None:
        if args.name is not None or args.list or args.measure:
            raise InstanceError("coopt profile --merge takes two CSV files and neither NAME, --list nor --measure")
        texts = [read_text(path, "profile CSV") for path in args.merge]
        device, edge = (read_profile_csv(t, Path(p).stem, p) for t, p in zip(texts, args.merge))
        comments = (
            *_comment_lines(texts[0]),
            *(line for line in _comment_lines(texts[1]) if line.startswith("edge_s")),
            f"Merged by `coopt profile --merge {args.merge[0]} {args.merge[1]}`: device_s from the first, "
            "edge_s from the second.",
        )
        return _emit(args, target, merge_profiles(device, edge), comments)
    if args.list:
        print(_listing())
        return 0
    if args.name is None:
        raise ProfileError(f"coopt profile: give a NAME or --list; valid names: {', '.join(_valid_names())}")
    profile, comments = _resolve(args)
    return _emit(args, target, profile, comments)


def _emit(args: argparse.Namespace, target: Path | None, profile: Profile, comments: tuple[str, ...]) -> int:
    """Write the CSV to ``target`` (checked before any work), or print the table."""
    if target is not None:
        write_atomic({target: profile.to_csv(comments)})
        print(f"wrote {args.csv} ({profile.name}: {profile.n_layers} layers)")
        return 0
    print(format_table(profile, 32 if args.feature_bits is None else args.feature_bits))
    return 0


def _valid_names() -> list[str]:
    return list_profiles() + [MLP_NAME]


def _resolve(args: argparse.Namespace) -> tuple[Profile, tuple[str, ...]]:
    """The profile named by ``args`` and the comment lines its CSV export carries."""
    given = [f"--{key}" for key in _MLP_OPTIONS if getattr(args, key) is not None]
    if is_onnx_spec(args.name):
        if given:
            raise InstanceError(f"{', '.join(given)}: only for NAME = {MLP_NAME}, not {args.name!r}")
        cuts = args.cuts or "all"
        network = read_network(resolve_onnx_path(args.name), cuts)
        comments: tuple[str, ...] = (
            f"Units and cuts of the ONNX graph {network.path.name} (docs/model.md 10.2), cuts = {cuts}.",
            f"Generated by `coopt profile {args.name} --cuts {cuts}` (coopt.model.onnx_graph): out_elems is the "
            "live set at each cut, macs count Conv/Gemm/MatMul only, params the float constants.",
        )
        if args.measure is None:
            return network.profile, comments
        from coopt.model.onnx_measure import measure_units

        seconds = measure_units(network, repeats=args.repeats)
        column = "device_s" if args.measure == "device" else "edge_s"
        comments += (
            f"{column}: median over {args.repeats} runs (after 2 warm-up runs) of the ONNX Runtime kernel times per "
            f"unit on host {platform.node()!r} ({platform.machine()}), batch 1; fused kernels are charged to the "
            "unit that writes their output (coopt.model.onnx_measure).",
        )
        measured = (
            replace(network.profile, device_s=seconds)
            if column == "device_s"
            else replace(network.profile, edge_s=seconds)
        )
        return measured, comments
    if args.measure is not None:
        raise InstanceError(f"--measure: only for an ONNX model (MODEL.onnx or onnx:light/NAME), not {args.name!r}")
    if args.cuts is not None:
        raise InstanceError(f"--cuts: only for an ONNX model (MODEL.onnx or onnx:light/NAME), not {args.name!r}")
    if args.name == MLP_NAME:
        missing = [f"--{key}" for key in _MLP_OPTIONS if getattr(args, key) is None]
        if missing:
            raise InstanceError(
                f"coopt profile {MLP_NAME}: missing {', '.join(missing)} (all of "
                f"--depth, --width, --input, --classes are required)"
            )
        profile = mlp_profile(depth=args.depth, width=args.width, input_size=args.input, classes=args.classes)
        comments = (
            f"Equal-neuron MLP: {args.input} inputs, {args.depth} hidden layers of {args.width} neurons, "
            f"{args.classes} classes.",
            f"Generated by coopt.model.profiles.mlp_profile(depth={args.depth}, width={args.width}, "
            f"input_size={args.input}, classes={args.classes}).",
            "Split granularity: every fully connected layer (activation folded in). Unit of macs: multiply-accumulates.",
        )
        return profile, comments
    if given:
        raise InstanceError(f"{', '.join(given)}: only for NAME = {MLP_NAME}, not {args.name!r}")
    is_path = args.name.endswith(".csv") or "/" in args.name or "\\" in args.name
    if not is_path and args.name not in list_profiles():
        raise ProfileError(
            f"profile {args.name!r}: unknown; valid names: {', '.join(_valid_names())} (or a path to a CSV file)"
        )
    profile = load_profile(args.name)
    text = (
        read_text(args.name, "profile CSV")
        if is_path
        else (resources.files("coopt.models").joinpath(f"{args.name}.csv").read_text(encoding="utf-8"))
    )
    # Keep the source's provenance lines: a profile without them cannot be traced.
    return profile, tuple(_comment_lines(text))


def _comment_lines(text: str) -> list[str]:
    lines = []
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped:
            continue
        if not stripped.startswith("#"):
            break
        lines.append(stripped[1:].removeprefix(" "))
    return lines


def format_table(profile: Profile, feature_bits: int = 32) -> str:
    """Per-layer table of ``profile`` (row 0 is the input), one line per layer.

    Columns: layer, MACs, output elements, output size in kB at ``feature_bits`` bits
    per element, parameters, cumulative MACs, cumulative parameters.
    """
    header: tuple[str, ...] = (
        "layer",
        "MACs",
        "out_elems",
        f"out_kB@{feature_bits}b",
        "params",
        "cum_MACs",
        "cum_params",
    )
    # measured columns (docs/model.md 10.1), in milliseconds, after the MAC-based ones
    measured = [(c, getattr(profile, c)) for c in ("device_s", "edge_s") if getattr(profile, c) is not None]
    header += tuple(f"{c[:-2]}_ms" for c, _ in measured)
    rows = []
    cum_macs = cum_params = 0
    for i, (name, macs, out, params) in enumerate(
        zip(profile.layer_names, profile.macs, profile.out_elems, profile.params)
    ):
        cum_macs += int(macs)
        cum_params += int(params)
        rows.append(
            (
                name,
                f"{int(macs):,}",
                f"{int(out):,}",
                f"{int(out) * feature_bits / 8000:,.3f}",
                f"{int(params):,}",
                f"{cum_macs:,}",
                f"{cum_params:,}",
                *(f"{1e3 * values[i]:.3f}" for _, values in measured),
            )
        )
    widths = [max(len(r[k]) for r in rows + [header]) for k in range(len(header))]

    def line(cells: tuple[str, ...]) -> str:
        return "  ".join([cells[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(cells[1:], widths[1:])])

    title = f"{profile.name} ({profile.source}): {profile.n_layers} layers"
    return "\n".join([title, line(header)] + [line(r) for r in rows])


def _listing() -> str:
    lines = [f"{'name':<14}{'layers':>7}{'GMACs':>10}{'params':>14}{'input':>10}"]
    for name in list_profiles():
        p = load_profile(name)
        lines.append(
            f"{name:<14}{p.n_layers:>7}{int(p.macs.sum()) / 1e9:>10.3f}"
            f"{int(p.params.sum()):>14,}{int(p.out_elems[0]):>10,}"
        )
    lines.append(f"{MLP_NAME:<14}  generated: coopt profile {MLP_NAME} --depth L --width Q --input U --classes C")
    return "\n".join(lines)
