"""The one vocabulary (coopt.model.vocabulary): each name is its string everywhere it shows."""

from __future__ import annotations

import argparse
import json

import pytest

from coopt import load_instance, solve
from coopt.cli.main import build_parser
from coopt.model.vocabulary import Allocation, FleetBaseline, Method, Policy, Rule, WaitMode
from tests.support.instances import ROOT


def test_members_are_their_strings_in_json_repr_and_dict_lookups() -> None:
    assert json.dumps({Rule.OSLA: [Policy.STATIC]}) == '{"osla": ["static"]}'
    assert repr(Method.CLOSED_FORM) == "'closed-form'" and f"{Policy.EDGE_ONLY}" == "edge-only"
    assert {Policy.STATIC: 1}["static"] == 1 and Policy("device-only") is Policy.DEVICE_ONLY


def test_every_baseline_key_is_a_solve_result_baseline() -> None:
    result = solve(load_instance(ROOT / "data" / "cnn_chain.toml"))
    assert {p.key for p in Policy if p.key is not None} == set(result.baselines)
    assert [p for p in Policy if p.key is None] == [Policy.OPTIMAL]
    assert len({p.label for p in Policy}) == len(Policy) and all(b.label for b in FleetBaseline)


@pytest.mark.parametrize(
    ("argv", "choices"),
    [(["solve", "x.toml"], {"rule": Rule, "method": Method, "allocation": Allocation})],
)
def test_cli_choices_read_the_vocabulary(argv: list[str], choices: dict[str, type]) -> None:
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    actions = {a.dest: a for a in sub.choices[argv[0]]._actions}
    for dest, enum in choices.items():
        assert tuple(actions[dest].choices) == tuple(enum)  # type: ignore[call-overload]


def test_cli_refuses_an_unknown_choice_quoting_plain_strings(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args(["solve", "x.toml", "--method", "simplex"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "(choose from 'enumeration', 'mip', 'closed-form')" in err and "<" not in err
    assert tuple(WaitMode) == ("never", "last", "any")
