"""The page when Binance cannot be reached: ``python app.py`` pointed at a loopback port where
nothing listens, in real headless Chromium. The page must say so in words, on the banner and on
every chart, and never claim a quiet market; the "updated" time is marked not live."""

from __future__ import annotations

import pytest

from layouts import ids

pytestmark = pytest.mark.browser

LAPTOP = {"width": 1440, "height": 900}
PHONE = {"width": 390, "height": 844}
QUIET = ("No liquidations", "No cluster passes the filters", "no cluster yet", "No candles")
VIEWS = (
    ("estimated", ids.ESTIMATED_GRAPH),
    ("heatmap", ids.HEATMAP_GRAPH),
    ("timeline", ids.TIMELINE_GRAPH),
    ("map", ids.MAP_GRAPH),
    ("table", None),
)


@pytest.fixture(scope="module")
def app_under_test(offline_app):
    return offline_app


def chart_notes(page, graph_id: str) -> list[str]:
    return page.evaluate(
        f"""() => {{
            const g = document.querySelector('#{graph_id} .js-plotly-plot');
            return (g.layout.annotations || []).map(a => a.text);
        }}"""
    )


def wait_for_outage_figure(page, graph_id: str) -> None:
    page.wait_for_function(
        f"""() => {{
            const g = document.querySelector('#{graph_id} .js-plotly-plot');
            return g && g.layout && (g.layout.annotations || [])
                .some(a => a.text.startsWith('Cannot reach Binance'));
        }}""",
        timeout=15_000,
    )


def test_the_page_says_binance_cannot_be_reached_and_nothing_is_live(
    page, app_under_test, screenshot
):
    host = app_under_test.exchange_host
    for width_name, viewport in (("laptop", LAPTOP), ("phone", PHONE)):
        page.set_viewport_size(viewport)
        for view, graph in VIEWS:
            page.goto(f"{app_under_test.base}/?symbol=BTCUSDT&view={view}")
            banner = page.wait_for_selector(f"#{ids.OUTAGE} .hm-outage-text").inner_text()
            assert banner.startswith(f"Cannot reach Binance ({host}): ")
            assert "Retrying within" in banner and banner.endswith("Nothing shown here is live.")
            if graph is not None:
                wait_for_outage_figure(page, graph)
                (note,) = chart_notes(page, graph)
                assert note.startswith(f"Cannot reach Binance ({host})"), note
            else:
                page.wait_for_selector(f"#{ids.TABLE_BODY} .hm-table-empty")
                empty = page.inner_text(f"#{ids.TABLE_BODY}")
                assert empty.startswith(f"Cannot reach Binance ({host})")
            if width_name == "laptop":  # the phone hides the "updated" time, not the banner
                page.wait_for_selector(f"#{ids.AS_OF} .hm-stale")
                assert page.inner_text(f"#{ids.AS_OF}").endswith("· not live")
            text = page.inner_text("body")
            assert not [q for q in QUIET if q in text], text
            page.wait_for_timeout(300)  # the chart settles at its box's size
            screenshot(page, f"offline-{width_name}-{view}")


def test_the_heatmap_side_panel_names_the_outage(page, app_under_test):
    page.goto(f"{app_under_test.base}/?symbol=BTCUSDT&view=heatmap")
    wait_for_outage_figure(page, ids.HEATMAP_GRAPH)
    page.wait_for_function(
        f"() => document.getElementById('{ids.LADDER}').innerText.startsWith('Cannot reach')"
    )
