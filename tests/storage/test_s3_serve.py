"""`reelforge serve` with REELFORGE_STORAGE=s3 against a real S3-compatible server: the worker uploads the
MP4, the API hands out presigned URLs that download it, and uploaded inputs reach the worker via the bucket."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from reelforge.media.probe import probe
from tests.helpers import create, data_uri, download, png_bytes, wait_for
from tests.storage.conftest import bucket_keys, s3_env

pytestmark = pytest.mark.s3  # a real `reelforge serve` (e2e, added by tests/conftest.py) storing in moto's S3


def test_draft_tasks_store_in_the_bucket_and_download_presigned(
    start_server, s3_endpoint: str, bucket: str, s3_client, small_models: str, tmp_path: Path
) -> None:
    server = start_server(
        workers=1, env=s3_env(s3_endpoint, bucket, REELFORGE_MODELS_FILE=small_models, REELFORGE_S3_LINKS="presigned")
    )
    t2v = create(server, "t2v", {"prompt": "lanterns over a river", "aspectRatio": "16:9", "duration": "5"})
    assert t2v.status_code == 200, t2v.text
    i2v = create(server, "i2v", {"image": data_uri(png_bytes(320, 180)), "duration": "5"})
    assert i2v.status_code == 200, i2v.text
    uploads = [key for key in bucket_keys(s3_client, bucket) if key.startswith("rf/uploads/")]
    assert len(uploads) == 1  # the data URI went to the bucket, where any worker host can read it

    done = wait_for(server, t2v.json()["taskId"], {"COMPLETED", "FAILED"})
    assert done["status"] == "COMPLETED", done
    output = done["output"]
    url = output["videoUrl"]
    assert url.startswith(f"{s3_endpoint}/{bucket}/rf/tasks/{done['id']}/video.mp4?"), url
    query = parse_qs(urlsplit(url).query)
    # signed for the output's lifetime (REELFORGE_OUTPUT_TTL, 7 days: also SigV4's limit), so the link lives
    # until output.expiresAt
    assert 7 * 86400 - 120 < int(query["X-Amz-Expires"][0]) <= 7 * 86400 and "X-Amz-Signature" in query
    info = probe(download(url, tmp_path / "t2v.mp4"))
    assert (info.codec, info.width, info.height) == ("h264", 256, 144)
    assert info.duration == pytest.approx(5.0, abs=0.1)
    thumb = httpx.get(output["thumbnailUrl"], timeout=30)
    assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/jpeg"
    assert output["expiresAt"].endswith("Z")  # kept REELFORGE_OUTPUT_TTL (7 days) after completion

    # The OpenAI content route streams the object through the API (it is authorised by the key, not a link).
    content = httpx.get(
        f"{server.url}/v1/videos/{done['id']}/content", headers={"authorization": f"Bearer {server.key}"}, timeout=30
    )
    assert content.status_code == 200 and content.headers["content-type"] == "video/mp4"
    assert content.content == (tmp_path / "t2v.mp4").read_bytes()

    i2v_done = wait_for(server, i2v.json()["taskId"], {"COMPLETED", "FAILED"})
    assert i2v_done["status"] == "COMPLETED", i2v_done  # the worker read the image back from the bucket
    info = probe(download(i2v_done["output"]["videoUrl"], tmp_path / "i2v.mp4"))
    assert (info.width, info.height) == (256, 144) and info.duration == pytest.approx(5.0, abs=0.1)

    keys = bucket_keys(s3_client, bucket)
    for task_id in (done["id"], i2v_done["id"]):
        assert {f"rf/tasks/{task_id}/video.mp4", f"rf/tasks/{task_id}/thumbnail.jpg"} <= set(keys)
    artifacts = server.data_dir / "artifacts"
    assert not artifacts.exists() or not any(p.is_file() for p in artifacts.rglob("*"))  # nothing kept locally
    assert "rf-test-secret-key" not in server.log()  # credentials are never logged
