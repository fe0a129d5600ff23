"""Many devices sharing one edge server (docs/model.md, MODEL.md section 11): the allocation of
the band and the edge clock (:mod:`~coopt.fleet.allocation`, with its data in
:mod:`~coopt.fleet.knapsack_data` and the Pyomo MIP in :mod:`~coopt.fleet.knapsack`).
Importing this package does not import Pyomo."""
