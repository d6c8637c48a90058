"""orchtui's tmux server: one session per project, one window per agent session.

Everything runs on orchtui's own socket (`-L`), never the user's default server.
Commands go to tmux as argument lists (libtmux); agent text goes through a tmux
buffer loaded from stdin, so nothing is ever interpreted by a shell or by tmux.
"""

from __future__ import annotations

import shlex
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import libtmux
from libtmux.exc import LibTmuxException

from orchtui.errors import OrchtuiError
from orchtui.runtime.tmux_control import LITERAL_MAX, ControlClient, ControlLost

SESSION_OPTION = "@orchtui_session"
CONTROL_COMMANDS = ("send-keys", "paste-buffer")  # the engine's per-prompt commands
SERVER_EXITED = "server exited unexpectedly"  # tmux's words when its server quit mid-command
SERVER_EXIT_RETRIES = 3
LAUNCHER = Path(__file__).with_name("launch.py")  # run as a file: see its docstring
_PANE_FORMAT = "\t".join(
    [
        "#{pane_id}",
        "#{window_id}",
        "#{session_name}",
        "#{pane_dead}",
        "#{pane_dead_status}",
        "#{pane_dead_signal}",
        "#{pane_pipe}",
        "#{pane_width}",
        "#{pane_height}",
        "#{" + SESSION_OPTION + "}",
        "#{pane_pid}",
    ]
)


class TmuxError(OrchtuiError):
    pass


@dataclass(frozen=True)
class PaneInfo:
    pane_id: str
    window_id: str
    session_name: str
    dead: bool
    dead_status: int | None
    dead_signal: int | None
    piped: bool
    width: int
    height: int
    orchtui_session: str
    pid: int | None = None  # the pane's process: orchtui's launcher, the agent's parent


@dataclass(frozen=True)
class Capture:
    lines: list[str]
    cursor_x: int
    cursor_y: int
    width: int
    height: int


def parse_int(text: str | None) -> int | None:
    return int(text) if text and text.lstrip("-").isdigit() else None


def _tmux_quote(text: str) -> str:
    """Quote for a tmux command string that tmux hands to /bin/sh."""
    return shlex.quote(text).replace("#", "##")


