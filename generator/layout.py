"""The site's layout (contract: site URLs): the one module that spells where each output file lives.

Every path is relative to the site's root, and so is every link made from one, so the site works at a
domain root and under a sub-path (user.github.io/repo/). The layout:

- a package: `packages/<name>/index.html`, its tables as `packages/<name>/<table>.csv`, its social card
  `packages/<name>/og.png`, `data/<name>.json`, its pypistats.org-compatible API documents
  `api/packages/<name>/<document>`, its badges `badges/[<folder>/]<name>.{json,svg}`;
- the index `index.html`, above one page of packages its letter pages `packages-<letter>[-<n>].html`,
  and `search.json`;
- the content pages `<name>.html`, the cost page `cost.html` and its tables `cost-<table>.csv`, `404.html`;
- the leaderboard (when configured) in `top/`: `index.html`, `page-<n>.html`, `leaderboard.csv`, `leaderboard.json`;
- the static files, and the files of the whole site: `feed.xml`, `sitemap.xml`, `robots.txt`, the store
  export `data/store/`, `build-manifest.json`.

Each family of paths is a `Place`: a path template and the incremental build's unit that writes it. The
writers' paths are filled from the templates (a filled path that its template would not recognise is
refused), and `unit_of` recognises a path by the same templates, so a file and its unit cannot drift apart.
Pure: no I/O, and nothing from the rest of generator (every other module may import this one).
"""

from __future__ import annotations

import functools
import re
import string
from dataclasses import dataclass

# -- the units of an incremental build (generator.incremental) ---------------------------------------
SITE_UNIT = "site"
"""Files every build writes anew, and any file the layout does not know."""
INDEX_UNIT = "index"
COST_UNIT = "cost"
LEADERBOARD_UNIT = "leaderboard"
STATIC_UNIT = "static"
PACKAGE_UNIT = "package:{project}"
PAGE_UNIT = "page:{page}"


def package_unit(project: str) -> str:
    return PACKAGE_UNIT.format(project=project)


def page_unit(page: str) -> str:
    return PAGE_UNIT.format(page=page)


# -- file names -------------------------------------------------------------------------------------
INDEX_PAGE = "index.html"
"""The site's front page, and the page of each folder that has one (a package's, top/)."""
INDEX_URL = ""
"""The front page's canonical URL: the site's root."""
SOCIAL_CARD = "og.png"
"""A package's og:image, beside its page."""
CSV = ".csv"
API_URL = "api/"
"""What pypistats' client takes as BASE_URL: it reads `<BASE_URL>packages/<name>/<endpoint>`."""
API_EXTENSION = ".json"
"""Each endpoint's document is also written with it, for hosts that type files by extension."""
BADGE_FORMATS = ("json", "svg")
"""shields.io's endpoint document, and a static SVG."""
SEARCH_INDEX = "search.json"
COST_PAGE = "cost.html"
NOT_FOUND_PAGE = "404.html"
STYLESHEET = "style.css"
ICON = "favicon.svg"
STATIC_FILES = (STYLESHEET, ICON)
"""Copied from templates/static/ as they are."""
FEED = "feed.xml"
SITEMAP = "sitemap.xml"
ROBOTS = "robots.txt"
BUILD_MANIFEST = "build-manifest.json"
STORE_EXPORT_DIR = "data/store"
"""The store's data export, from which CI restores the store when its cache is gone."""
TOP_DIR = "top"
TOP_CSV = "leaderboard.csv"
TOP_JSON = "leaderboard.json"
"""The leaderboard's rows, in top/ (the names its pages link)."""
LEADERBOARD_CSV = f"{TOP_DIR}/{TOP_CSV}"
LEADERBOARD_JSON = f"{TOP_DIR}/{TOP_JSON}"

FIELDS = {
    "project": r"[^/]+",
    "file": r".+",
    "document": r".+",
    "folder": r"[^/]+",
    "format": "|".join(BADGE_FORMATS),
    "group": r"[a-z]|0-9",
    "number": r"[0-9]+",
    "page": r"[^/]+",
    "table": r"cost-[^/]+",
    "static": "|".join(re.escape(name) for name in STATIC_FILES),
}
"""What each template field matches: a project is one path segment, an API document or a package's file any path."""
_FIELD_REGEX = {name: re.compile(pattern) for name, pattern in FIELDS.items()}


