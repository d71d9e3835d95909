"""What `/openapi.json` says beyond each route: who must authenticate, and how the operations chain.

- **Security**: every route that depends on the API key (`require_key`) declares the `key` header or a Bearer
  API key; every AVS video and job route (`require_public_token`) a Bearer `avs.` token. Read from each route's
  dependencies, so a new route is declared by what it does, not by a list to keep in step.
- **Links** (OpenAPI 3 `links`): from each create to the reads, content, cancel and delete of what it made, so
  a client generator or a stateful fuzzer (Schemathesis, `tests/test_schema_fuzz.py`) can follow
  create -> get -> content -> delete without guessing ids.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

SCHEMES: dict[str, dict[str, Any]] = {
    "KeyHeader": {"type": "apiKey", "in": "header", "name": "key", "description": "An API key (rf_...)"},
    "BearerKey": {"type": "http", "scheme": "bearer", "description": "An API key (rf_...) as a Bearer token"},
    "AvsToken": {"type": "http", "scheme": "bearer", "description": "An AVS public-API token (avs.<id>.<secret>)"},
}

LINKS: tuple[tuple[str, str, str, str, dict[str, str]], ...] = (
    # (from: "METHOD path", status, link name, to: "METHOD path", parameters)
    ("POST /api/v1/generate/{model}", "200", "GetTask", "GET /api/v1/tasks/{task_id}", {"task_id": "taskId"}),
    ("POST /api/v1/generate/{model}", "200", "GetStatus", "GET /api/v1/tasks/{task_id}/status", {"task_id": "taskId"}),
    ("POST /api/v1/generate/{model}", "200", "Cancel", "PUT /api/v1/tasks/{task_id}/cancel", {"task_id": "taskId"}),
    ("POST /v1/videos", "200", "GetVideo", "GET /v1/videos/{video_id}", {"video_id": "id"}),
    ("POST /v1/videos", "200", "GetContent", "GET /v1/videos/{video_id}/content", {"video_id": "id"}),
    ("POST /v1/videos", "200", "Remix", "POST /v1/videos/{video_id}/remix", {"video_id": "id"}),
    ("POST /v1/videos", "200", "Delete", "DELETE /v1/videos/{video_id}", {"video_id": "id"}),
    ("POST /v1/videos/{video_id}/remix", "200", "GetRemix", "GET /v1/videos/{video_id}", {"video_id": "id"}),
    ("POST /v1/videos/{video_id}/remix", "200", "DeleteRemix", "DELETE /v1/videos/{video_id}", {"video_id": "id"}),
    ("POST /api/v1/videos/from-json", "202", "GetJob", "GET /api/v1/jobs/{job_id}", {"job_id": "jobId"}),
    ("POST /api/v1/videos/from-prompt", "202", "GetJob", "GET /api/v1/jobs/{job_id}", {"job_id": "jobId"}),
    ("POST /api/v1/tokens", "201", "Rotate", "POST /api/v1/tokens/{token_id}/rotate", {"token_id": "tokenId"}),
    ("POST /api/v1/tokens", "201", "Revoke", "DELETE /api/v1/tokens/{token_id}", {"token_id": "tokenId"}),
)


def _calls(dependant: Dependant) -> Iterable[Callable[..., Any]]:
    for dependency in dependant.dependencies:
        if dependency.call is not None:
            yield dependency.call
        yield from _calls(dependency)


def install(
    app: FastAPI,
    routers: Iterable[APIRouter],
    key_dependency: Callable[..., Any],
    token_dependency: Callable[..., Any],
) -> None:
    """Make `app.openapi()` declare security (from the dependencies of each route of `routers`, the routers the
    app includes at its root) and the links in `LINKS`."""
    routes = [route for router in routers for route in router.routes if isinstance(route, APIRoute)]
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = build()
        schema.setdefault("components", {})["securitySchemes"] = SCHEMES
        paths = schema.get("paths", {})
        for route in routes:
            if route.path_format not in paths:
                continue
            calls = set(_calls(route.dependant))
            security: list[dict[str, list[str]]]
            if token_dependency in calls:
                security = [{"AvsToken": []}]
            elif key_dependency in calls:
                security = [{"KeyHeader": []}, {"BearerKey": []}]
            else:
                continue
            for method in route.methods or ():
                operation = paths[route.path_format].get(method.lower())
                if operation is not None:
                    operation["security"] = security
        for source, status, name, target, parameters in LINKS:
            origin, destination = _operation(paths, source), _operation(paths, target)
            if origin is None or destination is None or "operationId" not in destination:
                continue  # a route another change renamed: the link is dropped rather than left dangling
            response = origin.get("responses", {}).get(status)
            if response is None:
                continue
            response.setdefault("links", {})[name] = {
                "operationId": destination["operationId"],
                "parameters": {param: f"$response.body#/{field}" for param, field in parameters.items()},
            }
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _operation(paths: dict[str, Any], spec: str) -> dict[str, Any] | None:
    method, path = spec.split(" ", 1)
    found = paths.get(path, {}).get(method.lower())
    return found if isinstance(found, dict) else None
