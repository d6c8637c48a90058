"""The tables the dashboard shows (ui/widgets.py), in a bare app through Pilot."""

from __future__ import annotations

from rich.text import Text
from textual.app import App, ComposeResult

from orchtui.ui.widgets import Cell, ScreenView, SyncedTable


class Table(SyncedTable):
    COLUMNS = (("id", "id", 6), ("status", "status", 10))


class Bare(App[None]):
    def compose(self) -> ComposeResult:
        yield Table()


def rows(*keys: str, status: str = "idle") -> list[tuple[str, tuple[Cell, ...]]]:
    return [(key, (key, status)) for key in keys]


async def test_rows_that_come_and_go_are_changed_in_place_and_the_cursor_keeps_its_row() -> None:
    app = Bare()
    async with app.run_test(size=(60, 20)) as pilot:
        table = app.query_one(Table)
        assert table.sync(rows("a", "b", "c"))
        table.move_cursor(row=1)
        await pilot.pause()
        cleared: list[int] = []
        real_clear = table.clear
        table.clear = lambda *a, **k: cleared.append(1) or real_clear(*a, **k)  # type: ignore[method-assign]

        assert table.sync(rows("a", "b", "c", "d"))  # a new session: added at the end
        assert table.sync(rows("b", "c", "d"))  # one gone (archived): removed
        assert not cleared
        assert [str(k.value) for k in table.rows] == ["b", "c", "d"]
        assert str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value) in {"b", "c"}

        assert not table.sync(rows("b", "c", "d", status="working"))  # only cells changed
        assert str(table.get_cell("c", "status")) == "working"
        assert table.sync(rows("d", "b", "c"))  # another order: rebuilt
        assert cleared and [str(k.value) for k in table.rows] == ["d", "b", "c"]


async def test_fixed_columns_are_not_measured_yet_the_table_is_as_tall_as_its_rows() -> None:
    app = Bare()
    async with app.run_test(size=(60, 20)) as pilot:
        table = app.query_one(Table)
        table.sync(rows(*(f"s{i:03d}" for i in range(500))))
        await pilot.pause()
        await pilot.pause()
        assert table.virtual_size.height == 500 + table.header_height
        assert table.virtual_size.width == sum(c.get_render_width(table) for c in table.columns.values())
        assert table.columns[next(iter(table.columns))].content_width == len("id")  # its cells never measured
        table.move_cursor(row=499)
        await pilot.pause()
        assert table.scroll_y > 0  # it scrolls to the last row


class Screen1(App[None]):
    def compose(self) -> ComposeResult:
        yield ScreenView()


async def test_a_screen_that_scrolls_by_a_line_paints_only_the_new_line() -> None:
    """Strips are kept by their content, so a streaming agent's screen moving up one row
    repaints one row, not every row."""
    lines = [Text(f"line {i}", style="green" if i % 2 else "") for i in range(40)]
    app = Screen1()
    async with app.run_test(size=(40, 10)) as pilot:
        view = app.query_one(ScreenView)
        view.show_lines(lines[:10])
        await pilot.pause()
        painted = len(view._strips)
        assert painted <= 11  # (and "no output yet", drawn before the lines came)
        view.show_lines(lines[1:11])
        await pilot.pause()
        assert len(view._strips) == painted + 1
        assert [s.text for s in (view.render_line(y) for y in range(10))] == [
            f"line {i}".ljust(40) for i in range(1, 11)
        ]
