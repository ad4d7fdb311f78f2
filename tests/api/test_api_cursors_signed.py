"""Cursors are signed with a secret that is not in the source, and whatever a cursor carries is
range-checked: forged (signed with the real key, as after a leak) and tampered cursors are a 400,
never a 500 and never a page outside a plain query's reach."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from itsdangerous import URLSafeSerializer

from api.resources.liquidation_cursor import SALT, VERSION
from api.secret import FILE_NAME

KEY = "a-secret-only-this-test-knows"
DAY = 86_400_000


@pytest.fixture
def keyed(make_client, history_service):
    return make_client({"HEATMAP_SECRET_KEY": KEY}, svc=history_service)


def _forged(fields: list) -> str:
    return URLSafeSerializer(KEY.encode(), salt=SALT).dumps(fields)


def test_a_cursor_made_with_the_key_is_followed(keyed, stored):
    """The forgery below is otherwise exact: the same fields, in range, do page on."""
    start = stored.past_ms - DAY
    first = keyed.get(f"/api/liquidations/BTCUSDT?start={start}&end={stored.now_ms}&limit=2")
    row = first.get_json()["liquidations"][-1]
    made = _forged([VERSION, "BTCUSDT", start, stored.now_ms, None, 0.0, row["time_ms"], row["id"]])
    page = keyed.get(f"/api/liquidations/BTCUSDT?cursor={made}&limit=2").get_json()
    assert page["success"] and page["liquidations"][0]["id"] > row["id"]


T = 1_769_601_600_000


@pytest.mark.parametrize(
    "fields",
    [[VERSION, "BTCUSDT", -T, T, None, 0.0, T - 5, 1],  # negative start (year -29719 before)
     [VERSION, "BTCUSDT", T - DAY, T, None, 0.0, T - 5, 2**70],  # row id beyond SQLite's int
     [VERSION, "BTCUSDT", T, T - DAY, None, 0.0, T - 5, 1],  # reversed range
     [VERSION, "BTCUSDT", 0, 5, None, 0.0, 1, 1],  # 1970
     [VERSION, "BTCUSDT", T - DAY, 10**20, None, 0.0, T - 5, 1],  # huge end
     [VERSION, "BTCUSDT", T - DAY, T, None, 0.0, T + 5, 1],  # keyset outside its range
     [VERSION, "BTCUSDT", T - DAY, T, "both", 0.0, T - 5, 1],
     [VERSION, "BTCUSDT", T - DAY, T, None, -1.0, T - 5, 1],
     [VERSION, "BTCUSDT", T - DAY, T, None, float("nan"), T - 5, 1],
     [VERSION, "BTCUSDT", T - DAY, T, None, 0.0, T - 5, True],
     [VERSION, "BTCUSDT", float(T - DAY), T, None, 0.0, T - 5, 1],
     [VERSION, "BTC USDT", T - DAY, T, None, 0.0, T - 5, 1],
     [VERSION + 1, "BTCUSDT", T - DAY, T, None, 0.0, T - 5, 1],
     [VERSION, "BTCUSDT", T - DAY, T, None, 0.0, T - 5],
     {"symbol": "BTCUSDT"}, "BTCUSDT", None],
)  # fmt: skip
def test_a_forged_cursor_out_of_range_is_a_400(keyed, check_spec, fields):
    response = keyed.get(f"/api/liquidations/BTCUSDT?cursor={_forged(fields)}")
    assert response.status_code == 400, response.get_json()
    assert "not a cursor this server issued" in response.get_json()["error"]
    check_spec(response, "/api/liquidations/{symbol}")


def test_a_cursor_signed_with_another_key_is_a_400(keyed):
    other = URLSafeSerializer(b"the source's old constant", salt=SALT)
    forged = other.dumps([VERSION, "BTCUSDT", T - DAY, T, None, 0.0, T - 5, 1])
    assert keyed.get(f"/api/liquidations/BTCUSDT?cursor={forged}").status_code == 400


def test_without_a_configured_key_one_is_generated_once_and_kept_private(
    make_client, history_service, stored
):
    url = f"/api/liquidations/BTCUSDT?start={stored.past_ms - DAY}&end={stored.now_ms}&limit=1"
    key_file = Path(history_service.settings.data_dir) / FILE_NAME
    assert not key_file.exists()  # nothing is written before a cursor is needed
    cursor = make_client(svc=history_service).get(url).get_json()["next_cursor"]
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600 and len(key_file.read_bytes()) >= 32
    # another app on the same data folder (a restart) knows the cursor; one with its own key not
    restarted = make_client(svc=history_service)
    assert restarted.get(f"/api/liquidations/BTCUSDT?cursor={cursor}").status_code == 200
    keyed = make_client({"HEATMAP_SECRET_KEY": KEY}, svc=history_service)
    assert keyed.get(f"/api/liquidations/BTCUSDT?cursor={cursor}").status_code == 400


def test_a_configured_key_writes_nothing(keyed, history_service, stored):
    url = f"/api/liquidations/BTCUSDT?start={stored.past_ms - DAY}&end={stored.now_ms}&limit=1"
    assert keyed.get(url).get_json()["next_cursor"]
    assert not (Path(history_service.settings.data_dir) / FILE_NAME).exists()
