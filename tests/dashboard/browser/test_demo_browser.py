"""`make demo` as a newcomer meets it: ``python app.py --demo`` starts with a day of simulated
history, so the time × price view at 24 h shows liquidations over the whole day, not only in
its last hour (which is all a 60-minute prefill could show)."""

from __future__ import annotations

import pytest

from layouts import ids

pytestmark = [pytest.mark.browser, pytest.mark.slow]
HOUR_MS = 3_600_000


@pytest.fixture(scope="module")
def app_under_test(demo_app):
    return demo_app


def test_the_demo_24h_view_shows_dots_over_the_whole_day(page, app_under_test):
    page.goto(app_under_test.base + "/?symbol=BTCUSDT&view=timeline&range=24h")
    graph = f"#{ids.TIMELINE_GRAPH} .js-plotly-plot"
    page.wait_for_function(
        f"() => {{ const g = document.querySelector('{graph}');"
        " return g && g.data && g.data.filter(t => t.type === 'scatter' && t.mode === 'markers'"
        " && (t.x || []).length).length > 0; }",
        timeout=30_000,
    )
    drawn = page.evaluate(
        f"""() => {{
            const g = document.querySelector('{graph}');
            const zone = v => /Z|[+-]\\d\\d:?\\d\\d$/.test(v) ? '' : 'Z';
            const ms = v => typeof v === 'number' ? v
                : Date.parse(String(v).replace(' ', 'T') + zone(String(v)));
            const dots = g.data.filter(t => t.type === 'scatter' && t.mode === 'markers')
                .flatMap(t => (t.x || []).map(ms));
            const range = g._fullLayout.xaxis.range;
            return {{dots, start: ms(range[0]), end: ms(range[1])}};
        }}"""
    )
    dots, start, end = drawn["dots"], drawn["start"], drawn["end"]
    assert end - start >= 23 * HOUR_MS, "the 24 h view spans a day"
    hours = {int((t - start) // HOUR_MS) for t in dots if start <= t <= end}
    # a day of simulated liquidations on BTC: nearly every hour of the axis has dots, the first
    # two hours included (a 60-minute prefill would put them all in the last hour)
    assert len(hours) >= 20, sorted(hours)
    assert min(hours) <= 1, sorted(hours)
