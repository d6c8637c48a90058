"""Playbooks: stages with roles, gates, automation levels and failure policies (YAML).

This module holds the format and its validation; running a playbook is the engine's
job. Errors name the file and the field (`playbooks/x.yaml: stages.2.needs: ...`).
The format is documented in docs/playbooks.md; `playbook_schema()` is its JSON schema.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from orchtui.errors import ConfigError
from orchtui.inputs import parse_yaml

STAGE_ID = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
METRIC_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,63}")
PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")  # {task}, {base}, … in prompts and command gates


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _regex(value: str) -> str:
    try:
        re.compile(value)
    except re.error as exc:
        raise ValueError(f"invalid regex {value!r}: {exc}") from None
    return value


Regex = Annotated[str, AfterValidator(_regex)]


class _GateBase(_Model):
    required: bool = True  # false: a failure is reported as a warning and blocks nothing
    message: str | None = Field(default=None, min_length=1, max_length=500)  # said when it fails


class CommandGate(_GateBase):
    type: Literal["command"]
    run: str = Field(min_length=1)  # run in the worktree; passes on exit 0; output kept as an artifact
    timeout: float = Field(default=600, gt=0, le=7200)
    # metrics read from its output: name -> a regex whose first group is the number
    # (e.g. coverage: 'TOTAL.*?(\d+(?:\.\d+)?)%'); a later metric_threshold gate compares them
    metrics: dict[str, Regex] = Field(default_factory=dict)

    @field_validator("metrics")
    @classmethod
    def _metric_names(cls, value: dict[str, str]) -> dict[str, str]:
        for name, regex in value.items():
            if not METRIC_NAME.fullmatch(name):
                raise ValueError(f"{name!r}: a metric name is letters, digits, _ . and -")
            if re.compile(regex).groups < 1:
                raise ValueError(f"{name}: the regex needs a group around the number")
        return value


class FileExistsGate(_GateBase):
    type: Literal["file_exists"]
    path: str = Field(min_length=1)  # a glob, relative to the worktree


class ContentCheckGate(_GateBase):
    """A file's content: headings it must have, patterns it must contain, and what one
    section must say (`section: Verdict`, `matches: "(?i)^approve"`)."""

    type: Literal["content_check"]
    path: str = Field(min_length=1)
    headings: list[str] = Field(default_factory=list)
    patterns: list[Regex] = Field(default_factory=list)
    section: str | None = Field(default=None, min_length=1, max_length=200)
    matches: Regex | None = None  # searched in the section's text (multi-line: ^ is a line start)

    @model_validator(mode="after")
    def _something(self) -> ContentCheckGate:
        if self.matches is not None and self.section is None:
            raise ValueError("matches needs a section (patterns search the whole file)")
        if not self.headings and not self.patterns and self.section is None:
            raise ValueError("content_check needs headings, patterns or a section")
        return self


class ArtifactExistsGate(_GateBase):
    """An artifact of the run: by exact name (`artifact`), or one recorded with `orchtui
    artifact add` by `kind` (url, file, report) and, if given, `label`."""

    type: Literal["artifact_exists"]
    artifact: str | None = Field(default=None, min_length=1)
    kind: Literal["url", "file", "report"] | None = None
    label: str | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _named(self) -> ArtifactExistsGate:
        if (self.artifact is None) == (self.kind is None):
            raise ValueError("name an artifact, or a kind (and a label)")
        if self.label is not None and self.kind is None:
            raise ValueError("a label needs its kind")
        return self

    def wanted(self) -> str:
        return self.artifact or f"{self.kind}:{self.label or '*'}"

    def found_in(self, names: list[str]) -> list[str]:
        if self.artifact is not None:
            return [n for n in names if n == self.artifact]
        prefix = f"{self.kind}:"
        return [n for n in names if n.startswith(prefix) and self.label in (None, n[len(prefix) :])]


class MetricThresholdGate(_GateBase):
    """A number compared with `value`: one a command gate read from its output (its
    `metrics`), or orchtui's own: `cost.run_usd`, `attempts`, `time.run_s`."""

    type: Literal["metric_threshold"]
    metric: str = Field(min_length=1)
    op: Literal["<", "<=", ">", ">=", "=="]
    value: float


