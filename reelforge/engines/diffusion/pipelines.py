"""Load a weights directory once and keep its pipelines resident, sharing one set of modules.

A 13B LTX transformer is ~26 GB in bf16; loading it per task would cost minutes and holding it twice
(once for text, once for image-to-video) would not fit. So `PipelineSet` loads the checkpoint once, on
the first task (never in `__init__` or `validate`: the API process builds engines too), and derives
the text, image and condition pipelines with `from_pipe`, which reuses the same transformer, VAE and
text encoder objects. Memory options (fp8 layerwise casting, VAE tiling, CPU offload) and the speed levers
(`levers.py`: attention backend, fp8, cache hooks, torch.compile) are applied to the shared modules once.

With `compile` on (or `warmup = true`), loading ends with a warm-up: a short generation at the family's
standard clip size, so the compiler's first graphs are built before a user waits on them. Loading and the
warm-up run either on the first task or, when the worker starts (`preload`, see `DiffusionEngine.start`),
on a background thread; a task that arrives meanwhile waits for them and shows the phases `loading` and
`warming`, with its progress moving through the warm-up's steps (`ensure`'s listener).
"""

from __future__ import annotations

import contextlib
import gc
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from reelforge.domain.errors import ErrorCode, ReelforgeError
from reelforge.engines.diffusion.levers import Applied, apply_levers, set_cache
from reelforge.engines.diffusion.settings import DiffusionSettings, local_weights

log = logging.getLogger(__name__)
_LOAD_LOCK = threading.Lock()

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


