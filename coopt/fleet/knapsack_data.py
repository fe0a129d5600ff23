r"""The data of the fleet allocation (MODEL.md 11), in plain NumPy: validated tables and the pairs.

:func:`knapsack_data` checks the inputs of every allocation method once and flattens them:
the level pairs :math:`p = (i, j)` of :math:`X \times Y` in row-major order
(:math:`p = i \cdot \mathrm{len}(Y) + j`), with shares :math:`x_p = X_i`, :math:`y_p = Y_j`, and the weighted
costs :math:`c_{g,p} = \omega_g \Phi_g(X_i, Y_j)` (``+inf`` where :math:`\Phi_g` is
infeasible) of the :math:`G` distinct kinds, kind :math:`g` having ``counts[g]`` identical
copies. No Pyomo here (:mod:`coopt.fleet.knapsack` builds the model from this).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from coopt.errors import InstanceError, NoSolutionError
from coopt.model.vocabulary import Allocation

Method = Literal["auto", "mip", "lagrangian", "exact", "brute_force"]
METHODS: tuple[str, ...] = tuple(Allocation)
"""The allocation methods of :func:`coopt.fleet.allocation.allocate` (here, with no solver import, so
that the command line reads its choices without loading the allocation)."""
GRID_TOLERANCE = 1e-9  # a level within this of k/L is on the grid k/L
MAX_GRID = 4096  # the finest common grid the exact DP looks for


@dataclass(frozen=True, eq=False)
class KnapsackData:
    """Validated inputs of the allocation.

    Attributes
    ----------
    cost : NDArray[np.float64], shape (G, P)
        :math:`c_{g,p} = \\omega_g \\Phi_g(x_p, y_p)`, ``+inf`` where infeasible; ``P = len(X) len(Y)``.
    phi : NDArray[np.float64], shape (G, P)
        The unweighted tables, flattened the same way.
    counts : NDArray[np.int64], shape (G,)
        Copies of each kind (>= 1).
    weights : NDArray[np.float64], shape (G,)
        :math:`\\omega_g > 0`.
    x_levels, y_levels : NDArray[np.float64], shapes ``(len(X),)``, ``(len(Y),)``
        The level sets (sorted, in [0, 1]).
    x, y : NDArray[np.float64], shape (P,)
        Shares of each pair.
    """

    cost: NDArray[np.float64]
    phi: NDArray[np.float64]
    counts: NDArray[np.int64]
    weights: NDArray[np.float64]
    x_levels: NDArray[np.float64]
    y_levels: NDArray[np.float64]
    x: NDArray[np.float64]
    y: NDArray[np.float64]

    @property
    def kinds(self) -> int:
        return int(self.cost.shape[0])

    @property
    def pairs(self) -> int:
        return int(self.cost.shape[1])

    @property
    def devices(self) -> int:
        return int(self.counts.sum())

    def pair(self, p: int) -> tuple[int, int]:
        """Level indices ``(i, j)`` of pair ``p``."""
        i, j = divmod(int(p), len(self.y_levels))
        return i, j


def _levels(name: str, levels: ArrayLike) -> NDArray[np.float64]:
    arr = np.asarray(levels, dtype=np.float64)
    if arr.ndim != 1 or arr.size == 0:
        raise InstanceError(f"{name} = {levels!r}: must be a non-empty list of shares in [0, 1]")
    if not np.all(np.isfinite(arr)) or np.any(arr < 0) or np.any(arr > 1):
        raise InstanceError(f"{name} = {arr.tolist()!r}: every share must be in [0, 1]")
    if np.any(np.diff(arr) <= 0):
        raise InstanceError(f"{name} = {arr.tolist()!r}: must be strictly increasing")
    return arr


def knapsack_data(
    tables: Sequence[ArrayLike],
    counts: ArrayLike,
    weights: ArrayLike,
    x_levels: ArrayLike,
    y_levels: ArrayLike,
    *,
    check: bool = True,
) -> KnapsackData:
    """Validate and flatten the allocation inputs (module docstring).

    Raises
    ------
    InstanceError
        A malformed input (shapes, NaN, counts < 1, weights <= 0, levels outside [0, 1]).
    NoSolutionError
        Some kind has no finite entry, or even the smallest finite shares of every device
        exceed a capacity (the fleet is infeasible; see :func:`check_fits`), unless
        ``check`` is false.
    """
    xl = _levels("x_levels", x_levels)
    yl = _levels("y_levels", y_levels)
    if len(tables) == 0:
        raise InstanceError("tables = []: a fleet needs at least one device kind")
    phi = []
    for g, t in enumerate(tables):
        arr = np.asarray(t, dtype=np.float64)
        if arr.shape != (len(xl), len(yl)):
            raise InstanceError(f"tables[{g}]: shape {arr.shape} must be (|X|, |Y|) = ({len(xl)}, {len(yl)})")
        if np.any(np.isnan(arr)) or np.any(arr == -np.inf):
            raise InstanceError(f"tables[{g}]: entries must be finite numbers or +inf (infeasible)")
        phi.append(arr.reshape(-1))
    phi_arr = np.stack(phi)
    G = phi_arr.shape[0]
    cnt = np.asarray(counts)
    if cnt.shape != (G,) or not np.issubdtype(cnt.dtype, np.integer) or np.any(cnt < 1):
        raise InstanceError(f"counts = {np.asarray(counts).tolist()!r}: must be {G} integers >= 1")
    w = np.asarray(weights, dtype=np.float64)
    if w.shape != (G,) or not np.all(np.isfinite(w)) or np.any(w <= 0):
        raise InstanceError(f"weights = {np.asarray(weights).tolist()!r}: must be {G} finite numbers > 0")
    cost = w[:, None] * phi_arr
    x = np.repeat(xl, len(yl))
    y = np.tile(yl, len(xl))
    data = KnapsackData(cost, phi_arr, cnt.astype(np.int64), w, xl, yl, x, y)
    if check:
        check_fits(data)
    return data


def undominated(data: KnapsackData) -> NDArray[np.bool_]:
    """``(G, P)`` mask of the pairs worth considering: finite, and no pair with at most the
    same shares (one smaller) costs as little. Dropping the others changes no optimum
    (moving a copy to its dominating pair keeps both capacities and does not raise F), nor
    the LP relaxation, nor the Lagrangian bound."""
    nx, ny = len(data.x_levels), len(data.y_levels)
    C = data.cost.reshape(data.kinds, nx, ny)
    cm = np.minimum.accumulate(np.minimum.accumulate(C, axis=1), axis=2)
    below = np.full_like(C, np.inf)  # the least cost over pairs (i', j') <= (i, j), excluding (i, j)
    below[:, 1:, :] = cm[:, :-1, :]
    below[:, :, 1:] = np.minimum(below[:, :, 1:], cm[:, :, :-1])
    return (np.isfinite(C) & (C < below)).reshape(data.kinds, -1)


def check_fits(data: KnapsackData) -> None:
    """Raise :class:`NoSolutionError` when the fleet is infeasible for a simple reason.

    Every device needs a finite :math:`\\Phi`; a device takes at least the smallest ``x``
    and, separately, the smallest ``y`` of its finite pairs, so the fleet cannot fit when
    either sum exceeds 1. (Passing this check does not prove feasibility: the two
    capacities may still conflict; the methods then raise the same error.)
    """
    finite = np.isfinite(data.cost)
    none = np.flatnonzero(~finite.any(axis=1))
    if none.size:
        raise NoSolutionError(f"fleet infeasible: device kinds {none.tolist()} have no finite Phi at any share levels")
    min_x = np.where(finite, data.x, np.inf).min(axis=1) @ data.counts
    min_y = np.where(finite, data.y, np.inf).min(axis=1) @ data.counts
    if min_x > 1 + 1e-12 or min_y > 1 + 1e-12:
        raise NoSolutionError(infeasible_message(data, min_x, min_y))


def infeasible_message(data: KnapsackData, min_x: float | None = None, min_y: float | None = None) -> str:
    """The one line of an infeasible fleet: the kinds that cannot go device-only, or the shares."""
    zero = (data.x == 0) & (data.y == 0)
    if zero.any():
        p0 = int(np.flatnonzero(zero)[0])
        stuck = np.flatnonzero(~np.isfinite(data.cost[:, p0]))
    else:
        stuck = np.arange(data.kinds)
    what = (
        f"device kinds {stuck.tolist()} cannot run device-only (Phi(0, 0) infeasible)"
        if stuck.size
        else "every kind can run device-only but no allocation gives every device a finite Phi"
    )
    if min_x is not None and min_y is not None:
        what += f"; the smallest feasible shares sum to {min_x:.6g} of the band and {min_y:.6g} of the edge (> 1)"
    return f"fleet infeasible: no allocation meets both capacities with every Phi finite: {what}"


def grid_units(levels: NDArray[np.float64]) -> tuple[int, NDArray[np.int64]] | None:
    """``(L, k)`` with ``levels = k / L`` (the smallest such ``L <= MAX_GRID``), or ``None``."""
    dens = [Fraction(float(v)).limit_denominator(MAX_GRID).denominator for v in levels]
    L = 1
    for d in dens:
        L = L * d // math.gcd(L, d)
        if L > MAX_GRID:
            return None
    k = np.rint(levels * L)
    if np.max(np.abs(k / L - levels)) > GRID_TOLERANCE:
        return None
    return L, k.astype(np.int64)


__all__ = ["KnapsackData", "check_fits", "grid_units", "infeasible_message", "knapsack_data", "undominated"]
