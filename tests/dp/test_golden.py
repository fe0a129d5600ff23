"""The golden examples of docs/model.md, computed by an independent implementation."""

from __future__ import annotations

import json
import math

import pytest

from coopt.cli.main import main
from tests.support.instances import GOLDEN

RTOL_GOLDEN = 1e-9  # required by shared/examples/README.md
NAMES = ["golden-finite-last", "golden-markov-any", "golden-rayleigh-osla"]
SKIP_KEYS = {"instance", "method"}


def _compare(path: str, want, got, errors: list[str]) -> None:
    if isinstance(want, dict):
        if not isinstance(got, dict):
            errors.append(f"{path}: expected an object, got {got!r}")
            return
        for key, value in want.items():
            if key not in SKIP_KEYS:
                _compare(f"{path}.{key}", value, got.get(key, "<missing>"), errors)
    elif isinstance(want, list):
        if not isinstance(got, list) or len(got) != len(want):
            errors.append(f"{path}: expected {want!r}, got {got!r}")
            return
        for i, (w, g) in enumerate(zip(want, got)):
            _compare(f"{path}[{i}]", w, g, errors)
    elif isinstance(want, float) and not isinstance(want, bool):
        if not isinstance(got, (int, float)) or not math.isclose(want, got, rel_tol=RTOL_GOLDEN, abs_tol=0.0):
            errors.append(f"{path}: expected {want!r}, got {got!r}")
    elif want != got:
        errors.append(f"{path}: expected {want!r}, got {got!r}")


@pytest.mark.parametrize("name", NAMES)
def test_cli_json_matches_golden(name, capsys):
    assert main(["solve", str(GOLDEN / f"{name}.toml"), "--json"]) == 0
    got = json.loads(capsys.readouterr().out)
    want = json.loads((GOLDEN / f"{name}.json").read_text())
    errors: list[str] = []
    _compare("", want, got, errors)
    assert errors == []
    assert got["placement"] == want["placement"]


@pytest.mark.parametrize("name", NAMES)
def test_objective_identity(name, capsys):
    main(["solve", str(GOLDEN / f"{name}.toml"), "--json"])
    got = json.loads(capsys.readouterr().out)
    for row in got["by_placement"] + [got]:
        assert row["objective"] == pytest.approx(
            row["task_cost"] + row["download_cost"] / got["tasks_per_period"], rel=1e-14
        )
