r"""SymPy's LaTeX printer in the notation of the model (docs/model.md), for formulas a paper can paste.

SymPy's default LaTeX is correct but mechanical: ``\frac{B \cdot \log\left(h \cdot \rho + 1\right)}
{\log\left(2\right)}``, ``- A_{n} + G_{n} - R_{n}``, factors in alphabetical order with a
``\cdot`` between each pair. :class:`ModelPrinter` writes instead
``B \log_{2}(1 + \rho h)``, ``G_{n} - A_{n} - R_{n}`` and
``w_{E} \kappa f_{L}^{2} c_{L} \mu_{i}``, by these rules.

Products are implicit (a space between factors), the factors in this order:

1. numbers;
2. parenthesised factors (sums and their powers), the shorter first;
3. symbols and their powers, in the order of the symbol table (``names``): coopt's
   table (:data:`coopt.symbolic.derive.LATEX_NAMES`) declares the indices, then the
   weights :math:`w_E, w_T`, the device constants (:math:`\kappa, f_L, c_L`, ...), the
   link, the channel, then the per-layer and per-epoch quantities;
4. function applications (:math:`r(h)`, :math:`\min(\cdot)`, :math:`\log_2(\cdot)`);
5. sums :math:`\sum` (last: a sum runs on over everything that follows it).

So ``(w_E P + w_T) d_n`` and ``(1 - q_0)(1 - q)^{M-1} \Delta``, as the model writes
them; the parenthesis comes first because a name before a parenthesis reads as a
function call (to SymPy's parser, and to a reader: ``d_{n}(x)``). A ``\cdot`` is
written only where a juxtaposition would be misread: before a number (``2 \cdot 3^{x}``),
and between a name and a parenthesis should one follow it. Names are separated by
a space, so adjacent names never fuse (``\rho h``, not ``\rhoh``).

Sums: positive terms first, then the negative ones (``G_{n} - A_{n} - R_{n}``); a
term with a sum :math:`\sum` last, a term without a fraction before one with, a term
of names only before one with a parenthesis (``c_{w} + A_{n} + R_{n} + (w_{E} P +
w_{T}) d_{n} \eta``); otherwise by the places in the symbol table of their names. A positive number leads
(``1 + \rho h``, ``1 - q``) except in index arithmetic, where every symbol is an
integer (``n + 1``, ``H + 1``, ``M - 1``). A negated sum gives its sign to the
product (``- (q + \omega) U``).

Common factors: a factor common to every term of a sum is pulled out
(``(w_{E} P_{\mathrm{idle}} + w_{T}) \tau``; in a product it joins the other factors,
``(N_{\mathrm{in}} + 1) N_{h} b_{p}``), unless it is only a number or a term of what is
left would be a fraction (``a_{i}`` stays energy plus time, as docs/model.md writes it).

``min`` and ``max``: SymPy sorts their arguments canonically; they are written numbers
first, then function applications (compared by their arguments), names in table order,
compound arguments last: ``\min(Y_{n}(h), G_{n})``, ``\min(C_{n}, c_{w} + W_{n})``, as
docs/model.md writes them.

Fractions: ``\frac`` at the top level; inside a fraction on one line, ``a / b`` (an
implicit product binds tighter than ``/``, for the parser as for a reader). An exponent
is on one line where that needs no parenthesis (``2^{x / 2}``); a quotient that would
need one is a fraction, ``2^{\frac{(w_{E} P + w_{T}) d_{n}}{(G_{n} - A_{n} - R_{n} - O_{n}) B}}``
rather than ``2^{(w_{E} P + w_{T}) d_{n} / ((G_{n} - A_{n} - R_{n} - O_{n}) B)}``.
A negative power of a root goes to the denominator too: ``\frac{\sqrt{\xi_{u}}}{\sqrt{\lambda_{B}}}``,
not ``\sqrt{\xi_{u}} \frac{1}{\sqrt{\lambda_{B}}}``.

Parentheses: plain around flat content, sized (``\left(``) around fractions, sums
and cases; a function's sized parenthesis follows ``\!`` (no gap before ``\left``).

Logarithms: ``\log(x)/\log(2)`` is written ``\log_{2}(x)`` (also in a denominator);
any other logarithm is ``\log(x)``, always with parentheses (a braced argument would
run on over a following product in the parser).

Every formula parses back with :func:`sympy.parsing.latex.parse_latex` to an
expression equal to its source (``\log_{2}(x)`` parses to ``\log(x)/\log(2)``);
``tests/symbolic/test_latex.py`` checks it on every formula the documents print, and
``tests/symbolic/test_printer.py`` on the rules above.
"""

