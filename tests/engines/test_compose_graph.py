"""The graph compiler and its arithmetic, without rendering (except where the real parser is the test)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from reelforge.domain.request import GenerationRequest, Kind
from reelforge.engines.compose import ComposeEngine, parse_template, template_duration
from reelforge.engines.compose.fonts import font_path, text_font, wrap_text
from reelforge.engines.compose.graph import compile_graph, escape, ffmpeg_color, num, output_matrix
from reelforge.engines.compose.inputs import MediaInfo
from reelforge.engines.compose.layout import place, visible_part
from reelforge.media.fonts import stack
from reelforge.media.probe import probe
from reelforge.media.text import measurer
from tests.engines import media_factory as mf
from tests.engines.fake_context import FakeContext


def _video_info(matrix: str | None = None, *, width: int = 1280, height: int = 720) -> MediaInfo:
    return MediaInfo(
        Path("/in/v.mp4"), "mov", "video", width, height, 10.0, has_video=True, has_audio=True, matrix=matrix
    )


def _compile(blocks: list[dict[str, Any]], media: dict[int, MediaInfo], width: int = 1280, height: int = 720) -> str:
    template = parse_template({"version": "1", "blocks": blocks})
    return compile_graph(
        template, media, width=width, height=height, fps=30, font_for=lambda block: text_font("sans")
    ).script


def test_place_cover_contain_fill() -> None:
    cover = place(
        1920, 1080, fit="cover", scale=1, position="center", offset_x=0, offset_y=0, frame_width=1080, frame_height=1920
    )
    assert (cover.width, cover.height, cover.x, cover.y) == (1080, 1920, 0, 0)
    assert cover.scale_height == 1920 and cover.scale_width >= 3412 and cover.cropped
    contain = place(
        1920,
        1080,
        fit="contain",
        scale=1,
        position="center",
        offset_x=0,
        offset_y=0,
        frame_width=1080,
        frame_height=1920,
    )
    assert (contain.width, contain.height, contain.x, contain.y) == (1080, 608, 0, 656)
    fill = place(
        333,
        201,
        fit="fill",
        scale=0.5,
        position="bottomRight",
        offset_x=0,
        offset_y=0,
        frame_width=640,
        frame_height=360,
    )
    assert (fill.width, fill.height, fill.x, fill.y) == (320, 180, 320, 180)


def test_place_sizes_are_even_and_offsets_are_fractions_of_the_frame() -> None:
    p = place(
        333,
        201,
        fit="contain",
        scale=0.37,
        position="topLeft",
        offset_x=0.1,
        offset_y=-0.2,
        frame_width=640,
        frame_height=360,
    )
    assert (p.width, p.height) == (220, 134) and p.scale_width % 2 == 0
    assert (p.x, p.y) == (64, -72)
    assert visible_part(p, 640, 360) == (0, 72, 220, 62)
    off = place(
        100, 100, fit="fill", scale=0.1, position="left", offset_x=-1, offset_y=0, frame_width=640, frame_height=360
    )
    assert visible_part(off, 640, 360) is None


def test_escape_protects_both_parser_levels() -> None:
    assert escape("clip(t,0,1)") == "clip(t\\,0\\,1)"
    assert escape("a:b") == "a\\\\:b"
    assert escape("it's") == "it\\\\\\'s"
    assert escape("[x];y") == "\\[x\\]\\;y"


def test_num_and_colours() -> None:
    assert [num(x) for x in (0, 1.0, 0.5, 1 / 3, -0.0, 2.000001)] == ["0", "1", "0.5", "0.333333", "0", "2.000001"]
    assert ffmpeg_color("#ff000080") == "0xFF0000@0.501961"
    assert ffmpeg_color("white") == "0xFFFFFF@1"


def test_an_opaque_full_frame_bottom_layer_replaces_the_canvas() -> None:
    video = {"type": "video", "start": 0, "duration": 2, "source": {"ref": "v"}}
    script = _compile([video], {0: _video_info()})
    assert "color=" not in script and "overlay" not in script  # what a hand-written command would do
    late = _compile([{**video, "start": 1}], {0: _video_info()})
    assert "color=c=black" in late and "overlay" in late  # black before it starts


def test_untagged_and_bt601_videos_pass_through_unconverted() -> None:
    video = {"type": "video", "start": 0, "duration": 1, "source": {"ref": "v"}}
    template = parse_template({"version": "1", "blocks": [video, {**video, "start": 1}]})
    assert output_matrix(template, {0: _video_info(None), 1: _video_info("bt601")}) == "bt601"
    assert output_matrix(template, {0: _video_info(None), 1: _video_info("bt709")}) == "bt709"
    mixed = _compile([video, {**video, "start": 1}], {0: _video_info(None), 1: _video_info("bt709")})
    assert mixed.count("out_color_matrix") == 1  # only the untagged one is converted
    assert "colorspace=bt709" in mixed


def test_wrap_text_keeps_lines_inside_the_width() -> None:
    font = measurer(stack("sans"), 40)
    wrapped = wrap_text("one two three four five six seven eight nine ten", font, 300)
    assert len(wrapped.splitlines()) > 1
    assert wrap_text("short\nlines", font, 1000) == "short\nlines"
    no_spaces = wrap_text("一二三四五六七八九十一二三四五六七八九十", font, 300)
    assert len(no_spaces.splitlines()) > 1 and no_spaces.replace("\n", "") == "一二三四五六七八九十一二三四五六七八九十"


def test_font_paths_with_filter_syntax_characters_work(tmp_path: Path) -> None:
    # an operator's font directory may contain : ' , [ ] ; -- the graph must still parse
    nasty = tmp_path / "fonts: it's [a],b;c"
    nasty.mkdir()
    shutil.copy(font_path("sans"), nasty / "my font.ttf")
    template = {
        "version": "1",
        "blocks": [{"type": "text", "start": 0, "duration": 0.5, "text": "100% %{pts} \\ '", "fontSize": 300}],
    }
    request = GenerationRequest(
        kind=Kind.COMPOSE,
        template=template,
        width=160,
        height=96,
        fps=24,
        duration=template_duration(parse_template(template)),
        extra={"quality": "draft"},
    )
    engine = ComposeEngine({"fonts": {"sans": str(nasty / "my font.ttf")}})
    artifact = engine.run(request, FakeContext(tmp_path / "work"))
    assert probe(artifact.video_path, count_frames=True).frame_count == 12
    assert mf.frames(artifact.video_path)[6].max() > 200  # something white was drawn


@pytest.mark.parametrize("setting", [{"fonts": {"sans": "/nonexistent/font.ttf"}}])
def test_a_missing_font_file_is_an_engine_error(tmp_path: Path, setting: dict[str, Any]) -> None:
    from reelforge.domain.errors import ErrorCode, ReelforgeError

    template = {"version": "1", "blocks": [{"type": "text", "start": 0, "duration": 0.5, "text": "x"}]}
    request = GenerationRequest(kind=Kind.COMPOSE, template=template, width=160, height=96, fps=24, duration=0.5)
    with pytest.raises(ReelforgeError) as caught:
        ComposeEngine(setting).run(request, FakeContext(tmp_path))
    assert caught.value.code == ErrorCode.ENGINE_ERROR and "font.ttf" in caught.value.message
    assert "/nonexistent" not in caught.value.message
