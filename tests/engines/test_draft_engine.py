"""The draft engine renders real MP4s that match the request, frame for frame, seed for seed."""

from __future__ import annotations

import io
import itertools
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
from reelforge.engines.draft.restyle import STYLES, Grade, _upright
from reelforge.engines.draft.scene import TextScene
from reelforge.media.images import cover_fit
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


def _images(count: int, frames: list[int] | None = None) -> list[ImageInput]:
    """`count` inputs named stored:0.png, stored:1.png, ... at `frames` (all 0, i.e. unspecified, if None)."""
    return [ImageInput(source=f"stored:{k}.png", frame=frames[k] if frames else 0) for k in range(count)]


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


def _run(
    engine: DraftEngine, request: GenerationRequest, workdir: Path, image: np.ndarray | None = None
) -> tuple[Artifact, FakeContext]:
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
    assert engine.capabilities.kinds == {
        Kind.TEXT_TO_VIDEO,
        Kind.IMAGE_TO_VIDEO,
        Kind.LONG_VIDEO,
        Kind.MULTI_IMAGE,
        Kind.KEYFRAMES,
        Kind.VIDEO_TO_VIDEO,
    }


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
def test_image_to_video_with_other_aspects(
    engine: DraftEngine, tmp_path: Path, image_size: tuple[int, int], video_size: tuple[int, int]
) -> None:
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
        ({"kind": Kind.KEYFRAMES}, "/images"),
        ({"kind": Kind.KEYFRAMES, "images": []}, "/images"),
        ({"kind": Kind.KEYFRAMES, "images": _images(17)}, "/images"),
        ({"kind": Kind.MULTI_IMAGE}, "/images"),
        ({"kind": Kind.MULTI_IMAGE, "images": _images(17)}, "/images"),
        ({"kind": Kind.MULTI_IMAGE, "images": _images(16), "duration": 2}, "/duration"),
        ({"kind": Kind.MULTI_IMAGE, "images": _images(4), "fps": 1, "duration": 3}, "/duration"),
        ({"kind": Kind.KEYFRAMES, "images": _images(2, [0, 48])}, "/images/1/frame"),
        ({"kind": Kind.KEYFRAMES, "images": _images(2, [0, 100])}, "/images/1/frame"),
        ({"kind": Kind.KEYFRAMES, "images": _images(3, [-1, 10, 20])}, "/images/0/frame"),
        ({"kind": Kind.KEYFRAMES, "images": _images(3, [0, 10, 10])}, "/images/2/frame"),
        ({"kind": Kind.KEYFRAMES, "images": _images(3, [0, 30, 20])}, "/images/2/frame"),
        ({"kind": Kind.KEYFRAMES, "images": _images(3), "fps": 1}, "/duration"),
        ({"kind": Kind.VIDEO_TO_VIDEO}, "/video"),
        ({"kind": Kind.VIDEO_TO_VIDEO, "video": "  "}, "/video"),
        ({"kind": Kind.VIDEO_TO_VIDEO, "video": "stored:v.mp4", "fps": 61}, "/fps"),
        ({"kind": Kind.VIDEO_TO_VIDEO, "video": "stored:v.mp4", "width": 97}, "/width"),
        ({"kind": Kind.VIDEO_TO_VIDEO, "video": "stored:v.mp4", "duration": 121}, "/duration"),
    ],
)
def test_validate_names_the_field(engine: DraftEngine, fields: dict[str, Any], field: str) -> None:
    base = {
        "kind": Kind.TEXT_TO_VIDEO,
        "prompt": "p",
        "images": [ImageInput(source="stored:x")],
        "width": 160,
        "height": 96,
        "fps": 24,
        "duration": 2,
    }
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


# Multi-image and keyframes: distinct-colour images, each a colour with a gentle diagonal gradient (so a zoomed
# or shifted framing differs from the exact one), recognisable by their mean colour in a decoded frame.
RED, GREEN, BLUE = (210, 40, 40), (40, 190, 40), (40, 40, 210)


def _colour_image(colour: tuple[int, int, int], width: int = 333, height: int = 201) -> np.ndarray:
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    ramp = (xx / width + yy / height - 1) * 30  # -30..30, mean 0
    return np.clip(np.asarray(colour, np.float32) + ramp[..., None], 0, 255).astype(np.uint8)


