"""Serve a built site on localhost for preview, optionally under a sub-path like GitHub Pages.

The API's query-string forms are rewritten to their files as netlify.toml does on Netlify
(`overall?mirrors=true` → `mirrors/true/overall`, `recent?period=day` → `period/day/recent`), so
the preview answers as pypistats.org does, 404 included where no file was written.
"""

from __future__ import annotations

import functools
import http.server
import threading
import urllib.parse
from collections.abc import Mapping
from pathlib import Path

from rich.console import Console

from generator import layout
from generator.errors import GeneratorError

_API_QUERIES = {"overall": "mirrors", "recent": "period"}
"""Endpoint → the query parameter whose value names its variant's folder (see netlify.toml)."""


def api_rewrite(path: str) -> str:
    """`/api/packages/x/overall?mirrors=true` → `/api/packages/x/mirrors/true/overall`; other paths as they are."""
    parts = urllib.parse.urlsplit(path)
    doc = layout.API_DOCUMENT.match(parts.path.removeprefix("/"))
    if doc is None or doc["document"] not in _API_QUERIES:
        return path
    key = _API_QUERIES[doc["document"]]
    values = urllib.parse.parse_qs(parts.query).get(key)
    if not values:
        return parts.path
    return "/" + layout.api_document(
        doc["project"], f"{key}/{urllib.parse.quote(values[0], safe='')}/{doc['document']}"
    )


class _Handler(http.server.SimpleHTTPRequestHandler):
    prefix = "/"
    extra_headers: Mapping[str, str] = {}

    def translate_path(self, path: str) -> str:
        # Strip the sub-path prefix so /repo/packages/x/ maps to site/packages/x/.
        if self.prefix != "/":
            if not path.startswith(self.prefix):
                return str(Path(self.directory) / "__outside_prefix__")
            path = "/" + path[len(self.prefix) :]
        return super().translate_path(api_rewrite(path))

    def end_headers(self) -> None:
        for key, value in self.extra_headers.items():
            self.send_header(key, value)
        super().end_headers()

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        page = Path(self.directory) / layout.NOT_FOUND_PAGE
        if code == 404 and page.is_file():
            body = page.read_bytes()
            self.send_response(404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)
            return
        super().send_error(code, message, explain)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
        return None


def make_server(
    directory: Path,
    bind: str = "127.0.0.1",
    port: int = 0,
    prefix: str = "/",
    headers: Mapping[str, str] | None = None,
) -> http.server.ThreadingHTTPServer:
    """An HTTP server for `directory` at `prefix` (must start and end with /); port 0 picks a free one."""
    if not (directory / layout.INDEX_PAGE).is_file():
        raise GeneratorError(f"{directory}: no built site here (run build first)")
    if not (prefix.startswith("/") and prefix.endswith("/")):
        raise GeneratorError(f"prefix {prefix!r} must start and end with /")
    handler = type("Handler", (_Handler,), {"prefix": prefix, "extra_headers": dict(headers or {})})
    return http.server.ThreadingHTTPServer((bind, port), functools.partial(handler, directory=str(directory)))


def _host(server: http.server.HTTPServer) -> str:
    """The address an IP server listens on (text; the type allows bytes for other socket families)."""
    host = server.server_address[0]
    return host if isinstance(host, str) else bytes(host).decode()


def serve_in_thread(
    directory: Path, prefix: str = "/", headers: Mapping[str, str] | None = None
) -> tuple[http.server.ThreadingHTTPServer, str]:
    """Start a server on a free loopback port; returns (server, base_url). Call server.shutdown()."""
    server = make_server(directory, port=0, prefix=prefix, headers=headers)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server, f"http://{_host(server)}:{server.server_port}{prefix}"


def serve(directory: Path, bind: str, port: int, console: Console) -> None:
    """Serve until interrupted."""
    try:
        server = make_server(directory, bind, port)
    except OSError as exc:
        raise GeneratorError(f"cannot listen on {bind}:{port} ({exc.strerror}); try --port") from None
    console.print(f"Serving {directory} at http://{_host(server)}:{server.server_port}/ (Ctrl+C to stop)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
