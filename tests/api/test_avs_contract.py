"""The AVS contract in-process (the `api` fixture, no workers): validation and its pointers, refused
creates that keep no upload and take no credit, idempotency, tokens, and what `/openapi.json` declares.

Rendering, phases, signed webhooks and real MP4s are in `test_avs.py`, against a real `reelforge serve`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from openapi_spec_validator import validate

from reelforge.domain.request import STORED_PREFIX
from tests.asgi import InProcessApp, in_process_app
from tests.helpers import png_bytes

TEXT_ONLY = {"version": "1", "blocks": [{"type": "text", "start": 0, "duration": 1, "text": "x"}]}
CLIP = b"\x00\x00\x00\x18ftypmp42 not really a video"


def video_template(name: str = "red.mp4") -> dict[str, Any]:
    return {"version": "1", "blocks": [{"type": "video", "start": 0, "duration": 2, "source": {"uploadName": name}}]}


class Avs:
    """One account (an API key) with a public-API token, talking to the in-process app."""

    def __init__(self, api: InProcessApp, credits: int = 100) -> None:
        self.api = api
        self.key = api.new_key(credits)
        created = api.client.post("/api/v1/tokens", headers={"key": self.key}, json={"name": "t"})
        assert created.status_code == 201, created.text
        self.token = created.json()["token"]
        self.headers = {"Authorization": f"Bearer {self.token}"}

    def balance(self) -> int:
        return self.api.balance(self.key)

    def post(self, mode: str, body: Any, files: list[tuple[str, bytes]] | None = None, **headers: str):  # type: ignore[no-untyped-def]
        url = f"/api/v1/videos/{mode}"
        sent = {**self.headers, **headers}
        if files is None:
            return self.api.client.post(url, headers=sent, json=body)
        raw = body if isinstance(body, str) else json.dumps(body)
        parts = [("files", (name, data)) for name, data in files]
        return self.api.client.post(url, headers=sent, data={"request": raw}, files=parts)


@pytest.fixture
def avs(api: InProcessApp) -> Avs:
    return Avs(api)


def refused(avs: Avs, response, status: int, code: str, field: str | None = None) -> dict:  # type: ignore[no-untyped-def]
    """`response` is the refusal expected, and left nothing: no upload, no credit, no dispatch."""
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code
    if field is not None:
        assert error.get("field") == field, error
    assert avs.api.uploads() == []
    return error


# ---------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({}, "/template", "template is required: an AVS Template JSON v1 object"),
        ({"template": None}, "/template", "template is required"),
        ({"template": {"version": "2", "blocks": []}}, "/template/version", 'version must be "1"'),
        (
            {"template": {"version": "1", "blocks": [{"type": "sparkle", "start": 0, "duration": 1}]}},
            "/template/blocks/0/type",
            "block type must be one of",
        ),
        (
            {
                "template": {
                    "version": "1",
                    "blocks": [{"type": "text", "start": 0, "duration": 1, "text": "x", "a": 1}],
                }
            },
            "/template/blocks/0/a",
            "unknown field for a text block",
        ),
        ({"template": video_template("missing.mp4")}, "/template/blocks/0/source/uploadName", "no uploaded file"),
        (
            {"template": {"version": "1", "blocks": [{"type": "image", "duration": 1, "source": {"ref": "stored:x"}}]}},
            "/template/blocks/0/source/url",
            "must be an http(s) URL",
        ),
        (
            {"template": {"version": "1", "blocks": [{"type": "image", "duration": 1, "source": {"url": "ftp://x"}}]}},
            "/template/blocks/0/source/url",
            "must be an",
        ),
        ({"template": TEXT_ONLY, "output": "16:9"}, "/output", "output must be an object"),
        ({"template": TEXT_ONLY, "output": {"aspectRatio": "2:1"}}, "/output/aspectRatio", "output.aspectRatio must"),
        ({"template": TEXT_ONLY, "output": {"quality": "ultra"}}, "/output/quality", "output.quality must be one of"),
        ({"template": TEXT_ONLY, "output": {"format": "avi"}}, "/output/format", "output.format must be one of mp4"),
        # the extensions (webm, gif, range, poster, thumbnail) are checked before any credit too
        ({"template": TEXT_ONLY, "output": {"range": {"start": 0.5, "length": 1}}}, "/output/range/length", "past"),
        ({"template": TEXT_ONLY, "output": {"poster": 2}}, "/output/poster", "past the video's end"),
        ({"template": TEXT_ONLY, "webhook": "https://x"}, "/webhook", "webhook must be an object with a url"),
        ({"template": TEXT_ONLY, "webhook": {"url": "ftp://x"}}, "/webhook/url", "must be an"),
        ({"template": TEXT_ONLY, "webhook": {"url": "https://x.test", "secret": ""}}, "/webhook/secret", "non-empty"),
    ],
)
def test_from_json_refusals_point_at_the_field_and_cost_nothing(avs: Avs, body: dict, field: str, message: str) -> None:
    before = avs.balance()
    error = refused(avs, avs.post("from-json", body), 400, "INVALID_PAYLOAD", field)
    assert message in error["message"]
    assert avs.balance() == before and avs.api.executor.dispatched == []


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({}, "/prompt", "prompt is required: describe the video to create"),
        ({"prompt": "   "}, "/prompt", "prompt is required"),
        ({"prompt": "x" * 4001}, "/prompt", "prompt is longer than 4000 characters"),
        ({"prompt": "a teaser", "assetUrls": "https://x.test/a.mp4"}, "/assetUrls", "at most 20 URLs"),
        ({"prompt": "a teaser", "assetUrls": ["https://x.test/a.mp4"] * 21}, "/assetUrls", "at most 20 URLs"),
        ({"prompt": "a teaser", "assetUrls": [5]}, "/assetUrls/0", "must be an http(s) URL"),
        ({"prompt": "a teaser", "assetUrls": ["https://x.test/a.mp4", "ftp://x"]}, "/assetUrls/1", "must be an"),
        ({"prompt": "a teaser", "output": {"quality": "ultra"}}, "/output/quality", "output.quality must"),
    ],
)
def test_from_prompt_refusals_point_at_the_field_and_cost_nothing(
    avs: Avs, body: dict, field: str, message: str
) -> None:
    before = avs.balance()
    error = refused(avs, avs.post("from-prompt", body), 400, "INVALID_PAYLOAD", field)
    assert message in error["message"]
    assert avs.balance() == before


@pytest.mark.parametrize("mode", ["from-json", "from-prompt"])
@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("{not json", "the `request` field is not valid JSON"),
        ("[1, 2]", "the `request` field must hold a JSON object"),
    ],
)
def test_bad_json_in_the_request_field_stores_no_file(avs: Avs, mode: str, raw: str, message: str) -> None:
    before = avs.balance()
    error = refused(avs, avs.post(mode, raw, files=[("red.mp4", CLIP)]), 400, "INVALID_PAYLOAD", "request")
    assert error["message"] == message and avs.balance() == before


def test_multipart_without_a_request_field_and_bad_bodies(avs: Avs) -> None:
    response = avs.api.client.post(
        "/api/v1/videos/from-json", headers=avs.headers, files=[("files", ("red.mp4", CLIP))]
    )
    refused(avs, response, 400, "INVALID_PAYLOAD", "request")
    response = avs.api.client.post("/api/v1/videos/from-json", headers=avs.headers, content=b"nope")
    assert "must be JSON" in refused(avs, response, 400, "INVALID_PAYLOAD")["message"]
    refused(avs, avs.post("from-json", [1]), 400, "INVALID_PAYLOAD")


@pytest.mark.parametrize(
    ("files", "field", "message"),
    [
        ([("red.mp4", CLIP), ("notes.txt", b"hello")], "files/1", "only video, image, audio and subtitle"),
        ([("red.mp4", CLIP), ("red.mp4", CLIP)], "files/1", "upload names must be unique"),
        ([("red.mp4", b"")], "files/0", "red.mp4 is empty"),
    ],
)
def test_bad_file_parts_store_nothing(avs: Avs, files: list, field: str, message: str) -> None:
    before = avs.balance()
    error = refused(avs, avs.post("from-json", {"template": video_template()}, files=files), 400, "INVALID_PAYLOAD")
    assert error["field"] == field and message in error["message"] and avs.balance() == before


def test_an_unknown_upload_name_keeps_none_of_the_uploads(avs: Avs) -> None:
    before = avs.balance()
    response = avs.post("from-json", {"template": video_template("other.mp4")}, files=[("red.mp4", CLIP)])
    error = refused(avs, response, 400, "INVALID_PAYLOAD", "/template/blocks/0/source/uploadName")
    assert "'other.mp4' (uploaded: red.mp4)" in error["message"]
    assert avs.balance() == before


# ---------------------------------------------------------------- credits, idempotency, the engine


@pytest.mark.parametrize("mode", ["from-json", "from-prompt"])
def test_no_credits_is_402_and_keeps_no_uploads(api: InProcessApp, mode: str) -> None:
    poor = Avs(api, credits=4)
    body = {"template": video_template()} if mode == "from-json" else {"prompt": "A teaser with the clip"}
    refused(poor, poor.post(mode, body, files=[("red.mp4", CLIP)]), 402, "INSUFFICIENT_CREDITS")
    assert poor.balance() == 4 and api.executor.dispatched == []


@pytest.mark.parametrize("mode", ["from-json", "from-prompt"])
def test_idempotency_repeat_and_conflict_with_files(avs: Avs, mode: str) -> None:
    def body(text: str) -> dict:
        if mode == "from-json":
            template = video_template()
            template["blocks"].append({"type": "text", "start": 0, "duration": 1, "text": text})
            return {"template": template, "output": {"quality": "draft"}}
        return {"prompt": f"A teaser: {text}"}

    first = avs.post(mode, body("one"), files=[("red.mp4", CLIP)], **{"Idempotency-Key": "job-1"})
    assert first.status_code == 202, first.text
    stored = avs.api.uploads()
    assert [p.name for p in stored] == ["red.mp4"]
    after_first = avs.balance()

    again = avs.post(mode, body("one"), files=[("red.mp4", CLIP)], **{"Idempotency-Key": "job-1"})
    assert again.status_code == 202 and again.json()["jobId"] == first.json()["jobId"]
    assert avs.api.uploads() == stored  # the repeat's copy was deleted, the first task's kept
    assert avs.balance() == after_first

    other_body = avs.post(mode, body("two"), files=[("red.mp4", CLIP)], **{"Idempotency-Key": "job-1"})
    other_file = avs.post(mode, body("one"), files=[("red.mp4", CLIP + b"!")], **{"Idempotency-Key": "job-1"})
    for response in (other_body, other_file):
        assert response.status_code == 409, response.text
        assert response.json()["error"]["code"] == "IDEMPOTENCY_CONFLICT"
    assert avs.api.uploads() == stored and avs.balance() == after_first
    assert set(avs.api.executor.dispatched) == {first.json()["jobId"]}


def test_a_bad_idempotency_key_is_400(avs: Avs) -> None:
    response = avs.post(
        "from-json", {"template": video_template()}, files=[("red.mp4", CLIP)], **{"Idempotency-Key": " "}
    )
    refused(avs, response, 400, "INVALID_PAYLOAD", "Idempotency-Key")


@pytest.fixture
def small_compositor(tmp_path: Path) -> Iterator[InProcessApp]:
    models = tmp_path / "models.toml"
    models.write_text(
        '[models.avs-json]\nengine = "compose"\nkind = "compose"\ncredits_per_second = 0\ncredits_per_job = 5\n'
        "credits_per_asset = { video = 5, image = 0, audio = 3 }\n\n[models.avs-json.settings]\nmax_blocks = 1\n"
    )
    yield from in_process_app(tmp_path / "data", models_file=models)


def test_an_engine_refusal_keeps_no_uploads(small_compositor: InProcessApp) -> None:
    avs = Avs(small_compositor)
    template = video_template()
    template["blocks"].append({"type": "text", "start": 0, "duration": 1, "text": "two blocks"})
    response = avs.post("from-json", {"template": template}, files=[("red.mp4", CLIP)])
    error = refused(avs, response, 400, "INVALID_PAYLOAD", "/template/blocks")
    assert "at most 1 blocks" in error["message"] and avs.balance() == 100


# ---------------------------------------------------------------- accepted creates


def test_from_json_stores_uploads_under_their_names_and_prices_them(avs: Avs) -> None:
    template = {
        "version": "1",
        "name": "Launch teaser",
        "blocks": [
            {"type": "video", "start": 0, "duration": 2, "source": {"uploadName": "red.mp4"}},
            {"type": "image", "start": 2, "duration": 2, "source": {"uploadName": "still.png"}},
            {"type": "image", "start": 4, "duration": 1, "source": {"url": "https://cdn.example.com/logo.png"}},
            {"type": "text", "start": 0, "duration": 5, "text": "Now shipping"},
        ],
    }
    files = [("red.mp4", CLIP), ("still.png", png_bytes(40, 30)), ("music.wav", b"RIFF....WAVE")]
    response = avs.post("from-json", {"template": template, "output": {"aspectRatio": "9:16"}}, files=files)
    assert response.status_code == 202, response.text
    job = response.json()
    assert job["mode"] == "json" and job["status"] == "queued" and job["phase"] == "queued"
    assert job["createdAt"].endswith("Z") and job["result"] is None and job["error"] is None
    assert sorted(p.name for p in avs.api.uploads()) == ["music.wav", "red.mp4", "still.png"]
    assert avs.balance() == 100 - (5 + 5 + 0 + 0 + 3)  # render, video, two images, the unused audio
    assert avs.api.executor.dispatched == [job["jobId"]]

    task = avs.api.services.tasks.get(job["jobId"], avs.api.key_id(avs.key))
    assert (task.request.width, task.request.height) == (720, 1280)
    sources = [block["source"] for block in task.request.template["blocks"] if "source" in block]
    assert sources[0]["ref"].startswith(STORED_PREFIX) and sources[0]["ref"].endswith("/red.mp4")
    assert sources[2]["ref"] == "https://cdn.example.com/logo.png"
    assert task.input["template"] == template  # echoed as sent
    assert task.input["output"] == {"aspectRatio": "9:16", "quality": "web"}

    polled = avs.api.client.get(f"/api/v1/jobs/{job['jobId']}", headers=avs.headers)
    assert polled.status_code == 200 and polled.json()["jobId"] == job["jobId"]


def test_from_prompt_prices_urls_and_uploads(avs: Avs) -> None:
    body = {
        "prompt": "A 20 second teaser using the footage",
        "assetUrls": ["https://cdn.example.com/intro.mp4?sig=1", "https://cdn.example.com/song.mp3"],
        "output": {"aspectRatio": "1:1", "quality": "draft"},
        "unknownField": "ignored",
    }
    response = avs.post("from-prompt", body, files=[("still.png", png_bytes(40, 30))])
    assert response.status_code == 202, response.text
    assert response.json()["mode"] == "prompt"
    assert avs.balance() == 100 - (3 + 5 + 5 + 3 + 0)
    task = avs.api.services.tasks.get(response.json()["jobId"], avs.api.key_id(avs.key))
    assert task.request.duration == 20 and task.request.extra["aspectRatio"] == "1:1"
    assert [a.type for a in task.request.assets] == ["video", "audio", "image"]
    assert task.input["uploads"] == ["still.png"] and task.input["assetUrls"] == body["assetUrls"]


# ---------------------------------------------------------------- auth and tokens


def test_jobs_need_a_public_api_token(avs: Avs) -> None:
    client = avs.api.client
    assert client.get("/api/v1/jobs/nope", headers=avs.headers).json()["error"]["code"] == "TASK_NOT_FOUND"
    cli = client.post("/api/v1/tokens", headers={"key": avs.key}, json={"kind": "cli"}).json()["token"]
    forbidden = client.get("/api/v1/jobs/nope", headers={"Authorization": f"Bearer {cli}"})
    assert forbidden.status_code == 403 and forbidden.json()["error"]["code"] == "FORBIDDEN"
    assert client.get("/api/v1/jobs/nope", headers={"Authorization": f"Bearer {avs.key}"}).status_code == 401
    assert client.post("/api/v1/videos/from-json", json={"template": TEXT_ONLY}).status_code == 401


def test_token_routes(avs: Avs) -> None:
    client, key = avs.api.client, {"key": avs.key}
    default = client.post("/api/v1/tokens", headers=key)
    assert default.status_code == 201 and default.json()["name"] == "default"
    assert default.json()["kind"] == "public_api" and default.json()["token"].startswith("avs.")
    for body, field in (({"name": " "}, "/name"), ({"name": "x" * 201}, "/name"), ({"kind": "root"}, "/kind")):
        response = client.post("/api/v1/tokens", headers=key, json=body)
        assert response.status_code == 400 and response.json()["error"]["field"] == field, response.text
    listed = client.get("/api/v1/tokens", headers=key).json()["tokens"]
    assert len(listed) == 2 and all("token" not in t for t in listed)
    token_id = default.json()["tokenId"]
    rotated = client.post(f"/api/v1/tokens/{token_id}/rotate", headers=key).json()
    assert rotated["tokenId"] == token_id and rotated["token"] != default.json()["token"]
    assert client.delete(f"/api/v1/tokens/{token_id}", headers=key).json()["active"] is False
    missing = client.post("/api/v1/tokens/nope/rotate", headers=key)
    assert missing.status_code == 404 and missing.json()["error"]["code"]
    assert client.get("/api/v1/tokens", headers={"Authorization": f"Bearer {avs.token}"}).status_code == 401


# ---------------------------------------------------------------- OpenAPI


AVS_PATHS = ("/api/v1/videos/", "/api/v1/jobs/", "/api/v1/tokens", "/api/v1/templates")


@pytest.fixture
def openapi(api: InProcessApp) -> dict:
    return api.client.get("/openapi.json").json()


def test_openapi_declares_the_avs_bodies_and_errors(openapi: dict) -> None:
    for mode, required in (("from-json", "template"), ("from-prompt", "prompt")):
        operation = openapi["paths"][f"/api/v1/videos/{mode}"]["post"]
        content = operation["requestBody"]["content"]
        schema = content["application/json"]["schema"]
        assert required in schema["required"] and "$ref" not in json.dumps(schema)
        assert schema["properties"]["output"]["properties"]["aspectRatio"]["enum"] == [
            "16:9",
            "9:16",
            "1:1",
            "4:5",
            "4:3",
        ]
        multipart = content["multipart/form-data"]["schema"]["properties"]
        assert multipart["request"]["contentSchema"] == schema
        assert multipart["files"]["items"] == {"type": "string", "format": "binary"}
        for status in ("400", "401", "402", "409"):
            ref = operation["responses"][status]["content"]["application/json"]["schema"]["$ref"]
            assert ref == "#/components/schemas/AvsError"
        assert operation["responses"]["202"]["content"]["application/json"]["schema"]["$ref"].endswith("/AvsJob")
    template = openapi["paths"]["/api/v1/videos/from-json"]["post"]["requestBody"]["content"]["application/json"]
    blocks = template["schema"]["properties"]["template"]["properties"]["blocks"]["items"]["anyOf"]
    assert {b["properties"]["type"]["const"] for b in blocks} == {
        "video",
        "image",
        "text",
        "audio",
        "captions",
        "voice",
    }
    assert "fadeIn" in json.dumps(blocks) and "uploadName" in json.dumps(blocks)

    tokens = openapi["paths"]["/api/v1/tokens"]["post"]
    assert tokens["requestBody"]["content"]["application/json"]["schema"]
    assert tokens["responses"]["201"]["content"]["application/json"]["schema"]["$ref"].endswith("/AvsIssuedToken")
    assert openapi["paths"]["/api/v1/jobs/{job_id}"]["get"]["responses"]["404"]
    assert not [name for name in openapi["components"]["schemas"] if "dialects__avs" in name]  # no clashes
    error = openapi["components"]["schemas"]["AvsErrorDetail"]
    assert set(error["properties"]) == {"code", "message", "field"}


def test_the_avs_part_of_openapi_is_a_valid_document(openapi: dict) -> None:
    """The AVS paths with every component they name pass openapi-spec-validator on their own."""
    paths = {path: item for path, item in openapi["paths"].items() if path.startswith(AVS_PATHS)}
    assert len(paths) == 9  # 6 of the contract + the stored-template extension (templates, one template, render)
    validate({**openapi, "paths": paths})
