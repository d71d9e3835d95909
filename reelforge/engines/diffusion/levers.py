"""The speed levers of a diffusion model, applied once to its loaded transformer (docs/gpu.md, "Speed levers").

Every lever is a library call, not a kernel of ours: diffusers' attention dispatcher (`set_attention_backend`),
torchao's fp8 quantization (`quantize_` with `Float8DynamicActivationFloat8WeightConfig`), diffusers' cache
hooks (`enable_cache` with `FirstBlockCacheConfig`, `MagCacheConfig`, `TaylorSeerCacheConfig`) and
`torch.compile` (`compile_repeated_blocks` for regional compilation, `Module.compile` for the whole model).

`host_problems` is the start-up check of what the settings need from the machine (an fp8-capable GPU, the
attention backend's package, enough GPUs): a worker refuses to start with a sentence per problem instead of
failing its first task. Applying happens in the order the libraries expect: attention backend, quantization,
cache hooks, then compilation (which traces what the others installed).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reelforge.engines.diffusion.settings import DiffusionSettings

log = logging.getLogger(__name__)

# An operator's own TORCHINDUCTOR_CACHE_DIR, read before torch is imported (inductor sets the variable to its
# /tmp default the first time it compiles, after which the two cannot be told apart).
_OPERATOR_INDUCTOR_DIR = os.environ.get("TORCHINDUCTOR_CACHE_DIR")

FP8_MIN_CAPABILITY = (8, 9)  # Ada (sm_89) and Hopper (sm_90) onwards have fp8 tensor cores

# The attention modules TaylorSeer forecasts. Its default patterns match modules named exactly `attn` (Flux);
# LTX's and Wan's blocks name theirs attn1/attn2, LTX-2's also audio_attn1, audio_to_video_attn, ...
TAYLORSEER_MODULES = (r"(transformer_)?blocks\.\d+\.[a-z_0-9]*attn[a-z_0-9]*",)


def inductor_cache_dir(settings: DiffusionSettings) -> Path:
    """Where compiled kernels persist between worker restarts: the setting, else `<data dir>/inductor-cache`."""
    if settings.compile_cache_dir:
        return Path(settings.compile_cache_dir).expanduser()
    if _OPERATOR_INDUCTOR_DIR:
        return Path(_OPERATOR_INDUCTOR_DIR)
    from reelforge.config import default_data_dir

    data_dir = os.environ.get("REELFORGE_DATA_DIR")
    return (Path(data_dir).expanduser() if data_dir else default_data_dir()) / "inductor-cache"


def host_problems(settings: DiffusionSettings, device: str) -> list[str]:
    """What this machine lacks for `settings`' levers, one sentence each (empty: it can run them)."""
    import torch

    problems = []
    if settings.quantize == "fp8":
        if not device.startswith("cuda"):
            problems.append(
                f"quantize = 'fp8' needs a CUDA GPU with fp8 compute (Ada, Hopper or newer); this worker runs on "
                f"{device}. Use layerwise_fp8 = true (fp8 storage only) or quantize = 'off'"
            )
        else:
            index = torch.device(device).index or 0
            capability = torch.cuda.get_device_capability(index)
            if capability < FP8_MIN_CAPABILITY:
                name = torch.cuda.get_device_name(index)
                problems.append(
                    f"quantize = 'fp8' needs fp8 compute (compute capability 8.9+: Ada, Hopper or newer); {name} "
                    f"is {capability[0]}.{capability[1]}. Use layerwise_fp8 = true (fp8 storage, bf16 compute)"
                )
        try:
            import torchao.quantization  # noqa: F401
        except ImportError:
            problems.append("quantize = 'fp8' needs torchao: pip install 'torchao>=0.14'")
    if settings.attention != "native":
        from diffusers.models.attention_dispatch import AttentionBackendName, _check_attention_backend_requirements

        try:
            _check_attention_backend_requirements(AttentionBackendName(settings.attention))
        except (RuntimeError, ImportError) as exc:
            problems.append(f"attention = {settings.attention!r} cannot run here: {exc}")
        if not device.startswith("cuda") and settings.attention not in ("flex", "_native_math"):
            problems.append(f"attention = {settings.attention!r} needs a CUDA GPU; this worker runs on {device}")
    if settings.context_parallel > 1:
        visible = torch.cuda.device_count() if torch.cuda.is_available() else 0
        world = int(os.environ.get("WORLD_SIZE", "1"))
        if visible < settings.context_parallel:
            problems.append(
                f"context_parallel = {settings.context_parallel} needs {settings.context_parallel} GPUs in this "
                f"worker; {visible} visible (CUDA_VISIBLE_DEVICES)"
            )
        elif world != settings.context_parallel:
            problems.append(
                f"context_parallel = {settings.context_parallel} runs one process per GPU: start the worker with "
                f"torchrun --nproc-per-node {settings.context_parallel} (WORLD_SIZE is {world})"
            )
    return problems


@dataclass
class Applied:
    """What was switched on, for logs and the bench's table."""

    attention: str = "native"
    quantize: str = "off"
    cache: str = "off"
    cache_steps: int = 0  # the step count a MagCache config was built for
    compile: str = "off"


