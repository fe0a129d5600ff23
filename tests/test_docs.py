"""The documentation stays whole: every module has an API page."""

from __future__ import annotations

import pkgutil
import re
from pathlib import Path

import pytest

import coopt

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


def _modules() -> list[str]:
    names = ["coopt"]
    for info in pkgutil.walk_packages(coopt.__path__, "coopt."):
        if info.name.startswith("coopt.models") or info.name == "coopt.__main__":
            continue
        names.append(info.name)
    return names


def _documented() -> set[str]:
    text = "\n".join(p.read_text(encoding="utf-8") for p in (DOCS / "api").glob("*.rst"))
    return set(re.findall(r"^\.\. automodule:: (\S+)$", text, flags=re.M))


@pytest.mark.parametrize("module", _modules())
def test_every_module_has_an_api_entry(module: str) -> None:
    assert module in _documented(), f"add '.. automodule:: {module}' to the page of its subpackage in docs/api/"


def test_no_api_entry_for_a_missing_module() -> None:
    assert _documented() <= set(_modules())
