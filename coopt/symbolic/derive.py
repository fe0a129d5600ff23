r"""Symbolic derivations of the coopt model (SymPy): thresholds, waiting, OSLA and the
closed-form placement of the equal-neuron MLP.

This is the only module that imports SymPy at import time; :mod:`coopt.symbolic.closed_form`,
:mod:`coopt.symbolic.latex` and the CLI import it lazily, so ``import coopt`` and the numeric
core (:mod:`coopt.dp.stopping`, enumeration) never pay for it. Every symbol is declared
once below, with its assumptions and its docs/model.md name; :data:`SYMBOLS` is the symbol
table the LaTeX documents print. Library code here builds and solves expressions and
never calls ``simplify()``; numbers are obtained with ``lambdify``.

The derivations (docs/model.md sections 2, 4 and 5)
===================================================

Thresholds. :math:`Y_n(h) = A_n + R_n + O_n + (w_E P + w_T) d_n / r(h)` with
:math:`r(h) = B\log_2(1+\rho h)` falls as :math:`h` grows, so the rule "stop iff
:math:`Y_n(h) \le G_n`" is "stop iff :math:`h \ge \theta_n`" with :math:`\theta_n` the
root of :math:`Y_n(\theta) = G_n`. It is solved in two steps: for the rate,
:math:`r(\theta) = (w_E P + w_T) d_n / (G_n - A_n - R_n - O_n)` (a positive rate exists iff
:math:`G_n > A_n + R_n + O_n`, otherwise :math:`\theta_n = +\infty`), then for the gain,
:math:`\theta_n = (2^{r/B} - 1)/\rho`. OSLA replaces :math:`G_n` by
:math:`\min(L^c_n, L^w_n)`.

Waiting (finite i.i.d. channel). With :math:`m_k = \min(Y_n(g_k), C_n)` sorted
increasingly, if exactly the states :math:`1..j` stop then
:math:`\bar W = \sum_{k\le j} p_k m_k + \sum_{k>j} p_k (c_w + \bar W)`, a linear
equation with root :math:`\bar W_j`; the fixed point is the first :math:`\bar W_j`
with :math:`m_{j+1} > c_w + \bar W_j` (each :math:`\bar W_j` is a weighted mean of
:math:`\bar W_{j-1}` and :math:`m_j - c_w`, so the first such :math:`j` is consistent).
The stationary wait threshold solves :math:`Y_n(\theta) = c_w + \bar W_n`; at it one
more slot's expected saving equals its cost: :math:`c_w = \sum_k p_k
(Y_n(\theta) - m_k)^+`.

Equal-neuron MLP under OSLA (see :func:`mlp_structure` for the exact structure, and
:mod:`coopt.symbolic.closed_form` for the numeric evaluation and the comparison with
enumeration).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import sympy as sp

from coopt.symbolic import notation

# ----------------------------------------------------------------------------- symbols


@dataclass(frozen=True)
class SymbolInfo:
    """One row of the symbol table: the SymPy object, its LaTeX, meaning (LaTeX text, any
    mathematics in ``$...$``) and unit (LaTeX math, ``""`` for a count, ``"1"`` for a
    dimensionless ratio), as :class:`coopt.symbolic.notation.Quantity` has them."""

    symbol: sp.Basic
    latex: str
    meaning: str
    unit: str = ""


SYMBOLS: dict[str, SymbolInfo] = {}
"""Every symbol of the derivations, keyed by its SymPy name, in declaration order."""

LATEX_NAMES: dict[sp.Basic, str] = {}
"""LaTeX of each symbol (also of Indexed bases and undefined functions)."""


_U = r"\mathrm"  # units are LaTeX math: rf"{_U}{{bit}}" is \mathrm{bit}


def _info(name: str, latex: str, meaning: str | None, unit: str | None, obj: sp.Basic) -> SymbolInfo:
    """The table row of ``name``: meaning and unit from :data:`coopt.symbolic.notation.NOTATION`
    when not given (the quantities docs/model.md and the figures name too), else as given."""
    if meaning is None or unit is None:
        row = notation.by_name(name)
        meaning = row.meaning if meaning is None else meaning
        unit = row.unit if unit is None else unit
    SYMBOLS[name] = SymbolInfo(obj, latex, meaning, unit)
    LATEX_NAMES[obj] = latex
    return SYMBOLS[name]


def _declare(
    name: str, latex: str, meaning: str | None = None, unit: str | None = None, **assumptions: bool
) -> sp.Symbol:
    sym = sp.Symbol(name, **assumptions)
    _info(name, latex, meaning, unit, sym)
    return sym


def _indexed(
    name: str, latex: str, meaning: str | None = None, unit: str | None = None, **assumptions: bool
) -> sp.IndexedBase:
    base = sp.IndexedBase(name, **assumptions)
    _info(name, latex, meaning, unit, base)
    return base


def _function(
    name: str, latex: str, meaning: str | None = None, unit: str | None = None
) -> sp.core.function.UndefinedFunction:
    func = sp.Function(name)
    _info(name, latex, meaning, unit, func)
    return func


# Indices.
n = _declare("n", "n", integer=True, nonnegative=True)
i = _declare("i", "i", integer=True, positive=True)
k = _declare("k", "k", integer=True, positive=True)
j = _declare("j", "j", integer=True, positive=True)
M = _declare("M", "M", integer=True, nonnegative=True)
N = _declare("N", "N", integer=True, positive=True)
K = _declare("K", "K", integer=True, positive=True)

# Device, edge, link and cost weights (docs/model.md section 2).
w_E = _declare("w_E", "w_{E}", nonnegative=True)
w_T = _declare("w_T", "w_{T}", nonnegative=True)
kappa = _declare("kappa", r"\kappa", nonnegative=True)
f_L = _declare("f_L", "f_{L}", positive=True)
c_L = _declare("c_L", "c_{L}", positive=True)
f_E = _declare("f_E", "f_{E}", positive=True)
c_E = _declare("c_E", "c_{E}", positive=True)
P = _declare("P", "P", positive=True)
P_idle = _declare("P_idle", r"P_{\mathrm{idle}}", nonnegative=True)
B = _declare("B", "B", positive=True)
sigma2 = _declare("sigma2", r"\sigma^{2}", positive=True)
rho = _declare("rho", r"\rho", positive=True)
tau = _declare("tau", r"\tau", positive=True)
c_w = _declare("c_w", "c_{w}", positive=True)
K_tasks = _declare("K_tasks", r"K_{\mathrm{tasks}}", positive=True)
r_DL = _declare("r_DL", r"r_{\mathrm{DL}}", positive=True)
e_rx = _declare("e_rx", r"e_{\mathrm{rx}}", nonnegative=True)
S_max = _declare("S_max", r"S_{\mathrm{max}}", nonnegative=True)

# Channel.
h = _declare("h", "h", positive=True)
theta = _declare("theta", r"\theta", positive=True)
g = _indexed("g", "g", positive=True)
p = _indexed("p", "p", positive=True)

# Layers and epochs (generic epoch n); mu is docs/model.md's macs.
mu = _indexed("mu", r"\mu", nonnegative=True)
a = _indexed("a", "a")
b = _indexed("b", "b")
s = _indexed("s", "s", nonnegative=True)
d_n = _declare("d_n", "d_{n}", positive=True)
A_n = _declare("A_n", "A_{n}", nonnegative=True)
R_n = _declare("R_n", "R_{n}", nonnegative=True)
O_n = _declare("O_n", "O_{n}", nonnegative=True)
d_n1 = _declare("d_n1", "d_{n+1}", nonnegative=True)
A_n1 = _declare("A_n1", "A_{n+1}", nonnegative=True)
R_n1 = _declare("R_n1", "R_{n+1}", nonnegative=True)
O_n1 = _declare("O_n1", "O_{n+1}", nonnegative=True)
G_n = _declare("G_n", "G_{n}", real=True)
C_n = _declare("C_n", "C_{n}", real=True)
W_n = _declare("W_n", "W_{n}", real=True)  # docs/model.md's \bar W_n (the parser reads no accents)
Lc_n = _declare("Lc_n", "L_{n}^{c}", real=True)
Lw_n = _declare("Lw_n", "L_{n}^{w}", real=True)
theta_n = _declare("theta_n", r"\theta_{n}", nonnegative=True)
mv = _indexed("m", "m")

Y_f = _function("Y_n", "Y_{n}")
V_f = _function("V_n", "V_{n}")
V1_f = _function("V_n1", "V_{n+1}", "optimal expected cost from epoch $n+1$", "1")
V0_f = _function("V_0", "V_{0}", "optimal expected cost from epoch 0", "1")
T_f = _function("T_n", "T_{n}", "upload cost at epoch $n$", "1")
r_f = _function("r", "r", "uplink rate", rf"{_U}{{bit/s}}")
J_f = _function("J", "J", "expected task cost of placement $M$ under the rule in force", "1")
D_f = _function("D", "D", "download cost of placement $M$, per period", "1")

# Equal-neuron MLP (docs/model.md section 5).
H = _declare("H", "H", "hidden layers of the MLP ($N = H + 1$)", "", integer=True, positive=True)
N_in = _declare("N_in", r"N_{\mathrm{in}}", r"MLP input size ($\mathit{out}_{0}$)", "", integer=True, positive=True)
N_h = _declare("N_h", "N_{h}", "MLP width: neurons per hidden layer", "", integer=True, positive=True)
N_out = _declare("N_out", r"N_{\mathrm{out}}", "MLP classes (outputs of layer $N$)", "", integer=True, positive=True)
b_f = _declare(
    "b_f",
    "b_{f}",
    r"bits per feature element (\texttt{network.feature\_bits})",
    rf"{_U}{{bit}}",
    integer=True,
    positive=True,
)
b_p = _declare(
    "b_p", "b_{p}", r"bits per parameter (\texttt{network.param\_bits})", rf"{_U}{{bit}}", integer=True, positive=True
)
mu_1 = _declare("mu_1", r"\mu_{1}", r"MACs of layer 1 (input $\to$ hidden)", rf"{_U}{{MAC}}", nonnegative=True)
mu_h = _declare("mu_h", r"\mu_{h}", "MACs of each of the identical layers $2..H$", rf"{_U}{{MAC}}", nonnegative=True)
mu_N = _declare("mu_N", r"\mu_{N}", "MACs of the output layer $N = H + 1$", rf"{_U}{{MAC}}", nonnegative=True)
s_1 = _declare("s_1", "s_{1}", "parameter bits of layer 1", rf"{_U}{{bit}}", nonnegative=True)
s_h = _declare("s_h", "s_{h}", "parameter bits of each of the layers $2..H$", rf"{_U}{{bit}}", nonnegative=True)
s_N = _declare("s_N", "s_{N}", "parameter bits of the output layer", rf"{_U}{{bit}}", nonnegative=True)
d_0 = _declare("d_0", "d_{0}", "bits of the raw input (uploaded at epoch 0)", rf"{_U}{{bit}}", positive=True)
d_h = _declare("d_h", "d_{h}", "bits of a hidden feature (uploaded at epochs $1..H$)", rf"{_U}{{bit}}", positive=True)
alpha = _declare(
    "alpha", r"\alpha", r"device cost of one MAC: $a_{i} = \alpha \mu_{i}$", rf"{_U}{{MAC}}^{{-1}}", nonnegative=True
)
beta = _declare(
    "beta", r"\beta", r"edge cost of one MAC: $b_{i} = \beta \mu_{i}$", rf"{_U}{{MAC}}^{{-1}}", nonnegative=True
)
delta = _declare(
    "delta",
    r"\delta",
    r"$(\alpha - \beta) \mu_{h}$: net cost of moving one hidden layer to the device",
    "1",
    real=True,
)
q = _declare("q", "q", "OSLA stop probability at the hidden epochs $1..H-1$", "1", nonnegative=True)
q_0 = _declare("q_0", "q_{0}", "OSLA stop probability at epoch 0", "1", nonnegative=True)
q_H = _declare("q_H", "q_{H}", "OSLA stop probability at epoch $H$ (before the output layer)", "1", nonnegative=True)
q_w = _declare("q_w", "q_{w}", "stop probability of the last-epoch wait rule at a hidden epoch", "1", positive=True)
q_w0 = _declare("q_w0", "q_{w0}", "stop probability of the wait rule at epoch 0 ($M = 0$)", "1", positive=True)
U = _declare(
    "U",
    "U",
    r"$(w_{E} P + w_{T}) d_{h}$: upload weight of a hidden feature",
    rf"{_U}{{bit/s}}",
    positive=True,
)
U_0 = _declare(
    "U_0",
    "U_{0}",
    r"$(w_{E} P + w_{T}) d_{0}$: upload weight of the raw input",
    rf"{_U}{{bit/s}}",
    positive=True,
)
# eta and the psi's after the upload weights: products read d_n eta, U eta, U psi as docs/model.md
eta = _declare("eta", r"\eta", positive=True)
psi = _declare("psi", r"\psi", r"$E[1/r(h);\ h \ge \theta_{h}]$", rf"{_U}{{s/bit}}", nonnegative=True)
psi_0 = _declare("psi_0", r"\psi_{0}", r"$E[1/r(h);\ h \ge \theta_{0}]$", rf"{_U}{{s/bit}}", nonnegative=True)
psi_H = _declare("psi_H", r"\psi_{H}", r"$E[1/r(h);\ h \ge \theta_{H}]$", rf"{_U}{{s/bit}}", nonnegative=True)
psi_w = _declare("psi_w", r"\psi_{w}", r"$E[1/r(h);\ h \ge \theta_{w}]$", rf"{_U}{{s/bit}}", nonnegative=True)
psi_w0 = _declare("psi_w0", r"\psi_{w0}", r"$E[1/r(h);\ h \ge \theta_{w0}]$", rf"{_U}{{s/bit}}", nonnegative=True)
k_h = _declare("k_h", "k_{h}", "first channel state that stops at a hidden epoch", "", integer=True, positive=True)
# Z before omega: Z_1 + omega, Z_0 + omega_0 as the texts write them
Z_0 = _declare("Z_0", "Z_{0}", "$A_{0} + R_{0}$: the task run wholly on the edge", "1", nonnegative=True)
Z_1 = _declare("Z_1", "Z_{1}", "$A_{1} + R_{1}$", "1", nonnegative=True)
Z_N = _declare("Z_N", "Z_{N}", "$A_{N}$: the task run wholly on the device", "1", nonnegative=True)
omega = _declare("omega", r"\omega", "expected upload-and-wait cost at the last placed hidden epoch", "1", real=True)
omega_0 = _declare("omega_0", r"\omega_{0}", "the same at epoch 0 (placement $M = 0$)", "1", real=True)
omega_N = _declare(
    "omega_N", r"\omega_{N}", "excess over $Z_{H}$ of epoch $H$ when layer $N$ is placed", "1", real=True
)
Delta = _declare("Delta", r"\Delta", "per-epoch change of the task cost, before the reach probability", "1", real=True)
M_h = _declare("M_h", "M_{h}", "best hidden placement without the memory limit", "", integer=True, positive=True)
M_max = _declare(
    "M_max", r"M_{\mathrm{max}}", "largest placement the memory limit allows", "", integer=True, nonnegative=True
)
gamma = _declare(
    "gamma",
    r"\gamma",
    r"$(w_{T} / r_{\mathrm{DL}} + w_{E} e_{\mathrm{rx}}) / K_{\mathrm{tasks}}$: download cost of one parameter bit, "
    "per task",
    rf"{_U}{{bit}}^{{-1}}",
    nonnegative=True,
)
sigma_0 = _declare(
    "sigma_0",
    r"\sigma_{0}",
    r"$q_{0} Z_{0} + U_{0} \psi_{0}$: expected cost of stopping at epoch 0",
    "1",
    nonnegative=True,
)
Delta_N = _declare("Delta_N", r"\Delta_{N}", r"$\Delta$ with $\omega$ replaced by $\omega_{N}$", "1", real=True)
Phi_f = _function("Phi", r"\Phi", r"placement objective $J(M) + D(M) / K_{\mathrm{tasks}}$", "1")
Geo_f = _function(
    "S",
    "S",
    r"$S(M)$: the geometric sum $\sum_{j=1}^{M-1} (1-q)^{j-1}$; $S(x, y)$: the conditional survival function "
    r"$\Pr(h' > y \mid h = x)$ of the power gain",
    "1",
)

# Time-correlated Rayleigh fading (docs/model.md 10.4).
omega_D = _declare(
    "omega_D",
    r"\omega_{D}",
    r"angular Doppler frequency $2 \pi f_{D}$ (Clarke's model)",
    rf"{_U}{{rad/s}}",
    positive=True,
)
# Delta_t after omega_D: J_0(omega_D Delta_t)
Delta_t = _declare(
    "Delta_t", r"\Delta_{t}", "time elapsed between two decisions (a layer or a slot)", rf"{_U}{{s}}", positive=True
)
T_c = _declare("T_c", "T_{c}", positive=True)
h_mean = _declare("h_mean", r"h_{\mathrm{mean}}", positive=True)  # docs/model.md's \bar h
lam = _declare("lambda", r"\lambda", r"correlation of the two power gains, $r(\Delta_{t})^{2}$", "1", nonnegative=True)
x_g = _declare("x", "x", "power gain seen at the earlier decision", "1", positive=True)
y_g = _declare("y", "y", "a power gain at the later decision", "1", positive=True)
alpha_Q = _declare("alpha_Q", r"\alpha_{Q}", "first argument of the Marcum $Q$-function", "1", nonnegative=True)
beta_Q = _declare("beta_Q", r"\beta_{Q}", "second argument of the Marcum $Q$-function", "1", nonnegative=True)
v_q = _declare("v", "v", "integration variable of the Marcum $Q$-function", "1", positive=True)
e_edge = _indexed(
    "e",
    "e",
    r"quantisation bin edge $e_{j} = -h_{\mathrm{mean}} \ln(1 - j/K)$, $e_{0} = 0$, $e_{K} = \infty$",
    "1",
    nonnegative=True,
)
J0_f = _function("J_0", "J_{0}", "Bessel function of the first kind of order 0", "1")
I0_f = _function("I_0", "I_{0}", "modified Bessel function of the first kind of order 0", "1")
Q1_f = _function("Q_1", "Q_{1}", "Marcum $Q$-function of order 1", "1")
Surv_f = Geo_f  # one name S: the geometric sum S(M) and the survival function S(x, y)

# Derived (not symbols of their own): the per-bit download cost and the pieces of Phi.
DOWNLOAD_PER_BIT = w_T / r_DL + w_E * e_rx
"""Cost of downloading one parameter bit, :math:`w_T/r_{DL} + w_E e_{rx}`."""

UPLOAD_WEIGHT = w_E * P + w_T
"""Cost of one second of uploading, :math:`w_E P + w_T` (multiplies :math:`d_n/r(h)`)."""


# ----------------------------------------------------------------------------- model


def rate(gain: sp.Expr = h) -> sp.Expr:
    """Uplink rate :math:`r(h) = B \\log_2(1 + \\rho h)` (bit/s)."""
    return B * sp.log(1 + rho * gain) / sp.log(2)


def stop_cost(gain: sp.Expr = h) -> sp.Expr:
    """:math:`Y_n(h) = A_n + R_n + (w_E P + w_T) d_n / r(h)` at a generic epoch ``n < N``."""
    return A_n + O_n + R_n + UPLOAD_WEIGHT * d_n / rate(gain)


@dataclass(frozen=True)
class Step:
    """One displayed line of a derivation: ``lhs = rhs`` with a sentence before it.

    ``lhs`` is LaTeX (a label, typeset as is); ``rhs`` is the SymPy expression, or a
    ``Piecewise`` (typeset as cases), or an ``Eq`` (an equation to be solved).
    """

    text: str
    lhs: str = ""
    rhs: sp.Basic | None = None


@dataclass(frozen=True)
class Derivation:
    """A named derivation: a title, an introduction and its steps, in order."""

    name: str
    title: str
    intro: str
    steps: tuple[Step, ...]


def model_definitions() -> Derivation:
    """The cost model of docs/model.md section 2 as formulas."""
    return Derivation(
        "model",
        "The cost model",
        "A task runs layers $1..n$ on the device and uploads the feature of epoch $n$; "
        "every cost is weighted energy plus weighted time.",
        (
            Step(
                "Local and edge cost of layer $i$ with $\\mu_{i}$ multiply-accumulates:",
                "a_{i}",
                w_E * kappa * f_L**2 * c_L * mu[i] + w_T * c_L * mu[i] / f_L,
            ),
            Step("", "b_{i}", w_T * c_E * mu[i] / f_E),
            Step("Prefix and suffix sums:", "A_{n}", sp.Sum(a[i], (i, 1, n))),
            Step("", "R_{n}", sp.Sum(b[i], (i, n + 1, N))),
            Step("Uplink rate with $\\rho = P/\\sigma^{2}$:", r"\rho", P / sigma2),
            Step("", "r(h)", rate(h)),
            Step("Upload cost of epoch $n < N$ ($T_{N} = 0$):", "T_{n}(h)", UPLOAD_WEIGHT * d_n / r_f(h)),
            Step(
                "Stop cost (the whole task's cost when uploading at epoch $n$ with gain $h$):",
                "Y_{n}(h)",
                A_n + O_n + T_f(h) + R_n,
            ),
            Step("Cost of one waiting slot:", "c_{w}", w_T * tau + w_E * P_idle * tau),
            Step(
                "Download cost of placement $M$ (once per period):", "D(M)", sp.Sum(s[i] * DOWNLOAD_PER_BIT, (i, 1, M))
            ),
            Step(
                "Placement objective, the download amortised over the period's tasks:",
                r"\Phi(M)",
                J_f(M) + D_f(M) / K_tasks,
            ),
        ),
    )


def recursion() -> Derivation:
    """Exact backward induction on a finite i.i.d. channel (docs/model.md section 4)."""
    return Derivation(
        "recursion",
        "Backward induction",
        "On the quantised channel (states $g_{k}$ with probabilities $p_{k}$) the optimal "
        "expected cost $V_{n}(h)$ from epoch $n$ with gain $h$ satisfies, for $n < M$:",
        (
            Step("Computing one more layer:", "C_{n}", sp.Sum(p[k] * V1_f(g[k]), (k, 1, K))),
            Step(
                "Waiting (where allowed; $W_{n}$ is the fixed point of this equation, solved in closed form "
                "in the waiting derivation):",
                "W_{n}",
                sp.Sum(p[k] * sp.Min(Y_f(g[k]), C_n, c_w + W_n), (k, 1, K)),
            ),
            Step(
                "Best continuation ($G_{n} = C_{n}$ where waiting is not allowed, $C_{M} = +\\infty$):",
                "G_{n}",
                sp.Min(C_n, c_w + W_n),
            ),
            Step("Value:", "V_{n}(h)", sp.Min(Y_f(h), G_n)),
            Step("Optimal task cost of placement $M$:", "J^{*}(M)", sp.Sum(p[k] * V0_f(g[k]), (k, 1, K))),
        ),
    )


# ----------------------------------------------------------------------------- thresholds


@dataclass(frozen=True)
class ThresholdSolution:
    """The threshold equation and its solution in two steps.

    ``equation``: :math:`Y_n(\\theta) = G`; ``rate_at_threshold``: the rate solving it;
    ``theta``: the root for :math:`G > A_n + R_n`; ``threshold``: the Piecewise with
    :math:`+\\infty` otherwise.
    """

    equation: sp.Eq
    rate_at_threshold: sp.Expr
    theta: sp.Expr
    threshold: sp.Piecewise


def _solve_threshold(G: sp.Expr) -> ThresholdSolution:
    rate_sym = sp.Symbol("r_theta", positive=True)
    # Step 1: Y_n = A_n + R_n + (w_E P + w_T) d_n / r is affine in 1/r; solve for the rate.
    (r_sol,) = sp.solve(sp.Eq(A_n + O_n + R_n + UPLOAD_WEIGHT * d_n / rate_sym, G), rate_sym)
    # solve() returns the rate with the signs of numerator and denominator flipped;
    # print it as docs/model.md does, after checking that the two agree (a rational identity).
    r_model = UPLOAD_WEIGHT * d_n / (G - A_n - R_n - O_n)
    if sp.cancel(r_sol - r_model) != 0:  # pragma: no cover - would be a SymPy regression
        raise ArithmeticError(f"threshold rate {r_sol} differs from {r_model}")
    # Step 2: invert r(theta) = B log2(1 + rho theta) (strictly increasing).
    (theta_sol,) = sp.solve(sp.Eq(rate(theta), rate_sym), theta)
    theta_expr = theta_sol.subs(rate_sym, r_model)
    piecewise = sp.Piecewise((theta_expr, G > A_n + R_n + O_n), (sp.oo, True))
    return ThresholdSolution(sp.Eq(stop_cost(theta), G), r_model, theta_expr, piecewise)


@cache
def optimal_threshold() -> ThresholdSolution:
    """:math:`\\theta_n` of the optimal rule: the root of :math:`Y_n(\\theta) = G_n`.

    :math:`\\theta_n = (2^{(w_E P + w_T) d_n / (B (G_n - A_n - R_n))} - 1)/\\rho` if
    :math:`G_n > A_n + R_n`, else :math:`+\\infty` (and 0 where stopping is forced).
    """
    return _solve_threshold(G_n)


def osla_lookahead() -> tuple[sp.Expr, sp.Expr]:
    """:math:`(L^c_n, L^w_n)`: compute one layer then stop; wait one slot then stop.

    Both are expected stop costs, so both carry the per-upload overhead (:math:`O_{n+1}`,
    :math:`O_n`; :math:`O_N = 0` and :math:`d_N` is not uploaded, :math:`T_N = 0`)."""
    Lc = A_n1 + O_n1 + R_n1 + UPLOAD_WEIGHT * d_n1 * eta
    Lw = c_w + A_n + O_n + R_n + UPLOAD_WEIGHT * d_n * eta
    return Lc, Lw


@cache
def osla_threshold() -> ThresholdSolution:
    """The OSLA threshold: the root of :math:`Y_n(\\theta) = \\min(L^c_n, L^w_n)`.

    The look-ahead values are expectations of stop costs, so
    :math:`E[Y_n(h)] = A_n + R_n + (w_E P + w_T) d_n \\eta` with
    :math:`\\eta = E[1/r(h)]`. Where a continuation is not allowed its look-ahead is
    :math:`+\\infty` (``Lc_n``/``Lw_n`` substituted by ``oo``).
    """
    return _solve_threshold(sp.Min(Lc_n, Lw_n))


# ----------------------------------------------------------------------------- waiting


def wait_piece(stopping: int | sp.Expr, states: int | sp.Expr = K) -> sp.Expr:
    """:math:`\\bar W_j`: the waiting value if exactly the states ``1..j`` stop.

    Root of :math:`W = \\sum_{k\\le j} p_k m_k + (c_w + W)\\sum_{k>j} p_k` (linear in W).
    """
    W = sp.Symbol("W_unknown", real=True)
    stop_part = sp.Sum(p[k] * mv[k], (k, 1, stopping))
    wait_mass = sp.Sum(p[k], (k, stopping + 1, states))
    (root,) = sp.solve(sp.Eq(W, stop_part + (c_w + W) * wait_mass), W)
    return root


def wait_piece_identity(stopping: int | sp.Expr, states: int | sp.Expr = K) -> sp.Expr:
    """The same root written with :math:`\\sum_{k\\le j} p_k` in the denominator.

    With :math:`\\sum_{k=1}^{K} p_k = 1` it equals :func:`wait_piece`; this is the form
    the document prints, and docs/model.md's numeric solver uses.
    """
    return (sp.Sum(p[k] * mv[k], (k, 1, stopping)) + c_w * sp.Sum(p[k], (k, stopping + 1, states))) / sp.Sum(
        p[k], (k, 1, stopping)
    )


@cache
def wait_fixed_point(states: int) -> sp.Piecewise:
    """Closed form of :math:`\\bar W = E[\\min(m(h), c_w + \\bar W)]` for ``K = states``.

    A Piecewise over the number ``j`` of stopping states: :math:`\\bar W_j` on the
    first ``j`` with :math:`m_{j+1} > c_w + \\bar W_j` (the sorted :math:`m_k` are
    ``m[1..K]``); all states stop at the last piece.
    """
    pieces = []
    for jj in range(1, states + 1):
        piece = wait_piece_identity(jj, states).doit()
        cond = sp.true if jj == states else mv[jj + 1] > c_w + piece
        pieces.append((piece, cond))
    return sp.Piecewise(*pieces)


@cache
def wait_threshold() -> ThresholdSolution:
    """The stationary wait threshold :math:`\\theta^w_n`: root of :math:`Y_n(\\theta) = c_w + \\bar W_n`.

    Where waiting is the only continuation (epoch :math:`M < N` in mode ``last``),
    :math:`G_n = c_w + \\bar W_n`; the same threshold holds in every slot (stationary).
    """
    return _solve_threshold(c_w + W_n)


# ----------------------------------------------------------------------------- MLP


@dataclass(frozen=True)
class MlpStructure:
    r"""The equal-neuron MLP's cost structure under OSLA (placement :math:`M`).

    Layers: 1 (:math:`N_{in} \to N_h`), 2..H (identical, :math:`N_h \to N_h`),
    :math:`N = H + 1` (:math:`N_h \to N_{out}`). With :math:`Z_n = A_n + R_n`, the
    per-MAC costs :math:`\alpha, \beta` and :math:`U_n = (w_E P + w_T) d_n`:

    * definitions ``Z0``, ``Z1``, ``ZN``, ``U0``, ``U``, ``delta`` of the symbols
      :math:`Z_0, Z_1, Z_N, U_0, U, \delta`; for :math:`1 \le n \le H`,
      :math:`Z_n = Z_1 + (n-1)\delta` with :math:`\delta = (\alpha-\beta)\mu_h`.
    * OSLA at an epoch :math:`n < M` compares :math:`Y_n(h)` with
      :math:`L^c_n = E[Y_{n+1}]` only (modes ``never``/``last`` allow no waiting
      before the last placed epoch): stop iff
      :math:`U_n/r(h) \le Z_{n+1} - Z_n + U_{n+1}\eta`. The right side, the *margin*, is

      - epoch 0: ``margin0`` :math:`= (\alpha-\beta)\mu_1 + U\eta` (uploads :math:`d_0`);
      - epochs :math:`1..H-1` (the next layer is hidden): ``margin_h``
        :math:`= \delta + U\eta`, the same at every such epoch, hence one threshold
        :math:`\theta_h` and one stop probability :math:`q` (epoch 1 included: its
        decision involves layer 2 only);
      - epoch :math:`H` (next is the output layer, :math:`U_N = 0`): ``marginH``
        :math:`= (\alpha-\beta)\mu_N`.
    * At the last placed epoch :math:`M < N`: mode ``never`` forces the upload
      (expected :math:`Z_M + U_M\eta`); mode ``last`` waits until
      :math:`U_M/r(h) \le c_w + U_M\eta` (``margin_w``; ``margin_w0`` at :math:`M=0`),
      expected :math:`Z_M + (U_M\psi_w + (1-q_w)c_w)/q_w`. At :math:`M = N` the task
      finishes on the device at :math:`Z_N = A_N`.
    """

    Z0: sp.Expr
    Z1: sp.Expr
    ZN: sp.Expr
    U0: sp.Expr
    U: sp.Expr
    delta: sp.Expr
    margin0: sp.Expr
    margin_h: sp.Expr
    marginH: sp.Expr
    margin_w: sp.Expr
    margin_w0: sp.Expr


def cost_per_mac() -> tuple[sp.Expr, sp.Expr]:
    """:math:`(\\alpha, \\beta)`: device and edge cost of one MAC (docs/model.md :math:`a_i, b_i`)."""
    return w_E * kappa * f_L**2 * c_L + w_T * c_L / f_L, w_T * c_E / f_E


@cache
def mlp_structure() -> MlpStructure:
    """The epochs' costs and OSLA margins of the equal-neuron MLP (see :class:`MlpStructure`)."""
    return MlpStructure(
        Z0=beta * (mu_1 + (H - 1) * mu_h + mu_N),
        Z1=alpha * mu_1 + beta * ((H - 1) * mu_h + mu_N),
        ZN=alpha * (mu_1 + (H - 1) * mu_h + mu_N),
        U0=UPLOAD_WEIGHT * d_0,
        U=UPLOAD_WEIGHT * d_h,
        delta=(alpha - beta) * mu_h,
        margin0=(alpha - beta) * mu_1 + U * eta,
        margin_h=delta + U * eta,
        marginH=(alpha - beta) * mu_N,
        margin_w=c_w + U * eta,
        margin_w0=c_w + U_0 * eta,
    )


