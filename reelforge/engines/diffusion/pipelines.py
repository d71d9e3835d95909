"""Load a weights directory once and keep its pipelines resident, sharing one set of modules.

A 13B LTX transformer is ~26 GB in bf16; loading it per task would cost minutes and holding it twice
(once for text, once for image-to-video) would not fit. So `PipelineSet` loads the checkpoint once, on
the first task (never in `__init__` or `validate`: the API process builds engines too), and derives
the text, image and condition pipelines with `from_pipe`, which reuses the same transformer, VAE and
text encoder objects. Memory options (fp8 layerwise casting, VAE tiling, CPU offload) are applied to
the shared modules once.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import threading
from typing import Any

from reelforge.domain.errors import ErrorCode, ReelforgeError
from reelforge.engines.diffusion.settings import DiffusionSettings, local_weights

log = logging.getLogger(__name__)

# mode -> diffusers pipeline class name, per family. `first_last` is Wan's image-to-video with `last_image`.
PIPELINE_CLASSES: dict[str, dict[str, str]] = {
    "ltx": {"text": "LTXPipeline", "image": "LTXImageToVideoPipeline", "condition": "LTXConditionPipeline"},
    "ltx2": {"text": "LTX2Pipeline", "image": "LTX2ImageToVideoPipeline", "condition": "LTX2ConditionPipeline"},
    "wan": {"text": "WanPipeline", "image": "WanImageToVideoPipeline", "first_last": "WanImageToVideoPipeline"},
}


def resolve_device(device: str) -> str:
    """`auto` -> `cuda` when a GPU is visible (one worker per GPU: see docs/gpu.md), else `cpu`."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def resolve_dtype(dtype: str, device: str) -> Any:
    """`auto` -> bfloat16 on a GPU (what LTX and Wan are trained in), float32 on the CPU (bf16 matmuls
    are slow there and half precision would lose nothing but speed)."""
    import torch

    if dtype == "auto":
        return torch.bfloat16 if device.startswith("cuda") else torch.float32
    return getattr(torch, dtype)


def free_memory(device: str) -> None:
    """Drop what an interrupted or failed run left behind so the next task gets the memory."""
    gc.collect()
    if device.startswith("cuda"):
        import torch

        torch.cuda.empty_cache()


