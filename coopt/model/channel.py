r"""Fading channels: continuous laws, their quantisation, finite and Markov chains.

Block fading (docs/model.md section 3): the power gain :math:`h` is constant during one
decision epoch (a layer's computation or a waiting slot) and redrawn for the next.

Quantisation of a continuous law with CDF :math:`F` into :math:`K` states uses the
equiprobable bins :math:`[F^{-1}(j/K), F^{-1}((j+1)/K))`, each with probability
:math:`1/K` and gain equal to the conditional mean
:math:`g_j = K\,\mathbb{E}[h;\,h \in \text{bin}_j]`. Closed forms:

* Rayleigh, :math:`h \sim \mathrm{Exp}(\bar h)`:
  :math:`\mathbb{E}[h; a<h<b] = (a+\bar h)e^{-a/\bar h} - (b+\bar h)e^{-b/\bar h}`.
* Nakagami-:math:`m`, :math:`h \sim \Gamma(m, \bar h/m)`: since
  :math:`h f_m(h) = \bar h f_{m+1}(h)`,
  :math:`\mathbb{E}[h; a<h<b] = \bar h\,[P(m+1, mb/\bar h) - P(m+1, ma/\bar h)]`
  with the regularised lower incomplete gamma :math:`P`.
* Rician with K-factor :math:`\kappa_R = \nu^2/(2\sigma^2)`: :math:`h = \sigma^2 X`
  with :math:`X \sim \chi'^2_2(\lambda)`, :math:`\lambda = 2\kappa_R`,
  :math:`\sigma^2 = \bar h / (2(\kappa_R+1))`, and the identity
  :math:`x f_k(x;\lambda) = k f_{k+2}(x;\lambda) + \lambda f_{k+4}(x;\lambda)` gives
  :math:`\mathbb{E}[X; a<X<b] = 2\Delta F_4 + \lambda \Delta F_6`.

Differences of CDFs are taken on survival functions in the upper half, where the CDF
is close to 1 and its differences would cancel.

States are always sorted by increasing gain (a Markov chain's transition matrix is
permuted accordingly), the order every solver and every output uses.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from coopt.errors import InstanceError
from coopt.model.instance import ChannelSpec


@dataclass(frozen=True, eq=False)
class Channel:
    """A finite channel as every solver sees it.

    Solvers read matrices only through :meth:`step` and :meth:`wait_step`, and tell a
    chain from an i.i.d. channel by :attr:`is_markov` (not by ``transition is None``).

    Attributes
    ----------
    gains : NDArray[np.float64]
        Power gains of the ``K`` states, shape ``(K,)``, non-decreasing.
    initial : NDArray[np.float64]
        Distribution of the state at epoch 0, shape ``(K,)``. For an i.i.d. channel it
        is also the distribution at every later epoch and slot.
    transition : NDArray[np.float64] or None
        Row-stochastic ``(K, K)`` matrix of a homogeneous Markov channel (applied once
        per epoch and once per waiting slot); ``None`` for an i.i.d. channel and for a
        time-inhomogeneous one.
    spec : ChannelSpec
        The instance's ``[channel]`` table this channel was built from.
    epoch_transitions : NDArray[np.float64] or None
        ``(N, K, K)``: the matrices :math:`P_n` from epoch ``n`` to ``n + 1`` of a
        time-inhomogeneous chain (time-correlated fading, docs/model.md section 10.4, built by
        :func:`coopt.model.fading.correlate`); ``None`` otherwise.
    slot_transition : NDArray[np.float64] or None
        ``(K, K)``: :math:`P_w`, one waiting slot of that chain (``None`` without a slot).
    """

    gains: NDArray[np.float64]
    initial: NDArray[np.float64]
    transition: NDArray[np.float64] | None
    spec: ChannelSpec
    epoch_transitions: NDArray[np.float64] | None = None
    slot_transition: NDArray[np.float64] | None = None

    @property
    def n_states(self) -> int:
        return int(self.gains.shape[0])

    @property
    def is_markov(self) -> bool:
        """Whether the state is carried from epoch to epoch (a homogeneous or a
        time-inhomogeneous chain); ``False`` for an i.i.d. channel."""
        return self.transition is not None or self.epoch_transitions is not None

    @property
    def probs(self) -> NDArray[np.float64]:
        """State probabilities of an i.i.d. channel (``initial``)."""
        return self.initial

    def step(self, n: int) -> NDArray[np.float64] | None:
        """The ``(K, K)`` transition matrix applied from epoch ``n`` to epoch ``n + 1``
        (``None`` for an i.i.d. channel). Solvers ask for it per epoch, so that a
        time-inhomogeneous chain (docs/model.md section 10.4) needs no other change."""
        if self.epoch_transitions is not None:
            return self.epoch_transitions[n]
        return self.transition

    def wait_step(self) -> NDArray[np.float64] | None:
        """The ``(K, K)`` transition matrix of one waiting slot (``None`` for i.i.d.)."""
        if self.epoch_transitions is not None:
            if self.slot_transition is None:
                raise ValueError("this correlated channel has no waiting slot (wait.slot_s)")
            return self.slot_transition
        return self.transition

    def distributions(self, n_max: int) -> NDArray[np.float64]:
        """``(n_max + 1, K)``: the distributions at epochs ``0..n_max`` with no waiting,
        one step after the other (not one matrix power per epoch)."""
        dists = np.empty((n_max + 1, self.n_states))
        dists[0] = self.initial
        for i in range(n_max):
            step = self.step(i)
            dists[i + 1] = dists[i] if step is None else dists[i] @ step
        return dists


def closed_classes(transition: NDArray[np.float64]) -> list[list[int]]:
    """The closed communicating classes of a finite chain, as sorted state indices.

    Found on the zero pattern of ``transition`` alone (a link of ``1e-300`` joins two
    states as surely as one of ``0.5``): state ``i`` is in a closed class when every
    state it can reach can reach it back. Classes are listed by their smallest index.
    """
    k = transition.shape[0]
    reach = (transition > 0) | np.eye(k, dtype=bool)
    while True:  # transitive closure by repeated squaring: at most log2(K) products
        closure = reach | ((reach.astype(np.float64) @ reach.astype(np.float64)) > 0)
        if np.array_equal(closure, reach):
            break
        reach = closure
    recurrent = np.all(reach.T | ~reach, axis=1)  # i -> j implies j -> i
    classes: list[list[int]] = []
    seen = np.zeros(k, dtype=bool)
    for i in np.flatnonzero(recurrent):
        if not seen[i]:
            members = np.flatnonzero(reach[i])
            seen[members] = True
            classes.append([int(j) for j in members])
    return classes


def stationary_distribution(
    transition: NDArray[np.float64], gains: NDArray[np.float64] | None = None
) -> NDArray[np.float64]:
    r"""Stationary distribution :math:`\pi = \pi P` of a row-stochastic matrix.

    A chain with one closed class has exactly one: it is zero on the transient states
    and, on the class, computed by the Grassmann-Taksar-Heyman (GTH) elimination. GTH
    removes states one by one, folding each into the others with
    :math:`P_{ij} \mathrel{+}= P_{ik} P_{kj} / s_k`, :math:`s_k = \sum_{j<k} P_{kj}`,
    and back-substitutes :math:`\pi_k = \sum_{i<k} \pi_i P_{ik} / s_k`. Only sums and
    products of non-negative numbers occur (the diagonal, :math:`1 - \sum_{j \ne i}
    P_{ij}`, is never used), so every component has a small relative error however
    nearly decomposable the chain is (links of ``1e-300`` included), where a linear
    solve of :math:`\pi (P - I) = 0` loses about :math:`\log_{10}` of the condition
    number in digits.

    Parameters
    ----------
    transition : NDArray[np.float64]
        Row-stochastic ``(K, K)`` matrix.
    gains : NDArray[np.float64], optional
        The states' gains ``(K,)``, in the same order, to name them in the error.

    Raises
    ------
    InstanceError
        The chain has several closed classes, so the stationary law (the default
        ``channel.initial``) is not unique; the message names the classes.
    """
    k = transition.shape[0]
    classes = closed_classes(transition)
    if len(classes) > 1:

        def name(c: list[int]) -> str:
            where = "states " + ", ".join(str(i) for i in c)
            return where if gains is None else f"{where} (gains {', '.join(f'{gains[i]:g}' for i in c)})"

        raise InstanceError(
            f"channel.transition: the chain has {len(classes)} closed classes, "
            + "; ".join(name(c) for c in classes)
            + " (0-based, in the order of channel.gains), so its stationary distribution is not unique; "
            "give channel.initial"
        )
    members = classes[0]
    pi = np.zeros(k)
    pi[members] = _gth(transition[np.ix_(members, members)])
    return pi


def _gth(transition: NDArray[np.float64]) -> NDArray[np.float64]:
    """GTH elimination (see :func:`stationary_distribution`) of an irreducible chain."""
    a = np.array(transition, dtype=np.float64)
    k = a.shape[0]
    for n in range(k - 1, 0, -1):
        s = a[n, :n].sum()  # > 0 in exact arithmetic: an irreducible chain leaves {n..K-1}
        if not s > 0:
            raise InstanceError(
                "channel.transition: the chain's links between states are so weak that their products "
                "underflow double precision (below about 1e-308); give channel.initial"
            )
        a[:n, n] /= s
        a[:n, :n] += np.outer(a[:n, n], a[n, :n])
    pi = np.zeros(k)
    pi[0] = 1.0
    for n in range(1, k):
        pi[n] = pi[:n] @ a[:n, n]
    return pi / pi.sum()


def quantise(spec: ChannelSpec, states: int | None = None) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Quantise a continuous law into equiprobable conditional-mean states.

    Returns ``(gains, probs)`` of shape ``(K,)`` with ``K = states or spec.states``.
    """
    k = spec.states if states is None else int(states)
    mean = float(spec.mean_gain)  # type: ignore[arg-type]
    u = np.arange(k + 1) / k
    if spec.law == "rayleigh" or (spec.law == "rician" and spec.k_factor == 0):
        with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
            edges = -mean * np.log1p(-u)  # u = 1 gives the last edge +inf
            tail = np.where(np.isinf(edges), 0.0, (edges + mean) * np.exp(-edges / mean))
        partial = tail[:-1] - tail[1:]
    elif spec.law == "nakagami":
        from scipy import special

        m = float(spec.m)  # type: ignore[arg-type]
        x = special.gammaincinv(m, u)  # edges in units of mean / m
        x[-1] = np.inf
        partial = mean * _mass_between(special.gammainc(m + 1, x), special.gammaincc(m + 1, x), special.gammaincc(m, x))
    elif spec.law == "rician":
        cdf, sf, ppf = _ncx2_functions()
        kf = float(spec.k_factor)  # type: ignore[arg-type]
        lam = 2.0 * kf
        sigma2 = mean / (2.0 * (kf + 1.0))
        x = ppf(u, 2, lam)
        x[0], x[-1] = 0.0, np.inf
        upper = sf(x, 2, lam)
        f4 = _mass_between(cdf(x, 4, lam), sf(x, 4, lam), upper)
        f6 = _mass_between(cdf(x, 6, lam), sf(x, 6, lam), upper)
        partial = sigma2 * (2.0 * f4 + lam * f6)
    else:
        raise InstanceError(f"channel.law = {spec.law!r}: not a continuous law")
    gains = k * partial
    return gains, np.full(k, 1.0 / k)


