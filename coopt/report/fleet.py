"""The text report of a solved fleet (what ``coopt solve FLEET.toml`` prints without ``--json``).

Up to :data:`MAX_DEVICE_LINES` devices get one line each; a larger fleet gets one line per
``[[device]]`` entry with the histogram of its shares and placements.
"""

from __future__ import annotations

from collections import Counter
from fractions import Fraction

from coopt.fleet.solve import BASELINES, FleetResult
from coopt.model.costs import COST_UNIT
from coopt.model.vocabulary import FleetBaseline

MAX_DEVICE_LINES = 40


def _share(s: float) -> str:
    """A share as the fraction it is (``3/16``) when it is a simple one, else decimal."""
    f = Fraction(s).limit_denominator(1024)
    return str(f) if abs(float(f) - s) < 1e-12 else f"{s:.4g}"


def _hz(value: float, unit: str) -> str:
    for prefix, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if value >= scale:
            return f"{value / scale:.4g} {prefix}{unit}"
    return f"{value:.4g} {unit}"


def _histogram(values: list[str]) -> str:
    return " ".join(f"{v}:{n}" for v, n in sorted(Counter(values).items(), key=lambda kv: kv[0]))


def fleet_report(result: FleetResult) -> str:
    """Multi-line summary: the fleet, the allocation and its proof, the prices, each device
    (or each entry), the baselines."""
    lam, mu = result.prices
    status = "proven optimal" if result.optimal else f"certified gap {result.gap:.3g} to the bound"
    lines = [
        f"fleet {result.name}: {result.size} devices ({result.kinds} distinct), band {_hz(result.bandwidth_hz, 'Hz')}, "
        f"edge {_hz(result.edge_cpu_hz, 'Hz')}, {len(result.x_levels)} x {len(result.y_levels)} share levels",
        *(f"  {line}" for line in result.replaced),
        f"allocation ({result.method}): F = {result.objective:.6e} cost per task (weighted sum), {status}",
        f"  bound {result.bound:.6e} (LP relaxation {result.lagrangian_bound:.6e}), gap {result.gap:.3g}"
        + (f", {result.termination} ({result.solver})" if result.termination else ""),
        f"  ({COST_UNIT})",
        f"prices: band {lam:.6g} per unit share ({lam / result.bandwidth_hz:.6g} per Hz), "
        f"edge {mu:.6g} per unit share ({mu / result.edge_cpu_hz:.6g} per cycle/s)",
        f"shares used: band {result.shares_used[0]:.6g}, edge {result.shares_used[1]:.6g}",
        f"tables: {result.table_time_s:.3g} s, allocation: {result.allocation_time_s:.3g} s",
        "",
    ]
    if result.size <= MAX_DEVICE_LINES:
        name_w = max(6, *(len(d.name) for d in result.devices))
        lines.append(
            f"{'u':>4}  {'device':<{name_w}}  {'weight':>7}  {'dist (m)':>8}  {'x':>6}  {'y':>6}  {'M*':>4}  Phi_u"
        )
        for u, d in enumerate(result.devices):
            dist = "-" if d.distance_m is None else f"{d.distance_m:.1f}"
            lines.append(
                f"{u:>4}  {d.name:<{name_w}}  {d.weight:>7.4g}  {dist:>8}  {_share(d.x):>6}  {_share(d.y):>6}  "
                f"{d.placement:>4}  {d.objective:.6e}"
            )
    else:
        by_entry: dict[int, list[int]] = {}
        for u, d in enumerate(result.devices):
            by_entry.setdefault(d.entry, []).append(u)
        for entry, members in by_entry.items():
            devs = [result.devices[u] for u in members]
            total = sum(d.weight * d.objective for d in devs)
            lines += [
                f"device.{entry} ({devs[0].name.rpartition('#')[0]}): {len(devs)} devices, weighted Phi {total:.6e}",
                f"  x: {_histogram([_share(d.x) for d in devs])}",
                f"  y: {_histogram([_share(d.y) for d in devs])}",
                f"  M*: {' '.join(f'{m}:{n}' for m, n in sorted(Counter(d.placement for d in devs).items()))}",
            ]
    lines += ["", "baselines (F, and against the allocation):"]
    for name in BASELINES:
        value = result.baselines[name]
        if value is None:
            lines.append(
                f"  {FleetBaseline(name).label:<18} infeasible (no allocation gives every device a finite Phi)"
            )
        else:
            lines.append(f"  {FleetBaseline(name).label:<18} {value:.6e}  {100 * (value / result.objective - 1):+.2f}%")
    return "\n".join(lines)


__all__ = ["fleet_report"]
