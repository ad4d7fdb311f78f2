"""A simulated Binance USDⓈ-M market behind the fake server (issue 3); see docs/simulator.md.

`market.MarketSimulation` is the pure market (one `step()` = one second, injected rng, no
threads or sockets); `runner.MarketRunner` drives it in real time against a `FakeBinance`;
`market_sim.demo` wires both for `python -m market_sim.demo` and the product's demo mode.
"""
