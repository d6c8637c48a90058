"""Start an agent inside its tmux window, once orchtui is listening, and report its end.

tmux runs `python -m orchtui.runtime.launch SOCKET CHANNEL EVENTS -- ARGV...` as the
window's command (argv, no shell). The launcher blocks on `tmux wait-for CHANNEL` until
orchtui has attached pipe-pane, so not one byte of the agent's output is missed, then
starts the agent as its child on the same terminal and waits for it.

When the agent ends, the launcher appends `died pane=%N status=CODE` (or `signal=N`) to
the EVENTS file that the engine watches, then ends the same way (same exit code, same
signal), so tmux shows the agent's own status too. orchtui does not depend on tmux
reaping the process in time: tmux 3.3 can show a dead pane with no status for seconds.

It waits in a blocking waitpid, so an idle agent costs its launcher no CPU. When the
window goes (SIGHUP), an agent that shrugs off the hang-up gets SIGTERM after
HANGUP_GRACE seconds and SIGKILL after twice that (timed by SIGALRM): no agent outlives
its window, holding locks or spending tokens unseen.

Keyboard signals (Ctrl-C, Ctrl-\\, Ctrl-Z) reach the whole foreground process group;
they are meant for the agent, so the launcher shrugs them off while it waits. Its
handlers are Python functions, which exec resets to the default in the agent.
Kept free of orchtui imports so it starts fast.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from types import FrameType

UNSET_ENV = "ORCHTUI_UNSET_ENV"  # comma-separated names the agent must not inherit (profile unset_env)
_SHRUGGED = (signal.SIGINT, signal.SIGQUIT, signal.SIGTSTP, signal.SIGHUP)
_FORWARDED = (signal.SIGTERM,)
HANGUP_GRACE = 2.0


def main(args: list[str]) -> int:
    if len(args) < 5 or args[3] != "--":
        print("usage: launch SOCKET CHANNEL EVENTS -- COMMAND [ARGS...]", file=sys.stderr)
        return 2
    socket, channel, events, argv = args[0], args[1], Path(args[2]), args[4:]
    try:
        subprocess.run(["tmux", "-L", socket, "wait-for", channel], timeout=30, check=False)
    except subprocess.TimeoutExpired:
        print("orchtui: no go-ahead from orchtui within 30 s; starting anyway", file=sys.stderr)
    for sig in _SHRUGGED:
        signal.signal(sig, _ignore)
    for name in os.environ.pop(UNSET_ENV, "").split(","):
        os.environ.pop(name, None)
    try:
        child = subprocess.Popen(argv)
    except OSError as exc:
        print(f"orchtui: cannot start {argv[0]!r}: {exc.strerror}", file=sys.stderr)
        _report(events, status=127)
        return 127

    def forward(signum: int, _frame: FrameType | None) -> None:
        child.send_signal(signum)

    escalated: list[int] = []

    def hang_up(signum: int, _frame: FrameType | None) -> None:
        child.send_signal(signum)
        if signal.getitimer(signal.ITIMER_REAL)[0] == 0 and not escalated:
            signal.setitimer(signal.ITIMER_REAL, HANGUP_GRACE)

    def escalate(_signum: int, _frame: FrameType | None) -> None:
        """The window is gone and the agent is still here: SIGTERM, then SIGKILL."""
        escalated.append(1)
        if len(escalated) == 1:
            child.terminate()
            signal.setitimer(signal.ITIMER_REAL, HANGUP_GRACE)
        else:
            child.kill()

    for sig in _FORWARDED:
        signal.signal(sig, forward)
    signal.signal(signal.SIGHUP, hang_up)
    signal.signal(signal.SIGALRM, escalate)
    code = child.wait()  # blocks in waitpid: an idle agent costs its launcher nothing
    if code < 0:
        _report(events, signal=-code)
        _die_by(-code)
    _report(events, status=code)
    return code


def _ignore(_signum: int, _frame: FrameType | None) -> None:
    return None


def _report(events: Path, status: int | None = None, signal: int | None = None) -> None:
    """One line, one write, O_APPEND: lines from many launchers never interleave."""
    pane = os.environ.get("TMUX_PANE", "")
    field = f"status={status}" if status is not None else f"signal={signal}"
    line = f"died pane={pane} {field} pid={os.getpid()} source=launcher\n".encode()
    try:
        fd = os.open(events, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)
    except OSError:
        pass  # the engine still has tmux's own pane-died hook and its reconcile


def _die_by(signum: int) -> None:
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