def threshold_from_margin(weight: sp.Expr, margin: sp.Expr) -> sp.Piecewise:
    """The threshold with :math:`G_n - A_n - R_n` = ``margin`` and :math:`(w_E P + w_T) d_n` = ``weight``.

    This is :func:`optimal_threshold` with :math:`G_n = A_n + R_n + \\mathrm{margin}`.
    """
    uw = sp.Symbol("U_weight", positive=True)
    # theta depends on d_n only through (w_E P + w_T) d_n; substitute that product whole.
    expr = optimal_threshold().theta.subs(d_n, uw / UPLOAD_WEIGHT).subs(G_n, A_n + R_n + O_n + margin).subs(uw, weight)
    return sp.Piecewise((expr, margin > 0), (sp.oo, True))


@cache
def mlp_thresholds() -> dict[str, sp.Expr]:
    """OSLA thresholds of the equal-neuron MLP: ``theta_0``, ``theta_h`` (epochs 1..H-1),
    ``theta_H``, ``theta_w`` (wait rule at a hidden last placed epoch), ``theta_w0`` (at M = 0).

    Piecewise with :math:`+\\infty` where the margin may be :math:`\\le 0`; the wait
    thresholds' margins :math:`c_w + U\\eta` are positive, so SymPy drops that branch."""
    st = mlp_structure()
    return {
        "theta_0": threshold_from_margin(U_0, st.margin0),
        "theta_h": threshold_from_margin(U, st.margin_h),
        "theta_H": threshold_from_margin(U, st.marginH),
        "theta_w": threshold_from_margin(U, st.margin_w),
        "theta_w0": threshold_from_margin(U_0, st.margin_w0),
    }


