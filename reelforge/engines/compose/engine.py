"""`ComposeEngine`: AVS Template JSON v1 -> MP4, rendered by ONE ffmpeg `filter_complex` graph.

No frame is ever decoded into Python: inputs are probed (`inputs.py`), the template is compiled into a
filtergraph script (`graph.py`), and the ffmpeg binary shipped in the imageio-ffmpeg wheel does the
decoding, compositing and encoding in one process (`runner.py`). That is why it runs at the speed of a
hand-written ffmpeg command (`python bench/compose.py`).

Output: H.264 (High, yuv420p; BT.709, or BT.601 when every video input is) + AAC 48 kHz stereo (always;
silent when the template has no sound) in MP4 with `+faststart`, exactly round(duration x fps) frames.
Size and fps come from the request (the API fills them from `quality.output_format`); `extra.quality`
picks the x264 preset, CRF and audio bitrate. Input metadata (GPS tags, titles) is not copied.

Settings (the model's table in `models.toml`, `ComposeEngine.Settings`), all optional:
`max_duration` (600 s), `max_blocks` (100), `max_input_bytes` (512 MiB, one input), `timeout`
(3600 s for one ffmpeg run), `threads` (0 = x264 decides), `fonts` ({} - family -> a font file tried first for
that family; the bundled Noto stack still covers every other script; see `fonts.py`).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
from pydantic import Field

from reelforge.domain.errors import invalid
from reelforge.domain.formats import DEFAULT_QUALITY, QUALITIES, QualityPreset
from reelforge.domain.request import GenerationRequest, Kind
from reelforge.domain.template import (
    MAX_BLOCKS,
    MAX_DURATION,
    MAX_INPUT_BYTES,
    CaptionsBlock,
    Template,
    TextBlock,
    check_timeline,
    parse_template,
    template_duration,
)
from reelforge.engines.base import (
    Artifact,
    EngineCapabilities,
    EngineSettings,
    RunContext,
    check_capabilities,
    parse_settings,
)
from reelforge.engines.compose.fonts import TextFont, text_font
from reelforge.engines.compose.graph import CompiledGraph, compile_graph
from reelforge.engines.compose.inputs import prepare_inputs
from reelforge.engines.compose.output import OutputOptions, encoder_args, output_options
from reelforge.engines.compose.runner import run_ffmpeg
from reelforge.engines.compose.speech import api_key, caption_cues, synthesize_voices
from reelforge.media.encode import fps_fraction, write_thumbnail
from reelforge.media.fonts import font_env
from reelforge.media.transcribe import TranscriptionBackend
from reelforge.media.voice import SpeechBackend

MIN_SIDE, MAX_SIDE = 16, 4096
MIN_FPS, MAX_FPS = 1, 60
_PREPARE_SHARE = 5.0  # progress while fetching and probing inputs
_RENDER_SHARE = 97.0  # progress when ffmpeg has finished; the thumbnail takes the rest


class ComposeSettings(EngineSettings):
    """`[models.<name>.settings]` of a compose model (and the creator's `compose` table)."""

    max_duration: float = Field(MAX_DURATION, gt=0)
    max_blocks: int = Field(MAX_BLOCKS, ge=1)
    max_input_bytes: int = Field(MAX_INPUT_BYTES, ge=1)
    timeout: float = Field(3600.0, gt=0)
    threads: int = Field(0, ge=0)
    voice_url: str | None = None
    """An OpenAI-compatible server for voice blocks (`/v1/audio/speech`); unset: espeak-ng, offline."""
    voice_model: str = "tts-1"
    voice_api_key_env: str | None = None
    """The environment variable holding the speech server's API key (the key itself is never in a file)."""
    transcribe_url: str | None = None
    """An OpenAI-compatible server for `transcribe` captions (`/v1/audio/transcriptions`, e.g. a whisper
    server); unset: PocketSphinx, offline, English."""
    transcribe_model: str = "whisper-1"
    transcribe_api_key_env: str | None = None
    fonts: dict[str, str] = Field(default_factory=dict)
    """Family -> a font file tried first for that family (the Noto stack still falls back; see `fonts.py`)."""


class ComposeEngine:
    """Templates of video, image, text and audio blocks on one timeline, rendered by one ffmpeg graph."""

    name = "compose"
    Settings = ComposeSettings
    capabilities = EngineCapabilities(
        kinds=frozenset({Kind.COMPOSE}),
        description=(
            "AVS Template JSON v1 (video, image, text, audio, captions and voice blocks on one timeline; fit, "
            "position, opacity, fades, transitions, Ken Burns, text style, volume) rendered to H.264 + AAC MP4 by "
            "one ffmpeg filter graph."
        ),
        who="the compose engine",
        min_side=MIN_SIDE,
        max_side=MAX_SIDE,
        even_sides=True,
        min_fps=MIN_FPS,
        max_fps=MAX_FPS,
    )

    def __init__(self, settings: ComposeSettings | Mapping[str, Any] | None = None) -> None:
        self.settings = parse_settings(ComposeSettings, settings)
        self.max_duration = self.settings.max_duration
        self.max_blocks = self.settings.max_blocks
        self.max_input_bytes = self.settings.max_input_bytes
        self.timeout = self.settings.timeout
        self.threads = self.settings.threads
        self.fonts = dict(self.settings.fonts)

    # ------------------------------------------------------------ validation

    def validate(self, request: GenerationRequest) -> None:
        """Request-level checks (before any credit is taken), each naming the field to change."""
        self._checked(request)

    def _checked(self, request: GenerationRequest) -> tuple[Template, OutputOptions]:
        check_capabilities(request, self.capabilities)
        if request.template is None:
            raise invalid("template is required: an AVS Template JSON v1 object", "/template")
        template = parse_template(request.template, prefix="/template")
        if len(template.blocks) > self.max_blocks:
            raise invalid(
                f"this model renders at most {self.max_blocks} blocks; the template has {len(template.blocks)}",
                "/template/blocks",
            )
        check_timeline(template, "/template", max_duration=self.max_duration)
        total = template_duration(template)
        options = output_options(request.extra, total)
        expected = options.length if options.length is not None else total - options.start
        if abs(request.duration - expected) > 1 / request.fps:
            what = "the range's length" if options.length is not None else "the template's length"
            raise invalid(
                f"duration must be {what}, {expected:g} s (the template ends at {total:g} s); got {request.duration:g}",
                "/duration",
            )
        quality = request.extra.get("quality", DEFAULT_QUALITY)
        if quality not in QUALITIES:
            raise invalid(f"quality must be one of {', '.join(QUALITIES)}, got {quality!r}", "/output/quality")
        return template, options

    # ------------------------------------------------------------ rendering

    def run(self, request: GenerationRequest, ctx: RunContext) -> Artifact:
        """Render `video.<mp4|webm|gif>`, `thumbnail.jpg` (and `poster.jpg` when asked) into `ctx.workdir`;
        scratch files are removed either way."""
        template, options = self._checked(request)
        ctx.raise_if_cancelled()
        quality = QUALITIES[request.extra.get("quality", DEFAULT_QUALITY)]
        video_path = ctx.workdir / f"video{options.suffix}"
        thumbnail_path = ctx.workdir / "thumbnail.jpg"
        partial = ctx.workdir / f".video{options.suffix}.partial"
        scratch = ctx.workdir / "compose-work"
        scratch.mkdir(parents=True, exist_ok=True)
        try:
            ctx.phase("preparing_assets")
            media = prepare_inputs(template, ctx, scratch, max_input_bytes=self.max_input_bytes)
            media.update(synthesize_voices(template, ctx, scratch, self._speech()))
            cues = caption_cues(template, ctx, media, scratch, self._transcriber())
            graph = compile_graph(
                template,
                media,
                width=request.width,
                height=request.height,
                fps=request.fps,
                font_for=self._font,
                window=(options.start, options.length),
                gif=options.format == "gif",
                cues=cues,
            )
            for name, text in graph.files.items():
                (scratch / name).write_text(text, "utf-8")
            (scratch / "graph.txt").write_text(graph.script, "utf-8")
            ctx.raise_if_cancelled()

            ctx.phase("rendering")
            run_ffmpeg(
                self.ffmpeg_args(graph, quality, partial, options),
                cwd=scratch,
                duration=graph.duration,
                ctx=ctx,
                progress=(_PREPARE_SHARE, _RENDER_SHARE),
                timeout=self.timeout,
                env=self._env(template),
            )
            os.replace(partial, video_path)
        finally:
            partial.unlink(missing_ok=True)
            shutil.rmtree(scratch, ignore_errors=True)
        grab_thumbnail(video_path, thumbnail_path, options.thumbnail_at(graph.duration))
        poster_path = None
        if options.poster is not None:
            poster_path = grab_thumbnail(video_path, ctx.workdir / "poster.jpg", options.poster, max_side=MAX_SIDE)
        ctx.progress(100.0)
        return Artifact(
            video_path=video_path,
            thumbnail_path=thumbnail_path,
            duration=float(Fraction(graph.frames) / fps_fraction(request.fps)),
            width=request.width,
            height=request.height,
            fps=request.fps,
            poster_path=poster_path,
        )

    def ffmpeg_args(
        self, graph: CompiledGraph, quality: QualityPreset, output: Path, options: OutputOptions | None = None
    ) -> list[str]:
        """Everything after `ffmpeg`: inputs, the graph script (`graph.txt` in the working directory), encoders."""
        options = options or OutputOptions()
        args = [*graph.input_args(), "-/filter_complex", "graph.txt", "-map", f"[{graph.video}]"]
        if graph.audio:
            args += ["-map", f"[{graph.audio}]"]
        args += ["-map_metadata", "-1", "-map_chapters", "-1"]
        if self.threads:
            args += ["-threads", str(self.threads)]
        return [*args, *encoder_args(options, quality, graph.colour), "-y", str(output)]

    def _font(self, block: TextBlock) -> TextFont:
        return text_font(block.font, block.bold, block.italic, self.fonts)

    def _env(self, template: Template) -> dict[str, str] | None:
        """ffmpeg's environment: with the font stack's fonts.conf when the template draws text or captions."""
        texts = [block for block in template.blocks if isinstance(block, TextBlock)]
        captions = [block for block in template.blocks if isinstance(block, CaptionsBlock)]
        if not texts and not captions:
            return None
        extra = {font.extra_dir for font in map(self._font, texts) if font.extra_dir is not None}
        extra |= {
            font.extra_dir
            for font in (text_font(block.font, extra=self.fonts) for block in captions)
            if font.extra_dir is not None
        }
        return font_env(sorted(extra))

    def _speech(self) -> SpeechBackend:
        return SpeechBackend(
            self.settings.voice_url, self.settings.voice_model, api_key(self.settings.voice_api_key_env)
        )

    def _transcriber(self) -> TranscriptionBackend:
        settings = self.settings
        return TranscriptionBackend(
            settings.transcribe_url, settings.transcribe_model, api_key(settings.transcribe_api_key_env)
        )


def grab_thumbnail(video: Path, target: Path, at: float, max_side: int = 640) -> Path:
    """A JPEG of the frame shown at `at` seconds, decoded from the finished video (with PyAV), its longer
    side at most `max_side`."""
    with av.open(str(video)) as container:
        stream = container.streams.video[0]
        chosen = None
        for frame in container.decode(stream):
            chosen = frame
            if frame.time is not None and frame.time >= at - 1e-6:
                break
        assert chosen is not None, "the render produced no frame"
        return write_thumbnail(chosen.to_ndarray(format="rgb24"), target, max_side=max_side)
