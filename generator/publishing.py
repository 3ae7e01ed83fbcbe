"""Publishing: the machine-readable and crawler files of a site, and the store's data export.

`write_all(site, writer)` runs at the end of the build, from a complete SiteData (its feed history and
store export gathered by build.build while the store was open): it writes `badges/...`, `feed.xml`,
`sitemap.xml`, `robots.txt` and `data/store/*` (the export from which CI restores the store when its
cache is gone). It reads nothing back.

The static API (`api/packages/<name>/...`) is made with each package's page, in the page workers
(generator.parallel, generator.api.documents_for): one place, from the rows the page reads.

`restore_store` and `export_store_to` back the CLI's `restore-store` and `export-store`.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

from generator import badges, feeds, layout, leaderboard_view, render
from generator import store as store_module
from generator.errors import StoreError
from generator.pages import SiteData
from generator.sitewriter import SiteWriter
from generator.store import Store, open_store, store_lock

BASE_URL_ENV = "PYPI_STATS_BASE_URL"
"""Used when [site].base_url is empty: CI sets it to the address the site is deployed at."""
EXPORT_TABLES = store_module.EXPORT_TABLES
"""The tables every export holds; store_module.OPTIONAL_EXPORT_TABLES are restored when the manifest lists them."""
MANIFEST = "manifest.json"
EXPORT_FORMAT = "pypi-stats-site store export"
DOWNLOAD_TIMEOUT = 120


def normalize_base_url(url: str) -> str:
    url = url.strip()
    return url if not url or url.endswith("/") else url + "/"


def env_base_url() -> str:
    """$PYPI_STATS_BASE_URL when it is an absolute http(s) URL, else empty."""
    url = os.environ.get(BASE_URL_ENV, "").strip()
    return url if urlsplit(url).scheme in ("http", "https") and urlsplit(url).netloc else ""


def root_path(site: SiteData) -> str:
    """The site's root as an absolute path ("/" or "/repo/"), for pages served at any depth (404.html)."""
    path = urlsplit(site.base_url).path if site.base_url else "/"
    return path if path.endswith("/") else path + "/"


# -- writing the site ------------------------------------------------------------------------------
def sitemap_paths(site: SiteData) -> list[str]:
    """Every page's canonical path (the same paths as the pages' canonical links)."""
    pages = [layout.INDEX_URL, *(layout.content_page(name) for name in render.CONTENT_PAGES), layout.COST_PAGE]
    if site.leaderboard is not None:
        count = leaderboard_view.page_count(len(site.leaderboard.current.rows))
        pages += [layout.top_url(n) for n in range(1, count + 1)]
    return pages + [layout.package_url(p.report.project) for p in site.packages]


def write_all(site: SiteData, writer: SiteWriter) -> None:
    """Write the badges, feed, sitemap, robots.txt and the store export into `writer`."""
    for page in site.packages:
        project = page.report.project
        figures = {f.key: f.value for f in page.report.figures}
        words = page.report.population
        for path, text in badges.package_badges(project, figures, site.synthetic, words, page.report.coverage).items():
            writer.write(path, text)
    threshold = site.change_threshold
    history = site.honest_history
    writer.write(
        layout.FEED,
        feeds.atom(
            site.title,
            site.base_url,
            site.as_of,
            feeds.changes(history, threshold),
            threshold,
            site.synthetic,
            population=site.population,
        ),
    )
    if site.base_url:
        writer.write(layout.SITEMAP, feeds.sitemap(site.base_url, sitemap_paths(site), site.as_of))
    writer.write(layout.ROBOTS, feeds.robots(site.base_url))
    for name, data in site.store_export.items():
        writer.write(layout.store_export_file(name), data)


# -- the store's data export -----------------------------------------------------------------------
LATE_TABLES = ("meta",)
"""Tables the build still writes once its pages start rendering (the feed's history is kept in meta after
them): exported last. Nothing writes the others then, as the build holds the store's writer lock."""
AGGREGATES_BY_MONTH = "by month"
"""The manifest's `aggregates`: the aggregates table is a file a calendar month (MONTH_FILE); an export
without it (written before the month files) has them in one `aggregates.parquet`."""
MONTH_FILE = re.compile(r"aggregates-(\d{4}-\d{2})\.parquet")


def month_file(month: str) -> str:
    return f"aggregates-{month}.parquet"


