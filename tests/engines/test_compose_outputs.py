"""Compositor outputs: MP4, WebM and GIF (probed with libavformat, as ffprobe reads them), a time range,
thumbnail and poster capture times, and the preview quality. Small frames, short clips."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from PIL import Image

from reelforge.domain.errors import ReelforgeError
from reelforge.domain.request import GenerationRequest, Kind
from reelforge.engines.compose import ComposeEngine
from tests.engines import media_factory as mf
from tests.engines.fake_context import FakeContext


def probe_streams(path: Path) -> dict[str, Any]:
    """What ffprobe shows: the container, each stream's codec, the frame count and the duration."""
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        audio = container.streams.audio[0].codec_context.name if container.streams.audio else None
        frames = sum(1 for _ in container.decode(video=0))
        return {
            "format": container.format.name,
            "video": video.codec_context.name,
            "audio": audio,
            "size": (video.codec_context.width, video.codec_context.height),
            "frames": frames,
        }


# red for the first second, green for the second, blue for the third: a frame's colour says its time
BLOCKS = [
    {"type": "image", "start": i, "duration": 1, "source": {"ref": colour}} for i, colour in enumerate(["r", "g", "b"])
]
INPUTS = {"r": mf.png(32, 18, "red"), "g": mf.png(32, 18, "green"), "b": mf.png(32, 18, "blue")}
TONE_BLOCK = {"type": "audio", "start": 0, "duration": 3, "source": {"ref": "tone"}}


def render(tmp_path: Path, extra: dict[str, Any], duration: float = 3, fps: int = 10, blocks: list | None = None):  # type: ignore[no-untyped-def]
    template = {"version": "1", "blocks": blocks or [*BLOCKS, TONE_BLOCK]}
    inputs = {**INPUTS, "tone": mf.sine_wav(tmp_path / "tone.wav", 3.0).read_bytes()}
    request = GenerationRequest(
        kind=Kind.COMPOSE, template=template, width=96, height=54, fps=fps, duration=duration, extra=extra
    )
    return ComposeEngine().run(request, FakeContext(tmp_path / "work", inputs))


@pytest.mark.parametrize(
    ("fmt", "container", "video", "audio"),
    [
        ("mp4", "mov,mp4,m4a,3gp,3g2,mj2", "h264", "aac"),
        ("webm", "matroska,webm", "vp9", "opus"),
        ("gif", "gif", "gif", None),
    ],
)
def test_each_format(tmp_path: Path, fmt: str, container: str, video: str, audio: str | None) -> None:
    artifact = render(tmp_path, {"quality": "draft", "format": fmt})
    assert artifact.video_path.suffix == f".{fmt}"
    info = probe_streams(artifact.video_path)
    assert (info["format"], info["video"], info["audio"]) == (container, video, audio)
    assert info["size"] == (96, 54) and info["frames"] == 30
    frames = mf.frames(artifact.video_path)
    assert np.argmax(frames[5].reshape(-1, 3).mean(axis=0)) == 0  # red at 0.5 s
    assert np.argmax(frames[25].reshape(-1, 3).mean(axis=0)) == 2  # blue at 2.5 s


def test_a_range_renders_only_that_part(tmp_path: Path) -> None:
    artifact = render(tmp_path, {"range": {"start": 1, "length": 1.5}}, duration=1.5)
    frames = mf.frames(artifact.video_path)
    assert len(frames) == 15 and abs(artifact.duration - 1.5) < 1e-6
    assert np.argmax(frames[2].reshape(-1, 3).mean(axis=0)) == 1  # starts in the green second
    assert np.argmax(frames[12].reshape(-1, 3).mean(axis=0)) == 2
    with av.open(str(artifact.video_path)) as container:
        assert abs(float(container.streams.audio[0].duration * container.streams.audio[0].time_base) - 1.5) < 0.05


def test_thumbnail_and_poster_times(tmp_path: Path) -> None:
    artifact = render(tmp_path, {"thumbnail": 2.5, "poster": 0.2})
    thumb = np.asarray(Image.open(artifact.thumbnail_path).convert("RGB")).reshape(-1, 3).mean(axis=0)
    assert np.argmax(thumb) == 2  # blue: 2.5 s
    assert artifact.poster_path is not None
    poster = Image.open(artifact.poster_path)
    assert poster.size == (96, 54) and np.argmax(np.asarray(poster.convert("RGB")).reshape(-1, 3).mean(axis=0)) == 0


@pytest.mark.parametrize(
    ("extra", "duration", "field"),
    [
        ({"format": "avi"}, 3, "/output/format"),
        ({"range": {"start": 2, "length": 2}}, 2, "/output/range/length"),
        ({"range": {"start": -1}}, 3, "/output/range/start"),
        ({"range": {"start": 1}}, 3, "/duration"),  # the delivered length is 2 s
        ({"poster": 4}, 3, "/output/poster"),
        ({"thumbnail": "soon"}, 3, "/output/thumbnail"),
    ],
)
def test_bad_output_options_are_refused_before_rendering(extra: dict[str, Any], duration: float, field: str) -> None:
    template = {"version": "1", "blocks": BLOCKS}
    request = GenerationRequest(
        kind=Kind.COMPOSE, template=template, width=96, height=54, fps=10, duration=duration, extra=extra
    )
    with pytest.raises(ReelforgeError) as caught:
        ComposeEngine().validate(request)
    assert caught.value.field == field, caught.value.message


def test_preview_quality_is_small_and_fast() -> None:
    from reelforge.domain.formats import output_format

    preview, draft = output_format("16:9", "preview"), output_format("16:9", "draft")
    assert (preview.width, preview.height, preview.fps) == (426, 240, 15)
    assert preview.width * preview.height * preview.fps < draft.width * draft.height * draft.fps / 3
