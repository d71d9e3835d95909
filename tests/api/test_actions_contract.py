"""The actions API in-process (the `api` fixture, no workers): validation and its pointers, refused creates
that keep no upload and take no credit, `Idempotency-Key`, and what `/openapi.json` declares.

Real MP4s for each scene, and generate_and_wait against running workers, are in `test_actions.py`.
"""

from __future__ import annotations

from typing import Any

import pytest
from openapi_spec_validator import validate

from reelforge.config import load_catalog
from reelforge.domain.catalog import CatalogError
from reelforge.domain.request import STORED_PREFIX
from tests.asgi import InProcessApp, in_process_app
from tests.helpers import data_uri, png_bytes

IMAGE = data_uri(png_bytes(64, 48))


class Account:
    """One API key talking to the in-process actions API."""

    def __init__(self, api: InProcessApp, credits: int = 100) -> None:
        self.api = api
        self.key = api.new_key(credits)

    def act(self, name: str, body: Any, **headers: str):  # type: ignore[no-untyped-def]
        return self.api.client.post(
            f"/api/actions/{name}", json=body, headers={"Authorization": f"Bearer {self.key}", **headers}
        )

    def balance(self) -> int:
        return self.api.balance(self.key)


@pytest.fixture
def account(api: InProcessApp) -> Account:
    return Account(api)


def refused(account: Account, response, status: int, code: str, field: str | None = None) -> dict:  # type: ignore[no-untyped-def]
    """`response` is the refusal expected, and left nothing: no upload, no credit, no dispatch."""
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code, error
    if field is not None:
        assert error.get("field") == field, error
    assert account.api.uploads() == []
    assert account.api.executor.dispatched == []
    return error


# ---------------------------------------------------------------- validation


@pytest.mark.parametrize("name", ["ai.video.generate", "ai.video.generate_and_wait"])
@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"scene": "text-to-video"}, "/prompt"),
        ({"prompt": ""}, "/prompt"),
        ({"prompt": "x", "scene": "hologram"}, "/scene"),
        ({"prompt": "x", "options": {"camera_fixed": True}}, "/options/camera_fixed"),
        ({"prompt": "x", "options": {"negativePrompt": "blur"}}, "/options/negativePrompt"),
        ({"prompt": "x", "colour": "red", "imageInput": IMAGE}, "/colour"),
        ({"prompt": "x", "options": {"aspectRatio": "2:1"}}, "/options/aspectRatio"),
        ({"prompt": "x", "options": {"duration": 0}}, "/options/duration"),
        ({"prompt": "x", "scene": "image-to-video"}, "/imageInput"),
        ({"prompt": "x", "scene": "video-to-video"}, "/videoInput"),
        ({"prompt": "x", "scene": "video-to-video", "videoInput": "ftp://example.com/a.mp4"}, "/videoInput/0"),
        ({"prompt": "x", "scene": "ad-video"}, "/imageInput"),
        ({"prompt": "x", "scene": "ad-video", "imageInput": IMAGE}, "/imageInput/0"),
        ({"prompt": "x", "options": {"duration": 7}}, "/options/duration"),
        ({"prompt": "x", "scene": "image-to-video", "imageInput": IMAGE, "options": {"duration": 7}}, None),
        ({"prompt": "x", "scene": "image-to-video", "imageInput": "data:image/png;base64,bm90IGFuIGltYWdl"}, None),
    ],
)
def test_invalid_inputs_are_400_naming_the_field_and_keep_nothing(
    account: Account, name: str, body: dict, field: str | None
) -> None:
    error = refused(account, account.act(name, body), 400, "INVALID_PAYLOAD", field)
    assert error.get("field") and error["message"]
    assert account.balance() == 100


def test_the_model_rules_keep_their_wording(account: Account) -> None:
    error = refused(
        account, account.act("ai.video.generate", {"prompt": "x", "options": {"duration": 7}}), 400, "INVALID_PAYLOAD"
    )
    assert error["message"] == "options.duration must be one of [5, 8] for t2v"
    unknown = refused(account, account.act("ai.video.generate", {"prompt": "x", "model": "nope"}), 400, "INVALID_MODEL")
    assert "Unknown model 'nope'" in unknown["message"]


