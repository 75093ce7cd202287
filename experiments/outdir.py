"""The output folder of a run: one writer at a time, the right config, whole files.

:class:`OutputDir` is taken before any work (data loading, compilation):

* it checks that ``--out`` is a directory, or can be created, and is writable;
* it takes an exclusive OS lock on ``<out>/.lock`` (``fcntl.flock``). The lock
  belongs to the open file: it is released when the run ends, and by the OS
  when the process dies, however it dies, so a stale lock never blocks a
  rerun. A second run into a locked folder fails at once with a
  :class:`~experiments.cli.UsageError` naming the holder (pid, host, start);
* it removes the ``.tmp-*`` files that a killed writer left behind;
* :meth:`OutputDir.check_config` refuses an existing ``config.json`` that
  records a different configuration, listing the keys that differ.

Checkpoints prove whose they are: :func:`sweep_identity` hashes what fixes the
runs and their order, the run count and :data:`FORMAT_VERSION`; the writer
stores it under :data:`IDENTITY_KEY` and :func:`validate_checkpoint` reads the
file safely and refuses one that is unreadable, incomplete or another sweep's.

Every file is written by :func:`atomic_write` (temp file, ``fsync``, rename;
mode ``0o644`` under the usual umask).

The lock is advisory (it stops other runs of these commands, not other
programs) and needs a file system with working ``flock`` (local file systems;
NFS on Linux emulates it with POSIX locks).
"""

from __future__ import annotations

import datetime
import errno
import fcntl
import hashlib
import json
import os
import socket
import sys
import time
import zipfile
import zlib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from experiments.cli import UsageError
from jaxact._src.io import TMP_PREFIX, atomic_write

__all__ = [
    "FORMAT_VERSION",
    "IDENTITY_KEY",
    "LOCK_NAME",
    "OutputDir",
    "atomic_write",
    "config_differences",
    "identity_array",
    "sweep_identity",
    "validate_checkpoint",
]

LOCK_NAME = ".lock"
FORMAT_VERSION = 2  # of the checkpoint layout; part of every sweep identity
IDENTITY_KEY = "sweep_identity"
CONFIG_NAME = "config.json"


