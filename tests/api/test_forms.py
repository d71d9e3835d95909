"""Multipart bracket names decoded into the JSON they stand for (`reelforge.api.forms`)."""

from __future__ import annotations

import pytest

from reelforge.api.forms import decode_fields
from reelforge.domain.errors import ReelforgeError


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ([("image[]", "a"), ("image[]", "b")], {"image": ["a", "b"]}),
        ([("image[]", "a")], {"image": ["a"]}),
        ([("image", "a"), ("image", "b")], {"image": ["a", "b"]}),
        (
            [("extra_body[image][]", "a"), ("extra_body[mode]", "keyframes")],
            {"extra_body": {"image": ["a"], "mode": "keyframes"}},
        ),
        ([("characters[][id]", "c1"), ("characters[][id]", "c2")], {"characters": [{"id": "c1"}, {"id": "c2"}]}),
        (
            [("characters[][id]", "c1"), ("characters[][name]", "n1"), ("characters[][id]", "c2")],
            {"characters": [{"id": "c1", "name": "n1"}, {"id": "c2"}]},
        ),
        ([("image[1]", "b"), ("image[0]", "a")], {"image": ["a", "b"]}),
        ([("video[id]", "v1"), ("prompt", "p")], {"video": {"id": "v1"}, "prompt": "p"}),
        ([("extra_body", '{"mode": "keyframes"}')], {"extra_body": {"mode": "keyframes"}}),
        ([("prompt", "[not json]")], {"prompt": "[not json]"}),
    ],
)
def test_bracket_fields_are_their_json_form(fields: list, expected: dict) -> None:
    assert decode_fields(fields, ("extra_body", "image")) == expected


@pytest.mark.parametrize(
    ("fields", "pointer"),
    [
        ([("image[", "a")], "/image["),
        ([("a]b", "a")], "/a]b"),
        ([("extra_body", "x"), ("extra_body[mode]", "keyframes")], "/extra_body"),
        ([("video[id]", "x"), ("video", "y")], "/video"),
    ],
)
def test_malformed_or_conflicting_names_are_400_naming_the_field(fields: list, pointer: str) -> None:
    with pytest.raises(ReelforgeError) as caught:
        decode_fields(fields)
    assert caught.value.http_status == 400 and caught.value.field == pointer
