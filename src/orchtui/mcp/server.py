"""`orchtui mcp`: orchtui's tools and resources over the Model Context Protocol (the
official SDK), for an agent that starts it (stdio) or connects to it (streamable HTTP).

Each tool is one call into `Crew`; an OrchtuiError becomes a tool error carrying its one
line. The caller is recorded as `mcp:<the client's name>` (from its initialize request)."""

from __future__ import annotations

import re
import secrets
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Annotated, Any, TypeVar

from mcp.server import MCPServer
from mcp.server.mcpserver import Context as ToolContext
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import Tool as MCPTool
from pydantic import Field

from orchtui import __version__
from orchtui.domain import MCP_TOOLS
from orchtui.errors import OrchtuiError
from orchtui.mcp.crew import Crew

T = TypeVar("T")
Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

INSTRUCTIONS = """\
orchtui runs a crew of coding agents, each in its own tmux window and git worktree.
Plan with plan_stage_allocation, start agents with create_session, give them work with
send_command, follow them with wait_for and read_session_output, land their work with
commit_changes and merge_worktree. A merge into a protected branch needs a person's
approval: ask with request_stage_approval(run=<session id>, stage="merge", proposal=...)
and wait for the answer; you cannot give it yourself. Capacity limits hold for you as for
the operator. Errors are one line that says what to change."""