def stop_statistics() -> tuple[sp.Expr, sp.Expr, sp.Expr]:
    """:math:`(\\eta, q, \\psi)` on the quantised channel.

    The stop set of a threshold is an upper set of the states sorted by gain:
    :math:`\\{k \\ge k_h\\}` with :math:`k_h` the first state with
    :math:`g_k \\ge \\theta_h`. Then :math:`q = \\sum_{k\\ge k_h} p_k` and
    :math:`\\psi = \\sum_{k \\ge k_h} p_k / r(g_k)`; :math:`\\eta = \\sum_k p_k / r(g_k)`.
    """
    inv_rate = p[k] / rate(g[k])
    return sp.Sum(inv_rate, (k, 1, K)), sp.Sum(p[k], (k, k_h, K)), sp.Sum(inv_rate, (k, k_h, K))


def terminal_excess(mode: str) -> tuple[sp.Expr, sp.Expr]:
    """:math:`(\\omega, \\omega_0)`: expected cost of the last placed epoch above :math:`Z_M`.

    ``never``: forced upload, :math:`U\\eta` (:math:`U_0\\eta` at :math:`M = 0`).
    ``last``: wait until the gain clears :math:`\\theta_w`: the value :math:`W` solves
    :math:`W = E[Y_M; h \\ge \\theta_w] + (1-q_w)(c_w + W)`, so
    :math:`W - Z_M = (U\\psi_w + (1 - q_w)c_w)/q_w`.
    """
    if mode == "never":
        return U * eta, U_0 * eta
    if mode == "last":
        return (U * psi_w + (1 - q_w) * c_w) / q_w, (U_0 * psi_w0 + (1 - q_w0) * c_w) / q_w0
    raise ValueError(f"mode {mode!r}: the MLP closed form needs wait mode never or last")


