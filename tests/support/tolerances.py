"""The tolerances the tests share.

Each test module names its own tolerances beside what they compare (HiGHS against the DP,
float32 kernels, cancellation in a closed form); the one every module needs is here.
"""

RTOL_EXACT = 1e-12
"""Two exact computations of the same value, the same arithmetic in another order (docs/model.md's
relative tolerance of ties)."""
