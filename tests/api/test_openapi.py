"""`/openapi.json` of the whole app (every dialect) is a valid OpenAPI document and declares what each create
endpoint takes and answers, so `/docs`, generated clients and schema-driven fuzzing see every request."""

from __future__ import annotations

from typing import Any

import pytest
from openapi_spec_validator import validate

from tests.asgi import InProcessApp

CREATES = [
    "/api/v1/generate/{model}",  # AIVideoMaker
    "/api/v1/videos/from-prompt",  # AVS
    "/api/v1/videos/from-json",  # AVS
    "/v1/videos",  # OpenAI videos / Agnes
    "/v1/videos/{video_id}/remix",
]
ACTION_CREATES = ["ai.video.generate", "ai.video.generate_and_wait"]  # the actions API's creates


@pytest.fixture
def spec(api: InProcessApp) -> dict[str, Any]:
    response = api.client.get("/openapi.json")
    assert response.status_code == 200
    return response.json()


def _resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].removeprefix("#/components/schemas/")
        schema = spec["components"]["schemas"][name]
    return schema


def _declares_fields(spec: dict[str, Any], schema: dict[str, Any]) -> bool:
    """An object schema with properties, or a choice (anyOf/oneOf) of such: not `{}` or a bare `object`."""
    schema = _resolve(spec, schema)
    choices = schema.get("anyOf") or schema.get("oneOf")
    if choices:
        return all(_declares_fields(spec, choice) for choice in choices)
    return bool(schema.get("properties"))


def action_creates(spec: dict[str, Any]) -> list[str]:
    """Per-action routes when the actions API declares them, else its one `/api/actions/{name}` route."""
    per_action = [f"/api/actions/{name}" for name in ACTION_CREATES if f"/api/actions/{name}" in spec["paths"]]
    return per_action or ["/api/actions/{name}"]


def create_operations(spec: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    paths = [*CREATES, *action_creates(spec)]
    missing = [path for path in paths if "post" not in spec["paths"].get(path, {})]
    assert missing == [], f"no POST declared for {missing}"
    return [(path, spec["paths"][path]["post"]) for path in paths]


def test_the_document_passes_the_openapi_validator(spec: dict[str, Any]) -> None:
    validate(spec)
    assert spec["openapi"].startswith("3.")


def test_every_create_endpoint_declares_its_request_body(spec: dict[str, Any]) -> None:
    undeclared = []
    for path, operation in create_operations(spec):
        content = operation.get("requestBody", {}).get("content", {})
        if "application/json" not in content:
            undeclared.append(f"{path}: no JSON requestBody")
            continue
        for media_type, body in content.items():
            if not _declares_fields(spec, body.get("schema", {})):
                undeclared.append(f"{path}: {media_type} body has no fields")
    assert undeclared == [], "create endpoints without a declared body:\n" + "\n".join(undeclared)


def test_every_create_endpoint_declares_its_errors(spec: dict[str, Any]) -> None:
    """400 (bad body), 401 (no key), 402 (no credits), each with the dialect's error body as a schema."""
    lacking = []
    for path, operation in create_operations(spec):
        responses = operation.get("responses", {})
        for status in ("400", "401", "402"):
            schema = responses.get(status, {}).get("content", {}).get("application/json", {}).get("schema")
            if not schema:
                lacking.append(f"{path}: {status}")
    assert lacking == [], "create endpoints missing an error response:\n" + "\n".join(lacking)


def test_no_create_endpoint_declares_fastapis_422(spec: dict[str, Any]) -> None:
    """A body that fails validation is answered 400 INVALID_PAYLOAD (api/errors.py), never 422."""
    declared = [path for path, operation in create_operations(spec) if "422" in operation.get("responses", {})]
    assert declared == [], f"these declare a 422 the app never sends: {declared}"


@pytest.mark.parametrize(
    ("url", "declared_as"),
    [
        ("/api/v1/generate/t2v", "/api/v1/generate/{model}"),
        ("/v1/videos", "/v1/videos"),
        ("/v1/videos/video_nope/remix", "/v1/videos/{video_id}/remix"),
        *[(f"/api/actions/{name}", f"/api/actions/{name}") for name in ACTION_CREATES],
    ],
)
def test_a_bad_create_body_is_answered_as_declared(
    api: InProcessApp, spec: dict[str, Any], url: str, declared_as: str
) -> None:
    """What the document says about a bad body matches what the app does: a 400, never a 422."""
    secret = api.new_key(credits=100)
    headers = {"key": secret, "authorization": f"Bearer {secret}"}
    response = api.client.post(url, headers=headers, json={"prompt": 5, "duration": [], "seconds": {}})
    assert response.status_code == 400, response.text
    declared = spec["paths"].get(declared_as) or spec["paths"]["/api/actions/{name}"]
    assert "400" in declared["post"]["responses"]
