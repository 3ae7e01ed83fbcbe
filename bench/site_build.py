"""Site builds at scale: linear scaling, incremental rebuilds and page weight.

    python -m bench.site_build [--sizes 10,100,1000] [--repeat 3] [--scale 0.05] [--jobs N]

Data: the synthetic generator's events for N packages (pkg-0000 ...) over 180 days ending on the
as-of date, at `--scale` (0.05: about 5,000 events per package; a thousand packages' mirrors make
that 7-8 million events). Generated once into data/bench/site-N/, with the store filled from them
(the fetch is the aggregation benchmark's subject, not this one's).

Every build runs the real CLI in a subprocess, with the generator's bytecode compiled as an installed
copy has it (common.compile_bytecode); its peak memory is the proportional set size (PSS)
of the build and its page workers together, sampled every 0.1 s. Every build's output is kept until
the last build has run (common.scratch_dirs): files removed just before a build would cost it system
CPU that a fresh clone's build never pays.

- Scaling: a full build (`--no-fetch --full`, into an empty directory) of N packages; seconds per
  package page and CPU seconds per page (build and workers, user + system). Target: at 1,000 packages
  at most 1.3 x the time per page at 100 and at most 0.15 CPU s per page (the largest size run is the
  one held to it; smaller sizes are shown for information); peak memory under 2 GB at 1,000. The
  machine's load average is printed beside each build: other work on a shared machine inflates CPU
  seconds (caches, hyperthreads), not only wall time.
- Incremental: the 100-package site and store as the previous day's run left them; late rows for
  one day, the as-of date, arrive for 10% of the packages; the rebuild (fetch of the refetched days,
  then render) against a full rebuild of the same data from an empty store (fetch of all 180 days,
  render all). Target: <= 0.25. Shown for information: the as-of date advancing by a day with a new
  day of events for every package, where every page's windows move, so every page is rendered.
- Page weight: the largest package page of the 100-package site (HTML with inline SVG), raw and
  gzip; its external requests; the stylesheet. Reference: the same page loading Vega, Vega-Lite and
  Vega-Embed from a CDN (the minified bundle vl-convert carries, measured here) with each chart's
  spec and data inline instead of its SVG. Target: <= 120 KB, and <= 0.1 x the reference in bytes
  transferred (gzip), i.e. at least ten times lighter.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.common import (  # noqa: E402
    BENCH_DATA,
    Measurement,
    compile_bytecode,
    console,
    generator_cli,
    print_table,
    run_measured,
    scratch_dirs,
)
from generator import sample  # noqa: E402

AS_OF = sample.DEMO_END
DAYS = 180
SCALE = 0.05
LATE_SHARE = 0.1
PAGE_LIMIT = 120 * 1024
CPU_PER_PAGE_LIMIT = 0.15
MEMORY_LIMIT_MIB = 2048
SCALING_LIMIT = 1.3
INCREMENTAL_LIMIT = 0.25
CPU_COUNTS = (
    "getrusage(RUSAGE_CHILDREN) around the build's process: it and every process it waited for; not the"
    " bench's own memory sampler, not other users' processes"
)
WEIGHT_RATIO_LIMIT = 0.1
Fresh = Callable[[str], Path]
"""Makes a fresh directory for a build's output, kept until every build has run (common.scratch_dirs)."""


def names(n: int) -> list[str]:
    return [f"pkg-{i:04d}" for i in range(n)]


def write_config(path: Path, events: Path, packages: list[str], store: Path) -> Path:
    path.write_text(
        f'as_of = "{AS_OF}"\n[site]\ntitle = "Benchmark: {len(packages)} packages"\n'
        f"[packages]\nnames = {json.dumps(packages)}\n"
        f'[source]\nkind = "local"\npath = "{events}"\nhistory_days = {DAYS}\n'
        f'[store]\npath = "{store}"\n',
        encoding="utf-8",
    )
    return path


def fill_store(cfg_path: Path, as_of: dt.date = AS_OF) -> None:
    """Fetch every missing day into the config's store (untimed set-up)."""
    from generator import config, fetch
    from generator.plan import plan_for
    from generator.store import open_store

    cfg = config.load(cfg_path)
    source = fetch.open_source(cfg)
    try:
        with open_store(cfg.store.path) as store:
            fetch.fetch(cfg, store, source, plan_for(cfg, store, source.name, as_of))
    finally:
        source.close()


