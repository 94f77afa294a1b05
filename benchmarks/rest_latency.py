"""Latency of one authenticated read, REST through Envoy (JWT + transcoding) vs gRPC direct.

    make bench                    # (all benchmarks) starts its own `nija up` on free ports
    python benchmarks/rest_latency.py --requests 1000

Prints p50/p99 of N sequential `GET /api/v1/config/settings` through Envoy and of the same
RPC (`AccountsService.GetSettings`) straight to the gRPC port, measured in the same run, and
their ratio.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=1000)
    args = parser.parse_args()

    http_port, grpc_port, admin_port = free_port(), free_port(), free_port()
    data_dir = tempfile.mkdtemp(prefix="nija-bench-")
    nija = str(Path(sys.executable).with_name("nija"))
    proc = subprocess.Popen(
        [nija, "up", "--data-dir", data_dir, "--http-port", str(http_port), "--grpc-port", str(grpc_port),
         "--envoy-admin-port", str(admin_port)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    try:
        for line in proc.stdout:
            if line.startswith("ready:"):
                break
        else:
            print("nija up did not start", file=sys.stderr)
            return 1

        conn = http.client.HTTPConnection("127.0.0.1", http_port)

        def call(method, path, body=None, token=None):
            headers = {"content-type": "application/json"}
            if token:
                headers["authorization"] = f"Bearer {token}"
            conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
            resp = conn.getresponse()
            return resp.status, json.loads(resp.read() or b"null")

        def new_token() -> str:
            email, password = f"bench-{uuid.uuid4().hex[:8]}@example.com", "benchmark passphrase"
            call("POST", "/api/v1/auth/register", {"email": email, "password": password})
            _, tokens = call("POST", "/api/v1/auth/login", {"email": email, "password": password})
            return tokens["access_token"]

        # Envoy enforces each user's plan limit (a new user's trial: 100 calls a minute, see
        # docs/billing.md), so the run spreads its calls over enough users; the limit check
        # itself stays in the measured path, as in production.
        per_user = 90
        tokens = [new_token() for _ in range(args.requests // per_user + 1)]
        token = new_token()
        for _ in range(50):  # warm-up
            call("GET", "/api/v1/config/settings", token=token)
        rest = []
        for i in range(args.requests):
            start = time.perf_counter()
            status, _ = call("GET", "/api/v1/config/settings", token=tokens[i // per_user])
            rest.append((time.perf_counter() - start) * 1000)
            assert status == 200

        import grpc

        from nija.accounts.v1 import accounts_pb2, accounts_pb2_grpc

        channel = grpc.insecure_channel(f"127.0.0.1:{grpc_port}")
        stub = accounts_pb2_grpc.AccountsServiceStub(channel)
        md = (("authorization", f"Bearer {token}"),)
        for _ in range(50):
            stub.GetSettings(accounts_pb2.GetSettingsRequest(), metadata=md)
        direct = []
        for _ in range(args.requests):
            start = time.perf_counter()
            stub.GetSettings(accounts_pb2.GetSettingsRequest(), metadata=md)
            direct.append((time.perf_counter() - start) * 1000)

        print(f"{args.requests} sequential GET /api/v1/config/settings (SQLite, 2 vCPU box)")
        print(f"{'path':<34}{'p50 ms':>10}{'p99 ms':>10}{'mean ms':>10}")
        for name, samples in (("REST via Envoy (JWT + transcode)", rest), ("gRPC direct (peer)", direct)):
            print(f"{name:<34}{percentile(samples, .5):>10.3f}{percentile(samples, .99):>10.3f}{statistics.mean(samples):>10.3f}")
        print(f"{'ratio REST/gRPC':<34}{percentile(rest, .5) / percentile(direct, .5):>10.2f}"
              f"{percentile(rest, .99) / percentile(direct, .99):>10.2f}")
        return 0
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(20)


if __name__ == "__main__":
    sys.exit(main())
