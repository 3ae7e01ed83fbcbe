"""Package pages rendered in parallel: one process pool per build, each worker renders whole packages.

A package page is CPU-bound: the analysis of its rows, a dozen charts through vl-convert (its Deno
runtime starts once per process, under a second, then renders each chart in tens of milliseconds),
the templates, CSV, JSON and its API documents. The build reads every package's rows from the store in
one sorted pass (generator.pagerows) and sends each package, rows included, to a worker as one task;
the worker sends back the package's files (path → bytes) and the few figures the rest of the site
needs (`pages.PackageSummary`), which the build writes through the SiteWriter as they arrive. At most
two tasks per worker are in flight, so memory stays flat however many packages there are. Workers
never open the store.

Workers are started with "spawn": a fresh interpreter inherits no DuckDB or vl-convert threads from
the build (a forked copy of a process whose vl-convert runtime is running would wait forever on it).
Each starts vl-convert once, when it starts, and asks the kernel to kill it if the build dies. The
chart shapes reach it compiled (generator.charts builds them in Altair, in the build's process): a
worker only fills them with rows and never imports Altair. With one job, or one package, the same
code runs in the build's own process; without --jobs, so does a build of fewer than 20 pages (a
worker's start costs more than the pages it would take over: `workers_for`). There, on a machine of
more than one core, the charts are drawn by the chart process (generator.chartproc, vl-convert alone,
started as the pool opens) and two pages are worked on at once, in threads: while one waits for its
charts, the other's rows are analysed.
"""

from __future__ import annotations

import contextlib
import ctypes
import datetime as dt
import gc
import multiprocessing
import os
import signal
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, ThreadPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pyarrow as pa

from generator import api, drawing, pagerows
from generator import site as site_pages
from generator.chartproc import ChartProcess as ChartProcess  # re-exported: the build makes one early
from generator.dates import Window
from generator.errors import RenderError
from generator.pages import PackagePage, PackageSummary, SiteData

if TYPE_CHECKING:  # for annotations only, as in generator.pages (cost imports the sources)
    from generator.cost import PackageCost
    from generator.store import BeforeStore

IN_FLIGHT_PER_WORKER = 2
PAGES_PER_WORKER = 10
"""Without --jobs, a page worker is started for every this many pages, up to one per core.

A worker's start (its interpreter, imports and vl-convert with its fonts) costs about a second of
CPU, as much as seven or eight pages: ten pages in a second worker save less time than it takes to
start, and an incremental build that renders a few pages renders them faster, and in less CPU, itself
(with its charts drawn by the chart process, which imports vl-convert alone).
"""
_PR_SET_PDEATHSIG = 1


