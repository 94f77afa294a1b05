"""Venue facts as data (Freqtrade's ``_ft_has``): the ccxt class, constructor options, and
what each venue can do. Nothing else in the plugin says ``if exchange == …``."""

from __future__ import annotations

VENUES: dict[str, dict] = {
    "binance": {
        "ccxt_class": "binance",
        # Only GET /api/v3/exchangeInfo on load_markets (no margin, futures or currencies calls).
        "options": {"fetchCurrencies": False, "fetchMarkets": {"types": ["spot"]}, "fetchMargins": False,
                    "defaultType": "spot", "warnOnFetchOpenOrdersWithoutSymbol": False},
        "order_types": ["market", "limit"],
        "post_only": True,
        "venue_stops": False,
        # The venue reports key permissions: GET /sapi/v1/account/apiRestrictions.
        "permissions": "binance_api_restrictions",
        "rate_limit_per_s": 20,
    },
    "coinbase": {
        "ccxt_class": "coinbase",  # Advanced Trade
        "options": {"fetchCurrencies": False},
        "order_types": ["market", "limit"],
        "post_only": True,
        "venue_stops": False,
        "permissions": None,
        "rate_limit_per_s": 10,
    },
    "kraken": {
        "ccxt_class": "kraken",
        "options": {},
        "order_types": ["market", "limit"],
        "post_only": True,
        "venue_stops": False,
        "permissions": None,
        "rate_limit_per_s": 1,
    },
    "okx": {
        "ccxt_class": "okx",
        "options": {"fetchMarkets": {"types": ["spot"]}},
        "order_types": ["market", "limit"],
        "post_only": True,
        "venue_stops": False,
        "permissions": None,
        "rate_limit_per_s": 10,
    },
    "alpaca": {
        "ccxt_class": "alpaca",
        "options": {},
        "order_types": ["market", "limit"],
        "post_only": False,
        "venue_stops": False,
        "permissions": None,
        "rate_limit_per_s": 3,
    },
}
