"""Opening the data folder (``HEATMAP_DATA_DIR``): one writer per folder, usable or refused.

``open_data_dir`` takes an exclusive ``flock`` on ``heatmap.lock`` in the folder before it
touches the database, so of several processes started on one folder (gunicorn workers, a second
``app.py``) exactly one ingests, migrates and writes; the others never open the database and are
refused. The OS releases the lock when its process ends, however it ends, so a crash never
leaves a stale lock behind. Then it proves the folder usable with real writes (the lock file, a
probe file, a row in the database), so a read-only folder or database, missing permissions or a
full disk refuse the start with one message that says what to do, instead of failing every
write later. ``DataDirError``'s text is that message (it names the folder: for the log and the
terminal, never the public API).
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import time
from pathlib import Path

from heatmap_engine.history.failures import CAUSES, classify
from heatmap_engine.history.sqlite_store import SqliteStore

# The exit status of a process refused its data folder; under gunicorn it is also "worker failed
# to boot", on which the master stops instead of starting the worker again and again.
EXIT_DATA_DIR = 3
LOCK_NAME = "heatmap.lock"
PROBE_NAME = ".heatmap-write-probe"
HOLDER_READS = 100  # reads of a just-taken lock's pid, 10 ms apart
PROBE_BYTES = 256 * 1024  # less free room than this is a full disk for a store
ONE_WORKER = (
    "only one process may ingest and write history per data folder: under gunicorn run one "
    "worker (gunicorn --workers 1 --threads N 'app:create_server()'), otherwise stop the "
    "other process or give this one another HEATMAP_DATA_DIR"
)
WHAT_TO_DO = {
    "read_only": "remount it read-write or point HEATMAP_DATA_DIR at a writable folder",
    "no_permission": "give the service's user write access to it (chown/chmod) or point "
    "HEATMAP_DATA_DIR at a folder that user owns",
    "cannot_open": "check that the folder and its files are writable by the service's user",
    "disk_full": "free space on that filesystem or point HEATMAP_DATA_DIR at another one",
    "locked": "stop the program holding the database (a backup, an sqlite3 shell) and start again",
    "io_error": "check the disk (dmesg) or point HEATMAP_DATA_DIR at another one",
    "corrupt": "move heatmap.sqlite3* aside (a fresh store is created) or restore a backup",
}


class DataDirError(Exception):
    """The data folder cannot be used; ``str()`` is the one message for the operator.
    ``cause`` is a key of ``failures.CAUSES``, or ``busy`` (another process holds it)."""

    def __init__(self, message: str, cause: str, folder: Path | None = None):
        super().__init__(message)
        self.cause = cause
        self.folder = folder


class DataDirLock:
    """An exclusive ``flock`` on ``<folder>/heatmap.lock`` holding the owner's pid."""

    def __init__(self, folder: Path, name: str = LOCK_NAME):
        self.path = folder / name
        self._fd: int | None = None

    def acquire(self) -> None:
        """Takes the lock or raises ``DataDirError`` (busy: it names the holder's pid)."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder_pid(fd)
            os.close(fd)
            folder = self.path.parent
            raise DataDirError(
                f"the data folder {folder} (HEATMAP_DATA_DIR) is in use by another process "
                f"(pid {holder}): {ONE_WORKER}",
                "busy",
                folder,
            ) from None
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        os.fsync(fd)

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor releases the flock
            self._fd = None

    @property
    def held(self) -> bool:
        return self._fd is not None


def _holder_pid(fd: int) -> str:
    """The pid the lock's holder wrote. It writes it just after taking the lock, so a process
    refused between the two finds the file empty: it reads again for up to a second."""
    for _ in range(HOLDER_READS):
        text = os.pread(fd, 32, 0).decode(errors="replace").strip()
        if text:
            return text
        time.sleep(0.01)
    return "unknown"


def open_data_dir(folder: str | Path, db_name: str) -> tuple[DataDirLock, SqliteStore]:
    """Lock ``folder``, prove it writable, open (and migrate) the store; or ``DataDirError``."""
    folder = Path(folder)
    lock = DataDirLock(folder)
    store: SqliteStore | None = None
    try:
        if folder.exists() and not folder.is_dir():
            raise DataDirError(
                f"cannot keep history in {folder} (HEATMAP_DATA_DIR): it is a file, not a "
                "folder; point HEATMAP_DATA_DIR at a folder",
                "not_a_folder",
            )
        folder.mkdir(parents=True, exist_ok=True)
        lock.acquire()
        _probe_room(folder)
        store = SqliteStore(folder / db_name)
        store.check_writable(time.time_ns() // 1_000_000)
    except DataDirError:
        _close(store, lock)
        raise
    except (OSError, sqlite3.Error, RuntimeError) as exc:
        _close(store, lock)
        raise _refusal(folder, exc) from exc
    return lock, store


def reset_store(folder: str | Path, db_name: str) -> None:
    """Deletes the store in ``folder`` (a demo starts afresh each run), unless another process
    holds the folder (``DataDirError``: that process is using the store)."""
    folder = Path(folder)
    lock = DataDirLock(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        lock.acquire()
        for path in folder.glob(db_name + "*"):
            path.unlink()
    except OSError as exc:
        raise _refusal(folder, exc) from exc
    finally:
        lock.release()


def _probe_room(folder: Path) -> None:
    """Writes and syncs ``PROBE_BYTES`` in the folder, then removes them."""
    probe = folder / PROBE_NAME
    try:
        with probe.open("wb", buffering=0) as handle:
            handle.write(b"\0" * PROBE_BYTES)
            os.fsync(handle.fileno())
    finally:
        probe.unlink(missing_ok=True)


def _refusal(folder: Path, exc: BaseException) -> DataDirError:
    if isinstance(exc, RuntimeError):  # a schema from a newer version of this program
        return DataDirError(
            f"cannot keep history in {folder} (HEATMAP_DATA_DIR): {exc}; run the newer "
            "version or point HEATMAP_DATA_DIR at another folder",
            "store_error",
        )
    cause = classify(exc)
    words = CAUSES[cause]
    if cause == "read_only":
        words = (
            "the database is read-only"
            if isinstance(exc, sqlite3.Error)
            else "the folder is read-only"
        )
    detail = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    what = WHAT_TO_DO.get(cause, "point HEATMAP_DATA_DIR at another folder")
    return DataDirError(
        f"cannot keep history in {folder} (HEATMAP_DATA_DIR): {words} ({detail}); {what} "
        "(or run with HEATMAP_HISTORY=0 to keep no history)",
        cause,
    )


def _close(store: SqliteStore | None, lock: DataDirLock) -> None:
    if store is not None:
        store.close()
    lock.release()
