"""Many devices sharing one edge server (docs/model.md section 11, MODEL.md section 11).

* :func:`load_fleet` (:mod:`~coopt.fleet.files`): the fleet file, the one parser of a fleet;
* :mod:`~coopt.fleet.tables`: every distinct device's :math:`\\Phi_u(x, y)` on the share levels;
* :func:`~coopt.fleet.allocation.allocate`: the division of the band and the edge clock, with its
  data in :mod:`~coopt.fleet.knapsack_data` and the Pyomo MIP in :mod:`~coopt.fleet.knapsack`;
* :func:`solve_fleet` (:mod:`~coopt.fleet.solve`): tables, allocation and baselines, one
  :class:`~coopt.fleet.solve.FleetResult`; :func:`~coopt.fleet.simulate.simulate_fleet`.

Importing this package does not import Pyomo.
"""

from coopt.fleet.files import Fleet, load_fleet
from coopt.fleet.solve import FleetResult, solve_fleet

__all__ = ["Fleet", "FleetResult", "load_fleet", "solve_fleet"]
