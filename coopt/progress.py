"""The one progress bar of coopt: tqdm on stderr, shown on a terminal only.

:func:`progress_bar` is what the simulator, the figures, the engines (sweeps, fleet
tables), the correlated channel's matrices and the MIPs (:class:`coopt.mip.highs.MipProgress`)
draw. ``enabled=None`` means *only when stderr is a terminal*: nothing is written when
stderr is piped or redirected, and the commands pass ``enabled=False`` with ``--json``,
so that stdout and stderr carry nothing but the result. ``delay_s``: the bar appears
only once the work has lasted that long, so short runs print nothing.

:func:`terminal_stream` gives a bar a duplicate of stderr's file descriptor: Pyomo
redirects descriptors 1 and 2 while HiGHS runs (HiGHS writes its log from C++ there),
and a bar drawn from inside a HiGHS callback would otherwise land in Pyomo's capture.

tqdm is imported when a bar is made, not with this module.
"""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Any


def bar_enabled(enabled: bool | None, stream: IO[str] | None = None) -> bool:
    """``enabled``, or (``None``) whether ``stream`` (default stderr) is a terminal."""
    if enabled is not None:
        return enabled
    stream = sys.stderr if stream is None else stream
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # closed or not a file
        return False


def progress_bar(
    total: float | None,
    desc: str,
    enabled: bool | None,
    unit: str = "task",
    *,
    delay_s: float = 1.0,
    file: IO[str] | None = None,
    unit_scale: bool = True,
    leave: bool = False,
    bar_format: str | None = None,
) -> Any:
    """A tqdm bar with an ETA on ``file`` (default stderr); ``enabled=None`` shows it on a
    terminal only, and only once the work has lasted ``delay_s`` seconds."""
    from tqdm import tqdm

    out = sys.stderr if file is None else file
    return tqdm(
        total=total,
        desc=desc,
        unit=unit,
        unit_scale=unit_scale,
        file=out,
        disable=not bar_enabled(enabled, out),
        delay=delay_s,
        leave=leave,
        bar_format=bar_format,
    )


@contextmanager
def terminal_stream(enabled: bool | None) -> Iterator[IO[str] | None]:
    """A stream on stderr's terminal that survives Pyomo's redirection of descriptor 2
    (module docstring), or ``None`` when no bar is to be drawn. Closed on exit."""
    if not bar_enabled(enabled):
        yield None
        return
    try:
        fd = os.dup(sys.stderr.fileno())
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
        yield sys.stderr  # no descriptor (e.g. a test's stream): the object itself is kept
        return
    with os.fdopen(fd, "w", encoding=sys.stderr.encoding or "utf-8", errors="replace") as out:
        yield out


__all__ = ["bar_enabled", "progress_bar", "terminal_stream"]
