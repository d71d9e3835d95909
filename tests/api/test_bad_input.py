"""Input that used to answer 500 (or be stored and break every later read): lone surrogates, deep nesting,
paging numbers past the database's integers, on every create and on SQLite and PostgreSQL.

Each create is sent as raw bytes, as a client would send them, so the JSON text itself carries the escape
(`"\\ud800"`); after every refusal the reads and lists of the key still answer 200 and nothing was charged.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from reelforge.domain.errors import ErrorCode, ReelforgeError
from reelforge.domain.jsontext import JsonTextError, is_reason, loads, unencodable_path, why
from reelforge.domain.request import GenerationRequest, Kind
from reelforge.tasks.service import Submission
from tests.asgi import InProcessApp, in_process_app

SURROGATES = ["\\ud800", "x\\udfff", "\\udc00\\ud800", "a\\ud83d"]
"""Escapes that JSON text may spell but UTF-8 cannot carry: lone high, lone low, reversed pair, unpaired."""

T2V = {"prompt": "P", "aspectRatio": "16:9", "duration": "5"}


@pytest.fixture
def app(tmp_path: Path, database_url: str) -> Iterator[InProcessApp]:
    yield from in_process_app(tmp_path / "data", database_url=database_url)


@dataclass
class Caller:
    api: InProcessApp
    key: str
    token: str

    def headers(self, scheme: str) -> dict[str, str]:
        secret = {"key": self.key, "bearer": self.key, "token": self.token}[scheme]
        auth = {"key": secret} if scheme == "key" else {"Authorization": f"Bearer {secret}"}
        return {**auth, "content-type": "application/json"}

    def post(self, path: str, scheme: str, raw: bytes):  # type: ignore[no-untyped-def]
        return self.api.client.post(path, headers=self.headers(scheme), content=raw)


@pytest.fixture
def caller(app: InProcessApp) -> Caller:
    key = app.new_key(1000)
    token = app.client.post("/api/v1/tokens", headers={"key": key}, json={"name": "t"}).json()["token"]
    return Caller(app, key, token)


def _text(body: dict[str, Any], marker: str, text: str) -> bytes:
    """`body` as JSON text with the string `marker` replaced by `text` spelled raw (escapes kept)."""
    return json.dumps(body).replace(json.dumps(marker), f'"{text}"').encode()


CREATES: list[tuple[str, str, Callable[[Caller], str], dict[str, Any]]] = [
    ("aivideomaker", "key", lambda c: "/api/v1/generate/t2v", T2V),
    ("openai", "bearer", lambda c: "/v1/videos", {"prompt": "P"}),
    ("openai remix", "bearer", lambda c: f"/v1/videos/{_video(c)}/remix", {"prompt": "P"}),
    ("avs from-prompt", "token", lambda c: "/api/v1/videos/from-prompt", {"prompt": "P"}),
    (
        "avs from-json",
        "token",
        lambda c: "/api/v1/videos/from-json",
        {"template": {"version": "1", "blocks": [{"type": "text", "start": 0, "duration": 1, "text": "P"}]}},
    ),
    ("actions", "bearer", lambda c: "/api/actions/ai.video.generate", {"prompt": "P"}),
    ("tokens", "key", lambda c: "/api/v1/tokens", {"name": "P"}),
]


def _video(caller: Caller) -> str:
    made = caller.post("/v1/videos", "bearer", b'{"prompt": "a source"}')
    assert made.status_code == 200, made.text
    return str(made.json()["id"])


def reads_still_answer(caller: Caller) -> None:
    """Every list and read of the key renders (a stored surrogate made these 500 until the task was deleted)."""
    client = caller.api.client
    for path, scheme in [
        ("/api/v1/tasks", "key"),
        ("/v1/videos", "bearer"),
        ("/api/v1/tokens", "key"),
    ]:
        response = client.get(path, headers=caller.headers(scheme))
        assert response.status_code == 200, (path, response.text)
    for video in client.get("/v1/videos", headers=caller.headers("bearer")).json()["data"]:
        assert client.get(f"/v1/videos/{video['id']}", headers=caller.headers("bearer")).status_code == 200
        assert client.get(f"/agnesapi?video_id={video['id']}", headers=caller.headers("bearer")).status_code == 200
        assert client.get(f"/api/v1/tasks/{video['id']}", headers=caller.headers("key")).status_code == 200


@pytest.mark.parametrize("surrogate", SURROGATES)
@pytest.mark.parametrize(("name", "scheme", "path", "body"), CREATES, ids=[c[0] for c in CREATES])
def test_a_lone_surrogate_is_refused_at_submit_and_reads_keep_working(
    caller: Caller, name: str, scheme: str, path: Callable[[Caller], str], body: dict[str, Any], surrogate: str
) -> None:
    url = path(caller)
    before = caller.api.balance(caller.key)
    response = caller.post(url, scheme, _text(body, "P", f"a {surrogate} b"))
    assert response.status_code == 400, response.text
    assert "surrogate" in response.text
    assert caller.api.balance(caller.key) == before
    assert caller.api.uploads() == []
    reads_still_answer(caller)


@pytest.mark.parametrize(("name", "scheme", "path", "body"), CREATES, ids=[c[0] for c in CREATES])
def test_json_nested_past_the_limit_is_a_400_not_a_recursion_error(
    caller: Caller, name: str, scheme: str, path: Callable[[Caller], str], body: dict[str, Any]
) -> None:
    url = path(caller)
    before = caller.api.balance(caller.key)
    for depth in (202, 100_000):
        deep = _text(body, "P", "x").replace(b'"x"', b"[" * depth + b"]" * depth)
        response = caller.post(url, scheme, deep)
        assert response.status_code == 400, response.text
        assert "nested deeper than 201 levels" in response.text
    assert caller.api.balance(caller.key) == before
    reads_still_answer(caller)


def test_avs_multipart_request_field_is_parsed_as_strictly(caller: Caller) -> None:
    headers = {"Authorization": f"Bearer {caller.token}"}
    for raw in ('{"prompt": "a \\ud800"}', '{"prompt": ' + "[" * 300 + "]" * 300 + "}"):
        response = caller.api.client.post(
            "/api/v1/videos/from-prompt", headers=headers, data={"request": raw}, files=[("files", ("a.png", b"x"))]
        )
        assert response.status_code == 400, response.text
        assert response.json()["error"]["field"] == "request"
    reads_still_answer(caller)


def test_mcp_tools_refuse_a_lone_surrogate(app: InProcessApp) -> None:
    from tests.mcp.test_mcp_contract import Agent

    agent = Agent(app)
    before = agent.balance()
    result = agent.one("generate_video", {"prompt": "a \ud800 b"})
    assert result.is_error and result.structured_content["error"]["code"] == "INVALID_PAYLOAD"
    assert agent.balance() == before and app.executor.dispatched == []


@pytest.mark.parametrize(
    ("prompt", "echoed", "field"),
    [("a \ud800", {"prompt": "fine"}, "/prompt"), ("fine", {"options": ["ok", "\udfff"]}, "/options/1")],
)
def test_the_task_core_refuses_text_utf8_cannot_carry_from_any_surface(
    app: InProcessApp, prompt: str, echoed: dict[str, Any], field: str
) -> None:
    """A surface that builds the request another way (a form field, an SDK, a future dialect) meets the task
    core's own check: a 400 naming the place, nothing charged, nothing stored."""
    key = app.new_key(100)
    request = GenerationRequest(kind=Kind.TEXT_TO_VIDEO, prompt=prompt, width=64, height=64, fps=8, duration=1)
    with pytest.raises(ReelforgeError) as caught:
        app.services.tasks.submit(app.key_id(key), Submission("t2v", request, echoed, "aivideomaker"))
    assert caught.value.code == ErrorCode.INVALID_PAYLOAD and "surrogate" in caught.value.message
    assert caught.value.field == field
    assert app.balance(key) == 100 and app.services.tasks.recent(app.key_id(key)) == []


