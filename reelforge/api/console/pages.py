"""The pages: the console at `/` (its files under `/console/`), Swagger UI at `/docs` and ReDoc at `/redoc`.

Swagger UI's and ReDoc's files come from the `fastapi-offline` package (PyPI), not a CDN, so the API
reference works on a machine without internet. None of these pages is in `/openapi.json`: they are HTML
for people, not API.
"""

from __future__ import annotations

import functools
from pathlib import Path

import fastapi_offline
from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from reelforge.console import STATIC_DIR
from reelforge.domain.errors import ErrorCode, ReelforgeError

DOCS_ASSETS = Path(fastapi_offline.__file__).parent / "static"
"""swagger-ui-bundle.js, swagger-ui.css, redoc.standalone.js and favicon.png, as the package ships them."""
ASSETS_URL = "/docs/assets"
TYPES = {
    ".js": "text/javascript",
    ".css": "text/css",
    ".html": "text/html",
    ".png": "image/png",
    ".svg": "image/svg+xml",
}
CSP = (
    "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; style-src 'self' 'unsafe-inline'; "
    "script-src 'self' 'unsafe-inline' blob:; worker-src 'self' blob:; connect-src 'self'; font-src 'self' data:; "
    "frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
)
"""Nothing but this server: ReDoc's footer logo (a CDN image) is blocked, and an injected script could not
send a key anywhere. Inline scripts are allowed for Swagger UI's and ReDoc's start-up snippets."""
PAGE_HEADERS = {"content-security-policy": CSP, "x-content-type-options": "nosniff", "referrer-policy": "no-referrer"}
NO_CACHE = {"cache-control": "no-cache"}
"""Revalidate every time: a server upgraded in place serves its new console at once."""

router = APIRouter(include_in_schema=False)


def _file(root: Path, name: str) -> Response:
    """`root/name`, never a file outside `root` (no `..`, no absolute paths): 404 otherwise."""
    path = (root / name).resolve()
    if not path.is_relative_to(root.resolve()) or not path.is_file():
        raise ReelforgeError(ErrorCode.NOT_FOUND, f"No file {name!r}")
    return FileResponse(path, media_type=TYPES.get(path.suffix, "application/octet-stream"), headers=NO_CACHE)


@router.get("/")
async def console_index() -> Response:
    response = _file(STATIC_DIR, "index.html")
    response.headers.update(PAGE_HEADERS)
    return response


@router.get("/console")
async def console_root() -> Response:
    return RedirectResponse("/", status_code=307)


@router.get("/console/{name:path}")
async def console_file(name: str) -> Response:
    return _file(STATIC_DIR, name)


@router.get("/favicon.ico")
async def favicon() -> Response:
    return _file(STATIC_DIR, "favicon.svg")


@router.get("/docs")
async def swagger_ui(request: Request) -> HTMLResponse:
    root = request.scope.get("root_path", "")
    page = get_swagger_ui_html(
        openapi_url=f"{root}{request.app.openapi_url}",
        title=f"{request.app.title} - Swagger UI",
        swagger_js_url=f"{root}{ASSETS_URL}/swagger-ui-bundle.js",
        swagger_css_url=f"{root}{ASSETS_URL}/swagger-ui.css",
        swagger_favicon_url=f"{root}{ASSETS_URL}/favicon.png",
    )
    page.headers.update(PAGE_HEADERS)
    return page


@router.get("/redoc")
async def redoc(request: Request) -> HTMLResponse:
    root = request.scope.get("root_path", "")
    page = get_redoc_html(
        openapi_url=f"{root}{request.app.openapi_url}",
        title=f"{request.app.title} - ReDoc",
        redoc_js_url=f"{root}{ASSETS_URL}/redoc.standalone.js",
        redoc_favicon_url=f"{root}{ASSETS_URL}/favicon.png",
        with_google_fonts=False,
    )
    page.headers.update(PAGE_HEADERS)
    return page


REDOC_JS = "redoc.standalone.js"
REDOC_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"
"""ReDoc's footer loads its logo from a CDN; the served copy points at the packaged favicon instead."""


@functools.cache
def _redoc_js() -> bytes:
    return (DOCS_ASSETS / REDOC_JS).read_bytes().replace(REDOC_LOGO.encode(), f"{ASSETS_URL}/favicon.png".encode())


@router.get(ASSETS_URL + "/{name}")
async def docs_asset(name: str) -> Response:
    if name == REDOC_JS:
        return Response(_redoc_js(), media_type=TYPES[".js"], headers=NO_CACHE)
    return _file(DOCS_ASSETS, name)
