r"""The closed-form placement of the equal-neuron MLP under OSLA (docs/model.md section 5).

``coopt solve --method closed-form`` and ``solve(instance, method="closed-form")``
land here. The formulas are the SymPy derivations of :mod:`coopt.symbolic.derive`, turned
into numbers with ``lambdify``; enumeration (``method="enumeration"``, rule ``osla``)
is the oracle they are tested against, decision for decision.

Which networks
--------------
The network must have :math:`N = H + 1 \ge 2` layers, layers :math:`2..H` identical
(same ``macs``, ``out_elems``, ``params``) and layer 1's output as large as theirs:
the equal-neuron MLP of :func:`coopt.model.profiles.mlp_profile`, detected from the
profile's arrays, not from its name. Layer 1 and the output layer may be anything.
The channel must be i.i.d. and ``wait.mode`` ``never`` or ``last`` (no waiting before
the last placed epoch, so the stopping epoch is a truncated geometric variable).

Structure (derived in :class:`coopt.symbolic.derive.MlpStructure`)
------------------------------------------------------------------
OSLA's threshold is :math:`\theta_0` at epoch 0, one constant :math:`\theta_h` at
epochs :math:`1..H-1` (each compares a hidden feature with the next hidden feature),
:math:`\theta_H` at epoch :math:`H` (next is the output layer, whose "upload" is
free) and, at the last placed epoch :math:`M < N`, 0 (mode ``never``) or the wait
threshold :math:`\theta_w` (mode ``last``). The memory limit cuts the placements to
:math:`0..M_{max}`. On :math:`1..H` the objective is
:math:`\Phi(M) = \Phi(1) + (1-q_0)\Delta\,\frac{1-(1-q)^{M-1}}{q} + (M-1)\lambda`,
convex when :math:`\Delta < 0`, so the best hidden placement is the closed-form
:math:`\min(M_h, M_{max})`; :math:`M^*` is the best of it, 0 and :math:`N`.

The numeric steps
-----------------
1. *Stop sets on the quantised channel.* A threshold's stop set is the upper set
   :math:`\{k \ge k_\theta\}` of the states sorted by gain. Membership is decided in
   cost space, :math:`Y_n(g_k) \le Z_n + \text{margin}` with docs/model.md's tie tolerance
   (at the first epoch of each class: 0, 1, H and the last placed epoch), because a
   state lying exactly on :math:`\theta` must count as stopping, which a comparison
   of gains in floating point cannot promise. :math:`q = \sum_{k\ge k_\theta} p_k`,
   :math:`\psi = \sum_{k \ge k_\theta} p_k / r(g_k)`, :math:`\eta = \sum_k p_k/r(g_k)`.
2. *Rounding of* :math:`\lceil \ln x / \ln(1-q) \rceil`. When :math:`\ln x/\ln(1-q)`
   is within rounding of an integer the increment at :math:`M_h` is zero to machine
   precision; :math:`M_h` is then confirmed against its two neighbours with
   docs/model.md's tie rule (``solver["rounding_adjustment"]`` reports a shift, 0 almost
   always).
3. *Final comparison* of :math:`\Phi(0)`, :math:`\Phi(M_h^*)` and :math:`\Phi(N)` with
   docs/model.md's tie rule (relative ``1e-12``, ties to the smaller :math:`M`).

Known limit: enumeration scans :math:`\Phi(0), \Phi(1), \dots` keeping the first
value that no later one beats by more than the tie tolerance; the closed form
compares neighbours. They differ only if consecutive increments are each within the
relative tolerance ``1e-12`` of zero yet add up beyond it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
import sympy as sp
from numpy.typing import NDArray
from sympy.codegen.cfunctions import expm1

from coopt.dp.placement import PlacementValue, argmin_placement
from coopt.dp.results import SolveResult, assemble_result
from coopt.dp.stopping import (
    COMPUTE,
    STOP,
    WAIT,
    StoppingSolution,
    evaluate_policy,
    occupation,
    tied_or_less,
)
from coopt.errors import InstanceError
from coopt.model.costs import layer_costs
from coopt.model.instance import Instance
from coopt.model.problem import Problem
from coopt.model.profiles import Profile
from coopt.symbolic import derive as S

WAIT_MODES = ("never", "last")


@dataclass(frozen=True)
class MlpShape:
    """Per-layer numbers of an equal-neuron MLP profile (the symbols of :mod:`coopt.symbolic.derive`)."""

    hidden_layers: int
    macs_first: int
    macs_hidden: int
    macs_output: int
    params_first: int
    params_hidden: int
    params_output: int


def mlp_shape(profile: Profile) -> MlpShape:
    """Detect the equal-neuron MLP structure from the profile's arrays.

    Raises
    ------
    InstanceError
        Naming the first condition that fails.
    """
    n_layers = profile.n_layers
    if n_layers < 2:
        raise InstanceError(
            f"method closed-form: network.profile {profile.name!r} has {n_layers} layer; "
            "the equal-neuron MLP needs at least 2 (hidden layers, then the output layer)"
        )
    hidden = n_layers - 1
    macs, out, params = profile.macs, profile.out_elems, profile.params
    # A measured feature size must be as equal as the element counts it replaces.
    compared: list[tuple[str, NDArray[Any]]] = [("macs", macs), ("out_elems", out), ("params", params)]
    if profile.out_bits is not None:
        compared.append(("out_bits", profile.out_bits))
    feature = compared[-1][1] if profile.out_bits is not None else out
    for layer in range(3, hidden + 1):
        for what, arr in compared:
            if arr[layer] != arr[2]:
                raise InstanceError(
                    f"method closed-form: network.profile {profile.name!r} is not an equal-neuron MLP: "
                    f"hidden layer {layer} ({profile.layer_names[layer]}) has {what} = {int(arr[layer])}, "
                    f"layer 2 ({profile.layer_names[2]}) has {int(arr[2])}; layers 2..{hidden} must be identical"
                )
    if hidden >= 2 and feature[1] != feature[2]:
        raise InstanceError(
            f"method closed-form: network.profile {profile.name!r} is not an equal-neuron MLP: "
            f"layer 1 outputs {feature[1]:g}, the hidden layers {feature[2]:g} ({compared[-1][0]}); "
            "they must be equal"
        )
    return MlpShape(
        hidden_layers=hidden,
        macs_first=int(macs[1]),
        macs_hidden=int(macs[2]) if hidden >= 2 else 0,
        macs_output=int(macs[n_layers]),
        params_first=int(params[1]),
        params_hidden=int(params[2]) if hidden >= 2 else 0,
        params_output=int(params[n_layers]),
    )


def check_applicable(instance: Instance) -> MlpShape:
    """Raise :class:`InstanceError` unless the closed form applies; return the MLP shape."""
    if instance.constraints is not None:
        raise InstanceError(
            "method closed-form: the instance has a [constraints] table; QoS constraints need --method mip"
        )
    if instance.placement.rule != "osla":
        raise InstanceError(
            f'method closed-form: placement.rule = "{instance.placement.rule}": the closed form is for '
            'rule "osla" (set placement.rule = "osla" or pass --rule osla)'
        )
    if instance.channel.is_markov:
        raise InstanceError(
            'method closed-form: channel.law = "markov": the closed form needs an i.i.d. channel '
            '("rayleigh", "nakagami", "rician" or "finite")'
        )
    if instance.channel.is_correlated:
        raise InstanceError(
            "method closed-form: channel.doppler_hz / channel.coherence_s: the closed form needs an i.i.d. "
            "channel (time-correlated fading is a time-inhomogeneous chain; use --method enumeration)"
        )
    up = instance.uplink
    if up.overhead_s > 0 or up.overhead_j > 0:
        raise InstanceError(
            f"method closed-form: uplink.overhead_s = {up.overhead_s:g}, uplink.overhead_j = {up.overhead_j:g}: "
            "the closed form has no per-upload overhead term; use --method enumeration"
        )
    if instance.wait.mode not in WAIT_MODES:
        raise InstanceError(
            f'method closed-form: wait.mode = "{instance.wait.mode}": the closed form needs "never" or "last" '
            "(waiting at hidden epochs breaks the geometric structure)"
        )
    return mlp_shape(instance.profile)


# ----------------------------------------------------------------------------- lambdify


_Fn = Callable[[dict[sp.Symbol, float]], float]


def _is_power_of_two_minus_one(e: sp.Basic) -> bool:
    return (
        isinstance(e, sp.Add)
        and len(e.args) == 2
        and sp.S.NegativeOne in e.args
        and any(isinstance(t, sp.Pow) and t.base == 2 for t in e.args)
    )


def _numeric_form(expr: sp.Basic) -> sp.Basic:
    """``2**x - 1`` as ``expm1(x log 2)``: the same number without cancellation for small ``x``
    (as :func:`coopt.dp.stopping.thresholds_from` computes it)."""

    def to_expm1(e: sp.Add) -> sp.Basic:
        (power,) = [t for t in e.args if isinstance(t, sp.Pow)]
        return expm1(power.exp * sp.log(2))

    return expr.replace(_is_power_of_two_minus_one, to_expm1)


def _compile(expr: sp.Basic) -> _Fn:
    """``lambdify`` over ``math`` (scalars; Piecewise branches evaluated lazily).

    A threshold whose exponent overflows is :math:`+\\infty` (the exact value rounds
    there), as in the numeric core.
    """
    args = sorted(expr.free_symbols, key=lambda sym: sym.name)
    fn = sp.lambdify(args, _numeric_form(expr), modules="math")

    def call(values: dict[sp.Symbol, float]) -> float:
        try:
            return fn(*(values[a] for a in args))
        except OverflowError:
            return math.inf

    return call


@cache
def compiled(mode: str) -> dict[str, _Fn]:
    """The closed-form formulas of wait mode ``mode``, as functions of a value table."""
    exprs: dict[str, sp.Basic] = {
        "Z0": S.Z_0,
        "Z1": S.Z_1,
        "ZH": S.Z_1 + (S.H - 1) * S.delta,
        "ZN": S.Z_N,
        "U0": S.U_0,
        "U": S.U,
        "omega": S.omega,
        "omega_0": S.omega_0,
        "Delta": S.Delta,
        "phi0": S.mlp_phi_zero(),
        "task_hidden": S.mlp_phi_closed() - S.download_hidden() / S.K_tasks,
        "download_hidden": S.download_hidden(),
        "phi_full": S.mlp_phi_full(),
        "download_full": (S.s_1 + (S.H - 1) * S.s_h + S.s_N) * S.DOWNLOAD_PER_BIT,
        "M_h": S.mlp_best_hidden(),
        "M_max": S.mlp_memory_limit(),
    }
    st = S.mlp_structure()
    for name in ("margin0", "margin_h", "marginH", "margin_w", "margin_w0"):
        exprs[name] = getattr(st, name)
    exprs.update(S.mlp_thresholds())
    return {name: _compile(S.expand_definitions(e, mode)) for name, e in exprs.items()}


@cache
def _cost_per_mac() -> tuple[_Fn, _Fn]:
    alpha, beta = S.cost_per_mac()
    return _compile(alpha), _compile(beta)


@cache
def _rate() -> Callable[..., NDArray[np.float64]]:
    return sp.lambdify((S.B, S.rho, S.h), S.rate(S.h), modules="numpy")


# ----------------------------------------------------------------------------- evaluation


@dataclass(frozen=True)
class StopSet:
    """A threshold's stop set on the quantised channel: states ``first..K-1`` (0-based)."""

    first: int
    prob: float
    inv_rate: float

    def mask(self, n_states: int) -> NDArray[np.bool_]:
        return np.arange(n_states) >= self.first