def test_a_body_that_is_not_json_is_400(account: Account) -> None:
    response = account.api.client.post(
        "/api/actions/ai.video.generate",
        content=b"{not json",
        headers={"Authorization": f"Bearer {account.key}", "content-type": "application/json"},
    )
    refused(account, response, 400, "INVALID_PAYLOAD")


def test_unknown_action_and_auth(account: Account) -> None:
    refused(account, account.act("ai.nope", {"prompt": "x"}), 404, "NOT_FOUND")
    assert account.api.client.get("/api/actions/ai.nope/schema").status_code == 404
    anonymous = account.api.client.post("/api/actions/ai.video.generate", json={"prompt": "x", "imageInput": IMAGE})
    refused(account, anonymous, 401, "AUTH_FAILED")


def test_options_are_checked_against_the_models_own_parameters(account: Account) -> None:
    error = refused(
        account, account.act("ai.video.generate", {"prompt": "x", "options": {"fps": 60}}), 400, "INVALID_PAYLOAD"
    )
    assert error["message"].startswith("options.fps is not a parameter of model t2v; it takes aspectRatio (")
    assert "duration (5 / 8 seconds)" in error["message"] and "seed" in error["message"]
    for name in ("ai.video.generate", "ai.video.generate_and_wait", "ai.video.query"):
        body = {"taskId": "nope"} if name == "ai.video.query" else {"prompt": "x"}
        response = account.act(name, {**body, "timeoutMs": 0})
        assert response.status_code == (404 if name == "ai.video.query" else 200), response.text
        assert (response.json()["error"] or {}).get("code") in (None, "TASK_NOT_FOUND")


def test_provider_and_model_resolve_through_the_catalog(account: Account) -> None:
    """The Modkie document's default pairs (kie / bytedance/seedance-2-mini, kie / wan/2-7-image-to-video) are
    mapped in the built-in catalog; the answer names the pair asked for, the task runs the catalog model."""
    sent = {"prompt": "x", "provider": "kie", "model": "bytedance/seedance-2-mini"}
    answer = account.act("ai.video.generate", sent).json()
    assert (answer["provider"], answer["model"]) == ("kie", "bytedance/seedance-2-mini")
    assert account.api.services.tasks.get(answer["taskId"]).model == "t2v" and account.balance() == 95
    queried = account.act("ai.video.query", {"taskId": answer["taskId"]}).json()
    assert (queried["provider"], queried["model"]) == ("kie", "bytedance/seedance-2-mini")
    alone = account.act("ai.video.generate", {"prompt": "x", "model": "bytedance/seedance-2-mini"}).json()
    assert account.api.services.tasks.get(alone["taskId"]).model == "t2v"
    spent, dispatched = account.balance(), list(account.api.executor.dispatched)

    def unknown_pair(body: dict, field: str) -> str:
        response = account.act("ai.video.generate", body)
        assert response.status_code == 400, response.text
        error = response.json()["error"]
        assert (error["code"], error["field"]) == ("INVALID_MODEL", field)
        assert account.balance() == spent and account.api.executor.dispatched == dispatched
        return error["message"]

    unknown = unknown_pair({**sent, "model": "nope"}, "/model")
    assert unknown.startswith("Unknown provider/model 'kie' / 'nope'; available models: ")
    assert "kie / bytedance/seedance-2-mini (runs t2v)" in unknown and "t2v, " in unknown
    assert "provider 'acme' names no model" in unknown_pair({"prompt": "x", "provider": "acme"}, "/provider")
    assert "Unknown model 'nope'" in unknown_pair({"prompt": "x", "model": "nope"}, "/model")
    default = account.act(
        "ai.video.generate", {"prompt": "x", "provider": "kie", "scene": "image-to-video", "imageInput": IMAGE}
    ).json()
    assert (default["provider"], default["model"]) == ("kie", "wan/2-7-image-to-video")