class Tmux:
    def __init__(
        self,
        socket_name: str,
        conf: Path,
        events_file: Path,
        width: int = 200,
        height: int = 50,
        history_limit: int = 5000,
        detach_key: str = "C-q",
    ) -> None:
        self.socket_name = socket_name
        self.detach_key = detach_key  # validated by the config: a plain tmux key name
        self.conf = conf
        self.events_file = events_file
        self.width = width
        self.height = height
        self.history_limit = history_limit
        self.server = libtmux.Server(socket_name=socket_name)
        self.control: ControlClient | None = None

    # low level ------------------------------------------------------------
    def use_control_mode(self) -> None:
        """Send keys and pastes through one long-lived control-mode client (the engine)."""
        if self.control is None:
            self.control = ControlClient(self.socket_name)

    def close(self) -> None:
        if self.control is not None:
            self.control.close()
            self.control = None

    def run(self, *args: str, check: bool = True) -> list[str]:
        if self.control is not None and args[0] in CONTROL_COMMANDS and self.control.suitable(args):
            try:
                ok, lines = self.control.run(args)
            except ControlLost:
                pass  # not connected (yet): a tmux process below, as without it
            else:
                if not ok and check:
                    raise TmuxError(f"tmux {args[0]}: {' '.join(lines).strip()}")
                return lines if ok else []
        for attempt in range(SERVER_EXIT_RETRIES + 1):
            try:
                result = self.server.cmd(*args)
            except LibTmuxException as exc:
                raise TmuxError(f"tmux {args[0]}: {exc}") from None
            if result.stderr != [SERVER_EXITED] or attempt == SERVER_EXIT_RETRIES:
                break
            # the command reached a server that was exiting (one a failed attach started, with
            # no session to keep it) and was not carried out: the next one starts a fresh server
            time.sleep(0.05 * (attempt + 1))
        if check and result.stderr:
            raise TmuxError(f"tmux {args[0]}: {' '.join(result.stderr).strip()}")
        return list(result.stdout)

    def alive(self) -> bool:
        try:
            return bool(self.server.is_alive())
        except LibTmuxException:
            return False

    def version(self) -> str:
        proc = subprocess.run(["tmux", "-V"], capture_output=True, text=True, check=False)
        return proc.stdout.strip()

    # server setup ---------------------------------------------------------
    def _write_conf(self) -> None:
        self.conf.parent.mkdir(parents=True, exist_ok=True)
        self.conf.write_text(
            "# Written by orchtui for its own tmux server; edits are overwritten.\n"
            "set -g remain-on-exit on\n"
            f"set -g history-limit {self.history_limit}\n"
            f"set -g default-size {self.width}x{self.height}\n"
            "set -g window-size latest\n"
            f"bind-key -n {self.detach_key} detach-client\n"
            f"set -g status-right ' orchtui#{{@orchtui_waiting}} · detach: {self.detach_key} '\n"
            "set -g status-style 'bg=#1d2433,fg=#c5cdd9'\n"
            "set -g escape-time 10\n"
        )

    def _install_hooks(self) -> None:
        target = _tmux_quote(str(self.events_file))
        fields = (
            "pane=#{pane_id} status=#{pane_dead_status} signal=#{pane_dead_signal} "
            "w=#{pane_width} h=#{pane_height}"
        )
        for hook, word in (("pane-died", "died"), ("window-resized", "resized")):
            self.run("set-hook", "-g", hook, f"run-shell -b \"echo '{word} {fields}' >> {target}\"")

    # windows --------------------------------------------------------------
    def session_exists(self, name: str) -> bool:
        return any(s.session_name == name for s in self.server.sessions) if self.alive() else False

    def create_window(
        self,
        session_name: str,
        window_name: str,
        cwd: Path,
        argv: list[str],
        env: dict[str, str],
        session_id: str,
        log_file: Path,
    ) -> tuple[str, str]:
        """Start `argv` in a new window; return (window_id, pane_id).

        The agent starts only after pipe-pane is attached (see runtime/launch.py).
        """
        channel = f"orchtui-go-{session_id}"
        launcher = [
            sys.executable,
            "-S",  # no site-packages: it needs the standard library only, and stays small
            "-I",
            str(LAUNCHER),
            self.socket_name,
            channel,
            str(self.events_file),
            "--",
            *argv,
        ]
        env_args: list[str] = []
        for key, value in env.items():
            env_args += ["-e", f"{key}={value}"]
        common = ["-d", "-P", "-F", "#{window_id} #{pane_id}", "-n", window_name, "-c", str(cwd), *env_args]
        if self.session_exists(session_name):
            out = self.run("new-window", *common, "-t", f"{session_name}:", *launcher)
        else:
            self._write_conf()
            out = self.run(
                "-f",
                str(self.conf),
                "new-session",
                *common,
                "-s",
                session_name,
                "-x",
                str(self.width),
                "-y",
                str(self.height),
                *launcher,
            )
            self._install_hooks()
        window_id, pane_id = out[0].split()
        self.run("set-option", "-w", "-t", window_id, SESSION_OPTION, session_id)
        self.pipe_to(pane_id, log_file)
        self.run("wait-for", "-S", channel)
        return window_id, pane_id

    def pipe_to(self, pane_id: str, log_file: Path, replace: bool = False) -> None:
        """Append everything the pane prints to `log_file` (kept even if orchtui dies).
        `replace`: close the pane's pipe and open this one in one server command, so
        no output falls between them; otherwise an existing pipe is kept."""
        log_file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        log_file.touch(mode=0o600)  # before the shell's `>>` creates it with its umask
        keep = () if replace else ("-o",)
        # `exec`: the shell tmux runs the command with becomes the `cat` (one process a session)
        self.run("pipe-pane", *keep, "-t", pane_id, f"exec cat >> {_tmux_quote(str(log_file))}")

    def panes(self) -> dict[str, PaneInfo]:
        if not self.alive():
            return {}
        out = self.run("list-panes", "-a", "-F", _PANE_FORMAT, check=False)
        panes: dict[str, PaneInfo] = {}
        for line in out:
            parts = line.split("\t")
            if len(parts) != 11:
                continue
            pane_id, window_id, sname, dead, status, signal, pipe, width, height, owner, pid = parts
            panes[pane_id] = PaneInfo(
                pane_id,
                window_id,
                sname,
                dead == "1",
                parse_int(status),
                parse_int(signal),
                pipe == "1",
                int(width),
                int(height),
                owner,
                parse_int(pid),
            )
        return panes

    def capture(self, pane_id: str) -> Capture:
        meta = self.run(
            "display-message", "-p", "-t", pane_id, "#{cursor_x} #{cursor_y} #{pane_width} #{pane_height}"
        )[0].split()
        lines = self.run("capture-pane", "-p", "-e", "-t", pane_id)
        return Capture(lines, int(meta[0]), int(meta[1]), int(meta[2]), int(meta[3]))

    def capture_text(self, pane_id: str) -> str:
        return "\n".join(self.run("capture-pane", "-p", "-t", pane_id)).rstrip()

    def capture_lines(self, pane_id: str, lines: int) -> list[str]:
        """The last `lines` lines of the pane (its history too), wrapped lines joined,
        blank lines at the bottom left out."""
        got = self.run("capture-pane", "-p", "-J", "-S", f"-{max(lines, 1)}", "-t", pane_id)
        while got and not got[-1].strip():
            got.pop()
        return got[-lines:] if lines > 0 else []

    def show_waiting(self, count: int) -> None:
        """The count of agents waiting for the operator, in orchtui's status line."""
        if self.alive():
            self.run(
                "set-option", "-g", "@orchtui_waiting", f" · {count} waiting" if count else "", check=False
            )

    def kill_window(self, window_id: str) -> None:
        self.run("kill-window", "-t", window_id, check=False)

    # input ----------------------------------------------------------------
    def paste(self, pane_id: str, text: str, bracketed: bool = True) -> None:
        """Deliver `text` literally: load it into a tmux buffer from stdin, then paste it.

        `-p` wraps it in bracketed-paste markers when the application asked for them;
        `-r` keeps line feeds as they are so the bytes arrive unchanged.
        """
        buffer = f"orchtui-{pane_id.lstrip('%')}"
        data = text.encode("utf-8")
        if not self._set_buffer(buffer, data):
            cmd = ["tmux", "-L", self.socket_name, "load-buffer", "-b", buffer, "-"]
            proc = subprocess.run(cmd, input=data, capture_output=True, check=False)
            if proc.returncode != 0:
                raise TmuxError(f"tmux load-buffer: {proc.stderr.decode(errors='replace').strip()}")
        flags = ["-p"] if bracketed else []
        self.run("paste-buffer", *flags, "-r", "-d", "-b", buffer, "-t", pane_id)

    def _set_buffer(self, buffer: str, data: bytes) -> bool:
        """The buffer set through the control-mode client (tmux_control.literal); False
        when that client is not there, or the text is one it does not carry."""
        if self.control is None or b"\0" in data or len(data) > LITERAL_MAX:
            return False
        try:
            ok, lines = self.control.run(("set-buffer", "-b", buffer, "--"), data)
        except ControlLost:
            return False
        if not ok:
            raise TmuxError(f"tmux set-buffer: {' '.join(lines).strip()}")
        return True

    def send_keys(self, pane_id: str, *keys: str) -> None:
        """Named keys only (Enter, Escape, y): never used for free text."""
        self.run("send-keys", "-t", pane_id, *keys)

    def attach_argv(self, window_id: str) -> list[str]:
        """Attach a terminal to one window. Run it with `TMUX` unset: orchtui's server is
        not the user's, so even inside tmux this nests a client rather than switching."""
        self.run("select-window", "-t", window_id)
        return ["tmux", "-L", self.socket_name, "attach-session", "-t", window_id]

    def kill_server(self) -> None:
        if self.alive():
            self.server.kill()