@dataclass(frozen=True)
class ClosedForm:
    """All numbers of the closed form for one instance."""

    values: dict[sp.Symbol, float]
    numbers: dict[str, float]
    sets: dict[str, StopSet]
    placement: int
    hidden_best: int
    memory_limit: int
    rounding_adjustment: int
    by_placement: tuple[PlacementValue, ...]


# Measured layer costs (docs/model.md 10.1) fit the closed form only when they are MAC costs
# after all: a_i = alpha macs_i and b_i = beta macs_i for one alpha and one beta.
PROPORTIONAL_RTOL = 1e-9


def _per_mac(cost: NDArray[np.float64], macs: NDArray[np.float64], what: str, profile: Profile) -> float:
    """The one cost per MAC that ``cost`` has on every layer, or :class:`InstanceError`."""
    per_mac = float(cost @ macs / (macs @ macs)) if macs.any() else 0.0
    scale = float(np.max(np.abs(cost))) if cost.size else 0.0
    bad = np.flatnonzero(np.abs(cost - per_mac * macs) > PROPORTIONAL_RTOL * scale)
    if bad.size:
        i = int(bad[0])
        raise InstanceError(
            f"method closed-form: the measured costs of network.profile {profile.name!r} are not proportional "
            f"to MACs: layer {i} ({profile.layer_names[i]}) has {what} = {cost[i]:.6g}, {per_mac:.6g} per MAC "
            f"would give {per_mac * macs[i]:.6g}; the closed form needs one cost per MAC (use --method enumeration)"
        )
    return per_mac


