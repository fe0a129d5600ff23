"""LaTeX of the derivations: every formula parses back (SymPy's LaTeX parser, antlr backend)
to an expression equivalent to its source; derivations/ is what `coopt derive` writes; the
documents compile with pdflatex."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import sympy as sp

from coopt.model.instance import load_instance
from coopt.symbolic import latex
from tests.support.instances import EXAMPLE_INSTANCES, ROOT
from tests.support.latex import equivalent, to_source

DERIVATIONS = ROOT / "derivations"
EXAMPLE = DERIVATIONS / "mlp-example.toml"
RTOL_NUMBER = 1e-12  # printed numbers parsed back: decimal text, the same digits


@pytest.fixture(scope="module")
def general_doc() -> latex.Document:
    return latex.derivation_document()


@pytest.fixture(scope="module")
def instance_doc() -> latex.Document:
    return latex.instance_document(load_instance(EXAMPLE))


@pytest.mark.slow
def test_general_formulas_round_trip(parse, general_doc):
    assert len(general_doc.emitted) > 80
    body = general_doc.render("")
    for em in general_doc.emitted:
        assert em.latex in body
        parsed = to_source(parse(latex.flatten(em.latex)), em.expr, parse, general_doc.names)
        assert equivalent(parsed, em.expr), (em.latex, parsed, em.expr)


def test_instance_formulas_round_trip(parse, instance_doc):
    """The instance document's formulas are the general ones (symbolic, each parsed back to its
    source), and each `= value` after one parses back to its number."""
    body = instance_doc.render("")
    assert len(instance_doc.emitted) > 15
    symbolic = [em for em in instance_doc.emitted if em.expr.free_symbols]
    assert len(symbolic) >= 8
    for em in instance_doc.emitted:
        assert em.latex in body
        parsed = to_source(parse(latex.flatten(em.latex)), em.expr, parse, instance_doc.names)
        if em.expr.free_symbols:
            assert equivalent(parsed, em.expr), (em.latex, parsed, em.expr)
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


def test_committed_example_documents_are_regenerated(tmp_path):
    """derivations/examples/ holds the --instance document of every shipped example, as
    `coopt derive --instance data/NAME.toml` writes it today."""
    written = [p for inst in EXAMPLE_INSTANCES for p in latex.write_documents(tmp_path, instance_path=inst)]
    committed = sorted(p.name for p in (DERIVATIONS / "examples").glob("*.tex"))
    assert committed == sorted(p.name for p in written), "see derivations/README.md: regenerate derivations/examples"
    for path in written:
        assert (DERIVATIONS / "examples" / path.name).read_text(encoding="utf-8") == path.read_text(encoding="utf-8"), (
            f"derivations/examples/{path.name} is stale: regenerate it (derivations/README.md)"
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


# What a PDF's text must not hold (pdftotext): "¿" is ">" and "ˆ" is "^" in OT1 text mode;
# a doubled closing quote, or one opening a word, is '"' (OT1) or two '' in a row.
BAD_GLYPHS = re.compile("¿|ˆ|””|''''|(?:^|[\\s(])”\\w", re.MULTILINE)
SHIPPED_INSTANCES = (EXAMPLE, *EXAMPLE_INSTANCES)
"""Instance documents compiled by the pdflatex test: the MLP closed form and every shipped
example (among them a closed form that does not apply, a Markov channel, measured costs)."""


def _tool(name: str, package: str) -> str:
    path = shutil.which(name)
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{name} is missing in CI (.ci/run installs {package})")
        pytest.skip(f"{name} not installed (apt-get install {package})")
    return path


def _pdflatex() -> str:
    engine = _tool("pdflatex", "texlive-latex-base")
    found = subprocess.run(["kpsewhich", "lmodern.sty"], capture_output=True, text=True)
    if not found.stdout.strip():  # the documents' T1 fonts (without: bitmap Type 3 fonts)
        if os.environ.get("CI") == "true":
            pytest.fail("lmodern is missing in CI (.ci/run installs it)")
        pytest.skip("the LaTeX fonts lmodern are not installed (apt-get install lmodern)")
    return engine


def _compile(engine: str, tex: Path) -> str:
    """Run pdflatex on ``tex`` (in its folder); return its .log (the whole one, not the
    terminal's wrapped echo)."""
    proc = subprocess.run(
        [engine, "-interaction=nonstopmode", "-halt-on-error", "-no-shell-escape", tex.name],
        cwd=tex.parent,
        capture_output=True,
        text=True,
        timeout=120,
    )
    log = tex.with_suffix(".log").read_text(encoding="latin-1")
    assert proc.returncode == 0 and "\n! " not in log, f"{tex.name}: pdflatex failed\n{log[-3000:]}"
    return log


def _box_problems(log: str) -> list[str]:
    """The overfull boxes pdflatex reports (a formula or a table wider or taller than the page)."""
    return [line for line in log.splitlines() if line.startswith(("Overfull \\hbox", "Overfull \\vbox"))]


def _text_problems(pdf: Path) -> list[str]:
    """Lines of the PDF's text (pdftotext) with a glyph of :data:`BAD_GLYPHS`."""
    tool = shutil.which("pdftotext") or "pdftotext"
    out = subprocess.run([tool, "-enc", "UTF-8", str(pdf), "-"], capture_output=True, check=True).stdout
    return [line for line in out.decode("utf-8").splitlines() if BAD_GLYPHS.search(line)]


def _type3_fonts(pdf: Path) -> list[str]:
    """Fonts of type 3 (bitmaps, which publishers' PDF checkers flag), by pdffonts."""
    listing = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True, check=True).stdout
    return [line for line in listing.splitlines()[2:] if "Type 3" in line]


