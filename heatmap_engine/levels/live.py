"""One symbol's model fed one closed bar and one open-interest reading at a time.

The same object serves the live engine and every run over stored series (``run_levels`` feeds
it the stored bars and readings in time order), so the two give the same numbers.

A bar can only be *committed* (its opens and closes applied for good) once a reading at or
after its end is known, since its share of the change in open interest depends on the readings
around it. Until then it is *pending*: ``provisional()`` applies the pending bars on a copy of
the book with no change in open interest (sweeps and turnover only), which is what readers see
for the newest bars. A reading commits every pending bar that ended by its time, spreading the
change since the previous committing reading over them by weight (``rules.bar_weights``);
a reading before any bar ended carries its change on to the next bars. Once the wait since the
last committing reading passes the gap limit, bars are committed at once with no change, and
the reading that ends the gap applies its change at unknown levels (``book.apply_gap_change``).
The book starts at the first reading; bars that ended by then are not modelled (counted).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from heatmap_engine.levels import rules
from heatmap_engine.levels.book import OUTCOME_COLUMNS, Recording, apply_bars, bars_array
from heatmap_engine.levels.book import apply_gap_change as _gap_change
from heatmap_engine.levels.grid import build_profile
from heatmap_engine.levels.layout import Layout, Placement, placements, stack
from heatmap_engine.levels.model import tier_labels
from heatmap_engine.levels.results import BookSnapshot, Predictions
from heatmap_engine.levels.state import Bar, BarOutcome, BookState


class Recorder(Protocol):
    """What a run keeps of the bars a book applies (``grid.GridRecorder``)."""

    def recording(self, bars: np.ndarray) -> Recording | None:
        """Where the columns these bars end go (None: none of them ends one)."""

    def take(self, bars: np.ndarray, outcomes: np.ndarray, committed: bool) -> None:
        """The bars' outcomes (``book.apply_bars``), once applied."""


@dataclass
class FeedCounters:
    """What the book received but could not use, and the gaps it bridged."""

    bars_before_open_interest: int = 0
    bars_out_of_order: int = 0
    readings_out_of_order: int = 0
    open_interest_gaps: int = 0
    gap_change_contracts: float = 0.0  # |change| applied at unknown levels across gaps


