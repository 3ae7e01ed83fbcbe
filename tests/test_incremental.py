"""Incremental and parallel builds: correctness, not speed (bench/ measures speed).

- A rebuild that reuses unchanged pages gives the same site, byte for byte, as a full build from the
  same store, and its manifest lists exactly the units whose inputs changed.
- Unchanged files are not rewritten: same inode, same mtime.
- Rendering in a pool of workers gives the same files as rendering in one process.
- A site with many packages has a paginated, letter-grouped index that needs no JavaScript.
"""

from __future__ import annotations

import datetime as dt
import json
from concurrent.futures import Future
from pathlib import Path
from types import SimpleNamespace

import pyarrow as pa
import pytest
from conftest import event, write_config, write_events
from htmltools import parse

from generator import build, config, drawing, incremental, pagerows, parallel
from generator import site as site_pages
from generator.dates import WindowCoverage, last_days
from generator.errors import RenderError
from generator.pages import FigureValue, ListedPackage, PackageSummary, SiteData
from generator.sitewriter import SiteWriter

AS_OF = "2026-10-31"
PACKAGES = ["acme", "beta", "gamma"]


def month_events() -> list[dict]:
    events = []
    for d in range(1, 32):
        day = f"2026-10-{d:02d}"
        for project in PACKAGES:
            events += [event(day=day, project=project), event(day=day, project=project, installer="uv")]
            if d % 5 == 0:
                events.append(event(day=day, project=project, installer="bandersnatch", python=None))
    return events


def files(site: Path) -> dict[str, bytes]:
    return {p.relative_to(site).as_posix(): p.read_bytes() for p in sorted(site.rglob("*")) if p.is_file()}


def manifest(site: Path) -> dict:
    return json.loads((site / incremental.MANIFEST).read_text(encoding="utf-8"))


def statuses(site: Path) -> dict[str, str]:
    return {key: unit["status"] for key, unit in manifest(site)["units"].items()}


def rendered(site: Path) -> set[str]:
    return {key for key, status in statuses(site).items() if status == incremental.RENDERED}


@pytest.fixture
def project(tmp_path: Path) -> tuple[config.Config, Path]:
    events = write_events(tmp_path / "events", month_events())
    cfg = config.load(write_config(tmp_path / "stats.toml", events, PACKAGES, AS_OF, history_days=35))
    return cfg, events


def run(cfg: config.Config, out: Path, **kwargs) -> build.BuildResult:  # noqa: ANN003
    kwargs.setdefault("jobs", 1)
    return build.build(cfg, as_of=dt.date.fromisoformat(AS_OF), out_dir=out, **kwargs)


def test_incremental_rebuild_equals_a_full_build_and_lists_what_changed(
    project: tuple[config.Config, Path], tmp_path: Path
) -> None:
    cfg, events = project
    site = tmp_path / "site"
    run(cfg, site)
    first = manifest(site)
    assert first["counts"]["reused"] == 0
    assert {u["reason"] for u in first["units"].values()} == {"no previous build"}
    units = set(first["units"])
    assert {"index", "cost", "static", "page:404", *(f"package:{p}" for p in PACKAGES)} <= units

    # Nothing new: a same-day rebuild (the refetch of the latest days finds the same rows) renders nothing.
    page = site / "packages" / "beta" / "index.html"
    before = page.stat()
    run(cfg, site)
    assert rendered(site) == set(), statuses(site)
    assert {u["reason"] for u in manifest(site)["units"].values()} == {"inputs unchanged"}
    after = page.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns), "an unchanged file was rewritten"

    # Late rows for one package on the report date: its page and the index change, nothing else.
    write_events(events, [event(day=AS_OF, project="beta", installer="pip", time="23:59:00")] * 3, name="late.jsonl")
    gamma = (site / "packages" / "gamma" / "index.html").stat()
    run(cfg, site)
    assert rendered(site) == {"package:beta", "index"}, statuses(site)
    units_now = manifest(site)["units"]
    assert units_now["package:beta"]["reason"] == incremental.DATA_CHANGED["package"]
    assert units_now["package:gamma"]["reason"] == "inputs unchanged"
    assert (site / "packages" / "gamma" / "index.html").stat().st_ino == gamma.st_ino
    assert (site / "packages" / "beta" / "index.html").stat().st_ino != before.st_ino

    # The same store, built from scratch into an empty directory, gives the same site byte for byte.
    fresh = tmp_path / "fresh"
    run(cfg, fresh, fetch_data=False)
    incremental_files, full_files = files(site), files(fresh)
    assert set(incremental_files) == set(full_files)
    differ = [rel for rel in full_files if incremental_files[rel] != full_files[rel]]
    assert differ == [incremental.MANIFEST], differ  # which units were reused differs, nothing else
    assert rendered(fresh) == set(statuses(fresh))