# (phase, fraction done 0..1) while loading and warming up; phase is "loading" or "warming".
Listener = Callable[[str, float], None]


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
        self.applied = Applied()
        self.state = "idle"  # idle -> loading -> warming -> ready (back to idle after a failed load)
        self.load_seconds = 0.0
        self.warmup_seconds = 0.0
        self._lock = threading.Lock()
        self._ready = threading.Condition()
        self._listeners: list[Listener] = []
        self._progress: tuple[str, float] = ("loading", 0.0)
        self.run_lock = threading.Lock()  # held by an engine for a whole generation

    @property
    def loaded(self) -> bool:
        return bool(self._pipes)

    def ensure(self, listener: Listener | None = None) -> bool:
        """Load and warm up unless done; True when this call did it or waited for it (its seconds count
        for the caller's task). A listener hears each phase and the warm-up's progress."""
        with self._ready:
            if self.state == "ready":
                return False
            if listener is not None:
                self._listeners.append(listener)
                listener(*self._progress)
            while self.state in ("loading", "warming"):  # the preload thread is at it: wait for it
                self._ready.wait()
            if self.state == "ready":
                self._drop(listener)
                return True
            self.state = "loading"  # idle (never loaded, or the last attempt failed): ours to do
        try:
            self._notify("loading", 0.0)
            started = time.perf_counter()
            with self._lock:
                if not self._pipes:
                    self._load()
            self.load_seconds = time.perf_counter() - started
            if self.settings.warms_up:
                with self._ready:
                    self.state = "warming"
                self._notify("warming", 0.0)
                started = time.perf_counter()
                self._warm_up()
                self.warmup_seconds = time.perf_counter() - started
        except BaseException:
            with self._ready:
                self.state = "idle"
                self._ready.notify_all()
                self._drop(listener)
            raise
        with self._ready:
            self.state = "ready"
            self._ready.notify_all()
            self._drop(listener)
        return True

    def start_preload(self) -> threading.Thread:
        """Load and warm up on a background thread (a worker's start); failures are logged, and the
        next task tries again and reports the error."""

        def preload() -> None:
            try:
                self.ensure()
            except BaseException as exc:  # the next task loads again and fails with the message
                log.error("preloading %s weights failed: %s", self.settings.family, exc)

        thread = threading.Thread(target=preload, name=f"preload-{self.settings.family}", daemon=True)
        thread.start()
        return thread

    def _drop(self, listener: Listener | None) -> None:
        if listener is not None and listener in self._listeners:
            self._listeners.remove(listener)

    def _notify(self, phase: str, fraction: float) -> None:
        self._progress = (phase, fraction)
        for listener in list(self._listeners):
            with contextlib.suppress(Exception):  # a listener's trouble must not fail the load
                listener(phase, fraction)

    def _warm_up(self) -> None:
        """One short generation at the standard clip size: compiles the graphs the first task would wait on."""
        import torch

        width, height, frames = self.settings.effective_warmup_shape
        mode = "text" if "text" in self._pipes else next(iter(self._pipes))
        pipe = self._pipes[mode]
        steps = self.settings.warmup_steps

        def on_step_end(_pipe: Any, step: int, _t: Any, tensors: dict[str, Any]) -> dict[str, Any]:
            self._notify("warming", (step + 1) / steps)
            return tensors

        kwargs: dict[str, Any] = {
            "prompt": "warm-up",
            "width": width,
            "height": height,
            "num_frames": frames,
            "num_inference_steps": steps,
            "generator": torch.Generator("cpu").manual_seed(0),
            "output_type": "pt",
            "callback_on_step_end": on_step_end,
            **self.settings.pipeline_kwargs,
        }
        if self.settings.guidance_scale is not None:
            kwargs["guidance_scale"] = self.settings.guidance_scale
        if mode != "text":
            from PIL import Image

            kwargs["image"] = Image.new("RGB", (width, height), (128, 128, 128))
            if mode == "first_last":
                kwargs["last_image"] = kwargs["image"]
            elif mode == "condition":
                kwargs["image"], kwargs["frame_index"], kwargs["strength"] = [kwargs["image"]], [0], [1.0]
        self.before_call(steps)
        pipe = self.get(mode)
        pipe(**kwargs)  # under the pipeline's own no_grad, as a task's call: the same compiled graphs serve both
        log.info("warmed up %s at %dx%d, %d frames, %d steps", self.settings.family, width, height, frames, steps)

    def before_call(self, steps: int) -> None:
        """Per-call adjustments of the levers: MagCache is built for a step count, so re-attach it for another."""
        if self.applied.cache == "mag" and self.applied.cache_steps != steps:
            transformer = next(iter(self._pipes.values())).transformer
            set_cache(transformer, self.settings, steps, self.applied)

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
        # One load at a time in a process: diffusers and accelerate build modules on the meta device by patching
        # torch globally (`init_empty_weights`), so two threads loading at once (a start-up warm-up and a task's
        # model) hand each other meta tensors ("Cannot copy out of meta tensor").
        with _LOAD_LOCK:
            self._load_unlocked()

    def _load_unlocked(self) -> None:
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
            import torch  # noqa: F401  (the extra's other half: fail here, naming it, if it is missing)

            # An explicit import, not attribute access on diffusers' lazy module: that raises "cannot access
            # submodule 'pipelines'" when another thread is importing diffusers at the same moment.
            from diffusers.pipelines import pipeline_utils
        except ImportError as exc:
            raise ReelforgeError(
                ErrorCode.ENGINE_ERROR,
                f"the diffusion engine needs the 'diffusion' extra (pip install 'reelforge[diffusion]'): {exc}",
            ) from None
        self.device = resolve_device(settings.device)
        self.dtype = resolve_dtype(settings.dtype, self.device)
        # diffusers 0.36+ renamed `torch_dtype` to `dtype` (the old name warns); older ones know only the old.
        dtype_kwarg = {"dtype" if hasattr(pipeline_utils, "_resolve_dtype") else "torch_dtype": self.dtype}
        try:
            base = diffusers.DiffusionPipeline.from_pretrained(source, **dtype_kwarg)
            pipes = self._derive(base, dtype_kwarg)
        except Exception as exc:  # any failure to load is the weights' (or the install's) fault: name the path
            raise ReelforgeError(
                ErrorCode.ENGINE_ERROR, f"could not load diffusion weights from {source}: {type(exc).__name__}: {exc}"
            ) from exc
        self._prepare(base, pipes)
        log.info("loaded %s weights from %s on %s (%s)", settings.family, source, self.device, self.dtype)

    def adopt(self, base: Any) -> None:
        """Serve an already built pipeline (its modules in memory, e.g. random full-size weights made by
        bench/gpu.py) as if loaded from `weights`: the same derived pipelines, memory options and levers."""
        from diffusers.pipelines import pipeline_utils

        with self._lock:
            self.device = resolve_device(self.settings.device)
            self.dtype = resolve_dtype(self.settings.dtype, self.device)
            dtype_kwarg = {"dtype" if hasattr(pipeline_utils, "_resolve_dtype") else "torch_dtype": self.dtype}
            self._prepare(base, self._derive(base, dtype_kwarg))

    def _derive(self, base: Any, dtype_kwarg: dict[str, Any]) -> dict[str, Any]:
        """The pipeline of each mode the model serves, all sharing `base`'s modules (`from_pipe`)."""
        import diffusers

        classes = PIPELINE_CLASSES[self.settings.family]
        wanted = {mode: name for mode, name in classes.items() if _mode_needed(mode, self.settings)}
        pipes: dict[str, Any] = {}
        by_class: dict[str, Any] = {}
        for mode, class_name in wanted.items():
            cls = getattr(diffusers, class_name, None)
            if cls is None:
                log.warning("diffusers %s has no %s; %s requests will fail", diffusers.__version__, class_name, mode)
                continue
            if class_name not in by_class:
                # from_pipe shares the modules; the dtype keeps it from casting them to float32.
                by_class[class_name] = base if type(base) is cls else cls.from_pipe(base, **dtype_kwarg)
            pipes[mode] = by_class[class_name]
        return pipes

    def _prepare(self, base: Any, pipes: dict[str, Any]) -> None:
        """Memory options, placement and the speed levers, once, on the shared modules."""
        import torch

        settings = self.settings
        for pipe in pipes.values():
            pipe.set_progress_bar_config(disable=True)
        if settings.layerwise_fp8:
            base.transformer.enable_layerwise_casting(storage_dtype=torch.float8_e4m3fn, compute_dtype=self.dtype)
        if self.vae_tiling:
            self._enable_vae_tiling(base)
        if settings.cpu_offload and self.device.startswith("cuda"):
            self._enable_cpu_offload()
        else:
            base.to(self.device)  # the derived pipelines hold the same modules
        try:
            self.applied = apply_levers(base.transformer, settings, self.device)
        except Exception as exc:
            free_memory(self.device)
            raise ReelforgeError(
                ErrorCode.ENGINE_ERROR, f"could not apply the speed settings: {type(exc).__name__}: {exc}"
            ) from exc
        self._pipes = pipes
        self.loads += 1

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
        # the levers change the loaded modules too
        settings.compile,
        settings.compile_mode,
        settings.cache,
        settings.cache_threshold,
        tuple(settings.cache_mag_ratios),
        settings.quantize,
        settings.attention,
        settings.context_parallel,
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
