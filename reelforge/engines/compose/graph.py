"""Compile a template into ONE ffmpeg `filter_complex` graph: every pixel is composited inside ffmpeg.

The graph, from the bottom layer up:

- a black canvas of exactly N frames (N = round(duration x fps)) -- or, when the bottom visual layer
  is opaque, full-frame and lasts the whole video, that layer itself (no canvas, no blend: this is
  what a hand-written command would do);
- one layer per visual block, in template order. A layer is made at the output rate with exactly its
  block's frame count (`fps`, then `tpad` clone + `trim`, so a short or variable-frame-rate source
  still gives the right count), scaled and cropped once (stills are scaled once and then looped), given
  alpha only when it needs it (fades, opacity, transparent PNG), shifted to its start (`setpts`) and
  `overlay`-ed with `eof_action=pass`, so before and after its block the layers below show through;
- blocks joined by a `transition` are first merged into one stream with `xfade` (which needs equal
  sizes, so their elements are put on transparent full-frame canvases unless they already fill the
  frame); the merged stream takes the layer of its first block;
- text blocks are `ass` (libass) steps at their place in the layer order, one ASS script per block
  (`reelforge.media.ass`: user text is escaped, never parsed as markup or filter syntax); libass falls
  back through the font stack per glyph and shapes every script (`fonts.py`).

Audio: every audio block and every video block with sound (and volume > 0) is resampled to 48 kHz
stereo, trimmed to its block, faded, delayed to its start (`adelay`, in samples) and mixed with `amix`
(no normalisation: a block's `volume` means what it says) over a silent bed of exactly the video's
length. The output therefore always has an AAC track, silent when the template has no sound: some
players and editors mishandle MP4s without audio, and concatenating clips is simpler when all have one.

Numbers are snapped to the frame grid (start frame, frame count) before the graph is written, so the
output has exactly N frames and layers change on the frame nearest their `start`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction

from reelforge.domain.template import (
    ANCHORS,
    AudioBlock,
    CaptionsBlock,
    ImageBlock,
    Template,
    TextBlock,
    VideoBlock,
    VoiceBlock,
    parse_color,
    template_duration,
)
from reelforge.engines.compose.fonts import TextFont, wrap_text
from reelforge.engines.compose.inputs import MediaInfo
from reelforge.engines.compose.layout import Placement, even, place, visible_part
from reelforge.media import ass, captions
from reelforge.media.captions import Cue
from reelforge.media.encode import fps_fraction
from reelforge.media.fonts import ass_size, runs
from reelforge.media.text import measurer

SAMPLE_RATE = 48_000
REFERENCE_SIDE = 1080  # text sizes are pixels when the frame's shorter side is this long
TEXT_MARGIN = 0.05  # of the shorter side: keeps edge-anchored text off the frame's edge
KEN_BURNS_OVERSAMPLE = 2  # zoompan crops on whole pixels of its input: a 2x input halves the judder
KEN_BURNS_MAX_SIDE = 4096
INPUT_SLACK = 1.0  # seconds read past a block's end, so decoder delay never shortens a clip

UNTAGGED_MATRIX = "bt601"  # what ffmpeg (swscale) assumes for untagged YUV, and what ffmpeg-made clips use
COLOUR_TAGS = {"bt709": "bt709", "bt601": "smpte170m"}  # output matrix -> colorspace/primaries/trc tag

FontFor = Callable[[TextBlock], TextFont]


def output_matrix(template: Template, media: Mapping[int, MediaInfo]) -> str:
    """The output's YUV matrix: BT.601 when every video input is BT.601 or untagged, BT.709 otherwise.

    Following the videos means the per-frame work (the videos) passes through unconverted in the usual
    case of clips from one source, and only stills (converted once) and odd clips pay for a conversion.
    Untagged video is taken as ffmpeg takes it (BT.601), so its colours come out as ffmpeg shows them."""
    matrices = {
        media[i].matrix or UNTAGGED_MATRIX for i, block in enumerate(template.blocks) if isinstance(block, VideoBlock)
    }
    return "bt601" if matrices and matrices <= {"bt601"} else "bt709"


@dataclass
class CompiledGraph:
    """An ffmpeg invocation's inputs and graph; `files` are text files the script refers to by name."""

    inputs: list[list[str]]
    script: str
    files: dict[str, str]
    frames: int
    duration: float
    colour: str = "bt709"  # the output's matrix/primaries/transfer tag, for the encoder
    video: str = "vout"
    audio: str = "aout"  # "" when the output has no sound (GIF)

    def input_args(self) -> list[str]:
        return [arg for one in self.inputs for arg in one]


