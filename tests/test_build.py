"""End to end: sample → build → a site whose figures equal an independent count of the raw events."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections import Counter
from pathlib import Path
from urllib.parse import urldefrag, urlparse

import pytest
from conftest import DEMO_AS_OF, event, run_cli, write_config, write_events
from htmltools import number, parse

from generator import sample

MIRRORS = {"bandersnatch", "z3c.pypimirror", "Artifactory", "devpi"}
PACKAGE_MANAGERS = {"pip", "uv", "poetry", "pdm", "conda", "pex", "setuptools", "distribute"}
PYPISTATS_OK = re.compile(r"^[0-9]\.[0-9]+.{0,}$")


def independent_counts(events_dir: Path, as_of: str, days: int) -> dict[str, Counter]:
    """Count raw NDJSON events with plain Python: the oracle the site must agree with."""
    end = dt.date.fromisoformat(as_of)
    start = end - dt.timedelta(days=days - 1)
    counts: dict[str, Counter] = {}
    for path in sorted(events_dir.glob("*.jsonl")):
        with path.open(encoding="utf-8") as fh:
            for line in fh:
                e = json.loads(line)
                day = dt.date.fromisoformat(e["timestamp"][:10])
                if not start <= day <= end:
                    continue
                d = e["details"] or {}
                installer = (d.get("installer") or {}).get("name")
                python = d.get("python")
                ok = python is None or bool(PYPISTATS_OK.match(python))
                c = counts.setdefault(e["project"], Counter())
                c["raw"] += 1
                c["with_mirrors"] += ok
                c["without_mirrors"] += ok and installer is not None and installer not in MIRRORS
                c["pip"] += installer == "pip"
                c["honest"] += installer in PACKAGE_MANAGERS and not d.get("ci")
    return counts


def site_files(site: Path) -> dict[str, str]:
    return {
        str(p.relative_to(site)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(site.rglob("*"))
        if p.is_file()
    }


def test_pages_exist_for_every_package(demo_site: Path) -> None:
    assert (demo_site / "index.html").is_file()
    for name in ("methodology", "glossary", "faq", "about", "404"):
        assert (demo_site / f"{name}.html").is_file()
    for project in sample.DEMO_PACKAGES:
        assert (demo_site / "packages" / project / "index.html").is_file()
        assert (demo_site / "data" / f"{project}.json").is_file()


def test_every_internal_link_and_anchor_resolves(demo_site: Path) -> None:
    pages = {p: parse(p.read_text(encoding="utf-8")) for p in demo_site.rglob("*.html") if p.name != "404.html"}
    for page, parsed in pages.items():
        for link in parsed.links:
            url = urlparse(link)
            if url.scheme in ("http", "https", "mailto"):
                continue
            assert not link.startswith("/"), f"{page}: absolute link {link} breaks under a sub-path"
            target, fragment = urldefrag(link)
            path = (page.parent / target).resolve() if target else page
            if path.is_dir():
                path = path / "index.html"
            assert path.is_file(), f"{page.relative_to(demo_site)}: broken link {link}"
            if fragment and path.suffix == ".html":
                ids = pages[path].ids if path in pages else parse(path.read_text(encoding="utf-8")).ids
                assert fragment in ids, f"{page.relative_to(demo_site)}: missing anchor {link}"


def test_every_page_says_the_data_is_synthetic(demo_site: Path) -> None:
    for page in demo_site.rglob("*.html"):
        assert "Synthetic demo data" in page.read_text(encoding="utf-8"), page


def source_figures(site: Path, project: str) -> dict[str, int]:
    table = parse((site / "packages" / project / "index.html").read_text(encoding="utf-8")).tables["sources"]
    return {row[0] + " | " + row[1].split(" (")[0]: number(row[2]) for row in table[1:]}


def test_figures_on_the_page_equal_an_independent_count(demo_site: Path, demo_events: Path) -> None:
    month = independent_counts(demo_events, DEMO_AS_OF, 30)
    week = independent_counts(demo_events, DEMO_AS_OF, 7)
    everything = independent_counts(demo_events, DEMO_AS_OF, 210)
    for project in sample.DEMO_PACKAGES:
        figs = source_figures(demo_site, project)
        assert figs["Honest number (this site) | last 30 days"] == month[project]["honest"]
        assert figs["BigQuery COUNT(*) | last 30 days"] == month[project]["raw"]
        assert figs["pypistats.org with mirrors | last 30 days"] == month[project]["with_mirrors"]
        assert figs["pypistats.org without mirrors | last 30 days"] == month[project]["without_mirrors"]
        assert figs["pypistats.org recent: last_week | 7 days"] == week[project]["without_mirrors"]
        assert figs["pypinfo default (pip only) | last 30 days"] == month[project]["pip"]
        assert figs["BigQuery COUNT(*) | all 210 days in the store"] == everything[project]["raw"]
        # The mirror rules matter on this data: otherwise the test would prove little.
        assert month[project]["with_mirrors"] > month[project]["without_mirrors"] > month[project]["honest"]


def test_the_headline_and_index_show_the_honest_number(demo_site: Path, demo_events: Path) -> None:
    month = independent_counts(demo_events, DEMO_AS_OF, 30)
    index = parse((demo_site / "index.html").read_text(encoding="utf-8")).tables["packages"]
    shown = {row[0]: (number(row[1]), number(row[2])) for row in index[1:]}
    for project in sample.DEMO_PACKAGES:
        assert shown[project] == (month[project]["honest"], month[project]["raw"])
    honest_order = [row[0] for row in index[1:]]
    assert honest_order == sorted(honest_order, key=lambda p: -month[p]["honest"])


@pytest.fixture
def built(tmp_path: Path) -> tuple[Path, Path]:
    """A small site built once, to check that failing builds leave it untouched."""
    days = [f"2026-10-{d}" for d in range(27, 30)]
    events = write_events(
        tmp_path / "events",
        [event(day=d, installer="requests") for d in days]
        + [event(day="2026-10-30"), event(day="2026-10-31", installer="uv")],
    )
    cfg = write_config(tmp_path / "stats.toml", events, ["acme"], "2026-10-31", history_days=5)
    proc = run_cli("build", "--config", str(cfg), "--out", str(tmp_path / "site"))
    assert proc.returncode == 0, proc.stderr
    return cfg, tmp_path / "site"


def assert_clean_failure(proc, site: Path, before: dict[str, str], expect: str) -> None:  # noqa: ANN001
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), proc.stderr
    assert re.search(expect, " ".join(proc.stderr.split())), proc.stderr
    assert site_files(site) == before


@pytest.mark.parametrize(
    ("mutate", "expect"),
    [
        (lambda t: t.replace('["acme"]', '["../acme"]'), r"invalid package name '\.\./acme'"),
        (lambda t: t + "\n[budget]\nmax_dollars = 1\n", r"unknown key \[budget\]\.max_dollars"),
        (lambda t: t.replace('kind = "local"', 'kind = "ftp"'), r"\[source\]\.kind must be one of"),
    ],
)
def test_bad_config_is_one_line_and_leaves_the_site(built: tuple[Path, Path], mutate, expect: str) -> None:  # noqa: ANN001
    cfg, site = built
    before = site_files(site)
    cfg.write_text(mutate(cfg.read_text(encoding="utf-8")), encoding="utf-8")
    assert_clean_failure(run_cli("build", "--config", str(cfg), "--out", str(site)), site, before, expect)


def test_malformed_events_are_named_and_leave_the_site(built: tuple[Path, Path]) -> None:
    cfg, site = built
    before = site_files(site)
    (cfg.parent / "events" / "late.jsonl").write_text('{"timestamp": "2026-10-31 01:00:00 UTC", "project"\n')
    proc = run_cli("build", "--config", str(cfg), "--out", str(site))
    assert_clean_failure(proc, site, before, r"late\.jsonl: malformed event file at line 1")


def test_an_empty_data_directory_is_an_error(built: tuple[Path, Path]) -> None:
    cfg, site = built
    before = site_files(site)
    for p in (cfg.parent / "events").iterdir():
        p.unlink()
    proc = run_cli("build", "--config", str(cfg), "--out", str(site))
    assert_clean_failure(proc, site, before, r"no \*\.parquet, \*\.jsonl or \*\.ndjson event files")


@pytest.mark.parametrize("as_of", ["2026-13-01", "yesterday", "2026-1-5"])
def test_a_bad_as_of_is_an_error(built: tuple[Path, Path], as_of: str) -> None:
    cfg, site = built
    before = site_files(site)
    proc = run_cli("build", "--config", str(cfg), "--out", str(site), "--as-of", as_of)
    assert_clean_failure(proc, site, before, r"--as-of: .* is not a date in the form YYYY-MM-DD")


def test_a_missing_config_is_an_error(tmp_path: Path) -> None:
    proc = run_cli("build", "--config", str(tmp_path / "nope.toml"))
    assert proc.returncode != 0 and "config file not found" in proc.stderr and "Traceback" not in proc.stderr


def test_rebuilding_fetches_only_the_new_day(built: tuple[Path, Path]) -> None:
    cfg, site = built
    events = cfg.parent / "events"
    write_events(events, [event(day="2026-11-01", installer="poetry")], name="nov.jsonl")
    text = cfg.read_text(encoding="utf-8").replace('as_of = "2026-10-31"', 'as_of = "2026-11-01"')
    cfg.write_text(text.replace("history_days = 5", "history_days = 5\nrefetch_days = 0"), encoding="utf-8")
    from generator import build, config

    loaded = config.load(cfg)
    from generator.store import open_store

    with open_store(loaded.store.path) as store:
        plan = build.plan_for(loaded, store, "local", dt.date(2026, 11, 1))
    assert [(j.window.start, j.window.end) for j in plan.jobs] == [(dt.date(2026, 11, 1), dt.date(2026, 11, 1))]
    proc = run_cli("build", "--config", str(cfg), "--out", str(site))
    assert proc.returncode == 0, proc.stderr
    figs = source_figures(site, "acme")
    assert figs["Honest number (this site) | last 30 days"] == 3
