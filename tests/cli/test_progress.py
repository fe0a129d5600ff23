"""Progress bars on long work (issue 19 item 3): the MIPs' bars appear on a terminal (a real
pseudo-terminal as stderr), never when stderr is piped nor with --json, and the JSON on
stdout does not change."""

from __future__ import annotations

import fcntl
import functools
import io
import json
import os
import pty
import re
import struct
import sys
import termios
import threading
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

import coopt.mip.highs as highs
from coopt import load_instance, solve
from coopt.cli.main import main
from coopt.cli.output import dumps
from coopt.mip.highs import MipProgress, _search_postfix
from coopt.progress import bar_enabled, progress_bar, terminal_stream
from tests.support.instances import EXAMPLES, ROOT

pytest.importorskip("highspy")

INSTANCE = str(EXAMPLES / "cnn_chain.toml")
FLEET = str(EXAMPLES / "fleet_cell.toml")


class Terminal:
    """A pseudo-terminal whose slave end is ``stream``; :meth:`text` is what reached it."""

    def __init__(self) -> None:
        self.master, slave = pty.openpty()
        # a terminal's size (a fresh pty has 0 columns, where tqdm draws nothing once delayed)
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
        self.stream = os.fdopen(slave, "w")
        self._chunks: list[bytes] = []
        self.monkeypatch: pytest.MonkeyPatch
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while True:
            try:
                data = os.read(self.master, 65536)
            except OSError:  # the slave end was closed
                return
            if not data:
                return
            self._chunks.append(data)

    def attach(self) -> None:
        self.monkeypatch.setattr(sys, "stderr", self.stream)

    def text(self) -> str:
        self.stream.close()  # the reader sees EOF (EIO) once everything written was read
        self._reader.join(timeout=10)
        os.close(self.master)
        return b"".join(self._chunks).decode("utf-8", errors="replace")


@pytest.fixture
def terminal(monkeypatch: pytest.MonkeyPatch) -> Iterator[Terminal]:
    """A pseudo-terminal, and the MIP's bars without their 2 s delay and redraw interval; a test makes it stderr
    with :meth:`Terminal.attach` (pytest's capture resets ``sys.stderr`` after fixtures)."""
    term = Terminal()
    term.monkeypatch = monkeypatch
    monkeypatch.setattr(highs, "MIP_BAR_DELAY_S", 0.0)
    monkeypatch.setattr(highs, "MIP_BAR_INTERVAL_S", 0.0)  # every callback redraws
    yield term
    if not term.stream.closed:
        term.text()


def _without_times(text: str) -> dict:
    """The JSON with its wall-clock fields (they differ from run to run) removed."""

    def strip(x):
        if isinstance(x, dict):
            return {k: strip(v) for k, v in x.items() if not k.endswith("time_s")}
        if isinstance(x, list):
            return [strip(v) for v in x]
        return x

    return strip(json.loads(text))


def test_bar_enabled_follows_the_stream() -> None:
    assert bar_enabled(True, io.StringIO()) and not bar_enabled(False)
    assert not bar_enabled(None, io.StringIO())  # piped: no bar
    term = Terminal()
    try:
        assert bar_enabled(None, term.stream)
    finally:
        term.text()


def test_terminal_stream_survives_descriptor_2_redirection(terminal: Terminal) -> None:
    """Pyomo points descriptor 2 elsewhere while HiGHS runs; the bar's stream does not follow."""
    terminal.attach()
    with terminal_stream(None) as out:
        assert out is not None and out is not sys.stderr
        saved = os.dup(2)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        try:
            bar = progress_bar(4, "survives", None, delay_s=0.0, file=out)
            bar.update(4)
            bar.close()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            os.close(devnull)
    assert "survives" in terminal.text()


def test_search_postfix_reads_the_callback() -> None:
    inf = float("inf")
    empty = SimpleNamespace(mip_primal_bound=inf, mip_dual_bound=-inf, mip_gap=inf, mip_node_count=0)
    assert _search_postfix(empty, 2.0) == "no incumbent yet, 0 nodes"
    some = SimpleNamespace(mip_primal_bound=1.5, mip_dual_bound=1.25, mip_gap=1 / 6, mip_node_count=1234)
    assert _search_postfix(some, 2.0) == "gap 1.67e-01, incumbent 3, bound 2.5, 1,234 nodes"


