"""One bar of the model applied to a book (``heatmap_engine.levels.state``), in this order:

1. sweep: levels the bar traded through are consumed, its predicted liquidations;
2. decay: a share of every side turns over (``rules.decay_fraction``);
3. net flow: the bar's change of open interest plus what it liquidated opens new positions or
   closes standing ones (``rules.net_flow``, ``rules.closing_split``): calibration to OI;
4. the bar's opens (net rise and turnover) are placed at their liquidation prices
   (``layout.placements``), split by side and tier.
"""

from __future__ import annotations

import numpy as np

from heatmap_engine.levels import rules
from heatmap_engine.levels.layout import Placement, placements
from heatmap_engine.levels.state import EMPTY, LONG, SHORT, Bar, BarOutcome, BookState

_TINY = 1e-200  # a side's scale below this is folded into its stored levels


def apply_bar(
    state: BookState, bar: Bar, oi_change: float, placement: Placement | None = None
) -> BarOutcome:
    """One bar of the model on ``state`` (in place), with its share of the change in open
    interest (contracts; 0 while no reading covers the bar) and where its opens land (computed
    here unless given). Returns the bar's predicted liquidations."""
    close = state.last_close
    low = bar.low if bar.low < close else close
    high = bar.high if bar.high > close else close
    long_c, long_usd = _sweep_long(state, low)
    short_c, short_usd = _sweep_short(state, high)
    share = rules.taker_buy_share(bar.volume, bar.taker_buy_volume)
    decay = rules.decay_fraction(bar.end_ms - state.last_end_ms, state.layout.half_life_ms)
    long_before = state.placed[LONG] + state.unknown[LONG]
    short_before = state.placed[SHORT] + state.unknown[SHORT]
    flow = rules.net_flow(oi_change, long_c + short_c)
    decayed = decay * (long_before + short_before)
    long_closed, short_closed = rules.closing_split(
        max(0.0, -flow), share, long_before * (1 - decay), short_before * (1 - decay)
    )
    if long_before > 0:
        _keep(state, LONG, decay, long_closed / long_before)
    if short_before > 0:
        _keep(state, SHORT, decay, short_closed / short_before)
    opened = max(0.0, flow) + decayed
    if opened > 0:
        if placement is None:
            placement = placements(state.layout, np.array([bar.low]), np.array([bar.high]))[0]
        _open(state, placement, opened, share)
    state.ledger.decayed += decayed
    state.ledger.closed += long_closed + short_closed
    state.last_close, state.last_end_ms = bar.close, bar.end_ms
    return BarOutcome(bar.open_ms, long_usd, short_usd, long_c, short_c)


def apply_gap_change(state: BookState, oi_change: float) -> None:
    """A change of open interest across a gap: a rise goes to unknown levels (half per side),
    a fall closes every side, level and tier pro rata."""
    if oi_change >= 0:
        state.unknown = [u + oi_change / 2 for u in state.unknown]
        state.ledger.opened += oi_change
        return
    standing = state.standing
    fraction = min(1.0, -oi_change / standing) if standing > 0 else 0.0
    for side in (LONG, SHORT):
        _keep(state, side, 0.0, fraction)
    state.ledger.closed += fraction * standing


def _keep(state: BookState, side: int, decay: float, closed_fraction: float) -> None:
    """Shrink one side: ``decay`` of it turns over, ``closed_fraction`` of it closes."""
    keep = max(0.0, 1.0 - decay - closed_fraction)
    usd = state.usd[side]
    state.ledger.decayed_usd += decay * usd
    state.ledger.closed_usd += (1.0 - decay - keep) * usd
    state.usd[side] = usd * keep
    state.placed[side] *= keep
    state.unknown[side] *= keep
    state.scale[side] *= keep
    if state.scale[side] < _TINY:  # all closed, or shrunk so far that it must be renormalised
        state.fold_scale(side)
        if keep == 0.0:
            state.extent[2 * side : 2 * side + 2] = EMPTY


def _sweep_long(state: BookState, low: float) -> tuple[float, float]:
    """Consume every long level at or above ``low``: (contracts, USD)."""
    start, top = rules.long_sweep_from(low, state.layout.g), state.extent[1]
    if start > top:
        return 0.0, 0.0
    lo = max(start, state.extent[0])
    state.extent[1] = lo - 1
    return _consume(state, LONG, lo - state.k0, top + 1 - state.k0)


def _sweep_short(state: BookState, high: float) -> tuple[float, float]:
    """Consume every short level at or below ``high``: (contracts, USD)."""
    end, bottom = rules.short_sweep_to(high, state.layout.g), state.extent[2]
    if end < bottom:
        return 0.0, 0.0
    hi = min(end, state.extent[3])
    state.extent[2] = hi + 1
    return _consume(state, SHORT, bottom - state.k0, hi + 1 - state.k0)


def _consume(state: BookState, side: int, i: int, j: int) -> tuple[float, float]:
    """Remove the levels of columns ``i … j−1`` of one side: (contracts, USD) consumed."""
    block = state.stored[side, :, i:j]
    per_bucket = np.add.reduce(block, axis=0)
    scale = state.scale[side]
    contracts = float(np.add.reduce(per_bucket)) * scale
    usd = float(per_bucket @ state.mids[i:j]) * scale
    block[...] = 0.0
    if state.extent[2 * side + 1] < state.extent[2 * side]:  # the side is empty now
        contracts, usd = state.placed[side], state.usd[side]
        state.extent[2 * side : 2 * side + 2] = EMPTY
    state.placed[side] = max(0.0, state.placed[side] - contracts)
    state.usd[side] = max(0.0, state.usd[side] - usd)
    state.ledger.consumed += contracts
    state.ledger.consumed_usd += usd
    return contracts, usd


def _open(state: BookState, placement: Placement, contracts: float, buy_share: float) -> None:
    """Place ``contracts`` opened in a bar: sides by ``buy_share``, tiers by weight."""
    ends = placement.ends
    top = int(placement.buckets[state.layout.extreme_rows[3], -1])  # rows are padded alike
    if ends[0] < state.k0 or top >= state.k0 + state.size:
        state.reserve(ends[0], top)
    longs = contracts * buy_share
    shorts = contracts - longs
    per_long, per_short = longs / state.scale[LONG], shorts / state.scale[SHORT]
    per_row = state.per_row  # stored contracts per row for one contract of the row's side
    rows = state.layout.rows
    per_row[:rows], per_row[rows:] = per_long, per_short
    if placement.flat_base is state.row_base:  # computed for this book's buckets
        state.flat[placement.flat] += placement.share * per_row
    else:
        state.flat[placement.buckets + state.row_base] += placement.share * per_row
    long_usd, short_usd = placement.long_usd * longs, placement.short_usd * shorts
    state.usd[LONG] += long_usd
    state.usd[SHORT] += short_usd
    state.ledger.opened_usd += long_usd + short_usd
    extent = state.extent  # (conditional expressions: this runs for every bar)
    if ends[0] < extent[0]:
        extent[0] = ends[0]
    if ends[1] > extent[1]:
        extent[1] = ends[1]
    if ends[2] < extent[2]:
        extent[2] = ends[2]
    if ends[3] > extent[3]:
        extent[3] = ends[3]
    state.placed[LONG] += longs
    state.placed[SHORT] += shorts
    state.ledger.opened += contracts
