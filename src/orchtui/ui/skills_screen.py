"""The skills screen: every skill with its source, version, trust and where it is used,
the selected one's description, and the SKILL.md files that failed to load. `v` vets the
selected skill (recorded with who and when); Esc goes back."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Footer, Static

from orchtui.services.context import Context
from orchtui.services.skill_catalog import vet, vetted_digests
from orchtui.skills import Skill, catalog_for, effective_trust
from orchtui.ui.background import background
from orchtui.ui.views import CoveringView

TRUST_STYLE = {"vetted": "green", "community": "yellow", "experimental": "red"}


@dataclass(frozen=True)
class SkillRow:
    skill: Skill
    trust: str
    used_by: list[str]


class SkillsScreen(CoveringView):
    BINDINGS = [Binding("escape,q", "close", "Back"), Binding("v", "vet", "Vet")]
    DEFAULT_CSS = """
    SkillsScreen #skills-table { height: 1fr; border: round $primary 60%; }
    SkillsScreen #skill-detail { height: auto; max-height: 8; padding: 0 1; border: round $secondary 60%; }
    SkillsScreen #skill-problems { height: auto; max-height: 6; padding: 0 1; color: $warning; }
    """

    def __init__(self, ctx: Context, repo: Path | None, uses: dict[str, list[str]]) -> None:
        super().__init__()
        self.ctx = ctx
        self.repo = repo
        self.uses = uses
        self.rows: dict[str, SkillRow] = {}

    def compose(self) -> ComposeResult:
        table: DataTable[str | Text] = DataTable(id="skills-table", cursor_type="row")
        yield table
        yield Static("", id="skill-detail")
        yield Static("", id="skill-problems")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#skills-table", DataTable)
        table.border_title = "Skills"
        for label, width in (("name", 18), ("version", 8), ("trust", 12), ("source", 8), ("used by", 40)):
            table.add_column(label, key=label, width=width)
        table.focus()
        self._load()

    @background(group="skills", exclusive=True)
    def _load(self) -> None:
        catalog = catalog_for(self.repo)
        vetted = vetted_digests(self.ctx)
        rows = [
            SkillRow(s, effective_trust(s, vetted), self.uses.get(s.name, []))
            for s in catalog.skills.values()
        ]
        problems = [f"{_shown(p.path, self.repo)}: {p.message}" for p in catalog.problems]
        self.app.call_from_thread(self._show, rows, problems)

    def _show(self, rows: list[SkillRow], problems: list[str]) -> None:
        table = self.query_one("#skills-table", DataTable)
        keep = table.cursor_row
        table.clear()
        self.rows = {r.skill.name: r for r in rows}
        for r in rows:
            table.add_row(
                r.skill.name,
                r.skill.meta.version,
                Text(r.trust, style=TRUST_STYLE.get(r.trust, "")),
                r.skill.source,
                ", ".join(r.used_by) or "-",
                key=r.skill.name,
            )
        if rows:
            table.move_cursor(row=min(keep, len(rows) - 1))
        text = "\n".join(f"✖ {p}" for p in problems)
        self.query_one("#skill-problems", Static).update(text)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        key = event.row_key.value if event.row_key is not None else None
        row = self.rows.get(str(key)) if key is not None else None
        if row is None:
            return
        meta = row.skill.meta
        detail = Text()
        detail.append(f"{meta.name} {meta.version}", style="bold")
        detail.append(f"  ·  {row.trust}", style=TRUST_STYLE.get(row.trust, ""))
        detail.append(f" (declared {meta.trust})  ·  {row.skill.source}\n", style="dim")
        detail.append(meta.description)
        if meta.script:
            detail.append(f"\nscript: {meta.script}", style="dim")
        self.query_one("#skill-detail", Static).update(detail)

    def action_vet(self) -> None:
        table = self.query_one("#skills-table", DataTable)
        if not self.rows or table.row_count == 0:
            return
        name = str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)
        row = self.rows[name]
        if row.trust == "vetted":
            self.notify(f"{name} is already vetted.")
            return
        self._vet(row.skill)

    @background(group="vet")
    def _vet(self, skill: Skill) -> None:
        vet(self.ctx, skill)
        self.app.call_from_thread(self.notify, f"vetted {skill.name} {skill.meta.version}")
        self._load()

    def action_close(self) -> None:
        self.dismiss(None)


def _shown(path: Path, repo: Path | None) -> str:
    """A path relative to the repository when inside it (shorter, and the same on every machine)."""
    return str(path.relative_to(repo)) if repo is not None and path.is_relative_to(repo) else str(path)
