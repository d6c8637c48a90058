"""Modal screens: new session, prompt editor, confirmations. Validation is inline."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Static, TextArea

from orchtui.errors import OrchtuiError, Untrusted, UsageError
from orchtui.names import validate_task
from orchtui.trust import scope
from orchtui.ui.background import WorkerErrors, background


@dataclass(frozen=True)
class NewSessionRequest:
    agent: str
    task: str
    base: str | None
    prompt: str | None


class NewSessionScreen(WorkerErrors, ModalScreen[NewSessionRequest | None]):
    """Agent profile, task, base branch and an optional first prompt."""

    BINDINGS = [Binding("escape", "cancel", "Cancel"), Binding("ctrl+s", "submit", "Create")]

    def __init__(
        self,
        agents: list[tuple[str, str]],
        default_agent: str,
        base_hint: str,
        create: Callable[[NewSessionRequest], str | Untrusted | None],
        trust: Callable[[Path], str | None],
        missing: dict[str, str] | None = None,
    ) -> None:
        """`create` runs in a worker thread and returns an error message, the repository
        file that must be trusted first, or None; `trust` trusts one (an error or None)."""
        super().__init__()
        self.agents = agents
        self.default_agent = default_agent
        self.base_hint = base_hint
        self.create = create
        self.trust = trust
        self.missing = missing or {}  # agent -> how to install it, for the agents not installed

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="dialog"):
            yield Label("New agent session", classes="dialog-title")
            yield Label("Agent")
            yield Select(self.agents, value=self.default_agent, allow_blank=False, id="agent")
            yield Static(self._install_hint(self.default_agent), id="install", classes="hint")
            yield Label("Task (becomes the worktree and the branch orchtui/<task>)")
            yield Input(placeholder="e.g. fix-login", id="task")
            yield Label(f"Base branch (empty: {self.base_hint})")
            yield Input(placeholder=self.base_hint, id="base")
            yield Label("First prompt (optional)")
            yield TextArea(id="prompt", soft_wrap=True)
            yield Static("", id="error", classes="error")
            with Horizontal(classes="buttons"):
                yield Button("Create", variant="primary", id="create")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#task", Input).focus()

    def _install_hint(self, agent: object) -> str:
        how = self.missing.get(str(agent))
        return f"{agent} is not installed: {how}" if how else ""

    def on_select_changed(self, event: Select.Changed) -> None:
        if event.select.id == "agent":
            self.query_one("#install", Static).update(self._install_hint(event.value))

    def show_error(self, message: str) -> None:
        self.query_one("#error", Static).update(message)

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "task":
            error = self._task_error(event.value) if event.value else ""
            self.show_error(error)
            self.query_one("#create", Button).disabled = bool(error)  # a bad name cannot be sent

    @staticmethod
    def _task_error(value: str) -> str:
        try:
            validate_task(value)
        except UsageError as exc:
            return str(exc)
        return ""

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.action_submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "create":
            self.action_submit()
        else:
            self.dismiss(None)

    def action_cancel(self) -> None:
        self.dismiss(None)

    def action_submit(self) -> None:
        task = self.query_one("#task", Input).value.strip()
        error = self._task_error(task) if task else "task: a name is required"
        if error:
            self.show_error(error)
            self.query_one("#task", Input).focus()
            return
        agent = self.query_one("#agent", Select).value
        base = self.query_one("#base", Input).value.strip() or None
        prompt = self.query_one("#prompt", TextArea).text
        request = NewSessionRequest(str(agent), task, base, prompt if prompt.strip() else None)
        self.show_error("Creating the worktree and starting the agent…")
        self.query_one("#create", Button).disabled = True
        self._create(request)

    @background(group="create", exclusive=True)
    def _create(self, request: NewSessionRequest, trusting: Path | None = None) -> None:
        error = self.trust(trusting) if trusting is not None else None
        outcome = self.create(request) if error is None else error
        self.app.call_from_thread(self._created, request, outcome)

    def _created(self, request: NewSessionRequest, error: str | Untrusted | None) -> None:
        if error is None:
            self.dismiss(request)
            return
        self.show_error(str(error))
        self.query_one("#create", Button).disabled = False
        if isinstance(error, Untrusted):
            self._ask_trust(request, error.path)

    def _ask_trust(self, request: NewSessionRequest, path: Path) -> None:
        """The repository asks orchtui to run something: say what, and trust it on `t`."""

        def answered(answer: str | None) -> None:
            if answer == "trust":
                self.show_error(f"Trusted {path.name}; creating the worktree and starting the agent…")
                self.query_one("#create", Button).disabled = True
                self._create(request, path)

        choices = [("t", "Trust it and create", "trust"), ("n", "Not now", "no")]
        self.app.push_screen(ConfirmScreen(trust_question(path), choices), answered)


class PromptScreen(ModalScreen[str | None]):
    """A multi-line prompt. Ctrl+S sends; Enter makes a new line."""

    BINDINGS = [Binding("escape", "cancel", "Cancel"), Binding("ctrl+s", "submit", "Send")]

    def __init__(self, title: str) -> None:
        super().__init__()
        self.title_text = title

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="dialog"):
            yield Label(self.title_text, classes="dialog-title")
            yield TextArea(id="text", soft_wrap=True)
            yield Static("", id="error", classes="error")
            yield Label("Ctrl+S to send · Esc to cancel", classes="hint")

    def on_mount(self) -> None:
        self.query_one("#text", TextArea).focus()

    def action_cancel(self) -> None:
        self.dismiss(None)

    def action_submit(self) -> None:
        text = self.query_one("#text", TextArea).text
        if not text.strip():
            self.query_one("#error", Static).update("The prompt is empty.")
            return
        self.dismiss(text)


class ConfirmScreen(ModalScreen[str | None]):
    """A question with one key per answer (y/n, or the given choices)."""

    def __init__(self, question: str, choices: list[tuple[str, str, str]]) -> None:
        """choices: (key, label, result)."""
        super().__init__()
        self.question = question
        self.choices = choices
        for key, _label, result in choices:
            self._bindings.bind(key, f"choose('{result}')", show=False)
        self._bindings.bind("escape", "choose('')", show=False)

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="dialog confirm"):
            yield Static(self.question, classes="question")
            with Horizontal(classes="buttons"):
                for key, label, result in self.choices:
                    yield Button(
                        f"{label} [{key}]",
                        id=f"choice-{result}",
                        variant="error" if result in ("kill", "force") else "default",
                    )

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss((event.button.id or "").removeprefix("choice-") or None)

    def action_choose(self, result: str) -> None:
        self.dismiss(result or None)


class TextScreen(ModalScreen[None]):
    """Read-only, scrollable text (a run's memory, an approval's details)."""

    BINDINGS = [Binding("escape", "close", "Close"), Binding("q", "close", "Close")]

    def __init__(self, title: str, text: str) -> None:
        super().__init__()
        self.title_text = title
        self.text = text

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="dialog reader"):
            yield Label(self.title_text, classes="dialog-title")
            yield TextArea(self.text, read_only=True, id="text", soft_wrap=True)
            yield Label("Esc to close", classes="hint")

    def action_close(self) -> None:
        self.dismiss(None)


def trust_question(path: Path) -> str:
    """What trusting `path` lets run, for the operator to read before saying yes."""
    try:
        files, settings = scope(path)
    except OrchtuiError as exc:
        return f"{path}: {exc}"
    lines = [f"{path} asks orchtui to run commands on this machine:"]
    lines += [f"  {setting}: {value}" for setting, value in settings.items()] or [f"  (see {path.name})"]
    lines += ["", "Trusting records this exact content (sha256); any change asks again."]
    if len(files) > 1:
        lines.append("Also trusted as they are: " + ", ".join(f.name for f in files[1:]))
    lines.append("t: trust it and create the session · n or Esc: not now")
    return "\n".join(lines)
