"""`media/sniff.py` (a file's type from its first bytes, a readable screen recording) and `media/screen.py`
(scene changes and active segments), on real files made by ffmpeg."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from reelforge.domain.errors import ReelforgeError
from reelforge.media.screen import analyse, parse
from reelforge.media.sniff import media_type, readable_video, sniff_url
from tests.helpers import LocalHTTPServer, ffmpeg_exe, make_video, make_wav, png_bytes


def screen_recording(path: Path) -> Path:
    """6 s: a still blue screen, 2 s of motion (ffmpeg's test pattern), a still red screen."""
    subprocess.run(
        [
            ffmpeg_exe(), "-v", "error", "-y",
            "-f", "lavfi", "-i", "color=c=blue:s=320x240:r=24:d=2",
            "-f", "lavfi", "-i", "testsrc=s=320x240:r=24:d=2",
            "-f", "lavfi", "-i", "color=c=red:s=320x240:r=24:d=2",
            "-filter_complex", "[0][1][2]concat=n=3:v=1:a=0", "-c:v", "libx264", "-pix_fmt", "yuv420p",
            "-preset", "ultrafast", str(path),
        ],
        check=True,
        timeout=60,
    )  # fmt: skip
    return path


def test_types_come_from_the_bytes(tmp_path: Path) -> None:
    mp4 = make_video(tmp_path / "clip.mp4", 1.0, audio=False).read_bytes()
    webm = tmp_path / "clip.webm"
    subprocess.run(
        [
            ffmpeg_exe(),
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "color=c=red:s=64x64:d=1",
            "-c:v",
            "libvpx-vp9",
            str(webm),
        ],
        check=True,
        timeout=60,
    )
    wav = make_wav(tmp_path / "tone.wav", 1.0).read_bytes()
    assert media_type(mp4[:4096]) == "video" and media_type(webm.read_bytes()[:4096]) == "video"
    assert media_type(png_bytes(8, 8)) == "image" and media_type(wav[:64]) == "audio"
    assert media_type(b"<html>not media</html>") is None and media_type(b"") is None
    assert readable_video(mp4) and not readable_video(b"\x00\x00\x00\x18ftypmp42 not really a video")
    assert not readable_video(wav)  # a container, but no video stream


def test_sniff_url_reads_only_the_head(tmp_path: Path) -> None:
    clip = make_video(tmp_path / "clip.mp4", 2.0).read_bytes()
    peer = LocalHTTPServer(
        lambda m, path, h, b: (200, {"content-type": "application/octet-stream"}, clip if path == "/v" else b"hello")
    )
    try:
        assert sniff_url(f"{peer.url}/v", allow_private=True, timeout=5, pointer="/assetUrls/0") == "video"
        assert peer.requests[0]["headers"]["range"] == "bytes=0-65535"
        with pytest.raises(ReelforgeError) as refused:
            sniff_url(f"{peer.url}/t", allow_private=True, timeout=5, pointer="/assetUrls/1")
        assert refused.value.field == "/assetUrls/1" and "not a video, image or audio file" in refused.value.message
        with pytest.raises(ReelforgeError):  # the fetcher's address rules apply
            sniff_url(f"{peer.url}/v", allow_private=False, timeout=5, pointer="/assetUrls/0")
    finally:
        peer.close()


def test_screen_analysis_finds_scene_changes_and_the_active_segment(tmp_path: Path) -> None:
    found = analyse(screen_recording(tmp_path / "rec.mp4"), 6.0)
    assert found.scene_changes == (2.0, 4.0)
    assert len(found.active) == 1 and found.active[0] == pytest.approx((2.0, 4.0), abs=0.15)


def test_parse_turns_freezes_into_active_segments() -> None:
    log = "freeze_start: 0\nfreeze_end: 1.5\npts_time:1.5 \nfreeze_start: 3\nfreeze_end: 3.2\nfreeze_start: 8.7\n"
    found = parse(log, 10.0)
    assert found.scene_changes == (1.5,)
    assert found.active == ((1.5, 3.0), (3.2, 8.7))  # a freeze that lasts to the end closes the last segment
