"""Memory estimates, checked before a command allocates anything.

:func:`estimate_bytes` predicts the peak memory of a command from the number of
layers ``N``, channel states ``K``, the channel kind and the method; :func:`check_memory`
refuses (exit 2, one line with the estimate and the limit) past the limit: ``--max-memory``
or, by default, :data:`DEFAULT_FRACTION` of the machine's RAM. The coefficients were
measured (peak RSS and tracemalloc, ``tests/cli/test_bad_input.py`` keeps them honest) and
rounded up:

* every command: the profile, cost arrays, ``Y`` and a policy object per placement:
  about ``64 (N+1) K + 4096 (N+1)`` bytes;
* enumeration on an i.i.d. channel (:mod:`coopt.dp.fast`): one vector per rule and a few
  per-epoch vectors and temporaries, :data:`IID_BYTES_PER_EPOCH` ``(N+1)``, plus the two
  ``(N+1) x (N+1)`` tables that the sweep keeps only while ``(N+1)^2 <=``
  :data:`coopt.dp.fast.KEEP_ELEMENTS` (``N <= 63``); the policy at ``M*`` (one backward
  pass and ``O(M K)`` arrays) is inside the first term. Measured (``coopt solve --json``,
  K = 256, wait mode ``last``, peak RSS): 137 MB at N = 20,000, against an estimate of
  about 600 MiB;
* enumeration on a Markov channel: one policy per placement and rule, ``9 K (N+1)^2``;
* a time-correlated channel (``doppler_hz`` or ``coherence_s``, :mod:`coopt.model.fading`)
  also holds ``K x K`` float64 transition matrices (:func:`transition_matrices`): one per
  layer (the stacked ``epoch_transitions``), the waiting slot's, the cache of one per
  distinct lag (at most :data:`coopt.model.fading.TRANSITION_CACHE`) and the work space
  of building one, :func:`coopt.model.fading.transition_bytes`; its DP is the Markov one.
  Measured (``coopt solve --json``, the 7-layer LeNet-5 chain, Clarke 50 Hz, peak RSS):
  202 MB at K = 1,024 against an estimate of 353 MiB;
* the MIP (Pyomo + HiGHS): about :data:`MIP_BYTES_PER_CELL` per (epoch, state) cell;
* simulation: ``8`` arrays of ``tasks`` floats plus the batches.
"""

from __future__ import annotations

import argparse
import os
import re
from typing import TYPE_CHECKING

from coopt.dp.fast import KEEP_ELEMENTS
from coopt.errors import InstanceError
from coopt.model.instance import Instance

if TYPE_CHECKING:  # pragma: no cover
    from coopt.fleet.files import Fleet

DEFAULT_FRACTION = 0.5
MIP_BYTES_PER_CELL = 40_000  # Pyomo components per (epoch, state): variables, rows, expressions
SIM_BATCH_BYTES = 64 * (1 << 15) * 8  # coopt.sim.simulate.BATCH tasks x a few float arrays
BASE_BYTES = 200 * 2**20  # the interpreter, NumPy and SciPy themselves
IID_BYTES_PER_EPOCH = 256  # coopt.dp.fast: ~10 vectors of N + 1 floats and the sweep's temporaries

_UNITS = {
    "": 1,
    "b": 1,
    "kb": 10**3,
    "mb": 10**6,
    "gb": 10**9,
    "tb": 10**12,
    "kib": 2**10,
    "mib": 2**20,
    "gib": 2**30,
    "tib": 2**40,
}


def parse_size(text: str) -> int:
    """``"2GiB"``, ``"500MB"``, ``"1e9"`` (bytes) -> bytes; an argparse type."""
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)\s*([A-Za-z]*)\s*", text)
    unit = match.group(2).lower() if match else ""
    if match is None or unit not in _UNITS or float(match.group(1)) <= 0:
        raise argparse.ArgumentTypeError(
            f"{text!r}: must be a size > 0 such as 2GiB, 500MB or 1e9 (units B, kB, MB, GB, TB, KiB, MiB, GiB, TiB)"
        )
    return int(float(match.group(1)) * _UNITS[unit])


def machine_memory() -> int:
    """Physical memory of the machine in bytes (``os.sysconf``, else /proc/meminfo)."""
    try:
        return int(os.sysconf("SC_PHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):  # pragma: no cover - not Linux
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) * 1024
    raise OSError("cannot tell the machine's memory")  # pragma: no cover


def default_limit() -> int:
    return int(DEFAULT_FRACTION * machine_memory())


def add_memory_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--max-memory",
        type=parse_size,
        default=None,
        metavar="SIZE",
        help=f"refuse instances estimated to need more memory (default {DEFAULT_FRACTION * 100:.0f}%% of RAM; e.g. 2GiB)",
    )


