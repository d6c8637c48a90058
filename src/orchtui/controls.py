"""Terminal control characters in text orchtui passes on.

A prompt is pasted into an agent's terminal: an ESC there could end the bracketed paste
early (`ESC [ 201 ~`) so that a carriage return after it submits half the prompt, or
send any other terminal command. So before a prompt is queued, every C0 control but tab
and line feed, DEL and the C1 controls are removed (a carriage return becomes a line
feed), and the ledger keeps exactly what is sent. Text printed back from the store to
the operator's terminal has them shown escaped instead (`\\x1b`), never acted on.
"""

from __future__ import annotations

import re

_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def paste_safe(text: str) -> tuple[str, int]:
    """`text` fit to paste, and how many control characters were removed."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    cleaned, removed = _CONTROLS.subn("", text)
    return cleaned, removed


def shown_safe(text: str) -> str:
    """`text` for a terminal: control characters (but tab and line feed) escaped."""
    return _CONTROLS.sub(lambda m: f"\\x{ord(m.group()):02x}", text.replace("\r", "\\r"))
