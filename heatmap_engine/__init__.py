"""Liquidation heatmap engine: exchange frames -> parsers -> engine state -> immutable snapshots.

This package never imports dash, flask or plotly, and nothing here starts a thread or opens a
socket at import time.
"""

from heatmap_engine.config import ConfigError, Settings
from heatmap_engine.models import Cluster, Liquidation, MarkPrice, Snapshot

__all__ = ["Cluster", "ConfigError", "Liquidation", "MarkPrice", "Settings", "Snapshot"]
