r"""QoS constraints on expected latency and device energy, and the DP-side tools around them.

An instance may carry an optional table::

    [constraints]
    max_latency_s = 0.05     # bound on the expected task latency  E[latency] (s)
    max_energy_j  = 0.002    # bound on the expected device energy E[energy] per task (J)

Only the mixed-integer program (``--method mip``, :mod:`coopt.mip.formulation`) can impose them:
they are linear in the occupation measure but not separable over epochs, so backward
induction cannot. With a binding bound the optimal policy may randomise.

Physical parts (the same as :func:`coopt.dp.results.breakdown`): stopping at epoch
:math:`n` in state :math:`k` costs the latency

.. math:: \ell_n(k) = t^{loc}_n + d_n / r(g_k) + t^{edge}_n \quad (\text{no upload at } n = N)

and the device energy :math:`\epsilon_n(k) = e^{loc}_n + P\,d_n / r(g_k)`; one waiting
slot costs :math:`\tau` seconds and :math:`P_{idle}\tau` joules. Hence
:math:`Y_n(k) = w_E \epsilon_n(k) + w_T \ell_n(k)` and :math:`c_w = w_E P_{idle}\tau + w_T\tau`.
The download is per period and enters neither bound.

Lagrangian bound (the DP's certificate for a constrained optimum)
------------------------------------------------------------------
For multipliers :math:`\lambda \ge 0` on the active bounds :math:`b`,

.. math::

    L(\lambda) = \min_{M,\pi}\ \Phi(M,\pi) + \lambda\cdot(q(M,\pi) - b)
               = \min_M \big[J_\lambda(M) + D(M)/K_{tasks}\big] - \lambda\cdot b,

where :math:`J_\lambda` is the optimal value of the stopping problem with
:math:`Y + \lambda_\ell \ell + \lambda_\epsilon \epsilon` and :math:`c_w + \lambda_\ell\tau +
\lambda_\epsilon P_{idle}\tau` (backward induction, unchanged). Every feasible
:math:`(M, \pi)`, randomised or not, has :math:`\Phi \ge L(\lambda)` (weak duality), so
:math:`\max_\lambda L(\lambda)` is a lower bound on the MIP optimum. For a fixed
placement the constrained problem is an LP in the occupation measure and the bound
is tight; over the integer placement a duality gap may remain, which is reported.
:math:`L` is concave and piecewise linear; it is maximised by Kelley's cutting-plane
method (each DP solve gives a value and a supergradient :math:`q - b`), which ends
after finitely many cuts on a polyhedral function. For rule ``osla`` the policy of
each placement is fixed and only :math:`M` is dualised.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import NDArray

from coopt.dp.placement import argmin_placement, enumerate_placements
from coopt.dp.results import breakdown
from coopt.dp.stopping import evaluate_randomised_policy, occupation
from coopt.errors import InstanceError
from coopt.model.channel import Channel
from coopt.model.constraints import QoS
from coopt.model.costs import CostModel


def reject_constraints(qos: QoS | None, method: str) -> None:
    """Raise if an instance carries QoS bounds (``instance.constraints``) that ``method`` cannot impose."""
    if qos is not None:
        raise InstanceError(
            f"[constraints]: method {method!r} (backward induction) cannot impose QoS bounds "
            "(max_latency_s, max_energy_j); use --method mip"
        )


# ----------------------------------------------------------------------------- physical parts


@dataclass(frozen=True, eq=False)
class PhysicalParts:
    """Latency and device energy of stopping, shape ``(N + 1, K)``, and of one waiting slot."""

    stop_latency_s: NDArray[np.float64]
    stop_energy_j: NDArray[np.float64]
    wait_latency_s: float
    wait_energy_j: float

    def stop(self, key: str) -> NDArray[np.float64]:
        return self.stop_latency_s if key == "max_latency_s" else self.stop_energy_j

    def wait(self, key: str) -> float:
        return self.wait_latency_s if key == "max_latency_s" else self.wait_energy_j


def physical_parts(costs: CostModel, channel: Channel) -> PhysicalParts:
    """:math:`\\ell_n(k)`, :math:`\\epsilon_n(k)`, :math:`\\tau` and :math:`P_{idle}\\tau` (0 without a slot)."""
    lat = (costs.local_time_s + costs.edge_time_s)[:, None] + costs.upload_time_s(channel.gains)
    energy = costs.local_energy_j[:, None] + costs.upload_energy_j(channel.gains)
    slot = 0.0 if math.isnan(costs.slot_s) else costs.slot_s
    return PhysicalParts(lat, energy, slot, costs.idle_power_w * slot)


# ----------------------------------------------------------------------------- randomised policies


def randomised_expectations(
    probs: NDArray[np.float64], Y: NDArray[np.float64], channel: Channel, costs: CostModel
) -> dict[str, float]:
    """Expected task cost, latency (s) and device energy (J) of a randomised policy."""
    parts = physical_parts(costs, channel)
    c_w = 0.0 if math.isnan(costs.wait_cost) else costs.wait_cost

    def expect(stop: NDArray[np.float64], wait: float) -> float:
        return float(channel.initial @ evaluate_randomised_policy(probs, stop, channel, wait)[0])

    return {
        "task_cost": expect(Y, c_w),
        "latency_s": expect(parts.stop_latency_s, parts.wait_latency_s),
        "energy_j": expect(parts.stop_energy_j, parts.wait_energy_j),
    }


# ----------------------------------------------------------------------------- DP certificates


@dataclass(frozen=True)
class Achievable:
    """The smallest expected latency (or energy) any allowed policy achieves, and where."""

    key: str
    value: float
    placement: int


def smallest_achievable(
    key: str, Y: NDArray[np.float64], channel: Channel, mode: str, costs: CostModel, rule: str, placements: list[int]
) -> Achievable:
    """Minimum of the expected latency (``key = "max_latency_s"``) or device energy over
    the feasible placements, by backward induction on the physical part alone
    (rule ``optimal``) or by evaluating the OSLA policy of each placement (rule ``osla``)."""
    parts = physical_parts(costs, channel)
    if rule == "osla":
        best: tuple[float, int] | None = None
        _, policies = enumerate_placements(Y, channel, mode, costs, "osla", placements, 1.0)
        for m in placements:
            bd = breakdown(occupation(policies[m].actions, channel), channel, costs, 0.0, 1.0)
            q = bd.latency_s if key == "max_latency_s" else bd.energy_j
            if best is None or q < best[0]:
                best = (q, m)
        assert best is not None
        return Achievable(key, best[0], best[1])
    wait_part = parts.wait(key)
    # A slot with no energy (idle_power_w = 0) makes the waiting fixed point degenerate
    # (not unique). A negligible positive slot part selects its limit, which is attained:
    # waiting for the best reachable state takes finitely many slots in expectation.
    proxy = replace(costs, wait_cost=wait_part if wait_part > 0 else 1e-300)
    values, _ = enumerate_placements(parts.stop(key), channel, mode, proxy, "optimal", placements, 1.0)
    best_v = min(values, key=lambda v: (v.task_cost, v.placement))
    return Achievable(key, best_v.task_cost, best_v.placement)


@dataclass(frozen=True)
class LagrangianBound:
    """:math:`\\max_\\lambda L(\\lambda)` found by Kelley's cutting planes.

    Attributes
    ----------
    bound : float
        The best lower bound :math:`L(\\lambda)` found on the constrained optimum.
    multipliers : dict
        The maximising :math:`\\lambda` per active bound key (cost units per s or J).
    upper : float
        The cutting-plane model's maximum: :math:`\\max_\\lambda L \\le` ``upper``.
    placement : int
        The placement minimising the Lagrangian at the best multipliers.
    evaluations : int
        DP solves used.
    """

    bound: float
    multipliers: dict[str, float]
    upper: float
    placement: int
    evaluations: int


def lagrangian_bound(
    Y: NDArray[np.float64],
    channel: Channel,
    mode: str,
    costs: CostModel,
    rule: str,
    placements: list[int],
    tasks_per_period: float,
    qos: QoS,
    rtol: float = 1e-10,
    max_evaluations: int = 200,
) -> LagrangianBound:
    """The Lagrangian lower bound of the QoS-constrained problem (module docstring)."""
    from scipy.optimize import linprog

    keys = qos.active
    b = np.array([qos.bound(k) for k in keys])
    parts = physical_parts(costs, channel)
    c_w = 0.0 if math.isnan(costs.wait_cost) else costs.wait_cost
    osla_cache: dict[int, tuple[float, NDArray[np.float64]]] = {}
    if rule == "osla":
        values, policies = enumerate_placements(Y, channel, mode, costs, "osla", placements, tasks_per_period)
        for v in values:
            bd = breakdown(occupation(policies[v.placement].actions, channel), channel, costs, 0.0, 1.0)
            osla_cache[v.placement] = (
                v.objective,
                np.array([bd.latency_s if k == "max_latency_s" else bd.energy_j for k in keys]),
            )

    def evaluate(lam: NDArray[np.float64]) -> tuple[float, NDArray[np.float64], int]:
        """L(lam), a supergradient q - b, and the minimising placement."""
        if rule == "osla":
            best = min(placements, key=lambda m: (osla_cache[m][0] + lam @ osla_cache[m][1], m))
            phi, q = osla_cache[best]
            return phi + float(lam @ (q - b)), q - b, best
        y_lam = Y + sum(lam_k * parts.stop(k) for lam_k, k in zip(lam, keys))
        cw_lam = c_w + sum(lam_k * parts.wait(k) for lam_k, k in zip(lam, keys))
        lam_costs = replace(costs, wait_cost=cw_lam)
        values, policies = enumerate_placements(
            y_lam, channel, mode, lam_costs, "optimal", placements, tasks_per_period
        )
        best_v = argmin_placement(values)
        bd = breakdown(occupation(policies[best_v.placement].actions, channel), channel, costs, 0.0, 1.0)
        q = np.array([bd.latency_s if k == "max_latency_s" else bd.energy_j for k in keys])
        return best_v.objective - float(lam @ b), q - b, best_v.placement

    lam0 = np.zeros(len(keys))
    g0, s0, m0 = evaluate(lam0)
    cuts = [(g0, s0, lam0)]
    best = (g0, lam0, m0)
    if np.all(s0 <= 0):
        # The unconstrained optimum is feasible: L(0) is the optimum itself.
        return LagrangianBound(g0, dict(zip(keys, lam0.tolist())), g0, m0, 1)
    scale = max(abs(g0), 1e-300)
    box = np.array([16.0 * scale / bj for bj in b])
    upper = math.inf
    evaluations = 1
    while evaluations < max_evaluations:
        # maximise t s.t. t <= g_i + s_i.(lam - lam_i), 0 <= lam <= box; variables (lam, t).
        d = len(keys)
        A = np.array([np.concatenate([-s, [1.0]]) for _, s, _ in cuts])
        rhs = np.array([g - s @ lam_i for g, s, lam_i in cuts])
        res = linprog(
            c=np.concatenate([np.zeros(d), [-1.0]]),
            A_ub=A,
            b_ub=rhs,
            bounds=[(0.0, bj) for bj in box] + [(None, None)],
            method="highs",
        )
        if res.status != 0:  # pragma: no cover - the cut LP is bounded by the box
            break
        lam, upper = res.x[:d], -res.fun
        at_box = lam >= box * (1 - 1e-9)
        g, s, m = evaluate(lam)
        evaluations += 1
        cuts.append((g, s, lam))
        if g > best[0]:
            best = (g, lam, m)
        if np.any(at_box):
            box = np.where(at_box, 4.0 * box, box)
            continue
        if upper - best[0] <= rtol * max(abs(best[0]), 1e-300):
            break
    return LagrangianBound(
        best[0], dict(zip(keys, (float(x) for x in best[1]))), max(upper, best[0]), best[2], evaluations
    )


__all__ = [
    "Achievable",
    "LagrangianBound",
    "PhysicalParts",
    "lagrangian_bound",
    "physical_parts",
    "randomised_expectations",
    "reject_constraints",
    "smallest_achievable",
]
