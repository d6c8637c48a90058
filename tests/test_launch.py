"""The launcher that stays each agent's parent (runtime/launch.py), in real tmux windows."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

from libtmux import Server

from helpers import wait_for
from orchtui.runtime.tmux import LAUNCHER

IGNORES_HANGUPS = (
    "import signal, time; signal.signal(signal.SIGHUP, signal.SIG_IGN); "
    "signal.signal(signal.SIGTERM, signal.SIG_IGN); print('stubborn', flush=True); time.sleep(600)"
)


def start(
    server: Server,
    tmp_path: Path,
    code: str,
    env: dict[str, str] | None = None,
    argv: list[str] | None = None,
) -> tuple[str, Path]:
    """A window running the launcher, with the agent `python -c code` (or `argv`); returns
    its pane and the events file."""
    events = tmp_path / "events"
    events.touch()
    env_args = [arg for key, value in (env or {}).items() for arg in ("-e", f"{key}={value}")]
    out = server.cmd(
        "new-session",
        *env_args,
        "-d",
        "-P",
        "-F",
        "#{pane_id}",
        "-x",
        "80",
        "-y",
        "20",
        sys.executable,
        "-S",  # as orchtui runs it (runtime/tmux.py): a file, without site-packages
        "-I",
        str(LAUNCHER),
        str(server.socket_name),
        "go",
        str(events),
        "--",
        *(argv or [sys.executable, "-c", code]),
    ).stdout
    pane = out[0]
    server.cmd("wait-for", "-S", "go")
    return pane, events


def pids(server: Server, pane: str) -> tuple[int, int]:
    """The launcher's pid and its child's (the agent)."""
    launcher = int(server.cmd("display-message", "-p", "-t", pane, "#{pane_pid}").stdout[0])
    children = Path(f"/proc/{launcher}/task/{launcher}/children")
    child = wait_for(lambda: children.read_text().split(), 20)
    return launcher, int(child[0])


def switches(pid: int) -> int:
    """Context switches so far: a process that polls makes them, one that blocks does not."""
    fields = dict(
        line.split(":\t") for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":\t" in line
    )
    return int(fields["voluntary_ctxt_switches"]) + int(fields["nonvoluntary_ctxt_switches"])


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0]
    except FileNotFoundError:
        return False
    return state != "Z"


def test_an_idle_agent_costs_its_launcher_nothing(server: Server, tmp_path: Path) -> None:
    """The launcher blocks in waitpid: while the agent sleeps, it does not wake at all."""
    pane, _events = start(server, tmp_path, "import time; print('idle', flush=True); time.sleep(600)")
    launcher, _child = pids(server, pane)
    time.sleep(0.5)
    before = switches(launcher)
    time.sleep(3)
    assert switches(launcher) - before <= 2  # a 0.2 s poll made ~15 here


def test_an_agent_that_ignores_the_hang_up_is_ended_when_its_window_goes(
    server: Server, tmp_path: Path
) -> None:
    pane, events = start(server, tmp_path, IGNORES_HANGUPS)
    wait_for(lambda: "stubborn" in "\n".join(server.cmd("capture-pane", "-p", "-t", pane).stdout), 20)
    launcher, child = pids(server, pane)
    server.cmd("kill-pane", "-t", pane)
    wait_for(lambda: not alive(child), 30)  # SIGHUP and SIGTERM ignored: SIGKILL
    wait_for(lambda: not alive(launcher), 30)
    line = wait_for(lambda: events.read_text().strip(), 10)
    assert line.startswith("died pane=" + pane) and "signal=9" in line, line


def test_the_agent_does_not_inherit_the_profiles_unset_names(server: Server, tmp_path: Path) -> None:
    code = (
        "import os, time; "
        "print('got', os.environ.get('CI'), os.environ.get('ORCHTUI_UNSET_ENV'), flush=True); "
        "time.sleep(60)"
    )
    pane, _events = start(server, tmp_path, code, {"ORCHTUI_UNSET_ENV": "CI,NOPE", "CI": "true"})
    wait_for(lambda: "got None None" in "\n".join(server.cmd("capture-pane", "-p", "-t", pane).stdout), 20)


def test_the_agent_starts_with_default_signal_dispositions(server: Server, tmp_path: Path) -> None:
    """Python ignores SIGPIPE for itself and the launcher shrugs off Ctrl-C while it waits:
    neither may reach the agent, whose pipelines must end when read no more."""
    show = "grep '^SigIgn' /proc/self/status; sleep 600"
    pane, _events = start(server, tmp_path, "", argv=["sh", "-c", show])
    line = wait_for(
        lambda: next((x for x in server.cmd("capture-pane", "-p", "-t", pane).stdout if "SigIgn" in x), None),
        20,
    )
    ignored = int(line.split()[1], 16)
    for sig in (signal.SIGPIPE, signal.SIGINT, signal.SIGQUIT, signal.SIGHUP, signal.SIGTERM):
        assert not ignored & (1 << (sig - 1)), f"{sig.name} is ignored in the agent ({line})"


def test_an_agent_that_cannot_start_is_reported_with_status_127(server: Server, tmp_path: Path) -> None:
    _pane, events = start(server, tmp_path, "", argv=["/nonexistent/agent-cli", "--flag"])
    wait_for(lambda: "status=127" in events.read_text(), 20)
    assert "source=launcher" in events.read_text()


def test_the_agent_runs_nicer_than_orchtui_by_the_configured_amount(server: Server, tmp_path: Path) -> None:
    """[limits] agent_nice: on a full CPU orchtui's engine and tmux go before the agents."""
    base = os.nice(0)
    code = (
        "import os, time; print('nice', os.nice(0), os.environ.get('ORCHTUI_AGENT_NICE'), flush=True); "
        "time.sleep(60)"
    )
    for given, expected in (("5", min(19, base + 5)), ("0", base), ("lots", base)):
        pane, _events = start(server, tmp_path, code, {"ORCHTUI_AGENT_NICE": given})
        shown = wait_for(
            lambda p=pane: next((x for x in screen(server, p) if x.startswith("nice")), None), 20
        )
        assert shown == f"nice {expected} None", (given, shown)
        launcher, _child = pids(server, pane)
        assert os.getpriority(os.PRIO_PROCESS, launcher) == expected
        server.cmd("kill-session", "-t", pane)


def screen(server: Server, pane: str) -> list[str]:
    return list(server.cmd("capture-pane", "-p", "-t", pane).stdout)
