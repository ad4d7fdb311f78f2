"""Durable history: every liquidation, mark-price sample, candle and open-interest figure.

``HistoryStore`` is the interface the rest of the engine uses; ``SqliteStore`` implements it
with the standard library's SQLite in WAL mode (no server). A PostgreSQL implementation can
follow behind the same interface.
"""

from heatmap_engine.history.sqlite_store import HistoryStore, SqliteStore

__all__ = ["HistoryStore", "SqliteStore"]
