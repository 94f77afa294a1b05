"""A real `nija up` (Envoy, embedded NATS, SQLite) on free ports, driven over HTTP."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from helpers import free_port

NIJA = str(Path(sys.executable).with_name("nija"))


@dataclass
class RunningNija:
    proc: subprocess.Popen
    data_dir: Path
    http_port: int
    grpc_port: int
    admin_port: int
    output: list[str]

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def stop(self, timeout: float = 15) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)


def start_nija(data_dir: Path, extra_env: dict | None = None, timeout: float = 60) -> RunningNija:
    ports = dict(http=free_port(), grpc=free_port(), admin=free_port(), nats=free_port())
    env = dict(os.environ)
    env.pop("NIJA_NATS_URL", None)
    env.pop("NIJA_DATABASE_URL", None)
    env.update(extra_env or {})
    proc = subprocess.Popen(
        [NIJA, "up", "--data-dir", str(data_dir), "--http-port", str(ports["http"]), "--grpc-port", str(ports["grpc"]),
         "--envoy-admin-port", str(ports["admin"]), "--nats-port", str(ports["nats"])],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
    )
    output: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            if proc.poll() is not None:
                break
            continue
        output.append(line)
        if line.startswith("ready:"):
            # keep draining output so the child never blocks on a full pipe
            import threading

            threading.Thread(target=lambda: output.extend(proc.stdout), daemon=True).start()
            return RunningNija(proc, data_dir, ports["http"], ports["grpc"], ports["admin"], output)
    proc.kill()
    raise RuntimeError("nija up did not become ready:\n" + "".join(output))


@pytest.fixture(scope="session")
def nija(tmp_path_factory):
    running = start_nija(tmp_path_factory.mktemp("nija-up"))
    yield running
    running.stop()
