"""The FastAPI application factory.

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
from reelforge.api import system
from reelforge.api.body_limit import BodyLimitMiddleware
from reelforge.api.dialects import WEBHOOK_RENDERERS, actions, aivideomaker, avs, avs_tokens, openai_videos
from reelforge.api.errors import install_error_handlers
from reelforge.api.ratelimit import QueryRateLimit
from reelforge.domain.task import Task
from reelforge.edge.links import Links
from reelforge.mcp import http as mcp_http
from reelforge.runtime.executor import Executor
from reelforge.services import Services
from reelforge.tasks.expiry import ExpirySweeper
from reelforge.webhooks.dispatcher import WebhookDispatcher

log = logging.getLogger(__name__)


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
    webhook_base_url = settings.public_url or default_base_url

    def render_webhook(dialect: str, task: Task) -> dict[str, Any]:
        # Links are signed from the event time, so every retry of one event carries the same body.
        links = Links(services.storage, webhook_base_url, settings.download_url_ttl, now=task.updated_at.timestamp())
        return WEBHOOK_RENDERERS[dialect](task, links)

    dispatcher = WebhookDispatcher(services.db, settings, render_webhook)
    sweeper = ExpirySweeper(services.db, services.storage, settings.expiry_sweep_interval)
    mcp_sessions = mcp_http.session_manager(services, executor)

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

    app = FastAPI(
        title="reelforge",
        version=__version__,
        description="Self-hosted video-generation API: the AIVideoMaker v1 and AVS public video dialects.",
        lifespan=lifespan,
    )
    app.state.services = services
    app.state.executor = executor
    app.state.dispatcher = dispatcher
    install_error_handlers(app)
    app.add_middleware(
        BodyLimitMiddleware,
        max_bytes=settings.max_request_bytes,
        upload_max_bytes=settings.max_upload_bytes,
        upload_prefixes=("/api/v1/videos/",),
    )
    app.include_router(system.router)
    query_limit = QueryRateLimit(settings.query_rate_limit, settings.rate_limit_storage)
    app.include_router(aivideomaker.build_router(query_limit))
    app.include_router(avs.router)
    app.include_router(avs_tokens.router)
    app.include_router(openai_videos.router)
    app.include_router(actions.router)
    app.router.routes.append(Route(mcp_http.PATH, endpoint=mcp_http.MCPEndpoint(services, mcp_sessions)))
    return app
