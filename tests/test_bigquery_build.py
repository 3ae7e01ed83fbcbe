"""`plan` and `build` with kind = "bigquery", through the real client, against the local fake.

The same events built through BigQuery and through the local source must give the same site.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import run_cli, write_config
from htmltools import parse

from generator import sample
from tests.fakes.bigquery_server import FakeBigQuery

AS_OF = "2026-10-31"


@pytest.fixture(scope="module")
def events(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("bq-events")
    sample.generate(out, scale=0.02, days=40, fmt="ndjson")
    return out


@pytest.fixture(scope="module")
def fake(events: Path):
    with FakeBigQuery(events, project="test-project") as server:
        yield server


def bigquery_config(path: Path, url: str, extra: str = "") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        f'as_of = "{AS_OF}"\n[packages]\nnames = {list(sample.DEMO_PACKAGES)!r}\n'.replace("'", '"')
        + f'[source]\nkind = "bigquery"\nbilling_project = "test-project"\napi_endpoint = "{url}"\n'
        "history_days = 40\n"
        "[budget]\nmax_bytes_per_query = 1099511627776\nmax_bytes_per_run = 10995116277760\n"
        f'[store]\npath = "{path.parent / "store.duckdb"}"\n{extra}',
        encoding="utf-8",
    )
    return path


def page_tables(site: Path, project: str) -> dict[str, list[list[str]]]:
    return parse((site / "packages" / project / "index.html").read_text(encoding="utf-8")).tables


def test_plan_prices_jobs_by_dry_run_and_runs_nothing_billable(tmp_path: Path, fake: FakeBigQuery) -> None:
    cfg = bigquery_config(tmp_path / "stats.toml", fake.url)
    before = len(fake.billable_jobs)
    proc = run_cli("plan", "--config", str(cfg))
    assert proc.returncode == 0, proc.stderr
    assert "Ceilings from BigQuery dry runs" in proc.stdout
    assert re.search(r"Total: \d+ job\(s\), 40 day\(s\); guaranteed ceiling .* expected bill", proc.stdout)
    assert "Runs needed for the whole history at this budget: about 1." in proc.stdout
    assert len(fake.billable_jobs) == before
    assert fake.dry_runs


def test_plan_with_every_day_held_says_there_is_nothing_to_fetch(tmp_path: Path, fake: FakeBigQuery) -> None:
    """After a build holds the whole history (and no day is refetched), `plan` has no job to price."""
    cfg = bigquery_config(tmp_path / "stats.toml", fake.url)
    cfg.write_text(cfg.read_text().replace("history_days = 40\n", "history_days = 40\nrefetch_days = 0\n"))
    built = run_cli("build", "--config", str(cfg), "--out", str(tmp_path / "site"))
    assert built.returncode == 0, built.stderr
    proc = run_cli("plan", "--config", str(cfg))
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "Nothing to fetch: the store already holds every day and package." in proc.stdout


def test_a_bigquery_build_gives_the_same_site_figures_as_the_local_source(
    tmp_path: Path, fake: FakeBigQuery, events: Path
) -> None:
    bq_cfg = bigquery_config(tmp_path / "bq" / "stats.toml", fake.url)
    proc = run_cli("build", "--config", str(bq_cfg), "--out", str(tmp_path / "bq-site"))
    assert proc.returncode == 0, proc.stderr
    local_cfg = write_config(
        (tmp_path / "local").mkdir() or tmp_path / "local" / "stats.toml",
        events,
        list(sample.DEMO_PACKAGES),
        AS_OF,
        history_days=40,
    )
    proc = run_cli("build", "--config", str(local_cfg), "--out", str(tmp_path / "local-site"))
    assert proc.returncode == 0, proc.stderr
    for project in sample.DEMO_PACKAGES:
        bq, local = page_tables(tmp_path / "bq-site", project), page_tables(tmp_path / "local-site", project)
        for table in ("matrix", "installers", "waterfall", "breakdown-country", "breakdown-python-minor"):
            assert bq[table] == local[table], (project, table)
    for job in fake.billable_jobs:
        assert job.maximum_bytes_billed is not None
        assert job.maximum_bytes_billed >= job.estimate_bytes


def test_a_budget_too_small_for_the_newest_day_runs_nothing_and_says_the_exact_value(
    tmp_path: Path, fake: FakeBigQuery
) -> None:
    cfg = bigquery_config(tmp_path / "stats.toml", fake.url)
    cfg.write_text(cfg.read_text().replace("max_bytes_per_run = 10995116277760", "max_bytes_per_run = 1000"))
    before = len(fake.billable_jobs)
    plan = run_cli("plan", "--config", str(cfg))
    proc = run_cli("build", "--config", str(cfg), "--out", str(tmp_path / "site"))
    assert (plan.returncode, proc.returncode) == (3, 3), proc.stderr
    needed = re.search(r"Set \[budget\]\.max_bytes_per_run = (\d+) or more \(\1 bytes \([\d.,]+ GiB\)\)", proc.stderr)
    assert needed, proc.stderr
    assert "Not even the newest day fits" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    # Only the month's history query (10 MiB) ran; no data job.
    assert [j for j in fake.billable_jobs[before:] if "INFORMATION_SCHEMA" not in j.query] == []
    assert not (tmp_path / "site").exists()
    # The value it names is enough: with it, the build runs the newest day.
    cfg.write_text(cfg.read_text().replace("max_bytes_per_run = 1000", f"max_bytes_per_run = {needed.group(1)}"))
    proc = run_cli("build", "--config", str(cfg), "--out", str(tmp_path / "site"))
    assert proc.returncode == 0, proc.stderr
    assert "40 of 40 days held" in proc.stderr  # at this tiny scale the whole window bills the 10 MiB minimum


def test_the_cost_page_and_package_pages_show_what_the_data_cost(tmp_path: Path, fake: FakeBigQuery) -> None:
    cfg = bigquery_config(tmp_path / "stats.toml", fake.url)
    proc = run_cli("build", "--config", str(cfg), "--out", str(tmp_path / "site"))
    assert proc.returncode == 0, proc.stderr
    cost = parse((tmp_path / "site" / "cost.html").read_text(encoding="utf-8"))
    runs = cost.tables["cost-runs"]
    assert len(runs) == 2  # header + this build's one run
    last_run = fake.billable_jobs[-1].labels["run_id"]
    assert int(runs[1][1]) == sum(1 for job in fake.billable_jobs if job.labels.get("run_id") == last_run)
    page = (tmp_path / "site" / "packages" / sample.DEMO_PACKAGES[0] / "index.html").read_text(encoding="utf-8")
    assert "What this package&#39;s data cost:" in page or "What this package's data cost:" in page
