"""Three workers as separate processes, each with its own ORCHTUI_HOME and tmux server,
sharing one real PostgreSQL server; `gamma` runs in its own network namespace and reaches
PostgreSQL over a veth pair, so no shared file or socket can carry what the store must
(wake-ups, actions, prompts). A CLI on `alpha` starts, instructs and kills a session on
`gamma`; a worker killed with SIGKILL mid-stage is found silent, its sessions `lost`, and
its run's stage retried on a live host; started again, it takes up what still runs."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from helpers import git, init_repo, wait_for
from orchtui.store.db import Store
from orchtui.store.screens import Screens
from postgres import running_postgres
from secret_samples import SECRETS

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("ip") is None, reason="network namespaces need root and iproute2"
)
KEY_FILE = "payload.key"  # one key for the fleet: a prompt sealed on one host is read on another


@contextmanager
def netns(tag: str) -> Iterator[tuple[str, str, str]]:
    """A network namespace joined to this one by a veth pair: (name, this side's address,
    its side's address)."""
    name, outer, inner = f"orchtui-{tag}", f"oh{tag}", f"on{tag}"
    octet = int(tag, 16) % 60 * 4
    here, there = (
        f"10.231.{octet // 256 + 7}.{octet % 256 + 1}",
        f"10.231.{octet // 256 + 7}.{octet % 256 + 2}",
    )

    def ip(*args: str) -> None:
        subprocess.run(["ip", *args], check=True, capture_output=True, text=True)

    subprocess.run(["ip", "link", "del", outer], capture_output=True)  # left by a run that was killed
    subprocess.run(["ip", "netns", "del", name], capture_output=True)
    made = subprocess.run(["ip", "netns", "add", name], capture_output=True, text=True)
    if made.returncode != 0 and ("not permitted" in made.stderr or "denied" in made.stderr):
        pytest.skip(f"this kernel refuses a network namespace here: {made.stderr.strip()}")
    assert made.returncode == 0, made.stderr
    try:
        ip("link", "add", outer, "type", "veth", "peer", "name", inner)
        ip("link", "set", inner, "netns", name)
        ip("addr", "add", f"{here}/30", "dev", outer)
        ip("link", "set", outer, "up")
        ip("netns", "exec", name, "ip", "addr", "add", f"{there}/30", "dev", inner)
        ip("netns", "exec", name, "ip", "link", "set", inner, "up")
        ip("netns", "exec", name, "ip", "link", "set", "lo", "up")
        yield name, here, there
    finally:
        subprocess.run(["ip", "link", "del", outer], capture_output=True)
        subprocess.run(["ip", "netns", "del", name], capture_output=True)


@dataclass
class Host:
    name: str
    home: Path
    repo: Path
    env: dict[str, str]
    namespace: str | None = None
    socket: str = field(default_factory=lambda: f"orchtui-fleet-{uuid.uuid4().hex[:8]}")

    def run(self, *args: str, check: bool = True, timeout: float = 180) -> subprocess.CompletedProcess[str]:
        inside = ["ip", "netns", "exec", self.namespace] if self.namespace else []
        proc = subprocess.run(
            [*inside, sys.executable, "-m", "orchtui", *args],
            cwd=self.repo,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"{self.name}: orchtui {' '.join(args)} -> {proc.returncode}\n{proc.stderr}")
        return proc

    def json(self, *args: str) -> Any:
        return json.loads(self.run(*args, "--json").stdout)

    def tmux(self, *args: str) -> str:
        return subprocess.run(
            ["tmux", "-L", self.socket, *args], capture_output=True, text=True, env=self.env
        ).stdout

    def transcript(self, session_id: str) -> list[dict[str, Any]]:
        path = self.home / "sessions" / session_id / "transcript.jsonl"
        return (
            [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
            if path.exists()
            else []
        )

    def engine_pid(self) -> int | None:
        out = self.json("engine", "status")
        return int(out["pid"]) if out["running"] else None


@dataclass
class Fleet:
    hosts: dict[str, Host]
    repo: Path

    def live(self) -> set[str]:
        return {h["name"] for h in self.hosts["alpha"].json("hosts") if h["state"] == "live"}


SCENARIO = """\
name = "fleet"

[[rule]]
match = "spin for a while"
steps = [{ work = 20.0 }]

[[rule]]
match = "stage left · role dev"
steps = [{ work = 0.3 }, { write = "left.txt", content = "left\\n" }, { commit = "Left" }]

[[rule]]
match = "stage right · role dev"
steps = [{ work = 0.3 }, { write = "right.txt", content = "right\\n" }, { commit = "Right" }]

[[rule]]
match = "stage right · role docs"
steps = [{ work = 3.0 }, { write = "right-docs.txt", content = "docs\\n" }, { commit = "Right docs" }]

[[rule]]
match = "stage join · role dev"
steps = [{ work = 0.3 }, { write = "joined.txt", content = "joined\\n" }, { commit = "Joined" }]

[[rule]]
match = "stage first · role dev"
steps = [{ work = 0.3 }, { write = "first.txt", content = "first\\n" }, { commit = "First" }]

[[rule]]
match = "stage second · role dev · attempt 1\\\\]"
steps = [{ work = 300.0 }, { say = "never reached: the host dies first" }]

[[rule]]
match = "stage second · role dev · attempt [2-9]\\\\]"
steps = [{ work = 0.3 }, { write = "second.txt", content = "second\\n" }, { commit = "Second" }]
"""

PLAYBOOK = """\
name: fleet
stages:
  - id: first
    automation: fully_auto
    roles: [{role: dev, agents: [scripted], prompt: "first part of {task}"}]
  - id: second
    automation: fully_auto
    retries: 2
    on_failure: retry
    restart_agents: 0
    roles: [{role: dev, agents: [scripted], prompt: "second part of {task}"}]
"""


SPREAD = """\
name: spread
stages:
  - id: left
    automation: fully_auto
    worktree: own
    roles: [{role: dev, agents: [scripted], prompt: "left half of {task}"}]
    gates: [{type: file_exists, path: left.txt}]
  - id: right
    automation: fully_auto
    needs: []
    worktree: own
    roles:
      - {role: dev, agents: [scripted], prompt: "right half of {task}"}
      - {role: docs, agents: [scripted], prompt: "document the right half of {task}"}
    gates: [{type: file_exists, path: right.txt}, {type: file_exists, path: right-docs.txt}]
  - id: join
    automation: fully_auto
    needs: [left, right]
    roles: [{role: dev, agents: [scripted], prompt: "join the halves of {task}"}]
    gates:
      - {type: command, run: "test -f left.txt && test -f right.txt && test -f right-docs.txt"}
"""


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[Fleet]:
    tag = f"{os.getpid() % 4096:03x}"
    repo = tmp_path / "repo"
    init_repo(repo)
    (tmp_path / "fleet.toml").write_text(SCENARIO)
    with (
        netns(tag) as (namespace, here, _there),
        running_postgres(("127.0.0.1", here), (f"{here}/30",)) as pg,
    ):
        database = pg.new_database()
        key = tmp_path / KEY_FILE
        hosts: dict[str, Host] = {}
        base = {k: v for k, v in os.environ.items() if not k.startswith(("ORCHTUI_", "TMUX"))}
        for name in ("alpha", "beta", "gamma"):
            home = tmp_path / name
            home.mkdir()
            inside = name == "gamma"
            (home / "config.toml").write_text(
                textwrap.dedent(
                    f"""\
                    [worker]
                    name = "{name}"
                    [store]
                    key_file = "{key}"
                    [engine]
                    reconcile_interval = 600  # no periodic look: only a wake-up moves a worker
                    [limits]
                    per_host = {{ alpha = 1 }}
                    """
                )
            )
            host = Host(name, home, repo, {}, namespace if inside else None)
            host.env = base | {
                "ORCHTUI_HOME": str(home),
                "ORCHTUI_TMUX_SOCKET": host.socket,
                "ORCHTUI_DB_URL": pg.url(database, host=here if inside else "127.0.0.1"),
                "ORCHTUI_SCRIPTED_SCENARIO": str(tmp_path / "fleet.toml"),
            }
            hosts[name] = host
        try:
            for host in hosts.values():
                host.run("engine", "start")
            fleet = Fleet(hosts, repo)
            wait_for(lambda: fleet.live() == set(hosts), timeout=60, interval=0.5)
            yield fleet
        finally:
            for host in hosts.values():
                host.run("engine", "stop", check=False, timeout=60)
                subprocess.run(["tmux", "-L", host.socket, "kill-server"], capture_output=True)
            pg.admin(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")


def test_a_cli_on_one_host_starts_instructs_and_kills_a_session_on_another(fleet: Fleet) -> None:
    alpha, gamma = fleet.hosts["alpha"], fleet.hosts["gamma"]
    # gamma's engine really is cut off from alpha's files and sockets but for PostgreSQL
    assert gamma.namespace and "10.231." in gamma.env["ORCHTUI_DB_URL"]

    made = alpha.json("session", "new", "--agent", "scripted", "--task", "remote", "--host", "gamma")
    sid = str(made["id"])
    assert made["host"] == "gamma"
    assert sid in gamma.tmux("list-panes", "-a", "-F", "#{@orchtui_session}").split()
    assert alpha.tmux("list-windows", "-a", "-F", "#{window_id}").strip() == ""  # none on alpha
    alpha.run("wait", sid, "--for", "idle", "--timeout", "90")
    # its pane id names a pane on gamma's server too: alpha must never show its own pane of that id
    alpha.run("session", "new", "--agent", "scripted", "--task", "local-decoy", "--host", "alpha")

    texts = [f"note {i}: keep $HOME and `rm -rf /` literal" for i in range(5)]
    for text in texts:
        alpha.run("session", "send", sid, text, "--no-wait")
    alpha.run("wait", sid, "--for", "done", "--timeout", "120")

    rows = [r for r in alpha.json("ledger", sid) if r["kind"] == "prompt"]
    assert [(r["text"], r["state"]) for r in rows] == [(t, "done") for t in texts]
    received = [e["text"] for e in gamma.transcript(sid) if e["type"] == "prompt"]
    assert received == texts, "each prompt reached gamma's agent once, in order"

    # gamma's screen reaches alpha through the store, only while watched, at a bounded rate
    secret = SECRETS["github_classic"][0]
    alpha.run("session", "send", sid, f"spin for a while; the token is {secret}", "--no-wait")
    wait_for(lambda: alpha.json("session", "show", sid)["status"] == "working", timeout=60, interval=0.3)
    screen = alpha.json("session", "show", sid, "--screen")["screen"]
    assert "spin for a while" in screen and "Working" in screen, screen
    assert secret not in screen and "ghp_" not in screen, "a secret on screen is not published"
    on_gamma = gamma.tmux("capture-pane", "-p", "-J", "-t", made["tmux_pane"])
    assert secret in on_gamma, "the agent itself got the prompt literally"
    store = Store(alpha.env["ORCHTUI_DB_URL"], key_file=fleet.repo.parent / KEY_FILE)
    try:
        screens = Screens(store)
        first = screens.get(sid)
        assert first is not None
        started, counts = time.time(), []
        while time.time() < first.watched_until + 5.0:  # the spinner turns 10 times a second throughout
            row = screens.get(sid)
            assert row is not None
            counts.append((time.time(), row.publications))
            time.sleep(0.25)
        assert secret not in (row.lines or "")
    finally:
        store.close()
    watched = [n for at, n in counts if at <= first.watched_until]
    published = watched[-1] - first.publications
    bound = 2.0 * (first.watched_until - started) + 2  # [worker] screen_rate = 2 a second
    print(f"gamma published {published} screens in {first.watched_until - started:.1f} s watched")
    assert 4 <= published <= bound, (published, bound)
    after = {n for at, n in counts if at > first.watched_until + 2.5}  # a publication under way may land late
    assert len(after) == 1, f"published with nobody watching: {sorted(after)}"

    # alpha has room for one session (the decoy): the next one goes where there is room
    placed = alpha.json("session", "new", "--agent", "scripted", "--task", "placed")
    assert placed["host"] in ("beta", "gamma"), placed["host"]

    report = alpha.json("session", "kill", sid)
    assert report["window_killed"] is True
    assert sid not in gamma.tmux("list-panes", "-a", "-F", "#{@orchtui_session}").split()
    assert alpha.json("session", "show", sid)["status"] == "killed"


def test_a_runs_stages_spread_over_the_hosts_with_room_and_the_run_is_done(fleet: Fleet) -> None:
    """alpha has room for one agent (`per_host alpha=1`). Its run's two side-by-side stages
    cannot both work there: `right` (two roles, one worktree) goes to a host sharing its
    disk, made and joined through the store; its gates run on alpha in that worktree; both
    merge back into the run's branch, and `join` sees every half."""
    alpha = fleet.hosts["alpha"]

    def peers() -> bool:  # each host has seen the others' marks in their worktree roots
        return all(set(h["peers"]) == {"alpha", "beta", "gamma"} - {h["name"]} for h in alpha.json("hosts"))

    wait_for(peers, timeout=60, interval=1)
    playbook = fleet.repo.parent / "spread.yaml"
    playbook.write_text(SPREAD)
    run_id = alpha.run("run", str(playbook), "--task", "halves").stdout.strip()

    def the_run() -> dict[str, Any]:
        [row] = [r for r in alpha.json("runs") if r["id"] == run_id]
        return dict(row)

    try:
        wait_for(lambda: the_run()["state"] in ("done", "failed", "paused"), timeout=240, interval=1)
        assert the_run()["state"] == "done"
    except AssertionError:
        recent = [(e["kind"], e["message"]) for e in alpha.json("events")][-30:]
        raise AssertionError(json.dumps({"run": the_run(), "events": recent}, indent=1)) from None
    assert the_run()["host"] == "alpha"
    sessions = [s for s in alpha.json("session", "list", "--all") if s["run"] == run_id]
    where = {s["task"].rsplit("-", 2)[-2] + "/" + s["role"]: s["host"] for s in sessions}
    assert where["left/dev"] == "alpha", where
    assert where["right/dev"] in ("beta", "gamma") and where["right/docs"] == where["right/dev"], where
    assert len(sessions) == 4, sessions
    files = git(fleet.repo, "ls-tree", "--name-only", "orchtui/halves").split()
    assert {"left.txt", "right.txt", "right-docs.txt", "joined.txt"} <= set(files), files
    for session in sessions:
        rows = [r for r in alpha.json("ledger", session["id"]) if r["kind"] == "prompt"]
        assert [r["state"] for r in rows] == ["done"], (session["task"], rows)
        received = fleet.hosts[session["host"]].transcript(session["id"])
        assert len([e for e in received if e["type"] == "prompt"]) == 1, (session["task"], received)


def test_kill9_of_a_worker_mid_stage_rescues_its_run_on_a_live_host(fleet: Fleet) -> None:
    alpha, beta = fleet.hosts["alpha"], fleet.hosts["beta"]
    playbook = fleet.repo.parent / "fleet.yaml"
    playbook.write_text(PLAYBOOK)

    def on_beta(task: str) -> str:
        return str(
            alpha.json("session", "new", "--agent", "scripted", "--task", task, "--host", "beta")["id"]
        )

    keeper, doomed = on_beta("keeper"), on_beta("doomed")
    run_id = beta.run("run", str(playbook), "--task", "spread").stdout.strip()

    def second_under_way() -> dict[str, Any] | None:
        sessions = alpha.json("session", "list")
        rows = [s for s in sessions if s["run"] == run_id and "second" in s["task"]]
        if not rows:
            return None
        prompts = [r for r in alpha.json("ledger", rows[0]["id"]) if r["kind"] == "prompt"]
        return rows[0] if prompts and prompts[0]["state"] in ("delivered", "running") else None

    victim = wait_for(second_under_way, timeout=120, interval=0.5)
    assert victim["host"] == "beta"
    pid = beta.engine_pid()
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    killed_at = time.time()

    def lost() -> dict[str, Any] | None:
        row = alpha.json("session", "show", victim["id"])
        return row if row["status"] == "lost" else None

    gone = wait_for(lost, timeout=120, interval=0.5)
    detected = time.time() - killed_at
    print(f"beta's sessions lost {detected:.1f} s after its worker was killed")
    stale_after, heartbeat = 60.0, 15.0
    assert stale_after - heartbeat - 2 <= detected <= stale_after + 6, detected
    assert gone["status_detail"].startswith("host beta silent for")
    assert alpha.json("session", "show", keeper)["status"] == "lost"
    # killed from alpha while beta is away: its records close, its worktree (on beta's disk) is kept
    report = alpha.json("session", "kill", doomed)
    assert report["window_killed"] is False and report["worktree_state"] == "kept", report

    def the_run() -> dict[str, Any]:
        [row] = [r for r in alpha.json("runs") if r["id"] == run_id]
        return dict(row)

    try:
        wait_for(lambda: the_run()["state"] == "done", timeout=180, interval=1)
    except AssertionError:
        recent = [(e["kind"], e["message"]) for e in alpha.json("events")][-25:]
        raise AssertionError(json.dumps({"run": the_run(), "events": recent}, indent=1)) from None
    assert the_run()["host"] in ("alpha", "gamma")
    hosts_of_stages = {
        s["task"]: s["host"] for s in alpha.json("session", "list", "--all") if s["run"] == run_id
    }
    assert "beta" in hosts_of_stages.values() and set(hosts_of_stages.values()) - {"beta"}, hosts_of_stages

    # every ledger row of the run is final, and no prompt reached an agent twice
    for session in alpha.json("session", "list", "--all"):
        if session["run"] != run_id:
            continue
        rows = [r for r in alpha.json("ledger", session["id"]) if r["kind"] == "prompt"]
        assert all(r["state"] in ("done", "failed", "cancelled") for r in rows), rows
        owner = fleet.hosts[session["host"]]
        received = [e["text"] for e in owner.transcript(session["id"]) if e["type"] == "prompt"]
        assert len(received) == len(set(received)) <= len(rows), (session["id"], received)
    assert any(e["kind"] == "host.lost" for e in alpha.json("events"))

    # beta comes back: the stage's agent, lost while beta was away, has its window stopped
    # since its run went on elsewhere; so has the session killed from alpha meanwhile
    beta.run("engine", "start")
    wait_for(lambda: "beta" in fleet.live(), timeout=60, interval=0.5)

    def beta_windows() -> list[str]:
        return beta.tmux("list-panes", "-a", "-F", "#{@orchtui_session}").split()

    wait_for(lambda: not {victim["id"], doomed} & set(beta_windows()), timeout=60, interval=0.5)
    assert alpha.json("session", "show", doomed)["status"] == "killed"
    row = alpha.json("session", "show", victim["id"])
    assert row["status"] == "lost" and "window stopped on return" in row["status_detail"]
    # a session of no run is followed again where it still runs, and takes prompts from anywhere
    assert alpha.json("session", "show", keeper)["status"] in ("idle", "working")
    alpha.run("session", "send", keeper, "still there?", "--timeout", "90")
    alpha.run("wait", keeper, "--for", "done", "--timeout", "90")
    received = [e["text"] for e in beta.transcript(keeper) if e["type"] == "prompt"]
    assert received == ["still there?"]
    assert git(fleet.repo, "branch", "--list", "orchtui/*")
