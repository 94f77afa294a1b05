"""Hook specifications, one per plugin kind (pytest style).

Each hook says what it is for, its parameters, what it returns, and whether it is
``firstresult``. Interfaces evolve by adding hooks, never by changing these signatures.
"""

from __future__ import annotations

import pluggy

hookspec = pluggy.HookspecMarker("nija")


@hookspec
def register_brokers() -> list[type]:
    """Contribute broker classes.

    Called once when the plugin manager loads. Collects every plugin's result (not
    ``firstresult``).

    Returns
    -------
    list of type
        Subclasses of :class:`nija.core.plugins.Broker`; each class's ``name`` must be unique.
    """


@hookspec
def register_strategies() -> list[type]:
    """Contribute strategy classes.

    Called once when the plugin manager loads. Collects every plugin's result (not
    ``firstresult``). The manager lists them (``nija plugins``, ``GET /api/v1/plugins``); the
    scanner, the engine and the backtester instantiate them with the user's parameters.

    Returns
    -------
    list of type
        Subclasses of :class:`nija.core.strategies.Strategy`; each class's ``name`` must be
        unique and should equal the entry-point name (so ``NIJA_LOAD_PLUGINS`` can name it).
    """
