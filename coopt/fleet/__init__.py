"""Many devices sharing one edge server (docs/model.md section 11, MODEL.md section 11).

* :func:`load_fleet` (:mod:`~coopt.fleet.files`): the fleet file, the one parser of a fleet;
* :mod:`~coopt.fleet.tables`: every distinct device's :math:`\\Phi_u(x, y)` on the share levels;
* :func:`~coopt.fleet.allocation.allocate`: the division of the band and the edge clock, with its
  data in :mod:`~coopt.fleet.knapsack_data` and the Pyomo MIP in :mod:`~coopt.fleet.knapsack`;
* :func:`solve_fleet` (:mod:`~coopt.fleet.solve`): tables, allocation and baselines, one
  :class:`~coopt.fleet.solve.FleetResult`; :func:`~coopt.fleet.simulate.simulate_fleet`.

Importing this package does not import Pyomo, nor its modules until a name is used: the
parser (``coopt.fleet.files``) is what ``coopt solve`` reads first, to tell a fleet file.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "Fleet": "coopt.fleet.files",
    "load_fleet": "coopt.fleet.files",
    "FleetResult": "coopt.fleet.solve",
    "solve_fleet": "coopt.fleet.solve",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'coopt.fleet' has no attribute {name!r}")
    return getattr(import_module(_EXPORTS[name]), name)
