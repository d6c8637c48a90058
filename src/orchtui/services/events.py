"""Named events: recorded in the event log and, from a configured severity up, handed
to the operator's hook command as JSON on its stdin (argv, never a shell)."""

from __future__ import annotations

import json
import logging
import subprocess
from typing import Any

from orchtui.redact import redact
from orchtui.services.context import Context

log = logging.getLogger("orchtui.events")
SEVERITY = {"info": 0, "notice": 1, "warning": 2, "error": 3, "critical": 4}  # notice: done, worth telling


def emit(
    ctx: Context, kind: str, message: str, severity: str = "info", session_id: str | None = None, **data: Any
) -> None:
    row = ctx.records.add_event(kind, session_id, message, severity=severity, **data)
    cfg = ctx.config.events
    if not cfg.hook or SEVERITY.get(severity, 0) < SEVERITY[cfg.hook_severity]:
        return
    payload = redact(
        json.dumps(
            {
                "kind": kind,
                "severity": severity,
                "message": message,
                "session": session_id,
                "at": row.at,
                "data": data,
            },
            default=str,
        )
    )
    try:
        subprocess.Popen(
            cfg.hook,
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        ).communicate(payload.encode(), timeout=10)
    except (OSError, subprocess.TimeoutExpired) as exc:
        log.warning("event hook %s failed: %s", cfg.hook[0], exc)