def caller_of(ctx: ToolContext[Any, Any] | None) -> str:
    """`mcp:<client name>`, the name cut to safe characters."""
    params = ctx.session.client_params if ctx is not None else None
    name = params.client_info.name if params is not None else ""
    return "mcp:" + (re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-")[:40] or "client")


def _call(fn: Callable[[], T]) -> T:
    try:
        return fn()
    except OrchtuiError as exc:
        raise ToolError(str(exc)) from None


class Server(MCPServer[Any]):
    """The SDK's server, which also says when the client has listed the tools: a
    supervisor's first prompt waits for that (engine/delivery.py)."""

    ready_file: Path | None = None

    async def list_tools(self) -> list[MCPTool]:
        tools = await super().list_tools()
        if self.ready_file is not None:
            self.ready_file.write_text(str(len(tools)), encoding="utf-8")
        return tools


def build_server(crew: Crew, ready_file: Path | None = None) -> Server:
    server = Server("orchtui", version=__version__, instructions=INSTRUCTIONS, log_level="WARNING")
    server.ready_file = ready_file
    tools: list[Callable[..., Any]] = []

    # A. planning and allocation
    def plan_stage_allocation(
        stage: Annotated[str, Field(description="Stage id in the playbook")],
        project: Annotated[str | None, Field(description="Repository path or project name")] = None,
        requested_parallelism: Annotated[
            int | None, Field(description="Agents for the stage's first role (default: the playbook's count)")
        ] = None,
        playbook: Annotated[str, Field(description="Playbook name or file")] = "default",
    ) -> dict[str, Any]:
        """Which agent would fill each role of a stage, how many, in which worktree, and
        what cannot be filled within capacity and why. Changes nothing."""
        return _call(lambda: crew.plan_stage_allocation(project, stage, requested_parallelism, playbook))

    def propose_stage_execution(
        stage: Annotated[str, Field(description="Stage id in the playbook")],
        task: Annotated[str, Field(description="Task name (becomes worktree folder and branch)")],
        project: Annotated[str | None, Field(description="Repository path or project name")] = None,
        playbook: Annotated[str, Field(description="Playbook name or file")] = "default",
    ) -> dict[str, Any]:
        """Everything running the stage would do (roles, prompts, gates, automation level,
        the allocation plan), to show a person before asking. Changes nothing."""
        return _call(lambda: crew.propose_stage_execution(project, stage, task, playbook))

    # B. sessions
    def create_session(
        task: Annotated[str, Field(description="Task name: the worktree folder and branch <prefix><task>")],
        agent: Annotated[str, Field(description="Agent profile: claude, codex, aider, gemini, scripted, …")],
        role: Annotated[
            str | None, Field(description="Role it fills (counts against per-role limits)")
        ] = None,
        project: Annotated[str | None, Field(description="Repository path or project name")] = None,
        prompt: Annotated[str | None, Field(description="First prompt, sent when the agent is ready")] = None,
        base: Annotated[str | None, Field(description="Base branch (default: the current branch)")] = None,
        worktree_id: Annotated[
            int | None, Field(description="Start in this existing worktree (from create_worktree)")
        ] = None,
        ctx: ToolContext[Any, Any] | None = None,
    ) -> dict[str, Any]:
        """Start an agent in its own worktree and tmux window; refused beyond capacity."""
        caller = caller_of(ctx)
        return _call(
            lambda: crew.create_session(task, agent, role, project, prompt, base, worktree_id, caller)
        )

    def send_command(
        session_id: str,
        text: Annotated[str, Field(description="The prompt, delivered literally (never through a shell)")],
        now: Annotated[bool, Field(description="Deliver at once even while the agent works")] = False,
        ctx: ToolContext[Any, Any] | None = None,
    ) -> dict[str, Any]:
        """Queue a prompt for one session; its ledger row follows it to done."""
        caller = caller_of(ctx)
        return _call(lambda: crew.send_command(session_id, text, now, caller))

    def read_session_output(
        session_id: str,
        lines: Annotated[int, Field(description="How many of the last lines")] = 40,
    ) -> dict[str, Any]:
        """The last lines of the agent's terminal, its status and its last prompt's state."""
        return _call(lambda: crew.read_session_output(session_id, lines))

    def close_session(
        session_id: str,
        keep_worktree: Annotated[bool, Field(description="Keep the worktree (and uncommitted work)")] = False,
    ) -> dict[str, Any]:
        """Stop the agent and free its slot. Refused while its worktree holds uncommitted
        changes, unless keep_worktree."""
        return _call(lambda: crew.close_session(session_id, keep_worktree))

    def list_sessions(
        include_ended: Annotated[bool, Field(description="Also sessions that ended")] = False,
    ) -> list[dict[str, Any]]:
        """Sessions with status, branch and worktree."""
        return _call(lambda: crew.list_sessions(include_ended))

    def wait_for(
        session_id: str,
        status: Annotated[str, Field(description="idle, waiting, done (every prompt done) or exited")],
        timeout: Annotated[float, Field(description="Seconds (at most 3600)")] = 300,
    ) -> dict[str, Any]:
        """Block until the session reaches the status; an error when it cannot any more
        or the time runs out."""
        return _call(lambda: crew.wait_for(session_id, status, timeout))

    # C. workspace and git
    def create_worktree(
        task: str,
        project: Annotated[str | None, Field(description="Repository path or project name")] = None,
        branch: Annotated[
            str | None, Field(description="Branch (default <prefix><task>); policy-checked")
        ] = None,
        path: Annotated[str | None, Field(description="Folder under the worktree root")] = None,
        base: Annotated[str | None, Field(description="Base branch")] = None,
    ) -> dict[str, Any]:
        """A worktree and branch with no agent yet (start one there with create_session)."""
        return _call(lambda: crew.create_worktree(project, task, branch, path, base))

    def commit_changes(
        session_id: str,
        message: Annotated[str, Field(description="Summary line; the repository's policy template wraps it")],
        ctx: ToolContext[Any, Any] | None = None,
    ) -> dict[str, Any]:
        """Commit everything in the session's worktree with a policy-compliant message."""
        caller = caller_of(ctx)
        return _call(lambda: crew.commit_changes(session_id, message, caller))

    def merge_worktree(
        session_id: str,
        target: Annotated[
            str | None, Field(description="Target branch (default: the session's base)")
        ] = None,
        resolver: Annotated[str | None, Field(description="Agent profile that resolves conflicts")] = None,
        ctx: ToolContext[Any, Any] | None = None,
    ) -> dict[str, Any]:
        """Land the session's branch after the repository's required checks pass; into a
        protected branch only with a person's approval of this branch at its present tip."""
        caller = caller_of(ctx)
        return _call(lambda: crew.merge_worktree(session_id, target, resolver, caller))

    def resolve_merge_conflict(
        merge_id: int,
        session_id: Annotated[str | None, Field(description="The merge's resolver session")] = None,
        message: Annotated[str | None, Field(description="Guidance for the resolver agent")] = None,
        ctx: ToolContext[Any, Any] | None = None,
    ) -> dict[str, Any]:
        """With a message: send it to the merge's resolver agent. Without: check the
        resolution and finish the merge, or say what is left."""
        caller = caller_of(ctx)
        return _call(lambda: crew.resolve_merge_conflict(merge_id, session_id, message, caller))

    # D. governance and quality
    def request_stage_approval(
        run: Annotated[str, Field(description="Run id, or the session id the proposal is about")],
        stage: Annotated[str, Field(description="What it is about: a stage id, or 'merge'")],
        proposal: Annotated[str, Field(description="What a person is asked to approve, in words")],
        wait_seconds: Annotated[float, Field(description="Wait this long for the answer (0: do not)")] = 0,
        ctx: ToolContext[Any, Any] | None = None,
    ) -> dict[str, Any]:
        """Ask a person (the operator answers in the dashboard, CLI or web page). You can
        ask; you cannot approve. Asking again with the same proposal returns the same one."""
        caller = caller_of(ctx)
        return _call(lambda: crew.request_stage_approval(run, stage, proposal, wait_seconds, caller))

    def run_quality_gate(
        run: Annotated[str | None, Field(description="Run id: its stage's gates")] = None,
        session: Annotated[str | None, Field(description="Session id: the merge checks")] = None,
    ) -> dict[str, Any]:
        """Check gates now, with their evidence; records and advances nothing."""
        return _call(lambda: crew.run_quality_gate(run, session))

    def write_project_memory(
        run: Annotated[str, Field(description="Run or session id (its project's memory)")],
        kind: Annotated[str, Field(description="decision, finding, summary or note")],
        text: str,
        ctx: ToolContext[Any, Any] | None = None,
    ) -> dict[str, Any]:
        """Record in the project's memory (secrets are masked); later prompts see it."""
        caller = caller_of(ctx)
        return _call(lambda: crew.write_project_memory(run, kind, text, caller))

    def read_project_memory(
        run: Annotated[str, Field(description="Run or session id (its project's memory)")],
        kind: Annotated[str | None, Field(description="Only this kind")] = None,
    ) -> list[dict[str, Any]]:
        """The project's memory, oldest first: decisions, findings, summaries, notes."""
        return _call(lambda: crew.read_project_memory(run, kind))

    tools += [
        plan_stage_allocation,
        propose_stage_execution,
        create_session,
        send_command,
        read_session_output,
        close_session,
        list_sessions,
        wait_for,
        create_worktree,
        commit_changes,
        merge_worktree,
        resolve_merge_conflict,
        request_stage_approval,
        run_quality_gate,
        write_project_memory,
        read_project_memory,
    ]
    every = {name for names in MCP_TOOLS.values() for name in names}
    assert {fn.__name__ for fn in tools} == every, (
        "the tool catalogue (domain.MCP_TOOLS) and the tools differ"
    )
    for fn in tools:
        if fn.__name__ in crew.allowed:  # what the operator disabled is not even listed
            server.add_tool(fn, name=fn.__name__)

    @server.resource("orchtui://sessions", mime_type="application/json")
    def sessions() -> list[dict[str, Any]]:
        """Every session (ended ones too), as `orchtui session list --json` shows them."""
        return _call(crew.sessions_resource)

    @server.resource("orchtui://sessions/{session_id}", mime_type="application/json")
    def session(session_id: str) -> dict[str, Any]:
        """One session with its ledger."""
        return _call(lambda: crew.session_resource(session_id))

    @server.resource("orchtui://runs", mime_type="application/json")
    def runs() -> list[dict[str, Any]]:
        """Every playbook run with its stages."""
        return _call(crew.runs_resource)

    @server.resource("orchtui://runs/{run_id}", mime_type="application/json")
    def run(run_id: str) -> dict[str, Any]:
        return _call(lambda: crew.run_resource(run_id))

    @server.resource("orchtui://approvals", mime_type="application/json")
    def approvals() -> list[dict[str, Any]]:
        """Every approval: what it shows, who asked, who answered."""
        return _call(crew.approvals_resource)

    @server.resource("orchtui://memory/{run_id}", mime_type="application/json")
    def memory(run_id: str) -> list[dict[str, Any]]:
        """The project memory of a run or session."""
        return _call(lambda: crew.read_project_memory(run_id, None))

    return server


def new_token() -> str:
    return secrets.token_urlsafe(24)


class TokenGate:
    """An ASGI wrapper: every HTTP request carries `Authorization: Bearer <token>` or is
    answered 401 (compared in constant time)."""

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]], token: str) -> None:
        self.app = app
        self.expected = f"Bearer {token}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            given = dict(scope.get("headers") or []).get(b"authorization", b"")
            if not secrets.compare_digest(given, self.expected):
                body = b'{"error": "a token is required: Authorization: Bearer <token>"}'
                await send(
                    {
                        "type": "http.response.start",
                        "status": 401,
                        "headers": [
                            (b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()),
                        ],
                    }
                )
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)