@dataclass
class _Layer:
    """A visual stream of `frames` frames (pts 0..frames-1) to be drawn from frame `start` on."""

    label: str
    start: int
    frames: int
    placement: Placement
    alpha: bool


def escape(value: str) -> str:
    """A filter option value safe in a filtergraph script: escaped for the option parser (`\\ ' :`) and
    again for the graph parser (`\\ ' [ ] , ;`), the two levels ffmpeg unescapes."""
    once = re.sub(r"([\\':])", r"\\\1", value)
    return re.sub(r"([\\'\[\],;])", r"\\\1", once)


def num(value: float | Fraction) -> str:
    """A number as ffmpeg reads it: plain decimal, no exponent, no trailing zeros."""
    text = f"{float(value):.6f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def compile_graph(
    template: Template,
    media: Mapping[int, MediaInfo],
    *,
    width: int,
    height: int,
    fps: float,
    font_for: FontFor,
    window: tuple[float, float | None] = (0.0, None),
    gif: bool = False,
    cues: Mapping[int, Sequence[Cue]] | None = None,
) -> CompiledGraph:
    """The ffmpeg inputs and filter_complex script that render `template` at `width` x `height`, `fps`;
    `window` (start, length or None) delivers only that part; `gif` ends in a palette instead of sound."""
    compiler = _Compiler(template, media, width, height, fps_fraction(fps), font_for)
    compiler.gif = gif
    compiler.cues = dict(cues or {})
    first = min(compiler.total - 1, compiler.frame(window[0]))
    last = compiler.total if window[1] is None else min(compiler.total, compiler.frame(window[0] + window[1]))
    compiler.window = (first, max(1, last - first))
    return compiler.compile()


