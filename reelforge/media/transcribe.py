"""Speech to caption cues: an OpenAI-compatible `/v1/audio/transcriptions` endpoint, or PocketSphinx offline.

Whisper servers (OpenAI, whisper.cpp's server, faster-whisper servers) speak the OpenAI transcription
contract; with `response_format=verbose_json` and word timestamps they return segments and words, which
become cues with word timings (the `highlight` caption style lights each word as it is said). The
offline recognizer is PocketSphinx from PyPI, which ships its English model in the wheel: no download,
no network, English only, and far less accurate than Whisper, but it always works.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from reelforge.domain.errors import ErrorCode, ReelforgeError
from reelforge.media.captions import Cue, Word

SPHINX_RATE = 16_000
SPHINX_FRAMES_PER_SECOND = 100
MAX_WORDS_PER_CUE = 7
PAUSE = 0.6  # seconds of silence that end a cue


@dataclass(frozen=True)
class TranscriptionBackend:
    """`url` None means PocketSphinx (English); otherwise an OpenAI-compatible server."""

    url: str | None = None
    model: str = "whisper-1"
    api_key: str | None = None
    language: str | None = None
    timeout: float = 300.0


def transcribe(audio: Path, backend: TranscriptionBackend, ffmpeg: str) -> list[Cue]:
    """Cues (with word timings where the backend gives them) of the speech in `audio` (any format ffmpeg reads)."""
    wav = audio.with_name(audio.stem + ".16k.wav")
    _to_wav(audio, wav, ffmpeg)
    if backend.url is None:
        return _sphinx(wav)
    return _openai(wav, backend)


def _to_wav(source: Path, target: Path, ffmpeg: str) -> None:
    done = subprocess.run(
        [
            ffmpeg,
            "-hide_banner",
            "-nostdin",
            "-loglevel",
            "error",
            "-y",
            "-i",
            str(source),
            "-vn",
            "-ac",
            "1",
            "-ar",
            str(SPHINX_RATE),
            "-c:a",
            "pcm_s16le",
            str(target),
        ],
        capture_output=True,
        timeout=600,
        check=False,
    )
    if done.returncode != 0:
        raise ReelforgeError(ErrorCode.ENGINE_ERROR, "the audio to transcribe could not be decoded")


def _openai(wav: Path, backend: TranscriptionBackend) -> list[Cue]:
    headers = {"Authorization": f"Bearer {backend.api_key}"} if backend.api_key else {}
    data: dict[str, Any] = {
        "model": backend.model,
        "response_format": "verbose_json",
        "timestamp_granularities[]": ["segment", "word"],
    }
    if backend.language:
        data["language"] = backend.language
    try:
        with wav.open("rb") as handle:
            response = httpx.post(
                backend.url.rstrip("/") + "/v1/audio/transcriptions",  # type: ignore[union-attr]
                data=data,
                files={"file": (wav.name, handle, "audio/wav")},
                headers=headers,
                timeout=backend.timeout,
            )
    except httpx.HTTPError as exc:
        raise ReelforgeError(
            ErrorCode.ENGINE_ERROR, f"the transcription server did not answer ({type(exc).__name__})"
        ) from None
    if response.status_code != 200:
        raise ReelforgeError(ErrorCode.ENGINE_ERROR, f"the transcription server answered {response.status_code}")
    try:
        return cues_from_verbose_json(response.json())
    except (ValueError, KeyError, TypeError):
        raise ReelforgeError(ErrorCode.ENGINE_ERROR, "the transcription server's answer is not verbose_json") from None


def cues_from_verbose_json(answer: dict[str, Any]) -> list[Cue]:
    """One cue per segment, with the words that fall inside it (OpenAI's `verbose_json`)."""
    words = [Word(float(w["start"]), float(w["end"]), str(w["word"]).strip()) for w in answer.get("words") or []]
    segments = answer.get("segments") or []
    if not segments:
        text = str(answer.get("text", "")).strip()
        end = max([w.end for w in words], default=0.0)
        return [Cue(0.0, max(end, 0.5), text, tuple(words))] if text else []
    cues = []
    for segment in segments:
        start, end, text = float(segment["start"]), float(segment["end"]), str(segment["text"]).strip()
        inside = tuple(w for w in words if start - 0.01 <= w.start < end)
        if text and end > start:
            cues.append(Cue(start, end, text, inside))
    return cues


def _sphinx(wav: Path) -> list[Cue]:
    try:
        from pocketsphinx import Decoder
    except ImportError:
        raise ReelforgeError(
            ErrorCode.ENGINE_ERROR, "offline transcription needs pocketsphinx (pip install pocketsphinx)"
        ) from None
    decoder = Decoder(samprate=SPHINX_RATE, loglevel="FATAL")
    with open(wav, "rb") as handle:
        handle.seek(44)  # the WAV header ffmpeg writes; the rest is 16-bit mono PCM
        pcm = handle.read()
    decoder.start_utt()
    decoder.process_raw(pcm, full_utt=True)
    decoder.end_utt()
    words = []
    for segment in decoder.seg():
        token = segment.word.split("(")[0]
        if token.startswith("<") or token.startswith("[") or token in ("", "<sil>"):
            continue
        words.append(
            Word(
                segment.start_frame / SPHINX_FRAMES_PER_SECOND,
                (segment.end_frame + 1) / SPHINX_FRAMES_PER_SECOND,
                token,
            )
        )
    return group_words(words)


def group_words(words: list[Word]) -> list[Cue]:
    """Words grouped into cues at pauses and every `MAX_WORDS_PER_CUE` words."""
    cues: list[Cue] = []
    current: list[Word] = []
    for word in words:
        if current and (len(current) >= MAX_WORDS_PER_CUE or word.start - current[-1].end > PAUSE):
            cues.append(Cue(current[0].start, current[-1].end, " ".join(w.text for w in current), tuple(current)))
            current = []
        current.append(word)
    if current:
        cues.append(Cue(current[0].start, current[-1].end, " ".join(w.text for w in current), tuple(current)))
    return cues