def test_paging_numbers_past_the_database_integer_are_400(caller: Caller) -> None:
    client = caller.api.client
    for query, field in [("offset=9223372036854775808", "/offset"), ("limit=9223372036854775808", "/limit")]:
        response = client.get(f"/api/v1/tasks?{query}", headers=caller.headers("key"))
        assert response.status_code == 400, response.text
        assert response.json()["field"] == field
    response = client.get(f"/v1/videos?limit={2**64}", headers=caller.headers("bearer"))
    assert response.status_code == 400 and response.json()["error"]["param"] == "limit"


# ---------------------------------------------------------------- the parser itself


def test_loads_keeps_what_json_accepts_and_refuses_what_breaks_the_server() -> None:
    assert loads(b'{"a": [1, 2.5, "\\ud83d\\ude00", null, true]}') == {"a": [1, 2.5, "\U0001f600", None, True]}
    assert loads("[1e300]") == [1e300]
    for bad, reason in [
        (b'"\\ud800"', "surrogate"),
        (b"[" * 202 + b"]" * 202, "nested deeper"),
        (b"[1e400]", "too large"),
    ]:
        with pytest.raises(JsonTextError, match=reason) as caught:
            loads(bad)
        assert is_reason(str(caught.value)) and why(caught.value).startswith(": ")
    for syntax in (b"NaN", b"{", b""):  # plain syntax errors: each surface keeps its own wording
        with pytest.raises(json.JSONDecodeError) as plain:
            loads(syntax)
        assert not isinstance(plain.value, JsonTextError) and why(plain.value) == ""


