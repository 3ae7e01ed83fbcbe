"""Two checkouts' package pages compared page by page: `python -m bench.paired OTHER [--pages 40] [--rounds 3]`.

A machine shared with other work changes speed by a factor of two within minutes, so two builds
measured one after the other compare the machine as much as the code. Here two long-lived processes,
one importing this checkout's generator and one OTHER's (a path to another checkout, such as a
`git worktree` of main), render the same pages of the bench's 1,000-package store in turns: page 1
in A then B, page 2 in B then A, and so on. Each page's CPU seconds (every thread of its process:
the charts' JavaScript engine too) is paired with the other checkout's a fraction of a second
apart, so the machine's swings fall on both. Prints each side's CPU ms per page and B/A, the ratio
of their sums. It counts what a page worker does for a package (rows to page, charts, tables,
JSON, API documents), not the build process's share. Both checkouts need `build.collect`,
`parallel.PageRenderer` and `pagerows.stream` as they are here. Not part of the tests.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve()
ROOT = HERE.parent.parent
READY = "READY"


def serve(tree: Path, cfg_path: Path, as_of: str, pages: int) -> None:
    """In a child process: load `tree`'s generator, prepare `pages` packages, then render the one whose index
    each line of stdin names and print its CPU milliseconds."""
    sys.path.insert(0, str(tree))
    import datetime as dt
    import tempfile

    from generator import build, config, fetch, pagerows, parallel
    from generator.store import open_store

    cfg = config.load(cfg_path)
    day = dt.date.fromisoformat(as_of)
    step = max(1, len(cfg.packages) // pages)
    todo = list(cfg.packages)[::step][:pages]
    with open_store(cfg.store.path) as store, tempfile.TemporaryDirectory() as out:
        source = fetch.open_source(cfg)
        try:
            prepared = build.collect(cfg, store, source, day, Path(out) / "site")
        finally:
            source.close()
        held = store.held_days(todo)
        tasks = [
            parallel.Task(p, rows, held[p], None, None, prepared.uploads[p])
            for p, rows in pagerows.stream(store, prepared.context.source, todo, day)
        ]
    renderer = parallel.PageRenderer(prepared.context, build._chart_shapes())
    for task in tasks[:3]:  # templates compiled, the engine warm
        renderer.render(task)
    gc.collect()
    gc.freeze()
    gc.set_threshold(parallel.WORKER_GC_THRESHOLD)  # as a page worker runs
    print(READY, len(tasks), flush=True)
    for line in sys.stdin:
        started = time.process_time()
        renderer.render(tasks[int(line)])
        print(f"{(time.process_time() - started) * 1000:.3f}", flush=True)


class Side:
    """One checkout's rendering process, driven a page at a time."""

    def __init__(self, tree: Path, cfg: Path, as_of: str, pages: int) -> None:
        self.tree = tree
        self.proc = subprocess.Popen(
            [sys.executable, str(HERE), "--serve", str(tree), str(cfg), as_of, str(pages)],
            cwd=tree,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().split()
        if not line or line[0] != READY:
            self.proc.kill()
            raise SystemExit(f"{tree}: its page process did not start (see above)")
        self.pages = int(line[1])
        self.total = 0.0

    def render(self, index: int) -> float:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(f"{index}\n")
        self.proc.stdin.flush()
        ms = float(self.proc.stdout.readline())
        self.total += ms
        return ms

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        self.proc.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.paired", description=__doc__.splitlines()[0])
    parser.add_argument("other", type=Path, help="the other checkout (B); this one is A")
    parser.add_argument("--pages", type=int, default=40, help="packages rendered, spread over the 1,000 (default 40)")
    parser.add_argument("--rounds", type=int, default=3, help="times each page is rendered on each side (default 3)")
    args = parser.parse_args(argv)
    other = args.other.resolve()
    if not (other / "generator" / "__init__.py").is_file():
        parser.error(f"{other}: not a checkout of this project (no generator/)")
    sys.path.insert(0, str(ROOT))
    from bench.common import console
    from bench.site_build import AS_OF, SCALE, ensure_dataset

    cfg = ensure_dataset(1000, SCALE) / "stats.toml"
    # One after the other: each opens the store to read its pages' rows, and a store has one writer.
    a = Side(ROOT, cfg, AS_OF.isoformat(), args.pages)
    b = Side(other, cfg, AS_OF.isoformat(), args.pages)
    ratios = []
    try:
        for round_ in range(args.rounds):
            for index in range(min(a.pages, b.pages)):
                first, second = (a, b) if (index + round_) % 2 == 0 else (b, a)
                x, y = first.render(index), second.render(index)
                ratios.append(y / x if first is a else x / y)
    finally:
        a.close()
        b.close()
    pages = args.rounds * min(a.pages, b.pages)
    console.print(
        f"A {a.tree}: {a.total / pages:.1f} CPU ms per page\n"
        f"B {b.tree}: {b.total / pages:.1f} CPU ms per page\n"
        f"B/A {b.total / a.total:.3f} (sums of {pages} paired pages; median page ratio {statistics.median(ratios):.3f})"
    )
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--serve":
        serve(Path(sys.argv[2]), Path(sys.argv[3]), sys.argv[4], int(sys.argv[5]))
    else:
        sys.exit(main())
