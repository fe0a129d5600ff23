"""Readable text reports of results (what ``coopt solve`` prints without ``--json``)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from coopt.dp.results import GAP_DEFINITION, SolveResult, register_text_report, thresholds_db
from coopt.dp.stopping import ACTION_NAMES
from coopt.model.costs import COST_UNIT
from coopt.model.vocabulary import Policy

if TYPE_CHECKING:  # pragma: no cover
    from coopt.mip.report import MipReport

REPORTED_BASELINES = (Policy.EDGE_ONLY, Policy.DEVICE_ONLY, Policy.STATIC, Policy.FULL_PLACEMENT, Policy.OSLA)
"""The baselines of a solve report, in its order."""


def _g(x: float) -> str:
    return f"{x:.6e}"


def solve_report(result: SolveResult, layer_names: tuple[str, ...]) -> str:
    """Multi-line summary: M*, Phi(M*) and its parts, thresholds, Phi(M), baselines."""
    n_layers = len(layer_names) - 1
    ch = result.channel
    bd = result.breakdown
    lines = [
        f"instance {result.instance_name}: {n_layers} layers, {ch.spec.law} channel with {ch.n_states} states, "
        f"rule {result.rule}, wait mode {result.wait_mode}, method {result.method}",
        *_channel_lines(result),
        "layer costs: "
        + (
            f"measured ({', '.join(result.measured)} from the profile; the rest from MACs and out_elems)"
            if result.measured
            else "from MACs and out_elems (no measured columns)"
        ),
        "",
        f"optimal placement  M* = {result.placement} "
        + (
            f"(layers 1..{result.placement} on the device, last: {layer_names[result.placement]})"
            if result.placement
            else "(no layer on the device: the raw input is uploaded)"
        ),
        f"objective  Phi(M*) = {_g(result.objective)} cost per task",
        f"  ({COST_UNIT})",
        f"  expected local compute   {_g(bd.local)} cost per task",
        f"  expected upload          {_g(bd.upload)} cost per task",
        f"  expected edge compute    {_g(bd.edge)} cost per task",
        f"  expected waiting         {_g(bd.waiting)} cost per task",
        f"  amortised download       {_g(bd.download_amortised)} cost per task   (D(M*) = "
        f"{_g(result.download_cost)} cost per period / {result.tasks_per_period:g} tasks)",
        f"  expected latency {bd.latency_s:.6g} s, device energy {bd.energy_j:.6g} J, "
        f"waiting slots {bd.mean_wait_slots:.4g} per task",
        "",
    ]
    th = result.policy.thresholds
    if th is not None:
        lines.append("thresholds (upload at epoch n when the gain h_n >= theta_n)")
        lines.append(f"  {'n':>3}  {'after layer':<14} {'theta_n':>14} {'theta_n [dB]':>13}")
        for n, (t, db) in enumerate(zip(th, thresholds_db(th))):
            lin, dbs = ("never", "never") if math.isinf(t) else (f"{t:.6e}", "always" if t == 0 else f"{db:.2f}")
            if t == 0:
                lin = "0 (always)"
            lines.append(f"  {n:>3}  {layer_names[n]:<14} {lin:>14} {dbs:>13}")
    else:
        lines.append(
            "decisions per epoch and channel state ("
            + ("Markov channel; " if ch.is_markov else "")
            + "states by increasing gain h, linear and in dB)"
        )
        width = max(12, max(len(ACTION_NAMES[a]) for a in range(len(ACTION_NAMES))))
        heads = [(f"{g:.3e}", f"{10 * math.log10(g):.2f} dB") for g in ch.gains]
        rows = [
            ("", "h =", [lin for lin, _ in heads]),
            ("n", "after layer", [db for _, db in heads]),
            *((str(n), layer_names[n], [ACTION_NAMES[a] for a in row]) for n, row in enumerate(result.policy.actions)),
        ]
        for label, name, cells in rows:
            lines.append((f"  {label:>3}  {name:<14} " + " ".join(f"{c:<{width}}" for c in cells)).rstrip())
    lines += [
        "",
        "Phi(M) for every feasible placement (cost per task; D(M)/K: download per task)",
        f"  {'M':>3}  {'last layer':<14} {'Phi(M)':>13} {'J(M)':>13} {'D(M)/K':>13}",
    ]
    for v in result.by_placement:
        mark = "  <- M*" if v.placement == result.placement else ""
        lines.append(
            f"  {v.placement:>3}  {layer_names[v.placement]:<14} {_g(v.objective):>13} {_g(v.task_cost):>13} "
            f"{_g(v.download_cost / result.tasks_per_period):>13}{mark}"
        )
    lines += ["", f"baselines: Phi and the {GAP_DEFINITION}"]
    for policy in REPORTED_BASELINES:
        assert policy.key is not None  # a baseline, not the optimum
        label, b, gap = policy.label, result.baselines[policy.key], result.gap(policy.key)
        if b is None or gap is None:
            lines.append(f"  {label:<15} infeasible under the memory limit")
        else:
            lines.append(f"  {label:<15} M = {b.placement:<4} Phi = {_g(b.objective)}   {gap.text()}")
    if result.solver:
        mip = None
        if result.method == "mip":  # coopt.mip stays off the import path of the DP route
            from coopt.mip.report import mip_report

            mip = mip_report(result)
        lines += ["", *solver_lines(result.solver, mip)]
    return "\n".join(lines)


def _channel_lines(result: SolveResult) -> list[str]:
    """The per-upload overhead and the channel's time correlation, where the instance has them."""
    lines = []
    if result.overhead_s > 0 or result.overhead_j > 0:
        lines.append(
            f"per-upload overhead {result.overhead_s:g} s and {result.overhead_j:g} J "
            "(included in the expected upload, the latency, the energy and the thresholds)"
        )
    spec = result.channel.spec
    if spec.doppler_hz is not None:
        lines.append(f"correlated Rayleigh fading: Clarke's model, Doppler {spec.doppler_hz:g} Hz")
    elif spec.coherence_s is not None:
        lines.append(f"correlated Rayleigh fading: Gauss-Markov, coherence time {spec.coherence_s:g} s")
    return lines


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, dict):
        return ", ".join(f"{k} = {_fmt(v)}" for k, v in value.items())
    return str(value)


