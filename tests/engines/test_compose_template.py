"""AVS Template JSON v1: what parses, what is refused (with the JSON pointer of the offending value), the
helpers the API uses, the output-format table, and the engine's request-level checks. No rendering here."""

from __future__ import annotations

from typing import Any

import pytest

from reelforge.domain.errors import ErrorCode, ReelforgeError
from reelforge.domain.request import GenerationRequest, Kind
from reelforge.domain.template import MAX_BLOCKS, ImageBlock, KenBurns, TextBlock, VideoBlock
from reelforge.engines.compose import (
    ASPECT_RATIOS,
    QUALITIES,
    ComposeEngine,
    media_sources,
    output_format,
    parse_template,
    template_duration,
    with_refs,
)

SPEC_EXAMPLE = {
    "version": "1",
    "name": "Launch teaser",
    "blocks": [
        {"type": "video", "start": 0, "duration": 5, "source": {"uploadName": "hero.mp4"}},
        {"type": "text", "start": 0, "duration": 5, "text": "Now shipping"},
    ],
}


def _template(*blocks: dict[str, Any]) -> dict[str, Any]:
    return {"version": "1", "blocks": list(blocks)}


def _video(**fields: Any) -> dict[str, Any]:
    return {"type": "video", "start": 0, "duration": 2, "source": {"uploadName": "a.mp4"}, **fields}


def _image(**fields: Any) -> dict[str, Any]:
    return {"type": "image", "start": 0, "duration": 2, "source": {"url": "https://example.com/a.png"}, **fields}


def _refused(data: Any, prefix: str = "/template") -> ReelforgeError:
    with pytest.raises(ReelforgeError) as caught:
        parse_template(data, prefix=prefix)
    assert caught.value.code == ErrorCode.INVALID_PAYLOAD
    assert caught.value.http_status == 400
    return caught.value


def test_the_contract_example_parses_with_defaults() -> None:
    template = parse_template(SPEC_EXAMPLE)
    video, text = template.blocks
    assert isinstance(video, VideoBlock) and isinstance(text, TextBlock)
    assert (video.fit, video.position, video.scale, video.opacity, video.volume) == ("cover", "center", 1, 1, 1)
    assert video.source.upload_name == "hero.mp4" and video.source.ref is None
    assert (text.font, text.font_size, text.color, text.position) == ("sans", 64, "#FFFFFF", "center")
    assert template_duration(template) == 5


def test_every_extension_field_parses() -> None:
    template = parse_template(
        _template(
            _video(
                duration=5,
                trim=1.5,
                volume=0.5,
                loop=True,
                fit="contain",
                position="topRight",
                offset={"x": -0.02, "y": 0.02},
                scale=0.4,
                opacity=0.8,
                fadeIn=0.5,
                fadeOut=0.5,
                id="hero",
            ),
            _image(
                start=4,
                duration=3,
                fit="fill",
                kenBurns={"zoomStart": 1.1, "zoomEnd": 1.4, "focusStart": {"x": 0.2, "y": 0.3}, "focusEnd": {"x": 0.8}},
                transition={"type": "slideLeft", "duration": 1},
            ),
            {
                "type": "text",
                "start": 1,
                "duration": 3,
                "text": "Привет, мир",
                "font": "serif",
                "bold": True,
                "italic": True,
                "fontSize": 48,
                "color": "rgb(255, 200, 0)",
                "background": "#00000080",
                "backgroundPadding": 12,
                "outlineColor": "black",
                "outlineWidth": 2,
                "align": "left",
                "maxWidth": 0.6,
                "position": "bottomLeft",
                "offset": {"x": 0.01, "y": -0.01},
                "opacity": 0.9,
                "fadeIn": 0.3,
                "fadeOut": 0.3,
            },
            {
                "type": "audio",
                "start": 0,
                "duration": 7,
                "source": {"uploadName": "music.mp3"},
                "trim": 2,
                "volume": 0.7,
                "loop": True,
                "fadeIn": 1,
                "fadeOut": 2,
            },
        )
    )
    image = template.blocks[1]
    assert isinstance(image, ImageBlock) and image.ken_burns is not None
    assert image.ken_burns.focus_end.x == 0.8 and image.ken_burns.focus_end.y == 0.5
    assert image.transition is not None and image.transition.type == "slideLeft"
    assert template_duration(template) == 7


def test_ken_burns_true_means_the_default_move() -> None:
    template = parse_template(_template(_image(kenBurns=True), _image(kenBurns=False)))
    assert template.blocks[0].ken_burns == KenBurns()  # type: ignore[union-attr]
    assert template.blocks[1].ken_burns is None  # type: ignore[union-attr]