def instance_values(instance: Instance, shape: MlpShape, c_w: float) -> dict[sp.Symbol, float]:
    """The value table of the instance's parameters (SI units) for the closed form.

    With measured layer costs (docs/model.md 10.1), :math:`\alpha` and :math:`\beta` are the
    costs per MAC of the measured :math:`a_i` and :math:`b_i`, which must be proportional
    to ``macs`` (relative :data:`PROPORTIONAL_RTOL`), and :math:`d_0, d_h` come from
    ``out_bits`` when it is given.
    """
    dev, edge, cost, pl = instance.device, instance.edge, instance.cost, instance.placement
    pb = instance.network.param_bits
    layers = layer_costs(instance)
    values: dict[sp.Symbol, float] = {
        S.w_E: cost.energy_weight,
        S.w_T: cost.time_weight,
        S.P: dev.tx_power_w,
        S.B: instance.uplink.bandwidth_hz,
        S.rho: dev.tx_power_w / instance.uplink.noise_w,
        S.c_w: c_w,
        S.K_tasks: pl.tasks_per_period,
        S.r_DL: pl.downlink_bps,
        S.e_rx: pl.rx_energy_per_bit,
        S.S_max: pl.memory_bits,
        S.H: shape.hidden_layers,
        S.mu_1: float(shape.macs_first),
        S.mu_h: float(shape.macs_hidden),
        S.mu_N: float(shape.macs_output),
        S.s_1: float(shape.params_first * pb),
        S.s_h: float(shape.params_hidden * pb),
        S.s_N: float(shape.params_output * pb),
        S.d_0: float(layers.feature_bits[0]),
        S.d_h: float(layers.feature_bits[1]),
    }
    prof = instance.profile
    if {"device_s", "device_j", "edge_s"} & set(prof.measured):
        macs = prof.macs.astype(np.float64)
        a = cost.energy_weight * layers.device_j + cost.time_weight * layers.device_s
        values[S.alpha] = _per_mac(a, macs, "a_i", prof)
        values[S.beta] = _per_mac(cost.time_weight * layers.edge_s, macs, "b_i", prof)
        return values
    values.update(
        {
            S.kappa: dev.kappa,
            S.f_L: dev.cpu_hz,
            S.c_L: dev.cycles_per_mac,
            S.f_E: edge.cpu_hz,
            S.c_E: edge.cycles_per_mac,
        }
    )
    alpha_fn, beta_fn = _cost_per_mac()
    values[S.alpha] = alpha_fn(values)
    values[S.beta] = beta_fn(values)
    return values


