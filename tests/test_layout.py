"""The site's layout is declared once, in generator.layout.

- No module of generator/ spells an output path: each asks the layout (the check below reads every
  string literal and f-string part; a negative control proves it sees a spelled path). Nor does a
  template: templates link through the `layout` Jinja global.
- Every path the layout makes for a unit maps back to that unit: `unit_of` reads the same templates
  the writers fill, so the incremental build reuses and counts exactly the files a unit wrote.
- In a real build, every file belongs to a unit except the files of the whole site.
- The hand-written Markdown of content/ links only pages the layout declares.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from conftest import spelled_outside

from generator import layout, render

ROOT = Path(__file__).resolve().parent.parent

SPELLED = re.compile(
    r"\b(?:packages|api|badges|top|data)/"
    r"|\b(?:feed\.xml|sitemap\.xml|robots\.txt|search\.json|build-manifest\.json|og\.png|style\.css|favicon\.svg)\b"
    r"|\bleaderboard\.(?:csv|json)\b"
    r"|\.(?:html|csv)\b"
)
"""A site path's folder, a site-level file's name, or a page's or table's extension."""
ANOTHER_HOST = re.compile(r"[a-z][a-z0-9+.-]*://", re.I)
"""An absolute URL is another site's address (pypistats.org's /api/, docs.pypi.org): this site's paths are relative."""

NOT_SITE_PATHS = {
    ("generator/cli.py", "data/demo-events"): "the demo's input events, in the user's project folder",
    ("generator/config.py", "data/store.duckdb"): "the store's default file, in the user's project folder",
    ("generator/scaffold.py", "data/store.duckdb"): "the store file `init` writes into stats.toml",
    ("generator/sample.py", "/packages/"): "the `url` column of PyPI's events: a file's path on files.pythonhosted.org",
}
"""Literals that look like site paths and are not, or are moving: (file, literal) → why. Each is still in its file."""
TEMPLATE_CALLS = {"get_template": 0, "render_page": 1}
"""Calls whose argument at that position names a Jinja template (templates/<name>.html), not an output file."""


def _template_names(tree: ast.AST) -> set[int]:
    """The ids of the nodes that name a template in a call that renders one."""
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            position = TEMPLATE_CALLS.get(name)
            if position is not None and len(node.args) > position:
                out.add(id(node.args[position]))
    return out


def _docstrings(tree: ast.AST) -> set[int]:
    """Strings standing alone as statements (docstrings of modules, classes, functions and attributes): prose."""
    return {
        id(node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)
    }


