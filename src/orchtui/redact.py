"""Keep secrets out of the store, the event log, gate evidence, memory files and
orchtui's own logs.

Two detectors, both masking with `[REDACTED]`:
- detect-secrets' regex plugins (AWS, Stripe, Slack, GitLab, SendGrid, Twilio, private
  keys, basic-auth URLs, `password = "…"` assignments and more; a maintained rule set),
  loaded on first use;
- the formats it does not know, kept here: Anthropic and OpenAI `sk-` keys, GitHub
  tokens (`ghp_`, `github_pat_`), Google `AIza` keys, npm and PyPI tokens, JWTs, whole
  PEM private-key blocks, `Bearer` tokens and `NAME=value` for names that say secret.

A plugin's finding masks the whole token it is part of (plugins may match only part of
one); a finding shorter than 8 characters (a captured prefix) only a token it starts.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import cache
from typing import Any

MASK = "[REDACTED]"

_PEM = re.compile(
    r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY( BLOCK)?-----.*?(-----END [A-Z0-9 ]*PRIVATE KEY( BLOCK)?-----|\Z)",
    re.DOTALL,
)
_PATTERNS = [
    # the secret is group 1
    re.compile(r"\b(sk-(?:ant-|proj-)?[A-Za-z0-9_-]{16,})"),
    re.compile(r"\b(gh[pousr]_[A-Za-z0-9]{20,})"),
    re.compile(r"\b(github_pat_[A-Za-z0-9_]{20,})"),
    re.compile(r"\b(AIza[0-9A-Za-z_-]{30,})"),
    re.compile(r"\b(npm_[A-Za-z0-9]{30,})"),
    re.compile(r"\b(pypi-[A-Za-z0-9_-]{30,})"),
    re.compile(r"\b(glpat-[A-Za-z0-9_-]{16,})"),
    re.compile(r"\b(xox[abposr]-[A-Za-z0-9-]{10,})"),
    re.compile(r"\b(eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,})"),
    re.compile(r"\b((?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,})"),
    re.compile(r"\b(SG\.[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{16,})"),
    re.compile(r"\b((?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16})\b"),
    # NAME_KEY=value, token: value, password=value, "secret": "value"
    re.compile(
        r"(?i)\b[A-Z0-9_.-]*(?:API[_-]?KEY|TOKEN|SECRET|PASSWORD|PASSWD|PWD|CREDENTIALS?|ACCESS[_-]?KEY)"
        r"[A-Z0-9_.-]*['\"]?\s*[=:]\s*['\"]?([^\s'\",;]{4,})"
    ),
    re.compile(r"(?i)\bbearer\s+([A-Za-z0-9._~+/=-]{12,})"),
    re.compile(r"(?i)\b[a-z][a-z0-9+.-]*://[^\s:/@]+:([^\s/@]{3,})@"),  # user:password@host
]
_TOKEN = r"[^\s'\"<>()\[\]{},;]*"
# what every plugin's rule needs: a long token, or a word that names a secret; text
# without either (most status lines and ledger causes) skips the plugins
_SUSPECT = re.compile(r"[A-Za-z0-9_+/=.-]{16,}|(?i:pass|secret|token|key|auth|cred|pwd|@)")


@cache
def _plugins() -> list[Any]:
    """detect-secrets' regex-based plugins and its keyword plugin (not the entropy ones,
    which flag ordinary words, nor public IP addresses)."""
    from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class
    from detect_secrets.plugins.base import RegexBasedDetector
    from detect_secrets.plugins.keyword import KeywordDetector

    classes: list[Any] = list(get_mapping_from_secret_type_to_class().values())
    found = [c() for c in classes if issubclass(c, RegexBasedDetector) and c.__name__ != "IPPublicDetector"]
    return [*found, KeywordDetector()]


def warm() -> None:
    """Load the plugins now (a long-running process calls this in a thread at start, so the
    first secret-looking line it records does not pay the import on its hot path)."""
    _plugins()


def _detected(text: str) -> Iterator[str]:
    for plugin in _plugins():
        try:
            yield from plugin.analyze_string(text)
        except Exception:  # a plugin's bug must not let a secret through: the patterns still run
            continue


def redact(text: str) -> str:
    """Replace anything that looks like a secret with a mask."""
    if len(text) < 8:
        return text
    text = _PEM.sub(MASK, text)
    for pattern in _PATTERNS:
        text = pattern.sub(lambda m: m.group(0).replace(m.group(1), MASK), text)
    found = set(_detected(text)) if _SUSPECT.search(text) else set()
    for value in sorted(found, key=len, reverse=True):
        if not value or value == MASK or MASK in value:
            continue
        if len(value) >= 8:  # the whole token it is part of (a plugin may match only part)
            text = re.sub(_TOKEN + re.escape(value) + _TOKEN, MASK, text)
        elif len(value) >= 4:  # a captured prefix (`glpat`): the token it starts
            text = re.sub(r"(?<![^\s'\"=:])" + re.escape(value) + _TOKEN, MASK, text)
    return text


def is_secret_env(name: str) -> bool:
    upper = name.upper()
    return any(word in upper for word in ("KEY", "TOKEN", "SECRET", "PASSWORD", "PASSWD", "CREDENTIAL"))
