"""Bars of the model applied to a book (``heatmap_engine.levels.state``), each in this order:

1. sweep: levels the bar traded through are consumed, its predicted liquidations;
2. decay: a share of every side turns over (``rules.decay_fraction``);
3. net flow: the bar's change of open interest plus what it liquidated opens new positions or
   closes standing ones (``rules.net_flow``, ``rules.closing_split``): calibration to OI;
4. the bar's opens (net rise and turnover) are placed at their liquidation prices
   (``layout.placements``), split by side and tier.

The loop over bars is compiled (numba): a bar is a few dozen scalar steps and two short array
passes, which cost ~20 µs as Python and numpy calls and well under 1 µs compiled, so a 30-day
run over 5-minute bars (9,216 bars) is a few milliseconds of model. Its steps call the rules of
``rules`` (compiled with it where they are scalar arithmetic) in the same order and with the
same arithmetic as stated there; ``tests/levels`` checks every rule's numbers through it.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from heatmap_engine.levels import rules
from heatmap_engine.levels.compiled import compiled
from heatmap_engine.levels.layout import PlacementChunk
from heatmap_engine.levels.state import (
    EMPTY,
    LONG,
    SHORT,
    USD,
    BookState,
)

_TINY = 1e-200  # a side's scale below this is folded into its stored levels
_EMPTY_LO, _EMPTY_HI = EMPTY
# the totals' order (``state.Ledger``)
_SEEDED, _OPENED, _CLOSED, _DECAYED, _CONSUMED = 0, 1, 2, 3, 4
_OPENED_USD, _CLOSED_USD, _DECAYED_USD, _CONSUMED_USD = 5, 6, 7, 8
_SCALE, _UNKNOWN, _PLACED = 0, 1, 2  # rows of ``state.sides`` (USD is 3)
# columns of the bars array and of the outcomes
BAR_COLUMNS = ("open_ms", "end_ms", "open", "high", "low", "close", "volume", "taker_buy_volume")
OUTCOME_COLUMNS = ("long_usd", "short_usd", "long_contracts", "short_contracts", "unknown_share")

_taker_buy_share = compiled(rules.taker_buy_share)
_decay_fraction = compiled(rules.decay_fraction)
_closing_split = compiled(rules.closing_split)
_net_flow = compiled(rules.net_flow)
_long_sweep_from = compiled(rules.long_sweep_from)
_short_sweep_to = compiled(rules.short_sweep_to)


class Recording(NamedTuple):
    """Where a run keeps the grid's columns (``grid.GridRecorder``): per bar, the column it
    ends (−1: none); the window of model buckets recorded (from bucket ``k_from``, ``rows``
    rows of ``m`` buckets); contracts per column, side and bucket, and each tier's share of a
    row's contracts in 255ths."""

    column: np.ndarray  # (T,) int64
    k_from: int
    m: int
    contracts: np.ndarray  # (columns, 2, rows·m) float32
    tier_share: np.ndarray  # (columns, 2, J, rows) uint8


_NO_RECORDING = Recording(
    np.zeros(0, dtype=np.int64),
    0,
    1,
    np.zeros((0, 2, 0), dtype=np.float32),
    np.zeros((0, 2, 0, 0), dtype=np.uint8),
)


def bars_array(bars) -> np.ndarray:
    """(T, 8) float64 of ``Bar`` tuples (times are exact as floats below 2^53 ms)."""
    out = np.array(bars, dtype=np.float64)
    return out.reshape(len(bars), len(BAR_COLUMNS))


def apply_bars(
    state: BookState,
    bars: np.ndarray,
    changes: np.ndarray,
    placed: PlacementChunk,
    recording: Recording | None = None,
) -> np.ndarray:
    """The bars (``bars_array``) on ``state`` in place, each with its share of the change in
    open interest (contracts; 0 while no reading covers it) and its placement (row ``t`` of
    ``placed``). Returns the outcomes, (T, 5): the predicted liquidations per side in USD and
    contracts, and the share of the book at unknown levels after the bar."""
    count = len(bars)
    outcomes = np.zeros((count, len(OUTCOME_COLUMNS)))
    if not count:
        return outcomes
    top_row = state.layout.extreme_rows[3]
    width = placed.share.shape[2]
    lo = int(placed.ends[:, 0].min())
    hi = int((placed.start[:, top_row] + width - 1).max())
    rec = recording if recording is not None else _NO_RECORDING
    if recording is not None:  # the recorded window too
        lo = min(lo, rec.k_from)
        hi = max(hi, rec.k_from + rec.contracts.shape[2] - 1)
    state.reserve(lo, hi)  # every cell a bar can touch (rows are padded alike)
    column = rec.column if recording is not None else np.full(count, -1, dtype=np.int64)
    clock = np.array([state.last_close, float(state.last_end_ms)])
    _run(
        state.stored,
        state.mids,
        state.k0,
        state.sides,
        state.bounds,
        state.totals,
        clock,
        state.layout.g,
        state.layout.half_life_ms,
        np.ascontiguousarray(bars),
        np.ascontiguousarray(changes, dtype=np.float64),
        placed.start,
        placed.share,
        placed.long_usd,
        placed.short_usd,
        placed.ends,
        outcomes,
        column,
        rec.k_from - state.k0,
        rec.m,
        rec.contracts,
        rec.tier_share,
    )
    state.last_close, state.last_end_ms = float(clock[0]), int(clock[1])
    return outcomes


