"""Pointing a venue's REST API at another host — a testnet, or the venue simulator in tests.

Shared by the exchange broker plugins and core's live market-data feed, so one setting moves
both: ``NIJA_CCXT_BASE_URLS='{"binance": "http://127.0.0.1:8123"}'``.
"""

from __future__ import annotations

import json
import logging
import os
from typing import Any
from urllib.parse import urlsplit

log = logging.getLogger(__name__)

ENV = "NIJA_CCXT_BASE_URLS"


def venue_base_url(exchange: str) -> str | None:
    """The base URL ``NIJA_CCXT_BASE_URLS`` names for ``exchange`` (lower case), if any."""
    raw = os.environ.get(ENV, "").strip()
    if not raw:
        return None
    try:
        return {str(k).lower(): str(v) for k, v in json.loads(raw).items()}.get(exchange.lower())
    except (ValueError, AttributeError):
        log.error("%s is not a JSON object; ignored", ENV)
        return None


def rebase_urls(urls: Any, base: str) -> Any:
    """Every URL in a (nested) mapping such as ccxt's ``urls["api"]``, with scheme and host
    replaced by ``base``; paths and queries are kept, anything else is returned unchanged."""
    if isinstance(urls, dict):
        return {k: rebase_urls(v, base) for k, v in urls.items()}
    if isinstance(urls, str) and urls.startswith("http"):
        parts = urlsplit(urls)
        return base.rstrip("/") + parts.path + (f"?{parts.query}" if parts.query else "")
    return urls
