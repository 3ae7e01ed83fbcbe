"""The site's pages, written at the paths generator.layout declares (contract: site URLs):

- index.html (and, above INDEX_PAGE_SIZE packages, packages-<letter>[-<n>].html), search.json
- methodology.html, glossary.html, faq.html, about.html, cost.html, 404.html, style.css, favicon.svg
- packages/<name>/index.html, packages/<name>/<table>.csv, data/<name>.json, api/packages/<name>/...
- top/index.html, top/page-<n>.html, top/leaderboard.csv, top/leaderboard.json: the PyPI leaderboard, when
  configured
- (badges/..., feed.xml, sitemap.xml, robots.txt, data/store/ are generator.publishing's; build-manifest.json
  generator.incremental's)

Pages are written by unit (see generator.incremental): `package_files` makes one package's files
(in a page worker), `write_site_pages` the index, cost, content and static files.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import jinja2

from generator import api, figures, index_view, layout, publishing, render, resources
from generator import leaderboard_view as lbv
from generator.leaderboard import Leaderboard, Ranking
from generator.pages import ListedPackage, PackagePage, SiteData
from generator.sitewriter import SiteWriter
from generator.tables import table_csv

INDEX_PAGE_SIZE = 200
"""Most packages one index page lists; a larger site groups its index by first letter."""
INDEX_TOP = 100
"""Packages listed on a grouped site's front page: the most honest installs first."""
DIGITS = "0-9"
GROUPS = (*"abcdefghijklmnopqrstuvwxyz", DIGITS)


def nav(root: str, billed: bool = True, leaderboard: bool = False) -> list[tuple[str, str]]:
    """The main navigation; the cost page is in it once something has been billed (else in the footer),
    the leaderboard when the site has one."""
    links = [
        (f"{root}{layout.INDEX_PAGE}", "Packages"),
        *([(f"{root}{layout.top_page(1)}", "Leaderboard")] if leaderboard else []),
        (f"{root}{layout.content_page('methodology')}", "Methodology"),
        (f"{root}{layout.content_page('faq')}", "FAQ"),
        (f"{root}{layout.content_page('glossary')}", "Glossary"),
        (f"{root}{layout.COST_PAGE}", "Cost"),
        (f"{root}{layout.content_page('about')}", "About"),
    ]
    return [link for link in links if billed or link[1] != "Cost"]


def environment() -> jinja2.Environment:
    env = render.environment()
    env.globals["nav"] = nav
    env.globals["layout"] = layout  # the templates' links to other files of the site
    return env


# -- one package ------------------------------------------------------------------------------------
def package_files(
    env: jinja2.Environment, site: SiteData, page: PackagePage, api_docs: dict[str, api.Document]
) -> list[tuple[str, str | bytes]]:
    """A package's page, its tables as CSV, data/<name>.json and its API documents: (path, text) each."""
    project = page.report.project
    page.api = api_docs  # the page links the documents it has
    html, tables = render.render_package(env, page, site)
    files: list[tuple[str, str | bytes]] = [(layout.package_page(project), html)]
    files += [(layout.package_table(project, table.id), table_csv(table)) for table in tables]
    files.append((layout.package_data(project), render.package_json(page, tables)))
    files += api.document_files(project, api_docs)
    card = figures.social_card(page.report) if site.base_url else None  # og:image needs an absolute address
    if card is not None:
        files.append((layout.social_card(project), card))
    return files


# -- the index --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class IndexPage:
    path: str
    heading: str
    caption: str
    pages: tuple[ListedPackage, ...]
    group: str = ""
    """The first letter ("a".."z", "0-9") this page lists, or "" for the front page."""
    number: int = 1
    count: int = 1
    """Which page of its group, and how many the group has."""


def group_of(project: str) -> str:
    """A normalized name's index group: its first letter, or "0-9"."""
    first = project[:1]
    return first if "a" <= first <= "z" else DIGITS


def by_honest(pages: Sequence[ListedPackage]) -> list[ListedPackage]:
    """Largest honest number first; ties keep the config order."""
    return sorted(pages, key=lambda p: p.report.honest, reverse=True)


