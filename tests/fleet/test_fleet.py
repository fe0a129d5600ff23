"""Fleets end to end (MODEL.md 11): files, share tables, solve_fleet, the CLI, verify, simulate.

Known answers: the golden fleet of an independent implementation (tests/data/fleet, copied from
the spec's examples), a fleet of one device against ``coopt solve``, hand-enumerated
allocations of small fleets, and every table entry at the returned shares against
``coopt.solve`` of the scaled instance parsed anew from its document.
"""

from __future__ import annotations

import itertools
import json
import math
import tempfile
import tomllib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coopt import load_instance, parse_instance, solve
from coopt.cli.main import main
from coopt.errors import InstanceError, NoSolutionError
from coopt.fleet import load_fleet, solve_fleet
from coopt.fleet.simulate import simulate_fleet
from coopt.fleet.tables import fleet_tables, instance_at, phi_at, share_table
from coopt.verify import verify_fleet
from tests.support.instances import DATA as TEST_DATA
from tests.support.instances import EXAMPLES as DATA
from tests.support.tolerances import RTOL_EXACT

FLEET = TEST_DATA / "fleet"
GOLDEN = FLEET / "golden-fleet-three.toml"
RTOL_GOLDEN = 1e-9  # the spec's examples: an independent implementation
RTOL_MIP = 1e-9  # HiGHS's own arithmetic and its gap tolerance


def strict(text: str):
    def bad(name):
        raise AssertionError(f"non-finite JSON constant {name}")

    return json.loads(text, parse_constant=bad)


def golden() -> dict:
    return json.loads((FLEET / "golden-fleet-three.json").read_text())


def close(a: float, b: float, rtol: float) -> bool:
    return abs(a - b) <= rtol * max(abs(a), abs(b))


def write_fleet(tmp_path: Path, shared: str, devices: str, name: str = "fleet.toml") -> Path:
    path = tmp_path / name
    path.write_text(f"[shared]\n{shared}\n{devices}")
    return path


SENSOR = (FLEET / "golden-fleet-sensor.toml").read_text()
SHARED = "bandwidth_hz = 2.0e6\nnoise_w = 2.0e-12\nedge_cpu_hz = 2.0e10\nbandwidth_levels = 4\nedge_levels = 4\n"


def sensor_dir(tmp_path: Path, extra: str = "") -> Path:
    (tmp_path / "chain4.csv").write_text((FLEET / "chain4.csv").read_text())
    (tmp_path / "sensor.toml").write_text(SENSOR.replace("mean_gain = 1.0e-9", "mean_gain = 1.0e-9" + extra))
    return tmp_path


# ----------------------------------------------------------------------------- the golden fleet


def test_golden_tables_match_everywhere():
    fleet = load_fleet(GOLDEN)
    gold = golden()
    assert list(fleet.shared.x_levels) == gold["levels"]["bandwidth"]
    for table, ref in zip(fleet_tables(fleet), gold["tables"]):
        ref = np.array([[math.inf if v is None else v for v in row] for row in ref])
        assert np.array_equal(np.isinf(table.phi), np.isinf(ref))
        finite = np.isfinite(ref)
        assert np.allclose(table.phi[finite], ref[finite], rtol=RTOL_GOLDEN, atol=0)


@pytest.mark.parametrize("method", ["auto", "mip", "lagrangian", "exact", "brute_force"])
def test_golden_fleet_every_method(method):
    gold = golden()
    fleet = load_fleet(GOLDEN)
    result = solve_fleet(fleet, method)
    assert close(result.objective, gold["objective"], RTOL_GOLDEN)
    assert close(result.bound, gold["bound"], RTOL_GOLDEN)
    for name, value in gold["baselines"].items():
        assert close(result.baselines[name], value, RTOL_GOLDEN), name
    levels = gold["levels"]
    assert sum(d.x for d in result.devices) <= 1 + 1e-12 and sum(d.y for d in result.devices) <= 1 + 1e-12
    for u, (dev, ref) in enumerate(zip(result.devices, gold["devices"])):
        assert dev.weight == ref["weight"] and dev.distance_m == ref["distance_m"]
        entry = gold["tables"][u][levels["bandwidth"].index(dev.x)][levels["edge"].index(dev.y)]
        assert close(dev.objective, entry, RTOL_GOLDEN)
    assert result.optimal and result.gap <= 1e-9


