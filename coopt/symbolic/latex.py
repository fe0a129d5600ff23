r"""LaTeX documents of the derivations (``coopt derive``).

Every displayed formula is printed from a SymPy expression of :mod:`coopt.symbolic.derive`
by :func:`to_latex`, and recorded as an :class:`Emitted` pair (the exact LaTeX
string written into the document, the expression it came from), so that the tests
parse each one back with SymPy's LaTeX parser and check that it is equivalent.
The notation is chosen so that it parses: products are written with ``\cdot``
(the parser reads ``x\left(y\right)`` as a function call), subscripts carry no
commas, and symbols carry no accents (``W_{n}`` is docs/model.md's :math:`\bar W_n`).
Piecewise expressions are typeset as ``cases`` and recorded piece by piece.

Two kinds of documents:

* :func:`derivation_document`: the general derivations (names in
  :data:`coopt.symbolic.derive.DERIVATION_NAMES`), with a symbol table;
* :func:`instance_document`: the same formulas with one instance's numbers
  substituted, its thresholds and :math:`\Phi(M)`.

The output is deterministic (no dates), so ``derivations/`` can be kept in sync by
a test.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import sympy as sp
from sympy.core.function import AppliedUndef

from coopt.model.files import write_atomic
from coopt.model.instance import Instance
from coopt.symbolic import derive as S
from coopt.symbolic import printer
from coopt.symbolic.fleet import fleet_derivation

DERIVATION_NAMES = S.DERIVATION_NAMES | {"fleet": fleet_derivation}
"""The derivations ``coopt derive NAME`` knows, in document order (the fleet's lives in
:mod:`coopt.symbolic.fleet`, above :mod:`coopt.symbolic.derive`)."""

__all__ = ["Document", "Emitted", "derivation_document", "instance_document", "to_latex", "write_documents"]


def _printer(names: dict[sp.Basic, str] | None, stand_in: dict[sp.Symbol, sp.Basic] | None) -> printer.ModelPrinter:
    return printer.ModelPrinter(dict(S.LATEX_NAMES) | dict(names or {}), stand_in)


def to_latex(
    expr: sp.Basic, names: dict[sp.Basic, str] | None = None, stand_in: dict[sp.Symbol, sp.Basic] | None = None
) -> str:
    """LaTeX of ``expr`` in the model's notation (``names`` adds to :data:`coopt.symbolic.derive.LATEX_NAMES`;
    ``stand_in``: see :class:`coopt.symbolic.printer.ModelPrinter`)."""
    return _printer(names, stand_in).doprint(expr)


@dataclass(frozen=True)
class Emitted:
    """A formula as written into a document, and the expression it was printed from.

    ``values`` maps the number placeholders of an instance document to their values
    (empty for the general derivations).
    """

    latex: str
    expr: sp.Basic
    values: dict[sp.Symbol, float] = field(default_factory=dict)


def _escape(text: str) -> str:
    """Plain text (names, error messages) made safe for LaTeX; straight double quotes become
    TeX's opening and closing quotes (a ``"`` prints as a straight or a closing quote)."""
    out = []
    quotes = 0
    for ch in text:
        if ch == '"':
            out.append("``" if quotes % 2 == 0 else "''")
            quotes += 1
        elif ch in "_#%&${}":
            out.append("\\" + ch)
        elif ch == "^":
            out.append(r"\^{}")
        elif ch == "~":
            out.append(r"\~{}")
        else:
            out.append(ch)
    return "".join(out).replace("<=", r"$\le$").replace(">=", r"$\ge$")


PREAMBLE = r"""\documentclass[11pt]{article}
\usepackage[T1]{fontenc}
\usepackage{lmodern}
\usepackage[margin=2.2cm]{geometry}
\usepackage{amsmath,amssymb}
\usepackage{longtable}
\allowdisplaybreaks
"""

CITATION = (
    r"The problem (a chain DNN split between a wireless device and an edge server, periodic "
    r"model placement after retraining, online splitting as finite-horizon optimal stopping, "
    r"the one-stage look-ahead rule and the closed-form placement of the equal-neuron MLP) is "
    r"that of Yan, Bi and Zhang~\cite{yan2022}. The precise cost terms, the quantised channel, "
    r"the waiting option and the tie rules are those of coopt's specification~\cite{model}; "
    r"every formula below is printed by SymPy from the expressions in \texttt{coopt/symbolic/derive.py} "
    r"and parses back to them."
)

