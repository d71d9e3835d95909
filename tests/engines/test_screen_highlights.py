"""The planner's new input: a screen recording's active segments and scene changes become highlight cuts."""

from __future__ import annotations

from reelforge.domain.template import parse_template
from reelforge.engines.creator.plan import PlannedAsset, highlights, plan


def test_highlights_split_active_segments_at_scene_changes_and_cap_their_length() -> None:
    recording = PlannedAsset("stored:rec", "video", "rec.vidova", 30.0, ((1.0, 9.0), (12.0, 12.3)), (3.0, 20.0))
    assert highlights(recording) == [(1.0, 2.0), (3.0, 4.0)]  # 1-3, then 3-9 capped at 4 s; 12-12.3 too short


def test_the_plan_cuts_the_recording_by_trim_and_skips_still_parts() -> None:
    recording = PlannedAsset("stored:rec", "video", "rec.vidova", 30.0, ((2.0, 4.0), (10.0, 20.0)), (15.0,))
    template = plan("A 10 second demo.", 10.0, [recording])
    parse_template(template, prefix="/plan")  # a valid template
    cuts = [(b["start"], b["duration"], b.get("trim")) for b in template["blocks"] if b["type"] == "video"]
    assert cuts == [(0.0, 2.0, 2.0), (2.0, 4.0, 10.0), (6.0, 4.0, 15.0)]
    whole = plan("A demo.", 10.0, [PlannedAsset("stored:v", "video", "v.mp4", 6.0)])
    assert [b.get("trim") for b in whole["blocks"] if b["type"] == "video"] == [None]  # other videos unchanged
