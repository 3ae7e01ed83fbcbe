"""Publishing: the workflows and netlify.toml work as shipped, the CSV files match their tables, the
feed reports notable changes between builds, and the store survives through the site's data export.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tomllib
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import duckdb
import pytest
import yaml
from conftest import ROOT, event, run_cli, write_events
from htmltools import number, parse

from generator import cli, feeds, population, publishing, sample, tables
from generator import store as store_module
from generator.serve import serve_in_thread
from generator.store import open_store

WORKFLOWS = ROOT / ".github" / "workflows"
README = (ROOT / "README.md").read_text(encoding="utf-8")
BUILD_COMMAND = "python -m generator build --config stats.toml"
DEMO_COMMAND = "python -m generator demo --no-serve"
PINNED = re.compile(r"^\s*(?:-\s*)?uses:\s*([\w.-]+/[\w./-]+)@([0-9a-f]{40})\s+#\s*v\d+(\.\d+)*\s*$")


def load_workflow(name: str) -> dict[str, Any]:
    doc = yaml.safe_load((WORKFLOWS / name).read_text(encoding="utf-8"))
    if True in doc:  # YAML 1.1 reads the key `on` as a boolean
        doc["on"] = doc.pop(True)
    return doc


def steps(doc: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for job in doc["jobs"].values():
        yield from job.get("steps", [])


def run_scripts(doc: dict[str, Any]) -> list[str]:
    return [s["run"] for s in steps(doc) if "run" in s]


def generator_commands(text: str) -> set[str]:
    return set(re.findall(r"python -m generator ([a-z-]+)", text))


def normalise(script: str) -> str:
    """The workflow passes the config through $STATS_CONFIG, whose default is stats.toml."""
    return script.replace('"$STATS_CONFIG"', "stats.toml")


# -- GitHub Actions ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def publish() -> dict[str, Any]:
    return load_workflow("publish.yml")


@pytest.fixture(scope="module")
def ci() -> dict[str, Any]:
    return load_workflow("ci.yml")


def test_readme_names_the_commands_the_workflows_run(publish: dict[str, Any], ci: dict[str, Any]) -> None:
    assert "make test" in README
    assert BUILD_COMMAND in README
    assert DEMO_COMMAND.split(" --")[0] in README
    assert any(re.search(r"(^|\s)make (install-test )?test(\s|$)", s) for s in run_scripts(ci))
    assert any("make" in s and "lint" in s for s in run_scripts(ci))
    publish_runs = [normalise(s) for s in run_scripts(publish)]
    assert any(BUILD_COMMAND in s for s in publish_runs)
    assert any(DEMO_COMMAND in s for s in publish_runs)
    assert any("python -m generator plan --config stats.toml" in s for s in publish_runs)
    assert any("python -m generator restore-store --config stats.toml" in s for s in publish_runs)


def test_workflows_reference_commands_that_exist(publish: dict[str, Any], ci: dict[str, Any]) -> None:
    choices = set(cli._parser()._subparsers._group_actions[0].choices)  # type: ignore[union-attr]
    netlify = tomllib.loads((ROOT / "netlify.toml").read_text(encoding="utf-8"))
    texts = run_scripts(publish) + run_scripts(ci) + [netlify["build"]["command"]]
    used = set().union(*(generator_commands(t) for t in texts))
    assert {"build", "plan", "demo", "restore-store"} <= used <= choices
    targets = set(re.findall(r"^([a-z-]+):", (ROOT / "Makefile").read_text(encoding="utf-8"), re.MULTILINE))
    for text in run_scripts(ci):
        for words in re.findall(r"make ([a-z -]+)", text):
            assert set(words.split()) <= targets, words
    for text in texts:
        subprocess.run(["bash", "-n", "-c", text], check=True)  # every shell script parses


def test_actions_are_pinned_to_commits() -> None:
    for path in WORKFLOWS.glob("*.yml"):
        for line in path.read_text(encoding="utf-8").splitlines():
            if re.match(r"^\s*(-\s*)?uses:", line):
                assert PINNED.match(line), f"{path.name}: not pinned to a commit with its version: {line.strip()}"


def test_publish_triggers_schedule_and_concurrency(publish: dict[str, Any]) -> None:
    on = publish["on"]
    assert set(on) == {"schedule", "workflow_dispatch", "push"}
    assert on["push"]["branches"] == ["main"]
    (cron,) = [entry["cron"] for entry in on["schedule"]]
    minute, hour, *rest = cron.split()
    assert rest == ["*", "*", "*"], "daily"
    assert minute.isdigit(), "an odd minute: runs at :00 are delayed or dropped"
    assert int(minute) % 5 != 0, "an odd minute: runs at :00 are delayed or dropped"
    assert 3 <= int(hour) <= 12, "after yesterday's logs settled, well before the day ends"
    assert publish["concurrency"]["group"]
    assert publish["concurrency"]["cancel-in-progress"] is False


def test_publish_permissions_are_minimal(publish: dict[str, Any]) -> None:
    assert publish["permissions"] == {"contents": "read"}
    jobs = publish["jobs"]
    assert jobs["deploy"]["permissions"] == {"pages": "write", "id-token": "write"}
    assert jobs["deploy"]["environment"]["name"] == "github-pages"
    assert jobs["deploy"]["needs"] == "build"
    for name, job in jobs.items():
        perms = job.get("permissions")
        assert perms is not None, f"{name}: states its permissions"
        writes = {k for k, v in perms.items() if v == "write"}
        if name == "deploy":
            continue
        assert writes <= {"id-token"}, f"{name} may write {writes}"
    assert jobs["build"]["permissions"] == {"contents": "read", "id-token": "write", "pages": "read"}


def test_publish_uses_the_official_actions_in_order(publish: dict[str, Any]) -> None:
    build = [s.get("uses", "").split("@")[0] for s in publish["jobs"]["build"]["steps"]]
    order = [
        "actions/checkout",
        "actions/configure-pages",
        "google-github-actions/auth",
        "actions/cache/restore",
        "actions/cache/save",
        "actions/upload-pages-artifact",
    ]
    assert [u for u in build if u in order] == [
        "actions/checkout",
        "actions/configure-pages",
        "google-github-actions/auth",
        "google-github-actions/auth",
        "actions/cache/restore",
        "actions/cache/save",
        "actions/upload-pages-artifact",
    ]
    assert [s["uses"].split("@")[0] for s in publish["jobs"]["deploy"]["steps"]] == ["actions/deploy-pages"]
    upload = next(s for s in steps(publish) if "upload-pages-artifact" in s.get("uses", ""))
    assert upload["with"]["path"].rstrip("/") == "site"
    assert upload["with"]["include-hidden-files"] is True  # v4+ drops dot-files otherwise
    auth = [s for s in steps(publish) if "google-github-actions/auth" in s.get("uses", "")]
    assert {"workload_identity_provider", "service_account"} <= set(auth[0]["with"])
    assert "credentials_json" in auth[1]["with"]
    restore = next(s for s in steps(publish) if "cache/restore" in s.get("uses", ""))
    save = next(s for s in steps(publish) if "cache/save" in s.get("uses", ""))
    assert restore["with"]["key"] == save["with"]["key"]
    assert "run_id" in save["with"]["key"]
    assert save["with"]["key"].startswith(restore["with"]["restore-keys"])  # the newest cache always restores
    assert restore["with"]["path"] == save["with"]["path"]


def test_the_built_site_has_no_hidden_files(demo_site: Path) -> None:
    assert not [p for p in demo_site.rglob(".*")]


# -- running the workflow's own scripts -------------------------------------------------------------
def step_by_id(doc: dict[str, Any], step_id: str) -> dict[str, Any]:
    return next(s for s in steps(doc) if s.get("id") == step_id)


def run_step(step: dict[str, Any], cwd: Path, env: dict[str, str], returncode: int = 0) -> tuple[dict[str, str], str]:
    """Run a step's script the way GitHub does (bash -eo pipefail); return its outputs and summary."""
    out, summary = cwd / "github_output", cwd / "github_summary"
    out.write_text("")
    summary.write_text("")
    full = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "PYTHONPATH": str(ROOT),
        "GITHUB_OUTPUT": str(out),
        "GITHUB_STEP_SUMMARY": str(summary),
        **env,
    }
    script = cwd / "step.sh"
    script.write_text(step["run"])
    proc = subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
        cwd=cwd,
        env=full,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == returncode, proc.stdout + proc.stderr
    outputs = dict(line.split("=", 1) for line in out.read_text().splitlines() if "=" in line)
    return outputs, summary.read_text() + proc.stdout


