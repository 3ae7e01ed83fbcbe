"""The static pypistats.org-compatible API and the badges.

The round trip uses the real `pypistats` client with `pypistats.BASE_URL` pointed at the built
site's `api/`, served over HTTP under a sub-path: what it prints must equal the page's figures.
"""

from __future__ import annotations

import datetime as dt
import json
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pypistats
import pypistats._cache
import pytest
import urllib3
from browser import serving
from conftest import DEMO_AS_OF

from generator import api, badges, population, sample, sources
from generator.store import AggRow

AS_OF = dt.date(2026, 10, 31)


def row(
    days_back: int,
    installer: str | None = "pip",
    n: int = 1,
    breakdown: str = "total",
    value: str | None = None,
    malformed: bool = False,
) -> AggRow:
    return AggRow(AS_OF - dt.timedelta(days=days_back), installer, False, malformed, breakdown, value, n)


# -- the pure functions, against pypistats.org's rules ------------------------------------------
TOTALS = [
    row(0, "pip", 10),
    row(0, "bandersnatch", 5),
    row(0, None, 3),
    row(0, "pip", 100, malformed=True),
    row(6, "pip", 7),
    row(7, "uv", 2),
    row(29, "pip", 11),
    row(30, "pip", 13),
    row(40, "devpi", 4),  # a day with mirror rows only: no without_mirrors row at all
    row(180, "pip", 17),
    row(181, "pip", 19),  # outside the 181 retained dates
]


def test_a_package_without_rows_in_the_retained_dates_has_no_recent_or_overall_and_empty_breakdowns() -> None:
    """pypistats.org answers 404 for recent and overall, and an empty series for each breakdown."""
    docs = api.documents_for("acme", AS_OF, [row(181)], sources.ALL_CAPABILITIES, ("python_minor", "system"))
    assert sorted(docs) == ["python_major", "python_minor", "system"]
    assert all(doc["data"] == [] for doc in docs.values())


def test_recent_is_without_mirrors_with_no_dates() -> None:
    doc = api.recent("acme", TOTALS, AS_OF)
    assert doc == {
        "data": {"last_day": 10, "last_month": 10 + 7 + 2 + 11, "last_week": 10 + 7},
        "package": "acme",
        "type": "recent_downloads",
    }
    assert list(doc) == ["data", "package", "type"]
    assert list(doc["data"]) == ["last_day", "last_month", "last_week"]
    assert api.recent("acme", TOTALS, AS_OF, "week")["data"] == {"last_week": 17}


def test_overall_has_both_series_over_181_dates_and_no_zero_rows() -> None:
    doc = api.overall("acme", TOTALS, AS_OF)
    assert doc["type"] == "overall_downloads"
    assert doc["package"] == "acme"
    rows = doc["data"]
    assert [list(r) for r in rows if list(r) != ["category", "date", "downloads"]] == []
    with_m = {r["date"]: r["downloads"] for r in rows if r["category"] == "with_mirrors"}
    without = {r["date"]: r["downloads"] for r in rows if r["category"] == "without_mirrors"}
    day = (AS_OF - dt.timedelta(days=40)).isoformat()
    assert with_m[AS_OF.isoformat()] == 10 + 5 + 3  # the malformed Python row is dropped from both
    assert without[AS_OF.isoformat()] == 10  # mirrors and NULL installers are not in it
    assert with_m[day] == 4
    assert day not in without
    oldest = (AS_OF - dt.timedelta(days=180)).isoformat()
    assert min(with_m) == oldest
    assert (AS_OF - dt.timedelta(days=181)).isoformat() not in with_m
    # pypistats.org orders by (category, date): the with_mirrors series, then without_mirrors.
    assert rows == sorted(rows, key=lambda r: (r["category"], r["date"]))
    assert [r["category"] for r in rows].index("without_mirrors") == len(with_m)
    only = api.overall("acme", TOTALS, AS_OF, mirrors=False)["data"]
    assert {r["category"] for r in only} == {"without_mirrors"}
    assert len(only) == len(without)


