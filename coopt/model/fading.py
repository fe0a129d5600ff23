r"""Time-correlated Rayleigh fading as a time-inhomogeneous Markov chain (docs/model.md 10.4).

The complex amplitude :math:`g(t)` is circularly-symmetric Gaussian with power gain
:math:`h = |g|^2 \sim \mathrm{Exp}(\bar h)` and correlation :math:`r(\Delta t)` over a
lag :math:`\Delta t`: Clarke's model :math:`r = J_0(2\pi f_D \Delta t)`
(``channel.doppler_hz``) or Gauss-Markov :math:`r = e^{-\Delta t/T_c}`
(``channel.coherence_s``). With :math:`\rho = r^2` and :math:`\delta = 1 - \rho`, given
:math:`h(t) = x` the later gain is :math:`h' = |\sqrt{\rho}\,g + \sqrt{\delta}\,w|^2`
(:math:`w` an independent copy of the normalised amplitude), so
:math:`2h'/(\bar h\delta)` is noncentral chi-square with 2 degrees of freedom and
noncentrality :math:`2\rho x/(\bar h\delta)`:

.. math::

    \Pr(h' > y \mid h = x) = Q_1\!\left(\sqrt{2\rho x/(\bar h\delta)},\ \sqrt{2y/(\bar h\delta)}\right)

(:math:`Q_1` the Marcum Q-function). The state is the bin of section 3 (``K``
equiprobable bins with edges :math:`e_j = -\bar h\ln(1 - j/K)`), and

.. math::

    P(\Delta t)[i, j] = K \int_{i/K}^{(i+1)/K} \big[S_j(x(u)) - S_{j+1}(x(u))\big]\,du,
    \qquad x(u) = -\bar h \ln(1-u),\ S_j(x) = \Pr(h' > e_j \mid h = x),

the average over the source bin (uniform in the probability scale :math:`u`) of the
Marcum-Q difference of the target bin. The matrix depends only on ``K`` and
:math:`\delta` (:math:`\bar h` cancels). The integral is adaptive Gauss-Kronrod
(``scipy.integrate.quad_vec``, absolute tolerance ``QUAD_ATOL`` on every entry). Rows
sum to 1 (the :math:`S` telescope) and, since the joint law of :math:`(h, h')` is
exchangeable, :math:`P` is symmetric, so the uniform law is stationary; the tests check
both, which checks the quadrature.

:math:`S_j` is the noncentral chi-square survival function (Boost's, as SciPy ships it)
where the noncentrality stays moderate (:math:`\delta \ge` ``DELTA_SWITCH``). For
smaller :math:`\delta` (short lags; the noncentrality reaches :math:`10^{13}` and the
series does not converge) it is the exact mixture over the quadrature component:
with :math:`\sigma^2 = \bar h\delta/2`, :math:`a = \sqrt{\rho x}` and :math:`z_1, z_2`
standard normal, :math:`h' = (a + \sigma z_1)^2 + \sigma^2 z_2^2`, so
:math:`\Pr(h' \le y) = E_{z_2}[\Phi((s - a)/\sigma) - \Phi((-s - a)/\sigma)]` with
:math:`s = \sqrt{y - \sigma^2 z_2^2}`, by ``GH_NODES``-point Gauss-Hermite quadrature
(smooth in :math:`z_2` because :math:`\sigma \ll \sqrt{y}` there). The two forms agree
to 1e-13 at the switch (tested). :math:`\delta` itself is computed without cancellation
(``expm1`` for Gauss-Markov; the series of :math:`1 - J_0` for Clarke at small
arguments), since the off-diagonal mass grows like :math:`\sqrt{\delta}`.

Epoch 0 starts from the stationary law (``1/K`` per bin); the step from epoch ``n`` to
``n + 1`` lasts the device's computing time :math:`t_{n+1}` of layer ``n + 1`` and a
waiting slot lasts :math:`\tau`: :math:`P_n = P(t_{n+1})`, :math:`P_w = P(\tau)`. A
zero-time layer (no MACs) gives the identity. SciPy is imported lazily (not
``scipy.stats``).
"""

from __future__ import annotations

import math
from dataclasses import replace
from functools import lru_cache

import numpy as np
from numpy.typing import NDArray

from coopt.model.channel import Channel
from coopt.model.instance import ChannelSpec

QUAD_ATOL = 5e-13  # absolute error per matrix entry (quadrature tolerance QUAD_ATOL / (2K) per integral)
DELTA_SWITCH = 1e-4  # below it the noncentrality exceeds ~7e5 at the quadrature's far nodes
GH_NODES = 64
DELTA_IDENTITY = 1e-60  # below it P is the identity to 1e-13 (see _limit)


