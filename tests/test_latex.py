"""LaTeX of the derivations: every formula parses back (SymPy's LaTeX parser, antlr backend)
to an expression equivalent to its source; derivations/ is what `coopt derive` writes; the
documents compile with pdflatex."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import sympy as sp
from sympy.core.function import AppliedUndef

from coopt.model.instance import load_instance
from coopt.symbolic import latex

ROOT = Path(__file__).resolve().parent.parent
DERIVATIONS = ROOT / "derivations"
EXAMPLE = DERIVATIONS / "mlp-example.toml"
RTOL_NUMBER = 1e-12  # printed numbers parsed back: decimal text, the same digits


@pytest.fixture(scope="module")
def parse():
    try:
        import antlr4  # noqa: F401  (SymPy's parser needs the runtime 4.11 of the dev extra)
    except ImportError:
        if os.environ.get("CI") == "true":
            pytest.fail("antlr4-python3-runtime 4.11 is missing in CI: pip install -e '.[dev]'")
        pytest.skip("the LaTeX parser needs antlr4-python3-runtime 4.11 (pip install -e '.[dev]')")
    from sympy.parsing.latex import parse_latex

    return parse_latex


@pytest.fixture(scope="module")
def general_doc() -> latex.Document:
    return latex.derivation_document()


@pytest.fixture(scope="module")
def instance_doc() -> latex.Document:
    return latex.instance_document(load_instance(EXAMPLE))


def _atoms(expr: sp.Basic) -> set[sp.Basic]:
    out: set[sp.Basic] = set(expr.atoms(sp.Symbol)) | set(expr.atoms(sp.Indexed))
    return out


def _to_source(parsed: sp.Basic, source: sp.Basic, parse, names: dict) -> sp.Basic:
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


def _equivalent(a: sp.Basic, b: sp.Basic) -> bool:
    if a == b:
        return True
    if isinstance(a, sp.core.relational.Relational) or isinstance(b, sp.core.relational.Relational):
        return type(a) is type(b) and _equivalent(a.lhs, b.lhs) and _equivalent(a.rhs, b.rhs)
    diff = a - b
    if diff.has(sp.Sum):
        diff = diff.doit()
    return sp.simplify(sp.expand_log(diff, force=True)) == 0


def test_general_formulas_round_trip(parse, general_doc):
    assert len(general_doc.emitted) > 80
    body = general_doc.render("")
    for em in general_doc.emitted:
        assert em.latex in body
        parsed = _to_source(parse(latex.flatten(em.latex)), em.expr, parse, general_doc.names)
        assert _equivalent(parsed, em.expr), (em.latex, parsed, em.expr)


def test_instance_formulas_round_trip(parse, instance_doc):
    """The instance document's formulas are the general ones (symbolic, each parsed back to its
    source), and each `= value` after one parses back to its number."""
    body = instance_doc.render("")
    assert len(instance_doc.emitted) > 15
    symbolic = [em for em in instance_doc.emitted if em.expr.free_symbols]
    assert len(symbolic) >= 8
    for em in instance_doc.emitted:
        assert em.latex in body
        parsed = _to_source(parse(latex.flatten(em.latex)), em.expr, parse, instance_doc.names)
        if em.expr.free_symbols:
            assert _equivalent(parsed, em.expr), (em.latex, parsed, em.expr)
        elif em.expr is sp.oo:
            assert parsed == sp.oo, em.latex
        else:
            assert float(parsed) == pytest.approx(float(em.expr), rel=RTOL_NUMBER, abs=0), em.latex


def test_instance_document_numbers_match_the_solver(instance_doc):
    from coopt import solve

    res = solve(load_instance(EXAMPLE))
    body = instance_doc.render("")
    assert f"$M^{{*}} = {res.placement}$" in body
    for t in res.policy.thresholds:
        assert latex._number_tex(float(t)) in body


def _generate(tmp: Path) -> list[Path]:
    return latex.write_documents(tmp) + latex.write_documents(tmp, instance_path=EXAMPLE)


def test_committed_derivations_are_regenerated(tmp_path):
    written = _generate(tmp_path)
    committed = sorted(p.name for p in DERIVATIONS.glob("*.tex"))
    assert committed == sorted(p.name for p in written), (
        "run: coopt derive --out derivations --force && "
        "coopt derive --instance derivations/mlp-example.toml --out derivations --force"
    )
    for path in written:
        assert (DERIVATIONS / path.name).read_text(encoding="utf-8") == path.read_text(encoding="utf-8"), (
            f"derivations/{path.name} is stale: regenerate it with `coopt derive` (see derivations/README.md)"
        )


def test_cli_derive(tmp_path):
    run = [sys.executable, "-m", "coopt", "derive"]
    out = subprocess.run(
        run + ["thresholds", "mlp", "--out", str(tmp_path)], capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == [str(tmp_path / "thresholds.tex"), str(tmp_path / "mlp.tex")]
    assert "\\section{Thresholds of the optimal rule}" in (tmp_path / "thresholds.tex").read_text()
    bad = subprocess.run(run + ["nonsense", "--out", str(tmp_path)], capture_output=True, text=True)
    assert bad.returncode == 2 and "unknown derivation 'nonsense'" in bad.stderr and bad.stderr.count("\n") == 1


def test_pdflatex_compiles_the_documents(tmp_path):
    engine = shutil.which("pdflatex")
    if engine is None:
        if os.environ.get("CI") == "true":
            pytest.fail("pdflatex is missing in CI (.ci/run installs texlive-latex-base)")
        pytest.skip("pdflatex not installed (apt-get install texlive-latex-base)")
    docs = _generate(tmp_path) + latex.write_documents(tmp_path, ["waiting"])
    for tex in docs:
        proc = subprocess.run(
            [engine, "-interaction=nonstopmode", "-halt-on-error", "-no-shell-escape", tex.name],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )
        log = proc.stdout
        assert proc.returncode == 0 and "\n! " not in log, f"{tex.name}: pdflatex failed\n{log[-3000:]}"
        assert "Overfull \\hbox" not in log, f"{tex.name}: a formula is wider than the page\n{log[-3000:]}"
        assert (tmp_path / (tex.stem + ".pdf")).stat().st_size > 10_000
