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
    resumed sweep ends with exactly the table of an uninterrupted one. The rows are
    streamed: each recorded point's latest log line is read back at its offset
    (:class:`LogIndex`) and written as its row, so no more than a thousand rows are in
    memory at once.

Cells: numbers as Python's shortest round-trip ``repr``, strings as they are, ``None``
(JSON ``null``, e.g. a threshold of ``+inf`` or an infeasible baseline) as an empty
cell, lists as compact JSON; quoted as the :mod:`csv` module quotes (and a carriage
return too). A row is made from its log record (:func:`row`) by the owner, when it
writes the table (:func:`write_table`).
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

import numpy as np

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


def scan_log(out: Path, repair: bool = False) -> Iterator[tuple[int, dict[str, Any]]]:
    """Every complete record of ``DIR/log.jsonl`` with the byte offset of its line, in file
    order, read line by line (never the whole log at once).

    A last line without its newline, or that is not JSON, is what a kill during a write
    leaves: it is dropped (and cut from the file when ``repair``, once the scan is over,
    so that appends start on a fresh line). Any other unreadable line is an error.
    """
    path = out / LOG
    if not path.exists():
        return
    good = 0
    with open(path, "rb") as f:
        for number, line in enumerate(iter(f.readline, b""), start=1):
            if not line.endswith(b"\n"):
                break  # a torn last line
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                if not f.read(1):
                    break  # a torn last line that happens to end at a newline byte: drop it too
                raise InstanceError(f"{path}: line {number} is not JSON; the log is damaged") from None
            yield good, rec
            good += len(line)
        size = f.seek(0, os.SEEK_END)
    if repair and good != size:
        with open(path, "r+b") as f:
            f.truncate(good)


def read_log(out: Path, repair: bool = False) -> dict[str, dict[str, Any]]:
    """The latest record of every job in ``DIR/log.jsonl``, by job key (all in memory: for
    tests and small logs; a sweep reads its log with :func:`scan_log`)."""
    return {rec["key"]: rec for _, rec in scan_log(out, repair)}


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
    """The append-only log, owned by one process (use as a context manager).

    ``repair``: cut a torn last line first (:func:`scan_log`); a caller that has just
    scanned the log with ``repair`` passes ``False``.
    """

    def __init__(self, out: Path, repair: bool = True) -> None:
        if repair:
            for _ in scan_log(out, repair=True):
                pass
        self._file = open(out / LOG, "ab")
        self._end = self._file.seek(0, os.SEEK_END)

    def write(self, lines: Iterable[str]) -> list[int]:
        """Append records already encoded by :func:`encode` (workers encode, the owner writes),
        and flush them: a batch is in the log as soon as it arrives. Returns the byte offset
        of each line (where :func:`write_table` reads it back)."""
        offsets, data = [], []
        for line in lines:
            raw = line.encode("utf-8") + b"\n"
            offsets.append(self._end)
            self._end += len(raw)
            data.append(raw)
        self._file.write(b"".join(data))
        self._file.flush()
        return offsets

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

    The same fields whether ``record`` is the live record or the record read back from
    the log (the owner of the directory makes every row from the log, when it writes the
    table). Column names are interned: one string each, shared by every row.
    """
    return row_of(job.values, record)


def row_of(values: dict[str, Any], record: dict[str, Any]) -> Row:
    """:func:`row` from the point's axis values (no job needed)."""
    cells: dict[str, Any] = {c: record.get(c) for c in LEAD_COLUMNS}
    cells.update(values)
    cells.update(flatten(record.get("result") or {}))
    cells.update({c: record.get(c) for c in TAIL_COLUMNS})
    return {sys.intern(column): _cell(value) for column, value in cells.items()}


def result_columns(record: dict[str, Any]) -> tuple[str, ...]:
    """The result columns of a record's row (its flattened result keys), interned."""
    return tuple(sys.intern(c) for c in flatten(record.get("result") or {}))


def columns(spec: SweepSpec, table: Iterable[Iterable[str]]) -> list[str]:
    """The table's columns: lead, axes, every result column of ``table`` (rows, or their
    column names) sorted, tail."""
    fixed = [*LEAD_COLUMNS, *(a.key for a in spec.axes), *TAIL_COLUMNS]
    results = sorted(set().union(*table) - set(fixed))
    return [*fixed[: -len(TAIL_COLUMNS)], *results, *TAIL_COLUMNS]


STATUS_CODES = {"done": 1, "failed": 2}  # in LogIndex; 3: any other status
_CHUNK = 1 << 16


