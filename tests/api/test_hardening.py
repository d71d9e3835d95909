"""Hardening of the edges (issue 19): the JSON cap on the upload routes, long upload names, a full disk,
HEAD on download links, the cap on tokens per key. In-process (the `api` fixture) except the full disk, which
needs a real small file system (a tmpfs mounted for the test)."""

from __future__ import annotations

import json
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from reelforge.edge.uploads import MAX_NAME_BYTES, storage_name
from tests.asgi import InProcessApp, in_process_app
from tests.helpers import png_bytes

TEXT = {"version": "1", "blocks": [{"type": "text", "start": 0, "duration": 1, "text": "x"}]}


def _token(api: InProcessApp, key: str) -> dict[str, str]:
    made = api.client.post("/api/v1/tokens", headers={"key": key}, json={"name": "t"})
    assert made.status_code == 201, made.text
    return {"Authorization": f"Bearer {made.json()['token']}"}


# ---------------------------------------------------------------- the JSON cap under /api/v1/videos/


@pytest.fixture
def capped(tmp_path: Path) -> Iterator[InProcessApp]:
    yield from in_process_app(tmp_path / "data", max_request_bytes=20_000, max_upload_bytes=400_000)


def _big_template(size: int) -> dict:
    return {"template": {**TEXT, "blocks": [{**TEXT["blocks"][0], "text": "x" * size}]}}


def test_json_bodies_on_the_upload_routes_keep_the_json_cap(capped: InProcessApp) -> None:
    """A 20 MB JSON template used to be buffered, parsed and accepted under the 256 MiB upload cap."""
    key = capped.new_key(1000)
    auth = _token(capped, key)
    body = json.dumps(_big_template(50_000)).encode()
    for mode in ("from-json", "from-prompt"):
        declared = capped.client.post(
            f"/api/v1/videos/{mode}", headers={**auth, "content-type": "application/json"}, content=body
        )
        assert declared.status_code == 413, declared.text
        assert declared.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"
        chunked = capped.client.post(
            f"/api/v1/videos/{mode}",
            headers={**auth, "content-type": "application/json"},
            content=iter([body[:10_000], body[10_000:]]),  # no Content-Length: counted as it streams
        )
        assert chunked.status_code == 413, chunked.text
    assert capped.balance(key) == 1000


def test_multipart_uploads_keep_the_large_cap(capped: InProcessApp) -> None:
    key = capped.new_key(1000)
    template = {
        "version": "1",
        "blocks": [{"type": "image", "start": 0, "duration": 1, "source": {"uploadName": "a.png"}}],
    }
    image = png_bytes(200, 200) + b"\0" * 100_000  # 100 KB: over the JSON cap, under the upload cap
    response = capped.client.post(
        "/api/v1/videos/from-json",
        headers=_token(capped, key),
        data={"request": json.dumps({"template": template})},
        files=[("files", ("a.png", image, "image/png"))],
    )
    assert response.status_code == 202, response.text


# ---------------------------------------------------------------- long upload names


def test_an_upload_name_of_300_characters_is_stored_and_referenced(api: InProcessApp) -> None:
    """The name is the caller's; the file on disk gets a shortened one (the 300-character name was a 500)."""
    key = api.new_key(1000)
    name = "clip-" + "é" * 150 + "a" * 141 + ".png"  # 300 characters, 450 bytes
    assert len(name) == 300
    template = {
        "version": "1",
        "blocks": [{"type": "image", "start": 0, "duration": 1, "source": {"uploadName": name}}],
    }
    response = api.client.post(
        "/api/v1/videos/from-json",
        headers=_token(api, key),
        data={"request": json.dumps({"template": template})},
        files=[("files", (name, png_bytes(64, 48), "image/png"))],
    )
    assert response.status_code == 202, response.text
    [stored] = api.uploads()
    assert len(stored.name.encode()) <= MAX_NAME_BYTES and stored.name.endswith(".png")


def test_storage_names_stay_apart_and_short() -> None:
    long_a, long_b = "a" * 300 + "1.mp4", "a" * 300 + "2.mp4"
    assert storage_name("short.mp4") == "short.mp4"
    assert storage_name(long_a) != storage_name(long_b)
    assert all(len(storage_name(n).encode()) <= MAX_NAME_BYTES for n in (long_a, "é" * 400, "x." + "y" * 300))


# ---------------------------------------------------------------- HEAD on /files


