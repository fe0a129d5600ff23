"""A 10,000-unit ONNX graph (issue 19 item 5): a transformer-like stack of MatMul, Add and
Softmax built here with onnx.helper, profiled and solved through the console's API, every
placement allowed. The profile is checked against the numbers the generator put in, and the
solve's optimum against the reference recursion of coopt.dp.stopping at M* and elsewhere.
The time per stage is measured in bench/bench_onnx.py --stack, not asserted here."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from coopt import load_instance, prepare
from coopt.cli.main import main
from coopt.dp.stopping import backward_induction
from tests.support.onnx_models import STACK_D, STACK_SEQ, stack_instance, transformer_stack

pytestmark = pytest.mark.onnx

BLOCKS = 5_000  # MatMul (+ its Add) and Softmax: two units per block
D, SEQ = STACK_D, STACK_SEQ


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("stack")
    model = transformer_stack(directory / "stack.onnx", BLOCKS)
    path = directory / "stack.toml"
    path.write_text(stack_instance(model))
    return path


@pytest.mark.slow
def test_profile_of_a_10000_unit_graph_is_what_was_built(stack, capsys):
    inst = load_instance(stack)
    p = inst.profile
    assert inst.n_layers == 2 * BLOCKS == 10_000
    assert p.layer_names[1:3] == ("m0:MatMul", "s0:Softmax")  # each Add fused into its MatMul
    np.testing.assert_array_equal(p.macs[1::2], SEQ * D * D)  # the MatMuls
    np.testing.assert_array_equal(p.macs[2::2], 0)  # the Softmaxes
    np.testing.assert_array_equal(p.params[1::2], D * D + D)
    np.testing.assert_array_equal(p.out_elems, SEQ * D)
    assert main(["profile", str(stack.with_suffix(".onnx"))]) == 0
    assert "10000 layers" in capsys.readouterr().out


@pytest.mark.slow
def test_solve_of_a_10000_unit_graph_is_the_reference_recursion(stack, capsys):
    assert main(["solve", str(stack), "--json"]) == 0
    out = json.loads(capsys.readouterr().out, parse_constant=lambda c: pytest.fail(f"{c} in JSON"))
    assert len(out["by_placement"]) == 10_001
    prob = prepare(load_instance(stack))
    k_tasks = prob.instance.placement.tasks_per_period
    objectives = [row["objective"] for row in out["by_placement"]]
    assert out["placement"] == int(np.argmin(objectives))
    for m in sorted({0, 1, out["placement"], 2 * out["placement"], 10_000}):
        ref = backward_induction(prob.Y, prob.channel, m, "last", prob.costs).value
        want = ref + prob.costs.download[m] / k_tasks
        assert objectives[m] == pytest.approx(want, rel=1e-12, abs=0), m
