"""docs/_ext/browser_check.py, the headless-Chromium check of the built docs that .ci/run
runs on docs/_build/html after the build: here on a small site made to fail each way (raw
TeX, a broken image, a missing file and anchor, a network request) beside a clean page
with MathJax served from the site itself, so the check is known to catch what it claims.
Chromium is Debian's (.ci/run installs it); without it the test is skipped."""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path

import pytest

from tests.support.instances import ROOT

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (.ci/run installs it)")


def load(name: str):
    """A module of docs/_ext (not a package: loaded from its file)."""
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, ROOT / "docs" / "_ext" / f"{name}.py")
        assert spec is not None and spec.loader is not None
        sys.modules[name] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(sys.modules[name])
    return sys.modules[name]


def checker():
    return load("browser_check")


PNG_1X1 = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000d49444154789c6360f8cfc0f01f0005000201a8a2c4a50000000049454e44ae426082"
)


def page(body: str, head: str = "") -> str:
    return f"<!doctype html><html><head><meta charset='utf-8'>{head}</head><body>{body}</body></html>"


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("site")
    (root / "img.png").write_bytes(PNG_1X1)
    (root / "sub").mkdir()
    shutil.copytree(load("offline_mathjax").mathjax_source(), root / "_static" / "mathjax")
    script = "<script defer src='_static/mathjax/tex-chtml.js'></script>"
    (root / "clean.html").write_text(
        page(
            "<p id='top'>Math \\(M \\in \\{0..N\\}\\) and $$\\Phi(M)$$ typeset.</p>"
            "<pre>code may show \\(raw\\) TeX</pre><img src='img.png'>"
            "<a href='sub/other.html#here'>a page</a> <a href='#top'>up</a> <a href='https://example.org'>out</a>",
            script,
        )
    )
    (root / "sub" / "other.html").write_text(page("<h1 id='here'>here</h1>"))
    (root / "raw.html").write_text(page("<p>Math \\(M \\le N\\) never typeset: no MathJax here.</p>"))
    (root / "broken.html").write_text(
        page("<img src='missing.png'> <a href='nowhere.html'>x</a> <a href='sub/other.html#gone'>y</a>")
    )
    (root / "network.html").write_text(page("<p>fine</p>", "<script src='https://cdn.invalid/x.js'></script>"))
    return root


def test_each_failure_is_caught_and_the_clean_pages_pass(site, tmp_path):
    reports = {r.path.name: r.problems for r in checker().check_site(site, tmp_path / "shots")}
    assert reports["clean.html"] == [] and reports["other.html"] == []
    assert any("raw TeX '\\\\('" in p for p in reports["raw.html"]), reports["raw.html"]
    broken = reports["broken.html"]
    assert any(p.startswith("broken image") and "missing.png" in p for p in broken)
    assert any(p.startswith("link to a missing file") and "nowhere.html" in p for p in broken)
    assert any(p.startswith("link to a missing anchor") and "#gone" in p for p in broken)
    assert reports["network.html"] == ["network request: https://cdn.invalid/x.js"]
    shots = sorted(p.name for p in (tmp_path / "shots").iterdir())
    assert shots == ["broken.png", "clean.png", "network.png", "raw.png", "sub__other.png"]
    assert all((tmp_path / "shots" / s).read_bytes().startswith(b"\x89PNG") for s in shots)


@pytest.mark.slow
def test_exit_codes(site, tmp_path, capsys):
    module = checker()
    assert module.main([str(site)]) == 1
    out = capsys.readouterr().out
    assert "raw.html: raw TeX" in out and "network.html: network request" in out and "clean.html" not in out
    good = tmp_path / "good"
    (good / "sub").mkdir(parents=True)
    shutil.copy(site / "sub" / "other.html", good / "sub" / "other.html")
    assert module.main([str(good)]) == 0


def test_a_missing_build_is_an_error(tmp_path, capsys):
    assert checker().main([str(tmp_path / "nowhere")]) == 2
    assert "no built HTML pages" in capsys.readouterr().err
