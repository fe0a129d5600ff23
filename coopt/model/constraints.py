"""The optional ``[constraints]`` table of an instance: QoS bounds on the expected task
latency and the expected device energy (docs/model.md section 5, the MIP), parsed once by
:func:`coopt.model.instance.parse_instance` into :attr:`Instance.constraints`.

Which methods can impose them, and how, is :mod:`coopt.dp.constraints` (the Lagrangian
certificate) and :mod:`coopt.mip.formulation` (the QoS rows).
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass
from typing import Any

from coopt.errors import InstanceError

KEYS = ("max_latency_s", "max_energy_j")
UNITS = {"max_latency_s": "s", "max_energy_j": "J"}


@dataclass(frozen=True)
class QoS:
    """Bounds of the ``[constraints]`` table (``None``: no bound).

    Attributes
    ----------
    max_latency_s : float or None
        Bound on the expected task latency (s).
    max_energy_j : float or None
        Bound on the expected device energy per task (J).
    """

    max_latency_s: float | None = None
    max_energy_j: float | None = None

    @property
    def active(self) -> tuple[str, ...]:
        """Names of the bounds that are set, in :data:`KEYS` order."""
        return tuple(k for k in KEYS if getattr(self, k) is not None)

    def bound(self, key: str) -> float:
        value = getattr(self, key)
        if value is None:
            raise KeyError(key)
        return float(value)


def parse_constraints(raw: Any) -> QoS | None:
    """Validate the value of an instance's ``[constraints]`` table (``None`` when absent).

    Returns ``None`` when the table is absent or empty.

    Raises
    ------
    InstanceError
        One line naming the key and value: an unknown key (with the closest valid
        key suggested) or a bound that is not a finite number > 0.
    """
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise InstanceError(f"constraints = {raw!r}: must be a table [constraints]")
    for key in raw:
        if key not in KEYS:
            close = difflib.get_close_matches(key, KEYS, n=1, cutoff=0.5)
            hint = f"; did you mean {close[0]!r}?" if close else f"; valid keys: {', '.join(KEYS)}"
            raise InstanceError(f"constraints.{key}: unknown key{hint}")
    values: dict[str, float] = {}
    for key, value in raw.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise InstanceError(f"constraints.{key} = {value!r}: must be a finite number > 0 ({UNITS[key]})")
        if value <= 0:
            raise InstanceError(f"constraints.{key} = {value!r}: must be > 0 ({UNITS[key]})")
        values[key] = float(value)
    if not values:
        return None
    return QoS(**values)


__all__ = ["KEYS", "UNITS", "QoS", "parse_constraints"]
