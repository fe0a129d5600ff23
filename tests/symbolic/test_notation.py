"""The notation table (coopt.symbolic.notation) and docs/model.md write each instance key's
symbol alike, up to LaTeX spelling: ``K_{\\mathrm{tasks}}`` in the table is ``K_{tasks}`` on
the page, ``\\bar{h}`` is ``\\bar h``."""

from __future__ import annotations

import re

import pytest

from coopt.model.instance import instance_keys
from coopt.symbolic.notation import NOTATION
from tests.support.instances import ROOT

MODEL_PAGE = (ROOT / "docs" / "model.md").read_text(encoding="utf-8")
KEYED = [q for q in NOTATION if q.key in instance_keys()]


def spelling(tex: str) -> str:
    """LaTeX without the differences of spelling: upright text, braces of one token, spaces."""
    tex = re.sub(r"\\mathrm\{([^{}]*)\}", r"\1", tex)
    tex = re.sub(r"\\bar\s*\{?(\w)\}?", r"\\bar \1", tex)
    tex = re.sub(r"([_^])\{([^{}]*)\}", r"\1\2", tex)
    return re.sub(r"\s+|\\,", "", tex)


def test_most_instance_keys_have_a_symbol() -> None:
    assert len(KEYED) >= 20


@pytest.mark.parametrize("quantity", KEYED, ids=lambda q: q.key)
def test_the_model_page_writes_the_tables_symbol_for_the_key(quantity) -> None:
    rows = [
        line
        for line in MODEL_PAGE.splitlines()
        if f"`{quantity.key}`" in line or f"`{quantity.key.split('.')[-1]}`" in line
    ]
    page = spelling(MODEL_PAGE)
    assert spelling(quantity.symbol) in page, (quantity.key, quantity.symbol, rows[:2])
