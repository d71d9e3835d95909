"""Delivers the webhook outbox: claim due rows, POST them signed, retry with exponential backoff.

Events of one task are delivered in the order they happened.
Rows are claimed by setting `locked_until` in a write transaction (`FOR UPDATE SKIP LOCKED` on
PostgreSQL, `BEGIN IMMEDIATE` on SQLite), so several dispatchers (one per API server) never send the same
row at once; a dispatcher that dies mid-delivery leaves the lock to expire and the row is sent again (at
least once), with the same `webhook-id` so receivers can de-duplicate.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import or_, select, update

from reelforge.config import Settings
from reelforge.domain.errors import ReelforgeError
from reelforge.domain.task import Task
from reelforge.media.fetch import PinnedAsyncTransport, Resolver, check_syntax
from reelforge.store.db import Database
from reelforge.store.tables import api_keys, utcnow, webhook_outbox
from reelforge.tasks.records import snapshot_to_task
from reelforge.webhooks.signing import AVS_MAX_ATTEMPTS, AVS_RETRY_STEPS, avs_headers, standard_headers

log = logging.getLogger(__name__)

Renderer = Callable[[Task], dict[str, Any]]
BATCH = 20


class Claimed:
    """An outbox row as claimed: the row's columns plus the end of this dispatcher's lease on it."""

    def __init__(self, row: Any, claimed_until: datetime) -> None:
        self._row = row
        self.claimed_until = claimed_until

    def __getattr__(self, name: str) -> Any:
        return getattr(self._row, name)


class WebhookDispatcher:
    def __init__(
        self,
        db: Database,
        settings: Settings,
        render: Callable[[str, Task], dict[str, Any]],
        *,
        resolver: Resolver | None = None,
    ) -> None:
        self.db = db
        self.settings = settings
        self.render = render
        self.resolver = resolver
        """How receivers' host names are resolved (None: the system's); each delivery resolves once, vets
        every address and connects to a vetted one (`PinnedAsyncTransport`)."""

    def client(self) -> httpx.AsyncClient:
        """The client deliveries go through: redirects not followed, no environment proxy, pinned addresses."""
        transport = PinnedAsyncTransport(
            allow_private=self.settings.private_webhook_urls_allowed, purpose="webhook URL", resolver=self.resolver
        )
        return httpx.AsyncClient(
            timeout=self.settings.webhook_timeout, follow_redirects=False, trust_env=False, transport=transport
        )

    def claim_due(self) -> list[Any]:
        """Lease up to `BATCH` due rows to this dispatcher; each comes back with its `claimed_until`.

        The lease's end doubles as the claim's token: `_record` only writes a row whose lease is still
        the one it took, so a dispatcher that stalled past its lease cannot overwrite the outcome of the
        dispatcher that took the row over.
        """
        now = utcnow()
        until = now + timedelta(seconds=self.settings.webhook_claim_seconds)
        earlier = webhook_outbox.alias("earlier")
        # Per task, events go out in order: one waits while an older event of its task is still pending.
        older_pending = (
            select(earlier.c.id)
            .where(
                earlier.c.task_id == webhook_outbox.c.task_id,
                earlier.c.state == "pending",
                earlier.c.created_at < webhook_outbox.c.created_at,
            )
            .exists()
        )
        with self.db.write() as conn:
            query = (
                select(webhook_outbox, api_keys.c.webhook_secret)
                .join(api_keys, api_keys.c.id == webhook_outbox.c.key_id)
                .where(
                    webhook_outbox.c.state == "pending",
                    webhook_outbox.c.next_attempt_at <= now,
                    or_(webhook_outbox.c.locked_until.is_(None), webhook_outbox.c.locked_until < now),
                    ~older_pending,
                )
                .order_by(webhook_outbox.c.created_at)
                .limit(BATCH)
            )
            if self.db.for_update:
                query = query.with_for_update(skip_locked=True, of=webhook_outbox)
            rows = conn.execute(query).all()
            if rows:
                conn.execute(
                    update(webhook_outbox)
                    .where(webhook_outbox.c.id.in_([row.id for row in rows]))
                    .values(locked_until=until)
                )
        return [Claimed(row, until) for row in rows]

    def payload_for(self, row: Any) -> dict[str, Any]:
        return self.render(row.dialect, snapshot_to_task(row.snapshot))

    async def deliver(self, client: httpx.AsyncClient, row: Any) -> None:
        error: str | None = None
        try:
            payload = self.payload_for(row)
            body = json.dumps(payload, separators=(",", ":"))
            headers = {"content-type": "application/json", "user-agent": "reelforge-webhooks/1"}
            if row.scheme == "avs":
                event = f"job.{payload.get('status', 'updated')}"
                headers.update(avs_headers(row.secret or row.webhook_secret, event, row.id, body, utcnow()))
            else:
                headers.update(standard_headers(row.webhook_secret, row.id, body, utcnow()))
            check_syntax(row.url, "webhook URL")  # the address is vetted by the client's transport
            # One deadline for the whole delivery (httpx's timeout is per phase, and a receiver trickling
            # its answer could otherwise outlast the claim and see the event twice).
            response = await asyncio.wait_for(
                client.post(row.url, content=body, headers=headers), timeout=self.settings.webhook_timeout
            )
            if not 200 <= response.status_code < 300:
                error = f"HTTP {response.status_code}"
        except ReelforgeError as exc:
            error = exc.message
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"
        except TimeoutError:
            error = f"no complete answer within {self.settings.webhook_timeout:g} s"
        except Exception as exc:  # a bug must still count as an attempt, or the row would retry forever
            log.exception("webhook %s could not be prepared", row.id)
            error = f"internal error: {type(exc).__name__}"
        await asyncio.to_thread(self._record, row, error)

    def _record(self, row: Any, error: str | None) -> None:
        now = utcnow()
        attempts = row.attempts + 1
        values: dict[str, Any] = {"attempts": attempts, "locked_until": None, "last_error": error}
        if error is None:
            values.update(state="delivered", delivered_at=now)
        elif attempts >= (AVS_MAX_ATTEMPTS if row.scheme == "avs" else self.settings.webhook_max_attempts):
            values.update(state="failed")
            log.warning("webhook %s to task %s gave up after %d attempts: %s", row.id, row.task_id, attempts, error)
        else:
            step = AVS_RETRY_STEPS[attempts - 1] if row.scheme == "avs" else 2 ** (attempts - 1)
            delay = self.settings.webhook_backoff_base * step * random.uniform(0.8, 1.2)
            values.update(next_attempt_at=now + timedelta(seconds=delay))
            log.info("webhook %s failed (%s); retry %d in %.1fs", row.id, error, attempts, delay)
        with self.db.write() as conn:
            written = conn.execute(
                update(webhook_outbox)
                .where(
                    webhook_outbox.c.id == row.id,
                    webhook_outbox.c.locked_until == row.claimed_until,
                )
                .values(**values)
            ).rowcount
        if not written:
            log.warning(
                "webhook %s: the claim expired before the outcome was recorded; another dispatcher "
                "owns the row now (the receiver may see this webhook-id twice)",
                row.id,
            )

    async def run(self, stop: asyncio.Event, interval: float = 0.5) -> None:
        async with self.client() as client:
            while not stop.is_set():
                rows = []
                try:
                    rows = await asyncio.to_thread(self.claim_due)
                    if rows:
                        await asyncio.gather(*(self.deliver(client, row) for row in rows))
                except Exception:
                    log.exception("webhook dispatcher iteration failed")
                if not rows:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), timeout=interval)