def test_unencodable_path_names_the_place() -> None:
    assert unencodable_path({"a": ["ok", {"b": "x\ud800"}]}) == "/a/1/b"
    assert unencodable_path({"a": "fine", "n": 1}) is None


# ---------------------------------------------------------------- URLs at submit (private hosts refused)


@pytest.fixture
def strict(tmp_path: Path) -> Iterator[InProcessApp]:
    """The app as deployed by default: private hosts refused for inputs and webhooks."""
    yield from in_process_app(tmp_path / "data", allow_private_urls=False)


def _url_creates(key: str, token: str, url: str) -> list[tuple[str, str, dict[str, str], dict[str, Any], str]]:
    """(name, path, headers, body, the field that carries `url`) for one URL input or webhook of each dialect."""
    aivm, bearer, avs = {"key": key}, {"Authorization": f"Bearer {key}"}, {"Authorization": f"Bearer {token}"}
    text = {"version": "1", "blocks": [{"type": "text", "start": 0, "duration": 1, "text": "x"}]}
    return [
        ("aivm image", "/api/v1/generate/i2v", aivm, {"image": url, "duration": "5"}, "/image"),
        ("aivm webhook", "/api/v1/generate/t2v", {**aivm, "webhookUrl": url}, T2V, "webhookUrl"),
        ("openai image", "/v1/videos", bearer, {"prompt": "x", "image": url}, "/image"),
        ("avs webhook", "/api/v1/videos/from-json", avs, {"template": text, "webhook": {"url": url}}, "/webhook/url"),
        ("avs asset", "/api/v1/videos/from-prompt", avs, {"prompt": "x", "assetUrls": [url]}, "/assetUrls/0"),
        (
            "actions image",
            "/api/actions/ai.video.generate",
            bearer,
            {"prompt": "x", "scene": "image-to-video", "imageInput": url},
            "/imageInput/0",
        ),
    ]


def _token(app: InProcessApp, key: str) -> str:
    return str(app.client.post("/api/v1/tokens", headers={"key": key}, json={"name": "t"}).json()["token"])


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("https://a..b.com/x.png", "invalid host name"),
        ("https://" + "a" * 64 + ".example.com/x.png", "invalid host name"),
        ("https://example.com/" + "x" * 10_000 + ".png", "longer than 8192"),
        ("http://[::127.0.0.1]/x.png", "not allowed"),
        ("http://[64:ff9b::a9fe:a9fe]/x.png", "metadata"),
        ("http://[2002:7f00:1::]/x.png", "not allowed"),
        ("http://[fec0::1]/x.png", "site-local"),
        ("http://127.0.0.1/x.png", "not allowed"),
    ],
)
def test_bad_and_forbidden_urls_are_a_400_naming_the_field_on_every_dialect(
    strict: InProcessApp, url: str, message: str
) -> None:
    key = strict.new_key(1000)
    for name, path, headers, body, field in _url_creates(key, _token(strict, key), url):
        response = strict.client.post(path, headers=headers, json=body)
        assert response.status_code == 400, (name, response.text)
        assert message in response.text, (name, response.text)
        error = response.json().get("error", response.json())
        assert field in (error.get("field"), error.get("param"), "/" + str(error.get("param"))), (name, error)
    assert strict.balance(key) == 1000 and strict.uploads() == []


def test_plain_http_to_a_public_host_is_accepted_by_default(strict: InProcessApp) -> None:
    """Issue 13 point 7: http:// is no longer tied to allowing private hosts."""
    key = strict.new_key(1000)
    for name, path, headers, body, _ in _url_creates(key, _token(strict, key), "http://93.184.216.34/x.png"):
        if name == "avs asset":
            body = {**body, "assetUrls": ["http://93.184.216.34/clip.mp4"]}
        response = strict.client.post(path, headers=headers, json=body)
        assert response.status_code in (200, 201, 202), (name, response.text)
