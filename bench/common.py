"""Shared benchmark helpers: best-of timing, generated data sets, and the ratio table."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
BENCH_DATA = ROOT / "data" / "bench"
console = Console()


@dataclass(frozen=True)
class Measurement:
    name: str
    measured: str
    reference: str
    ratio: float
    target: str
    ok: bool


def best_of(fn: Callable[[], object], repeat: int) -> float:
    """The fastest of `repeat` runs, in seconds: the least noisy estimate on a shared machine."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def ensure_events(millions: int) -> tuple[Path, list[str], dt.date, dt.date]:
    """Synthetic Parquet events of about `millions` million rows (generated once, then reused)."""
    from generator import sample

    out = BENCH_DATA / f"events-{millions}M"
    marker = out / sample.SYNTHETIC_MARKER
    if not marker.is_file():
        console.print(f"generating ~{millions}M synthetic events into {out} …")
        # scale 1 is about a million events for the four demo packages over 210 days.
        sample.generate(out, scale=float(millions))
    meta = json.loads(marker.read_text())
    start, end = dt.date.fromisoformat(meta["start"]), dt.date.fromisoformat(meta["end"])
    return out, list(sample.DEMO_PACKAGES), start, end


def print_table(title: str, rows: list[Measurement]) -> None:
    table = Table(title=title)
    for col in ("measurement", "measured", "reference (same run)", "ratio", "target", "ok"):
        table.add_column(col, justify="right" if col in ("ratio",) else "left")
    for r in rows:
        table.add_row(r.name, r.measured, r.reference, f"{r.ratio:.2f}", r.target, "yes" if r.ok else "NO")
    console.print(table)
