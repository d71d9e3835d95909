"""Output expiry (REELFORGE_OUTPUT_TTL): the sweep deletes expired outputs, and every API says so with a 410
and an `expired` task, on local storage and on S3."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import update

from reelforge.config import Settings
from reelforge.domain.request import GenerationRequest, Kind
from reelforge.domain.task import TaskOutput, TaskStatus
from reelforge.services import Services, build_services
from reelforge.store.tables import tasks, utcnow
from reelforge.tasks.expiry import ExpirySweeper
from reelforge.tasks.records import snapshot_to_task, task_snapshot
from reelforge.tasks.service import Submission
from tests.conftest import ServerProcess
from tests.helpers import create, eventually, wait_for
from tests.storage.conftest import REGION, bucket_keys, s3_env

# ------------------------------------------------------------------ the sweep, in process


@pytest.fixture(params=["local", pytest.param("s3", marks=pytest.mark.s3)])
def services(request: pytest.FixtureRequest, database_url: str, tmp_path: Path) -> Services:
    """Services on both databases (PostgreSQL when configured) and both storage backends."""
    extra = {}
    if request.param == "s3":
        extra = dict(
            storage="s3",
            s3_bucket=request.getfixturevalue("bucket"),
            s3_prefix="rf",
            s3_endpoint_url=request.getfixturevalue("s3_endpoint"),
            s3_region=REGION,
            s3_addressing_style="path",
        )
    built = build_services(Settings(data_dir=tmp_path / "data", database_url=database_url, output_ttl=60, **extra))
    yield built
    built.close()


def finished(services: Services, key_id: str) -> str:
    """A task run to SUCCEEDED by hand, its two files in the store."""
    request = GenerationRequest(kind=Kind.TEXT_TO_VIDEO, prompt="x", width=160, height=96, fps=12, duration=5)
    task = services.tasks.submit(key_id, Submission("t2v", request, {}, "aivideomaker"))
    assert services.work.claim("w1", task_id=task.id) is not None
    video = services.storage.put_bytes(f"tasks/{task.id}/video.mp4", b"mp4")
    thumb = services.storage.put_bytes(f"tasks/{task.id}/thumbnail.jpg", b"jpg")
    output = TaskOutput(video_key=video, thumbnail_key=thumb, duration=5, width=160, height=96, fps=12)
    assert services.work.complete(task.id, output, owner="w1").status == TaskStatus.SUCCEEDED
    return task.id


def test_the_sweep_deletes_expired_outputs_once_and_marks_the_task(services: Services) -> None:
    key = services.keys.create(credits=20).key
    before = utcnow()
    kept, due = finished(services, key.id), finished(services, key.id)
    task = services.tasks.get(due)
    assert before + timedelta(seconds=60) <= task.expires_at <= utcnow() + timedelta(seconds=60)
    assert not task.outputs_expired and not task.output_expired(utcnow())
    assert task.output_expired(task.expires_at)  # from the moment of expiry, before any sweep
    # Webhook bodies are rendered from snapshots: the expiry travels with them.
    assert snapshot_to_task(task_snapshot(task)).expires_at == task.expires_at

    sweeper = ExpirySweeper(services.db, services.storage)
    assert sweeper.sweep_once() == 0  # nothing is due yet
    with services.db.write() as conn:  # make one of them due now rather than waiting a minute
        conn.execute(update(tasks).where(tasks.c.id == due).values(expires_at=utcnow() - timedelta(seconds=1)))
    assert sweeper.sweep_once() == 1
    assert sweeper.sweep_once() == 0  # marked: not swept again
    gone = services.tasks.get(due)
    assert gone.outputs_expired and gone.output is not None  # the metadata stays
    assert not services.storage.exists(f"tasks/{due}/video.mp4")
    assert not services.storage.exists(f"tasks/{due}/thumbnail.jpg")
    assert services.storage.exists(f"tasks/{kept}/video.mp4")
    assert not services.tasks.get(kept).outputs_expired


class _RefusesSomeDeletes:
    """The real store, except that deleting one task's files fails (say, AccessDenied on its keys)."""

    def __init__(self, storage, refused_prefix: str) -> None:  # type: ignore[no-untyped-def]
        self._storage = storage
        self._refused = refused_prefix

    def delete_prefix(self, prefix: str) -> None:
        if prefix == self._refused:
            raise PermissionError(f"AccessDenied: {prefix}")
        self._storage.delete_prefix(prefix)

    def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
        return getattr(self._storage, name)


def test_a_task_whose_files_cannot_be_deleted_does_not_block_the_others(services: Services) -> None:
    key = services.keys.create(credits=20).key
    stuck, behind = finished(services, key.id), finished(services, key.id)
    with services.db.write() as conn:  # both due; the stuck one first in line
        conn.execute(update(tasks).where(tasks.c.id == stuck).values(expires_at=utcnow() - timedelta(seconds=2)))
        conn.execute(update(tasks).where(tasks.c.id == behind).values(expires_at=utcnow() - timedelta(seconds=1)))
    sweeper = ExpirySweeper(services.db, _RefusesSomeDeletes(services.storage, f"tasks/{stuck}"), batch=1)
    assert sweeper.sweep_once() == 0  # the one task in the batch failed ...
    assert sweeper.sweep_once() == 1  # ... and is passed over next time
    assert services.tasks.get(behind).outputs_expired and not services.storage.exists(f"tasks/{behind}/video.mp4")
    assert not services.tasks.get(stuck).outputs_expired  # retried later, still unmarked