def test_golden_fleet_cli_json_is_model_md_11_2(capsys):
    assert main(["solve", str(GOLDEN), "--json"]) == 0
    out = strict(capsys.readouterr().out)
    for key in ("objective", "bound", "gap", "prices", "shares_used", "devices", "baselines", "method"):
        assert key in out, key
    assert set(out["prices"]) >= {"bandwidth", "edge", "bandwidth_per_hz", "edge_per_hz"}
    assert out["prices"]["bandwidth_per_hz"] == pytest.approx(out["prices"]["bandwidth"] / 2.0e6, rel=1e-15)
    for dev in out["devices"]:
        assert {"x", "y", "bandwidth_hz", "edge_hz", "placement", "objective", "weight"} <= set(dev)
        assert dev["bandwidth_hz"] == pytest.approx(dev["x"] * 2.0e6, rel=1e-15)
    assert "distance_m" in out["devices"][0] and "mean_gain" in out["devices"][0]
    assert "distance_m" not in out["devices"][2]
    assert set(out["baselines"]) == {"equal_shares", "alone", "device_only", "independent_splits", "alternating"}
    assert out["devices"][0]["mean_gain"] == pytest.approx(1e-4 * 30.0**-3.0, rel=1e-15)


def test_golden_fleet_report(capsys):
    assert main(["solve", str(GOLDEN)]) == 0
    out = capsys.readouterr().out
    assert "fleet golden-fleet-three: 3 devices" in out and "prices: band" in out
    assert "equal shares" in out and "device-only" in out and "golden-fleet-board#0" in out


def test_verify_golden_passes_and_can_fail(capsys, monkeypatch):
    assert main(["verify", str(GOLDEN)]) == 0
    out = capsys.readouterr().out
    assert "all checks passed" in out and "coopt.solve" in out and "brute_force" in out
    import coopt.api

    real = coopt.api.solve

    def drifted(instance, **kw):
        r = real(instance, **kw)
        object.__setattr__(r, "objective", r.objective * (1 + 1e-9))
        return r

    monkeypatch.setattr(coopt.api, "solve", drifted)
    report = verify_fleet(load_fleet(GOLDEN))
    assert not report.ok and all("coopt.solve" in c.name for c in report.failures)


def test_simulation_interval_contains_the_exact_value():
    fleet = load_fleet(GOLDEN)
    result = solve_fleet(fleet)
    sim = simulate_fleet(fleet, tasks=20_000, seed=3, result=result)
    assert sim.exact == result.objective
    assert sim.ci_low <= sim.exact <= sim.ci_high
    assert sim.std_error > 0
    for g in sim.groups:  # each group's exact value is its table entry
        assert close(g.exact, result.tables[g.kind].phi[result.x_levels.index(g.x), result.y_levels.index(g.y)], 1e-12)


def test_simulate_cli_json(capsys):
    assert main(["simulate", str(GOLDEN), "--tasks", "5000", "--json"]) == 0
    out = strict(capsys.readouterr().out)
    assert out["ci_low"] <= out["mean"] <= out["ci_high"] and out["exact"] == pytest.approx(golden()["objective"])


# ----------------------------------------------------------------------------- one device, tables


SINGLE = ["cnn_chain.toml", "markov.toml", "mlp.toml", "vgg16_raspi4.toml", "alexnet.toml"]


@pytest.mark.parametrize("rule", ["optimal", "osla"])
@pytest.mark.parametrize("name", SINGLE)
def test_fleet_of_one_at_full_shares_is_coopt_solve(name, rule, tmp_path):
    """A fleet of one device with levels {1}: the same number as `coopt solve`, to the last bit."""
    path = DATA / name
    inst = load_instance(path)
    edge = inst.edge.cpu_hz if inst.edge.cpu_hz is not None else 1.0e9
    shared = (
        f"bandwidth_hz = {inst.uplink.bandwidth_hz!r}\nnoise_w = {inst.uplink.noise_w!r}\nedge_cpu_hz = {edge!r}\n"
        "bandwidth_levels = [1.0]\nedge_levels = [1.0]\n"
    )
    fleet_path = write_fleet(
        tmp_path, shared, f'[[device]]\ninstance = "{path}"\nset = {{ "placement.rule" = "{rule}" }}\n'
    )
    result = solve_fleet(load_fleet(fleet_path))
    alone = solve(inst, rule=rule)
    assert result.objective == alone.objective
    assert result.devices[0].placement == alone.placement
    assert result.baselines["alone"] == alone.objective


