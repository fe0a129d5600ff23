"""The joint placement MIP (docs/model.md section 5): its numbers in NumPy
(:mod:`~coopt.mip.data`), the Pyomo builder (:mod:`~coopt.mip.formulation`, no solve
inside), the read-back and checks of a solution without Pyomo (:mod:`~coopt.mip.solution`),
the one module that calls HiGHS (:mod:`~coopt.mip.highs`) and the method behind
``solve(method="mip")`` (:mod:`~coopt.mip.method`), whose diagnostics are a typed
:class:`~coopt.mip.report.MipReport` (:mod:`~coopt.mip.report`). Importing this package
does not import Pyomo."""

from coopt.mip.report import MipReport, PolicyCertification, QosReport, RandomisedDecision, mip_report

__all__ = ["MipReport", "PolicyCertification", "QosReport", "RandomisedDecision", "mip_report"]
