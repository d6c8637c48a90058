"""Evaluating a stage's gates against a worktree, with the evidence kept.

Each gate gives pass, fail or pending and why; `command` gates keep their output
(truncated) as evidence. Gate commands come from the playbook and run in the worktree
with a timeout and a minimal environment; the values they name (`{base}`, `{branch}`,
`{task}`, `{stage}`, `{attempt}`) reach the shell as environment variables, never as
part of the command line, and no agent text is ever part of them.
"""

from __future__ import annotations

import glob
import operator
import os
import re
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from orchtui.playbook import (
    PLACEHOLDER,
    ApprovalGate,
    ArtifactExistsGate,
    CommandGate,
    ContentCheckGate,
    FileExistsGate,
    Gate,
    MetricThresholdGate,
)

EVIDENCE_LIMIT = 64 * 1024
SAFE_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "TERM", "TMPDIR", "USER", "VIRTUAL_ENV")
OPS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
}


@dataclass(frozen=True)
class GateOutcome:
    state: str  # pass | fail | pending | warn (failed, but the gate is not required)
    why: str
    evidence: str = ""
    metrics: Mapping[str, float] = field(default_factory=dict)  # what a command gate read from its output


def _inside(worktree: Path, relative: str) -> Path | None:
    target = (worktree / relative).resolve()
    return target if target.is_relative_to(worktree.resolve()) else None


def script_for(run: str, values: Mapping[str, str]) -> tuple[str, dict[str, str]]:
    """A command gate's shell line and its values. A value is never written into the
    line: `{base}` becomes `${ORCHTUI_BASE}`, which the shell expands as data (a branch
    named `x$(rm -rf ~)` is just a name), and the value goes in the environment."""
    env = {f"ORCHTUI_{name.upper()}": value for name, value in values.items()}
    line = PLACEHOLDER.sub(
        lambda m: "${ORCHTUI_" + m.group(1).upper() + "}" if m.group(1) in values else m.group(0), run
    )
    return line, env