def _run_images(
    engine: DraftEngine, request: GenerationRequest, workdir: Path, colours: list[tuple[int, int, int]]
) -> tuple[Artifact, FakeContext]:
    inputs = {f"stored:{k}.png": _png(_colour_image(colour)) for k, colour in enumerate(colours)}
    ctx = FakeContext(workdir, inputs)
    return engine.run(request, ctx), ctx


def _mean(frame: np.ndarray) -> np.ndarray:
    return frame.reshape(-1, 3).astype(float).mean(axis=0)


def _shows(frame: np.ndarray, colour: tuple[int, int, int], tolerance: float = 12) -> bool:
    return bool(np.abs(_mean(frame) - colour).max() < tolerance)


def _is_blend(frame: np.ndarray, a: tuple[int, int, int], b: tuple[int, int, int]) -> bool:
    """Every channel where a and b differ lies well between them, not at either end."""
    mean = _mean(frame)
    for channel in range(3):
        low, high = sorted((a[channel], b[channel]))
        if high - low > 100 and not low + 30 < mean[channel] < high - 30:
            return False
    return True


def _keyframes(frames: list[int] | None, **fields: Any) -> GenerationRequest:
    count = len(frames) if frames else 3
    return _request(Kind.KEYFRAMES, images=_images(count, frames), **{"duration": 2, **fields})


def test_keyframes_show_each_image_at_its_frame(engine: DraftEngine, tmp_path: Path) -> None:
    colours = [RED, GREEN, BLUE]
    artifact, ctx = _run_images(engine, _keyframes([4, 20, 40]), tmp_path, colours)
    _assert_video(artifact, 160, 96, 24, 48)
    frames = _decode(artifact.video_path)
    for position, colour in zip([4, 20, 40], colours, strict=True):
        assert _shows(frames[position], colour)
        # Exactly the cover-fitted image, unzoomed: the gradient lines up pixel for pixel.
        expected = np.asarray(cover_fit(Image.fromarray(_colour_image(colour)), 160, 96)).astype(int)
        assert np.abs(frames[position].astype(int) - expected).mean() < 4
    # Halfway between two keyframes, a blend of both; held before the first and after the last.
    assert _is_blend(frames[12], RED, GREEN)
    assert _is_blend(frames[30], GREEN, BLUE)
    assert _shows(frames[0], RED)
    assert _shows(frames[47], BLUE)
    # The transition is gradual: the red channel falls frame by frame from red to green.
    reds = [_mean(frame)[0] for frame in frames[4:21]]
    assert all(b <= a + 2 for a, b in itertools.pairwise(reds))
    assert max(np.diff(reds)) > -60  # no cut
    # Progress: every frame, never backwards, finishing at 100.
    assert len(ctx.reported) >= 48
    assert ctx.reported == sorted(ctx.reported)
    assert ctx.reported[-1] == 100


def test_keyframes_without_positions_spread_over_the_video(engine: DraftEngine, tmp_path: Path) -> None:
    # The Agnes dialect's 121 frames at 24 fps, no frame positions: first at 0, last at the final frame.
    request = _request(Kind.KEYFRAMES, images=_images(3), duration=121 / 24, width=128, height=96)
    artifact, _ = _run_images(engine, request, tmp_path, [RED, GREEN, BLUE])
    _assert_video(artifact, 128, 96, 24, 121)
    frames = _decode(artifact.video_path)
    assert _shows(frames[0], RED)
    assert _shows(frames[60], GREEN)
    assert _shows(frames[120], BLUE)
    assert _is_blend(frames[30], RED, GREEN)
    assert _is_blend(frames[90], GREEN, BLUE)
    # A long gap dissolves in its middle half: a quarter of the way along, still the first image.
    assert _shows(frames[12], RED, tolerance=20)


def test_keyframes_zoom_between_keyframes(engine: DraftEngine, tmp_path: Path) -> None:
    yy, xx = np.mgrid[0:96, 0:160].astype(np.float32)
    stripes = 128 + 100 * np.sin(xx / 3) * np.cos(yy / 4)  # fine detail, but smooth enough to encode well
    texture = np.repeat(stripes[..., None], 3, axis=2).astype(np.uint8)
    request = _request(Kind.KEYFRAMES, images=_images(2), duration=2)
    inputs = {"stored:0.png": _png(texture), "stored:1.png": _png(texture)}
    artifact = engine.run(request, FakeContext(tmp_path, inputs))
    frames = [f.astype(int) for f in _decode(artifact.video_path)]
    # The same image at both ends, so what differs halfway is the camera, not the dissolve.
    assert np.abs(frames[0] - frames[-1]).mean() < 10
    assert np.abs(frames[0] - frames[24]).mean() > 20


