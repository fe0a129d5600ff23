"""The tables of an instance document (`coopt derive --instance`) parsed back: every number
equals `coopt solve --json` of the instance (run as a separate process), the parameters equal
the instance file, and the thresholds follow from the table of their inputs by the symbolic
formula; `--fragment` writes snippets and a macro file that compile when \\input."""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import sympy as sp

from coopt.model.instance import load_instance
from coopt.model.problem import prepare
from coopt.symbolic import derive as S
from coopt.symbolic import latex, notation, paper
from tests.support.instances import ROOT

INSTANCES = [
    ROOT / "derivations" / "mlp-example.toml",  # OSLA, the MLP closed form, waiting at the last epoch
    ROOT / "data" / "resnet18.toml",  # optimal rule, wait mode "any"
    ROOT / "data" / "markov.toml",  # a Markov channel: no thresholds
    ROOT / "data" / "vgg16_raspi4.toml",  # measured layer costs, never waiting
]
IDS = [p.stem for p in INSTANCES] + ["overhead"]  # + the MLP example under the optimal rule, with upload overheads


def _overhead_instance(tmp: Path) -> Path:
    text = (
        INSTANCES[0]
        .read_text()
        .replace("noise_w = 1.0e-13", "noise_w = 1.0e-13\noverhead_s = 0.002\noverhead_j = 0.0005")
    )
    path = tmp / "overhead.toml"
    path.write_text(text.replace('rule = "osla"', 'rule = "optimal"').replace('law = "nakagami"', 'law = "rayleigh"'))
    return path


