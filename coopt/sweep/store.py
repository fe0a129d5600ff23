"""The results directory of a sweep: a manifest, an append-only log, and the table.

``DIR/sweep.json``
    The manifest: the spec's fingerprint (:attr:`coopt.sweep.spec.SweepSpec.fingerprint`),
    its axes (with their log flags, for figures) and the number of points. Written once,
    atomically, before the first job; a directory whose manifest has another fingerprint
    belongs to another spec and is refused.
``DIR/log.jsonl``
    One JSON object per finished job (done or failed), appended and flushed by the one
    process that owns the directory as soon as the job's result arrives. A crash can
    leave at most a partial last line, which :func:`read_log` drops (and truncates).
    When a point is run again (``--retry-failed``) its latest record wins.
``DIR/results.csv``
    The table: one row per finished point, in grid order, columns in a canonical order
    (:data:`LEAD_COLUMNS`, the axes in spec order, then the result's flattened keys
    sorted). It is rebuilt from the log and replaced atomically (write to a temporary
    file, then :func:`os.replace`), so it is never half-written and an interrupted and
    resumed sweep ends with exactly the table of an uninterrupted one.

Cells: numbers as Python's shortest round-trip ``repr``, strings as they are, ``None``
(JSON ``null``, e.g. a threshold of ``+inf`` or an infeasible baseline) as an empty
cell, lists as compact JSON.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from coopt.errors import InstanceError
from coopt.sweep.spec import SweepSpec

MANIFEST = "sweep.json"
LOG = "log.jsonl"
TABLE = "results.csv"
# Columns that are not results: the point, its outcome, and where and how long it ran.
LEAD_COLUMNS = ("index", "key", "status", "exit_code", "reason")
TAIL_COLUMNS = ("coopt_version", "worker", "wall_s", "cpu_s")
TIMING_COLUMNS = ("worker", "wall_s", "cpu_s")  # the only columns that differ between runs


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", encoding="utf-8", newline="") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def check_directory(out: Path, spec: SweepSpec) -> bool:
    """Whether ``out`` already holds this spec's results; refuse a directory of another spec.

    Nothing is written here. Raises :class:`InstanceError` when ``out`` is a file, a
    non-empty directory without a manifest, or the directory of another spec.
    """
    if out.exists() and not out.is_dir():
        raise InstanceError(f"--out {out}: is a file, not a directory")
    manifest = out / MANIFEST
    if not manifest.exists():
        if out.exists() and any(out.iterdir()):
            raise InstanceError(f"--out {out}: not empty and not a sweep directory (no {MANIFEST}); choose another")
        return False
    try:
        old = json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise InstanceError(f"--out {out}: unreadable {MANIFEST} ({exc.__class__.__name__})") from None
    if old.get("fingerprint") != spec.fingerprint:
        raise InstanceError(
            f"--out {out}: holds the results of another sweep spec ({old.get('spec')}, {old.get('points')} points); "
            "the spec, its base instance or its options changed: use a new directory"
        )
    return True


def open_directory(out: Path, spec: SweepSpec) -> None:
    """Create ``out`` and its manifest (after :func:`check_directory` said it is new)."""
    out.mkdir(parents=True, exist_ok=True)
    _atomic_write(out / MANIFEST, json.dumps(spec.manifest(), indent=1, allow_nan=False) + "\n")


@contextmanager
def lock(out: Path) -> Iterator[None]:
    """Hold ``DIR/.lock`` exclusively: one process owns (writes) a results directory."""
    import fcntl

    with open(out / ".lock", "w") as f:
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise InstanceError(f"--out {out}: another coopt sweep is writing there") from None
        yield


def read_manifest(out: Path) -> dict[str, Any]:
    """The manifest of a results directory."""
    try:
        return json.loads((out / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InstanceError(f"--sweep {out}: not a sweep directory (no {MANIFEST})") from None
    except (OSError, json.JSONDecodeError) as exc:
        raise InstanceError(f"--sweep {out}: unreadable {MANIFEST} ({exc.__class__.__name__})") from None


def read_log(out: Path, repair: bool = False) -> dict[str, dict[str, Any]]:
    """The latest record of every job in ``DIR/log.jsonl``, by job key.

    A last line without its newline, or that is not JSON, is what a kill during a write
    leaves: it is dropped (and cut from the file when ``repair``, so that appends start
    on a fresh line). Any other unreadable line is an error.
    """
    path = out / LOG
    if not path.exists():
        return {}
    data = path.read_bytes()
    lines = data.split(b"\n")
    complete, tail = lines[:-1], lines[-1]
    records: dict[str, dict[str, Any]] = {}
    good = 0
    for i, line in enumerate(complete):
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            if i == len(complete) - 1 and not tail:
                break  # a torn last line that happens to end at a newline byte: drop it too
            raise InstanceError(f"{path}: line {i + 1} is not JSON; the log is damaged") from None
        records[rec["key"]] = rec
        good += len(line) + 1
    if repair and good != len(data):
        with open(path, "r+b") as f:
            f.truncate(good)
    return records


def _finite(obj: Any) -> Any:
    """JSON-safe copy: non-finite floats become ``None`` (strict JSON has no NaN/Infinity)."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    return obj


