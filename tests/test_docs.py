"""The documentation stays whole: every module has an API page, and every link in
README.md, CONTRIBUTING.md and docs/ points at a file inside the repository."""

from __future__ import annotations

import pkgutil
import re
from pathlib import Path

import pytest

import coopt

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PAGES = sorted(
    [p for p in (ROOT / "README.md", ROOT / "CONTRIBUTING.md") if p.exists()]
    + [p for p in DOCS.rglob("*.md") if "_build" not in p.parts]
)
# [text](target) in Markdown; autolinks and reference-style links are not used here.
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


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


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_links_stay_inside_the_repository(page: Path) -> None:
    for target in LINK.findall(page.read_text(encoding="utf-8")):
        if re.match(r"https?://", target):
            continue  # citations (the paper on arXiv) are not files of the repository
        if target.startswith("#"):
            continue
        path = (page.parent / target.split("#", 1)[0]).resolve()
        assert path.is_relative_to(ROOT), f"{page.name}: link {target} leaves the repository"
        assert path.exists(), f"{page.name}: link {target} points at nothing"
