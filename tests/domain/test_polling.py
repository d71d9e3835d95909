"""Poll advice (`domain.polling`): the one figure the OpenAI header, MCP's poll_after_ms and pollIntervalMs share."""

from __future__ import annotations

from reelforge.domain.catalog import ModelSpec
from reelforge.domain.polling import expected_seconds, poll_after_ms
from reelforge.domain.request import Kind
from reelforge.domain.task import TaskStatus


def spec(expected: float | None = None) -> ModelSpec:
    return ModelSpec(name="m", engine="draft", kind=Kind.TEXT_TO_VIDEO, expected_seconds=expected)


def test_advice_scales_with_the_expected_time_and_stops_at_the_end() -> None:
    draft = expected_seconds(spec(), 5)  # no figure in the catalog: the output's length
    assert draft == 5
    assert poll_after_ms(TaskStatus.QUEUED, 0, draft) == 2000  # floor while queued
    assert poll_after_ms(TaskStatus.RUNNING, 0, draft) == 1200  # a quarter of 5 s, to 100 ms
    assert poll_after_ms(TaskStatus.RUNNING, 90, draft) == 1000  # floor while running
    gpu = expected_seconds(spec(2460), 5)  # a 41-minute render
    assert poll_after_ms(TaskStatus.QUEUED, 0, gpu) == 30_000  # ceiling
    assert poll_after_ms(TaskStatus.RUNNING, 99, gpu) == 6200  # 1% of 41 min left: a quarter of 24.6 s
    for status in (TaskStatus.SUCCEEDED, TaskStatus.FAILED, TaskStatus.CANCELLED):
        assert poll_after_ms(status, 100, gpu) is None
