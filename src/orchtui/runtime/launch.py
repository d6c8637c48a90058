"""Start an agent inside its tmux window, once orchtui is listening, and report its end.

tmux runs `python -S -I .../orchtui/runtime/launch.py SOCKET CHANNEL EVENTS -- ARGV...`
as the window's command (argv, no shell). The launcher blocks on `tmux wait-for CHANNEL` until
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
It stays for the agent's whole life, once per session, so it is kept small: it runs as a
file without `site` (-S -I: no site-packages, no .pth files) and imports only os, sys,
time and the C half of signal (posix_spawn and waitpid instead of subprocess; `signal`
would import enum, and `typing` more): 2.7 MB of its own memory, where subprocess and
site-packages took 5.7 and a bare interpreter takes 2.5. `python -m
orchtui.runtime.launch` works too.
"""

import os
import sys
import time

TYPE_CHECKING = False  # (typing itself is not imported: it is most of a megabyte)
if TYPE_CHECKING:
    import signal
    from types import FrameType
else:
    try:
        import _signal as signal  # the C module: the same functions and numbers, no enum
    except ImportError:  # another Python than CPython
        import signal

UNSET_ENV = "ORCHTUI_UNSET_ENV"  # comma-separated names the agent must not inherit (profile unset_env)
NICE_ENV = "ORCHTUI_AGENT_NICE"  # how much nicer than orchtui the agent runs ([limits] agent_nice)
_SHRUGGED = (signal.SIGINT, signal.SIGQUIT, signal.SIGTSTP, signal.SIGHUP)
_FORWARDED = (signal.SIGTERM,)
# Python ignores SIGPIPE (and SIGXFSZ) for itself; the agent gets them back at their default,
# as subprocess's restore_signals does, or its own pipelines would not end when read no more
_RESTORED = tuple(getattr(signal, name) for name in ("SIGPIPE", "SIGXFZ", "SIGXFSZ") if hasattr(signal, name))
HANGUP_GRACE = 2.0
GO_AHEAD_WAIT = 30.0  # seconds it waits for orchtui's go-ahead before starting the agent anyway


def main(args: list[str]) -> int:
    if len(args) < 5 or args[3] != "--":
        print("usage: launch SOCKET CHANNEL EVENTS -- COMMAND [ARGS...]", file=sys.stderr)
        return 2
    socket, channel, events, argv = args[0], args[1], args[2], args[4:]
    if not _go_ahead(socket, channel):
        print("orchtui: no go-ahead from orchtui within 30 s; starting anyway", file=sys.stderr)
    for sig in _SHRUGGED:
        signal.signal(sig, _ignore)
    for name in os.environ.pop(UNSET_ENV, "").split(","):
        os.environ.pop(name, None)
    _be_nicer(os.environ.pop(NICE_ENV, "0"))
    try:
        child = os.posix_spawnp(argv[0], argv, os.environ, setsigdef=_RESTORED)
    except OSError as exc:
        print(f"orchtui: cannot start {argv[0]!r}: {exc.strerror}", file=sys.stderr)
        _report(events, status=127)
        return 127

    def forward(signum: int, _frame: "FrameType | None") -> None:
        _send(child, signum)

    escalated: list[int] = []

    def hang_up(signum: int, _frame: "FrameType | None") -> None:
        _send(child, signum)
        if signal.getitimer(signal.ITIMER_REAL)[0] == 0 and not escalated:
            signal.setitimer(signal.ITIMER_REAL, HANGUP_GRACE)

    def escalate(_signum: int, _frame: "FrameType | None") -> None:
        """The window is gone and the agent is still here: SIGTERM, then SIGKILL."""
        escalated.append(1)
        if len(escalated) == 1:
            _send(child, signal.SIGTERM)
            signal.setitimer(signal.ITIMER_REAL, HANGUP_GRACE)
        else:
            _send(child, signal.SIGKILL)

    for sig in _FORWARDED:
        signal.signal(sig, forward)
    signal.signal(signal.SIGHUP, hang_up)
    signal.signal(signal.SIGALRM, escalate)
    _pid, status = os.waitpid(child, 0)  # blocks: an idle agent costs its launcher nothing
    code = os.waitstatus_to_exitcode(status)
    if code < 0:
        _report(events, signal=-code)
        _die_by(-code)
    _report(events, status=code)
    return code


def _be_nicer(increment: str) -> None:
    """The launcher, and so the agent it starts, runs `increment` nicer than orchtui: on a
    full CPU the engine, tmux and the dashboard go first, so statuses and keys stay quick;
    on a CPU with room to spare it changes nothing. Raising one's niceness needs no
    privilege; a value that is not a number is left alone."""
    try:
        os.nice(max(0, min(19, int(increment))))
    except (ValueError, OSError):
        pass


def _go_ahead(socket: str, channel: str) -> bool:
    """Wait until orchtui has attached pipe-pane (`tmux wait-for CHANNEL`), at most
    GO_AHEAD_WAIT seconds."""
    try:
        waiter = os.posix_spawnp("tmux", ["tmux", "-L", socket, "wait-for", channel], os.environ)
    except OSError:
        return False
    end = time.monotonic() + GO_AHEAD_WAIT
    pause = 0.002
    while time.monotonic() < end:
        pid, _status = os.waitpid(waiter, os.WNOHANG)
        if pid:
            return True
        time.sleep(pause)
        pause = min(pause * 2, 0.05)
    _send(waiter, signal.SIGKILL)
    os.waitpid(waiter, 0)
    return False


def _send(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        pass


def _ignore(_signum: int, _frame: "FrameType | None") -> None:
    return None


def _report(events: str, status: int | None = None, signal: int | None = None) -> None:
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
