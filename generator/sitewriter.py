"""Write a whole site, then publish it at once: a failed or killed build never leaves a half-written site.

Files go to a hidden sibling directory; when everything is written, it is swapped with the old
site in one atomic `renameat2(RENAME_EXCHANGE)` (Linux), so `site/` is always either the old
complete site or the new one. A lock file beside the site (`.<name>.lock`, flock) keeps two builds
from sharing one staging directory: the second is refused instead of mixing files into the first.

Unchanged files are not rewritten. A file whose bytes equal the live site's file at the same path is
hard-linked from it into the staging directory instead of written (same inode, same mtime), and a
whole unit the build did not render is linked with `reuse()` (see `generator.incremental`). A deploy
that compares files then uploads only what changed. Nothing is ever written into a linked file: a
path is unlinked before it is written, so the live site is never touched before the swap.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import os
import shutil
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

from generator.errors import RenderError

_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two directories; False where the kernel or libc cannot."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return False
    rc = fn(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    if rc == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
        return False
    raise OSError(err, os.strerror(err), str(b))


def _write_new(path: str, payload: bytes) -> None:
    """Write a file that is not there (or truncate one), as `open(path, "wb")` would, in fewer calls."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o666)
    try:
        view = memoryview(payload)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)


class SiteWriter:
    """Collects a site's files in a staging directory; `publish()` swaps it into place."""

    def __init__(self, out_dir: Path, *, link_unchanged: bool = True) -> None:
        self.out_dir = out_dir.resolve()
        parent = self.out_dir.parent
        self.staging = parent / f".{self.out_dir.name}.staging"
        self.trash = parent / f".{self.out_dir.name}.old"
        self.written: dict[str, int] = {}
        """Every file of the new site and its size, whether written or linked."""
        self.linked: set[str] = set()
        """The files linked from the previous site rather than written."""
        self.link_unchanged = link_unchanged
        self._lock_fd: int | None = None
        self._staging = os.fspath(self.staging)
        self._folders: set[str] = set()
        """Folders of the staged site made so far: each is made once, not once per file (a syscall each)."""
        try:
            parent.mkdir(parents=True, exist_ok=True)
            self._lock(parent / f".{self.out_dir.name}.lock")
            self._clear_leftovers()
            self.staging.mkdir()
        except OSError as exc:
            self._unlock()
            raise RenderError(
                f"{self.out_dir}: cannot write the site here ({exc.strerror}); the previous site is unchanged"
            ) from None

    def _lock(self, path: Path) -> None:
        # Another build writing the same site would have its staging directory cleared under it.
        self._lock_fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o644)
        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._unlock()
            raise RenderError(
                f"{self.out_dir}: another build is writing this site; wait for it to finish, then run again"
            ) from None

    def _unlock(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # closing the descriptor releases the flock
            self._lock_fd = None

    def _clear_leftovers(self) -> None:
        # A build killed between the swap and the clean-up leaves the old site in `trash`.
        if not self.out_dir.exists() and self.trash.is_dir():
            os.rename(self.trash, self.out_dir)
        for leftover in (self.staging, self.trash):
            if leftover.exists():
                shutil.rmtree(leftover)

    def previous_path(self, rel: str) -> Path:
        """Where `rel` is in the live (previous) site."""
        return self.out_dir.joinpath(*PurePosixPath(rel).parts)

    def write(self, rel: str, data: str | bytes) -> None:
        """Write one file of the site (a relative POSIX path); linked instead if the live site has these bytes.

        Plain `os` calls on strings: a build writes some forty thousand files, and pathlib's objects cost
        more than the writing.
        """
        target = os.path.join(self._staging, self._checked(rel))
        payload = data.encode("utf-8") if isinstance(data, str) else data
        try:
            self._make_folder(os.path.dirname(target))
            if os.path.lexists(target):
                os.unlink(target)  # it may be a link into the live site: never write through it
            if not (self.link_unchanged and self._link_if_same(rel, Path(target), payload)):
                _write_new(target, payload)
                self.linked.discard(rel)
        except OSError as exc:
            self._fail(rel, exc)
        self.written[rel] = len(payload)

    @staticmethod
    def _checked(rel: str) -> str:
        """`rel` as a path under the site, or RenderError: never absolute, never `..`, never empty."""
        parts = [part for part in rel.split("/") if part not in ("", ".")]
        if rel.startswith("/") or ".." in parts or not parts:
            raise RenderError(f"{rel}: refusing to write outside the site directory")
        return os.path.join(*parts)

    def reuse(self, files: Iterable[str]) -> None:
        """Link files of the live site, unchanged, into the new one (a unit this build did not render)."""
        live = os.fspath(self.out_dir)
        for rel in files:
            target = os.path.join(self._staging, self._checked(rel))
            try:
                self._make_folder(os.path.dirname(target))
                if os.path.lexists(target):
                    os.unlink(target)
                self._link(os.path.join(live, rel), target)
                size = os.stat(target).st_size
            except OSError as exc:
                self._fail(rel, exc)
            self.linked.add(rel)
            self.written[rel] = size

    def _make_folder(self, folder: str) -> None:
        if folder not in self._folders:
            os.makedirs(folder, exist_ok=True)
            self._folders.add(folder)

    def _link_if_same(self, rel: str, path: Path, payload: bytes) -> bool:
        old = self.previous_path(rel)
        try:
            if not old.is_file() or old.is_symlink() or old.stat().st_size != len(payload):
                return False
            if old.read_bytes() != payload:
                return False
            self._link(old, path)
        except OSError:
            return False
        self.linked.add(rel)
        return True

    @staticmethod
    def _link(source: str | Path, target: str | Path) -> None:
        try:
            os.link(source, target)
        except OSError as exc:
            if exc.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP, errno.EOPNOTSUPP):
                raise
            shutil.copy2(source, target)  # another file system, or no hard links: a copy keeps the mtime

    def _fail(self, rel: str, exc: OSError) -> None:
        self.discard()
        why = "disk full" if exc.errno == errno.ENOSPC else exc.strerror
        raise RenderError(f"{rel}: cannot write ({why}); the previous site is unchanged") from None

    def discard(self) -> None:
        shutil.rmtree(self.staging, ignore_errors=True)
        self._unlock()

    def publish(self) -> None:
        """Swap the staged site into place in one step, then remove the old one."""
        try:
            if self.out_dir.exists():
                if not _exchange(self.staging, self.out_dir):
                    os.rename(self.out_dir, self.trash)
                    os.rename(self.staging, self.out_dir)
                    shutil.rmtree(self.trash, ignore_errors=True)
                    return
                shutil.rmtree(self.staging, ignore_errors=True)  # now holds the old site
            else:
                os.rename(self.staging, self.out_dir)
        except OSError as exc:
            raise RenderError(f"{self.out_dir}: cannot publish the site ({exc.strerror})") from None
        finally:
            self._unlock()
