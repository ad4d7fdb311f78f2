"""Heatmap (estimated) in real headless Chromium against ``python app.py --demo``: the simulated
market's candles and open interest, backfilled through the real client, feed the real model.

The first tab; a heatmap with candles; the hover's tiers; the range, preset and threshold
controls; the phone's legend and colour scale clear of Plotly's toolbar. Expected values come
from the API's own answer for the same symbol, range and preset.
"""

from __future__ import annotations

import re

import pytest

from dashboard.state import LAYERS
from layouts import ids

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
GRAPH = f"#{ids.ESTIMATED_GRAPH} .js-plotly-plot"
TIER = re.compile(r"\b(\d+x)\b")


@pytest.fixture(scope="module")
def app_under_test(demo_app):
    return demo_app


def wait_for_estimate(page, revision: str) -> None:
    page.wait_for_function(
        f"""() => {{
            const g = document.querySelector('{GRAPH}');
            return g && g.layout && g.layout.uirevision === '{revision}'
                && g.data.length && g.data[0].type === 'heatmap'
                && g.querySelector('.heatmaplayer image');
        }}""",
        timeout=30_000,
    )


def figure(page, expression: str):
    return page.evaluate(
        f"() => {{ const g = document.querySelector('{GRAPH}'); return {expression}; }}"
    )


def shown_cells(page) -> list[float]:
    return figure(page, "g.data[0].z.flat().filter(v => v !== null)")


def tiers_in_hover_data(page) -> set[str]:
    names = figure(page, "g.data[0].text.flat().filter(t => t)")
    return {tier for name in names for tier in TIER.findall(name)}


def test_the_first_tab_is_the_estimated_heatmap_with_candles(page, app_under_test, screenshot):
    page.goto(app_under_test.base + "/?symbol=BTCUSDT")
    wait_for_estimate(page, "estimated:BTCUSDT|24h|all")
    first = page.locator(f"#{ids.VIEW} label").first
    assert first.inner_text() == "Heatmap (estimated)"
    assert page.locator(f"#{ids.VIEW} input[type=radio]").first.is_checked()
    assert page.inner_text(f"#{ids.LAYER_NOTE}") == LAYERS["estimated"]
    types = figure(page, "g.data.map(t => t.type)")
    assert types[:2] == ["heatmap", "candlestick"]
    assert page.locator(f"{GRAPH} .heatmaplayer image").count() == 1
    assert page.locator(f"{GRAPH} .boxlayer .trace path").count() > 0  # the candles drawn
    body = app_under_test.api("/api/levels/BTCUSDT?range=24h")
    closes = figure(page, "g.data[1].close")
    # the demo closes a bar a minute: the API, asked a moment later, may hold one more
    recent = [float(c[4]) for c in body["price_candlesticks"][-2:]]
    assert any(closes[-1] == pytest.approx(c, rel=1e-6) for c in recent), (closes[-1], recent)
    price_lines = figure(page, "g.layout.shapes.filter(s => s.line.color === '#3d8bfd').length")
    assert price_lines == 1
    notes = " ".join(figure(page, "g.layout.annotations.map(a => a.text)"))
    assert "not observed" in notes and "fixed scale" in figure(
        page, "g.data[0].colorbar.title.text"
    )
    screenshot(page, "laptop-estimated")


def test_hover_shows_the_estimate_and_the_leverage_tiers(page, app_under_test):
    page.goto(app_under_test.base + "/?symbol=BTCUSDT")
    wait_for_estimate(page, "estimated:BTCUSDT|24h|all")
    point = figure(
        page,
        """(() => {
            const t = g.data[0], xa = g._fullLayout.xaxis, ya = g._fullLayout.yaxis;
            let best = null;
            t.z.forEach((row, r) => row.forEach((v, c) => {
                if (v !== null && c > row.length / 2 && (!best || v > best.v)) best = {v, r, c};
            }));
            const box = g.getBoundingClientRect();
            return {x: box.left + xa._offset + xa.d2p(t.x[best.c]),
                    y: box.top + ya._offset + ya.d2p(t.y[best.r])};
        })()""",
    )
    page.mouse.move(point["x"], point["y"])
    hover = page.wait_for_selector(f"{GRAPH} .hoverlayer .hovertext").text_content()
    assert "Estimated standing" in hover and "UTC" in hover
    assert "Long $" in hover and "Short $" in hover and "Tiers:" in hover
    body = app_under_test.api("/api/levels/BTCUSDT?range=24h")
    labels = {t["label"] for t in body["assumptions"]["tiers"]}
    named = set(TIER.findall(hover.split("Tiers:")[1]))
    assert named and named <= labels, (hover, labels)


