"""``python app.py levels`` on small CSV files: the JSON on stdout, one-line errors."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from datetime import UTC, datetime

import pytest
from helpers import ROOT
from levels.support import T0, random_market

import app


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Two days of 5-minute candles (ISO times) and open interest (epoch ms, USD)."""
    folder = tmp_path_factory.mktemp("levels_cli")
    bars, readings = random_market(11, 576)
    candles, oi = folder / "candles.csv", folder / "oi.csv"
    with candles.open("w", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(["open_time", "open", "high", "low", "close", "volume", "taker_buy_volume"])
        for i in range(len(bars)):
            when = datetime.fromtimestamp(bars.open_ms[i] / 1000, UTC).isoformat()
            out.writerow(
                [
                    when,
                    bars.open[i],
                    bars.high[i],
                    bars.low[i],
                    bars.close[i],
                    bars.volume[i],
                    bars.taker_buy_volume[i],
                ]
            )
    with oi.open("w", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(["time", "open_interest_usd"])
        prices = bars.price_at(readings.time_ms)
        for t, contracts, price in zip(readings.time_ms, readings.contracts, prices, strict=True):
            out.writerow([int(t), contracts * price])
    return folder, candles, oi


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "app.py", "levels", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_cli_prints_the_contract_json(files):
    _, candles, oi = files
    done = run_cli(
        "--candles",
        str(candles),
        "--open-interest",
        str(oi),
        "--range",
        "24h",
        "--preset",
        "high",
        "--symbol",
        "btcusdt",
    )
    assert done.returncode == 0, done.stderr
    body = json.loads(done.stdout)
    assert body["symbol"] == "BTCUSDT" and body["range"] == "24h"
    assert [t["label"] for t in body["assumptions"]["tiers"]] == ["25x", "50x", "100x"]
    assert body["assumptions"]["data_used"]["candle_interval"] == "5m"
    assert len(body["predicted_liquidations"]) == 288
    assert body["at_ms"] == T0 + 576 * 300_000
    assert body["profile"]["buckets"] and body["liquidation_leverage_data"]


def test_a_bad_file_is_one_line_on_stderr_and_a_non_zero_exit(files):
    folder, _, oi = files
    bad = folder / "bad.csv"
    bad.write_text("open_time,open,high,low\n2026-01-01,1,1,1\n")
    done = run_cli("--candles", str(bad), "--open-interest", str(oi))
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.strip().count("\n") == 0
    assert "missing column(s) close" in done.stderr


@pytest.mark.parametrize(
    ("candles_text", "message"),
    [
        (
            "open_time,open,high,low,close\n2026-01-01,1,2,1,x\n2026-01-01T00:05,1,2,1,1\n",
            "line 2: close 'x' is not a number",
        ),
        (
            "open_time,open,high,low,close\n1767225600,1,2,1,1\n1767225900,1,2,1,1\n",
            "epoch seconds",
        ),
        ("open_time,open,high,low,close\nyesterday,1,2,1,1\n", "not ISO 8601"),
        ("open_time,open,high,low,close\n2026-01-01,1,2,1,1\n", "at least two candles"),
        (
            "open_time,open,high,low,close\n2026-01-01,1,2,1,1\n2026-01-01T00:00:07,1,2,1,1\n",
            "bar interval must be",
        ),
        (
            "open_time,open,high,low,close\n2026-01-01,1,2,1,3\n2026-01-01T00:05,1,2,1,1\n",
            "high/low do not contain",
        ),
    ],
)
def test_bad_candles_say_what_and_where(files, capsys, candles_text, message):
    folder, _, oi = files
    path = folder / "case.csv"
    path.write_text(candles_text)
    assert app.main(["levels", "--candles", str(path), "--open-interest", str(oi)]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_other_bad_inputs(files, capsys, monkeypatch):
    folder, candles, oi = files
    cases = [
        (["--candles", str(folder / "nope.csv"), "--open-interest", str(oi)], "cannot read"),
        (["--candles", str(candles), "--open-interest", str(candles)], "open_interest_usd"),
        (["--candles", str(candles), "--open-interest", str(oi), "--at", "soon"], "--at"),
        (
            ["--candles", str(candles), "--open-interest", str(oi), "--at", "2001-01-01"],
            "no candle",
        ),
    ]
    for args, message in cases:
        assert app.main(["levels", *args]) == 2
        assert message in capsys.readouterr().err
    monkeypatch.setenv("HEATMAP_LEVELS_TIERS", "lots")
    assert app.main(["levels", "--candles", str(candles), "--open-interest", str(oi)]) == 2
    assert "HEATMAP_LEVELS_TIERS" in capsys.readouterr().err
