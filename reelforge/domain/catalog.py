"""`ModelSpec`: one public model name, the engine behind it, its rules and its price; `CatalogError`."""

from __future__ import annotations

import math
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from reelforge.domain.errors import ErrorCode, ReelforgeError
from reelforge.domain.request import GenerationRequest, Kind


class ModelSpec(BaseModel):
    """One `[models.<name>]` table of `models.toml`.

    `durations`, `aspect_ratios` and `max_prompts` are the contract's per-model rules; `settings` is
    passed to the engine untouched (resolution, fps, weights path ...).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    engine: str
    kind: Kind
    description: str = ""
    credits_per_second: float = 1.0
    credits_per_job: int = 0
    """A flat price per task (e.g. AVS: 5 for a render, 3 more for the creator step)."""
    credits_per_asset: dict[str, int] = Field(default_factory=dict)
    """Price per input asset by type (`video`, `image`, `audio`), as uploads are priced."""
    durations: list[int] = Field(default_factory=list)
    aspect_ratios: list[str] = Field(default_factory=list)
    max_prompts: int = 1
    segment_seconds: int = 5
    height: int = 720
    fps: int = 24
    standardize_sizes: bool = True
    """`/v1/videos`: map sizes to the Agnes tiers (480p/720p/1080p x 5 ratios); false keeps the requested
    size for engines with a size grid of their own (a diffusion model snaps to it)."""
    provider_names: dict[str, list[str]] = Field(default_factory=dict)
    """Other services' names for this model, by provider: the actions API's `provider` / `model` pair resolves
    through them (`{ kie = ["bytedance/seedance-2-mini"] }`), so a Modkie client's own names run here."""
    expected_seconds: float | None = Field(None, gt=0)
    """Typical wall-clock seconds one task of this model runs (a GPU model: minutes). Poll advice
    (`domain/polling.py`: `openai-poll-after-ms`, MCP `poll_after_ms`, `pollIntervalMs`) scales with it;
    unset, the output's length stands in."""
    sizes: list[str] = Field(default_factory=list)
    """`/v1/videos`: the only sizes (`WIDTHxHEIGHT`) the model takes, kept exactly (no standardisation);
    another size is a 400 listing them. OpenAI's Sora models: 720x1280, 1280x720, 1024x1792, 1792x1024."""
    default_size: str | None = None
    """`/v1/videos`: the size when none is asked for (OpenAI: 720x1280); the first of `sizes` when unset."""
    default_seconds: float | None = None
    """`/v1/videos`: the duration when none is asked for (OpenAI: 4); Agnes' 121 frames when unset."""
    settings: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _sizes(self) -> ModelSpec:
        for size in self.sizes:
            if not re.fullmatch(r"[1-9][0-9]*x[1-9][0-9]*", size):
                raise ValueError(f"sizes: {size!r} is not WIDTHxHEIGHT")
        if self.default_size is not None and self.default_size not in self.sizes:
            raise ValueError(f"default_size {self.default_size!r} must be one of sizes")
        return self

    def price(self, request: GenerationRequest) -> int:
        """Credits for `request`: seconds of output times the rate, rounded up to a whole credit, plus the
        flat and per-asset prices.

        Rounded up, never down: a 0.5 s video costs 1 credit at 1 credit/s, not 0, and 121 frames at 24 fps
        (5.04 s) cost 6. Every dialect prices through here, so they all agree. The product is rounded to
        micro-credits first, so float noise (4.000000001 s) does not cost a whole credit more.
        """
        per_asset = sum(self.credits_per_asset.get(asset.type, 0) for asset in request.assets)
        seconds = math.ceil(round(request.duration * self.credits_per_second, 6))
        total = seconds + self.credits_per_job + per_asset
        if request.extra.get("quality") == "preview":  # the compositor's preview tier: half price, rounded up
            return math.ceil(total / 2)
        return total


class Catalog(BaseModel):
    model_config = ConfigDict(frozen=True)

    models: dict[str, ModelSpec]

    def get(self, name: str) -> ModelSpec | None:
        return self.models.get(name)

    @property
    def names(self) -> list[str]:
        return sorted(self.models)

    def by_provider(self, provider: str, name: str) -> ModelSpec | None:
        """The model that `provider`'s model `name` maps to (`provider_names`), or None."""
        return next(
            (spec for spec in self.models.values() if name in spec.provider_names.get(provider, ())),
            None,
        )

    def provider_pairs(self) -> list[tuple[str, str, str]]:
        """Every mapped `(provider, provider's model name, catalog model)`, sorted."""
        return sorted(
            (provider, alias, spec.name)
            for spec in self.models.values()
            for provider, aliases in spec.provider_names.items()
            for alias in aliases
        )

    def duplicate_provider_names(self) -> list[str]:
        """A problem line for each provider/model pair that two models claim (the catalog refuses it)."""
        owners: dict[tuple[str, str], list[str]] = {}
        for provider, alias, model in self.provider_pairs():
            owners.setdefault((provider, alias), []).append(model)
        return [
            f"provider_names: {provider} / {alias} is claimed by {' and '.join(models)}; give it to one model"
            for (provider, alias), models in owners.items()
            if len(models) > 1
        ]


class CatalogError(ReelforgeError):
    """A `models.toml` that cannot be served: each problem names the model and the key.

    `reelforge serve`, `worker` and `mcp` print it and exit non-zero before starting anything.
    """

    def __init__(self, origin: str, problems: list[str]) -> None:
        self.origin = origin
        self.problems = problems
        super().__init__(ErrorCode.INTERNAL_ERROR, f"{origin} is invalid: " + "; ".join(problems))

    def report(self) -> str:
        """The problems one per line, for a terminal."""
        return f"{self.origin} is invalid:\n" + "\n".join(f"  {problem}" for problem in self.problems)


def describe_errors(
    exc: ValidationError, model: type[BaseModel] | None = None, prefix: str = "", hidden: frozenset[str] = frozenset()
) -> list[str]:
    """`key: what is wrong` for each error of `exc`, never echoing a value (a table may hold a secret).

    An unknown key lists the known ones when `model` is given and the key is at its top level.
    """
    problems = []
    for error in exc.errors(include_input=False, include_url=False):
        path = ".".join(str(part) for part in error["loc"])
        key = ".".join(part for part in (prefix, path) if part) or "(table)"
        if error["type"] == "extra_forbidden":
            message = "unknown key"
            if model is not None and len(error["loc"]) == 1:
                message += f" (known: {', '.join(sorted(set(model.model_fields) - hidden))})"
        elif error["type"] == "missing":
            message = "required"
        else:
            message = str(error["msg"]).removeprefix("Value error, ")
        problems.append(f"{key}: {message}")
    return problems
