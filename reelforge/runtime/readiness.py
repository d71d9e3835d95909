"""Readiness checks of what a server depends on besides itself: the broker (when Celery is on) and storage.

`/healthz` says the process is alive and its database answers; `/readyz` (api/system.py) says a create would
succeed end to end, so a load balancer takes a server out of rotation when its broker or bucket is gone. Each
check is bounded in time and reports only the kind of failure: connection errors can carry URLs with passwords.
"""

from __future__ import annotations

import uuid

from sqlalchemy import text

from reelforge.services import Services

BROKER_TIMEOUT_SECONDS = 2.0
PROBE_PREFIX = "readyz"


def check_database(services: Services) -> None:
    with services.db.read() as conn:
        conn.execute(text("SELECT 1"))


def check_storage(services: Services) -> None:
    """Write, read back and delete a small object: a bucket that lists but refuses writes is not ready."""
    key = f"{PROBE_PREFIX}/{uuid.uuid4().hex}.probe"
    payload = b"reelforge readiness probe"
    services.storage.put_bytes(key, payload)
    try:
        if services.storage.read_bytes(key) != payload:
            raise OSError("storage returned other bytes than were written")
    finally:
        services.storage.delete(key)


def check_broker(services: Services) -> None:
    """Open (and close) a connection to the Celery broker; a no-op for the embedded executor."""
    from kombu import Connection  # celery's transport library: only installed with the `celery` extra

    with Connection(services.settings.broker_url, connect_timeout=BROKER_TIMEOUT_SECONDS) as conn:
        conn.ensure_connection(max_retries=1, timeout=BROKER_TIMEOUT_SECONDS)


def readiness(services: Services) -> dict[str, str]:
    """Each dependency's state: "ok", "not used", or the kind of failure (an exception class name)."""
    checks = {"database": check_database, "storage": check_storage}
    if services.settings.executor == "celery":
        checks["broker"] = check_broker
    states = {"broker": "not used"}
    for name, check in checks.items():
        try:
            check(services)
            states[name] = "ok"
        except Exception as exc:  # any failure means not ready; its text may hold credentials
            states[name] = f"failed: {type(exc).__name__}"
    return states