def _reach(epoch: sp.Expr) -> sp.Expr:
    """Probability of reaching hidden epoch :math:`n \\ge 1`: :math:`(1-q_0)(1-q)^{n-1}`."""
    return (1 - q_0) * (1 - q) ** (epoch - 1)


SIGMA_0 = q_0 * Z_0 + U_0 * psi_0
"""Definition of :math:`\\sigma_0 = E[Y_0; h \\ge \\theta_0]`, the expected cost of stopping at epoch 0."""

GAMMA = DOWNLOAD_PER_BIT / K_tasks
"""Definition of :math:`\\gamma`: the download cost of one parameter bit, amortised per task."""


@cache
def mlp_task_cost_sum() -> sp.Expr:
    r""":math:`J_{OSLA}(M)` for :math:`1 \le M \le H` as an explicit sum over the epochs.

    .. math::

        J(M) = \sigma_0 + \sum_{j=1}^{M-1} (1-q_0)(1-q)^{j-1}\,[q Z_j + U\psi]
               + (1-q_0)(1-q)^{M-1}\,(Z_M + \omega)

    with :math:`\sigma_0 = q_0 Z_0 + U_0\psi_0` and :math:`Z_j = Z_1 + (j-1)\delta`.
    Written over the symbol :math:`\omega`, it also gives :math:`J(N)` with
    :math:`M = H` and :math:`\omega = \omega_N` (:func:`mlp_phi_full`).
    """
    hidden = sp.Sum(_reach(j) * (q * (Z_1 + (j - 1) * delta) + U * psi), (j, 1, M - 1))
    return sigma_0 + hidden + _reach(M) * (Z_1 + (M - 1) * delta + omega)


