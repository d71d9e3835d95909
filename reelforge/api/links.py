"""Links for an HTTP request: to the URL the request came in on, or to `public_url` when one is set."""

from __future__ import annotations

from fastapi import Request

from reelforge.edge.links import Links


def base_url_of(request: Request) -> str:
    configured = request.app.state.services.settings.public_url
    return configured or str(request.base_url)


def links_for(request: Request) -> Links:
    services = request.app.state.services
    return Links(services.storage, base_url_of(request), services.settings.download_url_ttl)
