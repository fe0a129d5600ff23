"""The LaTeX printer (coopt.symbolic.printer): the model's notation, exact strings, and
every string parses back (SymPy's LaTeX parser) to an expression equal to its source."""

from __future__ import annotations

import pytest
import sympy as sp

from coopt.symbolic import derive as S
from coopt.symbolic import latex
from tests.support.latex import equivalent, to_source

x, y = sp.symbols("x y", positive=True)

# (name, expression, exact LaTeX): the four examples first
CASES = [
    ("rate: log_2, 1 + rho h", S.rate(S.h), r"B \log_{2}(1 + \rho h)"),
    ("positive term first", S.G_n - S.A_n - S.R_n, r"G_{n} - A_{n} - R_{n}"),
    (
        "factor order: weights, device constants, per-layer",
        S.c_L * S.f_L**2 * S.kappa * S.w_E * S.mu[S.i],
        r"w_{E} \kappa f_{L}^{2} c_{L} \mu_{i}",
    ),
    (
        "implicit products (no \\cdot)",
        S.w_E * S.kappa * S.f_L**2 * S.c_L * S.mu[S.i] + S.w_T * S.c_L * S.mu[S.i] / S.f_L,
        r"w_{E} \kappa f_{L}^{2} c_{L} \mu_{i} + \frac{w_{T} c_{L} \mu_{i}}{f_{L}}",
    ),
    (
        "group before names: a name before ( would be a function call",
        S.UPLOAD_WEIGHT * S.d_n / (S.G_n - S.A_n - S.R_n),
        r"\frac{(w_{E} P + w_{T}) d_{n}}{G_{n} - A_{n} - R_{n}}",
    ),
    ("index arithmetic keeps the number last", S.H + 1, "H + 1"),
    ("a fraction of integers is no index arithmetic", 1 - S.j / S.K, r"1 - \frac{j}{K}"),
    ("a quantity's constant leads", 1 - S.q, "1 - q"),
    ("sum bounds", sp.Sum(S.b[S.i], (S.i, S.n + 1, S.N)), r"\sum_{i=n + 1}^{N} b_{i}"),
    (
        "log_2 in a denominator, sum last",
        sp.Sum(S.p[S.k] / S.rate(S.g[S.k]), (S.k, 1, S.K)),
        r"\sum_{k=1}^{K} \frac{p_{k}}{B \log_{2}(1 + \rho g_{k})}",
    ),
    (
        "stop cost: simple terms before the fraction",
        S.stop_cost(S.theta),
        r"A_{n} + R_{n} + O_{n} + \frac{(w_{E} P + w_{T}) d_{n}}{B \log_{2}(1 + \rho \theta)}",
    ),
    (
        "a quotient that would need parentheses is a fraction in the exponent",
        S.optimal_threshold().theta,
        r"\frac{2^{\frac{(w_{E} P + w_{T}) d_{n}}{(G_{n} - A_{n} - R_{n} - O_{n}) B}} - 1}{\rho}",
    ),
    (
        "a simple quotient stays on one line in an exponent",
        2 ** (x / 2) * S.rho ** (S.Delta_t / S.T_c),
        r"2^{x / 2} \rho^{\Delta_{t} / T_{c}}",
    ),
    ("min: a function application first (docs/model.md)", sp.Min(S.G_n, S.Y_f(S.h)), r"\min(Y_{n}(h), G_{n})"),
    ("min: a name before a sum", sp.Min(S.c_w + S.W_n, S.C_n), r"\min(C_{n}, c_{w} + W_{n})"),
    (
        "min: call, name, sum",
        sp.Min(S.c_w + S.W_n, S.C_n, S.Y_f(S.g[S.k])),
        r"\min(Y_{n}(g_{k}), C_{n}, c_{w} + W_{n})",
    ),
    ("min: names in table order", sp.Min(S.M_max, S.M_h), r"\min(M_{h}, M_{\mathrm{max}})"),
    ("min: indexed name before a sum", sp.Min(S.c_w + S.W_n, S.mv[S.k]), r"\min(m_{k}, c_{w} + W_{n})"),
    (
        "min: calls compared by their arguments",
        sp.Min(S.Phi_f(S.H + 1), S.Phi_f(sp.Min(S.M_h, S.M_max))),
        r"\min(\Phi(\min(M_{h}, M_{\mathrm{max}})), \Phi(H + 1))",
    ),
    ("max: a number first", sp.Max(1 - S.q, 0), r"\max(0, 1 - q)"),
    ("a common factor pulled out", S.w_T * S.tau + S.w_E * S.P_idle * S.tau, r"(w_{E} P_{\mathrm{idle}} + w_{T}) \tau"),
    (
        "a sum's common factor joins its product",
        S.b_p * (S.N_in * S.N_h + S.N_h),
        r"(N_{\mathrm{in}} + 1) N_{h} b_{p}",
    ),
    ("no common factor but a number: as is", 2 * x + 2 * y, "2 x + 2 y"),
    (
        "shorter groups first, powers of groups",
        (1 - S.q_0) * (1 - S.q) ** (S.M - 1) * S.Delta + S.gamma * S.s_h,
        r"s_{h} \gamma + (1 - q_{0}) (1 - q)^{M - 1} \Delta",
    ),
    (
        "function applications, plain parentheses",
        S.J_f(S.M) + S.D_f(S.M) / S.K_tasks,
        r"J(M) + \frac{D(M)}{K_{\mathrm{tasks}}}",
    ),
    (
        "summand: names, then calls",
        sp.Sum(S.p[S.k] * S.V1_f(S.g[S.k]), (S.k, 1, S.K)),
        r"\sum_{k=1}^{K} p_{k} V_{n+1}(g_{k})",
    ),
    ("a group before a call (never after)", sp.Min(x, y) * (x + 1), r"(1 + x) \min(x, y)"),
    ("tall arguments: sized parentheses", sp.Min(S.H, 1 / S.q), r"\min\!\left(H, \frac{1}{q}\right)"),
    (
        "a power ends a factor: no \\cdot",
        (1 - S.q) ** S.M * (S.Z_1 + S.omega + S.delta),
        r"(1 - q)^{M} (\delta + Z_{1} + \omega)",
    ),
    ("two numbers keep \\cdot", 2 * 3**x, r"2 \cdot 3^{x}"),
    (
        "a fraction in a fraction on one line",
        S.GAMMA,
        r"\frac{w_{E} e_{\mathrm{rx}} + w_{T} / r_{\mathrm{DL}}}{K_{\mathrm{tasks}}}",
    ),
    (
        "tall content: sized parentheses",
        S.q * (S.omega + S.U / S.q_w) ** 2,
        r"\left(\omega + \frac{U}{q_{w}}\right)^{2} q",
    ),
    ("natural log stays log", sp.log(x) * y, r"y \log(x)"),
    ("a root in the denominator", sp.sqrt(S.q) / sp.sqrt(S.psi), r"\frac{\sqrt{q}}{\sqrt{\psi}}"),
    ("log_2 upside down", sp.log(2) / sp.log(x), r"\frac{1}{\log_{2}(x)}"),
    ("a negated sum", -(S.q + S.omega) * S.U, r"- (q + \omega) U"),
    ("its sign in a sum", S.psi + S.U * (-S.q - S.omega), r"\psi - (q + \omega) U"),
]


