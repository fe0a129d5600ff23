"""Sweeps: spec expansion, results against direct solves, resume, failures, bad input, figures.

Every number in a results table is checked against an independent computation: the
same point solved by :func:`coopt.solve` on an :class:`Instance` changed with
``dataclasses.replace`` (not through the sweep's TOML route). Engines (processes, Dask)
and interruptions are in ``test_sweep_engines.py``.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from dataclasses import replace

import numpy as np
import pytest

from coopt import load_instance, solve
from coopt.cli.main import main
from coopt.sweep import store
from coopt.sweep.engines import run_sweep
from coopt.sweep.spec import load_spec
from tests.support.instances import EXAMPLES
from tests.support.sweep import table, write_spec
from tests.support.tolerances import RTOL_EXACT

GRID = """
[grid]
"placement.tasks_per_period" = { geomspace = [10.0, 1000.0, 3] }
"channel.mean_snr_db" = [5.0, 20.0]
"placement.rule" = ["optimal", "osla"]
"""


def test_grid_is_crossed_in_spec_order_with_numpy_ranges(tmp_path):
    spec = load_spec(write_spec(tmp_path, GRID))
    assert [a.key for a in spec.axes] == ["placement.tasks_per_period", "channel.mean_snr_db", "placement.rule"]
    assert [a.log for a in spec.axes] == [True, False, False]
    np.testing.assert_array_equal(spec.axes[0].values, np.geomspace(10.0, 1000.0, 3))
    assert len(spec.jobs) == 12
    assert [j.index for j in spec.jobs] == list(range(12))
    # the first axis varies slowest, the last fastest
    assert [j.values["placement.rule"] for j in spec.jobs[:4]] == ["optimal", "osla", "optimal", "osla"]
    assert [j.values["placement.tasks_per_period"] for j in spec.jobs[::4]] == list(np.geomspace(10.0, 1000.0, 3))
    assert len({j.key for j in spec.jobs}) == 12


def test_zipped_axes_move_together(tmp_path):
    body = """
