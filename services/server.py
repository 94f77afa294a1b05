"""The gRPC server factory and the shared dependencies of every service."""

from __future__ import annotations

import asyncio
import logging
import os
from dataclasses import dataclass, field
from typing import Callable

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from nija.accounts.v1 import accounts_pb2, accounts_pb2_grpc
from nija.admin.v1 import admin_pb2, admin_pb2_grpc
from nija.billing.v1 import billing_pb2, billing_pb2_grpc
from nija.core.accounts import AccountService
from nija.core.billing import Billing, BillingConfig
from nija.core.config import Config
from nija.core.db import Database
from nija.core.entitlements import Entitlements, StaticEntitlements
from nija.core.events import EventBus, NatsEventBus
from nija.core.plugins import PluginManager
from nija.core.risk import RiskEngine
from nija.core.security import KeyStore, TokenIssuer
from nija.market.v1 import market_pb2, market_pb2_grpc
from nija.platform.v1 import platform_pb2, platform_pb2_grpc
from nija.risk.v1 import risk_pb2, risk_pb2_grpc
from nija.services.accounts import AccountsServicer
from nija.services.admin import AdminServicer
from nija.services.billing import BillingServicer, event_publisher
from nija.services.interceptor import ServiceInterceptor
from nija.services.platform import PlatformServicer
from nija.services.risk import RiskServicer
from nija.services.unimplemented import unimplemented_servicer
from nija.trading.v1 import trading_pb2, trading_pb2_grpc

log = logging.getLogger(__name__)


@dataclass
class Platform:
    """Everything a service needs, built once per process."""

    config: Config
    db: Database
    keys: KeyStore
    tokens: TokenIssuer
    accounts: AccountService
    plugins: PluginManager
    bus: EventBus | None = None
    entitlements: Entitlements = field(default_factory=StaticEntitlements)
    billing: Billing | None = None
    #: Pre-trade risk and the global kill switch (made from ``db`` when not given).
    risk: RiskEngine | None = None
    #: name → servicer instance, filled by create_server.
    served: dict[str, object] = field(default_factory=dict)
    #: The trading engine of this process (``nija.services.trading.Trading``), built when the
    #: trading service is served.
    trading: object | None = None

    def __post_init__(self) -> None:
        if self.risk is None:
            # Entitlements are looked up on the platform at every check, so the billing
            # implementation installed after construction is the one risk asks.
            self.risk = RiskEngine(self.db, entitlements=lambda: self.entitlements)

    @classmethod
    def build(cls, config: Config) -> "Platform":
        db = Database(config.database_url)
        keys = KeyStore(config.keys_dir).load()
        tokens = TokenIssuer(keys, issuer=config.jwt_issuer, audience=config.jwt_audience, ttl_s=config.access_token_ttl_s)
        platform = cls(
            config=config,
            db=db,
            keys=keys,
            tokens=tokens,
            accounts=AccountService(db, tokens, config),
            plugins=PluginManager().load_entry_points(),
        )
        # Billing is the real Entitlements: risk, trading and the edge's rate limit read plans here.
        platform.billing = Billing(db, BillingConfig.from_env(), publish=event_publisher(lambda: platform.bus))
        platform.entitlements = platform.billing
        return platform

    async def connect_bus(self) -> None:
        if self.config.nats_url:
            self.bus = await NatsEventBus(self.config.nats_url).connect()
        # Every process obeys the global kill switch: the persisted state, then nija.control.killswitch.
        await self.risk.kill_switch.start(self.config.nats_url)

    async def check_health(self) -> dict[str, str]:
        components: dict[str, str] = {}
        try:
            await asyncio.wait_for(self.db.ping(), 3)
            components["database"] = "ok"
        except Exception as exc:  # noqa: BLE001 - any failure means "not ready"
            components["database"] = f"unavailable ({type(exc).__name__})"
        if self.bus is None:
            components["nats"] = "not configured" if not self.config.nats_url else "connecting"
        else:
            try:
                await asyncio.wait_for(self.bus.ping(), 3)
                components["nats"] = "ok"
            except Exception as exc:  # noqa: BLE001
                components["nats"] = f"unavailable ({type(exc).__name__})"
        components["services"] = "ok"
        return components

    def ensure_trading(self):
        """The trading engine of this process, built on first use (servicer and start-up share it)."""
        if self.trading is None:
            from nija.services.trading import build_trading

            self.trading = build_trading(self)
        return self.trading

    async def start_trading(self) -> None:
        """Reconcile every account with running bots, resume them, start the tick loop."""
        self.ensure_trading()
        if self.risk is not None:
            # A global kill switch stops this process's bots and cancels their orders (and
            # flattens when asked) as soon as this process learns of it (NATS or refresh).
            self.risk.kill_switch.on_change(self.trading.engine.on_global_kill_switch)
        await self.trading.engine.resume()
        if os.environ.get("NIJA_DEMO") == "1":
            from nija.services.trading import ensure_demo

            await ensure_demo(self)
        self.trading.engine.start()

    async def close(self) -> None:
        if self.trading is not None:
            await self.trading.engine.close()
        if self.risk is not None:
            await self.risk.kill_switch.stop()
        if self.bus is not None:
            await self.bus.close()
        await self.db.close()


