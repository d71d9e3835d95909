"""What an operator relies on: request ids, readiness, metrics and JSON logs, against the real app and server."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from reelforge.config import Settings
from reelforge.runtime.readiness import readiness
from reelforge.services import build_services
from tests.asgi import InProcessApp
from tests.conftest import ServerProcess, run_cli
from tests.helpers import create, wait_for


def test_every_answer_carries_a_request_id_and_a_sane_sent_one_is_kept(api: InProcessApp) -> None:
    first = api.client.get("/healthz")
    second = api.client.get("/healthz")
    assert first.headers["x-request-id"].startswith("req_")
    assert first.headers["x-request-id"] != second.headers["x-request-id"]
    assert api.client.get("/healthz", headers={"X-Request-Id": "lb-42.abc"}).headers["x-request-id"] == "lb-42.abc"
    forged = api.client.get("/healthz", headers={"X-Request-Id": "x" * 300})
    assert forged.headers["x-request-id"].startswith("req_")
    # errors too: a 401 of a dialect and an unmatched path
    refused = api.client.get("/api/v1/tasks/nope/status")
    assert refused.status_code == 401 and refused.headers["x-request-id"].startswith("req_")
    assert api.client.get("/no/such/path").headers["x-request-id"].startswith("req_")


def test_readyz_checks_database_and_storage_and_names_what_failed(api: InProcessApp) -> None:
    ready = api.client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "checks": {"database": "ok", "storage": "ok", "broker": "not used"}}
    # The artifact store's folder replaced by a file: writes fail, as on a detached volume.
    artifacts = api.data_dir / "artifacts"
    shutil.rmtree(artifacts)
    artifacts.write_text("not a folder")
    broken = api.client.get("/readyz")
    assert broken.status_code == 503
    body = broken.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["storage"].startswith("failed: ")
    assert "/" not in body["checks"]["storage"]  # the kind of failure, not paths or URLs


def test_readiness_checks_the_celery_broker_and_hides_its_url(tmp_path: Path) -> None:
    secret_url = "redis://:hunter2@127.0.0.1:1/0"  # nothing listens on port 1
    services = build_services(Settings(data_dir=tmp_path / "data", executor="celery", broker_url=secret_url))
    try:
        states = readiness(services)
    finally:
        services.close()
    assert states["database"] == "ok" and states["storage"] == "ok"
    assert states["broker"].startswith("failed: ")
    assert "hunter2" not in json.dumps(states)


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def test_metrics_count_tasks_credits_queue_and_http_latency_by_route(start_server) -> None:
    server: ServerProcess = start_server()
    task_id = create(server, "t2v", {"prompt": "a lighthouse at dusk", "aspectRatio": "1:1", "duration": "5"}).json()[
        "taskId"
    ]
    wait_for(server, task_id, {"COMPLETED"})
    httpx.get(f"{server.url}/api/v1/tasks/{task_id}/status", headers={"key": server.key}, timeout=10)
    scraped = httpx.get(f"{server.url}/metrics", timeout=30)
    assert scraped.status_code == 200
    assert scraped.headers["content-type"].startswith("text/plain")
    samples = _samples(scraped.text)
    assert samples[("reelforge_tasks", (("model", "t2v"), ("status", "succeeded")))] == 1
    cost = server.services().tasks.get(task_id).cost
    assert cost >= 1
    assert samples[("reelforge_credits_debited_total", ())] == cost
    assert samples[("reelforge_credits_refunded_total", ())] == 0
    assert samples[("reelforge_task_run_seconds_count", ())] == 1
    assert samples[("reelforge_task_wait_seconds_count", ())] == 1
    status_route = (
        ("method", "GET"),
        ("route", "/api/v1/tasks/{task_id}/status"),
        ("status", "200"),
    )
    assert samples[("reelforge_http_request_duration_seconds_count", status_route)] >= 1
    # no series per task id: routes are templates
    assert task_id not in scraped.text


def test_json_logs_carry_the_request_id_and_a_bad_format_is_refused(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "data", env={"REELFORGE_LOG_FORMAT": "json"}).start()
    try:
        answer = httpx.get(f"{server.url}/healthz", headers={"X-Request-Id": "trace-7"}, timeout=10)
        assert answer.headers["x-request-id"] == "trace-7"
    finally:
        server.stop()
    lines = [json.loads(line) for line in server.log().splitlines() if line.startswith("{")]
    assert lines, server.log()
    assert all({"time", "level", "logger", "message", "request_id"} <= line.keys() for line in lines)
    assert any(line["request_id"] == "trace-7" and "/healthz" in line["message"] for line in lines)

    refused = run_cli(tmp_path / "bad", "serve", "--port", "0", env={"REELFORGE_LOG_FORMAT": "yaml"}, check=False)
    assert refused.returncode == 2
    assert "REELFORGE_LOG_FORMAT must be one of text, json" in refused.stderr
    assert "Traceback" not in refused.stderr
