"""Every script renders as glyphs, not boxes: in the compositor's text (libass over the font stack) and in
the draft engine's prompt caption (Pillow over the same stack).

The proof for each script: two different strings of the same length in that script draw different
pixels (a font that lacks the script draws the same box for every character, so two strings of equal
length would look the same), and each differs from a string of as many characters no font has. Shaping
is proven the same way: a joined Arabic word and the same letters kept apart with ZERO WIDTH NON-JOINER
only differ if the renderer joins letters; a Devanagari conjunct likewise.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from reelforge.domain.request import GenerationRequest, Kind
from reelforge.engines.compose import ComposeEngine
from reelforge.engines.draft.caption import Caption
from reelforge.media.fonts import runs, stack
from tests.engines import media_factory as mf
from tests.engines.fake_context import FakeContext

# script -> two different strings of the same number of code points
SCRIPTS = {
    "latin": ("Hamburg", "Zurichs"),
    "greek": ("καλός", "φίλος"),
    "cyrillic": ("Привет", "Москва"),
    "arabic": ("مرحبا", "سلامة"),
    "hebrew": ("שלום", "תודה"),
    "devanagari": ("नमस्ते", "दुनिया"),
    "thai": ("สวัสดี", "ขอบคุณ"),
    "cjk": ("世界你好", "中文字幕"),
}
ZWNJ = "\u200c"
SHAPING = {
    "arabic joining": ("سلام", ZWNJ.join("سلام")),
    "devanagari conjunct": ("क्ष", "क्" + ZWNJ + "ष"),
}


def _tofu(length: int) -> str:
    return "".join(chr(0x100000 + i) for i in range(length))  # private use plane 16: no font has them


def _differ(a: np.ndarray, b: np.ndarray, what: str) -> None:
    difference = np.abs(a.astype(int) - b.astype(int))
    changed = int(((difference.max(axis=-1) if difference.ndim == 3 else difference) > 60).sum())
    assert changed > 20, f"{what}: the two renders are the same ({changed} pixels differ)"


def test_the_stack_has_a_face_for_every_character_of_every_script() -> None:
    faces = stack("sans")
    for script, pair in SCRIPTS.items():
        for text in pair:
            for piece, face in runs(text, faces):
                missing = [c for c in piece if not face.covers(c) and ord(c) != 0x200C]
                assert not missing, f"{script}: {face} lacks {missing}"


# ------------------------------------------------------------------ the compositor (libass)


@pytest.fixture(scope="module")
def compositor_frames(tmp_path_factory: pytest.TempPathFactory) -> dict[str, np.ndarray]:
    """One small render: each string a text block of one frame (10 fps), so frame i shows string i."""
    strings: dict[str, str] = {}
    for script, (a, b) in SCRIPTS.items():
        strings[f"{script}:a"], strings[f"{script}:b"] = a, b
        strings[f"{script}:tofu"] = _tofu(len(a))
    for name, (joined, apart) in SHAPING.items():
        strings[f"{name}:joined"], strings[f"{name}:apart"] = joined, apart
    blocks = [
        {"type": "text", "start": i / 10, "duration": 0.1, "text": text, "fontSize": 300}
        for i, text in enumerate(strings.values())
    ]
    template = {"version": "1", "blocks": blocks}
    request = GenerationRequest(
        kind=Kind.COMPOSE,
        template=template,
        width=192,
        height=108,
        fps=10,
        duration=len(blocks) / 10,
        extra={"quality": "draft"},
    )
    artifact = ComposeEngine().run(request, FakeContext(tmp_path_factory.mktemp("scripts")))
    frames = mf.frames(artifact.video_path)
    assert len(frames) == len(blocks)
    return dict(zip(strings, frames, strict=True))


@pytest.mark.parametrize("script", SCRIPTS)
def test_compositor_text_draws_glyphs_of(script: str, compositor_frames: dict[str, np.ndarray]) -> None:
    a, b, tofu = (compositor_frames[f"{script}:{k}"] for k in ("a", "b", "tofu"))
    assert (a.max(axis=-1) > 200).sum() > 30, f"{script}: nothing was drawn"
    _differ(a, b, f"{script}: two different strings")
    _differ(a, tofu, f"{script}: a string and boxes")


@pytest.mark.parametrize("name", SHAPING)
def test_compositor_shapes(name: str, compositor_frames: dict[str, np.ndarray]) -> None:
    _differ(compositor_frames[f"{name}:joined"], compositor_frames[f"{name}:apart"], name)


# ------------------------------------------------------------------ the draft engine's caption (Pillow)


def _caption(text: str) -> np.ndarray:
    width, height = 480, 270
    frame = np.full((height * 3 // 2, width), 128, np.uint8)
    frame[:height] = 40
    Caption(text, width, height).apply(frame)
    return frame[:height]


@pytest.mark.parametrize("script", SCRIPTS)
def test_draft_caption_draws_glyphs_of(script: str) -> None:
    a, b = SCRIPTS[script]
    first = _caption(a)
    assert (first > 180).sum() > 20, f"{script}: nothing was drawn"
    _differ(first, _caption(b), f"{script}: two different strings")
    _differ(first, _caption(_tofu(len(a))), f"{script}: a string and boxes")


@pytest.mark.parametrize("name", SHAPING)
def test_draft_caption_shapes(name: str) -> None:
    joined, apart = SHAPING[name]
    _differ(_caption(joined), _caption(apart), name)


def test_a_mixed_script_caption_uses_one_face_per_script(tmp_path: Path) -> None:
    pieces = runs("Hello 世界 مرحبا", stack("sans"))
    families = [face.family for text, face in pieces if text.strip()]
    assert families == ["Noto Sans", "Noto Sans CJK SC", "Noto Sans Arabic"]
