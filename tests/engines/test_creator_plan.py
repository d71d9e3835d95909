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
