"""Fetch, write and probe a template's inputs before anything is rendered.

Every input is read once through `ctx.read_input(ref)` (the same ref used twice is written once), written
into the scratch directory, and probed, so the graph compiler knows what it is working with and a bad
input fails with a message naming its block instead of an ffmpeg error:

- videos and audio are opened with PyAV under a `file`-only protocol whitelist and a format whitelist
  (`ALLOWED_DEMUXERS`): a playlist (HLS, concat) sent as "video" could otherwise make ffmpeg read other
  files or URLs. The demuxer found is then forced on the ffmpeg command line, so ffmpeg cannot guess
  differently;
- a video's display size honours its rotation (phones store portrait video sideways with a display
  matrix; ffmpeg's autorotation turns the frames, and the layout must expect the turned size) and its
  sample aspect ratio;
- images are decoded with Pillow (pixel cap before decoding, EXIF orientation applied); anything but a
  plain upright RGB(A)/grey PNG or JPEG is re-saved as PNG so ffmpeg gets what Pillow saw. An alpha
  channel that is fully opaque is ignored, which saves a blend per frame.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
from PIL import Image, ImageOps, UnidentifiedImageError

from reelforge.domain.errors import ErrorCode, ReelforgeError, invalid
from reelforge.domain.template import MAX_INPUT_BYTES, AudioBlock, ImageBlock, Template, VideoBlock
from reelforge.engines.base import RunContext
from reelforge.media.images import MAX_PIXELS

ALLOWED_DEMUXERS = frozenset(
    {
        "mov",
        "matroska",
        "avi",
        "mpegts",
        "flv",
        "ogg",
        "wav",
        "mp3",
        "aac",
        "flac",
        "asf",
        "mpeg",
        "gif",
        "h264",
        "hevc",
        "aiff",
        "caf",
        "w64",
        "amr",
        "ac3",
        "eac3",
        "m4v",
        "ivf",
        "webm",
    }
)
# AVColorSpace -> swscale's matrix name (BT470BG and SMPTE170M are the same BT.601 matrix); AVCOL_RANGE_JPEG.
_MATRICES = {1: "bt709", 4: "fcc", 5: "bt601", 6: "bt601", 7: "smpte240m", 9: "bt2020", 10: "bt2020"}
_FULL_RANGE = 2
# What PyAV may even try while probing (`format_whitelist`): the accepted containers plus image pipes, which
# are recognised only to say "use an image block". A playlist demuxer never runs, not even to be refused.
_PROBE_FORMATS = ",".join(sorted(ALLOWED_DEMUXERS | {"png_pipe", "jpeg_pipe", "webp_pipe", "bmp_pipe", "tiff_pipe"}))
_PLAIN_IMAGE_MODES = {"RGB", "RGBA", "L"}
_IMAGE_DEMUXERS = {"PNG": "png_pipe", "JPEG": "jpeg_pipe"}


@dataclass(frozen=True)
class MediaInfo:
    """One input file as ffmpeg will read it."""

    path: Path
    demuxer: str  # forced with `-f`
    kind: str  # "video" (a moving picture, perhaps with sound), "audio" or "image"
    width: int = 0  # display size: rotation and sample aspect ratio applied
    height: int = 0
    duration: float | None = None  # seconds, when the container says
    has_video: bool = False
    has_audio: bool = False
    has_alpha: bool = False
    rotation: int = 0  # degrees, as the display matrix says
    matrix: str | None = None  # YUV matrix tag as swscale names it ("bt709", "bt601", ...); None: untagged
    full_range: bool = False  # 0-255 luma (JPEG-style): converted to the output's 16-235


def prepare_inputs(
    template: Template,
    ctx: RunContext,
    directory: Path,
    *,
    max_input_bytes: int = MAX_INPUT_BYTES,
    prefix: str = "/template",
) -> dict[int, MediaInfo]:
    """Block index -> `MediaInfo` for every media block; `invalid` naming the block's source on a bad input."""
    directory.mkdir(parents=True, exist_ok=True)
    by_ref: dict[tuple[str, str], MediaInfo] = {}
    result: dict[int, MediaInfo] = {}
    media = [(i, b) for i, b in enumerate(template.blocks) if isinstance(b, VideoBlock | ImageBlock | AudioBlock)]
    for done, (index, block) in enumerate(media):
        ctx.raise_if_cancelled()
        pointer = f"{prefix}/blocks/{index}/source"
        ref = block.source.ref
        if ref is None:
            raise ReelforgeError(
                ErrorCode.ENGINE_ERROR, f"block {index}'s source was not resolved to an input", field=pointer
            )
        kind = "image" if block.type == "image" else "av"
        if (ref, kind) not in by_ref:
            data = ctx.read_input(ref)
            if not data:
                raise invalid(f"{block.source.label} is empty (0 bytes)", pointer)
            if len(data) > max_input_bytes:
                raise invalid(
                    f"{block.source.label} is {len(data)} bytes; the limit for one input is {max_input_bytes} bytes",
                    pointer,
                )
            name = f"in{len(by_ref)}"
            if kind == "image":
                by_ref[(ref, kind)] = write_image(data, directory / name, block.source.label, pointer)
            else:
                path = directory / name
                path.write_bytes(data)
                by_ref[(ref, kind)] = probe_media(path, block.source.label, pointer)
        info = by_ref[(ref, kind)]
        _check_fits_block(info, block, pointer)
        result[index] = info
        ctx.progress(5.0 * (done + 1) / len(media))
    return result


