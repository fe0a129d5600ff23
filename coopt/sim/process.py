r"""The continuous fading process behind a time-correlated channel (docs/model.md 10.4).

The chain of :mod:`coopt.model.fading` is exactly Markov for Gauss-Markov fading up to
quantisation and only approximately so for Clarke's model; simulating the process at
the actual decision times measures that approximation. Each simulated task gets an
independent realisation of the complex amplitude :math:`g(t)`, starting at
:math:`t = 0` at epoch 0 from the stationary law :math:`\mathcal{CN}(0, \bar h)`; the
time advances by the device's computing time of each computed layer and by
:math:`\tau` per waiting slot. The policy acts on the **bin** of the simulated gain
:math:`h = |g|^2` (the quantisation edges :math:`e_j = -\bar h \ln(1 - j/K)`), and the
cost of stopping is :math:`Y_n(g_k)` at the bin's gain (its conditional mean), as on the
chain. So the simulated mean differs from the chain's exact value only by the
non-Markov dependence of the bin process (the quantity docs/model.md 10.4 asks to measure);
the quantisation error is the i.i.d. continuous evaluation's business. (Costing at the
simulated :math:`h` itself would have an infinite mean whenever the policy uploads in
the lowest bin, since :math:`E[1/r(h)]` diverges there: a Monte Carlo mean of it would
not converge.)

* **Gauss-Markov** (``coherence_s``): the exact recursion
  :math:`g(t+\Delta) = r g(t) + \sqrt{1 - r^2}\, w`, :math:`r = e^{-\Delta/T_c}`,
  :math:`w \sim \mathcal{CN}(0, \bar h)` independent.
* **Clarke** (``doppler_hz``): the sum-of-sinusoids model of Zheng and Xiao (IEEE
  Trans. Commun. 51(6), 2003) with :math:`M` = ``ZX_SINUSOIDS`` sinusoids,

  .. math::

      g(t) = \sqrt{\bar h / M} \sum_{m=1}^{M} \big[\cos(\omega_d t \cos\alpha_m + \phi_m)
             + j \cos(\omega_d t \sin\alpha_m + \psi_m)\big],\quad
      \alpha_m = \frac{2\pi m - \pi + \theta_m}{4M},

  :math:`\omega_d = 2\pi f_D`, with :math:`\theta_m, \phi_m, \psi_m` independent and
  uniform on :math:`[-\pi, \pi)` per task. Since the :math:`\alpha_m` tile
  :math:`[0, \pi/2)`, the ensemble autocorrelation is exactly
  :math:`E[g(t) g^*(t+\tau)] = \bar h J_0(\omega_d \tau)` for every :math:`M`; the
  amplitude is Gaussian only as :math:`M \to \infty` (tested against :math:`J_0`).

Samplers follow the interface of :class:`coopt.sim.simulate.run_table`'s channel
sampler: ``begin`` (a batch's tasks at epoch 0), ``next`` (after the step from epoch
``n`` or a waiting slot), ``gains`` (the gains of the tasks at stopping).
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from coopt.model.fading import amplitude_correlation, decorrelation, interior_edges
from coopt.model.instance import ChannelSpec
from coopt.model.problem import Problem

ZX_SINUSOIDS = 16


class ZhengXiaoClarke:
    """Independent Clarke-fading amplitudes of ``size`` tasks (Zheng-Xiao sum of sinusoids)."""

    def __init__(
        self, rng: np.random.Generator, size: int, doppler_hz: float, mean_gain: float, sinusoids: int = ZX_SINUSOIDS
    ) -> None:
        m = int(sinusoids)
        theta, self.phi, self.psi = rng.uniform(-math.pi, math.pi, (3, size, m))
        alpha = (2.0 * math.pi * np.arange(1, m + 1) - math.pi + theta) / (4.0 * m)
        self.cos_a, self.sin_a = np.cos(alpha), np.sin(alpha)
        self.omega = 2.0 * math.pi * doppler_hz
        self.scale = math.sqrt(mean_gain / m)
        self.t = np.zeros(size)

    def amplitude(self, ids: NDArray[np.intp]) -> NDArray[np.complex128]:
        wt = self.omega * self.t[ids, None]
        re = np.cos(wt * self.cos_a[ids] + self.phi[ids]).sum(axis=1)
        im = np.cos(wt * self.sin_a[ids] + self.psi[ids]).sum(axis=1)
        return self.scale * (re + 1j * im)

    def advance(self, ids: NDArray[np.intp], dt: float, rng: np.random.Generator) -> None:
        self.t[ids] += dt


class GaussMarkov:
    """Independent Gauss-Markov amplitudes of ``size`` tasks (exact recursion)."""

    def __init__(self, rng: np.random.Generator, size: int, spec: ChannelSpec, mean_gain: float) -> None:
        self.spec = spec
        self.sd = math.sqrt(mean_gain / 2.0)
        self.g = self._noise(rng, size)

    def _noise(self, rng: np.random.Generator, size: int) -> NDArray[np.complex128]:
        z = rng.standard_normal((2, size))
        return self.sd * (z[0] + 1j * z[1])

    def amplitude(self, ids: NDArray[np.intp]) -> NDArray[np.complex128]:
        return self.g[ids]

    def advance(self, ids: NDArray[np.intp], dt: float, rng: np.random.Generator) -> None:
        if dt == 0.0:
            return
        r = amplitude_correlation(self.spec, dt)
        self.g[ids] = r * self.g[ids] + math.sqrt(decorrelation(self.spec, dt)) * self._noise(rng, ids.shape[0])


def process_name(problem: Problem) -> str:
    """How the process is simulated, for reports."""
    spec = problem.instance.channel
    if spec.doppler_hz is not None:
        return f"Clarke process, f_D = {spec.doppler_hz:g} Hz (Zheng-Xiao sum of {ZX_SINUSOIDS} sinusoids)"
    return f"Gauss-Markov process, T_c = {spec.coherence_s:g} s (exact recursion)"


class ProcessSampler:
    """The channel sampler of :func:`coopt.sim.simulate.run_table` on the continuous process."""

    markov = True

    def __init__(self, problem: Problem) -> None:
        spec = problem.instance.channel
        self.spec = spec
        self.mean = float(spec.mean_gain)  # type: ignore[arg-type]
        self.edges = self.mean * interior_edges(problem.channel.n_states)
        self.state_gains = problem.channel.gains
        self.layer_time_s = problem.costs.layer_time_s
        self.slot_s = problem.costs.slot_s
        self.process: ZhengXiaoClarke | GaussMarkov | None = None

    def power(self, ids: NDArray[np.intp]) -> NDArray[np.float64]:
        """The simulated power gains :math:`|g|^2` of tasks ``ids`` now."""
        return np.abs(self.process.amplitude(ids)) ** 2  # type: ignore[union-attr]

    def _bins(self, ids: NDArray[np.intp]) -> NDArray[np.intp]:
        return np.searchsorted(self.edges, self.power(ids), side="right")

    def begin(self, rng: np.random.Generator, size: int) -> NDArray[np.intp]:
        if self.spec.doppler_hz is not None:
            self.process = ZhengXiaoClarke(rng, size, self.spec.doppler_hz, self.mean)
        else:
            self.process = GaussMarkov(rng, size, self.spec, self.mean)
        return self._bins(np.arange(size))

    def next(
        self, rng: np.random.Generator, states: NDArray[np.intp], n: int | None, ids: NDArray[np.intp]
    ) -> NDArray[np.intp]:
        dt = self.slot_s if n is None else float(self.layer_time_s[n + 1])
        self.process.advance(ids, dt, rng)  # type: ignore[union-attr]
        return self._bins(ids)

    def gains(self, states: NDArray[np.intp], ids: NDArray[np.intp]) -> NDArray[np.float64]:
        """The gains the stop costs are taken at: the states' (bins') gains."""
        return self.state_gains[states]
