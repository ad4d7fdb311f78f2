"""Every component id of the dashboard, in one place (layouts, callbacks and tests import them)."""

from __future__ import annotations

# navigation and state
APP = "app"  # the root; its class names the view shown (show-heatmap ...)
URL = "url"
STATE = "view-state"  # dcc.Store: the canonical ViewState (what the URL says)
RENDERED = "rendered-keys"  # dcc.Store: data key of what each part shows now (no_update logic)
PINNED = "pinned-cluster"  # dcc.Store: {"symbol", "cluster_id"} of the band clicked
SORT = "table-sort"  # dcc.Store: {"column", "descending"}
REFRESH = "refresh-interval"  # dcc.Interval

# controls
SYMBOL = "symbol"
MIN_STRENGTH = "min-strength"
MAX_DISTANCE = "max-distance"
MIN_STRENGTH_LABEL = "min-strength-label"
MAX_DISTANCE_LABEL = "max-distance-label"
AUTO_REFRESH = "auto-refresh"
VIEW = "view"
RANGE = "range"
RANGE_GROUP = "range-group"
NOTICE = "notice"
LEVELS_RANGE = "levels-range"  # the estimated view's range (12h … 30d)
PRESET = "levels-preset"
THRESHOLD = "levels-threshold"
THRESHOLD_LABEL = "levels-threshold-label"
OVERLAY = "levels-overlay"  # realized layers over the estimated view
LAYER_NOTE = "layer-note"  # one line: which layer the current view shows

# header status
FEED = "feed-status"
AS_OF = "as-of"
OUTAGE = "feed-outage"  # the banner while the feed is not live (empty while it is)

# statistics cards (each holds a value and a sub line)
STAT_PRICE = "stat-price"
STAT_TOTAL = "stat-total"
STAT_LONG = "stat-long"
STAT_SHORT = "stat-short"
STAT_BEST = "stat-best"
STAT_WINDOW = "stat-window"
STAT_CARDS = (STAT_PRICE, STAT_TOTAL, STAT_LONG, STAT_SHORT, STAT_BEST, STAT_WINDOW)

# views
ESTIMATED_VIEW = "estimated-view"
ESTIMATED_GRAPH = "estimated-graph"
HEATMAP_VIEW = "heatmap-view"
HEATMAP_GRAPH = "heatmap-graph"
DETAILS = "cluster-details"
LADDER = "cluster-ladder"
UNPIN = "unpin"
TIMELINE_VIEW = "timeline-view"
TIMELINE_GRAPH = "timeline-graph"
MAP_VIEW = "map-view"
MAP_GRAPH = "map-graph"
TABLE_VIEW = "table-view"
TABLE_BODY = "table-body"
TABLE_CAPTION = "table-caption"
CSV_BUTTON = "csv-button"
CSV_DOWNLOAD = "csv-download"


SORT_PREFIX = "sort-"


def sort_button(column: str) -> str:
    """The header button that sorts the cluster table by ``column``."""
    return SORT_PREFIX + column