def test_the_range_and_preset_pickers_change_the_model_run(page, app_under_test):
    page.goto(app_under_test.base + "/?symbol=BTCUSDT")
    wait_for_estimate(page, "estimated:BTCUSDT|24h|all")
    page.click(f"#{ids.LEVELS_RANGE} label:has-text('7d')")
    page.wait_for_function("() => location.search.includes('levels_range=7d')")
    wait_for_estimate(page, "estimated:BTCUSDT|7d|all")
    span_days = figure(page, "(g.data[0].x[g.data[0].x.length - 1] - g.data[0].x[0]) / 864e5")
    assert 6.5 <= span_days <= 7.0
    page.click(f"#{ids.PRESET} label:has-text('High leverage')")
    page.wait_for_function("() => location.search.includes('preset=high')")
    wait_for_estimate(page, "estimated:BTCUSDT|7d|high")
    body = app_under_test.api("/api/levels/BTCUSDT?range=7d&preset=high")
    high = {t["label"] for t in body["assumptions"]["tiers"]}
    assert "5x" not in high and tiers_in_hover_data(page) <= high


def test_the_threshold_hides_weak_cells(page, app_under_test):
    page.goto(app_under_test.base + "/?symbol=BTCUSDT&threshold=0")
    wait_for_estimate(page, "estimated:BTCUSDT|24h|all")
    before = shown_cells(page)
    page.focus(f"#{ids.THRESHOLD} [role=slider]")
    for _ in range(20):
        page.keyboard.press("ArrowRight")
    page.wait_for_function("() => location.search.includes('threshold=20')")
    page.wait_for_function(
        f"() => document.querySelector('{GRAPH}').data[0].z.flat()"
        ".every(v => v === null || v >= 20)"
    )
    after = shown_cells(page)
    assert 0 < len(after) < len(before) and min(before) < 20
    assert page.inner_text(f"#{ids.THRESHOLD_LABEL}") == "20 %"


def test_on_a_phone_the_toolbar_covers_neither_legend_nor_colour_scale(
    page, app_under_test, screenshot
):
    page.set_viewport_size(PHONE)
    page.goto(app_under_test.base + "/?symbol=BTCUSDT&overlay=dots,bands")
    wait_for_estimate(page, "estimated:BTCUSDT|24h|all")
    page.wait_for_timeout(300)  # the chart settles at its box's size
    box = page.locator(GRAPH).bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    toolbar = page.locator(f"#{ids.ESTIMATED_GRAPH} .modebar").bounding_box()
    legend = page.locator(f"#{ids.ESTIMATED_GRAPH} .legend").bounding_box()
    scale = page.locator(f"#{ids.ESTIMATED_GRAPH} .colorbar").bounding_box()
    assert toolbar and legend and scale and toolbar["width"] > 0

    def apart(a, b) -> bool:
        return (
            a["y"] + a["height"] <= b["y"]
            or b["y"] + b["height"] <= a["y"]
            or a["x"] + a["width"] <= b["x"]
            or b["x"] + b["width"] <= a["x"]
        )

    assert apart(toolbar, legend) and apart(toolbar, scale), (toolbar, legend, scale)
    assert scale["x"] >= box["x"] - 1 and scale["x"] + scale["width"] <= box["x"] + box["width"] + 1
    assert page.evaluate("() => document.documentElement.scrollWidth") <= PHONE["width"]
    screenshot(page, "phone-estimated")


LEGEND_BOXES_JS = f"""() => {{
    const root = document.querySelector('#{ids.ESTIMATED_GRAPH}');
    const box = e => {{ const b = e.getBoundingClientRect();
                        return {{top: b.top, bottom: b.bottom, left: b.left, right: b.right}}; }};
    const all = selector => [...root.querySelectorAll(selector)].map(box)
        .filter(b => b.bottom > b.top);
    return {{axis: all('.xaxislayer-above .xtick text'), bar: all('.colorbar .cbfills'),
             ticks: all('.colorbar .cbaxis text'), title: all('.colorbar .cbtitle')}};
}}"""


@pytest.mark.parametrize(
    "viewport", [PHONE, {"width": 1440, "height": 900}], ids=["phone", "laptop"]
)
def test_the_colour_legend_stands_clear_below_the_time_axis_labels(page, app_under_test, viewport):
    """The time axis' labels (times, and the date on a second line) end above the colour
    legend, with a visible gap; the legend's title, its bar and its tick labels do not overlap."""
    page.set_viewport_size(viewport)
    page.goto(app_under_test.base + "/?symbol=BTCUSDT")
    wait_for_estimate(page, "estimated:BTCUSDT|24h|all")
    page.wait_for_timeout(300)  # the chart settles at its box's size
    boxes = page.evaluate(LEGEND_BOXES_JS)
    assert all(boxes[part] for part in ("axis", "bar", "ticks", "title")), boxes
    date_line = max(b["bottom"] for b in boxes["axis"])
    legend = [*boxes["bar"], *boxes["ticks"], *boxes["title"]]
    gap = min(b["top"] for b in legend) - date_line
    assert gap >= 6, f"the colour legend is {gap:.1f} px below the time axis' date line"

    def apart(a, b) -> bool:
        return (a["bottom"] <= b["top"] or b["bottom"] <= a["top"]
                or a["right"] <= b["left"] or b["right"] <= a["left"])  # fmt: skip

    (title,) = boxes["title"]
    assert all(apart(title, b) for b in [*boxes["bar"], *boxes["ticks"]]), boxes