BREAKDOWN_ROWS = [
    row(1, "pip", 4, "python_minor", "3.12"),
    row(1, "pip", 6, "python_minor", "3.9"),
    row(1, "bandersnatch", 9, "python_minor", "3.12"),  # mirrors: not in any breakdown
    row(1, None, 8, "python_minor", "3.11"),  # NULL installer: not in without-mirrors either
    row(1, "pip", 2, "python_minor", None),
    row(2, "pip", 1, "python_minor", "2.7"),
    row(2, "pip", 50, "python_minor", "3.1", malformed=True),
    row(1, "pip", 3, "system", "Linux"),
    row(1, "uv", 2, "system", "FreeBSD"),
    row(1, "pip", 5, "system", "Emscripten"),
    row(1, "pip", 1, "system", None),
    row(1, "devpi", 7, "system", "Darwin"),
]


def totals_by_category(doc: dict) -> dict[str, int]:
    out: dict[str, int] = {}
    for r in doc["data"]:
        out[r["category"]] = out.get(r["category"], 0) + r["downloads"]
    return out


def test_breakdowns_use_without_mirrors_rows_null_and_lowercase_other() -> None:
    major = api.breakdown("acme", "python_major", BREAKDOWN_ROWS, AS_OF)
    minor = api.breakdown("acme", "python_minor", BREAKDOWN_ROWS, AS_OF)
    system = api.breakdown("acme", "system", BREAKDOWN_ROWS, AS_OF)
    assert major["type"] == "python_major_downloads"
    assert system["type"] == "system_downloads"
    assert totals_by_category(major) == {"3": 10, "2": 1, "null": 2}
    assert totals_by_category(minor) == {"3.12": 4, "3.9": 6, "2.7": 1, "null": 2}
    assert totals_by_category(system) == {"Linux": 3, "other": 7, "null": 1}
    for doc in (major, minor, system):
        assert doc["data"] == sorted(doc["data"], key=lambda r: (r["category"], r["date"]))


def test_documents_skip_breakdowns_that_were_not_fetched() -> None:
    docs = api.package_documents("acme", AS_OF, TOTALS, BREAKDOWN_ROWS, breakdowns=("system", "country"))
    assert {"recent", "overall", "system"} <= set(docs)
    assert "python_major" not in docs
    assert "python_minor" not in docs
    assert docs["mirrors/true/overall"] == api.overall("acme", TOTALS, AS_OF, mirrors=True)
    assert docs["period/day/recent"]["data"] == {"last_day": 10}


def test_json_is_compact_with_sorted_keys_like_flask_jsonify() -> None:
    text = api.dumps({"type": "t", "package": "p", "data": {"last_week": 1, "last_day": 2}})
    assert text == '{"data":{"last_day":2,"last_week":1},"package":"p","type":"t"}\n'


# -- the real pypistats client against the built site -----------------------------------------------
def pointed_at(base: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path):  # noqa: ANN201
    """The real pypistats client, reading the static API at `base`."""
    monkeypatch.setattr(pypistats, "BASE_URL", base + "api/")
    monkeypatch.setattr(pypistats._cache, "CACHE_DIR", tmp_path / "pypistats-cache")  # never the user's cache
    return pypistats


WITHOUT = "pypistats.org without mirrors (and recent: last_month) last 30 days"


@pytest.fixture(scope="module")
def served_api(demo_site: Path) -> Iterator[str]:
    with serving(demo_site, "/some/prefix/") as base:
        yield base


@pytest.fixture
def client(served_api: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path):  # noqa: ANN201
    return pointed_at(served_api, monkeypatch, tmp_path)


def page_figures(site: Path, project: str) -> dict[str, int]:
    """The figures at the foot of the page's reconciliation matrix (see test_build.source_figures)."""
    from test_build import source_figures

    return source_figures(site, project)


