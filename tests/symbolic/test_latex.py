"""LaTeX of the derivations: every formula parses back (SymPy's LaTeX parser, antlr backend)
to an expression equivalent to its source; derivations/ is what `coopt derive` writes; the
documents compile with pdflatex."""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import sympy as sp

from coopt.model.instance import load_instance
from coopt.symbolic import derive as S
from coopt.symbolic import latex
from tests.support.instances import ROOT
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


def _value(expr: sp.Basic, at: dict) -> float:
    return float(sp.N(expr.subs(at), 30))


def test_instance_formulas_round_trip(parse, instance_doc):
    body = instance_doc.render("")
    assert len(instance_doc.emitted) > 15
    for em in instance_doc.emitted:
        assert em.latex in body
        source = em.expr.xreplace({sym: sp.Float(v) for sym, v in em.values.items()})
        parsed = to_source(parse(latex.flatten(em.latex)), source, parse, instance_doc.names)
        if source.free_symbols:  # a formula in M (the increment): compare at a few M
            points = [{S.M: m} for m in (1, 2, 5)]
        else:
            points = [{}]
        for at in points:
            want, got = _value(source, at), _value(parsed, at)
            if math.isinf(want):
                assert got == want
            else:
                assert got == pytest.approx(want, rel=RTOL_NUMBER, abs=0), em.latex


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
