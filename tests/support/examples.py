"""The shipped examples' headers: each states its result, and the test reads it back (tests/api, tests/model)."""

from __future__ import annotations

import re
from pathlib import Path

from tests.support.instances import EXAMPLES

LABELS = {
    "edge-only": "edge_only",
    "device-only": "device_only",
    "static split": "static_split",
    "full placement": "full_placement",
    "OSLA": "osla",
}


def path_of(name: str) -> Path:
    return EXAMPLES / f"{name}.toml"


def header(name: str) -> str:
    """The leading comment block, joined into one line without the '#' marks."""
    lines = []
    for line in path_of(name).read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        lines.append(line.lstrip("#").strip())
    return " ".join(lines)


def assert_header_states_result(name: str, inst, res) -> str:
    """The header of data/NAME.toml states M* of N and every baseline gap as solved; returns the header."""
    text = header(name)
    m = re.search(r"Result \(coopt solve data/(\S+)\.toml\): M\* = (\d+) of (\d+);", text)
    assert m is not None, "no Result line"
    assert m.group(1) == name
    assert (int(m.group(2)), int(m.group(3))) == (res.placement, inst.n_layers)
    gap = r"(edge-only|device-only|static split|full placement|OSLA) \+([\d.]+) %"
    stated = dict(re.findall(gap, text[m.end() :]))
    assert set(stated) == set(LABELS)
    for label, key in LABELS.items():
        assert stated[label] == f"{res.gap_percent(key):.2f}", label
    return text
