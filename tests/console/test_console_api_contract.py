"""The console's API in-process: tenant scoping (another key's ids answer 404 on every route), admin-only
routes (403 for other keys), prices equal to what a create debits, ledger, deliveries, re-run and cancel."""

from __future__ import annotations

import json
from typing import Any

import pytest

from reelforge.store.tables import webhook_outbox
from tests.asgi import InProcessApp


def auth(secret: str) -> dict[str, str]:
    return {"authorization": f"Bearer {secret}"}


def create(api: InProcessApp, secret: str, model: str = "t2v", duration: str = "5", **headers: str) -> str:
    answer = api.client.post(
        f"/api/v1/generate/{model}",
        headers={"key": secret, **headers},
        json={"prompt": "a red fox in snow", "aspectRatio": "16:9", "duration": duration},
    )
    assert answer.status_code == 200, answer.text
    return answer.json()["taskId"]


@pytest.fixture
def two_keys(api: InProcessApp) -> tuple[str, str, str, str]:
    """(owner's secret, the owner's task with a webhook delivery, the delivery id, a stranger's secret)."""
    owner = api.new_key(credits=100, name="owner")
    task_id = create(api, owner, webhookUrl="http://127.0.0.1:9/hook")
    with api.services.db.read() as conn:
        delivery = conn.execute(webhook_outbox.select().where(webhook_outbox.c.task_id == task_id)).first()
    assert delivery is not None
    return owner, task_id, delivery.id, api.new_key(credits=100, name="stranger")


def test_every_console_route_answers_404_for_another_keys_ids(
    api: InProcessApp, two_keys: tuple[str, str, str, str]
) -> None:
    owner, task_id, delivery_id, stranger = two_keys
    calls = [
        ("GET", f"/api/console/tasks/{task_id}"),
        ("GET", f"/api/console/tasks/{task_id}/events"),
        ("POST", f"/api/console/tasks/{task_id}/cancel"),
        ("POST", f"/api/console/tasks/{task_id}/rerun"),
        ("GET", f"/api/console/deliveries/{delivery_id}"),
        ("POST", f"/api/console/deliveries/{delivery_id}/redeliver"),
    ]
    before = api.balance(stranger)
    for method, path in calls:
        answer = api.client.request(method, path, headers=auth(stranger))
        assert answer.status_code == 404, (method, path, answer.text)
        assert answer.json()["error"]["code"] in ("TASK_NOT_FOUND", "NOT_FOUND")
        assert task_id not in answer.text or "not found" in answer.text.lower()
    # lists and the ledger never show the owner's rows
    assert api.client.get("/api/console/tasks", headers=auth(stranger)).json()["total"] == 0
    assert api.client.get("/api/console/tasks?model=t2v&status=queued", headers=auth(stranger)).json()["tasks"] == []
    assert api.client.get("/api/console/deliveries", headers=auth(stranger)).json()["deliveries"] == []
    assert api.client.get(f"/api/console/deliveries?taskId={task_id}", headers=auth(stranger)).json()["total"] == 0
    ledger = api.client.get("/api/console/ledger", headers=auth(stranger)).json()
    assert all(row["taskId"] != task_id for row in ledger["rows"]) and ledger["balance"] == before
    # nothing changed for the owner
    owned = api.client.get(f"/api/console/tasks/{task_id}", headers=auth(owner)).json()
    assert owned["status"] == "queued" and api.balance(stranger) == before
    # ... and the same ids work for the owner (the event stream of a queued task would not end here)
    for method, path in (calls[0], calls[4]):
        assert api.client.request(method, path, headers=auth(owner)).status_code == 200, path


def test_admin_routes_refuse_other_keys_and_scope_all_needs_admin(api: InProcessApp) -> None:
    plain = api.new_key()
    victim = api.key_id(api.new_key())
    for method, path, body in [
        ("GET", "/api/console/admin/keys", None),
        ("POST", "/api/console/admin/keys", {"name": "x"}),
        ("POST", f"/api/console/admin/keys/{victim}/revoke", None),
        ("POST", f"/api/console/admin/keys/{victim}/credits", {"amount": 5}),
        ("GET", "/api/console/admin/queue", None),
        ("GET", "/api/console/tasks?scope=all", None),
    ]:
        answer = api.client.request(method, path, headers=auth(plain), json=body)
        assert answer.status_code == 403 and answer.json()["error"]["code"] == "FORBIDDEN", path
    assert api.services.keys.get(victim).active and api.services.keys.balance(victim) == 100
    assert api.client.get("/api/console/admin/queue").status_code == 401