class ApprovalGate(_GateBase):
    type: Literal["approval"]
    prompt: str = "Approve?"


Gate = Annotated[
    CommandGate | FileExistsGate | ContentCheckGate | ArtifactExistsGate | MetricThresholdGate | ApprovalGate,
    Field(discriminator="type"),
]

Automation = Literal["fully_auto", "auto_notify", "human_approval", "manual"]
OnFailure = Literal["stay", "retry", "revert", "escalate", "fail"]


class Role(_Model):
    role: str = Field(pattern=r"^[a-z][a-z0-9_-]{0,31}$")
    agents: list[str] = Field(min_length=1)  # allowed profiles, in order of preference
    count: int = Field(default=1, ge=1, le=20)
    prompt: str | None = None  # templated: {task}, {branch}, {base}, {stage}, {previous}
    skill: str | None = None
    supervisor: bool = False  # the agent gets orchtui's MCP server to run others with (claude)

    @model_validator(mode="after")
    def _work(self) -> Role:
        if self.prompt is None and self.skill is None:
            raise ValueError("a role needs a prompt or a skill")
        return self


def _stage_id(value: str) -> str:
    if not STAGE_ID.match(value):
        raise ValueError("use 1-32 of a-z 0-9 _ - starting with a letter")
    return value


StageId = Annotated[str, AfterValidator(_stage_id)]  # stage and step ids


PARAM_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
PARAMS_LIMIT = 64 * 1024  # bytes of a skill call's context values, all together
Param = str | int | float | bool


class SkillCall(_Model):
    """One skill run by a step: its instructions go to an agent (`agent`), or its script
    runs in the worktree. Context values are data: given to the script as environment
    variables and JSON on stdin, or to the agent as a JSON block; never part of a command."""

    skill: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")
    params: dict[str, Param] = Field(default_factory=dict)
    timeout: float = Field(default=300, gt=0, le=3600)
    retries: int = Field(default=0, ge=0, le=5)
    agent: str | None = None  # run in a session of this profile instead of as a script

    @field_validator("params")
    @classmethod
    def _params(cls, value: dict[str, Param]) -> dict[str, Param]:
        for key in value:
            if not PARAM_KEY.match(key):
                raise ValueError(f"{key!r} is not an identifier (letters, digits, _)")
        size = sum(len(k) + len(str(v).encode()) for k, v in value.items())
        if size > PARAMS_LIMIT:
            raise ValueError(f"context values are {size} bytes; at most {PARAMS_LIMIT}")
        return value


class Step(_Model):
    """Skills run together when the stage's agents are done; the stage's gates follow."""

    id: StageId
    skills: list[SkillCall] = Field(min_length=1)  # in parallel
    policy: Literal["all", "any"] = "all"  # the step passes when all (or any) of its skills succeed


class Nudge(_Model):
    nudge: str = Field(min_length=1, max_length=4000)  # the prompt sent (urgently) to a stuck agent


StuckPolicy = Literal["notify", "restart", "escalate"] | Nudge
Pick = Literal["first_pass", "best_score", "operator"]


class Race(_Model):
    """Several attempts at one stage's work at once, each in its own worktree and branch;
    the stage's gates score each as it finishes, and one is kept (docs/playbooks.md)."""

    count: int = Field(ge=2, le=10)  # attempts side by side
    # one profile per attempt, repeated in turn when fewer than `count` (default: the role's first)
    agents: list[str] = Field(default_factory=list)
    pick: Pick = "best_score"
    cancel_losers: bool = True  # stop the attempts still working once one has won
    # a passing attempt's score: the sum of weight × value of each metric its gates read,
    # and of `cost_usd` and `time_s` (its spend and its time; weigh them below zero)
    weights: dict[Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$")], float] = Field(
        default_factory=dict
    )


