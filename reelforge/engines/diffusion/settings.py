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

# The speed levers (docs/gpu.md, "Speed levers"); each is off unless the model's table turns it on.
Compile = Literal["off", "regional", "full"]
CompileMode = Literal["default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs"]
Cache = Literal["off", "first_block", "mag", "taylorseer"]
Quantize = Literal["off", "fp8"]
# The names of diffusers' attention dispatcher (diffusers.models.attention_dispatch.AttentionBackendName, 0.42),
# listed here so that the API process, which need not have diffusers, can check the spelling.
ATTENTION_BACKENDS = (
    "native",
    "flash",
    "flash_hub",
    "flash_varlen",
    "flash_varlen_hub",
    "flash_4_hub",
    "_flash_3",
    "_flash_varlen_3",
    "_flash_3_hub",
    "_flash_3_varlen_hub",
    "aiter_fa2_hub",
    "flex",
    "_native_cudnn",
    "_native_efficient",
    "_native_flash",
    "_native_math",
    "sage",
    "sage_hub",
    "sage_blackwell_hub",
    "sage_varlen",
    "_sage_qk_int8_pv_fp8_cuda",
    "_sage_qk_int8_pv_fp8_cuda_sm90",
    "_sage_qk_int8_pv_fp16_cuda",
    "_sage_qk_int8_pv_fp16_triton",
    "xformers",
)
# Each family's standard clip, the shape a warm-up compiles for (width, height, frames).
DEFAULT_WARMUP_SHAPE = {"ltx": (768, 512, 121), "ltx2": (768, 512, 121), "wan": (832, 480, 81)}

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
    audio: bool = True  # LTX-2: mux the soundtrack it generates into the MP4 (AAC); false: a silent MP4
    audio_bitrate: int = Field(192_000, ge=32_000, le=512_000)

    # --- speed levers (docs/gpu.md); all off by default ---
    compile: Compile = "off"  # torch.compile the transformer: its repeated blocks (regional) or whole (full)
    compile_mode: CompileMode = "default"  # max-autotune costs minutes cold and gains little on these models
    compile_backend: Literal["inductor", "aot_eager", "eager"] = "inductor"  # others: debugging, CPU tests
    compile_cache_dir: str = ""  # inductor's persistent cache; "" -> <data dir>/inductor-cache
    warmup: bool | None = None  # a short generation when the weights load; None -> on when compile is on
    warmup_shape: tuple[int, int, int] | None = None  # width, height, frames; None -> the family's clip
    warmup_steps: int = Field(2, ge=1, le=50)
    preload: bool | None = None  # load (and warm up) when the worker starts; None -> when it warms up
    cache: Cache = "off"  # reuse transformer outputs between steps (diffusers' cache hooks)
    cache_threshold: float | None = Field(None, gt=0.0, le=1.0)  # first_block 0.05, mag 0.06 when None
    cache_max_skip_steps: int = Field(3, ge=1)  # mag: most consecutive steps skipped
    cache_retention_ratio: float = Field(0.2, ge=0.0, le=1.0)  # mag: the first fraction of steps never skipped
    cache_mag_ratios: list[float] = Field(default_factory=list)  # mag: the checkpoint's calibrated ratios
    cache_calibrate: bool = False  # mag: skip nothing, log the ratios of this checkpoint (to fill the above)
    cache_interval: int = Field(5, ge=1)  # taylorseer: full computations every n steps
    cache_start_step: int = Field(3, ge=0)  # taylorseer: full computations before this step
    cache_max_order: int = Field(1, ge=1, le=4)  # taylorseer: Taylor expansion order
    quantize: Quantize = "off"  # fp8: weights and matmuls in fp8 (torchao); needs fp8 compute (Ada, Hopper+)
    attention: str = "native"  # diffusers' attention backend: native, flash, _flash_3, sage, xformers, ...
    context_parallel: int = Field(1, ge=1, le=64)  # GPUs of one worker sharing each request (Ulysses)

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

    @field_validator("attention", mode="before")
    @classmethod
    def _known_backend(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = value.strip().lower()
            if value not in ATTENTION_BACKENDS:
                raise ValueError(f"unknown attention backend {value!r}; one of: {', '.join(ATTENTION_BACKENDS)}")
        return value

    @field_validator("warmup_shape")
    @classmethod
    def _warmup_shape(cls, value: tuple[int, int, int] | None) -> tuple[int, int, int] | None:
        if value is not None and min(value) < 1:
            raise ValueError("warmup_shape is [width, height, frames], each at least 1")
        return value

    @model_validator(mode="after")
    def _levers(self) -> DiffusionSettings:
        if self.cache == "mag" and not self.cache_mag_ratios and not self.cache_calibrate:
            raise ValueError(
                "cache = 'mag' needs the checkpoint's magnitude ratios: set cache_mag_ratios = [...] "
                "(run once with cache_calibrate = true to print them), or use cache = 'first_block'"
            )
        if self.quantize == "fp8" and self.layerwise_fp8:
            raise ValueError(
                "quantize = 'fp8' (fp8 weights and compute) and layerwise_fp8 (fp8 storage, bf16 compute) "
                "exclude each other; keep one"
            )
        if self.context_parallel > 1 and self.cpu_offload:
            raise ValueError(
                "context_parallel keeps the transformer on every GPU; it cannot be combined with cpu_offload"
            )
        return self

    @property
    def warms_up(self) -> bool:
        """Whether loading the weights ends with a warm-up generation (compile's first graphs)."""
        return self.compile != "off" if self.warmup is None else self.warmup

    @property
    def preloads(self) -> bool:
        """Whether a worker loads these weights when it starts rather than on the first task."""
        return self.warms_up if self.preload is None else self.preload

    @property
    def effective_warmup_shape(self) -> tuple[int, int, int]:
        return self.warmup_shape or DEFAULT_WARMUP_SHAPE[self.family]

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