BIBLIOGRAPHY = r"""\begin{thebibliography}{9}
\bibitem{yan2022} S.~Yan, S.~Bi and Y.-J.~A.~Zhang, ``Optimal Model Placement and Online Model
Splitting for Device-Edge Co-Inference,'' \emph{IEEE Transactions on Wireless Communications},
vol.~21, no.~10, 2022. arXiv:2105.13618.
\bibitem{model} coopt, \emph{The coopt model: device-edge co-inference with model placement and
online splitting} (\texttt{docs/model.md}), the specification this software implements.
\end{thebibliography}
"""


LINE_WIDTH = 72
"""A displayed sum wider than this (in characters of :func:`_width`) is broken into lines."""


def _width(tex: str) -> int:
    r"""Rough printed width of a formula: one character per command, none for braces,
    ``\left``/``\right`` and sub/superscript marks."""
    tex = re.sub(r"\\(left|right)\b", "", tex)
    tex = re.sub(r"\\[A-Za-z]+", "x", tex)
    return len(re.sub(r"[{}_^ ]", "", tex))


def flatten(tex: str) -> str:
    r"""A displayed formula without its layout: the alignment marks ``&``, the line breaks
    ``\\`` and the indentation ``\quad`` removed (the round trip parses this; the
    marks carry no mathematics)."""
    return " ".join(re.sub(r"\\\\|&|\\quad", " ", tex).split())


