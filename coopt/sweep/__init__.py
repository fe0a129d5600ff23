"""Parameter studies: sweep specs, the results store, and the engines that run them.

:func:`load_sweep_table` reads a finished (or interrupted) sweep's table back as a
:class:`SweepTable` (text, a notebook's HTML view, a pandas DataFrame)."""

from coopt.sweep.table import SweepTable, load_sweep_table

__all__ = ["SweepTable", "load_sweep_table"]
