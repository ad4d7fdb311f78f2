"""Binance leverage brackets: the maintenance-margin rate and amount of a position's notional.

Binance's ``/fapi/v1/leverageBracket`` needs an API key, so a table is shipped
(``brackets.json``, the protocol reference §4.3 snapshots) and ``HEATMAP_LEVELS_BRACKETS_FILE``
may point at another one: either a file in the shipped layout (``{"as_of", "default",
"symbols": [...]}``) or the raw response of ``leverageBracket`` (a list of ``{"symbol",
"brackets"}``; symbols it does not name keep the shipped rows). A symbol in neither gets the
table's ``default`` (the most common alt table).

Within a table a bracket holds notionals ``notionalFloor <= N < notionalCap``; the last listed
bracket extends to any notional, since the snapshots list only the first few.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SHIPPED = Path(__file__).resolve().parent / "brackets.json"


class BracketFileError(ValueError):
    """A bracket file that cannot be used; the message says why in plain words."""


@dataclass(frozen=True, slots=True)
class Bracket:
    """One notional bracket: ``floor <= notional < cap`` at most ``max_leverage``."""

    floor_usd: float
    cap_usd: float
    max_leverage: float
    mmr: float  # maintenance-margin rate
    cum_usd: float  # maintenance amount: MM = notional × MMR − cum


@dataclass(frozen=True, slots=True)
class BracketTable:
    """Brackets per symbol, a default for the others, and where they came from."""

    symbols: dict[str, tuple[Bracket, ...]]
    default: tuple[Bracket, ...]
    source: str
    as_of: str

    def for_symbol(self, symbol: str | None) -> tuple[tuple[Bracket, ...], bool]:
        """(brackets, listed): the symbol's rows, or the default ones with ``listed`` False."""
        rows = self.symbols.get((symbol or "").upper())
        return (rows, True) if rows is not None else (self.default, False)


def bracket_of(brackets: tuple[Bracket, ...], notional_usd: float) -> Bracket:
    """The bracket holding ``notional_usd`` (the last one beyond the listed caps)."""
    for bracket in brackets:
        if notional_usd < bracket.cap_usd:
            return bracket
    return brackets[-1]


def _rows(raw: Any, where: str) -> tuple[Bracket, ...]:
    if not isinstance(raw, list) or not raw:
        raise BracketFileError(f"{where}: brackets must be a non-empty list")
    rows = []
    for item in raw:
        try:
            bracket = Bracket(
                float(item.get("notionalFloor", 0.0)),
                float(item["notionalCap"]),
                float(item["initialLeverage"]),
                float(item["maintMarginRatio"]),
                float(item.get("cum", 0.0)),
            )
        except (AttributeError, KeyError, TypeError, ValueError):
            raise BracketFileError(
                f"{where}: each bracket needs notionalCap, initialLeverage and maintMarginRatio"
            ) from None
        if not (0.0 < bracket.mmr < 1.0 and bracket.max_leverage >= 1.0):
            raise BracketFileError(f"{where}: maintMarginRatio must be in (0, 1), leverage >= 1")
        rows.append(bracket)
    rows.sort(key=lambda b: b.floor_usd)
    return tuple(rows)


def _entries(raw: Any, where: str) -> dict[str, tuple[Bracket, ...]]:
    if not isinstance(raw, list):
        raise BracketFileError(f"{where}: expected a list of {{symbol, brackets}}")
    table = {}
    for entry in raw:
        if not isinstance(entry, dict) or not isinstance(entry.get("symbol"), str):
            raise BracketFileError(f"{where}: every entry needs a symbol and its brackets")
        table[entry["symbol"].upper()] = _rows(entry.get("brackets"), entry["symbol"])
    return table


def _read(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except OSError as exc:
        raise BracketFileError(f"cannot read bracket file {path.name}: {exc.strerror}") from None
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise BracketFileError(f"bracket file {path.name} is not JSON") from None


def load_brackets(override: str | Path | None = None) -> BracketTable:
    """The shipped table, with ``override``'s symbols (and default, if it has one) on top."""
    shipped = _read(SHIPPED)
    table = BracketTable(
        _entries(shipped["symbols"], SHIPPED.name),
        _rows(shipped["default"], "default"),
        "shipped: heatmap_engine/levels/brackets.json (Binance's published bracket tables)",
        shipped["as_of"],
    )
    if not override:
        return table
    path = Path(override)
    raw = _read(path)
    if isinstance(raw, dict):
        symbols = _entries(raw.get("symbols", []), path.name)
        default = _rows(raw["default"], "default") if "default" in raw else table.default
        as_of = str(raw.get("as_of", "unknown"))
    else:
        symbols, default, as_of = _entries(raw, path.name), table.default, "unknown"
    return BracketTable({**table.symbols, **symbols}, default, f"file: {path.name}", as_of)
