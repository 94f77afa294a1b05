"""The stream service on a free port, on the session's private nats-server (``nats_url`` in
tests/conftest.py), so these tests fill and read the NIJA stream without touching anyone else's."""

from __future__ import annotations

import pytest

from nija.core.security import KeyStore, TokenIssuer


@pytest.fixture(scope="session")
def tokens(tmp_path_factory) -> TokenIssuer:
    keys = KeyStore(tmp_path_factory.mktemp("keys")).load()
    return TokenIssuer(keys, issuer="nija", audience="nija-api", ttl_s=900)


@pytest.fixture(scope="session")
async def js(nats_url):
    import nats

    nc = await nats.connect(nats_url)
    yield nc.jetstream()
    await nc.drain()