def test_keyframes_same_request_same_pixels(engine: DraftEngine, tmp_path: Path) -> None:
    request = _keyframes(None, prompt="a caption")
    first, _ = _run_images(engine, request, tmp_path / "a", [RED, GREEN, BLUE])
    again, _ = _run_images(engine, request, tmp_path / "b", [RED, GREEN, BLUE])
    frames_first, frames_again = _decode(first.video_path), _decode(again.video_path)
    assert len(frames_first) == 48
    assert all(np.array_equal(x, y) for x, y in zip(frames_first, frames_again, strict=True))
    assert first.video_path.read_bytes() == again.video_path.read_bytes()


def test_multi_image_gives_each_image_its_share(engine: DraftEngine, tmp_path: Path) -> None:
    colours = [BLUE, RED, GREEN, RED]
    request = _request(Kind.MULTI_IMAGE, images=_images(4), duration=4, fps=12)
    artifact, ctx = _run_images(engine, request, tmp_path, colours)
    _assert_video(artifact, 160, 96, 12, 48)
    frames = _decode(artifact.video_path)
    # Shares of 12 frames, in the order given; the middle of each share shows its image.
    for k, colour in enumerate(colours):
        assert _shows(frames[12 * k + 6], colour), k
    # Neighbours dissolve into each other around each boundary, not at a cut.
    assert _is_blend(frames[12], BLUE, RED)
    assert _is_blend(frames[24], RED, GREEN)
    assert _is_blend(frames[36], GREEN, RED)
    assert ctx.reported == sorted(ctx.reported)
    assert ctx.reported[-1] == 100


