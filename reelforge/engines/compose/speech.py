"""Voice and captions blocks before the graph: speech synthesized, subtitle files read, speech transcribed.

Runs after the media inputs are prepared and before the graph is compiled, so the compiler sees a voice
block as an ordinary WAV input and a captions block as a list of cues. Times: a captions block's cues
are seconds from its own start; cues transcribed from another block are shifted by the difference of
the two blocks' starts (and that block's `trim`), so they line up with the sound they came from.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from pathlib import Path

from reelforge.domain.errors import ErrorCode, ReelforgeError, invalid
from reelforge.domain.template import AudioBlock, CaptionsBlock, Template, VideoBlock, VoiceBlock, transcribed_block
from reelforge.engines.base import RunContext
from reelforge.engines.compose.inputs import MediaInfo, probe_media
from reelforge.engines.compose.runner import ffmpeg_exe
from reelforge.media.captions import Cue, SubtitleError, parse_subtitles
from reelforge.media.transcribe import TranscriptionBackend, transcribe
from reelforge.media.voice import SpeechBackend, synthesize

MAX_SUBTITLE_BYTES = 2 * 1024 * 1024


def api_key(env_name: str | None) -> str | None:
    """A backend's API key, read from the environment variable the operator named (never stored)."""
    return os.environ.get(env_name) if env_name else None


def synthesize_voices(
    template: Template, ctx: RunContext, directory: Path, backend: SpeechBackend, prefix: str = "/template"
) -> dict[int, MediaInfo]:
    """Block index -> the WAV of every voice block."""
    voices: dict[int, MediaInfo] = {}
    for index, block in enumerate(template.blocks):
        if isinstance(block, VoiceBlock):
            ctx.raise_if_cancelled()
            path = synthesize(block.text, block.voice, directory / f"voice{index}.wav", backend, block.speed)
            voices[index] = probe_media(path, f"the voice of block {index}", f"{prefix}/blocks/{index}/text")
    return voices


def caption_cues(
    template: Template,
    ctx: RunContext,
    media: Mapping[int, MediaInfo],
    directory: Path,
    backend: TranscriptionBackend,
    prefix: str = "/template",
) -> dict[int, list[Cue]]:
    """Block index -> the cues of every captions block (inline, from its file, or transcribed)."""
    result: dict[int, list[Cue]] = {}
    for index, block in enumerate(template.blocks):
        if not isinstance(block, CaptionsBlock):
            continue
        ctx.raise_if_cancelled()
        pointer = f"{prefix}/blocks/{index}"
        if block.cues is not None:
            result[index] = [Cue(c.start, c.end, c.text) for c in block.cues]
        elif block.source is not None:
            result[index] = _subtitle_file(block, ctx, f"{pointer}/source")
        else:
            result[index] = _transcribed(template, index, media, directory, backend, f"{pointer}/transcribe")
    return result


def _subtitle_file(block: CaptionsBlock, ctx: RunContext, pointer: str) -> list[Cue]:
    assert block.source is not None
    if block.source.ref is None:
        raise ReelforgeError(ErrorCode.ENGINE_ERROR, "the subtitle file was not resolved to an input", field=pointer)
    data = ctx.read_input(block.source.ref)
    if len(data) > MAX_SUBTITLE_BYTES:
        raise invalid(f"{block.source.label} is over {MAX_SUBTITLE_BYTES} bytes; is it a subtitle file?", pointer)
    try:
        return parse_subtitles(data.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise invalid(f"{block.source.label} is not UTF-8 text (an SRT or WebVTT file)", pointer) from None
    except SubtitleError as exc:
        raise invalid(f"{block.source.label}: {exc}", pointer) from None


def _transcribed(
    template: Template,
    index: int,
    media: Mapping[int, MediaInfo],
    directory: Path,
    backend: TranscriptionBackend,
    pointer: str,
) -> list[Cue]:
    block = template.blocks[index]
    assert isinstance(block, CaptionsBlock)
    target = transcribed_block(template, index, pointer)
    source = template.blocks[target]
    info = media.get(target)
    if info is None or (isinstance(source, VideoBlock) and not info.has_audio):
        raise invalid(f"block {target} has no sound to transcribe", pointer)
    trim = source.trim if isinstance(source, AudioBlock | VideoBlock) else 0.0
    clip = directory / f"speech{index}.wav"
    done = subprocess.run(
        [
            ffmpeg_exe(),
            "-hide_banner",
            "-nostdin",
            "-loglevel",
            "error",
            "-y",
            "-ss",
            f"{trim:.3f}",
            "-t",
            f"{source.duration:.3f}",
            "-i",
            str(info.path),
            "-vn",
            "-ac",
            "1",
            "-ar",
            "16000",
            str(clip),
        ],
        capture_output=True,
        timeout=600,
        check=False,
    )
    if done.returncode != 0:
        raise invalid(f"the sound of block {target} could not be decoded for transcription", pointer)
    language = block.language
    if language and backend.language != language:
        backend = TranscriptionBackend(backend.url, backend.model, backend.api_key, language, backend.timeout)
    shift = source.start - block.start
    return [
        Cue(
            c.start + shift,
            c.end + shift,
            c.text,
            tuple(type(w)(w.start + shift, w.end + shift, w.text) for w in c.words),
        )
        for c in transcribe(clip, backend, ffmpeg_exe())
    ]
