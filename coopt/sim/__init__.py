"""Monte Carlo simulation of policies (:mod:`~coopt.sim.simulate`) and exact values on
the continuous fading laws by quadrature (:mod:`~coopt.sim.continuous`). docs/model.md
section 7."""