def download_hidden() -> sp.Expr:
    """:math:`D(M) = (s_1 + (M-1)s_h)(w_T/r_{DL} + w_E e_{rx})` for :math:`1 \\le M \\le H`."""
    return (s_1 + (M - 1) * s_h) * DOWNLOAD_PER_BIT


def mlp_delta() -> sp.Expr:
    """:math:`\\Delta = U\\psi + (1-q)\\delta - q\\omega`, the constant in the increment."""
    return U * psi + (1 - q) * delta - q * omega


def mlp_increment() -> sp.Expr:
    r""":math:`I(M) = \Phi(M+1) - \Phi(M)` for :math:`1 \le M \le H-1`.

    From the sum: the terms below :math:`M` cancel, leaving the reach probability of
    epoch :math:`M` times :math:`\sigma_M + (1-q)(Z_{M+1}+\omega) - (Z_M+\omega)`, which
    with :math:`\sigma_M = qZ_M + U\psi` and :math:`Z_{M+1} = Z_M + \delta` is
    :math:`\Delta` (no :math:`M` left), plus one hidden layer's download:

    .. math:: I(M) = (1-q_0)(1-q)^{M-1}\Delta + s_h (w_T/r_{DL} + w_E e_{rx}) / K_{tasks}
    """
    return _reach(M) * Delta + s_h * gamma


PHI_1 = sigma_0 + (1 - q_0) * (Z_1 + omega) + s_1 * gamma
""":math:`\\Phi(1)`: stop at epoch 0 on :math:`\\theta_0`, else finish at epoch 1 (the last placed one)."""


def mlp_phi_sum() -> sp.Expr:
    """:math:`\\Phi(M)` over the hidden epochs :math:`1..H` as :math:`\\Phi(1)` plus a sum of increments."""
    return PHI_1 + sp.Sum(mlp_increment().subs(M, j), (j, 1, M - 1))


def geometric_sum() -> sp.Piecewise:
    """:math:`S(M) = \\sum_{j=1}^{M-1}(1-q)^{j-1} = (1 - (1-q)^{M-1})/q`, and :math:`M - 1` at :math:`q = 0`."""
    return sp.Piecewise((M - 1, sp.Eq(q, 0)), ((1 - (1 - q) ** (M - 1)) / q, True))


def mlp_phi_closed(with_sum_symbol: bool = False) -> sp.Expr:
    """The closed form of :func:`mlp_phi_sum`: the geometric and arithmetic sums evaluated.

    :math:`\\Phi(M) = \\Phi(1) + (1-q_0)\\Delta\\,S(M) + (M-1)\\,s_h(w_T/r_{DL}+w_E e_{rx})/K_{tasks}`
    with :math:`S(M)` = :func:`geometric_sum` (shown as :math:`S(M)` when
    ``with_sum_symbol``). SymPy's own ``doit`` of the sum divides by :math:`1-q`,
    which is singular at :math:`q = 1`; this form is not.
    """
    geo = Geo_f(M) if with_sum_symbol else geometric_sum()
    return PHI_1 + (1 - q_0) * Delta * geo + (M - 1) * s_h * gamma


def mlp_phi_zero() -> sp.Expr:
    """:math:`\\Phi(0) = Z_0 + \\omega_0` (nothing placed, no download)."""
    return Z_0 + omega_0


def mlp_omega_full() -> sp.Expr:
    """:math:`\\omega_N = U\\psi_H + (1-q_H)(\\alpha-\\beta)\\mu_N`: epoch H's cost above :math:`Z_H`
    when the output layer is placed (stop on :math:`\\theta_H`, else finish locally at :math:`Z_N`)."""
    return U * psi_H + (1 - q_H) * (alpha - beta) * mu_N


def mlp_phi_full() -> sp.Expr:
    """:math:`\\Phi(N)`: the hidden form at :math:`M = H` with :math:`\\omega \\to \\omega_N`, plus the rest of the download.

    :math:`\\Delta_N` is :math:`\\Delta` with :math:`\\omega_N` for :math:`\\omega`.
    """
    return full_form(mlp_phi_closed())


