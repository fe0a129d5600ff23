"""Measured layer costs (docs/model.md 10.1): device_s, device_j, edge_s and out_bits columns."""

from __future__ import annotations

import csv
import math
import tomllib

import numpy as np
import pytest

from coopt import load_instance, solve
from coopt.cli.main import main
from coopt.dp.fast import solve_all
from coopt.model.problem import prepare
from coopt.model.profiles import Profile, mlp_profile
from coopt.sim.simulate import simulate
from tests.support.instances import EXAMPLES, MODELS, make_doc, to_toml
from tests.support.tolerances import RTOL_EXACT

HAND_CSV = """\
# a hand-computed three-layer profile
name,macs,out_elems,params,device_s,device_j,edge_s,out_bits
input,0,100,0,,,,800
l1,1000,50,10,0.01,0.02,0.001,400
l2,2000,10,20,0.03,0.05,0.002,100
"""


def write(tmp_path, csv_text: str, name: str = "net.csv", **changes) -> object:
    (tmp_path / name).write_text(csv_text, encoding="utf-8")
    doc = make_doc(network__profile=name, **changes)
    path = tmp_path / "instance.toml"
    path.write_text(to_toml(doc), encoding="utf-8")
    return path


def test_costs_by_hand(tmp_path):
    # w_E = 1, w_T = 1.5, P = 0.2 W (conftest's BASE_DOC).
    inst = load_instance(write(tmp_path, HAND_CSV))
    c = prepare(inst).costs
    a = [1.0 * 0.02 + 1.5 * 0.01, 1.0 * 0.05 + 1.5 * 0.03]
    b = [1.5 * 0.001, 1.5 * 0.002]
    np.testing.assert_allclose(c.A, [0.0, a[0], a[0] + a[1]], rtol=RTOL_EXACT)
    np.testing.assert_allclose(c.R, [b[0] + b[1], b[1], 0.0], rtol=RTOL_EXACT)
    np.testing.assert_allclose(c.feature_bits, [800.0, 400.0, 100.0], rtol=RTOL_EXACT)
    np.testing.assert_allclose(c.upload_coef, [(0.2 + 1.5) * 800, (0.2 + 1.5) * 400, 0.0], rtol=RTOL_EXACT)
    np.testing.assert_allclose(c.local_time_s, [0.0, 0.01, 0.04], rtol=RTOL_EXACT)
    np.testing.assert_allclose(c.local_energy_j, [0.0, 0.02, 0.07], rtol=RTOL_EXACT)
    np.testing.assert_allclose(c.edge_time_s, [0.003, 0.002, 0.0], rtol=RTOL_EXACT)
    h = 1e-10
    rate = 5e6 * math.log2(1 + 0.2 / 1e-13 * h)
    y1 = a[0] + (0.2 + 1.5) * 400 / rate + b[1]
    assert c.stop_cost(np.array([h]))[1, 0] == pytest.approx(y1, rel=RTOL_EXACT)


def test_compute_power_gives_the_energy(tmp_path):
    text = "name,macs,out_elems,params,device_s\ninput,0,100,0,0\nl1,1000,50,10,0.01\nl2,2000,10,20,0.03\n"
    inst = load_instance(write(tmp_path, text, device__compute_power_w=4.0, device__kappa=None, device__cpu_hz=None))
    c = prepare(inst).costs
    np.testing.assert_allclose(c.local_energy_j, [0.0, 0.04, 0.16], rtol=RTOL_EXACT)
    # edge time and feature bits still come from MACs and out_elems
    np.testing.assert_allclose(c.edge_time_s, [0.05 * 3000 / 3e9, 0.05 * 2000 / 3e9, 0.0], rtol=RTOL_EXACT)
    np.testing.assert_allclose(c.feature_bits, [3200.0, 1600.0, 320.0], rtol=RTOL_EXACT)