def probe_media(path: Path, label: str, pointer: str) -> MediaInfo:
    """Open a video or audio file with PyAV (file protocol only) and describe it."""
    try:
        options = {"protocol_whitelist": "file", "format_whitelist": _PROBE_FORMATS}
        with av.open(str(path), options=options) as container:
            demuxer = container.format.name.split(",")[0]
            if demuxer.endswith("_pipe") or demuxer == "image2":
                raise invalid(f"{label} is an image; use an image block for it", pointer)
            if demuxer not in ALLOWED_DEMUXERS:
                raise invalid(
                    f"{label} is a {container.format.long_name or demuxer} file, which is not accepted "
                    f"as video or audio; send MP4, MOV, WebM, MKV, MP3, WAV, AAC, OGG or FLAC",
                    pointer,
                )
            duration = _duration(container)
            has_audio = bool(container.streams.audio)
            if not container.streams.video:
                return MediaInfo(path, demuxer, "audio", duration=duration, has_audio=has_audio)
            stream = container.streams.video[0]
            frame = next(container.decode(stream), None)
            if frame is None:
                raise invalid(f"{label} has a video stream without a single decodable frame", pointer)
            rotation = round(frame.rotation or 0)
            width, height = frame.width, frame.height
            sar = stream.sample_aspect_ratio
            if sar and Fraction(sar) > 0 and Fraction(sar) != 1:
                width = max(2, round(width * Fraction(sar)))
            if abs(rotation) % 180 == 90:
                width, height = height, width
            has_alpha = any(component.is_alpha for component in frame.format.components)
            return MediaInfo(
                path,
                demuxer,
                "video",
                width,
                height,
                duration,
                has_video=True,
                has_audio=has_audio,
                has_alpha=has_alpha,
                rotation=rotation,
                matrix=_MATRICES.get(frame.colorspace),
                full_range=frame.color_range == _FULL_RANGE or frame.format.name.startswith("yuvj"),
            )
    except ReelforgeError:
        raise
    except (av.FFmpegError, StopIteration, ValueError, OSError) as exc:
        raise invalid(
            f"{label} could not be read as video or audio ({type(exc).__name__}); send MP4, MOV, WebM, "
            f"MKV, MP3, WAV, AAC, OGG or FLAC",
            pointer,
        ) from None


def _duration(container: av.container.InputContainer) -> float | None:
    for stream in (*container.streams.video[:1], *container.streams.audio[:1]):
        if stream.duration is not None and stream.time_base is not None:
            return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / av.time_base
    return None


def _alpha_floor(image: Image.Image) -> float:
    """The lowest alpha value of `image` (255: fully opaque)."""
    low, _high = image.getchannel("A").getextrema()
    return float(low)  # type: ignore[arg-type]  # one band: a (min, max) pair of numbers


def write_image(data: bytes, stem: Path, label: str, pointer: str) -> MediaInfo:
    """Decode an image with Pillow, upright it, and write a PNG or JPEG ffmpeg reads the same way."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image: Image.Image = Image.open(io.BytesIO(data))
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise invalid(
                    f"{label} is {width}x{height}; images are limited to {MAX_PIXELS / 1e6:.0f} "
                    f"megapixels, so downscale it first",
                    pointer,
                )
            image_format = image.format
            orientation = image.getexif().get(0x0112, 1)
            image.load()
    except ReelforgeError:
        raise
    except (
        UnidentifiedImageError,
        OSError,
        SyntaxError,
        ValueError,
        EOFError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
    ) as exc:
        raise invalid(f"{label} could not be decoded as an image ({type(exc).__name__})", pointer) from None

    has_alpha = image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info)
    if image_format in _IMAGE_DEMUXERS and orientation == 1 and image.mode in _PLAIN_IMAGE_MODES:
        path = stem.with_suffix(".png" if image_format == "PNG" else ".jpg")
        path.write_bytes(data)
        demuxer = _IMAGE_DEMUXERS[image_format]
        if has_alpha:
            has_alpha = _alpha_floor(image) < 255
    else:
        image = ImageOps.exif_transpose(image)
        image = image.convert("RGBA" if has_alpha else "RGB")
        if has_alpha and _alpha_floor(image) == 255:
            image, has_alpha = image.convert("RGB"), False
        path = stem.with_suffix(".png")
        image.save(path, format="PNG", compress_level=1)
        demuxer = "png_pipe"
    return MediaInfo(path, demuxer, "image", image.width, image.height, has_video=True, has_alpha=has_alpha)


def _check_fits_block(info: MediaInfo, block: VideoBlock | ImageBlock | AudioBlock, pointer: str) -> None:
    label = block.source.label
    if isinstance(block, VideoBlock) and not info.has_video:
        raise invalid(f"{label} has no picture; use an audio block for it", pointer)
    if isinstance(block, AudioBlock) and not info.has_audio:
        raise invalid(f"{label} has no sound to play in an audio block", pointer)
    trim = getattr(block, "trim", 0.0)
    if trim and info.duration is not None and trim >= info.duration and not getattr(block, "loop", False):
        field = pointer.rsplit("/", 1)[0] + "/trim"
        raise invalid(f"trim {trim:g} s is past the end of {label} ({info.duration:.3g} s long)", field)