class Document:
    """A LaTeX document under construction: its body and the formulas it emitted.

    Consecutive formulas (no text between them) form one ``align*`` block, aligned at
    their ``=``; a sum too wide for a line continues on the next, indented.
    """

    def __init__(self, title: str, names: dict[sp.Basic, str] | None = None) -> None:
        self.title = title
        self.names = dict(names or {})
        self.body: list[str] = []
        self.emitted: list[Emitted] = []
        self.used: set[sp.Basic] = set()
        self.values: dict[sp.Symbol, float] = {}
        self.stand_in: dict[sp.Symbol, sp.Basic] = {}  # number placeholder -> the symbol it replaces
        self._rows: list[str] = []

    # -- pieces
    def tex(self, expr: sp.Basic, latex: str | None = None) -> str:
        """Print ``expr`` (or take its ``latex`` as laid out), record it for the round trip,
        and note the symbols it uses."""
        if latex is None:
            latex = to_latex(expr, self.names, self.stand_in)
        placeholders = {sym: self.values[sym] for sym in expr.free_symbols if sym in self.values}
        self.emitted.append(Emitted(latex, expr, placeholders))
        self.used |= expr.free_symbols | {x.base for x in expr.atoms(sp.Indexed)}
        self.used |= {type(f) for f in expr.atoms(AppliedUndef)}
        return latex

    def _lines(self, expr: sp.Basic, lead: int) -> str:
        """``expr`` printed, a wide sum broken before a sign into lines of at most
        :data:`LINE_WIDTH` (the first shortened by ``lead``, the width of its left side)."""
        whole = to_latex(expr, self.names, self.stand_in)
        if not isinstance(expr, sp.Add) or lead + _width(whole) <= LINE_WIDTH:
            return whole
        lines: list[list[str]] = [[]]
        room = LINE_WIDTH - lead
        for term in _printer(self.names, self.stand_in).signed_terms(expr):
            used = sum(_width(t) for t in lines[-1])
            if lines[-1] and used + _width(term) > room:
                lines.append([])
                room = LINE_WIDTH - 4
            lines[-1].append(term)
        return " \\\\\n&\\quad ".join(" ".join(line) for line in lines)

    def raw(self, tex: str) -> None:
        """Append LaTeX to the body as is (after any pending formulas)."""
        self._flush()
        self.body.append(tex)

    def _flush(self) -> None:
        if self._rows:
            self.body.append("\\begin{align*}\n" + " \\\\\n".join(self._rows) + "\n\\end{align*}\n")
            self._rows = []

    def text(self, paragraph: str) -> None:
        if paragraph:
            self.raw(paragraph + "\n")

    def section(self, title: str, label: str = "") -> None:
        self.raw(f"\\section{{{title}}}" + (f"\\label{{sec:{label}}}" if label else "") + "\n")

    def formula(self, lhs: str, rhs: sp.Basic, value: float | None = None) -> None:
        """Display ``lhs = rhs`` (``rhs`` an expression, a Piecewise or, with empty ``lhs``, an
        equation), followed by ``= value`` (a number, also recorded) when given."""
        if isinstance(rhs, sp.Piecewise):
            rows = []
            for expr, cond in rhs.args:
                cond_tex = r"\text{otherwise}" if cond is sp.true else r"\text{if } " + self.tex(cond)
                rows.append(f"\\displaystyle {self.tex(expr)} & {cond_tex}")
            body = "\\begin{cases}\n" + " \\\\\n".join(rows) + "\n\\end{cases}"
        elif isinstance(rhs, sp.Eq) and not lhs:
            sides = (to_latex(side, self.names, self.stand_in) for side in (rhs.lhs, rhs.rhs))
            body = self.tex(rhs, " &= ".join(sides))
        else:
            body = self.tex(rhs, self._lines(rhs, _width(lhs) + 2))
        line = f"{lhs} &= {body}" if lhs else body
        if value is not None:
            number = _number_tex(value)
            shown = printer.bare_number(number)
            self.emitted.append(Emitted(shown, sp.oo if math.isinf(value) else sp.Float(_rounded(value))))
            wide = _width(line.rsplit("\\\\", 1)[-1]) + _width(shown) > LINE_WIDTH and "cases" not in line
            line += f" \\\\\n&= {shown}" if wide else f" = {shown}"
        self._rows.append(line)

    def derivation(self, derivation: S.Derivation) -> None:
        self.section(derivation.title, derivation.name)
        self.text(derivation.intro)
        for step in derivation.steps:
            self.text(step.text)
            if step.rhs is not None:
                self.formula(step.lhs, step.rhs)

    def symbol_table(self) -> None:
        self.section("Symbols")
        self.text(
            "Units are SI (a cost is a number, 1). Symbols follow docs/model.md; $W_{n}$ is its "
            "$\\bar W_{n}$, $\\mu_{i}$ its $\\mathit{macs}_{i}$ and $h_{\\mathrm{mean}}$ its $\\bar h$."
        )
        rows = []
        for info in S.SYMBOLS.values():
            if info.symbol in self.used:  # meaning: LaTeX text with $...$; unit: LaTeX math
                unit = f"${info.unit}$" if info.unit else "--"
                rows.append(f"${info.latex}$ & {info.meaning} & {unit} \\\\")
        self.raw(
            "\\begin{longtable}{lp{0.62\\textwidth}l}\n\\hline\nsymbol & meaning & unit \\\\\n\\hline\n"
            + "\n".join(rows)
            + "\n\\hline\n\\end{longtable}\n"
        )

    def render(self, header: str) -> str:
        self._flush()
        return (
            header
            + PREAMBLE
            + f"\\title{{{self.title}}}\n\\author{{coopt}}\n\\date{{}}\n\\begin{{document}}\n\\maketitle\n\n"
            + "\n".join(self.body)
            + "\n"
            + BIBLIOGRAPHY
            + "\\end{document}\n"
        )


def _header() -> str:
    return (
        "% Generated by `coopt derive` (SymPy " + sp.__version__ + "): do not edit, regenerate.\n"
        "% Formulas: coopt/symbolic/derive.py; model: docs/model.md; problem: Yan, Bi and Zhang, IEEE TWC 2022.\n"
    )