def test_head_on_a_download_link_answers_like_get_without_a_body(api: InProcessApp) -> None:
    api.services.storage.put_bytes("tasks/t1/video.mp4", b"\0\0\0\x18ftypmp42" + b"\0" * 1000)
    link = api.services.storage.signed_url("http://testserver", "tasks/t1/video.mp4", 3600)
    path = link.removeprefix("http://testserver")
    got = api.client.get(path)
    head = api.client.head(path)
    assert got.status_code == head.status_code == 200
    assert head.headers["content-length"] == got.headers["content-length"] == "1012"
    assert head.headers["content-type"] == got.headers["content-type"] == "video/mp4"
    assert head.content == b""
    forged = api.client.head(path.replace("signature=", "signature=0"))
    assert forged.status_code == 403
    # found by the schema fuzzing: a non-ASCII signature was a TypeError (500) in hmac.compare_digest
    foreign = api.client.get(path.split("signature=")[0] + "signature=%C3%A9t%C3%A9")
    assert foreign.status_code == 403, foreign.text


# ---------------------------------------------------------------- tokens per key


def test_tokens_per_key_are_capped(tmp_path: Path) -> None:
    for api in in_process_app(tmp_path / "data", max_tokens_per_key=3):
        key = api.new_key(10)
        made = [api.client.post("/api/v1/tokens", headers={"key": key}, json={"name": f"t{i}"}) for i in range(3)]
        assert [m.status_code for m in made] == [201, 201, 201]
        refused = api.client.post("/api/v1/tokens", headers={"key": key}, json={"name": "one more"})
        assert refused.status_code == 409, refused.text
        assert refused.json()["error"]["code"] == "INVALID_STATE" and "revoke" in refused.json()["error"]["message"]
        revoked = api.client.delete(f"/api/v1/tokens/{made[0].json()['tokenId']}", headers={"key": key})
        assert revoked.status_code == 200
        again = api.client.post("/api/v1/tokens", headers={"key": key}, json={"name": "after revoking"})
        assert again.status_code == 201
        other = api.new_key(10)  # the cap is per key
        assert api.client.post("/api/v1/tokens", headers={"key": other}, json={}).status_code == 201


# ---------------------------------------------------------------- a full disk


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 2 MiB tmpfs to fill (never the real disk); skipped where this process may not mount one."""
    mount = tmp_path / f"small-{uuid.uuid4().hex[:6]}"
    mount.mkdir()
    if shutil.which("mount") is None:
        pytest.skip("no mount(8) here: the full-disk test needs a tmpfs it can fill")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)], capture_output=True, check=False
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.decode().strip()}): the full-disk test needs one")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_full_disk_is_a_503_leaves_no_partial_upload_and_healthz_says_so(tmp_path: Path, small_disk: Path) -> None:
    """Artifacts on the small disk, the database elsewhere: a create whose upload meets ENOSPC answers 503
    STORAGE_FULL, takes no credit and leaves no `.partial` file; `/healthz` reports the disk as full."""
    for api in in_process_app(tmp_path / "data", min_free_bytes=1024 * 1024):
        artifacts = api.data_dir / "artifacts"
        shutil.rmtree(artifacts)
        artifacts.symlink_to(small_disk, target_is_directory=True)
        key = api.new_key(1000)
        auth = _token(api, key)
        assert api.client.get("/healthz").json()["disk"] == "ok"
        (small_disk / "filler").write_bytes(b"\0" * (1536 * 1024))  # 1.5 of 2 MiB used
        template = {
            "version": "1",
            "blocks": [{"type": "video", "start": 0, "duration": 1, "source": {"uploadName": "clip.mp4"}}],
        }
        response = api.client.post(
            "/api/v1/videos/from-json",
            headers=auth,
            data={"request": json.dumps({"template": template})},
            files=[("files", ("clip.mp4", b"\0\0\0\x18ftypmp42" + b"\0" * (1024 * 1024), "video/mp4"))],
        )
        assert response.status_code == 503, response.text
        assert response.json()["error"]["code"] == "STORAGE_FULL"
        assert "Retry-After" in response.headers
        assert api.balance(key) == 1000
        assert [p.name for p in small_disk.rglob("*") if p.is_file()] == ["filler"]  # no .partial, no upload
        health = api.client.get("/healthz")
        assert health.status_code == 503 and health.json()["disk"] == "full"
        (small_disk / "filler").unlink()
        assert api.client.get("/healthz").status_code == 200
