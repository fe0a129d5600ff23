"""Reading input files and writing output files safely.

Every text file coopt reads (instances, profile CSVs) goes through :func:`read_text`:
UTF-8, with or without a byte-order mark; a byte that is not UTF-8, or a NUL byte (a
binary file), is bad input naming the file and the byte offset. Every file coopt
writes goes through :func:`check_output` before any work starts and through
:func:`write_atomic` at the end: the data goes to a temporary file in the target's
directory, which then replaces the target (``os.replace``), so that an interrupted run
leaves either the old file or the new one, never half of one. An existing output is
not overwritten unless ``force`` is given.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

from coopt.errors import InstanceError

BOM = b"\xef\xbb\xbf"
_UMASK = os.umask(0o022)
os.umask(_UMASK)


def read_text(path: str | Path, what: str) -> str:
    """The text of the UTF-8 file ``path`` (a leading BOM is dropped).

    ``what`` names the file's role in messages (``"instance file"``, ``"profile"``).
    Raises :class:`InstanceError` for a missing, unreadable, binary or non-UTF-8 file.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InstanceError(f"{path}: no such {what}") from None
    except IsADirectoryError:
        raise InstanceError(f"{path}: is a directory, not a {what}") from None
    except OSError as exc:
        raise InstanceError(f"{path}: cannot read {what} ({exc.strerror or exc.__class__.__name__})") from None
    data = data.removeprefix(BOM)
    nul = data.find(b"\x00")
    if nul >= 0:
        raise InstanceError(f"{path}: binary data (a NUL byte at byte offset {nul}), not a UTF-8 text {what}")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        bad = data[exc.start : exc.start + 1].hex()
        raise InstanceError(
            f"{path}: not UTF-8 text: byte 0x{bad} at byte offset {exc.start}; save the {what} as UTF-8"
        ) from None


def check_output(path: str | Path, flag: str, force: bool) -> Path:
    """Check that the file ``path`` can be written, before any work starts.

    Its directory must exist and be writable; ``path`` must not be a directory; an
    existing file is refused unless ``force``. ``flag`` names the option in messages.
    """
    path = Path(path)
    parent = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise InstanceError(f"{flag} {str(path)!r}: cannot write: is a directory; give a file name")
    if not parent.exists():
        raise InstanceError(f"{flag} {str(path)!r}: cannot write: directory {str(parent)!r} does not exist")
    if not parent.is_dir():
        raise InstanceError(f"{flag} {str(path)!r}: cannot write: {str(parent)!r} is not a directory")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise InstanceError(f"{flag} {str(path)!r}: cannot write: directory {str(parent)!r} is not writable")
    if path.exists() and not force:
        raise InstanceError(f"{flag} {str(path)!r}: already exists; give --force to overwrite it")
    return path


def check_output_dir(directory: str | Path, names: Iterable[str], flag: str, force: bool) -> Path:
    """Check that the files ``names`` can be written into ``directory`` (created if
    missing, along with its parents); an existing one is refused unless ``force``."""
    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise InstanceError(f"{flag} {str(directory)!r}: exists and is not a directory")
    existing = directory
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise InstanceError(f"{flag} {str(directory)!r}: {str(existing)!r} is not a directory")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise InstanceError(f"{flag} {str(directory)!r}: {str(existing)!r} is not writable")
    if not force:
        clash = [n for n in names if (directory / n).exists()]
        if clash:
            shown = ", ".join(clash[:3]) + (", ..." if len(clash) > 3 else "")
            verb = "exists" if len(clash) == 1 else "exist"
            raise InstanceError(f"{flag} {str(directory)!r}: {shown} already {verb}; give --force to overwrite")
    return directory


def write_atomic(outputs: dict[Path, Callable[[Path], None] | str | bytes]) -> list[Path]:
    """Write every output, all or nothing; returns the paths in order.

    Each value is the content (``str`` as UTF-8, or ``bytes``) or a function that
    writes the content to the temporary path it is given. All temporaries are written
    first, next to their targets, and only then renamed over them.
    """
    temps: list[tuple[Path, Path]] = []
    try:
        for target, content in outputs.items():
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=target.suffix, dir=target.parent)
            os.close(fd)
            tmp = Path(tmp_name)
            os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; give the file the usual mode
            temps.append((tmp, target))
            if isinstance(content, str):
                tmp.write_text(content, encoding="utf-8")
            elif isinstance(content, bytes):
                tmp.write_bytes(content)
            else:
                content(tmp)
        for tmp, target in temps:
            os.replace(tmp, target)
    except BaseException:
        for tmp, _ in temps:
            tmp.unlink(missing_ok=True)
        raise
    return [target for _, target in temps]