def apply_gap_change(state: BookState, oi_change: float) -> None:
    """A change of open interest across a gap: a rise goes to unknown levels (half per side),
    a fall closes every side, level and tier pro rata."""
    if oi_change >= 0:
        state.sides[_UNKNOWN] += oi_change / 2
        state.totals[_OPENED] += oi_change
        return
    standing = state.standing
    fraction = min(1.0, -oi_change / standing) if standing > 0 else 0.0
    for side in (LONG, SHORT):
        _keep(state.stored, state.k0, state.sides, state.bounds, state.totals, side, 0.0, fraction)
    state.totals[_CLOSED] += fraction * standing


@compiled
def _run(
    stored, mids, k0, sides, extent, totals, clock, g, half_life_ms, bars, changes,
    start, share, long_usd, short_usd, ends, outcomes, column, offset, m, contracts, tier_share,
):  # fmt: skip
    rows = share.shape[1]
    tiers = rows // 2
    for t in range(bars.shape[0]):
        close = clock[0]
        low = bars[t, 4] if bars[t, 4] < close else close
        high = bars[t, 3] if bars[t, 3] > close else close
        long_c = long_u = short_c = short_u = 0.0
        first, top = _long_sweep_from(low, g), extent[1]
        if first <= top:
            lo = max(first, extent[0])
            extent[1] = lo - 1
            long_c, long_u = _consume(stored, mids, k0, sides, extent, totals, LONG, lo, top + 1)
        last, bottom = _short_sweep_to(high, g), extent[2]
        if last >= bottom:
            hi = min(last, extent[3])
            extent[2] = hi + 1
            short_c, short_u = _consume(
                stored, mids, k0, sides, extent, totals, SHORT, bottom, hi + 1
            )
        buy = _taker_buy_share(bars[t, 6], bars[t, 7])
        decay = _decay_fraction(bars[t, 1] - clock[1], half_life_ms)
        long_before = sides[_PLACED, LONG] + sides[_UNKNOWN, LONG]
        short_before = sides[_PLACED, SHORT] + sides[_UNKNOWN, SHORT]
        flow = _net_flow(changes[t], long_c + short_c)
        decayed = decay * (long_before + short_before)
        long_closed, short_closed = _closing_split(
            max(0.0, -flow), buy, long_before * (1 - decay), short_before * (1 - decay)
        )
        if long_before > 0:
            _keep(stored, k0, sides, extent, totals, LONG, decay, long_closed / long_before)
        if short_before > 0:
            _keep(stored, k0, sides, extent, totals, SHORT, decay, short_closed / short_before)
        opened = max(0.0, flow) + decayed
        if opened > 0:
            longs = opened * buy
            shorts = opened - longs
            per_long, per_short = longs / sides[_SCALE, LONG], shorts / sides[_SCALE, SHORT]
            for r in range(rows):
                side, tier = r // tiers, r % tiers
                per = per_long if side == LONG else per_short
                at = start[t, r] - k0
                for c in range(share.shape[2]):
                    stored[side, tier, at + c] += share[t, r, c] * per
            long_usd_t, short_usd_t = long_usd[t] * longs, short_usd[t] * shorts
            sides[USD, LONG] += long_usd_t
            sides[USD, SHORT] += short_usd_t
            totals[_OPENED_USD] += long_usd_t + short_usd_t
            extent[0] = min(extent[0], ends[t, 0])
            extent[1] = max(extent[1], ends[t, 1])
            extent[2] = min(extent[2], ends[t, 2])
            extent[3] = max(extent[3], ends[t, 3])
            sides[_PLACED, LONG] += longs
            sides[_PLACED, SHORT] += shorts
            totals[_OPENED] += opened
        totals[_DECAYED] += decayed
        totals[_CLOSED] += long_closed + short_closed
        clock[0], clock[1] = bars[t, 5], bars[t, 1]
        outcomes[t, 0], outcomes[t, 1] = long_u, short_u
        outcomes[t, 2], outcomes[t, 3] = long_c, short_c
        standing = sides[_PLACED, 0] + sides[_PLACED, 1] + sides[_UNKNOWN, 0] + sides[_UNKNOWN, 1]
        if standing > 0:
            outcomes[t, 4] = (sides[_UNKNOWN, 0] + sides[_UNKNOWN, 1]) / standing
        if column.shape[0] and column[t] >= 0:
            _record(stored, sides, column[t], offset, m, contracts, tier_share)


