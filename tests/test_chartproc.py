"""The chart process (generator.chartproc): vl-convert in a process of its own, for the pages a build renders
in its own process. It draws what this process draws, reports a refusal as one line, never leaves the build
waiting when it stops, and ends with the build, even a build killed outright.

That a build drawing there writes the same site as one drawing in its own process: tests/test_incremental.py.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import DEMO_AS_OF, INTERRUPTED, ROOT, build_process, interrupt, write_config

from generator import chartproc, drawing, sample, shapecache
from generator.chartproc import PNG, SVG, ChartProcess
from generator.errors import RenderError

DAYS = [dt.date(2026, 10, 1) + dt.timedelta(days=i) for i in range(30)]


@pytest.fixture(scope="module")
def shapes() -> drawing.Shapes:
    from generator import charts

    return shapecache.load() or charts.compile_shapes()


@pytest.fixture
def charts() -> ChartProcess:
    with ChartProcess() as process:
        yield process


def honest_vega(shapes: drawing.Shapes) -> dict:
    days = [
        drawing.HonestDay(d, honest=100 + i, ci=i, total=200 + i, honest_mean=100.0 + i) for i, d in enumerate(DAYS)
    ]
    datasets, scales = drawing.honest_datasets(days)
    return drawing.fill(shapes.honest, datasets, scales)


def card_vega(shapes: drawing.Shapes) -> dict:
    datasets, scales = drawing.card_datasets(
        "acme", "1,234", "honest installs", [(d, float(i)) for i, d in enumerate(DAYS)]
    )
    return drawing.fill(shapes.card, datasets, scales)


def test_it_draws_what_this_process_draws(charts: ChartProcess, shapes: drawing.Shapes) -> None:
    import vl_convert

    chartproc.prepare_renderer()
    honest, card = honest_vega(shapes), card_vega(shapes)
    assert charts.submit(SVG, honest).result().decode() == vl_convert.vega_to_svg(honest, allowed_base_urls=[])
    assert charts.submit(PNG, card).result() == vl_convert.vega_to_png(card, scale=1, allowed_base_urls=[])


def test_answers_come_back_in_the_order_asked(charts: ChartProcess, shapes: drawing.Shapes) -> None:
    """Many requests in flight at once, each larger than a pipe holds: none is lost, swapped or stuck."""
    honest = honest_vega(shapes)
    small = {"width": 10, "height": 10, "marks": []}
    expected = {False: charts.submit(SVG, small).result(), True: charts.submit(SVG, honest).result()}
    assert expected[False] != expected[True]
    futures = [charts.submit(SVG, honest if i % 2 else small) for i in range(20)]
    assert [f.result(timeout=60) for f in futures] == [expected[bool(i % 2)] for i in range(20)]


def test_a_refused_spec_is_one_line_and_the_next_is_drawn(charts: ChartProcess, shapes: drawing.Shapes) -> None:
    refused = charts.submit(SVG, {"marks": [{"type": "no-such-mark"}]})
    with pytest.raises(
        RenderError, match="^a chart could not be drawn: Vega to SVG conversion failed: TypeError"
    ) as caught:
        refused.result(timeout=60)
    assert "\n" not in str(caught.value)
    assert charts.submit(SVG, honest_vega(shapes)).result(timeout=60).startswith(b"<svg")


def test_a_stopped_chart_process_fails_its_drawings_instead_of_hanging(
    charts: ChartProcess, shapes: drawing.Shapes
) -> None:
    waiting = [charts.submit(SVG, honest_vega(shapes)) for _ in range(5)]
    os.kill(charts._proc.pid, signal.SIGKILL)
    for future in waiting:
        try:
            future.result(timeout=60)  # drawn before the kill, or failed: never left waiting
        except RenderError as exc:
            assert str(exc) == "the chart process stopped (exit status -9); the previous site is unchanged"
    later = charts.submit(SVG, honest_vega(shapes))
    with pytest.raises(RenderError, match="the chart process stopped"):
        later.result(timeout=60)


def test_a_ctrl_c_at_the_terminal_reaches_the_build_not_the_chart_process(charts: ChartProcess) -> None:
    """Ctrl-C goes to the terminal's foreground process group: the build answers it and closes the chart
    process, which is in a group of its own (started mid-way, it would print a traceback of its own)."""
    assert os.getpgid(charts._proc.pid) == charts._proc.pid
    assert os.getpgid(charts._proc.pid) != os.getpgid(0)


def test_closing_ends_it(shapes: drawing.Shapes) -> None:
    charts = ChartProcess()
    charts.submit(SVG, honest_vega(shapes)).result(timeout=60)
    charts.close()
    assert charts._proc.returncode == 0
    charts.close()  # twice: nothing left to do


def gone(pid: int) -> bool:
    """The process has ended (or is a zombie no one has reaped yet)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1].startswith("Z")
    except FileNotFoundError:
        return True


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_it_ends_when_the_build_is_killed_outright() -> None:
    """SIGKILL leaves the build no chance to close anything: the chart process sees its input end."""
    build = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from generator.chartproc import ChartProcess; import time;"
            " c = ChartProcess(); print(c._proc.pid, flush=True); time.sleep(120)",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert build.stdout is not None
    pid = int(build.stdout.readline())
    assert not gone(pid)
    build.kill()
    build.wait()
    deadline = time.monotonic() + 30
    while not gone(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert gone(pid)


# Holds the build where its pages are about to render, its chart process started, until HOLD_RELEASE exists.
HOLDING_DRIVER = r"""
import os, sys, time
from generator import cli, parallel

parallel.default_jobs = lambda: 2  # the chart process, on a machine of one core too
inner = parallel.PagePool.render

def held(self, *args, **kwargs):
    print(f"CHARTS {self._charts._proc.pid if self._charts else 0}", flush=True)
    while not os.path.exists(os.environ["HOLD_RELEASE"]):
        time.sleep(0.02)
    return inner(self, *args, **kwargs)

parallel.PagePool.render = held
sys.exit(cli.main(sys.argv[1:]))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_ctrl_c_while_pages_render_is_one_line_and_ends_the_chart_process(demo_events: Path, tmp_path: Path) -> None:
    cfg = write_config(tmp_path / "stats.toml", demo_events, list(sample.DEMO_PACKAGES), DEMO_AS_OF, history_days=210)
    args = ("-c", HOLDING_DRIVER, "build", "--config", str(cfg), "--out", str(tmp_path / "site"))
    with build_process(*args, env={"HOLD_RELEASE": str(tmp_path / "never")}) as build:
        assert build.stdout is not None
        line = build.stdout.readline()
        assert line.startswith("CHARTS "), line
        pid = int(line.split()[1])
        assert pid and not gone(pid)
        stopped = interrupt(build)
    assert stopped == (130, INTERRUPTED)
    assert gone(pid)
    assert not (tmp_path / "site").exists()