def test_keys_no_layer_needs_may_be_omitted(tmp_path, capsys):
    doc_changes = {"device__cpu_hz": None, "device__cycles_per_mac": None, "device__kappa": None}
    path = write(tmp_path, HAND_CSV, **doc_changes)
    text = path.read_text().replace("[edge]\ncpu_hz = 3000000000.0\ncycles_per_mac = 0.05\n", "")
    assert "[edge]" not in text
    path.write_text(text)
    assert main(["solve", str(path)]) == 0
    out = capsys.readouterr().out
    assert "layer costs: measured (device_s, device_j, edge_s, out_bits" in out


def _filled(profile: Profile, doc: dict) -> Profile:
    """The profile with device_s, device_j, edge_s, out_bits equal to the MAC-derived values,
    computed here from docs/model.md section 2 (in the cost model's order of operations)."""
    dev, edge, fb = doc["device"], doc["edge"], doc["network"]["feature_bits"]
    macs = profile.macs.astype(np.float64)
    cycles = dev["cycles_per_mac"] * macs
    return Profile(
        name=profile.name,
        layer_names=profile.layer_names,
        macs=profile.macs,
        out_elems=profile.out_elems,
        params=profile.params,
        device_s=cycles / dev["cpu_hz"],
        device_j=dev["kappa"] * dev["cpu_hz"] ** 2 * cycles,
        edge_s=edge["cycles_per_mac"] * macs / edge["cpu_hz"],
        out_bits=profile.out_elems.astype(np.float64) * fb,
    )


MLP = mlp_profile(depth=6, width=64, input_size=256, classes=10)


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    """(MAC-only instance, the same with every measured column filled in), on the MLP
    (so the closed form applies) and a finite channel."""
    tmp = tmp_path_factory.mktemp("pair")
    doc = make_doc(
        channel__law="finite",
        channel__gains=[2e-12, 1e-11, 6e-11],
        channel__probs=[0.3, 0.4, 0.3],
        channel__mean_gain=None,
        channel__states=None,
        placement__tasks_per_period=40,
    )
    (tmp / "macs.csv").write_text(MLP.to_csv(), encoding="utf-8")
    (tmp / "filled.csv").write_text(_filled(MLP, doc).to_csv(), encoding="utf-8")
    paths = []
    for name in ("macs", "filled"):
        doc["network"]["profile"] = f"{name}.csv"
        path = tmp / f"{name}.toml"
        path.write_text(to_toml(doc), encoding="utf-8")
        paths.append(path)
    return load_instance(paths[0]), load_instance(paths[1])


def test_filled_profile_is_really_measured(pair):
    assert pair[0].profile.measured == ()
    assert pair[1].profile.measured == ("device_s", "device_j", "edge_s", "out_bits")


def _same(r0, r1):
    assert r1.placement == r0.placement
    assert r1.objective == pytest.approx(r0.objective, rel=RTOL_EXACT)
    assert r1.decisions == r0.decisions
    np.testing.assert_allclose(
        [v.objective for v in r1.by_placement], [v.objective for v in r0.by_placement], rtol=RTOL_EXACT
    )
    for name, b0 in r0.baselines.items():
        b1 = r1.baselines[name]
        assert (b0 is None) == (b1 is None)
        if b0 is not None:
            assert b1.placement == b0.placement
            assert b1.objective == pytest.approx(b0.objective, rel=RTOL_EXACT)


@pytest.mark.parametrize(
    ("rule", "method"),
    [("optimal", "enumeration"), ("osla", "enumeration"), ("optimal", "mip"), ("osla", "closed-form")],
)
def test_measured_equals_macs_every_solver(pair, rule, method):
    r0, r1 = (solve(inst, rule=rule, method=method) for inst in pair)
    assert r0.measured == () and r1.measured != ()
    _same(r0, r1)


def test_measured_equals_macs_fast_sweep(pair):
    sweeps = []
    for inst in pair:
        p = prepare(inst)
        sweeps.append(solve_all(None, p.channel, inst.wait.mode, p.costs))
    for rule in sweeps[0]:
        np.testing.assert_allclose(sweeps[1][rule].values, sweeps[0][rule].values, rtol=RTOL_EXACT)


