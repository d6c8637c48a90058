"""Agent drivers on the real clients' captured transcripts and hook payloads
(tests/fixtures/transcripts, from ../shared/reference), and the Gemini driver on the
chat format its source documents (no captured Gemini files exist)."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

from helpers import FIXTURES
from orchtui.drivers import SessionFiles, driver
from orchtui.drivers.claude import project_folder
from orchtui.pricing import Price, PriceTable

T = FIXTURES / "transcripts"


def files(tmp_path: Path, worktree: Path | None = None) -> SessionFiles:
    return SessionFiles("s1", worktree or tmp_path, tmp_path, tmp_path / "hooks-s1.jsonl", 0.0, tmp_path)


def test_claude_transcript_usage_is_counted_once_per_message(tmp_path: Path) -> None:
    read = driver("claude").read(T / "claude.jsonl", 0, files(tmp_path))
    keys = {r.key for r in read.records}
    assert len(keys) == 5  # five API messages; the "<synthetic>" one is not a model call
    assert (
        sum(r.input_tokens for r in {r.key: r for r in read.records}.values())
        == 1820 + 1876 + 1959 + 2032 + 2143
    )
    assert {r.model for r in read.records} == {"claude-opus-4-8"}
    assert read.conversation_id == "dbf61e74-4d20-4e4f-8d0d-0b49a472eb54"


def test_claude_transcript_read_in_pieces_gives_the_same_records(tmp_path: Path) -> None:
    data = (T / "claude.jsonl").read_bytes()
    path = tmp_path / "t.jsonl"
    path.write_bytes(data[: len(data) // 2])
    drv = driver("claude")
    first = drv.read(path, 0, files(tmp_path))
    path.write_bytes(data)
    second = drv.read(path, first.offset, files(tmp_path))
    whole = drv.read(path, 0, files(tmp_path))
    assert [r.key for r in first.records + second.records] == [r.key for r in whole.records]


def test_claude_hooks_map_to_statuses() -> None:
    drv = driver("claude")
    seen = []
    for line in (T / "claude_hooks.jsonl").read_text().splitlines():
        signal = drv.on_hook(json.loads(line)["stdin"])
        seen.append((signal.event, signal.status))
    assert ("UserPromptSubmit", "working") in seen and ("PermissionRequest", "waiting") in seen
    assert ("Stop", "idle") in seen and ("StopFailure", "error") in seen and ("SessionEnd", "exited") in seen
    idle_note = [s for e, s in seen if e == "Notification"]
    assert idle_note == ["waiting", None]  # permission_prompt waits; idle_prompt changes nothing


def test_hookdrop_keeps_no_prompt_and_writes_one_line(tmp_path: Path) -> None:
    out = tmp_path / "hooks.jsonl"
    payload = {"hook_event_name": "UserPromptSubmit", "session_id": "abc", "prompt": "my secret sk-live-XYZ"}
    proc = subprocess.run(
        [sys.executable, "-m", "orchtui.runtime.hookdrop", str(out)],
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        check=True,
    )
    assert proc.stdout == ""  # a UserPromptSubmit hook's output would reach the model
    line = json.loads(out.read_text())
    assert line["hook_event_name"] == "UserPromptSubmit" and line["session_id"] == "abc"
    assert "sk-live" not in out.read_text()


def test_a_permission_wait_says_what_it_asks_for_with_secrets_masked(tmp_path: Path) -> None:
    out = tmp_path / "hooks.jsonl"
    command = "curl -H 'Authorization: Bearer abcdefghijklmnopqrstuvwxyz' https://x && rm -rf build\nmore"
    payload = {
        "hook_event_name": "PermissionRequest",
        "session_id": "abc",
        "tool_name": "Bash",
        "tool_input": {"command": command, "description": "the rest is not copied"},
    }
    subprocess.run(
        [sys.executable, "-m", "orchtui.runtime.hookdrop", str(out)],
        input=json.dumps(payload),
        text=True,
        check=True,
    )
    text = out.read_text()
    assert "abcdefghijklmnop" not in text and "not copied" not in text and "more" not in text
    signal = driver("claude").on_hook(json.loads(text))
    assert signal.status == "waiting"
    assert signal.detail.startswith("permission: Bash `curl -H 'Authorization: Bearer [REDACTED]'")


def test_claude_settings_layer_is_per_session(tmp_path: Path) -> None:
    args, _ = driver("claude").launch(files(tmp_path), resume="1234")
    assert args[0] == "--settings" and args[-2:] == ["--resume", "1234"]
    settings = json.loads(Path(args[1]).read_text())
    assert set(settings["hooks"]) >= {
        "SessionStart",
        "PermissionRequest",
        "Stop",
        "StopFailure",
        "SessionEnd",
    }
    assert project_folder(Path("/home/dev/my_proj.x")) == "-home-dev-my-proj-x"


def test_codex_rollout_usage_and_conversation(tmp_path: Path) -> None:
    read = driver("codex").read(T / "codex.jsonl", 0, files(tmp_path))
    assert read.conversation_id == "01a1fc9a-26a7-7611-ac46-cf4a3a5a6f4c"
    total_in = sum(r.input_tokens + r.cache_read for r in {r.key: r for r in read.records}.values())
    last = [json.loads(x) for x in (T / "codex.jsonl").read_text().splitlines()]
    counts = [x["payload"]["info"] for x in last if x.get("payload", {}).get("type") == "token_count"]
    assert total_in == counts[-1]["total_token_usage"]["input_tokens"]
    assert {r.model for r in read.records} == {"fake-model"}


def test_codex_finds_its_rollout_by_worktree(tmp_path: Path) -> None:
    home = tmp_path / "home"
    day = home / ".codex" / "sessions" / "2026" / "11" / "21"
    day.mkdir(parents=True)
    text = (T / "codex.jsonl").read_text().replace("/home/dev/proj", str(tmp_path / "wt"))
    (day / "rollout-2026-11-21T05-35-23-01a1fc9a-26a7-7611-ac46-cf4a3a5a6f4c.jsonl").write_text(text)
    f = SessionFiles("s1", tmp_path / "wt", tmp_path, tmp_path / "h", 0.0, home)
    assert driver("codex").transcript(f, None, None) is not None
    other = SessionFiles("s1", tmp_path / "elsewhere", tmp_path, tmp_path / "h", 0.0, home)
    assert driver("codex").transcript(other, None, None) is None


def test_aider_history_usage_and_commits(tmp_path: Path) -> None:
    wt = tmp_path / "wt"
    wt.mkdir()
    shutil.copy(T / "aider.chat.history.md", wt / ".aider.chat.history.md")
    drv = driver("aider")
    f = files(tmp_path, wt)
    path = drv.transcript(f, None, None)
    assert path is not None
    read = drv.read(path, 0, f)
    assert [(r.input_tokens, r.output_tokens) for r in read.records] == [(776, 36), (838, 23)]
    assert {r.model for r in read.records} == {"openai/fake"}
    assert read.notes == ["aider committed 60a1ceb: fake: automated commit"]


def test_aider_reads_thousands_and_cache_counts(tmp_path: Path) -> None:
    wt = tmp_path / "wt"
    wt.mkdir()
    (wt / ".aider.chat.history.md").write_text(
        "> Model: gpt-5 with diff edit format  \n"
        "> Tokens: 12k sent, 2.5k cache hit, 1.2k received. Cost: $0.01 message, $0.01 session.  \n"
    )
    f = files(tmp_path, wt)
    (rec,) = driver("aider").read(wt / ".aider.chat.history.md", 0, f).records
    assert (rec.input_tokens, rec.cache_read, rec.output_tokens, rec.model) == (9500, 2500, 1200, "gpt-5")


def test_gemini_chat_file_usage_and_resume(tmp_path: Path) -> None:
    home, wt = tmp_path / "home", tmp_path / "wt"
    chats = home / ".gemini" / "tmp" / hashlib.sha256(str(wt).encode()).hexdigest() / "chats"
    chats.mkdir(parents=True)
    chat = {
        "sessionId": "g-123",
        "messages": [
            {"id": "m1", "type": "user", "content": "hi"},
            {
                "id": "m2",
                "type": "gemini",
                "model": "gemini-2.5-pro",
                "timestamp": "2026-11-21T05:00:00Z",
                "tokens": {
                    "input": 1000,
                    "output": 50,
                    "cached": 200,
                    "thoughts": 10,
                    "tool": 0,
                    "total": 1060,
                },
            },
        ],
    }
    (chats / "session-2026-11-21T05-00-g-123.json").write_text(json.dumps(chat))
    drv = driver("gemini")
    f = SessionFiles("s1", wt, tmp_path, tmp_path / "h", 0.0, home)
    path = drv.transcript(f, None, None)
    assert path is not None
    read = drv.read(path, 0, f)
    assert read.conversation_id == "g-123"
    (rec,) = read.records
    assert (rec.input_tokens, rec.cache_read, rec.output_tokens) == (800, 200, 60)
    assert drv.launch(f, "g-123")[0] == ["--resume", "g-123"]


def test_gemini_real_jsonl_chat_under_the_projects_short_name(tmp_path: Path) -> None:
    """Gemini CLI 0.61 names the project in ~/.gemini/projects.json and appends JSON lines
    (a header, messages, `$set` updates) to tmp/<short name>/chats/session-*.jsonl."""
    home, wt = tmp_path / "home", tmp_path / "wt"
    chats = home / ".gemini" / "tmp" / "wt" / "chats"
    chats.mkdir(parents=True)
    (home / ".gemini" / "projects.json").write_text(json.dumps({"projects": {str(wt): "wt"}}))
    real = (Path(__file__).parent / "fixtures" / "transcripts" / "gemini.jsonl").read_bytes()
    path = chats / "session-2026-12-03T11-18-35cdfba9.jsonl"
    path.write_bytes(real[: len(real) // 2])  # the chat as it was written so far
    drv = driver("gemini")
    f = SessionFiles("s1", wt, tmp_path, tmp_path / "h", 0.0, home)
    assert drv.transcript(f, None, None) == path
    first = drv.read(path, 0, f)
    assert first.conversation_id == "35cdfba9-ae82-4142-a5a4-02dafcfdb257"
    path.write_bytes(real)
    rest = drv.read(path, first.offset, f)
    records = first.records + rest.records
    (rec,) = records
    assert (rec.input_tokens, rec.cache_read, rec.output_tokens, rec.model) == (
        1119,
        700,
        61,
        "gemini-3.8-flash",
    )
    assert drv.read(path, rest.offset, f).records == []


def test_price_table_matches_exact_then_longest_glob_and_user_overrides() -> None:
    table = PriceTable.load({"claude-opus-4-8": Price(input=1, output=2)})
    assert table.price("claude-opus-4-8") == Price(input=1, output=2)
    opus = table.price("claude-opus-4-1")
    assert opus is not None and opus.input == 15.0
    assert table.price("no-such-model") is None
    assert table.cost("claude-sonnet-4-5", 1_000_000, 0, 1_000_000, 0) == 3.0 + 0.3


def test_profiles_name_exactly_the_drivers_there_are() -> None:
    """profiles/ (below the runtimes) names the drivers; drivers/ implements each one."""
    from orchtui.drivers import DRIVERS
    from orchtui.profiles import DRIVER_NAMES

    assert set(DRIVERS) == DRIVER_NAMES
