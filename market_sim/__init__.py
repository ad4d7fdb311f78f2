"""Simulated exchanges for tests and the demo.

`market_sim.fake_binance.FakeBinance` is a loopback Binance USDⓈ-M server (REST + market
streams) that speaks the exchange's wire format; nothing here starts a thread or a socket at
import.
"""