def _states(instance: Instance) -> int:
    spec = instance.channel
    return len(spec.gains) if spec.gains is not None and not spec.is_continuous else spec.states


def transition_matrices(instance: Instance) -> int:
    """The ``K x K`` matrices a correlated channel holds at once (module docstring): one
    per layer, the slot's, and the cached distinct lags; 0 for any other channel."""
    spec = instance.channel
    if not spec.is_correlated:
        return 0
    import numpy as np

    from coopt.model import fading
    from coopt.model.costs import cost_model

    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        times = cost_model(instance).layer_time_s
    deltas = fading.lag_deltas(spec, times, instance.wait.slot_s)
    return len(deltas) + min(len(set(deltas)), fading.TRANSITION_CACHE)


def _transition_bytes(instance: Instance) -> int:
    from coopt.model.fading import transition_bytes

    count = transition_matrices(instance)
    return transition_bytes(_states(instance), count) if count else 0


def estimate_bytes(command: str, instance: Instance, tasks: int = 0) -> int:
    """Estimated peak memory in bytes of ``command`` on ``instance`` (module docstring)."""
    n1 = instance.n_layers + 1
    k = _states(instance)
    markov = instance.channel.is_markov or instance.channel.is_correlated
    dp = 9 * k * n1 * n1 if markov else IID_BYTES_PER_EPOCH * n1 + 16 * min(n1 * n1, KEEP_ELEMENTS)
    total = BASE_BYTES + 64 * n1 * k + 4096 * n1 + dp + _transition_bytes(instance)
    if command.endswith("mip") or command == "verify":
        total += MIP_BYTES_PER_CELL * n1 * k
    if command in ("simulate", "compare", "figures"):
        total += 8 * 8 * tasks + SIM_BATCH_BYTES
    return total


def _size(n: float) -> str:
    for unit, scale in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{n:.0f} B"


def check_memory(command: str, instance: Instance, limit: int | None, tasks: int = 0) -> None:
    """Raise :class:`InstanceError` when :func:`estimate_bytes` exceeds ``limit``
    (``None``: :func:`default_limit`)."""
    limit = default_limit() if limit is None else limit
    need = estimate_bytes(command, instance, tasks)
    if need > limit:
        source = "--max-memory" if limit != default_limit() else f"{DEFAULT_FRACTION:.0%} of this machine's RAM"
        k = _states(instance)
        matrices = transition_matrices(instance)
        of_which = (
            f", of which {_size(_transition_bytes(instance))} for the correlated channel's {matrices} transition "
            f"matrices of K x K = {k} x {k} float64"
            if matrices
            else ""
        )
        raise InstanceError(
            f"coopt {command}: instance {instance.name} ({instance.n_layers} layers, K = {k} channel "
            f"states) needs about {_size(need)}{of_which}, more than the limit {_size(limit)} ({source}); "
            "use fewer channel.states or a smaller --tasks, or raise --max-memory"
        )


TABLE_BYTES_PER_ENTRY = 512  # per (kind, level pair): the tables, the knapsack data, the LP's columns


def fleet_estimate_bytes(command: str, fleet: Fleet, tasks: int = 0) -> int:
    """Estimated peak memory of ``command`` on a fleet: the largest device's own solve (its
    tables are built one pair at a time) plus the tables and the allocation's data."""
    pairs = len(fleet.shared.x_levels) * len(fleet.shared.y_levels)
    device = max(estimate_bytes(command if command != "verify" else "solve", k, tasks) for k in fleet.kinds)
    allocation = TABLE_BYTES_PER_ENTRY * len(fleet.kinds) * pairs
    if command == "verify":  # the MIP: a few Pyomo components per column
        allocation += MIP_BYTES_PER_CELL * len(fleet.kinds) * pairs // 16
    return device + allocation


def check_fleet_memory(command: str, fleet: Fleet, limit: int | None, tasks: int = 0) -> None:
    """Raise :class:`InstanceError` when :func:`fleet_estimate_bytes` exceeds ``limit``."""
    limit = default_limit() if limit is None else limit
    need = fleet_estimate_bytes(command, fleet, tasks)
    if need > limit:
        source = "--max-memory" if limit != default_limit() else f"{DEFAULT_FRACTION:.0%} of this machine's RAM"
        pairs = len(fleet.shared.x_levels) * len(fleet.shared.y_levels)
        raise InstanceError(
            f"coopt {command}: fleet {fleet.name} ({fleet.size} devices, {len(fleet.kinds)} distinct, {pairs} level "
            f"pairs) needs about {_size(need)}, more than the limit {_size(limit)} ({source}); "
            "use fewer share levels or distinct devices, or raise --max-memory"
        )
