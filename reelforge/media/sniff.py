"""What a file is, from its first bytes: `video`, `image` or `audio`, whatever its URL or name says.

Signed CDN URLs carry no file extension (`https://cdn.example.com/a1b2?X-Amz-Signature=...`), so an AVS
`assetUrls` entry is typed by what it holds: `sniff_url` reads only its first `HEAD_BYTES` (a `Range`
request through the safe fetcher's pinned transport, `media/fetch.py`, so the same address rules apply)
and `media_type` names the container from its magic numbers. `readable_video` is the check a `.vidova`
screen recording must pass: a container ffmpeg (PyAV) opens, with a video stream.
"""

from __future__ import annotations

import io

import av
import httpx

from reelforge.domain.errors import ErrorCode, ReelforgeError
from reelforge.media.fetch import PinnedTransport, check_syntax

HEAD_BYTES = 64 * 1024
MAX_REDIRECTS = 5
_IMAGE_BRANDS = (b"avif", b"avis", b"heic", b"heix", b"mif1", b"msf1")
_AUDIO_BRANDS = (b"M4A ", b"M4B ", b"F4A ")


def media_type(head: bytes) -> str | None:
    """`video`, `image` or `audio` for the container these first bytes open, else None."""
    if head[4:8] == b"ftyp":  # ISO base media: MP4, MOV, M4A, AVIF/HEIC by brand
        brand = head[8:12]
        if brand in _IMAGE_BRANDS:
            return "image"
        return "audio" if brand in _AUDIO_BRANDS else "video"
    if head[:4] == b"\x1a\x45\xdf\xa3":  # EBML: Matroska, WebM
        return "video"
    if head[:4] == b"RIFF":
        return {b"AVI ": "video", b"WEBP": "image", b"WAVE": "audio"}.get(head[8:12])
    if head[:3] == b"FLV" or (len(head) > 188 and head[0] == 0x47 and head[188] == 0x47):  # FLV, MPEG-TS
        return "video"
    if head[:8] == b"\x89PNG\r\n\x1a\n" or head[:3] == b"\xff\xd8\xff" or head[:4] in (b"GIF8",) or head[:2] == b"BM":
        return "image"
    if (
        head[:3] == b"ID3"
        or head[:4] in (b"fLaC", b"OggS")
        or (len(head) > 1 and head[0] == 0xFF and head[1] >> 5 == 7)
    ):
        return "audio"  # MP3 (ID3 or a frame sync), FLAC, Ogg (Vorbis/Opus)
    return None


def sniff_url(url: str, *, allow_private: bool, timeout: float, pointer: str) -> str:
    """The media type of what `url` serves, from its first bytes (blocking); a clear error otherwise.

    INPUT_FETCH_FAILED (400) when it cannot be read, INVALID_PAYLOAD naming `pointer` when the bytes are no
    video, image or audio container.
    """
    try:
        head = _head(url, allow_private=allow_private, timeout=timeout)
    except ReelforgeError as exc:
        exc.field = exc.field or pointer
        raise
    kind = media_type(head)
    if kind is None:
        raise ReelforgeError(
            ErrorCode.INVALID_PAYLOAD,
            f"{url} is not a video, image or audio file (its first bytes match no known container)",
            field=pointer,
        )
    return kind


def readable_video(data: bytes) -> bool:
    """True when ffmpeg (PyAV) opens `data` as a container with a video stream."""
    try:
        with av.open(io.BytesIO(data)) as container:
            return bool(container.streams.video)
    except (av.error.FFmpegError, ValueError, OSError):
        return False


def _head(url: str, *, allow_private: bool, timeout: float) -> bytes:
    transport = PinnedTransport(allow_private=allow_private, purpose="input URL")
    current = url
    with httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False, transport=transport) as client:
        for _ in range(MAX_REDIRECTS + 1):
            check_syntax(current, "input URL")
            try:
                with client.stream("GET", current, headers={"Range": f"bytes=0-{HEAD_BYTES - 1}"}) as response:
                    if response.is_redirect and "location" in response.headers:
                        current = str(httpx.URL(current).join(response.headers["location"]))
                        continue
                    if response.status_code not in (200, 206):
                        raise ReelforgeError(
                            ErrorCode.INPUT_FETCH_FAILED, f"fetching {url} answered HTTP {response.status_code}"
                        )
                    head = bytearray()
                    for chunk in response.iter_bytes():
                        head.extend(chunk)
                        if len(head) >= HEAD_BYTES:
                            break
                    return bytes(head[:HEAD_BYTES])
            except httpx.HTTPError as exc:
                raise ReelforgeError(
                    ErrorCode.INPUT_FETCH_FAILED, f"fetching {url} failed: {type(exc).__name__}"
                ) from exc
    raise ReelforgeError(ErrorCode.INPUT_FETCH_FAILED, f"{url}: more than {MAX_REDIRECTS} redirects")
