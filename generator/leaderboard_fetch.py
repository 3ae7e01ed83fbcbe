"""The leaderboard's data: ClickPy's counts for every project, ranked exactly, kept in the store, and the
`Leaderboard` the pages read.

What a build sends to ClickPy ([leaderboard].top = N, whatever [source].kind is; free, no key; never for
synthetic data, and never again for an as-of day whose ranking the store already keeps):
1. the coverage probe (queries/clickpy_coverage.sql): which of the days ending on the as-of date
   ClickPy holds. A window it has not fully loaded is never ranked as 30 days: the pages keep the
   last complete ranking and say why (Leaderboard.stale_note);
2. the candidates (queries/clickpy_leaderboard_candidates.sql): the top M = 2N projects by all
   downloads over the window, out of every project ClickPy holds, with their downloads rank;
3. the installer split of those candidates only (queries/clickpy_leaderboard_installers.sql), in
   batches of project names that keep each URL under BATCH_PARAM_BYTES;
4. only when the proof (generator.leaderboard_rank) says M was not enough: the next slice of
   candidates (OFFSET, never the same query twice) and its split, M doubling each time.
Every answer is checked for a silent cut (ClickHouse's max_result_rows with result_overflow_mode =
'break' ends a result early without an error): the candidates query returns how many projects it
ranked, and every batch must answer for every project in it.

Errors: a quota error, an unreachable ClickPy, a cut answer or tables that disagree leave the store's
rankings as they are: one warning line, the build goes on (exit 0), and the pages show the last
complete ranking with a note saying why, or no leaderboard when the store keeps none.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import math
import urllib.parse
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from generator import queries
from generator.config import Config
from generator.dates import Window
from generator.errors import SourceError
from generator.leaderboard import Leaderboard, Ranking
from generator.leaderboard_rank import (
    MIRRORS,
    PACKAGE_MANAGERS,
    Candidate,
    Proof,
    Split,
    by_downloads,
    latest_complete_end,
    peak,
    rank,
    settled,
    window,
)
from generator.sources import clickpy
from generator.store import Store

log = logging.getLogger(__name__)

CANDIDATES_QUERY = "clickpy_leaderboard_candidates"
INSTALLERS_QUERY = "clickpy_leaderboard_installers"
CANDIDATE_FACTOR = 2
"""M, the first number of candidates, is this many times N (installs are ~96% of downloads at the top)."""
MAX_CANDIDATE_FACTOR = 32
"""Widening stops at this many times N: past it, the build keeps the last ranking and says why."""
BATCH_PARAM_BYTES = 7_000
"""The URL-encoded project list of one installer query stays under this, so each URL fits the 8 KiB request
line that common proxies accept (nginx's default large_client_header_buffers; ClickHouse itself allows 1 MiB)."""
LOOKBACK_DAYS = 7
"""When ClickPy has not loaded the as-of day, the last complete window ending up to this many days earlier is
ranked (once) so that a first build still has a ranking to show, labelled as such."""
CHANGES = (1, 7)
"""Leaderboard.earlier: the rankings this many days before the current one, when the store keeps them."""
KEPT_DAYS = 35
"""Rankings older than this many days before a new one leave the store (and its published export): the rank
changes read 1 and 7 days back, and a month more is history enough, where keeping every day would add 20,000
rows a day at the largest top."""
SYNTHETIC_SOURCE = "synthetic demo events (not PyPI's packages)"
"""Ranking.source of a ranking made from the demo's synthetic events."""

RETRY: Any = None
"""Tests pass a RetryPolicy that does not sleep; None is ClickPy's own policy with ATTEMPTS attempts."""
ATTEMPTS = 3
CONNECT_SECONDS = 5.0
"""An unreachable ClickPy costs this once (a refused or dropped connection is not retried)."""
READ_SECONDS = 120.0
"""The candidates query reads the window's rows of every project: allow it time."""


@dataclass
class Outcome:
    """What the leaderboard step of one build did."""

    ranked: Ranking | None = None
    """A ranking made (and stored) by this build."""
    note: str = ""
    """Why the store has no complete ranking for the as-of day after this build ("" when it has)."""
    proof: Proof | None = None
    queries: int = 0
    read_rows: int = 0
    candidates: int = 0


# -- ClickPy ------------------------------------------------------------------------------------------
def service_url(cfg: Config) -> str:
    """[leaderboard].clickpy_url, else api_endpoint for kind clickpy, else $PYPI_STATS_CLICKPY_URL, else public."""
    configured = cfg.leaderboard.clickpy_url or (cfg.source.api_endpoint if cfg.source.kind == "clickpy" else "")
    return clickpy.service_url(configured)


def client(cfg: Config) -> clickpy.ClickHouseHTTP:
    return clickpy.ClickHouseHTTP(
        service_url(cfg),
        retry=RETRY or clickpy.RetryPolicy(max_attempts=ATTEMPTS),
        timeout=READ_SECONDS,
        connect_timeout=CONNECT_SECONDS,
        retry_unanswered=False,
    )


def source_label(url: str) -> str:
    return f"ClickPy ({url.rstrip('/')})"


def held_days(http: clickpy.ClickHouseHTTP, as_of: dt.date, today: dt.date) -> set[dt.date]:
    """The days ClickPy holds among the LOOKBACK_DAYS + 30 ending on `as_of` (never today or later)."""
    first, _ = window(as_of - dt.timedelta(days=LOOKBACK_DAYS))
    days = [first + dt.timedelta(days=i) for i in range((as_of - first).days + 1)]
    days = [d for d in days if d < today]
    if not days:
        return set()
    params = {"start": days[0], "end": days[-1], "days": days, "probes": list(clickpy.PROBE_PROJECTS)}
    rows = http.query(clickpy.COVERAGE_QUERY, queries.load(clickpy.COVERAGE_QUERY), params)
    return {dt.date.fromisoformat(str(r["day"])[:10]) for r in rows}


def candidates_slice(
    http: clickpy.ClickHouseHTTP, start: dt.date, end: dt.date, offset: int, limit: int
) -> tuple[list[Candidate], int]:
    """Projects offset+1 .. offset+limit of the ranking by downloads, and how many projects it ranks.

    Raises SourceError when the answer is not exactly the rows the ranking holds there (a silent cut).
    """
    params = {"start": start, "end": end, "offset": offset, "limit": limit}
    rows = http.query(CANDIDATES_QUERY, queries.load(CANDIDATES_QUERY), params)
    if not rows:
        if offset == 0:
            return [], 0
        raise SourceError(
            f"ClickPy answered no row for the leaderboard's candidates {offset + 1:,} to {offset + limit:,};"
            " the ranking cannot be proven exact"
        )
    total = int(rows[0]["projects"])
    expected = max(0, min(limit, total - offset))
    out = [Candidate(str(r["project"]), int(r["downloads"]), int(r["downloads_rank"])) for r in rows]
    in_order = all(c.downloads_rank == offset + i for i, c in enumerate(out, start=1))
    if len(out) != expected or not in_order or any(int(r["projects"]) != total for r in rows):
        raise SourceError(
            f"ClickPy's answer to the leaderboard's candidates query was cut short or out of order: {len(out):,}"
            f" rows where its ranking of {total:,} projects holds {expected:,} from {offset + 1:,} (ClickHouse's"
            " max_result_rows with result_overflow_mode = 'break' ends a result silently); no ranking is made"
            " from it"
        )
    return out, total


def batches(projects: Sequence[str], budget: int = BATCH_PARAM_BYTES) -> list[list[str]]:
    """`projects` in order, cut so that each batch's URL-encoded list stays under `budget` bytes."""
    out: list[list[str]] = []
    current: list[str] = []
    size = 2  # the brackets
    for project in projects:
        item = len(urllib.parse.quote(clickpy.format_param([project])[1:-1], safe="")) + 3  # and a comma
        if current and size + item > budget:
            out.append(current)
            current, size = [], 2
        current.append(project)
        size += item
    if current:
        out.append(current)
    return out


def splits_of(http: clickpy.ClickHouseHTTP, projects: Sequence[str], start: dt.date, end: dt.date) -> dict[str, Split]:
    """Each candidate's downloads split by installer category, one query per batch of names.

    Raises SourceError unless every batch answers exactly once for each of its projects.
    """
    out: dict[str, Split] = {}
    sql = queries.load(INSTALLERS_QUERY)
    # By name: the installer table is sorted by project first, so a batch of neighbouring names reads a few
    # runs of granules, where a batch in downloads order would touch granules all over the table.
    for batch in batches(sorted(projects)):
        params = {
            "projects": batch,
            "start": start,
            "end": end,
            "package_managers": list(PACKAGE_MANAGERS),
            "mirrors": list(MIRRORS),
        }
        rows = http.query(INSTALLERS_QUERY, sql, params)
        got = [str(r["project"]) for r in rows]
        if sorted(got) != sorted(batch):
            missing = sorted(set(batch) - set(got))
            raise SourceError(
                f"ClickPy's installer split answered for {len(got):,} of a batch of {len(batch):,} candidates"
                f" (missing e.g. {', '.join(missing[:3]) or 'none'}): the answer was cut short or its installer"
                " table lacks days its per-day table has; no ranking is made from it"
            )
        for r in rows:
            out[str(r["project"])] = Split(
                str(r["project"]),
                int(r["downloads"]),  # 64-bit integers may come quoted
                int(r["installs"]),
                int(r["mirrors"]),
                int(r["unknown"]),
                int(r["peak_days"]),
            )
    return out


def fetch_ranking(
    http: clickpy.ClickHouseHTTP,
    as_of: dt.date,
    top: int,
    *,
    source: str,
    first_candidates: int | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> tuple[Ranking, Proof, int]:
    """The exact top `top` by installs over the 30 days ending on `as_of`, the proof, and the candidates asked.

    Raises SourceError (ClickPy's errors, a cut answer, tables that disagree, or no proof within
    MAX_CANDIDATE_FACTOR x top candidates).
    """
    start, end = window(as_of)
    wanted = max(top, first_candidates or top * CANDIDATE_FACTOR)
    got: list[Candidate] = []
    splits: dict[str, Split] = {}
    total: int | None = None
    while True:
        if progress is not None:
            progress(f"Ranking PyPI's top {top:,} from ClickPy ({wanted:,} candidates)", len(got), wanted)
        more, seen = candidates_slice(http, start, end, offset=len(got), limit=wanted - len(got))
        if total is not None and seen != total:
            raise SourceError(
                f"ClickPy's number of projects changed from {total:,} to {seen:,} during the build (it was"
                " loading data); no ranking is made from it"
            )
        total = seen
        got += more
        splits.update(splits_of(http, [c.project for c in more], start, end))
        disagree = [c for c in more if splits[c.project].downloads != c.downloads]
        if disagree:
            c = disagree[0]
            raise SourceError(
                f"ClickPy's tables disagree on {len(disagree):,} project(s), e.g. {c.project}: {c.downloads:,}"
                f" downloads in its per-day table, {splits[c.project].downloads:,} in its installer table;"
                " the ranking cannot be proven exact"
            )
        proof = settled(got, splits, top, total)
        if proof.settled:
            break
        if wanted >= top * MAX_CANDIDATE_FACTOR:
            raise SourceError(
                f"the leaderboard could not be proven exact within {len(got):,} candidates ({proof.reason})"
            )
        wanted = min(max(wanted * 2, len(got) + 1), top * MAX_CANDIDATE_FACTOR)
    ranking = Ranking(
        as_of=as_of, window_start=start, data_through=end, source=source, top=top, rows=rank(got, splits, top)
    )
    return ranking, proof, len(got)


# -- synthetic data: the store's own rows -------------------------------------------------------------
def rank_from_store(store: Store, source_name: str, as_of: dt.date, top: int) -> Ranking:
    """The same ranking over every project the store holds for `source_name` (the demo's synthetic events)."""
    start, end = window(as_of)
    downloads: dict[str, int] = defaultdict(int)
    installs: dict[str, int] = defaultdict(int)
    mirrors: dict[str, int] = defaultdict(int)
    unknown: dict[str, int] = defaultdict(int)
    daily: dict[str, list[int]] = defaultdict(list)
    for project, _day, n, pm, mirror, nobody in store.category_days(
        source_name, Window(start, end), PACKAGE_MANAGERS, MIRRORS
    ):
        downloads[project] += n
        installs[project] += pm
        mirrors[project] += mirror
        unknown[project] += nobody
        daily[project].append(pm)
    candidates = by_downloads(downloads)
    splits = {p: Split(p, downloads[p], installs[p], mirrors[p], unknown[p], peak(daily[p])) for p in downloads}
    return Ranking(as_of, start, end, SYNTHETIC_SOURCE, top, rank(candidates, splits, top))


# -- the build's step -----------------------------------------------------------------------------------
def update(
    cfg: Config,
    store: Store,
    source_name: str,
    as_of: dt.date,
    *,
    synthetic: bool,
    today: dt.date,
    progress: Callable[[str, int, int], None] | None = None,
) -> Outcome:
    """Make and keep the as-of day's ranking unless the store keeps it already (see the module docstring)."""
    top = cfg.leaderboard.top
    if top <= 0:
        return Outcome()
    kept = store.ranking(as_of)
    if kept is not None and kept.top == top:
        return Outcome()
    if synthetic:
        ranking = rank_from_store(store, source_name, as_of, top)
        store.record_ranking(ranking, keep_from=kept_from(ranking))
        return Outcome(ranked=ranking)
    http = client(cfg)
    out = Outcome()
    try:
        if progress is not None:
            progress("Asking ClickPy which days it holds, for the leaderboard", 0, 1)
        held = held_days(http, as_of, today)
        end = latest_complete_end(held, as_of, LOOKBACK_DAYS)
        if end != as_of:
            through = max(held) if held else None
            out.note = stall_note(as_of, through)
            latest = store.latest_ranking(as_of)
            if end is None or (latest is not None and latest.as_of >= end):
                return out
            as_of_made = end  # nothing kept that recent: rank the last complete window (once)
        else:
            as_of_made = as_of
        ranking, proof, asked = fetch_ranking(http, as_of_made, top, source=source_label(http.url), progress=progress)
    except SourceError as exc:
        log.warning("the leaderboard keeps its last complete ranking this run: %s", exc)
        out.note = out.note or f"ClickPy could not be asked for a new ranking this run ({_short(str(exc))})."
        return out
    finally:
        out.queries = http.stats.queries
        out.read_rows = http.stats.read_rows
    store.record_ranking(ranking, keep_from=kept_from(ranking))
    out.ranked, out.proof, out.candidates = ranking, proof, asked
    return out


def kept_from(ranking: Ranking) -> dt.date:
    """The oldest as-of day the store keeps a ranking for once `ranking` is kept."""
    return ranking.as_of - dt.timedelta(days=KEPT_DAYS)


def stall_note(as_of: dt.date, through: dt.date | None) -> str:
    held = f"ClickPy had loaded PyPI's downloads through {through}" if through else "ClickPy held no recent day"
    return f"{held} when this site was built, not all 30 days ending {as_of}: a partial window is never ranked."


def _short(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# -- what the pages read ------------------------------------------------------------------------------
def leaderboard(store: Store, as_of: dt.date, top: int, note: str | None = None) -> Leaderboard | None:
    """The ranking to show (the as-of day's, else the last complete one, with why), and the earlier ones.

    `note`: why this build has no ranking for `as_of` (Outcome.note); None when the build did not ask.
    """
    if top <= 0:
        return None
    current = store.latest_ranking(as_of)
    if current is None:
        return None
    if current.top > top:  # [leaderboard].top lowered: the exact top N is a prefix of the exact top M
        current = dataclasses.replace(current, top=top, rows=current.rows[:top])
    earlier = {}
    for days in CHANGES:
        ranking = store.ranking(current.as_of - dt.timedelta(days=days))
        if ranking is not None:
            earlier[days] = ranking
    stale = None
    if current.as_of < as_of:
        why = note or f"This build did not ask ClickPy for the 30 days ending {as_of} (build --no-fetch)."
        stale = f"{why} Shown: the last complete ranking, of the 30 days ending {current.as_of}."
    return Leaderboard(current, earlier, stale, synthetic=current.source == SYNTHETIC_SOURCE)


def expected_requests(top: int, *, name_bytes: int = 12) -> tuple[int, int]:
    """(candidates, installer queries) a ranking of `top` sends when the first M settles it (for `plan`)."""
    m = top * CANDIDATE_FACTOR
    per_name = name_bytes + 9  # 'name', URL-encoded
    return m, max(1, math.ceil(m * per_name / BATCH_PARAM_BYTES))