MODE_ENV = {"STATS_CONFIG": "stats.toml", "WIF_PROVIDER": "", "WIF_SERVICE_ACCOUNT": "", "HAS_KEY": "false"}


@pytest.mark.parametrize(
    ("config", "env", "mode"),
    [
        (None, {}, "demo"),
        ('[source]\nkind = "bigquery"\n', {"WIF_PROVIDER": "projects/1/x", "WIF_SERVICE_ACCOUNT": "sa@p.iam"}, "wif"),
        ('[source]\nkind = "bigquery"\n', {"HAS_KEY": "true"}, "key"),
        ('[source]\nkind = "local"\npath = "events"\n', {}, "config"),
    ],
)
def test_the_workflow_builds_the_demo_without_credentials(
    publish: dict[str, Any], tmp_path: Path, config: str | None, env: dict[str, str], mode: str
) -> None:
    if config is not None:
        (tmp_path / "stats.toml").write_text(f'[packages]\nnames = ["acme"]\n{config}', encoding="utf-8")
    outputs, summary = run_step(
        step_by_id(publish, "mode"), tmp_path, {**MODE_ENV, "SITE_URL": "https://u.github.io/r", **env}
    )
    assert outputs["mode"] == mode
    assert outputs["site-url"] == "https://u.github.io/r/"
    if mode == "demo":
        assert "synthetic demo" in summary
        assert "::notice" in summary
        assert ("no stats.toml" in summary) == (config is None)
    else:
        assert outputs["store"] == str(tmp_path / "data" / "store.duckdb")


