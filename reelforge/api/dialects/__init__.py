"""One module per API contract in `shared/specs`; each parses its payloads into `GenerationRequest`s and
renders `Task`s in its own shape. `WEBHOOK_RENDERERS` maps a dialect name to its webhook body renderer."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from reelforge.domain.task import Task
from reelforge.edge.links import Links

WebhookRenderer = Callable[[Task, Links], dict[str, Any]]
WEBHOOK_RENDERERS: dict[str, WebhookRenderer] = {}