def test_an_admin_sees_and_cancels_any_task_and_manages_keys(
    api: InProcessApp, two_keys: tuple[str, str, str, str]
) -> None:
    owner, task_id, _, _ = two_keys
    admin = api.services.keys.create("ops", admin=True).secret
    everyone = api.client.get("/api/console/tasks?scope=all", headers=auth(admin)).json()
    assert task_id in {t["id"] for t in everyone["tasks"]}
    queue = api.client.get("/api/console/admin/queue", headers=auth(admin)).json()
    assert {"model": "t2v", "queued": 1, "running": 0} in queue["byModel"]
    assert any(row["keyId"] == api.key_id(owner) and row["queued"] == 1 for row in queue["byKey"])

    cancelled = api.client.post(f"/api/console/tasks/{task_id}/cancel", headers=auth(admin))
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert api.balance(owner) == 100  # refunded to its owner

    made = api.client.post("/api/console/admin/keys", headers=auth(admin), json={"name": "team", "credits": 7})
    assert made.status_code == 201
    new = made.json()
    assert new["key"].startswith("rf_") and new["balance"] == 7
    assert api.client.get("/api/console/session", headers=auth(new["key"])).json()["name"] == "team"
    listed = api.client.get("/api/console/admin/keys", headers=auth(admin)).json()["keys"]
    assert new["key"] not in str(listed) and any(k["id"] == new["id"] for k in listed)

    granted = api.client.post(f"/api/console/admin/keys/{new['id']}/credits", headers=auth(admin), json={"amount": 50})
    assert granted.json() == {"keyId": new["id"], "amount": 50, "balance": 57}
    rows = api.client.get("/api/console/ledger", headers=auth(new["key"])).json()["rows"]
    assert rows[0]["reason"] == "grant" and rows[0]["amount"] == 50 and "ops" in rows[0]["note"]

    revoked = api.client.post(f"/api/console/admin/keys/{new['id']}/revoke", headers=auth(admin))
    assert revoked.json()["active"] is False
    assert api.client.get("/api/console/session", headers=auth(new["key"])).status_code == 401
    assert (
        api.client.post("/api/console/admin/keys/key_nope/credits", headers=auth(admin), json={"amount": 1}).status_code
        == 404
    )
    me = api.key_id(admin)
    assert api.client.post(f"/api/console/admin/keys/{me}/revoke", headers=auth(admin)).status_code == 409


@pytest.mark.parametrize(
    ("model", "body"),
    [
        ("t2v", {"prompt": "x", "aspectRatio": "16:9", "duration": "8"}),
        ("t2v_v3", {"prompt": "x", "aspectRatio": "1:1", "duration": "15"}),
        ("lv", {"image": "https://example.com/a.png", "prompt": ["a", "b", "c"]}),
        ("i2v", {"image": "https://example.com/a.png", "duration": "5"}),
    ],
)
def test_the_quoted_price_is_what_the_create_debits(api: InProcessApp, model: str, body: dict[str, Any]) -> None:
    secret = api.new_key(credits=1000)
    query: dict[str, Any] = {"model": model, "assets": {"image": 1} if "image" in body else {}}
    if isinstance(body.get("prompt"), list):
        query["prompts"] = len(body["prompt"])
    if "duration" in body:
        query["duration"] = int(body["duration"])
    quote = api.client.post("/api/console/price", headers=auth(secret), json=query)
    assert quote.status_code == 200, quote.text
    created = api.client.post(f"/api/v1/generate/{model}", headers=auth(secret), json=body)
    assert created.status_code == 200, created.text
    assert 1000 - api.balance(secret) == quote.json()["credits"] > 0


def test_the_catalog_declares_each_models_create_route_with_its_rules(api: InProcessApp) -> None:
    models = {m["name"]: m for m in api.client.get("/api/console/models", headers=auth(api.new_key())).json()["models"]}
    t2v = models["t2v"]["create"]
    assert t2v["path"] == "/api/v1/generate/t2v" and t2v["auth"] == "key"
    assert t2v["bodySchema"]["properties"]["duration"]["enum"] == [5, 8]
    assert "prompt" in t2v["bodySchema"]["required"]
    assert models["lv"]["create"]["bodySchema"]["properties"]["prompt"]["maxItems"] == 6
    assert models["avs-json"]["create"]["auth"] == "avs_token" and models["avs-json"]["mcpTool"] == "render_template"
    assert models["v2v"]["create"]["fixed"] == {"scene": "video-to-video", "model": "v2v"}
    agnes = models["agnes-video-v2.0"]["create"]
    assert agnes["path"] == "/v1/videos" and "extra_body" in agnes["bodySchema"]["properties"]
    extra = agnes["bodySchema"]["properties"]["extra_body"]
    extra = next(option for option in extra.get("anyOf", [extra]) if option.get("type") == "object")
    assert set(extra["properties"]) >= {"image", "mode"}
    bad = api.client.post("/api/console/price", headers=auth(api.new_key()), json={"model": "nope"})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "INVALID_MODEL"


