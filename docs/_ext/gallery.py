"""The gallery: one page per example of ``data/``, generated at every build from the example.

For each ``data/*.toml`` the extension runs, from the root of the checkout, what a
reader would type, and writes ``docs/gallery/<name>.md`` with the file's header
comment, the commands, what they printed and the figures they wrote:

* an instance: ``coopt solve data/<name>.toml`` (the text report) and
  ``coopt figures data/<name>.toml --out docs/gallery/fig/<name> --force``;
* a sweep spec (a ``[grid]`` table): ``coopt sweep`` into ``docs/gallery/fig/<name>/run``
  and ``coopt figures --sweep`` on it, with the axis and grouping named in its header.

Nothing is cached, so a page never shows a stale report or figure; the examples run in
two processes (matplotlib's rendering dominates: about 4 s per example on one core). A
command that exits non-zero fails the build. ``docs/gallery/`` is generated and not
committed; ``docs/gallery/index.md`` lists the examples.
"""

from __future__ import annotations

import contextlib
import io
import multiprocessing
import os
import re
import shutil
import time
import tomllib
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sphinx.application import Sphinx
from sphinx.errors import ExtensionError
from sphinx.util import logging

logger = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "data"
OUT = ROOT / "docs" / "gallery"
WORKERS = 2

# Figure files in the order they are shown, with a caption each (stem -> caption).
CAPTIONS = {
    "phi": "Phi(M) for every placement: the joint optimum and the OSLA rule",
    "thresholds": "the splitting policy at the optimal placement",
    "costs": "cost against tasks per period and against mean SNR",
    "splits": "where the tasks upload: exact probabilities and simulation",
    "sweep": "the sweep: cost of every policy against the swept key",
}


@dataclass
class Example:
    name: str
    header: list[str]
    commands: list[tuple[str, str]]  # (command, what it printed)
    figures: list[str]  # paths relative to docs/gallery/
    seconds: float


def header_lines(text: str) -> list[str]:
    """The comment lines that open an example file, without the ``#``."""
    lines = []
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        lines.append(line[2:] if line.startswith("# ") else line[1:])
    return lines


def _run(argv: list[str]) -> str:
    """``coopt ARGV`` in this process (the console script's entry point), its output."""
    from coopt.cli.main import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        try:
            code = main(argv)
        except SystemExit as exc:
            code = int(exc.code or 0)
    if code != 0:
        raise RuntimeError(f"coopt {' '.join(argv)} exited {code}:\n{out.getvalue()}")
    return out.getvalue()


def _sweep_figure_args(text: str) -> list[str]:
    """The ``--x``/``--by`` options that the spec's header gives its figure command."""
    m = re.search(r"coopt figures --sweep \S+((?: --(?:x|y|by) \S+)*)", text)
    return m.group(1).split() if m else []


def run_example(path_str: str) -> Example:
    """Run one example from the root of the checkout (worker process)."""
    os.environ.setdefault("MPLBACKEND", "Agg")
    os.chdir(ROOT)
    start = time.perf_counter()
    path = Path(path_str)
    text = path.read_text(encoding="utf-8")
    name = path.stem
    rel = f"data/{path.name}"
    fig_dir = OUT / "fig" / name
    if fig_dir.exists():
        shutil.rmtree(fig_dir)
    fig_rel = fig_dir.relative_to(ROOT).as_posix()
    doc = tomllib.loads(text)
    if "shared" in doc:  # a fleet (docs/model.md section 11): its report; fleet figures are not written yet
        commands = [("coopt " + " ".join(argv), _run(argv)) for argv in (["solve", rel],)]
        return Example(name, header_lines(text), commands, [], time.perf_counter() - start)
    if "grid" in doc:
        run_dir = f"{fig_rel}/run"
        argvs = [
            ["sweep", rel, "--out", run_dir, "--workers", "1"],
            ["figures", "--sweep", run_dir, *_sweep_figure_args(text), "--out", fig_rel],
        ]
    else:
        argvs = [["solve", rel], ["figures", rel, "--out", fig_rel, "--force"]]
    commands = [("coopt " + " ".join(argv), _run(argv)) for argv in argvs]
    pngs = sorted(fig_dir.glob("*.png"), key=lambda p: list(CAPTIONS).index(p.stem) if p.stem in CAPTIONS else 99)
    if not pngs:
        raise RuntimeError(f"{rel}: the figure command wrote no PNG into {fig_rel}")
    figures = [p.relative_to(OUT).as_posix() for p in pngs]
    return Example(name, header_lines(text), commands, figures, time.perf_counter() - start)


