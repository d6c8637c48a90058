"""The dashboard: sessions, output, queue/ledger, worktrees, gates and cost.

All I/O (store, tmux, git, log files) happens in worker threads; widgets receive
snapshots. Refreshes are driven by file events (the database's WAL and the selected
agent's log), not by a polling loop; a 1 s timer only re-renders the elapsed columns.
"""

from __future__ import annotations

import asyncio
import gc
import importlib
import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import textual.constants
import textual.screen
from rich.text import Text
from textual import events, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.css.query import NoMatches
from textual.notifications import SeverityLevel
from textual.timer import Timer
from textual.widgets import Footer, Header, Input, Static, TabbedContent, TabPane

from orchtui import trust
from orchtui.config import load_config
from orchtui.domain import CommandKind, SessionStatus
from orchtui.errors import OrchtuiError, Refused, Untrusted, UsageError
from orchtui.screen.vt import VirtualScreen
from orchtui.services import engine_process, screen_share
from orchtui.services.context import Context
from orchtui.services.dashboard import DashboardSource, SessionView, Snapshot
from orchtui.services.first_run import missing_agents_hint
from orchtui.services.pane_view import seed_screen
from orchtui.services.repos import current_branch
from orchtui.services.session_filter import SessionFilter
from orchtui.services.sessions import SessionService
from orchtui.tail import read_after
from orchtui.ui.background import Coalesced, background
from orchtui.ui.calls import TerminalCaller
from orchtui.ui.help import KeysHelp
from orchtui.ui.keys import bindings
from orchtui.ui.modals import ConfirmScreen, NewSessionRequest, NewSessionScreen, PromptScreen
from orchtui.ui.render import RecentScreens, screen_lines
from orchtui.ui.run_actions import RunActions
from orchtui.ui.session_list import SessionList
from orchtui.ui.theme import LoadedTheme, load_theme
from orchtui.ui.views import CoveringView
from orchtui.ui.widgets import (
    RUN,
    ApprovalBar,
    CostPanel,
    GatesPanel,
    LedgerTable,
    ScreenView,
    SessionsTable,
    SpendSparkline,
    WorktreesTable,
    is_header,
)

NARROW = 120  # columns below which the panes stack in one column
TOAST: dict[str, SeverityLevel] = {"notice": "information", "warning": "warning"}  # else error
REMOTE_SCREEN_POLL = 0.5  # seconds between looks at another host's published screen
FIRST_READ = 0.4  # seconds the dashboard waits for its first snapshot before drawing without it
SELECTION_SETTLE = 0.12  # seconds the cursor rests before the selected session's data loads


