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
:math:`\delta` (:math:`\bar h` cancels). It is the Laguerre series
(:func:`_transition_series`) or fixed-order Gauss-Legendre panels
(:func:`_transition_panels`), cached per ``(K, delta)``; the adaptive Gauss-Kronrod rule
(``scipy.integrate.quad_vec``, absolute tolerance ``QUAD_ATOL`` on every entry,
:func:`_transition_adaptive`) is the reference the tests check every entry against. Rows
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
import os
from collections.abc import Callable, Iterable
from dataclasses import replace
from functools import lru_cache

import numpy as np
from numpy.typing import NDArray

from coopt.errors import InstanceError
from coopt.model.channel import Channel
from coopt.model.instance import ChannelSpec

QUAD_ATOL = 5e-13  # absolute error per matrix entry (quadrature tolerance QUAD_ATOL / (2K) per integral)
DELTA_SWITCH = 1e-4  # below it the noncentrality exceeds ~7e5 at the quadrature's far nodes
GH_NODES = 64
DELTA_IDENTITY = 1e-60  # below it P is the identity to 1e-13 (see _limit)
LAGUERRE_MAX_TERMS = 6000  # the series is used where it needs at most this many terms (delta >~ 8e-3)
SERIES_ATOL = 1e-15  # truncation error of the series per entry
GL_NODES = 10  # Gauss-Legendre nodes per piece (16 gives the same matrices to 1e-16)
SATURATED = 1e-18  # S_j below it on a whole panel: the panel adds nothing (S_j is increasing in x)


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


def _series_terms(states: int, delta: float) -> int:
    """Terms of the Laguerre series for a truncation error below ``SERIES_ATOL`` per entry:
    the remainder is at most :math:`4K\\rho^{N}/\\delta` (:math:`|a_{ni}| \\le 2/\\sqrt{K}`... bounded by 2)."""
    rho = 1.0 - delta
    if rho <= 0.0:
        return 0
    return max(1, math.ceil(math.log(SERIES_ATOL * delta / (4.0 * states)) / math.log1p(-delta)))


def _transition_series(states: int, delta: float) -> NDArray[np.float64]:
    r"""The matrix by Kibble's Laguerre expansion of the bivariate exponential density,
    :math:`f(x, y) = e^{-x-y}\sum_n \rho^n L_n(x) L_n(y)`: :math:`P_{ij} = K\sum_n \rho^n a_{ni}a_{nj}`
    with :math:`a_{ni} = \int_{e_i}^{e_{i+1}} e^{-x}L_n(x)\,dx` and
    :math:`\int_x^\infty e^{-t}L_n = e^{-x}(L_n(x) - L_{n-1}(x)) = -(x/n)e^{-x}L^{(1)}_{n-1}(x)`
    (the second form has no cancellation at small ``x``); :math:`L^{(1)}_m` by its
    three-term recurrence at the edges, the sum as blocked matrix products."""
    k = states
    rho = 1.0 - delta
    terms = _series_terms(k, delta)
    edges = np.concatenate([[0.0], interior_edges(k)])
    damp = np.exp(-edges)
    out = np.zeros((k, k))
    block = 512
    # the tails as -(x/n) e^-x L^(1)_{n-1}(x) (no cancellation of L_n - L_{n-1} at small x)
    prev = np.zeros_like(edges)  # L^(1)_{-1}
    cur = np.ones_like(edges)  # L^(1)_0
    n = 0
    while n <= terms:
        rows = min(block, terms + 1 - n)
        a = np.empty((rows, k))
        for r in range(rows):
            m = n + r
            if m == 0:
                tail = np.append(damp, 0.0)
            else:  # cur is L^(1)_{m-1}
                tail = np.append(-(edges / m) * damp * cur, 0.0)
                prev, cur = cur, ((2 * m - edges) * cur - m * prev) / m
            a[r] = tail[:-1] - tail[1:]
        weights = rho ** np.arange(n, n + rows, dtype=np.float64)
        out += (a.T * weights) @ a
        n += rows
    out *= k
    return np.clip((out + out.T) / 2.0, 0.0, 1.0)  # symmetric to rounding already; exactly so


