"""docs/tutorial.md (and the worked examples of docs/model.md and the how-to pages of
docs/howto/) cannot rot: every command
and every Python block in them is run, in order, in a temporary directory holding a copy
of ``data/``, and every output they quote must be what the code prints now.

The markup (stated in an HTML comment at the top of the tutorial):

* A ```console block holds commands, lines ``$ coopt ...``; the lines that follow a
  command are its quoted output. Each quoted line must equal a line of the real
  output (stdout and stderr, whitespace collapsed), in the same order; a line ``...``
  stands for omitted lines. A command ending in ``# exit N`` must exit with ``N``,
  every other one with 0.
* ```python blocks run in one namespace, in order; a ```text block right after one
  quotes its printed output, with the same rules.
* An inline code span in the prose that is only a number (``+3.00 %``, ``-58.72``)
  must occur in the real output of a block above it.

Commands run in this process through :func:`coopt.cli.main.main` (the console script's
entry point), which keeps the test fast.
"""

from __future__ import annotations

import contextlib
import io
import re
import shlex
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from coopt.cli.main import main
from tests.support.instances import ROOT

TUTORIAL = ROOT / "docs" / "tutorial.md"
# The how-to pages (docs/howto/, its index aside) follow the tutorial's markup.
HOWTOS = sorted(p for p in (ROOT / "docs" / "howto").glob("*.md") if p.name != "index.md")
PAGES = [TUTORIAL, ROOT / "docs" / "model.md", *HOWTOS]

FENCE = re.compile(r"^```(\w*)\n(.*?)^```\s*$", re.S | re.M)
EXIT = re.compile(r"#\s*exit\s+(\d+)\s*$")
# A number as quoted in prose: optional sign, digits with thousands separators or a
# decimal point, optional exponent, optional unit.
NUMBER = re.compile(r"^[+-]?\d[\d,]*(\.\d+)?(e[+-]?\d+)?( ?(%|s|J|dB|x|ms|mJ))?$")


@dataclass
class Step:
    """One thing to run: a console command or a Python block, with its quoted output
    and the prose between the previous step and this one."""

    kind: str  # "console" or "python"
    source: str
    quoted: list[str]
    exit_code: int
    prose_before: str
    line: int


def _norm(line: str) -> str:
    return " ".join(line.split())


def parse(text: str) -> list[Step]:
    """The steps of a tutorial page, in order."""
    steps: list[Step] = []
    pos = 0
    prose = ""
    blocks = list(FENCE.finditer(text))
    for i, block in enumerate(blocks):
        lang, body = block.group(1), block.group(2)
        line = text.count("\n", 0, block.start()) + 1
        prose += text[pos : block.start()]
        pos = block.end()
        if lang == "console":
            current: Step | None = None
            for raw in body.splitlines():
                if raw.startswith("$ "):
                    cmd = raw[2:]
                    m = EXIT.search(cmd)
                    current = Step("console", cmd, [], int(m.group(1)) if m else 0, prose, line)
                    prose = ""
                    steps.append(current)
                elif current is not None and raw.strip():
                    current.quoted.append(raw)
        elif lang == "python":
            steps.append(Step("python", body, [], 0, prose, line))
            prose = ""
        elif lang == "text" and i > 0 and blocks[i - 1].group(1) == "python" and steps:
            steps[-1].quoted = [raw for raw in body.splitlines() if raw.strip()]
    return steps


def missing_lines(quoted: list[str], output: str) -> list[str]:
    """The quoted lines not found, in order, among the output's lines (``...`` skips)."""
    lines = [_norm(x) for x in output.splitlines()]
    at = 0
    missing = []
    for q in quoted:
        if q.strip() == "...":
            continue
        want = _norm(q)
        try:
            at = lines.index(want, at) + 1
        except ValueError:
            missing.append(q)
    return missing


def quoted_numbers(prose: str) -> list[str]:
    """Inline code spans of the prose that are numbers."""
    return [span for span in re.findall(r"`([^`\n]+)`", prose) if NUMBER.match(span.strip())]


def run_console(cmd: str) -> tuple[int, str]:
    argv = shlex.split(cmd, comments=True)
    assert argv[0] == "coopt", f"only coopt commands can be run: {cmd}"
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        try:
            code = main(argv[1:])
        except SystemExit as exc:  # argparse
            code = int(exc.code or 0)
    return code, out.getvalue()


def run_python(source: str, namespace: dict, page: Path) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(source, str(page), "exec"), namespace)
    return out.getvalue()


def test_parse_reads_commands_outputs_and_exit_codes() -> None:
    text = "Prose `1.5 %` and `K`.\n```console\n$ coopt x  # exit 2\na\n...\nb\n```\n```python\nprint(1)\n```\n```text\n1\n```\n"
    steps = parse(text)
    assert [(s.kind, s.source, s.quoted, s.exit_code) for s in steps] == [
        ("console", "coopt x  # exit 2", ["a", "...", "b"], 2),
        ("python", "print(1)\n", ["1"], 0),
    ]
    assert quoted_numbers(steps[0].prose_before) == ["1.5 %"]


@pytest.mark.parametrize(
    ("quoted", "ok"),
    [(["a  1", "...", "c"], True), (["c", "a 1"], False), (["a 1.0"], False)],
)
def test_quoted_lines_must_appear_in_order(quoted: list[str], ok: bool) -> None:
    assert (missing_lines(quoted, "a 1\nb\nc\n") == []) is ok


def test_the_tutorial_covers_the_whole_study() -> None:
    steps = parse(TUTORIAL.read_text(encoding="utf-8"))
    commands = {shlex.split(s.source)[1] for s in steps if s.kind == "console"}
    assert {"solve", "simulate", "compare", "verify", "derive", "figures"} <= commands
    assert any(s.kind == "python" for s in steps)


def test_every_howto_page_is_run_and_listed() -> None:
    assert len(HOWTOS) >= 6
    index = (ROOT / "docs" / "howto" / "index.md").read_text(encoding="utf-8")
    for page in HOWTOS:
        assert page.stem in index, f"docs/howto/index.md does not list {page.name}"
        assert parse(page.read_text(encoding="utf-8")), f"{page.name} has no command or Python block"


@pytest.mark.slow
@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_page_runs_and_quotes_real_output(page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copytree(ROOT / "data", tmp_path / "data")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    steps = parse(page.read_text(encoding="utf-8"))
    assert steps, f"{page.name} has no command or Python block to run"
    seen = ""  # every output so far: prose may quote numbers from any of them
    problems: list[str] = []
    namespace: dict = {"__name__": "tutorial"}
    for step in steps:
        for number in quoted_numbers(step.prose_before):
            if number.strip() not in seen:
                problems.append(f"before line {step.line}: the prose quotes {number!r}, which no output above prints")
        if step.kind == "console":
            code, output = run_console(step.source)
            if code != step.exit_code:
                problems.append(
                    f"line {step.line}: {step.source!r} exited {code}, expected {step.exit_code}:\n{output}"
                )
        else:
            output = run_python(step.source, namespace, page)
        seen += output
        for q in missing_lines(step.quoted, output):
            problems.append(f"line {step.line}: {step.source.splitlines()[0]!r} did not print: {q.strip()}")
    assert not problems, f"docs/{page.name} is out of date:\n" + "\n".join(problems)
