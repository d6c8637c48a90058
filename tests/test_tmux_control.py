"""The engine's control-mode tmux client, on a real tmux server (an isolated socket)."""

from __future__ import annotations

import re
import subprocess
import threading
from pathlib import Path

import pytest
from libtmux import Server

from helpers import wait_for
from orchtui.runtime.tmux import Tmux
from orchtui.runtime.tmux_control import ControlClient, ControlLost, literal


def tmux_clients(server: Server) -> list[str]:
    return list(server.cmd("list-clients", "-F", "#{client_flags}").stdout)


def test_keys_and_pastes_go_through_one_client_that_never_sizes_a_window(server: Server) -> None:
    server.cmd("new-session", "-d", "-s", "ctl", "-x", "120", "-y", "30", "cat")
    pane = server.cmd("display-message", "-p", "-t", "ctl", "#{pane_id}").stdout[0]
    control = ControlClient(server.socket_name or "")
    try:
        replies: list[tuple[bool, list[str]]] = []

        def send(word: str) -> None:
            replies.append(control.run(("send-keys", "-t", pane, "-l", word)))

        threads = [threading.Thread(target=send, args=(f"w{i}",)) for i in range(20)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert replies == [(True, [])] * 20
        control.run(("send-keys", "-t", pane, "Enter"))
        screen = lambda: "\n".join(server.cmd("capture-pane", "-p", "-t", pane).stdout)  # noqa: E731
        wait_for(lambda: all(f"w{i}" in screen() for i in range(20)))
        # one client, attached with ignore-size and no-output; the window kept its size
        flags = tmux_clients(server)
        assert len(flags) == 1 and "ignore-size" in flags[0] and "no-output" in flags[0], flags
        assert server.cmd("display-message", "-p", "-t", pane, "#{pane_width}x#{pane_height}").stdout == [
            "120x30"
        ]
        # a tmux error is an answer, not a lost connection
        ok, lines = control.run(("send-keys", "-t", "%999", "Enter"))
        assert not ok and lines, lines
    finally:
        control.close()
    wait_for(lambda: tmux_clients(server) == [])


def test_no_session_means_not_connected_and_a_lost_client_is_reported(server: Server, tmp_path: Path) -> None:
    control = ControlClient(server.socket_name or "")
    try:
        with pytest.raises(ControlLost):  # no session to attach to
            control.run(("send-keys", "-t", "%0", "Enter"))
    finally:
        control.close()
    # the failed attach started a server that exits for want of a session; a session made
    # at once (as the engine does) must not be lost to it ("server exited unexpectedly")
    tmux = Tmux(server.socket_name or "", tmp_path / "tmux.conf", tmp_path / "events")
    tmux.run("new-session", "-d", "-s", "ctl2", "cat")
    control = ControlClient(server.socket_name or "")
    try:
        assert control.run(("send-keys", "-t", "ctl2", "Enter"))[0]
        subprocess.run(["tmux", "-L", server.socket_name or "", "kill-server"], check=False)
        with pytest.raises(ControlLost):  # the server is gone
            control.run(("send-keys", "-t", "ctl2", "Enter"))
    finally:
        control.close()


def test_only_words_tmux_cannot_read_as_syntax_are_suitable() -> None:
    assert ControlClient.suitable(("send-keys", "-t", "%12", "C-u"))
    assert ControlClient.suitable(("paste-buffer", "-p", "-r", "-d", "-b", "orchtui-12", "-t", "%12"))
    for hostile in ("a b", "x;kill-server", "#{pane_id}", "'q'", '"q"', "$HOME", "~", "a\nb", "{", "\\"):
        assert not ControlClient.suitable(("send-keys", "-t", "%1", hostile)), hostile


HOSTILE = [
    bytes(range(1, 256)),
    b'"; kill-server; display-message "pwned',
    b"$HOME ~ ~root #{pane_id} #(touch /tmp/orchtui-pwned) \\\\ \\\" ' ; \n\r\t{ }",
    "héllo €😀 — the end\n".encode(),
    b"",
]


@pytest.mark.parametrize("text", HOSTILE, ids=range(len(HOSTILE)))
def test_text_passes_through_the_control_client_as_exactly_its_bytes(server: Server, text: bytes) -> None:
    server.cmd("new-session", "-d", "-s", "lit", "cat")
    control = ControlClient(server.socket_name or "")
    try:
        assert control.run(("set-buffer", "-b", "t1", "--"), text) == (True, [])
        saved = subprocess.run(
            ["tmux", "-L", server.socket_name or "", "save-buffer", "-b", "t1", "-"], capture_output=True
        )
        assert saved.stdout == text
        # nothing in it ran: the server, its session and its environment are as they were
        assert server.cmd("list-sessions", "-F", "#{session_name}").stdout == ["lit"]
        assert not Path("/tmp/orchtui-pwned").exists()
    finally:
        control.close()


def test_literal_writes_only_letters_digits_and_octal_escapes() -> None:
    quoted = literal(bytes(range(1, 256)))
    assert quoted.startswith('"') and quoted.endswith('"')
    inner = quoted[1:-1]
    assert re.fullmatch(r"(?:[A-Za-z0-9]|\\[0-7]{3})*", inner)
    with pytest.raises(ValueError):
        literal(b"a\0b")


def test_a_paste_goes_through_the_control_client_and_arrives_literally(
    server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tmux = Tmux(server.socket_name or "", tmp_path / "tmux.conf", tmp_path / "events")
    tmux.run("new-session", "-d", "-s", "p", "-x", "200", "-y", "20", "cat -v")
    pane = tmux.run("display-message", "-p", "-t", "p", "#{pane_id}")[0]
    tmux.use_control_mode()
    try:
        tmux.send_keys(pane, "Enter")  # the control client is connected
        with monkeypatch.context() as m:  # no tmux process can be started: the client carries it
            m.setenv("PATH", str(tmp_path / "nothing-here"))
            tmux.paste(pane, "a;b $HOME \"q\" 'r' #{pane_id} é", bracketed=False)
        screen = lambda: "\n".join(tmux.run("capture-pane", "-p", "-t", pane))  # noqa: E731
        wait_for(lambda: "a;b $HOME \"q\" 'r' #{pane_id}" in screen())
        # text a tmux argument cannot carry still arrives, through stdin
        tmux.paste(pane, "nul\0byte", bracketed=False)
        wait_for(lambda: "nul^@byte" in screen())
    finally:
        tmux.close()