class StoreExport:
    """The store's data export (Parquet files and a manifest), written while the build goes on.

    A second connection exports every table but LATE_TABLES in a thread from the moment this is made:
    DuckDB works outside Python's lock, so the pages render meanwhile. `files()` then exports LATE_TABLES
    on the build's connection and returns the files. Use it as a context manager: leaving it stops an
    unfinished export and removes its temporary folder.

    The aggregates, most of the store, are a file a calendar month, each listed in the manifest with a
    digest of its rows (Store.aggregate_months). A month whose digest is the one `previous` (the last
    export: the live site's data/store/) lists is that export's file, unchanged: a day of new rows
    rewrites one month, not half a year, and a deploy uploads only that file.
    """

    def __init__(self, store: Store, previous: Path | None = None) -> None:
        self._store = store
        self._folder = Path(tempfile.mkdtemp(prefix="store-export-"))
        self._reader = store.reader()
        self._reused: dict[str, bytes] = {}
        """Month files taken from the previous export, unchanged: name → bytes."""
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="store-export")
        self._early = self._pool.submit(self._export_early, previous)

    def __enter__(self) -> StoreExport:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _export_early(self, previous: Path | None) -> dict[str, dict[str, Any]]:
        """Every table but LATE_TABLES into the folder; returns the month files' manifest entries."""
        early = [t for t in (*EXPORT_TABLES, *store_module.OPTIONAL_EXPORT_TABLES) if t not in LATE_TABLES]
        self._reader.export_parquet(self._folder, early)
        kept = _previous_months(previous)
        months: dict[str, dict[str, Any]] = {}
        for month, rows in self._reader.aggregate_months().items():
            name = month_file(month)
            same = kept.get(name)
            if same is not None and same[0]["rows"] == rows:
                self._reused[name] = same[1]
            else:
                self._reader.export_month(month, self._folder / name)
            months[name] = {"rows": rows}
        return months

    def wait(self) -> dict[str, dict[str, Any]]:
        """Wait until every table but LATE_TABLES is written; returns the month files' manifest entries."""
        return self._early.result()

    def files(self, as_of: str = "") -> dict[str, bytes]:
        """The export's files by name: each table's Parquet (the aggregates a file a month) and the manifest
        (each file's size and SHA-256; each month's digest of its rows)."""
        months = self.wait()
        self._store.export_parquet(self._folder, LATE_TABLES)
        order = [f"{t}.parquet" for t in (*EXPORT_TABLES, *store_module.OPTIONAL_EXPORT_TABLES) if t != "aggregates"]
        names = sorted(months) + [n for n in order if (self._folder / n).is_file()]
        files = {n: self._reused[n] if n in self._reused else (self._folder / n).read_bytes() for n in names}
        manifest = {
            "format": EXPORT_FORMAT,
            "aggregates": AGGREGATES_BY_MONTH,
            "schema_version": self._store.get_meta("schema_version"),
            "as_of": as_of,
            "synthetic": bool(self._store.get_meta("synthetic", False)),
            "files": {
                name: {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest(), **months.get(name, {})}
                for name, data in files.items()
            },
        }
        files[MANIFEST] = (json.dumps(manifest, indent=1, sort_keys=True) + "\n").encode()
        return files

    def close(self) -> None:
        if not self._early.done():
            self._reader.interrupt()  # a build stopped mid-render (an error, Ctrl-C) does not wait for the export
        self._pool.shutdown(wait=True)
        self._reader.close()
        shutil.rmtree(self._folder, ignore_errors=True)


def _previous_months(folder: Path | None) -> dict[str, tuple[dict[str, Any], bytes]]:
    """The month files of the export in `folder` whose bytes are what its manifest says: name → (its
    manifest entry, its bytes). Anything unreadable, damaged or of another layout counts as absent."""
    if folder is None:
        return {}
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        if manifest.get("format") != EXPORT_FORMAT or manifest.get("aggregates") != AGGREGATES_BY_MONTH:
            return {}
        kept = {}
        for name, entry in manifest["files"].items():
            if not (MONTH_FILE.fullmatch(name) and isinstance(entry, dict) and isinstance(entry.get("rows"), str)):
                continue
            path = folder / name
            if not path.is_file() or path.stat().st_size != entry.get("bytes"):
                continue
            data = path.read_bytes()
            if hashlib.sha256(data).hexdigest() == entry.get("sha256"):
                kept[name] = (entry, data)
        return kept
    except (OSError, ValueError, AttributeError, TypeError, KeyError):
        return {}


def export_files(store: Store, as_of: str = "", previous: Path | None = None) -> dict[str, bytes]:
    """The store as Parquet files plus a manifest with their sizes and SHA-256, by file name; the months
    `previous` (an earlier export's folder) holds unchanged are its files."""
    with StoreExport(store, previous) as export:
        return export.files(as_of)


def export_store_to(store: Store, directory: Path) -> dict[str, Any]:
    """Write the data export into `directory` (a month the export there holds unchanged is kept); returns
    the manifest."""
    files = export_files(store, previous=directory)
    directory.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (directory / name).write_bytes(data)
    manifest: dict[str, Any] = json.loads(files[MANIFEST])
    return manifest