@pytest.mark.parametrize("project", sample.DEMO_PACKAGES)
def test_the_pypistats_client_reads_the_numbers_on_the_page(client, demo_site: Path, project: str) -> None:  # noqa: ANN001
    figs = page_figures(demo_site, project)
    as_of = dt.date.fromisoformat(DEMO_AS_OF)

    recent = json.loads(client.recent(project, format="json"))
    assert recent["type"] == "recent_downloads"
    assert recent["package"] == project
    assert recent["data"] == {
        "last_day": figs["pypistats.org recent: last_day 1 day"],
        "last_week": figs["pypistats.org recent: last_week 7 days"],
        "last_month": figs[WITHOUT],
    }
    # What it prints, as a user sees it.
    printed = client.recent(project, format="markdown", color="no")
    for n in recent["data"].values():
        assert f"{n:,}" in printed

    start = (as_of - dt.timedelta(days=29)).isoformat()
    month = json.loads(client.overall(project, start_date=start, end_date=DEMO_AS_OF, format="json"))
    totals = {r["category"]: r["downloads"] for r in month["data"]}
    assert totals == {
        "with_mirrors": figs["pypistats.org with mirrors last 30 days"],
        "without_mirrors": figs[WITHOUT],
    }
    printed = client.overall(project, start_date=start, end_date=DEMO_AS_OF, format="markdown", color="no")
    assert f"{totals['with_mirrors']:,}" in printed
    assert f"{totals['without_mirrors']:,}" in printed
    assert f"Date range: {start} - {DEMO_AS_OF}" in printed

    # The naive script: every row of `overall`, both series, 181 dates.
    everything = json.loads(client.overall(project, format="json", total="daily"))["data"]
    naive = figs["Naive sum of pypistats.org's overall API 181 dates, both series"]
    assert sum(r["downloads"] for r in everything) == naive
    dates = sorted({r["date"] for r in everything})
    assert dates[-1] == DEMO_AS_OF
    assert len(dates) <= 181
    assert dates[0] >= (as_of - dt.timedelta(days=180)).isoformat()

    # Each breakdown partitions the without-mirrors downloads of the same 181 dates.
    without_181 = sum(r["downloads"] for r in everything if r["category"] == "without_mirrors")
    for endpoint, allowed in (
        (client.python_major, None),
        (client.python_minor, None),
        (client.system, {"Windows", "Linux", "Darwin", "other", "null"}),
    ):
        rows = json.loads(endpoint(project, format="json", total="daily"))["data"]
        assert sum(r["downloads"] for r in rows) == without_181
        if allowed:
            assert {r["category"] for r in rows} <= allowed


STATIC_DOCUMENTS = [("recent", "recent_downloads")] + [(e, f"{e}_downloads") for e in api.ENDPOINTS[1:]]


@pytest.mark.parametrize(("name", "kind"), STATIC_DOCUMENTS)
def test_static_files_match_the_pypistats_shapes(demo_site: Path, name: str, kind: str) -> None:
    project = sample.DEMO_PACKAGES[0]
    folder = demo_site / "api" / "packages" / project
    text = (folder / name).read_text(encoding="utf-8")
    assert (folder / f"{name}.json").read_text(encoding="utf-8") == text
    doc = json.loads(text)
    assert list(doc) == ["data", "package", "type"]
    assert doc["type"] == kind
    assert doc["package"] == project


def series(data: list[dict[str, Any]] | dict[str, int]) -> set[str]:
    """The series a document holds: the categories of `overall`'s rows, the windows of `recent`'s object."""
    return {r["category"] for r in data} if isinstance(data, list) else set(data)