def test_an_operator_maps_provider_names_and_model_parameters(tmp_path) -> None:  # type: ignore[no-untyped-def]
    models = tmp_path / "models.toml"
    models.write_text(
        '[models.square]\nengine = "draft"\nkind = "text_to_video"\ncredits_per_second = 1\n'
        'durations = [4]\naspect_ratios = ["1:1", "4:3"]\n'
        'provider_names = { kie = ["bytedance/seedance-2-pro"], acme = ["v1"] }\n'
    )
    for api in in_process_app(tmp_path / "data", models_file=models):
        account = Account(api)
        answer = account.act("ai.video.generate", {"prompt": "x", "provider": "acme", "model": "v1"}).json()
        task = api.services.tasks.get(answer["taskId"])
        assert task.model == "square" and (task.request.width, task.request.height, task.request.duration) == (
            720,
            720,
            4,
        )
        wide = account.act("ai.video.generate", {"prompt": "x", "model": "square", "options": {"aspectRatio": "16:9"}})
        assert wide.status_code == 400 and wide.json()["error"]["field"] == "/options/aspectRatio"
        assert wide.json()["error"]["message"] == "options.aspectRatio must be one of 1:1, 4:3 for square, got '16:9'"
        four = account.act(
            "ai.video.generate",
            {"prompt": "x", "provider": "kie", "model": "bytedance/seedance-2-pro", "options": {"aspectRatio": "4:3"}},
        )
        assert four.status_code == 200, four.text
    twice = tmp_path / "twice.toml"
    twice.write_text(
        '[models.a]\nengine = "draft"\nkind = "text_to_video"\nprovider_names = { kie = ["m"] }\n'
        '[models.b]\nengine = "draft"\nkind = "text_to_video"\nprovider_names = { kie = ["m"] }\n'
    )
    with pytest.raises(CatalogError, match="kie / m is claimed by a and b"):
        load_catalog(twice)


# ---------------------------------------------------------------- refused creates


def test_no_credits_is_402_keeping_no_upload(api: InProcessApp) -> None:
    poor = Account(api, credits=1)
    body = {"prompt": "x", "scene": "image-to-video", "imageInput": IMAGE}
    for name in ("ai.video.generate", "ai.video.generate_and_wait"):
        refused(poor, poor.act(name, body), 402, "INSUFFICIENT_CREDITS")
    assert poor.balance() == 1


def test_an_engine_refusal_keeps_no_upload(short_engine: InProcessApp) -> None:
    account = Account(short_engine)
    body = {"prompt": "x", "scene": "image-to-video", "imageInput": IMAGE, "options": {"duration": 5}}
    error = refused(account, account.act("ai.video.generate", body), 400, "INVALID_PAYLOAD", "/duration")
    assert "at most 3" in error["message"] and account.balance() == 100


# ---------------------------------------------------------------- accepted creates and idempotency


def test_image_to_video_stores_the_data_uri_and_echoes_it_elided(account: Account) -> None:
    response = account.act("ai.video.generate", {"prompt": "x", "scene": "image-to-video", "imageInput": IMAGE})
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["status"] == "queued" and answer["model"] == "i2v" and answer["provider"] == "reelforge"
    assert len(account.api.uploads()) == 1 and account.balance() == 95
    task = account.api.services.tasks.get(answer["taskId"])
    assert task.request.images[0].source.startswith(STORED_PREFIX)
    assert task.input["imageInput"][0].startswith("data:image/png;base64,<")
    assert account.api.executor.dispatched == [answer["taskId"]]
    query = account.act("ai.video.query", {"taskId": answer["taskId"]})
    assert query.status_code == 200 and query.json()["taskId"] == answer["taskId"]


def test_query_errors(account: Account) -> None:
    refused(account, account.act("ai.video.query", {"taskId": "nope"}), 404, "TASK_NOT_FOUND")
    refused(account, account.act("ai.video.query", {}), 400, "INVALID_PAYLOAD", "/taskId")


def test_generate_and_wait_answers_the_queued_task_when_time_runs_out(account: Account) -> None:
    response = account.act("ai.video.generate_and_wait", {"prompt": "x", "timeoutMs": 200})
    assert response.status_code == 200 and response.json()["status"] == "queued"


