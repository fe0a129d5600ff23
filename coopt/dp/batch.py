r"""The all-placement sweep of one device for a batch of share variants at once.

A fleet (docs/model.md section 11) needs :math:`J_{x,y}(M)` for every placement :math:`M` at
every pair of share levels :math:`(x, y)` of one device. At shares :math:`(x, y)` the
device's stop cost is

.. math::

    Y_n(h; x, y) = A_n + O_n + R_n / y + \gamma_n / r_x(h), \qquad
    r_x(h) = x B \log_2\!\bigl(1 + \rho h / x\bigr),

i.e. the :class:`~coopt.model.costs.CostModel` of :func:`share_costs`: bandwidth
:math:`x B`, SNR factor :math:`\rho / x` (the noise scales with the band), :math:`R` and
``edge_time_s`` divided by :math:`y`; :math:`A`, the overhead, the download, :math:`c_w`,
:math:`\gamma_n` (``upload_coef``) and the channel unchanged. In the rank-one form of
:mod:`coopt.dp.fast`, :math:`Y_n = \beta_n + \gamma_n u_k`, a variant ``p`` changes only
:math:`\beta_{p,n} = (A_n + R_n / y_p) + O_n` and the sorted inverse rates
:math:`u_{p,k}`; :math:`\gamma_n`, the probabilities and :math:`c_w` are shared.

:func:`solve_all_batch` runs the sweep of :func:`coopt.dp.fast.solve_all` (``method =
"model"``) once for all ``P`` variants: every per-epoch operation of the single-device sweep
acts on a ``(P, ...)`` array instead of a ``(...)`` one, so the Python-level loop over the
epochs is paid once per device instead of once per pair. The arithmetic of each element is
the single-device sweep's (same products, sums and comparisons in the same order; the
binary searches over the ``K`` sorted inverse rates become counts of the entries below the
argument, which is the same integer), so the values equal a loop of ``solve_all`` over the
:func:`share_costs` models (to rounding; tests/dp/test_batch.py checks :math:`10^{-12}` relative
and equal argmins) and the OSLA decisions follow the same tie rule (the few entries in the
tie band are checked with :func:`coopt.dp.stopping.tied_or_less` one by one, as there).
Nothing but :math:`J(M)` is returned: a policy at one pair comes from ``solve_all`` of
that pair's :func:`share_costs`.

Cost: :math:`O(P N^2 K)` element operations for the optimal rule (the counts; above
``K = COUNT_MAX_STATES`` a batched binary search, :math:`O(P N^2 \log K)`) and
:math:`O(P N^2)` for OSLA, with :math:`O(N)` NumPy calls; memory :math:`O(P (N + K))`
plus one ``(P, N, K)`` temporary per epoch (in blocks of ``BLOCK_ELEMENTS``).

On a Markov or time-correlated channel the continuation values are vectors per state
and the channel does not depend on the shares: :func:`solve_share_pairs` builds the stop
costs of every variant (:func:`share_stop_costs`, bit for bit those of
:func:`share_costs`) and solves them in one sweep of
:func:`coopt.dp.markov.solve_all_markov_batch`, which stacks the horizons of all variants
as the rows of one matrix (values equal to a loop of ``solve_all_markov`` to rounding).
This module uses NumPy only.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import replace

import numpy as np
from numpy.typing import NDArray

from coopt.dp.fast import BLOCK_ELEMENTS, TIE_BAND, _search_root
from coopt.dp.markov import solve_all_markov_batch
from coopt.dp.stopping import RULES, checked_rules, tied_or_less
from coopt.model.channel import Channel
from coopt.model.costs import LN2, CostModel

COUNT_MAX_STATES = 16
"""Up to this many states the sorted-array searches are counts over a ``(P, L, K)``
comparison; above it a batched binary search (``ceil(log2(K + 1))`` gathers)."""


def share_costs(costs: CostModel, band_share: float, edge_share: float) -> CostModel:
    r"""The cost model of a device at shares :math:`(x, y)` (module docstring):
    ``bandwidth_hz = x B``, ``rho = rho / x``, ``R / y`` and ``edge_time_s / y``, the rest
    unchanged. Both shares must be in ``(0, 1]`` (at ``0`` the device cannot offload)."""
    x, y = float(band_share), float(edge_share)
    if not (0 < x <= 1 and 0 < y <= 1):
        raise ValueError(f"shares (x, y) = ({x}, {y}): each must be in (0, 1]")
    return replace(
        costs,
        bandwidth_hz=x * costs.bandwidth_hz,
        rho=costs.rho / x,
        R=costs.R / y,
        edge_time_s=costs.edge_time_s / y,
    )


def share_rates(costs: CostModel, gains: NDArray[np.float64], band_shares: NDArray[np.float64]) -> NDArray[np.float64]:
    """``(P, K)``: the rates :math:`r_x(g_k)` at each band share, by the floating-point
    operations of :meth:`CostModel.rate_bps` on :func:`share_costs` (so bit for bit)."""
    x = np.asarray(band_shares, dtype=np.float64).reshape(-1)
    if not np.all((x > 0) & (x <= 1)):
        raise ValueError(f"band shares {x.tolist()}: each must be in (0, 1]")
    g = np.asarray(gains, dtype=np.float64)
    out = np.empty((x.shape[0], g.shape[0]))
    for i, xi in enumerate(x.tolist()):  # scalar bandwidth and rho, as rate_bps has them
        out[i] = (xi * costs.bandwidth_hz) * np.log1p((costs.rho / xi) * g) / LN2
    return out


def solve_all_batch(
    costs: CostModel,
    channel: Channel,
    mode: str,
    rates: NDArray[np.float64],
    edge_shares: NDArray[np.float64],
    rules: Iterable[str] = RULES,
) -> dict[str, NDArray[np.float64]]:
    r""":math:`J_p(M)` for every placement ``M = 0..N`` and every variant ``p``, one sweep.

    Parameters
    ----------
    costs : CostModel
        The device at full shares (supplies :math:`A`, :math:`R`, :math:`O`,
        :math:`\gamma_n` and :math:`c_w`; its own rate is not used).
    channel : Channel
        An i.i.d. finite channel, gains non-decreasing.
    mode : str
        ``wait.mode``: ``"never"``, ``"last"`` or ``"any"``.
    rates : NDArray[np.float64]
        ``(P, K)``: the uplink rate in bit/s of each variant in each channel state
        (:func:`share_rates` for band shares), positive, finite, non-decreasing in ``k``.
    edge_shares : NDArray[np.float64]
        ``(P,)``: :math:`y_p` in ``(0, 1]``; variant ``p`` has edge costs :math:`R / y_p`.
    rules : iterable of str
        Any of ``"optimal"``, ``"osla"`` (they share the per-variant arrays).

    Returns
    -------
    dict
        ``{rule: values}`` with ``values`` of shape ``(P, N + 1)``, row ``p`` equal (to
        rounding) to ``solve_all(None, channel, mode, costs_p, ...)[rule].values`` for the
        cost model ``costs_p`` with those rates and :math:`R / y_p`.
    """
    if channel.is_markov:
        raise ValueError("solve_all_batch needs an i.i.d. channel; Markov variants go to solve_share_grid")
    rules = checked_rules(rules, mode)
    probs = np.asarray(channel.probs, dtype=np.float64)
    gains = np.asarray(channel.gains, dtype=np.float64)
    k = probs.shape[0]
    if np.any(np.diff(gains) < 0):
        raise ValueError("channel.gains must be non-decreasing")
    rates = np.asarray(rates, dtype=np.float64)
    if rates.ndim != 2 or rates.shape[1] != k:
        raise ValueError(f"rates has shape {rates.shape}; expected (P, {k})")
    if not np.all(np.isfinite(rates) & (rates > 0)):
        raise ValueError("rates must be positive and finite")
    if np.any(np.diff(rates, axis=1) < 0):
        raise ValueError("rates must be non-decreasing along the (sorted) channel states")
    y = np.asarray(edge_shares, dtype=np.float64)
    if y.shape != (rates.shape[0],):
        raise ValueError(f"edge_shares has shape {y.shape}; expected ({rates.shape[0]},)")
    if not np.all((y > 0) & (y <= 1)):
        raise ValueError(f"edge shares {y.tolist()}: each must be in (0, 1]")
    n_rows = costs.n_layers + 1
    c_w = float(costs.wait_cost)
    if mode != "never" and n_rows > 1 and not c_w > 0:
        raise ValueError(f"wait cost c_w = {c_w}: must be > 0 when wait.mode = {mode!r}")
    rows = _BatchRows(costs, y, rates, probs)
    return _sweep_batch(rows, n_rows - 1, mode, c_w, rules)


def solve_share_grid(
    costs: CostModel,
    channel: Channel,
    mode: str,
    band_levels: Iterable[float],
    edge_levels: Iterable[float],
    rules: Iterable[str] = RULES,
) -> dict[str, NDArray[np.float64]]:
    """:func:`solve_share_pairs` on the grid ``band_levels x edge_levels`` (each in ``(0, 1]``):
    ``{rule: values}`` of shape ``(len(band_levels), len(edge_levels), N + 1)``."""
    xs = np.asarray(list(band_levels), dtype=np.float64)
    ys = np.asarray(list(edge_levels), dtype=np.float64)
    nx, ny = xs.shape[0], ys.shape[0]
    out = solve_share_pairs(costs, channel, mode, np.repeat(xs, ny), np.tile(ys, nx), rules)
    return {rule: v.reshape(nx, ny, -1) for rule, v in out.items()}


def solve_share_pairs(
    costs: CostModel,
    channel: Channel,
    mode: str,
    band_shares: Iterable[float],
    edge_shares: Iterable[float],
    rules: Iterable[str] = RULES,
) -> dict[str, NDArray[np.float64]]:
    """:math:`J_{x_p, y_p}(M)` for the pairs ``(band_shares[p], edge_shares[p])`` (each in
    ``(0, 1]``), one sweep: :func:`solve_all_batch` on an i.i.d. channel,
    :func:`coopt.dp.markov.solve_all_markov_batch` of :func:`share_stop_costs` on a Markov or
    time-correlated one. ``{rule: values}`` of shape ``(P, N + 1)``."""
    x = np.asarray(list(band_shares), dtype=np.float64)
    y = np.asarray(list(edge_shares), dtype=np.float64)
    rates = share_rates(costs, channel.gains, x)
    if channel.is_markov:
        return solve_all_markov_batch(share_stop_costs(costs, rates, y), channel, mode, costs, rules)
    return solve_all_batch(costs, channel, mode, rates, y, rules)


def share_stop_costs(
    costs: CostModel, rates: NDArray[np.float64], edge_shares: NDArray[np.float64]
) -> NDArray[np.float64]:
    """``(P, N + 1, K)``: the stop costs :math:`Y_{p,n}(g_k)` of each variant (rates
    ``(P, K)`` and edge shares ``(P,)``), by the floating-point operations of
    :meth:`CostModel.stop_cost` on :func:`share_costs` (so bit for bit)."""
    y = np.asarray(edge_shares, dtype=np.float64)
    stop_base = (costs.A[None, :] + costs.R[None, :] / y[:, None]) + costs.overhead[None, :]
    return stop_base[:, :, None] + costs.upload_coef[None, :, None] / rates[:, None, :]


def argmin_placements(
    objectives: NDArray[np.float64], placements: Iterable[int]
) -> tuple[NDArray[np.float64], NDArray[np.intp]]:
    r"""Per row of ``objectives`` ``(P, N + 1)``, the smallest :math:`\Phi(M)` over
    ``placements`` and its :math:`M`, with the tie rule of
    :func:`coopt.dp.placement.argmin_placement` (within the relative tie tolerance the
    smaller ``M`` wins; the scan is the same, in placement order). Returns ``(P,)`` values
    and ``(P,)`` placements."""
    ms = list(placements)
    if not ms:
        raise ValueError("placements is empty")
    obj = np.asarray(objectives, dtype=np.float64)
    best_m = np.full(obj.shape[0], ms[0], dtype=np.intp)
    best = obj[:, ms[0]].copy()
    for m in ms[1:]:
        v = obj[:, m]
        take = ~tied_or_less(best, v)
        best = np.where(take, v, best)
        best_m = np.where(take, m, best_m)
    return best, best_m


# ----------------------------------------------------------------------------- the rows


class _BatchRows:
    r""":math:`Y_{p,n}(g_k) = \beta_{p,n} + \gamma_n u_{p,k}` for ``P`` variants: the
    ``(P, ...)`` counterpart of :class:`coopt.dp.fast._ModelRows`, with its operations."""

    def __init__(
        self, costs: CostModel, edge_shares: NDArray[np.float64], rates: NDArray[np.float64], probs: NDArray[np.float64]
    ) -> None:
        n_p, k = rates.shape
        self.n_p, self.k = n_p, k
        # (A + R / y) + O: CostModel.stop_base of share_costs, element for element.
        self.beta = (costs.A[None, :] + costs.R[None, :] / edge_shares[:, None]) + costs.overhead[None, :]
        self.gamma = np.asarray(costs.upload_coef, dtype=np.float64)
        self.rate = rates
        q = probs[::-1]
        self.u = 1.0 / rates[:, ::-1]  # increasing along each row
        self.Q = np.concatenate([[0.0], np.cumsum(q)])
        self.Qt = np.concatenate([np.cumsum(q[::-1])[::-1], [0.0]])
        self.U = np.zeros((n_p, k + 1))
        np.cumsum(q[None, :] * self.u, axis=1, out=self.U[:, 1:])
        self.inv_gamma = np.divide(1.0, self.gamma, out=np.full_like(self.gamma, np.inf), where=self.gamma > 0)
        self._u_flat = self.u.ravel()
        self._U_flat = self.U.ravel()
        self._row_u = (np.arange(n_p) * k)[:, None]
        self._row_U = (np.arange(n_p) * (k + 1))[:, None]

    def mean(self) -> NDArray[np.float64]:
        """``(P, N + 1)``: :math:`E[Y_{p,n}]`."""
        return self.beta * self.Q[self.k] + self.gamma[None, :] * self.U[:, self.k : self.k + 1]

    def U_at(self, t: NDArray[np.intp]) -> NDArray[np.float64]:
        """``U[p, t[p, j]]`` for ``t`` of shape ``(P, L)``."""
        return self._U_flat[self._row_U + t]

    def partial(self, t: NDArray[np.intp]) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
        """``S[t], Q[t], Qt[t]`` for ``t`` of shape ``(P, N + 1)``."""
        return self.beta * self.Q[t] + self.gamma[None, :] * self.U_at(t), self.Q[t], self.Qt[t]

    def count(self, arg: NDArray[np.float64]) -> NDArray[np.intp]:
        """``#{k : u[p, k] <= arg[p, j]}`` for ``arg`` of shape ``(P, L)``: what
        ``searchsorted(u[p], arg[p], side="right")`` returns (NaN counts as above all,
        as there)."""
        n_p, width = arg.shape
        k = self.k
        if k <= COUNT_MAX_STATES:
            out = np.empty((n_p, width), dtype=np.intp)
            step = max(1, BLOCK_ELEMENTS // max(1, width * k))
            for s in range(0, n_p, step):
                blk = arg[s : s + step]
                le = self.u[s : s + step, None, :] <= blk[:, :, None]
                cnt = np.count_nonzero(le, axis=2)
                # searchsorted puts NaN after every number
                out[s : s + step] = np.where(np.isnan(blk), k, cnt)
            return out
        lo = np.zeros((n_p, width), dtype=np.intp)
        hi = np.full((n_p, width), k, dtype=np.intp)
        nan = np.isnan(arg)
        for _ in range(k.bit_length()):
            active = lo < hi
            mid = (lo + hi) >> 1
            le = (self._u_flat[self._row_u + np.minimum(mid, k - 1)] <= arg) | nan
            lo = np.where(active & le, mid + 1, lo)
            hi = np.where(active & ~le, mid, hi)
        return lo

    def _count_rows(self, x: NDArray[np.float64]) -> NDArray[np.intp]:
        """:meth:`coopt.dp.fast._ModelRows._count` for ``x`` of shape ``(P, N + 1)``."""
        with np.errstate(invalid="ignore", over="ignore"):
            arg = (x - self.beta) * self.inv_gamma[None, :]
            arg = np.where(self.gamma[None, :] > 0, arg, np.where(self.beta <= x, np.inf, -np.inf))
        return self.count(arg)

    def count_tied(self, x: NDArray[np.float64]) -> NDArray[np.intp]:
        """``#{k : tied_or_less(Y[p, n, k], x[p, n])}``, exactly, as
        :meth:`coopt.dp.fast._ModelRows.count_tied` row by row."""
        finite = np.isfinite(x)
        xf = np.where(finite, x, 0.0)
        band = TIE_BAND * np.abs(xf)
        lo = self._count_rows(xf - band)
        hi = self._count_rows(xf + band)
        t = np.where(finite, lo, np.where(x > 0, self.k, 0))
        for p, n in zip(*np.nonzero(finite & (hi > lo)), strict=True):
            states = self.k - 1 - np.arange(lo[p, n], hi[p, n])  # gain order
            exact = self.beta[p, n] + self.gamma[n] / self.rate[p, states]  # as CostModel.stop_cost
            t[p, n] = lo[p, n] + int(np.count_nonzero(tied_or_less(exact, x[p, n])))
        return t

    def wait_roots(self, n_rows: int, c_w: float) -> NDArray[np.float64]:
        """``(P, n_rows)``: the waiting roots :math:`\\bar W^*_{p,n}` of epochs ``0..n_rows-1``
        (the batched search of :func:`coopt.dp.fast._search_root` on all ``P n_rows`` rows)."""
        n_p, k = self.n_p, self.k
        beta = self.beta[:, :n_rows].ravel()
        gamma = np.tile(self.gamma[:n_rows], n_p)
        base_u = np.repeat(np.arange(n_p) * k, n_rows)
        base_U = np.repeat(np.arange(n_p) * (k + 1), n_rows)
        Q, Qt, u_flat, U_flat = self.Q, self.Qt, self._u_flat, self._U_flat

        def root(t: NDArray[np.intp]) -> NDArray[np.float64]:
            return (beta * Q[t] + gamma * U_flat[base_U + t] + c_w * Qt[t]) / Q[t]

        def below(t: NDArray[np.intp], w: NDArray[np.float64]) -> NDArray[np.bool_]:
            return beta + gamma * u_flat[base_u + t] < c_w + w

        return _search_root(n_p * n_rows, k, root, below).reshape(n_p, n_rows)

    def expect_min(self, n: int, c: NDArray[np.float64]) -> NDArray[np.float64]:
        """:math:`F_{p,n}(c_{p,j})` for ``c`` of shape ``(P, L)``."""
        beta = self.beta[:, n : n + 1]
        gamma = float(self.gamma[n])
        if gamma <= 0:
            return self.Q[self.k] * np.minimum(beta, c)
        t = self.count((c - beta) * float(self.inv_gamma[n]))
        return (beta * self.Q.take(t) + gamma * self.U_at(t)) + c * self.Qt.take(t)


# ----------------------------------------------------------------------------- the sweep


def _sweep_batch(
    rows: _BatchRows, n_layers: int, mode: str, c_w: float, rules: tuple[str, ...]
) -> dict[str, NDArray[np.float64]]:
    """:func:`coopt.dp.fast._sweep` (one block, no kept matrices) on ``(P, ...)`` arrays."""
    n_p, size = rows.n_p, n_layers + 1
    waits, waits_inside = mode != "never", mode == "any"
    mean = rows.mean()
    do_opt, do_osla = "optimal" in rules, "osla" in rules
    w_opt = np.full((n_p, size), np.nan)
    w_osla = np.full((n_p, size), np.nan)
    if waits and n_layers > 0 and do_opt:
        w_opt[:, :n_layers] = rows.wait_roots(n_layers, c_w)
    if do_osla:
        epochs = np.arange(size)
        can_wait = (epochs < n_layers) if waits else np.zeros(size, dtype=bool)
        look_w = np.full((n_p, size), np.inf)
        if waits:
            look_w[:, can_wait] = c_w + mean[:, can_wait]
            t = rows.count_tied(look_w)
            S_t, Q_t, Qt_t = rows.partial(t)
            with np.errstate(divide="ignore", invalid="ignore"):
                w_osla[:, can_wait] = ((S_t + c_w * Qt_t) / Q_t)[:, can_wait]
        look_c = np.empty((n_p, size))
        look_c[:, :n_layers] = mean[:, 1:]
        look_c[:, n_layers] = math.inf  # never an interior epoch
        if not waits_inside:
            look_w = np.full((n_p, size), np.inf)
        t = rows.count_tied(np.minimum(look_c, look_w))
        S_t, _, Qt_t = rows.partial(t)
        computes = tied_or_less(look_c, look_w)
        slope = np.where(computes, Qt_t, 0.0)
        offset = np.where(computes, S_t, w_osla)
    ev = np.empty((n_p, size))
    eo = np.empty((n_p, size))
    for n in range(n_layers, -1, -1):
        last = n == n_layers
        if do_opt:
            if not last:
                c = ev[:, n + 1 :]
                if waits_inside:
                    c = np.minimum(c, c_w + w_opt[:, n : n + 1])
                ev[:, n + 1 :] = rows.expect_min(n, c)
            ev[:, n] = mean[:, n] if last or not waits else w_opt[:, n]
        if do_osla:
            if not last:
                a, b = offset[:, n : n + 1], slope[:, n : n + 1]
                tail = eo[:, n + 1 :]
                eo[:, n + 1 :] = np.where(b == 0.0, a, tail * b + a)
            eo[:, n] = mean[:, n] if last or not waits else w_osla[:, n]
    out: dict[str, NDArray[np.float64]] = {}
    if do_opt:
        out["optimal"] = ev
    if do_osla:
        out["osla"] = eo
    return {rule: out[rule] for rule in rules}
