"""Figures (coopt.report.figures): files are written, and the plotted data are the computed values.

The data are read back from the Figure objects (lines and bars), not from pixels, and
compared with independent calls of the solver and the simulator.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from coopt import load_instance, prepare, solve
from coopt.cli.main import main
from coopt.dp.stopping import STOP, backward_induction, osla_policy
from coopt.report.figures import (
    FIGURES,
    cost_figure,
    exact_split_probs,
    make_figures,
    mean_snr_db,
    phi_figure,
    policy_objectives,
    solve_both,
    split_figure,
    threshold_figure,
    threshold_placement,
    with_gain_scale,
    with_tasks,
    write_figures,
)
from coopt.sim.simulate import POLICIES, simulate
from tests.support.figures import font_subtypes, pdffonts_types
from tests.support.instances import DATA, instance_path

NAMES = ["cnn_chain", "markov", "golden-rayleigh-osla"]


@pytest.fixture(scope="module")
def solved():
    return [solve_both(load_instance(instance_path(n))) for n in NAMES]


def line(ax, label: str):
    matches = [ln for ln in ax.lines if ln.get_label() == label]
    assert len(matches) == 1, (label, [ln.get_label() for ln in ax.lines])
    return matches[0]


def test_phi_figure_plots_phi_of_every_placement(solved) -> None:
    fig = phi_figure(solved)
    for ax, s in zip(fig.axes, solved):
        for label, rule in (("optimal rule", "optimal"), ("OSLA rule", "osla")):
            res = solve(s.instance, rule=rule)
            ln = line(ax, label)
            assert list(ln.get_xdata()) == [v.placement for v in res.by_placement]
            assert np.array_equal(ln.get_ydata(), [v.objective for v in res.by_placement])
            star = line(ax, f"$M^*$ = {res.placement} ({'optimal' if rule == 'optimal' else 'OSLA'})")
            assert list(star.get_xdata()) == [res.placement] and list(star.get_ydata()) == [res.objective]
        assert "placement $M$" in ax.get_xlabel() and "cost" in ax.get_ylabel()


def test_threshold_figure_plots_thresholds_in_db(solved) -> None:
    fig = threshold_figure(solved)
    axes = [ax for ax in fig.axes if ax.get_title()]  # skip the secondary axes
    for ax, s in zip(axes, solved):
        p = s.problem
        M = threshold_placement(s)
        assert M == (s.optimal.placement or s.instance.n_layers)
        if p.channel.is_markov:
            # a table per state: the upload states of each rule at each epoch, in dB
            sol = backward_induction(p.Y, p.channel, M, s.instance.wait.mode, p.costs)
            ln = line(ax, "optimal: uploads in this state")
            expect = sorted(
                (n, 10 * math.log10(g))
                for n in range(M + 1)
                for g, a in zip(p.channel.gains, sol.actions[n])
                if a == STOP
            )
            got = sorted(zip(np.round(ln.get_xdata() + 0.12).astype(int), ln.get_ydata()))
            assert [g[0] for g in got] == [e[0] for e in expect]
            assert np.allclose([g[1] for g in got], [e[1] for e in expect], rtol=1e-14, atol=0)
            continue
        for label, solver in (("optimal", backward_induction), ("OSLA", osla_policy)):
            th = solver(p.Y, p.channel, M, s.instance.wait.mode, p.costs).thresholds
            ln = line(ax, f"{label} $\\theta_n$")
            y = np.asarray(ln.get_ydata(), dtype=float)
            finite = np.isfinite(th) & (th > 0)
            assert np.allclose(y[finite], 10 * np.log10(th[finite]), rtol=1e-14, atol=0)
            assert np.all(np.isnan(y[~finite]))
            if (th == 0).any():
                edge = line(ax, f"{label}: always stops ($\\theta_n=0$)")
                assert np.allclose(edge.get_xdata(), np.flatnonzero(th == 0) + (-0.06 if label == "optimal" else 0.06))
                assert np.all(edge.get_ydata() == ax.get_ylim()[0])
        assert "[dB]" in ax.get_ylabel()


def test_cost_figure_plots_solver_values(solved) -> None:
    sub = solved[:2]
    fig = cost_figure(sub, points=4)
    axes = [ax for ax in fig.axes if ax.get_visible()]
    for s in sub:
        top = next(ax for ax in axes if ax.get_title() == f"{s.name}: cost against tasks per period")
        bottom = next(ax for ax in axes if ax.get_title() == f"{s.name}: cost against mean SNR")
        k = s.instance.placement.tasks_per_period
        xs = line(top, "joint optimum").get_xdata()
        assert xs[0] == pytest.approx(k / 1000) and xs[-1] == pytest.approx(k * 1000)
        assert top.get_xscale() == "log"
        for j in (0, 2):
            ref = policy_objectives(solve(with_tasks(s.instance, xs[j]), rule="optimal"))
            for name, label in (
                ("optimal", "joint optimum"),
                ("osla", "OSLA"),
                ("static", "static split"),
                ("edge-only", "edge-only"),
                ("device-only", "device-only"),
                ("full-placement", "full placement"),
            ):
                assert line(top, label).get_ydata()[j] == ref[name]
        snr = line(bottom, "joint optimum").get_xdata()
        base = mean_snr_db(s.problem)
        assert snr[0] == pytest.approx(base - 20) and snr[-1] == pytest.approx(base + 20)
        scaled = with_gain_scale(s.instance, 10 ** ((snr[1] - base) / 10))
        assert mean_snr_db(prepare(scaled)) == pytest.approx(snr[1], abs=1e-9)
        ref = policy_objectives(solve(scaled, rule="optimal"))
        assert line(bottom, "joint optimum").get_ydata()[1] == ref["optimal"]
        assert line(bottom, "OSLA").get_ydata()[1] == ref["osla"]
        assert "(dB)" in bottom.get_xlabel()


def test_split_figure_plots_simulated_and_exact(solved) -> None:
    sims = [simulate(s.problem, "optimal", 5_000, seed=2, solved=s.optimal) for s in solved]
    fig = split_figure(solved, sims)
    for ax, s, sim in zip(fig.axes, solved, sims):
        heights = [patch.get_height() for patch in ax.patches]
        assert np.array_equal(heights, sim.split_fractions)
        again = simulate(s.problem, "optimal", 5_000, seed=2)
        assert np.array_equal(heights, again.split_fractions)
        assert np.allclose(line(ax, "exact").get_ydata(), exact_split_probs(s), rtol=0, atol=1e-15)
        assert np.isclose(sum(s.optimal.breakdown.stop_prob), 1.0) and np.allclose(
            exact_split_probs(s), s.optimal.breakdown.stop_prob, rtol=0, atol=1e-15
        )


@pytest.mark.slow
def test_write_figures_png_and_pdf(tmp_path: Path) -> None:
    insts = [load_instance(instance_path("golden-finite-last")), load_instance(instance_path("golden-markov-any"))]
    figs = make_figures(insts, tasks=2_000, points=3)
    assert set(figs) == set(FIGURES)
    paths = write_figures(figs, tmp_path / "out")
    assert len(paths) == 3 * len(FIGURES)
    for p in paths:
        data = p.read_bytes()
        assert len(data) > 5_000
        assert data[:8] == b"\x89PNG\r\n\x1a\n" if p.suffix == ".png" else data[:5] in (b"%PDF-", b"<?xml")


@pytest.mark.slow
def test_cli_figures(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "figs"
    assert (
        main(
            ["figures", str(instance_path("golden-finite-last")), "--out", str(out), "--tasks", "1000", "--points", "2"]
        )
        == 0
    )
    written = capsys.readouterr().out.split()
    assert sorted(Path(w).name for w in written) == sorted(f"{f}.{e}" for f in FIGURES for e in ("png", "pdf", "svg"))
    assert all(Path(w).stat().st_size > 0 for w in written)


def test_cli_figures_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["figures", str(DATA / "nope.toml"), "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no such instance file" in err
    with pytest.raises(SystemExit) as exc:  # argparse checks the range of --points
        main(["figures", str(instance_path("golden-finite-last")), "--out", str(tmp_path), "--points", "1"])
    assert exc.value.code == 2
    assert "--points: 1: must be an integer >= 2" in capsys.readouterr().err


def test_solve_does_not_import_matplotlib() -> None:
    import subprocess
    import sys

    code = (
        "import sys; from coopt.cli.main import main; main(['solve', sys.argv[1]]); "
        "assert 'matplotlib' not in sys.modules and 'tqdm' not in sys.modules"
    )
    subprocess.run(
        [sys.executable, "-c", code, str(instance_path("golden-finite-last"))], check=True, capture_output=True
    )


def test_policies_cover_every_baseline() -> None:
    assert set(POLICIES) == {"optimal", "osla", "static", "edge-only", "device-only", "full-placement"}


@pytest.mark.slow
@pytest.mark.parametrize("size", ["column", "page"])
def test_print_sizes_fit_the_width_with_8_to_9_pt_and_truetype_fonts(tmp_path: Path, size: str) -> None:
    from matplotlib.text import Text

    from coopt.report.figures import PRINT_FONT_PT, SIZES

    insts = [load_instance(instance_path("golden-finite-last")), load_instance(instance_path("golden-markov-any"))]
    figs = make_figures(insts, tasks=500, points=2, size=size)
    figs["doppler_free"] = phi_figure([solve_both(i) for i in insts], size=size, title=False)
    for name, fig in figs.items():
        assert fig.get_figwidth() == pytest.approx(SIZES[size]), name
        sizes = [t.get_fontsize() for t in fig.findobj(Text) if t.get_text()]
        assert sizes and all(PRINT_FONT_PT[0] <= s <= PRINT_FONT_PT[1] for s in sizes), (name, sorted(set(sizes)))
    assert not any(ax.get_title() for ax in figs["doppler_free"].axes)
    for path in write_figures(figs, tmp_path):
        if path.suffix != ".pdf":
            continue
        pdf = path.read_bytes()
        subtypes = font_subtypes(pdf)
        assert subtypes and b"Type3" not in subtypes and subtypes <= {b"TrueType", b"Type0", b"CIDFontType2"}, (
            path.name,
            subtypes,
        )
        types = pdffonts_types(path)
        assert all("Type 3" not in t for t in types), (path.name, types)
        # the page is the figure's width (points), so print size is 1:1
        import re

        box = re.search(rb"/MediaBox\s*\[\s*0 0 ([\d.]+) ([\d.]+)\s*\]", pdf)
        assert box is not None and float(box.group(1)) == pytest.approx(72 * SIZES[size], abs=0.5)


def test_pdffonts_finds_no_type3_font(tmp_path: Path) -> None:
    import shutil
    import subprocess

    if shutil.which("pdffonts") is None:
        pytest.skip("pdffonts (poppler-utils) not installed")
    s = solve_both(load_instance(instance_path("golden-finite-last")))
    (path,) = [p for p in write_figures({"phi": phi_figure(s, size="column")}, tmp_path) if p.suffix == ".pdf"]
    out = subprocess.run(["pdffonts", str(path)], capture_output=True, text=True, check=True).stdout
    rows = out.splitlines()[2:]
    assert rows and all("TrueType" in r for r in rows) and "Type 3" not in out, out


def test_figure_functions_take_a_solve_result_and_an_ax() -> None:
    from matplotlib.figure import Figure

    inst = load_instance(instance_path("cnn_chain"))
    res = solve(inst)
    fig = Figure()
    left, right, third = fig.subplots(1, 3)
    assert phi_figure(res, ax=left) is fig
    ln = line(left, "optimal rule")
    assert list(ln.get_xdata()) == [v.placement for v in res.by_placement]
    assert np.array_equal(ln.get_ydata(), [v.objective for v in res.by_placement])
    assert threshold_figure(res, ax=right) is fig
    th = line(right, "optimal $\\theta_n$").get_ydata()
    finite = np.isfinite(res.policy.thresholds) & (res.policy.thresholds > 0)
    assert np.allclose(np.asarray(th)[finite], 10 * np.log10(res.policy.thresholds[finite]), rtol=1e-14, atol=0)
    assert split_figure(res, ax=third) is fig
    assert np.allclose(line(third, "exact").get_ydata(), res.breakdown.stop_prob, rtol=0, atol=1e-15)
    osla = solve(inst, rule="osla")
    assert list(line(phi_figure(osla).axes[0], "OSLA rule").get_ydata()) == [v.objective for v in osla.by_placement]
    markov = solve(load_instance(instance_path("markov")))
    mfig = threshold_figure(markov)
    stops = line(mfig.axes[0], "optimal: uploads in this state")
    assert len(stops.get_xdata()) == int((markov.policy.actions == STOP).sum())


def test_figures_reject_a_bad_size_and_two_items_on_one_ax(solved) -> None:
    from matplotlib.figure import Figure

    from coopt.errors import InstanceError

    with pytest.raises(InstanceError, match="--size = 'letter'"):
        phi_figure(solved, size="letter")
    with pytest.raises(InstanceError, match="ax=: draws one panel"):
        phi_figure(solved, ax=Figure().subplots())


def test_cli_figures_size_and_no_title(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "figs"
    args = ["figures", str(instance_path("golden-finite-last")), "--out", str(out), "--tasks", "500"]
    assert main([*args, "--points", "2", "--size", "column", "--no-title"]) == 0
    written = capsys.readouterr().out.split()
    assert any(w.endswith(".svg") for w in written)
    assert b"<svg" in (out / "phi.svg").read_bytes()
    with pytest.raises(SystemExit) as exc:
        main([*args, "--size", "letter"])
    assert exc.value.code == 2


def test_every_public_figure_function_takes_an_ax_and_returns_the_figure() -> None:
    """Each ``*_figure`` builder of the report and sweep layers has ``ax=``, ``size=`` and ``title=``."""
    import inspect

    from coopt.report import figures, fleet_figures, task_figures
    from coopt.sweep import figures as sweep_figures

    builders = [
        (module.__name__, name, fn)
        for module in (figures, task_figures, fleet_figures, sweep_figures)
        for name, fn in vars(module).items()
        if name.endswith("_figure") and not name.startswith(("_", "write_")) and inspect.isfunction(fn)
        if fn.__module__ == module.__name__
    ]
    assert len(builders) >= 12
    for module, name, fn in builders:
        params = inspect.signature(fn).parameters
        assert {"ax", "size", "title"} <= set(params), (module, name)
        assert all(params[p].kind is inspect.Parameter.KEYWORD_ONLY for p in ("ax", "size", "title")), (module, name)
        assert inspect.signature(fn).return_annotation in ("Figure", "Figure | None"), (module, name)


def test_cost_figure_draws_one_row_into_an_axes_from_the_instance() -> None:
    from matplotlib.figure import Figure

    from coopt.errors import InstanceError

    inst = load_instance(instance_path("cnn_chain"))
    fig = Figure()
    left, right = fig.subplots(1, 2)
    assert cost_figure(inst, points=3, rows=("snr",), ax=left) is fig
    assert not right.lines
    base = mean_snr_db(prepare(inst))
    xs = line(left, "joint optimum").get_xdata()
    assert np.allclose(xs, base + np.linspace(-20.0, 20.0, 3), rtol=0, atol=1e-12)
    expected = [solve(with_gain_scale(inst, 10.0 ** ((x - base) / 10.0))).objective for x in xs]
    assert np.allclose(line(left, "joint optimum").get_ydata(), expected, rtol=1e-12, atol=0)
    with pytest.raises(InstanceError, match="ax=: 1 axes for 1 items of 2 rows"):
        cost_figure(inst, points=2, ax=left)
    with pytest.raises(InstanceError, match="rows = "):
        cost_figure(inst, points=2, rows=("doppler",))


def test_doppler_figure_draws_into_the_callers_axes() -> None:
    from matplotlib.figure import Figure

    from coopt.report.figures import doppler_figure, doppler_sweep

    inst = load_instance(instance_path("golden-rayleigh-osla"))
    fig = Figure()
    top, bottom = fig.subplots(2, 1)
    assert doppler_figure(inst, points=2, tasks=200, seed=1, ax=[top, bottom]) is fig
    sw = doppler_sweep(inst, 2, 200, 1)
    ln = line(top, "optimal (correlated chain)")
    assert np.array_equal(ln.get_xdata(), sw.doppler_hz) and np.array_equal(ln.get_ydata(), sw.optimal)
    assert bottom.containers  # the error bars