def _survival(x: NDArray[np.float64], e: NDArray[np.float64], delta: float) -> NDArray[np.float64]:
    """:math:`S(x, e) = \\Pr(h' > e \\mid h = x)` (unit mean) for broadcast arrays ``x``, ``e``:
    the same two forms as the reference (noncentral chi-square, or the Gaussian mixture below
    ``DELTA_SWITCH``), elementwise."""
    from scipy import special

    x, e = np.broadcast_arrays(np.asarray(x, dtype=np.float64), np.asarray(e, dtype=np.float64))
    if delta >= DELTA_SWITCH:
        from scipy.special._ufuncs import _ncx2_sf

        scale = 2.0 / delta
        return np.asarray(_ncx2_sf(scale * e, 2.0, scale * (1.0 - delta) * x), dtype=np.float64)
    z, w = _hermite()
    sigma = math.sqrt(delta / 2.0)
    flat_x, flat_e = x.ravel(), e.ravel()
    out = np.empty(flat_x.size)
    step = 1 << 14
    for start in range(0, flat_x.size, step):
        xs, es = flat_x[start : start + step], flat_e[start : start + step]
        a = np.sqrt((1.0 - delta) * xs)[:, None]
        s = np.sqrt(np.clip(es[:, None] - (sigma * z[None, :]) ** 2, 0.0, None))
        outside = special.ndtr((-s - a) / sigma) + special.ndtr((a - s) / sigma)
        out[start : start + step] = outside @ w
    return out.reshape(x.shape)


def _spread(x: NDArray[np.float64] | float, delta: float) -> NDArray[np.float64]:
    """The scale in ``x`` on which :math:`S_j(x)` changes: about the conditional spread
    :math:`\\sqrt{2x\\delta}` of :math:`h'` (at least :math:`\\sqrt{2}\\delta` near ``x = 0``)."""
    return np.sqrt(2.0 * delta * (np.asarray(x, dtype=np.float64) + delta))


def _graded(lo: float, hi: float, delta: float) -> NDArray[np.float64]:
    """Panel ends over a finite source bin ``[lo, hi]`` (in ``x``): geometric towards both
    ends from a quarter of the local spread (as the reference's breakpoints), since the
    mass that crosses an edge lies within a few spreads of it."""
    pts = [lo, hi]
    half = (hi - lo) / 2.0
    for edge, sign in ((lo, 1.0), (hi, -1.0)):
        if edge <= 0.0:
            continue
        width = float(_spread(edge, delta)) / 4.0
        while width < half:
            pts.append(edge + sign * width)
            width *= 2.0
    return np.unique(np.array(pts))