class PipelineSet:
    """The pipelines of one weights directory, loaded lazily once and reused by every task."""

    def __init__(self, settings: DiffusionSettings) -> None:
        self.settings = settings
        self.loads = 0  # how many times weights were read from disk (tests and metrics)
        self.device = ""
        self.dtype: Any = None
        self.vae_tiling = settings.vae_tiling
        self.cpu_offload = False
        self._pipes: dict[str, Any] = {}
        self._offloaded: Any = None  # the pipeline that currently owns the CPU-offload hooks
        self._lock = threading.Lock()
        self.run_lock = threading.Lock()  # held by an engine for a whole generation

    @property
    def loaded(self) -> bool:
        return bool(self._pipes)

    def get(self, mode: str) -> Any:
        """The pipeline for `mode`, loading the weights on first use."""
        with self._lock:
            if not self._pipes:
                self._load()
            pipe = self._pipes[mode]
            if self.cpu_offload and self._offloaded is not pipe:
                # Offload hooks live on the shared modules; move them to the pipeline about to run.
                if self._offloaded is not None:
                    self._offloaded.remove_all_hooks()
                pipe.enable_model_cpu_offload(device=self.device)
                self._offloaded = pipe
            return pipe

    def lighten(self) -> list[str]:
        """Switch on the memory savers not yet on (after an OOM); returns their names, empty if none are left."""
        changed = []
        with self._lock:
            if not self.vae_tiling:
                self._enable_vae_tiling()
                changed.append("vae_tiling")
            if not self.cpu_offload and self.device.startswith("cuda"):
                self._enable_cpu_offload()
                changed.append("cpu_offload")
        return changed

    def free(self) -> None:
        """Release hooks and cached memory after an interrupted run."""
        if self._offloaded is not None:
            with contextlib.suppress(Exception):
                self._offloaded.maybe_free_model_hooks()
        free_memory(self.device)

    def _load(self) -> None:
        settings = self.settings
        path = local_weights(settings.weights)
        if path is not None:
            if not path.is_dir():
                raise ReelforgeError(
                    ErrorCode.ENGINE_ERROR,
                    f"diffusion weights directory {path} does not exist; set 'weights' in "
                    "models.toml to a diffusers directory or a hub id",
                )
            if not (path / "model_index.json").is_file():
                raise ReelforgeError(
                    ErrorCode.ENGINE_ERROR,
                    f"diffusion weights directory {path} has no model_index.json; it must be a "
                    "diffusers-format checkpoint (the '-Diffusers' repos for Wan)",
                )
        source = str(path) if path is not None else settings.weights
        try:
            import diffusers
            import torch
        except ImportError as exc:
            raise ReelforgeError(
                ErrorCode.ENGINE_ERROR,
                f"the diffusion engine needs the 'diffusion' extra (pip install 'reelforge[diffusion]'): {exc}",
            ) from None
        self.device = resolve_device(settings.device)
        self.dtype = resolve_dtype(settings.dtype, self.device)
        classes = PIPELINE_CLASSES[settings.family]
        wanted = {mode: name for mode, name in classes.items() if _mode_needed(mode, settings)}
        # diffusers 0.36+ renamed `torch_dtype` to `dtype` (the old name warns); older ones know only the old.
        dtype_kwarg = {
            "dtype" if hasattr(diffusers.pipelines.pipeline_utils, "_resolve_dtype") else "torch_dtype": self.dtype
        }
        try:
            base = diffusers.DiffusionPipeline.from_pretrained(source, **dtype_kwarg)
            pipes: dict[str, Any] = {}
            by_class: dict[str, Any] = {}
            for mode, class_name in wanted.items():
                cls = getattr(diffusers, class_name, None)
                if cls is None:
                    log.warning(
                        "diffusers %s has no %s; %s requests will fail", diffusers.__version__, class_name, mode
                    )
                    continue
                if class_name not in by_class:
                    # from_pipe shares the modules; the dtype keeps it from casting them to float32.
                    by_class[class_name] = base if type(base) is cls else cls.from_pipe(base, **dtype_kwarg)
                pipes[mode] = by_class[class_name]
        except Exception as exc:  # any failure to load is the weights' (or the install's) fault: name the path
            raise ReelforgeError(
                ErrorCode.ENGINE_ERROR, f"could not load diffusion weights from {source}: {type(exc).__name__}: {exc}"
            ) from exc
        for pipe in pipes.values():
            pipe.set_progress_bar_config(disable=True)
        if settings.layerwise_fp8:
            base.transformer.enable_layerwise_casting(storage_dtype=torch.float8_e4m3fn, compute_dtype=self.dtype)
        if self.vae_tiling:
            self._enable_vae_tiling(base)
        self._pipes = pipes
        if settings.cpu_offload and self.device.startswith("cuda"):
            self._enable_cpu_offload()
        else:
            base.to(self.device)  # the derived pipelines hold the same modules
        self.loads += 1
        log.info("loaded %s weights from %s on %s (%s)", settings.family, source, self.device, self.dtype)

    def _enable_vae_tiling(self, pipe: Any = None) -> None:
        pipe = pipe if pipe is not None else next(iter(self._pipes.values()))
        pipe.vae.enable_tiling()
        self.vae_tiling = True

    def _enable_cpu_offload(self) -> None:
        # Hooks are attached on the next `get`, to the pipeline about to run.
        self.cpu_offload = True
        self._offloaded = None


_SHARED: dict[tuple[object, ...], PipelineSet] = {}
_SHARED_LOCK = threading.Lock()


def shared_pipelines(settings: DiffusionSettings) -> PipelineSet:
    """The process-wide `PipelineSet` for these weights and load options.

    The worker builds one engine per model name, and a catalog often lists one checkpoint under several
    names (a text and an image model, two prices); the creator engine builds clip engines as it goes.
    Keyed by everything that changes what is loaded, they all share one resident copy of the weights.
    """
    key = (
        settings.family,
        settings.weights,
        settings.device,
        settings.dtype,
        settings.layerwise_fp8,
        settings.cpu_offload,
        settings.vae_tiling,
        settings.kinds,
    )
    with _SHARED_LOCK:
        pipelines = _SHARED.get(key)
        if pipelines is None:
            pipelines = _SHARED[key] = PipelineSet(settings)
        return pipelines


def _mode_needed(mode: str, settings: DiffusionSettings) -> bool:
    from reelforge.domain.request import Kind

    kinds = settings.kinds
    return {
        "text": Kind.TEXT_TO_VIDEO in kinds,
        "image": Kind.IMAGE_TO_VIDEO in kinds,
        "condition": bool(kinds & {Kind.KEYFRAMES, Kind.MULTI_IMAGE}),
        "first_last": Kind.KEYFRAMES in kinds,
    }[mode]
