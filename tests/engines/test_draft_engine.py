"""The draft engine renders real MP4s that match the request, frame for frame, seed for seed."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from PIL import Image

from reelforge.domain.errors import ErrorCode, ReelforgeError
from reelforge.domain.request import GenerationRequest, ImageInput, Kind
from reelforge.engines.base import Artifact, RunContext, TaskCancelled, create_engine
from reelforge.engines.draft import DraftEngine
from reelforge.engines.draft.scene import TextScene
from reelforge.media.probe import probe
from reelforge.media.yuv import i420_to_rgb
from tests.engines.fake_context import FakeContext


def _png(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def _split_image(width: int, height: int) -> np.ndarray:
    """Left half red, right half blue: easy to recognise in a decoded frame."""
    array = np.zeros((height, width, 3), np.uint8)
    array[:, : width // 2] = (220, 30, 30)
    array[:, width // 2 :] = (30, 30, 220)
    return array


def _request(kind: Kind = Kind.TEXT_TO_VIDEO, **fields: Any) -> GenerationRequest:
    values: dict[str, Any] = {"kind": kind, "width": 160, "height": 96, "fps": 24, "duration": 1.0, "seed": 7}
    if kind == Kind.TEXT_TO_VIDEO:
        values["prompt"] = "a sunset over the ocean"
    if kind in (Kind.IMAGE_TO_VIDEO, Kind.LONG_VIDEO):
        values["images"] = [ImageInput(source="stored:input.png")]
    values.update(fields)
    return GenerationRequest(**values)


def _decode(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]


@pytest.fixture
def engine() -> DraftEngine:
    return DraftEngine({})


def _run(engine: DraftEngine, request: GenerationRequest, workdir: Path,
         image: np.ndarray | None = None) -> tuple[Artifact, FakeContext]:
    inputs = {"stored:input.png": _png(image if image is not None else _split_image(333, 201))}
    ctx = FakeContext(workdir, inputs)
    return engine.run(request, ctx), ctx


def _assert_video(artifact: Artifact, width: int, height: int, fps: float, frames: int) -> None:
    info = probe(artifact.video_path, count_frames=True)
    assert info.codec == "h264"
    assert info.pix_fmt == "yuv420p"
    assert (info.width, info.height) == (width, height)
    assert info.fps == pytest.approx(fps, rel=1e-4)
    assert info.frame_count == frames
    assert info.duration == pytest.approx(frames / fps, abs=1 / fps)
    assert (artifact.width, artifact.height, artifact.fps) == (width, height, fps)
    assert artifact.duration == pytest.approx(info.duration, abs=1e-3)  # 23.976 means 24000/1001
    with Image.open(artifact.thumbnail_path) as thumbnail:
        assert thumbnail.format == "JPEG"
        thumbnail.load()


def test_registry_creates_the_draft_engine() -> None:
    engine = create_engine("draft")
    assert isinstance(engine, DraftEngine)
    assert engine.capabilities.kinds == {Kind.TEXT_TO_VIDEO, Kind.IMAGE_TO_VIDEO, Kind.LONG_VIDEO}


def test_fake_context_satisfies_the_protocol(tmp_path: Path) -> None:
    assert isinstance(FakeContext(tmp_path), RunContext)


def test_text_to_video_matches_the_request(engine: DraftEngine, tmp_path: Path) -> None:
    artifact, ctx = _run(engine, _request(duration=1.5), tmp_path)
    _assert_video(artifact, 160, 96, 24, 36)
    assert artifact.video_path == tmp_path / "video.mp4"
    assert artifact.thumbnail_path == tmp_path / "thumbnail.jpg"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["thumbnail.jpg", "video.mp4"]
    # Progress every frame, never backwards, finishing at 100.
    assert len(ctx.reported) >= 36
    assert ctx.reported == sorted(ctx.reported)
    assert ctx.reported[-1] == 100


def test_text_to_video_moves(engine: DraftEngine, tmp_path: Path) -> None:
    artifact, _ = _run(engine, _request(duration=2), tmp_path)
    frames = _decode(artifact.video_path)
    assert np.abs(frames[0].astype(int) - frames[-1]).mean() > 3


def test_hd_text_to_video(engine: DraftEngine, tmp_path: Path) -> None:
    artifact, _ = _run(engine, _request(width=1280, height=720, duration=1), tmp_path)
    _assert_video(artifact, 1280, 720, 24, 24)
    with Image.open(artifact.thumbnail_path) as thumbnail:
        assert thumbnail.size == (640, 360)


def test_fractional_frame_rate(engine: DraftEngine, tmp_path: Path) -> None:
    artifact, _ = _run(engine, _request(fps=23.976, duration=2), tmp_path)
    _assert_video(artifact, 160, 96, 23.976, 48)


def test_same_seed_same_pixels_other_seed_other_pixels(engine: DraftEngine, tmp_path: Path) -> None:
    first, _ = _run(engine, _request(seed=11), tmp_path / "a")
    again, _ = _run(engine, _request(seed=11), tmp_path / "b")
    other, _ = _run(engine, _request(seed=12), tmp_path / "c")
    frames_first, frames_again, frames_other = (_decode(a.video_path) for a in (first, again, other))
    assert all(np.array_equal(x, y) for x, y in zip(frames_first, frames_again, strict=True))
    assert first.video_path.read_bytes() == again.video_path.read_bytes()
    assert np.abs(frames_first[0].astype(int) - frames_other[0]).mean() > 3


def test_prompt_colours_the_scene() -> None:
    def mean_rgb(prompt: str) -> np.ndarray:
        scene = TextScene(prompt, seed=1, width=160, height=96, fps=24, n_frames=24, caption=False)
        return i420_to_rgb(scene.frame(12)).reshape(-1, 3).mean(axis=0)

    ocean, fire = mean_rgb("deep blue ocean waves"), mean_rgb("a roaring fire")
    assert ocean[2] > ocean[0]
    assert fire[0] > fire[2]


def test_caption_is_drawn_at_the_bottom() -> None:
    def frame(caption: bool) -> np.ndarray:
        scene = TextScene("hello world", seed=1, width=320, height=192, fps=24, n_frames=24, caption=caption)
        return i420_to_rgb(scene.frame(0)).astype(int)

    with_caption, without = frame(True), frame(False)
    changed_rows = np.nonzero(np.abs(with_caption - without).max(axis=(1, 2)))[0]
    assert changed_rows.size > 0
    assert changed_rows.min() > 192 // 2  # only the lower half is touched
    box = with_caption[changed_rows.min() : changed_rows.max() + 1]
    assert box.max() > 200  # white text


def test_image_to_video_keeps_the_requested_size(engine: DraftEngine, tmp_path: Path) -> None:
    artifact, _ = _run(engine, _request(Kind.IMAGE_TO_VIDEO, duration=1), tmp_path, _split_image(333, 201))
    _assert_video(artifact, 160, 96, 24, 24)
    first = _decode(artifact.video_path)[0].astype(int)
    # The image is recognisable: red on the left, blue on the right.
    left, right = first[:, :60].mean(axis=(0, 1)), first[:, -60:].mean(axis=(0, 1))
    assert left[0] > left[2] + 100
    assert right[2] > right[0] + 100


@pytest.mark.parametrize(("image_size", "video_size"), [((201, 333), (160, 96)), ((333, 201), (96, 160))])
def test_image_to_video_with_other_aspects(engine: DraftEngine, tmp_path: Path,
                                           image_size: tuple[int, int], video_size: tuple[int, int]) -> None:
    width, height = video_size
    request = _request(Kind.IMAGE_TO_VIDEO, width=width, height=height, prompt="a caption")
    artifact, _ = _run(engine, request, tmp_path, _split_image(*image_size))
    _assert_video(artifact, width, height, 24, 24)


def test_image_to_video_camera_moves(engine: DraftEngine, tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    texture = (rng.random((120, 200, 3)) * 255).astype(np.uint8)
    artifact, _ = _run(engine, _request(Kind.IMAGE_TO_VIDEO, duration=2), tmp_path, texture)
    frames = _decode(artifact.video_path)
    assert np.abs(frames[0].astype(int) - frames[-1]).mean() > 5


def test_image_that_is_not_an_image(engine: DraftEngine, tmp_path: Path) -> None:
    ctx = FakeContext(tmp_path, {"stored:input.png": b"<html>not found</html>"})
    with pytest.raises(ReelforgeError) as info:
        engine.run(_request(Kind.IMAGE_TO_VIDEO), ctx)
    assert info.value.code == ErrorCode.INVALID_PAYLOAD
    assert not (tmp_path / "video.mp4").exists()


def test_long_video_three_prompts_fifteen_seconds(engine: DraftEngine, tmp_path: Path) -> None:
    prompts = ["the harbour at dawn", "a forest at noon", "stars over the sea"]
    request = _request(Kind.LONG_VIDEO, prompts=prompts, duration=15, width=96, height=64, fps=12)
    artifact, _ = _run(engine, request, tmp_path, _split_image(333, 201))
    _assert_video(artifact, 96, 64, 12, 180)
    assert artifact.duration == pytest.approx(15)
    frames = [f.astype(int) for f in _decode(artifact.video_path)]
    # Segment 0 is the image (red left, blue right); segments 1 and 2 are other scenes.
    opening = frames[0]
    assert opening[:, :30, 0].mean() > opening[:, :30, 2].mean() + 100
    middles = [frames[30], frames[90], frames[150]]
    for a, b in ((0, 1), (1, 2), (0, 2)):
        assert np.abs(middles[a] - middles[b]).mean() > 5


def test_long_video_crossfades_between_segments(engine: DraftEngine, tmp_path: Path) -> None:
    request = _request(Kind.LONG_VIDEO, prompts=["one", "two"], duration=4, width=96, height=64, fps=10)
    artifact, _ = _run(engine, request, tmp_path, np.full((64, 96, 3), 255, np.uint8))
    _assert_video(artifact, 96, 64, 10, 40)
    brightness = [float(f[:40].mean()) for f in _decode(artifact.video_path)]  # above the caption
    # A white image fades into a darker scene over a few frames around the cut at frame 20, not at once.
    fade = brightness[17:24]
    assert fade == sorted(fade, reverse=True)
    steps = np.diff(brightness[15:26])
    assert (steps < -3).sum() >= 3


def test_cancel_stops_the_render_and_leaves_no_video(engine: DraftEngine, tmp_path: Path) -> None:
    ctx = FakeContext(tmp_path, cancel_after=3)
    with pytest.raises(TaskCancelled):
        engine.run(_request(duration=5), ctx)
    assert ctx.cancel_checks == 4
    assert list(tmp_path.iterdir()) == []
    assert max(ctx.reported) < 100


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"width": 161}, "/width"),
        ({"height": 95}, "/height"),
        ({"width": 62}, "/width"),
        ({"height": 4000}, "/height"),
        ({"fps": 0.5}, "/fps"),
        ({"fps": 61}, "/fps"),
        ({"duration": 0}, "/duration"),
        ({"duration": 121}, "/duration"),
        ({"duration": 0.01}, "/duration"),
        ({"prompt": None}, "/prompt"),
        ({"prompt": "   "}, "/prompt"),
        ({"kind": Kind.IMAGE_TO_VIDEO, "images": []}, "/images"),
        ({"kind": Kind.LONG_VIDEO, "prompts": []}, "/prompts"),
        ({"kind": Kind.LONG_VIDEO, "prompts": ["a", " "]}, "/prompts/1"),
        ({"kind": Kind.LONG_VIDEO, "prompts": ["a"] * 10, "duration": 5}, "/duration"),
        ({"kind": Kind.COMPOSE}, "/kind"),
    ],
)
def test_validate_names_the_field(engine: DraftEngine, fields: dict[str, Any], field: str) -> None:
    base = {"kind": Kind.TEXT_TO_VIDEO, "prompt": "p", "images": [ImageInput(source="stored:x")],
            "width": 160, "height": 96, "fps": 24, "duration": 2}
    request = GenerationRequest(**{**base, **fields})
    with pytest.raises(ReelforgeError) as info:
        engine.validate(request)
    assert info.value.code == ErrorCode.INVALID_PAYLOAD
    assert info.value.field == field
    assert info.value.http_status == 400


def test_validate_accepts_a_good_request(engine: DraftEngine) -> None:
    engine.validate(_request())
    engine.validate(_request(Kind.IMAGE_TO_VIDEO))
    engine.validate(_request(Kind.LONG_VIDEO, prompts=["a", "b"], duration=10))