def full_form(phi_hidden: sp.Expr) -> sp.Expr:
    """:math:`\\Phi(N)` from a form of :math:`\\Phi(M)` on the hidden epochs: :math:`M = H`,
    :math:`\\Delta \\to \\Delta_N`, :math:`\\omega \\to \\omega_N`, plus :math:`s_N\\gamma`."""
    return phi_hidden.subs({Delta: Delta_N, omega: omega_N}).subs(M, H) + s_N * gamma


def mlp_best_hidden() -> sp.Piecewise:
    r""":math:`M_h`: the first hidden placement whose increment is :math:`\ge 0`.

    When :math:`\Delta < 0` the increments :math:`I(M)` rise with :math:`M` (the factor
    :math:`(1-q)^{M-1}` falls), so :math:`\Phi` is convex on :math:`1..H` and its
    smallest minimiser (ties: smaller :math:`M`) is the first :math:`M` with
    :math:`I(M) \ge 0`, i.e. :math:`(1-q)^{M-1} \le x` with
    :math:`x = \lambda / ((1-q_0)(-\Delta))`, :math:`\lambda = s_h(w_T/r_{DL}+w_E e_{rx})/K_{tasks}`.
    When :math:`\Delta \ge 0` every increment is :math:`\ge 0` and :math:`M_h = 1`.

    * :math:`M_h = 1` if :math:`I(1) = (1-q_0)\Delta + \lambda \ge 0` (this covers
      :math:`\Delta \ge 0` and :math:`q_0 = 1`);
    * else :math:`\min(H, 2)` if :math:`q = 1` (:math:`I(M) = \lambda \ge 0` for :math:`M \ge 2`);
    * else :math:`H` if :math:`q\lambda = 0` (every increment is negative);
    * else :math:`\min(H, 1 + \lceil \ln x / \ln(1-q) \rceil)`.
    """
    lam = s_h * gamma
    x = lam / ((1 - q_0) * (-Delta))
    return sp.Piecewise(
        (1, (1 - q_0) * Delta + lam >= 0),
        (sp.Min(H, 2), q >= 1),
        # q >= 0 and lambda >= 0, so q lambda <= 0 says "q = 0 or lambda = 0".
        (H, q * lam <= 0),
        (sp.Min(H, 1 + sp.ceiling(sp.log(x) / sp.log(1 - q))), True),
    )


def mlp_memory_limit() -> sp.Piecewise:
    """:math:`M_{max}`: the largest placement with :math:`\\sum_{i\\le M} s_i \\le S_{max}`."""
    return sp.Piecewise(
        (0, S_max < s_1),
        (H + 1, S_max >= s_1 + (H - 1) * s_h + s_N),
        (H, S_max >= s_1 + (H - 1) * s_h),
        (1 + sp.floor((S_max - s_1) / s_h), True),
    )


def mlp_best_placement() -> sp.Piecewise:
    r""":math:`M^*` (ties to the smaller :math:`M`), over the values :math:`\Phi(\cdot)`.

    On :math:`1..\min(H, M_{max})` the best is :math:`\min(M_h, M_{max})` (convexity);
    the boundary placements :math:`0` and :math:`N = H + 1` are compared with it.
    Infeasible candidates count as :math:`\Phi = +\infty`.
    """
    hidden = sp.Min(M_h, M_max)
    phi0, phi_h, phi_n = Phi_f(0), Phi_f(hidden), Phi_f(H + 1)
    return sp.Piecewise(
        (0, phi0 <= sp.Min(phi_h, phi_n)),
        (hidden, phi_h <= phi_n),
        (H + 1, True),
    )


def mlp_fully_connected() -> dict[sp.Symbol, sp.Expr]:
    """The fully connected MLP of :func:`coopt.model.profiles.mlp_profile` in these symbols.

    A layer :math:`u \\to v` has :math:`uv` MACs and :math:`uv + v` parameters.
    """
    return {
        mu_1: N_in * N_h,
        mu_h: N_h**2,
        mu_N: N_h * N_out,
        s_1: b_p * (N_in * N_h + N_h),
        s_h: b_p * (N_h**2 + N_h),
        s_N: b_p * (N_h * N_out + N_out),
        d_0: b_f * N_in,
        d_h: b_f * N_h,
    }


def mlp_definitions(mode: str) -> list[tuple[sp.Symbol, sp.Expr]]:
    """Definitions of the intermediate symbols, in substitution order (each may use later ones)."""
    omega_mode, omega0_mode = terminal_excess(mode)
    st = mlp_structure()
    return [
        (Delta, mlp_delta()),
        (Delta_N, mlp_delta().subs(omega, omega_N)),
        (omega, omega_mode),
        (omega_0, omega0_mode),
        (omega_N, mlp_omega_full()),
        (sigma_0, SIGMA_0),
        (gamma, GAMMA),
        (delta, st.delta),
        (Z_0, st.Z0),
        (Z_1, st.Z1),
        (Z_N, st.ZN),
        (U, st.U),
        (U_0, st.U0),
    ]


def expand_definitions(expr: sp.Basic, mode: str) -> sp.Basic:
    """``expr`` with the intermediate symbols (:math:`\\Delta, \\omega, \\sigma_0, \\gamma, \\delta, Z, U`, ...) written out."""
    for sym, definition in mlp_definitions(mode):
        expr = expr.subs(sym, definition)
    return expr


# ----------------------------------------------------------------------------- recursions (for checks)


def osla_task_cost_recursion(placement: int, hidden_layers: int, mode: str) -> sp.Expr:
    """:math:`J_{OSLA}(M)` of the MLP by the policy-evaluation recursion, for concrete ``M`` and ``H``.

    Backward from the last placed epoch: its value is :math:`Z_M + \\omega` (mode
    ``never``/``last`` via :func:`terminal_excess`; :math:`Z_N` at :math:`M = N`); at
    each earlier epoch :math:`V_n = q_n Z_n + U_n\\psi_n + (1-q_n)V_{n+1}` with the
    epoch's own stop statistics (:math:`q_0`, :math:`q`, :math:`q_H`). Every symbol is
    written out (:func:`expand_definitions`); independent of the sums above, which the
    tests compare with it.
    """
    st = mlp_structure()
    n_layers = hidden_layers + 1

    def Z(epoch: int) -> sp.Expr:
        if epoch == 0:
            z = st.Z0
        elif epoch == n_layers:
            z = st.ZN
        else:
            z = st.Z1 + (epoch - 1) * st.delta
        return z.subs(H, hidden_layers)

    omega_mode, omega0_mode = terminal_excess(mode)
    if placement == 0:
        return expand_definitions(Z(0) + omega0_mode, mode)
    value = Z(n_layers) if placement == n_layers else Z(placement) + omega_mode
    for epoch in range(placement - 1, -1, -1):
        if epoch == 0:
            stop_q, stop_part = q_0, U_0 * psi_0
        elif epoch == hidden_layers:
            stop_q, stop_part = q_H, U * psi_H
        else:
            stop_q, stop_part = q, U * psi
        value = stop_q * Z(epoch) + stop_part + (1 - stop_q) * value
    return expand_definitions(value, mode)


# ----------------------------------------------------------------------------- documents


def thresholds_derivation() -> Derivation:
    """The threshold of the optimal rule, solved from its defining equation."""
    sol = optimal_threshold()
    return Derivation(
        "thresholds",
        "Thresholds of the optimal rule",
        "$Y_{n}(h)$ falls as $h$ grows, so the rule ``stop iff $Y_{n}(h) \\le G_{n}$'' is ``stop iff "
        "$h \\ge \\theta_{n}$'', where $\\theta_{n}$ is the gain at which stopping and continuing cost the same:",
        (
            Step("", "", sol.equation),
            Step(
                "$Y_{n}$ is affine in $1/r$, so the rate at the threshold is (positive only if "
                "$G_{n} > A_{n} + R_{n} + O_{n}$):",
                r"r(\theta_{n})",
                sol.rate_at_threshold,
            ),
            Step(
                "Inverting the rate $r(\\theta) = B\\log_{2}(1 + \\rho\\theta)$, which increases strictly:",
                r"\theta_{n}",
                sol.threshold,
            ),
            Step(
                "Where stopping is forced ($n = M < N$ without waiting, or $n = N$), $\\theta_{n} = 0$. "
                "The optimal rule's $G_{n} = \\min(C_{n}, c_{w} + W_{n})$ comes from backward induction."
            ),
        ),
    )