class LogIndex:
    """Where each point's latest record is in the log, and its status and result columns:
    what the owner of a results directory keeps instead of the records.

    Per point (its position in the spec's grid order) 13 bytes in chunks of 65,536
    points, allocated when a point of the chunk is first recorded (a sweep of 10^9
    points that has recorded 10^6 holds about 16 chunks). The result columns are kept
    once per distinct set, with the number of latest records that have it.
    """

    def __init__(self, points: int) -> None:
        self.points = points
        self._offsets: dict[int, np.ndarray] = {}  # chunk -> offset + 1 of each point's latest line (0: none)
        self._status: dict[int, np.ndarray] = {}
        self._sig: dict[int, np.ndarray] = {}
        self._sig_ids: dict[tuple[str, ...], int] = {}
        self._sig_columns: list[tuple[str, ...]] = []
        self._sig_count: list[int] = []
        self.counts = {1: 0, 2: 0, 3: 0}

    def record(self, position: int, offset: int, status: str, cols: tuple[str, ...]) -> None:
        """Record (or replace: the latest record wins) point ``position``'s record."""
        chunk, i = divmod(position, _CHUNK)
        if chunk not in self._offsets:
            self._offsets[chunk] = np.zeros(_CHUNK, np.int64)
            self._status[chunk] = np.zeros(_CHUNK, np.uint8)
            self._sig[chunk] = np.zeros(_CHUNK, np.int32)
        old = int(self._status[chunk][i])
        if old:
            self.counts[old] -= 1
            self._sig_count[int(self._sig[chunk][i]) - 1] -= 1
        sig = self._sig_ids.get(cols)
        if sig is None:
            sig = self._sig_ids[cols] = len(self._sig_columns)
            self._sig_columns.append(cols)
            self._sig_count.append(0)
        self._sig_count[sig] += 1
        code = STATUS_CODES.get(status, 3)
        self.counts[code] += 1
        self._offsets[chunk][i] = offset + 1
        self._status[chunk][i] = code
        self._sig[chunk][i] = sig + 1

    @property
    def recorded(self) -> int:
        return sum(self.counts.values())

    def column_sets(self) -> list[tuple[str, ...]]:
        """The result columns of the latest records."""
        return [c for c, n in zip(self._sig_columns, self._sig_count) if n > 0]

    def lines(self) -> Iterator[tuple[int, int]]:
        """``(position, offset)`` of every recorded point, in grid order."""
        for chunk in sorted(self._offsets):
            offsets = self._offsets[chunk]
            for i in np.flatnonzero(offsets).tolist():
                yield chunk * _CHUNK + i, int(offsets[i]) - 1

    def todo(self, keep: set[str]) -> Iterator[int]:
        """The positions, in grid order, whose status is not in ``keep``."""
        codes = np.array([STATUS_CODES[k] for k in keep], np.uint8)
        for start in range(0, self.points, _CHUNK):
            stop = min(start + _CHUNK, self.points)
            status = self._status.get(start // _CHUNK)
            if status is None:
                yield from range(start, stop)
            else:
                yield from (start + np.flatnonzero(~np.isin(status[: stop - start], codes))).tolist()

    def count_todo(self, keep: set[str]) -> int:
        return self.points - sum(self.counts[STATUS_CODES[k]] for k in keep)


def write_table(out: Path, spec: SweepSpec, index: LogIndex) -> int:
    """Rebuild ``DIR/results.csv`` atomically, in grid order, streamed from the log: each
    recorded point's latest line is read back at its offset and made into its row, and
    the rows are written as they are made (never all in memory).

    Returns the number of rows.
    """
    cols = columns(spec, index.column_sets())
    values = spec.jobs.values if hasattr(spec.jobs, "values") else (lambda p: spec.jobs[p].values)
    tmp = out / f".{TABLE}.tmp"
    rows = 0
    with open(tmp, "w", encoding="utf-8", newline="") as f, open(out / LOG, "rb") as log:
        f.write(",".join(field(c) for c in cols))
        buffer: list[str] = []
        for position, offset in index.lines():
            log.seek(offset)
            cells = row_of(values(position), json.loads(log.readline()))
            buffer.append(",".join([cells.get(c, "") for c in cols]))
            rows += 1
            if len(buffer) >= 1000:
                f.write("\n" + "\n".join(buffer))
                buffer.clear()
        if buffer:
            f.write("\n" + "\n".join(buffer))
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, out / TABLE)
    return rows


def read_table(out: Path) -> list[dict[str, str]]:
    """``DIR/results.csv`` as a list of rows (cells as strings; empty for ``null``)."""
    try:
        with open(out / TABLE, encoding="utf-8", newline="") as f:
            return list(csv.DictReader(f))
    except FileNotFoundError:
        raise InstanceError(f"--sweep {out}: no {TABLE} yet (run `coopt sweep` first)") from None