def test_disabled_progress_opens_nothing() -> None:
    with MipProgress(False) as bar:
        assert not bar.active
        bar.step("nothing", 3)
        bar.advance()
        assert bar.bar is None


def test_mip_bar_on_a_terminal(terminal: Terminal, capsys: pytest.CaptureFixture[str]) -> None:
    terminal.attach()
    assert main(["solve", INSTANCE, "--method", "mip", "--time-limit", "300"]) == 0
    shown = terminal.text()
    assert "MIP: building the model: " in shown and " rows [" in shown
    assert "MIP: handing the model to HiGHS" in shown
    assert "MIP: branch and bound (ETA <= time limit)" in shown
    assert "gap " in shown and "nodes" in shown  # HiGHS's callback reached the bar
    assert "MIP: the LP of each placement" in shown
    out = capsys.readouterr().out
    assert "\r" not in out and "branch and bound" not in out  # stdout: the report only


def test_mip_bar_without_time_limit_shows_elapsed_time(terminal: Terminal) -> None:
    terminal.attach()
    assert main(["solve", INSTANCE, "--method", "mip"]) == 0
    shown = terminal.text()
    assert "MIP: branch and bound: 00:0" in shown and "ETA" not in shown


def test_no_bar_with_json(terminal: Terminal, capsys: pytest.CaptureFixture[str]) -> None:
    terminal.attach()
    assert main(["solve", INSTANCE, "--method", "mip", "--json"]) == 0
    json.loads(capsys.readouterr().out)
    assert terminal.text() == ""


def test_a_drawn_bar_changes_no_result(terminal: Terminal) -> None:
    """The same numbers with the bars drawn as without (only wall times differ)."""
    instance = load_instance(INSTANCE)
    quiet = dumps(solve(instance, method="mip", progress=False).to_dict())
    terminal.attach()
    drawn = dumps(solve(instance, method="mip", progress=True).to_dict())
    assert "branch and bound" in terminal.text()
    assert _without_times(drawn) == _without_times(quiet)
    # byte for byte, once the wall-clock values are masked
    mask = re.compile(r'("[a-z_]*time_s": )[-+.eE0-9]+')
    assert mask.sub(r"\1T", drawn) == mask.sub(r"\1T", quiet) and mask.search(quiet)


def test_no_bar_when_piped(monkeypatch: pytest.MonkeyPatch) -> None:
    err = io.StringIO()
    monkeypatch.setattr(sys, "stderr", err)
    monkeypatch.setattr(highs, "MIP_BAR_DELAY_S", 0.0)
    assert main(["solve", INSTANCE, "--method", "mip"]) == 0
    assert err.getvalue() == ""


def test_fleet_mip_bar_on_a_terminal(terminal: Terminal, capsys: pytest.CaptureFixture[str]) -> None:
    terminal.attach()
    assert main(["solve", FLEET, "--allocation", "mip", "--workers", "1"]) == 0
    shown = terminal.text()
    assert "fleet MIP: branch and bound" in shown and "nodes" in shown
    assert "\r" not in capsys.readouterr().out


def test_fleet_mip_no_bar_with_json(terminal: Terminal, capsys: pytest.CaptureFixture[str]) -> None:
    terminal.attach()
    assert main(["solve", FLEET, "--allocation", "mip", "--workers", "1", "--json"]) == 0
    json.loads(capsys.readouterr().out)
    assert terminal.text() == ""


def test_progress_module_is_the_one_bar() -> None:
    """The simulator, the figures and the engines draw coopt.progress's bar (no second helper)."""
    root = ROOT / "coopt"
    users = sorted(
        str(p.relative_to(root))
        for p in root.rglob("*.py")
        if "from tqdm" in p.read_text() or "import tqdm" in p.read_text()
    )
    assert users == ["progress.py"]