@compiled
def _consume(stored, mids, k0, sides, extent, totals, side, k_from, k_to):
    """Remove the levels of buckets ``k_from … k_to−1`` of one side: (contracts, USD)."""
    summed = usd = 0.0
    for k in range(k_from - k0, k_to - k0):
        bucket = 0.0
        for tier in range(stored.shape[1]):
            bucket += stored[side, tier, k]
            stored[side, tier, k] = 0.0
        summed += bucket
        usd += bucket * mids[k]
    scale = sides[_SCALE, side]
    summed, usd = summed * scale, usd * scale
    if extent[2 * side + 1] < extent[2 * side]:  # the side is empty now
        summed, usd = sides[_PLACED, side], sides[USD, side]
        extent[2 * side], extent[2 * side + 1] = _EMPTY_LO, _EMPTY_HI
    sides[_PLACED, side] = max(0.0, sides[_PLACED, side] - summed)
    sides[USD, side] = max(0.0, sides[USD, side] - usd)
    totals[_CONSUMED] += summed
    totals[_CONSUMED_USD] += usd
    return summed, usd


@compiled
def _keep(stored, k0, sides, extent, totals, side, decay, closed_fraction):
    """Shrink one side: ``decay`` of it turns over, ``closed_fraction`` of it closes."""
    keep = max(0.0, 1.0 - decay - closed_fraction)
    usd = sides[USD, side]
    totals[_DECAYED_USD] += decay * usd
    totals[_CLOSED_USD] += (1.0 - decay - keep) * usd
    sides[USD, side] = usd * keep
    sides[_PLACED, side] *= keep
    sides[_UNKNOWN, side] *= keep
    sides[_SCALE, side] *= keep
    if sides[_SCALE, side] < _TINY:  # all closed, or shrunk so far that it must be renormalised
        lo, hi = extent[2 * side], extent[2 * side + 1]
        if hi >= lo:
            scale = sides[_SCALE, side]
            for tier in range(stored.shape[1]):
                for k in range(lo - k0, hi + 1 - k0):
                    stored[side, tier, k] *= scale
        sides[_SCALE, side] = 1.0
        if keep == 0.0:
            extent[2 * side], extent[2 * side + 1] = _EMPTY_LO, _EMPTY_HI


@compiled
def _record(stored, sides, col, offset, m, contracts, tier_share):
    """One column of the grid: per side and bucket the tiers' contracts summed times the side's
    scale, and each tier's share of a row's contracts in 255ths (the scale is common to a
    side's tiers; within a row the buckets' prices differ by under 1 %, so a share of contracts
    is the share of the USD to that precision; a row without contracts has none). Loops run
    along the buckets, the arrays' contiguous axis."""
    tiers, rows = stored.shape[1], tier_share.shape[3]
    width = rows * m
    total = np.zeros(width)
    per = np.empty(rows)
    part = np.empty(rows)
    for side in range(2):
        total[:] = 0.0
        for tier in range(tiers):
            for b in range(width):
                total[b] += stored[side, tier, offset + b]
        scale = sides[_SCALE, side]
        for b in range(width):
            contracts[col, side, b] = total[b] * scale
        for r in range(rows):
            summed = 0.0
            for b in range(r * m, r * m + m):
                summed += total[b]
            per[r] = 255.0 / summed if summed > 0 else 0.0
        for tier in range(tiers):
            if m == 1:
                for r in range(rows):
                    tier_share[col, side, tier, r] = np.uint8(
                        stored[side, tier, offset + r] * per[r] + 0.5
                    )
            else:
                part[:] = 0.0
                for b in range(width):
                    part[b // m] += stored[side, tier, offset + b]
                for r in range(rows):
                    tier_share[col, side, tier, r] = np.uint8(part[r] * per[r] + 0.5)
