"""Webhooks: a local receiver gets every status change, signed with Standard Webhooks, retried after a 500."""

from __future__ import annotations

import json
import time

from standardwebhooks import Webhook

from tests.helpers import LocalHTTPServer, create, new_key, wait_for

T2V = {"prompt": "lanterns over a river", "aspectRatio": "1:1", "duration": "5"}


def test_webhook_delivered_signed_and_retried_after_500(start_server) -> None:
    server = start_server(workers=1)
    key = new_key(server, credits=20)
    answers = iter([500])  # the first delivery fails, every later one succeeds

    def respond(method: str, path: str, headers: dict, body: bytes) -> tuple[int, dict, bytes]:
        return next(answers, 200), {}, b"ok"

    receiver = LocalHTTPServer(respond)
    try:
        response = create(server, "t2v", T2V, key=key["key"], headers={"webhookUrl": f"{receiver.url}/hook"})
        assert response.status_code == 200, response.text
        task_id = response.json()["taskId"]
        wait_for(server, task_id, {"COMPLETED"}, key=key["key"])
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            statuses = [json.loads(r["body"])["status"] for r in receiver.requests]
            if "COMPLETED" in statuses:
                break
            time.sleep(0.1)
    finally:
        receiver.close()

    verifier = Webhook(key["webhookSecret"])
    deliveries = receiver.requests
    statuses = []
    for delivery in deliveries:
        headers = delivery["headers"]
        payload = verifier.verify(
            delivery["body"],
            {
                "webhook-id": headers["webhook-id"],
                "webhook-timestamp": headers["webhook-timestamp"],
                "webhook-signature": headers["webhook-signature"],
            },
        )  # raises on a bad signature
        assert payload["id"] == task_id
        statuses.append(payload["status"])
    # the first (SUBMITTED) event was refused with 500 and delivered again with the same id and body
    assert statuses[0] == statuses[1] == "SUBMITTED"
    assert deliveries[0]["headers"]["webhook-id"] == deliveries[1]["headers"]["webhook-id"]
    assert deliveries[0]["body"] == deliveries[1]["body"]
    assert deliveries[1]["at"] - deliveries[0]["at"] >= 0.2  # backed off before retrying
    assert statuses[2:] == ["PROGRESS", "COMPLETED"]
    assert len({d["headers"]["webhook-id"] for d in deliveries}) == 3
    final = json.loads(deliveries[-1]["body"])
    assert final["output"]["videoUrl"].startswith(server.url + "/files/")
    # a tampered body does not verify
    try:
        verifier.verify(
            deliveries[-1]["body"] + b" ",
            {k: deliveries[-1]["headers"][k] for k in ("webhook-id", "webhook-timestamp", "webhook-signature")},
        )
        raise AssertionError("tampered body verified")
    except Exception as exc:
        assert "signature" in str(exc).lower()
