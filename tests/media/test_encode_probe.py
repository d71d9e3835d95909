"""VideoWriter produces MP4s a player accepts, with exactly the frames, size and rate asked for."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from reelforge.media.encode import VideoWriter, fps_fraction, write_thumbnail
from reelforge.media.probe import probe
from reelforge.media.yuv import i420_to_rgb, planes, rgb_delta_to_yuv, rgb_to_i420, rgb_to_yuv


def _frames(n: int, width: int = 96, height: int = 64) -> list[np.ndarray]:
    """A moving gradient: content x264 has to work on, unlike flat colour."""
    yy, xx = np.mgrid[0:height, 0:width]
    return [
        np.stack([(xx * 255 // width + i * 7) % 256, yy * 255 // height, (xx + yy + i * 3) % 256], -1).astype(np.uint8)
        for i in range(n)
    ]


def _encode(path: Path, frames: list[np.ndarray], fps: float = 24) -> Path:
    height, width = frames[0].shape[:2]
    with VideoWriter(path, width, height, fps) as writer:
        for frame in frames:
            writer.write(frame)
    return path


def test_probe_reports_what_was_encoded(tmp_path: Path) -> None:
    path = _encode(tmp_path / "out.mp4", _frames(30))
    info = probe(path)
    assert info.codec == "h264"
    assert info.pix_fmt == "yuv420p"
    assert (info.width, info.height) == (96, 64)
    assert info.fps == pytest.approx(24)
    assert info.frame_count == 30
    assert probe(path, count_frames=True).frame_count == 30
    assert info.duration == pytest.approx(30 / 24, abs=1 / 24)
    assert info.has_audio is False


def test_moov_atom_comes_first_for_streaming(tmp_path: Path) -> None:
    data = _encode(tmp_path / "out.mp4", _frames(10)).read_bytes()
    assert data.index(b"moov") < data.index(b"mdat")


def test_ntsc_frame_rate_is_exact(tmp_path: Path) -> None:
    assert fps_fraction(23.976) == Fraction(24000, 1001)
    assert fps_fraction(29.97) == Fraction(30000, 1001)
    assert fps_fraction(12.5) == Fraction(25, 2)
    info = probe(_encode(tmp_path / "ntsc.mp4", _frames(48), fps=23.976))
    assert info.fps == pytest.approx(24000 / 1001, rel=1e-6)
    assert info.frame_count == 48
    assert info.duration == pytest.approx(48 * 1001 / 24000, abs=1e-3)


def test_same_frames_give_same_bytes(tmp_path: Path) -> None:
    frames = _frames(20)
    first = _encode(tmp_path / "a.mp4", frames).read_bytes()
    second = _encode(tmp_path / "b.mp4", frames).read_bytes()
    assert first == second


def test_same_frames_give_same_bytes_after_other_numpy_work(tmp_path: Path) -> None:
    # Regression: x264's AVX-512 code let leftover heap contents leak into the output (see
    # `x264_asm_override`); freeing random-valued numpy buffers between frames exposed it, on smooth,
    # slowly moving content like the draft engine's.
    yy, xx = np.mgrid[0:96, 0:160].astype(np.float32)
    frames = [
        np.clip(
            np.stack(
                [
                    128 + 60 * np.sin(xx / 25 + i * 0.05) + 20 * np.cos(yy / 17),
                    100 + 50 * np.cos((xx + yy) / 40 - i * 0.03),
                    140 + 40 * np.sin(yy / 30 + i * 0.04),
                ],
                -1,
            ),
            0,
            255,
        ).astype(np.uint8)
        for i in range(24)
    ]
    rng = np.random.default_rng(0)
    outputs = set()
    for run in range(8):
        with VideoWriter(tmp_path / f"{run}.mp4", 160, 96, 24) as writer:
            for frame in frames:
                for size in rng.integers(1_000, 200_000, 8):
                    rng.random(size)
                writer.write(frame)
        outputs.add((tmp_path / f"{run}.mp4").read_bytes())
    assert len(outputs) == 1


def test_colours_survive_the_round_trip(tmp_path: Path) -> None:
    colours = [(200, 30, 30), (30, 200, 30), (30, 30, 200), (128, 128, 128), (240, 220, 40)]
    frames = [np.full((64, 96, 3), c, np.uint8) for c in colours]
    path = _encode(tmp_path / "flat.mp4", frames)
    with av.open(str(path)) as container:
        decoded = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    for colour, frame in zip(colours, decoded, strict=True):
        assert np.abs(frame[32, 48].astype(int) - colour).max() <= 6, (colour, frame[32, 48])


def test_odd_size_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="even"):
        VideoWriter(tmp_path / "odd.mp4", 95, 64, 24)
    with pytest.raises(ValueError, match="96x64"):
        VideoWriter(tmp_path / "odd.mp4", 96, 63, 24)


def test_wrong_frame_shape_is_refused(tmp_path: Path) -> None:
    with VideoWriter(tmp_path / "x.mp4", 96, 64, 24) as writer:
        writer.write(np.zeros((64, 96, 3), np.uint8))
        with pytest.raises(ValueError, match="64x96x3"):
            writer.write(np.zeros((64, 95, 3), np.uint8))
    assert probe(tmp_path / "x.mp4").frame_count == 1


def test_a_video_without_frames_is_an_error_not_an_empty_file(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no frames"), VideoWriter(tmp_path / "empty.mp4", 96, 64, 24):
        pass
    assert list(tmp_path.iterdir()) == []


def test_failure_leaves_no_file(tmp_path: Path) -> None:
    target = tmp_path / "broken.mp4"
    with pytest.raises(RuntimeError, match="boom"), VideoWriter(target, 96, 64, 24) as writer:
        for frame in _frames(5):
            writer.write(frame)
        raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_writer_copies_frames_so_buffers_can_be_reused(tmp_path: Path) -> None:
    buffer = np.zeros((64, 96, 3), np.uint8)
    path = tmp_path / "reuse.mp4"
    with VideoWriter(path, 96, 64, 24) as writer:
        for value in (0, 250):
            buffer[...] = value
            writer.write(buffer)
        buffer[...] = 128
    with av.open(str(path)) as container:
        means = [f.to_ndarray(format="rgb24").mean() for f in container.decode(video=0)]
    assert means[0] < 10 and means[1] > 240


def test_thumbnail_is_a_small_jpeg_with_the_same_aspect(tmp_path: Path) -> None:
    frame = np.zeros((720, 1280, 3), np.uint8)
    frame[:, :640] = (255, 0, 0)
    path = write_thumbnail(frame, tmp_path / "thumb.jpg")
    with Image.open(path) as image:
        assert image.format == "JPEG"
        assert image.size == (640, 360)
        assert image.getpixel((100, 180))[0] > 200
    with Image.open(write_thumbnail(frame[:96, :160], tmp_path / "small.jpg")) as image:
        assert image.size == (160, 96)


def test_i420_helpers_round_trip() -> None:
    rgb = _frames(1)[0]
    i420 = rgb_to_i420(rgb)
    assert i420.shape == (96, 96) and i420.dtype == np.uint8
    y, u, v = planes(i420)
    assert (y.shape, u.shape, v.shape) == ((64, 96), (32, 48), (32, 48))
    back = i420_to_rgb(i420)
    assert np.abs(back.astype(int) - rgb).mean() < 6  # chroma is subsampled, so not exact
    assert rgb_to_i420(rgb, 192, 128).shape == (192, 192)
    np.testing.assert_allclose(
        rgb_to_yuv(np.array([[255, 255, 255], [0, 0, 0]])), [[235, 128, 128], [16, 128, 128]], atol=0.01
    )
    np.testing.assert_allclose(rgb_delta_to_yuv(np.array([10, 10, 10])), [10 * 219 / 255, 0, 0], atol=1e-4)


def test_i420_frames_encode_like_rgb_frames(tmp_path: Path) -> None:
    frames = _frames(6)
    rgb_path = _encode(tmp_path / "rgb.mp4", frames)
    with VideoWriter(tmp_path / "yuv.mp4", 96, 64, 24) as writer:
        for frame in frames:
            writer.write_i420(rgb_to_i420(frame))
        with pytest.raises(ValueError, match="I420"):
            writer.write_i420(np.zeros((64, 96), np.uint8))
    assert (tmp_path / "yuv.mp4").read_bytes() == rgb_path.read_bytes()