def derivation_document(names: list[str] | None = None) -> Document:
    """The general derivations ``names`` (default: all, in order) in one document."""
    chosen = list(DERIVATION_NAMES) if not names else names
    unknown = [x for x in chosen if x not in DERIVATION_NAMES]
    if unknown:
        from coopt.errors import InstanceError

        raise InstanceError(f"derive: unknown derivation {unknown[0]!r}; valid names: {', '.join(DERIVATION_NAMES)}")
    title = "coopt: derivations" if len(chosen) == len(DERIVATION_NAMES) else "coopt: " + ", ".join(chosen)
    doc = Document(title)
    doc.text(CITATION)
    for name in chosen:
        doc.derivation(DERIVATION_NAMES[name]())
    doc.symbol_table()
    return doc


# ----------------------------------------------------------------------------- instance


def _number_tex(x: float) -> str:
    """A number as the document prints it: 6 significant digits, parenthesised when needed."""
    if math.isinf(x):
        return r"\infty" if x > 0 else r"-\infty"
    if x == 0:
        return "0"
    if 1e-3 <= abs(x) < 1e5:
        s = f"{x:.6g}"
        return f"({s})" if x < 0 else s
    mant, exp = f"{x:.5e}".split("e")
    mant = mant.rstrip("0").rstrip(".") if "." in mant else mant
    power = f"10^{{{int(exp)}}}"
    number = power if mant == "1" else f"{mant} \\cdot {power}"
    return f"({number})"


def _rounded(x: float) -> float:
    return float(f"{x:.6g}") if math.isfinite(x) and x != 0 else x


class _Numbers:
    """Placeholders that print as numbers: ``sub(expr, values)`` replaces symbols by them."""

    def __init__(self, doc: Document) -> None:
        self.doc = doc

    def __call__(self, expr: sp.Basic, values: dict[sp.Basic, float]) -> sp.Basic:
        rep = {}
        for sym in sorted(expr.free_symbols, key=lambda x: x.name):  # sets are hash-ordered
            if sym in values:
                rep[sym] = self.placeholder(values[sym], sym)
        return expr.xreplace(rep)

    def placeholder(self, x: float, symbol: sp.Basic | None = None) -> sp.Symbol:
        """A symbol printed as the number ``x``; written where ``symbol`` would be in a product."""
        idx = len(self.doc.values)
        sym = sp.Symbol(f"num{idx:04d}", real=True)
        self.doc.values[sym] = _rounded(float(x))
        self.doc.names[sym] = _number_tex(float(x))
        if symbol is not None:
            self.doc.stand_in[sym] = symbol
        return sym


def _active(piecewise: sp.Piecewise, values: dict[sp.Basic, float]) -> sp.Basic:
    """The branch of ``piecewise`` that holds for ``values`` (conditions evaluated numerically)."""
    for expr, cond in piecewise.args:
        if cond is sp.true or bool(cond.subs(values)):
            return expr
    raise ValueError("no branch holds")  # pragma: no cover


