"""The site's file layout (contract: site URLs). Every link is relative, so the site works at a
domain root and under a sub-path such as user.github.io/repo/.

- index.html, methodology.html, glossary.html, faq.html, about.html, 404.html, style.css, favicon.svg
- packages/<name>/index.html, packages/<name>/<table>.csv
- data/<name>.json
- api/packages/<name>/..., badges/..., feed.xml, sitemap.xml, robots.txt, data/store/ (generator.publishing)
"""

from __future__ import annotations

from collections.abc import Callable

from generator import publishing, render
from generator.render import SiteData
from generator.sitewriter import SiteWriter

STATIC_FILES = ("style.css", "favicon.svg")


def _quiet(step: str, done: int, total: int) -> None:
    return None


def nav(root: str) -> list[tuple[str, str]]:
    return [
        (f"{root}index.html", "Packages"),
        (f"{root}methodology.html", "Methodology"),
        (f"{root}faq.html", "FAQ"),
        (f"{root}glossary.html", "Glossary"),
        (f"{root}cost.html", "Cost"),
        (f"{root}about.html", "About"),
    ]


def write_all(site: SiteData, writer: SiteWriter, progress: Callable[[str, int, int], None] = _quiet) -> None:
    """Render every page and data file of the site into `writer`."""
    env = render.environment()
    env.globals["nav"] = nav
    for name in STATIC_FILES:
        writer.write(name, (render.TEMPLATES_DIR / "static" / name).read_bytes())
    total = len(site.packages)
    for i, page in enumerate(site.packages):
        progress(f"Rendering {page.report.project}", i, total)
        write_package(env, site, page, writer)
    progress("Rendering site pages", total, total)
    writer.write(
        "index.html",
        render.render_page(
            env, "index.html", "index.html", site=site, root="", page_title=site.title, canonical_path=""
        ),
    )
    for name in render.CONTENT_PAGES:
        title, html = render.markdown_page(name)
        writer.write(
            f"{name}.html",
            render.render_page(
                env,
                "content.html",
                f"{name}.html",
                site=site,
                root="",
                page_title=title,
                body=html,
                canonical_path=f"{name}.html",
            ),
        )
    cost_tables = render.cost_tables(site)
    writer.write(
        "cost.html",
        render.render_page(
            env,
            "cost.html",
            "cost.html",
            site=site,
            root="",
            page_title="Cost",
            canonical_path="cost.html",
            cost_tables=cost_tables,
        ),
    )
    for table in cost_tables:
        writer.write(table.csv_name, render.table_csv(table))
    writer.write(
        "404.html",
        render.render_page(
            env,
            "404.html",
            "404.html",
            site=site,
            root=publishing.root_path(site),  # served at any depth: absolute, under the site's base path
            page_title="Page not found",
            canonical_path="404.html",
        ),
    )
    publishing.write_all(site, writer)  # API, badges, feed, sitemap, robots.txt, store export


def write_package(env, site: SiteData, page: render.PackagePage, writer: SiteWriter) -> None:  # noqa: ANN001
    project = page.report.project
    html, tables = render.render_package(env, page, site)
    base = f"packages/{project}"
    writer.write(f"{base}/index.html", html)
    for table in tables:
        writer.write(f"{base}/{table.csv_name}", render.table_csv(table))
    writer.write(f"data/{project}.json", render.package_json(page, tables))
