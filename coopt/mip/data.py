"""The numbers of the placement MIP (docs/model.md section 5), in plain NumPy.

:func:`placement_data` turns a prepared :class:`~coopt.model.problem.Problem` into a
frozen :class:`MipData`: index sets, stop costs, the channel's laws as the LP sees them
(:func:`lp_law`) and the physical parts the QoS rows need. :mod:`coopt.mip.formulation`
builds the Pyomo model from it and :mod:`coopt.mip.solution` checks a solution against it;
neither Pyomo nor highspy is imported here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from coopt.dp.constraints import physical_parts
from coopt.dp.stopping import COMPUTE, STOP, WAIT, choose_by_tie_order, next_state_mean
from coopt.model.constraints import QoS
from coopt.model.costs import wait_allowed
from coopt.model.problem import Problem

# HiGHS ignores every matrix entry at or below its option ``small_matrix_value`` (default
# 1e-9, smallest allowed 1e-12) and prints a warning on stdout. coopt.mip.highs sets it to
# 1e-12, and the model's laws keep no positive entry at or below it: such a probability is
# moved onto the largest entry of its row (:func:`lp_law`), so that every row of the LP is
# still a probability law and nothing is dropped unannounced.
SMALL_FLOW = 1e-12
# Visits below this (in probability units) count as "never reached" when a policy table
# is read off a solution: LP solutions carry round-off of order 1e-15.
REACH_TOL = 1e-9


class BuildDeadline(Protocol):
    """What the builder needs of a time limit (:class:`coopt.mip.highs.Deadline`)."""

    def passed(self) -> bool: ...

    def check(self, step: str) -> None: ...


@dataclass(frozen=True, eq=False)
class MipData:
    """Everything the MIP needs, as NumPy arrays (no Pyomo).

    Attributes
    ----------
    n_layers : int
        :math:`N`.
    placements : tuple of int
        Feasible placements ``0..Mbar`` (memory limit) or a given subset.
    n_max : int
        :math:`\\bar M`, the largest placement in ``placements``.
    Y : NDArray[np.float64]
        ``(Mbar + 1, K)`` stop costs.
    wait_cost : float
        :math:`c_w` (0 when waiting is impossible).
    download_per_task : NDArray[np.float64]
        ``(Mbar + 1,)``: :math:`D(M)/K_{tasks}`.
    initial, probs, steps, wait_step
        The channel: ``probs`` for i.i.d.; for a Markov chain ``steps`` ``(Mbar, K, K)``
        (:math:`P_n`, epoch ``n`` to ``n + 1``) and ``wait_step`` :math:`P_w` (``None``
        where there is no slot); the others ``None``.
    interior_allowed : NDArray[numpy.bool]
        ``(Mbar + 1, K, 3)``: actions with a variable in the interior copy (row
        ``Mbar`` is all False: there is no interior copy there).
    terminal : NDArray[numpy.bool]
        ``(Mbar + 1,)``: whether epoch ``n`` has a terminal copy.
    terminal_allowed : NDArray[numpy.bool]
        ``(Mbar + 1, K, 3)``: actions with a variable in the terminal copy.
    entry : NDArray[np.float64]
        ``(Mbar + 1, K)``: arrivals from outside; row 0 is the initial law plus any
        extra mass (see :func:`placement_data`).
    mass : float
        Total outside arrivals (1 for the placement problem); the linking rows' scale.
    stop_latency_s, stop_energy_j : NDArray[np.float64]
        ``(Mbar + 1, K)`` physical parts of stopping.
    wait_latency_s, wait_energy_j : float
        Physical parts of one slot.
    qos : QoS or None
        The QoS bounds imposed.
    rule, mode : str
        ``placement.rule`` and ``wait.mode``.
    scale : float
        The objective in the model is :math:`\\Phi` / ``scale`` (``scale`` = the least
        expected stop cost :math:`\\min_n E[Y_n]`), so that its coefficients are of order
        one and HiGHS's absolute tolerances act as relative ones.
    small_flows, small_flow_mass : int, float
        How many positive probabilities of ``probs``, ``steps`` and ``wait_step`` were at
        or below :data:`SMALL_FLOW` and moved onto their row's largest entry
        (:func:`lp_law`), and the largest mass so moved in one row. ``probs``, ``steps``
        and ``wait_step`` are the laws after that move; the channel itself is unchanged.
    """

    n_layers: int
    placements: tuple[int, ...]
    n_max: int
    Y: NDArray[np.float64]
    wait_cost: float
    download_per_task: NDArray[np.float64]
    initial: NDArray[np.float64]
    probs: NDArray[np.float64] | None
    steps: NDArray[np.float64] | None
    wait_step: NDArray[np.float64] | None
    interior_allowed: NDArray[np.bool_]
    terminal: NDArray[np.bool_]
    terminal_allowed: NDArray[np.bool_]
    entry: NDArray[np.float64]
    mass: float
    stop_latency_s: NDArray[np.float64]
    stop_energy_j: NDArray[np.float64]
    wait_latency_s: float
    wait_energy_j: float
    qos: QoS | None
    rule: str
    mode: str
    scale: float
    small_flows: int = 0
    small_flow_mass: float = 0.0

    @property
    def n_states(self) -> int:
        return int(self.Y.shape[1])

    def has_interior(self, n: int) -> bool:
        return n < self.n_max

    def later(self, n: int) -> list[int]:
        """Placements :math:`M > n`."""
        return [m for m in self.placements if m > n]

    def interior_waits(self, n: int) -> bool:
        return bool(self.interior_allowed[n, :, WAIT].any())

    def visits_link(self, n: int) -> bool:
        """Whether the interior visits of epoch ``n`` are linked (not only its computes)."""
        return self.has_interior(n) and bool(self.terminal[n]) and not self.interior_waits(n)


def osla_actions(problem: Problem, n_max: int) -> tuple[NDArray[np.int8], NDArray[np.int8]]:
    """The OSLA rule's action at every epoch as an interior epoch and as the last placed one.

    Returns ``(interior, terminal)``, each ``(n_max + 1, K)``: ``interior[n]`` is the
    action at ``n`` under any placement ``M > n`` (it does not depend on ``M``);
    ``terminal[n]`` is the action at ``n = M`` (row ``n_max`` of ``interior`` is unused).
    """
    Y, ch, costs = problem.Y, problem.channel, problem.costs
    mode, n_layers = problem.instance.wait.mode, costs.n_layers
    k = ch.n_states
    inf = np.full(k, np.inf)
    interior = np.zeros((n_max + 1, k), dtype=np.int8)
    terminal = np.zeros((n_max + 1, k), dtype=np.int8)
    for n in range(n_max + 1):
        lw_ok = wait_allowed(mode, n, n_layers)[n]
        lw_term = costs.wait_cost + next_state_mean(ch, Y[n], None) if lw_ok else inf
        terminal[n] = choose_by_tie_order(Y[n], inf, lw_term)
        if n < n_max:
            lw_int = costs.wait_cost + next_state_mean(ch, Y[n], None) if mode == "any" and n < n_layers else inf
            interior[n] = choose_by_tie_order(Y[n], next_state_mean(ch, Y[n + 1], n), lw_int)
    return interior, terminal


def lp_law(law: NDArray[np.float64]) -> tuple[NDArray[np.float64], int, float]:
    """``law`` (a probability vector or row-stochastic matrix) with every positive entry at
    or below :data:`SMALL_FLOW` moved onto the largest entry of its row.

    Returns the new law, how many entries moved and the largest mass moved in one row
    (at most ``K * SMALL_FLOW``). Rows without such entries are returned bit-identical.
    """
    rows = np.array(law, dtype=np.float64, ndmin=2)
    small = (rows > 0) & (rows <= SMALL_FLOW)
    if not small.any():
        return np.asarray(law, dtype=np.float64), 0, 0.0
    moved = np.where(small, rows, 0.0).sum(axis=1)
    rows[small] = 0.0
    top = np.argmax(rows, axis=1)
    rows[np.arange(rows.shape[0]), top] += moved
    out = rows.reshape(np.shape(law))
    return out, int(small.sum()), float(moved.max())


def placement_data(
    problem: Problem,
    *,
    placements: list[int] | None = None,
    qos: QoS | None = None,
    extra_entry: NDArray[np.float64] | None = None,
) -> MipData:
    """The MIP's numbers for a prepared problem (plain NumPy).

    Parameters
    ----------
    problem : Problem
        From :func:`coopt.model.problem.prepare`.
    placements : list of int, optional
        A subset of the feasible placements (a prefix ``0..Mbar`` is not required, but
        epochs run to its largest element); default: all feasible placements.
    qos : QoS, optional
        Bounds to impose.
    extra_entry : NDArray, optional
        ``(Mbar + 1, K)`` mass entering each (epoch, state) from outside, beyond the
        initial law at epoch 0. A strictly positive one makes the LP's policy optimal
        from every state (used to read a complete decision table).
    """
    inst, costs, ch = problem.instance, problem.costs, problem.channel
    feasible = problem.placements
    if placements is None:
        placements = feasible
    bad = [m for m in placements if m not in feasible]
    if bad or not placements:
        raise ValueError(f"placements {placements}: must be a non-empty subset of the feasible {feasible}")
    placements = sorted(set(placements))
    n_max = placements[-1]
    n_layers = costs.n_layers
    mode, rule = inst.wait.mode, inst.placement.rule
    k = ch.n_states
    Y = problem.Y[: n_max + 1]
    interior_allowed = np.zeros((n_max + 1, k, 3), dtype=bool)
    terminal_allowed = np.zeros((n_max + 1, k, 3), dtype=bool)
    terminal = np.zeros(n_max + 1, dtype=bool)
    for n in range(n_max + 1):
        if n < n_max:
            interior_allowed[n, :, STOP] = True
            interior_allowed[n, :, COMPUTE] = True
            interior_allowed[n, :, WAIT] = mode == "any" and n < n_layers
        terminal[n] = n in placements and (n == n_max or rule == "osla" or (mode == "last" and n < n_layers))
        if terminal[n]:
            terminal_allowed[n, :, STOP] = True
            terminal_allowed[n, :, WAIT] = bool(wait_allowed(mode, n, n_layers)[n])
    if rule == "osla":
        a_int, a_term = osla_actions(problem, n_max)
        onehot_int = np.eye(3, dtype=bool)[a_int]
        onehot_term = np.eye(3, dtype=bool)[a_term]
        interior_allowed &= onehot_int
        terminal_allowed &= onehot_term
    # A placement outside a given subset has no binary; its epoch keeps its interior
    # copy (a task may stop there under any larger placement) but has no terminal copy.
    entry = np.zeros((n_max + 1, k))
    entry[0] = ch.initial
    if extra_entry is not None:
        entry = entry + np.asarray(extra_entry, dtype=np.float64)[: n_max + 1]
    parts = physical_parts(costs, ch)
    waiting = bool(interior_allowed[..., WAIT].any() or terminal_allowed[..., WAIT].any())
    c_w = costs.wait_cost if waiting else 0.0
    expected = np.einsum("nk,nk->n", ch.distributions(n_max), problem.Y[: n_max + 1]).tolist()
    scale = min((e for e in expected if e > 0), default=1.0)
    small_flows, small_flow_mass = 0, 0.0

    def law(x: NDArray[np.float64]) -> NDArray[np.float64]:
        nonlocal small_flows, small_flow_mass
        out, count, mass = lp_law(x)
        small_flows += count
        small_flow_mass = max(small_flow_mass, mass)
        return out

    probs = None if ch.is_markov else law(ch.probs)
    steps = (
        np.stack([law(ch.step(n)) for n in range(n_max)])  # type: ignore[arg-type]
        if ch.is_markov and n_max > 0
        else None
    )
    wait_step = law(ch.wait_step()) if ch.is_markov and waiting else None  # type: ignore[arg-type]
    return MipData(
        n_layers=n_layers,
        placements=tuple(placements),
        n_max=n_max,
        Y=Y,
        wait_cost=float(c_w),
        download_per_task=costs.download[: n_max + 1] / inst.placement.tasks_per_period,
        initial=ch.initial,
        probs=probs,
        steps=steps,
        wait_step=wait_step,
        interior_allowed=interior_allowed,
        terminal=terminal,
        terminal_allowed=terminal_allowed,
        entry=entry,
        mass=float(entry.sum()),
        stop_latency_s=parts.stop_latency_s[: n_max + 1],
        stop_energy_j=parts.stop_energy_j[: n_max + 1],
        wait_latency_s=parts.wait_latency_s if waiting else 0.0,
        wait_energy_j=parts.wait_energy_j if waiting else 0.0,
        qos=qos,
        rule=rule,
        mode=mode,
        scale=scale,
        small_flows=small_flows,
        small_flow_mass=small_flow_mass,
    )


__all__ = ["REACH_TOL", "SMALL_FLOW", "BuildDeadline", "MipData", "lp_law", "osla_actions", "placement_data"]
