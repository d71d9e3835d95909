"""Shared fixtures: databases on both backends, and the real server run as a subprocess over HTTP."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

pytest_plugins = ["tests.asgi"]  # the `api` fixture: the app in-process over ASGI

PG_URL_ENV = "REELFORGE_TEST_DATABASE_URL"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database: SQLite always; PostgreSQL when REELFORGE_TEST_DATABASE_URL is set."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'reelforge.db'}"
        return
    base = os.environ.get(PG_URL_ENV)
    if not base:
        pytest.skip(f"PostgreSQL run needs {PG_URL_ENV} (CI sets it)")
    yield from _fresh_postgres_database(base)


def _fresh_postgres_database(base: str) -> Iterator[str]:
    name = f"rf_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(base).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


class ServerProcess:
    """`reelforge serve` in a subprocess, as a user runs it; tests talk to it over real HTTP."""

    def __init__(
        self, data_dir: Path, *, workers: int = 1, env: dict[str, str] | None = None, database_url: str | None = None
    ) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = server_env(data_dir, env, database_url)
        self.workers = workers
        self.proc: subprocess.Popen | None = None
        self.log_path = data_dir / f"serve-{self.port}.log"  # logging (stderr)
        self.banner_path = data_dir / f"serve-{self.port}.out"  # the banner (stdout)

    def start(self) -> ServerProcess:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log, open(self.banner_path, "ab") as out:  # the child keeps its copies
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "reelforge", "serve", "--port", str(self.port), "--workers", str(self.workers)],
                env=self.env,
                stdout=out,
                stderr=log,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited early:\n{self.log()}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        else:
            raise RuntimeError(f"server did not become healthy:\n{self.log()}")
        dev_key = self.data_dir / "dev-key.json"  # absent when started with REELFORGE_DEV_KEY=false
        saved = json.loads(dev_key.read_text()) if dev_key.exists() else {}
        self.key = saved.get("secret")
        self.key_id = saved.get("id")
        return self

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def worker_pids(self) -> list[int]:
        assert self.proc is not None
        children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text().split()
        return [int(pid) for pid in children]

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def banner(self) -> str:
        return self.banner_path.read_text(errors="replace")


def server_env(data_dir: Path, extra: dict[str, str] | None = None, database_url: str | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REELFORGE_")}
    env.update(
        {
            "REELFORGE_DATA_DIR": str(data_dir),
            "REELFORGE_ALLOW_PRIVATE_URLS": "true",  # tests serve images and receive webhooks on loopback
            "REELFORGE_POLL_INTERVAL": "0.05",
            "REELFORGE_WEBHOOK_BACKOFF_BASE": "0.3",
            # tests poll a lot from one IP; the 429 behaviour has its own test with a low limit
            "REELFORGE_QUERY_RATE_LIMIT": "100000/minute",
        }
    )
    if database_url:
        env["REELFORGE_DATABASE_URL"] = database_url
    env.update(extra or {})
    return env


def run_cli(
    data_dir: Path, *args: str, env: dict[str, str] | None = None, check: bool = True
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "reelforge", *args],
        env=server_env(data_dir, env),
        capture_output=True,
        text=True,
        check=check,
        timeout=120,
    )


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator:
    servers: list[ServerProcess] = []

    def _start(**kwargs) -> ServerProcess:
        data_dir = kwargs.pop("data_dir", tmp_path / f"data{len(servers)}")
        server = ServerProcess(data_dir, **kwargs).start()
        servers.append(server)
        return server

    yield _start
    for server in servers:
        server.stop()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One shared server with one worker, for tests that don't need their own."""
    instance = ServerProcess(tmp_path_factory.mktemp("shared-server"), workers=1).start()
    yield instance
    instance.stop()
