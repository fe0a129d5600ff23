"""Serve MathJax from the built site itself, so that the math renders without network.

``sphinx.ext.mathjax`` loads MathJax from a CDN by default: offline, behind a firewall
or with the CDN blocked, every page shows raw TeX. This extension copies MathJax 3.2.2
from the PyPI package ``django-static-mathjax`` (a plain copy of MathJax's ``es5``
directory, no dependencies; it is in the ``dev`` extra, so ``pip install -e ".[dev]"``
brings it) into ``_static/mathjax`` and points ``mathjax_path`` at it. MathJax
typesets in the browser (CHTML with web fonts): the build stays as fast as with the CDN
and the formulas stay text (crisp at any zoom, selectable, searchable).
"""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path
from typing import Any

from sphinx.application import Sphinx
from sphinx.errors import ConfigError

# Relative to _static: the single-file TeX-to-CHTML build and what it loads on demand
# (TeX extensions through \require and autoload, the fonts, the menu's a11y modules).
MATHJAX_PATH = "mathjax/tex-chtml.js"
PARTS = ("tex-chtml.js", "input", "output", "ui", "a11y", "adaptors", "sre")


def mathjax_source() -> Path:
    """The ``es5`` directory of the installed MathJax (package ``mathjax``)."""
    spec = importlib.util.find_spec("mathjax")
    locations = list(spec.submodule_search_locations or []) if spec else []
    for loc in locations:
        es5 = Path(loc) / "static" / "mathjax" / "es5"
        if (es5 / "tex-chtml.js").is_file():
            return es5
    raise ConfigError(
        "MathJax is not installed: the docs serve it from the package django-static-mathjax "
        '(pip install -e ".[dev]" installs it)'
    )


def _check(app: Sphinx, config: Any) -> None:
    if config.mathjax_path != MATHJAX_PATH:
        raise ConfigError(f"mathjax_path must be {MATHJAX_PATH!r} (served locally), not {config.mathjax_path!r}")
    mathjax_source()


def _copy(app: Sphinx, exception: Exception | None) -> None:
    if exception is not None or app.builder.format != "html":
        return
    src, dest = mathjax_source(), Path(app.outdir) / "_static" / "mathjax"
    dest.mkdir(parents=True, exist_ok=True)
    for part in PARTS:
        if (src / part).is_dir():
            shutil.copytree(src / part, dest / part, dirs_exist_ok=True)
        else:
            shutil.copy2(src / part, dest / part)


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("config-inited", _check)
    app.connect("build-finished", _copy)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