def instance_document(instance: Instance) -> Document:
    """The derivations with ``instance``'s numbers: constants, thresholds at :math:`M^*`,
    the MLP closed form where it applies, and tables of :math:`\\theta_n` and :math:`\\Phi(M)`."""
    from coopt.dp.enumeration import solve_enumeration
    from coopt.errors import InstanceError
    from coopt.model.problem import prepare

    problem = prepare(instance)
    costs, channel = problem.costs, problem.channel
    result = solve_enumeration(problem)
    doc = Document(f"coopt: derivation for instance \\texttt{{{_escape(instance.name)}}}")
    num = _Numbers(doc)
    doc.text(CITATION)
    prof = instance.profile
    doc.section("The instance")
    doc.text(
        f"Network \\texttt{{{_escape(prof.name)}}} with $N = {prof.n_layers}$ layers; "
        f"channel law \\texttt{{{instance.channel.law}}} with $K = {channel.n_states}$ states"
        f"{' (Markov)' if channel.is_markov else ' (i.i.d.)'}; rule \\texttt{{{result.rule}}}; "
        f"wait mode \\texttt{{{instance.wait.mode}}}; $K_{{tasks}} = {instance.placement.tasks_per_period:g}$. "
        f"The optimal placement is $M^{{*}} = {result.placement}$."
    )

    base = {
        S.P: instance.device.tx_power_w,
        S.sigma2: instance.uplink.noise_w,
        S.w_E: instance.cost.energy_weight,
        S.w_T: instance.cost.time_weight,
        S.B: instance.uplink.bandwidth_hz,
        S.rho: costs.rho,
        S.P_idle: instance.device.idle_power_w,
    }
    doc.section("Constants")
    doc.text("The model's constants with this instance's numbers (6 significant digits):")
    doc.formula(r"\rho", num(S.P / S.sigma2, base), costs.rho)
    measured = [c for c in prof.measured if c != "out_bits"]
    if measured:
        doc.text(
            "Layer costs are measured (profile columns "
            + ", ".join(f"\\texttt{{{_escape(c)}}}" for c in measured)
            + "): $a_{i} = w_{E} e_{i} + w_{T} t_{i}$ and $b_{i} = w_{T} t^{E}_{i}$ come from the profile."
        )
    else:
        base.update(
            {
                S.kappa: instance.device.kappa,
                S.f_L: instance.device.cpu_hz,
                S.c_L: instance.device.cycles_per_mac,
                S.f_E: instance.edge.cpu_hz,
                S.c_E: instance.edge.cycles_per_mac,
            }
        )
        alpha, beta = S.cost_per_mac()
        doc.text(
            "Cost of one MAC on the device and on the edge ($a_{i} = \\alpha\\,\\mu_{i}$, $b_{i} = \\beta\\,\\mu_{i}$):"
        )
        alpha_v, beta_v = float(alpha.subs(base)), float(beta.subs(base))
        doc.formula(r"\alpha", num(alpha, base), alpha_v)
        doc.formula(r"\beta", num(beta, base), beta_v)
    if instance.wait.mode != "never" and instance.wait.slot_s is not None:
        base[S.tau] = instance.wait.slot_s
        doc.formula("c_{w}", num(S.w_T * S.tau + S.w_E * S.P_idle * S.tau, base), costs.wait_cost)

    th = result.policy.thresholds
    if th is not None:
        _threshold_section(doc, num, instance, problem, result)
    else:
        doc.section("Decisions")
        doc.text(
            "A Markov channel has no single threshold per epoch; the decisions are tabulated per state by "
            "\\texttt{coopt solve}."
        )

    try:
        from coopt.symbolic.closed_form import check_applicable

        check_applicable(instance.with_rule("osla"))
        mlp_reason = ""
    except InstanceError as exc:
        mlp_reason = str(exc)
    if not mlp_reason:
        _mlp_section(doc, num, instance)
    else:
        doc.section("Closed-form placement")
        doc.text("The MLP closed form does not apply to this instance: " + _escape(mlp_reason.split(": ", 1)[-1]) + ".")

    _tables(doc, instance, result)
    doc.symbol_table()
    return doc


def _threshold_section(doc: Document, num: _Numbers, instance: Instance, problem, result) -> None:
    """:math:`\\theta_n` at :math:`M^*` with the numbers of each epoch substituted."""
    from coopt.dp.stopping import iid_wait_fixed_point
    from coopt.model.costs import wait_allowed

    costs, channel, Y = problem.costs, problem.channel, problem.Y
    m_star = result.placement
    p = channel.probs
    allowed = wait_allowed(instance.wait.mode, m_star, costs.n_layers)
    inv_r = 1.0 / costs.rate_bps(channel.gains)
    eta = float(p @ inv_r)
    doc.section(f"Thresholds at $M^{{*}} = {m_star}$")
    if result.rule == "osla":
        doc.text(
            "OSLA: $G_{n} = \\min(L_{n}^{c}, L_{n}^{w})$ with the look-ahead values of the OSLA derivation; "
            f"here $\\eta = E[1/r(h)] = {_number_tex(eta)}$ s/bit."
        )
    else:
        doc.text("Optimal rule: $G_{n} = \\min(C_{n}, c_{w} + W_{n})$ from backward induction.")
    theta_expr = S.optimal_threshold().theta
    for n in range(m_star + 1):
        if n < m_star:
            if result.rule == "osla":
                cont = float(p @ Y[n + 1])
            else:
                cont = float(p @ result.policy.values[n + 1])
        else:
            cont = math.inf
        wait = math.inf
        if allowed[n]:
            if result.rule == "osla":
                wait = costs.wait_cost + float(p @ Y[n])
            else:
                wait = costs.wait_cost + iid_wait_fixed_point(np.minimum(Y[n], cont), p, costs.wait_cost)
        G = min(cont, wait)
        base = float(costs.stop_base[n])
        if math.isinf(G):
            doc.text(f"Epoch $n = {n}$: stopping is forced, $\\theta_{{{n}}} = 0$.")
            continue
        if G <= base:
            doc.text(
                f"Epoch $n = {n}$: $G_{{{n}}} \\le A_{{{n}}} + R_{{{n}}}$, so $\\theta_{{{n}}} = +\\infty$ (never stop)."
            )
            continue
        values = {
            S.w_E: instance.cost.energy_weight,
            S.w_T: instance.cost.time_weight,
            S.P: instance.device.tx_power_w,
            S.d_n: float(costs.feature_bits[n]),
            S.B: costs.bandwidth_hz,
            # the per-upload overhead O_n (docs/model.md 10.3) is its own symbol
            S.G_n: G,
            S.A_n: float(costs.A[n]),
            S.R_n: float(costs.R[n]),
            S.O_n: float(costs.overhead[n]),
            S.rho: costs.rho,
        }
        value = float(result.policy.thresholds[n])
        doc.text(f"Epoch $n = {n}$ (after layer \\texttt{{{_escape(instance.profile.layer_names[n])}}}):")
        doc.formula(f"\\theta_{{{n}}}", num(theta_expr, values), value)


