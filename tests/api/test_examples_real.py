"""The real-network examples ``data/<profile>.toml``, one per shipped torchvision profile.

Each is a phone-class instance (device, Wi-Fi or 5G NR uplink, edge GPU) whose numbers and
sources are stated in the file's header. Checked here:

* it loads and solves, ``0 < M* < N``, and the joint optimum beats every baseline strictly;
* the header names the profile and states exactly the measured ``M*`` and baseline gaps
  (so a header cannot go stale when the model or the numbers change);
* independently of ``coopt.model.costs``: the device-only baseline equals the hand-computed cost
  of running every layer locally plus the amortised download of every parameter, and the
  edge-only baseline equals the best "upload on the j best states, else wait a slot" rule
  (with the Rayleigh states' conditional means recomputed in closed form).
"""

from __future__ import annotations

import csv
import functools
import itertools
import math
import tomllib

import pytest

from coopt import load_instance, solve
from tests.support.examples import assert_header_states_result, path_of
from tests.support.instances import MODELS
from tests.support.tolerances import RTOL_EXACT

REAL = ("alexnet", "vgg16", "resnet18", "resnet50", "mobilenet_v2", "vit_b_16")
STRICT = 1e-6  # a baseline must cost more than the optimum by this relative margin


@functools.cache
def solved(name: str):
    inst = load_instance(path_of(name))
    return inst, solve(inst)


def layers(name: str) -> list[dict[str, int]]:
    """Rows of the shipped profile CSV (input row first), read without coopt."""
    text = (MODELS / f"{name}.csv").read_text(encoding="utf-8")
    rows = csv.DictReader(ln for ln in text.splitlines() if ln.strip() and not ln.startswith("#"))
    return [{k: int(r[k]) for k in ("macs", "out_elems", "params")} for r in rows]


@pytest.mark.parametrize("name", REAL)
def test_example_is_non_trivial(name):
    inst, res = solved(name)
    assert inst.network.profile_spec == name
    assert 0 < res.placement < inst.n_layers
    for key, b in res.baselines.items():
        assert b is not None, key
        assert b.objective > res.objective * (1 + STRICT), key


@pytest.mark.parametrize("name", REAL)
def test_header_states_the_measured_result(name):
    inst, res = solved(name)
    text = assert_header_states_result(name, inst, res)
    assert f'profile "{name}"' in text


@pytest.mark.parametrize("name", REAL)
def test_device_only_by_hand(name):
    """Phi(N) = sum_i a_i + D(N) / K_tasks, from the TOML and the CSV alone."""
    doc = tomllib.loads(path_of(name).read_text(encoding="utf-8"))
    dev, net, cost, plc = doc["device"], doc["network"], doc["cost"], doc["placement"]
    f, c, w_e, w_t = dev["cpu_hz"], dev["cycles_per_mac"], cost["energy_weight"], cost["time_weight"]
    rows = layers(name)
    local = sum(w_e * dev["kappa"] * f**2 * c * r["macs"] + w_t * c * r["macs"] / f for r in rows)
    bits = sum(r["params"] for r in rows) * net["param_bits"]
    download = bits * (w_t / plc["downlink_bps"] + w_e * plc["rx_energy_per_bit"])
    _, res = solved(name)
    assert res.baselines["device_only"].objective == pytest.approx(
        local + download / plc["tasks_per_period"], rel=RTOL_EXACT
    )


def rayleigh_gains(mean: float, k: int) -> list[float]:
    """Conditional means of an exponential power gain over its K equiprobable quantile bins:
    K * integral_a^b h exp(-h/mean)/mean dh = K [(a + mean) e^(-a/mean) - (b + mean) e^(-b/mean)]."""
    edges = [-mean * math.log(1 - j / k) for j in range(k)] + [math.inf]

    def tail(x: float) -> float:
        return 0.0 if math.isinf(x) else (x + mean) * math.exp(-x / mean)

    return [k * (tail(a) - tail(b)) for a, b in itertools.pairwise(edges)]


@pytest.mark.parametrize("name", REAL)
def test_edge_only_by_hand(name):
    """Edge-only (M = 0 < N, waiting allowed at epoch 0 in every example) is a stationary
    stopping problem: stop on the j best of K equiprobable states, otherwise pay c_w and redraw,
    so Phi(0) = min_j [sum of the j smallest Y_0 + (K - j) c_w] / j, with Y_0(h) = T_0(h) + R_0."""
    doc = tomllib.loads(path_of(name).read_text(encoding="utf-8"))
    dev, up, edge, cost, ch = doc["device"], doc["uplink"], doc["edge"], doc["cost"], doc["channel"]
    assert doc["wait"]["mode"] in ("last", "any")
    w_e, w_t, tau = cost["energy_weight"], cost["time_weight"], doc["wait"]["slot_s"]
    rows = layers(name)
    _, res = solved(name)
    if ch["law"] == "rayleigh":
        gains = rayleigh_gains(ch["mean_gain"], ch["states"])
        assert list(res.channel.gains) == pytest.approx(gains, rel=1e-9)
    else:  # quantisation of the Nakagami and Rician laws is checked in the channel tests
        gains = list(res.channel.gains)
    d0 = rows[0]["out_elems"] * doc["network"]["feature_bits"]
    rho = dev["tx_power_w"] / up["noise_w"]
    r0 = w_t * edge["cycles_per_mac"] * sum(r["macs"] for r in rows) / edge["cpu_hz"]
    y0 = sorted(
        (w_e * dev["tx_power_w"] + w_t) * d0 / (up["bandwidth_hz"] * math.log2(1 + rho * g)) + r0 for g in gains
    )
    c_w = w_t * tau + w_e * dev["idle_power_w"] * tau
    k = len(y0)
    phi0 = min((sum(y0[:j]) + (k - j) * c_w) / j for j in range(1, k + 1))
    assert res.baselines["edge_only"].objective == pytest.approx(phi0, rel=RTOL_EXACT)
