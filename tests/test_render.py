"""The dashboard's screen rendering: recently viewed screens kept and brought up to date
from their logs."""

from __future__ import annotations

import time
from pathlib import Path

from orchtui.screen.vt import VirtualScreen
from orchtui.ui.render import RecentScreens


def _viewed(log: Path, text: bytes) -> tuple[VirtualScreen, int]:
    log.write_bytes(text)
    vt = VirtualScreen(40, 5)
    vt.feed(text)
    return vt, len(text)


def test_a_screen_viewed_a_moment_ago_is_brought_up_to_date_from_its_log(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    recent = RecentScreens(keep=2)
    vt, offset = _viewed(log, b"line 1\r\nline 2\r\n")
    recent.put("a", vt, log.stat().st_ino, offset)
    with log.open("ab") as fh:
        fh.write(b"line 3\r\n")
    taken = recent.take("a", log)
    assert taken is not None
    again, end = taken
    assert again is vt and end == log.stat().st_size
    assert again.lines()[:3] == ["line 1", "line 2", "line 3"]
    assert recent.take("a", log) is None, "taken once"


def test_a_rotated_grown_or_old_log_is_seeded_afresh(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    recent = RecentScreens(keep=3, max_age=0.2, max_delta=100)
    vt, offset = _viewed(log, b"before\r\n")
    recent.put("rotated", vt, log.stat().st_ino, offset)
    log.rename(tmp_path / "a.log.1")
    log.write_bytes(b"after rotation, longer than before\r\n")
    assert recent.take("rotated", log) is None
    vt, offset = _viewed(log, b"x\r\n")
    recent.put("grown", vt, log.stat().st_ino, offset)
    with log.open("ab") as fh:
        fh.write(b"y" * 200)
    assert recent.take("grown", log) is None
    vt, offset = _viewed(log, b"z\r\n")
    recent.put("old", vt, log.stat().st_ino, offset)
    time.sleep(0.3)
    assert recent.take("old", log) is None


def test_only_the_last_few_are_kept(tmp_path: Path) -> None:
    recent = RecentScreens(keep=2)
    logs = {name: tmp_path / f"{name}.log" for name in "abc"}
    for name, log in logs.items():
        recent.put(name, _viewed(log, b"x")[0], log.stat().st_ino, 1)
    assert recent.take("a", logs["a"]) is None
    assert recent.take("b", logs["b"]) is not None and recent.take("c", logs["c"]) is not None
