"""How well the data covers a range: gaps in candles and open interest, and coverage shares."""

from __future__ import annotations

import numpy as np

from heatmap_engine.levels.results import Gap
from heatmap_engine.levels.series import Bars, Readings


def candle_gaps(bars: Bars, start_ms: int, end_ms: int) -> tuple[Gap, ...]:
    """Stretches of ``[start, end]`` with no candle (before the first, between, after the last)."""
    if len(bars) == 0:
        return (Gap(start_ms, end_ms),)
    opens, ends = bars.open_ms, bars.end_ms
    gaps = [Gap(int(ends[i]), int(opens[i + 1])) for i in np.flatnonzero(opens[1:] > ends[:-1])]
    if opens[0] > start_ms:
        gaps.insert(0, Gap(start_ms, int(opens[0])))
    if ends[-1] < end_ms:
        gaps.append(Gap(int(ends[-1]), end_ms))
    return tuple(gaps)


def candle_coverage(bars: Bars, start_ms: int, end_ms: int) -> float:
    covered = np.clip(np.minimum(bars.end_ms, end_ms) - np.maximum(bars.open_ms, start_ms), 0, None)
    return float(covered.sum()) / max(1, end_ms - start_ms)


def open_interest_gaps(
    readings: Readings, start_ms: int, end_ms: int, cadence_ms: int | None
) -> tuple[Gap, ...]:
    """Waits between readings (and from the last one to ``end``) longer than twice the usual
    cadence, inside ``[start, end]``; the whole range when there is no reading in it."""
    times = readings.time_ms
    before = times[times <= start_ms]
    inside = times[(times > start_ms) & (times <= end_ms)]
    points = np.r_[before[-1:] if len(before) else [start_ms], inside, end_ms]
    if len(points) < 3 and not len(before):
        return (Gap(start_ms, end_ms),)
    limit = 2 * (cadence_ms or 0)
    waits = np.diff(points)
    return tuple(
        Gap(max(int(points[i]), start_ms), int(points[i + 1]))
        for i in np.flatnonzero(waits > limit)
        if points[i + 1] > start_ms
    )


def gap_share(gaps: tuple[Gap, ...], start_ms: int, end_ms: int) -> float:
    missing = sum(max(0, min(g.end_ms, end_ms) - max(g.start_ms, start_ms)) for g in gaps)
    return missing / max(1, end_ms - start_ms)
