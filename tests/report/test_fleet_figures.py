"""``coopt figures FLEET`` (coopt.report.fleet_figures): the plotted numbers are the fleet's.

Every check reads the numbers back from the figure's lines and compares them with the
:class:`~coopt.fleet.solve.FleetResult` (or with an independent :func:`solve_fleet` of the
fleet file written with its counts multiplied), not just that a file exists.
"""

from __future__ import annotations

import contextlib
import math
import warnings
from pathlib import Path

import numpy as np
import pytest

from coopt.cli.main import main
from coopt.errors import InstanceError
from coopt.fleet import load_fleet, solve_fleet
from coopt.fleet.solve import BASELINES
from coopt.report.figures import FORMATS, write_figures
from coopt.report.fleet_figures import (
    FLEET_FIGURES,
    count_figure,
    count_sweep,
    make_fleet_figures,
    phi_figure,
    placement_figure,
    scaled_fleet,
    share_figure,
)
from tests.support.figures import font_subtypes
from tests.support.instances import DATA

FLEET = DATA / "fleet"
GOLDEN = FLEET / "golden-fleet-three.toml"
SHARED = (
    "[shared]\nbandwidth_hz = 2.0e6\nnoise_w = 2.0e-12\nedge_cpu_hz = 2.0e10\nbandwidth_levels = 4\nedge_levels = 4\n"
    "[shared.path_loss]\nref_gain = 1.0e-4\nref_distance_m = 1.0\nexponent = 3.0\n"
)
SENSOR = (FLEET / "golden-fleet-sensor.toml").resolve()


def ring_fleet(tmp_path: Path, counts: tuple[int, int, int] = (2, 1, 1), name: str = "ring") -> Path:
    """Sensors at 30 m (weight 2), 80 m and 55 m (16 channel states): every device has a distance."""
    entries = [
        f'[[device]]\ninstance = "{SENSOR}"\ncount = {counts[0]}\ndistance_m = 30.0\nweight = 2.0\n',
        f'[[device]]\ninstance = "{SENSOR}"\ncount = {counts[1]}\ndistance_m = 80.0\n',
        f'[[device]]\ninstance = "{SENSOR}"\ncount = {counts[2]}\ndistance_m = 55.0\nset = {{ "channel.states" = 16 }}\n',
    ]
    path = tmp_path / f"{name}.toml"
    path.write_text(SHARED + "".join(entries))
    return path


def lines_by_gid(fig) -> dict[str, object]:
    return {line.get_gid(): line for ax in fig.axes for line in ax.get_lines() if line.get_gid()}


@pytest.fixture(scope="module")
def ring(tmp_path_factory):
    path = ring_fleet(tmp_path_factory.mktemp("ring"))
    fleet = load_fleet(path)
    return path, fleet, solve_fleet(fleet)


# ----------------------------------------------------------------------------- per device


@pytest.mark.parametrize("builder", [share_figure, phi_figure, placement_figure])
def test_device_figures_plot_every_devices_values_against_its_distance(ring, builder) -> None:
    _, _, res = ring
    fig = builder(res)
    lines = lines_by_gid(fig)
    quantities = {share_figure: ("x", "y"), phi_figure: ("phi",), placement_figure: ("placement",)}[builder]
    seen: list[int] = []
    for q in quantities:
        for entry in (0, 1, 2):
            line = lines[f"{q}:{entry}"]
            members = [u for u, d in enumerate(res.devices) if d.entry == entry]
            members.sort(key=lambda u: res.devices[u].distance_m)
            attr = {"x": "x", "y": "y", "phi": "objective", "placement": "placement"}[q]
            expected = [float(getattr(res.devices[u], attr)) for u in members]
            assert list(line.get_xdata()) == [res.devices[u].distance_m for u in members]
            assert list(line.get_ydata()) == expected
            seen += members
    assert sorted(seen) == sorted(list(range(res.size)) * len(quantities))  # every device, once per quantity
    assert "distance" in fig.axes[0].get_xlabel()


