"""The composition root: the one place that assembles dialects, MCP, the executor and background loops.

`create_app` takes ready `Services` and an `Executor`, so tests, `reelforge serve` and a fleet deployment
build the same app with different wiring. The app's lifespan runs the executor, the webhook dispatcher and
the output expiry sweep.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI
from starlette.routing import Route

from reelforge import __version__
from reelforge.api import metrics, openapi_links, system
from reelforge.api.auth import require_key
from reelforge.api.body_limit import BodyLimitMiddleware
from reelforge.api.console import CONSOLE_ROUTERS
from reelforge.api.dialect import Dialect
from reelforge.api.dialects.actions import ACTIONS_DIALECT
from reelforge.api.dialects.aivideomaker import AIVIDEOMAKER_DIALECT
from reelforge.api.dialects.avs import AVS_DIALECT
from reelforge.api.dialects.avs.routes import require_public_token
from reelforge.api.dialects.openai_videos import OPENAI_VIDEOS_DIALECT
from reelforge.api.errors import install_error_handlers
from reelforge.api.fastread import FastReads
from reelforge.api.request_id import RequestIdMiddleware
from reelforge.domain.task import Task
from reelforge.edge.create import CreatePath
from reelforge.edge.links import Links
from reelforge.edge.ratelimit import ReadLimits
from reelforge.mcp import http as mcp_http
from reelforge.runtime.executor import Executor
from reelforge.services import Services
from reelforge.tasks.expiry import ExpirySweeper
from reelforge.tasks.reads import PollReads
from reelforge.webhooks.dispatcher import WebhookDispatcher

log = logging.getLogger(__name__)

DIALECTS: tuple[Dialect, ...] = (AIVIDEOMAKER_DIALECT, AVS_DIALECT, OPENAI_VIDEOS_DIALECT, ACTIONS_DIALECT)
"""Every HTTP contract this server speaks; a new one is a module in `api/dialects/` and an entry here."""


def create_app(
    services: Services,
    executor: Executor,
    *,
    run_dispatcher: bool = True,
    default_base_url: str = "http://127.0.0.1:8000",
) -> FastAPI:
    """The app. API answers link to the URL each request came in on (or `public_url` when set); webhook
    bodies, which have no request, link to `public_url` or else `default_base_url`."""
    settings = services.settings
    webhook_renderers = {d.name: d.render_task for d in DIALECTS if d.render_task is not None}
    webhook_base_url = settings.public_url or default_base_url

    def render_webhook(dialect: str, task: Task) -> dict[str, Any]:
        # Links are signed from the event time, so every retry of one event carries the same body.
        links = Links(services.storage, webhook_base_url, settings.download_url_ttl, now=task.updated_at.timestamp())
        renderer = webhook_renderers[dialect]
        return renderer(task, links)

    dispatcher = WebhookDispatcher(services.db, settings, render_webhook)
    sweeper = ExpirySweeper(services.db, services.storage, settings.expiry_sweep_interval, lifecycle=services.lifecycle)
    create_path = CreatePath(services.tasks, services.storage, settings, executor)
    mcp_sessions = mcp_http.session_manager(services, create_path)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        executor.start()
        stop = asyncio.Event()
        background = asyncio.create_task(dispatcher.run(stop)) if run_dispatcher else None
        # Output expiry: each API server deletes expired outputs (reelforge/tasks/expiry.py says why here).
        sweeping = asyncio.create_task(sweeper.run(stop)) if run_dispatcher else None
        try:
            async with mcp_sessions.run():
                yield
        finally:
            stop.set()
            if background:
                await background
            if sweeping:
                await sweeping
            await asyncio.to_thread(executor.stop)
            poll_reads.close()

    app = FastAPI(
        title="reelforge",
        version=__version__,
        description="Self-hosted video-generation API: the AIVideoMaker v1 and AVS public video dialects.",
        lifespan=lifespan,
        docs_url=None,  # /docs and /redoc: api/console/pages.py, from packaged files (no CDN)
        redoc_url=None,
    )
    app.state.services = services
    app.state.executor = executor
    app.state.dispatcher = dispatcher
    app.state.create_path = create_path
    app.state.read_limits = read_limits = ReadLimits(
        settings.query_rate_limit, settings.key_query_rate_limit, settings.rate_limit_storage
    )
    app.state.poll_reads = poll_reads = PollReads(services.db)
    install_error_handlers(app, [(prefix, d.render_error) for d in DIALECTS for prefix in d.prefixes])
    # Added first, so it is the innermost middleware: everything added after it still sees every request.
    fast_reads = tuple(read for dialect in DIALECTS for read in dialect.reads)
    app.add_middleware(FastReads, reads=fast_reads, limits=read_limits, polls=poll_reads)
    app.add_middleware(
        BodyLimitMiddleware,
        max_bytes=settings.max_request_bytes,
        upload_max_bytes=settings.max_upload_bytes,
        upload_prefixes=("/api/v1/videos/",),
    )
    app.state.metrics = metrics.Metrics(services)
    app.add_middleware(metrics.HttpLatencyMiddleware, metrics=app.state.metrics)
    app.add_middleware(RequestIdMiddleware)  # added last: outermost, so even a refused body carries its id
    routers = [system.router, metrics.router, *(router for dialect in DIALECTS for router in dialect.routers)]
    for router in routers:
        app.include_router(router)
    for router in CONSOLE_ROUTERS:  # the web console at /, its API under /api/console, /docs and /redoc
        app.include_router(router)
    app.router.routes.append(Route(mcp_http.PATH, endpoint=mcp_http.MCPEndpoint(services, mcp_sessions, read_limits)))
    openapi_links.install(
        app, [*routers, *CONSOLE_ROUTERS], key_dependency=require_key, token_dependency=require_public_token
    )
    return app
