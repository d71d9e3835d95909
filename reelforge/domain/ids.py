"""Identifiers: unguessable, URL-safe, sortable enough to read in logs."""

from __future__ import annotations

import secrets
import string

_ALPHABET = string.ascii_lowercase + string.digits


def new_id(prefix: str, length: int = 22) -> str:
    return prefix + "".join(secrets.choice(_ALPHABET) for _ in range(length))


def new_task_id() -> str:
    """Task ids look like the hosted AIVideoMaker API's (`ck...`), so clients' id checks keep passing."""
    return new_id("ck")