def amplitude_correlation(spec: ChannelSpec, lag_s: float) -> float:
    """:math:`r(\\Delta t)`: :math:`J_0(2\\pi f_D \\Delta t)` or :math:`e^{-\\Delta t/T_c}`."""
    if spec.doppler_hz is not None:
        from scipy import special

        return float(special.j0(2.0 * math.pi * spec.doppler_hz * lag_s))
    if spec.coherence_s is not None:
        return math.exp(-lag_s / spec.coherence_s)
    return 0.0


def decorrelation(spec: ChannelSpec, lag_s: float) -> float:
    """:math:`\\delta = 1 - r(\\Delta t)^2`, without cancellation for short lags."""
    if spec.coherence_s is not None:
        return -math.expm1(-2.0 * lag_s / spec.coherence_s)
    if spec.doppler_hz is not None:
        z = 2.0 * math.pi * spec.doppler_hz * lag_s
        r = amplitude_correlation(spec, lag_s)
        if z < 0.1:  # 1 - J0(z) = sum_{k>=1} (-1)^(k+1) (z/2)^(2k) / (k!)^2, terms fall by >= 400x
            q = (z / 2.0) ** 2
            one_minus_r = q - q**2 / 4.0 + q**3 / 36.0 - q**4 / 576.0
            return one_minus_r * (1.0 + r)
        return 1.0 - r * r
    return 1.0


def _survival_ncx2(edges: NDArray[np.float64], x: float, delta: float) -> NDArray[np.float64]:
    """:math:`\\Pr(h' > e_j \\mid h = x)` (unit mean) by the noncentral chi-square law."""
    from scipy.special._ufuncs import _ncx2_sf

    scale = 2.0 / delta
    nc = scale * (1.0 - delta) * x
    return np.asarray(_ncx2_sf(scale * edges, 2.0, nc), dtype=np.float64)


