r"""Values on the continuous fading law, by quadrature instead of quantisation.

docs/model.md section 7: for an i.i.d. Rayleigh, Nakagami or Rician law the optimal and
the OSLA values can be computed on the law itself; comparing them with the values on
the quantised channel measures the quantisation error as ``K`` grows.

Notation
--------
With :math:`Y_n(h) = \beta_n + \gamma_n / r(h)`, :math:`\beta_n = A_n + R_n` and
:math:`\gamma_n = (w_E P + w_T) d_n` (zero at :math:`n = N`), every expectation the
recursions need reduces to three functions of a threshold :math:`\theta`:

* :math:`S(\theta) = P(h \ge \theta)` and :math:`F(\theta) = 1 - S(\theta)`,
* :math:`J(\theta) = \int_\theta^\infty f(h) / r(h)\,dh` (s/bit), so that
  :math:`E[Y_n(h);\, h \ge \theta] = \beta_n S(\theta) + \gamma_n J(\theta)`.

For a constant :math:`c`, :math:`\min(Y_n(h), c) = Y_n(h)` exactly when
:math:`h \ge \theta_n(c) = (2^{\gamma_n / (B (c - \beta_n))} - 1)/\rho` (the threshold
formula of docs/model.md section 4; :math:`+\infty` when :math:`c \le \beta_n`), hence

.. math::  \Psi_n(c) = E[\min(Y_n(h), c)] = c\,F(\theta_n(c)) + \beta_n S(\theta_n(c)) + \gamma_n J(\theta_n(c)).

:math:`J` is computed by :func:`scipy.integrate.quad` in the variable
:math:`u = \ln(h/\bar h)`, where the integrand
:math:`e^u f_x(e^u) / \ln(1 + \rho\bar h e^u)` (times :math:`\ln 2 / B`) is smooth and
bounded, with break points at the two scales :math:`u = 0` (the mean gain) and
:math:`u = -\ln(\rho\bar h)` (where the rate turns from linear to logarithmic); the
relative tolerance is ``QUAD_RTOL``. :math:`S` and :math:`F` are closed forms
(exponential, regularised incomplete gamma, noncentral chi-square with 2 degrees of
freedom for Rice).

Optimal rule (i.i.d., docs/model.md section 4), epochs :math:`n = M, \dots, 0`::

    C_n  = E[V_{n+1}(h)]                      (n < M; C_M = +inf)
    Wbar_n is the root of  g(W) = Psi_n(min(C_n, c_w + W)) - W       (waiting allowed)
    G_n  = min(C_n, c_w + Wbar_n)   (or C_n)
    E[V_n] = Psi_n(G_n),   theta_n = theta_n(G_n)

``g`` is strictly decreasing (:math:`\Psi_n` is concave with slope
:math:`F < 1`), positive at :math:`W = \beta_n` and negative at
:math:`W = 2(c_w + Y_n(h_{1/2})) - \beta_n` (:math:`h_{1/2}` the median, since
:math:`\Psi_n(c) \le (c + Y_n(h_{1/2}))/2`), so :func:`scipy.optimize.brentq` finds the
unique root to the last bits of the quadrature. When :math:`C_n \le \beta_n` the task
computes at every gain (:math:`\theta_n = +\infty`, :math:`E[V_n] = C_n`).

OSLA: :math:`L^c_n = E[Y_{n+1}]`, :math:`L^w_n = c_w + E[Y_n]`, thresholds
:math:`\theta_n(\min(L^c_n, L^w_n))`, and its value is the exact value of that
threshold policy (:func:`evaluate_thresholds`).

A threshold policy (:class:`ThresholdPolicy`) stops at epoch :math:`n` iff
:math:`h_n \ge \theta_n`; otherwise it takes its ``continuation`` action (compute or
wait), which for an i.i.d. channel does not depend on :math:`h`. Its value, backward::

    stop part  s_n = beta_n S(theta_n) + gamma_n J(theta_n)
    compute:   E[V_n] = s_n + F(theta_n) E[V_{n+1}]
    wait:      E[V_n] = (s_n + c_w F(theta_n)) / S(theta_n)

Infinite values
---------------
:math:`J(0) = E[1/r(h)]` is infinite when the density of :math:`h` does not vanish at
0 (Rayleigh, Rician, Nakagami with :math:`m \le 1`): a task that reaches an epoch
:math:`n < N` where it must upload at any gain (:math:`\theta_n = 0`) has infinite
expected cost. This happens at the forced epoch :math:`M < N` with ``wait.mode =
"never"``, and for OSLA almost always (its look-ahead :math:`E[Y_{n+1}]` is itself
infinite, so it stops at epoch 0 whatever the gain). Such a configuration raises
:class:`~coopt.errors.InstanceError` naming the law, the epoch and the cure; nothing
is ever truncated.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray
from scipy import integrate, optimize, special, stats

from coopt.dp.stopping import COMPUTE, STOP, WAIT, thresholds_from, tied_or_less
from coopt.errors import InstanceError
from coopt.model.costs import CostModel, wait_allowed
from coopt.model.instance import ChannelSpec

if TYPE_CHECKING:  # pragma: no cover
    from coopt.dp.results import SolveResult
    from coopt.model.problem import Problem

QUAD_RTOL = 1e-12
QUAD_LIMIT = 400
# Upper end of the integration range: the gain (in units of the mean) beyond which
# the law has probability below TAIL_PROB; the neglected part of J is below
# TAIL_PROB / r(h_top), i.e. ~1e-30 relative.
TAIL_PROB = 1e-30


@dataclass(frozen=True)
class ContinuousLaw:
    """An i.i.d. continuous fading law of the power gain ``h`` with mean ``mean``.

    Internally the standardised gain :math:`x = h / \\bar h` (mean 1) is used.
    ``divergent`` says whether :math:`E[1/\\log(1+\\rho h)] = \\infty` (density
    positive or unbounded at 0).
    """

    law: str
    mean: float
    m: float = 1.0
    k_factor: float = 0.0

    @property
    def divergent(self) -> bool:
        return self.law in ("rayleigh", "rician") or (self.law == "nakagami" and self.m <= 1.0)

    @property
    def label(self) -> str:
        if self.law == "nakagami":
            return f"nakagami (m = {self.m:g})"
        if self.law == "rician":
            return f"rician (K = {self.k_factor:g})"
        return self.law

    # -- standardised distribution -------------------------------------------------
    def _rice(self) -> tuple[float, float]:
        """(scale from x to the chi-square variable X = 2(K+1) x, noncentrality 2K)."""
        return 2.0 * (self.k_factor + 1.0), 2.0 * self.k_factor

    def sf(self, x: float) -> float:
        """:math:`P(x' \\ge x)` for the standardised gain."""
        if x <= 0.0:
            return 1.0
        if math.isinf(x):
            return 0.0
        if self.law == "rayleigh":
            return math.exp(-x)
        if self.law == "nakagami":
            return float(special.gammaincc(self.m, self.m * x))
        s, lam = self._rice()
        return float(stats.ncx2.sf(s * x, 2, lam))

    def cdf(self, x: float) -> float:
        """:math:`P(x' < x)`, computed directly (not as ``1 - sf``) where it is small."""
        if x <= 0.0:
            return 0.0
        if math.isinf(x):
            return 1.0
        if self.law == "rayleigh":
            return -math.expm1(-x)
        if self.law == "nakagami":
            return float(special.gammainc(self.m, self.m * x))
        s, lam = self._rice()
        return float(stats.ncx2.cdf(s * x, 2, lam))

    def quantile(self, u: float) -> float:
        """Standardised gain with :math:`P(x' < x) = u`."""
        if self.law == "rayleigh":
            return -math.log1p(-u)
        if self.law == "nakagami":
            return float(special.gammaincinv(self.m, u)) / self.m
        s, lam = self._rice()
        return float(stats.ncx2.ppf(u, 2, lam)) / s

    def top(self) -> float:
        """Standardised gain with survival ``TAIL_PROB`` (upper end of the quadrature)."""
        if self.law == "rayleigh":
            return -math.log(TAIL_PROB)
        if self.law == "nakagami":
            return float(special.gammainccinv(self.m, TAIL_PROB)) / self.m
        s, lam = self._rice()
        return float(stats.ncx2.isf(TAIL_PROB, 2, lam)) / s

    def density(self, u: float) -> float:
        """:math:`f_x(x)` at :math:`x = e^u`, computed from ``u`` so that it underflows gracefully."""
        x = math.exp(u)
        if self.law == "rayleigh":
            return math.exp(-x)
        if self.law == "nakagami":
            m = self.m
            return math.exp(m * math.log(m) + (m - 1.0) * u - m * x - math.lgamma(m))
        s, lam = self._rice()
        y = s * x
        z = math.sqrt(lam * y)
        # X ~ chi'^2_2(lam): f_X(y) = exp(-(y + lam)/2) I0(sqrt(lam y)) / 2, and f_x = s f_X(s x).
        return 0.5 * s * math.exp(-0.5 * (y + lam) + z) * float(special.i0e(z))

    def sample(self, rng: np.random.Generator, size: int) -> NDArray[np.float64]:
        """``size`` independent power gains (not standardised)."""
        if self.law == "rayleigh":
            return rng.exponential(self.mean, size)
        if self.law == "nakagami":
            return rng.gamma(self.m, self.mean / self.m, size)
        s, lam = self._rice()
        z1 = rng.standard_normal(size) + math.sqrt(lam)
        z2 = rng.standard_normal(size)
        return (self.mean / s) * (z1 * z1 + z2 * z2)


def continuous_law(spec: ChannelSpec) -> ContinuousLaw:
    """The continuous law of a ``[channel]`` table; ``InstanceError`` for finite or Markov laws."""
    if not spec.is_continuous:
        raise InstanceError(
            f'channel.law = "{spec.law}": has no continuous law; the continuous evaluation needs '
            '"rayleigh", "nakagami" or "rician" (i.i.d.)'
        )
    if spec.is_correlated:
        key = "doppler_hz" if spec.doppler_hz is not None else "coherence_s"
        raise InstanceError(
            f"channel.{key}: the quadrature of the continuous law is for i.i.d. laws; time-correlated fading "
            "is evaluated exactly on its chain (coopt simulate --continuous simulates its process)"
        )
    mean = float(spec.mean_gain)  # type: ignore[arg-type]
    if spec.law == "nakagami":
        return ContinuousLaw("nakagami", mean, m=float(spec.m))  # type: ignore[arg-type]
    if spec.law == "rician" and float(spec.k_factor) > 0.0:  # type: ignore[arg-type]
        return ContinuousLaw("rician", mean, k_factor=float(spec.k_factor))  # type: ignore[arg-type]
    # Rician with K = 0 is Rayleigh (as in channel.quantise).
    return ContinuousLaw("rayleigh", mean)


class Quadrature:
    """:math:`S`, :math:`F`, :math:`J` and :math:`\\Psi_n` for one law and one cost model."""

    def __init__(self, law: ContinuousLaw, costs: CostModel) -> None:
        self.law = law
        self.costs = costs
        self.snr = costs.rho * law.mean
        self.scale = math.log(2.0) / costs.bandwidth_hz
        self._top = law.top()
        self._median = law.quantile(0.5) * law.mean
        self._cache: dict[float, float] = {}

    def _phi(self, u: float) -> float:
        r"""The integrand of :math:`J` in ``u``: :math:`f_x(x)\,x / \ln(1 + \rho\bar h x)`, :math:`x = e^u`."""
        sx = self.snr * math.exp(u)
        # x / log1p(snr x) -> 1/snr as x -> 0 (two terms of the series where log1p would lose it)
        ratio = (1.0 + 0.5 * sx) / self.snr if sx < 1e-8 else math.exp(u) / math.log1p(sx)
        return self.law.density(u) * ratio

    def J(self, theta: float) -> float:
        """:math:`J(\\theta) = \\int_\\theta^\\infty f(h)/r(h)\\,dh` in s/bit (``inf`` at 0 for a divergent law)."""
        if math.isinf(theta):
            return 0.0
        if theta in self._cache:
            return self._cache[theta]
        x0 = theta / self.law.mean
        if x0 <= 0.0 and self.law.divergent:
            return math.inf
        top = max(self._top, x0 + 80.0)
        kinks = [-math.log(self.snr), 0.0]
        opts = {"epsabs": 0.0, "epsrel": QUAD_RTOL, "limit": QUAD_LIMIT}
        if x0 > 0.0:
            lo, hi = math.log(x0), math.log(top)
            pts = [p for p in kinks if lo < p < hi]
            total = integrate.quad(self._phi, lo, hi, points=pts or None, **opts)[0]
        else:
            # Nakagami m > 1: the integrand decays like e^{(m-1)u} as u -> -inf.
            split = min(kinks) - 10.0
            total = integrate.quad(self._phi, -math.inf, split, **opts)[0]
            total += integrate.quad(self._phi, split, math.log(top), points=kinks, **opts)[0]
        value = self.scale * total
        self._cache[theta] = value
        return value

    def S(self, theta: float) -> float:
        return self.law.sf(theta / self.law.mean)

    def F(self, theta: float) -> float:
        return self.law.cdf(theta / self.law.mean)

    def threshold(self, n: int, c: float) -> float:
        """:math:`\\theta_n(c)`: the gain at which :math:`Y_n(h) = c` (``inf`` if ``c <= beta_n``, 0 if ``c = inf``)."""
        beta = self.costs.stop_base[n]
        gamma = self.costs.upload_coef[n]
        if math.isinf(c) or gamma == 0.0:
            return 0.0 if c > beta else math.inf
        if c <= beta:
            return math.inf
        expo = math.log(2.0) * gamma / (self.costs.bandwidth_hz * (c - beta))
        if expo > 700.0:
            return math.inf
        return math.expm1(expo) / self.costs.rho

    def stop_part(self, n: int, theta: float) -> float:
        """:math:`E[Y_n(h);\\, h \\ge \\theta]`."""
        beta = self.costs.stop_base[n]
        gamma = self.costs.upload_coef[n]
        if math.isinf(theta):
            return 0.0
        s = self.S(theta)
        return beta * s + (gamma * self.J(theta) if gamma > 0.0 else 0.0)

    def psi(self, n: int, c: float) -> float:
        """:math:`\\Psi_n(c) = E[\\min(Y_n(h), c)]`."""
        theta = self.threshold(n, c)
        if math.isinf(theta):
            return c
        below = self.F(theta)
        return (c * below if below > 0.0 else 0.0) + self.stop_part(n, theta)

    def wait_fixed_point(self, n: int, C: float, c_w: float) -> float:
        """The root :math:`\\bar W_n` of :math:`W = \\Psi_n(\\min(C_n, c_w + W))` (needs ``c_w > 0``)."""
        beta = float(self.costs.stop_base[n])
        if C <= beta:
            return C
        y_med = beta + float(self.costs.upload_coef[n]) / float(self.costs.rate_bps(np.array([self._median]))[0])
        hi = 2.0 * (c_w + y_med) - beta

        def g(w: float) -> float:
            return self.psi(n, min(C, c_w + w)) - w

        return float(optimize.brentq(g, beta, hi, xtol=1e-300, rtol=1e-15, maxiter=500))


@dataclass(frozen=True, eq=False)
class ThresholdPolicy:
    """A splitting policy for an i.i.d. channel given by thresholds on the gain.

    Attributes
    ----------
    horizon : int
        The placement :math:`M`.
    thresholds : NDArray[np.float64]
        ``(M + 1,)``: stop at epoch ``n`` iff :math:`h_n \\ge \\theta_n` (``0``: always,
        ``inf``: never).
    continuation : NDArray[np.int8]
        ``(M + 1,)``: the action when :math:`h_n < \\theta_n`, :data:`~coopt.dp.stopping.COMPUTE`
        or :data:`~coopt.dp.stopping.WAIT` (:data:`~coopt.dp.stopping.STOP` where
        :math:`\\theta_n = 0`).
    """

    horizon: int
    thresholds: NDArray[np.float64]
    continuation: NDArray[np.int8]


@dataclass(frozen=True, eq=False)
class ContinuousSolution:
    """A threshold policy with its exact value on the continuous law.

    ``expected[n]`` is :math:`E[V_n(h_n)]`, shape ``(M + 1,)``; ``value`` is
    :math:`J(M) = E[V_0(h_0)]`.
    """

    policy: ThresholdPolicy
    expected: NDArray[np.float64]
    value: float

    @property
    def horizon(self) -> int:
        return self.policy.horizon

    @property
    def thresholds(self) -> NDArray[np.float64]:
        return self.policy.thresholds


CURE_WAIT = 'use wait.mode = "last" or "any", or the quantised channel'
CURE_OSLA = "waiting cannot help OSLA here; use rule optimal, a Nakagami law with m > 1, or the quantised channel"


def _infinite(law: ContinuousLaw, n: int, n_layers: int, mode: str, who: str, cure: str = CURE_WAIT) -> InstanceError:
    return InstanceError(
        f'continuous law {law.label}, wait.mode = "{mode}": infinite expected cost: {who} uploads at epoch {n} < '
        f"N = {n_layers} at every gain, and E[1/log2(1 + rho h)] diverges because the density of h does not "
        f"vanish at 0; {cure}"
    )


def evaluate_thresholds(
    quad: Quadrature, policy: ThresholdPolicy, mode: str = "?", who: str = "the policy", cure: str = CURE_WAIT
) -> ContinuousSolution:
    """Exact value of a threshold policy on the continuous law (recursion in the module docstring).

    Raises
    ------
    InstanceError
        When an epoch ``n < N`` reached with positive probability uploads at every
        gain on a law with :math:`J(0) = \\infty`.
    """
    costs = quad.costs
    c_w = costs.wait_cost
    M = policy.horizon
    th, cont = policy.thresholds, policy.continuation
    expected = np.empty(M + 1)
    for n in range(M, -1, -1):
        t = float(th[n])
        s_n = quad.stop_part(n, t)
        if t == 0.0:
            ev = s_n
        elif cont[n] == COMPUTE:
            if n == M:
                raise InstanceError(f"threshold policy: epoch {n} = M cannot continue by computing")
            below = quad.F(t)
            ev = s_n + (below * expected[n + 1] if below > 0.0 else 0.0)
        elif cont[n] == WAIT:
            above = quad.S(t)
            ev = (s_n + c_w * quad.F(t)) / above if above > 0.0 else math.inf
        else:
            raise InstanceError(f"threshold policy: epoch {n} has theta > 0 but continuation 'stop'")
        expected[n] = ev
    if math.isinf(expected[0]):
        # name the first reachable epoch that forces an upload at every gain
        for n in range(M + 1):
            if th[n] == 0.0:
                raise _infinite(quad.law, n, costs.n_layers, mode, who, cure)
            if cont[n] == WAIT:
                break
        raise InstanceError(
            "threshold policy: infinite expected cost (waits forever at some epoch)"
        )  # pragma: no cover
    return ContinuousSolution(policy, expected, float(expected[0]))


def continuous_optimal(quad: Quadrature, horizon: int, mode: str) -> ContinuousSolution:
    """The optimal splitting policy on the continuous law for placement ``horizon``.

    Raises ``InstanceError`` where its value is infinite (a forced upload at epoch
    ``M < N`` without waiting on a law with :math:`J(0) = \\infty`).
    """
    costs = quad.costs
    N = costs.n_layers
    allowed = wait_allowed(mode, horizon, N)
    c_w = costs.wait_cost
    M = horizon
    if M < N and not allowed[M] and quad.law.divergent:
        raise _infinite(quad.law, M, N, mode, f"at placement M = {M} the optimal rule (forced, no waiting)")
    G = np.empty(M + 1)
    cont = np.empty(M + 1, dtype=np.int8)
    expected = np.empty(M + 1)
    for n in range(M, -1, -1):
        C = float(expected[n + 1]) if n < M else math.inf
        Wv = c_w + quad.wait_fixed_point(n, C, c_w) if allowed[n] else math.inf
        g = min(C, Wv)
        G[n] = g
        cont[n] = COMPUTE if tied_or_less(C, Wv) else WAIT
        if math.isinf(g):  # forced stop at n = M (n = N, or a convergent law)
            expected[n] = quad.stop_part(n, 0.0)
            cont[n] = STOP
        else:
            expected[n] = quad.psi(n, g)
    forced = np.zeros(M + 1, dtype=bool)
    forced[M] = not allowed[M]
    thresholds = thresholds_from(G, costs, forced)
    cont[thresholds == 0.0] = STOP
    return ContinuousSolution(ThresholdPolicy(M, thresholds, cont), expected, float(expected[0]))


def continuous_osla(quad: Quadrature, horizon: int, mode: str) -> ContinuousSolution:
    """The OSLA rule on the continuous law (look-ahead values by quadrature), evaluated exactly."""
    costs = quad.costs
    N = costs.n_layers
    allowed = wait_allowed(mode, horizon, N)
    M = horizon
    mean_y = [quad.stop_part(n, 0.0) for n in range(min(M + 1, N) + 1)]
    L = np.empty(M + 1)
    cont = np.empty(M + 1, dtype=np.int8)
    for n in range(M + 1):
        Lc = mean_y[n + 1] if n < M else math.inf
        Lw = costs.wait_cost + mean_y[n] if allowed[n] else math.inf
        L[n] = min(Lc, Lw)
        cont[n] = COMPUTE if tied_or_less(Lc, Lw) else WAIT
    forced = np.zeros(M + 1, dtype=bool)
    forced[M] = not allowed[M]
    thresholds = thresholds_from(L, costs, forced)
    cont[thresholds == 0.0] = STOP
    who = f"the OSLA rule at placement M = {M} (its look-ahead values E[Y_n+1], c_w + E[Y_n] are infinite, so it)"
    return evaluate_thresholds(quad, ThresholdPolicy(M, thresholds, cont), mode, who, CURE_OSLA)


def continuous_rule(quad: Quadrature, horizon: int, mode: str, rule: str) -> ContinuousSolution:
    """:func:`continuous_optimal` or :func:`continuous_osla`."""
    return (continuous_optimal if rule == "optimal" else continuous_osla)(quad, horizon, mode)


def quadrature_for(problem: Problem) -> Quadrature:
    """The :class:`Quadrature` of a prepared problem (``InstanceError`` unless its law is continuous)."""
    return Quadrature(continuous_law(problem.instance.channel), problem.costs)


def continuous_values(
    problem: Problem, rule: str, placements: list[int] | None = None
) -> dict[int, ContinuousSolution | None]:
    """:math:`J(M)` on the continuous law for each placement; ``None`` where it is infinite."""
    quad = quadrature_for(problem)
    mode = problem.instance.wait.mode
    out: dict[int, ContinuousSolution | None] = {}
    for m in problem.placements if placements is None else placements:
        try:
            out[m] = continuous_rule(quad, m, mode, rule)
        except InstanceError:
            if not quad.law.divergent:
                raise
            out[m] = None
    return out


def _num(x: float) -> float | None:
    return None if math.isinf(x) else float(x)


def continuous_summary(problem: Problem, result: SolveResult) -> dict[str, Any]:
    """The ``continuous`` object of ``coopt solve --continuous``: the value of the rule
    in force on the continuous law at the quantised optimum ``M*``, beside the quantised one.

    ``quantisation_error`` is the quantised objective minus the continuous one;
    ``relative_error`` divides it by the continuous one (``None`` when that is 0).
    Raises ``InstanceError`` when the continuous value at ``M*`` is infinite.
    """
    quad = quadrature_for(problem)
    inst = problem.instance
    M = result.placement
    sol = continuous_rule(quad, M, inst.wait.mode, result.rule)
    download = float(problem.costs.download[M]) / inst.placement.tasks_per_period
    objective = sol.value + download
    return {
        "law": quad.law.law,
        "rule": result.rule,
        "placement": M,
        "objective": objective,
        "task_cost": sol.value,
        "thresholds": [_num(x) for x in sol.thresholds],
        "quantised_states": problem.channel.n_states,
        "quantised_objective": result.objective,
        "quantisation_error": result.objective - objective,
        "relative_error": None if objective == 0 else (result.objective - objective) / objective,
    }


def continuous_report(summary: dict[str, Any]) -> str:
    """Readable lines for the ``continuous`` object."""
    rel = summary["relative_error"]
    return "\n".join(
        [
            f"continuous {summary['law']} law (quadrature, rule {summary['rule']}) at M* = {summary['placement']}",
            f"  Phi(M*) = {summary['objective']:.6e} per task (quantised with K = {summary['quantised_states']}: "
            f"{summary['quantised_objective']:.6e}, error {summary['quantisation_error']:+.3e}, "
            f"{'n/a (Phi = 0)' if rel is None else f'{100 * rel:+.4f} %'})",
        ]
    )