def _stop_set(
    base: float, weight: float, margin: float, inv_rate: NDArray[np.float64], probs: NDArray[np.float64]
) -> StopSet:
    """States with :math:`Z + U/r(g_k) \\le Z + \\text{margin}` (tie tolerance on the totals)."""
    stops = tied_or_less(base + weight * inv_rate, base + margin)
    first = int(np.argmax(stops)) if stops.any() else len(stops)
    if not stops[first:].all():  # pragma: no cover - Y_n(g) is decreasing in g
        raise ArithmeticError("stop set is not an upper set of the gains")
    return StopSet(first, float(probs[first:].sum()), float(probs[first:] @ inv_rate[first:]))


def evaluate(
    instance: Instance, shape: MlpShape, gains: NDArray[np.float64], probs: NDArray[np.float64], c_w: float
) -> ClosedForm:
    """Evaluate the closed form on a finite i.i.d. channel (``gains`` increasing)."""
    mode = instance.wait.mode
    fns = compiled(mode)
    values = instance_values(instance, shape, c_w)
    inv_rate = 1.0 / _rate()(values[S.B], values[S.rho], gains)
    values[S.eta] = float(probs @ inv_rate)
    num = {name: fns[name](values) for name in ("Z0", "Z1", "ZH", "ZN", "U0", "U", "margin0", "margin_h", "marginH")}
    sets = {
        "0": _stop_set(num["Z0"], num["U0"], num["margin0"], inv_rate, probs),
        "h": _stop_set(num["Z1"], num["U"], num["margin_h"], inv_rate, probs),
        "H": _stop_set(num["ZH"], num["U"], num["marginH"], inv_rate, probs),
    }
    if mode == "last":
        num["margin_w"] = fns["margin_w"](values)
        num["margin_w0"] = fns["margin_w0"](values)
        sets["w"] = _stop_set(num["Z1"], num["U"], num["margin_w"], inv_rate, probs)
        sets["w0"] = _stop_set(num["Z0"], num["U0"], num["margin_w0"], inv_rate, probs)
    for sym_q, sym_psi, key in (
        (S.q_0, S.psi_0, "0"),
        (S.q, S.psi, "h"),
        (S.q_H, S.psi_H, "H"),
        (S.q_w, S.psi_w, "w"),
        (S.q_w0, S.psi_w0, "w0"),
    ):
        if key in sets:
            values[sym_q] = sets[key].prob
            values[sym_psi] = sets[key].inv_rate
    for name in ("omega", "omega_0", "Delta"):
        num[name] = fns[name](values)
    for name in ("theta_0", "theta_h", "theta_H", "theta_w", "theta_w0"):
        if name in ("theta_w", "theta_w0") and mode != "last":
            continue
        num[name] = float(fns[name](values))

    H = shape.hidden_layers
    n_layers = H + 1
    memory_limit = int(fns["M_max"](values))
    k_tasks = instance.placement.tasks_per_period

    def value_of(m: int) -> PlacementValue:
        if m == 0:
            task, download = fns["phi0"](values), 0.0
        elif m == n_layers:
            download = fns["download_full"](values)
            task = fns["phi_full"](values) - download / k_tasks
        else:
            at = {**values, S.M: m}
            task, download = fns["task_hidden"](at), fns["download_hidden"](at)
        return PlacementValue(m, task + download / k_tasks, task, download)

    by_placement = tuple(value_of(m) for m in range(memory_limit + 1))
    hidden_best = int(fns["M_h"](values))
    candidates = [by_placement[0]]
    adjustment = 0
    hidden_top = min(H, memory_limit)
    if hidden_top >= 1:
        best = min(hidden_best, hidden_top)
        # Rounding guard (numeric step 2): the closed-form M_h must beat its neighbours
        # by docs/model.md's tie rule; move by one where floating point rounded the ceiling.
        if best < hidden_top and not tied_or_less(by_placement[best].objective, by_placement[best + 1].objective):
            best, adjustment = best + 1, 1
        elif best > 1 and tied_or_less(by_placement[best - 1].objective, by_placement[best].objective):
            best, adjustment = best - 1, -1
        candidates.append(by_placement[best])
    if memory_limit == n_layers:
        candidates.append(by_placement[n_layers])
    chosen = argmin_placement(candidates)
    return ClosedForm(values, num, sets, chosen.placement, hidden_best, memory_limit, adjustment, by_placement)


