"""The command line: outputs, exit codes and one-line errors for bad input."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

import pytest

import coopt
from coopt import list_profiles, load_instance, solve
from coopt.cli.main import build_parser, main
from tests.support.instances import EXAMPLE_INSTANCES, EXAMPLES, make_doc, to_toml


def run(argv, capsys):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


# ------------------------------------------------------------------ examples in data/

EXAMPLE_FILES = EXAMPLE_INSTANCES


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda p: p.stem)
def test_examples_are_non_trivial(path):
    """Every shipped example has 0 < M* < N and beats every baseline strictly."""
    inst = load_instance(path)
    res = solve(inst)
    assert 0 < res.placement < inst.n_layers
    for name, b in res.baselines.items():
        assert b is not None and b.objective > res.objective * (1 + 1e-6), name


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda p: p.stem)
def test_readable_report(path, capsys):
    code, out, err = run(["solve", path], capsys)
    assert code == 0 and err == ""
    res = solve(load_instance(path))
    assert f"M* = {res.placement} " in out
    assert f"Phi(M*) = {res.objective:.6e}" in out
    for label in ("edge-only", "device-only", "static split", "full placement", "OSLA"):
        assert label in out
    assert f"{res.gap_percent('edge_only'):+8.2f} %" in out
    if res.policy.thresholds is not None:
        assert "theta_n [dB]" in out


def test_json_has_the_keys_of_model_md(capsys):
    code, out, _ = run(["solve", EXAMPLES / "cnn_chain.toml", "--json", "--rule", "osla"], capsys)
    assert code == 0
    d = json.loads(out)
    for key in (
        "placement",
        "objective",
        "task_cost",
        "download_cost",
        "rule",
        "method",
        "by_placement",
        "thresholds",
        "baselines",
    ):
        assert key in d
    assert d["rule"] == "osla" and d["method"] == "enumeration"
    assert set(d["baselines"]) == {"edge_only", "device_only", "static_split", "full_placement", "osla"}
    assert d["baselines"]["osla"]["objective"] == pytest.approx(d["objective"], rel=1e-15)
    assert len(d["thresholds"]) == d["placement"] + 1
    parts = d["breakdown"]
    assert parts["local"] + parts["upload"] + parts["edge"] + parts["waiting"] == pytest.approx(
        d["task_cost"], rel=1e-12
    )


def test_breakdown_physical_totals(capsys):
    inst = load_instance(EXAMPLES / "mlp.toml")
    bd = solve(inst).breakdown
    res = solve(inst)
    w_e, w_t = inst.cost.energy_weight, inst.cost.time_weight
    assert w_e * bd.energy_j + w_t * bd.latency_s == pytest.approx(res.task_cost, rel=1e-12)
    assert sum(bd.stop_prob) == pytest.approx(1.0, rel=1e-12)


def test_memory_limit_restricts_placements(write_instance, capsys):
    doc = make_doc(placement__memory_bits=3000 * 32)  # conv1 + conv2 parameters only
    code, out, _ = run(["solve", write_instance(doc), "--json"], capsys)
    d = json.loads(out)
    assert code == 0
    assert [r["placement"] for r in d["by_placement"]] == [0, 1, 2, 3, 4]
    assert d["baselines"]["device_only"] is None and d["baselines"]["full_placement"] is None
    assert d["baselines"]["static_split"]["placement"] <= 4


def test_profile_path_relative_to_instance(tmp_path, capsys):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "net.csv").write_text("name,macs,out_elems,params,extra\ninput,0,10,0,x\nfc,100,5,55,y\n")
    path = tmp_path / "sub" / "inst.toml"
    path.write_text(to_toml(make_doc(network__profile="net.csv")))
    code, out, _ = run(["solve", path, "--json"], capsys)
    assert code == 0 and len(json.loads(out)["by_placement"]) == 2


def test_shipped_profiles_load_by_name():
    assert {"lenet5", "mlp8x512"} <= set(list_profiles())


# ------------------------------------------------------------------ bad input

BAD_CSV = {
    "missing_column": "name,macs,params\ninput,0,0\nfc,10,5\n",
    "negative": "name,macs,out_elems,params\ninput,0,10,0\nfc,-5,5,55\n",
}

BAD_DOCS = [
    # (id, doc or raw text, expected fragments of the one-line message)
    ("toml_syntax", "[network]\nprofile = lenet5\n", ["invalid TOML", "line 2"]),
    ("unknown_key", make_doc(uplink__bandwith_hz=1e6), ["uplink.bandwith_hz", "did you mean 'bandwidth_hz'"]),
    ("unknown_table", make_doc(chanel__law="rayleigh"), ["[chanel]", "did you mean 'channel'"]),
    ("wrong_type", make_doc(device__cpu_hz="fast"), ["device.cpu_hz = 'fast'", "must be a number"]),
    ("bool_type", make_doc(edge__cpu_hz=True), ["edge.cpu_hz", "must be a number"]),
    ("missing_key", make_doc(device__tx_power_w=None), ["device.tx_power_w", "missing"]),
    ("zero_bandwidth", make_doc(uplink__bandwidth_hz=0), ["uplink.bandwidth_hz = 0", "> 0"]),
    ("negative_bandwidth", make_doc(uplink__bandwidth_hz=-1e6), ["uplink.bandwidth_hz = -1000000.0", "> 0"]),
    ("zero_power", make_doc(device__tx_power_w=0.0), ["device.tx_power_w = 0.0", "> 0"]),
    ("negative_clock", make_doc(device__cpu_hz=-5e8), ["device.cpu_hz", "> 0"]),
    ("zero_edge_clock", make_doc(edge__cpu_hz=0), ["edge.cpu_hz = 0", "> 0"]),
    ("zero_noise", make_doc(uplink__noise_w=0.0), ["uplink.noise_w = 0.0", "> 0"]),
    ("negative_noise", make_doc(uplink__noise_w=-1e-13), ["uplink.noise_w", "> 0"]),
    ("states_zero", make_doc(channel__states=0), ["channel.states = 0", "integer >= 1"]),
    ("states_float", make_doc(channel__states=2.5), ["channel.states = 2.5", "integer >= 1"]),
    ("no_mean_gain", make_doc(channel__mean_gain=None), ["channel.mean_gain", "missing"]),
    (
        "probs_negative",
        make_doc(channel__law="finite", channel__gains=[1e-10, 1e-9], channel__probs=[1.2, -0.2]),
        ["channel.probs[1] = -0.2", ">= 0"],
    ),
    (
        "probs_sum",
        make_doc(channel__law="finite", channel__gains=[1e-10, 1e-9], channel__probs=[0.5, 0.4]),
        ["channel.probs", "must sum to 1"],
    ),
    (
        "probs_length",
        make_doc(channel__law="finite", channel__gains=[1e-10, 1e-9], channel__probs=[1.0]),
        ["channel.probs", "match"],
    ),
    (
        "gain_zero",
        make_doc(channel__law="finite", channel__gains=[0.0, 1e-9], channel__probs=[0.5, 0.5]),
        ["channel.gains[0] = 0.0", "> 0"],
    ),
    (
        "transition_not_square",
        make_doc(channel__law="markov", channel__gains=[1e-10, 1e-9], channel__transition=[[0.5, 0.5], [1.0]]),
        ["channel.transition", "square"],
    ),
    (
        "transition_vs_gains",
        make_doc(
            channel__law="markov", channel__gains=[1e-10, 1e-9, 1e-8], channel__transition=[[0.5, 0.5], [0.5, 0.5]]
        ),
        ["channel.transition", "3 x 3", "channel.gains"],
    ),
    (
        "transition_not_stochastic",
        make_doc(channel__law="markov", channel__gains=[1e-10, 1e-9], channel__transition=[[0.5, 0.6], [0.5, 0.5]]),
        ["channel.transition[0]", "must sum to 1"],
    ),
    ("unknown_law", make_doc(channel__law="weibull"), ["channel.law = 'weibull'", '"rayleigh"']),
    ("unknown_wait_mode", make_doc(wait__mode="sometimes"), ["wait.mode = 'sometimes'", '"never" | "last" | "any"']),
    ("unknown_rule", make_doc(placement__rule="greedy"), ["placement.rule = 'greedy'", '"optimal" | "osla"']),
    (
        "unknown_profile",
        make_doc(network__profile="resnet1000"),
        ["network.profile = 'resnet1000'", "lenet5", "mlp8x512"],
    ),
    (
        "missing_profile_file",
        make_doc(network__profile="nowhere.csv"),
        ["network.profile = 'nowhere.csv'", "no such file"],
    ),
    ("slot_zero", make_doc(wait__slot_s=0.0), ["wait.slot_s = 0.0", "> 0"]),
    ("slot_negative_any", make_doc(wait__mode="any", wait__slot_s=-0.1), ["wait.slot_s = -0.1", "> 0"]),
    ("slot_missing", make_doc(wait__slot_s=None), ["wait.slot_s", "required"]),
    ("zero_wait_cost", make_doc(cost__time_weight=0.0, device__idle_power_w=0.0), ["c_w", "> 0"]),
    ("nakagami_m", make_doc(channel__law="nakagami", channel__m=0.3), ["channel.m = 0.3", ">= 0.5"]),
    ("negative_memory", make_doc(placement__memory_bits=-1), ["placement.memory_bits = -1", ">= 0"]),
    ("zero_tasks", make_doc(placement__tasks_per_period=0), ["placement.tasks_per_period = 0", "> 0"]),
]


@pytest.mark.parametrize("case, doc, fragments", BAD_DOCS, ids=[c[0] for c in BAD_DOCS])
def test_bad_instance_one_line_exit_2(case, doc, fragments, write_instance, capsys):
    code, out, err = run(["solve", write_instance(doc)], capsys)
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("coopt: error: ")
    for fragment in fragments:
        assert fragment in err


@pytest.mark.parametrize("case", sorted(BAD_CSV))
def test_bad_profile_csv(case, tmp_path, capsys):
    (tmp_path / "net.csv").write_text(BAD_CSV[case])
    path = tmp_path / "inst.toml"
    path.write_text(to_toml(make_doc(network__profile="net.csv")))
    code, _, err = run(["solve", path], capsys)
    assert code == 2 and err.count("\n") == 1
    assert {"missing_column": "missing column(s) out_elems", "negative": "macs = -5: must be an integer >= 0"}[
        case
    ] in err


def test_missing_instance_file(tmp_path, capsys):
    code, _, err = run(["solve", tmp_path / "absent.toml"], capsys)
    assert code == 2 and "no such instance file" in err and err.count("\n") == 1


def test_console_script_gives_no_traceback(tmp_path):
    """The installed entry point itself (not just main()) exits 2 with one line."""
    path = tmp_path / "bad.toml"
    path.write_text(to_toml(make_doc(uplink__bandwidth_hz=-1.0)))
    proc = subprocess.run([sys.executable, "-m", "coopt", "solve", str(path)], capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stdout == "" and "Traceback" not in proc.stderr
    assert proc.stderr.strip() == "coopt: error: uplink.bandwidth_hz = -1.0: must be > 0"


@pytest.mark.parametrize(
    "argv, fragment",
    [
        ([], "the following arguments are required: COMMAND"),
        (["solve"], "the following arguments are required: instance"),
        (["solve", "x.toml", "--rule", "greedy"], "invalid choice: 'greedy'"),
        (["simulate", "x.toml", "--tasks", "many"], "--tasks: 'many': must be an integer >= 2"),
    ],
)
def test_bad_arguments_one_line_exit_2(argv, fragment, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    err = capsys.readouterr().err
    assert exc.value.code == 2
    assert err.count("\n") == 1 and fragment in err and "--help" in err


# ------------------------------------------------------------------ --help and --version


def _commands(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every (sub)command path of the parser, read from the parser itself, so that a new
    subcommand is covered without editing this test."""
    paths = [prefix]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                paths += _commands(sub, (*prefix, name))
    return paths


@pytest.mark.parametrize("path", _commands(build_parser()), ids=lambda p: " ".join(p) or "coopt")
def test_every_help_prints(path, capsys):
    """argparse expands % in help texts: a bare % (as in '50% of RAM') crashed `solve --help`."""
    with pytest.raises(SystemExit) as exc:
        main([*path, "--help"])
    out, err = capsys.readouterr()
    assert exc.value.code == 0 and err == ""
    assert out.startswith("usage: coopt")


def test_version(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    out, _ = capsys.readouterr()
    assert exc.value.code == 0 and out.strip() == f"coopt {coopt.__version__}"