def _mlp_section(doc: Document, num: _Numbers, instance: Instance) -> None:
    """The MLP closed form with the instance's numbers (rule OSLA)."""
    from coopt.model.problem import prepare
    from coopt.symbolic.closed_form import check_applicable, evaluate

    inst = instance.with_rule("osla")
    shape = check_applicable(inst)
    problem = prepare(inst)
    cf = evaluate(inst, shape, problem.channel.gains, problem.channel.probs, problem.costs.wait_cost)
    v = cf.values
    mode = inst.wait.mode
    doc.section("Closed-form placement (equal-neuron MLP, OSLA)")
    if instance.placement.rule != "osla":
        doc.text("The instance's rule is optimal; this section is the OSLA closed form, for comparison.")
    doc.text(
        f"$H = {shape.hidden_layers}$ hidden layers. Stop statistics on the quantised channel "
        f"(first stopping states $k_{{0}} = {cf.sets['0'].first + 1}$, $k_{{h}} = {cf.sets['h'].first + 1}$, "
        f"$k_{{H}} = {cf.sets['H'].first + 1}$): "
        f"$q_{{0}} = {_number_tex(v[S.q_0])}$, $q = {_number_tex(v[S.q])}$, $q_{{H}} = {_number_tex(v[S.q_H])}$"
        + (f", $q_{{w}} = {_number_tex(v[S.q_w])}$" if mode == "last" else "")
        + "."
    )
    st = S.mlp_structure()
    values = dict(v)
    values[S.delta] = float(st.delta.subs(v))
    values[S.U] = float(st.U.subs(v))
    values[S.U_0] = float(st.U0.subs(v))
    for label, key in ((r"\theta_{0}", "theta_0"), (r"\theta_{h}", "theta_h"), (r"\theta_{H}", "theta_H")):
        pw = S.mlp_thresholds()[key]
        branch = _active(pw, values)
        if branch is sp.oo:
            doc.text(f"${label} = +\\infty$ (its margin is not positive).")
        else:
            doc.formula(label, num(branch, values), cf.numbers[key])
    omega_v = cf.numbers["omega"]
    values[S.omega] = omega_v
    doc.text("The per-epoch change of the task cost and the increment of $\\Phi$:")
    doc.formula(r"\Delta", num(S.mlp_delta(), values), cf.numbers["Delta"])
    values[S.Delta] = cf.numbers["Delta"]
    values[S.K_tasks] = inst.placement.tasks_per_period
    values[S.gamma] = float(S.GAMMA.subs(v))
    doc.formula(r"\Phi(M + 1) - \Phi(M)", num(S.mlp_increment(), values))
    doc.text("Best hidden placement (the first non-negative increment, as in the MLP derivation):")
    branch = _active(S.mlp_best_hidden(), values)
    doc.formula("M_{h}", num(branch, values), float(cf.hidden_best))
    doc.text(
        f"Memory limit: $M_{{max}} = {cf.memory_limit}$. Candidates $\\Phi(0)$, "
        f"$\\Phi(\\min(M_{{h}}, M_{{max}}))$, $\\Phi(N)$ give $M^{{*}} = {cf.placement}$ under OSLA."
    )


