"""Fixtures of the symbolic tests."""

from __future__ import annotations

import os

import pytest


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
