"""The AIVideoMaker v1 contract in-process (the `api` fixture, no workers): validation and its wording, error
shapes, refused creates leaving nothing behind, idempotency, credits, listing, cancel, rate limits and the
OpenAPI declaration. Real MP4s, workers and real HTTP stay in `test_aivideomaker.py`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from openapi_spec_validator import validate

from reelforge.accounts import ledger
from reelforge.api.dialects.aivideomaker.protocol import AIVideoMakerError, AIVideoMakerTask
from tests.asgi import InProcessApp, in_process_app
from tests.helpers import data_uri, png_bytes

T2V = {"prompt": "A cinematic sunset over a futuristic city skyline", "aspectRatio": "16:9", "duration": "5"}
GENERATE = "/api/v1/generate"


def create(
    api: InProcessApp, model: str, body: Any, key: str, headers: dict[str, str] | None = None
) -> Any:  # an httpx.Response
    return api.client.post(f"{GENERATE}/{model}", json=body, headers={"key": key, **(headers or {})})


def debits(api: InProcessApp, secret: str, task_id: str) -> list[int]:
    with api.services.db.read() as conn:
        entries = ledger.entries(conn, api.key_id(secret))
    return [e["amount"] for e in entries if e["reason"] == "debit" and e["task_id"] == task_id]


def image() -> str:
    return data_uri(png_bytes(64, 64))


# ---------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("model", "body", "field", "message"),
    [
        ("t2v", {"aspectRatio": "16:9", "duration": "5"}, "/prompt", "prompt is required: a text describing the video"),
        ("t2v", {**T2V, "prompt": "   "}, "/prompt", "prompt is required: a text describing the video"),
        ("t2v", {**T2V, "prompt": "x" * 2001}, "/prompt", "prompt is longer than 2000 characters"),
        (
            "t2v",
            {"prompt": "x", "aspectRatio": "4:3", "duration": "5"},
            "/aspectRatio",
            "aspectRatio must be one of 16:9 / 9:16 / 1:1, got '4:3'",
        ),
        (
            "t2v",
            {"prompt": "x", "duration": "5"},
            "/aspectRatio",
            "aspectRatio is required: one of 16:9 / 9:16 / 1:1",
        ),
        (
            "t2v",
            {"prompt": "x", "aspectRatio": "16:9", "duration": "10"},
            "/duration",
            "duration must be one of 5 / 8 for model t2v, got '10'",
        ),
        (
            "t2v",
            {"prompt": "x", "aspectRatio": "16:9"},
            "/duration",
            "duration is required: one of 5 / 8 (seconds, as a string)",
        ),
        ("t2v", {**T2V, "duration": True}, "/duration", "duration must be one of 5 / 8 for model t2v, got True"),
        ("t2v", {**T2V, "duration": 5.5}, "/duration", "duration must be one of 5 / 8 for model t2v, got 5.5"),
        (
            "t2v_v3",
            {"prompt": "x", "aspectRatio": "16:9", "duration": "8"},
            "/duration",
            "duration must be one of 5 / 10 / 15 / 20 for model t2v_v3, got '8'",
        ),
        ("t2v", {**T2V, "seed": -1}, "/seed", "seed must be a non-negative integer"),
        ("t2v", {**T2V, "seed": "7"}, "/seed", "seed must be a non-negative integer"),
        (
            "i2v",
            {"duration": "5"},
            "/image",
            "image is required: an http(s) image URL or data:image/...;base64,...",
        ),
        (
            "i2v",
            {"image": 5, "duration": "5"},
            "/image",
            "/image must be an http(s) image URL or a data:image/...;base64,... URI",
        ),
        ("i2v", {"image": "ftp://example.com/a.png", "duration": "5"}, "/image", None),
        ("i2v", {"image": "data:image/png;base64,!!!", "duration": "5"}, "/image", None),
        ("i2v", {"image": "data:text/plain;base64,aGVsbG8=", "duration": "5"}, "/image", None),
        (
            "i2v",
            {"image": "data:image/png;base64,aGVsbG8=", "duration": "5"},
            "/image",
            "/image: the data URI does not hold a readable image: it is not an image Pillow can read; "
            "send a PNG, JPEG, WebP or GIF file",
        ),
        ("i2v", {"image": image(), "duration": "5", "prompt": 3}, "/prompt", "prompt must be a string or null"),
        (
            "i2v",
            {"image": image(), "duration": "5", "aspectRatio": "2:1"},
            "/aspectRatio",
            "aspectRatio must be one of 16:9 / 9:16 / 1:1, got '2:1'",
        ),
        (
            "i2v_v3",
            {"image": image(), "duration": "8"},
            "/duration",
            "duration must be one of 5 / 10 / 15 / 20 for model i2v_v3, got '8'",
        ),
        (
            "lv",
            {"image": image(), "prompt": "not a list"},
            "/prompt",
            "prompt must be an array of 1 to 6 segment prompts",
        ),
        ("lv", {"image": image(), "prompt": []}, "/prompt", "prompt must be an array of 1 to 6 segment prompts"),
        ("lv", {"image": image(), "prompt": ["a"] * 7}, "/prompt", "prompt has 7 items; at most 6 are allowed"),
        ("lv", {"image": image(), "prompt": ["a", ""]}, "/prompt/1", "each segment prompt must be a non-empty string"),
        (
            "lv",
            {"image": image(), "prompt": ["a", "b", "x" * 2001]},
            "/prompt/2",
            "segment prompt is longer than 2000 characters",
        ),
        ("lv", {"prompt": ["a"]}, "/image", "image is required: an http(s) image URL or data:image/...;base64,..."),
    ],
)
def test_invalid_payloads_are_400_with_the_field_and_nothing_stored_or_charged(
    api: InProcessApp, model: str, body: dict, field: str, message: str | None
) -> None:
    key = api.new_key(1000)
    response = create(api, model, body, key)
    assert response.status_code == 400, response.text
    error = response.json()
    assert error["status"] == "FAILED" and error["code"] == "INVALID_PAYLOAD"
    assert error["field"] == field
    assert error["message"] == message if message else error["message"]
    assert api.uploads() == [] and api.balance(key) == 1000
    assert api.executor.dispatched == []


def test_model_and_body_errors(api: InProcessApp) -> None:
    key = api.new_key()
    unknown = create(api, "sora-9", T2V, key)
    assert unknown.status_code == 400 and unknown.json()["code"] == "INVALID_MODEL"
    assert "t2v" in unknown.json()["message"]  # says what exists
    # a model of another contract is not served here
    other = create(api, "avs-json", T2V, key)
    assert other.status_code == 400 and other.json()["code"] == "INVALID_MODEL"
    # the unknown model is named before the body is looked at
    both = api.client.post(f"{GENERATE}/sora-9", content=b"{not json", headers={"key": key})
    assert both.json()["code"] == "INVALID_MODEL"
    broken = api.client.post(
        f"{GENERATE}/t2v", content=b"{not json", headers={"key": key, "content-type": "application/json"}
    )
    assert broken.status_code == 400
    assert broken.json() == {
        "status": "FAILED",
        "message": "the request body must be valid JSON",
        "code": "INVALID_PAYLOAD",
    }
    not_object = create(api, "t2v", ["a"], key)
    assert not_object.status_code == 400 and not_object.json()["message"] == "the request body must be a JSON object"
    private_hook = create(api, "t2v", T2V, key, headers={"webhookUrl": "ftp://nowhere"})
    assert private_hook.status_code == 400 and private_hook.json()["field"] == "webhookUrl"
    bad_key = create(api, "t2v", T2V, key, headers={"Idempotency-Key": "x" * 201})
    assert bad_key.status_code == 400 and bad_key.json()["field"] == "Idempotency-Key"
    assert api.balance(key) == 100


def test_any_content_type_is_read_as_json_and_extra_fields_are_ignored(api: InProcessApp) -> None:
    key = api.new_key()
    sloppy = api.client.post(
        f"{GENERATE}/t2v",
        content=json.dumps({**T2V, "junk": {"deep": [1, 2]}}),
        headers={"key": key, "content-type": "application/x-www-form-urlencoded"},  # what `curl -d` sends
    )
    assert sloppy.status_code == 200, sloppy.text
    numeric = create(api, "t2v", {**T2V, "duration": 8}, key)  # duration as a number
    assert numeric.status_code == 200, numeric.text
    assert api.balance(key) == 100 - 5 - 8


def test_auth_errors_are_401_in_the_contract_shape_and_never_echo_the_key(api: InProcessApp) -> None:
    missing = api.client.post(f"{GENERATE}/t2v", json=T2V)
    assert missing.status_code == 401 and missing.json() == {
        "status": "FAILED",
        "message": missing.json()["message"],
        "code": "AUTH_FAILED",
    }
    wrong = create(api, "t2v", T2V, "rf_not-a-real-key-123")
    assert wrong.status_code == 401 and "rf_not-a-real-key-123" not in wrong.text
    for path in ("/api/v1/tasks", "/api/v1/tasks/ck1", "/api/v1/tasks/ck1/status"):
        assert api.client.get(path, headers={"key": "nope"}).status_code == 401
    assert api.client.put("/api/v1/tasks/ck1/cancel", headers={"key": "nope"}).status_code == 401
    # a bad body with a bad key is a 401, not a 400
    assert api.client.post(f"{GENERATE}/t2v", content=b"{", headers={"key": "nope"}).status_code == 401


# -------------------------------------------------- refused creates leave nothing


def test_insufficient_credits_is_402_and_leaves_no_upload_and_no_task(api: InProcessApp) -> None:
    poor = api.new_key(credits=7)
    response = create(api, "t2v", {**T2V, "duration": "8"}, poor)
    assert response.status_code == 402
    assert response.json() == {"status": "FAILED", "message": "Insufficient credits", "code": "INSUFFICIENT_CREDITS"}
    for model, body in [
        ("i2v", {"image": image(), "duration": "8"}),
        ("lv", {"image": image(), "prompt": ["a harbour"]}),
        ("i2v_v3", {"image": image(), "duration": "5"}),
    ]:
        refused = create(api, model, body, poor)
        assert refused.status_code == 402, (model, refused.text)
        assert api.uploads() == [], model  # the data URI was stored, then deleted with the refusal
    assert api.balance(poor) == 7
    assert api.client.get("/api/v1/tasks", headers={"key": poor}).json() == {"tasks": []}
    assert api.executor.dispatched == []


def test_idempotency_conflict_is_409_and_leaves_no_upload(api: InProcessApp) -> None:
    key = api.new_key(credits=50)
    headers = {"Idempotency-Key": "order-1"}
    first = create(api, "i2v", {"image": image(), "duration": "5"}, key, headers)
    assert first.status_code == 200, first.text
    stored = api.uploads()
    assert len(stored) == 1
    other = data_uri(png_bytes(64, 64, seed=9))
    conflict = create(api, "i2v", {"image": other, "duration": "5"}, key, headers)
    assert conflict.status_code == 409
    assert conflict.json()["code"] == "IDEMPOTENCY_CONFLICT" and conflict.json()["status"] == "FAILED"
    assert api.uploads() == stored  # the second image is gone, the first task's is kept
    assert api.balance(key) == 45


def test_a_bad_webhook_url_is_refused_before_the_image_is_stored(api: InProcessApp) -> None:
    key = api.new_key()
    response = create(api, "i2v", {"image": image(), "duration": "5"}, key, headers={"webhookUrl": "not a url"})
    assert response.status_code == 400 and response.json()["field"] == "webhookUrl"
    assert api.uploads() == [] and api.balance(key) == 100


@pytest.fixture
def tall_api(tmp_path: Path) -> Iterator[InProcessApp]:
    """A catalog whose i2v renders taller than the draft engine allows: the engine refuses at submit."""
    models = tmp_path / "models.toml"
    models.write_text(
        '[models.i2v]\nengine = "draft"\nkind = "image_to_video"\ncredits_per_second = 1\n'
        "durations = [5, 8]\nheight = 3000\n"
    )
    yield from in_process_app(tmp_path / "data", models_file=models)


def test_an_engine_refusal_is_400_and_leaves_no_upload(tall_api: InProcessApp) -> None:
    key = tall_api.new_key()
    response = create(tall_api, "i2v", {"image": image(), "duration": "5", "aspectRatio": "16:9"}, key)
    assert response.status_code == 400, response.text
    assert response.json()["status"] == "FAILED" and response.json()["code"] == "INVALID_PAYLOAD"
    assert tall_api.uploads() == [] and tall_api.balance(key) == 100


# ------------------------------------------------------------ creates, credits


def test_credit_costs_follow_the_contract(api: InProcessApp) -> None:
    key = api.new_key(credits=1000)
    cases = [
        ("t2v", {**T2V, "duration": "8"}, 8),
        ("i2v", {"image": image(), "duration": "5"}, 5),
        ("lv", {"image": image(), "prompt": ["a", "b", "c"]}, 3 * 5 * 15),
        ("t2v_v3", {**T2V, "duration": "10"}, 100),
        ("i2v_v3", {"image": image(), "duration": "5"}, 50),
    ]
    spent = 0
    for model, body, cost in cases:
        response = create(api, model, body, key)
        assert response.status_code == 200, response.text
        task_id = response.json()["taskId"]
        assert debits(api, key, task_id) == [-cost], model
        assert task_id in api.executor.dispatched  # dispatched by the create path, after the commit
        spent += cost
    assert api.balance(key) == 1000 - spent


def test_create_answer_links_and_the_request_made(api: InProcessApp) -> None:
    key = api.new_key(1000)
    response = create(api, "t2v", {**T2V, "aspectRatio": "9:16", "seed": 11}, key)
    assert response.status_code == 200, response.text
    body = response.json()
    task_id = body["taskId"]
    base = "http://testserver/api/v1/tasks"
    assert body == {
        "status": "SUBMITTED",
        "taskId": task_id,
        "responseUrl": f"{base}/{task_id}",
        "statusUrl": f"{base}/{task_id}/status",
        "cancelUrl": f"{base}/{task_id}/cancel",
    }
    request = api.services.tasks.get(task_id).request
    assert (request.width, request.height, request.fps, request.duration, request.seed) == (720, 1280, 24, 5, 11)
    portrait = create(api, "i2v", {"image": data_uri(png_bytes(300, 500)), "duration": "5"}, key).json()
    request = api.services.tasks.get(portrait["taskId"]).request
    assert (request.width, request.height) == (720, 1280)  # aspect nearest the image's
    lv = create(api, "lv", {"image": "http://127.0.0.1:9/first.png", "prompt": ["a", "b"]}, key).json()
    request = api.services.tasks.get(lv["taskId"]).request
    assert (request.width, request.height, request.duration, request.prompts) == (1280, 720, 10, ["a", "b"])
    assert request.images[0].source == "http://127.0.0.1:9/first.png"  # URLs are fetched by the worker


def test_input_echoes_only_the_contract_fields_and_a_blank_i2v_prompt_is_null(api: InProcessApp) -> None:
    key = api.new_key()
    response = create(api, "i2v", {"image": image(), "duration": "5", "prompt": "", "junk": "x" * 1000, "seed": 5}, key)
    assert response.status_code == 200, response.text
    task_id = response.json()["taskId"]
    details = api.client.get(f"/api/v1/tasks/{task_id}", headers={"key": key}).json()
    assert set(details["input"]) == {"image", "duration", "prompt", "seed"}
    assert details["input"]["image"].startswith("data:image/png;base64,<")  # echoed without the bytes
    assert api.services.tasks.get(task_id).request.prompt is None


def test_idempotency_key_returns_the_same_task_and_charges_once(api: InProcessApp) -> None:
    key = api.new_key(credits=50)
    headers = {"Idempotency-Key": "order-42"}
    first = create(api, "t2v", T2V, key, headers)
    again = create(api, "t2v", T2V, key, headers)
    assert first.status_code == again.status_code == 200
    assert first.json()["taskId"] == again.json()["taskId"]
    assert api.balance(key) == 45  # charged once
    other_body = create(api, "t2v", {**T2V, "prompt": "something else"}, key, headers)
    assert other_body.status_code == 409 and other_body.json()["code"] == "IDEMPOTENCY_CONFLICT"
    # the key is per API key: another caller using the same string gets its own task
    stranger = api.new_key(credits=50)
    theirs = create(api, "t2v", T2V, stranger, headers)
    assert theirs.json()["taskId"] != first.json()["taskId"]
    # a data URI repeated under one key is stored once
    body = {"image": image(), "duration": "5"}
    ids = {create(api, "i2v", body, key, {"Idempotency-Key": "img"}).json()["taskId"] for _ in range(2)}
    assert len(ids) == 1
    assert len(api.uploads()) == 1
    assert api.balance(key) == 40


# ------------------------------------------------------------ tasks, cancel


def test_list_is_newest_first_and_only_the_callers(api: InProcessApp) -> None:
    alice, bob = api.new_key(100, "alice"), api.new_key(100, "bob")
    ids = [create(api, "t2v", {**T2V, "prompt": p}, alice).json()["taskId"] for p in ("one", "two", "three")]
    bob_task = create(api, "t2v", T2V, bob).json()["taskId"]
    listing = api.client.get("/api/v1/tasks", headers={"key": alice}).json()
    assert [t["id"] for t in listing["tasks"]] == ids[::-1]
    first = listing["tasks"][0]
    assert first["input"]["prompt"] == "three" and first["status"] == "SUBMITTED" and first["output"] is None
    assert set(first) == {
        "id",
        "createdAt",
        "model",
        "input",
        "output",
        "status",
        "progress",
        "completedAt",
        "createdVia",
    }
    assert first["createdAt"].endswith("Z") and first["completedAt"] is None
    page = api.client.get("/api/v1/tasks?limit=1&offset=1", headers={"key": alice}).json()
    assert [t["id"] for t in page["tasks"]] == [ids[1]]
    for query, field in [
        ("limit=0", "/limit"),
        ("limit=1001", "/limit"),
        ("offset=-1", "/offset"),
        (f"offset={2**63}", "/offset"),  # was a 500: past the database's 64-bit integer
        (f"offset={2**31}", "/offset"),
        (f"limit={2**64}", "/limit"),
    ]:
        bad = api.client.get(f"/api/v1/tasks?{query}", headers={"key": alice})
        assert bad.status_code == 400 and bad.json()["field"] == field, query
    # another key's task is a 404, on every endpoint
    for method, path in [("GET", ""), ("GET", "/status"), ("PUT", "/cancel")]:
        response = api.client.request(method, f"/api/v1/tasks/{bob_task}{path}", headers={"key": alice})
        assert response.status_code == 404 and response.json()["code"] == "TASK_NOT_FOUND"
        assert response.json()["status"] == "FAILED"
    missing = api.client.get("/api/v1/tasks/ck-does-not-exist", headers={"key": alice})
    assert missing.status_code == 404


def test_cancel_submitted_gives_cancel_and_refund_and_409_afterwards(api: InProcessApp) -> None:
    key = api.new_key(credits=50)
    task_id = create(api, "t2v", T2V, key).json()["taskId"]
    assert api.balance(key) == 45
    status = api.client.get(f"/api/v1/tasks/{task_id}/status", headers={"key": key}).json()
    assert status == {"status": "SUBMITTED", "progress": 0}
    cancel = api.client.put(f"/api/v1/tasks/{task_id}/cancel", headers={"key": key})
    assert cancel.status_code == 200 and cancel.json() == {"status": "CANCEL", "taskId": task_id}
    assert api.executor.cancelled == [task_id]
    assert api.client.get(f"/api/v1/tasks/{task_id}", headers={"key": key}).json()["status"] == "CANCEL"
    again = api.client.put(f"/api/v1/tasks/{task_id}/cancel", headers={"key": key})
    assert again.status_code == 409 and again.json()["code"] == "INVALID_STATE"
    assert again.json()["status"] == "FAILED"
    assert api.balance(key) == 50
    with api.services.db.read() as conn:
        entries = ledger.entries(conn, api.key_id(key))
    assert sorted(e["reason"] for e in entries if e["task_id"] == task_id) == ["debit", "refund"]


def test_query_endpoints_answer_429_with_retry_after(tmp_path: Path) -> None:
    for limited in in_process_app(tmp_path / "data", query_rate_limit="5/minute"):
        key = limited.new_key()
        task_id = create(limited, "t2v", T2V, key).json()["taskId"]
        status = f"/api/v1/tasks/{task_id}/status"
        codes = [limited.client.get(status, headers={"key": key}).status_code for _ in range(5)]
        assert codes == [200] * 5
        blocked = limited.client.get("/api/v1/tasks", headers={"key": key})
        assert blocked.status_code == 429
        assert blocked.json()["code"] == "RATE_LIMITED" and blocked.json()["status"] == "FAILED"
        assert 1 <= int(blocked.headers["Retry-After"]) <= 60
        # creating and cancelling are not query endpoints: still allowed
        assert create(limited, "t2v", T2V, key).status_code == 200
        assert limited.client.put(f"/api/v1/tasks/{task_id}/cancel", headers={"key": key}).status_code == 200


def test_framework_errors_keep_the_contract_shape(api: InProcessApp) -> None:
    key = api.new_key()
    wrong_method = api.client.delete("/api/v1/tasks/abc/cancel", headers={"key": key})
    assert wrong_method.status_code == 405 and wrong_method.json()["code"] == "METHOD_NOT_ALLOWED"
    assert wrong_method.json()["status"] == "FAILED"
    no_route = api.client.get("/api/v1/nothing-here", headers={"key": key})
    assert no_route.status_code == 404 and no_route.json()["status"] == "FAILED"


# ------------------------------------------------------------------ OpenAPI


def test_openapi_declares_the_bodies_answers_and_errors(api: InProcessApp) -> None:
    spec = api.client.get("/openapi.json").json()
    validate(spec)
    schemas = spec["components"]["schemas"]
    create_op = spec["paths"]["/api/v1/generate/{model}"]["post"]
    body = create_op["requestBody"]["content"]["application/json"]["schema"]
    alternatives = {alt["title"]: alt for alt in body["anyOf"]}
    assert set(alternatives) == {"AIVideoMakerTextToVideo", "AIVideoMakerImageToVideo", "AIVideoMakerLongVideo"}
    t2v = alternatives["AIVideoMakerTextToVideo"]
    assert set(t2v["required"]) == {"prompt", "aspectRatio", "duration"}
    assert {"string", "integer"} <= {s["type"] for s in t2v["properties"]["duration"]["anyOf"]}
    assert set(alternatives["AIVideoMakerImageToVideo"]["required"]) == {"image", "duration"}
    lv = alternatives["AIVideoMakerLongVideo"]
    assert set(lv["required"]) == {"image", "prompt"} and lv["properties"]["prompt"]["type"] == "array"
    assert {p["name"] for p in create_op["parameters"]} == {"model", "webhookUrl", "Idempotency-Key"}

    error_ref = "#/components/schemas/AIVideoMakerError"
    assert set(schemas["AIVideoMakerError"]["required"]) == {"message", "code"}
    expected = {
        ("post", "/api/v1/generate/{model}"): ({"400", "401", "402", "409", "413"}, "AIVideoMakerCreated"),
        ("get", "/api/v1/tasks"): ({"400", "401", "429"}, "AIVideoMakerTaskList"),
        ("get", "/api/v1/tasks/{task_id}"): ({"401", "404", "429"}, "AIVideoMakerTask"),
        ("get", "/api/v1/tasks/{task_id}/status"): ({"401", "404", "429"}, "AIVideoMakerStatus"),
        ("put", "/api/v1/tasks/{task_id}/cancel"): ({"401", "404", "409"}, "AIVideoMakerCancelled"),
    }
    for (method, path), (errors, answer) in expected.items():
        responses = spec["paths"][path][method]["responses"]
        assert responses["200"]["content"]["application/json"]["schema"]["$ref"].endswith(f"/{answer}"), path
        for code in errors:
            assert responses[code]["content"]["application/json"]["schema"]["$ref"] == error_ref, (path, code)
        assert "422" not in responses, path  # bad input is a 400 in this contract


def test_answers_match_their_declared_models(api: InProcessApp) -> None:
    """What the routes answer is what /openapi.json says (the response models validate every answer)."""
    key = api.new_key()
    task_id = create(api, "lv", {"image": image(), "prompt": ["a"]}, key).json()["taskId"]
    details = api.client.get(f"/api/v1/tasks/{task_id}", headers={"key": key}).json()
    assert AIVideoMakerTask.model_validate(details).id == task_id
    assert "error" not in details  # additions appear only when they apply
    error = create(api, "t2v", {}, key).json()
    assert AIVideoMakerError.model_validate(error).field == "/prompt"