def _transition_panels(states: int, delta: float) -> NDArray[np.float64]:
    r"""The matrix by fixed-order Gauss-Legendre panels in ``x`` (weight :math:`e^{-x}`).

    Only the upper triangle is integrated, over the finite source bins:
    :math:`G_{ij} = \int_{e_i}^{e_{i+1}} S_j(x) e^{-x}\,dx` for ``j >= i`` and
    :math:`P_{ij} = K(G_{ij} - G_{i,j+1})`; the rest is :math:`P = P^T` (equiprobable bins,
    exchangeable gains) and the last diagonal entry is one minus its row. :math:`S_j` is
    increasing in ``x`` and decreasing in ``j``, so a target edge whose :math:`S_j` at the
    bin's right end is below ``SATURATED`` adds nothing (found by bisection), and on a panel
    where :math:`S_j` is below it at the right end, or 1 to rounding at the left end, the
    integral is 0 or :math:`\int e^{-x}`; only the other (panel, edge) pairs are
    integrated, on pieces no wider than two spreads."""
    k = states
    edges = np.concatenate([[0.0], interior_edges(k)])  # e_0..e_{K-1}
    t, wt = np.polynomial.legendre.leggauss(GL_NODES)
    bins = np.arange(k - 1)
    # J_i: the last edge j with S_j(e_{i+1}) > SATURATED (j = i + 1 always qualifies)
    lo, hi = bins + 1, np.full(k - 1, k)
    while np.any(hi - lo > 1):
        mid = (lo + hi) // 2
        live = hi - lo > 1
        above = _survival(edges[bins[live] + 1], edges[np.minimum(mid[live], k - 1)], delta) > SATURATED
        lo[live] = np.where(above, mid[live], lo[live])
        hi[live] = np.where(above, hi[live], mid[live])
    G = np.zeros((k - 1, k + 1))  # G[i, K] = 0
    G[0, 0] = 1.0 / k  # S_0 = 1
    one = 1.0 - 2.0**-52
    for i in range(k - 1):
        j = np.arange(max(i, 1), lo[i] + 1)
        pts = _graded(float(edges[i]), float(edges[i + 1]), delta)
        a, b = pts[:-1], pts[1:]
        mass = np.exp(-a) * -np.expm1(-(b - a))  # int_a^b e^-x
        s_at = _survival(pts[:, None], edges[j][None, :], delta)  # (points, edges)
        full = s_at[:-1] >= one
        live = ~full & (s_at[1:] > SATURATED)
        g = (mass[:, None] * full).sum(axis=0)
        pan, col = np.nonzero(live)
        if pan.size:
            # a spread below the resolution of x (delta < ~1e-30) is resolved as far as x is
            scale = np.maximum(_spread(a[pan], delta), 4.0 * np.finfo(float).eps * b[pan])
            pieces = np.maximum(1, np.ceil((b[pan] - a[pan]) / (2.0 * scale)).astype(np.int64))
            rep = np.repeat(np.arange(pan.size), pieces)
            first = np.cumsum(pieces) - pieces
            piece = np.arange(rep.size) - first[rep]
            width = (b[pan] - a[pan])[rep] / pieces[rep]
            left = a[pan][rep] + piece * width
            x = left[:, None] + (width / 2.0)[:, None] * (t + 1.0)[None, :]
            vals = _survival(x, edges[j][col][rep][:, None], delta) * np.exp(-x)
            part = (vals @ wt) * (width / 2.0)
            g += np.bincount(col[rep], weights=part, minlength=j.size)
        G[i, j] = g
    P = np.zeros((k, k))
    upper = k * (G[:, :-1] - G[:, 1:])  # (K-1, K): row i valid for columns j >= i
    iu = np.triu_indices(k - 1, 0, k)
    P[iu] = upper[iu]
    P = np.triu(P) + np.triu(P, 1).T
    P[k - 1, k - 1] = 1.0 - P[k - 1, : k - 1].sum()
    return np.clip(P, 0.0, 1.0)


TRANSITION_CACHE = 64  # matrices kept by (K, delta); layers with equal durations share one


@lru_cache(maxsize=TRANSITION_CACHE)
def _transition(states: int, delta: float) -> NDArray[np.float64]:
    """The matrix (read-only, cached per ``(K, delta)``): the Laguerre series where it needs
    at most ``LAGUERRE_MAX_TERMS`` terms, else Gauss-Legendre panels; the diagonal from the
    rows."""
    out = _limit(states, delta)
    if out is None:
        if _series_terms(states, delta) <= LAGUERRE_MAX_TERMS:
            out = _transition_series(states, delta)
        else:
            out = _transition_panels(states, delta)
        # each diagonal entry is one minus the rest of its row: rows sum to 1 to rounding,
        # P stays symmetric, and where P is nearly the identity the diagonal is exact
        off = out.copy()
        np.fill_diagonal(off, 0.0)
        np.fill_diagonal(out, np.clip(1.0 - off.sum(axis=1), 0.0, 1.0))
    out.setflags(write=False)
    return out


