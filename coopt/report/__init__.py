"""What users read: the text report of a solve (:mod:`~coopt.report.text`), the policy
comparison across instances (:mod:`~coopt.report.compare`) and the figures
(:mod:`~coopt.report.figures`)."""
