"""Multipart text fields with bracket names, decoded into the JSON value they stand for.

HTTP clients that send a create as multipart (the official `openai` SDK always does for `videos.create`)
flatten nested values into bracket names, the convention of Rails, PHP and `qs`:

| JSON                                   | multipart fields                                   |
|----------------------------------------|----------------------------------------------------|
| `{"image": ["a", "b"]}`                | `image[]=a`, `image[]=b`                           |
| `{"extra_body": {"mode": "keyframes"}}`| `extra_body[mode]=keyframes`                       |
| `{"extra_body": {"image": ["a"]}}`     | `extra_body[image][]=a`                            |
| `{"characters": [{"id": "c1"}]}`       | `characters[][id]=c1` (or `characters[0][id]=c1`)  |
| `{"video": {"id": "v1"}}`              | `video[id]=v1`                                     |

`decode_fields` rebuilds the JSON form, so a multipart create parses exactly like its JSON twin: the same
protocol model validates both, with the same JSON pointers in errors. A plain name given twice becomes a list
(`image=a&image=b`), as it always did. A name that is not well formed, or one that is both a value and a
list/object, is a 400 naming the field: guessing would create (and charge) a different video.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from reelforge.domain import jsontext
from reelforge.domain.errors import invalid

_NAME = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")
_SEGMENT = re.compile(r"\[([^\[\]]*)\]")


def split_name(name: str) -> list[str]:
    """`a[b][]` -> `["a", "b", ""]`; a 400 when the brackets are not well formed."""
    match = _NAME.match(name)
    if match is None:
        raise invalid(f"field name {name!r} is not well formed; nested fields are written as a[b][] ", f"/{name}")
    return [match.group(1), *_SEGMENT.findall(match.group(2))]


def decode_fields(items: Iterable[tuple[str, Any]], json_fields: Iterable[str] = ()) -> dict[str, Any]:
    """The JSON object that the (name, value) text fields of a form stand for.

    A top-level field named in `json_fields` whose text starts with `[` or `{` is parsed as JSON (clients
    that send `extra_body` as one JSON string), so both spellings of a nested value work.
    """
    as_json = set(json_fields)
    root: dict[str, Any] = {}
    for name, value in items:
        path = split_name(name)
        if len(path) == 1 and path[0] in as_json:
            value = _maybe_json(value)
        _assign(root, path, value, name)
    return _lists(root)


def _assign(node: dict[str, Any], path: list[str], value: Any, name: str) -> None:
    key, rest = path[0], path[1:]
    if not rest:
        if key in node:
            existing = node[key]
            if isinstance(existing, dict):
                raise _conflict(name)
            node[key] = [*existing, value] if isinstance(existing, list) else [existing, value]
        else:
            node[key] = value
        return
    if rest[0] == "":  # key[] (append) or key[][sub]...
        items = node.setdefault(key, [])
        if not isinstance(items, list):
            if isinstance(items, dict):
                raise _conflict(name)
            items = node[key] = [items]
        if len(rest) == 1:
            items.append(value)
            return
        # key[][sub]: the last element takes `sub` unless it already has it (then a new element starts)
        sub = rest[1:]
        last = items[-1] if items and isinstance(items[-1], dict) else None
        if last is None or _has(last, sub):
            last = {}
            items.append(last)
        _assign(last, sub, value, name)
        return
    child = node.setdefault(key, {})
    if not isinstance(child, dict):
        raise _conflict(name)
    _assign(child, rest, value, name)


def _has(node: dict[str, Any], path: list[str]) -> bool:
    key = path[0]
    if key == "" or key not in node:
        return False
    if len(path) == 1:
        return True
    child = node[key]
    return isinstance(child, dict) and _has(child, path[1:])


def _lists(node: Any) -> Any:
    """Objects whose keys are all indices (`a[0]`, `a[1]`) become lists in index order."""
    if isinstance(node, list):
        return [_lists(item) for item in node]
    if not isinstance(node, dict):
        return node
    converted = {key: _lists(value) for key, value in node.items()}
    if converted and all(key.isdigit() for key in converted):
        return [converted[key] for key in sorted(converted, key=int)]
    return converted


def _conflict(name: str) -> Exception:
    base = split_name(name)[0]
    return invalid(f"field {base!r} is sent both as a single value and as nested fields ({name!r})", f"/{base}")


def _maybe_json(value: Any) -> Any:
    if not isinstance(value, str) or value[:1] not in ("[", "{"):
        return value
    try:
        return jsontext.loads(value)  # the strict parser every JSON body goes through
    except ValueError:
        return value