def ensure_dataset(n: int, scale: float) -> Path:
    """data/bench/site-N/: events, a filled store and the config (generated once)."""
    base = BENCH_DATA / f"site-{n}-{scale:g}"
    events = base / "events"
    if not sample.is_complete(events):
        console.print(f"generating {n} packages x {DAYS} days at scale {scale:g} into {events} …")
        sample.generate(events, packages=names(n), days=DAYS, end=AS_OF, scale=scale)
    cfg = write_config(base / "stats.toml", events, names(n), base / "store.duckdb")
    if not (base / "store.ready").is_file():
        for stale in base.glob("store.duckdb*"):
            stale.unlink()
        console.print(f"filling the store for {n} packages …")
        fill_store(cfg)
        (base / "store.ready").write_text("ok\n")
    return base


def events_of(base: Path) -> int:
    return json.loads((base / "events" / sample.SYNTHETIC_MARKER).read_text())["events"]


def cli_build(cfg: Path, out: Path, *extra: str, jobs: int | None = None):  # noqa: ANN201
    args = generator_cli("build", "--config", str(cfg), "--out", str(out), *extra)
    if jobs:
        args += ["--jobs", str(jobs)]
    return run_measured(args)


# -- scaling ----------------------------------------------------------------------------------------
def scaling(sizes: list[int], repeat: int, scale: float, jobs: int | None, fresh: Fresh) -> list[Measurement]:
    per_page: dict[int, float] = {}
    cpu_per_page: dict[int, float] = {}
    peak: dict[int, float] = {}
    load: dict[int, str] = {}
    for n in sizes:
        base = ensure_dataset(n, scale)
        times, peaks, runs = [], [], []
        for _ in range(repeat):
            run = cli_build(base / "stats.toml", fresh("site-") / "site", "--no-fetch", "--full", jobs=jobs)
            times.append(run.seconds)
            peaks.append(run.peak_mib)
            runs.append(run)
        best = min(runs, key=lambda r: r.cpu_seconds)
        per_page[n] = min(times) / n
        cpu_per_page[n] = best.cpu_seconds / n
        peak[n] = max(peaks)
        load[n] = ", ".join(f"{r.load:.1f}" for r in runs)
        console.print(
            f"  full build, {n} packages: best {min(times):.1f}s of {[round(t, 1) for t in times]},"
            f" {per_page[n]:.3f}s per page, {cpu_per_page[n]:.3f} CPU s per page"
            f" (best of {[round(r.cpu_seconds / n, 3) for r in runs]}: build process {best.cpu_command:.1f} s,"
            f" page workers {best.cpu_descendants:.1f} s; {best.cores:.2f} cores obtained), peak {peak[n]:.0f} MiB,"
            f" mean load average {load[n]} on {os.cpu_count()} cores"
        )
    out: list[Measurement] = []
    if 100 in per_page and 1000 in per_page:
        ratio = per_page[1000] / per_page[100]
        out.append(
            Measurement(
                "scaling: s per package page, 1,000 vs 100 packages",
                f"{per_page[1000]:.3f} s/page",
                f"{per_page[100]:.3f} s/page",
                ratio,
                f"<= {SCALING_LIMIT}",
                ratio <= SCALING_LIMIT,
            )
        )
    for n in sizes:
        if n not in (100, 1000):
            out.append(
                Measurement(
                    f"scaling: s per package page at {n} packages (info)",
                    f"{per_page[n]:.3f} s/page",
                    f"{per_page.get(100, per_page[n]):.3f} s/page at 100",
                    per_page[n] / per_page.get(100, per_page[n]),
                    "(info)",
                    True,
                    "fixed costs (worker start, vl-convert start, content pages, store export) spread over few pages",
                )
            )
    top = max(sizes)
    for n in sizes:
        target = n == top
        out.append(
            Measurement(
                f"CPU seconds per package page, full build of {n:,} packages (build + workers)"
                + ("" if target else " (info)"),
                f"{cpu_per_page[n]:.3f} CPU s/page",
                f"{CPU_PER_PAGE_LIMIT} CPU s/page",
                cpu_per_page[n] / CPU_PER_PAGE_LIMIT,
                "<= 1.00" if target else "(info)",
                cpu_per_page[n] <= CPU_PER_PAGE_LIMIT or not target,
                (
                    f"user + system CPU of the build process and its page workers ({CPU_COUNTS}) over its"
                    f" packages: every page's charts, tables, JSON and API documents, and the site's other"
                    f" pages and store export; wall {per_page[n]:.3f} s/page; mean 1-min load average {load[n]}"
                    f" on {os.cpu_count()} cores (above the cores, the same work costs more CPU seconds)"
                ),
            )
        )
    out.append(
        Measurement(
            f"peak memory, full build of {top:,} packages (build + workers, PSS)",
            f"{peak[top]:.0f} MiB",
            f"{MEMORY_LIMIT_MIB} MiB",
            peak[top] / MEMORY_LIMIT_MIB,
            "< 1.00",
            peak[top] < MEMORY_LIMIT_MIB,
        )
    )
    return out


