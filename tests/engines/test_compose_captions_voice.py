"""Captions and voice blocks, end to end with the real ffmpeg, offline: cues inline, from SRT and WebVTT and
transcribed (PocketSphinx, and an OpenAI-compatible server played by a local one), the three styles,
espeak-ng voices (and an OpenAI-compatible speech server), and the issue's "done": Chinese titles, an
Arabic caption track, a synthesized voice-over and music to MP4, WebM and GIF. Small frames, short clips."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest

from reelforge.domain.errors import ReelforgeError
from reelforge.domain.request import GenerationRequest, Kind
from reelforge.domain.template import parse_template, template_duration
from reelforge.engines.compose import ComposeEngine
from reelforge.media.captions import parse_subtitles
from reelforge.media.transcribe import TranscriptionBackend, cues_from_verbose_json, transcribe
from reelforge.media.voice import SpeechBackend, synthesize, wav_seconds
from tests.engines import media_factory as mf
from tests.engines.fake_context import FakeContext
from tests.engines.test_compose_outputs import probe_streams
from tests.helpers import LocalHTTPServer, ffmpeg_exe

W, H, FPS = 192, 108, 10
ARABIC_SRT = (
    "1\n00:00:00,000 --> 00:00:01,000\nمرحبا بالعالم\n\n"  # noqa: RUF001
    "2\n00:00:01,000 --> 00:00:02,000\nشكرا لكم\n"  # noqa: RUF001
)
VTT = (
    "WEBVTT\n\nNOTE ignored\n\n00:00.000 --> 00:01.000 align:start\n<i>first</i> cue\n\n"
    "00:01.000 --> 00:02.000\nsecond\n"
)


def render(tmp_path: Path, blocks: list[dict[str, Any]], inputs: dict[str, bytes] | None = None, **extra: Any):  # type: ignore[no-untyped-def]
    template = {"version": "1", "blocks": blocks}
    request = GenerationRequest(
        kind=Kind.COMPOSE,
        template=template,
        width=W,
        height=H,
        fps=FPS,
        duration=extra.pop("duration", None) or template_duration(parse_template(template)),
        extra={"quality": "draft", **extra},
    )
    settings = extra.pop("settings", None)
    return ComposeEngine(settings).run(request, FakeContext(tmp_path / "work", inputs or {}))


def _frames(path: Path) -> list[np.ndarray]:
    return mf.frames(path)


def _changed(a: np.ndarray, b: np.ndarray) -> int:
    return int((np.abs(a.astype(int) - b.astype(int)).max(axis=2) > 60).sum())


# ------------------------------------------------------------------ subtitle files and cues


def test_srt_and_vtt_parse() -> None:
    srt = parse_subtitles(ARABIC_SRT)
    assert [(c.start, c.end, c.text) for c in srt] == [(0, 1, "مرحبا بالعالم"), (1, 2, "شكرا لكم")]
    vtt = parse_subtitles(VTT)
    assert [(c.start, c.end, c.text) for c in vtt] == [(0, 1, "first cue"), (1, 2, "second")]
    with pytest.raises(ValueError, match="line 2"):
        parse_subtitles("1\n00:00:02,000 --> 00:00:01,000\nbackwards\n")


@pytest.mark.parametrize(
    ("block", "field"),
    [
        ({"type": "captions", "start": 0, "duration": 1}, "/template/blocks/0"),  # no origin
        ({"type": "captions", "start": 0, "duration": 1, "cues": [{"start": 1, "end": 0.5, "text": "x"}]}, None),
        ({"type": "captions", "start": 0, "duration": 1, "transcribe": 5}, "/template/blocks/0/transcribe"),
        ({"type": "captions", "start": 0, "duration": 1, "cues": [], "style": "neon"}, "/template/blocks/0/style"),
        ({"type": "voice", "start": 0, "text": "hi", "voice": "en; rm -rf"}, "/template/blocks/0/voice"),
    ],
)
def test_bad_captions_and_voice_blocks_name_the_field(block: dict[str, Any], field: str | None) -> None:
    with pytest.raises(ReelforgeError) as caught:
        parse_template({"version": "1", "blocks": [block]})
    if field is not None:
        assert caught.value.field == field, caught.value.message


@pytest.mark.parametrize("style", ["plain", "boxed", "highlight"])
def test_caption_styles_burn_in_where_and_when(tmp_path: Path, style: str) -> None:
    cues = [{"start": 0, "end": 1, "text": "one two three"}, {"start": 1, "end": 2, "text": "four five six"}]
    base = {"type": "image", "start": 0, "duration": 2, "source": {"ref": "blue"}}
    captioned = {"type": "captions", "start": 0, "duration": 2, "cues": cues, "style": style, "fontSize": 150}
    inputs = {"blue": mf.png(32, 18, "blue")}
    with_captions = _frames(render(tmp_path / "a", [base, captioned], inputs).video_path)
    without = _frames(render(tmp_path / "b", [base], inputs).video_path)
    rows = np.nonzero(np.abs(with_captions[5].astype(int) - without[5].astype(int)).max(axis=(1, 2)) > 60)[0]
    assert rows.size and rows.min() > H // 2, "captions sit at the bottom"
    assert _changed(with_captions[5], with_captions[15]) > 20  # another cue at 1.5 s
    if style == "highlight":  # the lit word moves within a cue: yellow in a different place
        yellow = [np.all(np.abs(f.astype(int) - (255, 212, 0)) < 90, axis=2) for f in with_captions[:10]]
        assert yellow[1].sum() > 3 and _changed(with_captions[1], with_captions[8]) > 5
        assert np.argmax(yellow[1].sum(axis=0)) < np.argmax(yellow[8].sum(axis=0))  # moves right word by word
    if style == "boxed":
        dark = with_captions[5][rows.min() : rows.max() + 1].mean()
        assert dark < without[5][rows.min() : rows.max() + 1].mean()  # the box darkens what is behind


# ------------------------------------------------------------------ voice


def test_espeak_voice_block_is_placed_and_its_length_known(tmp_path: Path) -> None:
    text = "Welcome to the show. This is a short voice over."
    template = parse_template({"version": "1", "blocks": [{"type": "voice", "start": 0.5, "text": text}]})
    estimated = template.blocks[0].duration
    assert 1.5 < estimated < 6  # known before any speech exists
    artifact = render(tmp_path, [{"type": "voice", "start": 0.5, "text": text}])
    with av.open(str(artifact.video_path)) as container:
        samples = np.concatenate([f.to_ndarray()[0] for f in container.decode(audio=0)])
    rate = 48000
    assert abs(artifact.duration - (0.5 + estimated)) < 0.11
    assert np.abs(samples[: int(0.45 * rate)]).max() < 1e-3  # silent before its start
    assert np.abs(samples[int(0.6 * rate) :]).max() > 0.05  # speech after


def test_an_openai_compatible_speech_server(tmp_path: Path) -> None:
    wav = tmp_path / "tone.wav"
    mf.sine_wav(wav, 1.0)
    server = LocalHTTPServer(lambda method, path, headers, body: (200, {"content-type": "audio/wav"}, wav.read_bytes()))
    try:
        out = synthesize("hello", "alloy", tmp_path / "out.wav", SpeechBackend(server.url, "tts-1", "sk-test"))
    finally:
        server.close()
    assert abs(wav_seconds(out) - 1.0) < 0.01
    request = server.requests[0]
    assert request["path"] == "/v1/audio/speech" and request["headers"]["authorization"] == "Bearer sk-test"
    assert json.loads(request["body"]) == {
        "model": "tts-1",
        "input": "hello",
        "voice": "alloy",
        "response_format": "wav",
        "speed": 1.0,
    }


# ------------------------------------------------------------------ transcription


def test_pocketsphinx_transcribes_offline_with_word_times(tmp_path: Path) -> None:
    speech = tmp_path / "speech.wav"
    subprocess.run(["espeak-ng", "-v", "en", "-w", str(speech), "hello world this is a test"], check=True)
    cues = transcribe(speech, TranscriptionBackend(), ffmpeg_exe())
    assert cues and all(c.end > c.start for c in cues)
    words = [w for c in cues for w in c.words]
    assert len(words) >= 3 and words == sorted(words, key=lambda w: w.start)
    assert words[-1].end <= wav_seconds(speech) + 0.1


def test_an_openai_compatible_transcription_server_end_to_end(tmp_path: Path) -> None:
    """A voice block transcribed by a local server speaking the /v1/audio/transcriptions contract; its
    cues (Arabic text, word times) are burned in where the server said."""
    answer = {
        "text": "مرحبا بالعالم",
        "segments": [{"start": 0.0, "end": 1.0, "text": "مرحبا بالعالم"}],
        "words": [{"start": 0.0, "end": 0.5, "word": "مرحبا"}, {"start": 0.5, "end": 1.0, "word": "بالعالم"}],
    }
    server = LocalHTTPServer(lambda *_: (200, {"content-type": "application/json"}, json.dumps(answer).encode()))
    try:
        blocks = [
            {"type": "voice", "id": "vo", "start": 0, "duration": 2, "text": "hello there"},
            {"type": "captions", "start": 0, "duration": 2, "transcribe": "vo", "language": "ar", "fontSize": 160},
        ]
        artifact = render(tmp_path, blocks, settings={"transcribe_url": server.url})
    finally:
        server.close()
    request = server.requests[0]
    assert request["path"] == "/v1/audio/transcriptions" and b'name="file"' in request["body"]
    assert b"verbose_json" in request["body"] and b'name="language"\r\n\r\nar' in request["body"]
    frames = _frames(artifact.video_path)
    assert (frames[5].max(axis=2) > 200).sum() > 30  # the cue shows in the first second
    assert (frames[15].max(axis=2) > 200).sum() < 5  # and is gone after it
    assert cues_from_verbose_json(answer)[0].words[1].text == "بالعالم"


# ------------------------------------------------------------------ the "done"


@pytest.mark.parametrize("fmt", ["mp4", "webm", "gif"])
def test_chinese_titles_arabic_captions_voice_over_and_music(tmp_path: Path, fmt: str) -> None:
    blocks = [
        {"type": "image", "start": 0, "duration": 2, "source": {"ref": "bg"}},
        {"type": "text", "start": 0, "duration": 2, "text": "你好，世界", "position": "top", "fontSize": 160},  # noqa: RUF001
        {"type": "captions", "start": 0, "duration": 2, "source": {"ref": "ar.srt"}, "fontSize": 120},
        {"type": "voice", "start": 0, "duration": 2, "text": "Hello and welcome", "volume": 1},
        {"type": "audio", "start": 0, "duration": 2, "source": {"ref": "music"}, "volume": 0.3},
    ]
    inputs = {
        "bg": mf.png(32, 18, "blue"),
        "ar.srt": ARABIC_SRT.encode(),
        "music": mf.sine_wav(tmp_path / "music.wav", 2.0).read_bytes(),
    }
    artifact = render(tmp_path, blocks, inputs, format=fmt)
    info = probe_streams(artifact.video_path)
    assert info["frames"] == 20 and info["size"] == (W, H)
    assert info["audio"] == {"mp4": "aac", "webm": "opus", "gif": None}[fmt]
    frames = _frames(artifact.video_path)
    top, bottom = frames[5][: H // 3], frames[5][2 * H // 3 :]
    assert (top.max(axis=2) > 180).sum() > 30, "the Chinese title"
    assert (bottom.max(axis=2) > 180).sum() > 30, "the Arabic caption"
    assert _changed(frames[5][2 * H // 3 :], frames[15][2 * H // 3 :]) > 20, "the second cue"
    if fmt != "gif":
        with av.open(str(artifact.video_path)) as container:
            samples = np.concatenate([f.to_ndarray()[0] for f in container.decode(audio=0)])
        assert np.abs(samples).max() > 0.1  # voice and music
