"""Prompt payloads sealed at rest.

The exact text of a queued prompt must wait in the store until the engine delivers it
(the CLI that queues it and the engine are different processes), and a prompt may carry
a secret the operator meant the agent to have. So the payload row holds it encrypted
(Fernet: AES-128-CBC with HMAC-SHA256) under a key in a file only the operator can read,
beside the database; a dump or backup of the database alone shows no prompt text. The
payload row is deleted once the prompt is delivered. The ledger's own `text` column is
the redacted copy (orchtui/redact.py).
"""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path
from typing import Any

from orchtui.errors import OrchtuiError

PREFIX = "fernet:"


class Seal:
    def __init__(self, key_file: Path) -> None:
        self.key_file = key_file

    @cached_property
    def _fernet(self) -> Any:
        from cryptography.fernet import Fernet  # imported when a payload is first written or read

        try:
            fd = os.open(self.key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            key = self.key_file.read_bytes().strip()
        else:
            key = Fernet.generate_key()
            with os.fdopen(fd, "wb") as fh:
                fh.write(key + b"\n")
        try:
            return Fernet(key)
        except ValueError:
            raise OrchtuiError(
                f"{self.key_file}: not a payload key (delete it only with no prompt queued)"
            ) from None

    def close(self, text: str) -> str:
        token: bytes = self._fernet.encrypt(text.encode("utf-8"))
        return PREFIX + token.decode("ascii")

    def open(self, stored: str) -> str:
        if not stored.startswith(PREFIX):
            return stored  # written before payloads were sealed
        from cryptography.fernet import InvalidToken

        try:
            plain: bytes = self._fernet.decrypt(stored.removeprefix(PREFIX).encode("ascii"))
        except InvalidToken:
            raise OrchtuiError(f"a queued prompt cannot be read with the key in {self.key_file}") from None
        return plain.decode("utf-8")
