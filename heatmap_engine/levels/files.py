"""CSV files for ``python app.py levels``: candles and open interest, each with a header row.

* candles: ``open_time`` (ISO 8601, UTC when no offset is given, or epoch milliseconds),
  ``open``, ``high``, ``low``, ``close``, and optionally ``volume`` and ``taker_buy_volume``
  (base units; a missing column or an empty cell means unknown);
* open interest: ``time`` (as above) and ``open_interest_usd``.

Columns may come in any order and others are ignored. Every problem is a ``LevelsInputError``
naming the file, the line and what is wrong.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from heatmap_engine.levels.series import Bars, LevelsInputError, Readings

CANDLE_COLUMNS = ("open_time", "open", "high", "low", "close")
OPTIONAL_COLUMNS = ("volume", "taker_buy_volume")
OI_COLUMNS = ("time", "open_interest_usd")
MIN_TIME_MS = 946_684_800_000  # 2000-01-01: smaller digits are epoch seconds, not ms


def parse_time(raw: str) -> int:
    """ISO 8601 (no offset = UTC) or epoch milliseconds, as epoch milliseconds."""
    text = raw.strip()
    if text.isdigit():
        value = int(text)
        if value < MIN_TIME_MS:
            raise ValueError(f"{text!r} is before 2000 (epoch seconds? times are milliseconds)")
        return value
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text!r} is not ISO 8601 or epoch milliseconds") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return round(moment.timestamp() * 1000)


def _rows(path: Path, required: tuple[str, ...]) -> Iterator[tuple[int, dict[str, str]]]:
    try:
        handle = path.open(newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise LevelsInputError(f"cannot read {path}: {exc.strerror or exc}") from None
    with handle:
        reader = csv.DictReader(handle)
        try:
            header = [name.strip() for name in reader.fieldnames or []]
        except UnicodeDecodeError:
            raise LevelsInputError(f"{path.name} is not a UTF-8 text file") from None
        missing = [name for name in required if name not in header]
        if missing:
            raise LevelsInputError(
                f"{path.name}: missing column(s) {', '.join(missing)}; "
                f"the header row must name {', '.join(required)}"
            )
        reader.fieldnames = header
        try:
            yield from enumerate(reader, start=2)
        except (UnicodeDecodeError, csv.Error) as exc:
            raise LevelsInputError(f"{path.name}: unreadable CSV ({exc})") from None


def _number(path: Path, line: int, row: dict[str, str], name: str, optional=False) -> float:
    raw = (row.get(name) or "").strip()
    if not raw and optional:
        return math.nan
    try:
        value = float(raw)
    except ValueError:
        raise LevelsInputError(f"{path.name} line {line}: {name} {raw!r} is not a number") from None
    if not math.isfinite(value):
        raise LevelsInputError(f"{path.name} line {line}: {name} must be finite")
    return value


def _time(path: Path, line: int, row: dict[str, str], name: str) -> int:
    try:
        return parse_time(row.get(name) or "")
    except ValueError as exc:
        raise LevelsInputError(f"{path.name} line {line}: {name} {exc}") from None


def read_candles_csv(path: str | Path) -> Bars:
    """Candles from a CSV file (see the module docstring); the interval is inferred."""
    path = Path(path)
    columns: dict[str, list[float]] = {name: [] for name in CANDLE_COLUMNS + OPTIONAL_COLUMNS}
    for line, row in _rows(path, CANDLE_COLUMNS):
        columns["open_time"].append(_time(path, line, row, "open_time"))
        for name in CANDLE_COLUMNS[1:]:
            columns[name].append(_number(path, line, row, name))
        for name in OPTIONAL_COLUMNS:
            columns[name].append(_number(path, line, row, name, optional=True))
    if len(columns["open_time"]) < 2:
        raise LevelsInputError(f"{path.name}: at least two candles are needed")
    try:
        return Bars.build(*(columns[name] for name in CANDLE_COLUMNS + OPTIONAL_COLUMNS))
    except LevelsInputError as exc:
        raise LevelsInputError(f"{path.name}: {exc}") from None


def read_open_interest_csv(path: str | Path, bars: Bars) -> Readings:
    """Open-interest readings in USD from a CSV file, turned into contracts at ``bars``' price."""
    path = Path(path)
    times, values = [], []
    for line, row in _rows(path, OI_COLUMNS):
        times.append(_time(path, line, row, "time"))
        values.append(_number(path, line, row, "open_interest_usd"))
    if not times:
        raise LevelsInputError(f"{path.name}: no open-interest readings")
    try:
        return Readings.from_usd(times, values, bars)
    except LevelsInputError as exc:
        raise LevelsInputError(f"{path.name}: {exc}") from None
