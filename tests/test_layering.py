"""Where each kind of code lives: the store's SQL behind its methods, the page model apart from rendering."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MODULES = sorted(p for p in (ROOT / "generator").rglob("*.py") if p.name != "store.py")


def connection_uses(path: Path) -> list[int]:
    """Lines that read `<something named store>.con`: the store's DuckDB connection."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute) and node.attr == "con" and "store" in ast.unparse(node.value).lower()
    ]


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_only_the_store_runs_sql_on_the_store(path: Path) -> None:
    """pagerows, incremental, publishing and build call named Store methods, as sqlite-utils' callers do."""
    assert connection_uses(path) == [], "call a named method of generator.store.Store instead"


def test_the_check_sees_a_reach_into_the_connection(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text('n = store.con.execute("SELECT 1")\nm = self.con\n', encoding="utf-8")
    assert connection_uses(probe) == [1]


RENDER_STACK = ("jinja2", "markdown", "vl_convert", "altair", "generator.render", "generator.charts")


def test_the_incremental_build_reads_the_page_model_without_the_render_stack() -> None:
    """generator.pages holds the page data model; incremental imports it, not render (a fresh interpreter)."""
    code = (
        "import sys, generator.incremental, generator.pages\n"
        f"print(sorted(m for m in {RENDER_STACK!r} if m in sys.modules))"
    )
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "[]"