def transition_matrix(states: int, delta: float) -> NDArray[np.float64]:
    """:math:`P[i, j]` over a lag with decorrelation :math:`\\delta = 1 - r^2`, shape ``(K, K)``.

    ``delta = 1`` is the i.i.d. law (every entry ``1/K``), ``delta = 0`` the identity.
    Read-only (cached per ``(K, delta)``).
    """
    return _transition(int(states), float(delta))


def lag_transition(spec: ChannelSpec, states: int, lag_s: float) -> NDArray[np.float64]:
    """:math:`P(\\Delta t)` of a correlated Rayleigh ``[channel]`` table."""
    return transition_matrix(states, decorrelation(spec, lag_s))


SERIES_SECONDS_PER_FLOP = 4e-10  # measured on 2 shared cores (bench/bench_markov.py)
PANEL_SECONDS_PER_STATE = 4e-3  # the panels: about linear in K (the bands narrow as bins do)


def predicted_seconds(states: int, delta: float) -> float:
    """A rough prediction of the time :func:`transition_matrix` takes uncached (0 at a limit)."""
    if _limit(states, delta) is not None:
        return 0.0
    terms = _series_terms(states, delta)
    if terms <= LAGUERRE_MAX_TERMS:
        return SERIES_SECONDS_PER_FLOP * 2.0 * states * states * terms
    return PANEL_SECONDS_PER_STATE * states


def transition_bytes(states: int, matrices: int) -> int:
    """Memory of ``matrices`` stored ``K x K`` matrices plus the work space of building one."""
    return 8 * states * states * (matrices + 4)


def physical_memory() -> int | None:
    """The machine's physical memory in bytes (``None`` where the OS does not tell)."""
    try:
        return int(os.sysconf("SC_PHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):  # pragma: no cover - not POSIX
        return None


def lag_deltas(spec: ChannelSpec, layer_time_s: NDArray[np.float64], slot_s: float | None) -> list[float]:
    """The decorrelations of every step (layers ``1..N``, then the slot if any), in order."""
    lags = [float(t) for t in layer_time_s[1:]]
    if slot_s is not None and math.isfinite(slot_s):
        lags.append(float(slot_s))
    return [decorrelation(spec, t) for t in lags]


def check_transition_memory(states: int, steps: int, limit: int | None = None) -> None:
    """Refuse (InstanceError, one line) when ``steps`` matrices of ``K x K`` cannot fit in
    ``limit`` bytes (default: the machine's physical memory), before any work."""
    limit = physical_memory() if limit is None else limit
    need = transition_bytes(states, steps)
    if limit is not None and need > limit:
        raise InstanceError(
            f"channel.states = {states}: the correlated channel's {steps} transition matrices of {states} x {states} "
            f"need about {need / 2**30:.3g} GiB, more than the limit {limit / 2**30:.3g} GiB; use fewer channel.states"
        )


def build_transitions(
    states: int, deltas: list[float], wrap: Callable[[list[float]], Iterable[float]] | None = None
) -> None:
    """Compute (and cache) the matrices of ``deltas``, each distinct one once, the loop
    wrapped by ``wrap`` (e.g. a progress bar)."""
    todo = sorted({d for d in deltas if predicted_seconds(states, d) > 0.0})
    for delta in wrap(todo) if wrap is not None else todo:
        transition_matrix(states, delta)


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
    check_transition_memory(k, len(layer_time_s) - 1 + (slot_s is not None))
    steps = np.stack([lag_transition(spec, k, float(t)) for t in layer_time_s[1:]]) if len(layer_time_s) > 1 else None
    slot = None if slot_s is None or not math.isfinite(slot_s) else lag_transition(spec, k, slot_s)
    return replace(channel, epoch_transitions=steps, slot_transition=slot)
