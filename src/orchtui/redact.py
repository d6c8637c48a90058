"""Keep secrets out of the ledger, the event log and orchtui's own logs."""

from __future__ import annotations

import re

_PATTERNS = [
    # provider keys: sk-..., sk-ant-..., ghp_..., xox...-, AKIA...
    re.compile(r"\b(sk-(?:ant-)?[A-Za-z0-9_-]{8,})"),
    re.compile(r"\b(gh[pousr]_[A-Za-z0-9]{20,})"),
    re.compile(r"\b(xox[baprs]-[A-Za-z0-9-]{10,})"),
    re.compile(r"\b(AKIA[0-9A-Z]{16})\b"),
    # NAME_KEY=value, NAME_TOKEN: value, password=value
    re.compile(
        r"(?i)\b[A-Z0-9_]*(?:API_KEY|TOKEN|SECRET|PASSWORD|PASSWD)[A-Z0-9_]*\s*[=:]\s*['\"]?([^\s'\"]{4,})"
    ),
    re.compile(r"(?i)\bbearer\s+([A-Za-z0-9._~+/-]{12,})"),
]

MASK = "[REDACTED]"


def redact(text: str) -> str:
    """Replace anything that looks like a secret with a mask."""
    for pattern in _PATTERNS:
        text = pattern.sub(lambda m: m.group(0).replace(m.group(1), MASK), text)
    return text


def is_secret_env(name: str) -> bool:
    upper = name.upper()
    return any(word in upper for word in ("KEY", "TOKEN", "SECRET", "PASSWORD", "PASSWD", "CREDENTIAL"))
