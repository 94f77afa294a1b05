"""Helpers for the end-to-end tests: the REST routes of the contract, an admin token, /proc."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from helpers import http, unique_email

PASSWORD = "correct horse battery staple"


@dataclass(frozen=True)
class Route:
    verb: str
    path: str
    method: str  # "nija.accounts.v1.AccountsService.Login"
    server_streaming: bool = False


def rest_routes() -> list[Route]:
    """Every google.api.http rule of every NIJA service, read from the generated descriptors."""
    from google.api import annotations_pb2

    from nija.services.edge import SERVICES
    from nija.services.server import _registry  # noqa: F401 - importing registers every proto
    from google.protobuf import descriptor_pool

    pool = descriptor_pool.Default()
    routes = []
    for service_name in SERVICES:
        service = pool.FindServiceByName(service_name)
        for method in service.methods:
            rule = method.GetOptions().Extensions[annotations_pb2.http]
            verb = rule.WhichOneof("pattern")
            routes.append(Route(verb.upper(), getattr(rule, verb), method.full_name, method.server_streaming))
    return routes


def admin_token(nija) -> str:
    from e2e.conftest import NIJA

    email = unique_email("admin")
    subprocess.run(
        [NIJA, "admin", "create", "--email", email, "--password-stdin", "--data-dir", str(nija.data_dir)],
        input=PASSWORD + "\n", text=True, check=True, capture_output=True, timeout=60,
    )
    status, _, tokens = http("POST", f"{nija.base}/api/v1/auth/login", {"email": email, "password": PASSWORD})
    assert status == 200, tokens
    return tokens["access_token"]


def children_of(pid: int) -> list[tuple[int, str]]:
    kids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            name = stat.read_text().split("(", 1)[1].rsplit(")", 1)[0]
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid:
            kids.append((int(stat.parent.name), name))
    return kids


def stream_headers(url: str, token: str, timeout: float = 10) -> tuple[int, dict[str, str]]:
    """Open a streaming GET and return its status and headers without waiting for the end."""
    import http.client
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        conn.request("GET", parts.path + (f"?{parts.query}" if parts.query else ""), headers={"authorization": f"Bearer {token}"})
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}
    finally:
        conn.close()
