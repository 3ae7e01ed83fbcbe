"""Where each kind of code lives: the layers (no import runs back up), the store's SQL behind its methods, the page
model apart from rendering."""

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
        if name in ("altair", "generator.drawing", "sqlglot"):
            role = "build" if os.environ["BUILD_PID"] == str(os.getpid()) else "worker"
            with open(os.environ["IMPORT_LOG"], "a", encoding="utf-8") as log:
                log.write(f"{role} {os.getpid()} {name}\\n")
        return None

sys.meta_path.insert(0, _Watch())
"""


def test_page_workers_never_import_altair_and_a_build_with_the_kept_shapes_imports_it_nowhere(
    tmp_path: Path,
) -> None:
    """The build writes the chart shapes in Altair and compiles them once; its page workers only fill them.
    The next build finds the compiled shapes kept (generator.shapecache) and imports Altair nowhere, and its
    pages are the same bytes.

    Altair's import costs about a second per process: a worker that imported it would pay that. Likewise
    the SQL translated for DuckDB (generator.sql): the first build from local files translates it with
    sqlglot, the next finds it kept and imports no sqlglot.
    """

    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(WATCH_IMPORTS, encoding="utf-8")
    packages = ["acme", "widget", "gizmo"]
    events = [event(day=f"2026-10-{d:02d}", project=p) for p in packages for d in range(1, 31)]
    cfg = write_config(tmp_path / "stats.toml", write_events(tmp_path / "events", events), packages, "2026-10-30")
    # An empty cache of compiled shapes: the first build compiles them.
    cache = {"PYPI_STATS_CACHE_DIR": str(tmp_path / "cache")}
    base_env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(hook), str(ROOT)]), **cache}

    def build(out: str) -> set[tuple[str, ...]]:
        log = tmp_path / f"imports-{out}.log"
        args = [sys.executable, "-m", "generator", "build", "--config", str(cfg), "--out", str(tmp_path / out)]
        env = {**base_env, "IMPORT_LOG": str(log)}
        run = subprocess.run([*args, "--jobs", "2"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
        assert run.returncode == 0, run.stderr
        return {tuple(line.split(" ", 2)) for line in log.read_text(encoding="utf-8").splitlines()}

    first, second = build("site"), build("again")
    workers = {pid for role, pid, name in first if role == "worker" and name == "generator.drawing"}
    assert len(workers) == 2, "two page workers drew charts"
    assert {(role, name) for role, _pid, name in first if name == "altair"} == {("build", "altair")}
    assert {(role, name) for role, _pid, name in second if name == "altair"} == set()
    assert {(role, name) for role, _pid, name in first if name == "sqlglot"} == {("build", "sqlglot")}
    assert {(role, name) for role, _pid, name in second if name == "sqlglot"} == set()
    page = Path("packages", "acme", "index.html")
    assert (tmp_path / "again" / page).read_bytes() == (tmp_path / "site" / page).read_bytes()


# -- layers: no module imports from a higher layer ----------------------------------------------------
# The layer order, bottom first. A module may import from its own layer or any layer below it, never from
# one above. Every import counts: at the top of a module, inside a function (imported late to save start-up
# time, but still needed at run time) and under TYPE_CHECKING (an annotation naming a type is a dependency
# of meaning, and such imports are where cycles hide).
LAYERS: tuple[tuple[str, frozenset[str]], ...] = (
    (
        "foundation: words, dates, errors, the breakdown and category registries, the config, the site's files",
        frozenset(
            {
                "generator",
                "generator.categories",
                "generator.config",
                "generator.dates",
                "generator.dimensions",
                "generator.errors",
                "generator.feeds",
                "generator.layout",
                "generator.leaderboard",
                "generator.othersites",
                "generator.permissions",
                "generator.population",
                "generator.queries",
                "generator.resources",
                "generator.sample",
                "generator.sitewriter",
                "generator.sources.retry",
                "generator.sql",
                "generator.sqlrewrite",
                "generator.svg",
                "generator.usercache",
                "generator.vocabulary",
            }
        ),
    ),
    ("the store", frozenset({"generator.store"})),
    (
        "planning and cost: jobs, their prices, the budget rule (pure)",
        frozenset({"generator.plan", "generator.cost", "generator.budget"}),
    ),
    (
        "sources: what runs the jobs (BigQuery, local files, ClickPy, PyPI) and the leaderboard's queries",
        frozenset(
            {
                "generator.sources",
                "generator.sources.bigquery",
                "generator.sources.clickpy",
                "generator.sources.local",
                "generator.sources.pypi_releases",
                "generator.leaderboard_fetch",
                "generator.leaderboard_rank",
            }
        ),
    ),
    (
        "analysis: the figures of a report, from the store's rows (pure)",
        frozenset(
            {
                "generator.analysis",
                "generator.api",
                "generator.headline",
                "generator.leaderboard_view",
                "generator.pagerows",
            }
        ),
    ),
    (
        "pages: the page model, charts, rendering and writing the site",
        frozenset(
            {
                "generator.badges",
                "generator.chartproc",
                "generator.charts",
                "generator.drawing",
                "generator.figures",
                "generator.incremental",
                "generator.index_view",
                "generator.outdir",
                "generator.pages",
                "generator.parallel",
                "generator.publishing",
                "generator.questions",
                "generator.render",
                "generator.shapecache",
                "generator.site",
                "generator.tables",
            }
        ),
    ),
    # Above the pages only because it writes the store's data export after each job (publishing).
    ("fetching: asking the sources and keeping their rows in the store", frozenset({"generator.fetch"})),
    (
        "the build and the command line",
        frozenset(
            {
                "generator.__main__",
                "generator.build",
                "generator.cli",
                "generator.planview",
                "generator.scaffold",
                "generator.serve",
            }
        ),
    ),
)


def module_name(path: Path, root: Path = ROOT) -> str:
    """generator/sources/bigquery.py → generator.sources.bigquery; a package's __init__ is the package."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def layer_of(module: str) -> int | None:
    return next((i for i, (_, members) in enumerate(LAYERS) if module in members), None)


