"""Where each kind of code lives: the store's SQL behind its methods, the page model apart from rendering."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from conftest import event, write_config, write_events

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


RENDER_STACK = (
    "jinja2",
    "markdown",
    "vl_convert",
    "altair",
    "generator.render",
    "generator.figures",
    "generator.questions",
    "generator.charts",
)


def test_the_incremental_build_reads_the_page_model_without_the_render_stack() -> None:
    """generator.pages holds the page data model; incremental imports it, not render (a fresh interpreter)."""
    code = (
        "import sys, generator.incremental, generator.pages\n"
        f"print(sorted(m for m in {RENDER_STACK!r} if m in sys.modules))"
    )
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "[]"


# -- type checking (mypy runs in `make test`; settings in pyproject.toml) ----------------------------
IGNORE = re.compile(r"#\s*type:\s*ignore(\[[a-z0-9, -]+\])?")
ALL_MODULES = sorted((ROOT / "generator").rglob("*.py"))


def unexplained_ignores(path: Path) -> list[int]:
    """Lines whose `# type: ignore` names no error code, or has no comment saying why (after it, or
    on the line above)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    out = []
    for number, line in enumerate(lines, start=1):
        found = IGNORE.search(line)
        if found is None:
            continue
        why = line[found.end() :].strip(" #") or (number > 1 and lines[number - 2].strip().startswith("#"))
        if not (found.group(1) and why):
            out.append(number)
    return out


@pytest.mark.parametrize("path", ALL_MODULES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_type_ignore_names_its_error_and_says_why(path: Path) -> None:
    assert unexplained_ignores(path) == []


def test_the_check_sees_an_unexplained_ignore(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text(
        "a = f()  # type: ignore\n"
        "b = f()  # type: ignore[attr-defined]\n"
        "c = f()  # type: ignore[attr-defined]  # the stubs omit it\n"
        "# the stubs omit it\n"
        "d = f()  # type: ignore[attr-defined]\n",
        encoding="utf-8",
    )
    assert unexplained_ignores(probe) == [1, 2]


def test_the_package_ships_its_type_hints() -> None:
    """PEP 561: a py.typed marker in the package, declared as package data so the wheel carries it."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert (ROOT / "generator" / "py.typed").is_file()
    assert "py.typed" in pyproject["tool"]["setuptools"]["package-data"]["generator"]


# Every process of a build records, in $IMPORT_LOG, which of these it imports and whether it is a
# page worker (a process the build started) or the build itself.
WATCH_IMPORTS = """
import importlib.abc, os, sys

os.environ.setdefault("BUILD_PID", str(os.getpid()))  # the first process; those it starts inherit it


class _Watch(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name in ("altair", "generator.drawing"):
            role = "build" if os.environ["BUILD_PID"] == str(os.getpid()) else "worker"
            with open(os.environ["IMPORT_LOG"], "a", encoding="utf-8") as log:
                log.write(f"{role} {os.getpid()} {name}\\n")
        return None

sys.meta_path.insert(0, _Watch())
"""


def test_page_workers_never_import_altair(tmp_path: Path) -> None:
    """The build writes the chart shapes in Altair and compiles them once; its page workers only fill them.

    Altair's import costs about a second per process: a worker that imported it would pay that.
    """

    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(WATCH_IMPORTS, encoding="utf-8")
    log = tmp_path / "imports.log"
    packages = ["acme", "widget", "gizmo"]
    events = [event(day=f"2026-10-{d:02d}", project=p) for p in packages for d in range(1, 31)]
    cfg = write_config(tmp_path / "stats.toml", write_events(tmp_path / "events", events), packages, "2026-10-30")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(hook), str(ROOT)]), "IMPORT_LOG": str(log)}
    args = [sys.executable, "-m", "generator", "build", "--config", str(cfg), "--out", str(tmp_path / "site")]
    run = subprocess.run([*args, "--jobs", "2"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    imports = {tuple(line.split(" ", 2)) for line in log.read_text(encoding="utf-8").splitlines()}
    workers = {pid for role, pid, name in imports if role == "worker" and name == "generator.drawing"}
    assert len(workers) == 2, "two page workers drew charts"
    assert {(role, name) for role, _pid, name in imports if name == "altair"} == {("build", "altair")}
