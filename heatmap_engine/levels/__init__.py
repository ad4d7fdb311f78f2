"""Estimated liquidation levels: where the leveraged positions open now would be liquidated.

The method, in the order the README's methodology states it (each rule is one function):

1. opening: a rise of open interest is new positions inside the bar's high-low range, spread
   evenly in log price (``rules.level_masses``); a change between two readings is spread over
   the bars in between by volume (``rules.bar_weights``);
2. side split: the taker-buy share of the bar's volume (``rules.taker_buy_share``): the book
   holds, for every contract, the holder who took liquidity to open it;
3. leverage tiers with weights and presets (``settings.LevelsSettings``);
4. the liquidation price of each tier from Binance's isolated-margin formula with its
   bracket's maintenance rate and amount (``formula``, ``brackets``);
5. closing: a fall of open interest closes standing positions (``rules.closing_split``);
6. consumption: a level is consumed when price trades through it, the bar's predicted
   liquidation volume (``rules.long_sweep_from``, ``rules.short_sweep_to``);
7. decay: positions turn over with a half-life (``rules.decay_fraction``);
8. calibration: the book plus positions at unknown levels equals the reported open interest
   (``rules.net_flow``, ``book.apply_gap_change``).

``book.apply_bars`` applies them bar by bar (a loop compiled with numba); ``live.LevelsBook`` is
the incremental model of a symbol (one bar and one reading at a time); ``run.run_levels`` runs it
over stored series for any past ``at`` and range. numpy and numba: no web imports, nothing
starts at import (the loop is compiled at its first call, then cached on disk).
"""

from heatmap_engine.levels.brackets import BracketFileError, BracketTable, load_brackets
from heatmap_engine.levels.live import LevelsBook
from heatmap_engine.levels.model import symbol_layout
from heatmap_engine.levels.results import LevelsResult
from heatmap_engine.levels.run import RANGES_MS, run_levels
from heatmap_engine.levels.series import Bars, LevelsInputError, Readings
from heatmap_engine.levels.settings import PRESETS, LevelsSettings
from heatmap_engine.levels.state import Bar, BarOutcome

__all__ = [
    "PRESETS",
    "RANGES_MS",
    "Bar",
    "BarOutcome",
    "Bars",
    "BracketFileError",
    "BracketTable",
    "LevelsBook",
    "LevelsInputError",
    "LevelsResult",
    "LevelsSettings",
    "Readings",
    "load_brackets",
    "run_levels",
    "symbol_layout",
]
