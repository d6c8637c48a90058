"""The command an agent's hooks run: drop one event line where the engine is watching.

`python -m orchtui.runtime.hookdrop FILE` reads the hook's JSON payload on stdin and
appends one line to FILE with one write (O_APPEND): the event name, the conversation id,
the transcript path and the few fields status needs, plus the first line of a tool's
command or file path (at most 100 characters, secrets masked) so that a permission
wait can say what it asks for. Prompts, the rest of tool inputs and tool output are
not copied (they may hold secrets). It prints nothing (a UserPromptSubmit
hook's output would be added to the agent's context) and always exits 0, so a broken
drop never blocks the agent. Kept free of orchtui imports so it starts fast.
"""

from __future__ import annotations

import json
import os
import sys
import time

KEPT = (
    "hook_event_name",
    "session_id",
    "transcript_path",
    "notification_type",
    "reason",
    "source",
    "tool_name",
    "error",
)
ERROR_TEXT = 300  # characters of a failure's message kept (the error, not the conversation)
WHAT_TEXT = 100  # characters of a tool's command or path kept


def main(args: list[str]) -> int:
    if len(args) != 1:
        return 0
    try:
        payload = json.loads(sys.stdin.read() or "{}")
    except ValueError:
        payload = {}
    if not isinstance(payload, dict):
        payload = {}
    event = {key: payload[key] for key in KEPT if isinstance(payload.get(key), str)}
    tool_input = payload.get("tool_input")
    if isinstance(tool_input, dict):
        what = tool_input.get("command") or tool_input.get("file_path") or tool_input.get("path")
        if isinstance(what, str) and what.strip():
            from orchtui.redact import redact  # small; the rest of orchtui stays unimported

            event["what"] = redact(what.strip().splitlines()[0][:WHAT_TEXT])
    if event.get("hook_event_name") == "StopFailure":
        message = payload.get("last_assistant_message")
        if isinstance(message, str):
            event["message"] = message[:ERROR_TEXT]
    event["t"] = f"{time.time():.3f}"
    line = (json.dumps(event, ensure_ascii=False) + "\n").encode()
    try:
        fd = os.open(args[0], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)
    except OSError:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
