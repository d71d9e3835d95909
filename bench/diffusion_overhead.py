"""What the diffusion engine adds on top of the bare diffusers pipeline, on a tiny random-weight LTX model.

    HF_HUB_OFFLINE=1 python bench/diffusion_overhead.py [--steps 8] [--runs 5] [--size 64] [--frames 17]

Baseline, measured in the same run: the same pipeline called directly with the same arguments (and
its frames thrown away). Through the engine the figure includes planning, the progress/cancel
callback on every step, converting and cropping the frames and encoding the H.264 MP4 and thumbnail;
the "cold" run also loads the weights. With real weights the denoising dominates and the ratio tends
to 1; with tiny weights this shows the fixed cost per task. Prints: cold start, warm median, direct median,
and warm / direct.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from reelforge.domain.request import GenerationRequest, Kind
from reelforge.engines.diffusion.engine import DiffusionEngine
from tests.engines.fake_context import FakeContext
from tests.engines.tiny_pipelines import build_tiny_ltx


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--size", type=int, default=64, help="width and height (a multiple of 32)")
    parser.add_argument("--frames", type=int, default=17, help="8n+1")
    args = parser.parse_args()

    import torch
    from diffusers import LTXPipeline

    fps = 24.0
    request = GenerationRequest(kind=Kind.TEXT_TO_VIDEO, prompt="a cat walking at night", width=args.size,
                                height=args.size, fps=fps, duration=args.frames / fps, steps=args.steps, seed=1)
    with tempfile.TemporaryDirectory() as tmp:
        weights = build_tiny_ltx(Path(tmp) / "ltx")
        engine = DiffusionEngine({"family": "ltx", "weights": str(weights), "preset": "veryfast"})

        start = time.perf_counter()
        engine.run(request, FakeContext(Path(tmp) / "cold"))
        cold = time.perf_counter() - start

        pipe = LTXPipeline.from_pretrained(weights)
        pipe.set_progress_bar_config(disable=True)

        def direct_call() -> None:
            pipe(prompt=request.prompt, width=args.size, height=args.size, num_frames=args.frames,
                 num_inference_steps=args.steps, frame_rate=fps, output_type="np",
                 generator=torch.Generator("cpu").manual_seed(1))

        direct_call()  # warm-up, as the engine's cold run was for it
        # Interleaved, so load from other processes on the host hits both sides alike.
        warm, direct = [], []
        for i in range(args.runs):
            start = time.perf_counter()
            engine.run(request, FakeContext(Path(tmp) / f"warm{i}"))
            warm.append(time.perf_counter() - start)
            start = time.perf_counter()
            direct_call()
            direct.append(time.perf_counter() - start)

    warm_mean, direct_mean = statistics.median(warm), statistics.median(direct)
    print(f"tiny LTX {args.size}x{args.size}, {args.frames} frames, {args.steps} steps, {args.runs} runs")
    print(f"engine cold start (load + run):     {cold * 1000:8.1f} ms")
    print(f"engine warm run (median):         {warm_mean * 1000:8.1f} ms")
    print(f"pipeline called directly (median):{direct_mean * 1000:8.1f} ms")
    print(f"engine / direct:                    {warm_mean / direct_mean:8.2f}x "
          f"(+{(warm_mean - direct_mean) * 1000:.1f} ms per task)")
    print(f"cold / warm:                        {cold / warm_mean:8.2f}x")


if __name__ == "__main__":
    main()