def _solve_json(path: Path) -> dict:
    out = subprocess.run(
        [sys.executable, "-m", "coopt", "solve", str(path), "--json"],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    return json.loads(out.stdout)


_NUMBER = re.compile(r"^(-?\d+(?:\.\d+)?)(?: \\times 10\^\{(-?\d+)\})?$")


def _parse_number(cell: str) -> float | None:
    r"""A table cell back to a float: ``$4.56915 \times 10^{-11}$``, ``$10^{-13}$``, ``$\infty$``,
    ``--`` (None)."""
    cell = cell.strip()
    if cell == "--":
        return None
    assert cell.startswith("$") and cell.endswith("$"), cell
    tex = cell[1:-1].strip()
    if re.fullmatch(r"-?\d{1,3}(\\,\d{3})+", tex):  # a whole number in groups of three digits
        return float(tex.replace("\\,", ""))
    if tex in (r"\infty", r"+\infty"):
        return math.inf
    if tex == r"-\infty":
        return -math.inf
    power = re.fullmatch(r"(-?)10\^\{(-?\d+)\}", tex)
    if power:
        return float(f"{power.group(1)}1e{power.group(2)}")
    m = _NUMBER.match(tex)
    assert m, f"not a number: {cell!r}"
    return float(m.group(1)) * (10.0 ** int(m.group(2)) if m.group(2) else 1.0)


def _rows(tex: str, label: str) -> dict[str, list[str]]:
    """The rows of the table ``tab:<label>``: source comment -> cells."""
    start = tex.index(f"\\label{{tab:{label}}}")
    body = tex[tex.index("\\midrule", start) + len("\\midrule") : tex.index("\\bottomrule", start)]
    rows = {}
    for line in body.strip().splitlines():
        cells, _, source = line.partition("% ")
        assert source, f"a row without its source comment: {line!r}"
        rows[source.strip()] = [c.strip() for c in cells.strip().removesuffix("\\\\").split(" & ")]
    return rows


def _six(x: float) -> float:
    """``x`` as the tables print it (6 significant digits)."""
    return x if x == 0 or math.isinf(x) else float(f"{x:.6g}")


def _same(cell: str, want: float | None) -> None:
    got = _parse_number(cell)
    if want is None:
        assert got is None or math.isinf(got), cell
        return
    assert got == pytest.approx(_six(want), rel=1e-12, abs=0), (cell, want)


def _db(cell: str, linear: float | None) -> None:
    got = _parse_number(cell)
    if linear is None or math.isinf(linear):
        assert got == math.inf, cell
    elif linear == 0:
        assert got == -math.inf, cell
    else:
        assert got == pytest.approx(round(10 * math.log10(linear), 2), abs=1e-9), (cell, linear)


@pytest.fixture(scope="module", params=IDS)
def case(request, tmp_path_factory):
    path = dict(zip(IDS, INSTANCES)).get(request.param) or _overhead_instance(tmp_path_factory.mktemp("overhead"))
    inst = load_instance(path)
    doc = latex.instance_document(inst)
    return path, inst, doc.render(""), _solve_json(path), paper.label_stem(inst.name)


def test_result_tables_equal_solve_json(case):
    _path, inst, tex, solved, label = case
    names = inst.profile.layer_names
    placements = _rows(tex, f"{label}-placements")
    assert len(placements) == len(solved["by_placement"])
    for i, pv in enumerate(solved["by_placement"]):
        cells = placements[f"by_placement.{i}"]
        assert cells[0] == f"{pv['placement']}" + ("$^{*}$" if pv["placement"] == solved["placement"] else "")
        assert cells[1] == f"\\texttt{{{paper.text(names[pv['placement']])}}}"
        for cell, key in zip(cells[2:], ("objective", "task_cost", "download_cost")):
            _same(cell, pv[key])
    costs = _rows(tex, f"{label}-costs")
    for source, cells in costs.items():
        value = solved[source] if "." not in source else solved["breakdown"][source.split(".", 1)[1]]
        _same(cells[2], value)
    assert set(costs) >= {"objective", "task_cost", "breakdown.latency_s", "breakdown.energy_j"}
    parts = ("local", "upload", "edge", "waiting", "download_amortised")
    total = sum(_parse_number(costs[f"breakdown.{x}"][2]) for x in parts)
    assert total == pytest.approx(_parse_number(costs["objective"][2]), rel=1e-5)  # the parts add up
    baselines = _rows(tex, f"{label}-baselines")
    _same(baselines["optimum"][2], solved["objective"])
    assert set(baselines) == {"optimum"} | {f"baselines.{b}" for b in solved["baselines"]}
    for name, b in solved["baselines"].items():
        cells = baselines[f"baselines.{name}"]
        if b is None:
            assert "infeasible" in cells[1]
            continue
        assert cells[1] == f"${b['placement']}$"
        _same(cells[2], b["objective"])
        if b["gap_percent"] is None:
            assert cells[3] == "--"
        else:
            assert _parse_number(cells[3]) == pytest.approx(round(b["gap_percent"], 2), abs=1e-9), cells[3]
    assert f"$M^{{*}} = {solved['placement']}$" in tex


def test_threshold_table_linear_and_db(case):
    path, _inst, tex, solved, label = case
    if solved["thresholds"] is None:
        assert f"tab:{label}-thresholds" not in tex and f"tab:{label}-epochs" not in tex
        return
    doc = tomllib.loads(path.read_text())
    rho = doc["device"]["tx_power_w"] / doc["uplink"]["noise_w"]
    rows = _rows(tex, f"{label}-thresholds")
    assert len(rows) == len(solved["thresholds"]) == solved["placement"] + 1
    for n, t in enumerate(solved["thresholds"]):
        cells = rows[f"thresholds.{n}"]
        assert cells[0] == str(n)
        _same(cells[1], math.inf if t is None else t)
        _db(cells[2], t)
        _db(cells[3], None if t is None else rho * t)
        _same(cells[4], solved["breakdown"]["stop_prob"][n])


def test_channel_table_equals_solve_json(case):
    path, _inst, tex, solved, label = case
    doc = tomllib.loads(path.read_text())
    rho = doc["device"]["tx_power_w"] / doc["uplink"]["noise_w"]
    states = solved["channel_states"]
    rows = _rows(tex, f"{label}-channel")
    assert len(rows) == len(states["gains"])
    for k, (gain, prob) in enumerate(zip(states["gains"], states["init"])):
        cells = rows[f"channel_states.{k}"]
        assert cells[0] == str(k + 1)
        _same(cells[1], gain)
        _db(cells[2], gain)
        _db(cells[3], rho * gain)
        _same(cells[4], prob)
    if "gains" in doc.get("channel", {}):  # a finite or Markov law: the gains of the file
        assert [_parse_number(rows[f"channel_states.{k}"][1]) for k in range(len(rows))] == [
            _six(float(x)) for x in doc["channel"]["gains"]
        ]


def test_parameter_table_equals_the_instance_file(case):
    path, inst, tex, solved, label = case
    doc = tomllib.loads(path.read_text())
    rows = _rows(tex, f"{label}-parameters")
    assert rows.pop("network.layers")[2] == f"${inst.n_layers}$"
    _same(rows.pop("channel.states")[2], len(solved["channel_states"]["gains"]))
    for key, cells in rows.items():
        table, _, name = key.partition(".")
        q = notation.by_key(key)
        if q is not None:  # the symbol, meaning and unit of the notation table
            assert cells[0] == f"${q.symbol}$" and cells[1] == q.meaning
            assert cells[3] == ("--" if q.unit in ("", "1") else f"${q.unit}$")
        if name in doc.get(table, {}):
            _same(cells[2], float(doc[table][name]))
    given = {
        f"{t}.{k}" for t, sub in doc.items() if isinstance(sub, dict) for k, v in sub.items() if type(v) in (int, float)
    }
    unused = {"wait.slot_s"} if doc.get("wait", {}).get("mode") == "never" else set()
    law = doc["channel"]["law"]
    unused |= {"channel.m"} if law != "nakagami" else set()
    unused |= {"channel.k_factor"} if law != "rician" else set()
    assert not unused & set(rows), "a key the instance ignores is in the table"
    assert given - unused - {"channel.states"} <= set(rows), "a numeric key of the instance file is missing"


def test_thresholds_follow_from_the_epoch_table(case):
    """theta_n recomputed from the document's own tables by the symbolic formula it prints."""
    _path, inst, tex, solved, label = case
    if solved["thresholds"] is None:
        return
    params = {k: _parse_number(c[2]) for k, c in _rows(tex, f"{label}-parameters").items()}
    epochs = _rows(tex, f"{label}-epochs")
    head = tex[tex.index(f"tab:{label}-epochs}}") :].split("\\toprule", 1)[1].split("\\\\", 1)[0]
    columns = [c.strip() for c in head.split(" & ")]
    theta = S.optimal_threshold().theta
    costs = prepare(inst).costs
    for n, t in enumerate(solved["thresholds"]):
        cells = dict(zip(columns, epochs[f"epoch.{n}"]))
        got = {sym: _parse_number(cells[f"${S.LATEX_NAMES[sym]}$"]) for sym in (S.d_n, S.A_n, S.R_n, S.G_n)}
        got[S.O_n] = _parse_number(cells["$O_{n}$"]) if "$O_{n}$" in cells else 0.0
        assert got[S.d_n] == costs.feature_bits[n]  # exact
        for sym, want in ((S.A_n, costs.A[n]), (S.R_n, costs.R[n])):
            assert got[sym] == pytest.approx(_six(float(want)), rel=1e-12)
        if t is None or got[S.G_n] == math.inf:
            continue
        values = got | {
            S.w_E: params["cost.energy_weight"],
            S.w_T: params["cost.time_weight"],
            S.P: params["device.tx_power_w"],
            S.B: params["uplink.bandwidth_hz"],
            S.rho: params["device.tx_power_w"] / params["uplink.noise_w"],
        }
        margin = values[S.G_n] - values[S.A_n] - values[S.R_n] - values[S.O_n]
        if margin <= 1e-5 * values[S.G_n]:  # 6 digits cannot resolve the root
            continue
        assert float(theta.subs(values)) == pytest.approx(t, rel=2e-3), n


def test_no_numbers_in_the_formulas():
    """The instance document keeps the formulas symbolic: no number placeholders, and every
    display is the general formula (its atoms are symbols of the model, not numbers)."""
    doc = latex.instance_document(load_instance(INSTANCES[0]))
    assert not doc.values and doc.emitted
    for em in doc.emitted:
        if isinstance(em.expr, sp.Float) or em.expr is sp.oo:  # the `= value` after a formula
            continue
        floats = [x for x in em.expr.atoms(sp.Number) if not x.is_Integer and not x.is_Rational]
        assert not floats, em.latex
    body = doc.render("")
    assert "1 \\cdot" not in body and "(10^{" not in body


def test_text_has_no_raw_quotes(tmp_path):
    """A quoted value of a message (wait.mode = "any") is typeset, not two closing quotes."""
    tex = latex.instance_document(load_instance(INSTANCES[1])).render("")
    body = tex[tex.index("\\section{The instance}") : tex.index("\\section{Symbols}")]
    assert '"' not in body and "\\texttt{any}" in body


# ----------------------------------------------------------------------------- fragments


def test_macro_file_has_one_macro_per_notation_entry():
    text = paper.macro_file()
    macros = re.findall(r"\\newcommand\{\\([A-Za-z]+)\}\{\\ensuremath\{(.*)\}\} %", text)
    assert len(macros) == len(notation.NOTATION) == len({m for m, _ in macros})
    assert [body for _, body in macros] == [q.symbol for q in notation.NOTATION]
    assert paper.macro_name("sigma2") == "\\cooptsigmaTwo" and paper.macro_name("w_E") == "\\cooptwE"


@pytest.fixture(scope="module")
def fragments(tmp_path_factory):
    out = tmp_path_factory.mktemp("fragments")
    written = latex.write_documents(out, instance_path=INSTANCES[0], fragment=True)
    written += latex.write_documents(out, instance_path=INSTANCES[2], fragment=True)
    written += latex.write_documents(out, fragment=True)
    return out, written


def test_fragment_files(fragments):
    out, written = fragments
    names = {p.name for p in written}
    stem = "mlp-example-numbers"
    assert {f"{stem}.tex", f"{stem}-fragment.tex", latex.MACRO_FILE} <= names
    assert {f"{stem}-{t}.tex" for t in latex.TABLES} <= names
    assert "markov-numbers-thresholds.tex" not in names and "markov-numbers-placements.tex" in names
    assert {"derivations.tex", "derivations-fragment.tex"} <= names
    for path in written:
        text = path.read_text()
        if path.name.endswith("-fragment.tex") or path.name.startswith(stem + "-"):
            for word in ("\\documentclass", "\\begin{document}", "\\title", "\\maketitle", "\\usepackage"):
                assert word not in text, (path.name, word)
            assert "\\cite" not in text and "\\section{Symbols}" not in text
    # the tables of a fragment write the notation's macros, the standalone document the symbols
    frag = (out / f"{stem}-parameters.tex").read_text()
    assert "$\\cooptwE$ & cost weight of one joule & $1$" in frag
    assert "$w_{E}$ & cost weight of one joule & $1$" in (out / f"{stem}.tex").read_text()


def _pdflatex():
    engine = shutil.which("pdflatex")
    if engine is None:
        if os.environ.get("CI") == "true":
            pytest.fail("pdflatex is missing in CI (.ci/run installs texlive-latex-base)")
        pytest.skip("pdflatex not installed (apt-get install texlive-latex-base)")
    return engine


_LAYOUTS = {
    # the standalone documents' text width (2.2 cm margins, 470 pt): the bodies' formulas are broken for it
    "body": "\\documentclass[11pt]{article}\n\\usepackage[margin=2.2cm]{geometry}\n",
    # an 11 pt article's default text width (360 pt)
    "article": "\\documentclass[11pt]{article}\n",
    # one column of an IEEE two-column page (3.5 in = 252 pt, 10 pt type)
    "column": "\\documentclass[10pt,twocolumn]{article}\n\\usepackage[textwidth=7.16in,columnsep=0.17in]{geometry}\n",
}


def _compile(engine: str, out: Path, piece: Path, layout: str) -> str:
    master = out / f"master-{layout}-{piece.stem}.tex"
    master.write_text(
        _LAYOUTS[layout]
        + f"\\input{{{latex.MACRO_FILE.removesuffix('.tex')}}}\n\\begin{{document}}\nText before.\n\n"
        + f"\\input{{{piece.stem}}}\n\nText after.\n\\end{{document}}\n"
    )
    proc = subprocess.run(
        [engine, "-interaction=nonstopmode", "-halt-on-error", "-no-shell-escape", master.name],
        cwd=out,
        capture_output=True,
        text=True,
        timeout=120,
    )
    log = proc.stdout
    assert proc.returncode == 0 and "\n! " not in log, f"{piece.name} ({layout}): pdflatex failed\n{log[-3000:]}"
    assert "Overfull \\hbox" not in log, f"{piece.name} ({layout}): wider than the text\n{log[-3000:]}"
    return master.with_suffix(".pdf").name


def test_fragments_compile_in_a_master_document(fragments):
    """Each fragment \\input into a tiny master that \\inputs the macro file: no error, no
    overfull box. The bodies at the standalone documents' width; the tables of the MLP
    example and of the Markov instance at an 11 pt article's width and at one IEEE column.
    The instance's PDF text has no inverted question mark, caret or doubled closing quote."""
    engine = _pdflatex()
    out, written = fragments
    tables = tuple(f"-{t}" for t in latex.TABLES)
    bodies = [p for p in written if p.stem.endswith("-fragment")]
    pieces = [p for p in written if p.stem.endswith(tables)]
    assert len(bodies) == 3 and len(pieces) == len(latex.TABLES) + len(latex.TABLES) - 2
    for piece in bodies + pieces:
        for layout in ("body",) if piece in bodies else ("article", "column"):
            pdf = _compile(engine, out, piece, layout)
            if piece.name.startswith("mlp-example-numbers") and shutil.which("pdftotext"):
                text = subprocess.run(["pdftotext", pdf, "-"], cwd=out, capture_output=True, text=True).stdout
                assert len(text) > 100 and not {"¿", "ˆ", "”"} & set(text), piece.name


def test_cli_fragment(tmp_path):
    run = [sys.executable, "-m", "coopt", "derive", "--instance", str(INSTANCES[2]), "--fragment"]
    out = subprocess.run(run + ["--out", str(tmp_path)], capture_output=True, text=True, check=True, timeout=300)
    printed = [Path(x).name for x in out.stdout.split()]
    assert printed == latex.output_names(instance_path=INSTANCES[2], fragment=True)
    assert printed[-1] == latex.MACRO_FILE and "markov-numbers-fragment.tex" in printed
    again = subprocess.run(run + ["--out", str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert again.returncode == 2 and "--force" in again.stderr and again.stderr.count("\n") == 1