def test_as_of_and_settings_changes_rerender_with_their_reason(
    project: tuple[config.Config, Path], tmp_path: Path
) -> None:
    cfg, _ = project
    site = tmp_path / "site"
    run(cfg, site)
    build.build(cfg, as_of=dt.date(2026, 10, 30), out_dir=site, jobs=1, fetch_data=False)
    reasons = {u["reason"] for u in manifest(site)["units"].values()}
    assert reasons == {f"the as-of date moved from {AS_OF} to 2026-10-30"}
    text = cfg.path.read_text(encoding="utf-8").replace('title = "Test"', 'title = "Renamed"')
    cfg.path.write_text(text, encoding="utf-8")
    build.build(config.load(cfg.path), as_of=dt.date(2026, 10, 30), out_dir=site, jobs=1, fetch_data=False)
    assert {u["reason"] for u in manifest(site)["units"].values()} == {"site settings changed"}
    assert "Renamed" in (site / "packages" / "acme" / "index.html").read_text(encoding="utf-8")


def test_full_build_writes_every_file_anew(project: tuple[config.Config, Path], tmp_path: Path) -> None:
    cfg, _ = project
    site = tmp_path / "site"
    run(cfg, site)
    before = (site / "style.css").stat().st_ino
    run(cfg, site, full=True)
    assert {u["reason"] for u in manifest(site)["units"].values()} == {"full build requested"}
    assert (site / "style.css").stat().st_ino != before


def test_a_damaged_previous_site_is_rendered_again(project: tuple[config.Config, Path], tmp_path: Path) -> None:
    cfg, _ = project
    site = tmp_path / "site"
    run(cfg, site)
    (site / "packages" / "acme" / "daily.csv").unlink()
    run(cfg, site)
    assert rendered(site) == {"package:acme"}
    assert manifest(site)["units"]["package:acme"]["reason"] == "files missing from the previous site"
    assert (site / "packages" / "acme" / "daily.csv").is_file()
    # The marker is still this tool's (its format line), but the rest cannot be read.
    damaged = {"format": incremental.FORMAT, "version": incremental.VERSION}
    (site / incremental.MANIFEST).write_text(json.dumps(damaged), encoding="utf-8")
    run(cfg, site)
    assert {u["reason"] for u in manifest(site)["units"].values()} == {"the previous build manifest is unreadable"}


