"""What one key sees across dialects (issue 13, point 10), in-process: each dialect's 401 names its own auth
scheme, AIVideoMaker lists show every task of the key with an `input` an AIVideoMaker client can read, and a
catalog model outside the contract's five gets a clear duration message on `/api/v1/generate/{model}`."""

from __future__ import annotations

import pytest

from tests.asgi import InProcessApp

TEMPLATE = {
    "template": {"version": "1", "blocks": [{"type": "text", "start": 0, "duration": 3, "text": "Hello"}]},
    "output": {"aspectRatio": "9:16", "quality": "draft"},
}


@pytest.mark.parametrize(
    ("method", "path", "body", "scheme"),
    [
        ("post", "/api/v1/generate/t2v", {"prompt": "x", "duration": "5"}, "the `key` header"),
        ("get", "/api/v1/tasks", None, "the `key` header"),
        ("post", "/api/actions/ai.video.generate", {"prompt": "x"}, "`X-Api-Key: rf_...`"),
        ("post", "/v1/videos", {"prompt": "x"}, "`Authorization: Bearer rf_...`"),
        ("get", "/v1/videos", None, "`Authorization: Bearer rf_...`"),
        ("post", "/api/v1/videos/from-json", TEMPLATE, "Authorization: Bearer avs.<tokenId>.<secret>"),
        ("post", "/api/v1/tokens", {"name": "t"}, "not an avs. token"),
    ],
)
def test_each_dialects_401_names_its_own_scheme(api: InProcessApp, method: str, path: str, body, scheme: str) -> None:  # type: ignore[no-untyped-def]
    for headers in ({}, {"key": "rf_wrong", "Authorization": "Bearer rf_wrong"}):
        response = getattr(api.client, method)(path, headers=headers, **({"json": body} if body else {}))
        assert response.status_code == 401, response.text
        text = response.text
        assert scheme in text, text
        if "`key` header" not in scheme:
            assert "`key` header" not in text or "not an avs. token" in text  # Bearer clients are not sent to `key`


def test_aivideomaker_lists_render_every_dialects_tasks_readably(api: InProcessApp) -> None:
    secret = api.new_key(200)
    own = api.client.post(
        "/api/v1/generate/t2v",
        headers={"key": secret},
        json={"prompt": "harbour", "aspectRatio": "1:1", "duration": "5"},
    )
    assert own.status_code == 200, own.text
    actions = api.client.post(
        "/api/actions/ai.video.generate",
        headers={"Authorization": f"Bearer {secret}"},
        json={"prompt": "waves", "options": {"aspectRatio": "9:16"}},
    )
    assert actions.status_code == 200, actions.text
    openai = api.client.post("/v1/videos", headers={"Authorization": f"Bearer {secret}"}, json={"prompt": "fog"})
    assert openai.status_code in (200, 201), openai.text
    token = api.client.post("/api/v1/tokens", headers={"key": secret}, json={"name": "t"}).json()["token"]
    avs = api.client.post("/api/v1/videos/from-json", headers={"Authorization": f"Bearer {token}"}, json=TEMPLATE)
    assert avs.status_code == 202, avs.text

    listed = api.client.get("/api/v1/tasks", headers={"key": secret})
    assert listed.status_code == 200
    tasks = {task["createdVia"]: task for task in listed.json()["tasks"]}
    assert set(tasks) == {"aivideomaker", "actions", "openai", "avs"}
    contract = {"prompt", "aspectRatio", "duration", "image", "seed"}
    for via, task in tasks.items():
        assert set(task["input"]) <= contract, (via, task["input"])
        assert isinstance(task["input"]["duration"], str) and task["input"]["duration"].isdigit(), (via, task)
    assert tasks["aivideomaker"]["input"] == {"prompt": "harbour", "aspectRatio": "1:1", "duration": "5"}
    assert tasks["actions"]["input"]["prompt"] == "waves" and tasks["actions"]["input"]["aspectRatio"] == "9:16"
    assert tasks["openai"]["input"]["prompt"] == "fog"
    assert tasks["avs"]["input"]["duration"] == "3" and tasks["avs"]["input"]["aspectRatio"] == "9:16"
    details = api.client.get(f"/api/v1/tasks/{avs.json()['jobId']}", headers={"key": secret}).json()
    assert details["input"] == tasks["avs"]["input"] and details["createdVia"] == "avs"


def test_a_non_contract_catalog_model_names_its_durations(api: InProcessApp) -> None:
    secret = api.new_key(100)
    url = "/api/v1/generate/agnes-video-v2.0"
    for duration, expected in (
        (None, "duration is required: a whole number of seconds from 1 to 600 (seconds, as a string)"),
        ("soon", "duration must be a whole number of seconds from 1 to 600 for model agnes-video-v2.0, got 'soon'"),
    ):
        body = {"prompt": "x", "aspectRatio": "16:9", **({"duration": duration} if duration else {})}
        response = api.client.post(url, headers={"key": secret}, json=body)
        assert response.status_code == 400, response.text
        assert response.json()["message"] == expected and "one of  " not in response.text
    accepted = api.client.post(
        url, headers={"key": secret}, json={"prompt": "x", "aspectRatio": "16:9", "duration": "3"}
    )
    assert accepted.status_code == 200, accepted.text
    assert api.balance(secret) == 97