def parallel_speedup(scale: float, repeat: int, jobs: int | None, fresh: Fresh) -> Measurement:
    base = ensure_dataset(100, scale)
    from generator.parallel import default_jobs

    workers = jobs or default_jobs()
    best, cpu, load, cores = {}, {}, {}, {}
    for j in (1, workers):
        runs = []
        for _ in range(repeat):
            runs.append(cli_build(base / "stats.toml", fresh("site-") / "site", "--no-fetch", "--full", jobs=j))
        fastest = min(runs, key=lambda r: r.seconds)
        best[j], cpu[j], load[j], cores[j] = fastest.seconds, fastest.cpu_seconds, fastest.load, fastest.cores
    return Measurement(
        f"parallel render, 100 packages: --jobs {workers} vs --jobs 1 (info)",
        f"{best[workers]:.1f} s",
        f"{best[1]:.1f} s",
        best[workers] / best[1],
        f"(info: ideal {1 / workers:.2f})",
        True,
        f"{workers} worker(s) on {os.cpu_count()} core(s); each starts vl-convert once and renders whole packages;"
        f" CPU {cpu[1]:.1f} s and {cpu[workers]:.1f} s, {cores[1]:.2f} and {cores[workers]:.2f} cores obtained"
        f" (CPU over wall), mean load average {load[1]:.1f} and {load[workers]:.1f}. The ratio can reach"
        f" 1/{workers} only if the build obtains {workers} cores: Linux gives each session (autogroup) an equal"
        " share of the machine however many processes it runs, so where other sessions are busy the workers"
        " share one session's share; and the workers' start and the site's other pages are paid once either way",
    )


# -- incremental ------------------------------------------------------------------------------------
def extra_events(base: Path, name: str, packages: list[str], end: dt.date, scale: float) -> Path:
    """One more day of events for `packages`, generated once (a different seed: new rows)."""
    out = base / name
    if not (out / sample.SYNTHETIC_MARKER).is_file():
        sample.generate(out, packages=packages, days=1, end=end, scale=scale, seed=7)
    return out


def link_tree(src: Path, dst: Path) -> None:
    """A copy whose files are hard links (the build never writes into a file it did not create)."""
    subprocess.run(["cp", "-al", str(src), str(dst)], check=True)


def state(base: Path, tmp: Path, extra: Path | None, packages: list[str], *, with_site: bool) -> Path:
    """A working copy: events (+ the extra day), the store and, optionally, the previous site."""
    events = tmp / "events"
    events.mkdir()
    for f in (base / "events").glob("*.parquet"):
        os.link(f, events / f.name)
    shutil.copy(base / "events" / sample.SYNTHETIC_MARKER, events / sample.SYNTHETIC_MARKER)
    if extra is not None:
        for f in extra.glob("*.parquet"):
            os.link(f, events / f"extra-{extra.name}-{f.name}")
    store = tmp / "store.duckdb"
    if with_site:
        shutil.copy(base / "store.duckdb", store)
        link_tree(base / "site", tmp / "site")
    return write_config(tmp / "stats.toml", events, packages, store)


def ensure_site(base: Path, jobs: int | None) -> Path:
    """base/site/: the site the previous run left, built by this code (rebuilt when the code changed)."""
    from generator import incremental

    manifest = base / "site" / incremental.MANIFEST
    current = False
    if manifest.is_file():
        doc = json.loads(manifest.read_text())
        current = doc["inputs"]["code"] == incremental.code_version() and doc["as_of"] == AS_OF.isoformat()
    if not current:
        console.print(f"building the previous run's site in {base / 'site'} …")
        shutil.rmtree(base / "site", ignore_errors=True)
        cli_build(base / "stats.toml", base / "site", "--no-fetch", "--full", jobs=jobs)
    return base / "site"


