r"""Paper-ready pieces of an instance document (``coopt derive --instance``, ``--fragment``).

* :func:`tex_number`: a number as a table cell writes it (math, 6 significant digits,
  ``4.56915 \times 10^{-11}``);
* the tables (booktabs): :func:`parameter_table` (every numeric instance key with its symbol,
  meaning and unit from :data:`coopt.symbolic.notation.NOTATION`), :func:`channel_table`
  (the quantised channel's states), :func:`epoch_table` (the
  inputs of :math:`\theta_n` at :math:`M^*`), :func:`threshold_table` (linear and dB),
  :func:`placement_table` (:math:`\Phi(M)`), :func:`cost_table` (the parts of
  :math:`\Phi(M^*)`) and :func:`baseline_table`. The result tables read the object of
  ``coopt solve --json`` (:meth:`coopt.dp.results.SolveResult.to_dict`), so each of their
  numbers is that number rounded to 6 significant digits (dB and percentages: 2 decimals);
* :func:`macro_file`: one ``\newcommand`` per notation entry (:func:`macro_name`), for
  documents that ``\input`` the fragments.

Every row of a table ends with a comment naming its source (``% device.cpu_hz``,
``% by_placement.2``), which ``tests/test_latex_tables.py`` reads to parse the numbers back.
Plain strings, no SymPy.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from coopt.model.instance import Instance, instance_keys
from coopt.symbolic.notation import NOTATION, Quantity, by_key, by_name

__all__ = [
    "MACRO_PREFIX",
    "PACKAGES",
    "baseline_table",
    "channel_table",
    "cost_table",
    "epoch_table",
    "label_stem",
    "macro_file",
    "macro_name",
    "parameter_table",
    "placement_table",
    "tex_number",
    "text",
    "threshold_table",
]

PACKAGES = ("amsmath", "amssymb", "booktabs", "tabularx")
"""The packages the tables and fragments need (the macro file loads them)."""

MACRO_PREFIX = "coopt"
"""Every macro of :func:`macro_file` is ``\\coopt<name>`` (no clash with a paper's own)."""

_DIGITS = ("Zero", "One", "Two", "Three", "Four", "Five", "Six", "Seven", "Eight", "Nine")

# Instance keys that notation.py has no row for (docs/model.md section 9 names them).
_EXTRA: dict[str, Quantity] = {
    "network.feature_bits": Quantity("b_f", "b_{f}", "bits per feature element", r"\mathrm{bit}"),
    "network.param_bits": Quantity("b_p", "b_{p}", "bits per parameter", r"\mathrm{bit}"),
    "device.compute_power_w": Quantity("P_comp", r"P_{\mathrm{comp}}", "device power while computing", r"\mathrm{W}"),
    "channel.m": Quantity("m_N", "m", "Nakagami shape", "1"),
    "channel.k_factor": Quantity("K_R", "K_{R}", "Rician K-factor", "1"),
}

_BASELINES = {
    "edge_only": "edge-only ($M = 0$)",
    "device_only": "device-only ($M = N$, never upload)",
    "static_split": "static split (one offline cut)",
    "full_placement": "full placement ($M = N$, online splitting)",
    "osla": "OSLA rule at its best placement",
}


# ----------------------------------------------------------------------------- numbers


def tex_number(x: float, digits: int = 6) -> str:
    r"""``x`` as math (no ``$``) to ``digits`` significant digits: ``0.0030674``,
    ``4.56915 \times 10^{-11}``, ``10^{-11}``, ``\infty``; no parentheses."""
    if math.isinf(x):
        return r"\infty" if x > 0 else r"-\infty"
    if x == 0:
        return "0"
    if 1e-3 <= abs(x) < 1e5:
        return f"{x:.{digits}g}"
    mant, exp = f"{x:.{digits - 1}e}".split("e")
    mant = mant.rstrip("0").rstrip(".")
    power = f"10^{{{int(exp)}}}"
    if mant in ("1", "-1"):
        return power if mant == "1" else "-" + power
    return f"{mant} \\times {power}"


def _cell(x: float | None) -> str:
    return "--" if x is None else f"${tex_number(float(x))}$"


def _count(x: float) -> str:
    r"""A whole number exactly, in groups of three digits (``$1\,204\,224$``); others as :func:`_cell`."""
    if not (math.isfinite(x) and x == int(x)):
        return _cell(x)
    return "$" + f"{int(x):,}".replace(",", "\\,") + "$"


def _percent(x: float | None) -> str:
    """A percentage to 2 decimals (``--`` for ``None``: no relative gap when the optimum costs 0)."""
    return "--" if x is None else f"${x:.2f}$"


def _db(x: float | None) -> str:
    """``10 log10 x`` to 2 decimals (``-\\infty`` at 0, ``+\\infty`` for ``None``/inf)."""
    if x is None or math.isinf(x):
        return r"$+\infty$"
    if x <= 0:
        return r"$-\infty$"
    return f"${10 * math.log10(x):.2f}$"


def text(s: str) -> str:
    """Plain text made safe for LaTeX (quotes ``"x"`` become ``\\texttt{x}``, ``--`` stays two hyphens)."""
    out = []
    for ch in s:
        if ch in "_#%&${}":
            out.append("\\" + ch)
        elif ch in "^~":
            out.append(rf"\{ch}{{}}")
        elif ch == "\\":
            out.append(r"\textbackslash{}")
        else:
            out.append(ch)
    out_text = "".join(out).replace("--", "-{}-")  # an option, not an en dash
    return re.sub(r'"([^"]*)"', r"\\texttt{\1}", out_text)


def label_stem(name: str) -> str:
    """``name`` reduced to the characters a ``\\label`` keeps safely (letters, digits, ``-``)."""
    return re.sub(r"[^A-Za-z0-9-]+", "-", name).strip("-") or "instance"


# ----------------------------------------------------------------------------- macros


def macro_name(name: str) -> str:
    r"""The macro of the notation entry ``name``: ``w_E`` -> ``\cooptwE``, ``sigma2`` ->
    ``\cooptsigmaTwo``, ``d_n1`` -> ``\cooptdnOne`` (letters only, as TeX requires)."""
    body = "".join(_DIGITS[int(ch)] if ch.isdigit() else ch for ch in name if ch.isalnum())
    return "\\" + MACRO_PREFIX + body


def macro_file() -> str:
    r"""The macro file: the packages the fragments need, then ``\newcommand{\cooptX}{...}``
    per :data:`~coopt.symbolic.notation.NOTATION` entry (``\ensuremath``, so text and math)."""
    lines = [
        "% Generated by `coopt derive --fragment`: do not edit, regenerate.",
        "% The symbols of docs/model.md (coopt/symbolic/notation.py), one macro each, and the packages",
        "% the fragments use. \\input this file in the preamble, before the fragments.",
    ]
    lines += [f"\\RequirePackage{{{p}}}" for p in PACKAGES]
    for q in NOTATION:
        unit = f"; unit ${q.unit}$" if q.unit not in ("", "1") else ""
        lines.append(f"\\newcommand{{{macro_name(q.name)}}}{{\\ensuremath{{{q.symbol}}}}} % {q.meaning}{unit}")
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------- tables


def _symbol(q: Quantity, macros: bool) -> str:
    """A symbol cell: the notation macro in a fragment (the extra keys have none)."""
    if macros and q.name in {x.name for x in NOTATION}:
        return macro_name(q.name)
    return q.symbol


def _unit(unit: str) -> str:
    return "--" if unit in ("", "1") else f"${unit}$"


def _table(
    label: str, caption: str, spec: str, head: Sequence[str], rows: Iterable[str], tabularx: bool = False
) -> str:
    env = "tabularx" if tabularx else "tabular"
    width = "{\\linewidth}" if tabularx else ""
    return (
        "\\begin{table}[htbp]\n\\centering\n\\setlength{\\tabcolsep}{4pt}\n"
        f"\\caption{{{caption}}}\\label{{tab:{label}}}\n"
        f"\\begin{{{env}}}{width}{{{spec}}}\n\\toprule\n"
        + " & ".join(head)
        + " \\\\\n\\midrule\n"
        + "\n".join(rows)
        + f"\n\\bottomrule\n\\end{{{env}}}\n\\end{{table}}\n"
    )


_UNUSED = {  # key: (the key that decides, the values under which it is used)
    "wait.slot_s": ("wait.mode", ("last", "any")),
    "channel.m": ("channel.law", ("nakagami",)),
    "channel.k_factor": ("channel.law", ("rician",)),
    "channel.mean_gain": ("channel.law", ("rayleigh", "nakagami", "rician")),
}


def instance_value(instance: Instance, key: str) -> Any:
    """The value of the dotted ``key`` in ``instance`` (``None`` if it has none)."""
    table, _, name = key.partition(".")
    return getattr(getattr(instance, table), name, None)


def parameter_values(instance: Instance, n_states: int) -> list[tuple[str, float]]:
    """``(key, value)`` of every numeric instance key the instance uses, schema order
    (``channel.states``: the number of states of the channel in force)."""
    out: list[tuple[str, float]] = []
    for key in instance_keys():
        value = instance_value(instance, key)
        if key == "channel.states":
            value = n_states
        if key in _UNUSED and instance_value(instance, _UNUSED[key][0]) not in _UNUSED[key][1]:
            continue  # a key the instance ignores (docs/model.md: an unused key is ignored)
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue
        out.append((key, float(value)))
    return out


def parameter_table(instance: Instance, n_states: int, label: str, macros: bool = False) -> str:
    """The parameters: symbol, meaning, value, unit of every numeric key in use."""
    rows = [
        f"${_symbol(by_name('N'), macros)}$ & number of layers (network \\texttt{{{text(instance.profile.name)}}}) & "
        f"${instance.n_layers}$ & -- \\\\ % network.layers"
    ]
    for key, value in parameter_values(instance, n_states):
        q = by_key(key) or _EXTRA.get(key) or Quantity(key, r"\text{--}", key)
        rows.append(f"${_symbol(q, macros)}$ & {q.meaning} & {_cell(value)} & {_unit(q.unit)} \\\\ % {key}")
    return _table(
        f"{label}-parameters",
        f"Parameters of the instance \\texttt{{{text(instance.name)}}}.",
        r"@{}l>{\raggedright\arraybackslash}Xrl@{}",
        ("Symbol", "Meaning", "Value", "Unit"),
        rows,
        tabularx=True,
    )


MAX_STATE_ROWS = 32
"""A channel of more states than this has no table of its states (it would not fit a page)."""


def channel_table(label: str, solved: Mapping[str, Any], rho: float, markov: bool, macros: bool = False) -> str:
    r"""The channel states of ``coopt solve --json`` (``channel_states``): gain :math:`g_k`
    linear and in dB, the SNR :math:`\rho g_k` in dB, and the probability of each state (i.i.d.)
    or of the initial state (Markov)."""
    g, p, rho_s = (_symbol(by_name(x), macros) for x in ("g", "p", "rho"))
    states = solved["channel_states"]
    rows = [
        f"{k + 1} & {_cell(gain)} & {_db(gain)} & {_db(rho * gain)} & {_cell(prob)} \\\\ % channel_states.{k}"
        for k, (gain, prob) in enumerate(zip(states["gains"], states["init"]))
    ]
    prob = "initial probability" if markov else "probability"
    return _table(
        f"{label}-channel",
        f"The channel states the model works on, by increasing power gain ${g}_{{k}}$ (linear and in dB), the "
        f"SNR ${rho_s} {g}_{{k}}$ in dB, and the {prob} of each state.",
        "@{}rrrrr@{}",
        (
            "$k$",
            f"${g}_{{k}}$",
            f"${g}_{{k}}$ (dB)",
            f"${rho_s} {g}_{{k}}$ (dB)",
            f"${p}_{{k}}$" if not markov else "$\\Pr[k]$ at $n = 0$",
        ),
        rows,
    )


def epoch_table(label: str, m_star: int, epochs: Sequence[Mapping[str, float]], macros: bool = False) -> str:
    r"""The inputs of :math:`\theta_n` at each epoch ``0..M*`` (``epochs[n]`` maps ``d_n``,
    ``A_n``, ``R_n``, ``O_n``, ``G_n`` to numbers); the ``O_n`` column only when one is not 0."""
    names = ["d_n", "A_n", "R_n"] + (["O_n"] if any(e["O_n"] != 0 for e in epochs) else []) + ["G_n"]
    head = ["$n$"] + [f"${_symbol(by_name(x), macros)}$" for x in names]
    rows = [
        f"{n} & {_count(e['d_n'])} & " + " & ".join(_cell(e[x]) for x in names[1:]) + f" \\\\ % epoch.{n}"
        for n, e in enumerate(epochs)
    ]
    return _table(
        f"{label}-epochs",
        f"The inputs of the threshold $\\theta_{{n}}$ at each epoch of $M^{{*}} = {m_star}$ "
        "($d_{n}$ in bit, exact; the costs are dimensionless).",
        "@{}r" + "r" * len(names) + "@{}",
        head,
        rows,
    )


def threshold_table(label: str, solved: Mapping[str, Any], rho: float, macros: bool = False) -> str:
    r"""The thresholds at :math:`M^*`: linear, :math:`10\log_{10}\theta_n` and the SNR
    :math:`10\log_{10}\rho\theta_n` in dB, and the probability that a task stops at epoch ``n``."""
    theta = _symbol(by_name("theta_n"), macros)
    rho_s = _symbol(by_name("rho"), macros)
    rows = []
    for n, t in enumerate(solved["thresholds"]):
        stop = solved["breakdown"]["stop_prob"][n]
        snr = None if t is None else rho * t
        rows.append(
            f"{n} & {_cell(math.inf if t is None else t)} & {_db(t)} & {_db(snr)} & {_cell(stop)} \\\\ % thresholds.{n}"
        )
    return _table(
        f"{label}-thresholds",
        f"Stopping thresholds at $M^{{*}} = {solved['placement']}$: at epoch $n$ the device uploads iff the "
        f"channel power gain $h \\ge {theta}$ (linear, and $10\\log_{{10}}{theta}$ in dB), i.e.\\ iff the SNR is at "
        f"least ${rho_s}{theta}$ (in dB); $\\Pr[\\text{{stop}}]$ is the probability that a task uploads at epoch $n$ "
        "(after layer $n$; $n = 0$: the raw input).",
        "@{}rrrrr@{}",
        (
            "$n$",
            f"${theta}$",
            f"${theta}$ (dB)",
            f"${rho_s}{theta}$ (dB)",
            "$\\Pr[\\text{stop}]$",
        ),
        rows,
    )


def placement_table(label: str, solved: Mapping[str, Any], layer_names: Sequence[str], macros: bool = False) -> str:
    r""":math:`\Phi(M)`, :math:`J(M)` and :math:`D(M)` of every feasible placement, :math:`M^*` marked."""
    phi, j, d, kt = (_symbol(by_name(x), macros) for x in ("Phi", "J", "D", "K_tasks"))
    rows = []
    for i, pv in enumerate(solved["by_placement"]):
        m = pv["placement"]
        mark = "$^{*}$" if m == solved["placement"] else ""
        rows.append(
            f"{m}{mark} & \\texttt{{{text(layer_names[m])}}} & {_cell(pv['objective'])} & {_cell(pv['task_cost'])} & "
            f"{_cell(pv['download_cost'])} \\\\ % by_placement.{i}"
        )
    return _table(
        f"{label}-placements",
        f"The objective of every feasible placement, ${phi}(M) = {j}(M) + {d}(M)/{kt}$ "
        f"(per task; ${d}$ per period), the optimum $M^{{*}} = {solved['placement']}$ marked $^{{*}}$.",
        "@{}rlrrr@{}",
        ("$M$", "last layer", f"${phi}(M)$", f"${j}(M)$", f"${d}(M)$"),
        rows,
    )


_COSTS = (
    ("objective", "Phi", "objective", "1"),
    ("task_cost", "J", "splitting cost", "1"),
    ("breakdown.download_amortised", "", "download", "1"),
    ("breakdown.local", "", "local computing", "1"),
    ("breakdown.upload", "", "upload", "1"),
    ("breakdown.edge", "", "edge computing", "1"),
    ("breakdown.waiting", "", "waiting", "1"),
    ("breakdown.latency_s", "latency", "latency", r"\mathrm{s}"),
    ("breakdown.energy_j", "energy", "device energy", r"\mathrm{J}"),
    ("breakdown.mean_wait_slots", "", "waiting slots", r"\mathrm{slot}"),
)


def _at(solved: Mapping[str, Any], path: str) -> Any:
    value: Any = solved
    for part in path.split("."):
        value = value[int(part)] if isinstance(value, list) else value[part]
    return value


def cost_table(label: str, solved: Mapping[str, Any], macros: bool = False) -> str:
    r"""The parts of :math:`\Phi(M^*)` (``breakdown``), its latency and device energy."""
    m = solved["placement"]
    rows = []
    for path, name, meaning, unit in _COSTS:
        sym = (
            f"${_symbol(by_name(name), macros)}(M^{{*}})$"
            if name in ("Phi", "J")
            else (f"${_symbol(by_name(name), macros)}$" if name else "--")
        )
        rows.append(f"{meaning} & {sym} & {_cell(_at(solved, path))} & {_unit(unit)} \\\\ % {path}")
    return _table(
        f"{label}-costs",
        f"The expected cost per task at $M^{{*}} = {m}$: the objective, its parts (local computing, upload, edge "
        "computing, waiting and the download amortised over the period add up to it), and the expected latency, "
        "device energy and waiting slots.",
        "@{}llrl@{}",
        ("Quantity", "Symbol", "Value", "Unit"),
        rows,
    )


def baseline_table(label: str, solved: Mapping[str, Any], macros: bool = False) -> str:
    r"""The baselines of docs/model.md section 6: placement, :math:`\Phi` and the extra cost."""
    phi = _symbol(by_name("Phi"), macros)
    rows = [f"joint optimum & ${solved['placement']}$ & {_cell(solved['objective'])} & $0.00$ \\\\ % optimum"]
    for name, b in solved["baselines"].items():
        policy = _BASELINES.get(name, text(name))
        if b is None:
            rows.append(f"{policy} & \\multicolumn{{3}}{{l}}{{infeasible}} \\\\ % baselines.{name}")
            continue
        rows.append(
            f"{policy} & ${b['placement']}$ & {_cell(b['objective'])} & {_percent(b['gap_percent'])} \\\\ % baselines.{name}"
        )
    return _table(
        f"{label}-baselines",
        f"The baselines against the joint optimum: their placement, objective ${phi}$ and extra cost "
        f"$100\\,({phi}_{{b}} - {phi}^{{*}})/{phi}^{{*}}$ in percent.",
        r"@{}>{\raggedright\arraybackslash}Xrrr@{}",
        ("Policy", "$M$", f"${phi}$", "extra (\\%)"),
        rows,
        tabularx=True,
    )