def waiting_derivation() -> Derivation:
    """The waiting fixed point on a finite channel and the stationary wait threshold."""
    wj = wait_piece_identity(j, K)
    return Derivation(
        "waiting",
        "Waiting: the fixed point and the stationary wait threshold",
        "Where waiting is allowed, $W_{n}$ solves $W_{n} = E[\\min(m(h), c_{w} + W_{n})]$ with "
        "$m = \\min(Y_{n}, C_{n})$. On the quantised channel, with the values $m_{k}$ of the states sorted "
        "increasingly (probabilities $p_{k}$):",
        (
            Step("", "", sp.Eq(W_n, sp.Sum(p[k] * sp.Min(mv[k], c_w + W_n), (k, 1, K)))),
            Step(
                "If exactly the states $1..j$ stop (those with $m_{k} \\le c_{w} + W_{n}$), the equation is linear:",
                "",
                sp.Eq(W_n, sp.Sum(p[k] * mv[k], (k, 1, j)) + (c_w + W_n) * sp.Sum(p[k], (k, j + 1, K))),
            ),
            Step("with the root", "W_{j}", wj),
            Step(
                "Each $W_{j}$ is a weighted mean of $W_{j-1}$ and $m_{j} - c_{w}$, so the first $j$ with "
                "$m_{j+1} > c_{w} + W_{j}$ also has $m_{j} \\le c_{w} + W_{j}$: it is the fixed point "
                "(unique since $c_{w} > 0$). For $K = 3$ states:",
                "W_{n}",
                wait_fixed_point(3),
            ),
            Step(
                "Where waiting is the only continuation (the last placed epoch $M < N$ in mode \\texttt{last}), "
                "$G_{n} = c_{w} + W_{n}$; the threshold is the same in every slot (stationary) and solves "
                "$Y_{n}(\\theta) = c_{w} + W_{n}$:",
                r"\theta_{n}^{w}",
                wait_threshold().threshold,
            ),
            Step(
                "At the threshold one more slot's expected saving equals its cost (with $W_{n} = W_{j}$):",
                "",
                sp.Eq(c_w, sp.Sum(p[k] * (c_w + W_n - mv[k]), (k, 1, j))),
            ),
        ),
    )


def osla_derivation() -> Derivation:
    """The one-stage look-ahead rule and its threshold."""
    Lc, Lw = osla_lookahead()
    eta_sum = stop_statistics()[0]
    sol = osla_threshold()
    return Derivation(
        "osla",
        "The one-stage look-ahead rule (OSLA)",
        "OSLA stops when stopping now is no worse than every one-step continuation followed by stopping. "
        "The look-ahead values are expected stop costs, and $E[Y_{n}(h)] = A_{n} + R_{n} + O_{n} + "
        "(w_{E} P + w_{T}) d_{n} \\eta$ with",
        (
            Step("", r"\eta", eta_sum),
            Step("Compute one more layer, then stop ($n < M$; otherwise $+\\infty$):", "L_{n}^{c}", Lc),
            Step("Wait one slot, then stop (where waiting is allowed; otherwise $+\\infty$):", "L_{n}^{w}", Lw),
            Step(
                "Stop iff $Y_{n}(h) \\le \\min(L_{n}^{c}, L_{n}^{w})$; solving "
                "$Y_{n}(\\theta) = \\min(L_{n}^{c}, L_{n}^{w})$ as for the optimal rule:",
                r"\theta_{n}^{\mathrm{OSLA}}",
                sol.threshold,
            ),
            Step(
                "Otherwise OSLA takes the continuation with the smaller look-ahead value (ties: compute). "
                "Its cost $J_{\\mathrm{OSLA}}(M)$ is the exact value of this fixed policy (policy evaluation, waiting "
                "included), not the look-ahead numbers."
            ),
        ),
    )


def mlp_derivation() -> Derivation:
    """The closed-form placement of the equal-neuron MLP under OSLA."""
    st = mlp_structure()
    alpha_def, beta_def = cost_per_mac()
    fc = mlp_fully_connected()
    _eta_sum, q_sum, psi_sum = stop_statistics()
    th = mlp_thresholds()
    never, _ = terminal_excess("never")
    last, last0 = terminal_excess("last")
    steps = [
        Step(
            "The MLP has $N = H + 1$ layers: layer 1 maps the input to $N_{h}$ neurons, layers $2..H$ are "
            "identical ($N_{h} \\to N_{h}$) and layer $N$ maps to $N_{\\mathrm{out}}$ classes. The closed form needs only "
            "these per-layer numbers; for the fully connected MLP (a layer $u \\to v$ has $uv$ MACs and "
            "$uv + v$ parameters):",
            r"\mu_{1}",
            fc[mu_1],
        ),
        Step("", r"\mu_{h}", fc[mu_h]),
        Step("", r"\mu_{N}", fc[mu_N]),
        Step("", "s_{1}", fc[s_1]),
        Step("", "s_{h}", fc[s_h]),
        Step("", "s_{N}", fc[s_N]),
        Step("", "d_{0}", fc[d_0]),
        Step("", "d_{h}", fc[d_h]),
        Step(
            "Layer costs are proportional to MACs, $a_{i} = \\alpha\\mu_{i}$ and $b_{i} = \\beta\\mu_{i}$:",
            r"\alpha",
            alpha_def,
        ),
        Step("", r"\beta", beta_def),
        Step("With $Z_{n} = A_{n} + R_{n}$:", "Z_{0}", st.Z0),
        Step("", "Z_{1}", st.Z1),
        Step("", "Z_{N}", st.ZN),
        Step("and $Z_{n} = Z_{1} + (n - 1)\\delta$ for $1 \\le n \\le H$, with", r"\delta", st.delta),
        Step("The upload weights of the input and of a hidden feature:", "U_{0}", st.U0),
        Step("", "U", st.U),
        Step(
            "\\textbf{Structure of OSLA.} In modes \\texttt{never} and \\texttt{last} no waiting is allowed "
            "before the last placed epoch, so at $n < M$ OSLA compares $Y_{n}(h)$ with $L_{n}^{c} = E[Y_{n+1}]$ only: "
            "it stops iff $U_{n}/r(h) \\le Z_{n+1} - Z_{n} + U_{n+1}\\eta$. At the hidden epochs $1..H-1$ "
            "(epoch 1 included: its decision involves layer 2 only) the right side is $\\delta + U\\eta$ at every "
            "epoch, hence one constant threshold:",
            r"\theta_{h}",
            th["theta_h"],
        ),
        Step("The boundary epochs have their own: epoch 0 uploads the raw input,", r"\theta_{0}", th["theta_0"]),
        Step(
            "epoch $H$ is followed by the output layer, whose result is returned for free ($U_{N} = 0$),",
            r"\theta_{H}",
            th["theta_H"],
        ),
        Step(
            "and the last placed epoch $M < N$ uploads at once in mode \\texttt{never} ($\\theta = 0$) or, in mode "
            "\\texttt{last}, waits until",
            r"\theta_{w}",
            th["theta_w"],
        ),
        Step(
            "($\\theta_{w0}$ likewise with $U_{0}$ at $M = 0$). On the quantised channel a threshold's stop "
            "set is the states $k \\ge k_{h}$ (gains sorted increasingly; $k_{h}$ is the first state that "
            "stops, found numerically with docs/model.md's tie rule), so",
            "q",
            q_sum,
        ),
        Step("", r"\psi", psi_sum),
        Step(
            "and likewise $q_{0}, \\psi_{0}$, $q_{H}, \\psi_{H}$, $q_{w}, \\psi_{w}$, $q_{w0}, \\psi_{w0}$ of "
            "the other thresholds. The stopping epoch is a truncated geometric variable: epoch $n \\ge 1$ is "
            "reached with probability $(1 - q_{0})(1 - q)^{n-1}$. The last placed hidden epoch costs $Z_{M} + "
            "\\omega$ in expectation, in mode \\texttt{never}",
            r"\omega",
            never,
        ),
        Step(
            "and in mode \\texttt{last} (the wait value $W$ solves $W = E[Y_{M}; h \\ge \\theta_{w}] + "
            "(1 - q_{w})(c_{w} + W)$)",
            r"\omega",
            last,
        ),
        Step(
            "with $\\omega_{0}$ the same at $M = 0$ ($U_{0}\\eta$, or with $U_{0}, q_{w0}, \\psi_{w0}$). "
            "\\textbf{Task cost.} Stopping at epoch 0 costs in expectation",
            r"\sigma_{0}",
            SIGMA_0,
        ),
        Step(
            "and for $1 \\le M \\le H$, summing over the stopping epoch,", r"J_{\mathrm{OSLA}}(M)", mlp_task_cost_sum()
        ),
        Step(
            "\\textbf{Increment.} In $J(M+1) - J(M)$ the terms below $M$ cancel; what is left is the reach "
            "probability of epoch $M$ times $qZ_{M} + U\\psi + (1-q)(Z_{M} + \\delta + \\omega) - "
            "(Z_{M} + \\omega)$, which no longer depends on $M$:",
            r"\Delta",
            mlp_delta(),
        ),
        Step("Downloading one parameter bit costs, per task,", r"\gamma", GAMMA),
        Step("so adding one hidden layer changes the objective by", r"\Phi(M + 1) - \Phi(M)", mlp_increment()),
        Step("\\textbf{Objective over the hidden epochs} ($1 \\le M \\le H$) as a sum, from", r"\Phi(1)", PHI_1),
        Step("", r"\Phi(M)", mlp_phi_sum()),
        Step("and in closed form,", r"\Phi(M)", mlp_phi_closed(with_sum_symbol=True)),
        Step("with the geometric sum", "S(M)", geometric_sum()),
        Step("\\textbf{Boundary placements.} Nothing placed:", r"\Phi(0)", mlp_phi_zero()),
        Step(
            "Everything placed: the hidden form at $M = H$ with $\\omega$ replaced by", r"\omega_{N}", mlp_omega_full()
        ),
        Step(
            "(epoch $H$ stops on $\\theta_{H}$, else the task finishes on the device at $Z_{N}$), so $\\Delta$ becomes",
            r"\Delta_{N}",
            mlp_delta().subs(omega, omega_N),
        ),
        Step("and, with the output layer's download,", r"\Phi(N)", full_form(mlp_phi_closed(with_sum_symbol=True))),
        Step(
            "\\textbf{Best hidden placement.} If $\\Delta < 0$ the increments rise with $M$ ($\\Phi$ is convex "
            "on $1..H$), so the smallest minimiser is the first $M$ with a non-negative increment; if "
            "$\\Delta \\ge 0$ it is $M = 1$. Solving $(1 - q_{0})(1 - q)^{M-1}\\Delta + \\lambda \\ge 0$, "
            "$\\lambda = s_{h}\\gamma$:",
            "M_{h}",
            mlp_best_hidden(),
        ),
        Step(
            "\\textbf{Memory limit.} The placements with $\\sum_{i \\le M} s_{i} \\le S_{\\mathrm{max}}$ are $0..M_{\\mathrm{max}}$:",
            r"M_{\mathrm{max}}",
            mlp_memory_limit(),
        ),
        Step(
            "\\textbf{Placement.} The best hidden feasible placement is $\\min(M_{h}, M_{\\mathrm{max}})$ (convexity); "
            "the boundary placements are compared with it, infeasible ones counting as $+\\infty$ "
            "(ties to the smaller $M$, within docs/model.md's relative tolerance $10^{-12}$):",
            "M^{*}",
            mlp_best_placement(),
        ),
    ]
    del last0
    return Derivation(
        "mlp",
        "Closed-form placement of the equal-neuron MLP under OSLA",
        "The channel is i.i.d. and the wait mode is \\texttt{never} or \\texttt{last}. "
        "Everything below is checked against enumeration of $J_{\\mathrm{OSLA}}(M)$, decision for decision.",
        tuple(steps),
    )


