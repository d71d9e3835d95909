"""Every dialect's expiry field is the expiry of the links it hands out (issue 13, point 3).

AVS `result.expiresAt` is when `result.downloadUrl` stops working, so a client that keeps the link until
`expiresAt` can still download it; with the defaults links are signed for the output's lifetime (7 days
after completion, as the contract shows). AIVideoMaker's `output.expiresAt` means the same; OpenAI's
`expires_at` is the files' deletion, which is the same moment (its content route needs no link).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.conftest import ServerProcess
from tests.helpers import create, wait_for

TEMPLATE = {
    "template": {"version": "1", "blocks": [{"type": "text", "start": 0, "duration": 1, "text": "Links"}]},
    "output": {"aspectRatio": "1:1", "quality": "draft"},
}


def when(stamp: str) -> datetime:
    return datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def link_expiry(url: str) -> datetime:
    return datetime.fromtimestamp(int(parse_qs(urlsplit(url).query)["expires"][0]), UTC)


def avs_job(server: ServerProcess) -> dict:
    token = httpx.post(
        f"{server.url}/api/v1/tokens", headers={"key": server.key}, json={"name": "links"}, timeout=10
    ).json()["token"]
    auth = {"Authorization": f"Bearer {token}"}
    created = httpx.post(f"{server.url}/api/v1/videos/from-json", headers=auth, json=TEMPLATE, timeout=30)
    assert created.status_code == 202, created.text
    job_id = created.json()["jobId"]
    wait_for(server, job_id, {"COMPLETED", "FAILED"})  # the same task, read through AIVideoMaker's route
    job = httpx.get(f"{server.url}/api/v1/jobs/{job_id}", headers=auth, timeout=10).json()
    assert job["status"] == "completed", job
    return job


def test_links_live_until_the_expiry_every_dialect_reports(server: ServerProcess) -> None:
    job = avs_job(server)
    result = job["result"]
    expires = when(result["expiresAt"])
    assert link_expiry(result["downloadUrl"]) == expires == link_expiry(result["thumbnailUrl"])
    # signed for the output's lifetime: 7 days after completion (REELFORGE_OUTPUT_TTL), as the contract shows
    assert abs(expires - (when(job["updatedAt"]) + timedelta(days=7))) <= timedelta(seconds=2)
    assert httpx.get(result["downloadUrl"], timeout=30).status_code == 200

    made = create(server, "t2v", {"prompt": "lanterns", "aspectRatio": "1:1", "duration": "5"})
    done = wait_for(server, made.json()["taskId"], {"COMPLETED", "FAILED"})
    output = done["output"]
    assert link_expiry(output["videoUrl"]) == when(output["expiresAt"]) == link_expiry(output["thumbnailUrl"])
    video = httpx.get(
        f"{server.url}/v1/videos/{done['id']}", headers={"Authorization": f"Bearer {server.key}"}, timeout=10
    ).json()
    assert datetime.fromtimestamp(video["expires_at"], UTC) == when(output["expiresAt"])


@pytest.mark.slow
def test_a_shorter_link_ttl_is_what_expires_at_says(start_server) -> None:  # type: ignore[no-untyped-def]
    """An operator who caps links (REELFORGE_DOWNLOAD_URL_TTL) gets an `expiresAt` that says so."""
    server = start_server(workers=1, env={"REELFORGE_DOWNLOAD_URL_TTL": "120"})
    job = avs_job(server)
    result = job["result"]
    expires = when(result["expiresAt"])
    assert link_expiry(result["downloadUrl"]) == expires
    assert timedelta(seconds=100) < expires - datetime.now(UTC) <= timedelta(seconds=120)