class OutcomeLog:
    """The last ``capacity`` committed outcomes as columns (24 bytes a bar), oldest first."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.columns = np.zeros((3, capacity))  # open_ms, long_usd, short_usd
        self.contracts = np.zeros((2, capacity))
        self.count = 0  # ever appended

    def extend(self, open_ms: np.ndarray, outcomes: np.ndarray) -> None:
        """Outcomes (``book.apply_bars``'s rows) of bars opening at ``open_ms``."""
        count = len(open_ms)
        keep = min(count, self.capacity)
        if not keep:
            self.count += count
            return
        at = (self.count + count - keep + np.arange(keep)) % self.capacity
        self.columns[0, at] = open_ms[count - keep :]
        self.columns[1:, at] = outcomes[count - keep :, :2].T
        self.contracts[:, at] = outcomes[count - keep :, 2:4].T
        self.count += count

    def __len__(self) -> int:
        return min(self.count, self.capacity)

    def _order(self) -> np.ndarray:
        n = len(self)
        return (np.arange(self.count - n, self.count) % self.capacity) if n else np.zeros(0, int)

    def __iter__(self) -> Iterator[BarOutcome]:
        order = self._order()
        times = self.columns[0, order].astype(np.int64).tolist()
        rows = zip(
            times,
            *self.columns[1:, order].tolist(),
            *self.contracts[:, order].tolist(),
            strict=True,
        )
        return (BarOutcome(*row) for row in rows)

    def __getitem__(self, index: int) -> BarOutcome:
        return list(self)[index]


class LevelsBook:
    """The incremental model of one symbol (one writer; readers take ``snapshot`` copies)."""

    def __init__(
        self,
        layout: Layout,
        oi_gap_ms: float,
        recorder: Recorder | None = None,
        keep_outcomes: int = 1440,
        batch: int = 1,
    ) -> None:
        """``batch``: committed bars are applied once this many are queued (or when the state
        is read); a run over series queues a chunk of placements at a time, a live book none
        (a queued bar keeps its placement's whole chunk alive)."""
        self.layout = layout
        self.batch = batch
        self.oi_gap_ms = oi_gap_ms
        self.recorder = recorder
        self._state: BookState | None = None
        # committed bars not applied yet, with their changes: applied together (``_flush``)
        self._queue: list[tuple[Bar, Placement, float]] = []
        self.pending: list[tuple[Bar, Placement | None]] = []
        self.reference: tuple[int, float] | None = None  # (time, contracts) last committed
        self.started_ms: int | None = None  # time of the first reading
        self._recent = OutcomeLog(keep_outcomes)
        self.counters = FeedCounters()
        self._last_bar_ms: int | None = None
        self._last_reading_ms: int | None = None
        self._in_gap = False
        self._provisional: tuple[BookState, list[BarOutcome]] | None = None

    def add_bar(self, bar: Bar, placement: Placement | None = None) -> None:
        """A closed bar (ascending open times; an older or repeated one is counted, skipped).
        ``placement`` may carry its precomputed ``layout.placements`` (runs over series do)."""
        if self._last_bar_ms is not None and bar.open_ms <= self._last_bar_ms:
            self.counters.bars_out_of_order += 1
            return
        self._last_bar_ms = bar.open_ms
        if self.reference is None or bar.end_ms <= self.reference[0]:
            self.counters.bars_before_open_interest += 1
            return
        if placement is None:  # once: the provisional view and the commit both use it
            placement = placements(self.layout, np.array([bar.low]), np.array([bar.high]))[0]
        self.pending.append((bar, placement))
        if self._in_gap or bar.end_ms - self.reference[0] > self.oi_gap_ms:
            self._in_gap = True
            self._commit(self.pending, [0.0] * len(self.pending))
            self.pending = []
        elif self._provisional is not None:
            state, outcomes = self._provisional
            outcomes.extend(_outcomes(*_apply(state, [(bar, placement)], [0.0])))

    def add_open_interest(self, time_ms: int, contracts: float, price: float) -> None:
        """A reading (contracts, at the market ``price`` of its time; ascending times)."""
        if self._last_reading_ms is not None and time_ms <= self._last_reading_ms:
            self.counters.readings_out_of_order += 1
            return
        self._last_reading_ms = time_ms
        if self._state is None:
            self._state = BookState.seed(self.layout, contracts, price, time_ms)
            self.reference = (time_ms, contracts)
            self.started_ms = time_ms
            return
        assert self.reference is not None
        pending = self.pending
        ended = 0
        while ended < len(pending) and pending[ended][0].end_ms <= time_ms:
            ended += 1
        if not ended and not self._in_gap:
            return  # no bar ended since the last reading: the change goes with the next ones
        group = pending if ended == len(pending) else pending[:ended]
        self.pending = [] if ended == len(pending) else pending[ended:]
        change = contracts - self.reference[1]
        if self._in_gap or time_ms - self.reference[0] > self.oi_gap_ms:
            self._commit(group, [0.0] * ended)
            _gap_change(self.state, change)
            self.counters.open_interest_gaps += 1
            self.counters.gap_change_contracts += abs(change)
            self._in_gap = False
        elif ended == 1:
            self._commit(group, (change,))
        else:
            self._commit(group, (change * _weights([bar for bar, _ in group])).tolist())
        self.reference = (time_ms, contracts)

    @property
    def recent(self) -> OutcomeLog:
        """The last committed bars' outcomes (``keep_outcomes`` of them)."""
        if self._queue:
            self._flush()
        return self._recent

    @property
    def state(self) -> BookState | None:
        """The book with every committed bar applied (None before the first reading)."""
        if self._queue:
            self._flush()
        return self._state

    def provisional(self) -> tuple[BookState, list[BarOutcome]]:
        """The book with the pending bars applied (no OI change), and their outcomes. Cached;
        do not modify the returned state."""
        if self.state is None:
            raise ValueError("no open-interest reading yet")
        if self._provisional is None:
            self._provisional = self._with_pending()
        return self._provisional

    def _with_pending(self) -> tuple[BookState, list[BarOutcome]]:
        """A copy of the committed book with the pending bars applied, and their outcomes."""
        state = self.state.copy()
        return state, _outcomes(*_apply(state, self.pending, [0.0] * len(self.pending)))

    def finish(self, recorder: Recorder) -> BookState | None:
        """Apply the pending bars to a copy as in ``provisional``, giving ``recorder`` their
        outcomes (committed False); returns that copy (None before the first reading)."""
        if self.state is None:
            return None
        state = self.state.copy()
        _apply(state, self.pending, [0.0] * len(self.pending), recorder, committed=False)
        return state

    def snapshot(self, row_buckets: int = 1) -> BookSnapshot | None:
        """An immutable copy for readers (None before the first reading): the provisional
        book's profile in rows of ``row_buckets`` buckets and the kept predictions."""
        if self.state is None:
            return None
        if self._provisional is not None:
            state, outcomes = self._provisional
        elif not self.pending:  # the book itself (only read here)
            state, outcomes = self.state, []
        else:  # a copy with the pending bars, not kept: ~80 KiB a book, and a few bars to redo
            state, outcomes = self._with_pending()
        kept = [*self.recent, *outcomes]
        opens = np.array([o.open_ms for o in kept], dtype=np.int64)
        committed = np.arange(len(kept)) < len(kept) - len(outcomes)
        predictions = Predictions(
            opens,
            np.array([o.long_usd for o in kept]),
            np.array([o.short_usd for o in kept]),
            committed,
        )
        profile = build_profile(state, row_buckets, state.last_end_ms, tier_labels(self.layout))
        standing = state.standing
        unknown = (state.unknown[0] + state.unknown[1]) / standing if standing > 0 else 0.0
        return BookSnapshot(
            state.last_end_ms, state.last_close, profile, predictions, unknown, len(self.pending)
        )

    def unknown_share(self) -> float:
        """Share of the open interest at unknown levels (1 at the start; falls as it turns over)."""
        state = self.state
        if state is None or state.standing <= 0:
            return 1.0 if state is None else 0.0
        return (state.unknown[0] + state.unknown[1]) / state.standing

    def _commit(self, bars: Sequence[tuple[Bar, Placement]], changes) -> None:
        self._provisional = None
        self._queue.extend(
            (bar, placed, change) for (bar, placed), change in zip(bars, changes, strict=True)
        )
        if len(self._queue) >= self.batch:
            self._flush()

    def _flush(self) -> None:
        """Apply the committed bars in the queue, in order, and keep their outcomes."""
        queue, self._queue = self._queue, []
        assert self._state is not None
        bars = [(bar, placed) for bar, placed, _ in queue]
        self._recent.extend(*_apply(self._state, bars, [c for _, _, c in queue], self.recorder))


def _apply(
    state: BookState,
    bars: Sequence[tuple[Bar, Placement]],
    changes: Sequence[float],
    recorder: Recorder | None = None,
    committed: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """``book.apply_bars`` over bars given with their placements: in runs of consecutive rows
    of one placement chunk (a run over series: one call per chunk), else a few at a time.
    Returns the bars' open times and outcomes (``book.apply_bars``'s rows)."""
    if not bars:
        return np.zeros(0), np.zeros((0, len(OUTCOME_COLUMNS)))
    rows = bars_array([bar for bar, _ in bars])
    recording = recorder.recording(rows) if recorder is not None else None
    out, a = [], 0
    while a < len(bars):
        b = a + 1
        chunk, index = bars[a][1]
        while b < len(bars) and bars[b][1].chunk is chunk and bars[b][1].index == index + b - a:
            b += 1
        if b - a == 1:  # not one chunk's consecutive rows: stack a few (padded copies)
            while (
                b < len(bars)
                and b - a < 64
                and (b + 1 == len(bars) or bars[b + 1][1].chunk is not bars[b][1].chunk)
            ):
                b += 1
        part = None if recording is None else recording._replace(column=recording.column[a:b])
        out.append(
            apply_bars(
                state,
                rows[a:b],
                np.asarray(changes[a:b], dtype=np.float64),
                stack([placed for _, placed in bars[a:b]]),
                part,
            )
        )
        a = b
    outcomes = out[0] if len(out) == 1 else np.concatenate(out)
    if recorder is not None:
        recorder.take(rows, outcomes, committed)
    return rows[:, 0], outcomes


def _outcomes(open_ms: np.ndarray, outcomes: np.ndarray) -> list[BarOutcome]:
    times = open_ms.astype(np.int64).tolist()
    return [BarOutcome(t, *row) for t, row in zip(times, outcomes[:, :4].tolist(), strict=True)]


def _weights(bars: Sequence[Bar]) -> np.ndarray:
    columns = np.array([(b.volume, b.high, b.low, b.close) for b in bars], dtype=np.float64)
    return rules.bar_weights(*columns.T)
