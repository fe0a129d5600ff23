"""What the tests share: paths, instances, tolerances, builders (no test module imports another)."""
