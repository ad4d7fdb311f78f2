"""The model's compiled loops: numba, with the machine code cached on disk when it can be.

numba compiles a function at its first call (a few seconds for the bar loop) and, with
``cache=True``, keeps the result beside the module (``__pycache__``) or in ``NUMBA_CACHE_DIR``,
so later processes load it in well under a second. Where no cache location is writable (an
install owned by another user, no home directory) numba refuses ``cache=True`` at decoration;
the function is then compiled in each process instead of failing the import.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from numba import njit

F = TypeVar("F", bound=Callable)


def compiled(fn: F) -> F:
    """``fn`` compiled without the GIL (the engine's other threads run meanwhile), cached on
    disk when a cache location is writable."""
    try:
        return njit(cache=True, nogil=True)(fn)
    except RuntimeError:  # "cannot cache function ...: no locator available"
        return njit(nogil=True)(fn)
