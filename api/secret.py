"""The server's signing secret: ``HEATMAP_SECRET_KEY``, else one generated once and kept in the
data folder (``$HEATMAP_DATA_DIR/secret_key``, mode 0600), so cursors survive a restart.

Nothing is read or written until the first cursor is signed or checked (a server without history
never touches the data folder). If the folder cannot hold the file, a key for this process only
is used and a warning says so: cursors then stop working at the next restart, nothing else.
"""

from __future__ import annotations

import logging
import os
import secrets
import stat
import threading
from pathlib import Path

log = logging.getLogger(__name__)

FILE_NAME = "secret_key"
_BYTES = 32


class SecretKey:
    def __init__(self, configured: str, data_dir: str | os.PathLike[str]):
        self._configured = configured
        self.path = Path(data_dir) / FILE_NAME
        self._lock = threading.Lock()
        self._key: bytes | None = None

    def get(self) -> bytes:
        with self._lock:
            if self._key is None:
                self._key = self._configured.encode() if self._configured else self._load()
            return self._key

    def _load(self) -> bytes:
        try:
            return self._read_or_create()
        except OSError as exc:
            log.warning(
                "cannot keep the signing key in HEATMAP_DATA_DIR (%s: %s); using a key for this "
                "process only, so liquidations cursors stop working at restart. Set "
                "HEATMAP_SECRET_KEY, or make the data folder writable", self.path, exc,
            )  # fmt: skip
            return secrets.token_bytes(_BYTES)

    def _read_or_create(self) -> bytes:
        """Written beside the key, then linked into place: atomic, so processes starting at
        once on one folder agree on one key and none reads a half-written file."""
        if self.path.exists():
            return self._read()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        draft = self.path.with_name(f"{FILE_NAME}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(secrets.token_hex(_BYTES).encode())
            os.link(draft, self.path)
            log.info("generated the signing key %s (mode 0600)", self.path)
        except FileExistsError:
            pass  # another process was first: use its key
        finally:
            draft.unlink(missing_ok=True)
        return self._read()

    def _read(self) -> bytes:
        mode = stat.S_IMODE(self.path.stat().st_mode)
        if mode & 0o077:
            log.warning("%s was readable by others (mode %o); now 0600", self.path, mode)
            os.chmod(self.path, 0o600)
        key = self.path.read_bytes().strip()
        if len(key) < _BYTES:  # empty or cut short (a crash while it was written)
            raise OSError(f"{self.path} holds no usable key ({len(key)} bytes)")
        return key
