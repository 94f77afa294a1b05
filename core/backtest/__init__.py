"""The backtester: the live strategy code over recorded candles, with the shared fill model
and Decimal accounting.

Python API::

    from nija.core.backtest import load_csv, run_backtest
    result = run_backtest("apex", [load_csv("ETH_BTC-5m.csv")], params={"oversold": 25})
    print(result.summary())
    result.write("out/")          # result.json + report.html

Command line: ``nija backtest --strategy apex --data PATH [--data PATH…] [--param k=v…] [--out DIR]``.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from nija.core.backtest._data import MarketData, from_arrays, load_csv, symbol_from_path, tile
from nija.core.backtest._engine import Backtester, BacktestConfig, Trade
from nija.core.backtest._lookahead import LookAheadError, check_lookahead
from nija.core.backtest._result import BacktestResult
from nija.core.errors import InvalidArgument
from nija.core.strategies import SignalFrame, Strategy, StrategyContext, compute_indicators


def find_strategy(name: str, plugins=None) -> type[Strategy]:
    """The strategy class registered under ``name`` (through the plugin manager)."""
    from nija.core.plugins import PluginManager

    pm = plugins or PluginManager().load_entry_points()
    found = {p.name: p.cls for p in pm.strategies()}
    if name not in found:
        raise InvalidArgument(f"unknown strategy {name!r}; installed: {', '.join(sorted(found)) or 'none'}",
                              field="strategy")
    return found[name]


def signals_for(strategy: Strategy, market: MarketData) -> SignalFrame:
    """Every decision ``strategy`` makes on ``market`` (shape ``(1, candles)``): what the
    backtester trades on, for plugin authors' tests. Not checked for look-ahead; use
    :func:`run_backtest` for that."""
    candles = market.candles_2d()
    ctx = StrategyContext((market.symbol,), market.ts, candles, compute_indicators(strategy.indicators(), candles))
    strategy.evaluate(ctx)
    return ctx.frame()


def run_backtest(strategy: str | Strategy | type[Strategy], markets: Sequence[MarketData],
                 params: Mapping[str, Any] | None = None, config: BacktestConfig | None = None,
                 plugins=None) -> BacktestResult:
    """Backtest ``strategy`` (a registered name, a class or a configured instance).

    Raises
    ------
    InvalidArgument
        Unknown strategy or parameter, bad data.
    StrategyError
        The strategy raised or looked ahead (:class:`LookAheadError`).
    """
    if isinstance(strategy, str):
        strategy = find_strategy(strategy, plugins)
    if isinstance(strategy, type):
        strategy = strategy(**dict(params or {}))
    elif params:
        raise InvalidArgument("pass params with a strategy name or class, not a configured instance", field="params")
    return Backtester(strategy, markets, config).run()


__all__ = [
    "BacktestConfig",
    "BacktestResult",
    "Backtester",
    "LookAheadError",
    "MarketData",
    "Trade",
    "check_lookahead",
    "find_strategy",
    "from_arrays",
    "load_csv",
    "run_backtest",
    "signals_for",
    "symbol_from_path",
    "tile",
]
