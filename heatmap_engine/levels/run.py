"""A run of the model over stored series: the range ``[at − range, at]`` of one symbol.

The run feeds an incremental ``LevelsBook`` the bars and readings in time order (a bar at its
close, a reading at its time, a bar before a reading of the same time), starting
``levels_warmup_hours`` before the range so the book is built when the range begins, and using
nothing after ``at``: the answer for a past ``at`` is what the live model showed then.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from heatmap_engine.levels import quality
from heatmap_engine.levels.brackets import BracketTable, load_brackets
from heatmap_engine.levels.grid import GridPlan, GridRecorder, build_profile
from heatmap_engine.levels.layout import CHUNK, iter_placements
from heatmap_engine.levels.live import LevelsBook
from heatmap_engine.levels.model import assumptions, symbol_layout, tier_labels
from heatmap_engine.levels.results import DataQuality, LevelsResult
from heatmap_engine.levels.series import Bars, LevelsInputError, Readings
from heatmap_engine.levels.settings import LevelsSettings

HOUR_MS = 3_600_000
RANGES_MS = {
    "12h": 12 * HOUR_MS,
    "24h": 24 * HOUR_MS,
    "3d": 72 * HOUR_MS,
    "7d": 168 * HOUR_MS,
    "30d": 720 * HOUR_MS,
    "90d": 2160 * HOUR_MS,
    "180d": 4320 * HOUR_MS,
    "1y": 8760 * HOUR_MS,
}


def run_levels(
    bars: Bars,
    readings: Readings,
    settings: LevelsSettings,
    *,
    symbol: str | None = None,
    at_ms: int | None = None,
    range_name: str = "7d",
    table: BracketTable | None = None,
) -> LevelsResult:
    """The grid, predictions, profile, assumptions and data quality of one range."""
    span = _Span.choose(bars, readings, settings, at_ms, range_name)
    table = table or load_brackets(settings.levels_brackets_file or None)
    layout, listed = symbol_layout(settings, symbol, table)
    plan = GridPlan.build(
        layout,
        span.in_range,
        settings.levels_grid_margin_pct,
        settings.levels_grid_rows,
        span.range_ms,
        settings.levels_grid_columns,
    )
    recorder = GridRecorder(plan, layout, span.in_range)
    book = LevelsBook(
        layout,
        settings.levels_oi_gap_minutes * 60_000.0,
        recorder=recorder,
        keep_outcomes=0,  # the recorder keeps the range's predictions
        batch=CHUNK,  # one call of the compiled loop per chunk of placements
    )
    _feed(book, span.fed, span.readings, plan)
    final = book.finish(recorder) or book.state
    if final is None:
        raise LevelsInputError("no open-interest reading before the last candle")
    return LevelsResult(
        symbol,
        span.at_ms,
        span.range_ms,
        range_name,
        recorder.grid(),
        recorder.predictions(),
        build_profile(final, plan.row_buckets, span.at_ms, tier_labels(layout)),
        assumptions(
            settings, symbol, layout, table, listed, span.fed, span.readings, plan.row_buckets
        ),
        _quality(book, recorder, span, final),
    )


@dataclass(frozen=True)
class _Span:
    """What a run reads: the bars from the warm-up's start to ``at`` and the readings."""

    at_ms: int
    range_ms: int
    start_ms: int
    feed_from_ms: int
    fed: Bars
    in_range: Bars
    readings: Readings

    @classmethod
    def choose(cls, bars, readings, settings, at_ms, range_name) -> _Span:
        if range_name not in RANGES_MS:
            raise LevelsInputError(f"range {range_name!r} is not one of {', '.join(RANGES_MS)}")
        if len(bars) == 0:
            raise LevelsInputError("no candles")
        range_ms = RANGES_MS[range_name]
        at = int(bars.end_ms[-1]) if at_ms is None else int(at_ms)
        start = at - range_ms
        feed_from = start - int(settings.levels_warmup_hours * HOUR_MS)
        fed = bars.select((bars.open_ms >= feed_from) & (bars.end_ms <= at))
        in_range = fed.select(fed.open_ms >= start)
        if len(in_range) == 0:
            raise LevelsInputError("no candle closes inside the range")
        seed = readings.time_ms[readings.time_ms <= max(feed_from, int(fed.open_ms[0]))]
        first = int(seed[-1]) if len(seed) else feed_from
        used = readings.select((readings.time_ms >= first) & (readings.time_ms <= at))
        if len(used) == 0:
            raise LevelsInputError("no open-interest reading at or before the end of the range")
        return cls(at, range_ms, start, feed_from, fed, in_range, used)


def _feed(book: LevelsBook, bars: Bars, readings: Readings, plan: GridPlan) -> None:
    """Bars and readings in time order. Once the first reading has made the book, its buckets
    are reserved for the whole run (the grid's window among them)."""
    layout = book.layout
    lo = min(plan.k_from, math.floor(math.log(bars.low.min()) / layout.g + layout.shifts.min()))
    top = math.log(bars.high.max()) / layout.g + float((layout.shifts + layout.widths).max())
    hi = max(plan.k_to, math.floor(top) + 3)
    times, values = readings.time_ms.tolist(), readings.contracts.tolist()
    prices = bars.price_at(readings.time_ms).tolist()
    add_bar, add_reading = book.add_bar, book.add_open_interest
    placed = iter_placements(layout, bars.low, bars.high)  # a chunk at a time, as applied
    r, count = 0, len(times)
    for bar, placement in zip(bars.bars(), placed, strict=True):
        while r < count and times[r] < bar.end_ms:
            fresh = book.started_ms is None
            add_reading(times[r], values[r], prices[r])
            if fresh and book.started_ms is not None:
                book.state.reserve(lo - 1, hi)
            r += 1
        add_bar(bar, placement)
    for t, v, p in zip(times[r:], values[r:], prices[r:], strict=True):
        add_reading(t, v, p)


def _quality(book: LevelsBook, recorder: GridRecorder, span: _Span, final) -> DataQuality:
    start, at, bars, readings = span.start_ms, span.at_ms, span.in_range, span.readings
    candle_gaps = quality.candle_gaps(bars, start, at)
    oi_gaps = quality.open_interest_gaps(readings, start, at, readings.cadence_ms())
    standing = final.standing
    unknown_end = (final.unknown[0] + final.unknown[1]) / standing if standing > 0 else 0.0
    warmup = max(0, start - max(span.feed_from_ms, book.started_ms or start)) / HOUR_MS
    notes = []
    if candle_gaps and candle_gaps[0].start_ms == start and candle_gaps[0].end_ms > start:
        notes.append("the range begins before the first candle")
    unknown_start = recorder.unknown_share_start
    if unknown_start is None or unknown_start > 0.5:
        notes.append(
            "more than half of the open interest was at unknown levels when the range "
            "began: too little data before it to place the positions"
        )
    return DataQuality(
        start,
        at,
        candle_gaps,
        oi_gaps,
        quality.candle_coverage(bars, start, at),
        1.0 - quality.gap_share(oi_gaps, start, at),
        warmup,
        1.0 if unknown_start is None else unknown_start,
        unknown_end,
        len(book.pending),
        book.counters.bars_before_open_interest,
        book.counters.open_interest_gaps,
        tuple(notes),
    )
