"""Text from data, made safe to print: a terminal obeys control characters, a reader should see them.

Labels, run names, records of ``run.json``, prompts and CSV headers come from files nlpzoo did not
write. An escape sequence among them could set the window title (``ESC ]0;``), write the clipboard
(``ESC ]52``) or clear the screen; :func:`printable` shows each such character as ``\\xNN`` instead.
"""
from __future__ import annotations

import re

#: what a terminal acts on: C0 controls but tab and newline, DEL, and the C1 controls (CSI, OSC, ...)
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\x80-\x9f]")


def printable(text: str) -> str:
    """``text`` with every control character but tab and newline written as ``\\xNN``."""
    return CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def one_line(text: str) -> str:
    """:func:`printable`, with newlines and tabs written out too: for a value shown inside one line."""
    return printable(text).replace("\n", "\\n").replace("\t", "\\t")
