"""Command line: build, plan, sample, serve, demo, init. Errors are one line on stderr and a non-zero exit."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from generator import __version__, layout
from generator.errors import GeneratorError

DEMO_EVENTS = Path("data/demo-events")

err = Console(stderr=True, highlight=False, soft_wrap=True)
out = Console(highlight=False, soft_wrap=True)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="pypi-stats-site",
        description="Build a static site of honest PyPI download-stats reports.",
    )
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    p.add_argument("-v", "--verbose", action="store_true", help="log each pipeline step")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    b = sub.add_parser("build", help="fetch missing days into the store, then write the site")
    _config_args(b)
    b.add_argument("--out", default="site", help="output directory (default: site/)")
    b.add_argument("--refresh", action="store_true", help="refetch every day in the window, not only missing ones")
    b.add_argument("--no-fetch", action="store_true", help="render from the store only; query nothing")
    b.add_argument(
        "--jobs",
        type=_positive,
        metavar="N",
        help="render N packages at a time (default: one per core, at most one per 10 packages)",
    )
    b.add_argument(
        "--full",
        action="store_true",
        help="render every page and write every file, ignoring the previous build in --out",
    )
    b.add_argument(
        "--max-minutes",
        type=_positive,
        metavar="N",
        help="stop fetching in time to render what is held within N minutes (Netlify: 14); the next build goes on",
    )
    b.add_argument(
        "--export-store",
        metavar="DIR",
        help="write the store's data export into DIR after every completed fetch job (a cached directory)",
    )

    pl = sub.add_parser("plan", help="show the jobs a build would run, with bytes and dollars; runs nothing billable")
    _config_args(pl)

    s = sub.add_parser("sample", help="write deterministic synthetic demo events")
    s.add_argument("--out", default=str(DEMO_EVENTS), help=f"directory for event files (default: {DEMO_EVENTS})")
    s.add_argument("--seed", type=int, default=42)
    s.add_argument("--scale", type=float, default=1.0, help="volume multiplier (default 1: about a million events)")
    s.add_argument("--format", choices=("parquet", "ndjson"), default="parquet")

    sv = sub.add_parser("serve", help="serve a built site locally for preview")
    sv.add_argument("--dir", default="site", help="the built site (default: site/)")
    sv.add_argument("--port", type=int, default=8000)
    sv.add_argument("--bind", default="127.0.0.1")

    d = sub.add_parser("demo", help="generate the synthetic demo data, build the demo site, and serve it")
    d.add_argument("--out", default="site")
    d.add_argument("--port", type=int, default=8000)
    d.add_argument("--no-serve", action="store_true", help="build only")

    i = sub.add_parser(
        "init", help="start your own stats site: stats.toml, a daily publish workflow, .gitignore, README.md"
    )
    i.add_argument("dir", nargs="?", default=".", help="folder to write into (default: the current one)")
    i.add_argument("--packages", required=True, metavar="NAMES", help="comma-separated PyPI names: requests,rich")
    i.add_argument("--source", choices=("bigquery", "clickpy", "local"), default="bigquery")
    i.add_argument("--netlify", action="store_true", help="deploy to Netlify, not GitHub Pages (adds netlify.toml)")
    i.add_argument("--force", action="store_true", help="overwrite files that already exist")
    i.add_argument(
        "--leaderboard",
        type=_positive,
        metavar="N",
        help="add a leaderboard of the top N projects of all PyPI by package-manager installs (free, from ClickPy)",
    )

    ex = sub.add_parser(
        "export-store",
        help=f"write the store as Parquet files and a manifest (like the site's {layout.STORE_EXPORT_DIR}/)",
    )
    _config_args(ex)
    ex.add_argument("--out", required=True, help="directory for the export")

    rs = sub.add_parser(
        "restore-store",
        help=f"fill an empty store from a data export: a site's {layout.STORE_EXPORT_DIR}/ URL or a directory",
    )
    _config_args(rs)
    rs.add_argument(
        "--from",
        dest="source",
        required=True,
        metavar="URL_OR_DIR",
        help=f"e.g. https://x.io/{layout.STORE_EXPORT_DIR}/",
    )
    rs.add_argument("--force", action="store_true", help="replace a store that already holds data")
    rs.add_argument("--allow-synthetic", action="store_true", help="also restore an export of the synthetic demo")
    return p


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1, not {text!r}")
    return value


def _config_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", default="stats.toml", help="TOML config file (default: stats.toml)")
    p.add_argument("--as-of", help="last complete UTC day to report, YYYY-MM-DD (default: yesterday UTC)")


@contextmanager
def progress_bar(enabled: bool) -> Iterator[Callable[[str, int, int], None]]:
    """A rich progress bar on stderr; the callback takes (step, done, total)."""
    if not enabled:
        yield lambda step, done, total: None
        return
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    ) as bar:
        task = bar.add_task("Starting", total=None)

        def update(step: str, done: int, total: int) -> None:
            bar.update(task, description=step, completed=done, total=total or None)

        yield update


def cmd_build(args: argparse.Namespace) -> int:
    from generator import build, config, outdir

    out_dir = outdir.given(args.out)
    cfg = config.load(args.config)
    as_of = build.resolve_as_of(cfg, args.as_of)
    with progress_bar(err.is_terminal) as progress:
        result = build.build(
            cfg,
            as_of=as_of,
            out_dir=out_dir,
            refresh=args.refresh,
            fetch_data=not args.no_fetch,
            progress=progress,
            jobs=args.jobs,
            full=args.full,
            max_minutes=args.max_minutes,
            export_dir=Path(args.export_store) if args.export_store else None,
        )
    size = sum(result.files.values())
    secs = sum(result.seconds.values())
    reuse = ""
    if result.units is not None:
        reused = len(result.units.reused())
        reuse = f"; {len(result.units.units) - reused} page unit(s) rendered, {reused} reused ({layout.BUILD_MANIFEST})"
    err.print(
        f"Built {len(result.files)} files ({size / 1024:,.0f} KiB) for {len(cfg.packages)} packages as of {as_of}"
        f" into {result.out_dir} in {secs:.1f}s; {result.jobs_run} fetch job(s){reuse}."
    )
    fetched = result.fetched
    if fetched is not None and fetched.stopped:
        err.print(f"Stopped fetching: {fetched.stopped}.", markup=False)
    if cfg.source.kind == "bigquery" and fetched is not None:
        from generator.cost import format_bytes

        err.print(
            f"BigQuery: billed {format_bytes(fetched.billed_bytes, 2)} this run; "
            f"{result.held_days} of {result.plan.window.days} days held.",
            markup=False,
        )
    if result.backfill_note:
        err.print(result.backfill_note[0].upper() + result.backfill_note[1:] + ".", markup=False)
    return 0


def cmd_plan(args: argparse.Namespace) -> int:
    from generator import build, config

    cfg = config.load(args.config)
    as_of = build.resolve_as_of(cfg, args.as_of)
    from generator.planview import show_plan

    return show_plan(cfg, as_of, out)


def cmd_sample(args: argparse.Namespace) -> int:
    from generator import sample

    summary = sample.generate(Path(args.out), seed=args.seed, scale=args.scale, fmt=args.format)
    err.print(
        f"Wrote {summary.events:,} synthetic events ({summary.start} to {summary.end}) in {len(summary.files)}"
        f" files to {summary.out_dir}"
    )
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from generator.serve import serve

    serve(Path(args.dir), args.bind, args.port, err)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from generator import build, config, outdir, resources, sample

    out_dir = outdir.given(args.out)

    # The demo's config ships with the package; its events and store go where the user runs it.
    cfg = config.load(resources.demo_config(), base_dir=Path.cwd())
    outdir.check_out_dir(cfg, out_dir)  # a wrong --out is refused before anything is written
    if not sample.is_complete(DEMO_EVENTS):
        err.print(f"Generating synthetic demo events into {DEMO_EVENTS}/…")
        sample.generate(DEMO_EVENTS)
    with progress_bar(err.is_terminal) as progress:
        result = build.build(cfg, as_of=build.resolve_as_of(cfg, None), out_dir=out_dir, progress=progress)
    err.print(f"Built the demo site ({len(result.files)} files, synthetic data) into {result.out_dir}")
    if args.no_serve:
        return 0
    from generator.serve import serve

    serve(result.out_dir, "127.0.0.1", args.port, err)
    return 0


def cmd_init(args: argparse.Namespace) -> int:
    from generator import scaffold

    options = scaffold.Options(
        scaffold.parse_packages(args.packages),
        source=args.source,
        netlify=args.netlify,
        leaderboard=args.leaderboard or 0,
    )
    target = Path(args.dir)
    written = scaffold.write(target, scaffold.render(options), force=args.force)
    err.print(f"Wrote {len(written)} files into {target}/ for pypi-stats-site {__version__}:")
    for path in written:
        err.print(f"  {path.relative_to(target).as_posix()}")
    cd = "" if target == Path(".") else f"cd {args.dir} && "
    err.print(f"Next: {cd}pypi-stats-site build; then push to GitHub and do what README.md says.")
    return 0


def cmd_export_store(args: argparse.Namespace) -> int:
    from generator import config, publishing
    from generator.store import open_store

    cfg = config.load(args.config)
    with open_store(cfg.store.path, read_only=True) as store:
        manifest = publishing.export_store_to(store, Path(args.out))
    size = sum(f["bytes"] for f in manifest["files"].values())
    err.print(f"Exported {cfg.store.path} to {args.out} ({len(manifest['files'])} files, {size / 1024:,.0f} KiB)")
    return 0


def cmd_restore_store(args: argparse.Namespace) -> int:
    from generator import config, publishing

    cfg = config.load(args.config)
    info = publishing.restore_store(cfg.store.path, args.source, force=args.force, allow_synthetic=args.allow_synthetic)
    err.print(
        f"Restored {cfg.store.path} from {args.source}: {info['packages']} package(s), {info['days']} day(s)"
        f" from {info['first_day']} to {info['last_day']}"
    )
    return 0


COMMANDS = {
    "build": cmd_build,
    "plan": cmd_plan,
    "sample": cmd_sample,
    "serve": cmd_serve,
    "demo": cmd_demo,
    "init": cmd_init,
    "export-store": cmd_export_store,
    "restore-store": cmd_restore_store,
}


class _Formatter(logging.Formatter):
    """One line per message; a warning says it is one."""

    def format(self, record: logging.LogRecord) -> str:
        text = record.getMessage()
        return f"warning: {text}" if record.levelno >= logging.WARNING else text


INTERRUPTED = "interrupted; the previous site is unchanged, and days fetched before the interrupt are kept"


class _CtrlC:
    """Remembers a Ctrl-C wherever it lands.

    Python raises KeyboardInterrupt, but a DuckDB query running at that moment turns it into its own
    error (`RuntimeError: Query interrupted`, or a duckdb.Error that a source wraps): after a Ctrl-C,
    any error is the interruption, answered the same way in every phase.
    """

    def __init__(self) -> None:
        self.seen = False
        self.previous: Any = None

    def __call__(self, signum: int, frame: object) -> None:
        self.seen = True
        raise KeyboardInterrupt

    def __enter__(self) -> _CtrlC:
        if threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGINT, self)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_Formatter())
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, handlers=[handler])
    with _CtrlC() as ctrl_c:
        try:
            return COMMANDS[args.command](args)
        except KeyboardInterrupt:
            err.print(INTERRUPTED)
            return 130
        except GeneratorError as exc:
            if ctrl_c.seen:
                err.print(INTERRUPTED)
                return 130
            err.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
            return exc.exit_code
        except Exception:
            if ctrl_c.seen:
                err.print(INTERRUPTED)
                return 130
            raise


if __name__ == "__main__":
    sys.exit(main())
