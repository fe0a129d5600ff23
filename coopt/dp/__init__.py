"""Dynamic programming (NumPy only): backward induction, OSLA and policy evaluation
(:mod:`~coopt.dp.stopping`), the one-sweep solver for every placement
(:mod:`~coopt.dp.fast`), placement enumeration and the baselines
(:mod:`~coopt.dp.placement`, :mod:`~coopt.dp.enumeration`), QoS bounds and their
Lagrangian (:mod:`~coopt.dp.constraints`), and the result every method returns
(:mod:`~coopt.dp.results`). docs/model.md sections 4-6."""
