"""``python app.py levels``: the model over CSV files (``heatmap_engine.levels.files``)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from heatmap_engine.levels.brackets import BracketFileError, load_brackets
from heatmap_engine.levels.files import parse_time, read_candles_csv, read_open_interest_csv
from heatmap_engine.levels.results import LevelsResult
from heatmap_engine.levels.run import run_levels
from heatmap_engine.levels.series import LevelsInputError
from heatmap_engine.levels.settings import LevelsSettings


def levels_from_files(
    candles: str | Path,
    open_interest: str | Path,
    *,
    at: str | None = None,
    range_name: str = "7d",
    preset: str | None = None,
    symbol: str | None = None,
    env: Mapping[str, str] | None = None,
) -> LevelsResult:
    """One run over the files; bad input raises ``LevelsInputError`` (one line, plain words),
    bad ``HEATMAP_LEVELS_*`` settings ``ConfigError``."""
    settings = LevelsSettings.from_env(env)
    if preset is not None:
        settings = settings.with_preset(preset)
    try:
        table = load_brackets(settings.levels_brackets_file or None)
    except BracketFileError as exc:
        raise LevelsInputError(f"HEATMAP_LEVELS_BRACKETS_FILE: {exc}") from None
    at_ms = None
    if at is not None:
        try:
            at_ms = parse_time(at)
        except ValueError as exc:
            raise LevelsInputError(f"--at {exc}") from None
    bars = read_candles_csv(candles)
    readings = read_open_interest_csv(open_interest, bars)
    return run_levels(
        bars,
        readings,
        settings,
        symbol=symbol and symbol.upper(),
        at_ms=at_ms,
        range_name=range_name,
        table=table,
    )