def _fetch(source: str, name: str) -> bytes:
    """One file of an export, from a URL (http/https/file) or a local directory."""
    if urlsplit(source).scheme in ("http", "https", "file"):
        url = urljoin(source, name)
        request = urllib.request.Request(url, headers={"User-Agent": "pypi-stats-site restore-store"})
        try:
            with urllib.request.urlopen(request, timeout=DOWNLOAD_TIMEOUT) as response:  # noqa: S310 (scheme checked)
                data: bytes = response.read()
                return data
        except urllib.error.HTTPError as exc:
            raise StoreError(f"{url}: HTTP {exc.code}; no data export there") from None
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise StoreError(f"{url}: cannot download ({reason})") from None
    path = Path(source) / name
    try:
        return path.read_bytes()
    except OSError as exc:
        raise StoreError(f"{path}: cannot read the data export ({exc.strerror})") from None


def _has_data(path: Path) -> bool:
    if not path.exists():
        return False
    with open_store(path, read_only=True) as store:
        packages, *_ = store.holdings()
    return packages > 0


def restore_store(
    store_path: Path, source: str, *, force: bool = False, allow_synthetic: bool = False
) -> dict[str, Any]:
    """Fill an empty store from a data export (a site URL's data/store/ or a directory).

    Every file is checked against the manifest's size and SHA-256 before anything is written, and
    the store is built beside its final path and moved into place in one step: a failed restore
    leaves no half-filled store. A store that already holds data is refused unless `force`; an
    export of the synthetic demo (what a site publishes before it has credentials) unless
    `allow_synthetic`.
    """
    if urlsplit(source).scheme in ("http", "https", "file") and not source.endswith("/"):
        source += "/"
    try:
        manifest = json.loads(_fetch(source, MANIFEST))
    except json.JSONDecodeError:
        raise StoreError(f"{source}{MANIFEST}: not a data export manifest (bad JSON)") from None
    if not isinstance(manifest, dict) or manifest.get("format") != EXPORT_FORMAT:
        raise StoreError(f"{source}{MANIFEST}: not a {EXPORT_FORMAT}")
    if manifest.get("synthetic") and not allow_synthetic:
        raise StoreError(f"{source}: the export holds the synthetic demo's data, not real downloads; not restoring it")
    files = manifest.get("files") or {}
    by_month = manifest.get("aggregates") == AGGREGATES_BY_MONTH
    months = sorted(name for name in files if MONTH_FILE.fullmatch(name)) if by_month else []
    missing = [
        f"{t}.parquet" for t in EXPORT_TABLES if f"{t}.parquet" not in files and not (by_month and t == "aggregates")
    ]
    if missing:
        raise StoreError(f"{source}{MANIFEST}: lists no {', '.join(missing)}")
    store_path.parent.mkdir(parents=True, exist_ok=True)
    staging = store_path.with_name(store_path.name + ".restoring")
    # The lock every store writer takes (see store.open_store), held while the store is replaced.
    with store_lock(store_path), tempfile.TemporaryDirectory(prefix="store-restore-") as tmp:
        if not force and _has_data(store_path):
            raise StoreError(f"{store_path}: the store already holds data; pass --force to replace it")
        optional = [f"{t}.parquet" for t in store_module.OPTIONAL_EXPORT_TABLES if f"{t}.parquet" in files]
        tables = [f"{t}.parquet" for t in EXPORT_TABLES if not (by_month and t == "aggregates")]
        for name in [*tables, *months, *optional]:
            data = _fetch(source, name)
            want = files[name]
            if len(data) != want.get("bytes") or hashlib.sha256(data).hexdigest() != want.get("sha256"):
                raise StoreError(f"{source}{name}: size or SHA-256 differs from the manifest; the export is damaged")
            (Path(tmp) / name).write_bytes(data)
        _remove_store_files(staging)
        try:
            with open_store(staging) as store:
                store.load_export(Path(tmp))
                counts = store.holdings()
            os.replace(staging, store_path)
            wal = store_path.with_name(store_path.name + ".wal")
            if wal.exists():
                wal.unlink()
        finally:
            _remove_store_files(staging)
    return {
        "packages": counts[0],
        "days": counts[1],
        "first_day": counts[2],
        "last_day": counts[3],
        "as_of": manifest.get("as_of", ""),
    }


def _remove_store_files(path: Path) -> None:
    """A store file and its companions (.wal, .lock)."""
    for suffix in ("", ".wal", ".lock"):
        p = path.with_name(path.name + suffix)
        if p.exists():
            p.unlink()