def test_normalised_sources_carry_a_ref_beside_the_original() -> None:
    template = parse_template(
        _template(
            _video(source={"ref": "stored:uploads/abc", "uploadName": "hero.mp4"}),
            _image(source={"ref": "https://example.com/a.png", "url": "https://example.com/a.png"}),
            {"type": "audio", "duration": 2, "source": {"ref": "generated:0", "name": "a planner's label"}},
        )
    )
    refs = [source.ref for _, _, source in media_sources(template)]
    assert refs == ["stored:uploads/abc", "https://example.com/a.png", "generated:0"]
    assert template.blocks[0].source.label == "hero.mp4"  # type: ignore[union-attr]


def test_media_sources_and_with_refs() -> None:
    template = parse_template(
        _template(
            _video(),
            {"type": "text", "duration": 1, "text": "x"},
            {"type": "audio", "duration": 2, "source": {"url": "https://example.com/a.wav"}},
        )
    )
    sources = media_sources(template, prefix="/t")
    assert [(pointer, kind) for pointer, kind, _ in sources] == [
        ("/t/blocks/0/source", "video"),
        ("/t/blocks/2/source", "audio"),
    ]
    data = with_refs(template, {"/template/blocks/0/source": "stored:k0", "/template/blocks/2/source": "stored:k2"})
    assert data["blocks"][0]["source"] == {"uploadName": "a.mp4", "ref": "stored:k0"}
    assert data["blocks"][2]["source"] == {"url": "https://example.com/a.wav", "ref": "stored:k2"}
    again = parse_template(data)  # the normalised form is itself a valid template
    assert [s.ref for _, _, s in media_sources(again)] == ["stored:k0", "stored:k2"]


@pytest.mark.parametrize(
    ("data", "pointer"),
    [
        ([], "/template"),
        ({"version": "2", "blocks": []}, "/template/version"),
        ({"version": 1, "blocks": [_video()]}, "/template/version"),
        ({"version": "1", "blocks": []}, "/template/blocks"),
        ({"version": "1", "blocks": [_video()], "fps": 30}, "/template/fps"),
        ({"version": "1", "name": 7, "blocks": [_video()]}, "/template/name"),
        (_template(_video(), "text"), "/template/blocks/1"),
        (_template({"type": "sparkle", "start": 0, "duration": 1}), "/template/blocks/0/type"),
        (_template(_video(duration=0)), "/template/blocks/0/duration"),
        (_template(_video(duration="5")), "/template/blocks/0/duration"),
        (_template(_video(start=-1)), "/template/blocks/0/start"),
        (_template({"type": "video", "start": 0, "source": {"uploadName": "a.mp4"}}), "/template/blocks/0/duration"),
        (_template(_video(source={})), "/template/blocks/0/source"),
        (_template(_video(source={"url": "https://x/a.mp4", "uploadName": "a.mp4"})), "/template/blocks/0/source"),
        (_template(_video(source="a.mp4")), "/template/blocks/0/source"),
        (_template(_video(durration=3)), "/template/blocks/0/durration"),
        (_template(_video(fit="stretch")), "/template/blocks/0/fit"),
        (_template(_video(position="middle")), "/template/blocks/0/position"),
        (_template(_video(offset={"x": 2})), "/template/blocks/0/offset/x"),
        (_template(_video(scale=0)), "/template/blocks/0/scale"),
        (_template(_video(opacity=1.5)), "/template/blocks/0/opacity"),
        (_template(_video(volume=-1)), "/template/blocks/0/volume"),
        (_template(_video(trim=-0.5)), "/template/blocks/0/trim"),
        (_template(_video(fadeIn=1.5, fadeOut=1)), "/template/blocks/0/fadeOut"),
        (_template(_image(kenBurns={"zoomEnd": 9})), "/template/blocks/0/kenBurns/zoomEnd"),
        (_template(_image(kenBurns={"focusStart": {"x": 2}})), "/template/blocks/0/kenBurns/focusStart/x"),
        (_template({"type": "text", "start": 0, "duration": 1}), "/template/blocks/0/text"),
        (_template({"type": "text", "start": 0, "duration": 1, "text": "   "}), "/template/blocks/0/text"),
        (
            _template({"type": "text", "start": 0, "duration": 1, "text": "x", "color": "blurple"}),
            "/template/blocks/0/color",
        ),
        (
            _template({"type": "text", "start": 0, "duration": 1, "text": "x", "font": "comic"}),
            "/template/blocks/0/font",
        ),
        (
            _template({"type": "text", "start": 0, "duration": 1, "text": "x", "source": {"url": "https://x"}}),
            "/template/blocks/0/source",
        ),
        (
            _template({"type": "audio", "start": 0, "duration": 1, "source": {"uploadName": "a.wav"}, "opacity": 1}),
            "/template/blocks/0/opacity",
        ),
        (_template(_image(transition={"type": "fade"})), "/template/blocks/0/transition"),
        (
            _template(_image(duration=5), _image(start=5, transition={"type": "fade", "duration": 1})),
            "/template/blocks/1/transition",
        ),
        (
            _template(_image(duration=5), _image(start=4.5, transition={"type": "fade", "duration": 3})),
            "/template/blocks/1/transition/duration",
        ),
        (
            _template(_image(duration=5), _image(start=4, transition={"type": "spin"})),
            "/template/blocks/1/transition/type",
        ),
        (_template(_video(start=590, duration=20)), "/template/blocks/0/duration"),
        (_template(*[_video()] * (MAX_BLOCKS + 1)), "/template/blocks"),
    ],
)
def test_invalid_templates_name_the_offending_field(data: Any, pointer: str) -> None:
    error = _refused(data)
    assert error.field == pointer, error.message
    assert error.message


