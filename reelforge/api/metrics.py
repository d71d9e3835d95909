"""Prometheus metrics at `/metrics`: the task core read from the store at scrape time, HTTP latency counted here.

Task, queue, ledger and webhook figures come from the database on each scrape rather than from counters kept in
memory: workers run in other processes (or on other hosts), and the store is the one place that sees every
task, so every API server of a fleet reports the same totals. HTTP latency is per process (label it by
instance in Prometheus). Aggregates are grouped queries over indexed columns; the run and wait histograms
read one pair of timestamps per finished task, which is fine up to a few hundred thousand tasks (an operator
beyond that scrapes less often or prunes old tasks).
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterator
from datetime import datetime

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from reelforge.accounts.ledger import DEBIT, GRANT, REFUND
from reelforge.api.fastread import FAST_READ
from reelforge.services import Services
from reelforge.store.tables import jobs, ledger, tasks, webhook_outbox

router = APIRouter()

SECONDS_BUCKETS = (0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, float("inf"))
"""Run and wait times: from a draft preview (a second) to a long diffusion render (an hour)."""
HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, float("inf"))


class TaskCoreCollector(Collector):
    """Every figure of the task core, read from the store when Prometheus scrapes."""

    def __init__(self, services: Services) -> None:
        self.services = services

    def collect(self) -> Iterator[Metric]:
        with self.services.db.read() as conn:
            by_status = conn.execute(
                select(tasks.c.model, tasks.c.status, func.count()).group_by(tasks.c.model, tasks.c.status)
            ).all()
            waiting = conn.execute(
                select(jobs.c.queue, jobs.c.state, func.count())
                .where(jobs.c.state.in_(("queued", "leased")))
                .group_by(jobs.c.queue, jobs.c.state)
            ).all()
            credits = conn.execute(select(ledger.c.reason, func.sum(ledger.c.amount)).group_by(ledger.c.reason)).all()
            webhooks = conn.execute(
                select(webhook_outbox.c.state, func.count(), func.sum(webhook_outbox.c.attempts)).group_by(
                    webhook_outbox.c.state
                )
            ).all()
            timestamps = conn.execute(
                select(tasks.c.created_at, tasks.c.started_at, tasks.c.completed_at).where(
                    tasks.c.started_at.is_not(None)
                )
            ).all()

        tasks_family = GaugeMetricFamily("reelforge_tasks", "Tasks by model and status", labels=["model", "status"])
        for model, status, count in by_status:
            tasks_family.add_metric([model, status], count)
        yield tasks_family

        queue = GaugeMetricFamily(
            "reelforge_queue_depth",
            "Jobs waiting (queued) or running (leased), by model queue",
            labels=["model", "state"],
        )
        for model, state, count in waiting:
            queue.add_metric([model, state], count)
        yield queue

        amounts = {reason: int(total or 0) for reason, total in credits}
        yield _counter("reelforge_credits_debited", "Credits taken for tasks", -amounts.get(DEBIT, 0))
        yield _counter(
            "reelforge_credits_refunded", "Credits given back for failed or cancelled tasks", amounts.get(REFUND, 0)
        )
        yield _counter("reelforge_credits_granted", "Credits granted to keys", amounts.get(GRANT, 0))

        deliveries = GaugeMetricFamily(
            "reelforge_webhook_events",
            "Webhook events by delivery state (pending, delivered, failed)",
            labels=["state"],
        )
        attempts = CounterMetricFamily(
            "reelforge_webhook_delivery_attempts", "Delivery attempts made, by the event's state", labels=["state"]
        )
        for state, count, tried in webhooks:
            deliveries.add_metric([state], count)
            attempts.add_metric([state], int(tried or 0))
        yield deliveries
        yield attempts

        wait = _Buckets()
        run = _Buckets()
        for created, started, completed in timestamps:
            wait.observe(_seconds(created, started))
            if completed is not None:
                run.observe(_seconds(started, completed))
        yield wait.family("reelforge_task_wait_seconds", "Time from create to a worker starting the task")
        yield run.family("reelforge_task_run_seconds", "Time from a worker starting a task to its end")


def _counter(name: str, documentation: str, value: int) -> CounterMetricFamily:
    return CounterMetricFamily(name, documentation, value=value)


def _seconds(start: datetime, end: datetime) -> float:
    return max(0.0, (end - start).total_seconds())


class _Buckets:
    """A cumulative histogram built from observations at scrape time."""

    def __init__(self) -> None:
        self.counts = [0] * len(SECONDS_BUCKETS)
        self.total = 0.0

    def observe(self, value: float) -> None:
        self.total += value
        for index, bound in enumerate(SECONDS_BUCKETS):
            if value <= bound:
                self.counts[index] += 1

    def family(self, name: str, documentation: str) -> HistogramMetricFamily:
        buckets = [(_bound(bound), count) for bound, count in zip(SECONDS_BUCKETS, self.counts, strict=True)]
        return HistogramMetricFamily(name, documentation, buckets=buckets, sum_value=self.total)


def _bound(bound: float) -> str:
    return "+Inf" if bound == float("inf") else str(bound)


class Metrics:
    """One registry per app (tests build many apps in one process), with its HTTP latency histogram."""

    def __init__(self, services: Services) -> None:
        self.registry = CollectorRegistry()
        self.registry.register(TaskCoreCollector(services))
        self.http_latency = Histogram(
            "reelforge_http_request_duration_seconds",
            "HTTP request latency by route template, method and status",
            labelnames=["method", "route", "status"],
            buckets=HTTP_BUCKETS,
            registry=self.registry,
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)


class HttpLatencyMiddleware:
    """Times every HTTP request by its route template (`/v1/videos/{video_id}`), never its raw path: ids
    would make a series per task."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics
        self._templates: dict[str, str] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_recording(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_recording)
        finally:
            self.metrics.http_latency.labels(scope["method"], self._template(scope), str(status)).observe(
                time.perf_counter() - started
            )

    def _template(self, scope: Scope) -> str:
        route = scope.get("route")
        if route is not None and getattr(route, "path", None):
            return str(route.path)
        fast = scope.get(FAST_READ)  # answered before routing: label it as the declared route it stands for
        if fast is not None:
            if self._templates is None:  # the declared paths (FastAPI caches its OpenAPI document)
                paths = [str(path) for path in scope["app"].openapi().get("paths", {})]
                self._templates = {re.sub(r"\{[^}]+\}", "{}", path): path for path in paths}
            return self._templates.get(str(fast), str(fast))
        return "unmatched"


@router.get("/metrics", tags=["system"], summary="Prometheus metrics: tasks, queue, credits, webhooks, HTTP latency")
async def metrics(request: Request) -> Response:
    registry: Metrics = request.app.state.metrics
    body = await asyncio.to_thread(registry.render)  # the collector reads the store
    return Response(body, media_type=CONTENT_TYPE_LATEST)