def test_lost_credentials_fail_the_run_instead_of_deploying_the_demo(publish: dict[str, Any], tmp_path: Path) -> None:
    """A repository set up for BigQuery whose credentials are gone: no build, no deploy, the live site stays."""
    (tmp_path / "stats.toml").write_text('[packages]\nnames = ["acme"]\n[source]\nkind = "bigquery"\n')
    outputs, summary = run_step(
        step_by_id(publish, "mode"), tmp_path, {**MODE_ENV, "SITE_URL": "https://u.github.io/r"}, returncode=1
    )
    assert "mode" not in outputs  # every later step (build, demo, upload, deploy) is skipped
    assert "::error title=No Google Cloud credentials::" in summary
    assert "Nothing was built or deployed; the live site is unchanged." in summary
    assert "synthetic demo" not in summary


@pytest.mark.parametrize(
    ("config", "key", "runs", "returncode"),
    [
        (None, "", "generator demo --no-serve", 0),
        ('[source]\nkind = "bigquery"\n', "", None, 1),
        ('[source]\nkind = "bigquery"\n', "{}", "generator build --config stats.toml", 0),
        ('[source]\nkind = "local"\npath = "events"\n', "", "generator build --config stats.toml", 0),
    ],
)
def test_netlify_builds_the_demo_only_where_nothing_was_set_up(
    netlify: dict[str, Any], tmp_path: Path, config: str | None, key: str, runs: str | None, returncode: int
) -> None:
    """netlify.toml's build command in a real shell; `python` logs what it is asked and runs the config's loader."""
    if config is not None:
        (tmp_path / "stats.toml").write_text(f'[packages]\nnames = ["acme"]\n{config}', encoding="utf-8")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "python.log"
    (bin_dir / "python").write_text(
        f'#!/bin/sh\necho "$*" >> {log}\nif [ "$1" = -c ]; then exec {sys.executable} "$@"; fi\n', encoding="utf-8"
    )
    (bin_dir / "python").chmod(0o755)
    proc = subprocess.run(
        ["bash", "--noprofile", "--norc", "-c", netlify["build"]["command"]],
        cwd=tmp_path,
        env={
            "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
            "PYTHONPATH": str(ROOT),
            "GCP_SERVICE_ACCOUNT_KEY": key,
            "TMPDIR": str(tmp_path),
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == returncode, proc.stdout + proc.stderr
    calls = log.read_text(encoding="utf-8")
    if runs is None:
        assert "generator demo" not in calls
        assert "generator build" not in calls
        assert "GCP_SERVICE_ACCOUNT_KEY is not set: failing the build, so Netlify keeps the live site" in proc.stdout
    else:
        assert runs in calls
        assert ("generator demo" in calls) == (config is None)


@pytest.fixture(scope="module")
def live_site_with_real_export(demo_site: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A published site whose data export is not marked synthetic (the demo's store, relabelled)."""
    work = tmp_path_factory.mktemp("live")
    shutil.copy(demo_site.parent / "store.duckdb", work / "store.duckdb")
    with open_store(work / "store.duckdb") as store:
        store.set_meta("synthetic", False)
        publishing.export_store_to(store, work / "site" / "data" / "store")
    (work / "site" / "index.html").write_text("<!doctype html><title>live</title>")
    return work


def test_the_workflow_restores_the_store_from_the_live_site(
    publish: dict[str, Any], live_site_with_real_export: Path, demo_site: Path, tmp_path: Path
) -> None:
    (tmp_path / "stats.toml").write_text('[packages]\nnames = ["acme-http"]\n[source]\nkind = "bigquery"\n')
    step = step_by_id(publish, "export")
    for site, restored in ((demo_site, False), (live_site_with_real_export / "site", True)):
        server, base = serve_in_thread(site, prefix="/repo/")
        try:
            outputs, summary = run_step(step, tmp_path, {"STATS_CONFIG": "stats.toml", "SITE_URL": base})
        finally:
            server.shutdown()
            server.server_close()
        # The demo's export (a site built before credentials existed) is never restored into a real store.
        assert (outputs.get("restored") == "true") is restored, summary
    assert "restored it from the live site" in summary
    original = store_fingerprint(live_site_with_real_export / "store.duckdb")
    assert store_fingerprint(tmp_path / "data" / "store.duckdb") == original
    warn = next(s for s in steps(publish) if s.get("name", "").startswith("Warn that the store starts empty"))
    assert "steps.export.outputs.restored != 'true'" in warn["if"]
    assert "::warning" in warn["run"]
    assert "GITHUB_STEP_SUMMARY" in warn["run"]


# -- Netlify ----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def netlify() -> dict[str, Any]:
    return tomllib.loads((ROOT / "netlify.toml").read_text(encoding="utf-8"))


def headers_for(netlify: dict[str, Any], path: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for rule in netlify["headers"]:
        pattern = "^" + re.escape(rule["for"]).replace(r"\*", ".*") + "$"
        if re.match(pattern, path):
            out.update(rule["values"])
    return out


def test_netlify_builds_like_the_readme(netlify: dict[str, Any]) -> None:
    build = netlify["build"]
    assert build["publish"] == "site"
    assert BUILD_COMMAND in build["command"]
    assert DEMO_COMMAND in build["command"]
    assert "restore-store --config stats.toml" in build["command"]
    assert "GCP_SERVICE_ACCOUNT_KEY" in build["command"]
    assert "GCP_SERVICE_ACCOUNT_KEY" in README
    major, minor = (int(x) for x in build["environment"]["PYTHON_VERSION"].split("."))
    assert (major, minor) >= (3, 11)  # requires-python; 3.13 is on Netlify's current (Noble) image


def test_netlify_headers(netlify: dict[str, Any]) -> None:
    page = headers_for(netlify, "/packages/acme/index.html")
    csp = dict(part.strip().split(" ", 1) for part in page["Content-Security-Policy"].split(";"))
    assert csp["default-src"] == "'none'"
    assert csp["style-src"] == "'self'"
    assert csp["img-src"] == "'self'"
    assert "script-src" not in csp
    assert "unsafe" not in page["Content-Security-Policy"]
    assert csp["frame-ancestors"] == "'none'"
    assert csp["base-uri"] == "'none'"
    assert page["X-Content-Type-Options"] == "nosniff"
    api = headers_for(netlify, "/api/packages/acme/recent")
    assert api["Content-Type"].startswith("application/json")
    assert "max-age" in api["Cache-Control"]
    assert "max-age" in headers_for(netlify, "/badges/acme.json")["Cache-Control"]


def test_pages_need_nothing_the_csp_forbids(demo_site: Path) -> None:
    """No scripts, inline styles, frames or third-party resources: the strict CSP breaks nothing."""
    for page in demo_site.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        assert not re.search(r"<script|<style|\sstyle=|<iframe|<object|<embed|\son[a-z]+=", text, re.I), page
        loads = re.findall(
            r'<(?:img|link|script|source|video|audio)\b[^>]*\s(?:src|href)="((?:https?:)?//[^"]*)"', text
        )
        assert not loads, f"{page}: loads {loads}"  # <a href> to other sites is navigation, not loading
    for svg in demo_site.rglob("*.svg"):
        assert "<script" not in svg.read_text(encoding="utf-8")


def test_netlify_rewrites_query_strings_to_files_that_exist(netlify: dict[str, Any], demo_site: Path) -> None:
    values = {"mirrors": ("true", "false"), "period": ("day", "week", "month")}
    rules = [r for r in netlify["redirects"] if r.get("query")]
    assert {next(iter(r["query"])) for r in rules} == set(values)
    for rule in rules:
        assert rule["status"] == 200
        assert rule["force"] is True  # the unfiltered file exists at `from`
        (param, placeholder), *_ = rule["query"].items()
        for project in sample.DEMO_PACKAGES:
            source = rule["from"].replace(":name", project)
            assert (demo_site / source.lstrip("/")).is_file()
            for value in values[param]:
                target = rule["to"].replace(":name", project).replace(placeholder, value)
                doc = json.loads((demo_site / target.lstrip("/")).read_text(encoding="utf-8"))
                if param == "mirrors":
                    wanted = "with_mirrors" if value == "true" else "without_mirrors"
                    assert {r["category"] for r in doc["data"]} == {wanted}
                else:
                    assert list(doc["data"]) == [f"last_{value}"]
    (fallback,) = [r for r in netlify["redirects"] if r["status"] == 404]
    assert fallback["from"] == "/*"
    assert fallback["to"] == "/404.html"
    assert not fallback.get("force")


# -- CSV files against the tables they sit under ------------------------------------------------------
class _Order(HTMLParser):
    """Tables and CSV links in document order: each CSV link belongs to the table just before it."""

    def __init__(self) -> None:
        super().__init__()
        self.pairs: dict[str, str] = {}
        self.tables: list[str] = []
        self._last: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "table":
            self._last = a.get("id") or f"table-{len(self.tables)}"
            self.tables.append(self._last)
        elif tag == "a" and (a.get("href") or "").endswith(".csv") and self._last:
            self.pairs[self._last] = a["href"] or ""
            self._last = None


def cell_matches(html: str, value: str) -> bool:
    """An HTML cell shows a CSV value: the same text, or the same number as the page formats it."""
    if value[:1] == "'" and value[1:2] in ("=", "+", "-", "@"):
        value = value[1:]  # the CSV's spreadsheet-formula guard
    if html == value or (value == "" and html in ("–", "")):
        return True
    try:
        if number(html) == int(value):
            return True
    except ValueError:
        pass
    try:
        return tables.fmt_pct(float(value)) == html
    except ValueError:
        return False


def test_every_table_has_a_csv_that_matches_it(demo_site: Path) -> None:
    pages = sorted(demo_site.glob("packages/*/index.html"))
    assert len(pages) == len(sample.DEMO_PACKAGES)
    checked = 0
    for page in [*pages, demo_site / "cost.html"]:
        text = page.read_text(encoding="utf-8")
        order = _Order()
        order.feed(text)
        tables = parse(text).tables
        if page in pages:
            assert set(order.tables) == set(order.pairs), f"{page}: tables without a CSV link"
        for table_id, href in order.pairs.items():
            html_rows = tables[table_id]
            if html_rows[0][1:2] == ["Bar"]:  # a table drawn with CSS bars: the bar column is not data
                html_rows = [row[:1] + row[2:] for row in html_rows]
            csv_rows = list(csv.reader(io.StringIO((page.parent / href).read_text(encoding="utf-8"))))
            assert len(html_rows) == len(csv_rows), f"{page}: {href} has {len(csv_rows)} rows"
            width = 4 if table_id == "sources" else len(csv_rows[0])  # sources: the rules column is prose
            if table_id == "matrix":  # a header shows the source's window on its own line
                assert html_rows[0] == [c.replace(" · ", " ") for c in csv_rows[0]], f"{href}: header"
            elif table_id != "sources":
                assert html_rows[0] == csv_rows[0], f"{href}: header"
            for h_row, c_row in zip(html_rows[1:], csv_rows[1:], strict=True):
                for h, c in zip(h_row[:width], c_row[:width], strict=True):
                    if table_id == "sources" and h.startswith(c) and "missing from the store" in h:
                        continue  # the window cell notes missing days
                    assert cell_matches(h, c), f"{page.relative_to(demo_site)} {href}: {h!r} vs {c!r}"
            checked += 1
    assert checked >= len(pages) * 10


# -- the feed, the sitemap and Open Graph over two builds ---------------------------------------------
BASE_URL = "https://stats.example.test/repo/"


def config_text(events: Path, store: Path, threshold: float = 0.2) -> str:
    return (
        f'[site]\ntitle = "Feed test"\nbase_url = "{BASE_URL}"\nchange_threshold = {threshold}\n'
        '[packages]\nnames = ["acme", "steady"]\n'
        f'[source]\nkind = "local"\npath = "{events}"\nhistory_days = 40\n'
        f'[store]\npath = "{store}"\n'
    )


@pytest.fixture(scope="module")
def two_builds(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """acme: 10 installs a day, and 200 more on 2026-10-31 (+67% over 30 days); steady: 10 a day."""
    work = tmp_path_factory.mktemp("feed")
    events = []
    for i in range(61):
        day = (dt.date(2026, 9, 1) + dt.timedelta(days=i)).isoformat()
        for k in range(10):
            events.append(event(day, "acme", time=f"10:00:{k:02d}"))
            events.append(event(day, "steady", time=f"10:00:{k:02d}"))
    events += [event("2026-10-31", "acme", time=f"11:{k // 60:02d}:{k % 60:02d}") for k in range(200)]
    write_events(work / "events", events)
    cfg = work / "stats.toml"
    cfg.write_text(config_text(work / "events", work / "store.duckdb"), encoding="utf-8")
    for as_of in ("2026-10-30", "2026-10-31"):
        proc = run_cli("build", "--config", str(cfg), "--out", str(work / "site"), "--as-of", as_of)
        assert proc.returncode == 0, proc.stderr
    return work


def test_the_feed_reports_a_notable_change_since_the_previous_build(two_builds: Path) -> None:
    feed_path = two_builds / "site" / "feed.xml"
    atom = "{http://www.w3.org/2005/Atom}"
    root = ET.fromstring(feed_path.read_bytes())
    entries = root.findall(f"{atom}entry")
    assert [e.findtext(f"{atom}title") for e in entries] == ["acme: honest installs up 67% (300 → 500)"]
    (entry,) = entries
    assert entry.find(f"{atom}link").get("href") == f"{BASE_URL}packages/acme/"
    assert entry.findtext(f"{atom}updated") == "2026-10-31T00:00:00Z"
    assert root.findtext(f"{atom}id") == f"{BASE_URL}feed.xml"
    assert "20%" in root.findtext(f"{atom}subtitle")
    # Rebuilding the same day gives the same feed: the history is keyed by the as-of date.
    before = feed_path.read_bytes()
    proc = run_cli(
        "build",
        "--config",
        str(two_builds / "stats.toml"),
        "--out",
        str(two_builds / "site"),
        "--no-fetch",
        "--as-of",
        "2026-10-31",
    )
    assert proc.returncode == 0, proc.stderr
    assert feed_path.read_bytes() == before
    page = (two_builds / "site" / "packages" / "acme" / "index.html").read_text(encoding="utf-8")
    assert (
        '<link rel="alternate" type="application/atom+xml" title="Feed test: notable changes" href="../../feed.xml">'
        in page
    )


def test_changes_respect_the_threshold() -> None:
    history = {"2026-10-29": {"a": 100, "b": 100, "c": 0}, "2026-10-30": {"a": 121, "b": 80, "c": 5, "d": 9}}
    assert [(c.project, c.before, c.after) for c in feeds.changes(history, 0.2)] == [("a", 100, 121), ("c", 0, 5)]
    assert [c.project for c in feeds.changes(history, 0.1)] == ["a", "b", "c"]
    assert feeds.changes(history, 0.2)[1].title == "c: honest installs rose from 0 to 5"
    kept = feeds.remember({f"2025-01-{d:02d}": {} for d in range(1, 32)}, dt.date(2026, 1, 1), {"a": 1})
    assert "2026-01-01" in kept
    assert len(kept) == 32


def test_a_feed_from_a_source_without_a_ci_flag_never_calls_its_number_honest() -> None:
    history = {"2026-10-29": {"a": 100}, "2026-10-30": {"a": 150}}
    entries = feeds.changes(history, 0.2)
    honest = feeds.atom("T", "", dt.date(2026, 10, 30), entries, 0.2)
    with_ci = feeds.atom("T", "", dt.date(2026, 10, 30), entries, 0.2, population=population.CI_INCLUDED)
    assert "a: honest installs up 50% (100 → 150)" in honest
    assert "a: installs (CI included) up 50% (100 → 150)" in with_ci
    assert "honest" not in with_ci.lower()
    assert "no CI flag" in with_ci


def test_sitemap_robots_and_open_graph(two_builds: Path) -> None:
    site = two_builds / "site"
    ns = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9"}
    root = ET.fromstring((site / "sitemap.xml").read_bytes())
    locs = {e.findtext("s:loc", namespaces=ns) for e in root.findall("s:url", ns)}
    assert {BASE_URL, f"{BASE_URL}packages/acme/", f"{BASE_URL}packages/steady/", f"{BASE_URL}methodology.html"} <= locs
    assert {e.findtext("s:lastmod", namespaces=ns) for e in root.findall("s:url", ns)} == {"2026-10-31"}
    assert (site / "robots.txt").read_text() == f"User-agent: *\nAllow: /\nSitemap: {BASE_URL}sitemap.xml\n"
    page = (site / "packages" / "acme" / "index.html").read_text(encoding="utf-8")
    meta = dict(re.findall(r'<meta (?:property|name)="([^"]+)" content="([^"]*)">', page))
    assert meta["og:url"] == f"{BASE_URL}packages/acme/"
    assert meta["og:title"] == "acme downloads"
    assert meta["og:description"] == meta["description"]
    assert "acme: 500 honest installs" in meta["description"]
    # The social preview: a 1200x630 PNG beside the page, named by its absolute address.
    assert meta["og:image"] == f"{BASE_URL}packages/acme/og.png"
    assert meta["twitter:card"] == "summary_large_image"
    png = (site / "packages" / "acme" / "og.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", png[16:24]) == (1200, 630)
    assert (meta["og:image:width"], meta["og:image:height"]) == ("1200", "630")
    not_found = (site / "404.html").read_text(encoding="utf-8")
    assert 'href="/repo/style.css"' in not_found
    assert 'href="/repo/index.html"' in not_found


def test_without_a_base_url_there_is_no_sitemap(demo_site: Path) -> None:
    assert not (demo_site / "sitemap.xml").exists()
    assert (demo_site / "robots.txt").read_text() == "User-agent: *\nAllow: /\n"
    assert 'href="/style.css"' in (demo_site / "404.html").read_text(encoding="utf-8")


# -- the store's data export --------------------------------------------------------------------------
def store_fingerprint(path: Path) -> tuple:
    with open_store(path, read_only=True) as store:
        q = store.con.execute
        return (
            q("SELECT count(*), sum(downloads), count(DISTINCT project) FROM aggregates").fetchone(),
            q("SELECT count(*), min(day), max(day) FROM coverage").fetchone(),
            q("SELECT count(*) FROM ledger").fetchone(),
        )


def restore_config(tmp_path: Path) -> Path:
    cfg = tmp_path / "stats.toml"
    cfg.write_text(
        f'[packages]\nnames = ["acme-http"]\n[source]\nkind = "bigquery"\n'
        f'[store]\npath = "{tmp_path / "restored.duckdb"}"\n'
    )
    return cfg


def test_restore_store_from_the_live_site_then_export_it_again(demo_site: Path, tmp_path: Path) -> None:
    manifest = json.loads((demo_site / "data" / "store" / "manifest.json").read_text())
    assert manifest["aggregates"] == publishing.AGGREGATES_BY_MONTH
    months = {n for n in manifest["files"] if publishing.MONTH_FILE.fullmatch(n)}
    with open_store(demo_site.parent / "store.duckdb", read_only=True) as store:
        assert months == {publishing.month_file(m) for m in store.aggregate_months()}
    assert set(manifest["files"]) - months == {
        "coverage.parquet",
        "ledger.parquet",
        "meta.parquet",
        "before_store.parquet",
        "releases.parquet",
        "leaderboard_rankings.parquet",
        "leaderboard_rows.parquet",
    }
    cfg = restore_config(tmp_path)
    server, base = serve_in_thread(demo_site, prefix="/repo/")
    try:
        demo = run_cli("restore-store", "--config", str(cfg), "--from", base + "data/store/")
        assert demo.returncode == 1
        assert "synthetic demo" in demo.stderr
        assert not (tmp_path / "restored.duckdb").exists()
        args = ("restore-store", "--config", str(cfg), "--from", base + "data/store/", "--allow-synthetic")
        proc = run_cli(*args)
        assert proc.returncode == 0, proc.stderr
        assert "Restored" in proc.stderr
        again = run_cli(*args)
        assert again.returncode == 1
        assert "already holds data" in again.stderr
        missing = run_cli("restore-store", "--config", str(cfg), "--from", base + "nothing/here/", "--force")
        assert missing.returncode == 1
        assert "HTTP 404" in missing.stderr
        assert "Traceback" not in missing.stderr
    finally:
        server.shutdown()
        server.server_close()
    original = store_fingerprint(demo_site.parent / "store.duckdb")
    assert store_fingerprint(tmp_path / "restored.duckdb") == original
    with open_store(tmp_path / "restored.duckdb", read_only=True) as store:
        assert DEMO_AS_OF_KEY in store.get_meta(feeds.HISTORY_KEY, {})  # the feed's memory travels too
    proc = run_cli("export-store", "--config", str(cfg), "--out", str(tmp_path / "export"))
    assert proc.returncode == 0, proc.stderr
    assert json.loads((tmp_path / "export" / "manifest.json").read_text())["files"].keys() == manifest["files"].keys()


def test_a_store_from_before_the_optional_tables_exports_read_only(tmp_path: Path) -> None:
    """`export-store` opens the store read-only, so an older store is not upgraded: it exports what it has."""
    path = tmp_path / "old.duckdb"
    with open_store(path) as store:
        for table in store_module.OPTIONAL_EXPORT_TABLES:
            store.con.execute(f"DROP TABLE {table}")  # noqa: S608 - a fixed table name, as an older version made
    with open_store(path, read_only=True) as store:
        manifest = publishing.export_store_to(store, tmp_path / "export")
    tables = {n for n in manifest["files"] if not publishing.MONTH_FILE.fullmatch(n)}
    assert tables == {f"{t}.parquet" for t in store_module.EXPORT_TABLES if t != "aggregates"}


DEMO_AS_OF_KEY = "2026-10-31"


def test_a_damaged_export_leaves_no_store(demo_site: Path, tmp_path: Path) -> None:
    export = tmp_path / "export"
    shutil.copytree(demo_site / "data" / "store", export)
    damaged = max(export.glob("aggregates-*.parquet"))
    data = bytearray(damaged.read_bytes())
    data[len(data) // 2] ^= 0xFF
    damaged.write_bytes(bytes(data))
    cfg = restore_config(tmp_path)
    proc = run_cli("restore-store", "--config", str(cfg), "--from", str(export), "--allow-synthetic")
    assert proc.returncode == 1
    assert "differs from the manifest" in proc.stderr
    assert not (tmp_path / "restored.duckdb").exists()
    assert not list(tmp_path.glob("*.restoring*"))


def parquet_rows(data: bytes, tmp_path: Path, name: str) -> list[tuple]:
    return months_rows({name: data}, tmp_path)


def months_rows(files: dict[str, bytes], tmp_path: Path) -> list[tuple]:
    """The rows of Parquet files (name → bytes) together, sorted."""
    folder = tmp_path / "parquet-read"
    folder.mkdir(exist_ok=True)
    for name, data in files.items():
        (folder / name).write_bytes(data)
    with duckdb.connect() as con:
        return con.execute(
            "SELECT * FROM read_parquet($p) ORDER BY ALL", {"p": [str(folder / name) for name in files]}
        ).fetchall()


def test_the_export_written_while_pages_render_ends_with_what_the_build_kept_after_them(
    demo_site: Path, tmp_path: Path
) -> None:
    """The build starts the store's export as its pages start rendering and takes it once it has kept the
    feed's history (publishing.StoreExport): the late tables (meta, where that history is) are exported
    as they end, the others as they stood, which nothing changes in between (the build holds the lock)."""
    path = tmp_path / "store.duckdb"
    shutil.copy(demo_site.parent / "store.duckdb", path)
    with open_store(path) as store:
        aggregates = store.con.execute("SELECT * FROM aggregates ORDER BY ALL").fetchall()
        with publishing.StoreExport(store) as export:
            export.wait()  # the pages took longer than the early tables' export
            store.set_meta("kept-after-the-pages", {"2026-10-31": 1})
            files = export.files("2026-10-31")
    meta = dict(parquet_rows(files["meta.parquet"], tmp_path, "meta.parquet"))
    assert json.loads(meta["kept-after-the-pages"]) == {"2026-10-31": 1}
    months = {name: data for name, data in files.items() if publishing.MONTH_FILE.fullmatch(name)}
    assert months_rows(months, tmp_path) == aggregates
    manifest = json.loads(files["manifest.json"])
    assert manifest["files"]["meta.parquet"]["bytes"] == len(files["meta.parquet"])


def test_a_build_stopped_while_its_pages_render_leaves_no_export_behind(
    demo_site: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "store.duckdb"
    shutil.copy(demo_site.parent / "store.duckdb", path)
    temp = tmp_path / "temp"
    temp.mkdir()
    monkeypatch.setattr(publishing.tempfile, "tempdir", str(temp))
    with open_store(path) as store:
        with pytest.raises(KeyboardInterrupt), publishing.StoreExport(store):
            raise KeyboardInterrupt
        assert list(temp.iterdir()) == []
        assert store.con.execute("SELECT count(*) FROM aggregates").fetchall()[0][0] > 0  # still usable


def month_inodes(site: Path) -> dict[str, int]:
    return {p.name: p.stat().st_ino for p in (site / "data" / "store").glob("aggregates-*.parquet")}


def test_a_day_of_new_rows_rewrites_its_month_of_the_export_and_links_the_others(tmp_path: Path) -> None:
    """The export's aggregates are a file a month; a build whose store gained rows for one day writes that
    month's file again and keeps every other month's file as the live site has it (the same file, linked),
    so a deploy uploads one month, not half a year."""
    events = tmp_path / "events"
    sample.generate(events, packages=["acme"], days=60, end=dt.date(2026, 10, 30), scale=0.01)
    store = tmp_path / "store.duckdb"
    cfg = tmp_path / "stats.toml"
    cfg.write_text(
        f'[packages]\nnames = ["acme"]\n[source]\nkind = "local"\npath = "{events}"\nhistory_days = 40\n'
        f'[store]\npath = "{store}"\n',
        encoding="utf-8",
    )
    site = tmp_path / "site"
    assert cli.main(["build", "--config", str(cfg), "--out", str(site), "--as-of", "2026-10-30"]) == 0
    before = month_inodes(site)
    assert set(before) == {"aggregates-2026-09.parquet", "aggregates-2026-10.parquet"}
    late = tmp_path / "late"
    sample.generate(late, packages=["acme"], days=1, end=dt.date(2026, 10, 30), scale=0.01, seed=7)
    for path in late.glob("*.parquet"):
        path.rename(events / f"late-{path.name}")
    assert cli.main(["build", "--config", str(cfg), "--out", str(site), "--as-of", "2026-10-30"]) == 0
    after = month_inodes(site)
    assert after["aggregates-2026-09.parquet"] == before["aggregates-2026-09.parquet"]
    assert after["aggregates-2026-10.parquet"] != before["aggregates-2026-10.parquet"]
    with open_store(store, read_only=True) as kept:
        rows = kept.con.execute("SELECT * FROM aggregates ORDER BY ALL").fetchall()
    exported = {name: (site / "data" / "store" / name).read_bytes() for name in after}
    assert months_rows(exported, tmp_path) == rows


@pytest.mark.parametrize(
    "damage",
    ["the file's bytes", "the manifest's digest of its rows", "no manifest"],
)
def test_a_previous_month_that_cannot_be_trusted_is_exported_again(
    demo_site: Path, tmp_path: Path, damage: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    previous = tmp_path / "previous"
    shutil.copytree(demo_site / "data" / "store", previous)
    month = max(previous.glob("aggregates-*.parquet"))
    manifest = json.loads((previous / "manifest.json").read_text())
    if damage == "the file's bytes":
        data = bytearray(month.read_bytes())
        data[len(data) // 2] ^= 0xFF
        month.write_bytes(bytes(data))
    elif damage == "the manifest's digest of its rows":
        manifest["files"][month.name]["rows"] = "1:1"
        (previous / "manifest.json").write_text(json.dumps(manifest))
    else:
        (previous / "manifest.json").unlink()
    exported: list[str] = []
    real = store_module.Store.export_month
    monkeypatch.setattr(
        store_module.Store, "export_month", lambda self, m, path: exported.append(m) or real(self, m, path)
    )
    with open_store(demo_site.parent / "store.duckdb", read_only=True) as store:
        files = publishing.export_files(store, previous=previous)
    untouched = sorted(p.name for p in previous.glob("aggregates-*.parquet") if p != month)
    assert [publishing.month_file(m) for m in exported] == (
        [*untouched, month.name] if damage == "no manifest" else [month.name]
    )
    assert parquet_rows(files[month.name], tmp_path, month.name) == parquet_rows(
        (demo_site / "data" / "store" / month.name).read_bytes(), tmp_path, "live-" + month.name
    )


def test_an_export_from_before_the_month_files_restores(demo_site: Path, tmp_path: Path) -> None:
    """An export written before the aggregates were a file a month has them in one aggregates.parquet, and
    no `aggregates` key in its manifest: a newer version restores it (a site's CI upgrades the tool first)."""
    old = tmp_path / "old-export"
    shutil.copytree(demo_site / "data" / "store", old)
    months = sorted(old.glob("aggregates-*.parquet"))
    with duckdb.connect() as con:
        con.sql("SELECT * FROM read_parquet($p)", params={"p": [str(m) for m in months]}).to_parquet(
            str(old / "aggregates.parquet")
        )
    manifest = json.loads((old / "manifest.json").read_text())
    del manifest["aggregates"]
    for month in months:
        del manifest["files"][month.name]
        month.unlink()
    data = (old / "aggregates.parquet").read_bytes()
    manifest["files"]["aggregates.parquet"] = {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    (old / "manifest.json").write_text(json.dumps(manifest))
    cfg = restore_config(tmp_path)
    proc = run_cli("restore-store", "--config", str(cfg), "--from", str(old), "--allow-synthetic")
    assert proc.returncode == 0, proc.stderr
    assert store_fingerprint(tmp_path / "restored.duckdb") == store_fingerprint(demo_site.parent / "store.duckdb")