def test_the_pointer_prefix_is_a_parameter() -> None:
    assert _refused(_template(_video(duration=-1)), prefix="/plan").field == "/plan/blocks/0/duration"


def test_messages_say_what_to_change() -> None:
    error = _refused(_template(_image(duration=5), _image(start=5, transition={"type": "fade", "duration": 1})))
    assert "start this block between 0 and 4 s" in error.message
    assert "fit" in _refused(_template(_video(fit="stretch"))).message
    assert "'cover', 'contain' or 'fill'" in _refused(_template(_video(fit="stretch"))).message


def test_transition_chains_follow_the_previous_visual_block() -> None:
    template = parse_template(
        _template(
            _video(duration=4),
            {"type": "text", "start": 0, "duration": 6, "text": "over both"},
            _image(start=3, duration=4, transition={"type": "fade", "duration": 1}),
            _video(start=6, duration=3, transition={"type": "wipeUp", "duration": 1}),
        )
    )
    assert template_duration(template) == 9


@pytest.mark.parametrize("quality", list(QUALITIES))
@pytest.mark.parametrize("aspect", list(ASPECT_RATIOS))
def test_output_format_table(aspect: str, quality: str) -> None:
    fmt = output_format(aspect, quality)
    across, down = ASPECT_RATIOS[aspect]
    assert fmt.width % 2 == 0 and fmt.height % 2 == 0
    assert min(fmt.width, fmt.height) == {"preview": 240, "draft": 360, "web": 720, "studio": 1080}[quality]
    assert fmt.width / fmt.height == pytest.approx(across / down, rel=0.01)
    assert fmt.fps in (15, 24, 30) and fmt.crf > 0 and fmt.preset and fmt.audio_bitrate.endswith("k")


def test_output_format_named_sizes() -> None:
    assert (output_format("16:9", "web").width, output_format("16:9", "web").height) == (1280, 720)
    assert (output_format("9:16", "studio").width, output_format("9:16", "studio").height) == (1080, 1920)
    assert (output_format("4:5", "draft").width, output_format("4:5", "draft").height) == (360, 450)


@pytest.mark.parametrize(
    ("aspect", "quality", "pointer"), [("2:1", "web", "/output/aspectRatio"), ("16:9", "ultra", "/output/quality")]
)
def test_output_format_refuses_unknown_values(aspect: str, quality: str, pointer: str) -> None:
    with pytest.raises(ReelforgeError) as caught:
        output_format(aspect, quality)
    assert caught.value.field == pointer


# ------------------------------------------------------------------ ComposeEngine.validate


def _request(data: dict[str, Any], **fields: Any) -> GenerationRequest:
    values: dict[str, Any] = {
        "kind": Kind.COMPOSE,
        "template": data,
        "width": 640,
        "height": 360,
        "fps": 24,
        "duration": template_duration(parse_template(data)),
        "extra": {"quality": "draft"},
    }
    values.update(fields)
    return GenerationRequest(**values)


def test_validate_accepts_the_api_request() -> None:
    ComposeEngine({}).validate(_request(SPEC_EXAMPLE))


@pytest.mark.parametrize(
    ("fields", "settings", "pointer"),
    [
        ({"kind": Kind.TEXT_TO_VIDEO}, {}, "/kind"),
        ({"template": None}, {}, "/template"),
        ({"width": 641}, {}, "/width"),
        ({"height": 8}, {}, "/height"),
        ({"fps": 120}, {}, "/fps"),
        ({"duration": 9}, {}, "/duration"),
        ({"extra": {"quality": "ultra"}}, {}, "/output/quality"),
        ({}, {"max_duration": 3}, "/template/blocks/0/duration"),
        ({}, {"max_blocks": 1}, "/template/blocks"),
    ],
)
def test_validate_refuses_with_a_pointer(fields: dict[str, Any], settings: dict[str, Any], pointer: str) -> None:
    with pytest.raises(ReelforgeError) as caught:
        ComposeEngine(settings).validate(_request(SPEC_EXAMPLE, **fields))
    assert caught.value.code == ErrorCode.INVALID_PAYLOAD
    assert caught.value.field == pointer, caught.value.message


def test_validate_checks_the_template_too() -> None:
    with pytest.raises(ReelforgeError) as caught:
        ComposeEngine({}).validate(_request(SPEC_EXAMPLE, template=_template(_video(fit="x"))))
    assert caught.value.field == "/template/blocks/0/fit"
