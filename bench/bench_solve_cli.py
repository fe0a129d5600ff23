"""Benchmark: wall time of the ``coopt solve`` command, interpreter start included.

    python bench/bench_solve_cli.py            # 7 runs per command
    python bench/bench_solve_cli.py --runs 15

Commands, each timed as a fresh process (median of ``--runs``), beside the baseline
``python -c pass`` measured in the same way:

* ``python -c "import coopt"``;
* ``coopt solve`` on every instance in ``data/`` (start-up: import to first output);
* ``coopt solve`` on a 50-layer chain, i.i.d. Rayleigh with K = 256 states, wait
  mode ``last``, every placement, rule ``optimal`` (which also solves OSLA for its
  baseline) and ``--rule osla``. Target: under 1 s including interpreter start.

Two environments: as inherited (this machine sets ``PYTHONDONTWRITEBYTECODE=1``, so
coopt's own modules are compiled from source at every start), and with a warm
bytecode cache (``PYTHONPYCACHEPREFIX`` pointing at a scratch directory, one warm-up
run), which is what an installed package has. Finally ``-X importtime`` of
``coopt solve`` lists the slowest imports and checks that Pyomo, SymPy and SciPy stay
out of the DP route.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET_START_S = 0.5
TARGET_CHAIN_S = 1.0

CHAIN_TOML = """\
# 50-layer chain, Rayleigh fading quantised to K = 256 states (bench_solve_cli).
[network]
profile = "chain50.csv"

[device]
cpu_hz = 1.5e9
cycles_per_mac = 1.0
kappa = 1e-28
tx_power_w = 0.2
idle_power_w = 0.01

[edge]
cpu_hz = 3e9
cycles_per_mac = 0.02

[uplink]
bandwidth_hz = 2e7
noise_w = 1e-13

[channel]
law = "rayleigh"
mean_gain = 5e-11
states = 256

[cost]
energy_weight = 1.0
time_weight = 1.5

[wait]
mode = "last"
slot_s = 0.005

[placement]
tasks_per_period = 2000
downlink_bps = 1e8
rx_energy_per_bit = 5e-9
"""


def chain_csv(n_layers: int = 50) -> str:
    """The chain of bench/bench_fast.py (seed 0) as a profile CSV (the same generator)."""
    import numpy as np

    rng = np.random.default_rng(0)
    rows = ["name,macs,out_elems,params", "input,0,12288,0"]
    out = 12288
    for i in range(1, n_layers + 1):
        depth = i / n_layers
        out = max(16, int(out * rng.uniform(0.8, 1.05))) if i < n_layers else 10
        macs = int(rng.uniform(2e5, 2e6))
        params = int(rng.uniform(5e2, 5e3) * (1 + 30 * depth**2))
        rows.append(f"layer{i},{macs},{out},{params}")
    return "\n".join(rows) + "\n"


def coopt_command() -> list[str]:
    """The ``coopt`` console script beside this interpreter (no shell shims), else ``-m``."""
    script = Path(sys.executable).with_name("coopt")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "coopt"]


def wall(cmd: list[str], env: dict[str, str], runs: int) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(cmd, env=env, cwd=ROOT, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def first_output(cmd: list[str], env: dict[str, str], runs: int) -> float:
    """Median time from process start to its first line on stdout."""
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        assert proc.stdout is not None
        proc.stdout.readline()
        times.append(time.perf_counter() - t0)
        proc.communicate()
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} exited with {proc.returncode}")
    return statistics.median(times)


def import_report(cmd: list[str], env: dict[str, str]) -> tuple[list[tuple[int, str]], list[str]]:
    """The slowest cumulative imports of ``cmd`` under ``-X importtime``, and any of
    pyomo / sympy / scipy that it imported."""
    python_cmd = [sys.executable, "-X", "importtime", "-m", "coopt"] + cmd[len(coopt_command()) :]
    proc = subprocess.run(python_cmd, env=env, cwd=ROOT, capture_output=True, text=True, check=True)
    rows = []
    for line in proc.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            _, cumulative, name = (part.strip() for part in line[len("import time:") :].split("|"))
            if cumulative.isdigit():
                rows.append((int(cumulative), name))
    heavy = sorted({name.split(".")[0] for _, name in rows if name.split(".")[0] in ("pyomo", "sympy", "scipy")})
    return sorted(rows, reverse=True)[:10], heavy


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=7)
    args = ap.parse_args(argv)
    coopt = coopt_command()
    inherited = dict(os.environ)
    cache_dir = tempfile.mkdtemp(prefix="coopt-pycache-")
    warm = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"} | {"PYTHONPYCACHEPREFIX": cache_dir}
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        chain = Path(tmp) / "chain50.toml"
        chain.write_text(CHAIN_TOML, encoding="utf-8")
        (Path(tmp) / "chain50.csv").write_text(chain_csv(), encoding="utf-8")
        examples = sorted((ROOT / "data").glob("*.toml"))
        commands = [
            ("python -c pass", [sys.executable, "-c", "pass"]),
            ("python -c 'import coopt'", [sys.executable, "-c", "import coopt"]),
        ]
        commands += [(f"coopt solve data/{p.name}", coopt + ["solve", str(p)]) for p in examples]
        commands += [
            ("coopt solve chain50 K=256 (optimal)", coopt + ["solve", str(chain)]),
            ("coopt solve chain50 K=256 --rule osla", coopt + ["solve", str(chain), "--rule", "osla"]),
        ]
        print(
            f"machine: {os.cpu_count()} cores (nproc); python {sys.version.split()[0]}; coopt command: {' '.join(coopt)}"
        )
        for label, env in (
            (
                "inherited environment"
                + (" (PYTHONDONTWRITEBYTECODE=1)" if inherited.get("PYTHONDONTWRITEBYTECODE") else ""),
                inherited,
            ),
            ("warm bytecode cache", warm),
        ):
            for _, cmd in commands:  # warm-up: page cache, and the bytecode cache where enabled
                subprocess.run(cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            print(f"\n{label}: median of {args.runs} runs")
            print(f"  {'command':<42} {'wall':>9} {'- baseline':>11} {'first line':>11}  target")
            base = wall(commands[0][1], env, args.runs)
            for name, cmd in commands:
                t = base if cmd is commands[0][1] else wall(cmd, env, args.runs)
                first = first_output(cmd, env, args.runs) if "solve" in name else None
                target = ""
                if "chain50" in name:
                    target = f"< {TARGET_CHAIN_S:g} s: {'met' if t < TARGET_CHAIN_S else 'MISSED'}"
                    ok &= t < TARGET_CHAIN_S
                elif name.startswith("coopt solve"):
                    target = f"< {TARGET_START_S:g} s: {'met' if first < TARGET_START_S else 'MISSED'}"
                    ok &= first is not None and first < TARGET_START_S
                first_s = f"{first:10.3f}s" if first is not None else f"{'':>11}"
                print(f"  {name:<42} {t:8.3f}s {t - base:10.3f}s {first_s}  {target}")
        slow, heavy = import_report(coopt + ["solve", str(chain)], warm)
        print("\nslowest imports of `coopt solve` (cumulative, warm cache):")
        for us, name in slow:
            print(f"  {us / 1e3:8.1f} ms  {name}")
        print(f"pyomo / sympy / scipy imported by `coopt solve` (Rayleigh): {', '.join(heavy) or 'none'}")
        ok &= not heavy
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