def _ncx2_functions():
    """CDF, survival function and quantile ``f(x, df, nc)`` of the noncentral chi-square law.

    The same scipy.special functions that ``scipy.stats.ncx2`` calls for ``nc > 0``
    (``chndtr``, ``chndtrix`` and Boost's ``_ncx2_sf``), with its values at the support's
    ends, but without importing ``scipy.stats`` (about 0.7 s, longer than the rest of
    ``coopt solve``). Falls back to ``scipy.stats`` if the private ``_ncx2_sf`` is gone.
    """
    from scipy import special

    try:
        from scipy.special._ufuncs import _ncx2_sf
    except ImportError:  # pragma: no cover - another SciPy layout
        from scipy import stats

        return stats.ncx2.cdf, stats.ncx2.sf, stats.ncx2.ppf

    def cdf(x: NDArray[np.float64], df: float, nc: float) -> NDArray[np.float64]:
        return np.where(x <= 0, 0.0, np.where(np.isposinf(x), 1.0, special.chndtr(x, df, nc)))

    def sf(x: NDArray[np.float64], df: float, nc: float) -> NDArray[np.float64]:
        with np.errstate(invalid="ignore"):
            return np.where(x <= 0, 1.0, np.where(np.isposinf(x), 0.0, _ncx2_sf(x, df, nc)))

    return cdf, sf, special.chndtrix