def incremental(scale: float, repeat: int, jobs: int | None, fresh: Fresh) -> list[Measurement]:
    base = ensure_dataset(100, scale)
    packages = names(100)
    ensure_site(base, jobs)
    late_packages = packages[:: round(1 / LATE_SHARE)]
    late = extra_events(base, "late", late_packages, AS_OF, scale)
    nextday = extra_events(base, "nextday", packages, AS_OF + dt.timedelta(days=1), scale)
    out = []
    for label, extra, as_of, target in (
        (f"late rows for {len(late_packages)} of 100 packages, same as-of", late, AS_OF, True),
        ("as-of advances a day, new day for all 100 packages", nextday, AS_OF + dt.timedelta(days=1), False),
    ):
        inc, full, rendered = [], [], ""
        for _ in range(repeat):
            tmp = fresh("inc-")
            cfg = state(base, tmp, extra, packages, with_site=True)
            inc.append(cli_build(cfg, tmp / "site", "--as-of", as_of.isoformat(), jobs=jobs))
            manifest = json.loads((tmp / "site" / "build-manifest.json").read_text())
            rendered = ", ".join(f"{n} {s}" for s, n in sorted(manifest["counts"].items()))
            packages_rendered = sum(
                1 for k, u in manifest["units"].items() if k.startswith("package:") and u["status"] == "rendered"
            )
            tmp = fresh("full-")
            cfg = state(base, tmp, extra, packages, with_site=False)
            full.append(cli_build(cfg, tmp / "site", "--as-of", as_of.isoformat(), jobs=jobs))
        best_inc, best_full = min(inc, key=lambda r: r.seconds), min(full, key=lambda r: r.seconds)
        ratio = best_inc.seconds / best_full.seconds
        cpu_note = (
            f"; CPU {best_inc.cpu_seconds:.1f} s against {best_full.cpu_seconds:.1f} s"
            f" ({best_inc.cpu_seconds / best_full.cpu_seconds:.2f}), mean load average"
            f" {best_inc.load:.1f} and {best_full.load:.1f} on {os.cpu_count()} cores"
        )
        out.append(
            Measurement(
                f"incremental: {label}" + ("" if target else " (info)"),
                f"{best_inc.seconds:.1f} s",
                f"{best_full.seconds:.1f} s full rebuild from an empty store",
                ratio,
                f"<= {INCREMENTAL_LIMIT}" if target else "(info)",
                ratio <= INCREMENTAL_LIMIT or not target,
                f"units {rendered}; {packages_rendered} package page(s) rendered{cpu_note}"
                + (
                    ""
                    if target
                    else "; the windows of every page end on the as-of date, so every page is rendered again"
                ),
            )
        )
    return out


# -- page weight ------------------------------------------------------------------------------------
_SVG = re.compile(r"<svg\b.*?</svg>", re.S)
_EXTERNAL = re.compile(r"""(?:src|href|srcset|data)\s*=\s*["']?\s*(?:https?:)?//""", re.I)


def page_weight(scale: float, jobs: int | None) -> list[Measurement]:
    base = ensure_dataset(100, scale)
    site = ensure_site(base, jobs)
    pages = sorted(site.glob("packages/*/index.html"), key=lambda p: p.stat().st_size)
    heaviest = pages[-1]
    html = heaviest.read_text(encoding="utf-8")
    raw, gz = len(html.encode()), len(gzip.compress(html.encode(), 9))
    external = _external_requests(html)
    reference_raw, reference_gz = _cdn_page(html, heaviest.parent.name, site)
    css = (site / "style.css").stat().st_size
    within = raw <= PAGE_LIMIT and not external
    return [
        Measurement(
            f"page weight: heaviest of {len(pages)} package pages (HTML + inline SVG)",
            f"{raw / 1024:.0f} KB raw, {gz / 1024:.0f} KB gzip",
            f"{PAGE_LIMIT // 1024} KB",
            raw / PAGE_LIMIT,
            "<= 1.00, 0 external requests",
            within,
            f"{external} external request(s); one shared stylesheet, style.css, {css:,} bytes",
        ),
        Measurement(
            "page weight vs the same page charting from a CDN (gzip)",
            f"{gz / 1024:.0f} KB",
            f"{reference_gz / 1024:.0f} KB ({reference_raw / 1024:.0f} KB raw)",
            gz / reference_gz,
            f"<= {WEIGHT_RATIO_LIMIT}",
            gz / reference_gz <= WEIGHT_RATIO_LIMIT,
            f"uncompressed: {raw / 1024:.0f} KB against {reference_raw / 1024:.0f} KB, {raw / reference_raw:.2f}",
        ),
    ]