class _Compiler:
    def __init__(
        self,
        template: Template,
        media: Mapping[int, MediaInfo],
        width: int,
        height: int,
        rate: Fraction,
        font_for: FontFor,
    ) -> None:
        self.template = template
        self.media = media
        self.width, self.height = width, height
        self.rate = rate
        self.font_for = font_for
        self.inputs: list[list[str]] = []
        self.lines: list[str] = []
        self.files: dict[str, str] = {}
        self.input_of: dict[int, int] = {}  # video block index -> its ffmpeg input
        self._labels = 0
        self.total = max(1, self.frame(template_duration(template)))
        self.matrix = output_matrix(template, media)
        self.window = (0, self.total)  # (first frame, frame count) delivered
        self.gif = False
        self.cues: dict[int, Sequence[Cue]] = {}  # captions block index -> its cues

    # ------------------------------------------------------------ basics

    def frame(self, seconds: float) -> int:
        return round(seconds * self.rate)

    def span(self, start: float, duration: float) -> tuple[int, int]:
        """(first frame, frame count) of a block, both on the output's frame grid; at least one frame."""
        first = self.frame(start)
        return first, max(1, self.frame(start + duration) - first)

    def label(self, stem: str) -> str:
        self._labels += 1
        return f"{stem}{self._labels}"

    def add_input(self, info: MediaInfo, options: list[str]) -> int:
        self.inputs.append([*options, "-protocol_whitelist", "file", "-f", info.demuxer, "-i", str(info.path)])
        return len(self.inputs) - 1

    @property
    def rate_text(self) -> str:
        return f"{self.rate.numerator}/{self.rate.denominator}"

    @property
    def time_base(self) -> str:
        return f"{self.rate.denominator}/{self.rate.numerator}"

    # ------------------------------------------------------------ the graph

    def compile(self) -> CompiledGraph:
        video = self.video()
        audio = self.audio()
        tag = COLOUR_TAGS[self.matrix]
        first, frames = self.window
        cut_video = cut_audio = ""
        if (first, frames) != (0, self.total):  # a range: the composited stream, trimmed at the end
            cut_video = f"trim=start_frame={first}:end_frame={first + frames},setpts=PTS-STARTPTS,"
            start, count = (round(Fraction(n) / self.rate * SAMPLE_RATE) for n in (first, frames))
            cut_audio = f"atrim=start_sample={start}:end_sample={start + count},asetpts=PTS-STARTPTS,"
        self.lines.append(
            f"[{video}]{cut_video}format=yuv420p,setparams=colorspace={tag}:color_primaries={tag}:color_trc={tag}:"
            "range=tv[vout]"
        )
        self.lines.append(
            f"[{audio}]{cut_audio}aformat=sample_fmts=fltp:sample_rates={SAMPLE_RATE}:channel_layouts=stereo[aout]"
        )
        video_out, audio_out = "vout", "aout"
        if self.gif:  # one palette for the whole clip, then dithered onto it; a GIF has no sound
            self.lines.append(
                "[vout]split[gifa][gifb];[gifa]palettegen=stats_mode=full[palette];"
                "[gifb][palette]paletteuse=dither=bayer:bayer_scale=3[gout];[aout]anullsink"
            )
            video_out, audio_out = "gout", ""
        return CompiledGraph(
            self.inputs,
            ";\n".join(self.lines) + "\n",
            self.files,
            frames,
            frames / float(self.rate),
            colour=tag,
            video=video_out,
            audio=audio_out,
        )

    def video(self) -> str:
        current: str | None = None
        for kind, indices in self._layer_order():
            if kind == "text":
                current = current or self.canvas()
                current = self.text(current, indices[0])
                continue
            if kind == "captions":
                current = current or self.canvas()
                current = self.captions(current, indices[0])
                continue
            layer = self.visual_layer(indices)
            full = (
                layer.placement.covers(self.width, self.height)
                and not layer.alpha
                and layer.start == 0
                and layer.frames >= self.total
            )
            if current is None and full:
                current = self.label("v")
                self.lines.append(f"[{layer.label}]trim=end_frame={self.total}[{current}]")
                continue
            current = self.overlay(current or self.canvas(), layer)
        return current or self.canvas()

    def _layer_order(self) -> list[tuple[str, list[int]]]:
        """Layers bottom-up: ("text", [i]) or ("visual", [i, j, ...]) where j.. transition from i."""
        order: list[tuple[str, list[int]]] = []
        last_visual: list[int] | None = None
        for index, block in enumerate(self.template.blocks):
            if isinstance(block, TextBlock):
                order.append(("text", [index]))
            elif isinstance(block, CaptionsBlock):
                order.append(("captions", [index]))
            elif isinstance(block, VideoBlock | ImageBlock):
                if block.transition is not None and last_visual is not None:
                    last_visual.append(index)
                else:
                    last_visual = [index]
                    order.append(("visual", last_visual))
        return order

    def canvas(self) -> str:
        label = self.label("canvas")
        # color's `d` stops before (N - 0.5) frames' time: exactly N frames, whatever the float rounding.
        seconds = (self.total - 0.5) / float(self.rate)
        self.lines.append(
            f"color=c=black:s={self.width}x{self.height}:r={self.rate_text}:d={num(seconds)},format=yuv420p[{label}]"
        )
        return label

    def overlay(self, below: str, layer: _Layer) -> str:
        shifted = layer.label
        if layer.start:
            shifted = self.label("at")
            self.lines.append(f"[{layer.label}]setpts=PTS+{layer.start}[{shifted}]")
        out = self.label("v")
        p = layer.placement
        self.lines.append(f"[{below}][{shifted}]overlay=x={p.x}:y={p.y}:eof_action=pass:repeatlast=0[{out}]")
        return out

    # ------------------------------------------------------------ visual layers

    def visual_layer(self, indices: list[int]) -> _Layer:
        layers = [self.element(index) for index in indices]
        if len(layers) == 1:
            return layers[0]
        alpha = any(layer.alpha or not layer.placement.covers(self.width, self.height) for layer in layers)
        streams = [self.full_frame(layer, alpha) for layer in layers]
        merged, end = streams[0], layers[0].start + layers[0].frames
        first = layers[0].start
        for index, layer, stream in zip(indices[1:], layers[1:], streams[1:], strict=True):
            block = self.template.blocks[index]
            assert isinstance(block, VideoBlock | ImageBlock) and block.transition is not None
            overlap = end - layer.start
            length = max(1, min(self.frame(block.transition.duration), overlap, layer.frames))
            out = self.label("xf")
            self.lines.append(
                f"[{merged}][{stream}]xfade=transition={block.transition.type.lower()}:"
                f"duration={num(Fraction(length) / self.rate)}:offset={num(Fraction(layer.start - first) / self.rate)}"
                f"[{out}]"
            )
            merged, end = out, layer.start + layer.frames
        full = Placement(self.width, self.height, self.width, self.height, 0, 0)
        return _Layer(merged, first, end - first, full, alpha)

    def full_frame(self, layer: _Layer, alpha: bool) -> str:
        """The layer on a frame-sized canvas (transparent around it when `alpha`), as xfade needs."""
        p = layer.placement
        fmt = "yuva420p" if alpha else "yuv420p"
        if p.covers(self.width, self.height):
            if alpha == layer.alpha:
                return layer.label
            out = self.label("ff")
            self.lines.append(f"[{layer.label}]format={fmt}[{out}]")
            return out
        out = self.label("ff")
        visible = visible_part(p, self.width, self.height)
        if visible is None:  # entirely off-frame: a transparent stand-in of the same length
            self.lines.append(
                f"color=c=black@0:s={self.width}x{self.height}:r={self.rate_text},format=yuva420p,"
                f"trim=end_frame={layer.frames}[{out}];[{layer.label}]nullsink"
            )
            return out
        left, top, w, h = visible
        crop = f"crop={w}:{h}:{left}:{top}:exact=1," if (w, h) != (p.width, p.height) else ""
        self.lines.append(
            f"[{layer.label}]{crop}format=yuva420p,pad={self.width}:{self.height}:{max(p.x, 0)}:"
            f"{max(p.y, 0)}:color=black@0[{out}]"
        )
        return out

    def element(self, index: int) -> _Layer:
        """One video or image block as a stream of its own frames, scaled, cropped, faded."""
        block = self.template.blocks[index]
        assert isinstance(block, VideoBlock | ImageBlock)
        info = self.media[index]
        start, frames = self.span(block.start, block.duration)
        placement = place(
            info.width,
            info.height,
            fit=block.fit,
            scale=block.scale,
            position=block.position,
            offset_x=block.offset.x,
            offset_y=block.offset.y,
            frame_width=self.width,
            frame_height=self.height,
        )
        alpha = info.has_alpha or block.opacity < 1 or block.fade_in > 0 or block.fade_out > 0
        fmt = "yuva420p" if alpha else "yuv420p"
        if isinstance(block, VideoBlock):
            options = ["-stream_loop", "-1"] if block.loop else []
            if block.trim:
                options += ["-ss", num(block.trim)]
            options += ["-t", num(block.duration + INPUT_SLACK)]
            k = self.input_of[index] = self.add_input(info, options)
            # fps first (fewer frames to scale from a fast source); tpad+trim: exactly `frames`, however short
            steps = [
                f"fps=fps={self.rate_text}:start_time=0",
                *self.fit(placement, info),
                f"format={fmt}",
                "tpad=stop=-1:stop_mode=clone",
                f"trim=end_frame={frames}",
                "setpts=N",
            ]
        elif block.ken_burns is not None:
            k = self.add_input(info, [])
            steps = self.ken_burns(block, info, placement, frames, fmt)
        else:
            k = self.add_input(info, [])
            # scaled once, then the one frame is repeated: no per-frame decode or scale of the still
            steps = [
                *self.fit(placement, info),
                f"format={fmt}",
                "loop=loop=-1:size=1",
                f"settb=expr={self.time_base}",
                "setpts=N",
                f"fps=fps={self.rate_text}",
                f"trim=end_frame={frames}",
            ]
        steps += self.alpha_effects(block, frames)
        label = self.label("el")
        self.lines.append(f"[{k}:v]" + ",".join(steps) + f"[{label}]")
        return _Layer(label, start, frames, placement, alpha)

    def fit(self, p: Placement, info: MediaInfo) -> list[str]:
        """Scale (and crop) to the placement, converting colour to the output's matrix and limited range
        where the source differs; stills always (once per still, so it costs nothing)."""
        colour = ""
        if info.kind == "image":
            colour = f":out_color_matrix={self.matrix}:out_range=tv"
        else:
            source = info.matrix or UNTAGGED_MATRIX
            if source != self.matrix:
                colour = f":in_color_matrix={source}:out_color_matrix={self.matrix}"
            if info.full_range:
                colour += ":out_range=tv"
        steps = [f"scale={p.scale_width}:{p.scale_height}{colour}", "setsar=1"]
        if p.cropped:
            steps.append(f"crop={p.width}:{p.height}:(iw-ow)/2:(ih-oh)/2")
        return steps

    def ken_burns(self, block: ImageBlock, info: MediaInfo, p: Placement, frames: int, fmt: str) -> list[str]:
        """zoompan over the (oversampled) fitted image: one input frame in, `frames` frames out."""
        kb = block.ken_burns
        assert kb is not None
        factor = max(1.0, min(KEN_BURNS_OVERSAMPLE, KEN_BURNS_MAX_SIDE / max(p.scale_width, p.scale_height)))
        big = Placement(
            even(p.scale_width * factor),
            even(p.scale_height * factor),
            even(p.width * factor),
            even(p.height * factor),
            p.x,
            p.y,
        )
        steps = max(1, frames - 1)
        progress = f"on/{steps}"
        zoom = f"{num(kb.zoom_start)}+({num(kb.zoom_end - kb.zoom_start)})*{progress}"
        fx = f"({num(kb.focus_start.x)}+({num(kb.focus_end.x - kb.focus_start.x)})*{progress})"
        fy = f"({num(kb.focus_start.y)}+({num(kb.focus_end.y - kb.focus_start.y)})*{progress})"
        x = f"clip({fx}*iw-iw/zoom/2,0,iw-iw/zoom)"
        y = f"clip({fy}*ih-ih/zoom/2,0,ih-ih/zoom)"
        zoompan = (
            f"zoompan=z={escape(zoom)}:x={escape(x)}:y={escape(y)}:d={frames}:s={p.width}x{p.height}:"
            f"fps={self.rate_text}"
        )
        return [*self.fit(big, info), f"format={fmt}", zoompan, f"trim=end_frame={frames}", "setpts=N"]

    def alpha_effects(self, block: VideoBlock | ImageBlock, frames: int) -> list[str]:
        steps = []
        if block.fade_in > 0:
            steps.append(f"fade=t=in:s=0:n={max(1, self.frame(block.fade_in))}:alpha=1")
        if block.fade_out > 0:
            count = max(1, self.frame(block.fade_out))
            steps.append(f"fade=t=out:s={max(0, frames - count)}:n={count}:alpha=1")
        if block.opacity < 1:
            steps.append(f"lut=a=val*{num(block.opacity)}")
        return steps

    # ------------------------------------------------------------ text

    def text(self, below: str, index: int) -> str:
        """A text block as one libass event, drawn by an `ass` filter at its place in the layer order."""
        block = self.template.blocks[index]
        assert isinstance(block, TextBlock)
        start, frames = self.span(block.start, block.duration)
        unit = min(self.width, self.height) / REFERENCE_SIDE
        size = max(4, round(block.font_size * unit))
        padding = round(block.background_padding * unit) if block.background else 0
        outline = 0 if block.background else round(block.outline_width * unit)
        font = self.font_for(block)
        measure = measurer(font.faces, size)
        room = block.max_width * self.width - 2 * (padding + outline)
        lines = wrap_text(block.text, measure, max(size, room)).split("\n")

        margin = round(TEXT_MARGIN * min(self.width, self.height)) + padding + outline
        anchor_x, anchor_y = ANCHORS[block.position]
        align_x = {"left": 0.0, "center": 0.5, "right": 1.0}[block.align]
        x = margin + (self.width - 2 * margin) * anchor_x + block.offset.x * self.width
        y = margin + (self.height - 2 * margin) * anchor_y + block.offset.y * self.height
        if align_x != anchor_x:  # libass justifies lines to its anchor: move the anchor to the aligned edge
            widest = max(measure(line) for line in lines)
            x += (align_x - anchor_x) * widest
        style = ass.Style(
            font=font.family,
            size=ass_size(font.head, size),
            primary=ass.colour(parse_color(block.color), block.opacity),
            outline_colour=ass.colour(parse_color(block.background or block.outline_color), block.opacity),
            back="&HFF000000",
            bold=block.bold,
            italic=block.italic,
            border_style=3 if block.background else 1,
            outline=padding if block.background else outline,
            alignment=ass.alignment(align_x, anchor_y),
        )
        half = Fraction(1, 2) / self.rate
        first, last = start / self.rate - half, (start + frames) / self.rate - half
        tags = f"\\an{style.alignment}\\pos({num(x)},{num(y)})"
        if block.fade_in > 0 or block.fade_out > 0:
            tags += f"\\fad({round(block.fade_in * 1000)},{round(block.fade_out * 1000)})"
        text = "\\N".join(self.sized_runs(line, font, size) for line in lines)
        event = ass.Event(max(0.0, float(first)), float(last), "{" + tags + "}" + text)
        name = f"text{index}.ass"
        self.files[name] = ass.script(self.width, self.height, [style], [event])
        out = self.label("v")
        self.lines.append(f"[{below}]ass=filename={escape(name)}:shaping=complex[{out}]")
        return out

    def captions(self, below: str, index: int) -> str:
        """A captions block: its cues as libass events (plain, boxed or active-word highlight)."""
        block = self.template.blocks[index]
        assert isinstance(block, CaptionsBlock)
        unit = min(self.width, self.height) / REFERENCE_SIDE
        size = max(4, round(block.font_size * unit))
        boxed = block.style == "boxed"
        padding = round(0.25 * size) if boxed else 0
        outline = 0 if boxed else max(1, round(size / 16))
        font = self.font_for(TextBlock(type="text", start=0, duration=1, text="x", font=block.font))
        measure = measurer(font.faces, size)
        room = max(size, block.max_width * self.width - 2 * (padding + outline))
        margin = round(TEXT_MARGIN * min(self.width, self.height)) + padding + outline
        anchor_x, anchor_y = ANCHORS[block.position]
        style = ass.Style(
            font=font.family,
            size=ass_size(font.head, size),
            primary=ass.colour(parse_color(block.color)),
            outline_colour=ass.colour(parse_color(block.background if boxed else "#000000")),
            back="&HFF000000",
            border_style=3 if boxed else 1,
            outline=padding if boxed else outline,
            alignment=ass.alignment(anchor_x, anchor_y),
        )
        caption_style = captions.CaptionStyle(
            block.style,
            style,
            ass.colour(parse_color(block.highlight_color)),
            margin + (self.width - 2 * margin) * anchor_x + block.offset.x * self.width,
            margin + (self.height - 2 * margin) * anchor_y + block.offset.y * self.height,
        )
        half = float(Fraction(1, 2) / self.rate)
        wrapped = [
            captions.Cue(c.start, c.end, wrap_text(c.text, measure, room), c.words) for c in self.cues.get(index, [])
        ]
        events = captions.events(
            wrapped,
            caption_style,
            offset=block.start - half,
            until=block.end - half,
            line=lambda text: self.sized_runs(text, font, size),
        )
        name = f"captions{index}.ass"
        self.files[name] = ass.script(self.width, self.height, [style], events)
        out = self.label("v")
        self.lines.append(f"[{below}]ass=filename={escape(name)}:shaping=complex[{out}]")
        return out

    @staticmethod
    def sized_runs(line: str, font: TextFont, size: int) -> str:
        """One line as ASS text, each run in another face of the stack given its own `\\fs`.

        libass sizes every face by its own ascender-to-descender height, which for Arabic, Devanagari
        or Thai faces (tall marks) would draw their glyphs a third smaller than the Latin beside them;
        a per-run size gives every script the same em."""
        head = ass_size(font.head, size)
        parts: list[str] = []
        for piece, face in runs(line, font.faces):
            own = ass_size(face, size) if face != font.head and not piece.isspace() else head
            tag = f"{{\\fs{own:.2f}}}" if abs(own - head) > 0.01 else (f"{{\\fs{head:.2f}}}" if parts else "")
            parts.append(tag + ass.escape_text(piece))
        return "".join(parts)

    # ------------------------------------------------------------ audio

    def audio(self) -> str:
        total_samples = round(self.total / self.rate * SAMPLE_RATE)
        bed = self.label("bed")
        self.lines.append(f"anullsrc=r={SAMPLE_RATE}:cl=stereo,atrim=end_sample={total_samples}[{bed}]")
        sounds = [self.sound(index) for index in range(len(self.template.blocks))]
        sounds = [s for s in sounds if s is not None]
        if not sounds:
            return bed
        mixed = self.label("mix")
        inputs = "".join(f"[{s}]" for s in (bed, *sounds))
        self.lines.append(
            f"{inputs}amix=inputs={len(sounds) + 1}:duration=first:dropout_transition=0:"
            f"normalize=0,atrim=end_sample={total_samples}[{mixed}]"
        )
        return mixed

    def sound(self, index: int) -> str | None:
        """One block's sound, trimmed, faded and delayed to its start; None when it has none."""
        block = self.template.blocks[index]
        tempo: list[str] = []
        if isinstance(block, VoiceBlock):  # speech longer than its block is sped up to fit (at most 2x)
            k = self.add_input(self.media[index], [])
            spoken = self.media[index].duration or 0.0
            if spoken > block.duration * 1.01:
                tempo = [f"atempo={num(min(2.0, spoken / block.duration))}"]
        elif isinstance(block, AudioBlock):
            options = ["-stream_loop", "-1"] if block.loop else []
            if block.trim:
                options += ["-ss", num(block.trim)]
            options += ["-t", num(block.duration + INPUT_SLACK)]
            k = self.add_input(self.media[index], options)
        elif isinstance(block, VideoBlock) and self.media[index].has_audio and block.volume > 0:
            k = self.input_of[index]  # the picture's input (added by `element`, which runs first)
        else:
            return None
        start, frames = self.span(block.start, block.duration)
        first = round(start / self.rate * SAMPLE_RATE)
        count = round(frames / self.rate * SAMPLE_RATE)
        steps = [
            f"[{k}:a]aresample={SAMPLE_RATE}:async=1:first_pts=0",
            "aformat=sample_fmts=fltp:channel_layouts=stereo",
            *tempo,
            f"atrim=end_sample={count}",
        ]
        if block.volume != 1:
            steps.append(f"volume={num(block.volume)}")
        if block.fade_in > 0:
            steps.append(f"afade=t=in:ss=0:ns={max(1, round(block.fade_in * SAMPLE_RATE))}")
        if block.fade_out > 0:
            fade = min(count, max(1, round(block.fade_out * SAMPLE_RATE)))
            steps.append(f"afade=t=out:ss={count - fade}:ns={fade}")
        if first:
            steps.append(f"adelay=delays={first}S:all=1")
        label = self.label("snd")
        self.lines.append(",".join(steps) + f"[{label}]")
        return label


def ffmpeg_color(value: str) -> str:
    """A CSS colour as ffmpeg's `0xRRGGBB@alpha`."""
    r, g, b, a = parse_color(value)
    return f"0x{r:02X}{g:02X}{b:02X}@{num(a / 255)}"
