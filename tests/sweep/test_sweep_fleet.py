"""A sweep whose base is a fleet file (issue 18, item 6): axes ``shared.<key>`` and
``device.<i>.<key>``, one solve_fleet per point.

Known answers: every row against :func:`solve_fleet` of a fleet file written independently
with that point's values (text, not the sweep's dotted-key writer), and the optimum
non-increasing in the band (more band never hurts: every allocation at ``B`` is feasible at
``B' > B`` and each device's :math:`\\Phi_u` falls with its bandwidth).
"""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path

import pytest

from coopt.cli.main import main
from coopt.fleet import load_fleet, solve_fleet
from coopt.fleet.solve import BASELINES
from coopt.sweep import store
from coopt.sweep.engines import run_sweep
from coopt.sweep.spec import load_spec
from tests.support.instances import DATA
from tests.support.tolerances import RTOL_EXACT

FLEET = DATA / "fleet"
BANDS = (1.0e6, 4.0e6)
COUNTS = (1, 3)


def fleet_text(bandwidth_hz: float = 2.0e6, count: int = 1) -> str:
    return (
        f"[shared]\nbandwidth_hz = {bandwidth_hz!r}\nnoise_w = 2.0e-12\nedge_cpu_hz = 2.0e10\n"
        "bandwidth_levels = 4\nedge_levels = 4\n"
        "[shared.path_loss]\nref_gain = 1.0e-4\nref_distance_m = 1.0\nexponent = 3.0\n"
        f'[[device]]\ninstance = "sensor.toml"\ncount = {count}\ndistance_m = 40.0\nweight = 2.0\n'
        '[[device]]\ninstance = "sensor.toml"\ndistance_m = 90.0\n'
    )


def setup(tmp_path: Path, grid: str, extra: str = "") -> Path:
    (tmp_path / "chain4.csv").write_text((FLEET / "chain4.csv").read_text())
    (tmp_path / "sensor.toml").write_text((FLEET / "golden-fleet-sensor.toml").read_text())
    (tmp_path / "fleet.toml").write_text(fleet_text())
    spec = tmp_path / "spec.toml"
    spec.write_text(f'base = "fleet.toml"\nmethod = "mip"\n{extra}[grid]\n{grid}\n')
    return spec


GRID = f'"shared.bandwidth_hz" = {list(BANDS)}\n"device.0.count" = {list(COUNTS)}\n'


def rows(out: Path) -> list[dict[str, str]]:
    return store.read_table(out)


@pytest.mark.mip
def test_rows_equal_solve_fleet_of_a_fleet_written_with_those_values(tmp_path):
    out = tmp_path / "out"
    summary = run_sweep(load_spec(setup(tmp_path, GRID)), out, workers=1, progress=False)
    assert (summary.ran, summary.done) == (4, 4)
    table = rows(out)
    assert [(float(r["shared.bandwidth_hz"]), int(r["device.0.count"])) for r in table] == [
        (b, c) for b in BANDS for c in COUNTS
    ]
    for r in table:
        b, c = float(r["shared.bandwidth_hz"]), int(r["device.0.count"])
        path = tmp_path / f"ref-{b:g}-{c}.toml"
        path.write_text(fleet_text(b, c))
        ref = solve_fleet(load_fleet(path), method="mip")
        assert r["status"] == "done" and r["exit_code"] == "0"
        assert int(r["devices"]) == c + 1 == ref.size
        for col, value in [
            ("objective", ref.objective),
            ("bound", ref.bound),
            ("prices.bandwidth", ref.prices[0]),
            ("prices.edge", ref.prices[1]),
            ("prices.bandwidth_per_hz", ref.prices[0] / b),
        ]:
            assert float(r[col]) == pytest.approx(value, rel=RTOL_EXACT, abs=1e-300), col
        assert float(r["gap"]) == pytest.approx(ref.gap, abs=1e-12)
        assert r["method"] == "mip" and r["optimal"] == "true"
        for name in BASELINES:
            value = ref.baselines[name]
            cell = r[f"baselines.{name}.objective"]
            assert (cell == "") if value is None else float(cell) == pytest.approx(value, rel=RTOL_EXACT), name