zip = [["device.cpu_hz", "device.kappa"]]
[grid]
"device.cpu_hz" = [5.0e8, 1.0e9, 2.0e9]
"placement.tasks_per_period" = { logspace = [1.0, 2.0, 2] }
"device.kappa" = [1.0e-27, 2.0e-27, 3.0e-27]
"""
    spec = load_spec(write_spec(tmp_path, body))
    assert len(spec.jobs) == 6
    pairs = [(j.values["device.cpu_hz"], j.values["device.kappa"]) for j in spec.jobs]
    assert pairs == [(5e8, 1e-27)] * 2 + [(1e9, 2e-27)] * 2 + [(2e9, 3e-27)] * 2
    assert [j.values["placement.tasks_per_period"] for j in spec.jobs[:2]] == [10.0, 100.0]


def test_table_matches_direct_solves(tmp_path):
    """Each row's numbers equal coopt.solve on the instance changed by hand, and the
    OSLA rule's objective equals the rule-optimal row's ``osla`` baseline."""
    out = tmp_path / "out"
    summary = run_sweep(load_spec(write_spec(tmp_path, GRID)), out, progress=False)
    assert (summary.done, summary.failed, summary.skipped, summary.left) == (12, 0, 0, 0)
    base = load_instance(EXAMPLES / "cnn_chain.toml")
    rows = table(out)
    assert [int(r["index"]) for r in rows] == list(range(12))
    for row in rows:
        snr = float(row["channel.mean_snr_db"])
        gain = 10 ** (snr / 10) * base.uplink.noise_w / base.device.tx_power_w
        inst = replace(
            base,
            channel=replace(base.channel, mean_gain=gain),
            placement=replace(
                base.placement, tasks_per_period=float(row["placement.tasks_per_period"]), rule=row["placement.rule"]
            ),
        )
        ref = solve(inst)
        assert int(row["placement"]) == ref.placement
        assert float(row["objective"]) == pytest.approx(ref.objective, rel=RTOL_EXACT)
        assert float(row["baselines.static_split.objective"]) == pytest.approx(
            ref.baselines["static_split"].objective, rel=RTOL_EXACT
        )
        assert json.loads(row["by_placement"])[0]["objective"] == pytest.approx(ref.by_placement[0].objective)
        assert row["status"] == "done" and row["exit_code"] == "0" and row["coopt_version"] == "0.1.0"
    for opt, osla in zip(rows[0::2], rows[1::2]):
        assert float(osla["objective"]) == pytest.approx(float(opt["baselines.osla.objective"]), rel=RTOL_EXACT)


def test_rerun_skips_done_points_and_keeps_the_table(tmp_path):
    out = tmp_path / "out"
    spec = load_spec(write_spec(tmp_path, GRID))
    run_sweep(spec, out, progress=False)
    first = (out / store.TABLE).read_bytes()
    again = run_sweep(spec, out, progress=False)
    assert (again.ran, again.skipped, again.done) == (0, 12, 12)
    assert (out / store.TABLE).read_bytes() == first  # timing columns too: nothing was rerun


def test_torn_log_line_is_dropped_and_resumed(tmp_path):
    """What a SIGKILL during a write leaves: a partial last line. It is cut, its point rerun."""
    spec = load_spec(write_spec(tmp_path, GRID))
    whole, out = tmp_path / "whole", tmp_path / "out"
    run_sweep(spec, whole, progress=False)
    lines = (whole / store.LOG).read_bytes().split(b"\n")
    store.open_directory(out, spec)
    (out / store.LOG).write_bytes(b"\n".join(lines[:5]) + b"\n" + lines[5][: len(lines[5]) // 2])
    resumed = run_sweep(spec, out, progress=False)
    assert (resumed.skipped, resumed.ran, resumed.done) == (5, 7, 12)
    assert table(out) == table(whole)
    assert all(json.loads(line) for line in (out / store.LOG).read_text().splitlines())


FAILING = """
[grid]
"uplink.bandwidth_hz" = [5.0e6, -1.0, 1.0e7]
"""


def test_failing_job_is_recorded_and_the_rest_runs(tmp_path, capsys):
    spec_path = write_spec(tmp_path, FAILING)
    out = tmp_path / "out"
    assert main(["sweep", str(spec_path), "--out", str(out), "--workers", "1"]) == 1
    assert "2 done, 1 failed" in capsys.readouterr().out
    rows = table(out)
    assert [r["status"] for r in rows] == ["done", "failed", "done"]
    assert rows[1]["exit_code"] == "2" and rows[1]["reason"] == "uplink.bandwidth_hz = -1.0: must be > 0"
    assert rows[1]["objective"] == ""
    before = {r["index"]: r for r in store.read_table(out)}
    # --retry-failed reruns only the failed point; the done rows keep their timing columns
    assert main(["sweep", str(spec_path), "--out", str(out), "--workers", "1", "--retry-failed"]) == 1
    assert "1 run now" in capsys.readouterr().out
    after = {r["index"]: r for r in store.read_table(out)}
    assert after["0"] == before["0"] and after["2"] == before["2"]
    assert after["1"]["wall_s"] != before["1"]["wall_s"]
    assert len((out / store.LOG).read_text().splitlines()) == 4


@pytest.mark.parametrize(
    ("grid", "message"),
    [
        ('"channel.mean_gian" = [1.0]', "grid.channel.mean_gian: unknown key; did you mean 'channel.mean_gain'?"),
        ('"channel.mean_gain" = { linspace = [1.0, 2.0, 0] }', "num = 0 must be an integer >= 1 (the range is empty)"),
        ('"channel.mean_gain" = []', "grid.channel.mean_gain = []: must be a non-empty list"),
        ('"channel.mean_gain" = [1.0e-11, "high"]', "value 'high' is not a number"),
        ('"channel.states" = [2.5]', "value 2.5 is not an integer"),
        ('"method" = ["simplex"]', "grid.method: value 'simplex' is not one of"),
        ('"placement.tasks_per_period" = [10.0, 10.0]', "points 0 and 1 are the same job"),
    ],
)
def test_bad_spec_is_one_line_exit_2_nothing_written(tmp_path, capsys, grid, message):
    out = tmp_path / "out"
    assert main(["sweep", str(write_spec(tmp_path, f"[grid]\n{grid}\n")), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err
    assert not out.exists()


def test_directory_of_another_spec_is_refused_untouched(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["sweep", str(write_spec(tmp_path, FAILING, "a.toml")), "--out", str(out), "--workers", "1"]) == 1
    snapshot = {p.name: p.read_bytes() for p in out.iterdir()}
    capsys.readouterr()
    other = write_spec(tmp_path, '[grid]\n"uplink.bandwidth_hz" = [5.0e6]\n', "b.toml")
    assert main(["sweep", str(other), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "holds the results of another sweep spec" in err
    assert {p.name: p.read_bytes() for p in out.iterdir()} == snapshot


def test_changed_base_instance_is_detected(tmp_path, capsys):
    base = tmp_path / "base.toml"
    base.write_text((EXAMPLES / "cnn_chain.toml").read_text(encoding="utf-8"), encoding="utf-8")
    spec = tmp_path / "s.toml"
    spec.write_text('base = "base.toml"\n[grid]\n"placement.tasks_per_period" = [10.0, 100.0]\n', encoding="utf-8")
    out = tmp_path / "out"
    assert main(["sweep", str(spec), "--out", str(out), "--workers", "1"]) == 0
    base.write_text(base.read_text(encoding="utf-8").replace("time_weight = 1.5", "time_weight = 2.0"))
    assert main(["sweep", str(spec), "--out", str(out), "--workers", "1"]) == 2
    assert "another sweep spec" in capsys.readouterr().err


def test_simulation_columns_bracket_the_exact_value(tmp_path):
    body = '[simulate]\ntasks = 4000\nseed = 3\npolicies = ["rule", "static"]\n[grid]\n"channel.mean_snr_db" = [10.0, 20.0]\n"placement.tasks_per_period" = [10.0]\n'
    out = tmp_path / "out"
    run_sweep(load_spec(write_spec(tmp_path, body)), out, progress=False)
    for row in table(out):
        assert float(row["sim.rule.exact"]) == pytest.approx(float(row["objective"]), rel=RTOL_EXACT)
        assert float(row["sim.static.exact"]) == pytest.approx(
            float(row["baselines.static_split.objective"]), rel=RTOL_EXACT
        )
        for policy in ("rule", "static"):
            mean, err = float(row[f"sim.{policy}.mean"]), float(row[f"sim.{policy}.std_error"])
            assert abs(mean - float(row[f"sim.{policy}.exact"])) <= 5 * err  # err = 0 for a deterministic cost
            assert float(row[f"sim.{policy}.ci_low"]) <= mean <= float(row[f"sim.{policy}.ci_high"])
    assert float(table(out)[0]["sim.rule.std_error"]) > 0


def test_sweep_figure_lines_are_the_table(tmp_path):
    from coopt.sweep.figures import sweep_figure

    out = tmp_path / "out"
    run_sweep(load_spec(write_spec(tmp_path, GRID)), out, progress=False)
    fig = sweep_figure(out, x="channel.mean_snr_db")
    assert len(fig.axes) == 3  # one panel per tasks_per_period
    ax = fig.axes[0]
    assert ax.get_xscale() == "linear"
    lines = {line.get_label(): line for line in ax.get_lines()}
    rows = [r for r in table(out) if float(r["placement.tasks_per_period"]) == 10.0]
    opt = [float(r["objective"]) for r in rows if r["placement.rule"] == "optimal"]
    np.testing.assert_array_equal(lines["joint optimum"].get_ydata(), opt)
    osla = [float(r["objective"]) for r in rows if r["placement.rule"] == "osla"]
    np.testing.assert_array_equal(lines["OSLA rule"].get_ydata(), osla)
    edge = [float(r["baselines.edge_only.objective"]) for r in rows if r["placement.rule"] == "optimal"]
    np.testing.assert_array_equal(lines["edge-only"].get_ydata(), edge)
    assert "OSLA" not in lines  # the osla baseline is the OSLA rule's line
    log = sweep_figure(out, x="placement.tasks_per_period", by="rule")
    assert log.axes[0].get_xscale() == "log" and len(log.axes) == 2


@pytest.mark.slow
def test_figures_cli_writes_png(tmp_path, capsys):
    out = tmp_path / "out"
    run_sweep(load_spec(write_spec(tmp_path, GRID)), out, progress=False)
    assert main(["figures", "--sweep", str(out), "--by", "rule", "--y", "placement"]) == 0
    assert (out / "sweep.png").stat().st_size > 0
    capsys.readouterr()
    assert main(["figures", "--sweep", str(out), "--x", "nope"]) == 2
    assert "--x = 'nope': not a swept key" in capsys.readouterr().err


def test_example_spec_header_numbers(tmp_path):
    """data/sweep_snr.toml: the numbers its header quotes, at 0 and 30 dB."""
    spec = load_spec(EXAMPLES / "sweep_snr.toml")
    assert {a.key for a in spec.axes} == {"channel.mean_snr_db", "placement.tasks_per_period", "placement.rule"}
    ends = replace(spec, jobs=tuple(j for j in spec.jobs if j.values["channel.mean_snr_db"] in (0.0, 30.0)))
    out = tmp_path / "out"
    assert run_sweep(ends, out, progress=False).done == 12
    rows = {
        (float(r["channel.mean_snr_db"]), float(r["placement.tasks_per_period"]), r["placement.rule"]): r
        for r in table(out)
    }
    placements = {(snr, k): int(rows[snr, k, "optimal"]["placement"]) for snr, k, _ in rows}
    assert placements == {
        (0.0, 10.0): 4,
        (0.0, 100.0): 7,
        (0.0, 1000.0): 7,
        (30.0, 10.0): 0,
        (30.0, 100.0): 2,
        (30.0, 1000.0): 4,
    }
    gaps = [
        float(rows[0.0, 10.0, "optimal"][f"baselines.{b}.gap_percent"])
        for b in ("edge_only", "device_only", "static_split", "full_placement", "osla")
    ]
    assert 74.0 < min(gaps) and max(gaps) < 92.0 + 0.5
    assert [round(float(rows[30.0, k, "optimal"]["baselines.edge_only.gap_percent"]), 1) for k in (100.0, 1000.0)] == [
        1.6,
        2.8,
    ]
    assert {int(r["placement"]) for key, r in rows.items() if key[2] == "osla"} == {0}
    osla, edge = (
        float(rows[0.0, 10.0, "osla"]["objective"]),
        float(rows[0.0, 10.0, "optimal"]["baselines.edge_only.objective"]),
    )
    assert round(100 * (osla / edge - 1), 1) == 8.4


def test_log_lines_are_strict_json(tmp_path):
    """A non-finite number (none is expected from a solve) is written as null, never NaN."""
    with store.Log(tmp_path) as log:
        log.append({"key": "a", "result": {"x": math.nan, "y": [1.0, math.inf]}})
    line = (tmp_path / store.LOG).read_text()
    assert json.loads(line) == {"key": "a", "result": {"x": None, "y": [1.0, None]}}
    assert "NaN" not in line and "Infinity" not in line


@pytest.mark.parametrize(
    "text",
    ["plain", "", "a,b", 'say "no"', "two\nlines", "cr\rlf", '[1,"x"]', " spaces ", "x\u00e9\u4e2d", '"', ",,"],
)
def test_field_is_what_the_csv_module_writes(text):
    """The table's fields are joined by hand (workers render them): the csv module reads
    them back, and writes the same bytes (but for a lone carriage return, which Python 3.11's
    writer leaves unquoted, so that its own reader splits the row there; we quote it)."""
    line = ",".join(["a", store.field(text), "z"]) + "\n"
    assert next(csv.reader(io.StringIO(line, newline=""))) == ["a", text, "z"]
    if "\r" not in text:
        expected = io.StringIO()
        csv.writer(expected, lineterminator="\n").writerow(["a", text, "z"])
        assert line == expected.getvalue()


def test_row_of_a_live_record_is_the_row_read_back_from_the_log(tmp_path):
    """Workers make the rows of their points, the owner makes those of earlier runs from the
    log on resume: both must be the same fields, or a resumed table would differ."""
    spec = load_spec(write_spec(tmp_path, GRID))
    job = spec.jobs[0]
    record = {
        "index": 0,
        "key": job.key,
        "status": "failed",
        "exit_code": 2,
        "reason": 'bad value "x", see docs',
        "result": {"a": np.float64(0.1), "b": (1, 2.5), "c": {"d": math.inf, "e": None, "f": True}, "g": [math.nan]},
        "coopt_version": "0",
        "worker": "h:1",
        "wall_s": 1e-3,
        "cpu_s": 0.5,
    }
    live = store.row(job, record)
    assert live == store.row(job, json.loads(store.encode(record)))
    assert live["a"] == "0.1"
    assert (live["b"], live["c.d"], live["c.e"], live["c.f"], live["g"]) == ('"[1,2.5]"', "", "", "true", "[null]")
    assert live["reason"] == '"bad value ""x"", see docs"'


@pytest.mark.mip
def test_mip_time_limit_is_a_failed_point(tmp_path):
    body = 'method = "mip"\n[mip]\ntime_limit = 0.01\n[grid]\n"placement.tasks_per_period" = [100.0]\n'
    spec = tmp_path / "mip.toml"
    spec.write_text(f'base = "{(EXAMPLES / "vgg16.toml").as_posix()}"\n{body}', encoding="utf-8")
    summary = run_sweep(load_spec(spec), tmp_path / "out", progress=False)
    assert (summary.done, summary.failed, summary.exit_code) == (0, 1, 1)
    (row,) = table(tmp_path / "out")
    # the MIP method's own message (a time limit reached while building or solving)
    assert row["exit_code"] == "1" and re.search(r"time[-_]limit", row["reason"])


@pytest.mark.mip
def test_method_and_network_axes_agree_across_methods(tmp_path):
    """Sweeping the method and the network: the MIP's rows equal enumeration's (docs/model.md section 5)."""
    body = '[grid]\n"network.profile" = ["lenet5", "alexnet"]\n"method" = ["enumeration", "mip"]\n'
    out = tmp_path / "out"
    assert run_sweep(load_spec(write_spec(tmp_path, body)), out, progress=False).done == 4
    rows = table(out)
    assert [r["method"] for r in rows] == ["enumeration", "mip"] * 2
    for enum, mip in zip(rows[0::2], rows[1::2]):
        assert enum["network.profile"] == mip["network.profile"] and mip["solver.termination"] == "optimal"
        assert enum["placement"] == mip["placement"]
        assert float(mip["objective"]) == pytest.approx(float(enum["objective"]), rel=1e-9)
    assert rows[0]["placement"] != rows[2]["placement"] or rows[0]["objective"] != rows[2]["objective"]


def test_sweep_figure_draws_confidence_bands_where_simulated(tmp_path):
    from coopt.sweep.figures import sweep_figure

    body = '[simulate]\ntasks = 2000\n[grid]\n"channel.mean_snr_db" = [5.0, 15.0, 25.0]\n"placement.tasks_per_period" = [10.0]\n'
    out = tmp_path / "out"
    run_sweep(load_spec(write_spec(tmp_path, body)), out, progress=False)
    ax = sweep_figure(out).axes[0]
    (band,) = ax.collections  # only the simulated policy (the rule) has a band
    rows = table(out)
    lows = [float(r["sim.rule.ci_low"]) for r in rows]
    highs = [float(r["sim.rule.ci_high"]) for r in rows]
    ys = band.get_paths()[0].vertices[:, 1]
    assert min(ys) == pytest.approx(min(lows)) and max(ys) == pytest.approx(max(highs))


def test_edited_profile_file_changes_the_keys(tmp_path):
    """A CSV profile named by the base instance is part of every key: editing it is a new spec."""
    from coopt.model.profiles import mlp_profile

    csv_path = tmp_path / "net.csv"
    csv_path.write_text(mlp_profile(3, 64, 100, 10).to_csv(), encoding="utf-8")
    base = tmp_path / "base.toml"
    text = (
        (EXAMPLES / "cnn_chain.toml").read_text(encoding="utf-8").replace('profile = "lenet5"', 'profile = "net.csv"')
    )
    base.write_text(text, encoding="utf-8")
    spec = tmp_path / "s.toml"
    spec.write_text('base = "base.toml"\n[grid]\n"placement.tasks_per_period" = [10.0, 100.0]\n', encoding="utf-8")
    before = load_spec(spec).fingerprint
    csv_path.write_text(mlp_profile(3, 65, 100, 10).to_csv(), encoding="utf-8")
    assert load_spec(spec).fingerprint != before


def test_sweep_figure_speaks_quantities_with_safe_styles_and_integer_steps(tmp_path):
    from coopt.report.figures import STYLE
    from coopt.sweep.figures import sweep_figure
    from coopt.symbolic.notation import axis_label

    out = tmp_path / "out"
    run_sweep(load_spec(write_spec(tmp_path, GRID)), out, progress=False)
    fig = sweep_figure(out, x="channel.mean_snr_db", y="placement", by="placement.tasks_per_period")
    assert len(fig.axes) == 2  # one panel per rule
    ax = fig.axes[0]
    assert ax.get_xlabel() == axis_label("channel.mean_snr_db") == "mean SNR $\\rho\\,E[h]$ (dB)"
    assert ax.get_ylabel() == "placement $M$"
    labels = [ln.get_label() for ln in ax.get_lines()]
    assert labels == ["$K_{\\mathrm{tasks}}$ = 10", "$K_{\\mathrm{tasks}}$ = 100", "$K_{\\mathrm{tasks}}$ = 1000"]
    styles = {(ln.get_color(), ln.get_linestyle(), ln.get_marker()) for ln in ax.get_lines()}
    assert len(styles) == 3  # no two lines alike
    okabe_ito = {st["color"].lower() for st in STYLE.values()}
    assert {ln.get_color().lower() for ln in ax.get_lines()} <= okabe_ito
    assert all(ln.get_drawstyle() == "steps-mid" for ln in ax.get_lines())
    assert all(float(t).is_integer() for t in ax.get_yticks())
    rows = [r for r in table(out) if r["placement.rule"] == "optimal" and float(r["placement.tasks_per_period"]) == 10]
    np.testing.assert_array_equal(ax.get_lines()[0].get_ydata(), [float(r["placement"]) for r in rows])
    assert [a.get_title() for a in fig.axes] == ["optimal rule", "OSLA rule"]
    page = sweep_figure(out, x="placement.tasks_per_period", by="rule", size="page", title=False)
    assert page.get_figwidth() == pytest.approx(7.16) and not any(a.get_title() for a in page.axes)
    assert page.axes[0].get_xlabel() == "inference tasks per period $K_{\\mathrm{tasks}}$"
    assert [ln.get_label() for ln in page.axes[0].get_lines()] == ["joint optimum", "OSLA rule"]


def test_gap_figure_plots_each_baselines_extra_cost_in_percent(tmp_path, capsys):
    """--y gap_percent: the lines are 100 (Phi_b - Phi*) / Phi* recomputed from the objective columns."""
    from coopt.model.vocabulary import Policy
    from coopt.sweep.figures import sweep_figure

    out = tmp_path / "out"
    body = '[grid]\n"channel.mean_snr_db" = [0.0, 10.0, 20.0, 30.0]\n"placement.rule" = ["optimal", "osla"]\n'
    run_sweep(load_spec(write_spec(tmp_path, body)), out, progress=False)
    fig = sweep_figure(out, x="channel.mean_snr_db", y="gap_percent")
    (ax,) = fig.axes
    assert ax.get_ylabel() == "extra cost over the joint optimum $\\Delta$ (%)"
    lines = {line.get_label(): line for line in ax.get_lines() if not line.get_label().startswith("_")}
    rows = sorted(
        (r for r in table(out) if r["placement.rule"] == "optimal"), key=lambda r: float(r["channel.mean_snr_db"])
    )
    from coopt.report.figures import STYLE

    baselines = {p.key: p for p in Policy if p.key is not None}
    assert set(lines) == {STYLE[p]["label"] for p in baselines.values()}
    for key, policy in baselines.items():
        line = lines[STYLE[policy]["label"]]
        assert list(line.get_xdata()) == [float(r["channel.mean_snr_db"]) for r in rows]
        expected = [
            100.0 * (float(r[f"baselines.{key}.objective"]) - float(r["objective"])) / float(r["objective"])
            if r[f"baselines.{key}.objective"]
            else math.nan
            for r in rows
        ]
        np.testing.assert_allclose(line.get_ydata(), expected, rtol=1e-12, atol=1e-12)
        assert np.nanmin(line.get_ydata()) >= -1e-9  # no baseline beats the joint optimum
        assert (line.get_color(), line.get_linestyle()) == (STYLE[policy]["color"], STYLE[policy]["ls"])
    assert main(["figures", "--sweep", str(out), "--y", "gap_percent", "--size", "column"]) == 0
    assert (out / "sweep_gap.pdf").stat().st_size > 0 and (out / "sweep_gap.svg").stat().st_size > 0
    capsys.readouterr()
    assert main(["figures", "--sweep", str(out), "--y", "gap_percent", "--by", "rule"]) == 2
    assert "--y gap_percent: one line per baseline" in capsys.readouterr().err


def test_sweep_figure_draws_its_one_panel_into_an_axes(tmp_path):
    from matplotlib.figure import Figure

    from coopt.errors import InstanceError
    from coopt.sweep.figures import sweep_figure

    out = tmp_path / "out"
    run_sweep(load_spec(write_spec(tmp_path, '[grid]\n"channel.mean_snr_db" = [5.0, 20.0]\n')), out, progress=False)
    fig = Figure()
    ax = fig.subplots()
    assert sweep_figure(out, ax=ax) is fig
    lines = {line.get_label(): line for line in ax.get_lines()}
    np.testing.assert_array_equal(lines["joint optimum"].get_ydata(), [float(r["objective"]) for r in table(out)])
    many = tmp_path / "many"
    run_sweep(load_spec(write_spec(tmp_path, GRID, "grid.toml")), many, progress=False)
    with pytest.raises(InstanceError, match="ax=: draws one panel"):
        sweep_figure(many, x="channel.mean_snr_db", ax=Figure().subplots())
