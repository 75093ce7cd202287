"""The one atomic file writer of the library and of its experiments.

:func:`atomic_write` writes through a temporary file in the target's
directory (named ``.tmp-<random><name>``), flushes and ``fsync``s it, gives it
the permissions a plain ``open`` would (``0o666`` minus the process umask:
``0o644`` under the usual umask ``022``; :func:`tempfile.mkstemp` alone gives
``0o600``), renames it over the target and ``fsync``s the directory. A reader
sees the old file or the new one, never a half-written one; a killed process
leaves at worst a ``.tmp-*`` file, which :data:`TMP_PREFIX` lets a later run
recognise and remove.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from typing import IO, Any

TMP_PREFIX = ".tmp-"

__all__ = ["TMP_PREFIX", "atomic_write", "current_umask", "default_file_mode"]


def current_umask() -> int:
    """The process's umask, read without changing it where the OS allows.

    Linux reports it in ``/proc/self/status``; elsewhere it is read by setting
    and restoring it (``os.umask`` has no read-only form).
    """
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def default_file_mode() -> int:
    """The mode ``open(path, "w")`` would give a new file: ``0o666 & ~umask``."""
    return 0o666 & ~current_umask()


def atomic_write(
    path: str | os.PathLike,
    write: Callable[[IO[Any]], Any],
    mode: str = "wb",
) -> None:
    """Writes ``path`` atomically through ``write(f)``.

    Args:
      path: the file to create or replace; its directory is created if needed.
      write: called once with the open temporary file.
      mode: ``"wb"`` (bytes) or ``"w"`` (text, UTF-8).

    Raises:
      ValueError: ``mode`` is neither ``"wb"`` nor ``"w"``.
      OSError: the directory cannot be created or written; no temporary file
        is left behind.

    Examples:
      >>> import pathlib, stat, tempfile
      >>> path = pathlib.Path(tempfile.mkdtemp()) / "a.txt"
      >>> atomic_write(path, lambda f: f.write("hello"), mode="w")
      >>> path.read_text()
      'hello'
      >>> stat.S_IMODE(path.stat().st_mode) == default_file_mode()
      True
    """
    if mode not in ("wb", "w"):
        raise ValueError(f"atomic_write: mode must be 'wb' or 'w', got {mode!r}")
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=TMP_PREFIX, suffix=os.path.basename(path))
    try:
        with os.fdopen(fd, mode, **({"encoding": "utf-8"} if mode == "w" else {})) as f:
            os.fchmod(f.fileno(), default_file_mode())
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    _fsync_directory(directory)


def _fsync_directory(directory: str) -> None:
    """Makes a rename in ``directory`` durable (a no-op where directories cannot be opened)."""
    try:
        dfd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dfd)
    except OSError:
        pass
    finally:
        os.close(dfd)