_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>$#|~{}])")


def escape(text: str) -> str:
    """Plain text as Markdown (MyST) that renders as itself: no emphasis, math or roles."""
    return _MD_SPECIAL.sub(r"\\\1", text)


_LEAD = re.compile(r"^[A-Z][A-Za-z ]*(\([^)]*\))?[A-Za-z ]*:(\s|$)")


def header_markdown(lines: list[str]) -> str:
    """The header as Markdown: its paragraphs (a new one at a lead such as ``What it
    shows:``), its indented items as a list (deeper lines continue an item) and its
    indented ``coopt`` lines as a console block."""
    blocks: list[tuple[str, list[str]]] = []  # (kind, lines): para, item, code

    def add(kind: str, text: str, new: bool) -> None:
        if new or not blocks or blocks[-1][0] != kind:
            blocks.append((kind, [text]))
        else:
            blocks[-1][1].append(text)

    for line in lines:
        text = line.strip()
        indent = len(line) - len(line.lstrip())
        if not text:
            blocks.append(("break", []))
        elif indent >= 2 and text.startswith("coopt "):
            add("code", text, False)
        elif indent >= 4 and blocks and blocks[-1][0] == "item":
            blocks[-1][1].append(text)
        elif indent >= 2:
            add("item", text, True)
        else:
            add("para", text, bool(_LEAD.match(text)))
    out = ""
    prev = ""
    for kind, body in blocks:
        if kind == "break":
            prev = kind
            continue
        if kind == "para":
            text = escape(" ".join(body))
        elif kind == "item":
            text = "* " + escape(" ".join(body))
        else:
            text = "```console\n" + "\n".join("$ " + c for c in body) + "\n```"
        sep = "\n" if kind == prev == "item" else "\n\n"
        out += (sep if out else "") + text
        prev = kind
    return out


def page(ex: Example) -> str:
    parts = [
        f"# {ex.name}",
        "",
        f"`data/{ex.name}.toml`, run when these docs were built ({ex.seconds:.1f} s). Its header:",
        "",
        header_markdown(ex.header),
        "",
    ]
    for cmd, output in ex.commands:
        parts += [
            "```console",
            f"$ {cmd}",
            "```",
            "",
            "````text",
            output.rstrip("\n") or "(no output)",
            "````",
            "",
        ]
    for fig in ex.figures:
        stem = Path(fig).stem
        parts += [f"![{ex.name}: {CAPTIONS.get(stem, stem)}]({fig})", ""]
    return "\n".join(parts)


def summary(ex: Example) -> str:
    """The first sentence of the header."""
    text = " ".join(line.strip() for line in ex.header if line.strip())
    m = re.match(r"(.+?[.:])(\s|$)", text)
    return escape(m.group(1) if m else text)


def index(examples: list[Example]) -> str:
    lines = [
        "# Gallery",
        "",
        "Every example of `data/`, run when these docs were built: its header, the commands, "
        "what they printed and the figures they wrote (generated by `docs/_ext/gallery.py`, "
        "never a stored copy).",
        "",
    ]
    lines += [f"* [{ex.name}]({ex.name}.md): {summary(ex)}" for ex in examples]
    lines += ["", "```{toctree}", ":hidden:", "", *(ex.name for ex in examples), "```", ""]
    return "\n".join(lines)


def _write(path: Path, text: str) -> None:
    """Write only on change, so that an unchanged page is not read again."""
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")


def generate(app: Sphinx | None = None) -> list[Example]:
    start = time.perf_counter()
    OUT.mkdir(parents=True, exist_ok=True)
    files = sorted(str(p) for p in DATA.glob("*.toml"))
    ctx = multiprocessing.get_context("spawn")
    try:
        with ProcessPoolExecutor(max_workers=WORKERS, mp_context=ctx) as pool:
            examples = list(pool.map(run_example, files))
    except RuntimeError as exc:
        raise ExtensionError(f"gallery: {exc}") from exc
    names = {ex.name for ex in examples}
    for stale in OUT.glob("*.md"):
        if stale.stem not in names and stale.name != "index.md":
            stale.unlink()
    for ex in examples:
        _write(OUT / f"{ex.name}.md", page(ex))
    _write(OUT / "index.md", index(examples))
    logger.info(f"gallery: {len(examples)} examples in {time.perf_counter() - start:.1f} s")
    return examples


def _builder_inited(app: Sphinx) -> None:
    generate(app)


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("builder-inited", _builder_inited)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
