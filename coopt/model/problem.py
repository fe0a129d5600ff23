"""The numbers every method starts from: an instance with its cost model, its finite
channel and the stop-cost table ``Y[n, k]`` (docs/model.md sections 2 and 3)."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import NDArray

from coopt.model.channel import Channel, build_channel
from coopt.model.costs import CostModel, check_finite, cost_model, feasible_placements
from coopt.model.fading import correlate
from coopt.model.instance import Instance


@dataclass(frozen=True, eq=False)
class Problem:
    """An instance with its derived numbers: the cost model, the finite channel and
    the stop-cost table ``Y`` of shape ``(N + 1, K)``."""

    instance: Instance
    costs: CostModel
    channel: Channel
    Y: NDArray[np.float64]

    def with_rule(self, rule: str) -> Problem:
        """The same problem under ``placement.rule = rule``: nothing derived depends on the rule."""
        return replace(self, instance=self.instance.with_rule(rule))

    @property
    def placements(self) -> list[int]:
        """Feasible placements under the memory limit."""
        return feasible_placements(self.costs, self.instance.placement.memory_bits)


def prepare(instance: Instance, states: int | None = None, channel: Channel | None = None) -> Problem:
    """Derive the cost model, the channel (``states`` overrides ``channel.states``) and ``Y``.

    A time-correlated channel (docs/model.md 10.4) needs the layers' computing times and the
    slot, so it is completed here with the cost model, once the costs are known finite.
    ``channel`` is a channel already prepared for this instance's channel, layer times and
    slot (a fleet's share levels change none of them): it is used as it is."""
    base = build_channel(instance.channel, states) if channel is None else channel
    # Overflow here is bad input: computed silently, then named by check_finite.
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        costs = cost_model(instance)
        rates = costs.rate_bps(base.gains)
        Y = costs.stop_cost(base.gains)
    check_finite(costs, rates, Y, instance)
    if channel is None:
        channel = correlate(base, costs.layer_time_s, instance.wait.slot_s)
    return Problem(instance, costs, channel, Y)
