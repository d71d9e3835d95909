"""An optional planner through any OpenAI-compatible chat endpoint (`POST {base}/chat/completions`).

The model is shown the assets by name and asked for an AVS Template JSON v1 that refers to them with
`source.uploadName`. Its answer is parsed and validated like a user's template; anything unusable
raises `PlannerError` and the caller falls back to the deterministic planner, so a flaky or confused
model never fails a job.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

import httpx

from reelforge.engines.creator.plan import PlannedAsset

SYSTEM_PROMPT = """You plan short videos as AVS Template JSON v1. Answer with one JSON object only:
{"version": "1", "name": str, "blocks": [block, ...]} where each block has "type" (video, image, text or
audio), "start" and "duration" in seconds on one timeline (later blocks layer over earlier ones), media
blocks have "source": {"uploadName": <one of the asset names given>} and text blocks have "text".
Use only the assets listed. Keep the total length as requested."""


class PlannerError(Exception):
    pass


@dataclass(frozen=True)
class ChatPlanner:
    base_url: str
    model: str
    api_key_env: str | None = None
    timeout: float = 60.0

    def plan(self, prompt: str, seconds: float, aspect: str, assets: list[PlannedAsset]) -> dict[str, Any]:
        """The model's template, with its `uploadName`s resolved to asset refs; PlannerError otherwise."""
        listing = [{"name": a.name, "type": a.type, "seconds": a.seconds} for a in assets]
        user = json.dumps({"prompt": prompt, "lengthSeconds": seconds, "aspectRatio": aspect, "assets": listing})
        headers = {}
        if self.api_key_env and os.environ.get(self.api_key_env):
            headers["Authorization"] = f"Bearer {os.environ[self.api_key_env]}"
        body = {
            "model": self.model,
            "messages": [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": user}],
            "response_format": {"type": "json_object"},
            "temperature": 0.2,
        }
        try:
            response = httpx.post(
                f"{self.base_url.rstrip('/')}/chat/completions",
                json=body,
                headers=headers,
                timeout=self.timeout,
                trust_env=False,
            )
            response.raise_for_status()
            content = response.json()["choices"][0]["message"]["content"]
            template = json.loads(_strip_fences(content))
        except (httpx.HTTPError, KeyError, IndexError, TypeError, ValueError) as exc:
            raise PlannerError(f"planner answered unusably: {type(exc).__name__}") from exc
        if not isinstance(template, dict) or not isinstance(template.get("blocks"), list):
            raise PlannerError("planner answer is not a template object")
        by_name = {a.name: a for a in assets}
        for block in template["blocks"]:
            if isinstance(block, dict) and isinstance(block.get("source"), dict):
                name = block["source"].get("uploadName")
                if name not in by_name:
                    raise PlannerError(f"planner used an asset that does not exist: {name!r}")
                block["source"] = {"ref": by_name[name].ref, "name": name}
        return template


def _strip_fences(content: str) -> str:
    text = content.strip()
    if text.startswith("```"):
        text = text.split("\n", 1)[1] if "\n" in text else ""
        text = text.rsplit("```", 1)[0]
    return text
