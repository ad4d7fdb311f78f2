"""Small real filesystems for tests (import as ``mounts``): a tmpfs of a given size, remounted
read-only, a file bound read-only over itself, a filesystem filled to the last byte.

They need mount(2), so root (CI runs as root through .ci/run). As root, ``chmod`` does not stop
writes; a read-only mount does. Elsewhere the tests that need them skip, saying why.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


def require_root() -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root to mount a small filesystem (CI runs as root)")


def _run(*args: str) -> None:
    done = subprocess.run(args, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise AssertionError(f"{' '.join(args)} failed: {done.stderr.strip()}")


def _unmount(path: Path) -> None:
    if subprocess.run(["umount", str(path)], capture_output=True, check=False).returncode:
        subprocess.run(["umount", "-l", str(path)], capture_output=True, check=False)


@contextmanager
def tmpfs(path: Path, size: str) -> Iterator[Path]:
    """A fresh tmpfs of ``size`` (e.g. ``8m``) mounted at ``path`` for the block."""
    require_root()
    path.mkdir(parents=True, exist_ok=True)
    _run("mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(path))
    try:
        yield path
    finally:
        _unmount(path)


def remount_read_only(path: Path) -> None:
    _run("mount", "-o", "remount,ro", str(path))


@contextmanager
def read_only_file(path: Path) -> Iterator[Path]:
    """``path`` (a file) bound read-only over itself: root cannot write it, its folder stays
    writable."""
    require_root()
    _run("mount", "--bind", str(path), str(path))
    try:
        _run("mount", "-o", "remount,bind,ro", str(path))
        yield path
    finally:
        _unmount(path)


def fill(folder: Path) -> Path:
    """Writes a file in ``folder`` until its filesystem has no byte left; returns the file
    (delete it to free the space)."""
    filler = folder / "filler"
    with filler.open("wb", buffering=0) as handle:
        for chunk in (1 << 16, 1 << 12, 1 << 9, 1):
            try:
                while True:
                    handle.write(b"\0" * chunk)
            except OSError:
                continue
    return filler