@dataclass(frozen=True)
class Place:
    """A family of output paths: its template (fields in braces, see FIELDS) and the unit that writes them."""

    template: str
    unit: str
    """The unit's key; may use the template's fields ("package:{project}")."""

    @functools.cached_property
    def fields(self) -> tuple[str, ...]:
        return tuple(name for _, name, _, _ in string.Formatter().parse(self.template) if name)

    def pattern(self, prefix: str = "") -> str:
        """A regular expression for its paths; each field a named group (`prefix` + its name)."""
        out = ""
        for literal, name, _, _ in string.Formatter().parse(self.template):
            out += re.escape(literal)
            if name:
                out += f"(?P<{prefix}{name}>{FIELDS[name]})"
        return out

    @functools.cached_property
    def _regex(self) -> re.Pattern[str]:
        return re.compile(self.pattern())

    def match(self, path: str) -> dict[str, str] | None:
        """The fields of `path` when it is one of this place's, else None."""
        found = self._regex.fullmatch(path)
        return None if found is None else found.groupdict()

    def path(self, **fields: object) -> str:
        """The path with `fields` filled in; refused when a field is not what the template recognises there."""
        path = self.template.format(**fields)
        for name in self.fields:
            if not _FIELD_REGEX[name].fullmatch(str(fields[name])):
                raise ValueError(f"{path!r} is not a path of the form {self.template!r}: {name} {fields[name]!r}")
        return path


# The places, in the order unit_of tries them: the first that matches names the unit.
PACKAGE_DIR = "packages/{project}/"
"""A package's folder, which is also its page's canonical URL."""
PACKAGE_FILE = Place(PACKAGE_DIR + "{file}", PACKAGE_UNIT)
PACKAGE_DATA = Place("data/{project}.json", PACKAGE_UNIT)
API_DOCUMENT = Place(API_URL + "packages/{project}/{document}", PACKAGE_UNIT)
BADGE = Place("badges/{project}.{format}", PACKAGE_UNIT)
"""The honest number's badge; the other figures' are in a folder each (`BADGE_IN_FOLDER`)."""
BADGE_IN_FOLDER = Place("badges/{folder}/{project}.{format}", PACKAGE_UNIT)
TOP_FILE = Place(TOP_DIR + "/{file}", LEADERBOARD_UNIT)
STORE_EXPORT_FILE = Place(STORE_EXPORT_DIR + "/{file}", SITE_UNIT)
INDEX = Place(INDEX_PAGE, INDEX_UNIT)
LETTER_PAGE = Place("packages-{group}.html", INDEX_UNIT)
LETTER_PAGE_N = Place("packages-{group}-{number}.html", INDEX_UNIT)
SEARCH = Place(SEARCH_INDEX, INDEX_UNIT)
COST = Place(COST_PAGE, COST_UNIT)
COST_TABLE = Place("{table}" + CSV, COST_UNIT)
NOT_FOUND = Place(NOT_FOUND_PAGE, page_unit("404"))
CONTENT_PAGE = Place("{page}.html", PAGE_UNIT)
STATIC = Place("{static}", STATIC_UNIT)
SITE_FILES = tuple(Place(name, SITE_UNIT) for name in (FEED, SITEMAP, ROBOTS, BUILD_MANIFEST))

PLACES: tuple[Place, ...] = (
    PACKAGE_FILE,
    PACKAGE_DATA,
    API_DOCUMENT,
    BADGE,
    BADGE_IN_FOLDER,
    TOP_FILE,
    STORE_EXPORT_FILE,
    INDEX,
    LETTER_PAGE,
    LETTER_PAGE_N,
    SEARCH,
    COST,
    COST_TABLE,
    NOT_FOUND,
    CONTENT_PAGE,
    STATIC,
    *SITE_FILES,
)


# -- a package --------------------------------------------------------------------------------------
def package_url(project: str) -> str:
    """Its page's canonical URL (the folder): what the sitemap, the feed, search.json and canonical links name."""
    return PACKAGE_DIR.format(project=project)


