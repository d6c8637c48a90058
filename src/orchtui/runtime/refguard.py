"""Protected branches: every git process an agent starts refuses to move them.

The agent's environment carries `core.hooksPath` as injected configuration
(`GIT_CONFIG_COUNT`/`GIT_CONFIG_KEY_n`/`GIT_CONFIG_VALUE_n`), pointing at orchtui's hooks
folder; nothing in the user's repository or git config is written. Its
`reference-transaction` hook aborts any ref update of a protected branch (commit, reset,
update-ref, branch -f, push to the local repository) while it is being prepared. Every
other hook name is a wrapper that runs the repository's own hook, so the user's hooks keep
working for the agent. orchtui's own merges run without this environment.
"""

from __future__ import annotations

import os
from pathlib import Path

GUARD = """#!/bin/sh
# orchtui: protected branches change only through an orchtui merge (see ORCHTUI_PROTECTED)
input=$(cat)
if [ "$1" = prepared ] && [ -n "$ORCHTUI_PROTECTED" ]; then
  set -f
  for ref in $(printf '%s\\n' "$input" | cut -d' ' -f3); do
    name=${ref#refs/heads/}
    [ "$name" = "$ref" ] && continue
    for pattern in $ORCHTUI_PROTECTED; do
      case "$name" in
        $pattern)
          echo "orchtui: branch '$name' is protected (git.protected);" \\
            "it changes only through an orchtui merge" >&2
          exit 1 ;;
      esac
    done
  done
  set +f
fi
orig=$(GIT_CONFIG_COUNT=0 git config --get core.hooksPath 2>/dev/null) ||
  orig="$(git rev-parse --git-common-dir)/hooks"
if [ -x "$orig/reference-transaction" ]; then
  printf '%s\\n' "$input" | "$orig/reference-transaction" "$@"
  exit $?
fi
exit 0
"""

WRAPPER = """#!/bin/sh
# orchtui: run the repository's own hook of this name
orig=$(GIT_CONFIG_COUNT=0 git config --get core.hooksPath 2>/dev/null) ||
  orig="$(git rev-parse --git-common-dir)/hooks"
name=$(basename "$0")
if [ -x "$orig/$name" ]; then exec "$orig/$name" "$@"; fi
exit 0
"""

HOOK_NAMES = (
    "applypatch-msg",
    "pre-applypatch",
    "post-applypatch",
    "pre-commit",
    "pre-merge-commit",
    "prepare-commit-msg",
    "commit-msg",
    "post-commit",
    "pre-rebase",
    "post-checkout",
    "post-merge",
    "pre-push",
    "pre-receive",
    "update",
    "proc-receive",
    "post-receive",
    "post-update",
    "push-to-checkout",
    "pre-auto-gc",
    "post-rewrite",
    "sendemail-validate",
    "post-index-change",
)


def install(folder: Path) -> Path:
    """Write the hooks folder (idempotent); returns it."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in [("reference-transaction", GUARD), *((n, WRAPPER) for n in HOOK_NAMES)]:
        path = folder / name
        if not path.is_file() or path.read_text() != text:
            tmp = path.with_suffix(".tmp")
            tmp.write_text(text)
            tmp.chmod(0o755)
            tmp.replace(path)
    return folder


def agent_env(folder: Path, protected: list[str], environ: dict[str, str] | None = None) -> dict[str, str]:
    """Variables that make an agent's git processes use the guard for `protected` (globs)."""
    env = os.environ if environ is None else environ
    try:
        index = int(env.get("GIT_CONFIG_COUNT", "0"))
    except ValueError:
        index = 0
    return {
        "GIT_CONFIG_COUNT": str(index + 1),
        f"GIT_CONFIG_KEY_{index}": "core.hooksPath",
        f"GIT_CONFIG_VALUE_{index}": str(folder),
        "ORCHTUI_PROTECTED": " ".join(protected),
    }