from __future__ import annotations

import re

import sympy as sp
from sympy.core.function import AppliedUndef
from sympy.printing.latex import LatexPrinter
from sympy.printing.precedence import PRECEDENCE, precedence_traditional

__all__ = ["ModelPrinter", "bare_number", "to_latex"]

_NUMBER = re.compile(r"^\(?-?\d")
"""LaTeX that starts like a number (a number placeholder of an instance document)."""

_POWER = re.compile(r"\^\{[^{}]*\}$")
"""LaTeX ending in a superscript: a parenthesis after it is a factor, not an argument."""

# factor classes, in the order they are written in a product
_NUM, _GROUP, _NAME, _CALL, _SUM = range(5)


def bare_number(tex: str) -> str:
    r"""A positive number without the parentheses it carries in a product (``(2 \cdot 10^{9})``)."""
    if tex.startswith("(") and tex.endswith(")") and not tex.startswith("(-"):
        return tex[1:-1]
    return tex


def _tall(tex: str) -> bool:
    """Whether ``tex`` is taller than a line of text (parentheses around it are sized)."""
    return any(mark in tex for mark in (r"\frac", r"\sum", r"\begin", r"\left"))


class _Log2(sp.Function):
    """:math:`\\log_2(x)`, only inside the printer (never returned to a caller)."""

    nargs = 1