class Stage(_Model):
    id: StageId
    roles: list[Role] = Field(default_factory=list)
    gates: list[Gate] = Field(default_factory=list)
    steps: list[Step] = Field(default_factory=list)  # skills run before the gates are checked
    allow_bash: bool = False  # orchtui's own agents in this stage run commands without asking
    automation: Automation = "human_approval"
    needs: list[str] | None = Field(
        default=None,
        description="Stages that must finish first (default: the previous stage; [] for none). "
        "Stages whose needs are met run side by side, within capacity",
    )
    worktree: str = Field(
        default="shared",
        description="shared (the run's worktree), own (a branch of the run's, merged back when the "
        "stage completes), or the id of a stage this one needs, to work in its worktree",
    )
    timeout: float = Field(default=3600, gt=0, le=86400)
    retries: int = Field(default=0, ge=0, le=10)
    on_failure: OnFailure = "stay"
    merge: bool = False  # when the stage starts: merge the run's branch into its base
    wait_for_capacity: bool = False  # when agents are busy elsewhere: wait instead of pausing
    completion_marker: str | None = None
    restart_agents: int = Field(default=0, ge=0, le=5)  # restarts (resuming) of an agent that dies mid-stage
    # an agent silent while working for events.stuck_after: notify (an event), {nudge: "<prompt>"}
    # (sent once, urgently), restart (its agent, resuming), escalate (the run pauses, critical)
    stuck_policy: StuckPolicy = "notify"
    # in a run over several repositories (`orchtui run --repos`): the ones this stage runs in (default: all)
    repos: list[Annotated[str, Field(pattern=r"^[A-Za-z0-9._-]{1,100}$")]] | None = None
    race: Race | None = None  # its one role's work done by several agents at once; one attempt kept

    @model_validator(mode="after")
    def _race(self) -> Stage:
        if self.race is None:
            return self
        if len(self.roles) != 1 or self.roles[0].count != 1:
            raise ValueError(
                "race: a racing stage has exactly one role, of count 1 (the race makes the copies)"
            )
        if self.roles[0].prompt is None:
            raise ValueError("race: the racing role needs a prompt")
        if self.merge or self.steps:
            raise ValueError("race: a racing stage cannot merge or have steps")
        if self.worktree != "shared":
            raise ValueError("race: each attempt has its own worktree; leave `worktree` out")
        if any(g.type == "approval" for g in self.gates):
            raise ValueError("race: approval gates cannot score attempts (use pick: operator)")
        return self


class Playbook(_Model):
    name: str
    description: str = ""
    budget_usd: float | None = Field(default=None, gt=0, description="A run's spending limit in US dollars")
    memory_budget: int = Field(
        default=4000,
        ge=0,
        le=100_000,
        description="Characters of project memory a prompt's {memory} gives: this run's records, then "
        "the project's journal (decisions, findings, earlier runs' summaries), newest first",
    )
    stages: list[Stage] = Field(min_length=1)

    def stage(self, stage_id: str) -> Stage:
        return next(s for s in self.stages if s.id == stage_id)

    def dependencies(self) -> dict[str, list[str]]:
        deps: dict[str, list[str]] = {}
        for index, stage in enumerate(self.stages):
            deps[stage.id] = (
                stage.needs if stage.needs is not None else ([self.stages[index - 1].id] if index else [])
            )
        return deps

    def waves(self) -> dict[str, int]:
        """Each stage's step in the graph (0: needs nothing): stages of one wave whose
        needs are met run side by side."""
        deps, wave = self.dependencies(), {}

        def depth(stage_id: str) -> int:
            if stage_id not in wave:
                wave[stage_id] = 1 + max((depth(d) for d in deps[stage_id]), default=-1)
            return wave[stage_id]

        for stage in self.stages:
            depth(stage.id)
        return wave


