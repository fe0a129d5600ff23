"""Reading a notebook's HTML view back: its tags and text cells (tests/report, tests/sweep)."""

from __future__ import annotations

from html.parser import HTMLParser


class Cells(HTMLParser):
    """The start tags, their attributes and the text of an HTML fragment, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str | None]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs += attrs

    def handle_data(self, data):
        self.text.append(data)


def cells(fragment: str) -> Cells:
    """:class:`Cells` of ``fragment``."""
    parser = Cells()
    parser.feed(fragment)
    return parser
