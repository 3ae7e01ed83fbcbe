"""Every benchmark in one run, one table, one exit code: `python -m bench` (or `make bench`).

    python -m bench [--repeat 3] [--events 10,50] [--sizes 10,100,1000] [--scale 0.05] [--jobs N]
                    [--only aggregation,weight,incremental,scaling,leaderboard] [--quick]

Generates what it needs once, from the synthetic generator, into data/bench/ (about 1.5 GB at the
default sizes; the 50-million-event set takes a few minutes to make). Runs each measurement
`--repeat` times and keeps the best run of each side; prints the measured figure, the reference
measured in the same run, their ratio and the target; exits 1 when a ratio misses its target.
`--quick` is a smoke run (10 M events, 10 and 100 packages, one repetition): its scaling row is
not the target's 100-versus-1,000 comparison. `leaderboard` ranks the top 5,000 of 20,000 projects
against the ClickPy fake (bench/leaderboard.py; --quick: the top 500 of 2,000). Not part of the tests.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import aggregation, leaderboard, site_build  # noqa: E402
from bench.common import console, print_table  # noqa: E402

PARTS = ("aggregation", "weight", "incremental", "scaling", "leaderboard")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs of each measurement (default 3)")
    parser.add_argument("--events", default="10,50", help="millions of events for the aggregation (default 10,50)")
    parser.add_argument("--sizes", default="10,100,1000", help="packages for the scaling runs (default 10,100,1000)")
    parser.add_argument("--scale", type=float, default=site_build.SCALE, help="synthetic generator scale for sites")
    parser.add_argument("--jobs", type=int, default=None, help="page workers (default: one per core)")
    parser.add_argument("--only", default=",".join(PARTS), help=f"comma-separated subset of {','.join(PARTS)}")
    parser.add_argument("--quick", action="store_true", help="smoke run: 10M events, 10 and 100 packages, once")
    args = parser.parse_args(argv)
    if args.quick:
        args.repeat, args.events, args.sizes = 1, "10", "10,100"
    parts = {p.strip() for p in args.only.split(",") if p.strip()}
    unknown = parts - set(PARTS)
    if unknown:
        parser.error(f"unknown part(s): {', '.join(sorted(unknown))}")
    started = time.perf_counter()
    rows = []
    if "aggregation" in parts:
        console.print("[bold]aggregation[/] …")
        rows += aggregation.run([int(s) for s in args.events.split(",")], args.repeat)
    site_parts = parts & {"weight", "incremental", "scaling"}
    if site_parts:
        console.print(f"[bold]site builds[/] ({', '.join(sorted(site_parts))}) …")
        rows += site_build.run([int(s) for s in args.sizes.split(",")], args.repeat, args.scale, args.jobs, site_parts)
    if "leaderboard" in parts:
        console.print("[bold]leaderboard[/] …")
        top, projects, per_day = (500, 2000, 20000) if args.quick else (5000, 20000, 200000)
        rows += leaderboard.run(top, projects, per_day, 1 if args.quick else args.repeat)
    print_table(f"pypi-stats-site benchmark (best of {args.repeat} per side)", rows)
    missed = [r.name for r in rows if not r.ok]
    minutes = (time.perf_counter() - started) / 60
    if missed:
        console.print(f"[bold red]missed[/]: {'; '.join(missed)} ({minutes:.0f} min)")
        return 1
    console.print(f"every target met ({minutes:.0f} min)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