class OrchtuiApp(SessionList, KeysHelp, RunActions):
    CSS_PATH = Path(__file__).parent / "app.tcss"
    TITLE = "orchtui"
    BINDINGS = bindings()  # ui/keys.py

    def __init__(
        self,
        ctx: Context,
        repo: Path | None,
        *,
        start_engine: bool = True,
        clock: Callable[[], float] = time.time,
        demo: bool = False,
    ) -> None:
        super().__init__()
        self.ctx = ctx
        self.repo = repo
        self.start_engine = start_engine
        self.clock = clock
        self.demo = demo
        self.source = DashboardSource(ctx, clock)
        self.source.wanted = set()  # git facts: the selected session's, and the Worktrees tab's rows shown
        self.snap: Snapshot | None = None
        self._rows_of: list[SessionView] | None = None  # the sessions the tables show
        # the first snapshot, read before the widgets are made (see on_load)
        self._mounted_yet = False
        self._early: Snapshot | None = None
        self._early_lock = threading.Lock()
        self._early_read = threading.Event()  # set once the first read ended, with or without one
        self._reading = threading.Lock()  # one snapshot at a time: the first one, then the data job's
        self.selected: str | None = None
        self.select_when_shown: str | None = None  # a session just created here
        self.filter = SessionFilter()  # `/`
        self.show_archived = False  # `A`
        self.folded: set[str] = set()  # runs shown by their header alone
        # bell, OSC 9/777 and the title's count (ui/calls.py), on a real clock even when
        # the screen's clock is fixed (snapshots)
        self.caller = TerminalCaller(
            ctx.config.notify, self._write_terminal, time.monotonic, lambda s, cb: self.set_timer(s, cb)
        )
        self._offered: tuple[bool, bool] | None = None
        self.loaded_theme: LoadedTheme = load_theme(ctx.config.ui.theme)
        self._refresh_pending = False
        self._whole = True  # the next data load reads every session (else only the selected one)
        self._screen_pending = False
        self._vt: VirtualScreen | None = None
        self._vt_session: str | None = None
        self._remote_shown: tuple[str, int, list[Text]] = ("", -1, [])  # another host's, last drawn
        self._vt_offset = 0
        self._vt_log: int | None = None  # the inode of the log the view follows
        self._recent = RecentScreens()  # screens of sessions viewed a moment ago
        # the live screen and the snapshot are each built by one thread at a time
        self._screen_job = Coalesced(self, self._load_screen, "screen")
        self._data_job = Coalesced(self, self._load, "data")
        self._git_job = Coalesced(self, self._read_git, "git")  # git facts, after the rows show
        self.refresh_count = 0
        self._events_seen: int | None = None
        self._settle_timer: Timer | None = None
        self.base_hint = "current branch"
        self.installed: dict[str, bool] = {}
        self.snap_gates: object = None
        self.snap_usage: object = None

    # layout ---------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield Header(show_clock=False)
        yield Static("", id="notice")
        yield ApprovalBar(id="approval")
        with Horizontal(id="body"):
            with Vertical(id="left"):
                with Vertical(id="sessions-box"):
                    yield Input(placeholder="filter: words, status:waiting, agent:claude, run:…", id="filter")
                    yield SessionsTable(id="sessions")
                with TabbedContent(id="tabs"):
                    with TabPane("Queue", id="tab-queue"):
                        yield LedgerTable(id="ledger")
                    with TabPane("Worktrees", id="tab-worktrees"):
                        yield WorktreesTable(id="worktrees")
                    with TabPane("Gates", id="tab-gates"):
                        yield GatesPanel(id="gates")
                    with TabPane("Cost", id="tab-cost"):
                        yield CostPanel(id="cost")
                        yield SpendSparkline([0.0], id="spend")
            with Vertical(id="right"), Vertical(id="screen-box"):
                yield ScreenView(id="screen")
        yield Footer(compact=True)  # the keys that matter fit in 80 columns; `?` has the rest

    def on_load(self) -> None:
        # Threads hand the GIL over within 1 ms instead of 5: worker threads (snapshots,
        # git, diff rendering) to the UI thread, so a key waits for them far less, and the
        # UI thread to them, so a query's result is not left waiting 5 ms per statement.
        sys.setswitchinterval(0.001)
        # The first snapshot is read before the widgets are made, so the first frame has
        # the rows (the engine and the repository's facts come after them). Made at the
        # same time, each slowed the other: the snapshot's 500 file and SQL reads each
        # waited for the GIL. A store slower than FIRST_READ is not waited for.
        threading.Thread(target=self._read_first, name="first-snapshot", daemon=True).start()
        self._early_read.wait(FIRST_READ)

    def on_mount(self) -> None:
        self.register_theme(self.loaded_theme.theme)
        self.theme = self.loaded_theme.theme.name
        if self.ctx.config.keys:
            self.set_keymap(dict(self.ctx.config.keys))
        self.query_one("#sessions-box").border_title = "Sessions"
        self.query_one("#screen-box").border_title = "Output"
        self.sub_title = ("DEMO · " if self.demo else "") + (
            self.repo.name if self.repo else "all repositories"
        )
        self._layout_for(self.size.width)
        self.query_one(SessionsTable).focus()
        with self._early_lock:
            self._mounted_yet = True
            early, self._early = self._early, None
        if early is not None:  # the first snapshot came before the widgets
            self._apply(early)
        elif self._early_read.is_set():  # it failed: the regular refresh reports why
            self.request_refresh()
        # else it is still being read, and comes through call_from_thread
        self.watch_files()
        self.set_interval(5.0, self._tick)  # elapsed columns; batched so idle costs ~nothing

    def on_resize(self, event: events.Resize) -> None:
        self._layout_for(event.size.width)  # the app's own size is still the old one here

    def _layout_for(self, width: int) -> None:
        self.screen.set_class(width < NARROW, "narrow")

    def _after_first_rows(self) -> None:
        """The engine and the repository's facts, once the rows are drawn."""
        if self.start_engine:
            self.run_worker(self._ensure_engine, thread=True, group="engine", exit_on_error=False)
        self.run_worker(self._read_repo, thread=True, group="repo", exit_on_error=False)

    def _ensure_engine(self) -> None:
        try:
            engine_process.ensure_running(self.ctx.config, cwd=self.repo)
        except OrchtuiError as exc:
            self.call_from_thread(self.notify, str(exc), severity="error")

    def _read_repo(self) -> None:
        """Facts the new-session form shows, read off the UI thread."""
        if self.repo is not None:
            try:
                self.base_hint = current_branch(self.repo)  # the new-session form's default base
            except OrchtuiError:
                pass
        for profile in self.ctx.profiles.all():
            self.installed[profile.name] = profile.installed()
        hint = missing_agents_hint(self.ctx.profiles.all(), self.installed)
        if hint is not None:
            said = f"This is a demo: its agents are scripted. {hint}" if self.demo else hint
            self.call_from_thread(self.notify, said, title="No agent installed", severity="warning")

    # data flow ------------------------------------------------------------
    @work(exclusive=True, group="watch", exit_on_error=False)
    async def watch_files(self) -> None:
        state = self.ctx.config.state
        db_names = {state.db_file.name, state.db_file.name + "-wal"}
        stop = asyncio.Event()  # the app's end cancels this worker, and with it the watch
        async for names in self.source.changes(stop):
            if any(p.name in db_names for p in names):
                self.request_refresh()
            if self._vt_session and state.log_file(self._vt_session) in names:
                self.request_screen()

    def request_refresh(self) -> None:
        self._whole = True  # the store changed: every session is read again
        if not self._refresh_pending:
            self._refresh_pending = True
            covering = self.screen if isinstance(self.screen, CoveringView) else None
            self.set_timer(covering.refresh_beneath if covering else 0.05, self._start_refresh)

    def _start_refresh(self) -> None:
        self._refresh_pending = False
        self._data_job.request()

    def _load(self) -> None:
        whole, self._whole = self._whole, False
        last = self.snap
        with self._reading:
            if whole or last is None:
                snap = self.source.snapshot(self.selected)
            else:  # only the selection, the git facts or the rows wanting them changed
                snap = self.source.reselect(self.source.with_git(last, self.selected), self.selected)
        self.call_from_thread(self._apply, snap)

    def _read_first(self) -> None:
        """The first snapshot (a thread of its own: workers start only once the app runs)."""
        snap: Snapshot | None = None
        try:
            with self._reading:
                snap = self.source.snapshot(self.selected)
        except Exception:  # the regular refresh, asked for by on_mount, reports what failed
            logging.getLogger(__name__).debug("first snapshot failed", exc_info=True)
        with self._early_lock:
            if not self._mounted_yet:  # on_mount applies it
                self._early = snap
                self._early_read.set()
                return
        if snap is not None:  # a slow store: the widgets are up already
            self.call_from_thread(self._apply, snap)
        else:
            self.call_from_thread(self.request_refresh)

    def _read_git(self) -> None:
        """Git facts of the worktrees the last snapshot found out of date, a few at a
        time; the rows are shown again (without a read of the store) whenever some changed."""
        while self.source.stale:
            if self.source.read_git():
                self.call_from_thread(self._data_job.request)

    def _show_worktrees(self, snap: Snapshot) -> None:
        """The Worktrees tab is filled only while it is shown (500 rows cost a frame)."""
        if self.query_one("#tabs", TabbedContent).active != "tab-worktrees":
            return
        if self.query_one(WorktreesTable).show(snap):
            self.call_after_refresh(self._want_git)  # other rows may be on screen now

    def _show_panels(self, snap: Snapshot) -> None:
        """The Gates and Cost tabs are drawn while shown, and only when what they show
        changed: a hidden panel's new text still cost a layout of the whole screen."""
        active = self.query_one("#tabs", TabbedContent).active
        if active == "tab-gates":
            gates = (snap.selected.id if snap.selected else None, snap.checks, snap.run, snap.run_gates)
            if self.snap_gates != (gates, snap.approvals):
                self.snap_gates = (gates, snap.approvals)
                self.query_one(GatesPanel).show(snap)
        elif active == "tab-cost":
            usage = (list(snap.usage_points), snap.budgets, snap.race)
            if self.snap_usage != usage:
                self.snap_usage = usage
                self.query_one(CostPanel).show(snap)
                self.query_one(SpendSparkline).show(snap)

    def _want_git(self) -> None:
        """The git facts read are the selected session's and those of the Worktrees tab's
        rows on screen: 500 worktrees are not read for a tab nobody looks at."""
        try:
            tabs, table = self.query_one("#tabs", TabbedContent), self.query_one(WorktreesTable)
        except NoMatches:  # a scroll or resize noted as the app closed: its widgets are gone
            return
        wanted = set(table.visible_keys()) if tabs.active == "tab-worktrees" else set()
        if wanted != self.source.wanted:
            self.source.wanted = wanted
            if self.snap is not None:
                self._data_job.request()  # what is stale is worked out again (see _load)

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        if self.snap is not None:
            self._show_worktrees(self.snap)
            self._show_panels(self.snap)
        self.call_after_refresh(self._want_git)

    def on_worktrees_table_moved(self, event: WorktreesTable.Moved) -> None:
        self._want_git()

    def _apply(self, snap: Snapshot) -> None:
        if self.snap is None:
            self.call_after_refresh(self._after_first_rows)
            # What is alive once the UI is up (Textual, widgets, caches) lives as long as the
            # app: keep it out of the collector, whose full passes stalled keys by 100+ ms.
            gc.freeze()
        self.snap = snap
        self.refresh_count += 1
        if self.source.stale:
            self._git_job.request()
        now = self.clock()
        table = self.query_one(SessionsTable)
        # the same list when only the selection moved: 500 rows are not built again (the
        # tick brings their ages up to date)
        if snap.sessions is not self._rows_of:
            self._rows_of = snap.sessions
            self._show_sessions(snap, now)
            self._show_worktrees(snap)
        self.query_one(LedgerTable).show(snap)
        self._show_panels(snap)
        self.query_one(ApprovalBar).show(snap)
        self._announce(snap)
        self.caller.observe(snap)
        offered = (bool(snap.approvals), bool(snap.run))  # what check_action looks at
        if offered != self._offered:  # a refresh recomposes the footer: only when it changes
            self._offered = offered
            self.refresh_bindings()
        waiting = [s for s in snap.sessions if s.status == SessionStatus.WAITING]
        notice = self.query_one("#notice", Static)
        if waiting:
            ids = ", ".join(s.id for s in waiting[:5])
            notice.update(f"◆ {len(waiting)} waiting for you: {ids} — w to jump, a approve, r reject")
        notice.set_class(bool(waiting), "shown")
        if self.select_when_shown and any(v.id == self.select_when_shown for v in snap.sessions):
            table.select_key(self.select_when_shown)
            self.select_when_shown = None
        key = table.selected_key()
        if key != self.selected:
            self.selected = key
            if snap.selected is None or snap.selected.id != key:  # (the first row is in it already)
                self._data_job.request()  # the selected session's ledger, gates and facts (see _load)
        box = self.query_one("#screen-box")
        selected = snap.selected
        box.border_title = (
            f"Output · {selected.id} {selected.agent} · {selected.task}" if selected else "Output"
        )
        # what said the status: the hook, or the screen rule and the line it matched
        why = f"{selected.status}: {selected.detail}" if selected and selected.detail else ""
        box.border_subtitle = why[:100] + ("…" if len(why) > 100 else "")
        if snap.selected and snap.selected.id != self._vt_session:
            self.request_screen()

    def _write_terminal(self, data: str) -> None:
        """Straight to the terminal (not drawn): the bell, OSC notifications, the title."""
        if self._driver is not None and not self.is_headless:
            self._driver.write(data)
            self._driver.flush()

    def _announce(self, snap: Snapshot) -> None:
        """Notices (a stage done under auto_notify), warnings and worse from the event log
        reach the operator as notifications."""
        if self._events_seen is None:
            self._events_seen = snap.last_event_id
            return
        for event in snap.alerts:
            if (event.id or 0) > self._events_seen:
                self.notify(
                    event.message,
                    title=event.kind,
                    severity=TOAST.get(event.severity, "error"),
                )
        self._events_seen = max(self._events_seen, snap.last_event_id)

    @property
    def settled(self) -> bool:
        """No refresh scheduled or running (used by tests before a snapshot)."""
        busy = [w for w in self.workers if w.group in ("data", "screen", "repo") and not w.is_finished]
        jobs = self._data_job.busy or self._screen_job.busy or self._git_job.busy or self.source.unread
        return not (self._refresh_pending or self._screen_pending or self._settle_timer or busy or jobs)

    def _tick(self) -> None:
        if self.snap is not None:
            self._show_sessions(self.snap, self.clock())

    def on_data_table_row_highlighted(self, event: SessionsTable.RowHighlighted) -> None:
        if event.data_table.id != "sessions" or event.row_key is None or event.row_key.value is None:
            return
        key = str(event.row_key.value)
        if is_header(key):  # a repository's or a run's header row
            return
        if key != self.selected:
            self.selected = key
            # load the new session's screen and ledger once the cursor rests, so moving
            # through the list is not slowed by loading every session passed over
            if self._settle_timer is not None:
                self._settle_timer.stop()
            self._settle_timer = self.set_timer(SELECTION_SETTLE, self._selection_settled)

    def _selection_settled(self) -> None:
        self._settle_timer = None
        self._data_job.request()  # the selected session's data (see _load)
        self.request_screen()

    # the selected agent's screen -----------------------------------------
    def request_screen(self) -> None:
        if not self._screen_pending:
            self._screen_pending = True
            self.set_timer(0.05, self._start_screen)  # at most ~20 frames a second

    def _start_screen(self) -> None:
        self._screen_pending = False
        self._screen_job.request()

    def _load_screen(self) -> None:
        """Only ever one thread here (see Coalesced): it owns the live screen."""
        view = next((s for s in (self.snap.sessions if self.snap else []) if s.id == self.selected), None)
        if view is None:
            return
        if view.host not in (None, self.ctx.config.host) and SessionStatus(view.status).live:
            self._load_remote_screen(view.id, view.host)
            return
        log_id = _inode(view.log_file)
        if view.id != self._vt_session or self._vt is None or log_id != self._vt_log:
            if self._vt is not None and self._vt_session is not None and view.id != self._vt_session:
                self._recent.put(self._vt_session, self._vt, self._vt_log, self._vt_offset)
            # a restart (or a rotation) starts a new log: the view is seeded again from its pane
            self._vt_session, self._vt_log = view.id, log_id
            recent = self._recent.take(view.id, view.log_file)
            if recent is not None:
                self._vt, self._vt_offset = recent
            else:
                self._vt, self._vt_offset = seed_screen(self.ctx, view.pane, view.status, view.id)
        else:
            data, self._vt_offset = read_after(view.log_file, self._vt_offset)
            self._vt.feed(data)
        lines = screen_lines(self._vt)
        self.call_from_thread(self.query_one(ScreenView).show_lines, lines)

    def _load_remote_screen(self, session_id: str, host: str) -> None:
        """Another host's session: its screen as that host's worker publishes it while
        it is watched here (services/screen_share.py), looked at again every
        REMOTE_SCREEN_POLL seconds while it is selected."""
        if self._vt is not None and self._vt_session is not None:
            self._recent.put(self._vt_session, self._vt, self._vt_log, self._vt_offset)
        self._vt = self._vt_session = None  # a local session shown next is seeded again
        shared = screen_share.watch(self.ctx, session_id, host)
        if shared is None or shared.published_at is None:
            lines = [Text(f"(waiting for host {host} to publish this screen)", style="dim")]
        else:
            if self._remote_shown[:2] != (session_id, shared.publications):
                self._remote_shown = (
                    session_id,
                    shared.publications,
                    screen_lines(screen_share.as_screen(shared)),
                )
            lines = self._remote_shown[2]
        self.call_from_thread(self.query_one(ScreenView).show_lines, lines)
        self.call_from_thread(self.set_timer, REMOTE_SCREEN_POLL, self._remote_again)

    def _remote_again(self) -> None:
        view = self._selected_view()
        if view is not None and view.host not in (None, self.ctx.config.host):
            self.request_screen()

    # actions --------------------------------------------------------------
    def _selected_view(self) -> SessionView | None:
        if self.snap is None or self.selected is None:
            return None
        return next((s for s in self.snap.sessions if s.id == self.selected), None)

    def _need_selection(self) -> str | None:
        if self.selected is None:
            self.notify("No session selected.", severity="warning")
        return self.selected

    def action_new_session(self) -> None:
        profiles = self.ctx.profiles.all()
        ready = {
            p.name: self.installed[p.name] if p.name in self.installed else p.installed() for p in profiles
        }
        agents = [(f"{p.name}{'' if ready[p.name] else ' (not installed)'}", p.name) for p in profiles]
        installed = [name for name, ok in ready.items() if ok]
        # a coding-agent CLI first; orchtui's own agent (it needs an API key) only when nothing else is there
        ranked = sorted(installed, key=lambda n: (n == "orchtui", n != "claude"))
        default = ranked[0] if ranked else profiles[0].name
        missing = {p.name: p.install for p in profiles if p.install and not ready[p.name]}
        screen = NewSessionScreen(agents, default, self.base_hint, self._create_session, self._trust, missing)
        self.push_screen(screen, self._created)

    def _create_session(self, request: NewSessionRequest) -> str | Untrusted | None:
        """Runs in the modal's worker thread; an error comes back as one line."""
        if self.repo is None:
            return "not inside a git repository: start orchtui in the repository to work on"
        try:
            row = SessionService(self.ctx).create(
                self.repo, request.agent, request.task, request.base, request.prompt
            )
        except Untrusted as exc:
            return exc  # the form asks whether to trust it
        except OrchtuiError as exc:
            return str(exc)
        self.select_when_shown = row.id  # the new session is selected once its row is there
        return None

    def _trust(self, path: Path) -> str | None:
        """Trust a repository file the operator was shown, and read the configuration
        again so what it asks for takes effect here (the engine reads it at its start)."""
        try:
            trust.grant(path, trust.home())
            self.ctx.config = load_config(self.repo)
        except OrchtuiError as exc:
            return str(exc)
        return None

    def _created(self, request: NewSessionRequest | None) -> None:
        if request is not None:
            self.notify(f"Started {request.agent} on orchtui/{request.task}")
            self.request_refresh()

    def action_send_prompt(self) -> None:
        self._prompt(urgent=True)

    def action_queue_prompt(self) -> None:
        self._prompt(urgent=False)

    def _prompt(self, urgent: bool) -> None:
        sid = self._need_selection()
        if sid is None:
            return
        title = f"Send to {sid} now" if urgent else f"Queue for {sid} (sent when it is idle)"

        def done(text: str | None) -> None:
            if text is not None:
                self._queue(
                    sid,
                    text,
                    CommandKind.PROMPT,
                    urgent,
                    "sent from the dashboard" if urgent else "queued from the dashboard",
                )

        self.push_screen(PromptScreen(title), done)

    @background(group="queue")
    def _queue(self, sid: str, text: str, kind: CommandKind, urgent: bool, cause: str) -> None:
        try:
            cmd = SessionService(self.ctx).queue(sid, text, kind=kind, cause=cause, urgent=urgent)
        except OrchtuiError as exc:
            self.call_from_thread(self.notify, str(exc), severity="error")
            return
        self.call_from_thread(self.notify, f"#{cmd.id} {'sending' if urgent else 'queued'} to {sid}")

    def _answer(self, decision: str) -> None:
        sid = self._need_selection()
        view = self._selected_view()
        if sid is None or view is None:
            return
        if view.status != SessionStatus.WAITING:
            self.notify(f"{sid} is not waiting for an answer.", severity="warning")
            return
        profile = self.ctx.profiles.get(view.agent)
        key = profile.answers.approve if decision == "approve" else profile.answers.reject
        self._queue(sid, key, CommandKind.ANSWER, False, f"operator chose {decision}")

    def action_approve(self) -> None:
        self._answer("approve")

    def action_reject(self) -> None:
        self._answer("reject")

    def action_next_waiting(self) -> None:
        if self.snap is None:
            return
        shown = self.shown_sessions(self.snap)
        waiting = [s.id for s in shown if s.status == SessionStatus.WAITING]
        if not waiting:
            hidden = sum(1 for s in self.snap.sessions if s.status == SessionStatus.WAITING)
            self.notify(
                f"{hidden} waiting, hidden by the filter." if hidden else "Nobody is waiting for you."
            )
            return
        ids = [s.id for s in shown]
        order = (
            ids[ids.index(self.selected) + 1 :] + ids[: ids.index(self.selected) + 1]
            if (self.selected in ids)
            else ids
        )
        target = next(i for i in order if i in waiting)
        self.query_one(SessionsTable).select_key(target)

    def action_kill(self) -> None:
        sid = self._need_selection()
        view = self._selected_view()
        if sid is None or view is None:
            return
        question = f"Kill {sid} ({view.agent}, {view.task})?\nIts branch {view.branch} is kept."

        def done(answer: str | None) -> None:
            if answer == "kill":
                self._kill(sid, force=False, keep=False)

        # Cancel comes first, so Enter on the focused button never kills
        self.push_screen(ConfirmScreen(question, [("n", "Cancel", ""), ("y", "Kill", "kill")]), done)

    def action_restart(self) -> None:
        """Start an ended agent again, resuming its conversation where its driver can."""
        sid = self._need_selection()
        view = self._selected_view()
        if sid is None or view is None:
            return
        if SessionStatus(view.status).live:
            self.notify(
                f"{sid} is {view.status}; only an ended session can be restarted.", severity="warning"
            )
            return
        self._restart(sid)

    def action_fork(self) -> None:
        sid = self._need_selection()
        if sid is not None:
            self._fork(sid)

    @background(group="fork")
    def _fork(self, sid: str) -> None:
        try:
            row, copied = SessionService(self.ctx).fork(sid)
        except OrchtuiError as exc:
            self.call_from_thread(self.notify, str(exc), severity="error")
            return
        how = "with a copy of its conversation" if copied else "in a new conversation seeded with a summary"
        self.select_when_shown = row.id
        self.call_from_thread(
            self.notify,
            f"Forked {sid} as {row.id} on {self.ctx.config.worktrees.branch_prefix}{row.task}, {how}.",
        )
        self.call_from_thread(self.request_refresh)

    @background(group="restart")
    def _restart(self, sid: str) -> None:
        try:
            row = SessionService(self.ctx).restart(sid)
        except OrchtuiError as exc:
            self.call_from_thread(self.notify, str(exc), severity="error")
            return
        self.call_from_thread(self.notify, f"Restarted {sid}: {row.status_detail}")
        self.call_from_thread(self.request_refresh)  # its new pane: the output view is seeded from it

    @background(group="kill")
    def _kill(self, sid: str, force: bool, keep: bool) -> None:
        try:
            report = SessionService(self.ctx).kill(sid, force=force, keep_worktree=keep)
        except Refused as exc:
            self.call_from_thread(self._confirm_dirty_kill, sid, str(exc))
            return
        except OrchtuiError as exc:
            self.call_from_thread(self.notify, str(exc), severity="error")
            return
        extra = f"; uncommitted work saved to {report.rescue_ref}" if report.rescue_ref else ""
        self.call_from_thread(self.notify, f"Killed {sid}; branch {report.branch} kept{extra}")

    def _confirm_dirty_kill(self, sid: str, message: str) -> None:
        said = message.split("; commit them", 1)[0]  # the CLI's flags mean nothing here
        question = (
            f"{said}.\n\nf: save the changes to refs/orchtui/rescue/{sid} and remove the worktree\n"
            "k: stop the agent, keep the worktree as it is\nn: cancel (commit them first)"
        )

        def done(answer: str | None) -> None:
            if answer == "force":
                self._kill(sid, force=True, keep=False)
            elif answer == "keep":
                self._kill(sid, force=False, keep=True)

        choices = [("n", "Cancel", ""), ("f", "Save & remove", "force"), ("k", "Keep worktree", "keep")]
        self.push_screen(ConfirmScreen(question, choices), done)

    # approvals ------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """The approval keys exist only while an approval waits; the diff view has its own keys."""
        if isinstance(self.screen, CoveringView) and action in {
            b.action for b in self.BINDINGS if isinstance(b, Binding)
        }:
            return action == "quit"
        if action in ("approve_run", "reject_run", "approval_details"):
            return bool(self.snap and self.snap.approvals)
        if action == "memory":
            return bool(self.snap and self.snap.run)
        return True

    def action_diff(self) -> None:
        """The selected session's changes against its base (files, hunks, comments)."""
        view = self._selected_view()
        if view is None or not view.worktree or not view.base or not Path(view.worktree).is_dir():
            self.notify("The selected session has no worktree to diff.", severity="warning")
            return
        from orchtui.ui.diff import DiffScreen  # with its highlighter, only when asked for

        self.push_screen(DiffScreen(view.id, Path(view.worktree), view.base, self._diff_comment))

    def _diff_comment(self, sid: str, text: str) -> None:
        self._queue(sid, text, CommandKind.PROMPT, False, "comment from the diff view")

    def action_details(self) -> None:
        """Small terminals: swap the output view for the queue/worktrees/gates/cost tabs."""
        self.screen.toggle_class("details")

    def action_take_over(self) -> None:
        sid = self._need_selection()
        if sid is None:
            return
        view = self._selected_view()
        if view is not None and not (SessionStatus(view.status).live and view.pane):  # before the screen goes
            self.notify(
                f"{sid} is {view.status}: there is no agent to take over. R restarts it in its worktree.",
                severity="warning",
            )
            return
        service = SessionService(self.ctx)
        try:
            with self.suspend():
                print(
                    f"Taking over {sid}. Detach with {self.ctx.config.tmux.detach_key} "
                    "(or orchtui's tmux prefix, then d).",
                    flush=True,
                )
                service.attach(sid)
        except (OrchtuiError, UsageError) as exc:
            self.notify(str(exc), severity="error")
        self.notify(f"Handed {sid} back.")
        self.request_refresh()
        self._vt_session = None
        self._recent.clear()  # the agent's window may have been resized while attached
        self.request_screen()

    def on_data_table_row_selected(self, event: SessionsTable.RowSelected) -> None:
        """Enter on a session takes it over (as `t`); on a run's header, folds or unfolds it."""
        if event.data_table.id != "sessions" or event.row_key.value is None:
            return
        key = str(event.row_key.value)
        if key.startswith(RUN):
            self.toggle_fold(key.removeprefix(RUN))
        elif not is_header(key):
            self.selected = key
            self.action_take_over()


