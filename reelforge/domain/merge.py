"""Merge fields: `{{ NAME }}` placeholders in a stored template, filled from a render's `merge` values.

The Shotstack / Creatomate / json2video pattern, "one template, a video per row of data". Rules:

- a placeholder is `{{ NAME }}` (spaces optional) with NAME a letter or `_` then letters, digits, `_`;
- a string that is one placeholder and nothing else takes the merge value *as it is*, so a number field
  can be a field too (`"duration": "{{ SECONDS }}"` with `merge: {"SECONDS": 4}` is the number 4);
- a placeholder inside a longer string is replaced by the value's text (`"Hello {{ NAME }}!"`);
- placeholders are found in every string of the template, at any depth; object keys are never fields.

`fields` lists the names a template uses (with the first pointer to each); `apply` fills them and refuses,
naming a JSON pointer, merge values the template has no field for and fields that have no value.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from reelforge.domain.errors import invalid

NAME = r"[A-Za-z_][A-Za-z0-9_]{0,63}"
PLACEHOLDER = re.compile(r"\{\{\s*(" + NAME + r")\s*\}\}")
_WHOLE = re.compile(r"\s*\{\{\s*(" + NAME + r")\s*\}\}\s*")
_NAME = re.compile(NAME)
MAX_VALUE_CHARS = 10_000


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def fields(value: Any, pointer: str = "") -> dict[str, str]:
    """Every field name `value` uses -> the pointer of its first use, in document order."""
    found: dict[str, str] = {}
    _walk_fields(value, pointer, found)
    return found


def _walk_fields(value: Any, pointer: str, found: dict[str, str]) -> None:
    if isinstance(value, str):
        for match in PLACEHOLDER.finditer(value):
            found.setdefault(match.group(1), pointer)
    elif isinstance(value, dict):
        for key, item in value.items():
            _walk_fields(item, f"{pointer}/{_escape(str(key))}", found)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _walk_fields(item, f"{pointer}/{index}", found)


def check_values(values: Any, pointer: str) -> dict[str, Any]:
    """`merge` values as a name -> JSON scalar map; INVALID_PAYLOAD at the offending pointer otherwise."""
    if not isinstance(values, dict):
        raise invalid('merge must be an object of field values, e.g. {"NAME": "Ada"}', pointer)
    for name, value in values.items():
        where = f"{pointer}/{_escape(str(name))}"
        if not _NAME.fullmatch(name):
            raise invalid(f"{name!r} is not a field name (a letter or _, then letters, digits or _)", where)
        if isinstance(value, bool) or not isinstance(value, str | int | float) or value is None:
            raise invalid("a merge value is a string or a number", where)
        if isinstance(value, str) and len(value) > MAX_VALUE_CHARS:
            raise invalid(f"a merge value is at most {MAX_VALUE_CHARS} characters", where)
    return dict(values)


def apply(
    template: Any,
    values: Mapping[str, Any],
    *,
    defaults: Mapping[str, Any] | None = None,
    merge_pointer: str = "/merge",
) -> Any:
    """`template` with every field filled from `values` (then `defaults`).

    A value for a name the template does not use is refused at `merge_pointer/NAME`; a field with neither
    a value nor a default is refused at the same pointer, the message naming where the template uses it."""
    used = fields(template)
    for name in values:
        if name not in used:
            known = ", ".join(sorted(used)) or "none"
            raise invalid(
                f"the template has no field {name!r} (its fields: {known})", f"{merge_pointer}/{_escape(name)}"
            )
    merged = {**(defaults or {}), **values}
    for name, where in used.items():
        if name not in merged:
            raise invalid(
                f"field {name!r} needs a value: the template uses it at {where or '/'}", f"{merge_pointer}/{name}"
            )
    return _fill(template, merged)


def _fill(value: Any, merged: Mapping[str, Any]) -> Any:
    if isinstance(value, str):
        whole = _WHOLE.fullmatch(value)
        if whole is not None:
            return merged[whole.group(1)]
        return PLACEHOLDER.sub(lambda m: _text(merged[m.group(1)]), value)
    if isinstance(value, dict):
        return {key: _fill(item, merged) for key, item in value.items()}
    if isinstance(value, list):
        return [_fill(item, merged) for item in value]
    return value


def _text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