def index_pages(site: SiteData, page_size: int = INDEX_PAGE_SIZE, top: int = INDEX_TOP) -> list[IndexPage]:
    """The index: one page for a small site; else a front page and pages per first letter, paginated."""
    measure, installs = site.population.measure, site.population.most
    if len(site.packages) <= page_size:
        ranked = tuple(by_honest(site.packages))
        return [IndexPage(layout.INDEX_PAGE, site.title, f"Packages, largest {measure} first", ranked)]
    front = IndexPage(
        layout.INDEX_PAGE,
        site.title,
        f"The {top} packages with the most {installs}, largest first",
        tuple(by_honest(site.packages)[:top]),
    )
    out = [front]
    for group in GROUPS:
        members = sorted((p for p in site.packages if group_of(p.report.project) == group), key=_name)
        chunks = [members[i : i + page_size] for i in range(0, len(members), page_size)]
        label = "a digit" if group == DIGITS else group.upper()
        for number, chunk in enumerate(chunks, start=1):
            part = f", page {number} of {len(chunks)}" if len(chunks) > 1 else ""
            out.append(
                IndexPage(
                    layout.letter_page(group, number),
                    f"Packages starting with {label}",
                    f"Packages starting with {label}, by name{part}",
                    tuple(chunk),
                    group,
                    number,
                    len(chunks),
                )
            )
    return out


def _name(page: ListedPackage) -> str:
    return page.report.project


def search_index(site: SiteData) -> str:
    """search.json: every package, its page and its numbers, for any client that wants to search."""
    doc = {
        "as_of": site.as_of.isoformat(),
        "packages": [
            {
                "name": p.report.project,
                "url": layout.package_url(p.report.project),
                "honest_30_days": p.report.honest,
                "downloads_30_days": p.report.raw_30,
                # The 30-day numbers count only the days held: 30 of 30 for a full month.
                "days_held_of_30": p.report.coverage.held,
            }
            for p in sorted(site.packages, key=_name)
        ],
    }
    return json.dumps(doc, indent=0, sort_keys=True) + "\n"


def index_sparklines(rows: Sequence[index_view.IndexRow], what: str) -> dict[str, str]:
    """Each row's 30-day line as inline SVG ("" with fewer than two days held)."""
    from generator import drawing

    out = {}
    for r in rows:
        if not r.spark:
            out[r.project] = ""
            continue
        known = [v for _, v in r.spark if v is not None]
        out[r.project] = drawing.sparkline(
            r.spark,
            title=f"{what} per day, last 30 days",
            description=f"From {known[0]:,.0f} to {known[-1]:,.0f} a day, highest {max(known):,.0f}.",
            chart_id=f"spark-{r.project}",
        ).svg
    return out


class IndexContext(render.PageContext):
    """index.html: one page of the index, its rows and their sparklines."""

    index: IndexPage
    grouped: bool
    """The index is grouped by first letter (more than one page)."""
    letters: list[tuple[str, str]]
    """Each group's letter and its first page ("" when no package starts with it); [] when not grouped."""
    siblings: list[IndexPage]
    """The pages of this page's group."""
    total: int
    rows: list[index_view.IndexRow]
    sparks: dict[str, str]
    """Each row's 30-day line as inline SVG, by project."""


def write_index(env: jinja2.Environment, site: SiteData, writer: SiteWriter, page_size: int = INDEX_PAGE_SIZE) -> None:
    pages = index_pages(site, page_size)
    places = lbv.ranks_by_project(site.leaderboard, [p.report.project for p in site.packages])
    what = site.population.brief_label
    grouped = len(pages) > 1
    present = {p.group for p in pages if p.group}
    letters = [(g.upper() if g != DIGITS else g, layout.letter_page(g) if g in present else "") for g in GROUPS]
    for page in pages:
        siblings = [p for p in pages if p.group == page.group and page.group]
        rows = index_view.index_rows([p.report for p in page.pages], site.as_of, places)
        writer.write(
            page.path,
            render.render_page(
                env,
                "index.html",
                page.path,
                IndexContext(
                    site=site,
                    root="",
                    page_title=site.title if page.path == layout.INDEX_PAGE else page.heading,
                    canonical_path=layout.INDEX_URL if page.path == layout.INDEX_PAGE else page.path,
                    index=page,
                    grouped=grouped,
                    letters=letters if grouped else [],
                    siblings=siblings,
                    total=len(site.packages),
                    rows=rows,
                    sparks=index_sparklines(rows, what),
                ),
            ),
        )
    writer.write(layout.SEARCH_INDEX, search_index(site))


# -- the leaderboard ----------------------------------------------------------------------------------
class LeaderboardContext(render.PageContext):
    """top.html: one page of the leaderboard (the first also has the side lists and the site's packages)."""

    lb: Leaderboard
    ranking: Ranking
    page: lbv.TopPage
    pages: list[lbv.TopPage]
    lists: lbv.SideLists | None
    on_site: list[lbv.SitePackage]
    since: list[tuple[int, str]]
    """The earlier rankings compared with, in days and words ("yesterday")."""
    compared: list[str]
    pages_href: Callable[[lbv.Row], str]
    peak_days: int
    anomaly_share: float