def test_measured_equals_macs_simulation(pair):
    s0, s1 = (simulate(inst, "optimal", 2000, seed=3) for inst in pair)
    np.testing.assert_array_equal(s1.split_counts, s0.split_counts)
    assert s1.mean == pytest.approx(s0.mean, rel=1e-9)


def test_closed_form_refuses_costs_not_proportional_to_macs(tmp_path):
    rng = np.random.default_rng(1)
    noisy = _filled(MLP, make_doc())
    noisy = Profile(
        name="noisy",
        layer_names=noisy.layer_names,
        macs=noisy.macs,
        out_elems=noisy.out_elems,
        params=noisy.params,
        device_s=noisy.device_s * rng.uniform(0.5, 2.0, size=noisy.macs.size),
        device_j=noisy.device_j,
        edge_s=noisy.edge_s,
    )
    inst = load_instance(write(tmp_path, noisy.to_csv()))
    with pytest.raises(ValueError, match="not proportional to MACs"):
        solve(inst, rule="osla", method="closed-form")


GOOD_ROWS = "input,0,100,0,0,800\nl1,1000,50,10,0.01,400\nl2,2000,10,20,0.03,100\n"


@pytest.mark.parametrize(
    ("case", "csv_text", "changes", "fragments"),
    [
        (
            "missing value",
            "name,macs,out_elems,params,device_s,out_bits\ninput,0,100,0,0,800\nl1,1000,50,10,,400\n",
            {},
            ["row 2 (l1) device_s is missing", "every layer row"],
        ),
        (
            "negative",
            "name,macs,out_elems,params,edge_s\ninput,0,100,0,\nl1,1000,50,10,-0.5\n",
            {},
            ["row 2 (l1) edge_s = '-0.5'", "finite number >= 0"],
        ),
        (
            "nan",
            "name,macs,out_elems,params,device_j\ninput,0,100,0,\nl1,1000,50,10,nan\n",
            {},
            ["row 2 (l1) device_j = 'nan'", "finite number >= 0"],
        ),
        (
            "infinite",
            "name,macs,out_elems,params,device_s\ninput,0,100,0,\nl1,1000,50,10,inf\n",
            {"device__compute_power_w": 2.0},
            ["device_s = 'inf'", "finite"],
        ),
        (
            "out_bits zero",
            "name,macs,out_elems,params,out_bits\ninput,0,100,0,0\nl1,1000,50,10,8\n",
            {},
            ["row 1 (input) out_bits = '0'", "> 0"],
        ),
        (
            "out_bits of the input missing",
            "name,macs,out_elems,params,out_bits\ninput,0,100,0,\nl1,1000,50,10,8\n",
            {},
            ["row 1 (input) out_bits is missing"],
        ),
        (
            "work in the input row",
            "name,macs,out_elems,params,device_s,out_bits\n" + GOOD_ROWS.replace("input,0,100,0,0", "input,0,100,0,1"),
            {"device__compute_power_w": 2.0},
            ["row 1 (input) device_s = '1'", "blank or 0"],
        ),
        (
            "device_s without energy",
            "name,macs,out_elems,params,device_s,out_bits\n" + GOOD_ROWS,
            {},
            ["device.compute_power_w: missing", "device_s column but no device_j"],
        ),
        (
            "edge key still needed",
            "name,macs,out_elems,params,device_s,out_bits\n" + GOOD_ROWS,
            {"device__compute_power_w": 2.0, "edge__cpu_hz": None},
            ["edge.cpu_hz: missing", "no edge_s column"],
        ),
        (
            "kappa still needed",
            "name,macs,out_elems,params,edge_s\ninput,0,100,0,0\nl1,1000,50,10,0.5\n",
            {"device__kappa": None},
            ["device.kappa: missing", "no device_j column"],
        ),
    ],
)
def test_bad_measured_columns_one_line_exit_2(case, csv_text, changes, fragments, tmp_path, capsys):
    path = write(tmp_path, csv_text, **changes)
    assert main(["solve", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    err = captured.err.strip()
    assert "\n" not in err and err.startswith("coopt: error:")
    for fragment in fragments:
        assert fragment in err, (case, err)


# ----------------------------------------------------------------------------- the shipped example


def test_vgg16_raspi4_profile_is_vgg16_with_measured_times():
    from coopt.model.profiles import load_profile

    measured, macs_only = load_profile("vgg16_raspi4"), load_profile("vgg16")
    assert measured.layer_names == macs_only.layer_names
    for column in ("macs", "out_elems", "params"):
        np.testing.assert_array_equal(getattr(measured, column), getattr(macs_only, column))
    assert measured.measured == ("device_s", "edge_s")
    # the sums stated in the provenance (Scission's raspi4 and 6700k(NoGPU) VGG-16 rows)
    assert measured.device_s.sum() == pytest.approx(2.1109, abs=5e-5)
    assert measured.edge_s.sum() == pytest.approx(0.1135, abs=5e-5)
    # fc6 (Keras fc1) is the slowest layer per MAC on the Pi: 0.2377 s for 102.8 M MACs
    assert measured.device_s[measured.layer_names.index("fc6")] == pytest.approx(0.2377, abs=1e-4)


def test_vgg16_raspi4_header_states_the_result():
    from tests.support.examples import assert_header_states_result

    inst = load_instance(EXAMPLES / "vgg16_raspi4.toml")
    res = solve(inst)
    text = assert_header_states_result("vgg16_raspi4", inst, res)
    assert "78.1 % of tasks" in text and f"{100 * res.breakdown.stop_prob[0]:.1f} % of tasks" in text


def test_vgg16_raspi4_device_only_by_hand():
    """Phi(N) = sum_i (w_E P_c t_i + w_T t_i) + D(N) / K, from the TOML and the CSV alone."""
    doc = tomllib.loads((EXAMPLES / "vgg16_raspi4.toml").read_text(encoding="utf-8"))
    text = (MODELS / "vgg16_raspi4.csv").read_text(encoding="utf-8")
    rows = list(csv.DictReader(ln for ln in text.splitlines() if ln.strip() and not ln.startswith("#")))
    w_e, w_t = doc["cost"]["energy_weight"], doc["cost"]["time_weight"]
    power, plc = doc["device"]["compute_power_w"], doc["placement"]
    local = sum(w_e * power * float(r["device_s"]) + w_t * float(r["device_s"]) for r in rows)
    bits = sum(int(r["params"]) for r in rows) * doc["network"]["param_bits"]
    download = bits * (w_t / plc["downlink_bps"] + w_e * plc["rx_energy_per_bit"])
    res = solve(load_instance(EXAMPLES / "vgg16_raspi4.toml"))
    assert res.baselines["device_only"].objective == pytest.approx(
        local + download / plc["tasks_per_period"], rel=RTOL_EXACT
    )


def test_reports_say_which_costs_were_measured(capsys):
    import json

    path = str(EXAMPLES / "vgg16_raspi4.toml")
    assert main(["solve", path, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["measured"] == ["device_s", "edge_s"]
    assert main(["compare", path, "--tasks", "200"]) == 0
    assert "measured layer costs: device_s, edge_s" in capsys.readouterr().out.splitlines()[0]
    assert main(["solve", str(EXAMPLES / "vgg16.toml"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["measured"] == []


def test_profile_table_shows_measured_times(capsys):
    assert main(["profile", "vgg16_raspi4"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].split()[-2:] == ["device_ms", "edge_ms"]
    fc6 = next(line.split() for line in lines if line.startswith("fc6 "))
    assert fc6[-2:] == ["237.709", "19.942"]  # Scission: fc1 0.2377090 s on the Pi, 0.0199416 s on the 6700K
