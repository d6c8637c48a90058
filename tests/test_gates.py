"""Gates on a real worktree: the outcome, why, and the evidence kept."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import pytest
from pydantic import TypeAdapter

from helpers import git, init_repo
from orchtui.playbook import CommandGate, Gate, load_playbook
from orchtui.services.gates import evaluate

GATE: TypeAdapter[Gate] = TypeAdapter(Gate)


def gate(**data: object) -> Gate:
    return GATE.validate_python(data)


@pytest.fixture
def worktree(tmp_path: Path) -> Path:
    path = init_repo(tmp_path / "wt")
    (path / "calc.py").write_text("def add(a, b):\n    return a - b\n")
    (path / "test_calc.py").write_text("from calc import add\n\ndef test_add():\n    assert add(2, 2) == 4\n")
    (path / "PLAN.md").write_text("# Plan\n\n## Goal\nAdd.\n\n## Steps\n1. add\n")
    return path


def test_command_gate_runs_the_real_tests_fails_then_passes(worktree: Path) -> None:
    run = f"{shlex.quote(sys.executable)} -m pytest -q -p no:cacheprovider"
    failing = evaluate(gate(type="command", run=run), worktree)
    assert failing.state == "fail" and "exited 1" in failing.why
    assert "1 failed" in failing.evidence and "assert 0 == 4" in failing.evidence
    (worktree / "calc.py").write_text("def add(a, b):\n    return a + b\n")
    passing = evaluate(gate(type="command", run=run), worktree)
    assert passing.state == "pass" and "1 passed" in passing.evidence
    assert git(worktree, "status", "--porcelain", "--untracked-files=all").splitlines() == [
        "?? PLAN.md",
        "?? calc.py",
        "?? test_calc.py",
    ]  # no __pycache__ or .pytest_cache left behind


def test_command_gate_timeout_and_minimal_environment(
    worktree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SECRET_API_KEY", "sk-should-not-leak")
    out = evaluate(gate(type="command", run="env"), worktree)
    assert out.state == "pass" and "SECRET_API_KEY" not in out.evidence
    slow = evaluate(gate(type="command", run="sleep 5", timeout=0.5), worktree)
    assert slow.state == "fail" and "timed out" in slow.why


def test_file_and_content_gates(worktree: Path) -> None:
    assert evaluate(gate(type="file_exists", path="*.md"), worktree).state == "pass"
    assert evaluate(gate(type="file_exists", path="docs/*.md"), worktree).state == "fail"
    assert evaluate(gate(type="file_exists", path="../*"), worktree).state == "fail"
    ok = evaluate(gate(type="content_check", path="PLAN.md", headings=["Goal", "Steps"]), worktree)
    assert ok.state == "pass"
    missing = evaluate(
        gate(type="content_check", path="PLAN.md", headings=["Goal", "Risks"], patterns=[r"^1\. "]), worktree
    )
    assert missing.state == "fail" and missing.why.endswith("lacks: Risks")
    assert (
        evaluate(gate(type="content_check", path="../../etc/passwd", patterns=["root"]), worktree).state
        == "fail"
    )
    assert evaluate(gate(type="content_check", path="NOPE.md", headings=["x"]), worktree).state == "fail"


def test_artifact_metric_and_approval_gates(worktree: Path) -> None:
    assert (
        evaluate(gate(type="artifact_exists", artifact="review"), worktree, artifacts={"review": "ok"}).state
        == "pass"
    )
    assert evaluate(gate(type="artifact_exists", artifact="review"), worktree, artifacts={}).state == "fail"
    metric = gate(type="metric_threshold", metric="cost.run_usd", op="<=", value=2.5)
    assert evaluate(metric, worktree, metric=lambda name: 1.0).state == "pass"
    assert evaluate(metric, worktree, metric=lambda name: 3.0).state == "fail"
    assert evaluate(metric, worktree, metric=lambda name: None).state == "pending"
    approval = gate(type="approval")
    assert evaluate(approval, worktree).state == "pending"
    assert evaluate(approval, worktree, approved=True).state == "pass"
    assert evaluate(approval, worktree, approved=False).state == "fail"


HOSTILE_BRANCHES = [  # each one a valid git branch name (git check-ref-format accepts it)
    "feat$(touch${IFS}pwned1)",
    "x;touch${IFS}pwned2",
    "a`touch${IFS}pwned3`",
    "b|touch${IFS}pwned4",
    "c&&touch${IFS}pwned5",
    "d'\"e>pwned6",
]


def test_every_shipped_command_gate_takes_hostile_names_as_data(tmp_path: Path) -> None:
    """The values a gate names (`{base}`, `"$ORCHTUI_BASE"`, …) never become code: with
    branch names full of shell syntax, nothing runs, and the gates see the exact names."""
    shipped = [
        g
        for path in sorted((Path(__file__).parent.parent / "playbooks").glob("*.yaml"))
        for stage in load_playbook(path, {"claude", "codex", "aider", "gemini", "orchtui", "scripted"}).stages
        for g in stage.gates
        if isinstance(g, CommandGate) and "pytest" not in g.run
    ]
    assert shipped, "the shipped playbooks have command gates"
    echo = gate(type="command", run='printf \'%s\\n\' {base} "{branch}" "$ORCHTUI_TASK" {stage} {attempt}')
    repo = init_repo(tmp_path / "repo")
    for base in HOSTILE_BRANCHES:
        git(repo, "check-ref-format", "--branch", base)
        git(repo, "branch", base, "main")
    branch = "work$(touch${IFS}pwned0);rm${IFS}-rf${IFS}.git"
    git(repo, "switch", "-q", "-c", branch)
    (repo / "work.txt").write_text("work\n")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "work")
    for base in HOSTILE_BRANCHES:
        values = {
            "base": base,
            "branch": branch,
            "task": "t-1",
            "stage": "build",
            "attempt": "2",
        }
        for shipped_gate in shipped:
            outcome = evaluate(shipped_gate, repo, values=values)
            assert outcome.state == "pass", (base, shipped_gate, outcome)
        shown = evaluate(echo, repo, values=values)
        assert shown.evidence.splitlines() == [base, branch, "t-1", "build", "2"], shown
    pwned = [found for where in (tmp_path, Path.cwd()) for found in where.glob("**/pwned*")]
    assert pwned == []


REVIEW = (
    "# Review\n\n## Verdict\n\n**Request changes**\n\n### Why\nno tests\n\n## Findings\n- approve nothing\n"
)


def test_a_section_must_say_what_the_gate_asks(worktree: Path) -> None:
    """A review gate reads the verdict, not only its heading: "request changes" fails
    with what the section says, even when "approve" appears elsewhere in the file."""
    (worktree / "REVIEW.md").write_text(REVIEW)
    verdict = gate(type="content_check", path="REVIEW.md", section="verdict", matches=r"(?i)^\W*approve")
    failed = evaluate(verdict, worktree)
    assert failed.state == "fail"
    assert failed.why == "REVIEW.md's verdict section says '**Request changes**', not '(?i)^\\\\W*approve'"
    (worktree / "REVIEW.md").write_text(REVIEW.replace("**Request changes**", "Approve"))
    passed = evaluate(verdict, worktree)
    assert passed.state == "pass" and "says 'Approve'" in passed.why
    # a subsection belongs to its section; the next section of the same level ends it
    (worktree / "REVIEW.md").write_text("## Verdict\n### Notes\napprove\n## Findings\n")
    assert evaluate(verdict, worktree).state == "pass"
    (worktree / "REVIEW.md").write_text("## Verdict\n## Findings\napprove\n")
    assert evaluate(verdict, worktree).state == "fail"
    (worktree / "REVIEW.md").write_text("## Findings\napprove\n")
    assert evaluate(verdict, worktree).why == "REVIEW.md has no 'verdict' section"


def test_message_leads_a_failure_and_an_optional_gate_only_warns(worktree: Path) -> None:
    told = evaluate(
        gate(type="file_exists", path="CHANGELOG.md", message="write a changelog entry"), worktree
    )
    assert (told.state, told.why) == ("fail", "write a changelog entry (nothing matches CHANGELOG.md)")
    optional = evaluate(gate(type="file_exists", path="CHANGELOG.md", required=False), worktree)
    assert optional.state == "warn"
    assert evaluate(gate(type="file_exists", path="*.md", required=False), worktree).state == "pass"


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        ({"path": "R.md", "matches": "approve"}, "matches needs a section"),
        ({"path": "R.md", "section": "Verdict", "matches": "("}, "invalid regex"),
        ({"path": "R.md"}, "needs headings, patterns or a section"),
    ],
)
def test_content_check_refuses_a_gate_that_cannot_mean_anything(data: dict[str, str], needle: str) -> None:
    with pytest.raises(ValueError, match=needle):
        gate(type="content_check", **data)


COVERAGE = {"coverage": r"^TOTAL.*?(\d+(?:\.\d+)?)%"}


def test_a_coverage_metric_read_from_real_pytest_cov_passes_and_fails_a_threshold(worktree: Path) -> None:
    """pytest --cov prints its TOTAL line; the command gate reads the number and a
    metric_threshold gate compares it (3 of 4 statements run: 75 %)."""
    (worktree / "calc.py").write_text("def add(a, b):\n    return a + b\n\n\ndef unused():\n    return 0\n")
    run = f"{shlex.quote(sys.executable)} -m pytest -q -p no:cacheprovider --cov=calc --cov-report=term"
    measured = evaluate(gate(type="command", run=run, metrics=COVERAGE), worktree)
    assert measured.state == "pass" and "TOTAL" in measured.evidence
    assert measured.metrics == {"coverage": 75.0}
    at_least = {
        threshold: evaluate(
            gate(type="metric_threshold", metric="coverage", op=">=", value=threshold),
            worktree,
            metric=measured.metrics.get,
        )
        for threshold in (70, 80)
    }
    assert at_least[70].state == "pass" and at_least[80].state == "fail"
    assert at_least[80].why == "coverage = 75 (>= 80 is False)"


def test_a_metric_regex_needs_a_group_and_a_plain_name() -> None:
    with pytest.raises(ValueError, match="needs a group"):
        gate(type="command", run="true", metrics={"coverage": "TOTAL"})
    with pytest.raises(ValueError, match="a metric name"):
        gate(type="command", run="true", metrics={"cov rage": "(\\d+)"})