def _cycle(deps: dict[str, list[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in deps.get(node, []):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if state.get(nxt) is None and (found := visit(nxt)):
                return found
        state[node] = 2
        path.pop()
        return None

    for node in deps:
        if state.get(node) is None and (found := visit(node)):
            return found
    return None


def check(playbook: Playbook, profiles: set[str]) -> list[tuple[str, str]]:
    """Cross-field problems as (field, message); empty when the playbook is sound."""
    problems: list[tuple[str, str]] = []
    ids = [s.id for s in playbook.stages]
    for index, stage_id in enumerate(ids):
        if ids.index(stage_id) != index:
            problems.append((f"stages.{index}.id", f"duplicate stage id {stage_id!r}"))
    known = set(ids)
    for index, stage in enumerate(playbook.stages):
        for ref in stage.needs or []:
            if ref not in known:
                problems.append((f"stages.{index}.needs", f"unknown stage {ref!r}"))
        if stage.worktree not in ("shared", "own") and stage.worktree not in known:
            problems.append((f"stages.{index}.worktree", f"unknown stage {stage.worktree!r} to share with"))
        for agent in stage.race.agents if stage.race else []:
            if agent not in profiles:
                problems.append((f"stages.{index}.race.agents", f"unknown agent profile {agent!r}"))
        for r_index, role in enumerate(stage.roles):
            for agent in role.agents:
                if agent not in profiles:
                    problems.append(
                        (f"stages.{index}.roles.{r_index}.agents", f"unknown agent profile {agent!r}")
                    )
        step_ids = [step.id for step in stage.steps]
        for s_index, step in enumerate(stage.steps):
            if step_ids.index(step.id) != s_index:
                problems.append((f"stages.{index}.steps.{s_index}.id", f"duplicate step id {step.id!r}"))
            for c_index, call in enumerate(step.skills):
                if call.agent is not None and call.agent not in profiles:
                    where = f"stages.{index}.steps.{s_index}.skills.{c_index}.agent"
                    problems.append((where, f"unknown agent profile {call.agent!r}"))
    if not problems and (cycle := _cycle(playbook.dependencies())):
        problems.append(("stages", "dependency cycle: " + " -> ".join(cycle)))
    if not problems:
        problems += _shared_before_needed(playbook)
    return problems


def _shared_before_needed(playbook: Playbook) -> list[tuple[str, str]]:
    """A stage working in another stage's worktree must come after it (through `needs`):
    side by side, the worktree might not exist yet."""
    deps, problems = playbook.dependencies(), []

    def before(stage_id: str) -> set[str]:
        found: set[str] = set()
        todo = list(deps[stage_id])
        while todo:
            if (one := todo.pop()) not in found:
                found.add(one)
                todo += deps[one]
        return found

    for index, stage in enumerate(playbook.stages):
        if stage.worktree not in ("shared", "own") and stage.worktree not in before(stage.id):
            problems.append(
                (
                    f"stages.{index}.worktree",
                    f"works in {stage.worktree!r}'s worktree, so it needs {stage.worktree!r} "
                    "(directly or through its needs)",
                )
            )
    return problems


def load_playbook(path: Path, profiles: set[str]) -> Playbook:
    """Load and validate; the first problem is raised as `file: field: message`."""
    data: Any = parse_yaml(path)
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a playbook is a mapping with `name` and `stages`")
    data.setdefault("name", path.stem)
    try:
        playbook = Playbook.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"] if not str(p).endswith("Gate"))
        raise ConfigError(f"{path}: {field}: {str(err['msg']).removeprefix('Value error, ')}") from None
    problems = check(playbook, profiles)
    if problems:
        field, message = problems[0]
        raise ConfigError(f"{path}: {field}: {message}")
    return playbook


def playbook_schema() -> dict[str, Any]:
    return Playbook.model_json_schema()


if __name__ == "__main__":  # python -m orchtui.playbook > docs/playbook.schema.json
    import json
    import sys

    json.dump(playbook_schema(), sys.stdout, indent=2)
    sys.stdout.write("\n")
