"""Entry points that take the prepared Problem (issue 20 item 5): the same answers, prepared once."""

from __future__ import annotations

import json

import numpy as np
import pytest

import coopt.report.figures as figures
from coopt import backward_induction, load_instance, osla_policy, policy_at, prepare, solve, solve_problem
from coopt.errors import InstanceError
from tests.support.instances import ROOT

EXAMPLES = ["cnn_chain.toml", "markov.toml", "mlp.toml"]


@pytest.mark.parametrize("name", EXAMPLES)
@pytest.mark.parametrize("rule", ["optimal", "osla"])
def test_solve_problem_is_solve_bit_for_bit(name: str, rule: str) -> None:
    inst = load_instance(ROOT / "data" / name)
    got = solve_problem(prepare(inst).with_rule(rule))
    assert json.dumps(got.to_dict()) == json.dumps(solve(inst, rule=rule).to_dict())


@pytest.mark.parametrize("name", EXAMPLES)
def test_policy_at_is_the_array_level_oracle(name: str) -> None:
    p = prepare(load_instance(ROOT / "data" / name))
    mode = p.instance.wait.mode
    for m in (0, p.costs.n_layers // 2, p.costs.n_layers):
        for rule, oracle in (("optimal", backward_induction), ("osla", osla_policy)):
            got, ref = policy_at(p, m, rule), oracle(p.Y, p.channel, m, mode, p.costs)
            assert got.value == ref.value and np.array_equal(got.actions, ref.actions)
    with pytest.raises(ValueError, match="rules = \\('greedy',\\)"):
        policy_at(p, 0, "greedy")


def test_solve_both_prepares_once(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    real = figures.prepare
    monkeypatch.setattr(figures, "prepare", lambda inst: calls.append(inst) or real(inst))
    both = figures.solve_both(load_instance(ROOT / "data" / "cnn_chain.toml"))
    assert len(calls) == 1 and (both.optimal.rule, both.osla.rule) == ("optimal", "osla")


@pytest.mark.mip
def test_bad_method_options_are_refused_before_any_work(monkeypatch: pytest.MonkeyPatch) -> None:
    import coopt.api as api
    from coopt.mip.highs import MipOptions

    monkeypatch.setattr(api, "prepare", lambda *a: pytest.fail("prepared before checking the options"))
    with pytest.raises(InstanceError, match="apply to --method mip"):
        solve(load_instance(ROOT / "data" / "cnn_chain.toml"), mip_options=MipOptions())
