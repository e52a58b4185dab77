"""Daphne server processes for tests that need real websockets (browsers, several processes)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from django.conf import settings
from django.db import connection
from django.test import Client

from mediation.models import User

SERVER = Path(__file__).resolve().parent / "asgi_server.py"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def database_url() -> str:
    """The test database this process uses, as a ``DATABASE_URL`` for a child process."""
    conf = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{conf['NAME']}"
    user = quote(conf.get("USER") or "")
    password = quote(conf.get("PASSWORD") or "")
    credentials = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    return f"postgres://{credentials}{conf.get('HOST') or '127.0.0.1'}:{conf.get('PORT') or 5432}/{conf['NAME']}"


@dataclass
class DaphneProcess:
    port: int
    process: subprocess.Popen[bytes]

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def kill(self) -> None:
        """Die as a crashed process does: no goodbye to anyone connected."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)


def _wait_for(port: int, process: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"daphne exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"daphne did not listen on {port} within {timeout} s")


@contextmanager
def daphne(count: int = 1) -> Iterator[list[DaphneProcess]]:
    """``count`` Daphne processes on the test database (and on Redis when ``REDIS_URL`` is set)."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "mediation.settings",
        "DATABASE_URL": database_url(),
        "FENGQIAO_VAR_DIR": str(settings.VAR_DIR),
        "REDIS_URL": settings.REDIS_URL or "",
        "PYTHONUNBUFFERED": "1",
    }
    servers: list[DaphneProcess] = []
    try:
        for _ in range(count):
            port = free_port()
            process = subprocess.Popen([sys.executable, str(SERVER), str(port)], env=env)
            servers.append(DaphneProcess(port, process))
        for server in servers:
            _wait_for(server.port, server.process)
        yield servers
    finally:
        for server in servers:
            if server.process.poll() is None:
                server.process.terminate()
                try:
                    server.process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    server.kill()


def session_cookie(user: User) -> str:
    """A logged-in session for ``user``, stored in the shared database."""
    client = Client()
    client.force_login(user)
    return client.cookies[settings.SESSION_COOKIE_NAME].value
