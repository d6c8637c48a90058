"""`orchtui serve` in a real browser: Debian's Chromium, headless, driven by Playwright
(its executable path set; no browser is downloaded), against real tmux, git and SQLite."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from helpers import Orch, wait_for
from orchtui.store.runs import Runs

playwright_api = pytest.importorskip("playwright.sync_api")

TOKEN = "web-test-token-0123456789abcdef"
PHONE = {"width": 390, "height": 844}
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07|\x1b[()][A-Z0-9]")
SHOTS = os.environ.get("ORCHTUI_WEB_SHOTS")  # a folder: the docs' screenshots are saved there


@dataclass
class Web:
    base: str
    token: str

    def get(self, path: str, headers: dict[str, str] | None = None) -> tuple[int, str]:
        request = urllib.request.Request(self.base + path, headers=headers or {})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, response.read(2000).decode(errors="replace")
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode(errors="replace")

    def api(self, path: str) -> Any:
        status, _ = self.get(path, {"Authorization": f"Bearer {self.token}"})
        assert status == 200, (path, status)
        request = urllib.request.Request(self.base + path, headers={"Authorization": f"Bearer {self.token}"})
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())


def chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.skip("Debian's chromium is not installed (.ci/run installs it with apt-get)")
    return path


@pytest.fixture
def web(orch: Orch) -> Iterator[Web]:
    orch.home.mkdir(parents=True, exist_ok=True)
    (orch.home / "config.toml").write_text(f'[serve]\ntoken = "{TOKEN}"\n')
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "orchtui", "serve", "--port", str(port)],
        cwd=orch.repo,
        env=orch.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )

    def listening() -> bool:
        assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
        with socket.socket() as s:
            return s.connect_ex(("127.0.0.1", port)) == 0

    try:
        wait_for(listening, timeout=60)
        yield Web(f"http://127.0.0.1:{port}", TOKEN)
    finally:
        proc.terminate()
        proc.wait(20)


@pytest.fixture
def browser() -> Iterator[Any]:
    path = chromium()
    with playwright_api.sync_playwright() as pw:
        launched = pw.chromium.launch(executable_path=path, headless=True, args=["--no-sandbox"])
        try:
            yield launched
        finally:
            launched.close()


def shot(page: Any, name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / name))


def test_the_dashboard_loads_through_serve_and_shows_the_sessions(orch: Orch, web: Web, browser: Any) -> None:
    orch.new("webtask")
    page = browser.new_page(viewport={"width": 1400, "height": 800})
    received: list[str] = []

    def frames(ws: Any) -> None:
        ws.on(
            "framereceived",
            lambda data: received.append(data.decode(errors="ignore") if isinstance(data, bytes) else data),
        )

    page.on("websocket", frames)
    page.goto(f"{web.base}/?token={web.token}")
    assert "token=" not in page.url, "the token leaves the address bar for a cookie"
    end = time.monotonic() + 90
    while "webtask" not in ANSI.sub("", "".join(received)):  # (Playwright's events come while it waits)
        assert time.monotonic() < end, (
            f"the dashboard never showed the session: {ANSI.sub('', ''.join(received))[-2000:]!r}"
        )
        page.wait_for_timeout(200)
    page.wait_for_timeout(5000)  # (the first frames settle before the picture is taken)
    shot(page, "web-dashboard.png")


def test_a_permission_prompt_and_an_approval_are_answered_from_a_phone(
    orch: Orch, web: Web, browser: Any
) -> None:
    sid = orch.new("perm-task")
    orch.run("session", "send", sid, "perm please", "--no-wait")
    orch.wait_status(sid, "waiting", 60)
    store = orch.store
    try:
        asked = Runs(store).request_session_approval(
            sid,
            "merge",
            {"proposal": "Land <b>perm-task</b> on main", "requested_by": "mcp:test", "diff": ""},
            "mcp:test",
        )
    finally:
        store.close()

    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    page = context.new_page()
    page.goto(f"{web.base}/approvals?token={web.token}")
    agent = page.locator("section.card", has_text="perm-task").first
    agent.wait_for(timeout=30_000)
    approval = page.locator("section.card", has_text=f"#{asked.id}")
    approval.wait_for(timeout=30_000)
    assert "<b>perm-task</b>" in approval.locator("pre").inner_text(), "what it shows is text, never markup"
    box = agent.locator("button.approve").bounding_box()
    assert (
        box is not None
        and box["x"] >= 0
        and box["x"] + box["width"] <= PHONE["width"]
        and box["height"] >= 44
    )
    shot(page, "web-approvals.png")

    agent.locator("button.approve").tap()
    wait_for(lambda: orch.status(sid) != "waiting", 60)
    worktree = Path(orch.show(sid)["worktree"])
    wait_for(lambda: (worktree / "notes.txt").exists(), 60)  # the agent went on with what it asked
    answers = [r for r in orch.ledger_rows(sid) if r.kind == "answer"]
    assert (
        len(answers) == 1 and answers[0].actor.startswith("web:") and answers[0].actor.endswith("@127.0.0.1")
    )

    approval = page.locator("section.card", has_text=f"#{asked.id}")
    approval.locator("button.reject").tap()
    approval.locator("textarea").fill("not before the review")
    approval.locator("button.reject").tap()
    approval.wait_for(state="detached", timeout=30_000)
    [row] = [a for a in orch.json("approvals", "--all") if a["id"] == asked.id]
    assert row["state"] == "rejected" and row["reason"] == "not before the review"
    assert row["who"].startswith("web:")
    page.locator("text=Nothing waits for you.").wait_for(timeout=30_000)
    context.close()


def test_a_request_without_the_token_is_refused(orch: Orch, web: Web, browser: Any) -> None:
    for path in (
        "/",
        "/approvals",
        "/api/sessions",
        "/api/stream",
        "/api/approvals",
        "/static/js/textual.js",
    ):
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Cookie": "orchtui_token=wrong"}):
            status, _ = web.get(path, headers)
            assert status == 401, (path, headers, status)
    assert web.get("/?token=wrong")[0] == 401
    page = browser.new_page()
    response = page.goto(f"{web.base}/approvals")
    assert response is not None and response.status == 401
    assert "token is required" in page.content()
    # with the cookie, a change needs the header a page on another site cannot send
    request = urllib.request.Request(
        f"{web.base}/api/approvals/1/approve", b"{}", {"Cookie": f"orchtui_token={web.token}"}, method="POST"
    )
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=30)
    assert caught.value.code == 403


def test_the_event_stream_delivers_a_status_change_within_a_second(
    orch: Orch, web: Web, browser: Any
) -> None:
    sid = orch.new("streamed")
    orch.wait_status(sid, "idle", 60)
    page = browser.new_page()
    page.goto(f"{web.base}/approvals?token={web.token}")
    page.evaluate(
        """() => { window.seen = []; const s = new EventSource('/api/stream');
                   s.addEventListener('event', e => window.seen.push(
                       [performance.timeOrigin + performance.now(), JSON.parse(e.data)])); }"""
    )
    page.wait_for_function("() => window.seen !== undefined")
    time.sleep(0.5)
    orch.run("session", "send", sid, "slow job", "--no-wait")

    def working() -> list[Any] | None:
        seen = page.evaluate("() => window.seen")
        hits = [(at, ev) for at, ev in seen if ev["kind"] == "status" and ev["data"].get("new") == "working"]
        return hits[0] if hits else None

    received_ms, event = wait_for(working, timeout=60)
    store = orch.store
    try:
        from orchtui.store.records import Records

        recorded = next(e for e in Records(store).events(sid) if e.id == event["id"]).at
    finally:
        store.close()
    lag = received_ms / 1000 - recorded
    print(f"status change recorded → in the browser: {lag * 1000:.0f} ms")
    assert event["session"] == sid
    assert lag <= 1.0, f"the stream took {lag:.2f}s"