def fading_survival(x: sp.Expr, y: sp.Expr) -> sp.Expr:
    r""":math:`\Pr(h' > y \mid h = x)` in Marcum-Q form (docs/model.md 10.4)."""
    spread = h_mean * (1 - lam)
    # Unevaluated roots: SymPy would split sqrt(2 lam x / spread) into five factors.
    half = sp.Rational(1, 2)
    return Q1_f(sp.Pow(2 * lam * x / spread, half, evaluate=False), sp.Pow(2 * y / spread, half, evaluate=False))


def fading_derivation() -> Derivation:
    """The transition law of time-correlated Rayleigh fading between quantisation bins."""
    spread = h_mean * (1 - lam)
    # unevaluated: SymPy would split the root of lambda x y into three
    root = sp.Pow(lam * x_g * y_g, sp.Rational(1, 2), evaluate=False)
    kernel = sp.Mul(2, root, *sp.Mul.make_args(1 / spread), evaluate=False)
    return Derivation(
        "fading",
        "Time-correlated Rayleigh fading: the transition law",
        "The complex amplitude is circularly-symmetric Gaussian with $E|g|^{2} = h_{\\mathrm{mean}}$; over a lag "
        "$\\Delta_{t}$ it keeps the correlation $r$ and gains an independent part, "
        "$g' = r g + \\sqrt{1 - r^{2}}\\,w$. The power gains $h = |g|^{2}$ and $h' = |g'|^{2}$ are then "
        "exponential with correlation $\\lambda = r^{2}$:",
        (
            Step(
                "Clarke's model (Doppler frequency $f_{D}$, $\\omega_{D} = 2\\pi f_{D}$):",
                r"\lambda",
                J0_f(omega_D * Delta_t) ** 2,
            ),
            Step("Gauss-Markov (coherence time $T_{c}$):", r"\lambda", sp.exp(-2 * Delta_t / T_c)),
            Step(
                "Given $h = x$, $g'$ is complex Gaussian with mean $r g$ and variance $h_{\\mathrm{mean}}(1 - \\lambda)$, "
                "so $h'$ has the density",
                r"f(y \mid x)",
                sp.exp(-(y_g + lam * x_g) / spread) * I0_f(kernel) / spread,
            ),
            Step(
                "that is, $2h'/(h_{\\mathrm{mean}}(1 - \\lambda))$ is noncentral chi-square with 2 degrees of freedom and "
                "noncentrality $2\\lambda x/(h_{\\mathrm{mean}}(1 - \\lambda))$, whose survival function is the Marcum "
                "Q-function:",
                r"\Pr(h' > y \mid h = x)",
                fading_survival(x_g, y_g),
            ),
            Step(
                "Write it as a function of the two gains:",
                r"S(x, y)",
                fading_survival(x_g, y_g),
            ),
            Step(
                "with",
                r"Q_{1}(\alpha_{Q}, \beta_{Q})",
                sp.Integral(v_q * sp.exp(-(v_q**2 + alpha_Q**2) / 2) * I0_f(alpha_Q * v_q), (v_q, beta_Q, sp.oo)),
            ),
            Step(
                "The $K$ equiprobable bins of docs/model.md section 3 have the edges",
                "e_{j}",
                -h_mean * sp.log(1 - j / K),
            ),
            Step(
                "and the state moves from bin $i$ to bin $j$ with the probability of the target bin averaged "
                "over the source bin (density $K e^{-x/h_{\\mathrm{mean}}}/h_{\\mathrm{mean}}$ on it):",
                r"P_{ij}(\Delta_{t})",
                K
                * sp.Integral(
                    sp.exp(-x_g / h_mean) / h_mean * (Surv_f(x_g, e_edge[j - 1]) - Surv_f(x_g, e_edge[j])),
                    (x_g, e_edge[i - 1], e_edge[i]),
                ),
            ),
            Step(
                "The differences telescope, so every row sums to 1; the joint law of $(h, h')$ is exchangeable, "
                "so $P$ is symmetric and the uniform law $1/K$ is stationary. With $\\lambda = 0$, "
                "$Q_{1}(0, \\beta_{Q}) = e^{-\\beta_{Q}^{2}/2}$ gives $P_{ij} = 1/K$ (i.i.d.); as "
                "$\\lambda \\to 1$ the conditional law concentrates at $x$ and $P$ tends to the identity."
            ),
            Step(
                "The elapsed time from epoch $n$ to $n + 1$ is the device's computing time $t_{n+1}$ of layer "
                "$n + 1$ and a waiting slot lasts $\\tau$, so the chain is time-inhomogeneous: "
                "$P_{n} = P(t_{n+1})$, $P_{w} = P(\\tau)$, and backward induction uses $C_{n} = P_{n} V_{n+1}$ "
                "per state and the waiting fixed point $V = \\min(m, c_{w} + P_{w} V)$."
            ),
        ),
    )


DERIVATION_NAMES = {
    "model": model_definitions,
    "recursion": recursion,
    "thresholds": thresholds_derivation,
    "waiting": waiting_derivation,
    "osla": osla_derivation,
    "mlp": mlp_derivation,
    "fading": fading_derivation,
}
"""The derivations ``coopt derive NAME`` knows, in document order."""