def _external_requests(html: str) -> int:
    """Resources the page itself would load from another origin (links to elsewhere are not requests)."""
    count = 0
    for tag in re.findall(r"<(?:img|script|link|iframe|source|video|audio|embed|object)\b[^>]*>", html, re.I):
        count += bool(_EXTERNAL.search(tag))
    count += len(re.findall(r"url\(\s*['\"]?(?:https?:)?//", html, re.I))
    return count


def _cdn_page(html: str, project: str, site: Path) -> tuple[int, int]:
    """Bytes transferred by the page drawing its charts in the browser: the Vega bundle, then each
    chart's spec with its data inline where our page has the SVG."""
    import vl_convert

    from generator import pagerows
    from generator.config import load
    from generator.dates import last_days
    from generator.store import open_store

    cfg = load(site.parent / "stats.toml")
    with open_store(cfg.store.path, read_only=True) as store:
        rows = pagerows.read_package(store, "local", project, AS_OF)
    report = pagerows.report(project, rows, as_of=AS_OF, store_window=last_days(AS_OF, DAYS), source="local")
    specs = _chart_specs(report)
    scripts = "".join(
        f'<div id="c{i}"></div><script>vegaEmbed("#c{i}", {json.dumps(spec, separators=(",", ":"))})</script>'
        for i, spec in enumerate(specs)
    )
    page = _SVG.sub("", html) + scripts
    bundle = vl_convert.javascript_bundle()
    raw = len(page.encode()) + len(bundle.encode())
    gz = len(gzip.compress(page.encode(), 9)) + len(gzip.compress(bundle.encode(), 9))
    return raw, gz


def _chart_specs(report) -> list[dict]:  # noqa: ANN001
    """The Vega-Lite specs behind the page's charts, as a CDN-charting page would ship them: each
    chart's shape with its rows inline."""
    from generator import charts, drawing, figures, questions

    drawing.prepare(charts.compile_shapes())
    specs = []
    originals = drawing.fill, drawing.render_svg

    def capture(shape, datasets, scales=None):  # noqa: ANN001, ANN202
        specs.append({**shape.vega_lite, "datasets": datasets})
        return {}

    def nothing(vega, **kwargs):  # noqa: ANN001, ANN003, ANN202
        return drawing.Chart(svg="", title=kwargs.get("title", ""), description=kwargs.get("description", ""))

    drawing.fill, drawing.render_svg = capture, nothing
    try:
        figures.timeseries_figure(report)
        questions.python_question(report)
        questions.upgrade_question(report)
    finally:
        drawing.fill, drawing.render_svg = originals
    return specs


def run(sizes: list[int], repeat: int, scale: float, jobs: int | None, parts: set[str]) -> list[Measurement]:
    rows: list[Measurement] = []
    compile_bytecode()  # what an installed copy has (common.compile_bytecode)
    with scratch_dirs() as fresh:  # every build's output kept until the last build has run
        if "weight" in parts:
            rows += page_weight(scale, jobs)
        if "incremental" in parts:
            rows += incremental(scale, repeat, jobs, fresh)
        if "scaling" in parts:
            rows += scaling(sizes, repeat, scale, jobs, fresh)
            rows.append(parallel_speedup(scale, 1, jobs, fresh))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,100,1000", help="packages per scaling run, comma-separated")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--scale", type=float, default=SCALE, help="synthetic generator scale")
    parser.add_argument("--jobs", type=int, default=None, help="page workers (default: one per core)")
    parser.add_argument("--only", default="weight,incremental,scaling", help="which measurements")
    args = parser.parse_args(argv)
    rows = run([int(s) for s in args.sizes.split(",")], args.repeat, args.scale, args.jobs, set(args.only.split(",")))
    print_table("Site builds", rows)
    return 0 if all(r.ok for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
