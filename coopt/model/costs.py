r"""The cost model of docs/model.md section 2: numbers only, no decisions.

For layers :math:`i = 1..N` with ``macs_i``, ``out_i`` and ``params_i``:

* local cost :math:`a_i = w_E \kappa f_L^2 c_L\,\mathrm{macs}_i + w_T c_L\,\mathrm{macs}_i / f_L`
* edge cost :math:`b_i = w_T c_E\,\mathrm{macs}_i / f_E`
* prefix and suffix :math:`A_n = \sum_{i\le n} a_i`, :math:`R_n = \sum_{i>n} b_i`
* rate :math:`r(h) = B\log_2(1+\rho h)`, :math:`\rho = P/\sigma^2`
* upload cost :math:`T_n(h) = (w_E P + w_T)\,d_n / r(h)` for :math:`n<N`, :math:`T_N = 0`
* per-upload overhead (docs/model.md section 10.3) :math:`O_n = w_T o_s + w_E o_J` for
  :math:`n<N`, :math:`O_N = 0` (``uplink.overhead_s``, ``uplink.overhead_j``)
* stop cost :math:`Y_n(h) = A_n + T_n(h) + O_n + R_n`; its part that does not depend on
  :math:`h` is ``stop_base`` :math:`= A_n + R_n + O_n`
* wait cost of one slot :math:`c_w = (w_E P_{idle} + w_T)\tau`
* download cost :math:`D(M) = \sum_{i\le M} s_i (w_T/r_{DL} + w_E e_{rx})`

Measured layer costs (docs/model.md 10.1): where the profile has a ``device_s``,
``device_j``, ``edge_s`` or ``out_bits`` column, it replaces the device time
:math:`t_i = c_L\,\mathrm{macs}_i/f_L`, the device energy
:math:`e_i = \kappa f_L^2 c_L\,\mathrm{macs}_i` (or ``compute_power_w * device_s``
when only the time is measured), the edge time :math:`t^E_i = c_E\,\mathrm{macs}_i/f_E`
or the feature size :math:`d_n`; then :math:`a_i = w_E e_i + w_T t_i` and
:math:`b_i = w_T t^E_i`. This module is the one place that turns a profile into
costs, so every solver sees the measured values through :class:`CostModel`.

Every array here is indexed by the epoch ``n = 0..N`` (shape ``(N + 1,)``), so
``A[n]`` is :math:`A_n` and ``download[M]`` is :math:`D(M)`. The physical parts
(seconds and joules) are kept beside the weighted costs so that a policy's expected
latency and device energy can be reported and constrained.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from coopt.errors import InstanceError
from coopt.model.instance import Instance

LN2 = math.log(2.0)
# Every cost is w_E [1/J] times joules plus w_T [1/s] times seconds: a pure number.
COST_UNIT = "cost = w_E x joules + w_T x seconds, dimensionless: w_E in 1/J, w_T in 1/s"


@dataclass(frozen=True, eq=False)
class CostModel:
    r"""The derived costs of one instance (all arrays of shape ``(N + 1,)``).

    Attributes
    ----------
    A, R : local prefix cost :math:`A_n` and edge suffix cost :math:`R_n`.
    local_time_s, local_energy_j : the prefix's seconds and device joules.
    edge_time_s : the suffix's seconds.
    feature_bits : :math:`d_n`, with ``feature_bits[N]`` the (free) result.
    upload_coef : :math:`(w_E P + w_T) d_n`, zero at ``n = N``.
    overhead_time_s, overhead_energy_j : the fixed latency and device energy of one
        upload (``uplink.overhead_s``, ``uplink.overhead_j``), zero at ``n = N``.
    overhead : their cost :math:`O_n = w_T o_s + w_E o_J`, zero at ``n = N``.
    download : :math:`D(M)` per period.
    memory_bits : :math:`\sum_{i\le M} s_i`.
    rho, bandwidth_hz : SNR factor :math:`\rho = P/\sigma^2` and :math:`B`.
    tx_power_w, energy_weight, time_weight : :math:`P`, :math:`w_E`, :math:`w_T`.
    wait_cost : :math:`c_w` (``nan`` when ``wait.mode = "never"`` and no slot is given).
    slot_s, idle_power_w : :math:`\tau` and :math:`P_{idle}`.
    """

    A: NDArray[np.float64]
    R: NDArray[np.float64]
    local_time_s: NDArray[np.float64]
    local_energy_j: NDArray[np.float64]
    edge_time_s: NDArray[np.float64]
    feature_bits: NDArray[np.float64]
    upload_coef: NDArray[np.float64]
    overhead_time_s: NDArray[np.float64]
    overhead_energy_j: NDArray[np.float64]
    overhead: NDArray[np.float64]
    download: NDArray[np.float64]
    memory_bits: NDArray[np.float64]
    rho: float
    bandwidth_hz: float
    tx_power_w: float
    energy_weight: float
    time_weight: float
    wait_cost: float
    slot_s: float
    idle_power_w: float

    @property
    def n_layers(self) -> int:
        return int(self.A.shape[0]) - 1

    @property
    def stop_base(self) -> NDArray[np.float64]:
        """The gain-free part of the stop cost, :math:`A_n + R_n + O_n`, shape ``(N + 1,)``.

        Without overhead it is ``A + R`` to the last bit (adding zeros)."""
        return (self.A + self.R) + self.overhead

    @property
    def layer_time_s(self) -> NDArray[np.float64]:
        """The device's computing time of each layer :math:`t_n`, shape ``(N + 1,)``
        (``t_0 = 0``): the time from epoch ``n - 1`` to epoch ``n``."""
        return np.diff(self.local_time_s, prepend=0.0)

    def rate_bps(self, gains: NDArray[np.float64]) -> NDArray[np.float64]:
        """Uplink rate :math:`r(h) = B \\log_2(1 + \\rho h)` in bit/s."""
        return self.bandwidth_hz * np.log1p(self.rho * np.asarray(gains, dtype=np.float64)) / LN2

    @property
    def upload_bits(self) -> NDArray[np.float64]:
        """Bits uploaded when stopping at epoch ``n``: :math:`d_n`, and 0 at ``n = N``."""
        bits = self.feature_bits.copy()
        bits[-1] = 0.0
        return bits

    def upload_time_s(self, gains: NDArray[np.float64]) -> NDArray[np.float64]:
        """Seconds to upload at epoch ``n`` with each gain, the per-upload overhead included:
        shape ``(N + 1, K)``, zero at ``n = N``."""
        return self.overhead_time_s[:, None] + self.upload_bits[:, None] / self.rate_bps(gains)[None, :]

    def upload_energy_j(self, gains: NDArray[np.float64]) -> NDArray[np.float64]:
        """Device joules of uploading at epoch ``n`` with each gain (transmission plus the
        per-upload overhead): shape ``(N + 1, K)``, zero at ``n = N``."""
        tx = self.upload_bits[:, None] / self.rate_bps(gains)[None, :]
        return self.overhead_energy_j[:, None] + self.tx_power_w * tx

    def stop_cost(self, gains: NDArray[np.float64]) -> NDArray[np.float64]:
        """The table :math:`Y_n(g_k)`, shape ``(N + 1, K)``."""
        upload = self.upload_coef[:, None] / self.rate_bps(gains)[None, :]
        return self.stop_base[:, None] + upload


@dataclass(frozen=True, eq=False)
class LayerCosts:
    """Per-layer physical costs, shape ``(N + 1,)`` (entry 0 is the input, 0 for the first three).

    Attributes
    ----------
    device_s, device_j, edge_s : :math:`t_i`, :math:`e_i`, :math:`t^E_i` of layer ``i``.
    feature_bits : :math:`d_n`.
    """

    device_s: NDArray[np.float64]
    device_j: NDArray[np.float64]
    edge_s: NDArray[np.float64]
    feature_bits: NDArray[np.float64]


def _required(value: float | None) -> float:
    # load_instance has checked that every key a layer needs is present (_check_measured).
    if value is None:  # pragma: no cover - guarded by the instance parser
        raise ValueError("a device or edge key the profile needs is missing")
    return value


def layer_costs(instance: Instance) -> LayerCosts:
    """The per-layer seconds, joules and feature bits: measured where the profile says so
    (docs/model.md 10.1), else derived from ``macs`` and ``out_elems`` (section 2)."""
    prof, dev, edge = instance.profile, instance.device, instance.edge
    macs = prof.macs.astype(np.float64)
    if prof.device_s is not None:
        t_local = prof.device_s
    else:
        t_local = _required(dev.cycles_per_mac) * macs / _required(dev.cpu_hz)
    if prof.device_j is not None:
        e_local = prof.device_j
    elif prof.device_s is not None:
        e_local = _required(dev.compute_power_w) * prof.device_s
    else:
        f_l = _required(dev.cpu_hz)
        e_local = _required(dev.kappa) * f_l**2 * (_required(dev.cycles_per_mac) * macs)
    if prof.edge_s is not None:
        t_edge = prof.edge_s
    else:
        t_edge = _required(edge.cycles_per_mac) * macs / _required(edge.cpu_hz)
    if prof.out_bits is not None:
        d = prof.out_bits.astype(np.float64)
    else:
        d = prof.out_elems.astype(np.float64) * instance.network.feature_bits
    return LayerCosts(t_local, e_local, t_edge, d)


def cost_model(instance: Instance) -> CostModel:
    """Derive the :class:`CostModel` of an instance (docs/model.md sections 2 and 10.1)."""
    dev, cost = instance.device, instance.cost
    w_e, w_t = cost.energy_weight, cost.time_weight
    layers = layer_costs(instance)
    t_local, e_local, t_edge = layers.device_s, layers.device_j, layers.edge_s
    # R_n = sum_{i>n} b_i: a reversed cumulative sum, shifted so R_N = 0.
    edge_suffix_s = np.concatenate([np.cumsum(t_edge[::-1])[::-1][1:], [0.0]])
    local_time = np.cumsum(t_local)
    local_energy = np.cumsum(e_local)
    d = layers.feature_bits.copy()
    coef = (w_e * dev.tx_power_w + w_t) * d
    coef[-1] = 0.0
    s_bits = instance.profile.params.astype(np.float64) * instance.network.param_bits
    pl = instance.placement
    per_bit = w_t / pl.downlink_bps + w_e * pl.rx_energy_per_bit
    slot = instance.wait.slot_s if instance.wait.slot_s is not None else math.nan
    uploads = np.ones_like(coef)
    uploads[-1] = 0.0  # at n = N nothing is uploaded
    over_s = instance.uplink.overhead_s * uploads
    over_j = instance.uplink.overhead_j * uploads
    return CostModel(
        A=np.cumsum(w_e * e_local + w_t * t_local),
        R=w_t * edge_suffix_s,
        local_time_s=local_time,
        local_energy_j=local_energy,
        edge_time_s=edge_suffix_s,
        feature_bits=d,
        upload_coef=coef,
        overhead_time_s=over_s,
        overhead_energy_j=over_j,
        overhead=w_t * over_s + w_e * over_j,
        download=np.cumsum(s_bits * per_bit),
        memory_bits=np.cumsum(s_bits),
        rho=dev.tx_power_w / instance.uplink.noise_w,
        bandwidth_hz=instance.uplink.bandwidth_hz,
        tx_power_w=dev.tx_power_w,
        energy_weight=w_e,
        time_weight=w_t,
        wait_cost=(w_t + w_e * dev.idle_power_w) * slot,
        slot_s=slot,
        idle_power_w=dev.idle_power_w,
    )


# The keys each derived array grows with, for the message when it is not finite.
_CAUSES = {
    "A": (
        "local cost A_n",
        ("device.kappa", "device.cpu_hz", "device.cycles_per_mac", "cost.energy_weight", "cost.time_weight"),
    ),
    "R": ("edge cost R_n", ("edge.cycles_per_mac", "edge.cpu_hz", "cost.time_weight")),
    "upload_coef": (
        "upload cost (w_E P + w_T) d_n",
        ("device.tx_power_w", "cost.energy_weight", "cost.time_weight", "network.feature_bits"),
    ),
    "download": (
        "download cost D(M)",
        (
            "network.param_bits",
            "placement.downlink_bps",
            "placement.rx_energy_per_bit",
            "cost.energy_weight",
            "cost.time_weight",
        ),
    ),
    "rate": ("uplink rate r(h)", ("uplink.bandwidth_hz", "device.tx_power_w", "uplink.noise_w", "channel gains")),
    "Y": ("stop cost Y_n(h)", ("uplink.bandwidth_hz", "uplink.noise_w", "device.tx_power_w", "channel gains")),
    "wait_cost": ("slot cost c_w", ("wait.slot_s", "device.idle_power_w", "cost.energy_weight", "cost.time_weight")),
}


def check_finite(costs: CostModel, rates: NDArray[np.float64], Y: NDArray[np.float64], instance: Instance) -> None:
    """Raise :class:`InstanceError` when a derived cost is not finite (or a rate is 0),
    naming the quantity, where, and the instance keys it grows with.

    The input ranges of :mod:`coopt.model.instance` keep every quantity finite; this is
    the check where the numbers are produced, so that an overflow can never pass.
    """
    arrays = {
        "A": costs.A,
        "R": costs.R,
        "upload_coef": costs.upload_coef,
        "download": costs.download,
        "rate": np.where(rates > 0, rates, np.inf),
        "Y": Y,
        "wait_cost": np.array([costs.wait_cost if instance.wait.mode != "never" else 0.0]),
    }
    for name, values in arrays.items():
        bad = np.flatnonzero(~np.isfinite(values))
        if bad.size:
            what, keys = _CAUSES[name]
            shown = ", ".join(f"{k} = {_value_of(instance, k)}" for k in keys)
            problem = "is 0" if name == "rate" else "is not finite in float64"
            raise InstanceError(
                f"{what} {problem} (first at index {int(bad[0])}); it depends on {shown} and the profile: "
                "bring them into the ranges of README 'Instance files'"
            )


def _value_of(instance: Instance, key: str) -> str:
    if key == "channel gains":
        return str(instance.channel.gains or instance.channel.mean_gain)
    table, name = key.split(".")
    return f"{getattr(getattr(instance, table), name):g}"


def wait_allowed(mode: str, horizon: int, n_layers: int) -> NDArray[np.bool_]:
    """Epochs ``0..M`` at which waiting is allowed (docs/model.md section 4), shape ``(M + 1,)``.

    ``never``: nowhere; ``last``: only at ``n = M`` and only when ``M < N``;
    ``any``: at every ``n < N``.
    """
    allowed = np.zeros(horizon + 1, dtype=bool)
    if mode == "last" and horizon < n_layers:
        allowed[horizon] = True
    elif mode == "any":
        allowed[: min(horizon, n_layers - 1) + 1] = True
    return allowed


def feasible_placements(costs: CostModel, memory_bits: float) -> list[int]:
    """Placements :math:`M` with :math:`\\sum_{i\\le M} s_i \\le S_{max}` (always contains 0)."""
    return [m for m in range(costs.n_layers + 1) if costs.memory_bits[m] <= memory_bits]