def test_optimum_is_non_increasing_in_the_band(tmp_path):
    bands = [0.25e6, 0.5e6, 1.0e6, 2.0e6, 8.0e6]
    spec = setup(tmp_path, f'"shared.bandwidth_hz" = {bands}\n')
    out = tmp_path / "out"
    run_sweep(load_spec(spec), out, workers=1, progress=False)
    objective = [float(r["objective"]) for r in rows(out)]
    assert len(objective) == len(bands)
    assert all(b <= a * (1 + 1e-12) for a, b in itertools.pairwise(objective)), objective
    assert objective[-1] < objective[0]  # the band binds somewhere: the property is not vacuous


def test_rerun_skips_done_points_and_keeps_the_table_and_strict_log(tmp_path):
    out = tmp_path / "out"
    spec = load_spec(setup(tmp_path, GRID))
    run_sweep(spec, out, workers=1, progress=False)
    first = (out / store.TABLE).read_bytes()
    again = run_sweep(load_spec(tmp_path / "spec.toml"), out, workers=1, progress=False)
    assert (again.ran, again.skipped, again.done) == (0, 4, 4)
    assert (out / store.TABLE).read_bytes() == first

    def bad(name):
        raise AssertionError(f"non-finite JSON constant {name}")

    for line in (out / store.LOG).read_text().splitlines():
        json.loads(line, parse_constant=bad)


@pytest.mark.mip
def test_set_and_path_loss_axes_reach_the_devices(tmp_path):
    grid = '"device.1.set.cost.time_weight" = [0.5, 2.0]\n"shared.path_loss.exponent" = [2.5]\n'
    out = tmp_path / "out"
    run_sweep(load_spec(setup(tmp_path, grid)), out, workers=1, progress=False)
    table = rows(out)
    for r in table:
        text = fleet_text().replace("exponent = 3.0", "exponent = 2.5")
        text = text.replace(
            "distance_m = 90.0\n",
            f'distance_m = 90.0\nset = {{ "cost.time_weight" = {r["device.1.set.cost.time_weight"]} }}\n',
        )
        path = tmp_path / "ref.toml"
        path.write_text(text)
        assert float(r["objective"]) == pytest.approx(solve_fleet(load_fleet(path), method="mip").objective, rel=1e-12)
    assert table[0]["objective"] != table[1]["objective"]


@pytest.mark.parametrize(
    ("grid", "message"),
    [
        ('"shared.bandwith_hz" = [1.0e6]', "grid.shared.bandwith_hz: unknown key"),
        ('"device.5.count" = [1]', "grid.device.5.count: device.<i> must name a [[device]] entry, i in 0 .. 1"),
        ('"device.0.cnt" = [1]', "grid.device.0.cnt: unknown key"),
        ('"device.0.count" = [1.5]', "grid.device.0.count: value 1.5 is not an integer"),
        ('"device.0.set.channel.nope" = [1]', "grid.device.0.set.channel.nope: unknown instance key"),
        ('"shared.bandwidth_hz" = [-1.0, 1.0e6]', "shared.bandwidth_hz = -1.0: must be > 0"),
        ('"device.0.count" = [0, 1]', "device.0.count = 0: must be an integer >= 1"),
        ('"method" = ["enumeration"]', "grid.method: value 'enumeration' is not one of auto"),
    ],
)
def test_bad_axis_is_one_line_exit_2_nothing_written(tmp_path, capsys, grid, message):
    out = tmp_path / "out"
    assert main(["sweep", str(setup(tmp_path, grid)), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1, err
    assert not out.exists()


def test_simulate_table_is_refused_for_a_fleet(tmp_path, capsys):
    spec = setup(tmp_path, GRID, extra="[simulate]\ntasks = 100\n")
    assert main(["sweep", str(spec), "--out", str(tmp_path / "out")]) == 2
    assert "not supported with a fleet base" in capsys.readouterr().err


def test_no_non_finite_cells(tmp_path):
    out = tmp_path / "out"
    run_sweep(load_spec(setup(tmp_path, '"device.0.count" = [2]\n')), out, workers=1, progress=False)
    for value in rows(out)[0].values():
        try:
            assert math.isfinite(float(value))
        except ValueError:
            pass
