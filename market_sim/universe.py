"""The fake USDⓈ-M symbol universe and the `exchangeInfo` entries built from it.

Models Binance `GET /fapi/v1/exchangeInfo` (protocol reference §1.9): 400 tradeable
`PERPETUAL`/`TRADING` USDT contracts plus the entries a client's universe filter must skip
(`TRADIFI_PERPETUAL` equities/commodities such as `CATUSDT` = Caterpillar, a quarterly delivery
contract, perpetuals in `SETTLING`/`CLOSE` status and USDC-quoted perpetuals).

Tick and step sizes are derived from the price magnitude (about six significant digits for
prices); they are plausible, not copies of the live filters.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from decimal import Decimal

PERPETUAL_DELIVERY_MS = 4133404800000  # year 2100: Binance's deliveryDate for perpetuals
UNIVERSE_SIZE = 400

_NAMED_PRICES: dict[str, str] = {
    "BTCUSDT": "90000", "ETHUSDT": "3000", "BNBUSDT": "600", "SOLUSDT": "150",
    "XRPUSDT": "2.2", "DOGEUSDT": "0.18", "ADAUSDT": "0.7", "AVAXUSDT": "25",
    "LINKUSDT": "15", "DOTUSDT": "5", "LTCUSDT": "90", "TRXUSDT": "0.25", "SUIUSDT": "3.5",
    "NEARUSDT": "3", "APTUSDT": "6", "ARBUSDT": "0.5", "OPUSDT": "1.2", "TONUSDT": "3",
    "1000SHIBUSDT": "0.015", "1000PEPEUSDT": "0.01", "1000BONKUSDT": "0.02",
    "1000FLOKIUSDT": "0.1", "1000000MOGUSDT": "0.5", "1000CATUSDT": "0.008",
    "WIFUSDT": "1.0", "1000SATSUSDT": "0.0002", "1MBABYDOGEUSDT": "0.0015", "BOMEUSDT": "0.002",
}  # fmt: skip

NAMED_SYMBOLS: tuple[str, ...] = tuple(_NAMED_PRICES)  # the seed's 28, in the README's order

_EXTRA_PRICES: dict[str, str] = {
    "CATUSDT": "380", "TSLAUSDT": "250", "XAUUSDT": "3400", "AAPLUSDT": "230",
    "BTCUSDT_261225": "91500", "ETHUSDT_261225": "3050", "FTTUSDT": "1.1", "SRMUSDT": "0.03",
    "ETHUSDC": "3000", "BTCUSDC": "90000",
}  # fmt: skip


# Real USDⓈ-M perpetual names (prices generated); the rest of the 400 are ALTnnnUSDT fillers.
_REAL_BASES_TEXT = """
BCH ETC XLM ATOM UNI FIL AAVE ICP HBAR VET ALGO INJ SEI TIA RENDER FET STX IMX MKR LDO CRV SAND
MANA AXS GALA APE DYDX GMX ENS JUP PYTH WLD ORDI ENA ETHFI PENDLE ONDO JTO STRK ZK NOT PEOPLE TAO
KAS RUNE THETA EGLD FLOW CHZ EOS XTZ NEO IOTA ZEC DASH COMP SNX 1INCH SUSHI YFI KAVA ROSE ZIL ENJ
GRT BLUR MINA AR QNT GMT MASK CFX AGLD HOOK MAGIC TRB WOO JASMY CELO ONE ANKR SKL LRC BAT ZRX
STORJ RVN ICX ONT QTUM IOST CKB ACH SSV RDNT ARKM CYBER MEME BIGTIME POLYX TRU MAV ID EDU LPT
API3 BAND KSM AXL ALT MANTA DYM PIXEL PORTAL AEVO W SAGA OMNI REZ BB IO ZRO LISTA POPCAT NEIRO
EIGEN HMSTR GOAT MOODENG PNUT ACT VIRTUAL PENGU TRUMP HYPE S MOVE ME 1000RATS 1000LUNC 1000XEC
1000CHEEMS 1000000BOB 1000BTTC 1000WHY 1000X
"""


@dataclass(frozen=True)
class ContractSpec:
    """One `exchangeInfo.symbols[]` entry, reduced to the fields that vary between contracts."""

    symbol: str
    base_asset: str
    quote_asset: str = "USDT"
    contract_type: str = "PERPETUAL"
    status: str = "TRADING"
    underlying_type: str = "COIN"
    pair: str = ""
    delivery_date_ms: int = PERPETUAL_DELIVERY_MS
    mark_price: str = "1"

    @property
    def is_perpetual_usdt(self) -> bool:
        """True for what a crypto-perp client should keep (§1.9 universe filter)."""
        return (
            self.contract_type == "PERPETUAL"
            and self.status == "TRADING"
            and self.quote_asset == "USDT"
        )

    @property
    def tick(self) -> Decimal:
        """PRICE_FILTER.tickSize, fixed from the default mark price."""
        return tick_size(Decimal(self.mark_price))

    @property
    def step(self) -> Decimal:
        """LOT_SIZE.stepSize, fixed from the default mark price."""
        return step_size(Decimal(self.mark_price))

    @property
    def has_funding(self) -> bool:
        """Delivery contracts have no funding: `lastFundingRate` "" and `nextFundingTime` 0."""
        return "PERPETUAL" in self.contract_type


def unit_hash(text: str) -> float:
    """A deterministic number in [0, 1) derived from `text` (stable across processes)."""
    digest = hashlib.sha256(text.encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def tick_size(price: Decimal) -> Decimal:
    """PRICE_FILTER.tickSize: about six significant digits, between 1e-8 and 0.1."""
    exponent = min(-1, max(-8, price.adjusted() - 5))
    return Decimal(1).scaleb(exponent)


def step_size(price: Decimal) -> Decimal:
    """LOT_SIZE.stepSize: 0.001 for BTC-priced contracts up to 1 for cheap ones."""
    exponent = min(0, max(-3, 1 - price.adjusted()))
    return Decimal(1).scaleb(exponent)


def format_price(value: Decimal | float | str, tick: Decimal) -> str:
    """Round a price to `tick` and render it the way Binance does (fixed point string)."""
    return str(Decimal(str(value)).quantize(tick))


def _generated_price(symbol: str) -> str:
    """A plausible log-uniform price between 0.01 and 50, fixed per symbol name."""
    raw = Decimal(str(round(10 ** (-2 + 3.7 * unit_hash(symbol)), 10)))
    return format_price(raw, tick_size(raw))


def _filler_names(count: int) -> list[str]:
    return [f"ALT{index:03d}USDT" for index in range(1, count + 1)]  # ALT001USDT ...


def default_universe(size: int = UNIVERSE_SIZE) -> list[str]:
    """`size` (default 400) tradeable USDT perpetuals: 28 well-known ones first, then other
    real names, then ALTnnnUSDT fillers (Binance lists about 570 in 2026, §1.9)."""
    names = list(_NAMED_PRICES)
    real = [f"{base}USDT" for base in _REAL_BASES_TEXT.split()]
    names += [name for name in real if name not in _NAMED_PRICES]
    return (names + _filler_names(max(0, size - len(names))))[:size]


def default_mark_price(symbol: str) -> str:
    """The default mark price of one symbol (named ones fixed, others generated per name)."""
    named = _NAMED_PRICES.get(symbol) or _EXTRA_PRICES.get(symbol)
    if named is None:
        return _generated_price(symbol)
    price = Decimal(named)
    return format_price(price, tick_size(price))


def default_mark_prices() -> dict[str, str]:
    """Symbol -> mark price string for `default_universe()` (BTC ~ 90000, 1000PEPE ~ 0.01)."""
    return {symbol: default_mark_price(symbol) for symbol in default_universe()}


def _extra_contracts() -> list[ContractSpec]:
    """Listed contracts a crypto-USDT-perp client must filter out (§1.9 notes)."""
    tradfi = [("CATUSDT", "CAT", "EQUITY"), ("TSLAUSDT", "TSLA", "EQUITY")]
    tradfi += [("AAPLUSDT", "AAPL", "EQUITY"), ("XAUUSDT", "XAU", "COMMODITY")]
    specs = [
        ContractSpec(sym, base, contract_type="TRADIFI_PERPETUAL", underlying_type=kind)
        for sym, base, kind in tradfi
    ]
    specs += [
        ContractSpec(
            "BTCUSDT_261225", "BTC", contract_type="CURRENT_QUARTER", pair="BTCUSDT",
            delivery_date_ms=1798185600000,
        ),
        ContractSpec(
            "ETHUSDT_261225", "ETH", contract_type="CURRENT_QUARTER", pair="ETHUSDT",
            delivery_date_ms=1798185600000,
        ),
        ContractSpec("FTTUSDT", "FTT", status="SETTLING"),
        ContractSpec("SRMUSDT", "SRM", status="CLOSE"),
        ContractSpec("ETHUSDC", "ETH", quote_asset="USDC"),
        ContractSpec("BTCUSDC", "BTC", quote_asset="USDC"),
    ]  # fmt: skip
    return specs


def _base_asset(symbol: str) -> str:
    for quote in ("USDT", "USDC"):
        if symbol.endswith(quote) and len(symbol) > len(quote):
            return symbol[: -len(quote)]
    return symbol


def build_contracts(symbols: list[str] | None) -> list[ContractSpec]:
    """Tradeable perps for `symbols` (None -> the default 400) followed by the extra entries."""
    names = default_universe() if symbols is None else list(dict.fromkeys(symbols))
    specs = [ContractSpec(name, _base_asset(name)) for name in names]
    specs += [spec for spec in _extra_contracts() if spec.symbol not in set(names)]
    return [replace(spec, mark_price=default_mark_price(spec.symbol)) for spec in specs]


def _filters(spec: ContractSpec) -> list[dict[str, object]]:
    tick, step = spec.tick, spec.step
    price = Decimal(spec.mark_price)
    notional = {"BTC": "100", "ETH": "20"}.get(spec.base_asset, "5")
    return [
        {"filterType": "PRICE_FILTER", "maxPrice": format_price(price * 1000, tick),
         "minPrice": str(tick), "tickSize": str(tick)},
        {"filterType": "LOT_SIZE", "maxQty": "10000000", "minQty": str(step),
         "stepSize": str(step)},
        {"filterType": "MARKET_LOT_SIZE", "maxQty": "1000000", "minQty": str(step),
         "stepSize": str(step)},
        {"filterType": "MAX_NUM_ORDERS", "limit": 200},
        {"filterType": "MAX_NUM_ALGO_ORDERS", "limit": 10},
        {"filterType": "MIN_NOTIONAL", "notional": notional},
        {"filterType": "PERCENT_PRICE", "multiplierUp": "1.0500", "multiplierDown": "0.9500",
         "multiplierDecimal": "4"},
    ]  # fmt: skip


def symbol_entry(spec: ContractSpec, onboard_index: int) -> dict[str, object]:
    """The full `exchangeInfo.symbols[]` object for one contract (§1.9 key names)."""
    tick, step = spec.tick, spec.step
    return {
        "symbol": spec.symbol, "pair": spec.pair or spec.symbol,
        "contractType": spec.contract_type, "deliveryDate": spec.delivery_date_ms,
        "onboardDate": 1569398400000 + onboard_index * 86_400_000, "status": spec.status,
        "maintMarginPercent": "2.5000", "requiredMarginPercent": "5.0000",
        "baseAsset": spec.base_asset, "quoteAsset": spec.quote_asset,
        "marginAsset": spec.quote_asset, "pricePrecision": max(0, -tick.adjusted()),
        "quantityPrecision": max(0, -step.adjusted()), "baseAssetPrecision": 8,
        "quotePrecision": 8, "underlyingType": spec.underlying_type, "underlyingSubType": [],
        "settlePlan": 0, "triggerProtect": "0.0500", "filters": _filters(spec),
        "orderTypes": ["LIMIT", "MARKET", "STOP", "STOP_MARKET", "TAKE_PROFIT",
                       "TAKE_PROFIT_MARKET", "TRAILING_STOP_MARKET"],
        "timeInForce": ["GTC", "IOC", "FOK", "GTX"], "liquidationFee": "0.012500",
        "marketTakeBound": "0.05",
    }  # fmt: skip
