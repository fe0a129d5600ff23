"""The documentation stays whole: every module has an API page, every link in
README.md, CONTRIBUTING.md and docs/ points at a file inside the repository, and
docs/model.md documents every instance key, every key of the JSON result and every
exit code that the code has."""

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
        assert not re.match(r"[a-z]+://", target), f"{page.name}: link {target} leaves the repository"
        if target.startswith("#"):
            continue
        path = (page.parent / target.split("#", 1)[0]).resolve()
        assert path.is_relative_to(ROOT), f"{page.name}: link {target} leaves the repository"
        assert path.exists(), f"{page.name}: link {target} points at nothing"


# ----------------------------------------------------------------- docs/model.md agrees with the code

MODEL = DOCS / "model.md"


def _section(start: str, end: str) -> str:
    text = MODEL.read_text(encoding="utf-8")
    return text[text.index(start) : text.index(end)]


def _code_tokens(text: str) -> set[str]:
    """Every name written in an inline code span, split at dots and commas
    (```breakdown.local`, `.upload``` gives breakdown, local, upload)."""
    tokens = set()
    for span in re.findall(r"`([^`\n]+)`", text):
        tokens.update(t for t in re.split(r"[.,\s]+", span) if t)
    return tokens


def test_every_instance_key_is_documented() -> None:
    from coopt.dp.constraints import KEYS
    from coopt.model.instance import _SCHEMA

    keys = {f"{table}.{key}" for table, schema in _SCHEMA.items() for key in schema}
    keys |= {f"constraints.{key}" for key in KEYS}
    table = _section("### The instance (TOML)", "### The result")
    documented = set(re.findall(r"^\| `([a-z_]+\.[a-z_]+)` \|", table, flags=re.M))
    assert keys - documented == set(), "keys missing from the instance table of docs/model.md"
    assert documented - keys == set(), "docs/model.md documents keys that the parser does not accept"


def _json_keys(obj: object) -> set[str]:
    if isinstance(obj, dict):
        return set(obj) | {k for v in obj.values() for k in _json_keys(v)}
    if isinstance(obj, list):
        return {k for v in obj for k in _json_keys(v)}
    return set()


def test_every_json_key_of_solve_is_documented() -> None:
    from coopt import load_instance, solve

    result = solve(load_instance(ROOT / "data" / "cnn_chain.toml")).to_dict()
    rows = [line for line in _section("### The result", "### Exit codes").splitlines() if line.startswith("|")]
    documented = _code_tokens("\n".join(rows))
    assert _json_keys(result) - documented == set(), "JSON keys missing from the result table of docs/model.md"


def test_every_exit_code_is_documented() -> None:
    from coopt import errors

    codes = {
        cls.exit_code for cls in vars(errors).values() if isinstance(cls, type) and issubclass(cls, errors.CooptError)
    }
    documented = {int(c) for c in re.findall(r"^\| (\d) \|", _section("### Exit codes", "## 9."), flags=re.M)}
    assert codes | {0} <= documented
