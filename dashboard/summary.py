"""The statistics cards and the feed badge, as text (pure: snapshot, levels result or feed facts
in)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from dashboard import theme
from heatmap_engine.best import choose_best
from heatmap_engine.levels.results import LevelsResult
from heatmap_engine.levels.standing import LARGE_SHARE, REACH_PCT, Level, standing
from heatmap_engine.models import Snapshot

# The feed's states (heatmap_engine.feed_stats) as a user reads them.
FEED_STATES = {
    "live": ("Live", "ok"),
    "demo": ("Demo", "ok"),
    "replay": ("Replay", "ok"),
    "subscribing": ("Connecting", "warn"),
    "connecting": ("Connecting", "warn"),
    "reconnecting": ("Reconnecting", "warn"),
    "idle": ("Offline", "bad"),
    "stopped": ("Offline", "bad"),
}
LAG_SHOWN_SECONDS = 5.0  # the badge says how far the data is behind beyond this


@dataclass(frozen=True, slots=True)
class Stat:
    value: str
    sub: str
    tone: str = ""  # "", "long", "short", "ok", "warn", "bad"
    hint: str = ""  # a tooltip explaining the numbers


def stats(snapshot: Snapshot | None, min_strength: float, max_distance: float) -> dict[str, Stat]:
    """The cards: current price, clusters shown (total, long, short), best cluster, window."""
    if snapshot is None:
        waiting = Stat("—", "waiting for the first refresh")
        return dict.fromkeys(("price", "total", "long", "short", "best", "window"), waiting)
    shown = snapshot.filtered(min_strength, max_distance)
    longs = [c for c in shown if c.side == "long"]
    shorts = [c for c in shown if c.side == "short"]
    return {
        "price": _price(snapshot),
        "total": Stat(str(len(shown)), f"of {len(snapshot.clusters)} in the window"),
        "long": Stat(str(len(longs)), _notional(longs), "long" if longs else ""),
        "short": Stat(str(len(shorts)), _notional(shorts), "short" if shorts else ""),
        "best": _best(snapshot, min_strength, max_distance),
        "window": Stat(
            f"{snapshot.events_in_window:,}",
            f"liquidations · {theme.fmt_usd(snapshot.notional_in_window)} · "
            f"{snapshot.window_minutes:g} min",
        ),
    }


def _price(snapshot: Snapshot) -> Stat:
    price = snapshot.current_price
    if price is None:
        return Stat("—", "no mark price yet")
    return Stat(theme.fmt_price(price), f"mark · {theme.fmt_clock(snapshot.price_time_ms)}")


def estimated_stats(
    snapshot: Snapshot | None, result: LevelsResult | None, updating: bool = False
) -> dict[str, Stat]:
    """The cards while the estimated view is shown: the price, then the estimate's standing
    book (``heatmap_engine.levels.standing``) split at the mark price (the profile's own
    before there is one): the notional standing, the nearest large long level below and short
    level above, what stands at unknown levels, and which bar the estimate ends at."""
    price = _price(snapshot) if snapshot is not None else Stat("—", "waiting for the first refresh")
    if result is None:
        none = Stat("—", "no estimate")
        return {"price": price, **dict.fromkeys(("total", "long", "short", "best", "window"), none)}
    mark = snapshot.current_price if snapshot is not None else None
    s = standing(result.profile, mark)
    a = result.assumptions
    return {
        "price": price,
        "total": Stat(
            theme.fmt_usd(s.long_usd + s.short_usd),
            f"long {theme.fmt_usd(s.long_usd)} · short {theme.fmt_usd(s.short_usd)}",
            hint="Estimated notional the model placed at known levels: longs below "
            "the price, shorts above it.",
        ),
        "long": _level(s.nearest_long, "long", "below"),
        "short": _level(s.nearest_short, "short", "above"),
        "best": Stat(
            theme.fmt_usd(s.unknown_usd),
            f"{s.unknown_share:.0%} of the open interest",
            hint="Positions opened before the data the model has seen: their "
            "liquidation prices are unknown.",
        ),
        "window": Stat(
            f"{result.range_name} · {a.preset}",
            f"to {theme.fmt_clock(result.at_ms)}" + (" · updating" if updating else ""),
            "warn" if updating else "",
        ),
    }


def _level(level: Level | None, side: str, where: str) -> Stat:
    if level is None:
        return Stat("—", f"none within {REACH_PCT:g} %")
    return Stat(
        theme.fmt_price(level.price),
        f"{theme.fmt_usd(level.usd)} · {level.distance_pct:.2f} % {where}",
        side,
        f"The nearest {side} level {where} the price holding at least {LARGE_SHARE:.0%} of the "
        f"largest {side} level within {REACH_PCT:g} % of it (estimated).",
    )


def _notional(clusters) -> str:
    total = sum(c.total_notional for c in clusters)
    return f"{theme.fmt_usd(total)} notional" if clusters else "none shown"


def _best(snapshot: Snapshot, min_strength: float, max_distance: float) -> Stat:
    """The API's best cluster (``api.payloads.BEST_DEFINITION``) under the page's filters."""
    chosen = choose_best(snapshot.clusters, min_strength, max_distance)
    if chosen is None:
        why = "no price yet" if snapshot.current_price is None else "none qualifies"
        return Stat("—", why)
    cluster, score = chosen
    price = snapshot.current_price or 0.0
    where = "below" if cluster.price_level < price else "above"
    return Stat(
        f"{theme.fmt_price(cluster.price_level)}",
        f"{theme.SIDE_LABEL[cluster.side]} {theme.fmt_usd(cluster.total_notional)} · "
        f"{cluster.distance_from_price:.2f} % {where} · score {score:.2f}",
        cluster.side,
        f"score = strength / (1 + distance %) = {cluster.strength:.2f} / "
        f"(1 + {cluster.distance_from_price:.2f}) = {score:.2f}. The best cluster has the "
        "highest score of those the filters keep: a strong cluster near the price beats an "
        "equally strong one further away.",
    )


def feed_status(
    state: str,
    seconds_since_frame: float | None,
    silence_seconds: float,
    lag_seconds: float | None = None,
    problems: Sequence[str] = (),
) -> Stat:
    """Live / demo / reconnecting / offline, how long ago the last frame came, and how far the
    data is behind the exchange's clock once that exceeds ``LAG_SHOWN_SECONDS``; or, while the
    service reports a problem (``HeatmapService.problems()``: history not saved, a thread that
    ended), that problem, in red: a live feed whose history is lost is not fine."""
    label, tone = FEED_STATES.get(state, (state.capitalize() or "Offline", "warn"))
    if problems:
        more = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
        return Stat(label, problems[0] + more, "bad")
    if seconds_since_frame is None:
        return Stat(label, "no frame yet", "warn" if tone == "ok" else tone)
    if tone == "ok" and seconds_since_frame >= silence_seconds:
        tone = "warn"
    sub = f"last frame {theme.fmt_age(seconds_since_frame)} ago"
    if lag_seconds is not None and lag_seconds > LAG_SHOWN_SECONDS:
        sub += f" · data {theme.fmt_age(lag_seconds)} behind"
        tone = "warn" if tone == "ok" else tone
    return Stat(label, sub, tone)


def as_of(snapshot: Snapshot | None) -> str:
    if snapshot is None:
        return "no data yet"
    return f"updated {theme.fmt_clock(snapshot.computed_at_ms)} · v{snapshot.version}"
