"""BigQuery permissions: the fake refuses what Google refuses (IAM_RULES, each rule with its doc page),
and the tool needs exactly the permissions generator.permissions declares, no more.

The identity is the fake's: `FakeBigQuery(roles=..., permissions=...)`. Every call goes through the real
google-cloud-bigquery client, over HTTP.
"""

from __future__ import annotations

import contextlib
import io
import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from google.api_core import exceptions as api_exceptions
from google.cloud import bigquery
from test_bigquery_build import AS_OF, bigquery_config

from generator import cli, permissions, sample
from generator.dates import last_days, parse_day
from generator.store import open_store
from tests.fakes.bigquery_server import IAM_RULES, ROLES, FakeBigQuery

README = Path(__file__).resolve().parents[1] / "README.md"
REQUIRED = tuple(p.name for p in permissions.REQUIRED)
EVERY = tuple(p.name for p in permissions.PERMISSIONS)


@pytest.fixture(scope="module")
def events(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("iam-events")
    sample.generate(out, scale=0.01, days=32, fmt="ndjson")
    return out


@contextlib.contextmanager
def fake_as(events: Path | None, **identity: Any) -> Iterator[FakeBigQuery]:
    with FakeBigQuery(events, project="test-project", **identity) as server:
        yield server


def run(*argv: str) -> tuple[int, str]:
    """The CLI in-process: exit status and what it wrote to stderr."""
    text = io.StringIO()
    with contextlib.redirect_stderr(text):
        code = cli.main(list(argv))
    return code, text.getvalue()


def config(tmp_path: Path, fake: FakeBigQuery) -> Path:
    path = bigquery_config(tmp_path / "stats.toml", fake.url)
    path.write_text(path.read_text().replace("history_days = 40", "history_days = 30"), encoding="utf-8")
    return path


def site_files(site: Path) -> dict[str, bytes]:
    return {str(p.relative_to(site)): p.read_bytes() for p in sorted(site.rglob("*")) if p.is_file()}


# -- the fake's rules -------------------------------------------------------------------------------
DRY_RUN = (
    "SELECT COUNT(*) AS n FROM `bigquery-public-data.pypi.file_downloads` WHERE timestamp >= TIMESTAMP('2026-10-01')"
)
JOBS_BY_USER = "SELECT COUNT(*) AS n FROM `region-us`.INFORMATION_SCHEMA.JOBS_BY_USER"
JOBS_BY_PROJECT = "SELECT COUNT(*) AS n FROM `region-us`.INFORMATION_SCHEMA.JOBS_BY_PROJECT"


def dry_run(client: Any, sql: str) -> Any:
    return client.query(sql, job_config=bigquery.QueryJobConfig(dry_run=True, use_query_cache=False))


def run_query(client: Any, sql: str) -> Any:
    return client.query_and_wait(sql, job_config=bigquery.QueryJobConfig(use_query_cache=False))


CALLS = {
    "dry run of the public table": lambda c: dry_run(c, DRY_RUN),
    "query job on the public table": lambda c: run_query(c, DRY_RUN),
    "list one's own jobs": lambda c: list(c.list_jobs()),
    "list every user's jobs": lambda c: list(c.list_jobs(all_users=True)),
    "query INFORMATION_SCHEMA.JOBS_BY_USER": lambda c: run_query(c, JOBS_BY_USER),
    "dry run INFORMATION_SCHEMA.JOBS_BY_USER": lambda c: dry_run(c, JOBS_BY_USER),
    "query INFORMATION_SCHEMA.JOBS_BY_PROJECT": lambda c: run_query(c, JOBS_BY_PROJECT),
}


@pytest.mark.parametrize(
    ("roles", "call", "missing"),
    [
        ((), "dry run of the public table", "bigquery.jobs.create"),
        ((), "query job on the public table", "bigquery.jobs.create"),
        ((), "list one's own jobs", None),
        (("roles/bigquery.jobUser",), "dry run of the public table", None),
        (("roles/bigquery.jobUser",), "query job on the public table", None),
        (("roles/bigquery.jobUser",), "list one's own jobs", None),
        (("roles/bigquery.jobUser",), "list every user's jobs", "bigquery.jobs.list"),
        (("roles/bigquery.jobUser",), "query INFORMATION_SCHEMA.JOBS_BY_USER", "bigquery.jobs.list"),
        (("roles/bigquery.jobUser",), "dry run INFORMATION_SCHEMA.JOBS_BY_USER", "bigquery.jobs.list"),
        (("roles/bigquery.user",), "query INFORMATION_SCHEMA.JOBS_BY_USER", None),
        (("roles/bigquery.user",), "list every user's jobs", None),
        (("roles/bigquery.user",), "query INFORMATION_SCHEMA.JOBS_BY_PROJECT", "bigquery.jobs.listAll"),
        (("roles/bigquery.admin",), "query INFORMATION_SCHEMA.JOBS_BY_PROJECT", None),
    ],
)
def test_the_fake_refuses_what_the_identity_lacks_with_bigquerys_403(
    roles: tuple[str, ...], call: str, missing: str | None
) -> None:
    with fake_as(None, roles=roles) as fake:
        client = fake.client()
        try:
            if missing is None:
                CALLS[call](client)
                return
            with pytest.raises(api_exceptions.Forbidden) as refused:
                CALLS[call](client)
        finally:
            client.close()
    error = refused.value.errors[0]
    assert error["reason"] == "accessDenied"
    assert error["message"] == (
        f"Access Denied: Project test-project: User does not have {missing} permission in project test-project."
    )
    assert fake.billable_jobs == []


def test_a_single_permission_grant_counts_like_a_role() -> None:
    with fake_as(None, roles=(), permissions=("bigquery.jobs.create",)) as fake:
        client = fake.client()
        assert dry_run(client, DRY_RUN).total_bytes_processed is not None
        client.close()


@pytest.mark.parametrize("call", sorted(IAM_RULES))
def test_every_rule_of_the_fake_cites_googles_page(call: str) -> None:
    permission, doc = IAM_RULES[call]
    assert doc.startswith("https://cloud.google.com/bigquery/"), call
    assert permission is None or any(permission in held for held in ROLES.values()), call


def test_a_call_the_fake_has_no_rule_for_is_refused_as_the_fakes_bug() -> None:
    with fake_as(None, rules={}) as fake:
        del fake.rules["jobs.list"]
        client = fake.client()
        with pytest.raises(api_exceptions.BadRequest, match="no IAM rule for jobs.list"):
            list(client.list_jobs())
        client.close()


# -- the least set, declared once --------------------------------------------------------------------
def readme_permissions() -> dict[str, tuple[str, str, str]]:
    """The README's permission table: name -> (role, required or optional, doc URL)."""
    row = re.compile(
        r"^\s*\| `(bigquery\.[\w.]+)` \| `(roles/[\w.]+)` \| (required|optional) \| .*\((https://[^)\s]+)\)\) \|$",
        flags=re.M,
    )
    rows = row.findall(README.read_text(encoding="utf-8"))
    return {name: (role, need, doc) for name, role, need, doc in rows}


def test_the_readme_lists_exactly_the_permissions_the_tool_declares() -> None:
    declared = {p.name: (p.role, "required" if p.required else "optional", p.doc) for p in permissions.PERMISSIONS}
    assert readme_permissions() == declared


def test_the_code_names_roles_only_through_the_declaration() -> None:
    root = README.parent / "generator"
    spelled = [p.name for p in sorted(root.rglob("*.py")) if "roles/bigquery." in p.read_text(encoding="utf-8")]
    assert spelled == ["permissions.py"]


@pytest.mark.parametrize("path", ["README.md", "generator/skeleton/README.md"])
def test_setup_texts_that_name_the_job_user_role_also_name_the_optional_permission(path: str) -> None:
    text = (README.parent / path).read_text(encoding="utf-8")
    assert "roles/bigquery.jobUser" in text
    for optional in permissions.OPTIONAL:
        assert optional.name in text
        assert optional.role in text


@pytest.mark.parametrize("granted", [REQUIRED, EVERY], ids=["required only", "required and optional"])
def test_an_identity_with_exactly_the_declared_permissions_builds_a_site(
    tmp_path: Path, events: Path, granted: tuple[str, ...]
) -> None:
    with fake_as(events, roles=(), permissions=granted) as fake:
        cfg = config(tmp_path, fake)
        code, err = run("build", "--config", str(cfg), "--out", str(tmp_path / "site"))
    assert code == 0, err
    assert (tmp_path / "site" / "index.html").exists()
    assert fake.billable_jobs
    assert "refused" not in err


@pytest.mark.parametrize("lacking", REQUIRED)
@pytest.mark.parametrize("command", ["plan", "build"])
def test_one_required_permission_less_is_one_line_naming_it_and_its_role(
    tmp_path: Path, events: Path, lacking: str, command: str
) -> None:
    role = permissions.by_name(lacking).role  # type: ignore[union-attr]
    with fake_as(events, roles=(), permissions=[p for p in EVERY if p != lacking]) as fake:
        cfg = config(tmp_path, fake)
        extra = ("--out", str(tmp_path / "site")) if command == "build" else ()
        code, err = run(command, "--config", str(cfg), *extra)
    assert code == 1
    (line,) = err.strip().splitlines()
    assert f"lacks {lacking} on billing project test-project" in line
    assert f"Grant it {role}" in line
    assert not (tmp_path / "site").exists()
    assert fake.billable_jobs == []


def test_a_permission_revoked_later_leaves_the_site_and_the_fetched_days_as_they_were(
    tmp_path: Path, events: Path
) -> None:
    with fake_as(events, roles=("roles/bigquery.jobUser",)) as fake:
        cfg = config(tmp_path, fake)
        code, err = run("build", "--config", str(cfg), "--out", str(tmp_path / "site"))
        assert code == 0, err
        before = site_files(tmp_path / "site")
        with open_store(tmp_path / "store.duckdb", read_only=True) as store:
            held = store.covered_days("bigquery", sample.DEMO_PACKAGES, _window())
        fake.permissions = frozenset()  # the role is taken away between two runs
        code, err = run("build", "--config", str(cfg), "--out", str(tmp_path / "site"))
    assert code == 1
    assert "lacks bigquery.jobs.create" in err
    assert site_files(tmp_path / "site") == before
    with open_store(tmp_path / "store.duckdb", read_only=True) as store:
        assert store.covered_days("bigquery", sample.DEMO_PACKAGES, _window()) == held


def _window() -> Any:
    return last_days(parse_day(AS_OF), 30)


# -- the month's job history on a new store ---------------------------------------------------------
def test_a_new_store_counts_what_the_tools_earlier_jobs_billed_this_month(tmp_path: Path, events: Path) -> None:
    with fake_as(events) as fake:
        first = config(tmp_path / "first", fake)
        assert run("build", "--config", str(first), "--out", str(tmp_path / "first" / "site"))[0] == 0
        earlier = sum(j.billed_bytes for j in fake.billable_jobs)
        second = config(tmp_path / "second", fake)  # a new store: its ledger is empty
        code, err = run("build", "--config", str(second), "--out", str(tmp_path / "second" / "site"))
    assert code == 0, err
    assert earlier > 0
    with open_store(tmp_path / "second" / "store.duckdb", read_only=True) as store:
        assert store.get_meta("recovered_month_spend")["bytes"] == earlier
        assert store.get_meta("month_history_unread") is None
    assert "refused to list" not in err


def test_a_refused_job_history_warns_once_counts_the_stores_own_jobs_and_builds(
    tmp_path: Path, events: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A project that refuses listing one's own jobs without bigquery.jobs.list (terra-ui#1567)."""
    with fake_as(events, roles=("roles/bigquery.jobUser",), rules={"jobs.list": "bigquery.jobs.list"}) as fake:
        cfg = config(tmp_path, fake)
        code, err = run("build", "--config", str(cfg), "--out", str(tmp_path / "site"))
    assert code == 0, err
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    warnings = [w for w in warnings if "refused to list" in w]
    assert len(warnings) == 1
    assert "bigquery.jobs.list, granted by roles/bigquery.user" in warnings[0]
    with open_store(tmp_path / "store.duckdb", read_only=True) as store:
        assert store.get_meta("recovered_month_spend")["bytes"] == 0
    page = (tmp_path / "site" / "cost.html").read_text(encoding="utf-8")
    assert "BigQuery refused to list the jobs of" in page
