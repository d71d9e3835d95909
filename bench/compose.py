"""Benchmark the compose engine against a hand-written ffmpeg command and against MoviePy 2.

    python bench/compose.py [--repeat 3] [--moviepy-repeat 1] [--keep DIR]

One 10 s 1280x720 30 fps composition -- a video clip cross-fading (1 s) into a Ken Burns image, a
caption fading in and out, a music track fading out -- rendered three ways in the same run, on the same
inputs, with the same encoder settings (libx264 veryfast CRF 23, AAC 128k, +faststart):

(a) `ComposeEngine.run` on the AVS template (input probing, graph compilation, ffmpeg, thumbnail);
(b) the ffmpeg command an expert would write by hand for that one video;
(c) MoviePy 2 (`pip install "moviepy>=2,<3"`; a bench-only dependency), compositing frames in Python.

Each figure is the best of `--repeat` runs (the least disturbed by other processes). Targets: (a)
within 1.1x of (b), and (c) at least 5x slower than (a).

A second composition exercises the issue-16 blocks: the same clip under a `captions` block (four boxed
cues, burned with libass) and a `voice` block (espeak-ng) over the music, against the same work written by
hand (espeak-ng to a WAV, an ASS file, one ffmpeg command with `ass`, `adelay` and `amix`) in the same run.
"""

from __future__ import annotations

import argparse
import io
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the checkout this file is in, installed or not

from reelforge.domain.request import GenerationRequest, Kind
from reelforge.engines.base import TaskCancelled
from reelforge.engines.compose import ComposeEngine, output_format, parse_template, template_duration
from reelforge.engines.compose.fonts import font_path
from reelforge.engines.compose.runner import ffmpeg_exe
from reelforge.media.probe import probe

WIDTH, HEIGHT, FPS = 1280, 720, 30
SECONDS = 10.0
CLIP_SECONDS, IMAGE_START, FADE = 6.0, 5.0, 1.0
ZOOM_END = 1.3
CAPTION = "reelforge compose: one ffmpeg graph"
CAPTION_START, CAPTION_SECONDS, CAPTION_FADE = 1.0, 7.0, 1.0
MUSIC_FADE = 2.0
FONT_SIZE_1080 = 72  # template units: pixels at 1080p -> 48 px at 720p


class _Context:
    """The smallest RunContext: inputs from a dict, progress ignored, never cancelled."""

    def __init__(self, workdir: Path, inputs: dict[str, bytes]) -> None:
        self.task_id = "bench"
        self.workdir = workdir
        self.inputs = inputs

    def progress(self, percent: float) -> None:
        pass

    def phase(self, name: str) -> None:
        pass

    def cancelled(self) -> bool:
        return False

    def raise_if_cancelled(self) -> None:
        if self.cancelled():
            raise TaskCancelled()

    def read_input(self, source: str) -> bytes:
        return self.inputs[source]


# ------------------------------------------------------------------ inputs


HAND_ENCODE = (
    *("-map", "[v]", "-map", "[a]"),
    *("-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-pix_fmt", "yuv420p"),
    *("-c:a", "aac", "-b:a", "128k", "-movflags", "+faststart"),
)
"""The output options both hand-written baselines share (the same codec settings in each command)."""