def test_the_pdf_checks_catch_what_they_look_for(tmp_path):
    """The checks below fail on a document with each fault: OT1 text-mode '>' and '^',
    a '"' quote, a box wider than its line."""
    engine = _pdflatex()
    _tool("pdftotext", "poppler-utils")
    bad = tmp_path / "bad.tex"
    bad.write_text(
        "\\documentclass{article}\\begin{document}\n"
        'sum\\_\\{i>n\\} b\\_i, J s\\^{}2 and "any"\n\n'
        "\\hbox to 2cm{\\texttt{a box much wider than two centimetres}}\n"
        "\\end{document}\n",
        encoding="utf-8",
    )
    log = _compile(engine, bad)
    assert _box_problems(log)
    found = "\n".join(_text_problems(bad.with_suffix(".pdf")))
    assert "¿" in found and "ˆ" in found and "”any" in found, found


@pytest.mark.slow
def test_pdflatex_compiles_the_documents(tmp_path):
    """Every document `coopt derive` writes (each NAME.tex, derivations.tex, the instance
    documents of shipped examples) compiles with no overfull box, its text has none of
    :data:`BAD_GLYPHS` and its fonts are scalable (no Type 3)."""
    engine = _pdflatex()
    text_check = shutil.which("pdftotext") is not None
    font_check = shutil.which("pdffonts") is not None
    docs = latex.write_documents(tmp_path) + latex.write_documents(tmp_path, list(latex.DERIVATION_NAMES))
    for instance in SHIPPED_INSTANCES:
        docs += latex.write_documents(tmp_path, instance_path=instance)
    assert len(docs) == 1 + len(latex.DERIVATION_NAMES) + len(SHIPPED_INSTANCES)
    problems = {}
    for tex in docs:
        log = _compile(engine, tex)
        pdf = tex.with_suffix(".pdf")
        assert pdf.stat().st_size > 10_000
        found = _box_problems(log)
        found += _text_problems(pdf) if text_check else []
        found += _type3_fonts(pdf) if font_check else []
        if found:
            problems[tex.name] = found
    assert not problems, problems
    if not (text_check and font_check):
        pytest.skip("compiled without overfull boxes; pdftotext/pdffonts missing (apt-get install poppler-utils)")