def apply_levers(transformer: Any, settings: DiffusionSettings, device: str) -> Applied:
    """Switch on the levers `settings` names on the loaded (and placed) transformer."""
    applied = Applied()
    if settings.attention != "native":
        transformer.set_attention_backend(settings.attention)
        applied.attention = settings.attention
    if settings.quantize == "fp8":
        _quantize_fp8(transformer)
        applied.quantize = "fp8"
    if settings.context_parallel > 1:
        from diffusers import ContextParallelConfig

        transformer.enable_parallelism(config=ContextParallelConfig(ulysses_degree=settings.context_parallel))
    if settings.cache != "off":
        set_cache(transformer, settings, settings.default_steps, applied)
    if settings.compile != "off":
        compile_transformer(transformer, settings)
        applied.compile = settings.compile
    return applied


def _quantize_fp8(transformer: Any) -> None:
    """Weights in fp8 (e4m3) and activations quantized per row on the fly: fp8 matmuls on the tensor cores."""
    from torchao.quantization import Float8DynamicActivationFloat8WeightConfig, PerRow, quantize_

    quantize_(transformer, Float8DynamicActivationFloat8WeightConfig(granularity=PerRow()))


def cache_config(settings: DiffusionSettings, steps: int, dtype: Any) -> Any:
    """The diffusers cache config the settings name, for a run of `steps` denoising steps in `dtype`."""
    if settings.cache == "first_block":
        from diffusers import FirstBlockCacheConfig

        return FirstBlockCacheConfig(threshold=settings.cache_threshold or 0.05)
    if settings.cache == "mag":
        from diffusers import MagCacheConfig

        return MagCacheConfig(
            threshold=settings.cache_threshold or 0.06,
            max_skip_steps=settings.cache_max_skip_steps,
            retention_ratio=settings.cache_retention_ratio,
            num_inference_steps=steps,  # the calibrated ratios are interpolated to it
            mag_ratios=list(settings.cache_mag_ratios) or None,
            calibrate=settings.cache_calibrate,
        )
    from diffusers import TaylorSeerCacheConfig

    return TaylorSeerCacheConfig(
        cache_interval=settings.cache_interval,
        disable_cache_before_step=settings.cache_start_step,
        max_order=settings.cache_max_order,
        taylor_factors_dtype=dtype,  # bf16 on a GPU, as diffusers suggests; float32 on the CPU
        cache_identifiers=list(TAYLORSEER_MODULES),
    )


def set_cache(transformer: Any, settings: DiffusionSettings, steps: int, applied: Applied) -> None:
    """Attach (or re-attach, for another step count: MagCache counts steps) the cache hooks."""
    _register_ltx2_blocks()
    if transformer.is_cache_enabled:
        transformer.disable_cache()
    transformer.enable_cache(cache_config(settings, steps, transformer.dtype))
    applied.cache = settings.cache
    applied.cache_steps = steps


def compile_transformer(transformer: Any, settings: DiffusionSettings) -> None:
    """`torch.compile` with a persistent inductor cache: a restarted worker reuses the kernels it built."""
    import torch

    cache_dir = inductor_cache_dir(settings)
    cache_dir.mkdir(parents=True, exist_ok=True)
    os.environ["TORCHINDUCTOR_CACHE_DIR"] = str(cache_dir)  # read by inductor whenever it caches
    torch._inductor.config.fx_graph_cache = True
    options: dict[str, Any] = {"backend": settings.compile_backend}
    if settings.compile_backend == "inductor":
        options["mode"] = settings.compile_mode
    if settings.compile == "regional" and getattr(transformer, "_repeated_blocks", None):
        transformer.compile_repeated_blocks(fullgraph=False, **options)
    else:
        if settings.compile == "regional":
            log.warning("%s has no repeated blocks declared; compiling it whole", type(transformer).__name__)
        transformer.compile(**options)


_LTX2_REGISTERED = False


def _register_ltx2_blocks() -> None:
    """Teach diffusers' block caches (first-block, MagCache) LTX-2's audio-video block.

    diffusers 0.42 registers LTX-Video's and Wan's blocks but not LTX-2's, whose block takes and returns two
    streams, video and audio (`hidden_states`, `audio_hidden_states`). The caches already handle two-stream
    blocks (Flux's image and text streams) through the block's metadata; the one thing to adapt is that their
    hooks look the second stream up under the name `encoder_hidden_states`, which in LTX-2 is the prompt.
    """
    global _LTX2_REGISTERED
    if _LTX2_REGISTERED:
        return
    from diffusers.hooks._helpers import TransformerBlockMetadata, TransformerBlockRegistry

    try:
        from diffusers.models.transformers.transformer_ltx2 import LTX2VideoTransformerBlock
    except ImportError:  # a diffusers without LTX-2
        _LTX2_REGISTERED = True
        return

    class _AudioVideoBlockMetadata(TransformerBlockMetadata):  # type: ignore[misc]
        def _get_parameter_from_args_kwargs(self, identifier: str, args: Any = (), kwargs: Any = None) -> Any:
            if identifier == "encoder_hidden_states":
                identifier = "audio_hidden_states"
            return super()._get_parameter_from_args_kwargs(identifier, args, kwargs)

    try:
        TransformerBlockRegistry.get(LTX2VideoTransformerBlock)
    except ValueError:
        TransformerBlockRegistry.register(
            LTX2VideoTransformerBlock,
            _AudioVideoBlockMetadata(return_hidden_states_index=0, return_encoder_hidden_states_index=1),
        )
    _LTX2_REGISTERED = True
