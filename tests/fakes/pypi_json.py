"""A local stand-in for PyPI's JSON API: GET /<project>/json, and a log of the requests it got.

The shape is pypi.org's, as documented at https://docs.pypi.org/api/json/ ("Get a project"):
an object with `info`, `last_serial`, `releases` (version → list of its files), `urls` (the latest
release's files) and `vulnerabilities`; each file has `filename`, `packagetype`, `upload_time`
and `upload_time_iso_8601` among others. An unknown project is a 404 with {"message": "Not Found"},
as pypi.org answers; so is any other path. Only GET is allowed (405 otherwise), as on pypi.org.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from typing import Any

from tests.fakes.loopback import LoopbackFake, LoopbackHandler


def file_entry(project: str, version: str, uploaded: dt.datetime, kind: str = "bdist_wheel") -> dict[str, Any]:
    """One file of a release, with the fields pypi.org gives (digests and URL made up)."""
    suffix = "-py3-none-any.whl" if kind == "bdist_wheel" else ".tar.gz"
    name = f"{project.replace('-', '_')}-{version}{suffix}"
    return {
        "comment_text": "",
        "digests": {"blake2b_256": "0" * 64, "md5": "0" * 32, "sha256": "0" * 64},
        "downloads": -1,
        "filename": name,
        "has_sig": False,
        "md5_digest": "0" * 32,
        "packagetype": kind,
        "python_version": "py3" if kind == "bdist_wheel" else "source",
        "requires_python": ">=3.9",
        "size": 12345,
        "upload_time": uploaded.strftime("%Y-%m-%dT%H:%M:%S"),
        "upload_time_iso_8601": uploaded.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "url": f"https://files.pythonhosted.org/packages/00/00/{name}",
        "yanked": False,
        "yanked_reason": None,
    }


class _Handler(LoopbackHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        fake: FakePyPIJson = self.fake
        with fake.lock:
            fake.requests.append(self.path)
            fake.user_agents.append(self.headers.get("User-Agent", ""))
        parts = self.path.strip("/").split("/")
        doc = fake.document(parts[0]) if len(parts) == 2 and parts[1] == "json" else None
        if fake.fail_status:
            self._send(fake.fail_status, {"message": "Service Unavailable"})
        elif doc is None:
            self._send(404, {"message": "Not Found"})
        else:
            self._send(200, doc)

    def do_POST(self) -> None:  # noqa: N802
        self._send(405, {"message": "Method Not Allowed"})

    def _send(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class FakePyPIJson(LoopbackFake):
    """`projects` maps a project to version → its files' upload times (UTC). `.requests` logs each path asked."""

    handler = _Handler
    thread_name = "fake-pypi-json"

    def __init__(self, projects: dict[str, dict[str, list[dt.datetime]]] | None = None) -> None:
        self.projects = projects or {}
        self.requests: list[str] = []
        self.user_agents: list[str] = []
        self.fail_status = 0
        """Answer every request with this status (e.g. 503) when set."""
        self.lock = threading.Lock()

    def document(self, project: str) -> dict[str, Any] | None:
        releases = self.projects.get(project)
        if releases is None:
            return None
        files = {
            version: [
                file_entry(project, version, t, "sdist" if i else "bdist_wheel") for i, t in enumerate(sorted(times))
            ]
            for version, times in releases.items()
        }
        latest = list(files)[-1] if files else ""
        return {
            "info": {"name": project, "version": latest, "summary": "", "yanked": False},
            "last_serial": 1,
            "releases": files,
            "urls": files.get(latest, []),
            "vulnerabilities": [],
        }