def make_inputs(directory: Path) -> dict[str, Path]:
    clip = directory / "clip.mp4"
    subprocess.run(
        [
            ffmpeg_exe(),
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            f"testsrc2=s={WIDTH}x{HEIGHT}:r={FPS}:d={CLIP_SECONDS + 1}",
            "-c:v",
            "libx264",
            "-preset",
            "veryfast",
            "-pix_fmt",
            "yuv420p",
            str(clip),
        ],
        check=True,
    )
    photo = directory / "photo.jpg"
    y, x = np.mgrid[0:1280, 0:1920]
    pixels = np.stack([(x * 255 // 1919), (y * 255 // 1279), ((x + y) % 256)], axis=-1).astype(np.uint8)
    pixels[::64, :] = 255
    pixels[:, ::64] = 255
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", quality=90)
    photo.write_bytes(buffer.getvalue())
    music = directory / "music.wav"
    subprocess.run(
        [
            ffmpeg_exe(),
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            f"sine=frequency=330:sample_rate=44100:duration={SECONDS}",
            "-ac",
            "2",
            str(music),
        ],
        check=True,
    )
    return {"clip": clip, "photo": photo, "music": music}


def template() -> dict:
    return {
        "version": "1",
        "name": "bench",
        "blocks": [
            {
                "type": "video",
                "start": 0,
                "duration": CLIP_SECONDS,
                "source": {"ref": "clip", "uploadName": "clip.mp4"},
            },
            {
                "type": "image",
                "start": IMAGE_START,
                "duration": SECONDS - IMAGE_START,
                "source": {"ref": "photo", "uploadName": "photo.jpg"},
                "kenBurns": {"zoomStart": 1.0, "zoomEnd": ZOOM_END},
                "transition": {"type": "fade", "duration": FADE},
            },
            {
                "type": "text",
                "start": CAPTION_START,
                "duration": CAPTION_SECONDS,
                "text": CAPTION,
                "fontSize": FONT_SIZE_1080,
                "position": "bottom",
                "fadeIn": CAPTION_FADE,
                "fadeOut": CAPTION_FADE,
            },
            {
                "type": "audio",
                "start": 0,
                "duration": SECONDS,
                "source": {"ref": "music", "uploadName": "music.wav"},
                "fadeOut": MUSIC_FADE,
            },
        ],
    }


VOICE_TEXT = "Welcome to reelforge. One template, every script, captions and a voice."
CUES = [
    (0.0, 2.5, "Welcome to reelforge"),
    (2.5, 5.0, "One template, every script"),
    (5.0, 7.5, "字幕 · ترجمة · субтитры"),
    (7.5, 10.0, "captions and a voice"),
]
CUE_SIZE_1080 = 64


def captioned_template() -> dict:
    return {
        "version": "1",
        "name": "bench-captions",
        "blocks": [
            {"type": "video", "start": 0, "duration": SECONDS, "source": {"ref": "clip"}, "loop": True},
            {
                "type": "captions",
                "start": 0,
                "duration": SECONDS,
                "cues": [{"start": a, "end": b, "text": t} for a, b, t in CUES],
                "fontSize": CUE_SIZE_1080,
            },
            {"type": "voice", "start": 0.5, "duration": 6.0, "text": VOICE_TEXT},
            {"type": "audio", "start": 0, "duration": SECONDS, "source": {"ref": "music"}, "volume": 0.3},
        ],
    }


def run_engine_captioned(inputs: dict[str, Path], out: Path) -> Path:
    data = captioned_template()
    fmt = output_format("16:9", "web")
    request = GenerationRequest(
        kind=Kind.COMPOSE,
        template=data,
        width=fmt.width,
        height=fmt.height,
        fps=fmt.fps,
        duration=SECONDS,
        extra={"quality": "web", "aspectRatio": "16:9"},
    )
    workdir = out.parent / "engine-captions-work"
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    artifact = ComposeEngine({}).run(request, _Context(workdir, {k: p.read_bytes() for k, p in inputs.items()}))
    shutil.move(artifact.video_path, out)
    return out


def run_handwritten_captioned(inputs: dict[str, Path], out: Path) -> Path:
    """The same by hand: espeak-ng to a WAV, an ASS script for the cues, one ffmpeg command."""
    from reelforge.media.fonts import font_env

    work = out.parent / "hand-captions-work"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    voice = work / "voice.wav"
    subprocess.run(["espeak-ng", "-v", "en", "-w", str(voice), VOICE_TEXT], check=True)
    size = round(CUE_SIZE_1080 * HEIGHT / 1080 * 1.362)  # Noto Sans: libass sizes by ascender + descender
    pad, margin = round(0.25 * size / 1.362), round(0.05 * HEIGHT)
    events = "\n".join(
        f"Dialogue: 0,0:00:{a:05.2f},0:00:{b:05.2f},D,,0,0,0,,{{\\an2\\pos({WIDTH // 2},{HEIGHT - margin - pad})}}{t}"
        for a, b, t in CUES
    )
    (work / "captions.ass").write_text(
        f"[Script Info]\nScriptType: v4.00+\nPlayResX: {WIDTH}\nPlayResY: {HEIGHT}\nWrapStyle: 2\n\n[V4+ Styles]\n"
        "Format: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, BackColour, Bold, Italic, "
        "Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, BorderStyle, Outline, Shadow, Alignment, MarginL, "
        "MarginR, MarginV, Encoding\n"
        f"Style: D,Noto Sans,{size},&H00FFFFFF,&H00FFFFFF,&H5F000000,&HFF000000,0,0,0,0,100,100,0,0,3,{pad},0,2,0,0,0,1"
        f"\n\n[Events]\nFormat: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text\n{events}\n",
        "utf-8",
    )
    graph = (
        f"[0:v]fps={FPS},format=yuv420p,trim=end_frame={round(SECONDS * FPS)},ass=captions.ass:shaping=complex[v];"
        f"[1:a]adelay=500:all=1,atrim=0:{SECONDS}[voice];[2:a]volume=0.3,atrim=0:{SECONDS}[music];"
        f"[voice][music]amix=inputs=2:duration=longest:normalize=0[a]"
    )
    subprocess.run(
        [
            ffmpeg_exe(),
            "-v",
            "error",
            "-y",
            "-stream_loop",
            "-1",
            "-t",
            str(SECONDS),
            "-i",
            str(inputs["clip"]),
            "-i",
            str(voice),
            "-i",
            str(inputs["music"]),
            "-filter_complex",
            graph,
            *HAND_ENCODE,
            str(out),
        ],
        check=True,
        cwd=work,
        env=font_env(),
    )
    return out


# ------------------------------------------------------------------ the three renderers


def run_engine(inputs: dict[str, Path], out: Path) -> Path:
    data = template()
    fmt = output_format("16:9", "web")
    request = GenerationRequest(
        kind=Kind.COMPOSE,
        template=data,
        width=fmt.width,
        height=fmt.height,
        fps=fmt.fps,
        duration=template_duration(parse_template(data)),
        extra={"quality": "web", "aspectRatio": "16:9"},
    )
    workdir = out.parent / "engine-work"
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    artifact = ComposeEngine({}).run(request, _Context(workdir, {k: p.read_bytes() for k, p in inputs.items()}))
    shutil.move(artifact.video_path, out)
    return out


def run_handwritten(inputs: dict[str, Path], out: Path) -> Path:
    """What an expert writes for this one video: trim, scale, zoompan, xfade, drawtext, afade."""
    clip_frames, image_frames = round(CLIP_SECONDS * FPS), round((SECONDS - IMAGE_START) * FPS)
    size = round(FONT_SIZE_1080 * HEIGHT / 1080)
    margin = round(0.05 * HEIGHT)
    font = str(font_path("sans")).replace(":", "\\:")
    caption_end = CAPTION_START + CAPTION_SECONDS
    graph = (
        f"[0:v]fps={FPS},scale={WIDTH}:{HEIGHT},setsar=1,format=yuv420p,trim=end_frame={clip_frames}[v0];"
        f"[1:v]scale={2 * WIDTH}:{2 * HEIGHT}:force_original_aspect_ratio=increase,crop={2 * WIDTH}:{2 * HEIGHT},"
        f"format=yuv420p,zoompan=z='1+{ZOOM_END - 1:g}*on/{image_frames - 1}':x='iw/2-iw/zoom/2':y='ih/2-ih/zoom/2':"
        f"d={image_frames}:s={WIDTH}x{HEIGHT}:fps={FPS}[v1];"
        f"[v0][v1]xfade=transition=fade:duration={FADE}:offset={IMAGE_START},"
        f"drawtext=fontfile='{font}':text='{CAPTION.replace(':', '')}':fontsize={size}:fontcolor=white:"
        f"x=(w-text_w)/2:y=h-text_h-{margin}:"
        f"alpha='clip((t-{CAPTION_START})/{CAPTION_FADE},0,1)*clip(({caption_end}-t)/{CAPTION_FADE},0,1)':"
        f"enable='between(t,{CAPTION_START},{caption_end})'[v];"
        f"[2:a]atrim=0:{SECONDS},afade=t=out:st={SECONDS - MUSIC_FADE}:d={MUSIC_FADE}[a]"
    )
    subprocess.run(
        [
            ffmpeg_exe(),
            "-v",
            "error",
            "-y",
            "-t",
            str(CLIP_SECONDS),
            "-i",
            str(inputs["clip"]),
            "-i",
            str(inputs["photo"]),
            "-i",
            str(inputs["music"]),
            "-filter_complex",
            graph,
            *HAND_ENCODE,
            str(out),
        ],
        check=True,
    )
    return out


def run_moviepy(inputs: dict[str, Path], out: Path) -> Path:
    from moviepy import AudioFileClip, CompositeVideoClip, ImageClip, TextClip, VideoFileClip, afx, vfx

    clip = VideoFileClip(str(inputs["clip"])).subclipped(0, CLIP_SECONDS).resized((WIDTH, HEIGHT))
    photo = ImageClip(str(inputs["photo"])).resized(width=WIDTH)  # 3:2 photo: the composite crops it to 16:9
    width, height = photo.size

    def zoom(t: float) -> float:
        return 1 + (ZOOM_END - 1) * t / (SECONDS - IMAGE_START)

    # the fade first: it adds the mask, which the zoom must then scale along with the picture
    photo = (
        photo.with_duration(SECONDS - IMAGE_START)
        .with_effects([vfx.CrossFadeIn(FADE)])
        .resized(zoom)
        .with_start(IMAGE_START)
        .with_position(lambda t: ((WIDTH - width * zoom(t)) / 2, (HEIGHT - height * zoom(t)) / 2))
    )
    size = round(FONT_SIZE_1080 * HEIGHT / 1080)
    caption = (
        TextClip(font=str(font_path("sans")), text=CAPTION, font_size=size, color="white")
        .with_start(CAPTION_START)
        .with_duration(CAPTION_SECONDS)
        .with_position(("center", HEIGHT - size - round(0.05 * HEIGHT) - 10))
        .with_effects([vfx.CrossFadeIn(CAPTION_FADE), vfx.CrossFadeOut(CAPTION_FADE)])
    )
    music = AudioFileClip(str(inputs["music"])).with_effects([afx.AudioFadeOut(MUSIC_FADE)])
    final = CompositeVideoClip([clip, photo, caption], size=(WIDTH, HEIGHT)).with_duration(SECONDS).with_audio(music)
    final.write_videofile(
        str(out),
        fps=FPS,
        codec="libx264",
        preset="veryfast",
        ffmpeg_params=["-crf", "23"],
        audio_codec="aac",
        audio_bitrate="128k",
        temp_audiofile_path=str(out.parent),
        logger=None,
    )  # MoviePy's temporary sound file goes next to the output, not into the cwd
    final.close()
    return out


# ------------------------------------------------------------------ timing


def best_of(repeat: int, renders: dict[str, Callable[[], Path]]) -> dict[str, tuple[float, Path]]:
    """Best wall time of each renderer; the renderers take turns, so a noisy moment hits them alike."""
    best: dict[str, tuple[float, Path]] = {}
    for _ in range(repeat):
        for name, render in renders.items():
            started = time.perf_counter()
            path = render()
            elapsed = time.perf_counter() - started
            if name not in best or elapsed < best[name][0]:
                best[name] = (elapsed, path)
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--moviepy-repeat", type=int, default=1)
    parser.add_argument("--keep", type=Path, help="keep the inputs and the three MP4s in this directory")
    args = parser.parse_args()

    directory = args.keep or Path(tempfile.mkdtemp(prefix="reelforge-bench-compose-"))
    directory.mkdir(parents=True, exist_ok=True)
    try:
        inputs = make_inputs(directory)
        print(
            f"compose bench: {SECONDS:g} s {WIDTH}x{HEIGHT} {FPS} fps (clip -> 1 s fade -> Ken Burns image, "
            f"caption, music) on {platform.machine()}, {platform.python_version()}"
        )
        results = best_of(
            args.repeat,
            {
                "engine": lambda: run_engine(inputs, directory / "engine.mp4"),
                "ffmpeg": lambda: run_handwritten(inputs, directory / "handwritten.mp4"),
            },
        )
        try:
            import moviepy  # noqa: F401
        except ImportError:
            print('moviepy is not installed: pip install "moviepy>=2,<3" to measure (c)')
        else:
            results.update(
                best_of(args.moviepy_repeat, {"moviepy": lambda: run_moviepy(inputs, directory / "moviepy.mp4")})
            )
        for name, (seconds, path) in results.items():
            info = probe(path, count_frames=True)
            print(
                f"  {name:8s} {seconds:7.2f} s  ({SECONDS / seconds:5.1f}x realtime)  "
                f"{info.width}x{info.height} {info.frame_count} frames {info.duration:.3f} s "
                f"audio={'yes' if info.has_audio else 'no'}"
            )
        engine, handwritten = results["engine"][0], results["ffmpeg"][0]
        print(f"engine / hand-written ffmpeg = {engine / handwritten:.2f}x  (target <= 1.10x)")
        if "moviepy" in results:
            print(f"moviepy / engine            = {results['moviepy'][0] / engine:.1f}x  (target >= 5x)")
        if shutil.which("espeak-ng") is None:
            print(
                "espeak-ng is not installed (scripts/install-system-packages): the captions + voice figure is skipped"
            )
            return 0
        print(
            f"captions + voice: {SECONDS:g} s {WIDTH}x{HEIGHT} {FPS} fps (clip, 4 boxed cues, espeak-ng voice, music)"
        )
        captioned = best_of(
            args.repeat,
            {
                "engine": lambda: run_engine_captioned(inputs, directory / "engine-captions.mp4"),
                "ffmpeg": lambda: run_handwritten_captioned(inputs, directory / "handwritten-captions.mp4"),
            },
        )
        for name, (seconds, path) in captioned.items():
            info = probe(path, count_frames=True)
            print(
                f"  {name:8s} {seconds:7.2f} s  ({SECONDS / seconds:5.1f}x realtime)  "
                f"{info.width}x{info.height} {info.frame_count} frames audio={'yes' if info.has_audio else 'no'}"
            )
        ratio = captioned["engine"][0] / captioned["ffmpeg"][0]
        print(f"engine / hand-written ffmpeg (captions + voice) = {ratio:.2f}x")
    finally:
        if args.keep is None:
            shutil.rmtree(directory, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