@pytest.mark.parametrize("example", ["cnn_chain", "markov"])
@pytest.mark.parametrize("rule", ["optimal", "osla"])
def test_table_entries_are_coopt_solve_of_the_instance_written_at_those_shares(rule, example, tmp_path):
    """instance_at (dataclass replace) against a document with the scaled keys, parsed anew;
    an i.i.d. channel and a Markov one (each batched over the grid its own way)."""
    base = tomllib.loads((DATA / f"{example}.toml").read_text())
    base["placement"]["rule"] = rule
    fleet_path = write_fleet(
        tmp_path,
        "bandwidth_hz = 1.0e6\nnoise_w = 1.0e-13\nedge_cpu_hz = 4.0e10\nbandwidth_levels = [0, 0.25, 0.6, 1]\n"
        "edge_levels = 3\n",
        f'[[device]]\ninstance = "{DATA / f"{example}.toml"}"\nset = {{ "placement.rule" = "{rule}" }}\n',
    )
    fleet = load_fleet(fleet_path)
    table = share_table(fleet.kinds[0], fleet.shared)
    for (i, x), (j, y) in itertools.product(enumerate(fleet.shared.x_levels), enumerate(fleet.shared.y_levels)):
        if x == 0 or y == 0:
            continue
        doc = json.loads(json.dumps(base))
        doc["uplink"].update(bandwidth_hz=x * 1.0e6, noise_w=x * 1.0e-13)
        doc["edge"]["cpu_hz"] = y * 4.0e10
        ref = solve(parse_instance(doc, base_dir=DATA))
        assert close(table.phi[i, j], ref.objective, RTOL_EXACT), (x, y)
        assert table.placement[i, j] == ref.placement


def test_zero_share_is_device_only_and_optimal_tables_fall(tmp_path):
    fleet = load_fleet(write_fleet(sensor_dir(tmp_path), SHARED, '[[device]]\ninstance = "sensor.toml"\n'))
    inst = fleet.kinds[0]
    table = share_table(inst, fleet.shared)
    only = solve(inst).baselines["device_only"]
    assert np.all(table.phi[0, :] == only.objective) and np.all(table.phi[:, 0] == only.objective)
    assert np.all(table.placement[0, :] == inst.n_layers)
    assert np.all(np.diff(table.phi, axis=0) <= 1e-15) and np.all(np.diff(table.phi, axis=1) <= 1e-15)


def test_measured_edge_time_is_divided_by_the_edge_share():
    fleet = load_fleet(GOLDEN)
    board = fleet.kinds[2]
    assert board.profile.edge_s is not None
    half = instance_at(board, fleet.shared, 1.0, 0.5)
    assert np.array_equal(half.profile.edge_s, board.profile.edge_s / 0.5)
    assert half.uplink.bandwidth_hz == 2.0e6 and half.uplink.noise_w == 2.0e-12


def test_off_grid_share_for_the_equal_shares_baseline():
    """1/3 is off the golden fleet's grid: the tables solve it with the grid (and phi_at alone),
    equal to coopt.solve of each instance written at those shares."""
    fleet = load_fleet(GOLDEN)
    tables = fleet_tables(fleet)
    third = [solve(instance_at(inst, fleet.shared, 1 / 3, 1 / 3)) for inst in fleet.kinds]
    for table, inst, ref in zip(tables, fleet.kinds, third, strict=True):
        phi, m = table.off_grid[(1 / 3, 1 / 3)]
        assert close(phi, ref.objective, RTOL_EXACT) and m == ref.placement
        alone_phi, alone_m = phi_at(inst, fleet.shared, 1 / 3, 1 / 3)
        assert close(phi, alone_phi, RTOL_EXACT) and m == alone_m
    expected = math.fsum(d.weight * third[d.kind].objective for d in fleet.devices)
    assert solve_fleet(fleet).baselines["equal_shares"] == pytest.approx(expected, rel=RTOL_EXACT)


# ----------------------------------------------------------------------------- the file