def spelled_paths(path: Path, rel: str = "") -> list[tuple[int, str]]:
    """Each (line, literal) of a Python file that spells a site path (an f-string counts each literal part)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = _docstrings(tree) | _template_names(tree)
    found = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Constant) and isinstance(node.value, str)) or id(node) in skip:
            continue
        text = node.value
        if (rel, text) in NOT_SITE_PATHS or ANOTHER_HOST.match(text):
            continue
        if SPELLED.search(text):
            found.append((node.lineno, text))
    return sorted(found)


def test_no_output_path_is_spelled_outside_the_layout() -> None:
    stray = spelled_outside(sorted((ROOT / "generator").rglob("*.py")), {"generator/layout.py"}, spelled_paths)
    assert not stray, "ask generator.layout for the path instead of spelling it:\n" + "\n".join(stray)


def test_every_exception_is_still_in_its_file() -> None:
    """An allowed literal that left its file is a stale exception: it would hide a new one."""
    missing = [f"{rel}: {text!r}" for rel, text in NOT_SITE_PATHS if text not in _literals(ROOT / rel)]
    assert not missing, "remove these exceptions from NOT_SITE_PATHS:\n" + "\n".join(missing)


def _literals(path: Path) -> set[str]:
    return {
        node.value
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    }


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('page = f"packages/{project}/index.html"\n', [(1, "/index.html"), (1, "packages/")]),
        ('href = f"{root}packages/{name}/"\n', [(1, "packages/")]),
        ('out[f"badges/{folder}/{p}.svg"] = svg\n', [(1, "badges/")]),
        ('writer.write("feed.xml", text)\n', [(1, "feed.xml")]),
        ('writer.write("sitemap.xml", text)\n', [(1, "sitemap.xml")]),
        ('PATH = "top/leaderboard.csv"\n', [(1, "top/leaderboard.csv")]),
        ('name = f"{table}.csv"\n', [(1, ".csv")]),
        ('canonical = "cost.html"\n', [(1, "cost.html")]),
        ('url = f"{base}api/packages/{p}/overall"\n', [(1, "api/packages/")]),
        ('export = "data/store"\n', [(1, "data/store")]),
        ('"""Writes packages/<name>/index.html and feed.xml."""\n', []),
        ("# packages/<name>/index.html in a comment\nx = 1\n", []),
        ('html = env.get_template("package.html").render()\n', []),
        ('html = render_page(env, "cost.html", path)\n', []),
        ('html = render_page(env, "cost.html", "cost.html")\n', [(1, "cost.html")]),
        ('link = f"https://pypi.org/project/{name}/"\n', []),
        ('API = "https://pypistats.org/api/"\n', []),
        ('table = "bigquery-public-data.pypi.file_downloads"\n', []),
    ],
)
def test_the_check_sees_a_spelled_path_not_prose_or_a_template(
    tmp_path: Path, text: str, expected: list[tuple[int, str]]
) -> None:
    path = tmp_path / "probe.py"
    path.write_text(text, encoding="utf-8")
    assert spelled_paths(path) == expected


TEMPLATE_STATEMENT = re.compile(r"{%-?\s*(?:extends|from|import|include)\b.*?%}|{#.*?#}", re.S)
"""What names another template, and comments: not links."""


def spelled_in_template(path: Path) -> list[tuple[int, str]]:
    """Each (line, match) of a template that spells a site path instead of asking `layout` (a Jinja global)."""
    found = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        found += [(number, m.group(0)) for m in SPELLED.finditer(TEMPLATE_STATEMENT.sub("", line))]
    return found


def test_no_template_spells_an_output_path() -> None:
    stray = spelled_outside(
        sorted((ROOT / "templates").rglob("*.html")), (), lambda path, _rel: spelled_in_template(path)
    )
    assert not stray, "link with {{ root }}{{ layout.<path> }} instead of spelling the path:\n" + "\n".join(stray)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('<a href="{{ root }}feed.xml">\n', [(1, "feed.xml")]),
        ('<a href="{{ root }}data/{{ p }}.json">\n', [(1, "data/")]),
        ('<a href="{{ root }}methodology.html#rules">\n', [(1, ".html")]),
        ('{% if href == "packages-" ~ group ~ ".html" %}\n', [(1, ".html")]),
        ('{{ (base ~ "badges/" ~ p ~ ".json") | urlencode }}\n', [(1, "badges/")]),
        ('<a href="{{ root }}{{ layout.FEED }}">\n', []),
        ('{% extends "base.html" %}\n', []),
        ('{% from "_macros.html" import data_table %}\n', []),
        ("{# bars from style.css #}\n", []),
        ("{{ data_table(t, t.csv_name) }}\n", []),
    ],
)
def test_the_template_check_sees_a_spelled_path_not_a_template_name(
    tmp_path: Path, text: str, expected: list[tuple[int, str]]
) -> None:
    path = tmp_path / "probe.html"
    path.write_text(text, encoding="utf-8")
    assert spelled_in_template(path) == expected


# -- the contract: the paths README and design.md promise -------------------------------------------
@pytest.mark.parametrize(
    ("path", "contract"),
    [
        (layout.package_page("acme"), "packages/acme/index.html"),
        (layout.package_url("acme"), "packages/acme/"),
        (layout.package_table("acme", "daily"), "packages/acme/daily.csv"),
        (layout.social_card("acme"), "packages/acme/og.png"),
        (layout.package_data("acme"), "data/acme.json"),
        (layout.api_document("acme", "overall"), "api/packages/acme/overall"),
        (layout.api_document("acme", "overall", layout.API_EXTENSION), "api/packages/acme/overall.json"),
        (layout.api_document("acme", "mirrors/true/overall"), "api/packages/acme/mirrors/true/overall"),
        (layout.badge("acme", "", "json"), "badges/acme.json"),
        (layout.badge("acme", "with-mirrors", "svg"), "badges/with-mirrors/acme.svg"),
        (layout.INDEX_PAGE, "index.html"),
        (layout.letter_page("a"), "packages-a.html"),
        (layout.letter_page("0-9", 2), "packages-0-9-2.html"),
        (layout.SEARCH_INDEX, "search.json"),
        (layout.content_page("methodology"), "methodology.html"),
        (layout.content_link("methodology", "rule-raw"), "methodology.html#rule-raw"),
        (layout.COST_PAGE, "cost.html"),
        (layout.cost_table("cost-runs"), "cost-runs.csv"),
        (layout.NOT_FOUND_PAGE, "404.html"),
        (layout.top_page(1), "top/index.html"),
        (layout.top_page(2), "top/page-2.html"),
        (layout.top_url(1), "top/"),
        (layout.top_url(2), "top/page-2.html"),
        (layout.top_file(2), "page-2.html"),
        (layout.LEADERBOARD_CSV, "top/leaderboard.csv"),
        (layout.LEADERBOARD_JSON, "top/leaderboard.json"),
        (layout.FEED, "feed.xml"),
        (layout.SITEMAP, "sitemap.xml"),
        (layout.ROBOTS, "robots.txt"),
        (layout.BUILD_MANIFEST, "build-manifest.json"),
        (layout.store_export_file("manifest.json"), "data/store/manifest.json"),
    ],
)
def test_the_layout_is_the_contract(path: str, contract: str) -> None:
    assert path == contract


# -- every path maps back to its unit ----------------------------------------------------------------
@pytest.mark.parametrize(
    ("path", "unit"),
    [
        (layout.package_page("acme"), "package:acme"),
        (layout.package_table("acme", "daily"), "package:acme"),
        (layout.social_card("acme"), "package:acme"),
        (layout.package_file("acme", "matrix.csv"), "package:acme"),
        (layout.package_data("acme"), "package:acme"),
        (layout.api_document("acme", "overall"), "package:acme"),
        (layout.api_document("acme", "overall", layout.API_EXTENSION), "package:acme"),
        (layout.api_document("acme", "mirrors/true/overall"), "package:acme"),
        (layout.api_document("acme", "period/day/recent"), "package:acme"),
        (layout.badge("acme", "", "json"), "package:acme"),
        (layout.badge("acme", "", "svg"), "package:acme"),
        (layout.badge("acme", "with-mirrors", "svg"), "package:acme"),
        (layout.badge("acme", "without-mirrors", "json"), "package:acme"),
        (layout.package_page("store"), "package:store"),
        (layout.package_data("store"), "package:store"),
        (layout.badge("with-mirrors", "", "json"), "package:with-mirrors"),
        (layout.INDEX_PAGE, "index"),
        (layout.letter_page("a"), "index"),
        (layout.letter_page("z", 3), "index"),
        (layout.letter_page("0-9"), "index"),
        (layout.letter_page("0-9", 2), "index"),
        (layout.SEARCH_INDEX, "index"),
        (layout.COST_PAGE, "cost"),
        (layout.cost_table("cost-runs"), "cost"),
        (layout.content_page("methodology"), "page:methodology"),
        (layout.content_page("faq"), "page:faq"),
        (layout.NOT_FOUND_PAGE, "page:404"),
        (layout.top_page(1), "leaderboard"),
        (layout.top_page(2), "leaderboard"),
        (layout.LEADERBOARD_CSV, "leaderboard"),
        (layout.LEADERBOARD_JSON, "leaderboard"),
        *[(name, "static") for name in layout.STATIC_FILES],
        (layout.FEED, "site"),
        (layout.SITEMAP, "site"),
        (layout.ROBOTS, "site"),
        (layout.BUILD_MANIFEST, "site"),
        (layout.store_export_file("aggregates.parquet"), "site"),
        (layout.store_export_file("manifest.json"), "site"),
    ],
)
def test_every_path_the_layout_makes_maps_back_to_its_unit(path: str, unit: str) -> None:
    assert layout.unit_of(path) == unit


SAMPLE_FIELDS = {
    "project": "acme",
    "file": "index.html",
    "document": "mirrors/true/overall",
    "folder": "with-mirrors",
    "format": "svg",
    "group": "q",
    "number": "2",
    "page": "about",
    "table": "cost-months",
    "static": layout.STATIC_FILES[0],
}


@pytest.mark.parametrize("place", layout.PLACES, ids=lambda p: p.template)
def test_each_place_recognises_its_own_paths(place: layout.Place) -> None:
    """Also a place added later: no earlier place claims its paths for another unit."""
    fields = {name: SAMPLE_FIELDS[name] for name in place.fields}
    assert layout.unit_of(place.path(**fields)) == place.unit.format(**fields)


@pytest.mark.parametrize(
    ("make", "why"),
    [
        (lambda: layout.cost_table("runs"), "a cost table's id starts with cost-: else unit_of would not find it"),
        (lambda: layout.letter_page("ab"), "an index group is one letter or 0-9"),
        (lambda: layout.package_page("a/b"), "a project is one path segment"),
        (lambda: layout.package_page(""), "a project has a name"),
        (lambda: layout.badge("acme", "", "png"), "a badge is JSON or SVG"),
    ],
)
def test_a_path_its_template_would_not_recognise_is_refused(make, why: str) -> None:  # noqa: ANN001
    with pytest.raises(ValueError, match="is not a path of the form"):
        make()


@pytest.mark.parametrize(
    ("path", "site_file"),
    [
        (layout.FEED, True),
        (layout.SITEMAP, True),
        (layout.ROBOTS, True),
        (layout.BUILD_MANIFEST, True),
        (layout.store_export_file("aggregates.parquet"), True),
        (layout.package_page("acme"), False),
        (layout.INDEX_PAGE, False),
        ("CNAME", False),
    ],
)
def test_the_files_of_the_whole_site_are_known(path: str, site_file: bool) -> None:
    assert layout.is_site_file(path) is site_file


# -- a real build -------------------------------------------------------------------------------------
def test_every_file_of_a_build_has_a_unit_but_the_files_of_the_whole_site(demo_site: Path) -> None:
    written = [p.relative_to(demo_site).as_posix() for p in demo_site.rglob("*") if p.is_file()]
    without_unit = sorted(rel for rel in written if layout.unit_of(rel) == layout.SITE_UNIT)
    assert without_unit == sorted(rel for rel in written if layout.is_site_file(rel))


@pytest.mark.parametrize(
    "rel", [layout.FEED, layout.ROBOTS, layout.BUILD_MANIFEST, layout.store_export_file("manifest.json")]
)
def test_a_build_writes_the_files_of_the_whole_site(demo_site: Path, rel: str) -> None:
    assert (demo_site / rel).is_file()


def test_the_layout_is_a_bottom_layer() -> None:
    """Every module may ask it for a path, so it imports nothing from generator."""
    tree = ast.parse((ROOT / "generator" / "layout.py").read_text(encoding="utf-8"))
    imported = [
        node.module or "" if isinstance(node, ast.ImportFrom) else alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    ]
    assert [name for name in imported if name.split(".")[0] == "generator"] == []


# -- the content pages' own links ------------------------------------------------------------------------
LINK = re.compile(r"\]\(([^)\s]+)\)")
PAGE_UNITS = {
    *(layout.page_unit(name) for name in render.CONTENT_PAGES),
    layout.INDEX_UNIT,
    layout.COST_UNIT,
    layout.LEADERBOARD_UNIT,
}


def site_links(text: str) -> list[str]:
    """The Markdown links to another page of this site (no scheme, not an anchor on the same page)."""
    return [t for t in LINK.findall(text) if "://" not in t and not t.startswith(("#", "mailto:"))]


@pytest.mark.parametrize("path", sorted((ROOT / "content").glob("*.md")), ids=lambda p: p.name)
def test_the_content_links_only_pages_the_layout_declares(path: Path) -> None:
    """Markdown is written by hand: a renamed page would leave its links dangling."""
    links = site_links(path.read_text(encoding="utf-8"))
    assert [t for t in links if layout.unit_of(t.split("#")[0]) not in PAGE_UNITS] == []


@pytest.mark.parametrize(
    ("text", "links"),
    [
        ("See [the rules](methodology.html#rules) and [cost](cost.html).", ["methodology.html#rules", "cost.html"]),
        ("[below](#windows), [PyPI](https://pypi.org/)", []),
        ("[stats](top/index.html)", ["top/index.html"]),
    ],
)
def test_the_link_reader_sees_site_links_only(text: str, links: list[str]) -> None:
    assert site_links(text) == links


@pytest.mark.parametrize(
    ("link", "declared"),
    [("methodology.html#rules", True), ("top/index.html", True), ("methodologie.html", False), ("misc/x.html", False)],
)
def test_a_link_to_an_undeclared_page_is_seen(link: str, declared: bool) -> None:
    assert (layout.unit_of(link.split("#")[0]) in PAGE_UNITS) is declared
