"""Render: pages → HTML and JSON, through Jinja2 (autoescape on).

The Jinja environment and its formatting filters, the Markdown content pages, each template's
context, and a package's JSON document. Numbers are computed in `analysis`; the tables and charts
a page shows are arranged in `generator.figures` and `generator.questions` (the table model in
`generator.tables`); templates format and escape. Files go to a `SiteWriter`, which publishes the
whole site at once (see `generator.sitewriter`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import pickle
import re
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict

import jinja2
import jinja2.bccache
import markdown

from generator import (
    __version__,
    analysis,
    api,
    categories,
    layout,
    leaderboard_view,
    othersites,
    resources,
    usercache,
    vocabulary,
)
from generator.analysis import PackageReport
from generator.errors import RenderError
from generator.figures import (
    Figure,
    breakdown_figures,
    cross_check_figures,
    installers_table,
    matrix_table,
    mirror_figures,
    sources_table,
    sparkline_chart,
    timeseries_figure,
    waterfall_figure,
    windows_table,
)
from generator.leaderboard_view import PageRank
from generator.pages import PackagePage, SiteData
from generator.questions import Question, python_question, upgrade_question
from generator.tables import Table, clean_text, fmt_cell, fmt_day, fmt_int, fmt_pct, fmt_signed

if TYPE_CHECKING:  # for annotations only: charts (vl-convert) and headline are imported where they are used
    from generator.drawing import Chart
    from generator.headline import FirstScreen, Matrix

MARKDOWN_EXTENSIONS = ["tables", "fenced_code", "toc", "attr_list", "footnotes"]
MAPPING_MARKER = "<!-- installer-mapping -->"
VOCABULARY_MARKER = "<!-- vocabulary -->"
OTHER_SITES_MARKER = "<!-- other-sites -->"
LEADERBOARD_EXCLUSIONS_MARKER = "<!-- leaderboard-exclusions -->"
LEADERBOARD_DATA_MARKER = "<!-- leaderboard-data -->"
CONTENT_PAGES = ("methodology", "glossary", "faq", "about")


class _KeptTemplates(jinja2.FileSystemBytecodeCache):
    """Jinja's compiled templates, kept in the user's cache folder (generator.usercache): each process that
    renders pages compiles a dozen templates, about 0.1 s, and reads them back in a few milliseconds.

    Jinja checks each kept template against its source text and the Python version. The folder is named
    by this module (the environment's options are set here) and Jinja's version. A cache that cannot be
    read or written is skipped."""

    def __init__(self) -> None:
        env_key = usercache.digest(Path(__file__).read_bytes(), metadata.version("jinja2"))
        super().__init__(str(usercache.folder() / f"templates-{env_key}"))

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        try:
            super().load_bytecode(bucket)
        except (OSError, ValueError, EOFError, TypeError, pickle.UnpicklingError):
            bucket.reset()  # not a kept template: compiled again

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        with contextlib.suppress(OSError):
            os.makedirs(self.directory, exist_ok=True)
            super().dump_bytecode(bucket)


def environment() -> jinja2.Environment:
    """The Jinja2 environment: autoescape on everywhere, undefined names are errors."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(resources.templates())),
        bytecode_cache=_KeptTemplates(),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(num=fmt_int, signed=fmt_signed, pct=fmt_pct, day=fmt_day, cell=fmt_cell, clean=clean_text)
    env.globals.update(category_labels=categories.CATEGORY_LABELS, generator_version=__version__, zip=zip)
    return env


def markdown_page(name: str, site: SiteData | None = None) -> tuple[str, str]:
    """(title, html) of content/<name>.md; the methodology's markers become the tables and lists they name."""
    path = resources.content() / f"{name}.md"
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RenderError(f"{path}: cannot read content page ({exc.strerror})") from None
    text = text.replace(MAPPING_MARKER, installer_mapping_markdown())
    text = text.replace(VOCABULARY_MARKER, vocabulary.markdown())
    text = text.replace(OTHER_SITES_MARKER, othersites.markdown())
    text = text.replace(LEADERBOARD_EXCLUSIONS_MARKER, leaderboard_view.exclusions_markdown())
    text = text.replace(LEADERBOARD_DATA_MARKER, leaderboard_view.data_markdown(site.leaderboard if site else None))
    md = markdown.Markdown(extensions=MARKDOWN_EXTENSIONS)
    html = md.convert(text)
    title_match = re.search(r"^#\s+(.+?)(\s*\{[^}]*\})?\s*$", text, re.MULTILINE)
    return (title_match.group(1) if title_match else name.title()), html


def installer_mapping_markdown() -> str:
    """The installer → category mapping as a Markdown table (one source of truth: categories.py)."""
    lines = [
        "| Installer | Category | pypistats.org mirror? | Why |",
        "|---|---|---|---|",
    ]
    for i in categories.INSTALLERS:
        mirror = "yes" if i.name in categories.PYPISTATS_MIRRORS else "no"
        lines.append(f"| `{i.name}` | {categories.CATEGORY_LABELS[i.category]} | {mirror} | {i.why} |")
    lines.append(
        f"| NULL | {categories.CATEGORY_LABELS[categories.UNKNOWN]} | yes (dropped from without-mirrors)"
        " | the user agent could not be parsed |"
    )
    lines.append(
        f"| any other name | {categories.CATEGORY_LABELS[categories.OTHER]} | no | listed by name on each page |"
    )
    return "\n".join(lines)


# The page's sections, in order, for its contents list: (anchor, title).
SECTIONS: tuple[tuple[str, str], ...] = (
    ("waterfall-h", "From all downloads to the honest number"),
    ("sources-h", "Every source, rule by rule"),
    ("daily-h", "The honest number over time"),
    ("python-h", "Can I drop an old Python version?"),
    ("upgrade-h", "Are users upgrading?"),
    ("installers-h", "Installers"),
    ("mirrors-h", "Mirrors and releases"),
    ("breakdowns-h", "Who installs it"),
    ("cross-check-h", "Cross-check between sources"),
    ("freshness-h", "Data freshness"),
    ("badges-h", "Badges and data"),
)


QUESTION_IDS = frozenset({"python-h", "upgrade-h"})


class PackageFigures(TypedDict):
    """A package page's figures, by the name package.html reads them under (`figures.daily`)."""

    waterfall: Figure
    mirrors: list[Figure]
    breakdowns: list[Figure]
    daily: Figure
    cross_checks: list[Figure]


class PageContext(TypedDict):
    """What base.html reads on every page; each template's context adds its own names to these."""

    site: SiteData
    root: str
    """The way back to the site's root from the page ("", "../", "../../"; absolute on 404.html)."""
    page_title: str
    canonical_path: str


class ContentContext(PageContext):
    """content.html: a Markdown page (methodology, glossary, FAQ, about), as HTML."""

    body: str


class CostContext(PageContext):
    """cost.html: the cost page's tables, each also written as CSV."""

    cost_tables: list[Table]


NotFoundContext = PageContext
"""404.html reads only what every page does."""


class PackageContext(PageContext):
    """The names package.html reads: `package_context` makes them, `render_package` passes them."""

    page: PackagePage
    report: PackageReport
    figures: PackageFigures
    sources: Table
    first: FirstScreen
    matrix: Matrix
    windows: Table
    rule_names: dict[str, str]
    spark: Chart | None
    has_card: bool
    sections: list[tuple[str, str]]
    questions: list[Question]
    installers: Table
    tables: list[Table]
    """Every table the page shows, each also written as CSV beside it."""
    top_n: int
    api_endpoints: tuple[str, ...]
    source_title: str
    lb_rank: PageRank | None
    """The package's line on the leaderboard, when the site has one and the package is in its top N."""


def package_context(page: PackagePage, site: SiteData) -> PackageContext:
    from generator import headline
    from generator.sources import source_title

    report = page.report
    figures: PackageFigures = {
        "waterfall": waterfall_figure(report),
        "mirrors": mirror_figures(report),
        "breakdowns": breakdown_figures(report),
        "daily": timeseries_figure(report),
        "cross_checks": cross_check_figures(report),
    }
    sources = sources_table(report)
    matrix = headline.matrix(report)
    windows = windows_table(report)
    tables = [
        matrix_table(matrix),
        windows,
        sources,
        installers_table(report),
        figures["waterfall"].table,
        figures["daily"].table,
        *[f.table for f in figures["mirrors"]],
        *[f.table for f in figures["breakdowns"] if not f.unavailable],
        *[f.table for f in figures["cross_checks"]],
    ]
    questions = [q for q in (python_question(report), upgrade_question(report)) if q is not None]
    tables += [q.table for q in questions]
    asked = {q.id for q in questions}
    sections = [
        (anchor, figures["waterfall"].title if anchor == "waterfall-h" else title)  # it names the population
        for anchor, title in SECTIONS
        if (anchor != "cross-check-h" or figures["cross_checks"]) and (anchor not in QUESTION_IDS or anchor in asked)
    ]
    spark = sparkline_chart(report)
    return {
        "site": site,
        "page": page,
        "report": report,
        "figures": figures,
        "sources": sources,
        "first": headline.first_screen(report, page.before_store),
        "matrix": matrix,
        "windows": windows,
        "rule_names": analysis.RULES,
        "spark": spark,
        "has_card": spark is not None,  # the og:image is drawn from the same values (social_card)
        "sections": sections,
        "questions": questions,
        "installers": installers_table(report),
        "tables": tables,
        "top_n": analysis.TOP_N,
        "api_endpoints": api.ENDPOINTS,
        "root": "../../",
        "lb_rank": leaderboard_view.rank_of(site.leaderboard, report.project),
        "source_title": source_title(report.source or site.source),
        "page_title": f"{report.project} downloads",
        "canonical_path": layout.package_url(report.project),
    }


def render_package(env: jinja2.Environment, page: PackagePage, site: SiteData) -> tuple[str, list[Table]]:
    """The package page's HTML and the tables to write as CSV beside it."""
    ctx = package_context(page, site)
    try:
        html = env.get_template("package.html").render(**ctx)
    except jinja2.TemplateError as exc:
        raise RenderError(f"{layout.package_page(page.report.project)}: {exc}") from None
    return html, ctx["tables"]


def render_page(env: jinja2.Environment, template: str, out_name: str, ctx: PageContext) -> str:
    """`template` rendered with `ctx` (its template's context type); errors name `out_name`."""
    try:
        return env.get_template(template).render(**ctx)
    except jinja2.TemplateError as exc:
        raise RenderError(f"{out_name}: {exc}") from None


def package_json(page: PackagePage, tables: Sequence[Table]) -> str:
    """Everything the page shows, as one JSON document (data/<name>.json)."""
    r = page.report
    doc = {
        "project": r.project,
        "as_of": r.as_of.isoformat(),
        "honest_30_days": r.honest,
        "ci_flagged_30_days": r.ci,
        "raw_30_days": r.raw_30,
        "windows": {w.key: w.counts for w in r.windows},
        "sources": [
            {
                "key": f.key,
                "name": f.name,
                "window": f.window_label,
                "downloads": f.value,
                "difference": f.delta,
                "missing_days": f.missing_days,
                "rules": [
                    {"rule": x.rule, "label": x.label, "count": x.count, "parts": [list(p) for p in x.parts]}
                    for x in f.rules
                ],
            }
            for f in r.figures
        ],
        "tables": {
            t.id: {"caption": t.caption, "columns": [c.label for c in t.columns], "rows": [list(row) for row in t.rows]}
            for t in tables
        },
        "missing_days": [d.isoformat() for d in r.freshness.missing],
        "days_held": [{"window": label, **c.to_json(), "days": c.days} for label, c in r.freshness.windows],
    }
    if r.source:
        doc["source"] = r.source
    if r.limits:
        doc["not_available_from_source"] = list(r.limits)
    return _json_lines(doc, depth=2) + "\n"


def _json_lines(doc: dict[str, Any], depth: int) -> str:
    """`doc` as JSON with each key of its first `depth` levels on a line of its own (each table is a line).

    A line a key keeps a published file's diff small from one day to the next. Strings are cleaned
    of control and bidi characters (`clean_text`): the encoded text shows whether any string has one
    (as an escape), so a clean document, the common one, is not walked string by string.
    """
    text = _lines(doc, depth)
    if _ENCODED_CONTROL.search(text):
        text = _lines(_clean_json(doc), depth)
    return text


def _lines(value: Any, depth: int, indent: str = "") -> str:
    if depth and isinstance(value, dict) and value:
        inner = indent + " "
        lines = ",\n".join(f"{inner}{_ENCODE(key)}: {_lines(item, depth - 1, inner)}" for key, item in value.items())
        return "{\n" + lines + "\n" + indent + "}"
    return _ENCODE(value)


def _clean_json(value: Any) -> Any:
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        return {k: _clean_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean_json(v) for v in value]
    return value


def _json_default(value: Any) -> Any:
    if isinstance(value, dt.date):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


_ENCODE = json.JSONEncoder(ensure_ascii=True, separators=(",", ":"), default=_json_default).encode
"""Compact JSON by the C encoder: Python's own encoder, which `indent` needs, took 4 ms a page."""
_ENCODED_CONTROL = re.compile(
    r"\\u00[01][0-9a-fA-F]|\\u007[fF]|\\u00[89][0-9a-fA-F]|\\u061[cC]|\\u20[0-6][0-9a-fA-F]|\\[bf]"
)
"""What a character `clean_text` strips looks like in ASCII JSON (and a few harmless look-alikes)."""
