"""`DiffusionSettings`: a model's `models.toml` table for the diffusion engine, checked once at start-up.

Pure Python on purpose: the API process builds engines to validate requests and must not need torch.
A wrong setting is an operator's mistake, so it raises `ValueError` naming the key when the engine is
created, not a user-facing error on the first task.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from reelforge.domain.request import Kind

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

_KNOWN_KEYS = {
    "family",
    "weights",
    "device",
    "dtype",
    "cpu_offload",
    "vae_tiling",
    "layerwise_fp8",
    "max_frames",
    "default_steps",
    "oom_retry",
    "guidance_scale",
    "kinds",
    "pipeline_kwargs",
    "strict_sizes",
    "max_side",
    "crf",
    "preset",
    "threads",
}


@dataclass(frozen=True)
class DiffusionSettings:
    """What one diffusion model entry configures; see docs/gpu.md for examples."""

    family: Family
    weights: str  # a local diffusers directory or a Hugging Face hub id
    device: str = "auto"  # auto -> cuda when available, else cpu
    dtype: str = "auto"  # auto -> bfloat16 on a GPU, float32 on the CPU
    cpu_offload: bool = False  # keep only the running sub-model on the GPU (needs accelerate)
    vae_tiling: bool = False  # decode in tiles: large frames in a fraction of the memory
    layerwise_fp8: bool = False  # store transformer weights in fp8, compute in dtype: about half the memory
    max_frames: int = 0  # 0 -> the family's default
    default_steps: int = 0  # 0 -> the family's default; a request's `steps` wins
    oom_retry: bool = True  # after CUDA OOM, retry once with VAE tiling and CPU offload switched on
    guidance_scale: float | None = None  # None -> the pipeline's default (distilled models want 1.0)
    kinds: frozenset[Kind] = field(default_factory=frozenset)  # empty -> what the family and weights do
    pipeline_kwargs: dict[str, Any] = field(default_factory=dict)  # passed to every pipeline call
    strict_sizes: bool = False  # True: 400 for sizes/frame counts the model cannot make, instead of snapping
    max_side: int = 2048
    crf: int = 18
    preset: str = "medium"
    threads: int = 4

    @classmethod
    def from_table(cls, table: dict[str, Any]) -> DiffusionSettings:
        unknown = set(table) - _KNOWN_KEYS
        if unknown:
            raise ValueError(
                f"unknown diffusion engine settings: {', '.join(sorted(unknown))}; "
                f"known: {', '.join(sorted(_KNOWN_KEYS))}"
            )
        family = str(table.get("family", "")).lower()
        if family not in FAMILIES:
            raise ValueError(
                f"diffusion engine setting 'family' must be one of {', '.join(FAMILIES)}, got {table.get('family')!r}"
            )
        weights = str(table.get("weights") or "")
        if not weights:
            raise ValueError(
                "diffusion engine setting 'weights' is required: a local diffusers directory "
                "or a Hugging Face hub id such as 'Lightricks/LTX-Video'"
            )
        dtype = str(table.get("dtype", "auto"))
        if dtype not in DTYPES:
            raise ValueError(f"diffusion engine setting 'dtype' must be one of {', '.join(DTYPES)}, got {dtype!r}")
        kinds = frozenset(Kind(k) for k in table.get("kinds", ())) or default_kinds(family, weights)
        max_frames = int(table.get("max_frames", 0)) or DEFAULT_MAX_FRAMES[family]
        steps = int(table.get("default_steps", 0)) or DEFAULT_STEPS[family]
        if max_frames < 1 or steps < 1:
            raise ValueError("diffusion engine settings 'max_frames' and 'default_steps' must be positive")
        guidance = table.get("guidance_scale")
        return cls(
            family=family,  # type: ignore[arg-type]
            weights=weights,
            device=str(table.get("device", "auto")),
            dtype=dtype,
            cpu_offload=bool(table.get("cpu_offload", False)),
            vae_tiling=bool(table.get("vae_tiling", False)),
            layerwise_fp8=bool(table.get("layerwise_fp8", False)),
            max_frames=max_frames,
            default_steps=steps,
            oom_retry=bool(table.get("oom_retry", True)),
            guidance_scale=None if guidance is None else float(guidance),
            kinds=kinds,
            pipeline_kwargs=dict(table.get("pipeline_kwargs", {})),
            strict_sizes=bool(table.get("strict_sizes", False)),
            max_side=int(table.get("max_side", 2048)),
            crf=int(table.get("crf", 18)),
            preset=str(table.get("preset", "medium")),
            threads=int(table.get("threads", 4)),
        )


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
