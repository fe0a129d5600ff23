"""Sphinx configuration of the coopt documentation.

Build with ``sphinx-build -W -b html docs docs/_build/html`` (warnings are errors).
The API pages are generated from the docstrings (autodoc with napoleon for the
numpydoc sections); the narrative pages are Markdown (MyST). No extension fetches
anything from the network, and no built page requests anything from it: MathJax is
served from ``_static`` (``_ext/offline_mathjax.py``), and ``tests/docs/test_docs_browser.py``
checks that in headless Chromium.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "docs" / "_ext"))

project = "coopt"
author = "coopt developers"
copyright = "coopt developers"
release = version = "0.1.0"

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "myst_parser",
    "offline_mathjax",
    "gallery",
]

# MathJax 3.2.2 from the PyPI package django-static-mathjax, copied into _static by
# _ext/offline_mathjax.py: the math renders offline (the default is a CDN URL).
mathjax_path = "mathjax/tex-chtml.js"

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "_pending", "**/README.md"]

# MyST: $...$ and $$...$$ math in the Markdown pages, anchors for headings so that
# pages can link to sections (model.md#the-stopping-problem).
myst_enable_extensions = ["dollarmath", "colon_fence"]
myst_heading_anchors = 3

# numpydoc-style sections (Parameters, Returns, Attributes) through napoleon.
napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_use_rtype = False
napoleon_use_ivar = True

autodoc_member_order = "bysource"
autodoc_default_options = {"members": True, "show-inheritance": False}
autodoc_typehints = "description"
autodoc_typehints_format = "short"
# Optional extras that the default install does not carry: documented pages must
# build without them.
autodoc_mock_imports = ["onnx", "onnxruntime", "dask", "distributed", "quantecon"]
# Type hints name NumPy aliases and third-party classes that have no page here;
# without intersphinx (no network) they cannot be resolved, and need not be.
nitpicky = False

html_theme = "furo"
html_title = "coopt"
html_static_path: list[str] = []