def test_ttl_zero_keeps_outputs_forever(tmp_path: Path) -> None:
    services = build_services(Settings(data_dir=tmp_path / "data", output_ttl=0))
    try:
        key = services.keys.create(credits=20).key
        task = services.tasks.get(finished(services, key.id))
        assert task.expires_at is None
        assert ExpirySweeper(services.db, services.storage).sweep_once(utcnow() + timedelta(days=3650)) == 0
        assert not task.output_expired(datetime.now(UTC) + timedelta(days=3650))
    finally:
        services.close()


# ------------------------------------------------------------------- over HTTP, real serve

TTL = 5  # seconds: long enough to download once before expiry on a busy machine


def expired_server(start_server, kind: str, small_models: str, request: pytest.FixtureRequest) -> ServerProcess:
    env = {
        "REELFORGE_OUTPUT_TTL": str(TTL),
        "REELFORGE_EXPIRY_SWEEP_INTERVAL": "0.3",
        "REELFORGE_MODELS_FILE": small_models,
    }
    if kind.startswith("s3"):
        links = "redirect" if kind == "s3-redirect" else "presigned"
        env = s3_env(
            request.getfixturevalue("s3_endpoint"), request.getfixturevalue("bucket"), REELFORGE_S3_LINKS=links, **env
        )
    return start_server(workers=1, env=env)


def stored(server: ServerProcess, kind: str, task_id: str, request: pytest.FixtureRequest) -> list[str]:
    if kind == "local":
        folder = server.data_dir / "artifacts" / "tasks" / task_id
        return sorted(p.name for p in folder.iterdir()) if folder.exists() else []
    keys = bucket_keys(request.getfixturevalue("s3_client"), request.getfixturevalue("bucket"))
    return [key.rsplit("/", 1)[1] for key in keys if key.startswith(f"rf/tasks/{task_id}/")]


@pytest.mark.parametrize(
    "kind",
    ["local", pytest.param("s3-redirect", marks=pytest.mark.s3), pytest.param("s3-presigned", marks=pytest.mark.s3)],
)
def test_expired_outputs_are_deleted_and_answer_410(
    kind: str, start_server, small_models: str, request: pytest.FixtureRequest
) -> None:
    server = expired_server(start_server, kind, small_models, request)
    auth = {"authorization": f"Bearer {server.key}"}
    token = httpx.post(
        f"{server.url}/api/v1/tokens", headers={"key": server.key}, json={"name": "t"}, timeout=10
    ).json()["token"]
    created = create(server, "t2v", {"prompt": "fog over a lake", "aspectRatio": "1:1", "duration": "5"})
    task_id = created.json()["taskId"]
    done = wait_for(server, task_id, {"COMPLETED", "FAILED"})
    assert done["status"] == "COMPLETED", done
    link = done["output"]["videoUrl"]
    if kind == "s3-presigned":  # straight to the bucket, and never valid past the output's expiry
        assert int(parse_qs(urlsplit(link).query)["X-Amz-Expires"][0]) <= TTL
    else:
        assert link.startswith(f"{server.url}/files/tasks/{task_id}/video.mp4?")  # reelforge's own link
    assert done["output"]["expiresAt"].endswith("Z") and "expired" not in done["output"]
    first = httpx.get(link, follow_redirects=True, timeout=30)  # S3: a 307 to a presigned URL, followed
    assert first.status_code == 200 and first.content[4:8] == b"ftyp"
    assert [hop.status_code for hop in first.history] == ([307] if kind == "s3-redirect" else [])
    assert stored(server, kind, task_id, request) == ["spritesheet.jpg", "thumbnail.jpg", "video.mp4"]

    eventually(lambda: not stored(server, kind, task_id, request), interval=0.2, what="the sweep deleted the files")

    old = httpx.get(link, timeout=10)
    if kind == "s3-presigned":
        # S3 itself answers an old presigned link (403 "Request has expired", or 404 once the object is gone;
        # moto does not check expiry); reelforge cannot make that a 410 — the redirect mode can.
        assert old.status_code in (403, 404)
    else:
        assert old.status_code == 410, old.text
        error = old.json()["error"]
        assert error["code"] == "OUTPUT_EXPIRED"
        assert "expired at 20" in error["message"] and "again" in error["message"]

    details = httpx.get(f"{server.url}/api/v1/tasks/{task_id}", headers={"key": server.key}, timeout=10).json()
    assert details["status"] == "COMPLETED"
    output = details["output"]
    assert output["videoUrl"] is None and output["thumbnailUrl"] is None and output["expired"] is True
    assert output["expiresAt"][:19] in output["message"]  # "... expired at 2026-...T...Z ..."
    assert (output["width"], output["height"]) == (144, 144)  # the metadata stays

    video = httpx.get(f"{server.url}/v1/videos/{task_id}", headers=auth, timeout=10).json()
    assert video["status"] == "completed" and video["video_url"] is None
    assert video["expires_at"] <= time.time() and video["error"]["code"] == "OUTPUT_EXPIRED"
    content = httpx.get(f"{server.url}/v1/videos/{task_id}/content", headers=auth, timeout=10)
    assert content.status_code == 410 and content.json()["error"]["code"] == "OUTPUT_EXPIRED"

    job = httpx.get(
        f"{server.url}/api/v1/jobs/{task_id}", headers={"authorization": f"Bearer {token}"}, timeout=10
    ).json()
    result = job["result"]
    assert result["downloadUrl"] is None and result["expired"] is True
    expires = datetime.strptime(result["expiresAt"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    assert expires <= datetime.now(UTC)
