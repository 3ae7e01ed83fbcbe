"""Feeds and crawler files, pure functions: the Atom feed of notable changes, sitemap.xml, robots.txt.

The feed compares each build's honest 30-day numbers with the previous build's. The numbers of
past builds live in the store's meta table (key `HISTORY_KEY`), so they travel with the store
through the CI cache and the site's data export. A rebuild for the same as-of date replaces that
date's numbers, so the feed is a function of the history and nothing else: rebuilding gives the
same feed, byte for byte.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape

from generator import layout
from generator import population as populations
from generator.population import Population

HISTORY_KEY = "honest_history"
HISTORY_KEEP = 400
"""Builds remembered (one per as-of date)."""
FEED_ENTRIES = 50

History = dict[str, dict[str, int]]
"""as-of date (YYYY-MM-DD) → {package: honest 30-day number}."""


def remember(history: Mapping[str, Mapping[str, int]], as_of: dt.date, numbers: Mapping[str, int]) -> History:
    """The history with this build's numbers for `as_of` (replacing any earlier build for that date)."""
    out = {day: dict(values) for day, values in history.items()}
    out[as_of.isoformat()] = dict(numbers)
    for day in sorted(out)[:-HISTORY_KEEP]:
        del out[day]
    return out


@dataclass(frozen=True)
class Change:
    project: str
    as_of: dt.date
    previous_as_of: dt.date
    before: int
    after: int

    @property
    def share(self) -> float | None:
        """Relative move, or None when the previous number was zero."""
        return self.after / self.before - 1 if self.before else None

    @property
    def title(self) -> str:
        return self.title_for(populations.HONEST.badge)

    def title_for(self, noun: str) -> str:
        if self.share is None:
            return f"{self.project}: {noun} rose from 0 to {self.after:,}"
        direction = "up" if self.after > self.before else "down"
        return f"{self.project}: {noun} {direction} {abs(self.share):.0%} ({self.before:,} → {self.after:,})"


def changes(history: Mapping[str, Mapping[str, int]], threshold: float) -> list[Change]:
    """Every move of more than `threshold` (a share, e.g. 0.2) between consecutive builds, newest first."""
    days = sorted(history)
    out: list[Change] = []
    for prev, cur in zip(days, days[1:], strict=False):
        for project, after in history[cur].items():
            if project not in history[prev]:
                continue
            before = history[prev][project]
            moved = (abs(after / before - 1) > threshold) if before else after > 0
            if moved:
                out.append(Change(project, dt.date.fromisoformat(cur), dt.date.fromisoformat(prev), before, after))
    return sorted(out, key=lambda c: (-c.as_of.toordinal(), c.project))


def _stamp(day: dt.date) -> str:
    return f"{day.isoformat()}T00:00:00Z"


def _uuid_urn(*parts: str) -> str:
    return uuid.uuid5(uuid.NAMESPACE_URL, "pypi-stats-site:" + ":".join(parts)).urn


def atom(
    title: str,
    base_url: str,
    as_of: dt.date,
    entries: Sequence[Change],
    threshold: float,
    synthetic: bool = False,
    population: Population = populations.HONEST,
) -> str:
    """An Atom 1.0 feed (RFC 4287). Links are absolute under `base_url`, else relative to the feed.

    `population`: who the tracked number counts; a source without a CI flag includes CI installs,
    and the feed must not call its number honest.
    """
    base = base_url
    feed_title = f"{title}: notable changes"
    feed_id = f"{base}{layout.FEED}" if base else _uuid_urn("feed", title)
    updated = max([as_of, *(c.as_of for c in entries)])
    note = " Synthetic demo data: these numbers say nothing about real packages." if synthetic else ""
    lines = [
        '<?xml version="1.0" encoding="utf-8"?>',
        '<feed xmlns="http://www.w3.org/2005/Atom">',
        f"  <title>{escape(feed_title)}</title>",
        f"  <subtitle>{escape(_subtitle(threshold, population) + note)}</subtitle>",
        f"  <id>{escape(feed_id)}</id>",
        f'  <link rel="self" type="application/atom+xml" href="{escape(base)}{layout.FEED}"/>',
        f'  <link rel="alternate" type="text/html" href="{escape(base) or "./"}"/>',
        f"  <updated>{_stamp(updated)}</updated>",
        "  <author><name>pypi-stats-site</name></author>",
        "  <generator>pypi-stats-site</generator>",
    ]
    for c in entries[:FEED_ENTRIES]:
        href = f"{base}{layout.package_url(c.project)}"
        entry_id = f"{href}#change-{c.as_of.isoformat()}" if base else _uuid_urn("change", c.project, str(c.as_of))
        summary = (
            f"The {population.feed_definition} of {c.project}"
            f" was {c.before:,} in the report for {c.previous_as_of} and is {c.after:,} in the report for"
            f" {c.as_of}.{note}"
        )
        lines += [
            "  <entry>",
            f"    <title>{escape(c.title_for(population.badge))}</title>",
            f"    <id>{escape(entry_id)}</id>",
            f'    <link rel="alternate" type="text/html" href="{escape(href)}"/>',
            f"    <updated>{_stamp(c.as_of)}</updated>",
            f"    <summary>{escape(summary)}</summary>",
            "  </entry>",
        ]
    lines.append("</feed>")
    return "\n".join(lines) + "\n"


def _subtitle(threshold: float, population: Population) -> str:
    return f"Packages whose {population.feed_number} moved by more than {threshold:.0%} since the previous build."


def sitemap(base_url: str, paths: Iterable[str], lastmod: dt.date) -> str:
    """sitemap.xml (sitemaps.org 0.9): absolute URLs, so only when the site's address is known."""
    if not base_url:
        raise ValueError("a sitemap needs absolute URLs: set [site].base_url")
    urls = "".join(
        f"  <url><loc>{escape(base_url + p)}</loc><lastmod>{lastmod.isoformat()}</lastmod></url>\n" for p in paths
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n'
        f"{urls}</urlset>\n"
    )


def robots(base_url: str) -> str:
    """robots.txt: everything may be crawled; the sitemap's absolute URL when known.

    Crawlers read robots.txt only at a host's root, so under a sub-path (user.github.io/repo/)
    this file is informative only; the sitemap can be submitted to search engines directly.
    """
    text = "User-agent: *\nAllow: /\n"
    if base_url:
        text += f"Sitemap: {base_url}{layout.SITEMAP}\n"
    return text
