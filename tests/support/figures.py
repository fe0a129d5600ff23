"""Reading written figures back: the font types of a PDF (tests/report)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path


def font_subtypes(pdf: bytes) -> set[str]:
    """The /Subtype of every font dictionary of a PDF (matplotlib writes them uncompressed)."""
    return set(re.findall(rb"/Type\s*/Font\b[^>]*?/Subtype\s*/(\w+)", pdf)) | set(
        re.findall(rb"/Subtype\s*/(\w+)[^>]*?/Type\s*/Font\b", pdf)
    )


def pdffonts_types(path: Path) -> list[str]:
    """The font types ``pdffonts`` lists (poppler-utils), ``[]`` when it is not installed."""
    if shutil.which("pdffonts") is None:
        return []
    out = subprocess.run(["pdffonts", str(path)], capture_output=True, text=True, check=True).stdout
    return [line.split()[-6] if len(line.split()) >= 7 else line for line in out.splitlines()[2:]]
