"""Start-up reconciliation of one account against its venue.

Order of work (bots resume only when every step succeeded):

1. ``in_process`` venues (paper) get their resting orders back from our records;
2. every order we left ``new``/``submitted`` (crash around the send) is settled by fetching it
   by client order id — adopted when the venue has it, expired when it never arrived;
3. every order we think is open is refreshed from the venue (fills it missed are booked);
4. the venue's open orders are compared with ours: one carrying our client-id prefix that we do
   not know is *flagged* (reported and logged, never silently adopted into a bot's book);
5. fills since the oldest order still in play are replayed (idempotent by venue fill id).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from nija.core.errors import FailedPrecondition
from nija.core.plugins.broker import BrokerError, BrokerOrderNotFound, VenueOrder
from nija.core.trading._model import OrderState
from nija.core.trading._orders import Account, OrderManager

log = logging.getLogger(__name__)

LOOKBACK_MS = 24 * 3600 * 1000


@dataclass
class ReconcileReport:
    account_key: str
    settled: list[str] = field(default_factory=list)  # client order ids moved out of submitted
    refreshed: int = 0
    unknown_venue_orders: list[str] = field(default_factory=list)
    fills_replayed: int = 0


class Reconciler:
    def __init__(self, orders: OrderManager) -> None:
        self.orders = orders

    async def reconcile(self, account: Account) -> ReconcileReport:
        """Raises :class:`FailedPrecondition` naming the step that failed."""
        report = ReconcileReport(account.key)
        mine = await self.orders.open_orders(account_key=account.key)
        try:
            if account.broker.capabilities.get("in_process"):
                await account.broker.restore_open_orders(
                    [_venue_view(o, await self.orders.fills_of(o)) for o in mine if OrderState(o["state"]).open])
            for order in mine:
                if order["state"] in (OrderState.NEW.value, OrderState.SUBMITTED.value):
                    settled = await self.orders.resolve(order, account)
                    report.settled.append(f"{order['client_order_id']}→{settled['state']}")
            for order in mine:
                if OrderState(order["state"]).open:
                    try:
                        venue = await account.broker.fetch_order(order["symbol"], order_id=order["venue_order_id"],
                                                                 client_order_id=order["client_order_id"])
                    except BrokerOrderNotFound:
                        await self.orders._settle_rejected(order, "the venue no longer knows this order",
                                                           OrderState.EXPIRED)
                        continue
                    await self.orders.apply(order, account, venue)
                    report.refreshed += 1
            known = {o["client_order_id"] for o in await self.orders.open_orders(account_key=account.key)}
            for venue in await account.broker.fetch_open_orders():
                cid = venue.client_order_id or ""
                if cid not in known and await self.orders.get(cid) is None:
                    report.unknown_venue_orders.append(cid or venue.order_id)
                    log.warning("account %s: open order %s on the venue is not NIJA's record; flagged",
                                account.key, cid or venue.order_id)
            symbols = sorted({o["symbol"] for o in mine})
            since = min((o["created_at"] for o in mine), default=self.orders.clock.now_ms() - LOOKBACK_MS) - 60_000
            for symbol in symbols:
                report.fills_replayed += await self.orders.ingest_fills(account, await account.broker.fetch_fills(symbol, since))
        except BrokerError as exc:
            raise FailedPrecondition(f"reconciliation of {account.key.split(':')[0]} account failed: {exc.message}") from exc
        except FailedPrecondition:
            raise
        except Exception as exc:  # noqa: BLE001 - Unavailable and anything else: do not start
            raise FailedPrecondition(f"reconciliation failed: {exc}") from exc
        log.info("reconciled %s: settled %d, refreshed %d, flagged %d, replayed %d fills", account.key,
                 len(report.settled), report.refreshed, len(report.unknown_venue_orders), report.fills_replayed)
        return report


def _venue_view(order: dict, fills=()) -> VenueOrder:
    # timestamp 0: the restored order is offered the next candle the feed releases.
    return VenueOrder(order_id=order["venue_order_id"] or "", client_order_id=order["client_order_id"],
                      symbol=order["symbol"], side=order["side"], type=order["type"], amount=order["amount"],
                      status="open", filled=order["filled"], price=order["price"] or order["stop_price"],
                      timestamp=0, fills=tuple(fills))
