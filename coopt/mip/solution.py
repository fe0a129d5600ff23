"""Reading a solved placement MIP back, and checking it, in plain NumPy (no Pyomo import).

:func:`read_solution` copies the variable values of a solved model into a frozen
:class:`MipSolution` (it reads the model's ``x``, ``y``, ``e`` and ``z`` components by
duck typing). :func:`objective_from_values`, :func:`expectations_from_values` and
:func:`flow_residual` recompute the objective, the expected latency and energy and every
row of the model from those values against the :class:`~coopt.mip.data.MipData`, so a
solution is checked independently of Pyomo and HiGHS. :func:`policy_table` reads the
(possibly randomised) splitting policy :math:`\\pi(a|n,k)` off the occupation measure.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from coopt.dp.stopping import COMPUTE, STOP, WAIT
from coopt.mip.data import REACH_TOL, MipData


@dataclass(frozen=True, eq=False)
class MipSolution:
    """Variable values of a solved model, as arrays.

    Attributes
    ----------
    z : dict
        Placement -> value of :math:`z_M`.
    interior, terminal : NDArray[np.float64]
        ``(Mbar + 1, K, 3)`` occupation of the two copies (0 where no variable).
    entry : NDArray[np.float64]
        ``(Mbar + 1, K)`` terminal entries :math:`e_{n,k}`.
    """

    z: dict[int, float]
    interior: NDArray[np.float64]
    terminal: NDArray[np.float64]
    entry: NDArray[np.float64]

    @property
    def visits(self) -> NDArray[np.float64]:
        """Occupation of each (epoch, state, action), both copies summed: ``(Mbar + 1, K, 3)``."""
        return self.interior + self.terminal

    @property
    def placement(self) -> int:
        """The chosen placement: the largest :math:`z_M` (ties: smaller :math:`M`)."""
        return max(self.z, key=lambda q: (self.z[q], -q))


def read_solution(model: Any) -> MipSolution:
    """The values currently loaded in ``model``'s variables (``None`` values read as 0).

    ``model`` is a Pyomo model from :func:`coopt.mip.formulation.build_placement_model`
    (typed ``Any``: this module does not import Pyomo).
    """
    d: MipData = model.coopt_data
    shape = (d.n_max + 1, d.n_states, 3)
    interior, terminal = np.zeros(shape), np.zeros(shape)
    entry = np.zeros(shape[:2])
    for (n, k, a), v in model.x.items():
        interior[n, k, a] = v.value or 0.0
    for (n, k, a), v in model.y.items():
        terminal[n, k, a] = v.value or 0.0
    for (n, k), v in model.e.items():
        entry[n, k] = v.value or 0.0
    z = {q: float(model.z[q].value or 0.0) for q in d.placements}
    return MipSolution(z, interior, terminal, entry)


def objective_from_values(d: MipData, sol: MipSolution) -> float:
    """:math:`\\Phi` recomputed from variable values in plain NumPy (no Pyomo expression)."""
    v = sol.visits
    task = float(np.sum(d.Y * v[:, :, STOP]) + d.wait_cost * np.sum(v[:, :, WAIT]))
    return task + sum(d.download_per_task[q] * sol.z[q] for q in d.placements)


def expectations_from_values(d: MipData, sol: MipSolution) -> dict[str, float]:
    """Expected task cost, latency (s) and device energy (J) from variable values."""
    v = sol.visits
    waits = float(np.sum(v[:, :, WAIT]))
    return {
        "task_cost": float(np.sum(d.Y * v[:, :, STOP])) + d.wait_cost * waits,
        "latency_s": float(np.sum(d.stop_latency_s * v[:, :, STOP])) + d.wait_latency_s * waits,
        "energy_j": float(np.sum(d.stop_energy_j * v[:, :, STOP])) + d.wait_energy_j * waits,
    }


def flow_residual(d: MipData, sol: MipSolution) -> float:
    """Largest violation of any row of the model by ``sol``, recomputed in NumPy.

    Checks nonnegativity, :math:`\\sum z = 1`, both balance rows of every copy, the
    linking rows and the QoS rows (QoS violations relative to the bound).
    """
    x, y, e = sol.interior, sol.terminal, sol.entry
    worst = max(0.0, -float(min(x.min(), y.min(), e.min(), min(sol.z.values()))))
    worst = max(worst, abs(sum(sol.z.values()) - 1.0))

    def draw(v: NDArray[np.float64], P: NDArray[np.float64] | None) -> NDArray[np.float64]:
        if d.probs is not None:
            return d.probs * v.sum()
        return v @ P if P is not None else np.zeros_like(v)

    for n in range(d.n_max + 1):
        step = None if d.steps is None or n == 0 else d.steps[n - 1]
        arrive = d.entry[n] + (draw(x[n - 1, :, COMPUTE], step) if n > 0 else 0.0)
        later = sum(sol.z[q] for q in d.later(n))
        if d.has_interior(n):
            lhs = x[n].sum(axis=1) + (e[n] if d.terminal[n] else 0.0)
            worst = max(worst, float(np.abs(lhs - arrive - draw(x[n, :, WAIT], d.wait_step)).max()))
            worst = max(worst, float(x[n, :, COMPUTE].sum() - d.mass * later))
            if d.visits_link(n):
                worst = max(worst, float(x[n].sum() - d.mass * later))
        if d.terminal[n]:
            inflow = e[n] if d.has_interior(n) else arrive
            worst = max(worst, float(np.abs(y[n].sum(axis=1) - inflow - draw(y[n, :, WAIT], d.wait_step)).max()))
            if d.has_interior(n):
                worst = max(worst, float(e[n].sum() - d.mass * sol.z[n]))
        worst = max(worst, float(np.abs(x[n][~d.interior_allowed[n]]).max(initial=0.0)))
        worst = max(worst, float(np.abs(y[n][~d.terminal_allowed[n]]).max(initial=0.0)))
    if d.qos is not None:
        ex = expectations_from_values(d, sol)
        for key, got in (("max_latency_s", ex["latency_s"]), ("max_energy_j", ex["energy_j"])):
            bound = getattr(d.qos, key)
            if bound is not None:
                worst = max(worst, (got - bound) / bound)
    return worst


@dataclass(frozen=True, eq=False)
class PolicyTable:
    """The (possibly randomised) splitting policy of a solution at its placement.

    Attributes
    ----------
    placement : int
        :math:`M`.
    visits : NDArray[np.float64]
        ``(M + 1, K, 3)`` expected visits.
    probs : NDArray[np.float64]
        ``(M + 1, K, 3)``: :math:`\\pi(a|n,k)`; ``nan`` rows where the state is never
        reached (fewer than :data:`REACH_TOL` expected visits).
    """

    placement: int
    visits: NDArray[np.float64]
    probs: NDArray[np.float64]

    @property
    def reached(self) -> NDArray[np.bool_]:
        """``(M + 1, K)``: states visited with positive probability."""
        return ~np.isnan(self.probs[:, :, 0])

    def randomised(self, tol: float = 1e-7) -> list[tuple[int, int, NDArray[np.float64]]]:
        """``(n, k, probs)`` of the reached states where no action has probability >= 1 - tol."""
        out = []
        for n, k in zip(*np.nonzero(self.reached)):
            if self.probs[n, k].max() < 1.0 - tol:
                out.append((int(n), int(k), self.probs[n, k]))
        return out

    def actions(self) -> NDArray[np.int8]:
        """The most likely action per state (``STOP`` where never reached), ``(M + 1, K)``."""
        act = np.full(self.probs.shape[:2], STOP, dtype=np.int8)
        reached = self.reached
        act[reached] = np.argmax(self.probs[reached], axis=1)
        return act

    def completed_probs(self) -> NDArray[np.float64]:
        """``probs`` with unreached states set to stop (for exact evaluation)."""
        out = self.probs.copy()
        out[~self.reached] = np.eye(3)[STOP]
        return out


def policy_table(sol: MipSolution, placement: int | None = None) -> PolicyTable:
    """The policy :math:`\\pi(a|n,k) = v_{n,k,a} / \\sum_a v_{n,k,a}` at the chosen placement."""
    m = sol.placement if placement is None else placement
    visits = np.clip(sol.visits[: m + 1], 0.0, None)
    total = visits.sum(axis=2, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        probs = np.where(total > REACH_TOL, visits / total, np.nan)
    return PolicyTable(m, visits, probs)


__all__ = [
    "MipSolution",
    "PolicyTable",
    "expectations_from_values",
    "flow_residual",
    "objective_from_values",
    "policy_table",
    "read_solution",
]
