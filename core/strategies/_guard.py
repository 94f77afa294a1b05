"""The one wrapper every call into strategy code goes through.

An exception in plugin code becomes a :class:`~nija.core.errors.StrategyError` raised ``from``
the original, with the plugin's name logged; the strategy is disabled for the bot that ran
it and an error event is published. The caller (scanner, engine, backtester) catches
``StrategyError`` per bot, so one broken plugin never takes the process down.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Callable

from nija.core.errors import StrategyError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StrategyDisabled:
    """Error event: ``strategy`` was disabled for ``bot_id`` because of ``message``."""

    bot_id: str
    strategy: str
    method: str
    message: str


class StrategyGuard:
    """Calls into strategies, disables the ones that raise.

    Parameters
    ----------
    on_disabled : callable, optional
        Receives a :class:`StrategyDisabled` event (the engine publishes it on the bus).
    """

    def __init__(self, on_disabled: Callable[[StrategyDisabled], None] | None = None) -> None:
        self._on_disabled = on_disabled
        self._disabled: dict[tuple[str, str], StrategyDisabled] = {}

    def is_disabled(self, bot_id: str, strategy_name: str) -> bool:
        return (bot_id, strategy_name) in self._disabled

    def disabled(self) -> list[StrategyDisabled]:
        return list(self._disabled.values())

    def enable(self, bot_id: str, strategy_name: str) -> None:
        """Re-enable after the user changed something (a new plugin version, new parameters)."""
        self._disabled.pop((bot_id, strategy_name), None)

    def call(self, bot_id: str, strategy: Any, method: str, *args: Any, **kwargs: Any) -> Any:
        """Run ``strategy.<method>(*args, **kwargs)``.

        Raises
        ------
        StrategyError
            When the strategy is disabled for ``bot_id`` or the call raised (then it is
            disabled from now on and ``on_disabled`` is told).
        """
        name = getattr(strategy, "name", type(strategy).__name__)
        if (bot_id, name) in self._disabled:
            raise StrategyError(f"strategy {name} is disabled for bot {bot_id}: "
                                f"{self._disabled[(bot_id, name)].message}", strategy=name)
        try:
            return getattr(strategy, method)(*args, **kwargs)
        except Exception as exc:
            message = f"{type(exc).__name__}: {exc}"
            log.error("strategy plugin %s raised in %s for bot %s; disabled: %s", name, method, bot_id, message,
                      exc_info=exc)
            event = StrategyDisabled(bot_id, name, method, message)
            self._disabled[(bot_id, name)] = event
            if self._on_disabled is not None:
                try:
                    self._on_disabled(event)
                except Exception:  # the event sink failing must not hide the strategy's error
                    log.exception("could not publish the disabled event of strategy %s", name)
            raise StrategyError(f"strategy {name} failed in {method}: {message}", strategy=name) from exc