def test_rerun_makes_a_new_charged_task_with_the_same_inputs(api: InProcessApp) -> None:
    secret = api.new_key(credits=20)
    first = create(api, secret, duration="8")
    again = api.client.post(f"/api/console/tasks/{first}/rerun", headers=auth(secret))
    assert again.status_code == 201
    rerun = again.json()
    assert rerun["id"] != first and rerun["model"] == "t2v" and rerun["input"]["prompt"] == "a red fox in snow"
    assert rerun["extra"]["rerunOf"] == first and api.balance(secret) == 4
    poor = api.client.post(f"/api/console/tasks/{first}/rerun", headers=auth(secret))
    assert poor.status_code == 402 and api.balance(secret) == 4


def test_task_list_filters_and_pages(api: InProcessApp) -> None:
    secret = api.new_key(credits=100)
    ids = [create(api, secret) for _ in range(3)]
    api.client.post(f"/api/console/tasks/{ids[0]}/cancel", headers=auth(secret))
    page = api.client.get("/api/console/tasks?limit=2", headers=auth(secret)).json()
    assert page["total"] == 3 and [t["id"] for t in page["tasks"]] == ids[:0:-1]
    rest = api.client.get("/api/console/tasks?limit=2&offset=2", headers=auth(secret)).json()
    assert [t["id"] for t in rest["tasks"]] == [ids[0]]
    cancelled = api.client.get("/api/console/tasks?status=cancelled", headers=auth(secret)).json()
    assert [t["id"] for t in cancelled["tasks"]] == [ids[0]] and cancelled["tasks"][0]["dialect"] == "aivideomaker"
    assert api.client.get("/api/console/tasks?model=i2v", headers=auth(secret)).json()["total"] == 0
    assert api.client.get("/api/console/tasks?status=bogus", headers=auth(secret)).status_code == 400
    ledger = api.client.get("/api/console/ledger", headers=auth(secret)).json()
    reasons = [(r["reason"], r["taskId"]) for r in ledger["rows"] if r["taskId"] == ids[0]]
    assert sorted(reasons) == [("debit", ids[0]), ("refund", ids[0])] and ledger["balance"] == 90


def test_a_failed_delivery_shows_its_status_and_can_be_redelivered(
    api: InProcessApp, two_keys: tuple[str, str, str, str]
) -> None:
    owner, task_id, delivery_id, _ = two_keys
    with api.services.db.write() as conn:
        conn.execute(
            webhook_outbox.update()
            .where(webhook_outbox.c.id == delivery_id)
            .values(state="failed", attempts=8, last_error="HTTP 503")
        )
    shown = api.client.get(f"/api/console/deliveries?taskId={task_id}", headers=auth(owner)).json()["deliveries"][0]
    assert shown["statusCode"] == 503 and shown["attempts"] == 8 and shown["nextAttemptAt"] is None
    again = api.client.post(f"/api/console/deliveries/{delivery_id}/redeliver", headers=auth(owner)).json()
    assert again["state"] == "pending" and again["nextAttemptAt"] is not None and again["attempts"] == 7


def test_console_routes_are_declared_in_openapi(api: InProcessApp) -> None:
    paths = api.client.get("/openapi.json").json()["paths"]
    for path in [
        "/api/console/session",
        "/api/console/models",
        "/api/console/price",
        "/api/console/tasks",
        "/api/console/tasks/{task_id}",
        "/api/console/tasks/{task_id}/events",
        "/api/console/tasks/{task_id}/cancel",
        "/api/console/tasks/{task_id}/rerun",
        "/api/console/ledger",
        "/api/console/deliveries",
        "/api/console/deliveries/{delivery_id}/redeliver",
        "/api/console/admin/keys",
        "/api/console/admin/keys/{key_id}/credits",
        "/api/console/admin/queue",
    ]:
        assert path in paths, path
        for operation in paths[path].values():
            assert "401" in operation["responses"], path


def test_the_event_stream_sends_the_task_and_ends_once_it_is_terminal(api: InProcessApp) -> None:
    secret = api.new_key()
    task_id = create(api, secret)
    api.client.post(f"/api/console/tasks/{task_id}/cancel", headers=auth(secret))
    with api.client.stream("GET", f"/api/console/tasks/{task_id}/events", headers=auth(secret)) as answer:
        assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/event-stream")
        text = "".join(answer.iter_text())
    events = [block for block in text.split("\n\n") if block.startswith("event: task")]
    assert len(events) == 1
    body = json.loads(events[0].split("data: ", 1)[1])
    assert body["id"] == task_id and body["status"] == "cancelled" and body["cost"] == 5
