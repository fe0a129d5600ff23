"""Export of the split on the two deepest graphs, ResNet-50 and DenseNet-121 (one full
inference per cut each; kept apart from tests/model/test_onnx_split.py so that each file stays
well under 30 s on one core)."""

from __future__ import annotations

import pytest

from tests.support.onnx_split import check_split_equals_whole

pytestmark = pytest.mark.onnx


@pytest.mark.slow
@pytest.mark.parametrize(("name", "gain"), [("resnet50", 0.5), ("densenet121", 1.0)])
def test_tail_of_head_is_the_whole_model_at_ten_cuts(tmp_path, name, gain):
    check_split_equals_whole(tmp_path, name, 10, gain)