class OutputDir:
    """An output folder held exclusively for the duration of a ``with`` block.

    Args:
      path: the folder (created, with its parents, if missing).
      flag: the command-line flag that named it, for error messages.

    Attributes:
      path: the folder as a :class:`~pathlib.Path`.
      removed: the leftover ``.tmp-*`` files removed on entry.

    Raises (on entry):
      UsageError: ``path`` is a file, lies under a file, cannot be created or
        written, or another live process holds its lock.

    Examples:
      >>> import tempfile, pathlib
      >>> out = pathlib.Path(tempfile.mkdtemp()) / "run"
      >>> with OutputDir(out) as d:
      ...     _ = d.write_json("config.json", {"seeds": 2})
      ...     OutputDir(out).__enter__()  # doctest: +ELLIPSIS
      Traceback (most recent call last):
      ...
      experiments.cli.UsageError: --out ... is in use by another run (pid ...); wait for it to finish or choose another --out
      >>> with OutputDir(out) as d:  # released: taken again
      ...     d.check_config({"seeds": 2})
      True
    """

    def __init__(self, path: str | os.PathLike, *, flag: str = "--out"):
        self.path = Path(path)
        self.flag = flag
        self.removed: list[Path] = []
        self._fd: int | None = None

    # -- taking and releasing --------------------------------------------------

    def __enter__(self) -> OutputDir:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def acquire(self) -> None:
        """Checks the folder, takes its lock and removes leftover temp files."""
        if self._fd is not None:
            raise RuntimeError("OutputDir: the lock is already held by this object")
        self._make_folder()
        lock = self.path / LOCK_NAME
        try:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError as e:
            raise self._error(f"cannot create {LOCK_NAME} in it ({_reason(e)})") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            if e.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                os.close(fd)
                raise self._error(f"cannot lock {LOCK_NAME} in it ({_reason(e)})") from None
            holder = _describe_holder(fd)
            os.close(fd)
            raise UsageError(
                f"{self.flag} {self.path} is in use by another run ({holder}); "
                f"wait for it to finish or choose another {self.flag}"
            ) from None
        self._fd = fd
        _write_holder(fd)
        self.removed = self._remove_temp_files()

    def release(self) -> None:
        """Releases the lock (the OS does the same if the process dies)."""
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            os.ftruncate(fd, 0)
        except OSError:
            pass
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    @property
    def locked(self) -> bool:
        """Whether this object holds the folder's lock."""
        return self._fd is not None

    def _error(self, what: str) -> UsageError:
        return UsageError(f"{self.flag} {self.path}: {what}")

    def _make_folder(self) -> None:
        p = self.path
        if p.exists() and not p.is_dir():
            raise self._error("exists and is not a directory")
        if not p.exists():
            ancestor = p.parent
            while not ancestor.exists() and ancestor != ancestor.parent:
                ancestor = ancestor.parent
            if not ancestor.is_dir():
                raise self._error(f"{ancestor} is a file, not a directory")
            try:
                p.mkdir(parents=True, exist_ok=True)
            except OSError as e:
                raise self._error(f"cannot create it ({_reason(e)})") from None
        if not os.access(p, os.W_OK | os.X_OK):
            raise self._error("is not writable")

    def _remove_temp_files(self) -> list[Path]:
        removed = []
        for tmp in sorted(self.path.glob(TMP_PREFIX + "*")):
            if tmp.is_file() and not tmp.is_symlink():
                try:
                    tmp.unlink()
                    removed.append(tmp)
                except OSError:
                    pass
        return removed

    # -- contents --------------------------------------------------------------

    def check_config(
        self,
        expected: Mapping[str, Any],
        *,
        overwrite: bool = False,
        key: str | None = None,
        name: str = CONFIG_NAME,
    ) -> bool:
        """Refuses an existing ``name`` that records another configuration.

        Args:
          expected: the configuration of this run (JSON-serialisable).
          overwrite: accept any existing file (the caller replaces it).
          key: where the configuration sits in the file (``None``: the whole file).
          name: the file.

        Returns:
          Whether the folder already holds this configuration (a resume).

        Raises:
          UsageError: the file records a different configuration (the keys that
            differ are listed) or cannot be read, and ``overwrite`` is false.
        """
        path = self.path / name
        if not path.exists():
            return False
        try:
            previous = json.loads(path.read_text(encoding="utf-8"))
            if key is not None:
                previous = previous[key]
        except (OSError, ValueError, KeyError, TypeError) as e:
            if overwrite:
                return False
            raise UsageError(
                f"{self.flag} {self.path}: {name} is unreadable ({type(e).__name__}: {e}); "
                f"pass --overwrite to replace it or choose another {self.flag}"
            ) from None
        diff = config_differences(previous, expected)
        if not diff:
            return True
        if overwrite:
            return False
        shown = "; ".join(diff[:6]) + (f"; and {len(diff) - 6} more" if len(diff) > 6 else "")
        raise UsageError(
            f"{self.flag} {self.path} holds a run with a different config ({shown}); "
            f"pass --overwrite to replace it or choose another {self.flag}"
        )

    def write_json(self, name: str, obj: Any) -> Path:
        """Writes ``obj`` as sorted, indented JSON to ``name`` atomically."""
        text = json.dumps(_jsonable(obj), indent=2, sort_keys=True) + "\n"
        path = self.path / name
        atomic_write(path, lambda f: f.write(text), mode="w")
        return path

    def remove(self, names: Iterable[str]) -> None:
        """Deletes the named files of a previous run (for ``--overwrite``)."""
        for n in names:
            (self.path / n).unlink(missing_ok=True)


def _reason(e: OSError) -> str:
    return e.strerror or str(e)


def _write_holder(fd: int) -> None:
    info = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "started": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "command": " ".join(sys.argv),
    }
    data = (json.dumps(info) + "\n").encode()
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, data, 0)
        os.fsync(fd)
    except OSError:
        pass  # the lock itself is what matters


def _describe_holder(fd: int) -> str:
    """The holder of a lock, from what it wrote into the lock file."""
    info = None
    for _ in range(20):  # the holder writes right after locking; wait for it briefly
        try:
            raw = os.pread(fd, 65536, 0)
            info = json.loads(raw) if raw.strip() else None
        except (OSError, ValueError):
            info = None
        if isinstance(info, dict):
            break
        time.sleep(0.05)
    if not isinstance(info, dict):
        return "holder unknown"
    return (
        f"pid {info.get('pid', '?')} on host {info.get('host', '?')}, "
        f"started {info.get('started', '?')}"
    )


def _jsonable(obj: Any) -> Any:
    """``obj`` with tuples, NumPy scalars and arrays as JSON types."""
    if isinstance(obj, Mapping):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, Path):
        return str(obj)
    return obj


def config_differences(previous: Any, expected: Any) -> list[str]:
    """``"key: old → new"`` for every top-level key whose value differs.

    Examples:
      >>> config_differences({"lr": 0.01, "seeds": 2}, {"lr": 0.003, "seeds": 2, "k": 1})
      ['k: (absent) → 1', 'lr: 0.01 → 0.003']
    """
    a, b = _jsonable(previous), _jsonable(expected)
    if not isinstance(a, dict) or not isinstance(b, dict):
        return [] if a == b else [f"{_short(a)} → {_short(b)}"]
    out = []
    for k in sorted(set(a) | set(b)):
        if a.get(k, _ABSENT) != b.get(k, _ABSENT):
            out.append(f"{k}: {_short(a.get(k, _ABSENT))} → {_short(b.get(k, _ABSENT))}")
    return out


