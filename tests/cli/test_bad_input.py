"""Bad input through the command line: one line on stderr, the right exit code, no
traceback and nothing written (issue 11, the CLI and input half).

Every case runs in-process through :func:`coopt.cli.main.main` (argparse errors leave
by ``SystemExit``); the cases in :data:`SUBPROCESS` also run through the installed
``coopt`` console script, so that the real entry point, the interpreter's exit and
NumPy's warnings are covered too. Each case runs in a fresh working directory whose
files (names, sizes, modification times) must be unchanged afterwards.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from coopt.cli import limits
from coopt.cli.main import main
from coopt.model.instance import RANGES
from tests.support.instances import ROOT, make_doc, to_toml

CSV_OK = "name,macs,out_elems,params\ninput,0,100,0\nfc1,1000,50,1000\nfc2,500,10,500\n"


def _instance(**changes) -> str:
    return to_toml(make_doc(**{"channel__states": 4, **changes}))


def _csv_instance(csv: bytes | str) -> dict[str, bytes | str]:
    return {"net.csv": csv, "bad.toml": _instance(network__profile="net.csv")}


# id -> (files to create, argv, exit code, fragments of the one stderr line). "{ok}" is a
# valid instance; argv runs in the case's working directory.
CASES: dict[str, tuple[dict[str, bytes | str], list[str], int, list[str]]] = {}


def case(name: str, files: dict[str, bytes | str], argv: str | list[str], code: int, *fragments: str) -> None:
    CASES[name] = (files, argv.split() if isinstance(argv, str) else argv, code, list(fragments))


def value_case(name: str, key: str, value, *fragments: str) -> None:
    table, k = key.split(".")
    case(name, {"bad.toml": _instance(**{f"{table}__{k}": value})}, "solve bad.toml", 2, key, *fragments)


# ---- values near the float64 limits (issue: overflow, NaN, inf, RuntimeWarnings)
value_case("energy_weight_1e308", "cost.energy_weight", 1e308, "1e+308", "in [0, 1e+12] 1/J")
value_case("time_weight_1e308", "cost.time_weight", 1e308, "in [0, 1e+12]")
value_case("cpu_hz_1e308", "device.cpu_hz", 1e308, "Hz")
value_case("kappa_1e308", "device.kappa", 1e308, "in [0, 1e-15]")
value_case("tx_power_1e308", "device.tx_power_w", 1e308, "W")
value_case("idle_power_1e308", "device.idle_power_w", 1e308, "W")
value_case("cycles_per_mac_tiny", "device.cycles_per_mac", 1e-320, "cycles")
value_case("edge_cpu_1e308", "edge.cpu_hz", 1e308, "Hz")
value_case("mean_gain_1e308", "channel.mean_gain", 1e308, "in [1e-30, 1e+06]")
value_case("mean_gain_1e-308", "channel.mean_gain", 1e-308, "in [1e-30, 1e+06]")
value_case("slot_tiny", "wait.slot_s", 1e-300, "in [1e-09, 1e+06] s")
value_case("slot_huge", "wait.slot_s", 1e300, "in [1e-09, 1e+06] s")
value_case("bandwidth_tiny", "uplink.bandwidth_hz", 1e-300, "Hz")
value_case("bandwidth_huge", "uplink.bandwidth_hz", 1e308, "Hz")
value_case("noise_subnormal", "uplink.noise_w", 5e-324, "W")
value_case("states_1e8", "channel.states", 10**8, "in [1, 1e+06]")
value_case("states_beyond_int64", "channel.states", 10**30, "channel.states")
value_case("feature_bits_huge", "network.feature_bits", 10**6, "in [1, 1024]")
value_case("tasks_per_period_tiny", "placement.tasks_per_period", 1e-300, "tasks")
value_case("downlink_tiny", "placement.downlink_bps", 1e-300, "bit/s")
value_case("rx_energy_1e308", "placement.rx_energy_per_bit", 1e308, "J/bit")
value_case("k_factor_huge", "channel.k_factor", 1e308, "in [0, 10000]")
case(
    "gains_1e308",
    {"bad.toml": _instance(channel__law="finite", channel__gains=[1e-10, 1e308], channel__probs=[0.5, 0.5])},
    "solve bad.toml",
    2,
    "channel.gains[1] = 1e+308",
)
case(
    "nakagami_m_huge",
    {"bad.toml": _instance(channel__law="nakagami", channel__m=1e308)},
    "solve bad.toml",
    2,
    "channel.m",
    "in [0.5, 10000]",
)

# ---- input files: encodings, binary data, missing files, TOML
case("instance_latin1", {"bad.toml": _instance().encode() + b"# caf\xe9\n"}, "solve bad.toml", 2, "byte 0xe9", "offset")
case("instance_binary", {"bad.toml": b"\x7fELF\x02\x01\x01\x00" + bytes(range(256))}, "solve bad.toml", 2, "NUL byte")
case("instance_is_dir", {"bad.toml/x": ""}, "solve bad.toml", 2, "is a directory")
case("instance_missing", {}, "solve absent.toml", 2, "no such instance file")
case("instance_bad_toml", {"bad.toml": "[device\ncpu_hz = 1"}, "solve bad.toml", 2, "invalid TOML")
case("csv_not_utf8", _csv_instance(CSV_OK.encode().replace(b"fc1", b"fc\xff1")), "solve bad.toml", 2, "net.csv", "0xff")
case("csv_binary", _csv_instance(b"PK\x03\x04\x00\x00" + bytes(100)), "solve bad.toml", 2, "net.csv", "NUL byte")
case(
    "csv_int64_overflow",
    _csv_instance(CSV_OK.replace("1000,50", "9223372036854775808,50")),
    "solve bad.toml",
    2,
    "row 2 (fc1) macs",
    "int64",
)
case("csv_1e400", _csv_instance(CSV_OK.replace("1000,50", "1e400,50")), "solve bad.toml", 2, "row 2 (fc1) macs")
case("csv_huge_float", _csv_instance(CSV_OK.replace(",1000\n", ",1e30\n")), "solve bad.toml", 2, "params", "int64")
case("csv_negative", _csv_instance(CSV_OK.replace("500,10", "-1,10")), "solve bad.toml", 2, "macs = -1", ">= 0")
case("csv_fraction", _csv_instance(CSV_OK.replace("50,1000", "1.5,1000")), "solve bad.toml", 2, "out_elems = 1.5")
case("profile_cmd_not_utf8", {"net.csv": b"name,macs\xfe"}, "profile ./net.csv", 2, "0xfe", "offset 9")

# ---- flags: ranges and combinations that have no effect
OK = {"ok.toml": _instance()}
case("seed_negative", OK, "simulate ok.toml --seed -1", 2, "--seed", ">= 0")
case("tasks_zero", OK, "simulate ok.toml --tasks 0", 2, "--tasks", ">= 2")
case("tasks_one", OK, "compare ok.toml --tasks 1", 2, "--tasks", ">= 2")
case("thresholds_alone", OK, "simulate ok.toml --thresholds continuous", 2, "--thresholds", "needs --continuous")
case("thresholds_bogus", OK, "simulate ok.toml --continuous --thresholds maybe", 2, "--thresholds", "invalid choice")
case("rtol_negative", OK, "verify ok.toml --rtol -1", 2, "--rtol", "> 0")
case("rtol_zero", OK, "verify ok.toml --rtol 0", 2, "--rtol", "> 0")
case("rtol_nan", OK, "verify ok.toml --rtol nan", 2, "--rtol")
case("time_limit_zero", OK, "verify ok.toml --time-limit 0", 2, "--time-limit", "> 0")
case("threads_zero", OK, "solve ok.toml --method mip --threads 0", 2, "--threads", ">= 1")
case("mip_gap_negative", OK, "solve ok.toml --method mip --mip-gap -1", 2, "--mip-gap", "[0, 1)")
case("mip_option_without_mip", OK, "solve ok.toml --time-limit 5", 2, "--time-limit", "--method mip")
case("compare_json_and_markdown", OK, "compare ok.toml --json --markdown", 2, "--json and --markdown")
case("compare_force_alone", OK, "compare ok.toml --force", 2, "--force", "needs --markdown FILE")
case("compare_seed_negative", OK, "compare ok.toml --seed -5", 2, "--seed")
case("figures_points_one", OK, "figures ok.toml --out figs --points 1", 2, "--points", ">= 2")
case("figures_tasks_one", OK, "figures ok.toml --out figs --tasks 1", 2, "--tasks")
case("max_memory_zero", OK, "solve ok.toml --max-memory 0", 2, "--max-memory", "size > 0")
case("max_memory_words", OK, "solve ok.toml --max-memory lots", 2, "--max-memory", "2GiB")
case("max_memory_unit", OK, "solve ok.toml --max-memory 3parsecs", 2, "--max-memory")

# ---- sizes checked before allocation
BIG = {"big.toml": _instance(channel__states=1_000_000)}
case("solve_too_big", BIG, "solve big.toml --max-memory 1MB", 2, "needs about", "limit 977 KiB", "--max-memory")
case("simulate_too_big", OK, "simulate ok.toml --tasks 100000000 --max-memory 1GiB", 2, "needs about", "--tasks")
case("verify_too_big", BIG, "verify big.toml --max-memory 1GiB", 2, "coopt verify", "needs about")
case("compare_too_big", BIG, "compare big.toml --max-memory 300MB", 2, "coopt compare", "needs about")

# ---- outputs: checked before any work, never silently overwritten
case("markdown_missing_dir", OK, "compare ok.toml --markdown nodir/out.md", 2, "'nodir' does not exist")
case("markdown_existing", {**OK, "out.md": "keep"}, "compare ok.toml --markdown out.md", 2, "already exists", "--force")
case("markdown_onto_dir", {**OK, "out.md/x": ""}, "compare ok.toml --markdown out.md", 2, "is a directory")
case("markdown_under_file", {**OK, "afile": ""}, "compare ok.toml --markdown afile/out.md", 2, "not a directory")
case("figures_out_is_file", {**OK, "figs": "a file"}, "figures ok.toml --out figs", 2, "not a directory")
case("figures_existing", {**OK, "figs/phi.png": "old"}, "figures ok.toml --out figs", 2, "phi.png already exists")
case("derive_under_file", {"afile": ""}, "derive --out afile/tex", 2, "'afile' is not a directory")
case(
    "derive_existing", {"tex/thresholds.tex": "old"}, "derive thresholds --out tex", 2, "thresholds.tex already exists"
)
case("derive_unknown_name", {}, "derive nonsense --out tex", 2, "unknown derivation 'nonsense'")
case("derive_names_and_instance", OK, "derive mlp --instance ok.toml --out tex", 2, "not both")
case(
    "derive_instance_latin1",
    {"bad.toml": b"[network]\nprofile = '\xe9'\n"},
    "derive --instance bad.toml --out t",
    2,
    "0xe9",
)
case(
    "derive_fragment_latin1",
    {"bad.toml": b"[network]\nprofile = '\xe9'\n"},
    "derive --instance bad.toml --fragment --out t",
    2,
    "0xe9",
)
case(
    "derive_fragment_macros_exist",
    {"tex/coopt-macros.tex": "old"},
    "derive thresholds --fragment --out tex",
    2,
    "coopt-macros.tex already exists",
)
case("profile_csv_missing_dir", {}, "profile lenet5 --csv nodir/x.csv", 2, "--csv", "does not exist")
case("profile_csv_existing", {"x.csv": "keep"}, "profile lenet5 --csv x.csv", 2, "already exists")
case("profile_force_alone", {}, "profile lenet5 --force", 2, "--force", "needs --csv")
case("profile_list_feature_bits", {}, "profile --list --feature-bits 8", 2, "--list")
case("profile_csv_feature_bits", {}, "profile lenet5 --csv x.csv --feature-bits 8", 2, "--feature-bits", "--csv")
case("profile_feature_bits_zero", {}, "profile lenet5 --feature-bits 0", 2, "--feature-bits = 0")
case("profile_mlp_int64", {}, "profile mlp --depth 2 --width 4000000000 --input 4000000000 --classes 2", 2, "int64")

# ---- issue 22: ONNX-free hostile cases of items 3 and 4, and what a new user tried
case(
    "profile_is_dir",
    {"bad.toml": _instance(network__profile="nets/"), "nets/x": ""},
    "solve bad.toml",
    2,
    "is a directory",
)
case("instance_empty", {"bad.toml": ""}, "solve bad.toml", 2, "missing required key")
case("weight_wrong_type", {"bad.toml": _instance(cost__energy_weight="abc")}, "solve bad.toml", 2, "must be a number")
case("trace_empty", {"t.csv": ""}, "channel fit t.csv --states 2", 2, "empty trace")
case("trace_is_dir", {"t.csv/x": ""}, "channel fit t.csv --states 2", 2, "is a directory")
case("trace_nan", {"t.csv": "gain\n1e-9\nNaN\n2e-9\n"}, "channel fit t.csv --states 1", 2, "sample 2 = nan")
case("trace_huge", {"t.csv": "gain\n1e-9\n1e300\n2e-9\n"}, "channel fit t.csv --states 1", 2, "in [1e-30, 1e+06]")
case("trace_states_zero", {"t.csv": "gain\n1e-9\n2e-9\n3e-9\n"}, "channel fit t.csv --states 0", 2, "--states = 0")
case("trace_states_word", {"t.csv": "gain\n1e-9\n"}, "channel fit t.csv --states many", 2, "--states")

# The cases that also run through the installed console script (one per kind of problem).
SUBPROCESS = (
    "energy_weight_1e308",
    "csv_not_utf8",
    "csv_int64_overflow",
    "seed_negative",
    "thresholds_alone",
    "rtol_negative",
    "solve_too_big",
    "markdown_missing_dir",
    "figures_out_is_file",
    "derive_under_file",
    "trace_nan",
)


def _snapshot(root: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(root.rglob("*"))}


def _setup(root: Path, files: dict[str, bytes | str]) -> None:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")


def _in_process(argv: list[str], capsys) -> tuple[int, str, str]:
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse: usage errors
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def _console_script() -> list[str]:
    script = Path(sys.executable).parent / "coopt"
    return [str(script)] if script.exists() else [sys.executable, "-m", "coopt"]


def _subprocess(argv: list[str], cwd: Path) -> tuple[int, str, str]:
    env = {k: v for k, v in os.environ.items() if k != "COOPT_DEBUG"}
    proc = subprocess.run(_console_script() + argv, cwd=cwd, capture_output=True, text=True, env=env, timeout=120)
    return proc.returncode, proc.stdout, proc.stderr


def _check(name: str, run: Callable[[list[str], Path], tuple[int, str, str]], tmp_path: Path) -> None:
    files, argv, code, fragments = CASES[name]
    _setup(tmp_path, files)
    before = _snapshot(tmp_path)
    got, out, err = run(argv, tmp_path)
    assert got == code, (name, got, err)
    assert err.count("\n") == 1 and err.endswith("\n"), err
    assert "Traceback" not in err and "Warning" not in err
    assert err.startswith("coopt")
    for fragment in fragments:
        assert fragment in err, (fragment, err)
    assert out == ""
    assert _snapshot(tmp_path) == before, "a bad input wrote or changed a file"


def test_at_least_sixty_cases_cover_every_subcommand():
    assert len(CASES) >= 60
    commands = {argv[0] for _, argv, _, _ in CASES.values()}
    assert commands == {"solve", "simulate", "compare", "figures", "verify", "derive", "profile", "channel"}
    assert set(SUBPROCESS) <= set(CASES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_input_in_process(name, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("COOPT_DEBUG", raising=False)
    _check(name, lambda argv, cwd: _in_process(argv, capsys), tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("name", SUBPROCESS)
def test_bad_input_console_script(name, tmp_path):
    _check(name, _subprocess, tmp_path)


# ------------------------------------------------------------------ accepted input


def test_bom_is_accepted(tmp_path, capsys):
    """A UTF-8 byte-order mark at the start of the instance and of the profile CSV."""
    bom = b"\xef\xbb\xbf"
    (tmp_path / "net.csv").write_bytes(bom + CSV_OK.encode())
    path = tmp_path / "inst.toml"
    path.write_bytes(bom + _instance(network__profile="net.csv").encode())
    (tmp_path / "plain.csv").write_text(CSV_OK)
    plain = tmp_path / "plain.toml"
    plain.write_text(_instance(network__profile="plain.csv"))
    code, out, err = _in_process(["solve", str(path), "--json"], capsys)
    assert code == 0 and err == ""
    reference = _in_process(["solve", str(plain), "--json"], capsys)[1]
    assert json.loads(out)["objective"] == json.loads(reference)["objective"]
    code, out, _ = _in_process(["profile", str(tmp_path / "net.csv")], capsys)
    assert code == 0 and "fc1" in out and "name" not in out.splitlines()[0]


def test_force_overwrites_atomically(tmp_path, capsys):
    target = tmp_path / "x.csv"
    target.write_text("old")
    assert _in_process(["profile", "lenet5", "--csv", str(target), "--force"], capsys)[0] == 0
    assert "name,macs,out_elems,params" in target.read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.csv"]  # no temporary file left behind
    assert oct(target.stat().st_mode & 0o777) != oct(0o600)  # the usual mode, not mkstemp's


def test_derive_examples_do_not_collide(tmp_path, capsys):
    """README: `derive thresholds mlp --out tex` then `derive --instance data/mlp.toml --out tex`."""
    tex = tmp_path / "tex"
    code, _, err = _in_process(["derive", "thresholds", "mlp", "--out", str(tex)], capsys)
    assert code == 0, err
    code, _, err = _in_process(
        ["derive", "--instance", str(Path("data/mlp.toml").resolve()), "--out", str(tex)], capsys
    )
    assert code == 0, err
    assert sorted(p.name for p in tex.iterdir()) == ["mlp-numbers.tex", "mlp.tex", "thresholds.tex"]


# ------------------------------------------------------------------ internal errors


def _boom(*args, **kwargs):
    raise ZeroDivisionError("an injected bug")


def test_internal_error_is_exit_3_and_one_line(monkeypatch, capsys, tmp_path):
    monkeypatch.delenv("COOPT_DEBUG", raising=False)
    monkeypatch.setattr("coopt.report.text.solve_report", _boom)
    (tmp_path / "ok.toml").write_text(_instance())
    code, out, err = _in_process(["solve", str(tmp_path / "ok.toml")], capsys)
    assert code == 3 and out == ""
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "internal error (ZeroDivisionError: an injected bug)" in err
    assert "bug" in err and "--debug" in err and "COOPT_DEBUG=1" in err


@pytest.mark.parametrize("how", ["flag", "flag-after", "env"])
def test_debug_prints_the_traceback(how, monkeypatch, capsys, tmp_path):
    monkeypatch.setattr("coopt.report.text.solve_report", _boom)
    (tmp_path / "ok.toml").write_text(_instance())
    argv = ["solve", str(tmp_path / "ok.toml")]
    if how == "env":
        monkeypatch.setenv("COOPT_DEBUG", "1")
    else:
        monkeypatch.delenv("COOPT_DEBUG", raising=False)
        argv = ["--debug", *argv] if how == "flag" else [*argv, "--debug"]
    code, _, err = _in_process(argv, capsys)
    assert code == 3
    assert "Traceback (most recent call last)" in err and "_boom" in err
    assert err.rstrip().splitlines()[-1].startswith("coopt: internal error")


def test_internal_error_through_the_console_script(tmp_path):
    """The real interpreter: a bug is exit 3 and one line, no traceback."""
    (tmp_path / "ok.toml").write_text(_instance())
    code = (
        "import sys, coopt.report.text as t\n"
        "def boom(*a): raise ZeroDivisionError('an injected bug')\n"
        "t.solve_report = boom\n"
        "from coopt.cli.main import main\n"
        "sys.exit(main(['solve', 'ok.toml']))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "COOPT_DEBUG"}
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, env=env)
    assert proc.returncode == 3 and proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr


def test_overflow_inside_a_solver_is_bad_input_naming_a_key(monkeypatch, capsys, tmp_path):
    """A floating-point overflow that escapes the input ranges is exit 2, naming the
    instance value nearest to an end of its range (here the 1e12 energy weight)."""
    import numpy as np

    def overflow(*args, **kwargs):
        return np.float64(1e308) * np.float64(10.0)

    monkeypatch.setattr("coopt.api.solve_enumeration", overflow)
    (tmp_path / "ok.toml").write_text(_instance(cost__energy_weight=1e12))
    code, out, err = _in_process(["solve", str(tmp_path / "ok.toml")], capsys)
    assert code == 2 and out == "" and err.count("\n") == 1
    assert "arithmetic error (overflow" in err and "cost.energy_weight = 1e+12" in err


def test_non_finite_json_is_refused(monkeypatch, capsys, tmp_path):
    """The last line of defence: NaN in a result is an internal error naming the key,
    never a bare NaN in the output."""
    from coopt.dp.results import SolveResult

    real = SolveResult.to_dict

    def with_nan(self):
        out = real(self)
        out["breakdown"]["local"] = float("nan")
        return out

    monkeypatch.setattr(SolveResult, "to_dict", with_nan)
    (tmp_path / "ok.toml").write_text(_instance())
    code, out, err = _in_process(["solve", str(tmp_path / "ok.toml"), "--json"], capsys)
    assert code == 3 and out == "" and "breakdown.local = nan" in err


# ------------------------------------------------------------------ memory estimate


def test_max_memory_sizes():
    assert limits.parse_size("2GiB") == 2 * 2**30
    assert limits.parse_size("500MB") == 500 * 10**6
    assert limits.parse_size("1e9") == 10**9
    assert limits.parse_size("1.5 KiB") == 1536
    assert 0 < limits.default_limit() < limits.machine_memory()
    with open("/proc/meminfo", encoding="ascii") as fh:
        total_kib = int(next(line for line in fh if line.startswith("MemTotal:")).split()[1])
    assert abs(limits.machine_memory() - 1024 * total_kib) < 0.01 * 1024 * total_kib


def test_memory_refusal_names_estimate_and_limit(tmp_path, capsys):
    (tmp_path / "ok.toml").write_text(_instance())
    code, _, err = _in_process(["solve", str(tmp_path / "ok.toml"), "--max-memory", "1KiB"], capsys)
    assert code == 2 and "needs about" in err and "limit 1 KiB (--max-memory)" in err
    code, _, _ = _in_process(["solve", str(tmp_path / "ok.toml"), "--max-memory", "2GiB"], capsys)
    assert code == 0


# ------------------------------------------------------------------ documented ranges


def _g(x: float) -> str:
    """1e15, 1e-3, 0.5, 1024: how the tables write a bound."""
    if math.isinf(x):
        return "inf"
    exponent = math.log10(x) if x > 0 else 0.0
    return f"1e{round(exponent)}" if abs(exponent) >= 3 and exponent == round(exponent) else f"{x:g}"


def test_ranges_are_documented_in_readme_and_docstring():
    """README's table and instance.py's docstring state RANGES exactly."""
    import coopt.model.instance as instance_module

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    doc = instance_module.__doc__ or ""
    for key, (low, high, _) in RANGES.items():
        lo, hi = _g(low), _g(high)
        hi = "1000000" if key == "channel.states" else hi
        row = next(line for line in doc.splitlines() if line.startswith(f"``{key}``") and " .. " in line)
        assert f"{lo} .. {hi}" in row, (key, row)
        if key != "placement.memory_bits":
            line = next(line for line in readme.splitlines() if f"`{key}`" in line and " .. " in line)
            assert f"{lo} .. {hi}" in line, (key, line)


@pytest.mark.parametrize("law, n_layers", [("rayleigh", 300), ("markov", 40)])
def test_memory_estimate_bounds_the_measured_peak(law, n_layers, tmp_path):
    """estimate_bytes (less the interpreter's share) is at least tracemalloc's peak of
    the solve, and not wildly above it: the quadratic terms are the real ones."""

    from coopt.model.instance import parse_instance
    from coopt.model.profiles import mlp_profile

    (tmp_path / "net.csv").write_text(mlp_profile(n_layers - 1, 16, 16, 2).to_csv())
    changes = {"network__profile": "net.csv", "channel__states": 8}
    if law == "markov":
        gains = [1e-11, 5e-11, 1e-10, 2e-10]
        rows = [[0.7 if i == j else 0.1 for j in range(4)] for i in range(4)]
        changes = {"network__profile": "net.csv", "channel__law": "markov", "channel__gains": gains}
        changes["channel__transition"] = rows
    peak, estimate = _traced_peak_and_estimate(parse_instance(make_doc(**changes), base_dir=tmp_path))
    assert peak <= estimate <= 20 * peak, (peak, estimate)


def _traced_peak_and_estimate(instance) -> tuple[int, int]:
    """tracemalloc's peak of ``solve(instance)`` and ``estimate_bytes`` less the interpreter's
    share. A first, untraced solve imports what the solve needs (imports are not the solve's
    memory); the transition-matrix cache is then emptied, so a correlated channel's matrices
    are built inside the traced one."""
    import tracemalloc

    from coopt.api import solve
    from coopt.model import fading

    solve(instance)
    fading._transition.cache_clear()
    tracemalloc.start()
    try:
        solve(instance)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return peak, limits.estimate_bytes("solve --method enumeration", instance) - limits.BASE_BYTES


# ------------------------------------------------------------------ JSON carries its units


def _resolves(obj, parts: list[str]) -> bool:
    if not parts:
        return True
    if isinstance(obj, list):
        return bool(obj) and all(_resolves(x, parts) for x in obj)
    if not isinstance(obj, dict):
        return False
    head, rest = parts[0], parts[1:]
    if head == "*":
        return all(_resolves(v, rest) for v in obj.values() if v is not None)
    return head in obj and (obj[head] is None or _resolves(obj[head], rest))


@pytest.mark.parametrize(
    "argv",
    [["solve"], ["solve", "--method", "mip"], ["simulate", "--tasks", "50"], ["compare", "--tasks", "50"]],
    ids=lambda a: "-".join(a[:3]),
)
def test_json_carries_version_and_units(argv, tmp_path, capsys):
    from coopt.cli.output import version

    (tmp_path / "ok.toml").write_text(_instance())
    code, out, err = _in_process([argv[0], str(tmp_path / "ok.toml"), *argv[1:], "--json"], capsys)
    assert code == 0, err
    result = json.loads(out)
    for obj in result if isinstance(result, list) else [result]:
        assert obj["coopt_version"] == version() and version().count(".") >= 2
        for key in obj["units"]:
            assert key == "cost" or _resolves(obj, key.split(".")), key


def test_interrupt_is_one_line_and_130(monkeypatch, capsys, tmp_path):
    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("coopt.report.text.solve_report", interrupt)
    (tmp_path / "ok.toml").write_text(_instance())
    code, _, err = _in_process(["solve", str(tmp_path / "ok.toml")], capsys)
    assert code == 130 and err.count("\n") == 1 and "interrupted" in err


def test_report_units_and_markov_state_labels(capsys):
    """The text report gives the cost unit, and a Markov decision table is labelled with
    every state's gain, linear and in dB (10 log10 of the JSON's gains)."""
    path = str(ROOT / "data" / "markov.toml")
    code, text, _ = _in_process(["solve", path], capsys)
    assert code == 0 and "Phi(M*) =" in text and "cost per task" in text and "w_E x joules" in text
    gains = json.loads(_in_process(["solve", path, "--json"], capsys)[1])["channel_states"]["gains"]
    lines = text.splitlines()
    at = next(i for i, line in enumerate(lines) if line.strip().startswith("h ="))
    assert [float(x) for x in lines[at].split()[2:]] == pytest.approx(gains, rel=1e-3)
    db = [float(x) for x in lines[at + 1].replace("dB", "").split()[3:]]
    assert db == pytest.approx([10 * math.log10(g) for g in gains], abs=0.006)


def test_iid_memory_estimate_is_linear_in_the_layers(tmp_path):
    """The i.i.d. sweep keeps O(N) numbers (coopt.dp.fast): past the small-N matrices the
    estimate grows as N K, and 20,000 units with K = 256 fit in 600 MiB (measured peak RSS
    of `coopt solve --json` there: about 140 MB)."""
    from coopt.model.instance import parse_instance
    from coopt.model.profiles import mlp_profile

    def estimate(n_layers: int) -> int:
        (tmp_path / "net.csv").write_text(mlp_profile(n_layers - 1, 16, 16, 2).to_csv())
        changes = {"network__profile": "net.csv", "channel__states": 256}
        return limits.estimate_bytes("solve", parse_instance(make_doc(**changes), base_dir=tmp_path))

    small, large = estimate(10_000) - limits.BASE_BYTES, estimate(20_000) - limits.BASE_BYTES
    assert large == pytest.approx(2 * small, rel=1e-3)
    assert estimate(20_000) <= 600 * 2**20


def test_zero_weights_joint_condition_is_documented_and_enforced(tmp_path, capsys):
    """Issue 22 item 9: each weight 0 .. 1e12, not both 0; README, docs/model.md and the parser agree."""
    root = ROOT
    readme = (root / "README.md").read_text(encoding="utf-8")
    row = next(
        line for line in readme.splitlines() if "`cost.energy_weight`, `cost.time_weight`" in line and " .. " in line
    )
    assert "not both 0" in row and "at least one weight must be > 0" in row
    assert "at least one weight must\nbe > 0" in (root / "docs" / "model.md").read_text(encoding="utf-8")
    (tmp_path / "z.toml").write_text(_instance(cost__energy_weight=0.0, cost__time_weight=0.0))
    code, out, err = _in_process(["solve", str(tmp_path / "z.toml")], capsys)
    assert code == 2 and out == "" and "at least one weight must be > 0" in err
    for w in ({"cost__energy_weight": 0.0}, {"cost__time_weight": 0.0}):
        (tmp_path / "one.toml").write_text(_instance(**w))
        assert _in_process(["solve", str(tmp_path / "one.toml")], capsys)[0] == 0


def _clarke(tmp_path, states: int) -> Path:
    path = tmp_path / f"clarke{states}.toml"
    path.write_text(_instance(channel__states=states, channel__doppler_hz=50.0))
    return path


def test_correlated_channel_memory_counts_its_matrices(tmp_path):
    """A correlated channel's estimate holds 8 K^2 bytes per matrix: one per layer, the
    slot's, one per distinct lag (cached) and 4 of work space; the i.i.d. law at the same K
    holds none."""
    from coopt.model import fading
    from coopt.model.costs import cost_model
    from coopt.model.instance import load_instance

    k = 1024
    clarke = load_instance(_clarke(tmp_path, k))
    (tmp_path / "iid.toml").write_text(_instance(channel__states=k))
    iid = load_instance(tmp_path / "iid.toml")
    times = cost_model(clarke).layer_time_s
    lags = [float(t) for t in times[1:]] + [clarke.wait.slot_s]
    distinct = len({fading.decorrelation(clarke.channel, t) for t in lags})
    count = clarke.n_layers + 1 + distinct
    assert limits.transition_matrices(clarke) == count and limits.transition_matrices(iid) == 0
    markov_dp = 9 * k * (clarke.n_layers + 1) ** 2
    iid_dp = limits.IID_BYTES_PER_EPOCH * (clarke.n_layers + 1) + 16 * (clarke.n_layers + 1) ** 2
    extra = limits.estimate_bytes("solve", clarke) - limits.estimate_bytes("solve", iid)
    assert extra == 8 * k * k * (count + 4) + markov_dp - iid_dp


def test_huge_correlated_k_is_refused_before_any_work(tmp_path, capsys, monkeypatch):
    """K = 20,000 on a Clarke channel: ~60 GB of matrices, refused in one line naming K, the
    estimate and the limit, before a single matrix is computed."""
    from coopt.model import fading
    from coopt.model.instance import load_instance

    def no_work(*args, **kwargs):
        raise AssertionError("a transition matrix was computed")

    monkeypatch.setattr(fading, "_transition", no_work)
    code, out, err = _in_process(["solve", str(_clarke(tmp_path, 20_000)), "--max-memory", "4GiB"], capsys)
    assert code == 2 and out == "" and err.count("\n") == 1, err
    need = 8 * 20_000**2 * (limits.transition_matrices(load_instance(_clarke(tmp_path, 20_000))) + 4)
    assert "K = 20000 channel states" in err and "limit 4 GiB (--max-memory)" in err
    assert f"of which {limits._size(need)} for the correlated channel's" in err and "20000 x 20000 float64" in err
    # the default limit (half the RAM) refuses it too, and K = 64 passes under 4 GiB
    code, _, err = _in_process(["solve", str(_clarke(tmp_path, 20_000)), "--json"], capsys)
    assert code == 2 and "of this machine's RAM" in err
    monkeypatch.undo()
    code, out, _ = _in_process(["solve", str(_clarke(tmp_path, 64)), "--max-memory", "4GiB", "--json"], capsys)
    assert code == 0 and json.loads(out)["placement"] >= 0


def test_correlated_memory_estimate_bounds_the_measured_peak(tmp_path):
    """The estimate less the interpreter's share is at least tracemalloc's peak of a Clarke
    solve at K = 256 (matrices built from an empty cache), and within 20x of it."""

    from coopt.model.instance import load_instance

    peak, estimate = _traced_peak_and_estimate(load_instance(_clarke(tmp_path, 256)))
    assert peak <= estimate <= 20 * peak, (peak, estimate)
