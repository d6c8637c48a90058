"""The engine loop: watch logs and signals by events, keep statuses and the queue moving.

One asyncio loop. inotify (runtime/watch.py) reports which files changed; a changed log
means "read this session's new bytes and re-evaluate this session", nothing else. tmux hooks
(pane-died, window-resized) drop lines into the events folder; the CLI appends to the
wake file after it changes the store. A slow reconcile (one `list-panes` for all
sessions) is a safety net, not the watcher.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import Coroutine
from functools import partial
from pathlib import Path
from typing import Any

from orchtui import redact
from orchtui.domain import CommandKind, CommandState, SessionStatus
from orchtui.engine import collector, logcap
from orchtui.engine.actions import abandon_unfinished, work_through
from orchtui.engine.advancer import RunAdvancer
from orchtui.engine.boundary import Boundary
from orchtui.engine.calls import Caller
from orchtui.engine.delivery import deliver, deliver_answer, recover_issued
from orchtui.engine.followups import FollowUps
from orchtui.engine.monitor import Monitor
from orchtui.engine.screens import ScreenPublisher
from orchtui.engine.sight import Sight, is_new, look, shoot
from orchtui.engine.signals import Signals
from orchtui.engine.turns import ACTIVE, BUSY, Turns
from orchtui.engine.worker import beat_until, reclaim, say_goodbye, watch_fleet
from orchtui.runtime.tmux import PaneInfo, parse_int
from orchtui.runtime.watch import Backlog, changes
from orchtui.services import pane_logs
from orchtui.services.context import Context
from orchtui.services.events import emit
from orchtui.services.notify import News, news_of, who
from orchtui.store import wakeups
from orchtui.store.db import now
from orchtui.store.tables import AgentSession, Command
from orchtui.tail import complete_lines, read_from

log = logging.getLogger("orchtui.engine")
ERROR_SETTLE = 0.3  # seconds an error must stay on screen before the status says so
REPORT_LINE_WAIT = 3.0  # seconds an agent's error report may come before its error line
FRAME_LIMIT = 0.25  # seconds a synchronized update may hold the screen back (terminals: 0.1-1 s)


DEAD_STATUS_GRACE = 5.0  # seconds to wait for tmux to report an exit status
CREATION_GRACE = 120.0  # seconds a session may sit in "starting" without a tmux pane
LIVE = frozenset(s.value for s in SessionStatus if s.live)


class Engine:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.state = ctx.config.state
        self.monitors: dict[str, Monitor] = {}
        self.by_pane: dict[str, str] = {}
        self.delivering: set[str] = set()
        self.tasks: set[asyncio.Task[None]] = set()
        self.adopting: set[str] = set()  # sessions whose panes a worker is looking at
        self.acting: asyncio.Task[None] | None = None  # carrying out host actions (take_actions)
        self.acting_again = False
        self.full_passes = collector.FullPasses()
        self.last_news = time.monotonic()  # when the last batch of changes was handled
        self._event_offset = 0
        self._wake_offset = 0
        self.boundary = Boundary(ctx)
        self.screens = ScreenPublisher(self)  # watched screens, for viewers on other hosts
        self.host = ctx.config.host  # it follows this host's sessions only: another's
        # panes are in another tmux server, and would look lost from here
        self.advancer = RunAdvancer(self)
        self.caller = Caller(ctx, self.spawn)
        self.turns = Turns(ctx, self.advancer.poke)
        self.signals = Signals(self)
        self.extra_markers: dict[str, set[str]] = {}
        self.backlog = Backlog()  # output seen by the watcher, not handled yet
        self.after = FollowUps(
            self.signals.collect,
            self.progress,
            lambda m: self.monitors.get(m.session_id) is m,
            self.boundary,
            waiting=lambda: bool(self.backlog),
        )

    # lifecycle ------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> None:
        self.state.ensure()
        for path in (self.state.tmux_events, self.state.wake_file):
            path.touch(exist_ok=True)
        self._event_offset = self.state.tmux_events.stat().st_size
        self._wake_offset = self.state.wake_file.stat().st_size
        self.ctx.tmux.use_control_mode()
        self.full_passes.take_over()  # full passes when quiet (engine/collector.py); given back at the end
        threading.Thread(target=redact.warm, name="redact-warm", daemon=True).start()
        reconcile = asyncio.create_task(self._reconcile_loop(stop))
        heart = asyncio.create_task(beat_until(self.ctx, self.boundary, stop, lambda: len(self.monitors)))
        fleet_tasks = [heart]
        listening = threading.Event()  # set: the listener stops
        if self.ctx.store.shared:  # other hosts share the store: their wake-ups, their silence
            fleet_tasks.append(asyncio.create_task(watch_fleet(self.ctx, self.boundary, stop)))
            threading.Thread(
                target=wakeups.listen,
                args=(self.ctx.store, self.host, self._woken, listening),
                name="wake-listen",
                daemon=True,
            ).start()
        self.boundary.run("abandoning unfinished host actions", partial(abandon_unfinished, self.ctx))
        cfg = self.ctx.config.engine

        def ready() -> None:  # adopted with the watch in place: output written meanwhile is seen
            self.adopt_guarded()

        try:
            dirs = [self.state.logs, self.state.events, self.state.run]
            watching = changes(dirs, cfg.debounce_ms, stop, cfg.step_ms, on_ready=ready, backlog=self.backlog)
            async for paths in watching:
                self.handle(paths)
        finally:
            reconcile.cancel()
            listening.set()
            for task in fleet_tasks:
                task.cancel()
            say_goodbye(self.ctx)
            self.full_passes.give_back()
            for task in list(self.tasks):
                task.cancel()
            self.ctx.tmux.close()

    def _woken(self, reason: str) -> None:
        """Another host changed the store (its NOTIFY, heard in the listener's thread): the
        same wake file as this host's own commands write, so one path handles both."""
        self.ctx.wake_engine(reason.replace("\n", " "), host=self.host)  # this host only: no NOTIFY back

    def handle(self, paths: set[Path]) -> None:
        """One batch of changed files: every session's status first, then what they move
        (engine/followups.py)."""
        self.after.hold()
        try:
            self._handle(paths)
        finally:
            self.after.release()
            collector.log_slow()
            self.last_news = time.monotonic()

    def _handle(self, paths: set[Path]) -> None:
        for path in sorted(paths):
            self.boundary.run(
                f"handling {path.name}", partial(self._handle_one, path), partial(self._again, path)
            )

    def _handle_one(self, path: Path, again: bool = False) -> None:
        if path.parent == self.state.logs and path.suffix == ".log":
            monitor = self.monitors.get(path.stem)
            if monitor is not None:
                self.on_output(monitor)
                if again:  # what the last try could not record: the screen says it again
                    self.evaluate(monitor, cause="screen, again")
                    self.after.add(monitor, collect=True)
        elif path == self.state.tmux_events:
            self.on_tmux_events()
        elif path.parent == self.state.events and path.name.startswith("hooks-"):
            monitor = self.monitors.get(path.stem.removeprefix("hooks-"))
            if monitor is not None:
                self.signals.on_hooks(monitor)
                if again:
                    self.evaluate(monitor, cause="screen, again")
        elif path == self.state.wake_file:
            self.sync()

    def _again(self, path: Path) -> None:
        """The store was busy while `path`'s news were handled: handle them again, and
        look at everything that may have been missed meanwhile."""
        self.after.hold()
        try:
            self.boundary.run(
                f"handling {path.name}", lambda: self._handle_one(path, again=True), lambda: self._again(path)
            )
        finally:
            self.after.release()

    async def _reconcile_loop(self, stop: asyncio.Event) -> None:
        interval = self.ctx.config.engine.reconcile_interval
        while not stop.is_set():
            await asyncio.sleep(interval)
            try:  # tmux's view of every pane, asked in a worker: the loop goes on meanwhile
                panes = await asyncio.to_thread(self.ctx.tmux.panes)
            except Exception as exc:
                self.boundary.failed("reconcile", exc)
                continue
            self.boundary.run("reconcile", partial(self.reconcile, panes))
            if self.full_passes.maybe(time.monotonic() - self.last_news):
                collector.log_slow()

    # adoption -------------------------------------------------------------
    def adopt_all(self) -> None:
        """Follow every live session (at start: orchtui was restarted), and those lost while
        this host was silent whose windows still run (engine/worker.py)."""
        if self.ctx.store.shared:
            reclaim(self.ctx, self.ctx.tmux.panes())
        self.adopt_new(self.ctx.records.sessions(live_only=True), ready=True)

    def adopt_new(self, rows: list[AgentSession], ready: bool = False) -> None:
        """Follow sessions not followed yet: tmux is asked about their panes in a worker
        (engine/sight.py), then each is adopted on the loop. `ready`: the engine's first
        adoption, logged once it is done."""
        rows = [r for r in rows if r.id not in self.adopting and r.id not in self.monitors]
        rows = [r for r in rows if not self._being_created(r) and r.host in (None, self.host)]
        if not rows and not ready:
            return
        self.adopting.update(r.id for r in rows)

        def look_all() -> list[Sight]:
            panes = self.ctx.tmux.panes()  # after the rows: a window made meanwhile is in both
            return [look(self.ctx.tmux, r, panes, self.state.log_file(r.id)) for r in rows]

        async def go() -> None:
            try:
                sights = await asyncio.to_thread(look_all)
            except Exception as exc:
                sights = []
                self.boundary.failed("looking at new sessions", exc)
            self.adopting.difference_update(r.id for r in rows)
            self.after.hold()
            try:
                for row, sight in zip(rows, sights, strict=False):
                    self.boundary.run(
                        f"adopting {row.id}",
                        partial(self.adopt, row, sight),
                        partial(self.adopt_again, row.id),
                    )
            finally:
                self.after.release()
            if ready:
                log.info("engine watching %d session(s)", len(self.monitors))
            self.full_passes.adopted(len(rows))

        self.spawn(go())

    def adopt_again(self, session_id: str) -> None:
        """The store was busy while adopting a session: look at it again."""
        row = self.ctx.records.find_session(session_id)
        if row is not None and SessionStatus(row.status).live:
            self.adopt_new([row])

    @staticmethod
    def _being_created(row: AgentSession) -> bool:
        """Still being made by a CLI process (no pane yet); its wake-up comes next."""
        creating = row.tmux_pane is None and row.status == SessionStatus.STARTING
        return creating and now() - row.status_at < CREATION_GRACE  # status_at: the latest (re)start

    def adopt(self, row: AgentSession, sight: Sight) -> None:
        """Follow a session: a new one from its first byte, an old one (orchtui was
        restarted) from its captured screen. Never recreates a window."""
        if row.id in self.monitors:
            return
        fresh = self.ctx.records.find_session(row.id)  # it may have ended while tmux was asked
        if fresh is None or not SessionStatus(fresh.status).live or fresh.tmux_pane != row.tmux_pane:
            return  # the next sync sees it as it is now
        row, pane = fresh, sight.pane
        if pane is None:
            self._close_commands(row.id, "session lost", poke=False)  # whoever sees `lost` sees them closed
            self.ctx.records.update_session(
                row.id, status=SessionStatus.LOST, status_detail="tmux window gone", ended_at=now()
            )
            emit(
                self.ctx,
                "status",
                f"{row.status} -> lost",
                session_id=row.id,
                old=row.status,
                new=SessionStatus.LOST,
            )
            emit(self.ctx, "agent.lost", "its tmux window is gone", severity="warning", session_id=row.id)
            self.call(News("exited", who(row.id, row.agent, row.task)))
            self.advancer.poke(row.id)
            return
        profile = self.ctx.profiles.get(row.agent)
        monitor = Monitor(
            row.id,
            profile,
            self.state.log_file(row.id),
            pane.pane_id,
            row.status,
            cols=pane.width,
            rows=pane.height,
            pane_pid=pane.pid,
        )
        monitor.replaying = row.status == SessionStatus.STARTING and "(resuming" in (row.status_detail or "")
        monitor.base = pane_logs.read_base(self.state, row.id)
        self.monitors[row.id] = monitor
        self.by_pane[pane.pane_id] = row.id
        for regex in self.extra_markers.get(row.id, set()) | set(json.loads(row.markers or "[]")):
            monitor.add_marker(regex)
        if is_new(row):
            monitor.read_new()
        else:
            monitor.offset = row.log_offset
            self._scan_gap(monitor)
            if sight.shot is not None:
                monitor.reseed(sight.shot)
        self.signals.adopt(monitor, row)
        if pane.dead:
            self.mark_exited(monitor, pane.dead_status, pane.dead_signal)
            return
        self.evaluate(monitor, cause="adopted")
        self._recover_commands(monitor)
        self.maybe_dispatch(monitor)

    def adopt_guarded(self) -> None:
        """adopt_all in the error boundary; a busy store: all of it again, later."""
        self.boundary.run("adopting sessions", self.adopt_all, self.adopt_guarded)

    def add_marker(self, session_id: str, regex: str) -> None:
        """A playbook stage's completion marker, watched for besides the profile's."""
        self.extra_markers.setdefault(session_id, set()).add(regex)
        monitor = self.monitors.get(session_id)
        if monitor is not None:
            monitor.add_marker(regex)

    def _scan_gap(self, monitor: Monitor) -> None:
        """Output written while orchtui was away: look for completion markers in it. Any
        output at all means a prompt delivered before the stop has had its turn."""
        gap = read_from(monitor.log_file, monitor.offset - monitor.base)
        monitor.scan_markers(gap)
        monitor.turn_seen = bool(gap.strip())
        monitor.offset += len(gap)

    def _recover_commands(self, monitor: Monitor) -> None:
        """A row caught mid-delivery by a crash is never sent twice and never glued to
        the next prompt: a busy agent took it once Enter was pressed; otherwise
        delivery.recover_issued finds out
        (and empties the agent's input line) before anything else is sent."""
        for cmd in self.ctx.ledger.open_rows(monitor.session_id):
            if cmd.state != CommandState.ISSUED or cmd.id is None:
                continue
            entered = cmd.submit_offset is not None  # Enter was pressed (or about to be)
            if entered and monitor.status in BUSY:
                self.ctx.ledger.transition(
                    cmd.id, CommandState.DELIVERED, "adopted after restart: agent busy"
                )
                self.ctx.ledger.transition(cmd.id, CommandState.RUNNING, "adopted after restart: agent busy")
            else:
                # A completion marker printed after the row's Enter (not an earlier turn's,
                # still in the unread log), or a prompt-submit hook since the row was
                # issued: the agent took it (and may be done).
                taken = entered and (
                    monitor.markers_since(cmd.submit_offset or 0) > 0
                    or monitor.submitted_at >= (cmd.issued_at or now())
                )
                self._start(monitor, recover_issued(self, monitor, cmd, taken))
                return
        self.progress(monitor)

    def sync(self) -> None:
        """The store changed (new session, kill, queued prompt, hand-back)."""
        self._wake_offset += len(read_from(self.state.wake_file, self._wake_offset))
        live = self.ctx.records.live_panes()  # not whole rows: this runs on every wake-up
        for sid, monitor in list(self.monitors.items()):  # plain comparisons: 500 of them a wake-up
            entry = live.get(sid)
            if entry is None:
                if not monitor.awaiting_exit_code:  # else followed until its pane dies with
                    self.drop(sid)  # the exit code (reconcile looks too)
            elif entry[0] != monitor.pane_id or monitor.status not in LIVE:
                self.drop(sid)  # restarted: a new window is being made or has another pane
        new = [
            sid
            for sid, (_pane, host) in live.items()
            if sid not in self.monitors and sid not in self.adopting and host in (None, self.host)
        ]
        if new:
            self.adopt_new(self.ctx.records.sessions(ids=new))
        for sid in sorted(self.ctx.ledger.sessions_with(CommandState.QUEUED)):
            if sid in self.monitors:
                self.maybe_dispatch(self.monitors[sid])
        self.advancer.advance_all()
        if self.ctx.store.shared:
            self.take_actions()
            self.screens.look()

    def take_actions(self) -> None:
        """Carry out what other hosts asked of this one (services/host_actions.py), in a
        worker thread, one batch at a time; a wake-up meanwhile makes it look once more."""
        if self.acting is not None:
            self.acting_again = True
            return

        async def go() -> None:
            try:
                while True:
                    self.acting_again = False
                    await asyncio.to_thread(work_through, self.ctx)
                    if not self.acting_again:
                        return
            except Exception as exc:
                self.boundary.failed("carrying out host actions", exc)
            finally:
                self.acting = None

        self.acting = asyncio.get_running_loop().create_task(go())
        self.tasks.add(self.acting)
        self.acting.add_done_callback(self.tasks.discard)

    def drop(self, session_id: str) -> None:
        monitor = self.monitors.pop(session_id, None)
        if monitor is not None:
            self.by_pane.pop(monitor.pane_id, None)
            monitor.screen.release()
            if monitor.status == SessionStatus.WAITING:
                self.count_waiting()

    def count_waiting(self) -> None:
        """The agents waiting for the operator, for tmux's status line."""
        self.caller.waiting(sum(1 for m in self.monitors.values() if m.status == SessionStatus.WAITING))

    def reconcile(self, panes: dict[str, PaneInfo]) -> None:
        """Every followed session against tmux's `panes` (asked in a worker)."""
        missing: list[Monitor] = []
        live = self.ctx.records.live_panes()  # each live session's pane, not whole rows
        # one query for all: an idle session costs the reconcile no query of its own
        delivered = self.ctx.ledger.sessions_with(CommandState.DELIVERED)
        for monitor in list(self.monitors.values()):
            pane = panes.get(monitor.pane_id)
            row = live.get(monitor.session_id)
            if row is None and monitor.awaiting_exit_code:
                if pane is not None and pane.dead:
                    self.mark_exited(monitor, pane.dead_status, pane.dead_signal)
                if pane is None or not monitor.awaiting_exit_code:
                    self.drop(monitor.session_id)
                continue
            if row is None or row[0] != monitor.pane_id:
                self.drop(monitor.session_id)  # ended meanwhile, or restarted (sync adopts it)
                continue
            if pane is None:  # a second, current look first: `panes` may predate this window
                missing.append(monitor)
            elif pane.dead:
                self.mark_exited(monitor, pane.dead_status, pane.dead_signal)
            else:
                if self.turns.check_stuck(monitor):
                    self.advancer.stuck(monitor.session_id)  # the stage's stuck_policy acts
                self.turns.note_retrying(monitor)
                if monitor.session_id in delivered and monitor.session_id not in self.delivering:
                    self.turns.check_started(monitor)
                if monitor.status in BUSY:
                    self.signals.collect(monitor)
        if missing:
            self.spawn(self._look_again(missing))
        self.sync()

    async def _look_again(self, monitors: list[Monitor]) -> None:
        """Sessions whose panes reconcile did not see: tmux is asked once more (in a
        worker) before they are called lost."""
        try:
            panes = await asyncio.to_thread(self.ctx.tmux.panes)
        except Exception as exc:
            self.boundary.failed("looking again at missing panes", exc)
            return
        for monitor in monitors:
            if self.monitors.get(monitor.session_id) is monitor:
                self.boundary.run(f"ending {monitor.session_id}", partial(self._gone, monitor, panes))

    def _gone(self, monitor: Monitor, panes: dict[str, PaneInfo]) -> None:
        pane = panes.get(monitor.pane_id)
        if pane is None:
            if self.set_status(monitor, SessionStatus.LOST, "tmux window gone", ended=True):
                emit(self.ctx, "agent.lost", "its tmux window is gone", "warning", monitor.session_id)
            self.drop(monitor.session_id)
        elif pane.dead:
            self.mark_exited(monitor, pane.dead_status, pane.dead_signal)

    # signals --------------------------------------------------------------
    def on_output(self, monitor: Monitor) -> None:
        if monitor.read_new():
            if logcap.due(monitor, self.ctx.config.tmux.log_cap_mb * 1024 * 1024):
                logcap.rotate(monitor, self.ctx.tmux, self.state)
            if monitor.screen.frame_open:  # a half-drawn frame says nothing yet
                self._evaluate_frame_later(monitor)
            else:
                if monitor.frame_check is not None:
                    monitor.frame_check.cancel()
                    monitor.frame_check = None
                self.evaluate(monitor, cause="screen")
            monitor.notify()

    def _evaluate_frame_later(self, monitor: Monitor) -> None:
        """An agent that never ends its synchronized update is looked at anyway, as a
        terminal shows it after a while."""
        if monitor.frame_check is not None:
            return

        def check() -> None:
            monitor.frame_check = None
            if self.monitors.get(monitor.session_id) is monitor and monitor.screen.frame_open:
                self.evaluate(monitor, cause="screen")

        monitor.frame_check = asyncio.get_running_loop().call_later(FRAME_LIMIT, check)

    def on_tmux_events(self) -> None:
        complete = complete_lines(read_from(self.state.tmux_events, self._event_offset))
        self._event_offset += len(complete)
        for line in complete.decode(errors="replace").splitlines():
            word, _, rest = line.partition(" ")
            fields = dict(item.partition("=")[::2] for item in rest.split())
            monitor = self.monitors.get(self.by_pane.get(fields.get("pane", ""), ""))
            if monitor is None:
                continue
            pid = parse_int(fields.get("pid"))
            if pid is not None and monitor.pane_pid is not None and pid != monitor.pane_pid:
                continue  # the end of an earlier launch in a pane id tmux has reused
            if word == "died":
                monitor.read_new()
                code, signal = parse_int(fields.get("status")), parse_int(fields.get("signal"))
                if code is None and signal is None:
                    self._recheck_dead(monitor, tries=10)  # tmux has not reaped the process yet
                else:
                    self.mark_exited(monitor, code, signal, final=True)
            elif word == "resized" and parse_int(fields.get("w")) and parse_int(fields.get("h")):
                self.on_resize(monitor, int(fields["w"]), int(fields["h"]))

    def _recheck_dead(self, monitor: Monitor, tries: int) -> None:
        """Ask tmux again (in a worker), shortly, for the exit status of a pane it reported dead."""

        async def again() -> None:
            for left in range(tries, 0, -1):
                await asyncio.sleep(0.05)
                try:
                    pane = (await asyncio.to_thread(self.ctx.tmux.panes)).get(monitor.pane_id)
                except Exception as exc:
                    self.boundary.failed(f"looking at the pane of {monitor.session_id}", exc)
                    return
                if pane is None:
                    return
                if pane.dead_status is not None or pane.dead_signal is not None or left == 1:
                    self.boundary.run(
                        f"ending {monitor.session_id}",
                        partial(self.mark_exited, monitor, pane.dead_status, pane.dead_signal),
                    )
                    return

        self.spawn(again())

    def on_resize(self, monitor: Monitor, cols: int, rows: int) -> None:
        """The pane was resized: the screen is captured again (in a worker) at its new size."""
        if (cols, rows) == monitor.screen.size:
            return
        monitor.read_new()
        monitor.screen.resize(cols, rows)

        async def recapture() -> None:
            try:
                shot = await asyncio.to_thread(shoot, self.ctx.tmux, monitor.pane_id, monitor.log_file)
            except Exception as exc:  # the pane went meanwhile: reconcile sees it
                self.boundary.failed(f"capturing {monitor.session_id} after a resize", exc)
                return
            if self.monitors.get(monitor.session_id) is not monitor or monitor.screen.size != (cols, rows):
                return  # gone, or resized again (that capture follows)
            monitor.reseed(shot)
            self.boundary.run(f"evaluating {monitor.session_id}", partial(self.evaluate, monitor, "resize"))

        self.spawn(recapture())

    # status ---------------------------------------------------------------
    def evaluate(self, monitor: Monitor, cause: str) -> None:
        """Re-classify the screen. Store and ledger are touched only when something
        changed: a new status, a new completion marker or a new conversation id."""
        verdict = monitor.verdict()
        if verdict.conversation_id:
            self.note_conversation(monitor, verdict.conversation_id)
        changed = monitor.markers_seen != monitor.markers_acted or monitor.turn_news
        monitor.turn_news = False
        if monitor.markers_seen > monitor.markers_acted:
            monitor.turn_seen = True
            emit(self.ctx, "step.marker", "completion marker seen", session_id=monitor.session_id)
        state, detail = verdict.state, f"{cause}: rule {verdict.rule} ({verdict.state}) `{verdict.line}`"
        settle = cause == "screen"  # an error read off the screen counts once it stayed
        if state == SessionStatus.IDLE and monitor.reported_error:
            # Codex reports an error, redraws its prompt, and prints the error a frame later:
            # the status waits for that line (REPORT_LINE_WAIT at most) to say why
            state = SessionStatus.ERROR
            detail = f"{cause}: the agent reported an error (OSC 7501) and is back at its prompt"
            settle = time.time() - monitor.reported_at < REPORT_LINE_WAIT
            if not settle:
                monitor.last_error = (
                    monitor.last_error or "the agent reported an error; its screen shows none"
                )
        monitor.screen_state = state
        if state == SessionStatus.WAITING and monitor.status == state:
            monitor.wait_drawn = True  # the screen now shows the wait a hook announced
        if state == SessionStatus.ERROR and monitor.rejected:
            state, detail = SessionStatus.IDLE, f"{cause}: the operator rejected a permission"
        if state == SessionStatus.ERROR and monitor.replaying:
            # a resumed agent redraws its history: an error there is an old turn's, also
            # while a first prompt is pasted over it, until the new turn shows itself
            state = None
        elif state == SessionStatus.ERROR and settle and state != monitor.status:
            # an agent redrawing (its history on resume, a popup closing, its exit screen) can
            # show an old error line for a frame: an error counts once the screen settled on it
            self._check_error_later(monitor)
            state = None
        elif monitor.error_check is not None and state != SessionStatus.ERROR:
            monitor.error_check.cancel()
            monitor.error_check = None
        if state is not None and state != monitor.status and self._screen_may_say(monitor, state):
            changed = True
            if state == SessionStatus.EXITED:
                # The agent said goodbye; tmux's pane-died signal brings the exit code.
                self.set_status(monitor, state, "agent printed its exit screen", ended=True)
            else:
                self.set_status(monitor, state, detail)
        self.turns.note_retrying(monitor)
        if changed or cause != "screen":
            monitor.markers_acted = monitor.markers_seen
            self.after.add(monitor)

    def _check_error_later(self, monitor: Monitor) -> None:
        if monitor.error_check is not None:
            return

        def check() -> None:
            monitor.error_check = None
            if self.monitors.get(monitor.session_id) is monitor:
                self.evaluate(monitor, cause="screen, settled")

        monitor.error_check = asyncio.get_running_loop().call_later(ERROR_SETTLE, check)

    @staticmethod
    def _screen_may_say(monitor: Monitor, state: str) -> bool:
        """Hooks outrank the screen. With hooks, the screen may still show the exit
        screen, settle a starting session, or end a wait, but only a wait it has shown
        itself: a spinner left on screen from before a hook's wait is stale."""
        if not monitor.hooked or state == SessionStatus.EXITED:
            return True
        if monitor.status == SessionStatus.WAITING:
            return monitor.wait_drawn
        return monitor.status == SessionStatus.STARTING

    def budget_exhausted(self, run_id: str, why: str) -> None:
        self.advancer.budget_exhausted(run_id, why)

    def hook_status(self, monitor: Monitor, status: str, detail: str) -> None:
        """A status an agent's hook reported."""
        if status == monitor.status or not SessionStatus(monitor.status).live:
            return
        if status == SessionStatus.EXITED:
            self.set_status(monitor, status, detail, ended=True)
        else:
            self.set_status(monitor, status, detail)
        if status == SessionStatus.WAITING:  # hooks fire before the screen redraws,
            monitor.wait_drawn = monitor.screen_state == status  # or after it drew the dialog
        monitor.markers_acted = monitor.markers_seen
        self.progress(monitor)

    def note_conversation(self, monitor: Monitor, conversation_id: str) -> None:
        if monitor.conversation_id == conversation_id:
            return
        monitor.conversation_id = conversation_id
        self.ctx.records.update_session(monitor.session_id, conversation_id=conversation_id)

    def set_status(
        self, monitor: Monitor, status: str, detail: str, ended: bool = False, exit_code: int | None = None
    ) -> bool:
        old = monitor.status
        monitor.status = status
        fields: dict[str, object] = {"log_offset": monitor.offset}
        if ended:
            fields["ended_at"] = now()
        if exit_code is not None:
            fields["exit_code"] = exit_code
        try:
            changed = self.ctx.records.change_status(monitor.session_id, old, status, detail, **fields)
        except Exception:
            monitor.status = old  # not recorded: the next look at the screen tries again
            raise
        if not changed:
            monitor.status = self.ctx.records.session(monitor.session_id).status  # killed meanwhile
            monitor.notify()
            return False
        log.info("%s: %s -> %s (%s)", monitor.session_id, old, status, detail)
        # exited by its exit screen or a hook: tmux's pane-died brings the exit code later
        monitor.awaiting_exit_code = status == SessionStatus.EXITED and exit_code is None
        monitor.status_seq += 1
        monitor.wait_drawn = True
        if status in BUSY:
            monitor.turn_seen = True
            monitor.replaying = False  # a turn of its own: what its screen shows now is new
        monitor.notify()
        if status == SessionStatus.ERROR:
            monitor.last_error = monitor.last_error or monitor.screen_error()
            emit(
                self.ctx,
                "agent.error",
                f"agent error: {monitor.last_error or detail}",
                severity="warning",
                session_id=monitor.session_id,
            )
        elif status == SessionStatus.WORKING:
            monitor.last_error = None
        if old == SessionStatus.WORKING or not monitor.hooked:
            self.after.add(monitor, collect=True, progress=False)
        if not SessionStatus(status).live:
            self._close_commands(monitor.session_id, f"session {status}")
        news = news_of(old, status, exit_code, monitor.session_id)
        if news is not None:
            self.call(News(news.kind, self._who(monitor.session_id)))
        if SessionStatus.WAITING in (old, status):  # counted only when it can change: not O(n) a change
            self.count_waiting()
        return True

    def call(self, news: News) -> None:
        self.caller.news(news)

    def _who(self, session_id: str) -> str:
        row = self.ctx.records.find_session(session_id)
        return who(session_id, row.agent, row.task) if row else session_id

    def mark_exited(
        self, monitor: Monitor, code: int | None, signal: int | None = None, final: bool = False
    ) -> None:
        """The agent's process ended. tmux can show a pane dead (its pty closed) seconds
        before it has the exit status, more so under load; without a status, wait for
        the pane-died hook or a later look, and give up only after DEAD_STATUS_GRACE."""
        if code is None and signal is None and not final:
            if monitor.dead_since is None:
                monitor.dead_since = now()
            if now() - monitor.dead_since < DEAD_STATUS_GRACE:
                return
        detail = (
            f"exit code {code}"
            if code is not None
            else f"killed by signal {signal}"
            if signal is not None
            else "process ended"
        )
        why = (monitor.last_error or monitor.screen_error()) if code != 0 else None
        if why:
            detail += f"; last error: {why}"
        row = self.ctx.records.session(monitor.session_id)
        restarted = not SessionStatus(monitor.status).live and SessionStatus(row.status).live
        if restarted or (row.tmux_pane is not None and row.tmux_pane != monitor.pane_id):
            return  # the session was restarted in another window meanwhile
        if row.status == SessionStatus.EXITED:
            monitor.awaiting_exit_code = False
            if row.exit_code is not None or code is None:
                return
            # the exit screen (or a hook) said so first: now the exit code, no second transition
            self.ctx.records.update_session(monitor.session_id, exit_code=code, status_detail=detail)
            if code != 0:
                self.call(News("exited", self._who(monitor.session_id)))
        elif not SessionStatus(row.status).live:
            monitor.awaiting_exit_code = False
            return  # killed or lost meanwhile: that stands
        elif not self.set_status(monitor, SessionStatus.EXITED, detail, ended=True, exit_code=code):
            return
        severity = "info" if code == 0 else "warning"
        emit(
            self.ctx, "agent.exited", f"agent exited: {detail}", severity, monitor.session_id, exit_code=code
        )

    def _close_commands(self, session_id: str, cause: str, poke: bool = True) -> None:
        delivering = session_id in self.delivering
        for cmd in self.ctx.ledger.open_rows(session_id):
            if cmd.id is None or cmd.kind == CommandKind.TAKEOVER:
                continue
            if delivering and cmd.state == CommandState.ISSUED:
                continue  # its delivery task settles it (the agent may have taken it, then exited)
            final = CommandState.CANCELLED if cmd.state == CommandState.QUEUED else CommandState.FAILED
            self.ctx.ledger.transition(cmd.id, final, cause)
        if poke:
            self.advancer.poke(session_id)

    # queue ----------------------------------------------------------------
    def progress(self, monitor: Monitor) -> None:
        """Move the session's in-flight prompts along as the agent's state changes."""
        if monitor.session_id in self.delivering:
            return
        rows = self.ctx.ledger.open_rows(monitor.session_id)
        if not rows:
            return  # nothing in flight, nothing queued: one query, not two
        moved = self.turns.advance(monitor, rows)
        self.maybe_dispatch(monitor, None if moved else rows)  # read again once rows moved

    def maybe_dispatch(self, monitor: Monitor, rows: list[Command] | None = None) -> None:
        """Start the next delivery: an answer while the agent waits at a permission
        prompt, else the oldest queued prompt once the agent is at its input prompt.
        `rows`: the session's open rows, when just read."""
        sid = monitor.session_id
        if sid in self.delivering:
            return
        rows = self.ctx.ledger.open_rows(sid) if rows is None else rows
        queued = [r for r in rows if r.state == CommandState.QUEUED]
        prompts = [r for r in queued if r.kind == CommandKind.PROMPT]
        idle = SessionStatus(monitor.status).accepts_input
        if monitor.status == SessionStatus.WAITING:
            pick = [r for r in queued if r.kind == CommandKind.ANSWER]
        elif idle or monitor.status == SessionStatus.WORKING:
            busy = any(r.state in ACTIVE and r.kind == CommandKind.PROMPT for r in rows)
            pick = [r for r in prompts if r.urgent] or (prompts if idle and not busy else [])
        else:
            return
        if not pick:
            return
        row = self.ctx.records.session(sid)
        if row.taken_over:
            return
        held = pick[0].kind == CommandKind.PROMPT and not pick[0].urgent
        if held and self.signals.budgets.check(row) is not None:
            return  # a spent budget holds prompts back (the pause is announced once)
        cmd = pick[0]
        self._start(
            monitor,
            deliver_answer(self, monitor, cmd)
            if cmd.kind == CommandKind.ANSWER
            else deliver(self, monitor, cmd),
        )

    def spawn(self, work: Coroutine[Any, Any, None]) -> None:
        """A background task of the loop, awaited (cancelled) on shutdown."""
        task = asyncio.get_running_loop().create_task(work)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def _start(self, monitor: Monitor, work: Coroutine[Any, Any, None]) -> None:
        """Run one delivery for the session; nothing else is sent to it meanwhile."""
        self.delivering.add(monitor.session_id)
        self.spawn(self._deliver(monitor, work))

    async def _deliver(self, monitor: Monitor, work: Coroutine[Any, Any, None]) -> None:
        try:
            await work
        except Exception as exc:  # a bug must not kill the engine: logged, and an event
            self.boundary.failed(
                f"delivery to session {monitor.session_id}", exc, lambda: self.after.add(monitor)
            )
        finally:
            self.delivering.discard(monitor.session_id)
        if not SessionStatus(monitor.status).live:
            self._close_commands(monitor.session_id, f"session {monitor.status}")
        elif monitor.session_id in self.monitors:
            self.after.add(monitor)  # its prompts move on, and the next one goes (progress)
