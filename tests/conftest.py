"""Fixtures of the coopt test suite; what tests share besides fixtures is in tests/support."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.support.instances import to_toml


@pytest.fixture
def write_instance(tmp_path):
    """Write an instance dict (or raw text) to a TOML file and return its path."""

    def write(doc: dict[str, Any] | str, name: str = "instance.toml") -> Path:
        path = tmp_path / name
        path.write_text(doc if isinstance(doc, str) else to_toml(doc), encoding="utf-8")
        return path

    return write