class _Absent:
    def __repr__(self) -> str:
        return "(absent)"


_ABSENT = _Absent()


def _short(v: Any, limit: int = 40) -> str:
    text = repr(v) if not isinstance(v, str) else v
    return text if len(text) <= limit else text[: limit - 1] + "…"


def sweep_identity(config_subset: Mapping[str, Any], num_runs: int) -> str:
    """The identity of a sweep's runs: a SHA-256 hex digest.

    Hashes the canonical JSON (sorted keys, no whitespace, floats in Python's
    shortest round-trip form) of ``config_subset`` (everything that fixes the
    runs and their order), ``num_runs`` and :data:`FORMAT_VERSION`.

    Examples:
      >>> a = sweep_identity({"values": [0.1, 0.2], "seeds": 2}, 4)
      >>> a == sweep_identity({"seeds": 2, "values": (0.1, 0.2)}, 4)
      True
      >>> a == sweep_identity({"values": [0.2, 0.1], "seeds": 2}, 4)
      False
      >>> len(a)
      64
    """
    if not isinstance(num_runs, int | np.integer) or num_runs < 1:
        raise ValueError(f"sweep_identity: num_runs must be an integer ≥ 1, got {num_runs!r}")
    canonical = json.dumps(
        {"config": _jsonable(config_subset), "num_runs": int(num_runs), "format": FORMAT_VERSION},
        sort_keys=True,
        separators=(",", ":"),
        allow_nan=False,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def validate_checkpoint(
    path: str | os.PathLike,
    identity: str,
    *,
    required: Iterable[str] = (),
) -> dict[str, np.ndarray]:
    """Reads a checkpoint ``.npz`` and proves it belongs to the sweep ``identity``.

    The file is read without pickle; every array is read (so a truncated or
    corrupted member is found here, not halfway through a resume).

    Args:
      path: the checkpoint.
      identity: :func:`sweep_identity` of the sweep about to resume.
      required: keys the resume needs besides :data:`IDENTITY_KEY`.

    Returns:
      The checkpoint's arrays by key (``IDENTITY_KEY`` included).

    Raises:
      UsageError: one line saying what is wrong, and the options
        (``--overwrite``, or moving the file away).
    """
    path = Path(path)
    options = f"pass --overwrite to start the sweep again, or move {path.name} away to keep it"
    try:
        with open(path, "rb") as f:
            loaded = np.load(f, allow_pickle=False)
            if not isinstance(loaded, np.lib.npyio.NpzFile):
                raise ValueError("a single .npy array, not an .npz archive")
            with loaded as npz:
                arrays = {k: np.array(npz[k]) for k in npz.files}
    except (OSError, EOFError, ValueError, KeyError, zipfile.BadZipFile, zlib.error) as e:
        detail = _unreadable_reason(e, path)
        raise UsageError(f"checkpoint {path} is unreadable ({detail}); {options}") from None
    if IDENTITY_KEY not in arrays:
        raise UsageError(
            f"checkpoint {path} carries no sweep identity (written by another version or "
            f"another program); {options}"
        )
    found = arrays[IDENTITY_KEY]
    found = str(found.item()) if found.shape == () and found.dtype.kind == "U" else None
    if found != identity:
        shown = "malformed" if found is None else found[:12] + "…"
        raise UsageError(
            f"checkpoint {path} belongs to a different sweep (identity {shown}, this sweep "
            f"{identity[:12]}…); {options}"
        )
    missing = sorted(set(required) - set(arrays))
    if missing:
        shown = ", ".join(missing[:5]) + (" …" if len(missing) > 5 else "")
        raise UsageError(f"checkpoint {path} is incomplete (missing {shown}); {options}")
    return arrays


def _unreadable_reason(e: BaseException, path: Path) -> str:
    try:
        size = path.stat().st_size
    except OSError:
        size = None
    if size == 0:
        return "the file is empty"
    if isinstance(e, ValueError) and "pickle" in str(e):
        return "not an .npz archive of arrays"
    text = " ".join(str(e).split()) or type(e).__name__
    return f"{type(e).__name__}: {text[:120]}"


def identity_array(identity: str) -> np.ndarray:
    """The array a checkpoint writer stores under :data:`IDENTITY_KEY`."""
    return np.asarray(identity, dtype=f"<U{len(identity)}")