def default_jobs() -> int:
    """The cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def charts_wanted(jobs: int | None) -> bool:
    """Whether pages rendered in the build's own process have their charts drawn by a chart process:
    without --jobs, on more than one core."""
    return jobs is None and default_jobs() > 1


def workers_for(jobs: int | None, packages: int) -> int:
    """Page processes for `packages` pages: `jobs` as asked (never more than the pages); without it,
    one per PAGES_PER_WORKER pages, up to one per core. 1 renders in the build's own process."""
    if not packages:
        return 0
    if jobs is None:
        jobs = min(default_jobs(), packages // PAGES_PER_WORKER)
    return max(1, min(jobs, packages))


@dataclass(frozen=True)
class Context:
    """What every package page needs besides its own rows (picklable: sent to each worker once)."""

    source: str
    site: SiteData
    """The site's settings; its `packages` list is empty."""
    store_window: Window
    capabilities: frozenset[str]
    breakdowns: tuple[str, ...]


@dataclass(frozen=True)
class Task:
    project: str
    rows: pa.Table
    """The package's rows (generator.pagerows.stream)."""
    covered: dict[str, dict[dt.date, int]]
    """source → the days the store holds for this package, each with its rows' shape (Store.held_days)."""
    cost: PackageCost | None = None
    """Its share of the ledger's billable jobs, when there are any."""
    before_store: BeforeStore | None = None
    """Its downloads before the store's first day, when ClickPy's are kept ([source].clickpy_all_time)."""
    uploads: dict[str, dt.datetime | None] | None = None
    """version → its upload time on PyPI, for the versions the store has a date for."""


@dataclass
class Result:
    project: str
    files: list[tuple[str, bytes]]
    summary: PackageSummary


class PageRenderer:
    """Renders whole packages from their rows; their charts are drawn here, or by `charts`."""

    def __init__(self, context: Context, shapes: drawing.Shapes, charts: ChartProcess | None = None) -> None:
        self.context = context
        self.env = site_pages.environment()
        drawing.prepare(shapes, charts)

    def render(self, task: Task) -> Result:
        ctx = self.context
        as_of = ctx.site.as_of
        rows = pagerows.partition(task.rows, task.covered, ctx.source, as_of)
        report = pagerows.report(
            task.project,
            rows,
            as_of=as_of,
            store_window=ctx.store_window,
            source=ctx.source,
            capabilities=ctx.capabilities,
            uploads=task.uploads,
        )
        page = PackagePage(report, cost=task.cost, before_store=task.before_store)
        docs = api.documents_for(
            task.project, as_of, rows.retained, report.capabilities, ctx.breakdowns, held=rows.covered
        )
        files = site_pages.package_files(self.env, ctx.site, page, docs)
        return Result(task.project, _encoded(files), PackageSummary.of(report))


def _encoded(files: list[tuple[str, str | bytes]]) -> list[tuple[str, bytes]]:
    """Each file's bytes; a text that two paths share (an API document with and without its extension)
    is encoded once, so the pickled result carries its bytes once."""
    done: dict[int, bytes] = {}
    out = []
    for rel, data in files:
        if isinstance(data, str):
            # `files` holds every text until this returns: no two of them share an id
            if id(data) not in done:
                done[id(data)] = data.encode("utf-8")
            data = done[id(data)]
        out.append((rel, data))
    return out


# -- in a worker process ----------------------------------------------------------------------------
_renderer: PageRenderer | None = None


def _die_with_parent() -> None:
    """Linux: be killed when the build process dies, even by SIGKILL."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() == 1:  # the build died before the request above
        os._exit(1)


def _init_worker(context: Context, shapes: drawing.Shapes) -> None:
    global _renderer
    _die_with_parent()
    # Ctrl-C reaches every process of the terminal's group: the build answers it (one line, exit 130)
    # and shuts the pool down; a worker printing its own traceback would bury that line.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _renderer = PageRenderer(context, shapes)
    _collect_garbage_less()


WORKER_GC_THRESHOLD = 10_000
"""Allocations between a page worker's young-generation collections (Python's default: 700)."""


def _collect_garbage_less() -> None:
    """A page makes many objects (its rows, tables, documents) that reference counting frees, and few
    cycles. At Python's default the collector ran some 20 times a page, and its full passes walked every
    module and template the worker holds: 6-7 ms of each page's CPU, against under 2 ms this way
    (measured with gc.callbacks). What the worker holds from its start is never garbage, so it is
    frozen out of every pass."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(WORKER_GC_THRESHOLD)


def _render_in_worker(task: Task) -> Result:
    assert _renderer is not None, "worker not initialised"
    return _renderer.render(task)


# -- in the build process -----------------------------------------------------------------------------
def _warm() -> None:
    """A no-op task: sent once per worker as the pool opens, so workers start while the build reads."""


