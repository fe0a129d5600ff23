r"""The square-root rule of a fleet (MODEL.md 11), derived with SymPy.

For fixed splits and with the noise scaling neglected, device :math:`u`'s cost at shares
:math:`(x_u, y_u)` is :math:`\xi_u / x_u + \zeta_u / y_u` plus a constant: its upload time
and energy scale with :math:`1/x_u` (the rate is :math:`x_u B \log_2(1 + \rho h)`), its edge
time with :math:`1/y_u` (:math:`b_i = w_T c_E \mu_i / (y_u f_E)`). The continuous allocation

    min  sum_u xi_u / x_u + zeta_u / y_u    s.t.  sum_u x_u <= 1,  sum_u y_u <= 1,  x, y > 0

is convex (each term is convex on the positive axis), so the KKT conditions are sufficient.
Stationarity of the Lagrangian in :math:`x_u` gives :math:`x_u = \sqrt{\xi_u / \lambda_B}`;
every term falls as its share grows, so both capacities bind, and :math:`\sum_u x_u = 1`
gives :math:`\lambda_B = (\sum_u \sqrt{\xi_u})^2`, hence the square-root rule

    x_u = sqrt(xi_u) / sum_v sqrt(xi_v),    y_u = sqrt(zeta_u) / sum_v sqrt(zeta_v),

and the optimum :math:`F^* = (\sum_u \sqrt{\xi_u})^2 + (\sum_u \sqrt{\zeta_u})^2`; the
multipliers :math:`\lambda_B, \lambda_E` are the prices of the whole band and the whole edge
(with capacity :math:`C` instead of 1, :math:`F^* = S^2 / C` and :math:`-dF^*/dC = S^2`).

:func:`square_root_rule` derives all of it (no ``simplify()``: the sums' factors are pulled out
with ``as_independent``), :func:`fleet_derivation` is the ``coopt derive fleet`` document and
:func:`square_root_allocation` evaluates the rule with ``lambdify``. The tests compare it with
``scipy.optimize`` and with the grid optimum of :func:`coopt.fleet.allocation.allocate`
(method ``exact``) as the levels are refined.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np
import sympy as sp
from numpy.typing import ArrayLike, NDArray

from coopt.symbolic.derive import Derivation, Step, _declare, _indexed

u = _declare("u", "u", "device index of the fleet", "", integer=True, positive=True)
U_f = _declare("U_f", "U_{f}", "number of devices in the fleet", "", integer=True, positive=True)
xi = _indexed(
    "xi",
    r"\xi",
    r"the part of device $u$'s cost that scales with $1/x_{u}$, at the whole band ($x_{u} = 1$)",
    "1",
    positive=True,
)
zeta = _indexed(
    "zeta",
    r"\zeta",
    r"the part of device $u$'s cost that scales with $1/y_{u}$, at the whole edge clock ($y_{u} = 1$)",
    "1",
    positive=True,
)
x_s = _indexed("x_s", "x", "share of the band of device $u$", "1", positive=True)
y_s = _indexed("y_s", "y", "share of the edge clock of device $u$", "1", positive=True)
lam_B = _declare(
    "lam_B", r"\lambda_{B}", r"price of the whole band (multiplier of $\sum_{u} x_{u} \le 1$)", "1", positive=True
)
lam_E = _declare(
    "lam_E", r"\lambda_{E}", r"price of the whole edge clock (multiplier of $\sum_{u} y_{u} \le 1$)", "1", positive=True
)
S_xi = _declare("S_xi", r"S_{\xi}", r"$\sum_{u} \sqrt{\xi_{u}}$ over the devices", "1", positive=True)
S_zeta = _declare("S_zeta", r"S_{\zeta}", r"$\sum_{u} \sqrt{\zeta_{u}}$ over the devices", "1", positive=True)


@dataclass(frozen=True)
class SquareRootRule:
    """The derived pieces (expressions in :data:`xi`, :data:`zeta` indexed by :data:`u`)."""

    objective: sp.Expr  # sum_u xi_u / x_u + zeta_u / y_u
    lagrangian: sp.Expr
    stationarity_x: sp.Eq  # d L / d x_u = 0
    share_x_of_price: sp.Expr  # x_u as a function of lam_B
    capacity_x: sp.Eq  # sum_u x_u(lam_B) = 1
    price_x: sp.Expr  # lam_B* = S_xi^2
    share_x: sp.Expr  # x_u* = sqrt(xi_u) / S_xi (S_xi the symbol)
    share_y: sp.Expr
    optimum: sp.Expr  # S_xi^2 + S_zeta^2


def _pull(expr: sp.Expr) -> tuple[sp.Expr, sp.Expr]:
    """``expr = factor * f(u)`` with ``factor`` free of :data:`u`."""
    factor, rest = expr.as_independent(u, as_Add=False)
    return factor, rest


@cache
def square_root_rule() -> SquareRootRule:
    """Derive the rule (module docstring): Lagrangian, stationarity, the binding capacity, the optimum."""
    per_device = xi[u] / x_s[u] + zeta[u] / y_s[u]
    objective = sp.Sum(per_device, (u, 1, U_f))
    lagrangian = objective + lam_B * (sp.Sum(x_s[u], (u, 1, U_f)) - 1) + lam_E * (sp.Sum(y_s[u], (u, 1, U_f)) - 1)
    # stationarity: the u-th term of the Lagrangian (the sums are separable over devices)
    term = per_device + lam_B * x_s[u] + lam_E * y_s[u]
    dx = sp.diff(term, x_s[u])
    (x_of_lam,) = sp.solve(sp.Eq(dx, 0), x_s[u])
    factor, root = _pull(x_of_lam)  # 1/sqrt(lam_B) * sqrt(xi_u)
    capacity = sp.Eq(factor * sp.Sum(root, (u, 1, U_f)), 1)
    (price,) = sp.solve(capacity.subs(sp.Sum(root, (u, 1, U_f)), S_xi), lam_B)
    share_x = x_of_lam.subs(lam_B, price)
    dy = sp.diff(term, y_s[u])
    (y_of_lam,) = sp.solve(sp.Eq(dy, 0), y_s[u])
    _, root_y = _pull(y_of_lam)
    (price_y,) = sp.solve(sp.Eq(_pull(y_of_lam)[0] * S_zeta, 1), lam_E)
    share_y = y_of_lam.subs(lam_E, price_y)
    # the optimum: each term is sqrt(xi_u) S_xi, and S_xi pulls out of the sum
    fx, gx = _pull(sp.powsimp(xi[u] / share_x, force=True))
    fy, gy = _pull(sp.powsimp(zeta[u] / share_y, force=True))
    optimum = fx * sp.Sum(gx, (u, 1, U_f)) + fy * sp.Sum(gy, (u, 1, U_f))
    optimum = optimum.subs({sp.Sum(root, (u, 1, U_f)): S_xi, sp.Sum(root_y, (u, 1, U_f)): S_zeta})
    return SquareRootRule(
        objective=objective,
        lagrangian=lagrangian,
        stationarity_x=sp.Eq(dx, 0),
        share_x_of_price=x_of_lam,
        capacity_x=capacity,
        price_x=price,
        share_x=share_x,
        share_y=share_y,
        optimum=optimum,
    )


@dataclass(frozen=True, eq=False)
class SquareRootAllocation:
    """The continuous optimum: shares ``x, y`` (U,), the value ``F*`` and the prices."""

    x: NDArray[np.float64]
    y: NDArray[np.float64]
    objective: float
    prices: tuple[float, float]


def square_root_allocation(a: ArrayLike, b: ArrayLike) -> SquareRootAllocation:
    """The rule evaluated with ``lambdify`` at :math:`\\xi = a`, :math:`\\zeta = b` (both > 0)."""
    rule = square_root_rule()
    av, bv = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if av.shape != bv.shape or av.ndim != 1 or not (np.all(av > 0) and np.all(bv > 0)):
        from coopt.errors import InstanceError

        raise InstanceError("square_root_allocation: a and b must be equal-length lists of numbers > 0")
    xu, yu = sp.Symbol("xi_u", positive=True), sp.Symbol("zeta_u", positive=True)
    share_x = sp.lambdify((xu, S_xi), rule.share_x.subs(xi[u], xu), "numpy")
    share_y = sp.lambdify((yu, S_zeta), rule.share_y.subs(zeta[u], yu), "numpy")
    value = sp.lambdify((S_xi, S_zeta), rule.optimum, "numpy")
    price = sp.lambdify(S_xi, rule.price_x, "numpy")
    sa, sb = float(np.sqrt(av).sum()), float(np.sqrt(bv).sum())
    return SquareRootAllocation(
        x=np.asarray(share_x(av, sa), dtype=np.float64),
        y=np.asarray(share_y(bv, sb), dtype=np.float64),
        objective=float(value(sa, sb)),
        prices=(float(price(sa)), float(price(sb))),
    )


def fleet_derivation() -> Derivation:
    """``coopt derive fleet``: the square-root rule of the continuous fleet allocation."""
    r = square_root_rule()
    return Derivation(
        "fleet",
        "A fleet: the square-root rule of the continuous allocation",
        "With the splits fixed and the noise scaling neglected, device $u$ of $U_{f}$ costs "
        "$\\xi_{u}/x_{u} + \\zeta_{u}/y_{u}$ (plus a constant) at shares $x_{u}$ of the band and $y_{u}$ of "
        "the edge clock: upload time and energy scale with $1/x_{u}$, edge time with $1/y_{u}$. The continuous "
        "allocation minimises the sum subject to $\\sum_{u} x_{u} \\le 1$ and $\\sum_{u} y_{u} \\le 1$; it is "
        "convex, so the KKT conditions are sufficient.",
        (
            Step("The objective and its Lagrangian:", "F", r.objective),
            Step("", r"\mathcal{L}", r.lagrangian),
            Step("Stationarity in $x_{u}$ (the Lagrangian is separable over the devices):", "", r.stationarity_x),
            Step("so that", "x_{u}", r.share_x_of_price),
            Step(
                "Every term falls as its share grows, so the band constraint binds ($\\lambda_{B} > 0$):",
                "",
                r.capacity_x,
            ),
            Step("With the sum written $S_{\\xi}$ (and $S_{\\zeta}$ for the edge),", r"\lambda_{B}", r.price_x),
            Step(
                "which gives the square-root rule: each device's share is proportional to the square root "
                "of its cost at the whole resource,",
                "x_{u}",
                r.share_x,
            ),
            Step("", "y_{u}", r.share_y),
            Step("Substituted into the objective, the optimum is", "F^{*}", r.optimum),
            Step(
                "With a capacity $C$ in place of 1 the shares scale by $C$ and $F^{*}$ falls as $1/C$, so "
                "$-dF^{*}/dC = \\lambda_{B}$ at $C = 1$: the multipliers are the prices of the whole band and "
                "the whole edge clock. coopt's allocation on finite levels (MODEL.md section 11) approaches this "
                "optimum as the levels are refined."
            ),
        ),
    )


__all__ = ["SquareRootAllocation", "SquareRootRule", "fleet_derivation", "square_root_allocation", "square_root_rule"]
