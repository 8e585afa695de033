"""Text for a terminal: what opskit echoes never drives the terminal that shows it.

A vendor's file name, a scraped page title, an error message from a web app or a log line can carry
escape sequences (``ESC [ 2 J`` clears the screen, ``ESC ] 52`` writes the clipboard, ``ESC ] 8`` makes
links, a bare ``CR`` overwrites the line before it). Everything the command line prints that came from
outside — every command's output (``printable_output``), console log lines, ``runner.py logs``, ``show``,
``history`` — goes through ``printable``: escape
sequences are removed whole, other C0 and C1 control characters (and DEL) are removed, tab and newline stay.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO

# ESC sequences first, whole: CSI (ESC [ ... final byte), OSC/DCS/PM/APC/SOS strings up to their terminator
# (BEL or ESC \), and two-character escapes (ESC followed by one byte); then the 8-bit CSI/OSC forms.
_SEQUENCE = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]?"
    r"|\x1b[\]PX^_][^\x07\x1b\n]*(?:\x07|\x1b\\)?"
    r"|\x1b[ -/]*[0-~]?"
    r"|\x9b[0-?]*[ -/]*[@-~]?"
    r"|[\x90\x98\x9d\x9e\x9f][^\x07\x1b\x9c\n]*(?:\x07|\x1b\\|\x9c)?"
)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    """``text`` without terminal escape sequences and control characters; tab and newline are kept."""
    if not _CONTROL.search(text):
        return text
    return _CONTROL.sub("", _SEQUENCE.sub("", text))


class PrintableFormatter(logging.Formatter):
    """A log formatter whose lines are ``printable`` (for handlers that write to a terminal)."""

    def format(self, record: logging.LogRecord) -> str:
        return printable(super().format(record))


class PrintableStream:
    """A text stream that writes ``printable`` text to the stream it wraps (everything else is delegated)."""

    def __init__(self, stream: TextIO):
        self._stream = stream

    def write(self, text: str) -> int:
        self._stream.write(printable(text))
        return len(text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


@contextmanager
def printable_output() -> Iterator[None]:
    """Within the block, whatever is printed to stdout and stderr is ``printable`` (a command's whole output)."""
    import sys

    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = PrintableStream(saved[0]), PrintableStream(saved[1])  # type: ignore[assignment]
    try:
        yield
    finally:
        sys.stdout, sys.stderr = saved