class ModelPrinter(LatexPrinter):
    """SymPy's LaTeX printer with the model's notation (see the module docstring).

    ``names`` maps symbols, ``IndexedBase`` objects and undefined functions to their
    LaTeX; its order is the factor order of products and terms. ``stand_in`` maps the
    number placeholders of an instance document to the symbols they replace: they are
    written where those symbols would be (``w_E \\kappa f_L^2 c_L`` with numbers).
    """

    def __init__(self, names: dict[sp.Basic, str], stand_in: dict[sp.Symbol, sp.Basic] | None = None) -> None:
        symbol_names = {sym: tex for sym, tex in names.items() if isinstance(sym, sp.Symbol)}
        super().__init__({"mul_symbol": None, "symbol_names": symbol_names})
        self._stand_in = dict(stand_in or {})
        self._names = names
        self._rank = {obj: pos for pos, obj in enumerate(names)}
        self._inline = 0  # > 0 inside an exponent: fractions a / b, plain parentheses
        self._frac = 0  # > 0 inside a fraction: a fraction in it is written a / b
        self._exponent: sp.Basic | None = None  # the exponent being printed (a quotient in it is a \frac)
        self._lengths: dict[tuple[sp.Basic, int, int], int] = {}

    def _paren(self, tex: str) -> str:
        """``tex`` in parentheses: plain around flat content and in an exponent, sized
        (``\\left(``) around fractions, sums and cases."""
        return f"({tex})" if self._inline or not _tall(tex) else rf"\left({tex}\right)"

    def _call(self, name: str, args: str, exp: str | None = None) -> str:
        r"""A function application: plain parentheses around flat arguments (``r(h)``),
        sized ones (without the gap TeX puts before ``\left``) around tall ones."""
        tall = _tall(args) and not self._inline
        tex = rf"{name}\!\left({args}\right)" if tall else f"{name}({args})"
        return f"{tex}^{{{exp}}}" if exp else tex

    # -- order
    def _atom_rank(self, expr: sp.Basic) -> int:
        """Place of ``expr``'s name in the symbol table (numbers first, unknown names last)."""
        expr = self._stand_in.get(expr, expr)  # a number in place of a symbol ranks as the symbol
        if isinstance(expr, sp.Indexed):
            expr = expr.base
        elif isinstance(expr, AppliedUndef):
            expr = expr.func
        if expr in self._rank:
            return -1 if self._is_constant(expr) else self._rank[expr]
        return len(self._rank)

    def _is_constant(self, expr: sp.Basic) -> bool:
        """A number that orders as a number (not one standing in for a symbol)."""
        return self._is_number(expr) and expr not in self._stand_in

    def _is_number(self, expr: sp.Basic) -> bool:
        if expr.is_Number or expr is sp.pi or expr is sp.E:
            return True
        return isinstance(expr, sp.Symbol) and bool(_NUMBER.match(self._names.get(expr, "")))

    def _class(self, factor: sp.Basic) -> int:
        base = factor.base if factor.is_Pow else factor
        if self._is_constant(factor) or (factor.is_Pow and self._is_constant(base) and self._is_constant(factor.exp)):
            return _NUM
        if isinstance(base, sp.Sum):
            return _SUM
        if precedence_traditional(base) < PRECEDENCE["Mul"] or base.is_Piecewise:
            return _GROUP
        if isinstance(base, (sp.Symbol, sp.Indexed)) or self._is_constant(base):
            return _NAME
        return _CALL

    def _key(self, expr: sp.Basic) -> tuple[int, ...]:
        """Ranks of the names in ``expr`` in table order (an ``Indexed`` counts as its base)."""
        ranks = []
        stack = [expr]
        while stack:
            e = stack.pop()
            if isinstance(e, (sp.Symbol, sp.Indexed, AppliedUndef)):
                ranks.append(self._atom_rank(e))
            if not isinstance(e, sp.Indexed):
                stack.extend(e.args)
        return tuple(sorted(ranks))

    def ordered_factors(self, expr: sp.Expr) -> list[sp.Basic]:
        """The factors of the product ``expr`` (no sign, no denominator) in the written order."""
        factors = list(sp.Mul.make_args(expr))

        def key(f: sp.Basic) -> tuple:
            cls = self._class(f)
            if cls == _GROUP:  # the shorter first: (1 - q_0) (1 - q)^{M - 1} (Z_1 + \omega)
                return (cls, self._length(f), self._key(f))
            return (cls, self._key(f.base if f.is_Pow else f), self._key(f))

        return sorted(factors, key=lambda f: (key(f), sp.default_sort_key(f)))

    def _length(self, expr: sp.Basic) -> int:
        """Length of ``expr``'s LaTeX (memoised: sorting would print nested groups again)."""
        key = (expr, self._inline, self._frac)
        if key not in self._lengths:
            self._lengths[key] = len(self._print(expr))
        return self._lengths[key]

    def _head(self, factor: sp.Basic) -> int:
        """Rank of the name a factor starts with (its base's for a power)."""
        base = factor.base if factor.is_Pow else factor
        if isinstance(base, (sp.Symbol, sp.Indexed, AppliedUndef)):
            return self._atom_rank(base)
        return min(self._key(base), default=len(self._rank))

    def _as_ordered_terms(self, expr: sp.Basic, order: str | None = None) -> list[sp.Basic]:
        terms = list(sp.Add.make_args(expr))
        index = all(s.is_integer for s in expr.free_symbols) and all(t.is_integer for t in terms)  # n + 1

        def key(t: sp.Basic) -> tuple:
            negative = t.could_extract_minus_sign()
            if t.is_Number or self._is_constant(t):
                return (3 if negative or index else 0, False, False, False, ())
            factors = self.ordered_factors(-t if negative else t)
            classes = [self._class(f) for f in factors]
            fraction = any(f.is_Pow and f.exp.could_extract_minus_sign() for f in factors)
            names = tuple((self._head(f),) for f, c in zip(factors, classes) if c not in (_NUM, _GROUP))
            groups = tuple((len(self._rank), *self._key(f)) for f, c in zip(factors, classes) if c == _GROUP)
            return (2 if negative else 1, _SUM in classes, fraction, bool(groups), names + groups)

        return sorted(terms, key=lambda t: (key(t), sp.default_sort_key(t)))

    def signed_terms(self, expr: sp.Expr) -> list[str]:
        """The terms of the sum ``expr`` as written, each after the first with its sign:
        ``["G_{n}", "- A_{n}", "- R_{n}"]``; joined with spaces they are ``doprint(expr)``."""
        out = []
        for pos, term in enumerate(self._as_ordered_terms(expr)):
            negative = term.could_extract_minus_sign()
            tex = self._print(-term if negative else term)
            if self._needs_add_brackets(term):
                tex = self._paren(tex)
            if tex.startswith("- "):  # a product that carries its sign, -(q + w) U
                negative, tex = not negative, tex[2:]
            if negative:
                out.append("- " + tex)
            else:
                out.append(tex if pos == 0 else "+ " + tex)
        return out

    def common_factor(self, expr: sp.Expr) -> sp.Expr | None:
        """``expr`` with the factor common to all its terms pulled out (``(w_{E} P_{idle} + w_{T})
        \\tau``), or ``None`` when there is none but a number, or when a term of what is left
        would be a fraction (``a_{i}`` stays energy plus time, as docs/model.md writes it)."""
        factored = sp.factor_terms(expr, radical=False, clear=False, fraction=False, sign=False)
        if not factored.is_Mul:
            return None
        sums = [f for f in factored.args if f.is_Add]
        rest = [f for f in factored.args if not f.is_Add]
        if len(sums) != 1 or all(self._is_constant(f) for f in rest):
            return None
        for term in sums[0].args:
            if any(f.is_Pow and f.exp.could_extract_minus_sign() for f in sp.Mul.make_args(term)):
                return None
        return factored

    def _print_Add(self, expr: sp.Expr, order: str | None = None) -> str:
        factored = self.common_factor(expr)
        if factored is not None:
            return self._print(factored)
        return " ".join(self.signed_terms(expr))

    # -- products
    def _log2_pairs(self, factors: list[sp.Basic]) -> list[sp.Basic]:
        """Replace ``log(x)**e * log(2)**-e`` (``e = +-1``) by ``_Log2(x)**e``."""
        log2 = sp.log(2)
        for e in (1, -1):
            if log2**-e not in factors:
                continue
            for f in factors:
                if f != log2**-e and (
                    (e == 1 and isinstance(f, sp.log)) or (f.is_Pow and f.exp == e and isinstance(f.base, sp.log))
                ):
                    arg = (f if e == 1 else f.base).args[0]
                    rest = [x for x in factors if x is not f and x != log2**-e]
                    return [*rest, _Log2(arg) ** e]
        return factors

    def _product(self, factors: list[sp.Basic]) -> str:
        """The factors (all with positive exponents) written as an implicit product."""
        if len(factors) == 1 and self._is_number(factors[0]) and factors[0].is_Symbol:
            return bare_number(self._print(factors[0]))  # a lone number needs no parentheses
        out = ""
        prev = ""
        for pos, f in enumerate(self.ordered_factors(sp.Mul(*factors, evaluate=False)) if factors else []):
            tex = self._print(f)
            last = pos == len(factors) - 1
            if len(factors) > 1 and self._needs_mul_brackets(f, first=pos == 0, last=last):
                tex = self._paren(tex)
            if prev:
                numbers = tex[0].isdigit()  # a number never just follows a factor: 2 \cdot 3
                call = tex.startswith(("(", r"\left(")) and not (prev.endswith(")") or _POWER.search(prev))
                out += r" \cdot " if numbers or call else " "
            out += tex
            prev = tex
        return out or "1"

    def _print_Mul(self, expr: sp.Expr) -> str:
        exponent = expr is self._exponent  # the whole exponent of a power
        sign = ""
        if expr.could_extract_minus_sign():
            expr = -expr
            sign = "- "
            if expr.is_Add:
                return "- " + self._paren(self._print(expr))
        factors: list[sp.Basic] = []
        for f in sp.Mul.make_args(expr):  # a sum's common factor joins the product: (N_in + 1) N_h b_p
            factored = self.common_factor(f) if f.is_Add else None
            factors.extend(sp.Mul.make_args(factored) if factored is not None else [f])
        factors = self._log2_pairs(factors)
        # -(q + w) U rather than (- q - w) U: a negated sum gives its sign to the product
        for pos, f in enumerate(factors):
            if f.is_Add and all(t.could_extract_minus_sign() for t in f.args):
                factors[pos] = -f
                sign = "" if sign else "- "
        numer: list[sp.Basic] = []
        denom: list[sp.Basic] = []
        for f in factors:
            if f.is_Pow and f.exp.could_extract_minus_sign():
                denom.append(f.base ** (-f.exp))
            elif f.is_Rational and f.q != 1:
                if f.p != 1:
                    numer.append(sp.Integer(f.p))
                denom.append(sp.Integer(f.q))
            else:
                numer.append(f)
        if not denom:
            return sign + self._product(numer)
        # a / b would need parentheses: in an exponent, a (script-size) fraction reads better
        bracketed = (len(numer) == 1 and numer[0].is_Add) or len(denom) > 1 or denom[0].is_Add
        if not (self._inline or self._frac) or (exponent and bracketed and not self._frac):
            self._frac += 1
            try:
                top, bottom = self._product(numer), self._product(denom)
            finally:
                self._frac -= 1
            return sign + rf"\frac{{{top}}}{{{bottom}}}"
        # a / b (in an exponent or a fraction): an implicit product binds tighter than "/"
        # (for SymPy's parser too)
        top, bottom = self._product(numer), self._product(denom)
        top = self._paren(top) if len(numer) == 1 and numer[0].is_Add else top
        bottom = self._paren(bottom) if len(denom) > 1 or denom[0].is_Add else bottom
        return sign + f"{top} / {bottom}"

    def _print_Pow(self, expr: sp.Pow) -> str:
        if expr.exp.is_negative:
            return self._print_Mul(expr)
        if (expr.exp.is_Rational and not expr.exp.is_Integer) or expr.base.is_Function:
            return super()._print_Pow(expr)
        base = self._print(expr.base)
        if precedence_traditional(expr.base) < PRECEDENCE["Pow"] or (expr.base.is_Number and expr.base < 0):
            base = self._paren(base)
        elif "^" in base and not base.startswith(("(", r"\left(")):
            base = f"{{{base}}}"  # a name with a superscript, {\sigma^{2}}^{2}
        # the exponent on one line (a / b), in script size rather than a tiny fraction
        self._inline += 1
        outer, self._exponent, frac = self._exponent, expr.exp, self._frac
        self._frac = 0  # an exponent starts afresh, whatever fraction the power is in
        try:
            exp = self._print(expr.exp)
        finally:
            self._inline -= 1
            self._exponent, self._frac = outer, frac
        return f"{base}^{{{exp}}}"

    # -- functions
    def _print_Indexed(self, expr: sp.Indexed) -> str:
        base = self._names.get(expr.base, self._print(expr.base.label))
        return f"{base}_{{{','.join(self._print(i) for i in expr.indices)}}}"

    def _print_log(self, expr: sp.Basic, exp: str | None = None) -> str:
        # SymPy writes \log{\left(x \right)}; the parser reads a braced argument as running
        # on over a following product (\log{(2)} p as log(2p)), parentheses end it.
        return self._call(r"\log", self._print(expr.args[0]), exp)

    def _print_exp(self, expr: sp.Basic, exp: str | None = None) -> str:
        # SymPy writes e^{x}, which the parser reads as a symbol e to a power.
        return self._call(r"\exp", self._print(expr.args[0]), exp)

    def _print__Log2(self, expr: sp.Basic, exp: str | None = None) -> str:
        return self._call(r"\log_{2}", self._print(expr.args[0]), exp)

    def _print_Function(self, expr: sp.Basic, exp: str | None = None) -> str:
        if isinstance(expr, AppliedUndef) and expr.func in self._names:
            name = self._names[expr.func]
            args = ", ".join(self._print(arg) for arg in expr.args)
            return self._call(name, args, exp)
        return super()._print_Function(expr, exp)

    def _argument_key(self, arg: sp.Basic) -> tuple:
        """Order of the arguments of ``min``/``max``: numbers, then function applications
        (their arguments compared the same way), then names in table order, then compound
        arguments: ``\\min(Y_{n}(h), G_{n})``, ``\\min(C_{n}, c_{w} + W_{n})`` as docs/model.md."""
        if self._is_constant(arg):
            return (0, 0, ())
        if isinstance(arg, (sp.Symbol, sp.Indexed)):
            return (2, self._atom_rank(arg), ())
        if isinstance(arg, sp.Function) or isinstance(arg, (sp.Min, sp.Max)):
            head = self._atom_rank(arg) if isinstance(arg, AppliedUndef) else len(self._rank)
            return (1, head, tuple(self._argument_key(a) for a in arg.args))
        return (3, 0, self._key(arg))

    def _arguments(self, expr: sp.Basic) -> str:
        args = sorted(expr.args, key=lambda a: (self._argument_key(a), sp.default_sort_key(a)))
        return ", ".join(self._print(arg) for arg in args)

    def _print_Min(self, expr: sp.Basic, exp: str | None = None) -> str:
        return self._call(r"\min", self._arguments(expr), exp)

    def _print_Max(self, expr: sp.Basic, exp: str | None = None) -> str:
        return self._call(r"\max", self._arguments(expr), exp)


def to_latex(expr: sp.Basic, names: dict[sp.Basic, str], stand_in: dict[sp.Symbol, sp.Basic] | None = None) -> str:
    """LaTeX of ``expr`` in the model's notation, ``names`` giving the symbols' LaTeX and order;
    ``stand_in`` maps number placeholders to the symbols they replace (their place in products)."""
    return ModelPrinter(names, stand_in).doprint(expr)
