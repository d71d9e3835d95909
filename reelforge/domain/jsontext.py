"""Strict parsing of the JSON text callers send, and the check that text can be stored and echoed.

`json.loads` accepts what later breaks the server: a lone UTF-16 surrogate escape (`"\\ud800"`) parses into a
Python string that cannot be encoded as UTF-8, so the task is stored and every later read or list of it fails
to render; nesting thousands of levels deep raises `RecursionError` (not a `ValueError`); `1e400` becomes
an infinity that JSON cannot carry back out. `loads` refuses all three with a message that says what to fix.
It parses with pydantic-core's Rust parser (faster than `json` on large bodies), and raises
`json.JSONDecodeError` so every caller's `except ValueError` and FastAPI's own body handling treat it as the
invalid JSON it is.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

import pydantic_core

MAX_DEPTH = 201
"""pydantic-core's fixed nesting limit; no contract nests anywhere near this deep."""

_BIG_EXPONENT = re.compile(rb"[0-9.][eE][+]?0*[0-9]{3}")
"""Only a number with a three-digit exponent can overflow a float: the walk for infinities runs only then."""


class JsonTextError(json.JSONDecodeError):
    """JSON text the server refuses although it parses elsewhere, or that breaks the parser's limits (lone
    surrogates, nesting, overflow); `reason` says why in words a caller can act on. Plain syntax errors are
    `json.JSONDecodeError`, so each surface keeps its own wording for "not JSON"."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason, "", 0)
        self.reason = reason

    def __str__(self) -> str:
        return self.reason


def loads(raw: bytes | bytearray | str) -> Any:
    """Parse `raw` as JSON, refusing lone surrogates, nesting deeper than `MAX_DEPTH` and non-finite numbers."""
    data = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else bytes(raw)
    try:
        value = pydantic_core.from_json(data, allow_inf_nan=False)
    except ValueError as exc:
        reason = _reason(str(exc))
        if reason is None:
            raise json.JSONDecodeError(str(exc), "", 0) from None
        raise JsonTextError(reason) from None
    if _BIG_EXPONENT.search(data) and _has_non_finite(value):
        raise JsonTextError("a number is too large to represent (its exponent overflows a 64-bit float)")
    return value


def why(exc: ValueError) -> str:
    """`": <reason>"` for a `JsonTextError` (to append to a surface's "must be valid JSON"), else `""`."""
    return f": {exc}" if isinstance(exc, JsonTextError) else ""


def is_reason(text: object) -> bool:
    """Whether `text` is the reason of a `JsonTextError` (FastAPI hands errors on as their message only)."""
    return isinstance(text, str) and text.startswith(REASONS)


REASONS = ("a lone UTF-16 surrogate", "the JSON is nested deeper", "a number is too large")


def _reason(message: str) -> str | None:
    if "surrogate" in message or "hex escape" in message or "invalid unicode code point" in message:
        where = message[message.rfind(" at line ") :] if " at line " in message else ""
        return f"a lone UTF-16 surrogate escape (such as \\ud800 without its pair) or invalid Unicode{where}"
    if "recursion limit" in message:
        return f"the JSON is nested deeper than {MAX_DEPTH} levels"
    return None


def _has_non_finite(value: Any) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, float):
            if not math.isfinite(item):
                return True
        elif isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def unencodable_path(value: Any, path: str = "") -> str | None:
    """The JSON pointer of the first string (or key) in `value` that UTF-8 cannot encode, else None.

    Fast when there is none (one C-level encode); the walk that names the place runs only on a failure.
    """
    try:
        json.dumps(value, ensure_ascii=False, default=str).encode("utf-8")
        return None
    except UnicodeEncodeError:
        pass
    stack: list[tuple[str, Any]] = [(path, value)]
    while stack:
        where, item = stack.pop()
        if isinstance(item, str):
            if not _encodes(item):
                return where or "/"
        elif isinstance(item, dict):
            for key, child in item.items():
                if isinstance(key, str) and not _encodes(key):
                    return f"{where}/{_escape(key)}"
                stack.append((f"{where}/{_escape(str(key))}", child))
        elif isinstance(item, list | tuple):
            stack.extend((f"{where}/{index}", child) for index, child in enumerate(item))
    return path or "/"


def _encodes(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _escape(key: str) -> str:
    return (
        key.encode("utf-8", "backslashreplace")
        .decode("ascii", "backslashreplace")
        .replace("~", "~0")
        .replace("/", "~1")
    )
