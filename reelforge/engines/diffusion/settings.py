"""`DiffusionSettings`: a model's `models.toml` table for the diffusion engine, checked once at start-up.

Pure Python on purpose: the API process builds engines to validate requests and must not need torch.
A wrong setting is an operator's mistake: parsing raises `pydantic.ValidationError` (a `ValueError`) naming
the key, and `reelforge serve` / `worker` / `mcp` refuse to start with it (`engines.base.build_engines`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from reelforge.domain.request import Kind
from reelforge.engines.base import EngineSettings

Family = Literal["ltx", "ltx2", "wan"]
FAMILIES: tuple[str, ...] = ("ltx", "ltx2", "wan")
DTYPES = ("auto", "float32", "bfloat16", "float16")

# Frames a model is trained for; more rarely works and costs memory quadratically in attention.
DEFAULT_MAX_FRAMES = {"ltx": 257, "ltx2": 257, "wan": 81}
DEFAULT_STEPS = {"ltx": 40, "ltx2": 40, "wan": 40}

_LTX_KINDS = frozenset({Kind.TEXT_TO_VIDEO, Kind.IMAGE_TO_VIDEO, Kind.KEYFRAMES, Kind.MULTI_IMAGE})
_WAN_T2V = frozenset({Kind.TEXT_TO_VIDEO})
_WAN_TI2V = frozenset({Kind.TEXT_TO_VIDEO, Kind.IMAGE_TO_VIDEO})
_WAN_I2V = frozenset({Kind.IMAGE_TO_VIDEO, Kind.KEYFRAMES})


class DiffusionSettings(EngineSettings):
    """What one diffusion model entry configures; see docs/gpu.md for examples.

    After parsing, `kinds`, `max_frames` and `default_steps` hold the effective values (the family's and
    the weights' defaults filled in).
    """

    family: Family
    weights: str  # a local diffusers directory or a Hugging Face hub id
    device: str = "auto"  # auto -> cuda when available, else cpu
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"  # auto -> bfloat16 on a GPU, float32 on CPU
    cpu_offload: bool = False  # keep only the running sub-model on the GPU (needs accelerate)
    vae_tiling: bool = False  # decode in tiles: large frames in a fraction of the memory
    layerwise_fp8: bool = False  # store transformer weights in fp8, compute in dtype: about half the memory
    max_frames: int = Field(0, ge=0)  # 0 -> the family's default
    default_steps: int = Field(0, ge=0)  # 0 -> the family's default; a request's `steps` wins
    oom_retry: bool = True  # after CUDA OOM, retry once with VAE tiling and CPU offload switched on
    guidance_scale: float | None = None  # None -> the pipeline's default (distilled models want 1.0)
    kinds: frozenset[Kind] = frozenset()  # empty -> what the family and weights do
    pipeline_kwargs: dict[str, Any] = Field(default_factory=dict)  # passed to every pipeline call
    strict_sizes: bool = False  # True: 400 for sizes/frame counts the model cannot make, instead of snapping
    max_side: int = Field(2048, ge=16)
    crf: int = Field(18, ge=0, le=51)
    preset: str = "medium"
    threads: int = Field(4, ge=0)

    @field_validator("family", mode="before")
    @classmethod
    def _lower_family(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value

    @field_validator("weights")
    @classmethod
    def _weights_given(cls, value: str) -> str:
        if not value.strip():
            raise ValueError(
                "required: a local diffusers directory or a Hugging Face hub id such as 'Lightricks/LTX-Video'"
            )
        return value

    @model_validator(mode="after")
    def _effective(self) -> DiffusionSettings:
        self._derive(
            kinds=self.kinds or default_kinds(self.family, self.weights),
            max_frames=self.max_frames or DEFAULT_MAX_FRAMES[self.family],
            default_steps=self.default_steps or DEFAULT_STEPS[self.family],
        )
        return self


def local_weights(weights: str) -> Path | None:
    """The local directory `weights` names, or None for a hub id.

    Anything that exists on disk, or looks like a path (absolute, `./`, `~`), is local, so a typo in a
    path fails with "not found" rather than an attempt to download `/srv/modles/ltx` from the hub.
    """
    path = Path(weights).expanduser()
    if path.exists() or weights.startswith(("/", ".", "~")) or weights.count("/") != 1:
        return path
    return None


def default_kinds(family: str, weights: str) -> frozenset[Kind]:
    """What the weights can do, without loading them.

    LTX-Video and LTX-2 checkpoints do all four kinds (text, image and condition pipelines share one
    transformer).
    Wan checkpoints are one of: text-only (2.1 T2V), image-only with first-and-last-frame (I2V, FLF2V), or
    both (2.2 TI2V-5B); a local directory's `model_index.json` says which, a hub id's name does otherwise.
    """
    if family in ("ltx", "ltx2"):
        return _LTX_KINDS
    path = local_weights(weights)
    index = path / "model_index.json" if path is not None else None
    if index is not None and index.is_file():
        try:
            config = json.loads(index.read_text())
        except (OSError, ValueError):
            return _WAN_T2V
        if config.get("_class_name") == "WanImageToVideoPipeline":
            return _WAN_I2V
        return _WAN_TI2V if config.get("expand_timesteps") else _WAN_T2V
    name = weights.upper()
    if "TI2V" in name:
        return _WAN_TI2V
    if "I2V" in name or "FLF2V" in name:
        return _WAN_I2V
    return _WAN_T2V
