"""SymPy: the derivations of the thresholds, the waiting fixed point and OSLA
(:mod:`~coopt.symbolic.derive`), the closed-form placement of the equal-neuron MLP
(:mod:`~coopt.symbolic.closed_form`) and the LaTeX documents
(:mod:`~coopt.symbolic.latex`). Importing this package does not import SymPy."""