def _inode(path: Path) -> int | None:
    try:
        return path.stat().st_ino
    except FileNotFoundError:
        return None


FRAME_RATE = "120"  # Textual batches a screen's updates to at most TEXTUAL_FPS (60) a second


def run_dashboard(ctx: Context, repo: Path | None, demo: bool = False) -> None:
    textual_settings()
    OrchtuiApp(ctx, repo, demo=demo).run()


def textual_settings() -> None:
    """Textual's settings for the dashboard, from this process's environment."""
    os.environ.setdefault("TEXTUAL_ANIMATIONS", "none")
    # A key pressed just after a frame waits for the next update slot: up to 16.7 ms at
    # 60 a second, 8.3 at 120. The live view still asks for at most ~20 frames a second.
    os.environ.setdefault("TEXTUAL_FPS", FRAME_RATE)
    for stale in ("COLUMNS", "LINES"):  # an exported size would hide the terminal's real one, and resizes
        os.environ.pop(stale, None)
    # Textual reads its settings from the environment when imported; the warm CLI process
    # (cli/warm.py) imported it before this caller's environment arrived
    importlib.reload(textual.constants)
    textual.screen.UPDATE_PERIOD = 1 / textual.constants.MAX_FPS  # type: ignore[misc]  # read when a screen starts