@pytest.mark.parametrize(("name", "expr", "want"), CASES, ids=[c[0] for c in CASES])
def test_printer_writes_the_model_notation(name, expr, want):
    assert latex.to_latex(expr) == want


@pytest.mark.slow
@pytest.mark.parametrize(("name", "expr", "want"), CASES, ids=[c[0] for c in CASES])
def test_printed_formula_parses_back(parse, name, expr, want):
    parsed = to_source(parse(want), expr, parse, {})
    assert equivalent(parsed, expr), (want, parsed, expr)


def test_general_document_has_no_cdot():
    """The derivations print no explicit product sign (none is needed there)."""
    doc = latex.derivation_document()
    assert not [em.latex for em in doc.emitted if r"\cdot" in em.latex]


def test_flatten_removes_the_layout_only():
    laid_out = "\\sigma_{0} + a \\\\\n&\\quad + b"
    assert latex.flatten(laid_out) == r"\sigma_{0} + a + b"
    assert latex.flatten(r"\frac{a}{b} &= c") == r"\frac{a}{b} = c"


def test_wide_sum_is_broken_into_aligned_lines():
    doc = latex.derivation_document(["mlp"])
    body = doc.render("")
    broken = [em.latex for em in doc.emitted if "\\\\" in em.latex]
    assert broken, "the OSLA task cost is wider than a line"
    for tex in broken:
        assert tex in body
        for line in tex.split("\\\\"):
            assert latex._width(line) <= latex.LINE_WIDTH


def test_printer_does_not_load_at_import():
    import subprocess
    import sys

    code = "import sys, coopt, coopt.symbolic; print('sympy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_numbers_stand_where_their_symbols_were():
    """A number placeholder (the printer's ``stand_in``) is written where its symbol was:
    w_E kappa f_L^2 c_L. (Instance documents keep their formulas symbolic now; the printer
    keeps the feature.)"""
    doc = latex.Document("t")
    numbers = {S.w_E: "2", S.kappa: "(10^{-27})", S.f_L: "(8.6 \\cdot 10^{8})", S.c_L: "3"}
    rep = {}
    for i, (sym, tex) in enumerate(numbers.items()):
        rep[sym] = sp.Symbol(f"num{i:04d}", real=True)
        doc.names[rep[sym]] = tex
        doc.stand_in[rep[sym]] = sym
    expr = (S.c_L * S.f_L**2 * S.kappa * S.w_E).xreplace(rep)
    assert doc.tex(expr) == r"2 \cdot (10^{-27}) (8.6 \cdot 10^{8})^{2} \cdot 3"