def test_idempotency_key_returns_the_first_task_and_refuses_a_reuse(account: Account) -> None:
    body = {"prompt": "x", "scene": "image-to-video", "imageInput": IMAGE}
    first = account.act("ai.video.generate", body, **{"Idempotency-Key": "k1"})
    assert first.status_code == 200, first.text
    stored, after_first = account.api.uploads(), account.balance()
    assert len(stored) == 1 and after_first == 95
    again = account.act("ai.video.generate", body, **{"Idempotency-Key": "k1"})
    assert again.status_code == 200 and again.json()["taskId"] == first.json()["taskId"]
    waited = account.act("ai.video.generate_and_wait", {**body, "timeoutMs": 0}, **{"Idempotency-Key": "k1"})
    assert waited.status_code == 200 and waited.json()["taskId"] == first.json()["taskId"]
    conflict = account.act("ai.video.generate", {**body, "prompt": "y"}, **{"Idempotency-Key": "k1"})
    assert conflict.status_code == 409 and conflict.json()["error"]["code"] == "IDEMPOTENCY_CONFLICT"
    assert account.api.uploads() == stored and account.balance() == after_first  # repeats stored nothing
    assert set(account.api.executor.dispatched) == {first.json()["taskId"]}


def test_a_bad_idempotency_key_is_400(account: Account) -> None:
    response = account.act("ai.video.generate", {"prompt": "x", "imageInput": IMAGE}, **{"Idempotency-Key": " "})
    refused(account, response, 400, "INVALID_PAYLOAD", "Idempotency-Key")


# ---------------------------------------------------------------- schemas and OpenAPI


def test_list_and_schemas(api: InProcessApp) -> None:
    names = [a["name"] for a in api.client.get("/api/actions").json()["actions"]]
    assert names == ["ai.video.generate", "ai.video.query", "ai.video.generate_and_wait"]
    schema = api.client.get("/api/actions/ai.video.generate_and_wait/schema").json()
    assert schema["input"]["properties"]["scene"]["enum"] == [
        "text-to-video",
        "image-to-video",
        "video-to-video",
        "ad-video",
    ]
    assert "timeoutMs" in schema["input"]["properties"] and "videoUrl" in schema["output"]["properties"]


def test_openapi_declares_the_action_bodies_and_errors(api: InProcessApp) -> None:
    openapi = api.client.get("/openapi.json").json()
    validate(openapi)
    schemas = openapi["components"]["schemas"]

    def schema_of(content: dict) -> dict:
        ref = content["application/json"]["schema"]["$ref"]
        assert ref.startswith("#/components/schemas/")
        return schemas[ref.removeprefix("#/components/schemas/")]

    for name, required, extra in (
        ("ai.video.generate", "prompt", "imageInput"),
        ("ai.video.generate_and_wait", "prompt", "timeoutMs"),
        ("ai.video.query", "taskId", "taskId"),
    ):
        operation = openapi["paths"][f"/api/actions/{name}"]["post"]
        body = schema_of(operation["requestBody"]["content"])
        assert required in body["required"] and extra in body["properties"]
        assert operation["requestBody"]["required"] is True
        answer = schema_of(operation["responses"]["200"]["content"])
        assert {"taskId", "status", "videoUrl", "url", "provider", "model"} <= set(answer["properties"])
        statuses = ("400", "401", "402", "409") if name != "ai.video.query" else ("400", "401", "404")
        for status in statuses:
            error = schema_of(operation["responses"][status]["content"])
            assert error["properties"]["error"]["$ref"].endswith("ActionsErrorDetail")
        assert "422" not in operation["responses"]  # a body that fails validation is a 400
    generate = schema_of(openapi["paths"]["/api/actions/ai.video.generate"]["post"]["requestBody"]["content"])
    assert "timeoutMs" in generate["properties"]  # accepted on every action (the Modkie CLI sends it)
    assert "/api/actions/{name}/schema" in openapi["paths"]


def test_image_to_video_with_several_images_uses_every_one(account: Account) -> None:
    """Extra images were dropped silently; now two or more make a multi-image video (none is lost)."""
    second = data_uri(png_bytes(64, 48, seed=2))
    response = account.act(
        "ai.video.generate", {"prompt": "x", "scene": "image-to-video", "imageInput": [IMAGE, second]}
    )
    assert response.status_code == 200, response.text
    task = account.api.services.tasks.get(response.json()["taskId"])
    assert task.request.kind == "multi_image" and len(task.request.images) == 2
    assert len(account.api.uploads()) == 2