def test_device_figures_use_the_index_without_distances_and_integer_placement_ticks() -> None:
    res = solve_fleet(load_fleet(GOLDEN))  # its board has no distance_m
    fig = placement_figure(res)
    ax = fig.axes[0]
    assert "device $u$" in ax.get_xlabel()
    xs = np.concatenate([line.get_xdata() for line in ax.get_lines()])
    ys = np.concatenate([line.get_ydata() for line in ax.get_lines()])
    assert sorted(xs) == list(range(res.size))
    assert sorted(ys) == sorted(float(d.placement) for d in res.devices)
    assert all(float(t).is_integer() for t in ax.get_yticks())
    assert all(line.get_drawstyle() == "steps-mid" for line in ax.get_lines())


def test_ax_draws_into_the_callers_axes(ring) -> None:
    from matplotlib.figure import Figure

    _, _, res = ring
    fig = Figure()
    left, right = fig.subplots(1, 2)
    assert share_figure(res, ax=left) is fig
    assert phi_figure(res, ax=right, title=False) is fig
    assert len(fig.axes) == 2 and right.get_title() == "" and left.get_title()
    assert {line.get_gid() for line in left.get_lines()} == {f"{q}:{e}" for q in "xy" for e in range(3)}


# ----------------------------------------------------------------------------- against the number of devices


def test_scaled_fleet_is_the_fleet_file_with_every_count_multiplied(tmp_path: Path, ring) -> None:
    _, fleet, _ = ring
    for k in (1, 3):
        scaled = scaled_fleet(fleet, k)
        direct = load_fleet(ring_fleet(tmp_path, (2 * k, k, k), name=f"ring{k}"))
        assert scaled.devices == direct.devices
        assert scaled.kinds == direct.kinds and scaled.shared == direct.shared
    for bad in (0, -1, 1.5, True):
        with pytest.raises(InstanceError, match="count scale"):
            scaled_fleet(fleet, bad)  # type: ignore[arg-type]


def test_count_sweep_is_solve_fleet_of_each_scaled_file_and_the_optimum_beats_every_baseline(
    tmp_path: Path, ring
) -> None:
    _, fleet, res = ring
    scales = (1, 2, 3)
    sweep = count_sweep(fleet, scales, base=res)
    assert sweep.scales == scales and sweep.devices == tuple(k * fleet.size for k in scales)
    for i, k in enumerate(scales):
        alone = solve_fleet(load_fleet(ring_fleet(tmp_path, (2 * k, k, k), name=f"ring{k}")))
        assert sweep.optimum[i] == pytest.approx(alone.objective, rel=1e-12)
        assert sweep.optimal[i] and alone.optimal
        for name in BASELINES:
            got, want = sweep.baselines[name][i], alone.baselines[name]
            assert (got is None) == (want is None), (k, name)
            if got is not None:
                assert got == pytest.approx(want, rel=1e-12), (k, name)
                if name != "alone":  # alone is a lower bound, every other baseline is a feasible allocation
                    assert sweep.optimum[i] <= got * (1 + 1e-12), (k, name)
        # alone and device-only do not depend on the allocation: k times the fleet's
        assert sweep.baselines["alone"][i] == pytest.approx(k * res.baselines["alone"], rel=1e-12)
        assert sweep.baselines["device_only"][i] == pytest.approx(k * res.baselines["device_only"], rel=1e-12)
    assert sweep.optimum[0] == res.objective
    # the figure plots exactly these numbers
    lines = lines_by_gid(count_figure(sweep))
    assert set(lines) == {"optimum", *BASELINES}
    assert list(lines["optimum"].get_xdata()) == [float(n) for n in sweep.devices]
    assert list(lines["optimum"].get_ydata()) == list(sweep.optimum)
    for name in BASELINES:
        assert [None if math.isnan(v) else v for v in lines[name].get_ydata()] == list(sweep.baselines[name])


