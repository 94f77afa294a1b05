"""A real localstripe (Stripe API peer) on a free port, and helpers to talk to it."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import stripe

from helpers import free_port



@dataclass
class LocalStripe:
    port: int
    proc: subprocess.Popen

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def client(self) -> stripe.StripeClient:
        return stripe.StripeClient("sk_test_nija", base_addresses={"api": self.base}, max_network_retries=0)


@pytest.fixture(scope="session")
def localstripe(tmp_path_factory):
    port = free_port()
    log = open(tmp_path_factory.mktemp("localstripe") / "localstripe.log", "wb")
    proc = subprocess.Popen(
        [str(Path(sys.executable).with_name("localstripe")), "--port", str(port), "--from-scratch"],
        stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path_factory.mktemp("localstripe-cwd"),
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError("localstripe did not start")
            time.sleep(0.1)
    yield LocalStripe(port, proc)
    proc.terminate()
    proc.wait(10)
    log.close()