@contextlib.contextmanager
def _ctrl_c_held() -> Iterator[None]:
    """Holds Ctrl-C (SIGINT) while worker processes start; a held one is answered on exit.

    An interrupt in the middle of a start cuts the data a starting worker reads from this process,
    and the worker dies printing a traceback under the build's one-line message. Two holds, because
    the kernel hands a process's SIGINT to any thread that does not block it (progress display, DuckDB
    and vl-convert threads), and Python then raises it in the main thread wherever that is:
    - the Python-level handler only records the signal until the workers have started, then the
      handler that was there answers it, once;
    - the main thread blocks SIGINT, and a worker inherits that mask, so a Ctrl-C sent to the whole
      terminal group cannot reach it before its initializer ignores it.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    handler = signal.signal(signal.SIGINT, lambda signum, frame: caught.append(signum))
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        signal.signal(signal.SIGINT, handler)  # answers a pending signal with the recorder first
        if caught:
            if callable(handler):
                handler(signal.SIGINT, None)
            elif handler == signal.SIG_DFL:
                raise KeyboardInterrupt


class PagePool:
    """The build's page workers: opened (and started) early, closed once every package is rendered.

    With one job (without `jobs`: see `workers_for`), or one package to render, pages render in this
    process instead. `shapes` are the build's compiled chart shapes (generator.charts.compile_shapes),
    sent to each worker as it starts; None only when there is no package to render.
    """

    def __init__(
        self,
        context: Context,
        shapes: drawing.Shapes | None,
        *,
        jobs: int | None,
        packages: int,
        charts: ChartProcess | None = None,
    ) -> None:
        self.context = context
        self.shapes = shapes
        self.workers = workers_for(jobs, packages)
        self._pool: ProcessPoolExecutor | None = None
        self._charts: ChartProcess | None = None
        """Draws the charts of the pages rendered in this process, on another core (generator.chartproc)."""
        if self.workers == 1 and shapes is not None and charts_wanted(jobs):
            # Started now, if the build did not start it earlier (`charts`): vl-convert's start (a third
            # of a second) goes on while the build links the unchanged units and reads the first rows.
            self._charts = charts if charts is not None else ChartProcess()
        elif charts is not None:
            charts.close()  # started early for pages that page workers render, or for no page at all
        if self.workers > 1 and shapes is not None:
            self._pool = ProcessPoolExecutor(
                max_workers=self.workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_init_worker,
                initargs=(context, shapes),
            )
            with _ctrl_c_held():
                for _ in range(self.workers):
                    self._pool.submit(_warm)  # a submit starts a worker process while fewer are running

    def __enter__(self) -> PagePool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        if self._charts is not None:
            drawing.draw_here()
            self._charts.close()
            self._charts = None

    def render(
        self,
        tasks: Iterable[Task],
        total: int,
        *,
        on_result: Callable[[Result], None],
        progress: Callable[[str, int, int], None],
    ) -> None:
        """Render every task's package (`total` of them), handing each result to `on_result` as it is done.

        Tasks are taken from the iterable only as workers free up.
        """
        if self._pool is None and self._charts is not None and self.shapes is not None:
            # Two pages at a time in two threads: while one waits for its charts, the other is worked on.
            renderer = PageRenderer(self.context, self.shapes, self._charts)
            with ThreadPoolExecutor(max_workers=IN_FLIGHT_PER_WORKER, thread_name_prefix="page") as threads:
                try:
                    _drain(
                        lambda task: threads.submit(renderer.render, task),
                        tasks,
                        IN_FLIGHT_PER_WORKER,
                        total,
                        on_result,
                        progress,
                    )
                finally:
                    threads.shutdown(cancel_futures=True)
            return
        if self._pool is None:
            serial = PageRenderer(self.context, self.shapes) if total and self.shapes else None
            for done, task in enumerate(tasks):
                progress(f"Rendering {task.project}", done, total)
                assert serial is not None
                on_result(serial.render(task))
            return
        pool = self._pool
        try:
            _drain(
                lambda task: pool.submit(_render_in_worker, task),
                tasks,
                self.workers * IN_FLIGHT_PER_WORKER,
                total,
                on_result,
                progress,
            )
        except BrokenProcessPool:
            raise RenderError(
                "a page worker died (out of memory? try fewer --jobs); the previous site is unchanged"
            ) from None


def _drain(
    submit: Callable[[Task], Future[Result]],
    tasks: Iterable[Task],
    window: int,
    total: int,
    on_result: Callable[[Result], None],
    progress: Callable[[str, int, int], None],
) -> None:
    """Keep `window` tasks in flight; hand results over as they finish (a worker's error is raised here)."""
    pending: set[Future[Result]] = set()
    done = 0
    queue = iter(tasks)

    def fill() -> None:
        while len(pending) < window:
            task = next(queue, None)
            if task is None:
                return
            pending.add(submit(task))

    fill()
    while pending:
        finished, still = wait(pending, return_when=FIRST_COMPLETED)
        pending.clear()
        pending.update(still)
        for future in finished:
            result = future.result()
            on_result(result)
            done += 1
            progress(f"Rendered {result.project}", done, total)
        fill()