def policy_tables(
    cf: ClosedForm, mode: str, hidden_layers: int, n_states: int
) -> tuple[NDArray[np.int8], NDArray[np.float64]]:
    """Actions ``(M*+1, K)`` and thresholds ``(M*+1,)`` of OSLA at the closed-form ``M*``."""
    m_star = cf.placement
    n_layers = hidden_layers + 1
    actions = np.empty((m_star + 1, n_states), dtype=np.int8)
    thresholds = np.empty(m_star + 1)
    for epoch in range(m_star):
        key = "0" if epoch == 0 else ("H" if epoch == hidden_layers else "h")
        actions[epoch] = np.where(cf.sets[key].mask(n_states), STOP, COMPUTE)
        thresholds[epoch] = cf.numbers[f"theta_{key}"]
    if m_star == n_layers or mode == "never":
        actions[m_star] = STOP
        thresholds[m_star] = 0.0
    else:
        key = "w0" if m_star == 0 else "w"
        actions[m_star] = np.where(cf.sets[key].mask(n_states), STOP, WAIT)
        thresholds[m_star] = cf.numbers[f"theta_{key}"]
    return actions, thresholds


def _json_number(x: float) -> float | None:
    return None if math.isinf(x) else float(x)


def solve_closed_form(problem: Problem) -> SolveResult:
    """The joint optimum by the closed form (rule OSLA, equal-neuron MLP), as a :class:`SolveResult`.

    ``by_placement``, ``objective``, ``task_cost`` and the policy's decisions and
    thresholds come from the closed form; the policy's per-state ``values``, the
    expected cost parts and the baselines are computed by the numeric core on the
    closed-form policy (so ``policy.values`` checks ``task_cost`` independently).
    """
    inst, costs, channel, Y = problem.instance, problem.costs, problem.channel, problem.Y
    shape = check_applicable(inst)
    mode = inst.wait.mode
    cf = evaluate(inst, shape, channel.gains, channel.probs, costs.wait_cost)
    actions, thresholds = policy_tables(cf, mode, shape.hidden_layers, channel.n_states)
    best = cf.by_placement[cf.placement]
    values = evaluate_policy(actions, Y, channel, costs.wait_cost)
    policy = StoppingSolution(cf.placement, values, actions, thresholds, best.task_cost)
    solver: dict[str, Any] = {
        "formula": "M* = argmin{Phi(0), Phi(min(M_h, M_max)), Phi(N)}, M_h = 1 + ceil(ln x / ln(1 - q))",
        "hidden_layers": shape.hidden_layers,
        "hidden_best": cf.hidden_best,
        "memory_limit_placement": cf.memory_limit,
        "rounding_adjustment": cf.rounding_adjustment,
        "q": cf.values[S.q],
        "q_0": cf.values[S.q_0],
        "q_H": cf.values[S.q_H],
        "Delta": cf.numbers["Delta"],
        "eta": cf.values[S.eta],
        "thresholds": {name: _json_number(cf.numbers[name]) for name in cf.numbers if name.startswith("theta_")},
    }
    if mode == "last":
        solver["q_w"] = cf.values[S.q_w]
    return assemble_result(
        problem,
        method="closed-form",
        values=list(cf.by_placement),
        best=best,
        policy=policy,
        occ=occupation(actions, channel),
        osla_values=list(cf.by_placement),
        solver=solver,
    )
