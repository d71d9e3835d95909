"""The web console's HTTP side: the endpoints no dialect has (session, catalog with prices, tasks across
dialects, ledger, webhook deliveries, operators' admin) and the pages themselves (`/`, `/docs`, `/redoc`).

Every `/api/console/...` route is declared in `/openapi.json`, authenticated with an API key like the
dialects, and scoped to that key: another key's task, delivery or ledger row answers 404, as if it did
not exist. The admin routes need an admin key (`reelforge keys create --admin`, or the dev key).
"""

from __future__ import annotations

from fastapi import APIRouter

from reelforge.api.console import account, admin, catalog, pages, session, tasks

CONSOLE_ROUTERS: tuple[APIRouter, ...] = (
    session.router,
    catalog.router,
    tasks.router,
    account.router,
    admin.router,
    pages.router,
)
"""What the composition root includes: the API routes, then the pages (`/`, `/console/*`, `/docs`, `/redoc`)."""

__all__ = ["CONSOLE_ROUTERS"]
