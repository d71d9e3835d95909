"""Shared fixtures: databases on both backends, and the real server run as a subprocess over HTTP."""

from __future__ import annotations

import inspect
import json
import os
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from reelforge.config import Settings
from reelforge.services import Services, build_services

pytest_plugins = ["tests.asgi"]  # the `api` fixture: the app in-process over ASGI

PG_URL_ENV = "REELFORGE_TEST_DATABASE_URL"

# Markers by what a test needs (registered in pyproject.toml; `make test-fast` deselects them):
E2E_FIXTURES = {"server", "start_server"}  # these spawn a real `reelforge serve`
BROKER_MODULES = {"tests/runtime/test_celery_executor.py", "tests/webhooks/test_fleet_delivery.py"}


def _starts_a_server(func: object) -> bool:
    """True for a fixture or test whose own code starts a `ServerProcess` (module-scoped clusters and the like)."""
    try:
        return "ServerProcess(" in inspect.getsource(func)  # type: ignore[arg-type]
    except (OSError, TypeError):
        return False


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark e2e, postgres and broker by fixture and module, so the modules themselves need not say so."""
    rootdir = Path(str(config.rootpath))
    spawning: dict[object, bool] = {}

    def spawns(func: object) -> bool:
        if func not in spawning:
            spawning[func] = _starts_a_server(func)
        return spawning[func]

    for item in items:
        funcs: list[object] = [getattr(item, "function", None)]
        fixtureinfo = getattr(item, "_fixtureinfo", None)
        if fixtureinfo is not None:
            funcs += [d.func for defs in fixtureinfo.name2fixturedefs.values() for d in defs]
        if set(getattr(item, "fixturenames", ())) & E2E_FIXTURES or any(spawns(f) for f in funcs if f is not None):
            item.add_marker(pytest.mark.e2e)
        callspec = getattr(item, "callspec", None)
        if callspec is not None and callspec.params.get("database_url") == "postgresql":
            item.add_marker(pytest.mark.postgres)
        if Path(str(item.path)).relative_to(rootdir).as_posix() in BROKER_MODULES:
            item.add_marker(pytest.mark.broker)


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
        self._services: Services | None = None
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
        from tests.helpers import eventually  # tests.helpers imports this module

        proc = self.proc

        def healthy() -> bool:
            if proc.poll() is not None:
                raise RuntimeError(f"server exited early:\n{self.log()}")  # not retried
            try:
                return httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        try:
            eventually(healthy, timeout=60, what="GET /healthz answers 200")
        except AssertionError:
            raise RuntimeError(f"server did not become healthy:\n{self.log()}") from None
        dev_key = self.data_dir / "dev-key.json"  # absent when started with REELFORGE_DEV_KEY=false
        saved = json.loads(dev_key.read_text()) if dev_key.exists() else {}
        self.key = saved.get("secret")
        self.key_id = saved.get("id")
        return self

    def services(self) -> Services:
        """The server's database in-process (keys, balances, task rows), without spawning the CLI."""
        if self._services is None:
            settings = Settings(data_dir=self.data_dir, database_url=self.env.get("REELFORGE_DATABASE_URL") or None)
            self._services = build_services(settings, migrate=False)  # the server migrated at start
        return self._services

    def new_key(self, credits: int = 100, name: str = "test") -> dict[str, Any]:
        """A fresh key on this server, made in-process; the shape `reelforge keys create --json` prints."""
        created = self.services().keys.create(name=name, credits=credits)
        return {
            "id": created.key.id,
            "name": name,
            "key": created.secret,
            "webhookSecret": created.key.webhook_secret,
            "credits": credits,
        }

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def worker_pids(self) -> list[int]:
        assert self.proc is not None
        children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text().split()
        return [int(pid) for pid in children]

    def stop(self) -> None:
        if self._services is not None:
            self._services.close()
            self._services = None
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
            "REELFORGE_KEY_QUERY_RATE_LIMIT": "100000/minute",
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
