"""Plan a run: which (package, day) pairs the store lacks, and the fewest jobs (`Job`) that fetch them.

The lowest layer that speaks of jobs: sources run them, cost prices them, budget admits them.
Pure but for `plan_for`, which reads the store's coverage: takes the config's packages and windows,
returns jobs. The BigQuery source prices each job (dry run) before anything billable runs.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from generator.config import Config
from generator.dates import Window, contiguous_ranges, last_days
from generator.store import PartitionState, Store


@dataclass(frozen=True)
class Job:
    """One scan: every listed project over one contiguous range of UTC days."""

    window: Window
    projects: tuple[str, ...]
    breakdowns: tuple[str, ...] = ()


@dataclass(frozen=True)
class Plan:
    as_of: dt.date
    window: Window
    """The days the store should hold: history_days ending on as_of."""
    jobs: tuple[Job, ...]
    missing: dict[str, tuple[dt.date, ...]]
    """Per package, the days missing from the store before this run (refetched days excluded)."""
    refetch: tuple[dt.date, ...]
    """Held days fetched again: those whose source partition changed since they were read, or else
    (no partition metadata) the latest `refetch_days`, because late log rows arrive."""

    @property
    def days_to_fetch(self) -> int:
        return sum(job.window.days for job in self.jobs)


def make_plan(
    packages: tuple[str, ...],
    covered: dict[str, set[dt.date]],
    as_of: dt.date,
    *,
    history_days: int,
    refetch_days: int,
    breakdowns: tuple[str, ...],
    max_days_per_job: int | None = None,
    refetch: Iterable[dt.date] | None = None,
) -> Plan:
    """One scan for all packages per contiguous day range; long ranges split by `max_days_per_job`.

    A day is fetched for every package if any package lacks it: under BigQuery's worst-case
    pricing a scan costs the same whatever the number of packages in it, and one job per
    range keeps the job count (and the 10 MB minimum per job) down. Jobs come newest day first:
    a run that stops for lack of budget has the newest days, and the next run goes on further back.
    `refetch`: the held days to fetch again (see changed_days); None: the latest `refetch_days`.
    """
    window = last_days(as_of, history_days)
    if refetch is None:
        refetch = tuple(last_days(as_of, refetch_days)) if refetch_days else ()
    refetch = tuple(sorted(d for d in set(refetch) if d in window))
    missing = {p: tuple(d for d in window if d not in covered.get(p, set())) for p in packages}
    need = {d for days in missing.values() for d in days} | set(refetch)
    jobs: list[Job] = []
    for run in reversed(contiguous_ranges(sorted(need))):
        for part in split_newest_first(run, max_days_per_job):
            jobs.append(Job(window=part, projects=packages, breakdowns=breakdowns))
    return Plan(as_of=as_of, window=window, jobs=tuple(jobs), missing=missing, refetch=refetch)


def split_newest_first(run: Window, max_days: int | None) -> list[Window]:
    """`run` cut into windows of at most `max_days` days, the newest first."""
    if not max_days or run.days <= max_days:
        return [run]
    out = []
    end = run.end
    while end >= run.start:
        start = max(run.start, end - dt.timedelta(days=max_days - 1))
        out.append(Window(start, end))
        end = start - dt.timedelta(days=1)
    return out


def changed_days(
    recorded: Mapping[dt.date, set[PartitionState | None]],
    current: Mapping[dt.date, PartitionState],
    latest: Iterable[dt.date],
) -> tuple[dt.date, ...]:
    """The held days to fetch again: those whose source partition changed since they were read (a
    different row count or last write time: late rows, or a day reloaded weeks later).

    `recorded`: each held day's partition states as the store recorded them (generator.store);
    `current`: the partitions now. A day read without a record (a store from before records were
    kept, or a run that could not read them) keeps the old rule: fetched again only when it is one
    of the `latest` days ([source].refetch_days); once fetched again, it has a record.
    """
    latest_days = set(latest)
    out = []
    for day, states in recorded.items():
        now = current.get(day)
        if None in states or now is None:
            if day in latest_days:
                out.append(day)
        elif any(state != now for state in states):
            out.append(day)
    return tuple(sorted(out))


def plan_for(
    cfg: Config,
    store: Store,
    source_name: str,
    as_of: dt.date,
    refresh: bool = False,
    max_days_per_job: int | None = None,
    partitions: Mapping[dt.date, PartitionState] | None = None,
    refetch: Iterable[dt.date] | None = None,
) -> Plan:
    """The jobs that fill what the store lacks (everything, with `refresh`), and fetch again the held days
    whose source partition changed since they were read (with `partitions`, the source's partitions now;
    else the latest [source].refetch_days), or exactly the days of `refetch` when given."""
    window = last_days(as_of, cfg.source.history_days)
    covered = {} if refresh else store.covered_days(source_name, cfg.packages, window)
    if refetch is None and partitions is not None and not refresh:
        latest = last_days(as_of, cfg.source.refetch_days) if cfg.source.refetch_days else ()
        refetch = changed_days(store.partition_states(source_name, cfg.packages, window), partitions, latest)
    return make_plan(
        cfg.packages,
        covered,
        as_of,
        history_days=cfg.source.history_days,
        refetch_days=cfg.source.refetch_days,
        breakdowns=cfg.source.breakdowns,
        max_days_per_job=max_days_per_job,
        refetch=refetch,
    )
