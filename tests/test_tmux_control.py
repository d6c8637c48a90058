"""The engine's control-mode tmux client, on a real tmux server (an isolated socket)."""

from __future__ import annotations

import subprocess
import threading
from pathlib import Path

import pytest
from libtmux import Server

from helpers import wait_for
from orchtui.runtime.tmux import Tmux
from orchtui.runtime.tmux_control import ControlClient, ControlLost


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