def generator_imports(path: Path, known: set[str]) -> list[tuple[int, str]]:
    """(line, module) for every import of a generator module in `path`, wherever it stands in the file.

    `from generator import cost` imports generator.cost; `from generator.plan import Job` imports
    generator.plan (the longest known module the name leads to)."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module is not None and node.level == 0:
            targets = [f"{node.module}.{alias.name}" for alias in node.names]
        else:
            continue
        for target in targets:
            if target != "generator" and not target.startswith("generator."):
                continue
            parts = target.split(".")
            found = next((".".join(parts[:n]) for n in range(len(parts), 0, -1) if ".".join(parts[:n]) in known), None)
            out.append((node.lineno, found or target))
    return out


def upward_imports(path: Path, module: str, known: set[str]) -> list[str]:
    """Each import in `path` of a module from a layer above `module`'s, as `line N: a imports b (layer)`."""
    mine = layer_of(module)
    assert mine is not None, f"add {module} to LAYERS in tests/test_layering.py"
    out = []
    for line, imported in generator_imports(path, known):
        theirs = layer_of(imported)
        if theirs is not None and theirs > mine:
            out.append(f"line {line}: {module} ({LAYERS[mine][0]}) imports {imported} ({LAYERS[theirs][0]})")
    return out


KNOWN = {module_name(p) for p in ALL_MODULES}


@pytest.mark.parametrize("path", ALL_MODULES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_module_has_a_layer(path: Path) -> None:
    assert layer_of(module_name(path)) is not None, (
        f"add {module_name(path)} to LAYERS in tests/test_layering.py: the lowest layer holding all it imports"
    )


@pytest.mark.parametrize("path", ALL_MODULES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_no_module_imports_from_a_higher_layer(path: Path) -> None:
    module = module_name(path)
    if layer_of(module) is None:
        pytest.skip(f"{module} has no layer yet (test_every_module_has_a_layer says so)")
    assert upward_imports(path, module, KNOWN) == []


def test_the_layer_table_names_each_module_once() -> None:
    names = [m for _, members in LAYERS for m in members]
    assert sorted(n for n in set(names) if names.count(n) > 1) == []


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("from generator import render\n", ["line 1: generator.cost (planning"]),
        ("from generator.sources.bigquery import BigQuerySource\n", ["line 1: generator.cost (planning"]),
        ("def f():\n    from generator.build import build\n", ["line 2: generator.cost (planning"]),
        ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import generator.analysis\n", ["line 3:"]),
        ("from generator import dates, plan, store\nfrom generator.config import Config\n", []),
    ],
    ids=["from-import", "submodule", "inside-a-function", "under-type-checking", "downward-only"],
)
def test_the_check_sees_an_import_from_a_higher_layer(tmp_path: Path, source: str, expected: list[str]) -> None:
    """A probe standing in for generator/cost.py (planning and cost), which may import the store, not above it."""
    probe = tmp_path / "generator" / "cost.py"
    probe.parent.mkdir()
    probe.write_text(source, encoding="utf-8")
    found = upward_imports(probe, module_name(probe, tmp_path), KNOWN)
    assert [f[: len(e)] for f, e in zip(found, expected, strict=True)] == expected


def test_the_check_asks_for_a_new_module_to_be_slotted_in(tmp_path: Path) -> None:
    probe = tmp_path / "generator" / "brand_new.py"
    probe.parent.mkdir()
    probe.write_text("from generator import dates\n", encoding="utf-8")
    with pytest.raises(AssertionError, match=r"add generator\.brand_new to LAYERS"):
        upward_imports(probe, module_name(probe, tmp_path), KNOWN)


# -- writing reads nothing back ------------------------------------------------------------------------
def test_writing_the_site_neither_opens_the_store_nor_sets_its_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """build.write_site receives a complete SiteData (packages, feed history, store export) and only writes."""
    from generator import build, config, dates
    from generator import store as store_module
    from generator.pages import SiteData

    events = [event(day=f"2026-10-{d:02d}", project=p) for p in ("acme", "widget") for d in range(1, 31)]
    cfg = config.load(
        write_config(
            tmp_path / "stats.toml", write_events(tmp_path / "events", events), ["acme", "widget"], "2026-10-30"
        )
    )
    seen: list[SiteData] = []
    write_site = build.write_site

    def no_store(*args: object, **kwargs: object) -> None:
        raise AssertionError("write_site opened the store")

    def watched(prepared: build.Prepared, *args: object, **kwargs: object) -> dict[str, int]:
        site = prepared.site
        settings = {"base_url": site.base_url, "change_threshold": site.change_threshold}
        seen.append(site)
        with monkeypatch.context() as inside:
            inside.setattr(store_module, "_connect", no_store)
            written = write_site(prepared, *args, **kwargs)
        assert {"base_url": site.base_url, "change_threshold": site.change_threshold} == settings
        return written

    monkeypatch.setattr(build, "write_site", watched)
    build.build(cfg, as_of=dates.parse_day("2026-10-30"), out_dir=tmp_path / "site", jobs=1)
    assert len(seen) == 1
    assert [p.report.project for p in seen[0].packages] == ["acme", "widget"]
    assert seen[0].honest_history != {}  # the feed's history, kept in the store before writing
    assert "manifest.json" in seen[0].store_export  # the store's data export, read before writing
