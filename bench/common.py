"""Shared benchmark helpers: timing, generated data sets, peak memory of a process tree, the ratio table."""

from __future__ import annotations

import compileall
import contextlib
import datetime as dt
import itertools
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
BENCH_DATA = ROOT / "data" / "bench"
console = Console(width=None if sys.stdout.isatty() else 160)


@dataclass(frozen=True)
class Measurement:
    name: str
    measured: str
    reference: str
    ratio: float
    target: str
    ok: bool
    note: str = ""


def best_of(fn: Callable[[], object], repeat: int) -> float:
    """The fastest of `repeat` runs, in seconds: the least noisy estimate on a shared machine."""
    return min(timed(fn, repeat))


def timed(fn: Callable[[], object], repeat: int) -> list[float]:
    """Wall seconds of each of `repeat` runs."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times


@contextlib.contextmanager
def scratch_dirs() -> Iterator[Callable[[str], Path]]:
    """A maker of fresh, empty directories under data/bench/, all removed together when the block
    ends, none before.

    Builds write into them. Removing each build's files as soon as it ended made the next build pay
    for the removal: on ext4 without a journal (this machine's disk), the kernel does not hand out an
    inode freed in the last minute or more (fs/ext4/ialloc.c, `recently_deleted`), and it finds one by
    reading past each of them. A 1,000-package build writes 42,000 files: just after the previous
    build's 42,000 were removed, its build process spent 10-31 s of system CPU, against 5-8 s with
    them kept. A CI runner's fresh clone has no such files, and neither do the builds measured here.
    """
    BENCH_DATA.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bench-scratch-", dir=BENCH_DATA) as root:
        count = itertools.count()

        def fresh(prefix: str) -> Path:
            path = Path(root) / f"{prefix}{next(count)}"
            path.mkdir()
            return path

        yield fresh


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def ensure_events(millions: int) -> tuple[Path, list[str], dt.date, dt.date]:
    """Synthetic Parquet events of about `millions` million rows (generated once, then reused)."""
    from generator import sample

    out = BENCH_DATA / f"events-{millions}M"
    marker = out / sample.SYNTHETIC_MARKER
    if not sample.is_complete(out):
        console.print(f"generating ~{millions}M synthetic events into {out} …")
        # scale 1 is about a million events for the four demo packages over 210 days.
        sample.generate(out, scale=float(millions))
    meta = json.loads(marker.read_text())
    start, end = dt.date.fromisoformat(meta["start"]), dt.date.fromisoformat(meta["end"])
    return out, list(sample.DEMO_PACKAGES), start, end


# -- memory ---------------------------------------------------------------------------------------
def _children(pid: int) -> list[int]:
    out = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as fh:
                out += [int(c) for c in fh.read().split()]
    except OSError:
        pass
    return out


def _pss_kib(pid: int) -> int:
    """Proportional set size: shared pages divided among the processes sharing them (sums honestly)."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as fh:
            for line in fh:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def tree_pids(pid: int) -> list[int]:
    """A process and all its descendants (the build and its page workers)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        if p in out:
            continue
        out.append(p)
        todo += _children(p)
    return out


def tree_pss_kib(pid: int) -> int:
    """PSS of a process and all its descendants (the build and its page workers)."""
    return sum(_pss_kib(p) for p in tree_pids(pid))


_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _cpu_seconds(pid: int) -> float | None:
    """User + system CPU a live process has used so far, its own threads only (/proc/PID/stat)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rpartition(")")[2].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / _TICK  # utime, stime


@dataclass(frozen=True)
class Run:
    seconds: float
    peak_mib: float
    stderr: str
    cpu_seconds: float = 0.0
    """User + system CPU of the command and every process it waited for (its page workers): exact,
    from getrusage(RUSAGE_CHILDREN) of this process, which starts nothing else meanwhile."""
    cpu_command: float = 0.0
    """Of which the command's own process (the build), as last sampled every 0.1 s (/proc/PID/stat)."""
    cpu_descendants: float = 0.0
    """Of which the processes it started (its page workers), as last sampled, summed."""
    load: float = 0.0
    """The machine's mean 1-minute load average while it ran (other users' work included)."""

    @property
    def cores(self) -> float:
        """The cores the command got on average: its CPU seconds over its wall seconds.

        Two page workers finish in half the time only if they get two cores. Linux's scheduler gives
        each session (autogroup, on by default) an equal share of the machine however many processes
        it runs, so where other sessions are busy, a build's workers share its one session's share.
        """
        return self.cpu_seconds / self.seconds if self.seconds else 0.0


def run_measured(args: Sequence[str], *, cwd: Path = ROOT, interval: float = 0.1) -> Run:
    """Run a command, timing it and sampling the peak memory (PSS) of its whole process tree."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.Popen(args, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = 0
    cpu: dict[int, float] = {}  # pid → CPU seconds at its last sample
    loads: list[float] = []
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not stop.is_set():
            pids = tree_pids(proc.pid)
            peak = max(peak, sum(_pss_kib(p) for p in pids))
            for p in pids:
                seconds = _cpu_seconds(p)
                if seconds is not None:
                    cpu[p] = seconds
            loads.append(os.getloadavg()[0])
            stop.wait(interval)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _out, err = proc.communicate()
    seconds = time.perf_counter() - t0
    stop.set()
    sampler.join()
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({proc.returncode}):\n{err}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    total = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    own = cpu.pop(proc.pid, 0.0)
    return Run(seconds, peak / 1024, err, total, own, sum(cpu.values()), statistics.fmean(loads) if loads else 0.0)


def compile_bytecode() -> None:
    """Compile the generator's bytecode, as pip does when it installs the package.

    The builds run this checkout's source. Where PYTHONDONTWRITEBYTECODE is set (this machine sets
    it), nothing would ever write the bytecode, and every build process, page worker and chart
    process would compile the generator's modules again: about 0.08 s each, which no installed copy
    pays. Bytecode of an older source is ignored by Python, so this never runs stale code.
    """
    compileall.compile_dir(ROOT / "generator", quiet=1)


def generator_cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "generator", *args]


# -- output ---------------------------------------------------------------------------------------
def print_table(title: str, rows: list[Measurement]) -> None:
    table = Table(title=title, show_lines=False)
    for col in ("measurement", "measured", "reference (same run)", "ratio", "target", "ok"):
        table.add_column(col, justify="right" if col in ("ratio",) else "left", overflow="fold")
    for r in rows:
        table.add_row(r.name, r.measured, r.reference, f"{r.ratio:.2f}", r.target, "yes" if r.ok else "NO")
    console.print(table)
    notes = [f"- {r.name}: {r.note}" for r in rows if r.note]
    if notes:
        console.print("\n".join(notes), highlight=False)
