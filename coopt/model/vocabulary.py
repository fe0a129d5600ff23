"""The one vocabulary of names: rules, wait modes, methods and policies.

Each name a user types (``placement.rule = "osla"``, ``--method mip``,
``coopt simulate --policy static``) or reads (a JSON key, a report's label, a figure's
legend) is spelt here once. The members are :class:`~enum.StrEnum` members, so they *are*
their strings: ``Policy.STATIC == "static"``, ``json.dumps`` writes ``"static"`` and a
``dict`` keyed by members is looked up by the plain string too. Every table that used to
spell a policy twice (a CLI name and a JSON key, a label per report) reads it from here,
and every ``choices=`` of the CLI is ``tuple(Method)`` or the like.

Plain data: importing this module imports nothing but :mod:`enum`.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["Allocation", "FleetBaseline", "Method", "Policy", "Rule", "WaitMode"]


class _Name(StrEnum):
    """A name that is its string, in ``repr`` too (argparse's and our error messages quote
    choices with ``repr``: they read ``'osla'``, never ``<Rule.OSLA: 'osla'>``)."""

    def __repr__(self) -> str:
        return repr(self.value)


class Rule(_Name):
    """The stopping rule of docs/model.md section 5 (``placement.rule``)."""

    OPTIMAL = "optimal"
    OSLA = "osla"


class WaitMode(_Name):
    """When the device may wait for a better channel (``wait.mode``, docs/model.md 3)."""

    NEVER = "never"
    LAST = "last"
    ANY = "any"


class Method(_Name):
    """How a single instance is solved (``coopt solve --method``)."""

    ENUMERATION = "enumeration"
    MIP = "mip"
    CLOSED_FORM = "closed-form"


class Policy(_Name):
    """The joint optimum and the baselines of docs/model.md section 7.

    The value is the name ``coopt simulate --policy`` and a sweep's ``simulate.policies``
    take; :attr:`key` is the policy's key in ``SolveResult.baselines`` and the JSON
    (``None`` for the optimum itself); :attr:`label` is what reports and legends print.
    """

    key: str | None
    label: str

    def __new__(cls, value: str, key: str | None = None, label: str = "") -> Policy:
        member = str.__new__(cls, value)
        member._value_ = value
        member.key = key
        member.label = label
        return member

    OPTIMAL = ("optimal", None, "joint optimum")
    OSLA = ("osla", "osla", "OSLA")
    STATIC = ("static", "static_split", "static split")
    EDGE_ONLY = ("edge-only", "edge_only", "edge-only")
    DEVICE_ONLY = ("device-only", "device_only", "device-only")
    FULL_PLACEMENT = ("full-placement", "full_placement", "full placement")


class Allocation(_Name):
    """How a fleet's shares are allocated (``coopt solve FLEET --allocation``, docs/model.md 11)."""

    AUTO = "auto"
    MIP = "mip"
    LAGRANGIAN = "lagrangian"
    EXACT = "exact"
    BRUTE_FORCE = "brute_force"


class FleetBaseline(_Name):
    """A fleet's baselines (docs/model.md 11): the value is the JSON key, :attr:`label` the text."""

    label: str

    def __new__(cls, value: str, label: str = "") -> FleetBaseline:
        member = str.__new__(cls, value)
        member._value_ = value
        member.label = label
        return member

    EQUAL_SHARES = ("equal_shares", "equal shares")
    ALONE = ("alone", "alone")
    DEVICE_ONLY = ("device_only", "device-only")
    INDEPENDENT_SPLITS = ("independent_splits", "independent splits")
    ALTERNATING = ("alternating", "alternating")