@lru_cache(maxsize=1)
def _hermite() -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Gauss-Hermite nodes and weights for :math:`E[f(z)]`, :math:`z \\sim N(0, 1)`."""
    t, w = np.polynomial.hermite.hermgauss(GH_NODES)
    return t * math.sqrt(2.0), w / math.sqrt(math.pi)


def _survival_mixture(edges: NDArray[np.float64], x: float, delta: float) -> NDArray[np.float64]:
    """:math:`\\Pr(h' > e_j \\mid h = x)` (unit mean) as a Gaussian mixture (small ``delta``)."""
    from scipy import special

    z, w = _hermite()
    sigma = math.sqrt(delta / 2.0)
    a = math.sqrt((1.0 - delta) * x)
    s = np.sqrt(np.clip(edges[:, None] - (sigma * z[None, :]) ** 2, 0.0, None))
    # P(|a + sigma z1| > s) = Phi((-s - a)/sigma) + Phi((a - s)/sigma), each term accurate in its tail
    outside = special.ndtr((-s - a) / sigma) + special.ndtr((a - s) / sigma)
    return np.asarray(outside @ w, dtype=np.float64)


def interior_edges(states: int) -> NDArray[np.float64]:
    """Bin edges :math:`e_1..e_{K-1}` of the unit-mean exponential law, shape ``(K - 1,)``."""
    return -np.log1p(-np.arange(1, states) / states)


def _breakpoints(x_lo: float, x_hi: float, delta: float) -> list[float] | None:
    r"""Quadrature breakpoints (in ``u``) that resolve the steps of :math:`S_j` at the source
    bin's own edges: the conditional spread of :math:`h'` is about :math:`\sqrt{2x\delta}`,
    so for small ``delta`` the crossing mass sits within a few spreads of the edges,
    too narrow for an adaptive rule to find unaided. Only points strictly inside the
    bin's ``u`` interval are kept (near ``u = 1`` they round onto the end)."""
    pts: list[float] = []
    half = (min(x_hi, x_lo + 40.0) - x_lo) / 2.0  # the last bin is infinite; e^-40 is beyond double
    u_lo, u_hi = -math.expm1(-x_lo), (1.0 if math.isinf(x_hi) else -math.expm1(-x_hi))
    for edge, sign in ((x_lo, 1.0), (x_hi, -1.0)):
        if edge <= 0.0 or not math.isfinite(edge):
            continue
        width = math.sqrt(2.0 * edge * delta) / 4.0
        while width < half:
            u = -math.expm1(-(edge + sign * width))
            if u_lo < u < u_hi:
                pts.append(u)
            width *= 2.0
    return sorted(set(pts)) or None


def _limit(states: int, delta: float) -> NDArray[np.float64] | None:
    r"""The exact matrix where ``delta`` is at (or, within double precision, at) an end.

    ``delta >= 1``: every entry ``1/K`` (i.i.d.). ``delta <= DELTA_IDENTITY``: the
    identity, to within the mass that leaves a bin: a gain crosses one of its bin's two
    edges :math:`e` only if :math:`h` lies within :math:`t` of :math:`e` (probability
    :math:`\le t`, the density being at most 1) or :math:`|h' - h| \ge t` (at most
    :math:`2\delta/t^2`, Chebyshev with :math:`E(h'-h)^2 = 2\delta`); with
    :math:`t = (4\delta)^{1/3}` the off-diagonal mass of a row is at most
    :math:`6K(4\delta)^{1/3}`, below 1e-13 for every allowed ``K`` (up to 10^6) at
    1e-60. There the mixture's :math:`\sigma = \sqrt{\delta/2}` would also underflow.
    One state: ``[[1]]``. ``None`` in between.
    """
    if not delta > DELTA_IDENTITY:  # also NaN: never reached from decorrelation()
        return np.eye(states)
    if delta >= 1.0 or states == 1:  # one state: [[1]] (no edge to integrate)
        return np.full((states, states), 1.0 / states)
    return None


@lru_cache(maxsize=256)
def _transition_adaptive(states: int, delta: float) -> NDArray[np.float64]:
    """The matrix by adaptive Gauss-Kronrod per source bin (the reference implementation)."""
    from scipy import integrate

    k = states
    out = _limit(k, delta)
    if out is None:
        edges = interior_edges(k)
        survival = _survival_ncx2 if delta >= DELTA_SWITCH else _survival_mixture
        at_infinity = np.ones(k - 1)  # S_j(x) -> 1 as x -> oo (u -> 1)

        def f(u: float) -> NDArray[np.float64]:
            # a Gauss-Kronrod node of a tiny interval next to u = 1 rounds onto it
            return at_infinity if u >= 1.0 else survival(edges, -math.log1p(-u), delta)

        out = np.empty((k, k))
        bounds = np.concatenate([[0.0], edges, [np.inf]])
        for i in range(k):
            lo, hi = i / k, (i + 1) / k
            points = _breakpoints(bounds[i], bounds[i + 1], delta)
            mean_s, _ = integrate.quad_vec(
                f, lo, hi, epsabs=QUAD_ATOL / (2 * k), epsrel=0.0, norm="max", points=points, limit=20000
            )
            s = np.concatenate([[1.0], k * np.asarray(mean_s), [0.0]])
            out[i] = s[:-1] - s[1:]
        out = np.clip(out, 0.0, 1.0)  # differences of survival values that round to 1 or 0
    out.setflags(write=False)
    return out


def _transition(states: int, delta: float) -> NDArray[np.float64]:
    return _transition_adaptive(states, delta)


def transition_matrix(states: int, delta: float) -> NDArray[np.float64]:
    """:math:`P[i, j]` over a lag with decorrelation :math:`\\delta = 1 - r^2`, shape ``(K, K)``.

    ``delta = 1`` is the i.i.d. law (every entry ``1/K``), ``delta = 0`` the identity.
    Read-only (cached per ``(K, delta)``).
    """
    return _transition(int(states), float(delta))


def lag_transition(spec: ChannelSpec, states: int, lag_s: float) -> NDArray[np.float64]:
    """:math:`P(\\Delta t)` of a correlated Rayleigh ``[channel]`` table."""
    return transition_matrix(states, decorrelation(spec, lag_s))


def correlate(channel: Channel, layer_time_s: NDArray[np.float64], slot_s: float | None) -> Channel:
    """The quantised Rayleigh ``channel`` made time-correlated (docs/model.md 10.4).

    ``layer_time_s[n]`` is the device's computing time of layer ``n`` (``[0]`` unused),
    ``slot_s`` the waiting slot :math:`\\tau` (``None``: no waiting, no slot matrix).
    An i.i.d. table is returned unchanged.
    """
    spec = channel.spec
    if not spec.is_correlated:
        return channel
    k = channel.n_states
    steps = np.stack([lag_transition(spec, k, float(t)) for t in layer_time_s[1:]]) if len(layer_time_s) > 1 else None
    slot = None if slot_s is None or not math.isfinite(slot_s) else lag_transition(spec, k, slot_s)
    return replace(channel, epoch_transitions=steps, slot_transition=slot)
