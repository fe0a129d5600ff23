"""Exceptions raised by coopt.

Every error a user can cause derives from :class:`CooptError` and from the builtin
exception it resembles, so callers may catch either. The command-line interface
prints ``str(error)`` as one line and exits with :attr:`CooptError.exit_code`:
2 for bad input or a missing solver, 1 when the problem has no solution.
"""

from __future__ import annotations


class CooptError(Exception):
    """Base class of every error coopt reports to a user."""

    exit_code: int = 2


class InstanceError(ValueError, CooptError):
    """An instance file, a profile or an argument is malformed or out of range."""

    exit_code = 2


class ProfileError(InstanceError):
    """A DNN layer profile is unknown or malformed."""


class SolverUnavailableError(RuntimeError, CooptError):
    """A required solver (HiGHS) or optional dependency is not installed."""

    exit_code = 2


class NoSolutionError(RuntimeError, CooptError):
    """The problem is infeasible, or the solver stopped without any solution."""

    exit_code = 1