@pytest.mark.parametrize(
    "jobs",
    [2, None],
    ids=["page workers", "pages in the build's process, charts in the chart process (generator.chartproc)"],
)
def test_parallel_rendering_gives_the_same_site_as_serial(
    project: tuple[config.Config, Path], tmp_path: Path, jobs: int | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg, _ = project
    monkeypatch.setattr(parallel, "default_jobs", lambda: 2)  # without --jobs, 3 pages: the chart process
    drawn: list[bytes] = []

    class Watched(parallel.ChartProcess):
        def submit(self, what: bytes, vega: dict) -> Future[bytes]:
            drawn.append(what)
            return super().submit(what, vega)

    monkeypatch.setattr(parallel, "ChartProcess", Watched)
    serial, other = tmp_path / "serial", tmp_path / "other"
    run(cfg, serial, jobs=1)
    assert drawn == []
    run(cfg, other, jobs=jobs, fetch_data=False)
    assert len(drawn) == (0 if jobs else 3 * 3)  # three charts a page
    assert files(serial) == files(other)
    # The chart process is closed with the build: this process draws its own charts again.
    assert drawing.render_svg({"width": 4, "height": 4, "marks": []}, title="t", description="d", chart_id="c").svg


@pytest.mark.parametrize("jobs", [1, 2, None])
def test_a_failing_page_worker_leaves_the_previous_site(
    project: tuple[config.Config, Path], tmp_path: Path, jobs: int | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg, _ = project
    monkeypatch.setattr(parallel, "default_jobs", lambda: 2)
    site = tmp_path / "site"
    run(cfg, site)
    before = files(site)

    def broken(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        for project, rows in real(*args, **kwargs):
            yield project, rows.drop_columns(["breakdown"])  # a worker cannot make a page of these

    real = pagerows.stream
    monkeypatch.setattr(pagerows, "stream", broken)
    with pytest.raises((KeyError, pa.ArrowInvalid)):
        build.build(cfg, as_of=dt.date(2026, 10, 30), out_dir=site, jobs=jobs, fetch_data=False)
    assert files(site) == before
    assert not (tmp_path / ".site.staging").exists()


def test_rewriting_a_linked_file_never_touches_the_live_site(tmp_path: Path) -> None:
    site = tmp_path / "site"
    writer = SiteWriter(site)
    writer.write("a.txt", "one")
    writer.publish()
    writer = SiteWriter(site)
    writer.reuse(["a.txt"])
    assert (writer.staging / "a.txt").stat().st_ino == (site / "a.txt").stat().st_ino
    writer.write("a.txt", "two")
    assert (site / "a.txt").read_text() == "one", "a write went through the hard link into the live site"
    writer.write("b.txt", "same")
    writer.publish()
    assert (site / "a.txt").read_text() == "two"
    writer = SiteWriter(site)
    writer.write("b.txt", "same")  # identical bytes: linked, not written
    writer.write("a.txt", "three")
    assert writer.linked == {"b.txt"}
    writer.discard()


@pytest.mark.parametrize("rel", ["../escape.txt", "a/../../escape.txt", "/etc/escape.txt", "", ".", "a/.."])
def test_a_path_that_leaves_the_site_is_refused_and_the_live_site_stays(tmp_path: Path, rel: str) -> None:
    site = tmp_path / "site"
    writer = SiteWriter(site)
    writer.write("kept.txt", "live")
    writer.publish()
    writer = SiteWriter(site)
    with pytest.raises(RenderError, match="refusing to write outside the site directory"):
        writer.write(rel, "x")
    writer.discard()
    writer = SiteWriter(site)
    with pytest.raises(RenderError, match="refusing to write outside the site directory"):
        writer.reuse([rel])
    writer.discard()
    assert not (tmp_path / "escape.txt").exists()
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(".")) == ["site"]
    assert (site / "kept.txt").read_text() == "live"


def test_a_path_is_written_where_it_says_dots_and_doubled_slashes_aside(tmp_path: Path) -> None:
    writer = SiteWriter(tmp_path / "site")
    writer.write("a//b/./c.txt", "one")
    writer.write("a/b/c.txt", "two")  # the same file: replaced, not written beside it
    writer.publish()
    assert (tmp_path / "site/a/b/c.txt").read_text() == "two"


@pytest.mark.parametrize(
    ("path", "unit"),
    [
        ("packages/acme/index.html", "package:acme"),
        ("packages/acme/daily.csv", "package:acme"),
        ("data/acme.json", "package:acme"),
        ("api/packages/acme/mirrors/true/overall", "package:acme"),
        ("badges/acme.svg", "package:acme"),
        ("badges/with-mirrors/acme.json", "package:acme"),
        ("index.html", "index"),
        ("packages-a.html", "index"),
        ("packages-0-9-2.html", "index"),
        ("search.json", "index"),
        ("cost.html", "cost"),
        ("cost-runs.csv", "cost"),
        ("methodology.html", "page:methodology"),
        ("404.html", "page:404"),
        ("style.css", "static"),
        ("feed.xml", "site"),
        ("data/store/aggregates.parquet", "site"),
        (incremental.MANIFEST, "site"),
    ],
)
def test_every_file_belongs_to_one_unit(path: str, unit: str) -> None:
    assert incremental.unit_of(path) == unit


# -- the index of a large site -------------------------------------------------------------------
MONTH = WindowCoverage(last_days(dt.date(2026, 10, 31), 30), 30)


def stub_site(names: list[str]) -> SiteData:
    pages = [
        ListedPackage(
            PackageSummary(name, 1000 - i, 5000, None, True, frozenset(), (FigureValue("honest", 1000 - i),), MONTH)
        )
        for i, name in enumerate(names)
    ]
    return SiteData("Many", "d", "", dt.date(2026, 10, 31), "local", False, pages)


def test_a_large_index_is_grouped_by_letter_and_paginated_without_scripts(tmp_path: Path) -> None:
    names = [f"p{i:03d}" for i in range(250)] + [f"{c}-pkg" for c in "abcz"] + ["0day", "9lives", "q"]
    site = stub_site(names)
    out = tmp_path / "site"
    writer = SiteWriter(out)
    site_pages.write_index(site_pages.environment(), site, writer)
    writer.publish()
    pages = {p.name: p.read_text(encoding="utf-8") for p in out.glob("*.html")}
    assert set(pages) == {
        "index.html",
        "packages-a.html",
        "packages-b.html",
        "packages-c.html",
        "packages-p.html",
        "packages-p-2.html",
        "packages-q.html",
        "packages-z.html",
        "packages-0-9.html",
    }
    listed: list[str] = []
    for name, html in pages.items():
        assert "<script" not in html, name
        parsed = parse(html)
        rows = [row[0] for row in parsed.tables["packages"][1:]]
        assert len(rows) <= site_pages.INDEX_PAGE_SIZE
        for link in parsed.links:
            target = link.split("#")[0]
            if target.startswith(("packages-", "index.html")):
                assert target in pages, f"{name}: broken link {link}"
        if name == "index.html":
            assert len(rows) == site_pages.INDEX_TOP
            assert rows[:2] == ["p000", "p001"]
        else:
            assert rows == sorted(rows), name
            listed += rows
    assert sorted(listed) == sorted(names), "every package on exactly one letter page"
    assert len(parse(pages["packages-p.html"]).tables["packages"]) - 1 == site_pages.INDEX_PAGE_SIZE
    search = json.loads((out / "search.json").read_text(encoding="utf-8"))
    assert [p["name"] for p in search["packages"]] == sorted(names)
    misplaced = [p for p in search["packages"] if not (out / p["url"]).as_posix().endswith(f"packages/{p['name']}")]
    assert misplaced == []


def test_a_small_index_is_one_page() -> None:
    site = stub_site(["b", "a", "c"])
    (page,) = site_pages.index_pages(site)
    assert page.path == "index.html"
    assert [p.report.project for p in page.pages] == ["b", "a", "c"]


def test_package_summary_survives_the_manifest() -> None:
    held = WindowCoverage(last_days(dt.date(2026, 10, 31), 30), 8)
    summary = PackageSummary("x", 3, 7, 0.1 / 3, False, frozenset({"ci"}), (FigureValue("honest", 3),), held)
    again = PackageSummary.from_json("x", json.loads(json.dumps(summary.to_json())))
    assert again == summary
    assert again.ratio == summary.ratio
    assert PackageSummary.of  # built from a report in the workers


def test_a_rebuild_of_the_same_day_by_the_same_code_is_expected_to_render_little(
    project: tuple[config.Config, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Such a build starts its chart process before fetching (build._early_charts); any other renders every page."""
    cfg, _ = project
    site = tmp_path / "site"
    day = dt.date.fromisoformat(AS_OF)
    assert not incremental.reuses_most(site, day), "no previous build"
    run(cfg, site)
    assert incremental.reuses_most(site, day)
    assert not incremental.reuses_most(site, day, full=True)
    assert not incremental.reuses_most(site, day - dt.timedelta(days=1)), "the as-of date moved"
    monkeypatch.setattr(incremental, "code_version", lambda: "other code")
    assert not incremental.reuses_most(site, day), "the code changed"


@pytest.mark.parametrize(
    ("packages", "same_day", "jobs", "cores", "started"),
    [
        (1000, True, None, 2, True),  # late rows: few pages, in the build's process
        (1000, False, None, 2, False),  # a new day: every page, in page workers
        (5, False, None, 2, True),  # a small site always renders in the build's process
        (5, False, 1, 2, False),  # --jobs 1 draws its own charts
        (5, False, None, 1, False),  # one core: no chart process
    ],
)
def test_the_chart_process_starts_early_where_the_build_will_render_its_few_pages_itself(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    packages: int,
    same_day: bool,
    jobs: int | None,
    cores: int,
    started: bool,
) -> None:
    made: list[object] = []
    monkeypatch.setattr(parallel, "ChartProcess", lambda: made.append("chart process") or made[-1])
    monkeypatch.setattr(parallel, "default_jobs", lambda: cores)
    monkeypatch.setattr(incremental, "reuses_most", lambda out_dir, as_of, full=False: same_day and not full)
    cfg = SimpleNamespace(packages=[f"p{i}" for i in range(packages)])
    charts = build._early_charts(cfg, tmp_path, dt.date.fromisoformat(AS_OF), jobs=jobs, full=False)
    assert (charts is not None) == started
    assert len(made) == int(started)