@pytest.mark.parametrize(
    ("query", "only"),
    [
        pytest.param("mirrors/true/overall", "with_mirrors", id="mirrors=true"),
        pytest.param("mirrors/false/overall", "without_mirrors", id="mirrors=false"),
        pytest.param("period/day/recent", "last_day", id="period=day"),
        pytest.param("period/week/recent", "last_week", id="period=week"),
        pytest.param("period/month/recent", "last_month", id="period=month"),
    ],
)
def test_a_query_string_picks_one_series(demo_site: Path, query: str, only: str) -> None:
    folder = demo_site / "api" / "packages" / sample.DEMO_PACKAGES[0]
    doc = json.loads((folder / query).read_text(encoding="utf-8"))
    assert series(doc["data"]) == {only}


# -- where pypistats.org answers 404, no file: the host's 404 applies ------------------------------------
# pypistats/views/api.py: `recent` aborts 404 without a row in its recent table, which has a row for a
# period only when the package has without-mirrors downloads in it (tasks/pypi.py, update_recent_stats);
# `overall` aborts 404 without a row of the asked series in the 181 dates kept; the breakdowns never do.
NOT_FOUND_AS_OF = "2026-10-31"


def days_back(n: int) -> str:
    return (dt.date.fromisoformat(NOT_FOUND_AS_OF) - dt.timedelta(days=n)).isoformat()


@pytest.fixture(scope="module")
def sparse_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """quiet: pip 60 days back; mirrored: bandersnatch only; gone: 200 days back; weekly: pip 3 days back."""
    from conftest import event, run_cli, write_config, write_events

    work = tmp_path_factory.mktemp("sparse")
    events = write_events(
        work / "events",
        [
            event(days_back(60), "quiet"),
            event(days_back(5), "mirrored", installer="bandersnatch"),
            event(days_back(200), "gone"),
            event(days_back(3), "weekly"),
            event(days_back(0), "other"),  # the as-of day is in the logs
        ],
    )
    cfg = write_config(work / "stats.toml", events, ["quiet", "mirrored", "gone", "weekly"], NOT_FOUND_AS_OF, 210)
    proc = run_cli("build", "--config", str(cfg), "--out", str(work / "site"))
    assert proc.returncode == 0, proc.stderr
    with serving(work / "site", "/stats/") as base:
        yield base


@pytest.fixture
def sparse_client(sparse_api: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path):  # noqa: ANN201
    return pointed_at(sparse_api, monkeypatch, tmp_path)


@pytest.mark.parametrize(
    ("project", "call", "answer"),
    [
        ("quiet", "recent", 404),
        ("quiet", "recent?period=month", 404),
        ("quiet", "overall", {"with_mirrors": 1, "without_mirrors": 1}),
        ("mirrored", "recent", 404),
        ("mirrored", "overall", {"with_mirrors": 1}),
        ("mirrored", "overall?mirrors=true", {"with_mirrors": 1}),
        ("mirrored", "overall?mirrors=false", 404),
        ("gone", "overall", 404),
        ("gone", "overall?mirrors=true", 404),
        ("gone", "recent", 404),
        ("weekly", "recent", {"last_day": 0, "last_month": 1, "last_week": 1}),
        ("weekly", "recent?period=day", 404),
        ("weekly", "recent?period=week", {"last_week": 1}),
    ],
)
def test_the_client_gets_404_where_pypistats_org_answers_404(sparse_client, project: str, call: str, answer) -> None:  # noqa: ANN001
    endpoint, _, query = call.partition("?")
    kwargs = {}
    if query:
        key, value = query.split("=")
        kwargs[key] = value == "true" if key == "mirrors" else value
    fetch = getattr(sparse_client, endpoint)
    if answer == 404:
        with pytest.raises(urllib3.exceptions.HTTPError, match=f"HTTP Error 404 for url: .*/{project}/{endpoint}"):
            fetch(project, format="json", **kwargs)
        return
    doc = json.loads(fetch(project, format="json", **kwargs))
    if endpoint == "recent":
        assert doc["data"] == answer
    else:
        totals: dict[str, int] = {}
        for r in doc["data"]:
            totals[r["category"]] = totals.get(r["category"], 0) + r["downloads"]
        assert totals == answer


