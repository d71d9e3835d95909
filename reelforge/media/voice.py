"""Text to speech for voice blocks: an OpenAI-compatible `/v1/audio/speech` endpoint, or espeak-ng offline.

`espeak-ng` (a Debian package, `scripts/system-packages.txt`) speaks about a hundred languages with no
model download and no network, which is what a self-hosted server can always offer; an operator who
wants natural voices points `voice_url` at any server that speaks OpenAI's speech contract (OpenAI,
or a local Kokoro/Piper server) and the same block uses it. Either way the result is a WAV file.

A voice block without a `duration` lasts `reelforge.domain.template.estimate_speech_seconds`; the engine
fits the speech into its block (`atempo` when it runs longer, silence when shorter), so the timeline is
fixed before any speech exists.
"""

from __future__ import annotations

import shutil
import subprocess
import wave
from dataclasses import dataclass
from pathlib import Path

import httpx

from reelforge.domain.errors import ErrorCode, ReelforgeError

ESPEAK_TIMEOUT = 60.0


@dataclass(frozen=True)
class SpeechBackend:
    """Where speech comes from: `url` None means espeak-ng; otherwise an OpenAI-compatible server."""

    url: str | None = None
    model: str = "tts-1"
    api_key: str | None = None
    timeout: float = 120.0


def synthesize(text: str, voice: str, target: Path, backend: SpeechBackend, speed: float = 1.0) -> Path:
    """Speak `text` with `voice` into the WAV file `target`."""
    if backend.url is None:
        return _espeak(text, voice, target, speed)
    headers = {"Authorization": f"Bearer {backend.api_key}"} if backend.api_key else {}
    body = {"model": backend.model, "input": text, "voice": voice, "response_format": "wav", "speed": speed}
    try:
        response = httpx.post(
            backend.url.rstrip("/") + "/v1/audio/speech", json=body, headers=headers, timeout=backend.timeout
        )
    except httpx.HTTPError as exc:
        raise ReelforgeError(
            ErrorCode.ENGINE_ERROR, f"the speech server did not answer ({type(exc).__name__})"
        ) from None
    if response.status_code != 200:
        raise ReelforgeError(ErrorCode.ENGINE_ERROR, f"the speech server answered {response.status_code}")
    target.write_bytes(response.content)
    return target


def _espeak(text: str, voice: str, target: Path, speed: float) -> Path:
    binary = shutil.which("espeak-ng")
    if binary is None:
        raise ReelforgeError(
            ErrorCode.ENGINE_ERROR,
            "voice blocks need espeak-ng (scripts/install-system-packages) or the engine setting voice_url",
        )
    words_per_minute = str(max(80, min(450, round(175 * speed))))
    try:
        done = subprocess.run(  # text on stdin: never parsed as options
            [binary, "-v", voice, "-s", words_per_minute, "-w", str(target), "--stdin"],
            input=text.encode("utf-8"),
            capture_output=True,
            timeout=ESPEAK_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise ReelforgeError(ErrorCode.ENGINE_ERROR, "espeak-ng took too long") from None
    if done.returncode != 0 or not target.is_file():
        reason = done.stderr.decode("utf-8", "replace").strip()[:200] or f"exit {done.returncode}"
        raise ReelforgeError(ErrorCode.ENGINE_ERROR, f"espeak-ng failed for voice {voice!r}: {reason}")
    return target


def wav_seconds(path: Path) -> float:
    """The length of a WAV file (espeak-ng and the speech servers' `wav` answer)."""
    with wave.open(str(path), "rb") as audio:
        return audio.getnframes() / float(audio.getframerate())
