"""The S3 backend against a real S3-compatible server (moto over HTTP): objects, prefixes, presigned
downloads, the factory and the lifecycle rule."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from reelforge.config import Settings
from reelforge.domain.errors import ErrorCode, ReelforgeError
from reelforge.domain.request import GenerationRequest, Kind
from reelforge.domain.task import Task, TaskOutput, TaskStatus
from reelforge.edge.links import Links
from reelforge.storage.base import Storage
from reelforge.storage.factory import build_storage
from reelforge.storage.lifecycle import RULE_ID, apply_lifecycle, lifecycle_rule
from reelforge.storage.local import LocalStorage
from reelforge.storage.s3 import S3Storage
from reelforge.store.db import Database
from tests.storage.conftest import REGION, bucket_keys

pytestmark = pytest.mark.s3  # every case talks to moto's S3 server

SECRET = b"s" * 32


def make(endpoint: str, bucket: str, **kwargs) -> S3Storage:  # type: ignore[no-untyped-def]
    return S3Storage(
        bucket,
        SECRET,
        prefix=kwargs.pop("prefix", "deploy-a"),
        endpoint_url=endpoint,
        region=REGION,
        addressing_style="path",
        **kwargs,
    )


def test_objects_round_trip_under_the_prefix(s3_endpoint: str, bucket: str, s3_client, tmp_path: Path) -> None:
    storage = make(s3_endpoint, bucket)
    assert isinstance(storage, Storage) and isinstance(LocalStorage(tmp_path / "a", SECRET), Storage)

    assert storage.put_bytes("uploads/in.png", b"\x89PNG...") == "uploads/in.png"
    assert storage.read_bytes("uploads/in.png") == b"\x89PNG..."
    assert storage.exists("uploads/in.png") and storage.size("uploads/in.png") == 7
    assert not storage.exists("uploads/other.png")
    with pytest.raises(FileNotFoundError):
        storage.read_bytes("uploads/other.png")
    with pytest.raises(FileNotFoundError):
        storage.size("uploads/other.png")
    head = s3_client.head_object(Bucket=bucket, Key="deploy-a/uploads/in.png")
    assert head["ContentType"] == "image/png"

    storage.delete("uploads/in.png")
    storage.delete("uploads/in.png")  # deleting twice is fine (sweeps race and retry)
    assert not storage.exists("uploads/in.png")
    for bad in ("", "/etc/passwd", "tasks/../../x", "tasks//x", "a\\b"):
        with pytest.raises(ReelforgeError):
            storage.put_bytes(bad, b"x")


@pytest.mark.slow  # 9 MB up in multipart chunks and back through moto
def test_large_files_go_up_in_multipart_chunks_and_stream_back(
    s3_endpoint: str, bucket: str, s3_client, tmp_path: Path
) -> None:
    storage = make(s3_endpoint, bucket, multipart_threshold=5 * 1024 * 1024)
    source = tmp_path / "video.mp4"
    data = os.urandom(9 * 1024 * 1024)
    source.write_bytes(data)
    storage.put_file("tasks/t1/video.mp4", source)
    head = s3_client.head_object(Bucket=bucket, Key="deploy-a/tasks/t1/video.mp4")
    assert head["ETag"].strip('"').endswith("-2")  # two parts: boto3's managed multipart transfer
    assert head["ContentType"] == "video/mp4" and head["ContentLength"] == len(data)
    chunks = list(storage.iter_bytes("tasks/t1/video.mp4", chunk_size=4 * 1024 * 1024))
    assert len(chunks) >= 3 and b"".join(chunks) == data


def test_delete_prefix_removes_that_directory_only(s3_endpoint: str, bucket: str, s3_client) -> None:
    storage = make(s3_endpoint, bucket)
    other = make(s3_endpoint, bucket, prefix="deploy-b")
    for key in ("tasks/ab/video.mp4", "tasks/ab/thumbnail.jpg", "tasks/abc/video.mp4"):
        storage.put_bytes(key, b"x")
    other.put_bytes("tasks/ab/video.mp4", b"y")
    storage.delete_prefix("tasks/ab")
    storage.delete_prefix("tasks/nothing-here")
    assert bucket_keys(s3_client, bucket) == ["deploy-a/tasks/abc/video.mp4", "deploy-b/tasks/ab/video.mp4"]


def test_presigned_urls_download_and_carry_their_expiry(s3_endpoint: str, bucket: str) -> None:
    storage = make(s3_endpoint, bucket)
    storage.put_bytes("tasks/t2/thumbnail.jpg", b"\xff\xd8jpeg")
    url = storage.signed_url("http://api.example", "tasks/t2/thumbnail.jpg", 600)
    assert url.startswith(f"{s3_endpoint}/{bucket}/deploy-a/tasks/t2/thumbnail.jpg?")
    query = parse_qs(urlsplit(url).query)
    assert query["X-Amz-Expires"] == ["600"] and "X-Amz-Signature" in query
    assert "rf-test-secret-key" not in url  # the secret signs, it never travels
    response = httpx.get(url, timeout=10)
    assert response.status_code == 200 and response.content == b"\xff\xd8jpeg"
    assert response.headers["content-type"] == "image/jpeg"

    # A link rendered for an earlier moment (a webhook body) ends when the others made then end.
    earlier = storage.signed_url("http://api.example", "tasks/t2/thumbnail.jpg", 600, now=time.time() - 200)
    assert 398 <= int(parse_qs(urlsplit(earlier).query)["X-Amz-Expires"][0]) <= 401
    # SigV4 allows 7 days at most.
    week = storage.signed_url("http://api.example", "tasks/t2/thumbnail.jpg", 30 * 24 * 3600)
    assert parse_qs(urlsplit(week).query)["X-Amz-Expires"] == ["604800"]


def test_links_never_outlive_the_output(s3_endpoint: str, bucket: str) -> None:
    storage = make(s3_endpoint, bucket)
    now = datetime.now(UTC)
    task = finished_task(expires_at=now + timedelta(seconds=30))
    links = Links(storage, "http://api.example", 24 * 3600, now=now.timestamp())
    video = links.video_url(task)
    assert video is not None and parse_qs(urlsplit(video).query)["X-Amz-Expires"] == ["30"]
    later = Links(storage, "http://api.example", 24 * 3600, now=(now + timedelta(seconds=31)).timestamp())
    assert later.expired(task) and later.video_url(task) is None and later.thumbnail_url(task) is None


def test_redirect_mode_hands_out_reelforge_links(s3_endpoint: str, bucket: str) -> None:
    storage = make(s3_endpoint, bucket, links="redirect")
    storage.put_bytes("tasks/t3/video.mp4", b"mp4")
    url = storage.signed_url("http://api.example/", "tasks/t3/video.mp4", 60)
    assert url.startswith("http://api.example/files/tasks/t3/video.mp4?expires=")
    query = parse_qs(urlsplit(url).query)
    storage.verify("tasks/t3/video.mp4", int(query["expires"][0]), query["signature"][0])
    with pytest.raises(ReelforgeError) as refused:
        storage.verify("tasks/t3/thumbnail.jpg", int(query["expires"][0]), query["signature"][0])
    assert refused.value.code == ErrorCode.FORBIDDEN
    direct = storage.direct_url("tasks/t3/video.mp4", 60)
    assert direct is not None and httpx.get(direct, timeout=10).content == b"mp4"
    assert storage.local_path("tasks/t3/video.mp4") is None


def test_the_factory_follows_the_settings(s3_endpoint: str, bucket: str, tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'rf.db'}")
    db.migrate()
    try:
        assert isinstance(build_storage(Settings(data_dir=tmp_path), db), LocalStorage)
        with pytest.raises(ReelforgeError, match="REELFORGE_S3_BUCKET"):
            build_storage(Settings(data_dir=tmp_path, storage="s3"), db)
        settings = Settings(
            data_dir=tmp_path,
            storage="s3",
            s3_bucket=bucket,
            s3_prefix="/x/",
            s3_endpoint_url=s3_endpoint,
            s3_region=REGION,
            s3_addressing_style="path",
        )
        storage = build_storage(settings, db)
        assert isinstance(storage, S3Storage) and storage.prefix == "x/"
        storage.put_bytes("uploads/a.txt", b"a")
        # Every process of a deployment builds the same store from the same settings and database.
        assert build_storage(settings, db).read_bytes("uploads/a.txt") == b"a"
    finally:
        db.dispose()


def test_lifecycle_rule_matches_the_ttl_and_keeps_other_rules(bucket: str, s3_client) -> None:
    assert lifecycle_rule("rf/", 0) is None
    rule = lifecycle_rule("rf/", 7 * 24 * 3600)
    assert rule is not None
    assert rule["Filter"] == {"Prefix": "rf/tasks/"} and rule["Expiration"] == {"Days": 8}
    foreign = {"ID": "logs", "Status": "Enabled", "Filter": {"Prefix": "logs/"}, "Expiration": {"Days": 3}}
    s3_client.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": [foreign]})
    apply_lifecycle(s3_client, bucket, rule)
    apply_lifecycle(s3_client, bucket, lifecycle_rule("rf/", 3600))  # re-applied: replaced, not duplicated
    rules = {r["ID"]: r for r in s3_client.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]}
    assert set(rules) == {"logs", RULE_ID} and rules[RULE_ID]["Expiration"]["Days"] == 2


def finished_task(expires_at: datetime | None, task_id: str = "t-links") -> Task:
    now = datetime.now(UTC)
    request = GenerationRequest(kind=Kind.TEXT_TO_VIDEO, prompt="x", width=64, height=64, fps=12, duration=1)
    return Task(
        id=task_id,
        key_id="k",
        model="t2v",
        dialect="aivideomaker",
        request=request,
        input={},
        status=TaskStatus.SUCCEEDED,
        progress=100,
        cost=1,
        attempts=1,
        created_at=now,
        updated_at=now,
        completed_at=now,
        expires_at=expires_at,
        output=TaskOutput(
            video_key=f"tasks/{task_id}/video.mp4",
            thumbnail_key=f"tasks/{task_id}/thumbnail.jpg",
            duration=1.0,
            width=64,
            height=64,
            fps=12.0,
        ),
    )