def test_identical_devices_share_one_table(tmp_path):
    sensor_dir(tmp_path)
    devices = (
        '[[device]]\ninstance = "sensor.toml"\ncount = 5\n'
        '[[device]]\ninstance = "sensor.toml"\nweight = 3.0\n'
        '[[device]]\ninstance = "sensor.toml"\nset = { "channel.states" = 4 }\n'
    )
    fleet = load_fleet(write_fleet(tmp_path, SHARED, devices))
    assert fleet.size == 7 and len(fleet.kinds) == 2
    assert [d.kind for d in fleet.devices] == [0] * 6 + [1]
    assert [d.name for d in fleet.devices[:2]] == ["sensor#0", "sensor#1"]
    assert fleet.kinds[1].channel.states == 4


def test_disc_distances_are_drawn_as_the_spec_says(tmp_path):
    sensor_dir(tmp_path)
    shared = SHARED + "[shared.path_loss]\nref_gain = 1.0e-4\nref_distance_m = 2.0\nexponent = 3.5\n"
    devices = '[[device]]\ninstance = "sensor.toml"\ncount = 6\ndistance_m = { disc = [10.0, 50.0], seed = 11 }\n'
    fleet = load_fleet(write_fleet(tmp_path, shared, devices))
    d = np.sqrt(np.random.default_rng(11).uniform(10.0**2, 50.0**2, 6))
    assert [dev.distance_m for dev in fleet.devices] == d.tolist()
    for dev, inst in zip(fleet.devices, (fleet.kinds[k.kind] for k in fleet.devices)):
        assert dev.mean_gain == 1.0e-4 * (dev.distance_m / 2.0) ** -3.5
        assert inst.channel.mean_gain == dev.mean_gain
    assert len(fleet.kinds) == 6


def test_replaced_keys_are_reported(tmp_path, capsys):
    sensor_dir(tmp_path)
    (tmp_path / "given.toml").write_text(SENSOR + "[uplink]\nbandwidth_hz = 5.0e6\nnoise_w = 1.0e-12\n")
    fleet_path = write_fleet(tmp_path, SHARED, '[[device]]\ninstance = "given.toml"\n')
    fleet = load_fleet(fleet_path)
    assert fleet.replaced == ("device.0 (given.toml): uplink.bandwidth_hz, uplink.noise_w replaced by [shared]",)
    assert fleet.kinds[0].uplink.bandwidth_hz == 2.0e6
    assert main(["solve", str(fleet_path), "--json"]) == 0
    assert strict(capsys.readouterr().out)["replaced"] == list(fleet.replaced)


@pytest.mark.mip
def test_hand_enumerated_optimum_of_two_identical_devices(tmp_path):
    """Two copies on levels {0, 1/2, 1}: F* is the least of the allocations listed by hand."""
    sensor_dir(tmp_path)
    shared = SHARED.replace("bandwidth_levels = 4", "bandwidth_levels = 2").replace(
        "edge_levels = 4", "edge_levels = 2"
    )
    fleet = load_fleet(write_fleet(tmp_path, shared, '[[device]]\ninstance = "sensor.toml"\ncount = 2\n'))
    phi = share_table(fleet.kinds[0], fleet.shared).phi  # levels 0, 1/2, 1
    pairs = [(i, j) for i in range(3) for j in range(3)]
    best = min(phi[a] + phi[b] for a, b in itertools.product(pairs, pairs) if a[0] + b[0] <= 2 and a[1] + b[1] <= 2)
    for method in ("mip", "lagrangian", "exact", "brute_force"):
        assert close(solve_fleet(fleet, method).objective, best, 1e-9), method