def encode(record: dict[str, Any]) -> str:
    """One log line: compact, strict JSON."""
    try:
        return json.dumps(record, separators=(",", ":"), allow_nan=False)
    except ValueError:  # a NaN or infinity somewhere: rare, so the check is not paid per record
        return json.dumps(_finite(record), separators=(",", ":"), allow_nan=False)


class Log:
    """The append-only log, owned by one process (use as a context manager)."""

    def __init__(self, out: Path) -> None:
        read_log(out, repair=True)
        self._file = open(out / LOG, "a", encoding="utf-8")

    def write(self, line: str) -> None:
        """Append one record already encoded by :func:`encode` (workers encode, the owner writes)."""
        self._file.write(line + "\n")
        self._file.flush()

    def append(self, record: dict[str, Any]) -> None:
        self.write(encode(record))

    def close(self) -> None:
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()

    def __enter__(self) -> Log:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def flatten(obj: Any, prefix: str = "") -> dict[str, Any]:
    """Nested dicts as dotted keys (``baselines.osla.objective``); lists and scalars are leaves."""
    out: dict[str, Any] = {}
    for key, value in obj.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, name + "."))
        else:
            out[name] = value
    return out


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(float(value))  # NumPy scalars too; shortest round-trip form
    if isinstance(value, (list, dict)):
        return json.dumps(value, separators=(",", ":"), allow_nan=False)
    return str(value)


def rows(spec: SweepSpec, records: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """The finished points of ``spec`` in grid order, each a flat dict (lead, axes, results, tail)."""
    out = []
    for job in spec.jobs:
        rec = records.get(job.key)
        if rec is None:
            continue
        row = {c: rec.get(c) for c in LEAD_COLUMNS}
        row.update(job.values)
        row.update(flatten(rec.get("result") or {}))
        row.update({c: rec.get(c) for c in TAIL_COLUMNS})
        out.append(row)
    return out


def columns(spec: SweepSpec, table: Iterable[dict[str, Any]]) -> list[str]:
    fixed = [*LEAD_COLUMNS, *(a.key for a in spec.axes), *TAIL_COLUMNS]
    results = sorted({k for row in table for k in row} - set(fixed))
    return [*fixed[: -len(TAIL_COLUMNS)], *results, *TAIL_COLUMNS]


def write_table(out: Path, spec: SweepSpec, records: dict[str, dict[str, Any]]) -> int:
    """Rebuild ``DIR/results.csv`` from ``records`` atomically; returns the number of rows."""
    table = rows(spec, records)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    cols = columns(spec, table)
    writer.writerow(cols)
    for row in table:
        writer.writerow([_cell(row.get(c)) for c in cols])
    _atomic_write(out / TABLE, buf.getvalue())
    return len(table)


def read_table(out: Path) -> list[dict[str, str]]:
    """``DIR/results.csv`` as a list of rows (cells as strings; empty for ``null``)."""
    try:
        with open(out / TABLE, encoding="utf-8", newline="") as f:
            return list(csv.DictReader(f))
    except FileNotFoundError:
        raise InstanceError(f"--sweep {out}: no {TABLE} yet (run `coopt sweep` first)") from None
