"""The deterministic planner of prompt jobs: what template a prompt and assets become."""

from __future__ import annotations

import pytest

from reelforge.api.dialects.avs import requested_seconds
from reelforge.domain.template import parse_template, template_duration
from reelforge.engines.creator.plan import PlannedAsset, clips_for, plan, title_from


def test_without_assets_it_asks_for_clips_one_per_sentence() -> None:
    clips = clips_for("Waves crash. Gulls circle! Sun sets", 12)
    assert [c.prompt for c in clips] == ["Waves crash.", "Gulls circle!", "Sun sets"]
    assert [c.seconds for c in clips] == [5, 5, 2]
    template = plan("Waves crash. Gulls circle! Sun sets", 12, [], clips)
    parsed = parse_template(template, prefix="/plan")
    assert template_duration(parsed) == pytest.approx(12)
    videos = [b for b in template["blocks"] if b["type"] == "video"]
    assert [b["source"]["ref"] for b in videos] == ["generated:0", "generated:1", "generated:2"]
    assert [b["start"] for b in videos] == [0, 5, 10]


def test_assets_are_sequenced_videos_at_their_length_images_share_the_rest() -> None:
    assets = [
        PlannedAsset("stored:a.mp4", "video", "a.mp4", 4.0),
        PlannedAsset("https://x/b.png", "image", "b"),
        PlannedAsset("https://x/c.png", "image", "c"),
        PlannedAsset("stored:m.wav", "audio", "m.wav", 30.0),
    ]
    template = plan("Launch teaser for the new bike", 20, assets)
    blocks = template["blocks"]
    visual = [(b["type"], b["start"], b["duration"]) for b in blocks if b["type"] in ("video", "image")]
    assert visual == [("video", 0, 4.0), ("image", 4.0, 8.0), ("image", 12.0, 8.0)]
    audio = [b for b in blocks if b["type"] == "audio"]
    assert audio == [
        {"type": "audio", "start": 0, "duration": 20.0, "source": {"ref": "stored:m.wav", "name": "m.wav"}}
    ]
    assert blocks[-1]["type"] == "text" and blocks[-1]["text"] == "Launch teaser for the new bike"
    assert template_duration(parse_template(template, prefix="/plan")) == pytest.approx(20)


def test_only_short_videos_shorten_the_video_instead_of_showing_black() -> None:
    template = plan("two clips", 30, [PlannedAsset("v1", "video", "v1", 3.0), PlannedAsset("v2", "video", "v2", 4.0)])
    assert template_duration(parse_template(template, prefix="/plan")) == pytest.approx(7)


def test_titles_and_requested_lengths() -> None:
    assert title_from("one two three four five six seven eight nine") == "one two three four five six seven eight..."
    assert requested_seconds("Create a 20 second product teaser") == 20
    assert requested_seconds("a 30s spot") == 30
    assert requested_seconds("a 45-second ad") == 45
    assert requested_seconds("no length given") == 15
    assert requested_seconds("a 900 second epic") == 120


def test_a_voiced_and_captioned_plan_reads_the_prompts_script() -> None:
    from reelforge.engines.creator.plan import voice_for

    assets = [PlannedAsset("https://x/a.png", "image", "a"), PlannedAsset("stored:m.wav", "audio", "m", 30.0)]
    prompt = "A 10 second teaser with a voice-over and captions. Fresh bread every morning!"
    template = plan(prompt, 10, assets)
    blocks = {b["type"]: b for b in template["blocks"]}
    assert blocks["voice"]["text"] == "teaser with a voice-over and captions. Fresh bread every morning!"
    assert blocks["voice"]["voice"] == "en" and blocks["voice"]["duration"] == 10
    assert blocks["audio"]["volume"] == 0.33  # music under the voice
    cues = blocks["captions"]["cues"]
    assert [c["text"] for c in cues] == ["teaser with a voice-over and captions.", "Fresh bread every morning!"]
    assert cues[0]["start"] == 0 and cues[-1]["end"] == pytest.approx(10, abs=0.01)
    assert blocks["captions"]["style"] == "highlight"
    assert template_duration(parse_template(template, prefix="/plan")) == pytest.approx(10)

    plain = plan("Fresh bread every morning", 10, assets)
    assert {b["type"] for b in plain["blocks"]} == {"image", "audio", "text"}  # only when asked
    asked = plan("新鲜面包 每天早上", 10, assets, options={"voiceover": True, "captions": False})
    kinds = {b["type"]: b for b in asked["blocks"]}
    assert kinds["voice"]["voice"] == "cmn" and "captions" not in kinds
    assert kinds["text"]["text"] == "新鲜面包 每天早上"  # the title in the prompt's own script
    assert (voice_for("مرحبا بكم"), voice_for("नमस्ते"), voice_for("Привет")) == ("ar", "hi", "ru")
