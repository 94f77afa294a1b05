"""Venue facts as data (Freqtrade's ``_ft_has``): the ccxt class, constructor options, and
what each venue can do. Nothing else in the plugin says ``if exchange == …``.

``stop_orders`` maps NIJA's stop order types to how ccxt places them on the venue: the ccxt
order type, the params key carrying the trigger price, and for ``stop_loss`` on venues without
a stop-market order the offset of the protective limit price. A venue without it (or with
``venue_stops`` False) does not take stop orders through this broker yet."""

from __future__ import annotations

VENUES: dict[str, dict] = {
    "binance": {
        "ccxt_class": "binance",
        # Only GET /api/v3/exchangeInfo on load_markets (no margin, futures or currencies calls).
        "options": {"fetchCurrencies": False, "fetchMarkets": {"types": ["spot"]}, "fetchMargins": False,
                    "defaultType": "spot", "warnOnFetchOpenOrdersWithoutSymbol": False},
        "order_types": ["market", "limit", "stop_loss", "stop_limit"],
        "post_only": True,
        # Stops rest on the venue. Binance spot has no stop-market on every symbol, so a NIJA
        # stop_loss is a STOP_LOSS_LIMIT whose limit sits limit_offset_bps beyond the stop
        # (room to fill in a fast market); a stop_limit carries its own limit price. ccxt
        # sends STOP_LOSS_LIMIT for type "limit" with params {"stopPrice": …} on spot.
        "venue_stops": True,
        "stop_orders": {
            "stop_loss": {"ccxt_type": "limit", "param": "stopPrice", "limit_offset_bps": 50},
            "stop_limit": {"ccxt_type": "limit", "param": "stopPrice"},
        },
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
