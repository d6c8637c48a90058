"""Terminal control characters: removed from what is pasted, escaped in what is shown."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from orchtui.controls import paste_safe, shown_safe


def test_paste_keeps_text_tabs_and_line_feeds_and_removes_controls() -> None:
    assert paste_safe("a\tb\nc\r\nd\re") == ("a\tb\nc\nd\ne", 0)
    assert paste_safe("x\x1b[201~\ry") == ("x[201~\ny", 1)
    assert paste_safe("\x00\x07\x08\x7f\x9b日本 ✓") == ("日本 ✓", 5)


def test_shown_text_has_its_controls_escaped() -> None:
    assert shown_safe("a\x1bc\x07\tb\r\n") == "a\\x1bc\\x07\tb\\r\n"


@given(st.text())
def test_nothing_pasted_or_shown_can_start_a_terminal_sequence(text: str) -> None:
    pasted, _ = paste_safe(text)
    shown = shown_safe(text)
    for out in (pasted, shown):
        assert not any((ord(c) < 32 and c not in "\t\n") or 0x7F <= ord(c) <= 0x9F for c in out)
