"""`/v1/videos` contract cases in-process (the `api` fixture): validation wording and pointers, refusals that
leave no upload and take no credit, idempotency, remix, delete, and the declared OpenAPI bodies.

End-to-end behaviour (the `openai` SDK, real MP4s) stays in `test_openai_videos.py` against `reelforge serve`.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from openapi_spec_validator import validate
from PIL import Image

from reelforge.api.dialects.openai_videos.protocol import CreateVideo
from reelforge.api.dialects.openai_videos.sizes import standardize, table
from tests.asgi import InProcessApp, in_process_app
from tests.helpers import data_uri, png_bytes

MODEL = "agnes-video-v2.0"
PNG = png_bytes(64, 48)


def auth(secret: str, **headers: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}", **headers}


def create_json(api: InProcessApp, secret: str, body: dict, **headers: str):
    return api.client.post("/v1/videos", json={"model": MODEL, **body}, headers=auth(secret, **headers))


def create_multipart(api: InProcessApp, secret: str, fields: dict, image: bytes = PNG, **headers: str):
    files = {"input_reference": ("ref.png", image, "image/png")}
    data = {"model": MODEL, **fields}
    return api.client.post("/v1/videos", data=data, files=files, headers=auth(secret, **headers))


def error_of(response, status: int) -> dict:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"} and error["message"]
    return error


# ------------------------------------------------------------------ validation


@pytest.mark.parametrize(
    ("body", "param", "words"),
    [
        ({"num_frames": 120}, "/num_frames", "8n+1"),
        ({"num_frames": 449}, "/num_frames", "at most 441"),
        ({"num_frames": "many"}, "/num_frames", "must be an integer"),
        ({"frame_rate": 0}, "/frame_rate", "from 1 to 60, got 0"),
        ({"frame_rate": 61}, "/frame_rate", "from 1 to 60, got 61"),
        ({"frame_rate": "fast"}, "/frame_rate", "a number from 1 to 60"),
        ({"prompt": ""}, "/prompt", "prompt is required: describe the video"),
        ({"prompt": None}, "/prompt", "prompt is required"),
        ({"prompt": 7}, "/prompt", "prompt is required"),
        ({"model": "sora-9"}, None, "Unknown model 'sora-9'"),
        ({"model": 5}, "/model", "model must be a string"),
        ({"mode": "keyframes", "image": "https://example.com/one.png"}, "/extra_body/image", "at least two images"),
        ({"mode": "loop"}, "/mode", "mode must be ti2vid or keyframes, got 'loop'"),
        ({"extra_body": {"mode": "loop"}}, "/extra_body/mode", "mode must be ti2vid or keyframes"),
        ({"size": "big"}, "/size", "WIDTHxHEIGHT"),
        ({"size": "32x720"}, "/size", "at least 64 pixels"),
        ({"seconds": "soon"}, "/seconds", 'such as "4" or "8"'),
        ({"seconds": 0}, "/seconds", "more than 0 and at most 60"),
        ({"seconds": "61"}, "/seconds", "more than 0 and at most 60"),
        ({"width": 32}, "/width", "between 64 and 4096, got 32"),
        ({"height": "tall"}, "/height", "height must be an integer"),
        ({"seed": -1}, "/seed", "seed must be between 0"),
        ({"num_inference_steps": 0}, "/num_inference_steps", "between 1 and 1000"),
        ({"negative_prompt": ["blur"]}, "/negative_prompt", "negative_prompt must be a string"),
        ({"image": "ftp://example.com/x.png"}, "/image", None),
        ({"image": ["https://example.com/a.png", 5]}, "/image/1", None),
        ({"extra_body": {"image": ["data:image/png;base64,AAAA"]}}, "/extra_body/image/0", None),
        ({"input_reference": {"file_id": "file_1"}}, "/input_reference", "file_id references are not supported"),
        ({"image": [f"https://example.com/{i}.png" for i in range(17)]}, "/image", "at most 16 images"),
    ],
)
def test_invalid_creates_are_400_with_the_param(api: InProcessApp, body: dict, param: str | None, words) -> None:
    secret = api.new_key(10)
    error = error_of(create_json(api, secret, {"prompt": "x", **body}), 400)
    assert error["param"] == param and error["type"] == "invalid_request_error", error
    assert words is None or words in error["message"], error
    assert api.uploads() == [] and api.balance(secret) == 10


def test_size_is_ignored_when_width_or_height_is_given_and_both_vocabularies_parse(api: InProcessApp) -> None:
    secret = api.new_key(100)
    video = create_json(api, secret, {"prompt": "x", "width": 1280, "height": 720, "size": "junk"}).json()
    assert video["size"] == "1280x720" and video["seconds"] == "5.04"  # 121 frames at 24 fps by default
    video = create_json(api, secret, {"prompt": "x", "seconds": 4, "size": "720x1280"}).json()
    assert video["size"] == "720x1280" and video["seconds"] == "4"
    video = create_json(api, secret, {"prompt": "x", "num_frames": "81", "frame_rate": "16", "seconds": "9"}).json()
    assert video["seconds"] == "5.06"  # num_frames wins over seconds; digit strings are numbers
    assert create_json(api, secret, {"prompt": "x", "unknown": {"ignored": True}}).status_code == 200


def test_441_frames_is_the_maximum_accepted(api: InProcessApp) -> None:
    response = create_json(api, api.new_key(100), {"prompt": "long", "num_frames": 441, "frame_rate": 24})
    assert response.status_code == 200 and response.json()["seconds"] == "18.38"


def test_size_standardization_table() -> None:
    assert ("720p", "4:3", "960x720") in table() and len(table()) == 15
    assert standardize(1152, 768)[:2] == (960, 720)  # the contract's default size
    assert standardize(1280, 720)[:2] == (1280, 720)
    assert standardize(1792, 1024)[:2] == (1920, 1080)
    assert standardize(500, 500)[:2] == (480, 480)
    assert standardize(720, 1000)[:2] == (720, 960)


def test_body_that_is_not_a_json_object_is_400(api: InProcessApp) -> None:
    secret = api.new_key(10)
    headers = auth(secret, **{"content-type": "application/json"})
    error = error_of(api.client.post("/v1/videos", content=b"{not json", headers=headers), 400)
    assert "JSON or multipart" in error["message"]
    error = error_of(api.client.post("/v1/videos", content=b"[1]", headers=headers), 400)
    assert "JSON object" in error["message"]


# ------------------------------------------- refusals leave nothing behind


@pytest.fixture
def tight(tmp_path: Path) -> Iterator[InProcessApp]:
    """An app whose queue holds one task (the second create is 503)."""
    yield from in_process_app(tmp_path / "data", max_queued_tasks=1)


REFUSALS = ["bad body", "no credits", "idempotency conflict", "engine refusal", "queue full"]


def _refuse(api: InProcessApp, send, case: str) -> tuple[int, str]:
    """Make `send(secret, extra fields, headers)` be refused for `case`; (status, the key's secret)."""
    if case == "no credits":
        secret = api.new_key(1)  # 5 s at 1 credit a second
        return send(secret, {"seconds": "5"}, {}).status_code, secret
    secret = api.new_key(100)
    if case == "bad body":
        return send(secret, {"num_frames": "120"}, {}).status_code, secret
    if case == "engine refusal":  # the compose engine renders templates, not text or image to video
        return send(secret, {"model": "avs-json"}, {}).status_code, secret
    if case == "idempotency conflict":
        first = send(secret, {"seconds": "2"}, {"Idempotency-Key": "k-1"})
        assert first.status_code == 200, first.text
        return send(secret, {"seconds": "3"}, {"Idempotency-Key": "k-1"}).status_code, secret
    raise AssertionError(case)


EXPECTED = {"bad body": 400, "no credits": 402, "idempotency conflict": 409, "engine refusal": 400, "queue full": 503}


@pytest.mark.parametrize("case", REFUSALS)
@pytest.mark.parametrize("transport", ["json data URI", "multipart file"])
def test_a_refused_create_leaves_no_upload_and_takes_no_credit(
    request: pytest.FixtureRequest, case: str, transport: str
) -> None:
    app: InProcessApp = request.getfixturevalue("tight" if case == "queue full" else "api")

    def send(secret: str, fields: dict, headers: dict):
        if transport == "multipart file":
            return create_multipart(app, secret, {"prompt": "refused", **fields}, **headers)
        return create_json(app, secret, {"prompt": "refused", "image": data_uri(PNG), **fields}, **headers)

    if case == "queue full":
        secret = app.new_key(100)
        assert send(secret, {"seconds": "2"}, {}).status_code == 200
        kept, before = app.uploads(), app.balance(secret)
        assert len(kept) == 1
        assert send(secret, {"seconds": "2"}, {}).status_code == 503
        assert app.uploads() == kept and app.balance(secret) == before
        return
    before_tasks = len(app.executor.dispatched)
    status, secret = _refuse(app, send, case)
    assert status == EXPECTED[case]
    if case == "idempotency conflict":  # the first create keeps its one image; the refused one left nothing
        assert len(app.uploads()) == 1 and app.balance(secret) == 98
        assert len(app.executor.dispatched) == before_tasks + 1
    else:
        assert app.uploads() == [] and app.balance(secret) == (1 if case == "no credits" else 100)
        assert len(app.executor.dispatched) == before_tasks


def test_multipart_checks_the_file_before_storing_it(api: InProcessApp) -> None:
    secret = api.new_key(10)
    error = error_of(create_multipart(api, secret, {"prompt": "x"}, image=b"not a png"), 400)
    assert error["param"] == "/input_reference" and "readable image" in error["message"]
    files = {"input_reference": ("ref.gif", PNG, "image/gif")}
    response = api.client.post("/v1/videos", data={"prompt": "x"}, files=files, headers=auth(secret))
    assert "PNG, JPEG or WebP" in error_of(response, 400)["message"]
    files = {"picture": ("ref.png", PNG, "image/png")}
    response = api.client.post("/v1/videos", data={"prompt": "x"}, files=files, headers=auth(secret))
    assert error_of(response, 400)["param"] == "/picture"
    assert api.uploads() == [] and api.balance(secret) == 10


def test_multipart_fields_are_text_and_json(api: InProcessApp) -> None:
    secret = api.new_key(100)
    fields = {
        "prompt": "keys",
        "num_frames": "33",
        "frame_rate": "16",
        "extra_body": '{"mode": "keyframes", "image": ["https://example.com/a.png"]}',
    }
    video = create_multipart(api, secret, fields).json()
    assert video["seconds"] == "2.06"
    task = api.services.tasks.get(video["id"])
    assert task.request.kind == "keyframes" and [i.frame for i in task.request.images] == [0, 32]


# ---------------------------------------------------------------- idempotency


@pytest.mark.parametrize("transport", ["json data URI", "multipart file"])
def test_an_idempotent_repeat_is_the_same_video_charged_once_and_stores_nothing_more(
    api: InProcessApp, transport: str
) -> None:
    secret = api.new_key(50)

    def send():
        if transport == "multipart file":
            return create_multipart(api, secret, {"prompt": "once", "seconds": "2"}, **{"Idempotency-Key": "r-1"})
        return create_json(
            api, secret, {"prompt": "once", "seconds": 2, "image": data_uri(PNG)}, **{"Idempotency-Key": "r-1"}
        )

    first, second = send(), send()
    assert first.status_code == second.status_code == 200 and first.json()["id"] == second.json()["id"]
    assert api.balance(secret) == 48 and len(api.uploads()) == 1
    assert set(api.executor.dispatched) == {first.json()["id"]}


def test_a_malformed_idempotency_key_is_400(api: InProcessApp) -> None:
    secret = api.new_key(10)
    error = error_of(create_json(api, secret, {"prompt": "x", "image": data_uri(PNG)}, **{"Idempotency-Key": " "}), 400)
    assert error["param"] == "Idempotency-Key" and api.uploads() == [] and api.balance(secret) == 10


# ---------------------------------------------------------------- remix, delete


def test_remix_honours_idempotency_and_owns_a_copy_of_the_inputs(api: InProcessApp) -> None:
    secret = api.new_key(100)
    source = create_json(api, secret, {"prompt": "harbour", "seconds": "2", "image": data_uri(PNG)}).json()
    assert len(api.uploads()) == 1

    def remix(prompt: str, key: str | None = "remix-1"):
        headers = {"Idempotency-Key": key} if key else {}
        return api.client.post(
            f"/v1/videos/{source['id']}/remix", json={"prompt": prompt}, headers=auth(secret, **headers)
        )

    first, again = remix("at night"), remix("at night")
    assert first.status_code == 200 and first.json()["id"] == again.json()["id"]
    assert first.json()["remixed_from_video_id"] == source["id"] and first.json()["prompt"] == "at night"
    assert api.balance(secret) == 96 and len(api.uploads()) == 2  # one task, its own copy of the image
    assert error_of(remix("at dawn"), 409)["code"] == "IDEMPOTENCY_CONFLICT"
    assert error_of(remix("  ", key=None), 400)["param"] == "/prompt"
    not_json = api.client.post(f"/v1/videos/{source['id']}/remix", content=b"prompt", headers=auth(secret))
    assert "JSON with a prompt" in error_of(not_json, 400)["message"]
    a_list = api.client.post(f"/v1/videos/{source['id']}/remix", json=["x"], headers=auth(secret))
    assert error_of(a_list, 400)["message"] == "prompt is required: describe the remix"
    assert api.balance(secret) == 96 and len(api.uploads()) == 2

    assert api.client.delete(f"/v1/videos/{source['id']}", headers=auth(secret)).json()["deleted"]
    remixed = api.services.tasks.get(first.json()["id"])
    assert [p.name for p in api.uploads()] == [remixed.request.stored_keys()[0].rsplit("/", 1)[-1]]


def test_remix_of_an_unknown_video_is_404_and_charges_nothing(api: InProcessApp) -> None:
    secret = api.new_key(10)
    response = api.client.post("/v1/videos/nope/remix", json={"prompt": "x"}, headers=auth(secret))
    assert error_of(response, 404)["type"] == "not_found_error" and api.balance(secret) == 10


def test_delete_removes_the_uploaded_inputs_and_refunds_a_queued_video(api: InProcessApp) -> None:
    secret = api.new_key(20)
    video = create_multipart(api, secret, {"prompt": "gone", "seconds": "3"}).json()
    assert len(api.uploads()) == 1 and api.balance(secret) == 17
    deleted = api.client.delete(f"/v1/videos/{video['id']}", headers=auth(secret))
    assert deleted.json() == {"id": video["id"], "deleted": True, "object": "video.deleted"}
    assert api.uploads() == [] and api.balance(secret) == 20 and api.executor.cancelled == [video["id"]]
    assert error_of(api.client.get(f"/v1/videos/{video['id']}", headers=auth(secret)), 404)["code"]


# --------------------------------------------------------------------- reads


def test_list_pages_and_query_checks(api: InProcessApp) -> None:
    secret = api.new_key(100)
    ids = [create_json(api, secret, {"prompt": f"clip {i}", "seconds": "1"}).json()["id"] for i in range(3)]
    page = api.client.get("/v1/videos", params={"limit": 2}, headers=auth(secret)).json()
    assert page["object"] == "list" and [v["id"] for v in page["data"]] == ids[::-1][:2] and page["has_more"]
    rest = api.client.get("/v1/videos", params={"after": page["last_id"]}, headers=auth(secret)).json()
    assert [v["id"] for v in rest["data"]] == [ids[0]] and not rest["has_more"]
    assert error_of(api.client.get("/v1/videos", params={"limit": 0}, headers=auth(secret)), 400)["param"] == "limit"
    assert error_of(api.client.get("/v1/videos", params={"order": "up"}, headers=auth(secret)), 400)["param"] == "order"
    agnes = api.client.get("/agnesapi", params={"video_id": ids[0], "model_name": "t2v"}, headers=auth(secret))
    assert error_of(agnes, 404)["code"] == "TASK_NOT_FOUND"
    one = api.client.get("/agnesapi", params={"video_id": ids[0], "model_name": MODEL}, headers=auth(secret))
    assert one.json()["video_id"] == ids[0] and one.headers["openai-poll-after-ms"] == "2000"
    content = api.client.get(f"/v1/videos/{ids[0]}/content", headers=auth(secret))
    assert error_of(content, 409)["code"] == "INVALID_STATE"


def test_errors_in_openai_shape(api: InProcessApp) -> None:
    assert error_of(api.client.get("/v1/videos", headers=auth("rf_wrong")), 401)["type"] == "authentication_error"
    error = error_of(create_json(api, api.new_key(0), {"prompt": "x"}), 402)
    assert error["code"] == "INSUFFICIENT_CREDITS" and error["type"] == "insufficient_quota"


# ------------------------------------------------------------------- OpenAPI


def test_openapi_declares_both_create_bodies_the_remix_body_errors_and_answers(api: InProcessApp) -> None:
    spec = api.client.get("/openapi.json").json()
    validate(spec)
    create = spec["paths"]["/v1/videos"]["post"]
    content = create["requestBody"]["content"]
    assert set(content) == {"application/json", "multipart/form-data"}
    as_json = content["application/json"]["schema"]
    assert set(CreateVideo.model_fields) <= set(as_json["properties"]) and as_json["required"] == ["prompt"]
    assert "$ref" not in str(as_json)  # nested models inlined
    reference = content["multipart/form-data"]["schema"]["properties"]["input_reference"]
    assert {"type": "string", "format": "binary"}.items() <= reference["anyOf"][0].items()
    assert {"400", "401", "402", "409", "503"} <= set(create["responses"])
    error_schema = create["responses"]["400"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    detail = spec["components"]["schemas"]["OpenAIErrorDetail"]
    assert error_schema == "OpenAIError" and set(detail["properties"]) == {"message", "type", "param", "code"}
    assert create["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/OpenAIVideo")
    remix = spec["paths"]["/v1/videos/{video_id}/remix"]["post"]
    assert remix["requestBody"]["content"]["application/json"]["schema"]["required"] == ["prompt"]
    listing = spec["paths"]["/v1/videos"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert listing["$ref"].endswith("/OpenAIVideoList")
    deleted = spec["paths"]["/v1/videos/{video_id}"]["delete"]["responses"]["200"]["content"]["application/json"]
    assert deleted["schema"]["$ref"].endswith("/OpenAIVideoDeleted")


# ----------------------------------------------------- multipart bracket fields


def _multipart(api: InProcessApp, secret: str, fields: list[tuple[str, str]]):
    # a file part forces multipart, as the SDK does; it is one more image, the same in both forms
    files = [("input_reference", ("ref.png", PNG, "image/png"))]
    data: dict[str, list[str]] = {}
    for name, value in fields:  # repeated names, in order
        data.setdefault(name, []).append(value)
    return api.client.post("/v1/videos", data=data, files=files, headers=auth(secret))


@pytest.mark.parametrize(
    ("fields", "json_body"),
    [
        (
            [("image[]", "https://example.com/a.png"), ("image[]", "https://example.com/b.png")],
            {"image": ["https://example.com/a.png", "https://example.com/b.png"]},
        ),
        (
            [("extra_body[image][]", "https://example.com/a.png"), ("extra_body[mode]", "keyframes")],
            {"extra_body": {"image": ["https://example.com/a.png"], "mode": "keyframes"}},
        ),
        (
            [
                ("extra_body[image][0]", "https://example.com/a.png"),
                ("extra_body[image][1]", "https://example.com/b.png"),
            ],
            {"extra_body": {"image": ["https://example.com/a.png", "https://example.com/b.png"]}},
        ),
    ],
)
def test_multipart_bracket_fields_make_the_video_their_json_form_makes(
    api: InProcessApp, fields: list, json_body: dict
) -> None:
    secret = api.new_key(100)
    common = [("model", MODEL), ("prompt", "p"), ("num_frames", "33"), ("frame_rate", "16")]
    sent = _multipart(api, secret, common + fields)
    assert sent.status_code == 200, sent.text
    twin = create_json(
        api,
        secret,
        {
            "prompt": "p",
            "num_frames": 33,
            "frame_rate": 16,
            **json_body,
            "image": [*json_body.get("image", []), data_uri(PNG)],
        },
    )
    assert twin.status_code == 200, twin.text
    multipart_task, json_task = (api.services.tasks.get(r.json()["id"]) for r in (sent, twin))
    assert multipart_task.request.kind == json_task.request.kind != "text_to_video"
    assert [i.frame for i in multipart_task.request.images] == [i.frame for i in json_task.request.images]
    remote = [i.source for i in multipart_task.request.images if i.source.startswith("https:")]
    assert remote == [i.source for i in json_task.request.images if i.source.startswith("https:")]
    assert api.balance(secret) == 100 - 3 - 3  # 2.06 s each, rounded up


def test_a_malformed_bracket_name_is_400_and_charges_nothing(api: InProcessApp) -> None:
    secret = api.new_key(10)
    error = error_of(_multipart(api, secret, [("prompt", "p"), ("extra_body[image", "x")]), 400)
    assert error["param"] == "/extra_body[image" and "not well formed" in error["message"]
    assert api.uploads() == [] and api.balance(secret) == 10


# ------------------------------------------------------ images checked at submit


def _png(width: int, height: int, mode: str = "L") -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, (width, height)).save(buffer, format="PNG")
    return buffer.getvalue()


BAD_IMAGES = {
    "zero bytes": (b"", "empty"),
    "truncated": (PNG[: len(PNG) // 2], "truncated"),
    "text as png": (b"this is text, not a picture", "Pillow can read"),
    "decompression bomb": (_png(30000, 30000), "too large to decode"),
    "over the worker's pixel limit": (_png(8000, 8000), "64 megapixels); the limit is 50 megapixels"),
}


@pytest.mark.parametrize("case", list(BAD_IMAGES))
@pytest.mark.parametrize("transport", ["multipart input_reference", "data URI"])
def test_an_image_a_worker_cannot_use_is_400_at_submit_before_any_credit(
    api: InProcessApp, case: str, transport: str
) -> None:
    data, words = BAD_IMAGES[case]
    secret = api.new_key(10)
    if transport == "data URI":
        response = create_json(api, secret, {"prompt": "x", "seconds": 2, "image": data_uri(data)})
        param = "/image"
    else:
        response = create_multipart(api, secret, {"prompt": "x", "seconds": "2"}, image=data)
        param = "/input_reference"
    error = error_of(response, 400)
    assert error["param"] == param and words in error["message"] and "readable image" in error["message"], error
    assert api.uploads() == [] and api.balance(secret) == 10 and api.executor.dispatched == []


# ------------------------------------------------------------ prompt limits


def test_prompts_over_4000_characters_are_refused_on_create_and_remix(api: InProcessApp) -> None:
    secret = api.new_key(20)
    error = error_of(create_json(api, secret, {"prompt": "x" * 4001, "seconds": 1}), 400)
    assert error["param"] == "/prompt" and "at most 4000" in error["message"]
    error = error_of(create_json(api, secret, {"prompt": "x", "negative_prompt": "n" * 4001, "seconds": 1}), 400)
    assert error["param"] == "/negative_prompt"
    video = create_json(api, secret, {"prompt": "x" * 4000, "seconds": 1})
    assert video.status_code == 200, video.text
    remix = api.client.post(f"/v1/videos/{video.json()['id']}/remix", json={"prompt": "y" * 4001}, headers=auth(secret))
    assert error_of(remix, 400)["param"] == "/prompt"
    assert api.balance(secret) == 19


# ------------------------------------------------------------ credits and cancel


@pytest.mark.parametrize(
    ("frames", "rate", "cost"), [(9, 24, 1), (17, 24, 1), (121, 24, 6), (97, 24, 5), (33, 16, 3), (49, 24, 3)]
)
def test_fractional_seconds_cost_whole_credits_rounded_up(api: InProcessApp, frames: int, rate: int, cost: int) -> None:
    secret = api.new_key(10)
    response = create_json(api, secret, {"prompt": "x", "num_frames": frames, "frame_rate": rate})
    assert response.status_code == 200, response.text
    assert api.balance(secret) == 10 - cost


def test_cancel_of_a_deleted_video_is_404(api: InProcessApp) -> None:
    secret = api.new_key(10)
    video = create_json(api, secret, {"prompt": "x", "seconds": 1}).json()
    assert api.client.delete(f"/v1/videos/{video['id']}", headers=auth(secret)).status_code == 200
    cancel = api.client.put(f"/api/v1/tasks/{video['id']}/cancel", headers={"key": secret})
    assert cancel.status_code == 404, cancel.text
    assert cancel.json()["code"] == "TASK_NOT_FOUND"


# ------------------------------------------------------------ Agnes durations


@pytest.mark.parametrize(("frames", "rate"), [(441, 1), (441, 2), (241, 1.5), (9, 60), (441, 60), (81, 1)])
def test_every_num_frames_and_frame_rate_agnes_allows_is_accepted(api: InProcessApp, frames: int, rate: float) -> None:
    secret = api.new_key(1000)
    response = create_json(api, secret, {"prompt": "x", "num_frames": frames, "frame_rate": rate})
    assert response.status_code == 200, response.text
    assert response.json()["seconds"] == f"{frames / rate:.2f}".rstrip("0").rstrip(".")


def test_an_engine_duration_limit_names_num_frames_not_duration(tmp_path: Path) -> None:
    models = tmp_path / "models.toml"
    models.write_text(
        f'[models."{MODEL}"]\nengine = "draft"\nkind = "text_to_video"\n\n'
        f'[models."{MODEL}".settings]\nmax_duration = 10\n'
    )
    for app in in_process_app(tmp_path / "data", models_file=models):
        secret = app.new_key(1000)
        error = error_of(create_json(app, secret, {"prompt": "x", "num_frames": 241, "frame_rate": 12}), 400)
        assert error["param"] == "/num_frames" and "241 frames at 12 fps" in error["message"], error
        assert "the duration (num_frames / frame_rate)" in error["message"]
        error = error_of(create_json(app, secret, {"prompt": "x", "seconds": "12"}), 400)
        assert error["param"] == "/seconds", error
        assert app.balance(secret) == 1000


# ------------------------------------------------------------ Sora model names


@pytest.mark.parametrize(
    "model", ["sora-2", "sora-2-pro", "sora-2-2025-10-06", "sora-2-pro-2025-10-06", "sora-2-2025-12-08"]
)
def test_sora_names_take_openais_defaults_and_sizes_exactly(api: InProcessApp, model: str) -> None:
    secret = api.new_key(1000)
    video = api.client.post("/v1/videos", json={"model": model, "prompt": "x"}, headers=auth(secret)).json()
    assert (video["model"], video["size"], video["seconds"]) == (model, "720x1280", "4"), video
    for size in ("720x1280", "1280x720", "1024x1792", "1792x1024"):
        for seconds in ("4", "8", "12"):
            answer = api.client.post(
                "/v1/videos",
                json={"model": model, "prompt": "x", "size": size, "seconds": seconds},
                headers=auth(secret),
            ).json()
            assert (answer["size"], answer["seconds"]) == (size, seconds), answer  # kept, not standardised
    sora = api.client.post
    error = error_of(
        sora("/v1/videos", json={"model": model, "prompt": "x", "size": "1920x1080"}, headers=auth(secret)), 400
    )
    assert error["param"] == "/size" and "720x1280, 1280x720, 1024x1792, 1792x1024" in error["message"]
    error = error_of(
        sora("/v1/videos", json={"model": model, "prompt": "x", "seconds": "5"}, headers=auth(secret)), 400
    )
    assert error["param"] == "/seconds" and '"4", "8", "12"' in error["message"]


def test_sora_prices_follow_openais_ratio(api: InProcessApp) -> None:
    secret = api.new_key(100)
    api.client.post("/v1/videos", json={"model": "sora-2", "prompt": "x", "seconds": "8"}, headers=auth(secret))
    assert api.balance(secret) == 92
    api.client.post("/v1/videos", json={"model": "sora-2-pro", "prompt": "x", "seconds": "4"}, headers=auth(secret))
    assert api.balance(secret) == 80


def test_a_video_stored_without_a_spritesheet_answers_404_for_it(api: InProcessApp) -> None:
    from reelforge.domain.task import TaskOutput
    from reelforge.store.tables import tasks

    secret = api.new_key(10)
    video = create_json(api, secret, {"prompt": "x", "seconds": 1}).json()
    old = TaskOutput("tasks/x/video.mp4", "tasks/x/thumbnail.jpg", 1.0, 960, 720, 24.0)  # from before spritesheets
    with api.services.db.write() as conn:
        conn.execute(tasks.update().where(tasks.c.id == video["id"]).values(status="succeeded", output=old.to_dict()))
    response = api.client.get(
        f"/v1/videos/{video['id']}/content", params={"variant": "spritesheet"}, headers=auth(secret)
    )
    assert error_of(response, 404)["code"] == "NOT_FOUND"
    response = api.client.get(f"/v1/videos/{video['id']}/content", params={"variant": "gif"}, headers=auth(secret))
    assert "video, thumbnail or spritesheet" in error_of(response, 400)["message"]


def test_unmatched_v1_paths_are_typed_like_openais_errors(api: InProcessApp) -> None:
    secret = api.new_key(1)
    error = error_of(api.client.get("/v1/nothing", headers=auth(secret)), 404)
    assert (error["type"], error["code"]) == ("not_found_error", "NOT_FOUND")
    error = error_of(api.client.put("/v1/videos", headers=auth(secret)), 405)
    assert (error["type"], error["code"]) == ("invalid_request_error", "METHOD_NOT_ALLOWED")