# name → (generated add function, descriptor of the service, servicer factory)
def _registry(platform: Platform) -> dict[str, tuple[Callable, object, Callable[[], object]]]:
    def later(base, desc, owner):
        return lambda: unimplemented_servicer(base, desc.full_name, owner=owner)

    tr = trading_pb2.DESCRIPTOR.services_by_name["TradingService"]
    ri = risk_pb2.DESCRIPTOR.services_by_name["RiskService"]
    bi = billing_pb2.DESCRIPTOR.services_by_name["BillingService"]
    ma = market_pb2.DESCRIPTOR.services_by_name["MarketService"]
    ad = admin_pb2.DESCRIPTOR.services_by_name["AdminService"]
    return {
        "accounts": (
            accounts_pb2_grpc.add_AccountsServiceServicer_to_server,
            accounts_pb2.DESCRIPTOR.services_by_name["AccountsService"],
            lambda: AccountsServicer(platform.accounts),
        ),
        "platform": (
            platform_pb2_grpc.add_PlatformServiceServicer_to_server,
            platform_pb2.DESCRIPTOR.services_by_name["PlatformService"],
            lambda: PlatformServicer(platform),
        ),
        "trading": (trading_pb2_grpc.add_TradingServiceServicer_to_server, tr, lambda: _trading_servicer(platform)),
        "risk": (risk_pb2_grpc.add_RiskServiceServicer_to_server, ri, lambda: RiskServicer(platform.risk)),
        "billing": (billing_pb2_grpc.add_BillingServiceServicer_to_server, bi,
                    lambda: BillingServicer(platform.billing or Billing(platform.db, BillingConfig.from_env()))),
        "market": (market_pb2_grpc.add_MarketServiceServicer_to_server, ma,
                   later(market_pb2_grpc.MarketServiceServicer, ma, "arrives with the trading work")),
        "admin": (admin_pb2_grpc.add_AdminServiceServicer_to_server, ad, lambda: AdminServicer(platform)),
    }


def _trading_servicer(platform: Platform):
    from nija.services.trading import TradingServicer

    return TradingServicer(platform.ensure_trading(), platform)


SERVICE_NAMES = ("accounts", "trading", "risk", "billing", "market", "admin", "platform")


async def create_server(
    address: str, platform: Platform, services: tuple[str, ...] = SERVICE_NAMES
) -> tuple[grpc.aio.Server, int]:
    """Build and start a grpc.aio server with the chosen services, health and reflection.

    Returns the server and the bound port (bind ``127.0.0.1:0`` in tests).
    """
    registry = _registry(platform)
    unknown = sorted(set(services) - set(registry))
    if unknown:
        raise ValueError(f"unknown service(s): {', '.join(unknown)}; choose from {', '.join(SERVICE_NAMES)}")
    server = grpc.aio.server(interceptors=[ServiceInterceptor(platform.tokens)])
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    names = [reflection.SERVICE_NAME, health.SERVICE_NAME]
    for name in services:
        add, descriptor, factory = registry[name]
        servicer = factory()
        add(servicer, server)
        platform.served[name] = servicer  # the admin metrics report which services are implemented
        names.append(descriptor.full_name)
    reflection.enable_server_reflection(names, server)
    port = server.add_insecure_port(address)
    if port == 0:
        raise OSError(f"could not bind gRPC server to {address}")
    await server.start()
    if "trading" in services:
        await platform.start_trading()
    for name in names:
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    await health_servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    log.info("gRPC services %s listening on port %d", ", ".join(services), port)
    return server, port