def solver_lines(solver: dict[str, Any], mip: MipReport | None = None) -> list[str]:
    """Method-specific details (``SolveResult.solver``, every key as printed in the JSON) and,
    for the MIP (its typed report ``mip``), warnings when HiGHS did not prove optimality or
    its bound does not certify the result, and the randomised decisions of a QoS-constrained policy."""
    lines = []
    if mip is not None and not mip.optimal:
        lines.append(
            f"WARNING: the solver stopped ({mip.termination.value}): this is the best solution found, NOT proven "
            f"optimal (gap {_fmt(mip.gap)})"
        )
    if mip is not None and mip.optimal and not mip.certified:
        lines.append(
            "WARNING: the solver's proven bound does not confirm the best exact per-placement LP; "
            "run coopt verify and report this instance"
        )
    lines.append("solver details")
    for key, value in solver.items():
        if key != "randomised_decisions":
            lines.append(f"  {key:<28} {_fmt(value)}")
    randomised = mip.qos.randomised_decisions if mip is not None and mip.qos is not None else ()
    if randomised:
        lines.append("randomised decisions (the QoS bound binds): epoch, state, probabilities")
        for row in randomised:
            probs = ", ".join(f"{a} {p:.6f}" for a, p in row.probs.items())
            lines.append(f"  {row.epoch:>3}  state {row.state:<4} {probs}")
    return lines


def _result_text(result: SolveResult) -> str:
    return solve_report(result, result.layer_names)


register_text_report(_result_text)  # str(result) is this report
