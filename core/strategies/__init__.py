"""Strategies: the plugin contract, the safe-call wrapper and the market scanner.

Plugin authors import from here only::

    from nija.core.strategies import Parameter, Strategy, StrategyContext
    from nija.core.plugins import hookimpl

    class MyStrategy(Strategy):
        name = "mine"
        parameters = {"period": Parameter("int", 14, minimum=2, maximum=200)}
        def indicators(self):
            return {"rsi": ("rsi", {"timeperiod": self.params["period"]})}
        def evaluate(self, ctx):
            rsi = ctx.indicator("rsi")
            ctx.emit(entry=rsi < 30, exit=rsi > 70)

    @hookimpl
    def register_strategies():
        return [MyStrategy]

See ``docs/plugins.md``.
"""

from nija.core.errors import StrategyError
from nija.core.strategies._base import (
    PositionView,
    Signal,
    SignalAction,
    SignalFrame,
    Strategy,
    StrategyContext,
)
from nija.core.strategies._compute import compute_indicators
from nija.core.strategies._guard import StrategyDisabled, StrategyGuard
from nija.core.strategies._params import Parameter, describe_parameters
from nija.core.strategies._scanner import Scanner

__all__ = [
    "Parameter",
    "PositionView",
    "Scanner",
    "Signal",
    "SignalAction",
    "SignalFrame",
    "Strategy",
    "StrategyContext",
    "StrategyDisabled",
    "StrategyError",
    "StrategyGuard",
    "compute_indicators",
    "describe_parameters",
]