def _tables(doc: Document, instance: Instance, result) -> None:
    names = instance.profile.layer_names
    th = result.policy.thresholds
    if th is not None:
        doc.section("Table of thresholds")
        rows = []
        for n, t in enumerate(th):
            t_tex = "$+\\infty$" if math.isinf(t) else ("0 (always)" if t == 0 else f"${_number_tex(float(t))}$")
            rows.append(f"{n} & \\texttt{{{_escape(names[n])}}} & {t_tex} \\\\")
        doc.raw(
            "\\begin{longtable}{rll}\n\\hline\n$n$ & after layer & $\\theta_{n}$ \\\\\n\\hline\n"
            + "\n".join(rows)
            + "\n\\hline\n\\end{longtable}\n"
        )
    doc.section("Table of $\\Phi(M)$")
    rows = []
    for pv in result.by_placement:
        mark = " ($M^{*}$)" if pv.placement == result.placement else ""
        rows.append(
            f"{pv.placement}{mark} & \\texttt{{{_escape(names[pv.placement])}}} & ${_number_tex(pv.objective)}$ & "
            f"${_number_tex(pv.task_cost)}$ & ${_number_tex(pv.download_cost / result.tasks_per_period)}$ \\\\"
        )
    doc.raw(
        "\\begin{longtable}{rllll}\n\\hline\n$M$ & last layer & $\\Phi(M)$ & $J(M)$ & $D(M)/K_{tasks}$ \\\\\n\\hline\n"
        + "\n".join(rows)
        + "\n\\hline\n\\end{longtable}\n"
    )


# ----------------------------------------------------------------------------- files


INSTANCE_SUFFIX = "-numbers"  # <stem>-numbers.tex, so that no instance collides with a derivation NAME.tex


def output_names(names: list[str] | None = None, instance_path: Path | None = None) -> list[str]:
    """The file names :func:`documents` produces (checked before any work starts).

    Without ``instance_path``: ``derivations.tex`` (all derivations) when ``names`` is
    empty or ``["all"]``, else one standalone ``NAME.tex`` per name (an unknown name
    raises :class:`~coopt.errors.InstanceError`). With it: ``<instance stem>-numbers.tex``.
    """
    if instance_path is not None:
        return [f"{Path(instance_path).stem}{INSTANCE_SUFFIX}.tex"]
    if not names or names == ["all"]:
        return ["derivations.tex"]
    unknown = [x for x in names if x not in DERIVATION_NAMES]
    if unknown:
        from coopt.errors import InstanceError

        raise InstanceError(f"derive: unknown derivation {unknown[0]!r}; valid names: {', '.join(DERIVATION_NAMES)}")
    return [f"{name}.tex" for name in names]


def documents(names: list[str] | None = None, instance_path: Path | None = None) -> dict[str, str]:
    """The documents ``coopt derive`` produces: file name (:func:`output_names`) to LaTeX."""
    files = output_names(names, instance_path)
    if instance_path is not None:
        from coopt.model.instance import load_instance

        return {files[0]: instance_document(load_instance(instance_path)).render(_header())}
    chosen: list[list[str] | None] = [None] if files == ["derivations.tex"] else [[n] for n in names or []]
    return {file: derivation_document(c).render(_header()) for file, c in zip(files, chosen)}


def write_documents(out_dir: Path, names: list[str] | None = None, instance_path: Path | None = None) -> list[Path]:
    """Write the :func:`documents` into ``out_dir`` (created if missing), all or nothing;
    return their paths. Existing files are replaced (the command line refuses that
    unless ``--force``)."""
    return write_atomic({Path(out_dir) / name: text for name, text in documents(names, instance_path).items()})
