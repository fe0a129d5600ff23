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
cell, lists as compact JSON; quoted as the :mod:`csv` module quotes (and a carriage
return too). A row is made once, as CSV fields, by the worker that ran its point
(:func:`row`), and the owner joins the rows (:func:`write_table`).
"""

from __future__ import annotations

import csv
import json
import math
import os
import re
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from coopt.errors import InstanceError
from coopt.sweep.spec import Job, SweepSpec

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


_compact = json.JSONEncoder(separators=(",", ":"), allow_nan=False).encode  # one encoder, not one per call


def encode(record: Any) -> str:
    """One log line (or a list cell): compact, strict JSON."""
    try:
        return _compact(record)
    except ValueError:  # a NaN or infinity somewhere: rare, so the check is not paid per record
        return _compact(_finite(record))


class Log:
    """The append-only log, owned by one process (use as a context manager)."""

    def __init__(self, out: Path) -> None:
        read_log(out, repair=True)
        self._file = open(out / LOG, "a", encoding="utf-8")

    def write(self, lines: Iterable[str]) -> None:
        """Append records already encoded by :func:`encode` (workers encode, the owner writes),
        and flush them: a batch is in the log as soon as it arrives."""
        self._file.write("".join(f"{line}\n" for line in lines))
        self._file.flush()

    def append(self, record: dict[str, Any]) -> None:
        self.write([encode(record)])

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


_QUOTE = re.compile(r'[,"\r\n]')


def field(text: str) -> str:
    """``text`` as a CSV field, as :mod:`csv` writes it (``QUOTE_MINIMAL``): quoted, with
    its quotes doubled, when it holds a comma, a quote or a line break."""
    return '"' + text.replace('"', '""') + '"' if _QUOTE.search(text) else text


def _cell(value: Any) -> str:
    """A table cell as its CSV field (see the module docstring); a non-finite float is
    ``null``, as in the log."""
    if type(value) is float:  # most cells: first, before the general cases
        return repr(value) if math.isfinite(value) else ""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):  # NumPy's float64: the shortest round trip of the float
        return repr(float(value)) if math.isfinite(value) else ""
    if isinstance(value, (list, tuple, dict)):
        return field(encode(value))
    return field(str(value))


Row = dict[str, str]


def row(job: Job, record: dict[str, Any]) -> Row:
    """The table row of one job's record: column -> CSV field (lead, axes, results, tail).

    The same fields whether ``record`` is the live record (workers make the rows of the
    points they run, so that the owner of the directory only joins them) or the record
    read back from the log (the rows of earlier runs, on resume). Column names are
    interned: one string each, shared by every row (and pickled once per batch).
    """
    values: dict[str, Any] = {c: record.get(c) for c in LEAD_COLUMNS}
    values.update(job.values)
    values.update(flatten(record.get("result") or {}))
    values.update({c: record.get(c) for c in TAIL_COLUMNS})
    return {sys.intern(column): _cell(value) for column, value in values.items()}


def columns(spec: SweepSpec, table: Iterable[Row]) -> list[str]:
    fixed = [*LEAD_COLUMNS, *(a.key for a in spec.axes), *TAIL_COLUMNS]
    results = sorted(set().union(*table) - set(fixed))
    return [*fixed[: -len(TAIL_COLUMNS)], *results, *TAIL_COLUMNS]


def write_table(out: Path, spec: SweepSpec, table: dict[str, Row]) -> int:
    """Rebuild ``DIR/results.csv`` atomically from the rows by job key, in grid order.

    Returns the number of rows.
    """
    ordered = [table[job.key] for job in spec.jobs if job.key in table]
    cols = columns(spec, ordered)
    lines = [",".join(field(c) for c in cols)]
    lines.extend(",".join([r.get(c, "") for c in cols]) for r in ordered)
    _atomic_write(out / TABLE, "\n".join(lines) + "\n")
    return len(ordered)


def read_table(out: Path) -> list[dict[str, str]]:
    """``DIR/results.csv`` as a list of rows (cells as strings; empty for ``null``)."""
    try:
        with open(out / TABLE, encoding="utf-8", newline="") as f:
            return list(csv.DictReader(f))
    except FileNotFoundError:
        raise InstanceError(f"--sweep {out}: no {TABLE} yet (run `coopt sweep` first)") from None
