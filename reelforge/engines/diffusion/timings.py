"""Where the seconds of one generation go: load, warm-up, inputs, text encoding, denoising per step, decode, encode.

The pipeline is diffusers' own and reports only the end of each denoising step, so the clock marks the
other boundaries from outside it, for the length of one call: a timed wrapper around the pipeline's
`encode_prompt`, a forward pre-hook on the transformer (the first call starts denoising) and the step
callback. Everything from the last step to the pipeline's return is the decode (the VAE, and for LTX-2 the
audio VAE and vocoder). On a GPU each mark synchronizes the device first, so a stage is charged for its
own kernels and not the ones still queued (one sync per step: microseconds against a step's seconds).

The result is a flat JSON-safe dict (seconds, rounded to the millisecond) that the runtime stores with the
task (`tasks.timings`) after adding its own `store` stage; docs/gpu.md lists the keys.
"""

from __future__ import annotations

import contextlib
import functools
import time
from collections.abc import Callable, Iterator
from typing import Any

STAGES = ("load", "warmup", "inputs", "text_encoding", "setup", "denoising", "decode", "encode")


class StageClock:
    """Seconds per stage of one task; `add` accumulates, so an OOM retry's second attempt adds to the first."""

    def __init__(self, device: str = "cpu") -> None:
        self.device = device
        self.started = time.perf_counter()
        self.seconds: dict[str, float] = {}
        self.steps: list[float] = []

    def sync(self) -> None:
        if self.device.startswith("cuda"):
            import torch

            torch.cuda.synchronize()

    def add(self, stage: str, seconds: float) -> None:
        self.seconds[stage] = self.seconds.get(stage, 0.0) + max(0.0, seconds)

    @contextlib.contextmanager
    def stage(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.sync()
            self.add(name, time.perf_counter() - start)

    @contextlib.contextmanager
    def pipeline_call(self, pipe: Any) -> Iterator[Callable[[], None]]:
        """Time one pipeline call; yields `step_done`, to be called from the step callback.

        Inside the call: start -> end of `encode_prompt` is text encoding, -> first transformer call is
        setup (latents, conditioning, timesteps), -> each step's end is that step, -> the return is decode.
        """
        marks = {"call": time.perf_counter(), "last": 0.0}
        original = pipe.encode_prompt

        @functools.wraps(original)
        def timed_encode(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.sync()
                now = time.perf_counter()
                self.add("text_encoding", now - start)
                marks["encoded"] = now

        def first_forward(_module: Any, _args: Any) -> None:
            if "denoise" not in marks:
                self.sync()
                now = time.perf_counter()
                marks["denoise"] = marks["last"] = now
                self.add("setup", now - marks.get("encoded", marks["call"]))

        def step_done() -> None:
            self.sync()
            now = time.perf_counter()
            self.steps.append(round(now - marks["last"], 4))
            self.add("denoising", now - marks["last"])
            marks["last"] = now

        pipe.encode_prompt = timed_encode
        handle = pipe.transformer.register_forward_pre_hook(first_forward)
        try:
            yield step_done
            self.sync()
            if marks["last"]:
                self.add("decode", time.perf_counter() - marks["last"])
        finally:
            handle.remove()
            with contextlib.suppress(AttributeError):
                del pipe.encode_prompt  # back to the class's method

    def as_dict(self) -> dict[str, Any]:
        """The stages in order (absent ones left out), `steps`, `steps_done` and the `total` so far."""
        out: dict[str, Any] = {name: round(self.seconds[name], 3) for name in STAGES if name in self.seconds}
        out.update({name: round(value, 3) for name, value in self.seconds.items() if name not in out})
        out["steps"] = list(self.steps)
        out["steps_done"] = len(self.steps)
        out["total"] = round(time.perf_counter() - self.started, 3)
        return out