def test_an_infeasible_scale_leaves_a_gap(tmp_path: Path) -> None:
    """Sensors that cannot run device-only (8 bits of memory) need a band share each; four levels
    of 1/4 serve at most four: 2 are feasible, 6 (scale 3) are not."""
    path = tmp_path / "tight.toml"
    path.write_text(
        SHARED.split("[shared.path_loss]")[0]
        + f'[[device]]\ninstance = "{SENSOR}"\ncount = 2\nset = {{ "placement.memory_bits" = 8 }}\n'
    )
    fleet = load_fleet(path)
    sweep = count_sweep(fleet, (1, 3))
    assert sweep.optimum[0] is not None and sweep.optimum[1] is None
    assert sweep.baselines["device_only"] == (None, None)
    ys = lines_by_gid(count_figure(sweep))["optimum"].get_ydata()
    assert ys[0] == sweep.optimum[0] and math.isnan(ys[1])
    with pytest.raises(InstanceError, match="distinct"):
        count_sweep(fleet, (1, 1))


# ----------------------------------------------------------------------------- files and the command line


@pytest.mark.slow
def test_cli_writes_every_figure_with_truetype_fonts(tmp_path: Path, capsys) -> None:
    out = tmp_path / "figs"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # e.g. a layout that collapses the axes
        assert main(["figures", str(GOLDEN), "--out", str(out), "--points", "2", "--size", "column", "--no-title"]) == 0
    written = capsys.readouterr().out.split()
    expected = [str(out / f"{name}.{fmt}") for name in FLEET_FIGURES for fmt in FORMATS]
    assert written == expected and all(Path(p).stat().st_size > 0 for p in expected)
    for name in FLEET_FIGURES:
        subtypes = font_subtypes((out / f"{name}.pdf").read_bytes())
        assert subtypes and b"Type3" not in subtypes and subtypes <= {b"TrueType", b"Type0", b"CIDFontType2"}, name
    assert main(["figures", str(GOLDEN), "--out", str(out)]) == 2  # exists: --force
    assert "--force" in capsys.readouterr().err


@pytest.mark.parametrize("size", ["column", "page"])
def test_print_sizes_are_the_width_with_8_to_9_pt_text_and_no_titles(ring, size) -> None:
    from matplotlib.text import Text

    from coopt.report.figures import PRINT_FONT_PT, SIZES

    _, fleet, res = ring
    figs = make_fleet_figures(fleet, res, scales=(1, 2), size=size, title=False)
    assert tuple(figs) == FLEET_FIGURES
    for name, fig in figs.items():
        assert fig.get_figwidth() == pytest.approx(SIZES[size]), name
        assert all(ax.get_title() == "" for ax in fig.axes), name
        sizes = [t.get_fontsize() for t in fig.findobj(Text) if t.get_text()]
        assert sizes and all(PRINT_FONT_PT[0] <= s <= PRINT_FONT_PT[1] for s in sizes), (name, sorted(set(sizes)))


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--doppler"], "--doppler: applies to one instance"),
        ([str(FLEET / "golden-fleet-sensor.toml")], "give it alone"),
        (["--points", "5000"], "P <= 1000"),
        (["--size", "huge"], None),  # argparse's own refusal
    ],
)
def test_cli_bad_input_is_one_line_exit_2_and_nothing_written(tmp_path: Path, capsys, extra, message) -> None:
    out = tmp_path / "figs"
    with pytest.raises(SystemExit) if message is None else contextlib.nullcontext():
        assert main(["figures", str(GOLDEN), *extra, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    if message is not None:
        assert message in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_cli_bad_fleet_file_is_exit_2(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(SHARED + '[[device]]\ninstance = "missing.toml"\n')
    assert main(["figures", str(bad), "--out", str(tmp_path / "figs")]) == 2
    assert "missing.toml" in capsys.readouterr().err
    assert not (tmp_path / "figs").exists()


def test_write_figures_is_the_single_device_writer(tmp_path: Path, ring) -> None:
    _, _, res = ring
    paths = write_figures({"fleet_shares": share_figure(res)}, tmp_path)
    assert [p.name for p in paths] == [f"fleet_shares.{fmt}" for fmt in FORMATS]