def package_file(project: str, name: str) -> str:
    """A file beside its page."""
    return PACKAGE_FILE.path(project=project, file=name)


def package_page(project: str) -> str:
    return package_file(project, INDEX_PAGE)


def csv_file(table: str) -> str:
    """A table's CSV file, beside the page that shows it (and the name the page links)."""
    return table + CSV


def package_table(project: str, table: str) -> str:
    return package_file(project, csv_file(table))


def social_card(project: str) -> str:
    return package_file(project, SOCIAL_CARD)


def package_data(project: str) -> str:
    """Everything its page shows, as one JSON document."""
    return PACKAGE_DATA.path(project=project)


def api_document(project: str, document: str, extension: str = "") -> str:
    """An API document: an endpoint ("overall") or a query-string variant's path ("mirrors/true/overall")."""
    return API_DOCUMENT.path(project=project, document=document + extension)


def badge(project: str, folder: str, fmt: str) -> str:
    """A badge file; folder "" is the honest number's, in badges/ itself."""
    if folder:
        return BADGE_IN_FOLDER.path(folder=folder, project=project, format=fmt)
    return BADGE.path(project=project, format=fmt)


# -- the index and the pages of the site ------------------------------------------------------------
def letter_page(group: str, number: int = 1) -> str:
    """The index page of the packages starting with `group` ("a".."z", "0-9"), its `number`th page."""
    if number == 1:
        return LETTER_PAGE.path(group=group)
    return LETTER_PAGE_N.path(group=group, number=number)


def content_page(name: str) -> str:
    """A page made from content/<name>.md; also its canonical URL."""
    return CONTENT_PAGE.path(page=name)


def content_link(name: str, anchor: str) -> str:
    """A section of a content page ("methodology.html#rule-raw"), relative to the site's root."""
    return f"{content_page(name)}#{anchor}"


def cost_table(table: str) -> str:
    """A cost page's table as CSV, beside it (its id starts with "cost-")."""
    return COST_TABLE.path(table=table)


# -- the leaderboard --------------------------------------------------------------------------------
def top_file(number: int) -> str:
    """A top/ page's file name inside top/ (its link from another top/ page): index.html, then page-<n>.html."""
    return INDEX_PAGE if number == 1 else f"page-{number}.html"


def top_page(number: int) -> str:
    """top/index.html for the first ranks, then top/page-2.html, top/page-3.html, …"""
    return TOP_FILE.path(file=top_file(number))


def top_url(number: int) -> str:
    """A top/ page's canonical (and sitemap) URL: top/ for the first page."""
    return f"{TOP_DIR}/" if number == 1 else top_page(number)


# -- the files of the whole site --------------------------------------------------------------------
def store_export_file(name: str) -> str:
    return STORE_EXPORT_FILE.path(file=name)


def is_site_file(rel: str) -> bool:
    """A file every build writes that belongs to no unit: the feed, the sitemap, robots.txt, the
    manifest and the store export."""
    return any(p.match(rel) is not None for p in (*SITE_FILES, STORE_EXPORT_FILE))


# -- which unit writes a path -----------------------------------------------------------------------
def _recogniser() -> tuple[re.Pattern[str], dict[str, tuple[Place, tuple[tuple[str, str], ...]]]]:
    """One expression for every place (one match per path, in PLACES order) and, by its group, each place's fields."""
    branches = []
    by_group = {}
    for i, place in enumerate(PLACES):
        prefix = f"p{i}_"
        branches.append(f"(?P<p{i}>{place.pattern(prefix)})")
        by_group[f"p{i}"] = (place, tuple((prefix + name, name) for name in place.fields))
    return re.compile("|".join(branches)), by_group


_RECOGNISE, _BY_GROUP = _recogniser()


def unit_of(rel: str) -> str:
    """The unit that writes `rel` (a site path); SITE_UNIT for files every build regenerates, or unknown."""
    match = _RECOGNISE.fullmatch(rel)
    if match is None or match.lastgroup is None:
        return SITE_UNIT
    place, fields = _BY_GROUP[match.lastgroup]
    return place.unit.format(**{name: match.group(group) for group, name in fields})
