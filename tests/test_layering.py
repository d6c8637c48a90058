"""The layering contracts in pyproject.toml hold, and a contract broken on purpose fails
`lint-imports` (run by the test command), naming the contract and the import."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
LINT = Path(sys.executable).parent / "lint-imports"


def lint(root: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(root / "src")}
    return subprocess.run(
        [str(LINT), "--no-cache", "--config", str(root / "pyproject.toml")],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def copy_tree(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "src", tmp_path / "src", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_the_contracts_hold_on_this_tree(tmp_path: Path) -> None:
    proc = lint(copy_tree(tmp_path))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "BROKEN" not in proc.stdout and proc.stdout.count("KEPT") >= 5


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        ("store/db.py", "import textual", "Textual only in the UI"),
        ("ui/format.py", "from orchtui.store import tables", "The UI calls services"),
        ("services/gates.py", "import libtmux", "GitPython and libtmux only in the runtime layer"),
        ("services/events.py", "from orchtui.engine import monitor", "Layers:"),
        ("engine/monitor.py", "from orchtui.engine import advancer", "No import cycles"),
    ],
)
def test_a_contract_broken_on_purpose_fails(tmp_path: Path, module: str, line: str, contract: str) -> None:
    root = copy_tree(tmp_path)
    path = root / "src" / "orchtui" / module
    path.write_text(path.read_text() + f"\n{line}  # broken on purpose\n")
    proc = lint(root)
    assert proc.returncode == 1, proc.stdout
    assert contract in proc.stdout.split("Broken contracts")[1], proc.stdout


def test_one_way_to_record_an_event() -> None:
    """Events are written only through services.events.emit (which hands warnings and
    worse to the operator's hook): nothing else calls the store's add_event."""
    src = ROOT / "src" / "orchtui"
    callers = [
        str(path.relative_to(src))
        for path in src.rglob("*.py")
        if ".add_event(" in path.read_text() and path != src / "services" / "events.py"
    ]
    assert callers == []