def _small_fleet() -> dict:
    """Two kinds (3 and 2 copies) on a 5 x 5 grid of shares, costs falling with the shares."""
    levels = [0.0, 0.25, 0.5, 0.75, 1.0]
    x, y = np.meshgrid(levels, levels, indexing="ij")
    tables = [1.0 + 1.0 / (0.1 + x + y), 2.0 + 0.5 / (0.1 + x) + 0.5 / (0.1 + y)]
    return {"tables": tables, "counts": [3, 2], "weights": [1.0, 1.0], "x_levels": levels, "y_levels": levels}


@pytest.mark.parametrize("method, desc", [("brute_force", "brute force"), ("exact", "exact DP")])
def test_fleet_allocation_bars(method: str, desc: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The exact DP and the brute force count their work on stderr when asked, and the
    allocation is the same with and without the bar."""
    from coopt.fleet import allocation

    monkeypatch.setattr(allocation, "PROGRESS_DELAY_S", 0.0)
    err = io.StringIO()
    monkeypatch.setattr(sys, "stderr", err)
    quiet = allocation.allocate(**_small_fleet(), method=method)
    assert err.getvalue() == ""
    shown = allocation.allocate(**_small_fleet(), method=method, progress=True)
    assert f"fleet allocation: {desc}: " in err.getvalue()
    assert shown.objective == quiet.objective and np.array_equal(shown.levels, quiet.levels)


def test_figure_files_are_counted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from coopt.report import figures

    monkeypatch.setattr(figures, "progress_bar", functools.partial(progress_bar, delay_s=0.0))
    err = io.StringIO()
    monkeypatch.setattr(sys, "stderr", err)
    fig = plt.figure()
    written = figures.write_figures({"one": fig}, tmp_path, progress=True)
    plt.close(fig)
    assert len(written) == len(figures.FORMATS) and all(p.stat().st_size > 0 for p in written)
    assert f"figures: writing:   0%|          | 0/{len(written)} [" in err.getvalue()


def test_time_limit_with_bars_names_the_step(terminal: Terminal) -> None:
    """With the bars drawn, the build still stops at the limit with the same one line."""
    from coopt.errors import NoSolutionError
    from coopt.mip.highs import MipOptions

    terminal.attach()
    with pytest.raises(NoSolutionError, match=r"--time-limit 1e-06 s .* reached while building the MIP"):
        solve(load_instance(INSTANCE), method="mip", mip_options=MipOptions(time_limit=1e-6), progress=True)
    assert "MIP: building the model" in terminal.text()


def test_mip_bar_waits_for_its_delay(terminal: Terminal, monkeypatch: pytest.MonkeyPatch) -> None:
    """With the real delay, a MIP run shorter than it draws nothing even on a terminal."""
    monkeypatch.setattr(highs, "MIP_BAR_DELAY_S", 60.0)
    terminal.attach()
    solve(load_instance(INSTANCE), method="mip", progress=None)
    assert terminal.text() == ""


def test_enumeration_bar_on_a_terminal_changes_nothing(
    terminal: Terminal, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The all-placement sweep's bar: drawn on a terminal (no delay here), the report the same."""
    import coopt.api as api

    assert main(["solve", INSTANCE]) == 0
    quiet = capsys.readouterr().out
    monkeypatch.setattr(api, "ENUMERATION_BAR_DELAY_S", 0.0)
    terminal.attach()
    assert main(["solve", INSTANCE]) == 0
    shown = terminal.text()
    assert "solve: " in shown and "step" in shown
    assert capsys.readouterr().out == quiet


def test_markov_enumeration_bar_counts_epochs(terminal: Terminal, monkeypatch: pytest.MonkeyPatch) -> None:
    import coopt.api as api

    monkeypatch.setattr(api, "ENUMERATION_BAR_DELAY_S", 0.0)
    terminal.attach()
    solve(load_instance(EXAMPLES / "markov.toml"), progress=None)
    assert "solve: " in terminal.text()


def test_enumeration_bar_waits_for_its_delay(terminal: Terminal) -> None:
    terminal.attach()
    solve(load_instance(INSTANCE), progress=None)  # well under the real 2 s
    assert terminal.text() == ""