def test_infeasible_fleet_names_the_devices(tmp_path, capsys):
    """Two devices whose memory forbids M = N, and shares {0, 1}: each needs the whole band."""
    sensor_dir(tmp_path, extra="")
    (tmp_path / "tight.toml").write_text(SENSOR.replace('rule = "optimal"', 'rule = "optimal"\nmemory_bits = 0.0'))
    shared = SHARED.replace("bandwidth_levels = 4", "bandwidth_levels = 1").replace(
        "edge_levels = 4", "edge_levels = 1"
    )
    path = write_fleet(tmp_path, shared, '[[device]]\ninstance = "tight.toml"\ncount = 2\n')
    with pytest.raises(NoSolutionError, match=r"tight#0 \(device\.0\), tight#1 \(device\.0\)"):
        solve_fleet(load_fleet(path))
    assert main(["solve", str(path)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot run device-only" in err


BAD = [
    (
        "unknown shared key",
        SHARED + "bandwith_hz = 1.0\n",
        '[[device]]\ninstance = "sensor.toml"\n',
        "shared.bandwith_hz: unknown key",
    ),
    (
        "unknown device key",
        SHARED,
        '[[device]]\ninstance = "sensor.toml"\ncopies = 2\n',
        "device.0.copies: unknown key",
    ),
    (
        "level above 1",
        SHARED.replace("edge_levels = 4", "edge_levels = [0, 0.5, 1.5]"),
        '[[device]]\ninstance = "sensor.toml"\n',
        "shared.edge_levels[2] = 1.5",
    ),
    (
        "negative level",
        SHARED.replace("bandwidth_levels = 4", "bandwidth_levels = [-0.1, 1]"),
        '[[device]]\ninstance = "sensor.toml"\n',
        "shared.bandwidth_levels[0] = -0.1",
    ),
    ("missing instance", SHARED, '[[device]]\ninstance = "nowhere.toml"\n', "nowhere.toml: no such device instance"),
    (
        "distance without path loss",
        SHARED,
        '[[device]]\ninstance = "sensor.toml"\ndistance_m = 30.0\n',
        "needs [shared.path_loss]",
    ),
    (
        "count 0",
        SHARED,
        '[[device]]\ninstance = "sensor.toml"\ncount = 0\n',
        "device.0.count = 0: must be an integer >= 1",
    ),
    (
        "bad dotted key",
        SHARED,
        '[[device]]\ninstance = "sensor.toml"\nset = { "channel.stats" = 4 }\n',
        "device.0.set.channel.stats: unknown instance key",
    ),
    (
        "shared key in set",
        SHARED,
        '[[device]]\ninstance = "sensor.toml"\nset = { "edge.cpu_hz" = 4.0 }\n',
        "is set by [shared]",
    ),
    ("constraints", SHARED, '[[device]]\ninstance = "qos.toml"\n', "QoS constraints are not supported in a fleet yet"),
    ("no devices", SHARED, "", "a fleet needs at least one [[device]]"),
    (
        "negative band",
        SHARED.replace("2.0e6", "-2.0e6"),
        '[[device]]\ninstance = "sensor.toml"\n',
        "shared.bandwidth_hz = -2000000.0: must be > 0",
    ),
    (
        "bad device value",
        SHARED,
        '[[device]]\ninstance = "sensor.toml"\nset = { "channel.states" = 0 }\n',
        "device.0 (sensor.toml): channel.states = 0",
    ),
    (
        "bad disc",
        SHARED + "[shared.path_loss]\nref_gain = 1e-4\nref_distance_m = 1.0\nexponent = 3.0\n",
        '[[device]]\ninstance = "sensor.toml"\ndistance_m = { disc = [50.0, 10.0], seed = 1 }\n',
        "device.0.distance_m.disc = [50.0, 10.0]",
    ),
]


@pytest.mark.parametrize(("case", "shared", "devices", "message"), BAD, ids=[b[0] for b in BAD])
def test_bad_fleet_one_line_exit_2(case, shared, devices, message, tmp_path, capsys):
    sensor_dir(tmp_path)
    (tmp_path / "qos.toml").write_text(SENSOR + "[constraints]\nmax_latency_s = 1.0\n")
    path = write_fleet(tmp_path, shared, devices)
    with pytest.raises(InstanceError, match=message.replace("[", r"\[").replace("(", r"\(").replace(")", r"\)")):
        load_fleet(path)
    for verb in ("solve", "verify", "simulate"):
        assert main([verb, str(path), "--json"]) == 2
        captured = capsys.readouterr()
        assert captured.out == "" and captured.err.count("\n") == 1 and message in captured.err


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--rule", "osla"], "--rule: applies to one instance"),
        (["--method", "mip"], "choose the allocation with --allocation"),
        (["--continuous"], "--continuous: applies to one instance"),
        (["--max-memory", "1MB"], "needs about"),
    ],
)
def test_instance_flags_on_a_fleet_exit_2(flags, message, capsys):
    assert main(["solve", str(GOLDEN), *flags]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and message in captured.err


@pytest.mark.parametrize("flag", [["--allocation", "mip"], ["--workers", "2"], ["--dask", "local"]])
def test_fleet_flags_on_an_instance_exit_2(flag, capsys):
    assert main(["solve", str(DATA / "mlp.toml"), *flag]) == 2
    assert f"{flag[0]}: applies to a fleet file" in capsys.readouterr().err


def without_times(doc: dict) -> dict:
    """The result's own keys (no wall times; the CLI also adds the version and the units)."""
    return {k: v for k, v in doc.items() if k not in ("wall_time_s", "coopt_version", "units")}


@pytest.mark.parametrize("engine", [["--workers", "1"], ["--workers", "2"]])
def test_every_engine_gives_the_serial_tables_and_result(engine, capsys):
    """The tables are independent jobs on coopt.engines: serial (the API's default) and local
    processes give the same tables bit for bit, and the CLI the same JSON."""
    fleet = load_fleet(DATA / "fleet_cell.toml")
    serial = fleet_tables(fleet)
    pooled = fleet_tables(fleet, workers=2)
    assert len(serial) == len(pooled) == len(fleet.kinds)
    for a, b in zip(serial, pooled, strict=True):
        for name in ("phi", "placement", "by_placement"):
            np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    want = without_times(solve_fleet(fleet, tables=serial).to_dict())
    assert main(["solve", str(DATA / "fleet_cell.toml"), "--json", *engine]) == 0
    assert without_times(strict(capsys.readouterr().out)) == json.loads(json.dumps(want))


@pytest.mark.dask
def test_dask_local_cluster_gives_the_serial_tables():
    """``--dask local``: a LocalCluster of two processes on 127.0.0.1, started and stopped by the run."""
    pytest.importorskip("distributed")
    fleet = load_fleet(GOLDEN)
    for a, b in zip(fleet_tables(fleet), fleet_tables(fleet, workers=2, dask="local"), strict=True):
        np.testing.assert_array_equal(a.by_placement, b.by_placement)


def test_fleet_cell_example_says_what_it_shows(capsys):
    """data/fleet_cell.toml's header: proven optimal, 84 % below equal shares, near sensors offload."""
    assert main(["solve", str(DATA / "fleet_cell.toml"), "--json"]) == 0
    out = strict(capsys.readouterr().out)
    assert out["optimal"] and len(out["devices"]) == 24
    assert round(out["baselines"]["equal_shares"]["gap_percent"]) == 84
    sensors = [d for d in out["devices"] if d["name"].startswith("mlp#")]
    near = min(sensors, key=lambda d: d["distance_m"])
    far = max(sensors, key=lambda d: d["distance_m"])
    assert near["placement"] == 0 and near["x"] > 0 and far["x"] == 0
    assert all(d["x"] > 0 for d in out["devices"] if d["name"].startswith("vgg16"))


def test_fixed_split_baselines_are_above_the_optimum_and_alternating_improves():
    """independent_splits and alternating restrict the placements: both >= F*, alternating <=
    independent (it starts there and only re-splits to lower costs), and both are evaluated
    from each device's Phi(M) at fixed M."""
    result = solve_fleet(load_fleet(GOLDEN))
    ind, alt = result.baselines["independent_splits"], result.baselines["alternating"]
    assert ind is not None and alt is not None
    assert result.objective <= alt * (1 + 1e-12) and alt <= ind * (1 + 1e-12)
    for table in result.tables:  # Phi is the least of Phi(M) over the placements
        assert np.array_equal(table.phi, table.by_placement.min(axis=2))


def test_independent_splits_that_cannot_fit_are_infeasible():
    """data/fleet_cell.toml: alone, all 24 devices would offload, and 24 copies of the least
    share 1/16 exceed the band: the fixed-split baselines have no allocation."""
    result_fleet = load_fleet(DATA / "fleet_cell.toml")
    result = solve_fleet(result_fleet)
    alone_splits = [phi_at(inst, result_fleet.shared, 1.0, 1.0)[1] for inst in result_fleet.kinds]
    assert all(m < inst.n_layers for m, inst in zip(alone_splits, result_fleet.kinds))
    assert result.baselines["independent_splits"] is None and result.baselines["alternating"] is None


# ----------------------------------------------------------------------------- random instance-built fleets

KINDS = ("cnn_chain.toml", "mlp.toml", "markov.toml", "alexnet.toml")  # i.i.d., Nakagami, Markov, N = 12


@st.composite
def instance_fleets(draw):
    """1-3 entries of shipped instances (a rule each), 1-3 copies at distances drawn over a
    ring, levels k/L on a common grid, a realistic cell's band and edge clock."""
    entries = []
    for _ in range(draw(st.integers(1, 3))):
        rule = draw(st.sampled_from(["optimal", "osla"]))
        entries.append(
            f'[[device]]\ninstance = "{DATA / draw(st.sampled_from(KINDS))}"\ncount = {draw(st.integers(1, 3))}\n'
            f"weight = {draw(st.sampled_from([0.5, 1.0, 2.0]))}\n"
            f"distance_m = {{ disc = [20.0, 150.0], seed = {draw(st.integers(0, 99))} }}\n"
            f'set = {{ "placement.rule" = "{rule}", "channel.states" = {draw(st.sampled_from([3, 6]))} }}\n'
        )
    band = draw(st.sampled_from([2.0e6, 1.0e7, 4.0e7]))
    shared = (
        f"bandwidth_hz = {band}\nnoise_w = {band * 4.0e-21}\nedge_cpu_hz = {draw(st.sampled_from([5e9, 2e10]))}\n"
        f"bandwidth_levels = {draw(st.integers(2, 4))}\nedge_levels = {draw(st.integers(2, 4))}\n"
        "[shared.path_loss]\nref_gain = 1.0e-4\nref_distance_m = 1.0\nexponent = 3.0\n"
    )
    return shared, "".join(entries)


@pytest.mark.mip
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instance_fleets())
def test_every_method_agrees_on_random_instance_built_fleets(drawn):
    """The MIP, the Lagrangian and the exact DP over devices (and brute force on the tiny
    ones) on fleets built from the shipped instances: one optimum; the bound never above
    it; the Lagrangian's reported gap covers its distance to it."""
    with tempfile.TemporaryDirectory() as tmp:
        fleet = load_fleet(write_fleet(Path(tmp), *drawn))
        tables = fleet_tables(fleet)
    try:
        exact = solve_fleet(fleet, "exact", tables=tables)
    except NoSolutionError:
        for method in ("mip", "lagrangian"):
            with pytest.raises(NoSolutionError):
                solve_fleet(fleet, method, tables=tables)
        return
    results = {m: solve_fleet(fleet, m, tables=tables, known_baselines=exact.baselines) for m in ("mip", "lagrangian")}
    if fleet.size <= 3:
        results["brute_force"] = solve_fleet(fleet, "brute_force", tables=tables, known_baselines=exact.baselines)
    best = exact.objective
    assert close(results["mip"].objective, best, RTOL_MIP) and results["mip"].optimal
    if "brute_force" in results:
        assert close(results["brute_force"].objective, best, RTOL_EXACT)
    lag = results["lagrangian"]
    assert lag.objective >= best * (1 - RTOL_EXACT)
    assert lag.objective - lag.bound >= lag.objective - best - RTOL_MIP * abs(best)
    for r in (exact, *results.values()):
        assert r.bound <= best * (1 + RTOL_MIP)
        # the reported F is the sum of the devices' own table entries at their shares
        assert close(r.objective, math.fsum(d.weight * d.objective for d in r.devices), RTOL_EXACT)
        assert r.shares_used[0] <= 1 + 1e-12 and r.shares_used[1] <= 1 + 1e-12
    if all(inst.placement.rule == "optimal" for inst in fleet.kinds):
        assert exact.baselines["alone"] <= best * (1 + RTOL_EXACT)


def test_verify_passes_on_the_shipped_fleet(capsys):
    """Every method of coopt verify on data/fleet_cell.toml (brute force refused by count)."""
    assert main(["verify", str(DATA / "fleet_cell.toml"), "--workers", "1", "--json"]) == 0
    out = strict(capsys.readouterr().out)
    assert out["ok"] is True
    assert any("brute_force" in c["name"] and "not applicable" in c["note"] for c in out["checks"])