def write_leaderboard(
    env: jinja2.Environment, site: SiteData, writer: SiteWriter, page_size: int = lbv.PAGE_SIZE
) -> None:
    """top/: the ranking's pages, leaderboard.csv and leaderboard.json (nothing without a leaderboard)."""
    board = site.leaderboard
    if board is None:
        return
    projects = [p.report.project for p in site.packages]
    rows = lbv.rows(board, lbv.site_projects(projects))
    pages = lbv.pages(rows, page_size)
    numbers = {p.report.project: (p.report.honest, p.report.ci_available) for p in site.packages}
    since = [(days, words) for days, words in lbv.SINCE if days in board.earlier]

    def pages_href(row: lbv.Row) -> str:
        """A row's place from any top/ page."""
        page = layout.top_file(lbv.page_of(row.entry.rank, page_size))
        return f"{page}#{lbv.row_anchor(row.entry.project)}"

    for page in pages:
        writer.write(
            page.path,
            render.render_page(
                env,
                "top.html",
                page.path,
                LeaderboardContext(
                    site=site,
                    root="../",
                    page_title=lbv.PAGE_TITLE
                    if page.number == 1
                    else f"{lbv.PAGE_TITLE}, ranks {page.first:,} to {page.last:,}",
                    canonical_path=page.canonical,
                    lb=board,
                    ranking=board.current,
                    page=page,
                    pages=pages,
                    lists=lbv.side_lists(rows) if page.number == 1 else None,
                    on_site=lbv.site_packages(rows, numbers) if page.number == 1 else [],
                    since=since,
                    compared=[words for _, words in since],
                    pages_href=pages_href,
                    peak_days=lbv.PEAK_DAYS,
                    anomaly_share=lbv.ANOMALY_SHARE,
                ),
            ),
        )
    writer.write(layout.LEADERBOARD_CSV, lbv.leaderboard_csv(board))
    writer.write(layout.LEADERBOARD_JSON, lbv.leaderboard_json(board))


# -- everything but the packages ---------------------------------------------------------------------
def write_site_pages(
    site: SiteData,
    writer: SiteWriter,
    render_unit: Callable[[str], bool] = lambda unit: True,
) -> None:
    """The index, content, cost and 404 pages and the static files, for each unit `render_unit` accepts."""
    env = environment()
    if render_unit(layout.STATIC_UNIT):
        for name in layout.STATIC_FILES:
            writer.write(name, (resources.templates() / "static" / name).read_bytes())
    if render_unit(layout.INDEX_UNIT):
        write_index(env, site, writer)
    if site.leaderboard is not None and render_unit(LEADERBOARD_UNIT):
        write_leaderboard(env, site, writer)
    for name in render.CONTENT_PAGES:
        if not render_unit(layout.page_unit(name)):
            continue
        title, html = render.markdown_page(name, site)
        path = layout.content_page(name)
        writer.write(
            path,
            render.render_page(
                env,
                "content.html",
                path,
                render.ContentContext(site=site, root="", page_title=title, canonical_path=path, body=html),
            ),
        )
    if render_unit(layout.COST_UNIT):
        cost_tables = figures.cost_tables(site)
        writer.write(
            layout.COST_PAGE,
            render.render_page(
                env,
                "cost.html",
                layout.COST_PAGE,
                render.CostContext(
                    site=site, root="", page_title="Cost", canonical_path=layout.COST_PAGE, cost_tables=cost_tables
                ),
            ),
        )
        for table in cost_tables:
            writer.write(layout.cost_table(table.id), table_csv(table))
    if render_unit(layout.NOT_FOUND.unit):
        writer.write(
            layout.NOT_FOUND_PAGE,
            render.render_page(
                env,
                "404.html",
                layout.NOT_FOUND_PAGE,
                render.NotFoundContext(
                    site=site,
                    root=publishing.root_path(site),  # served at any depth: absolute, under the site's base path
                    page_title="Page not found",
                    canonical_path=layout.NOT_FOUND_PAGE,
                ),
            ),
        )


LEADERBOARD_UNIT = layout.LEADERBOARD_UNIT
"""The top/ pages and files: a unit of the build only when the site has a leaderboard."""
SITE_UNITS = (
    layout.STATIC_UNIT,
    layout.INDEX_UNIT,
    *(layout.page_unit(name) for name in render.CONTENT_PAGES),
    layout.COST_UNIT,
    layout.NOT_FOUND.unit,
)
"""The units besides packages, in writing order."""