def test_multi_image_camera_moves_and_is_deterministic(engine: DraftEngine, tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    textures = [(rng.random((120, 200, 3)) * 255).astype(np.uint8) for _ in range(2)]
    inputs = {f"stored:{k}.png": _png(texture) for k, texture in enumerate(textures)}
    request = _request(Kind.MULTI_IMAGE, images=_images(2), duration=4, fps=10)
    first = engine.run(request, FakeContext(tmp_path / "a", inputs))
    again = engine.run(request, FakeContext(tmp_path / "b", inputs))
    frames_first, frames_again = _decode(first.video_path), _decode(again.video_path)
    assert all(np.array_equal(x, y) for x, y in zip(frames_first, frames_again, strict=True))
    # Within the first image's share the camera moves.
    assert np.abs(frames_first[0].astype(int) - frames_first[14]).mean() > 5


def test_multi_image_caption(engine: DraftEngine, tmp_path: Path) -> None:
    def frame(prompt: str | None, workdir: Path) -> np.ndarray:
        request = _request(Kind.MULTI_IMAGE, images=_images(2), prompt=prompt, width=320, height=192)
        artifact, _ = _run_images(engine, request, workdir, [RED, BLUE])
        return _decode(artifact.video_path)[6].astype(int)

    with_caption, without = frame("two colours", tmp_path / "a"), frame(None, tmp_path / "b")
    difference = np.abs(with_caption - without).max(axis=(1, 2))
    assert difference[: 192 // 2].max() < 10  # the top half is untouched (give or take the encoder)
    assert difference[192 // 2 :].max() > 100  # the caption is drawn at the bottom


def test_an_undecodable_keyframe_image_names_its_field(engine: DraftEngine, tmp_path: Path) -> None:
    inputs = {"stored:0.png": _png(_colour_image(RED)), "stored:1.png": b"<html>not found</html>"}
    ctx = FakeContext(tmp_path, inputs)
    with pytest.raises(ReelforgeError) as info:
        engine.run(_keyframes([0, 30]), ctx)
    assert info.value.code == ErrorCode.INVALID_PAYLOAD
    assert info.value.field == "/images/1"
    assert info.value.message.startswith("image 1: ")
    assert not (tmp_path / "video.mp4").exists()


def test_cancel_stops_a_keyframes_render(engine: DraftEngine, tmp_path: Path) -> None:
    inputs = {f"stored:{k}.png": _png(_colour_image(colour)) for k, colour in enumerate([RED, GREEN, BLUE])}
    ctx = FakeContext(tmp_path, inputs, cancel_after=6)
    with pytest.raises(TaskCancelled):
        engine.run(_keyframes(None, duration=5), ctx)
    assert list(tmp_path.iterdir()) == []
    assert max(ctx.reported) < 100


def test_validate_accepts_multi_image_and_keyframes(engine: DraftEngine) -> None:
    engine.validate(_request(Kind.MULTI_IMAGE, images=_images(2)))
    engine.validate(_request(Kind.MULTI_IMAGE, images=_images(16), duration=4))
    engine.validate(_keyframes(None))
    engine.validate(_keyframes([0, 47]))
    engine.validate(_keyframes([5, 6, 30]))
    engine.validate(_request(Kind.KEYFRAMES, images=_images(16), duration=1))


# Video to video: a white bar sliding right over a dark blue-to-green gradient, 160x90 at 25 fps.
BAR_FPS, BAR_WIDTH, BAR_HEIGHT = 25, 160, 90


def _bar_x(t: float) -> float:
    """The bar's centre (input pixels) at time t: 40 -> 120 over two seconds, inside a centred 90x90 crop."""
    return 40 + 40 * t


def _bar_frame(t: float) -> np.ndarray:
    xx = np.arange(BAR_WIDTH, dtype=np.float32)[None, :, None]
    frame = np.broadcast_to(
        np.array([20, 40, 90], np.float32) + xx / BAR_WIDTH * np.array([10, 60, -40], np.float32),
        (BAR_HEIGHT, BAR_WIDTH, 3),
    ).copy()
    centre = round(_bar_x(t))
    frame[:, centre - 5 : centre + 5] = 250
    return frame.astype(np.uint8)


def _bar_video(path: Path, seconds: float = 2.0) -> bytes:
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=BAR_FPS)
        stream.width, stream.height, stream.pix_fmt = BAR_WIDTH, BAR_HEIGHT, "yuv420p"
        stream.options = {"crf": "12"}
        for i in range(round(seconds * BAR_FPS)):
            frame = av.VideoFrame.from_ndarray(_bar_frame(i / BAR_FPS), format="rgb24")
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path.read_bytes()


def _v2v(**fields: Any) -> GenerationRequest:
    values: dict[str, Any] = {
        "kind": Kind.VIDEO_TO_VIDEO,
        "video": "stored:input.mp4",
        "width": 96,
        "height": 96,
        "fps": 12,
        "duration": 1.5,
        "seed": 7,
        "prompt": "a neon city at night",
    }
    return GenerationRequest(**{**values, **fields})


def _run_v2v(
    engine: DraftEngine, request: GenerationRequest, workdir: Path, video: bytes, **ctx_args: Any
) -> tuple[Artifact, FakeContext]:
    ctx = FakeContext(workdir, {"stored:input.mp4": video}, **ctx_args)
    return engine.run(request, ctx), ctx


@pytest.fixture(scope="module")
def bar_video(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return _bar_video(tmp_path_factory.mktemp("bar") / "bar.mp4")


def _bar_column(frame: np.ndarray) -> float:
    """The output column where the bright bar is: the centre of the columns brighter than halfway between the
    darkest and the brightest, on the caption-free top half."""
    luma = frame[: frame.shape[0] // 2].astype(np.float32).mean(axis=(0, 2))
    bright = np.flatnonzero(luma > (luma.min() + luma.max()) / 2)
    return float(bright.mean())


def _seed_for(style: str, prompt: str = "a neon city at night") -> int:
    return next(seed for seed in range(200) if Grade(prompt, seed).style == style)


def test_video_to_video_matches_the_request(engine: DraftEngine, tmp_path: Path, bar_video: bytes) -> None:
    artifact, ctx = _run_v2v(engine, _v2v(), tmp_path, bar_video)
    _assert_video(artifact, 96, 96, 12, 18)
    assert artifact.thumbnail_path.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["thumbnail.jpg", "video.mp4"]  # the input is gone
    assert len(ctx.reported) >= 18 and ctx.reported == sorted(ctx.reported) and ctx.reported[-1] == 100


def test_every_style_is_reachable_and_depends_on_prompt_and_seed() -> None:
    assert {Grade("a neon city at night", seed).style for seed in range(40)} == set(STYLES)
    assert Grade("a forest", 3).theme == "forest"
    assert Grade("x", 1).style == Grade("x", 1).style


@pytest.mark.parametrize("style", STYLES)
def test_video_to_video_is_stylised_and_follows_the_motion(tmp_path: Path, bar_video: bytes, style: str) -> None:
    engine = DraftEngine({"captions": False, "crf": 12})
    artifact, _ = _run_v2v(engine, _v2v(seed=_seed_for(style)), tmp_path, bar_video)
    frames = _decode(artifact.video_path)
    assert len(frames) == 18
    columns, differences = [], []
    for i, frame in enumerate(frames):
        t = i / 12
        source = _bar_frame(round(t * BAR_FPS) / BAR_FPS)  # the nearest input frame
        plain = np.asarray(cover_fit(Image.fromarray(source), 96, 96))
        differences.append(float(np.abs(frame.astype(np.float32) - plain).mean()))
        columns.append(_bar_column(frame))
        # Cover-fit keeps the centred 90x90 of the 160x90 input, scaled by 96/90.
        expected = (_bar_x(round(t * BAR_FPS) / BAR_FPS) - 35) * 96 / 90
        assert abs(columns[-1] - expected) <= 3
    assert min(differences) > 10  # graded, not a plain resize
    assert columns == sorted(columns) and columns[-1] - columns[0] > 40


def test_video_to_video_holds_the_last_frame(tmp_path: Path, bar_video: bytes) -> None:
    engine = DraftEngine({"captions": False, "crf": 12})
    artifact, _ = _run_v2v(engine, _v2v(duration=3.0), tmp_path, bar_video)
    _assert_video(artifact, 96, 96, 12, 36)
    frames = _decode(artifact.video_path)
    columns = [_bar_column(frame) for frame in frames]
    last = (_bar_x((2 * BAR_FPS - 1) / BAR_FPS) - 35) * 96 / 90
    for frame, column in zip(frames[24:], columns[24:], strict=True):  # t >= 2 s: past the input's end
        assert abs(column - last) <= 3
        assert np.abs(frame.astype(np.int16) - frames[-1]).mean() < 2
    assert columns[0] < last - 40


def test_video_to_video_same_request_same_pixels(engine: DraftEngine, tmp_path: Path, bar_video: bytes) -> None:
    first, _ = _run_v2v(engine, _v2v(), tmp_path / "a", bar_video)
    again, _ = _run_v2v(engine, _v2v(), tmp_path / "b", bar_video)
    other, _ = _run_v2v(engine, _v2v(prompt="a snowy forest", seed=8), tmp_path / "c", bar_video)
    assert first.video_path.read_bytes() == again.video_path.read_bytes()
    a, c = _decode(first.video_path), _decode(other.video_path)
    assert any(not np.array_equal(x, y) for x, y in zip(a, c, strict=True))


def test_video_to_video_resamples_other_frame_rates(engine: DraftEngine, tmp_path: Path, bar_video: bytes) -> None:
    artifact, _ = _run_v2v(engine, _v2v(fps=30, duration=1.0, width=128, height=72), tmp_path, bar_video)
    _assert_video(artifact, 128, 72, 30, 30)


def test_video_to_video_rejects_a_file_that_is_not_a_video(engine: DraftEngine, tmp_path: Path) -> None:
    with pytest.raises(ReelforgeError) as info:
        _run_v2v(engine, _v2v(), tmp_path, b"not a video at all")
    assert info.value.code == ErrorCode.INVALID_PAYLOAD
    assert info.value.field == "/video"
    assert list(tmp_path.iterdir()) == []


def test_cancel_stops_a_video_to_video_render(engine: DraftEngine, tmp_path: Path, bar_video: bytes) -> None:
    with pytest.raises(TaskCancelled):
        _run_v2v(engine, _v2v(), tmp_path, bar_video, cancel_after=2)
    assert list(tmp_path.iterdir()) == []


def test_rotation_metadata_turns_the_picture() -> None:
    class Rotated:
        rotation = -90  # a display matrix turning the picture 90 degrees clockwise

        def to_ndarray(self, format: str) -> np.ndarray:
            return np.arange(6, dtype=np.uint8).reshape(2, 3, 1).repeat(3, axis=2)

    upright = _upright(Rotated())  # type: ignore[arg-type]
    assert upright.shape == (3, 2, 3)
    assert upright[0, :, 0].tolist() == [3, 0]  # the bottom-left corner is now top-left


def test_validate_accepts_video_to_video(engine: DraftEngine) -> None:
    assert Kind.VIDEO_TO_VIDEO in engine.capabilities.kinds
    engine.validate(_v2v())
    engine.validate(_v2v(prompt=None))
