"""vl-convert: started once per process, and run in a process of its own for a build that renders its
pages in its own process.

vl-convert holds Python's lock while it draws (more than half of a page's time) and starts a JavaScript
runtime once per process (about 0.35 s). A build that renders a few pages itself (an incremental build:
generator.parallel.workers_for) would pay both on one core while the other waits. Here the charts are
drawn by a small process started as the pages start (it imports vl-convert, not the generator's data
stack) while the build links the unchanged units, and each chart is sent to it as soon as its spec is
filled: the page's other work, and the next page, go on meanwhile (generator.drawing returns a chart
whose SVG is read when a template needs it).

Requests and answers go through the process's stdin and stdout, in order: a request is one byte for
what to draw (`s` SVG, `p` PNG), eight for the length, then the Vega spec as JSON; an answer is one byte
(`+` drawn, `-` refused), eight for the length, then the SVG, PNG or error text. The process ignores
Ctrl-C (the build answers it) and ends when its stdin closes, which also happens when the build dies.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import struct
import subprocess
import sys
import tempfile
import threading
from collections import deque
from concurrent.futures import Future
from queue import SimpleQueue
from typing import IO, Any

import vl_convert

from generator.errors import RenderError
from generator.svg import FONT

_FONTS_CONF = """<?xml version="1.0"?>
<!DOCTYPE fontconfig SYSTEM "fonts.dtd">
<fontconfig><dir>{dir}</dir></fontconfig>
"""
_WARM_UP: dict[str, Any] = {
    "width": 10,
    "height": 10,
    "marks": [{"type": "text", "encode": {"enter": {"text": {"value": "0"}, "font": {"value": FONT}}}}],
}
_renderer_lock = threading.Lock()
_renderer_ready = False


def prepare_renderer() -> None:
    """Start vl-convert, measuring text with the Liberation Sans it carries, not the machine's fonts.

    vl-convert measures every label (for layout and `labelLimit`) through its font database, which it
    builds once per process from the system's fonts and then its own copy of Liberation Sans. A system
    font is read from its file for every glyph measured: a thousand file opens per chart, four fifths
    of a chart's render time. With an empty font configuration while the database is built (the
    first conversion), only the built-in, in-memory copy is there: charts render about five times
    faster, and their layout no longer depends on which fonts the build machine has. The page still
    asks the reader's browser for `system-ui, sans-serif`. The environment is restored at once.
    Idempotent.
    """
    global _renderer_ready
    with _renderer_lock:
        if _renderer_ready:
            return
        with tempfile.TemporaryDirectory(prefix="vl-fonts-") as empty:
            conf = os.path.join(empty, "fonts.conf")
            with open(conf, "w", encoding="utf-8") as fh:
                fh.write(_FONTS_CONF.format(dir=empty))
            before = os.environ.get("FONTCONFIG_FILE")
            os.environ["FONTCONFIG_FILE"] = conf
            try:
                vl_convert.vega_to_svg(_WARM_UP, allowed_base_urls=[])  # builds the font database
            finally:
                if before is None:
                    del os.environ["FONTCONFIG_FILE"]
                else:
                    os.environ["FONTCONFIG_FILE"] = before
        _renderer_ready = True


def draw_svg(vega: dict[str, Any]) -> str:
    """A filled Vega spec drawn as SVG by vl-convert in this process (started on first use)."""
    prepare_renderer()
    # An empty allowlist forbids any data or image fetch, should a spec ever name a URL.
    return vl_convert.vega_to_svg(vega, allowed_base_urls=[])


def draw_png(vega: dict[str, Any]) -> bytes:
    """A filled Vega spec drawn as PNG, at its own size, by vl-convert in this process."""
    prepare_renderer()
    return vl_convert.vega_to_png(vega, scale=1, allowed_base_urls=[])


# -- the chart process, seen from the build -----------------------------------------------------------
_HEAD = struct.Struct(">cQ")
SVG, PNG = b"s", b"p"
_DRAWN, _REFUSED = b"+", b"-"


class ChartProcess:
    """The build's side: `submit` sends a spec and returns the future of its drawing (bytes)."""

    def __init__(self) -> None:
        # A process group of its own: a Ctrl-C at the terminal reaches the build (which answers it and
        # closes this process's stdin), never this process in the middle of its start.
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "generator.chartproc"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            process_group=0 if os.name == "posix" else None,
        )
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._pending: deque[Future[bytes]] = deque()
        self._lock = threading.Lock()
        self._ended = False
        """The process's answers ended (it stopped, or was closed): a request now fails at once."""
        self._outbox: SimpleQueue[bytes | None] = SimpleQueue()
        # Two threads, so that neither pipe can fill while the other waits: a spec larger than the pipe
        # would otherwise block this process until the chart process read it.
        self._writer = threading.Thread(target=self._write, args=(self._proc.stdin,), name="charts-out", daemon=True)
        self._reader = threading.Thread(target=self._read, args=(self._proc.stdout,), name="charts-in", daemon=True)
        self._writer.start()
        self._reader.start()

    def submit(self, what: bytes, vega: dict[str, Any]) -> Future[bytes]:
        data = json.dumps(vega, separators=(",", ":")).encode()
        future: Future[bytes] = Future()
        with self._lock:  # the answers come back in the order the requests were queued
            if self._ended:
                future.set_exception(self._stopped())
                return future
            self._pending.append(future)
            self._outbox.put(_HEAD.pack(what, len(data)) + data)
        return future

    def __enter__(self) -> ChartProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Let the process end (its stdin closes) and wait for it; drawings not yet read are dropped."""
        if self._proc.returncode is not None and not self._writer.is_alive():
            return  # closed already
        self._outbox.put(None)
        self._writer.join()
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        self._reader.join()

    def _write(self, stdin: IO[bytes]) -> None:
        with contextlib.suppress(OSError), stdin:  # a process that died is reported by the reader
            while (message := self._outbox.get()) is not None:
                stdin.write(message)
                stdin.flush()

    def _read(self, stdout: IO[bytes]) -> None:
        with stdout:
            while True:
                head = stdout.read(_HEAD.size)
                if len(head) < _HEAD.size:
                    break
                status, length = _HEAD.unpack(head)
                payload = stdout.read(length)
                with self._lock:
                    future = self._pending.popleft()
                if status == _DRAWN:
                    future.set_result(payload)
                else:
                    future.set_exception(RenderError(f"a chart could not be drawn: {payload.decode(errors='replace')}"))
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._proc.wait(timeout=5)  # its output ended: it is ending, and its exit status says how
        with self._lock:
            self._ended = True
            while self._pending:
                self._pending.popleft().set_exception(self._stopped())

    def _stopped(self) -> RenderError:
        code = self._proc.poll()
        return RenderError(
            "the chart process stopped"
            + (f" (exit status {code})" if code is not None else "")
            + "; the previous site is unchanged"
        )


# -- the chart process ------------------------------------------------------------------------------
def serve(stdin: IO[bytes], stdout: IO[bytes]) -> None:
    """Draw each request in order until stdin ends."""
    prepare_renderer()  # vl-convert's runtime and fonts: started while the build links files
    while len(head := stdin.read(_HEAD.size)) == _HEAD.size:
        what, length = _HEAD.unpack(head)
        try:
            vega = json.loads(stdin.read(length))
            out = draw_png(vega) if what == PNG else draw_svg(vega).encode()
            answer = _HEAD.pack(_DRAWN, len(out)) + out
        except Exception as exc:  # noqa: BLE001 - any refusal is reported to the build, which raises it
            text = _first_words(exc).encode()
            answer = _HEAD.pack(_REFUSED, len(text)) + text
        stdout.write(answer)
        stdout.flush()


def _first_words(exc: Exception) -> str:
    """vl-convert's message, in one line: its first, and the cause it names on the next
    ("Vega to SVG conversion failed:" / "TypeError: ..."), without the JavaScript stack."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()] or [type(exc).__name__]
    return " ".join(lines[:2]) if lines[0].endswith(":") else lines[0]


def main() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a Ctrl-C sent to it alone: the build answers it
    with contextlib.suppress(BrokenPipeError):  # the build died: nobody reads
        serve(sys.stdin.buffer, sys.stdout.buffer)


if __name__ == "__main__":
    main()
