"""Reading generated LaTeX back into SymPy (tests/symbolic): each formula compared with its source."""

from __future__ import annotations

import sympy as sp
from sympy.core.function import AppliedUndef

from coopt.symbolic import latex


def _atoms(expr: sp.Basic) -> set[sp.Basic]:
    out: set[sp.Basic] = set(expr.atoms(sp.Symbol)) | set(expr.atoms(sp.Indexed))
    return out


def to_source(parsed: sp.Basic, source: sp.Basic, parse, names: dict) -> sp.Basic:
    """Map the parser's symbols and functions to the source's (each atom's own LaTeX parsed)."""
    mapping = {}
    for atom in _atoms(source):
        mapping[parse(latex.to_latex(atom, names))] = atom
    funcs = {}
    for app in source.atoms(AppliedUndef):
        parsed_app = parse(latex.to_latex(app, names))
        funcs[parsed_app.func.__name__] = app.func
    builtins = {"min": sp.Min, "max": sp.Max}

    def is_call(e):
        return isinstance(e, AppliedUndef) and (e.func.__name__ in funcs or e.func.__name__ in builtins)

    def call(e):
        f = funcs.get(e.func.__name__) or builtins[e.func.__name__]
        return f(*e.args)

    parsed = parsed.replace(is_call, call)
    # plain symbols by exact replacement; compound ones (L_n**c, sigma**2) algebraically
    simple = {k: v for k, v in mapping.items() if isinstance(k, sp.Symbol)}
    compound = {k: v for k, v in mapping.items() if not isinstance(k, sp.Symbol)}
    return parsed.xreplace(simple).subs(compound)


def equivalent(a: sp.Basic, b: sp.Basic) -> bool:
    if a == b:
        return True
    if isinstance(a, sp.core.relational.Relational) or isinstance(b, sp.core.relational.Relational):
        return type(a) is type(b) and equivalent(a.lhs, b.lhs) and equivalent(a.rhs, b.rhs)
    diff = a - b
    if diff.has(sp.Sum):
        diff = diff.doit()
    return sp.simplify(sp.expand_log(diff, force=True)) == 0