def _mass_between(cdf: NDArray[np.float64], sf: NDArray[np.float64], upper: NDArray[np.float64]) -> NDArray[np.float64]:
    """Mass of consecutive bins, from the CDF below the median and the survival above.

    ``upper`` is the survival function of the quantised law itself at the edges; it
    chooses per bin which form is free of cancellation.
    """
    lower_half = upper[:-1] > 0.5
    return np.where(lower_half, cdf[1:] - cdf[:-1], sf[:-1] - sf[1:])


def build_channel(spec: ChannelSpec, states: int | None = None) -> Channel:
    """The finite channel every solver uses for an instance's ``[channel]`` table.

    Continuous laws are quantised (``states`` overrides ``spec.states``); ``finite``
    and ``markov`` gains are sorted increasingly (the Markov matrix with them).
    """
    if spec.is_continuous:
        gains, probs = quantise(spec, states)
        return Channel(gains=gains, initial=probs, transition=None, spec=spec)
    gains = np.asarray(spec.gains, dtype=np.float64)
    order = np.argsort(gains, kind="stable")
    if spec.law == "finite":
        probs = np.asarray(spec.probs, dtype=np.float64)[order]
        return Channel(gains=gains[order], initial=probs, transition=None, spec=spec)
    given = np.asarray(spec.transition, dtype=np.float64)
    transition = given[np.ix_(order, order)]
    if spec.initial is None:
        # In the user's order, so that an error names the states as the file lists them.
        initial = stationary_distribution(given, gains)[order]
    else:
        initial = np.asarray(spec.initial, dtype=np.float64)[order]
    return Channel(gains=gains[order], initial=initial, transition=transition, spec=spec)