@pytest.mark.parametrize("endpoint", ["python_major", "python_minor", "system"])
def test_breakdowns_never_404_an_empty_one_is_no_data(sparse_client, endpoint: str) -> None:  # noqa: ANN001
    # pypistats.org answers 200 with "data": [], which the client reports as no data.
    assert getattr(sparse_client, endpoint)("gone") == "No data found for https://pypi.org/project/gone/"


# -- badges -------------------------------------------------------------------------------------------
def test_badge_json_uses_only_shields_schema_keys(demo_site: Path) -> None:
    files = sorted((demo_site / "badges").rglob("*.json"))
    assert len(files) == 3 * len(sample.DEMO_PACKAGES)
    for path in files:
        doc = json.loads(path.read_text(encoding="utf-8"))
        assert set(doc) <= badges.SCHEMA_KEYS, path
        assert doc["schemaVersion"] == 1
        assert isinstance(doc["label"], str)
        assert doc["message"]
        assert isinstance(doc["cacheSeconds"], int)
        assert doc["cacheSeconds"] >= 300


@pytest.mark.parametrize("project", sample.DEMO_PACKAGES)
def test_badges_show_the_page_figures(demo_site: Path, project: str) -> None:
    figs = page_figures(demo_site, project)
    honest = json.loads((demo_site / "badges" / f"{project}.json").read_text(encoding="utf-8"))
    assert honest["message"].startswith(badges.compact(figs["Honest number (this site) | last 30 days"]) + "/")
    assert "synthetic" in honest["message"]  # the demo never passes for real numbers
    without = json.loads((demo_site / "badges" / "without-mirrors" / f"{project}.json").read_text())
    assert without["message"].startswith(badges.compact(figs[WITHOUT]))
    svg = ET.fromstring((demo_site / "badges" / f"{project}.svg").read_text(encoding="utf-8"))
    assert svg.tag == "{http://www.w3.org/2000/svg}svg"
    assert not [e for e in svg.iter() if e.tag.split("}")[-1] in ("script", "image", "a", "style")]


def test_svg_badge_escapes_text_and_fits_it() -> None:
    text = badges.svg('a<b>&"c"', "1.2k/month", "#123456")
    root = ET.fromstring(text)
    ns = "{http://www.w3.org/2000/svg}"
    assert root.find(f"{ns}title").text == 'a<b>&"c": 1.2k/month'
    assert [t.text for t in root.iter(f"{ns}text")] == ['a<b>&"c"', "1.2k/month"]
    short, long = badges.svg("x", "1", "#000"), badges.svg("x", "1" * 40, "#000")
    assert int(ET.fromstring(long).get("width")) > int(ET.fromstring(short).get("width")) + 200


@pytest.mark.parametrize(
    ("n", "text"), [(0, "0"), (999, "999"), (1000, "1k"), (1234, "1.2k"), (123456, "123k"), (2_500_000, "2.5M")]
)
def test_compact_numbers(n: int, text: str) -> None:
    assert badges.compact(n) == text


def test_endpoint_rejects_an_empty_message() -> None:
    with pytest.raises(ValueError):
        badges.endpoint("label", "", "blue")


def test_badges_without_a_ci_flag_do_not_claim_honesty() -> None:
    figures = {"honest": 1500, "pypistats_with": 9000, "pypistats_without": 4000}
    plain = json.loads(badges.package_badges("x", figures, synthetic=False)["badges/x.json"])
    assert plain["label"] == "honest installs"
    assert plain["message"] == "1.5k/month"
    no_ci = badges.package_badges("x", figures, synthetic=False, population=population.CI_INCLUDED)
    assert json.loads(no_ci["badges/x.json"])["label"] == "installs (CI included)"
    assert json.loads(no_ci["badges/with-mirrors/x.json"])["message"] == "9k/month"
