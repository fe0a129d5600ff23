"""The SymPy derivations (coopt.symbolic.derive) checked symbolically and against the numeric core.

Symbolic checks: each threshold satisfies its defining equation, the waiting pieces
solve their linear equations and give the indifference identity, the MLP's closed
form equals its sum for symbolic M and the policy-evaluation recursion on small
cases. Numeric checks (lambdify): thresholds equal StoppingSolution.thresholds of
backward_induction and osla_policy; the piecewise wait fixed point equals
iid_wait_fixed_point.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
import sympy as sp

from coopt import mlp_profile, parse_instance
from coopt.dp.stopping import backward_induction, iid_wait_fixed_point, osla_policy
from coopt.model.costs import wait_allowed
from coopt.model.problem import prepare
from coopt.symbolic import derive as S

RTOL_THRESHOLD = 1e-9  # same formula, the numeric core subtracts A_n + R_n from G_n (cancellation)


RATIO = sp.Symbol("t", positive=True)  # 1 - q, positive where the geometric branch applies


def _zero(expr: sp.Expr) -> bool:
    """``expr == 0`` identically; powers of 1 - q are split with 1 - q = t > 0."""
    if expr.has(S.q):
        expr = sp.expand_power_exp(expr.subs(S.q, 1 - RATIO))
    return sp.simplify(expr) == 0


def _only_nonzero_q(expr: sp.Expr) -> sp.Expr:
    """The q != 0 branch of the geometric sum everywhere (q is a generic symbol)."""
    return expr.replace(lambda e: isinstance(e, sp.Piecewise), lambda e: e.args[-1][0])


# ----------------------------------------------------------------------------- thresholds, symbolic


@pytest.mark.parametrize("which", ["optimal", "osla", "wait"])
def test_threshold_solves_its_defining_equation(which):
    sol = {"optimal": S.optimal_threshold, "osla": S.osla_threshold, "wait": S.wait_threshold}[which]()
    lhs, rhs = sol.equation.lhs, sol.equation.rhs
    residual = lhs.subs(S.theta, sol.theta) - rhs
    assert _zero(sp.expand_log(residual, force=True))
    # the piecewise form: the root where the continuation beats A_n + R_n, else never
    assert sol.threshold.args[0][0] == sol.theta
    assert sol.threshold.args[-1][0] == sp.oo


def test_threshold_rate_step():
    sol = S.optimal_threshold()
    assert _zero(S.A_n + S.R_n + S.O_n + S.UPLOAD_WEIGHT * S.d_n / sol.rate_at_threshold - S.G_n)
    assert _zero(sp.expand_log(S.rate(sol.theta) - sol.rate_at_threshold, force=True))


@pytest.mark.parametrize("key", ["theta_0", "theta_h", "theta_H", "theta_w", "theta_w0"])
def test_mlp_thresholds_solve_stop_cost_equals_lookahead(key):
    # U_n / r(theta) = margin: the stop cost (minus Z_n) equals the look-ahead (minus Z_n)
    st = S.mlp_structure()
    margin = {
        "theta_0": st.margin0,
        "theta_h": st.margin_h,
        "theta_H": st.marginH,
        "theta_w": st.margin_w,
        "theta_w0": st.margin_w0,
    }[key]
    weight = S.U_0 if key in ("theta_0", "theta_w0") else S.U
    pw = S.mlp_thresholds()[key]
    if isinstance(pw, sp.Piecewise):
        theta_expr, cond = pw.args[0]
        assert cond == (margin > 0)
    else:  # the margin is positive by the symbols' assumptions (c_w > 0): no +inf branch
        theta_expr = pw
        assert (margin > 0) is sp.true
    assert _zero(sp.expand_log(weight / S.rate(theta_expr) - margin, force=True))


# ----------------------------------------------------------------------------- waiting, symbolic


@pytest.mark.slow
@pytest.mark.parametrize("states", [1, 2, 3, 4])
def test_wait_pieces_solve_the_linear_equation(states):
    normalise = {S.p[states]: 1 - sum(S.p[kk] for kk in range(1, states))}
    for jj in range(1, states + 1):
        piece = S.wait_piece_identity(jj, states).doit()
        solved = S.wait_piece(jj, states).doit()
        assert _zero((piece - solved).subs(normalise))
        # W = sum_{k<=j} p m + (c_w + W) sum_{k>j} p holds at the solved root (no normalisation)
        equation = (
            sum(S.p[kk] * S.mv[kk] for kk in range(1, jj + 1))
            + (S.c_w + solved) * sum(S.p[kk] for kk in range(jj + 1, states + 1))
            - solved
        )
        assert _zero(equation)
        # indifference at the wait threshold: c_w = sum_{k<=j} p_k (c_w + W_j - m_k)
        saving = sum(S.p[kk] * (S.c_w + piece - S.mv[kk]) for kk in range(1, jj + 1))
        assert _zero((saving - S.c_w).subs(normalise))


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(6))
def test_wait_fixed_point_piecewise_matches_numeric(seed):
    rng = np.random.default_rng(seed)
    states = int(rng.integers(1, 6))
    m = np.sort(rng.uniform(0.0, 2.0, states))
    p = rng.dirichlet(np.ones(states))
    c_w = float(rng.uniform(0.01, 0.5))
    pw = S.wait_fixed_point(states)
    args = [S.c_w] + [S.mv[kk] for kk in range(1, states + 1)] + [S.p[kk] for kk in range(1, states + 1)]
    fn = sp.lambdify(args, pw, modules="math")
    closed = fn(c_w, *m, *p)
    assert closed == pytest.approx(iid_wait_fixed_point(m, p, c_w), rel=1e-12)
    # it is a fixed point of W = E[min(m, c_w + W)]
    assert closed == pytest.approx(float(p @ np.minimum(m, c_w + closed)), rel=1e-12)


# ----------------------------------------------------------------------------- MLP closed form, symbolic


@pytest.mark.slow
def test_phi_closed_form_equals_sum_for_symbolic_M():
    closed, summed, inc = S.mlp_phi_closed(), S.mlp_phi_sum(), S.mlp_increment()
    # base case and induction step, each branch of the geometric sum
    assert _zero(closed.subs(S.M, 1) - summed.subs(S.M, 1).doit())
    step = _only_nonzero_q(closed.subs(S.M, S.M + 1) - closed) - inc
    assert _zero(step)
    step_q0 = (closed.subs(S.M, S.M + 1) - closed - inc).subs(S.q, 0)
    assert _zero(step_q0)
    # SymPy's own evaluation of the sum agrees (q != 0)
    assert _zero(_only_nonzero_q(summed.doit() - closed))


def test_increment_is_the_difference_of_the_task_cost_sum():
    J = S.mlp_task_cost_sum()
    (hidden_sum,) = J.atoms(sp.Sum)
    # J(M+1) - J(M): the sum gains its term j = M; the rest is written out
    rest = J - hidden_sum
    diff = rest.subs(S.M, S.M + 1) - rest + hidden_sum.function.subs(S.j, S.M)
    task_increment = S.mlp_increment() - S.s_h * S.gamma
    assert _zero(diff - task_increment.subs(S.Delta, S.mlp_delta()))


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["never", "last"])
@pytest.mark.parametrize("hidden", [1, 2, 4])
def test_closed_form_equals_recursion_on_small_cases(mode, hidden):
    for placement in range(hidden + 2):
        recursion = S.osla_task_cost_recursion(placement, hidden, mode)
        if placement == 0:
            closed = S.mlp_phi_zero()
        elif placement == hidden + 1:
            closed = S.mlp_phi_full() - (S.s_1 + (S.H - 1) * S.s_h + S.s_N) * S.gamma
        else:
            closed = S.mlp_phi_closed() - (S.s_1 + (S.M - 1) * S.s_h) * S.gamma
        closed = S.expand_definitions(closed, mode).subs({S.H: hidden, S.M: placement})
        assert _zero(_only_nonzero_q(closed - recursion)), (mode, hidden, placement)
        assert _zero((closed - recursion).subs(S.q, 0)), (mode, hidden, placement)


def test_fully_connected_substitution_matches_mlp_profile():
    prof = mlp_profile(depth=4, width=7, input_size=11, classes=3)
    fc = S.mlp_fully_connected()
    vals = {S.N_in: 11, S.N_h: 7, S.N_out: 3, S.b_p: 1, S.b_f: 1}
    assert fc[S.mu_1].subs(vals) == prof.macs[1]
    assert fc[S.mu_h].subs(vals) == prof.macs[2] == prof.macs[4]
    assert fc[S.mu_N].subs(vals) == prof.macs[5]
    assert fc[S.s_1].subs(vals) == prof.params[1]
    assert fc[S.s_h].subs(vals) == prof.params[3]
    assert fc[S.s_N].subs(vals) == prof.params[5]
    assert fc[S.d_0].subs(vals) == prof.out_elems[0]
    assert fc[S.d_h].subs(vals) == prof.out_elems[2]


def test_symbols_declared_once_with_assumptions():
    assert S.M.is_integer and S.M.is_nonnegative and S.H.is_positive and S.H.is_integer
    assert S.B.is_positive and S.rho.is_positive and S.c_w.is_positive
    names = [info.symbol for info in S.SYMBOLS.values()]
    assert len(names) == len(set(names))


# ----------------------------------------------------------------------------- thresholds, numeric


DOC = {
    "network": {"profile": "lenet5", "feature_bits": 32, "param_bits": 32},
    "device": {"cpu_hz": 5e8, "cycles_per_mac": 1.0, "kappa": 1e-27, "tx_power_w": 0.2, "idle_power_w": 0.01},
    "edge": {"cpu_hz": 3e9, "cycles_per_mac": 0.05},
    "uplink": {"bandwidth_hz": 5e6, "noise_w": 1e-13},
    "cost": {"energy_weight": 1.0, "time_weight": 1.5},
    "placement": {"tasks_per_period": 150, "downlink_bps": 8e7, "rx_energy_per_bit": 5e-8},
}
CHANNELS = {
    "rayleigh": {"law": "rayleigh", "mean_gain": 5e-11, "states": 8},
    "finite": {"law": "finite", "gains": [1e-12, 2e-11, 3e-10], "probs": [0.3, 0.5, 0.2]},
    # with a per-upload overhead (docs/model.md 10.3): O_n > 0 in Y_n and in every threshold
    "finite-overhead": {"law": "finite", "gains": [1e-12, 2e-11, 3e-10], "probs": [0.3, 0.5, 0.2]},
}


def _problem(channel: str, mode: str):
    doc = {**DOC, "channel": CHANNELS[channel], "wait": {"mode": mode, "slot_s": 0.002}}
    if channel.endswith("-overhead"):
        doc["uplink"] = {**DOC["uplink"], "overhead_s": 2e-3, "overhead_j": 1e-4}
    problem = prepare(parse_instance(doc))
    assert (problem.costs.overhead[:-1] > 0).all() == channel.endswith("-overhead")
    return problem


def _threshold_fn(sol):
    args = [S.w_E, S.w_T, S.P, S.d_n, S.B, S.G_n, S.A_n, S.R_n, S.O_n, S.rho]
    return sp.lambdify(args, sol.threshold, modules="math")


def _compare(expected: np.ndarray, got: list[float]) -> None:
    for e, g in zip(expected, got):
        if math.isinf(e) or math.isinf(g):
            assert e == g
        else:
            assert g == pytest.approx(e, rel=RTOL_THRESHOLD)


def _fn_args(problem, n: int, G: float) -> list[float]:
    inst, costs = problem.instance, problem.costs
    return [
        inst.cost.energy_weight,
        inst.cost.time_weight,
        inst.device.tx_power_w,
        costs.feature_bits[n],
        costs.bandwidth_hz,
        G,
        costs.A[n],
        costs.R[n],
        costs.overhead[n],
        costs.rho,
    ]


@pytest.mark.slow
@pytest.mark.parametrize("channel", sorted(CHANNELS))
@pytest.mark.parametrize("mode", ["never", "last", "any"])
def test_optimal_thresholds_match_backward_induction(channel, mode):
    problem = _problem(channel, mode)
    costs, ch, Y = problem.costs, problem.channel, problem.Y
    fn = _threshold_fn(S.optimal_threshold())
    wait = S.wait_fixed_point(ch.n_states)
    wait_args = [S.c_w] + [S.mv[kk] for kk in range(1, ch.n_states + 1)] + [S.p[kk] for kk in range(1, ch.n_states + 1)]
    wait_fn = sp.lambdify(wait_args, wait, modules="math")
    n_layers = costs.n_layers
    for horizon in (0, 2, n_layers - 1, n_layers):
        sol = backward_induction(Y, ch, horizon, mode, costs)
        allowed = wait_allowed(mode, horizon, n_layers)
        got = []
        for n in range(horizon + 1):
            C = float(ch.probs @ sol.values[n + 1]) if n < horizon else math.inf
            G = C
            if allowed[n]:
                m = np.minimum(Y[n], C)
                order = np.argsort(m, kind="stable")
                W = wait_fn(costs.wait_cost, *m[order], *ch.probs[order])  # the closed-form piecewise
                G = min(C, costs.wait_cost + W)
            got.append(0.0 if math.isinf(G) else float(fn(*_fn_args(problem, n, G))))
        _compare(sol.thresholds, got)


@pytest.mark.parametrize("channel", sorted(CHANNELS))
@pytest.mark.parametrize("mode", ["never", "last", "any"])
def test_osla_thresholds_match_osla_policy(channel, mode):
    problem = _problem(channel, mode)
    costs, ch, Y = problem.costs, problem.channel, problem.Y
    sol_expr = S.osla_threshold().threshold
    args = [S.w_E, S.w_T, S.P, S.d_n, S.B, S.A_n, S.R_n, S.O_n, S.rho, S.Lc_n, S.Lw_n]
    fn = sp.lambdify(args, sol_expr, modules="math")
    n_layers = costs.n_layers
    for horizon in (0, 3, n_layers - 1, n_layers):
        sol = osla_policy(Y, ch, horizon, mode, costs)
        allowed = wait_allowed(mode, horizon, n_layers)
        got = []
        for n in range(horizon + 1):
            Lc = float(ch.probs @ Y[n + 1]) if n < horizon else math.inf
            Lw = costs.wait_cost + float(ch.probs @ Y[n]) if allowed[n] else math.inf
            if math.isinf(Lc) and math.isinf(Lw):
                got.append(0.0)
                continue
            inst = problem.instance
            got.append(
                float(
                    fn(
                        inst.cost.energy_weight,
                        inst.cost.time_weight,
                        inst.device.tx_power_w,
                        costs.feature_bits[n],
                        costs.bandwidth_hz,
                        costs.A[n],
                        costs.R[n],
                        costs.overhead[n],
                        costs.rho,
                        Lc,
                        Lw,
                    )
                )
            )
        _compare(sol.thresholds, got)


@pytest.mark.parametrize("mode", ["never", "last"])
def test_mlp_thresholds_match_osla_policy_at_every_placement(mode):
    from coopt.symbolic.closed_form import evaluate, mlp_shape

    doc = {**DOC, "channel": CHANNELS["rayleigh"], "wait": {"mode": mode, "slot_s": 0.002}}
    inst = parse_instance(doc)
    inst = replace(inst, network=replace(inst.network, profile=mlp_profile(5, 40, 60, 4)))
    problem = prepare(inst)
    shape = mlp_shape(inst.profile)
    cf = evaluate(inst, shape, problem.channel.gains, problem.channel.probs, problem.costs.wait_cost)
    n_layers = shape.hidden_layers + 1
    for horizon in range(n_layers + 1):
        expected = osla_policy(problem.Y, problem.channel, horizon, mode, problem.costs).thresholds
        got = []
        for n in range(horizon + 1):
            if n == horizon:
                if horizon == n_layers or mode == "never":
                    got.append(0.0)
                else:
                    got.append(cf.numbers["theta_w0" if n == 0 else "theta_w"])
            else:
                got.append(cf.numbers["theta_0" if n == 0 else ("theta_H" if n == shape.hidden_layers else "theta_h")])
        _compare(expected, got)


@pytest.mark.parametrize("channel", sorted(CHANNELS))
def test_osla_lookahead_formulas_are_the_expected_stop_costs(channel):
    """The printed L^c_n and L^w_n (overhead O_n, O_{n+1} included) equal E[Y_{n+1}(h)] and
    c_w + E[Y_n(h)] computed from the cost arrays."""
    problem = _problem(channel, "any")
    inst, costs, ch, Y = problem.instance, problem.costs, problem.channel, problem.Y
    Lc, Lw = S.osla_lookahead()
    eta = float(ch.probs @ (1.0 / costs.rate_bps(ch.gains)))
    for n in range(costs.n_layers):
        at = {
            S.w_E: inst.cost.energy_weight,
            S.w_T: inst.cost.time_weight,
            S.P: inst.device.tx_power_w,
            S.eta: eta,
            S.c_w: costs.wait_cost,
            S.A_n: costs.A[n],
            S.R_n: costs.R[n],
            S.O_n: costs.overhead[n],
            S.d_n: costs.feature_bits[n],
            S.A_n1: costs.A[n + 1],
            S.R_n1: costs.R[n + 1],
            S.O_n1: costs.overhead[n + 1],
            S.d_n1: costs.feature_bits[n + 1] if n + 1 < costs.n_layers else 0.0,  # T_N = 0
        }
        assert float(Lc.subs(at)) == pytest.approx(float(ch.probs @ Y[n + 1]), rel=1e-12)
        assert float(Lw.subs(at)) == pytest.approx(costs.wait_cost + float(ch.probs @ Y[n]), rel=1e-12)