def _command(gate: CommandGate, worktree: Path, values: Mapping[str, str]) -> GateOutcome:
    script, data = script_for(gate.run, values)
    env = {k: v for k, v in os.environ.items() if k in SAFE_ENV} | data
    # no bytecode caches: they would litter the worktree, and a same-size edit within the
    # same second would run stale code
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    try:
        proc = subprocess.run(
            ["sh", "-c", script],
            cwd=worktree,
            env=env,
            capture_output=True,
            text=True,
            timeout=gate.timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        out = (
            (exc.stdout or b"").decode(errors="replace")
            if isinstance(exc.stdout, bytes)
            else (exc.stdout or "")
        )
        return GateOutcome("fail", f"`{gate.run}` timed out after {gate.timeout:.0f}s", out[-EVIDENCE_LIMIT:])
    output = (proc.stdout + proc.stderr)[-EVIDENCE_LIMIT:]
    last = next((ln.strip() for ln in reversed(output.splitlines()) if ln.strip()), "")
    state = "pass" if proc.returncode == 0 else "fail"
    return GateOutcome(
        state,
        f"`{gate.run}` exited {proc.returncode}" + (f": {last}" if last else ""),
        output,
        read_metrics(gate.metrics, proc.stdout + proc.stderr),
    )


def read_metrics(rules: Mapping[str, str], output: str) -> dict[str, float]:
    """Each metric's number: the first group of its regex's last match in the output."""
    found: dict[str, float] = {}
    for name, regex in rules.items():
        matches = list(re.finditer(regex, output, re.MULTILINE))
        if matches:
            try:
                found[name] = float(matches[-1].group(1))
            except (TypeError, ValueError):
                continue
    return found


def _file_exists(gate: FileExistsGate, worktree: Path) -> GateOutcome:
    if ".." in Path(gate.path).parts or Path(gate.path).is_absolute():
        return GateOutcome("fail", f"{gate.path}: must stay inside the worktree")
    hits = sorted(glob.glob(gate.path, root_dir=worktree, recursive=True))
    if hits:
        return GateOutcome("pass", f"{len(hits)} match(es): {', '.join(hits[:3])}", "\n".join(hits))
    return GateOutcome("fail", f"nothing matches {gate.path}")


HEADING = re.compile(r"^(#{1,6})\s*(.*?)\s*#*\s*$", re.MULTILINE)


def section_text(text: str, name: str) -> str | None:
    """The body of the Markdown section headed `name` (any level, any case): up to the
    next heading of the same or a higher level. None when there is no such heading."""
    headings = list(HEADING.finditer(text))
    for i, found in enumerate(headings):
        if found.group(2).strip().lower() != name.strip().lower():
            continue
        level = len(found.group(1))
        end = next((h.start() for h in headings[i + 1 :] if len(h.group(1)) <= level), len(text))
        return text[found.end() : end].strip("\n")
    return None


def _content(gate: ContentCheckGate, worktree: Path) -> GateOutcome:
    path = _inside(worktree, gate.path)
    if path is None:
        return GateOutcome("fail", f"{gate.path}: must stay inside the worktree")
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return GateOutcome("fail", f"{gate.path} does not exist")
    evidence = text[:EVIDENCE_LIMIT]
    missing = [
        h
        for h in gate.headings
        if not re.search(rf"^#{{1,6}}\s*{re.escape(h)}\s*#*\s*$", text, re.MULTILINE | re.IGNORECASE)
    ]
    missing += [p for p in gate.patterns if not re.search(p, text, re.MULTILINE)]
    if missing:
        return GateOutcome("fail", f"{gate.path} lacks: {', '.join(missing)}", evidence)
    if gate.section is not None:
        body = section_text(text, gate.section)
        if body is None:
            return GateOutcome("fail", f"{gate.path} has no {gate.section!r} section", evidence)
        said = next((line.strip() for line in body.splitlines() if line.strip()), "")
        if gate.matches is not None and not re.search(gate.matches, body, re.MULTILINE):
            return GateOutcome(
                "fail",
                f"{gate.path}'s {gate.section} section says {said[:120]!r}, not {gate.matches!r}",
                evidence,
            )
        if gate.matches is not None:
            return GateOutcome("pass", f"{gate.path}'s {gate.section} section says {said[:120]!r}", evidence)
    return GateOutcome("pass", f"{gate.path} has every required heading and pattern", evidence)


def evaluate(
    gate: Gate,
    worktree: Path,
    artifacts: Mapping[str, str] | None = None,
    metric: Callable[[str], float | None] | None = None,
    approved: bool | None = None,
    values: Mapping[str, str] | None = None,
) -> GateOutcome:
    """One gate's outcome. `approved` is None while nobody has decided. `values` fill a
    command gate's placeholders (`{base}`, `{branch}`, `{task}`, …) as data. A failure
    leads with the gate's `message`; a gate that is not `required` warns instead."""
    outcome = _outcome(gate, worktree, _Given(artifacts or {}, metric, approved, values or {}))
    if outcome.state != "fail":
        return outcome
    why = f"{gate.message} ({outcome.why})" if gate.message else outcome.why
    return GateOutcome("fail" if gate.required else "warn", why, outcome.evidence, outcome.metrics)


@dataclass(frozen=True)
class _Given:
    """What a run knows when it checks a gate (see `evaluate`)."""

    artifacts: Mapping[str, str]
    metric: Callable[[str], float | None] | None
    approved: bool | None
    values: Mapping[str, str]


def _outcome(gate: Gate, worktree: Path, given: _Given) -> GateOutcome:
    if isinstance(gate, CommandGate):
        return _command(gate, worktree, given.values)
    if isinstance(gate, FileExistsGate):
        return _file_exists(gate, worktree)
    if isinstance(gate, ContentCheckGate):
        return _content(gate, worktree)
    if isinstance(gate, ArtifactExistsGate):
        found = gate.found_in(list(given.artifacts))
        evidence = "\n".join(f"{name}: {given.artifacts[name][:500]}" for name in found)
        return GateOutcome(
            "pass" if found else "fail",
            f"artifact {gate.wanted()!r} {'recorded' if found else 'not recorded yet'}",
            evidence,
        )
    if isinstance(gate, MetricThresholdGate):
        value = given.metric(gate.metric) if given.metric else None
        if value is None:
            return GateOutcome("pending", f"{gate.metric} not available yet")
        ok = OPS[gate.op](value, gate.value)
        return GateOutcome(
            "pass" if ok else "fail", f"{gate.metric} = {value:g} ({gate.op} {gate.value:g} is {ok})"
        )
    assert isinstance(gate, ApprovalGate)
    if given.approved is None:
        return GateOutcome("pending", "waiting for a person to approve")
    return GateOutcome("pass" if given.approved else "fail", "approved" if given.approved else "rejected")
