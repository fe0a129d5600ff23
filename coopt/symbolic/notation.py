r"""The one table of the model's notation: symbols, meanings, units and instance keys.

Every symbol a document prints (:mod:`coopt.symbolic.derive` declares its SymPy symbols
from this table) and every quantity a figure puts on an axis (:func:`axis_label`,
:func:`value_label`) comes from :data:`NOTATION`, in the notation of docs/model.md
section 2 (``tests/symbolic/test_notation.py`` checks that docs/model.md writes each instance
key's symbol as this table does). Plain data: importing this module imports neither
SymPy nor matplotlib.

Each :class:`Quantity` has

* ``symbol``: LaTeX math (no ``$``), multi-letter subscripts upright
  (``K_{\mathrm{tasks}}``); matplotlib's mathtext reads it too;
* ``meaning``: text, with any mathematics in ``$...$`` (LaTeX text mode and mathtext);
* ``unit``: LaTeX math of the unit (``\mathrm{J\,s^{2}/cycle^{3}}``), ``""`` for a
  number without unit, ``"1"`` for a dimensionless ratio;
* ``axis_unit``: the unit as an axis label writes it in parentheses (``"dB"``,
  ``"Hz"``), ``""`` for none;
* ``key``: the instance key (``placement.tasks_per_period``) or results column it
  names, ``""`` for a derived symbol.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["NOTATION", "Quantity", "axis_label", "by_key", "by_name", "value_label"]


@dataclass(frozen=True)
class Quantity:
    """One row of :data:`NOTATION` (see the module docstring)."""

    name: str
    symbol: str
    meaning: str
    unit: str = ""
    axis_unit: str = ""
    key: str = ""


def _q(name: str, symbol: str, meaning: str, unit: str = "", axis_unit: str = "", key: str = "") -> Quantity:
    return Quantity(name, symbol, meaning, unit, axis_unit, key)


_U = r"\mathrm"
NOTATION: tuple[Quantity, ...] = (
    # indices
    _q("n", "n", "decision epoch (layers $1..n$ are done)"),
    _q("i", "i", "layer index"),
    _q("k", "k", "channel state, by increasing gain"),
    _q("j", "j", "summation index (stopping states; placements)"),
    _q("M", "M", "placement: layers $1..M$ are on the device", key="placement"),
    _q("N", "N", "number of layers"),
    _q("K", "K", "number of channel states", key="channel.states"),
    # weights, device, edge, link (docs/model.md section 2)
    _q("w_E", "w_{E}", "cost weight of one joule", rf"{_U}{{J}}^{{-1}}", "1/J", "cost.energy_weight"),
    _q("w_T", "w_{T}", "cost weight of one second", rf"{_U}{{s}}^{{-1}}", "1/s", "cost.time_weight"),
    _q(
        "kappa",
        r"\kappa",
        "effective switched capacitance",
        rf"{_U}{{J\,s^{{2}}/cycle^{{3}}}}",
        "J s²/cycle³",
        "device.kappa",
    ),
    _q("f_L", "f_{L}", "device clock", rf"{_U}{{Hz}}", "Hz", "device.cpu_hz"),
    _q("c_L", "c_{L}", "device cycles per MAC", rf"{_U}{{cycle}}", "cycle", "device.cycles_per_mac"),
    _q("f_E", "f_{E}", "edge clock", rf"{_U}{{Hz}}", "Hz", "edge.cpu_hz"),
    _q("c_E", "c_{E}", "edge cycles per MAC", rf"{_U}{{cycle}}", "cycle", "edge.cycles_per_mac"),
    _q("P", "P", "device transmit power", rf"{_U}{{W}}", "W", "device.tx_power_w"),
    _q("P_idle", r"P_{\mathrm{idle}}", "device power while waiting", rf"{_U}{{W}}", "W", "device.idle_power_w"),
    _q("B", "B", "uplink bandwidth", rf"{_U}{{Hz}}", "Hz", "uplink.bandwidth_hz"),
    _q("sigma2", r"\sigma^{2}", "noise power", rf"{_U}{{W}}", "W", "uplink.noise_w"),
    _q("rho", r"\rho", r"SNR factor $P / \sigma^{2}$", rf"{_U}{{W}}/{_U}{{W}}", ""),
    _q("tau", r"\tau", "length of one waiting slot", rf"{_U}{{s}}", "s", "wait.slot_s"),
    _q("c_w", "c_{w}", r"cost of one waiting slot, $(w_{E} P_{\mathrm{idle}} + w_{T}) \tau$", "1"),
    _q("K_tasks", r"K_{\mathrm{tasks}}", "inference tasks per period", "", "", "placement.tasks_per_period"),
    _q("r_DL", r"r_{\mathrm{DL}}", "downlink rate", rf"{_U}{{bit/s}}", "bit/s", "placement.downlink_bps"),
    _q(
        "e_rx",
        r"e_{\mathrm{rx}}",
        "device receive energy per bit",
        rf"{_U}{{J/bit}}",
        "J/bit",
        "placement.rx_energy_per_bit",
    ),
    _q("S_max", r"S_{\mathrm{max}}", "device memory for parameters", rf"{_U}{{bit}}", "bit", "placement.memory_bits"),
    _q("O_s", r"O_{\mathrm{s}}", "fixed latency per upload", rf"{_U}{{s}}", "s", "uplink.overhead_s"),
    _q("O_J", r"O_{\mathrm{J}}", "fixed device energy per upload", rf"{_U}{{J}}", "J", "uplink.overhead_j"),
    # channel
    _q("h", "h", "channel power gain seen at an epoch", "1"),
    _q("theta", r"\theta", "a gain threshold (unknown of a threshold equation)", "1"),
    _q("g", "g", r"gain of channel state $k$ ($g_{1} \le \dots \le g_{K}$)", "1"),
    _q("p", "p", r"probability of channel state $k$ (i.i.d. channel)", "1"),
    _q("eta", r"\eta", r"$E[1/r(h)]$, expected seconds per uploaded bit", rf"{_U}{{s/bit}}"),
    _q("h_mean", r"\bar{h}", "mean channel power gain", "1", "", "channel.mean_gain"),
    _q("snr_db", r"\rho\,E[h]", "mean SNR", r"\mathrm{dB}", "dB", "channel.mean_snr_db"),
    _q("f_D", "f_{D}", "Doppler frequency", rf"{_U}{{Hz}}", "Hz", "channel.doppler_hz"),
    _q("T_c", "T_{c}", "coherence time", rf"{_U}{{s}}", "s", "channel.coherence_s"),
    # layers and epochs
    _q("mu", r"\mathit{macs}", "multiply-accumulates of layer $i$", rf"{_U}{{MAC}}"),
    _q("a", "a", "local cost of layer $i$", "1"),
    _q("b", "b", "edge cost of layer $i$", "1"),
    _q("s", "s", "parameter bits of layer $i$", rf"{_U}{{bit}}"),
    _q("d_n", "d_{n}", "feature bits uploaded at epoch $n$", rf"{_U}{{bit}}"),
    _q("A_n", "A_{n}", r"local prefix cost $\sum_{i \le n} a_{i}$", "1"),
    _q("R_n", "R_{n}", r"edge suffix cost $\sum_{i > n} b_{i}$", "1"),
    _q("O_n", "O_{n}", r"per-upload overhead $w_{T} O_{\mathrm{s}} + w_{E} O_{\mathrm{J}}$ ($O_{N} = 0$)", "1"),
    _q("d_n1", "d_{n+1}", "feature bits uploaded at epoch $n+1$", rf"{_U}{{bit}}"),
    _q("A_n1", "A_{n+1}", "local prefix cost at epoch $n+1$", "1"),
    _q("R_n1", "R_{n+1}", "edge suffix cost at epoch $n+1$", "1"),
    _q("O_n1", "O_{n+1}", "per-upload overhead at epoch $n+1$", "1"),
    _q("G_n", "G_{n}", "best continuation value at epoch $n$ (optimal rule)", "1"),
    _q("C_n", "C_{n}", "expected value of computing one more layer", "1"),
    _q("W_n", r"\bar{W}_{n}", "waiting fixed point", "1"),
    _q("Lc_n", "L_{n}^{c}", "OSLA look-ahead: compute one layer, then stop", "1"),
    _q("Lw_n", "L_{n}^{w}", "OSLA look-ahead: wait one slot, then stop", "1"),
    _q("theta_n", r"\theta_{n}", "stopping threshold at epoch $n$", "1"),
    _q("m", "m", r"$\min(Y_{n}(g_{k}), C_{n})$, the value of not waiting in state $k$, sorted", "1"),
    _q("Y_n", "Y_{n}", "stop cost at epoch $n$ as a function of the gain", "1"),
    _q("V_n", "V_{n}", "optimal expected cost from epoch $n$", "1"),
    # results (columns of a sweep's table)
    _q("Phi", r"\Phi", "expected cost per task", "1", "", "objective"),
    _q("J", "J", "expected splitting cost per task", "1", "", "task_cost"),
    _q("D", "D", "download cost per period", "1", "", "download_cost"),
    _q("latency", "L", "expected latency per task", rf"{_U}{{s}}", "s", "breakdown.latency_s"),
    _q("energy", "E", "expected device energy per task", rf"{_U}{{J}}", "J", "breakdown.energy_j"),
    _q("gap", r"\Delta", "extra cost over the joint optimum", r"\%", "%", "gap_percent"),
    # one task's outcome and its law (coopt.dp.outcomes; the figures of coopt.report.task_figures)
    _q("ell", r"\ell", "latency of one task", rf"{_U}{{s}}", "s", "task.latency_s"),
    _q("epsilon", r"\epsilon", "device energy of one task", rf"{_U}{{J}}", "J", "task.energy_j"),
    _q("deadline", "d", "deadline", rf"{_U}{{s}}", "s", "task.deadline_s"),
    _q("miss", r"P(\ell > d)", "deadline miss probability", "1", "", "task.miss_probability"),
    _q("F_cdf", r"P(X \leq x)", "cumulative probability", "1", "", "task.cdf"),
    _q(
        "latency_amortised",
        r"L + T_{\mathrm{dl}}/K_{\mathrm{tasks}}",
        "expected latency",
        rf"{_U}{{s}}",
        "s",
        "tradeoff.latency_s",
    ),
    _q(
        "energy_amortised",
        r"E + E_{\mathrm{dl}}/K_{\mathrm{tasks}}",
        "expected device energy",
        rf"{_U}{{J}}",
        "J",
        "tradeoff.energy_j",
    ),
    # a fleet (docs/model.md section 11; keys are the fields of the fleet's JSON)
    _q("U", "U", "number of devices", "", "", "fleet.devices"),
    _q("F", "F", "weighted fleet cost per task", "1", "", "fleet.objective"),
    _q("omega", r"\omega_{u}", "weight of device $u$", "1", "", "devices.weight"),
    _q("x_u", "x_{u}", "share of the uplink band", "1", "", "devices.x"),
    _q("y_u", "y_{u}", "share of the edge clock", "1", "", "devices.y"),
    _q("Phi_u", r"\Phi_{u}", "device cost per task", "1", "", "devices.objective"),
    _q("M_u", r"M^{*}_{u}", "placement at its shares", "", "", "devices.placement"),
    _q("d_u", "d_{u}", "distance to the access point", rf"{_U}{{m}}", "m", "devices.distance_m"),
)
"""Every symbol and quantity, in the order of products (see :mod:`coopt.symbolic.printer`)."""

_BY_NAME = {q.name: q for q in NOTATION}
_BY_KEY = {q.key: q for q in NOTATION if q.key}
_SPECIAL_LABELS = {
    "placement": "placement $M$",
    "placement.rule": "splitting rule",
    "objective": r"expected cost per task $\Phi$",
}


def by_name(name: str) -> Quantity:
    """The row of the SymPy symbol ``name`` (``KeyError`` if none)."""
    return _BY_NAME[name]


def by_key(key: str) -> Quantity | None:
    """The row of an instance key or results column, ``None`` if the table has none."""
    return _BY_KEY.get(key)


def axis_label(key: str) -> str:
    """An axis label for ``key``: its meaning, symbol and unit (``"mean SNR $\\rho\\,E[h]$ (dB)"``);
    a key the table does not know is returned as it is."""
    if key in _SPECIAL_LABELS:
        return _SPECIAL_LABELS[key]
    q = by_key(key)
    if q is None:
        return key
    unit = f" ({q.axis_unit})" if q.axis_unit else ""
    return f"{q.meaning} ${q.symbol}${unit}"


def value_label(key: str, value: str | float) -> str:
    """``"$K_{\\mathrm{tasks}}$ = 10"``: a key at one value (a panel title, a legend entry)."""
    if key == "placement.rule":
        return {"optimal": "optimal rule", "osla": "OSLA rule"}.get(str(value), f"rule {value}")
    q = by_key(key)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    elif isinstance(value, str):
        try:
            as_float = float(value)
        except ValueError:
            pass
        else:
            value = int(as_float) if as_float.is_integer() else f"{as_float:g}"
    if q is None:
        return f"{key} = {value}"
    unit = f" {q.axis_unit}" if q.axis_unit else ""
    return f"${q.symbol}$ = {value}{unit}"
