"""`DiffusionEngine`: LTX-Video, LTX-2 and Wan text/image/keyframe-to-video through diffusers.

Settings come from the model's `models.toml` table (see `settings.py` and docs/gpu.md). The pipelines
load on the first task and stay resident (`pipelines.PipelineSet`); `validate` is pure Python and never
imports torch, so the API process can check requests against a GPU model it does not host.

One run: plan (sizes snapped or rejected, see `constraints.py`) -> input images cover-fitted to the
generation size -> the pipeline, reporting progress and honouring cancellation from
`callback_on_step_end` after every denoising step -> frames cropped to the request and made uint8 on the
device, copied to the host in chunks while they are encoded to H.264 (`output.py`) -> for LTX-2, its
soundtrack muxed in as AAC of the video's length (`audio.py`; `audio = false` drops it).

The phases a caller sees: `preparing_assets`, then `loading` and `warming` while the weights load and the
compiler warms up (first task, or a task that arrives while the worker's preload is at it), `generating`
(progress counts the denoising steps finished on the device), `encoding`. Where every second went is
recorded per task (`timings.py`, `RunContext.record_timings`): load, warmup, inputs, text_encoding, setup,
denoising with each step, decode, encode; the runtime adds store.

Cancellation raises `TaskCancelled` from inside the step callback. diffusers' other way, setting
`pipe._interrupt = True`, only skips the remaining steps: the pipeline still runs the VAE decode (for
a long 720p LTX video, seconds and gigabytes) and returns a half-denoised video, so raising is both
quicker and cleaner; the engine then releases offload hooks and cached CUDA memory.

CUDA out-of-memory (`torch.OutOfMemoryError`, or a RuntimeError saying "out of memory") frees memory
and, with `oom_retry` (default on), retries once after switching on what is not yet on of VAE tiling
and model CPU offload; those stay on for later tasks, since the model has shown it needs them. Without
a lighter setting left it fails with ENGINE_ERROR (the runtime refunds the task).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

from PIL import Image

from reelforge.domain.errors import ErrorCode, ReelforgeError
from reelforge.domain.request import GenerationRequest, Kind
from reelforge.engines.base import Artifact, EngineCapabilities, RunContext, TaskCancelled, parse_settings
from reelforge.engines.diffusion.constraints import RULES, Plan, capabilities_for, latent_index, plan
from reelforge.engines.diffusion.output import device_uint8, host_chunks, write_video_chunks
from reelforge.engines.diffusion.pipelines import resolve_device, shared_pipelines
from reelforge.engines.diffusion.settings import DiffusionSettings
from reelforge.engines.diffusion.timings import StageClock
from reelforge.media.encode import fps_fraction
from reelforge.media.images import cover_fit, load_image

log = logging.getLogger(__name__)

_LOADING = (1.0, 3.0)  # progress while the weights load (start, end)
_PREPARED = 5.0  # progress once inputs are decoded and the weights are resident (and warm)
_DENOISED = 90.0  # progress after the last denoising step; the VAE decode and encoding share the rest
_DECODED = 93.0

_DESCRIPTIONS = {
    "ltx": "LTX-Video (diffusers) on a GPU: text, image, keyframes and multi-image conditioning at any frame.",
    "ltx2": "LTX-2 (diffusers) on a GPU: text, image, keyframes and multi-image conditioning, with sound.",
    "wan": "Wan 2.1/2.2 (diffusers) on a GPU: text or image to video, first-and-last-frame keyframes.",
}


class _Progress:
    """Forwards only rising values, so a retry after an OOM never reports going backwards."""

    def __init__(self, ctx: RunContext) -> None:
        self.ctx = ctx
        self.last = -1.0

    def __call__(self, percent: float) -> None:
        if percent > self.last:
            self.last = percent
            self.ctx.progress(percent)


class DiffusionEngine:
    """Diffusion video models through diffusers; one instance per model, pipelines resident."""

    name = "diffusion"
    Settings = DiffusionSettings
    # What the family can do, for listings that look at the class (`GET /api/v1/models`); an instance
    # narrows it to its model's weights.
    capabilities = EngineCapabilities(
        kinds=frozenset({Kind.TEXT_TO_VIDEO, Kind.IMAGE_TO_VIDEO}),
        description="Diffusion video models (LTX-Video, LTX-2, Wan) through diffusers; GPU hosts",
    )

    def __init__(self, settings: DiffusionSettings | Mapping[str, Any]) -> None:
        self.settings = parse_settings(DiffusionSettings, settings)
        self.capabilities = capabilities_for(self.settings, _DESCRIPTIONS[self.settings.family])
        self.pipelines = shared_pipelines(self.settings)  # engines on the same weights share one copy
        # One generation at a time per loaded model: a second would only fight the first for GPU memory.
        self._run_lock = self.pipelines.run_lock

    @property
    def loads(self) -> int:
        """How many times the weights were loaded (1 after any number of tasks, unless loading failed)."""
        return self.pipelines.loads

    def validate(self, request: GenerationRequest) -> None:
        """Reject what the model cannot make, naming the field; cheap, no torch."""
        plan(request, self.settings, self.capabilities)

    def check_host(self) -> list[str]:
        """What this machine lacks for the settings' levers, one sentence each (imports torch: run it only
        where the model runs, a worker or a server with embedded workers)."""
        from reelforge.engines.diffusion.levers import host_problems

        return host_problems(self.settings, resolve_device(self.settings.device))

    def start(self) -> list[str]:
        """At a worker's start: `check_host`, then, when nothing is missing and the model preloads, loading
        and warm-up begin on a background thread (a task arriving meanwhile waits in `loading`/`warming`)."""
        problems = self.check_host()
        if not problems and self.settings.preloads:
            self.pipelines.start_preload()
        return problems

    def run(self, request: GenerationRequest, ctx: RunContext) -> Artifact:
        """Generate `video.mp4` and `thumbnail.jpg` into `ctx.workdir`."""
        the_plan = plan(request, self.settings, self.capabilities)
        clock = StageClock()
        ctx.raise_if_cancelled()
        progress = _Progress(ctx)
        ctx.phase("preparing_assets")
        with clock.stage("inputs"):
            images = [self._image(request, ctx, k, the_plan) for k in range(len(request.images))]
        with self._run_lock:
            ctx.raise_if_cancelled()
            self._load(ctx, progress, clock)
            clock.device = self.pipelines.device
            progress(_PREPARED)
            ctx.raise_if_cancelled()
            ctx.phase("generating")
            frames, audio = self._generate(the_plan, request, images, ctx, progress, clock)
        progress(_DECODED)
        ctx.phase("encoding")
        with clock.stage("encode"):
            total = int(frames.shape[0])
            video, thumbnail = write_video_chunks(
                host_chunks(frames),
                total,
                the_plan.out_width,
                the_plan.out_height,
                request.fps,
                ctx.workdir,
                crf=self.settings.crf,
                preset=self.settings.preset,
                threads=self.settings.threads,
                on_frame=lambda i: progress(_DECODED + (98.0 - _DECODED) * (i + 1) / total),
            )
            del frames
            duration = total / float(fps_fraction(request.fps))
            if audio is not None:
                from reelforge.engines.diffusion.audio import mux_audio

                waveform, rate = audio
                mux_audio(video, waveform, rate, duration, self.settings.audio_bitrate)
        _record(ctx, clock)
        progress(100.0)
        return Artifact(
            video_path=video,
            thumbnail_path=thumbnail,
            duration=duration,
            width=the_plan.out_width,
            height=the_plan.out_height,
            fps=request.fps,
        )

    def _load(self, ctx: RunContext, progress: _Progress, clock: StageClock) -> None:
        """Weights resident and warm; while this task waits for them its phase and progress say so."""
        marks: dict[str, float] = {}
        current = [""]

        def listener(phase: str, fraction: float) -> None:
            now = time.perf_counter()
            if phase != current[0]:
                if current[0]:
                    clock.add(_STAGE_OF[current[0]], now - marks[current[0]])
                current[0], marks[phase] = phase, now
                ctx.phase(phase)
            start, end = _LOADING if phase == "loading" else (_LOADING[1], _PREPARED)
            progress(start + (end - start) * fraction)

        if self.pipelines.ensure(listener) and current[0]:
            clock.add(_STAGE_OF[current[0]], time.perf_counter() - marks[current[0]])

    def _image(self, request: GenerationRequest, ctx: RunContext, index: int, the_plan: Plan) -> Image.Image:
        """Input image `index`, decoded and cover-fitted to the generation size; errors name the field."""
        try:
            image = load_image(ctx.read_input(request.images[index].source))
        except ReelforgeError as exc:
            if exc.field is not None:
                raise
            raise ReelforgeError(
                exc.code, f"image {index}: {exc.message}", field=f"/images/{index}", retry_after=exc.retry_after
            ) from None
        return cover_fit(image, the_plan.width, the_plan.height)

    def _generate(
        self,
        the_plan: Plan,
        request: GenerationRequest,
        images: list[Image.Image],
        ctx: RunContext,
        progress: _Progress,
        clock: StageClock,
    ) -> tuple[Any, tuple[Any, int] | None]:
        """Run the pipeline, retrying once with lighter settings after an out-of-memory error.

        Returns the frames (uint8, cropped, on the device) and the soundtrack (waveform, sample rate) or None.
        """
        retried = False
        while True:
            pipe = self.pipelines.get(the_plan.mode)
            self.pipelines.before_call(the_plan.steps)
            try:
                with clock.pipeline_call(pipe) as step_done:
                    output = pipe(**self._call_kwargs(the_plan, request, images, ctx, progress, step_done))
                    frames = device_uint8(output.frames[0], the_plan)
                return frames, self._soundtrack(pipe, output)
            except TaskCancelled:
                self.pipelines.free()
                raise
            except Exception as exc:
                if not _is_oom(exc):
                    raise
                self.pipelines.free()
                lighter = self.pipelines.lighten() if self.settings.oom_retry and not retried else []
                if not lighter:
                    raise ReelforgeError(
                        ErrorCode.ENGINE_ERROR,
                        f"out of memory generating {the_plan.width}x{the_plan.height}, {the_plan.num_frames} "
                        f"frames on {self.pipelines.device}; ask for a smaller size or a shorter video"
                        + ("" if retried else ", or set vae_tiling / cpu_offload / layerwise_fp8 for this model"),
                    ) from exc
                log.warning("out of memory on %s; retrying once with %s", self.pipelines.device, ", ".join(lighter))
                retried = True

    def _soundtrack(self, pipe: Any, output: Any) -> tuple[Any, int] | None:
        """LTX-2's waveform (channels x samples, float32 on the host) and its rate, unless `audio = false`."""
        audio = getattr(output, "audio", None)
        if audio is None or not self.settings.audio or self.settings.family != "ltx2":
            return None
        rate = int(pipe.vocoder.config.output_sampling_rate)
        return audio[0].float().cpu().numpy(), rate

    def _call_kwargs(
        self,
        the_plan: Plan,
        request: GenerationRequest,
        images: list[Image.Image],
        ctx: RunContext,
        progress: _Progress,
        step_done: Any = None,
    ) -> dict[str, Any]:
        """The pipeline's arguments: the request's values unchanged when the model can make them."""
        import torch

        span = _DENOISED - _PREPARED

        def on_step_end(pipe: Any, step: int, timestep: Any, tensors: dict[str, Any]) -> dict[str, Any]:
            if step_done is not None:
                step_done()
            if ctx.cancelled():
                raise TaskCancelled()
            total = getattr(pipe, "num_timesteps", None) or the_plan.steps
            progress(_PREPARED + span * min(1.0, (step + 1) / total))
            return tensors

        kwargs: dict[str, Any] = {
            "prompt": request.prompt or "",
            "negative_prompt": request.negative_prompt,
            "width": the_plan.width,
            "height": the_plan.height,
            "num_frames": the_plan.num_frames,
            "num_inference_steps": the_plan.steps,
            # A CPU generator gives the same noise on every GPU model and driver: same seed, same video.
            "generator": torch.Generator("cpu").manual_seed(request.seed & 0xFFFF_FFFF_FFFF_FFFF),
            "output_type": "pt",  # a tensor on the device: made uint8 there (output.device_uint8)
            "callback_on_step_end": on_step_end,
        }
        family = self.settings.family
        if family in ("ltx", "ltx2"):
            kwargs["frame_rate"] = request.fps
        if self.settings.guidance_scale is not None:
            kwargs["guidance_scale"] = self.settings.guidance_scale
        if the_plan.mode == "image":
            kwargs["image"] = images[0]
        elif the_plan.mode == "condition" and family == "ltx2":
            kwargs["conditions"] = _ltx2_conditions(images, request, the_plan)
        elif the_plan.mode == "condition":
            kwargs["image"] = images
            kwargs["frame_index"] = list(the_plan.positions)
            kwargs["strength"] = [image.strength for image in request.images]
        elif the_plan.mode == "first_last":
            kwargs["image"], kwargs["last_image"] = images[0], images[-1]
        kwargs.update(self.settings.pipeline_kwargs)
        return kwargs


def _ltx2_conditions(images: list[Image.Image], request: GenerationRequest, the_plan: Plan) -> list[Any]:
    """LTX-2's condition pipeline takes `LTX2VideoCondition`s indexed by latent frame, not pixel frame."""
    from diffusers.pipelines.ltx2.pipeline_ltx2_condition import LTX2VideoCondition

    multiple = RULES["ltx2"].frame_multiple
    return [
        LTX2VideoCondition(frames=image, index=latent_index(frame, multiple), strength=source.strength)
        for image, frame, source in zip(images, the_plan.positions, request.images, strict=True)
    ]


_STAGE_OF = {"loading": "load", "warming": "warmup"}


def _record(ctx: RunContext, clock: StageClock) -> None:
    """Hand the stage timings to the runtime (which adds `store` and keeps them with the task)."""
    record = getattr(ctx, "record_timings", None)
    if record is not None:
        record(clock.as_dict())


def _is_oom(exc: BaseException) -> bool:
    """CUDA OOM comes as `torch.OutOfMemoryError`, or from some kernels as a plain RuntimeError."""
    import torch

    oom_type = getattr(torch, "OutOfMemoryError", None) or torch.cuda.OutOfMemoryError
    return isinstance(exc, oom_type) or (isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower())
