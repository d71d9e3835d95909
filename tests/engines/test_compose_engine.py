"""The compose engine renders real MP4s with the real ffmpeg: checked by probing the file and by decoding
frames at known times to see which block shows there (solid, distinct colours) and by measuring sound."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from reelforge.domain.errors import ErrorCode, ReelforgeError
from reelforge.domain.request import GenerationRequest, Kind
from reelforge.engines.base import Artifact, TaskCancelled
from reelforge.engines.compose import ComposeEngine, output_format, parse_template, template_duration
from reelforge.engines.compose.runner import run_ffmpeg
from reelforge.media.probe import probe
from tests.engines import media_factory as mf
from tests.engines.fake_context import FakeContext

W, H, FPS = 320, 180, 24


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """Input bytes by ref, made once for the module."""
    d = tmp_path_factory.mktemp("media")
    return {
        "red_tone": mf.solid_video(d / "red.mp4", "red", seconds=1.0, tone=440).read_bytes(),
        "blue_silent": mf.solid_video(d / "blue.mp4", "blue", seconds=1.0).read_bytes(),
        "magenta": mf.solid_video(d / "magenta.mp4", "magenta", seconds=3.0).read_bytes(),
        "rotated": mf.rotated_video(d / "rotated.mp4", 90, left="red", right="blue").read_bytes(),
        "vfr": mf.vfr_video(d / "vfr.mp4", "red", "green").read_bytes(),
        "wav": mf.sine_wav(d / "tone.wav", 1.0).read_bytes(),
        "green_odd": mf.png(333, 201, "green"),
        "yellow": mf.png(64, 36, "yellow"),
        "red_png": mf.png(64, 36, "red"),
        "blue_png": mf.png(64, 36, "blue"),
        "green_half": mf.png(161, 91, "green", alpha=128),
        "quadrants": mf.quadrant_png(640, 360),
        "quadrants_exif": mf.quadrant_png(360, 240, exif_orientation=6, format="JPEG"),
    }


def _block(kind: str, ref: str | None = None, start: float = 0, duration: float = 1, **fields: Any) -> dict[str, Any]:
    block: dict[str, Any] = {"type": kind, "start": start, "duration": duration, **fields}
    if ref is not None:
        block["source"] = {"ref": ref, "uploadName": f"{ref}.bin"}
    return block


def _request(
    blocks: list[dict[str, Any]], *, width: int = W, height: int = H, fps: float = FPS, quality: str = "draft"
) -> GenerationRequest:
    template = {"version": "1", "blocks": blocks}
    return GenerationRequest(
        kind=Kind.COMPOSE,
        template=template,
        width=width,
        height=height,
        fps=fps,
        duration=template_duration(parse_template(template)),
        extra={"quality": quality},
    )


def render(
    workdir: Path,
    blocks: list[dict[str, Any]],
    inputs: dict[str, bytes] | None = None,
    settings: dict[str, Any] | None = None,
    **size: Any,
) -> tuple[Artifact, FakeContext]:
    ctx = FakeContext(workdir, inputs or {})
    return ComposeEngine(settings or {}).run(_request(blocks, **size), ctx), ctx


def _color_at(
    frames: list[np.ndarray],
    seconds: float,
    box: tuple[float, float, float, float] = (0.3, 0.3, 0.7, 0.7),
    fps: float = FPS,
) -> np.ndarray:
    return mf.mean_color(frames[round(seconds * fps)], box)


def _assert_color(rgb: np.ndarray, color: str, what: str = "") -> None:
    assert mf.is_color(rgb, color), f"{what}: expected {color} {mf.RGB[color]}, got {rgb.round()}"


# ------------------------------------------------------------------ format, duration, audio track


@pytest.mark.parametrize(
    ("aspect", "quality"),
    [
        ("16:9", "draft"),
        ("9:16", "draft"),
        ("1:1", "draft"),
        ("4:5", "draft"),
        ("4:3", "draft"),
        ("16:9", "web"),
        ("9:16", "studio"),
    ],
)
def test_output_matches_aspect_and_quality(tmp_path: Path, aspect: str, quality: str) -> None:
    fmt = output_format(aspect, quality)
    artifact, _ = render(
        tmp_path,
        [_block("text", duration=0.5, text="format")],
        width=fmt.width,
        height=fmt.height,
        fps=fmt.fps,
        quality=quality,
    )
    info = probe(artifact.video_path, count_frames=True)
    assert (info.width, info.height, info.codec, info.pix_fmt) == (fmt.width, fmt.height, "h264", "yuv420p")
    assert info.fps == pytest.approx(fmt.fps)
    assert info.frame_count == round(0.5 * fmt.fps)
    assert info.duration == pytest.approx(0.5, abs=1 / fmt.fps)
    assert info.has_audio  # a silent AAC track even without audio blocks
    assert (artifact.width, artifact.height, artifact.fps) == (fmt.width, fmt.height, fmt.fps)
    assert artifact.duration == pytest.approx(0.5)


def test_mp4_is_faststart_h264_aac(tmp_path: Path) -> None:
    import av

    artifact, _ = render(tmp_path, [_block("text", duration=0.5, text="x")])
    data = artifact.video_path.read_bytes()
    assert data.find(b"moov") < data.find(b"mdat")  # +faststart: the index first, playback starts at once
    with av.open(str(artifact.video_path)) as container:
        audio = container.streams.audio[0]
        assert (audio.codec_context.name, audio.codec_context.sample_rate, audio.codec_context.channels) == (
            "aac",
            48000,
            2,
        )


def test_fractional_frame_rate_keeps_the_exact_duration(tmp_path: Path) -> None:
    artifact, _ = render(
        tmp_path, [_block("image", "yellow", duration=2.0)], {"yellow": mf.png(64, 36, "yellow")}, fps=29.97
    )
    info = probe(artifact.video_path, count_frames=True)
    assert info.frame_count == 60
    assert info.duration == pytest.approx(60 * 1001 / 30000, abs=1 / 29.97)


# ------------------------------------------------------------------ what shows where


def test_blocks_layer_in_template_order_with_black_gaps(tmp_path: Path, media: dict[str, bytes]) -> None:
    blocks = [
        _block("video", "magenta", 0, 2),  # under everything
        _block("image", "green_odd", 1, 2),  # over the video from 1 s; odd-sized source
        _block("video", "blue_silent", 1.5, 1, fit="contain", scale=0.5),  # a small picture over the image
        _block("image", "yellow", 4, 1),  # after a black gap 3-4 s
    ]
    artifact, _ = render(tmp_path, blocks, media)
    frames = mf.frames(artifact.video_path)
    assert len(frames) == 5 * FPS
    _assert_color(_color_at(frames, 0.5), "magenta", "0.5 s")
    _assert_color(_color_at(frames, 1.25), "green", "1.25 s")
    _assert_color(_color_at(frames, 1.75), "blue", "1.75 s centre")
    _assert_color(_color_at(frames, 1.75, (0.02, 0.02, 0.15, 0.15)), "green", "1.75 s corner")
    _assert_color(_color_at(frames, 2.75), "green", "2.75 s")
    _assert_color(_color_at(frames, 3.5), "black", "3.5 s gap")
    _assert_color(_color_at(frames, 4.5), "yellow", "4.5 s")


@pytest.mark.parametrize(("first", "second"), [("red_png", "blue_png"), ("blue_png", "red_png")])
def test_later_blocks_cover_earlier_ones(tmp_path: Path, media: dict[str, bytes], first: str, second: str) -> None:
    artifact, _ = render(tmp_path, [_block("image", first), _block("image", second)], media)
    _assert_color(_color_at(mf.frames(artifact.video_path), 0.5), second.split("_")[0])


def test_fit_position_and_scale(tmp_path: Path, media: dict[str, bytes]) -> None:
    blocks = [
        _block("image", "red_png", fit="fill"),
        _block("image", "blue_png", fit="contain", scale=0.25, position="bottomRight"),
    ]
    artifact, _ = render(tmp_path, blocks, media)
    frame = mf.frames(artifact.video_path)[12]
    _assert_color(mf.mean_color(frame, (0.8, 0.8, 0.98, 0.98)), "blue", "bottom right")
    _assert_color(mf.mean_color(frame, (0.02, 0.02, 0.7, 0.7)), "red", "rest")
    blue = np.all(np.abs(frame.astype(int) - mf.RGB["blue"]) < 60, axis=2)
    rows, cols = np.nonzero(blue)
    assert cols.max() >= W - 2 and rows.max() >= H - 2  # flush with the corner
    assert abs((cols.max() - cols.min() + 1) - W / 4) <= 3 and abs((rows.max() - rows.min() + 1) - H / 4) <= 3


def test_contain_letterboxes_and_cover_crops(tmp_path: Path, media: dict[str, bytes]) -> None:
    # 333x201 (about 5:3) into 1:1: contain leaves bars above and below, cover fills the frame
    contain, _ = render(
        tmp_path / "contain", [_block("image", "green_odd", fit="contain")], media, width=180, height=180
    )
    cover, _ = render(tmp_path / "cover", [_block("image", "green_odd", fit="cover")], media, width=180, height=180)
    framed = mf.frames(contain.video_path)[0]
    _assert_color(mf.mean_color(framed, (0, 0, 1, 0.15)), "black", "contain top bar")
    _assert_color(mf.mean_color(framed, (0, 0.4, 1, 0.6)), "green", "contain middle")
    _assert_color(mf.mean_color(mf.frames(cover.video_path)[0], (0, 0, 1, 1)), "green", "cover")


def test_rotation_metadata_is_honoured(tmp_path: Path, media: dict[str, bytes]) -> None:
    # stored 160x96 landscape, red left / blue right, with "rotate 90 degrees anticlockwise" in its display matrix:
    # shown as a 96x160 portrait with blue on top and red below
    artifact, _ = render(tmp_path, [_block("video", "rotated", fit="contain")], media, width=180, height=180)
    frame = mf.frames(artifact.video_path)[5]
    _assert_color(mf.mean_color(frame, (0.0, 0.1, 0.15, 0.9)), "black", "side bar")
    _assert_color(mf.mean_color(frame, (0.4, 0.1, 0.6, 0.4)), "blue", "top")
    _assert_color(mf.mean_color(frame, (0.4, 0.6, 0.6, 0.9)), "red", "bottom")


def test_variable_frame_rate_input_is_normalised(tmp_path: Path, media: dict[str, bytes]) -> None:
    artifact, _ = render(tmp_path, [_block("video", "vfr", duration=2)], media)
    info = probe(artifact.video_path, count_frames=True)
    assert info.frame_count == 2 * FPS and info.fps == pytest.approx(FPS)
    frames = mf.frames(artifact.video_path)
    _assert_color(_color_at(frames, 0.9), "red", "before the switch")
    _assert_color(_color_at(frames, 1.1), "green", "after the switch")


def test_trim_and_a_short_source_holding_its_last_frame(tmp_path: Path, media: dict[str, bytes]) -> None:
    # from 1 s into the red->green clip: green at once; the clip ends at 1 s into the block and its last frame holds
    artifact, _ = render(tmp_path, [_block("video", "vfr", duration=2, trim=1)], media)
    frames = mf.frames(artifact.video_path)
    assert len(frames) == 2 * FPS
    _assert_color(_color_at(frames, 0.1), "green", "trimmed start")
    _assert_color(_color_at(frames, 1.8), "green", "held last frame")


def test_loop_repeats_a_short_source(tmp_path: Path, media: dict[str, bytes]) -> None:
    artifact, _ = render(tmp_path, [_block("video", "vfr", duration=3.5, loop=True)], media)
    frames = mf.frames(artifact.video_path)
    _assert_color(_color_at(frames, 2.5), "red", "second pass, first half")
    _assert_color(_color_at(frames, 3.2), "green", "second pass, second half")


def test_exif_orientation_and_odd_sizes(tmp_path: Path, media: dict[str, bytes]) -> None:
    # a 360x240 JPEG whose EXIF says "turn 90 degrees clockwise": shown 240x360 with bottom-left (blue) top left
    artifact, _ = render(tmp_path, [_block("image", "quadrants_exif", fit="fill")], media)
    frame = mf.frames(artifact.video_path)[0]
    _assert_color(mf.mean_color(frame, (0.05, 0.05, 0.45, 0.45)), "blue", "top left")
    _assert_color(mf.mean_color(frame, (0.55, 0.05, 0.95, 0.45)), "red", "top right")
    _assert_color(mf.mean_color(frame, (0.05, 0.55, 0.45, 0.95)), "yellow", "bottom left")
    _assert_color(mf.mean_color(frame, (0.55, 0.55, 0.95, 0.95)), "green", "bottom right")


# ------------------------------------------------------------------ transparency, fades, transitions, motion


def test_transparent_png_and_opacity_blend_over_lower_layers(tmp_path: Path, media: dict[str, bytes]) -> None:
    blocks = [
        _block("image", "red_png", duration=2),
        _block("image", "green_half", 0, 1, fit="fill"),  # PNG alpha 128 over red
        _block("image", "blue_png", 1, 1, opacity=0.5),
    ]
    artifact, _ = render(tmp_path, blocks, media)
    frames = mf.frames(artifact.video_path)
    half_green = (np.array(mf.RGB["red"]) + np.array(mf.RGB["green"])) / 2
    half_blue = (np.array(mf.RGB["red"]) + np.array(mf.RGB["blue"])) / 2
    assert np.abs(_color_at(frames, 0.5) - half_green).max() < 30, _color_at(frames, 0.5)
    assert np.abs(_color_at(frames, 1.5) - half_blue).max() < 30, _color_at(frames, 1.5)


def test_fade_in_and_out_reveal_what_is_below(tmp_path: Path, media: dict[str, bytes]) -> None:
    artifact, _ = render(tmp_path, [_block("image", "yellow", 0, 2, fadeIn=1, fadeOut=1)], media)
    frames = mf.frames(artifact.video_path)
    brightness = [float(_color_at(frames, t).mean()) for t in (0.0, 0.5, 1.0, 1.5, 1.95)]
    full = float(np.mean(mf.RGB["yellow"]))
    assert brightness[0] < 0.1 * full and brightness[-1] < 0.15 * full
    assert 0.3 * full < brightness[1] < 0.7 * full
    assert brightness[2] > 0.9 * full
    assert 0.3 * full < brightness[3] < 0.7 * full


def test_fade_transition_cross_fades_consecutive_blocks(tmp_path: Path, media: dict[str, bytes]) -> None:
    blocks = [_block("image", "red_png", 0, 2), _block("image", "blue_png", 1, 2, transition={"duration": 1})]
    artifact, _ = render(tmp_path, blocks, media)
    frames = mf.frames(artifact.video_path)
    assert len(frames) == 3 * FPS
    _assert_color(_color_at(frames, 0.5), "red", "before")
    mix = (np.array(mf.RGB["red"]) + np.array(mf.RGB["blue"])) / 2
    assert np.abs(_color_at(frames, 1.5) - mix).max() < 35, _color_at(frames, 1.5)
    _assert_color(_color_at(frames, 2.5), "blue", "after")


def test_wipe_transition_between_different_kinds_of_block(tmp_path: Path, media: dict[str, bytes]) -> None:
    blocks = [
        _block("video", "magenta", 0, 2),
        _block("image", "yellow", 1, 2, fit="contain", scale=0.5, transition={"type": "wipeLeft", "duration": 1}),
    ]
    artifact, _ = render(tmp_path, blocks, media)
    frames = mf.frames(artifact.video_path)
    middle = frames[round(1.5 * FPS)]
    _assert_color(mf.mean_color(middle, (0.3, 0.4, 0.45, 0.6)), "magenta", "not yet wiped (left)")
    _assert_color(mf.mean_color(middle, (0.55, 0.4, 0.7, 0.6)), "yellow", "wiped in (right)")
    # after the transition the small image shows over black: the transitioned-from block has ended
    _assert_color(_color_at(frames, 2.5, (0.4, 0.4, 0.6, 0.6)), "yellow", "after, centre")
    _assert_color(_color_at(frames, 2.5, (0.0, 0.0, 0.1, 0.1)), "black", "after, corner")


def test_every_transition_type_renders(tmp_path: Path) -> None:
    from typing import get_args

    from reelforge.domain.template import TransitionType

    names = get_args(TransitionType)
    colours = ["red_png", "blue_png"]
    blocks = [_block("image", colours[0], 0, 0.5)]
    for i, name in enumerate(names, start=1):  # a chain: each block replaces the one before with another type
        blocks.append(_block("image", colours[i % 2], i * 0.4, 0.5, transition={"type": name, "duration": 0.1}))
    inputs = {"red_png": mf.png(32, 18, "red"), "blue_png": mf.png(32, 18, "blue")}
    artifact, _ = render(tmp_path, blocks, inputs, width=64, height=36)
    assert probe(artifact.video_path, count_frames=True).frame_count == round((len(names) * 0.4 + 0.5) * FPS)


def test_ken_burns_zooms_towards_its_focus(tmp_path: Path, media: dict[str, bytes]) -> None:
    ken_burns = {"zoomStart": 1, "zoomEnd": 3, "focusStart": {"x": 0.25, "y": 0.25}, "focusEnd": {"x": 0.25, "y": 0.25}}
    artifact, _ = render(tmp_path, [_block("image", "quadrants", 0, 2, kenBurns=ken_burns)], media)
    frames = mf.frames(artifact.video_path)
    first, last = frames[0], frames[-1]
    _assert_color(mf.mean_color(first, (0.55, 0.55, 0.95, 0.95)), "yellow", "first frame: all four quadrants")
    _assert_color(mf.mean_color(last, (0.05, 0.05, 0.95, 0.95)), "red", "last frame: zoomed into the top left")
    widths = [int(np.sum(np.all(np.abs(f[: H // 4].astype(int) - mf.RGB["red"]) < 60, axis=2)[0])) for f in frames]
    assert widths == sorted(widths) and widths[-1] > widths[0]  # the red quadrant grows steadily


# ------------------------------------------------------------------ text


def test_non_latin_text_renders_where_it_is_placed(tmp_path: Path, media: dict[str, bytes]) -> None:
    base = [_block("image", "blue_png", duration=1)]
    text = _block("text", duration=1, text="Привет, мир · مرحبا · Ελληνικά", position="bottom", fontSize=90)
    with_text, _ = render(tmp_path / "with", [*base, text], media)
    without, _ = render(tmp_path / "without", base, media)
    a, b = mf.frames(with_text.video_path)[12].astype(int), mf.frames(without.video_path)[12].astype(int)
    changed = np.abs(a - b).max(axis=2) > 60
    rows, cols = np.nonzero(changed)
    assert rows.size > 200, "no text was drawn"
    assert rows.min() > H // 2  # anchored at the bottom
    assert a[changed].mean() > 180  # white glyphs
    assert cols.min() < W // 2 < cols.max()  # centred


def test_text_layers_in_order_and_respects_its_time(tmp_path: Path, media: dict[str, bytes]) -> None:
    blocks = [
        _block("text", None, 0.5, 1, text="█████", fontSize=200, color="yellow"),
        _block("image", "red_png", 1, 1, fit="contain", scale=0.5),
    ]  # later: covers the text's middle
    artifact, _ = render(tmp_path, blocks, media)
    frames = mf.frames(artifact.video_path)
    _assert_color(_color_at(frames, 0.25, (0.45, 0.45, 0.55, 0.55)), "black", "before the text")
    _assert_color(_color_at(frames, 0.75, (0.45, 0.45, 0.55, 0.55)), "yellow", "text")
    _assert_color(_color_at(frames, 1.25, (0.45, 0.45, 0.55, 0.55)), "red", "image over text")
    _assert_color(_color_at(frames, 1.75, (0.45, 0.45, 0.55, 0.55)), "red", "text over, image stays")


def test_text_background_box_and_wrapping(tmp_path: Path) -> None:
    long = "a long caption that cannot fit on one line of a small frame and must wrap"
    artifact, _ = render(tmp_path, [_block("text", text=long, fontSize=100, background="#FF0000")])
    frame = mf.frames(artifact.video_path)[12]
    red = np.all(np.abs(frame.astype(int) - mf.RGB["red"]) < 70, axis=2)
    rows, cols = np.nonzero(red)
    assert rows.size > 0, "no background box"
    assert cols.min() >= 0 and cols.max() < W  # wrapped to fit the width
    assert rows.max() - rows.min() > 3 * 100 * H / 1080  # several lines tall


# ------------------------------------------------------------------ sound


def test_audio_is_placed_mixed_and_silent_elsewhere(tmp_path: Path, media: dict[str, bytes]) -> None:
    blocks = [
        _block("video", "red_tone", 0, 1),  # its own 440 Hz tone
        _block("video", "red_tone", 1, 1, volume=0),  # muted
        _block("audio", "wav", 2, 1),
    ]
    artifact, _ = render(tmp_path, blocks, media)
    levels = mf.audio_levels(artifact.video_path)
    assert len(levels) == pytest.approx(30, abs=1)
    loud = 0.05
    assert all(level > loud for level in levels[1:9]), levels
    assert all(level < 0.005 for level in levels[11:19]), levels
    assert all(level > loud for level in levels[21:29]), levels


def test_volume_and_audio_fades(tmp_path: Path, media: dict[str, bytes]) -> None:
    full, _ = render(tmp_path / "full", [_block("audio", "wav", 0, 1)], media)
    quiet, _ = render(tmp_path / "quiet", [_block("audio", "wav", 0, 1, volume=0.25, fadeOut=0.5)], media)
    full_levels, quiet_levels = mf.audio_levels(full.video_path), mf.audio_levels(quiet.video_path)
    assert quiet_levels[2] == pytest.approx(full_levels[2] * 0.25, rel=0.15)
    assert quiet_levels[8] < quiet_levels[3] * 0.6  # fading out


def test_template_without_sound_has_a_silent_track(tmp_path: Path, media: dict[str, bytes]) -> None:
    artifact, _ = render(tmp_path, [_block("video", "blue_silent", 0, 1)], media)
    assert probe(artifact.video_path).has_audio
    assert max(mf.audio_levels(artifact.video_path)) < 1e-4


# ------------------------------------------------------------------ the engine contract


def test_phases_progress_thumbnail_and_a_clean_workdir(tmp_path: Path, media: dict[str, bytes]) -> None:
    blocks = [_block("image", "red_png", 0, 1), _block("image", "yellow", 1, 1.5)]
    artifact, ctx = render(tmp_path, blocks, media)
    assert ctx.phases == ["preparing_assets", "rendering"]
    assert ctx.reported == sorted(ctx.reported) and ctx.reported[-1] == 100
    assert sorted(p.name for p in tmp_path.iterdir()) == ["thumbnail.jpg", "video.mp4"]
    with Image.open(artifact.thumbnail_path) as thumbnail:
        assert thumbnail.format == "JPEG" and thumbnail.size == (W, H)
        _assert_color(mf.mean_color(np.asarray(thumbnail.convert("RGB"))), "yellow", "thumbnail at 1 s")


def test_cancel_kills_ffmpeg(tmp_path: Path) -> None:
    class CancelWhenFfmpegRuns(FakeContext):
        ffmpeg_pid: int | None = None

        def cancelled(self) -> bool:
            if self.ffmpeg_pid is None:
                self.ffmpeg_pid = _child_ffmpeg()
            return self.ffmpeg_pid is not None

    ctx = CancelWhenFfmpegRuns(tmp_path)
    request = _request([_block("text", duration=300, text="a long render", fadeIn=1)])
    with pytest.raises(TaskCancelled):
        ComposeEngine({}).run(request, ctx)
    assert ctx.ffmpeg_pid is not None
    assert not Path(f"/proc/{ctx.ffmpeg_pid}").exists()  # killed and reaped
    assert list(tmp_path.iterdir()) == []  # no partial video, no scratch files


def _child_ffmpeg() -> int | None:
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        name, fields = stat[stat.index("(") + 1 : stat.rindex(")")], stat[stat.rindex(")") + 2 :].split()
        if int(fields[1]) == os.getpid() and name.startswith("ffmpeg"):
            return int(entry.name)
    return None


def test_ffmpeg_failure_is_an_engine_error_without_paths(tmp_path: Path) -> None:
    secret = tmp_path / "someone-else" / "private"
    with pytest.raises(ReelforgeError) as caught:
        run_ffmpeg(
            ["-i", str(secret / "clip.mp4"), "-f", "null", "-"], cwd=tmp_path, duration=1, ctx=FakeContext(tmp_path)
        )
    assert caught.value.code == ErrorCode.ENGINE_ERROR
    assert "clip.mp4" in caught.value.message and "No such file" in caught.value.message
    assert "someone-else" not in caught.value.message and str(tmp_path) not in caught.value.message


@pytest.mark.parametrize(
    ("blocks", "inputs", "pointer", "words"),
    [
        ([_block("video", "x")], {"x": b"this is not a video"}, "/template/blocks/0/source", "could not be read"),
        ([_block("video", "x")], {"x": mf.png(32, 32)}, "/template/blocks/0/source", "use an image block"),
        (
            [_block("video", "x")],
            {"x": b"#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1,\nfile:///etc/passwd\n"},
            "/template/blocks/0/source",
            "",
        ),
        ([_block("image", "x")], {"x": b"GIF89a broken"}, "/template/blocks/0/source", "could not be decoded"),
        ([_block("text", text="t"), _block("audio", "x")], {"x": b""}, "/template/blocks/1/source", "empty"),
    ],
)
def test_bad_inputs_name_their_block(
    tmp_path: Path, blocks: list[dict[str, Any]], inputs: dict[str, bytes], pointer: str, words: str
) -> None:
    with pytest.raises(ReelforgeError) as caught:
        render(tmp_path, blocks, inputs)
    assert caught.value.code == ErrorCode.INVALID_PAYLOAD
    assert caught.value.field == pointer
    assert words in caught.value.message
    assert "x.bin" in caught.value.message  # the user's name for the input
    assert list(tmp_path.iterdir()) == []


def test_inputs_must_suit_their_block(tmp_path: Path, media: dict[str, bytes]) -> None:
    with pytest.raises(ReelforgeError) as caught:
        render(tmp_path / "a", [_block("audio", "blue_silent")], media)
    assert caught.value.field == "/template/blocks/0/source" and "no sound" in caught.value.message
    with pytest.raises(ReelforgeError) as caught:
        render(tmp_path / "b", [_block("video", "blue_silent", trim=5)], media)
    assert caught.value.field == "/template/blocks/0/trim" and "past the end" in caught.value.message
    with pytest.raises(ReelforgeError) as caught:
        render(tmp_path / "c", [_block("video", "blue_silent")], media, settings={"max_input_bytes": 100})
    assert caught.value.field == "/template/blocks/0/source" and "limit" in caught.value.message


def test_fetch_errors_pass_through_unchanged(tmp_path: Path) -> None:
    class Unreachable(FakeContext):
        def read_input(self, source: str) -> bytes:
            raise ReelforgeError(ErrorCode.INPUT_FETCH_FAILED, f"fetching {source} answered HTTP 404")

    with pytest.raises(ReelforgeError) as caught:
        ComposeEngine({}).run(_request([_block("video", "https://example.com/gone.mp4")]), Unreachable(tmp_path))
    assert caught.value.code == ErrorCode.INPUT_FETCH_FAILED and "404" in caught.value.message


def test_same_input_in_several_blocks_is_read_once(tmp_path: Path, media: dict[str, bytes]) -> None:
    class Counting(FakeContext):
        reads: list[str] = []

        def read_input(self, source: str) -> bytes:
            self.reads.append(source)
            return super().read_input(source)

    ctx = Counting(tmp_path, media)
    blocks = [_block("video", "red_tone", 0, 1), _block("audio", "red_tone", 0, 1), _block("video", "red_tone", 1, 1)]
    ComposeEngine({}).run(_request(blocks), ctx)
    assert ctx.reads == ["red_tone"]
