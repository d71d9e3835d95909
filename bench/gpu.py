"""The diffusion engine at real size on a GPU: plain diffusers vs the engine vs the engine behind `reelforge serve`,
each speed lever on and off. One command, nothing downloaded.

    python bench/gpu.py                       # a GPU host: LTX-Video 2B, LTX-2, Wan 2.1 1.3B at full size
    python bench/gpu.py --tiny                # the same code on the CPU with the tiny test pipelines (minutes)
    python bench/gpu.py --models wan --levers base,cache --steps 8 --json out.json

The transformers and VAEs are built from their published configs (written out below; diffusers' defaults for
LTX-Video 0.9 2B, LTX-2 and the Wan 2.1 VAE are those configs) with random weights, on the device, in bf16.
Random weights make timings real: the compute of a matmul does not depend on the values in it. Two exceptions,
said in the output: a cache's skip rate depends on how much the activations change between steps, which is
not the same for trained weights (the table shows the share of steps the last block computed), and the text
encoders are built at their published width and vocabulary but with `--text-layers` layers (2 by default; T5-XXL,
UMT5-XXL and Gemma 3 12B at full depth add 10-25 GB and load time, but only ~0.1-0.5 s per clip).

Per model, in one process (the GPU is this process's alone): the plain pipeline called directly
(`output_type="np"`, a warm-up call first), then for each lever set the engine on the same in-memory modules
(`PipelineSet.adopt`), a warm-up run (compilation) and `--repeat` timed runs, MP4 encoding included. Lever
sets: base (none), cache (first_block 0.05), compile (regional, mode default), fp8 (torchao; only where the
GPU has fp8 compute), all (the three). Compile and the cache hooks are undone between sets; fp8 is last, as
quantization cannot be undone. Then the engine behind `reelforge serve` (base levers; the weights saved to
`--work-dir` first; LTX-2 only with `--serve-ltx2`, its 40 GB take minutes to write): create -> completed over
HTTP, as a client polling every 20 ms sees it, plus the task's own stage timings from the API.

Prints a table and writes JSON (`--json`, default bench/gpu-results.json): seconds per clip, per-stage seconds,
peak GPU memory, and ratios to the plain pipeline. Target (issue 15): the engine behind the server within
1.05x of the plain pipeline plus 0.3 s.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).parent))

LEVER_SETS: dict[str, dict[str, Any]] = {
    "base": {},
    "cache": {"cache": "first_block", "cache_threshold": 0.05},
    "compile": {"compile": "regional"},
    "fp8": {"quantize": "fp8"},
    "all": {"compile": "regional", "cache": "first_block", "cache_threshold": 0.05, "quantize": "fp8"},
}


@dataclass(frozen=True)
class ModelCase:
    family: str
    width: int
    height: int
    frames: int
    fps: float
    label: str


FULL = {
    "ltx": ModelCase("ltx", 768, 512, 121, 24, "LTX-Video 0.9 2B, 768x512x121"),
    "ltx2": ModelCase("ltx2", 768, 512, 121, 24, "LTX-2 (19B), 768x512x121"),
    "wan": ModelCase("wan", 832, 480, 81, 16, "Wan 2.1 T2V 1.3B, 832x480x81"),
}
TINY = {
    "ltx": ModelCase("ltx", 64, 64, 9, 24, "LTX-Video tiny, 64x64x9"),
    "ltx2": ModelCase("ltx2", 64, 64, 9, 24, "LTX-2 tiny, 64x64x9"),
    "wan": ModelCase("wan", 64, 64, 9, 16, "Wan tiny, 64x64x9"),
}


# ---------------------------------------------------------------- building the models


def t5_xxl(layers: int, umt5: bool) -> Any:
    """T5 v1.1 XXL's encoder (LTX-Video) or UMT5-XXL's (Wan): d_model 4096, 64 heads, gated-GELU FFN 10240."""
    from transformers import T5Config, T5EncoderModel, UMT5Config, UMT5EncoderModel

    config_class, model_class = (UMT5Config, UMT5EncoderModel) if umt5 else (T5Config, T5EncoderModel)
    config = config_class(
        vocab_size=256384 if umt5 else 32128,
        d_model=4096,
        d_kv=64,
        d_ff=10240,
        num_layers=layers,
        num_heads=64,
        relative_attention_num_buckets=32,
        feed_forward_proj="gated-gelu",
        is_encoder_decoder=False,
        pad_token_id=0,
        eos_token_id=1,
    )
    return model_class(config).eval()


def gemma3_12b(layers: int) -> Any:
    """Gemma 3 12B (LTX-2's text encoder): hidden 3840, 16 heads of 256, 8 KV heads, FFN 15360, vocab 262208."""
    from transformers import Gemma3Config, Gemma3ForConditionalGeneration, Gemma3TextConfig, SiglipVisionConfig

    text = Gemma3TextConfig(
        vocab_size=262208,
        hidden_size=3840,
        intermediate_size=15360,
        num_hidden_layers=layers,
        num_attention_heads=16,
        num_key_value_heads=8,
        head_dim=256,
        max_position_embeddings=131072,
        sliding_window=1024,
    )
    vision = SiglipVisionConfig(hidden_size=64, intermediate_size=128, num_hidden_layers=1, num_attention_heads=2)
    return Gemma3ForConditionalGeneration(Gemma3Config(text_config=text.to_dict(), vision_config=vision.to_dict()))


def build_full(family: str, device: str, text_layers: int) -> Any:
    """The pipeline of `family` at its published size, random weights, built on `device` in bf16."""
    import diffusers
    import torch

    from tests.engines.tiny_pipelines import tiny_tokenizer

    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.bfloat16)
    try:
        with torch.device(device):
            torch.manual_seed(0)
            if family == "ltx":
                transformer = diffusers.LTXVideoTransformer3DModel(
                    in_channels=128,
                    out_channels=128,
                    patch_size=1,
                    patch_size_t=1,
                    num_attention_heads=32,
                    attention_head_dim=64,
                    cross_attention_dim=2048,
                    num_layers=28,
                    caption_channels=4096,
                )
                pipe = diffusers.LTXPipeline(
                    transformer=transformer,
                    vae=diffusers.AutoencoderKLLTXVideo(),  # the 0.9 VAE's config is diffusers' default
                    scheduler=diffusers.FlowMatchEulerDiscreteScheduler(),
                    text_encoder=t5_xxl(text_layers, umt5=False),
                    tokenizer=tiny_tokenizer(128),
                )
            elif family == "wan":
                transformer = diffusers.WanTransformer3DModel(
                    patch_size=(1, 2, 2),
                    num_attention_heads=12,
                    attention_head_dim=128,
                    in_channels=16,
                    out_channels=16,
                    text_dim=4096,
                    freq_dim=256,
                    ffn_dim=8960,
                    num_layers=30,
                    cross_attn_norm=True,
                    qk_norm="rms_norm_across_heads",
                    eps=1e-6,
                    rope_max_seq_len=1024,
                )
                pipe = diffusers.WanPipeline(
                    transformer=transformer,
                    vae=diffusers.AutoencoderKLWan(),  # Wan 2.1's VAE is diffusers' default config
                    scheduler=diffusers.FlowMatchEulerDiscreteScheduler(shift=3.0),
                    text_encoder=t5_xxl(text_layers, umt5=True),
                    tokenizer=tiny_tokenizer(512),
                )
            else:
                from diffusers.pipelines.ltx2 import LTX2TextConnectors
                from diffusers.pipelines.ltx2.vocoder import LTX2Vocoder

                # LTX-2's published configs are diffusers' defaults for each of its parts (48 blocks, video
                # 32 heads x 128, audio 32 x 64, Gemma 3 width 3840 with 49 hidden states into the connectors).
                text_encoder = gemma3_12b(text_layers)
                pipe = diffusers.LTX2Pipeline(
                    transformer=diffusers.LTX2VideoTransformer3DModel(),
                    vae=diffusers.AutoencoderKLLTX2Video(),
                    audio_vae=diffusers.AutoencoderKLLTX2Audio(),
                    scheduler=diffusers.FlowMatchEulerDiscreteScheduler(),
                    text_encoder=text_encoder,
                    tokenizer=tiny_tokenizer(1024),
                    connectors=LTX2TextConnectors(text_proj_in_factor=text_layers + 1),
                    vocoder=LTX2Vocoder(),
                )
    finally:
        torch.set_default_dtype(previous)
    return pipe


def build_tiny(family: str, directory: Path) -> Path:
    from tests.engines.tiny_pipelines import build_tiny_ltx, build_tiny_ltx2, build_tiny_wan

    builder = {"ltx": lambda d: build_tiny_ltx(d, num_layers=2), "ltx2": build_tiny_ltx2, "wan": build_tiny_wan}
    return builder[family](directory)


# ---------------------------------------------------------------- measuring


@dataclass
class Row:
    model: str
    path: str  # plain | engine | serve
    levers: str
    seconds: list[float] = field(default_factory=list)
    stages: dict[str, Any] = field(default_factory=dict)
    peak_gb: float | None = None
    computed_share: float | None = None  # share of steps the last transformer block computed (caches)
    note: str = ""

    @property
    def median(self) -> float:
        return statistics.median(self.seconds) if self.seconds else float("nan")


class Peak:
    """Peak GPU memory over a block (None on the CPU)."""

    def __init__(self, device: str) -> None:
        self.device = device
        self.gb: float | None = None

    def __enter__(self) -> Peak:
        if self.device.startswith("cuda"):
            import torch

            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        return self

    def __exit__(self, *_: object) -> None:
        if self.device.startswith("cuda"):
            import torch

            torch.cuda.synchronize()
            self.gb = round(torch.cuda.max_memory_allocated() / 2**30, 2)


def last_block_counter(transformer: Any) -> list[int]:
    """Counts calls of the last block's first attention projection: a cache that skips a step skips it."""
    blocks = getattr(transformer, "transformer_blocks", None) or transformer.blocks
    calls = [0]
    blocks[-1].attn1.to_q.register_forward_pre_hook(lambda *_: calls.__setitem__(0, calls[0] + 1))
    return calls


def call_kwargs(case: ModelCase, steps: int, text_len: int) -> dict[str, Any]:
    import torch

    kwargs: dict[str, Any] = {
        "prompt": "a red fox runs through fresh snow at dawn, cinematic",
        "width": case.width,
        "height": case.height,
        "num_frames": case.frames,
        "num_inference_steps": steps,
        "generator": torch.Generator("cpu").manual_seed(1),
        "output_type": "np",
    }
    if case.family in ("ltx", "ltx2"):
        kwargs["frame_rate"] = case.fps
    if case.family != "ltx":
        kwargs["max_sequence_length"] = text_len
    return kwargs


def run_plain(pipe: Any, case: ModelCase, args: argparse.Namespace, device: str) -> Row:
    row = Row(case.label, "plain", "-")
    pipe(**call_kwargs(case, args.steps, args.text_len))  # warm-up: kernels, allocator
    for _ in range(args.repeat):
        with Peak(device) as peak:
            start = time.perf_counter()
            pipe(**call_kwargs(case, args.steps, args.text_len))
            if device.startswith("cuda"):
                import torch

                torch.cuda.synchronize()
            row.seconds.append(time.perf_counter() - start)
        row.peak_gb = peak.gb
    return row


def request_for(case: ModelCase, steps: int) -> Any:
    from reelforge.domain.request import GenerationRequest, Kind

    return GenerationRequest(
        kind=Kind.TEXT_TO_VIDEO,
        prompt="a red fox runs through fresh snow at dawn, cinematic",
        width=case.width,
        height=case.height,
        fps=case.fps,
        duration=case.frames / case.fps,
        steps=steps,
        seed=1,
    )


def engine_settings(case: ModelCase, levers: dict[str, Any], args: argparse.Namespace, device: str) -> dict[str, Any]:
    settings: dict[str, Any] = {
        "family": case.family,
        "weights": f"/bench/{case.family}",  # adopted from memory, never read
        "device": device,
        "preset": "veryfast",
        "warmup": False,  # the bench's own warm-up run below stands for it (and is timed apart)
        "pipeline_kwargs": {"max_sequence_length": args.text_len} if case.family != "ltx" else {},
        **levers,
    }
    if args.tiny and levers.get("compile"):
        settings["compile_backend"] = "aot_eager"  # inductor's C++ build on a shared CPU takes minutes
    return settings


def undo_levers(transformer: Any) -> None:
    """Take compile and the cache hooks off the shared transformer before the next lever set."""
    import torch

    if getattr(transformer, "is_cache_enabled", False):
        transformer.disable_cache()
    for module in transformer.modules():
        if getattr(module, "_compiled_call_impl", None) is not None:
            module._compiled_call_impl = None
    torch._dynamo.reset()


def run_engine(
    pipe: Any, case: ModelCase, name: str, levers: dict[str, Any], args: argparse.Namespace, device: str, tmp: Path
) -> Row:
    from reelforge.engines.diffusion.engine import DiffusionEngine
    from tests.engines.fake_context import FakeContext

    row = Row(case.label, "engine", name)
    engine = DiffusionEngine(engine_settings(case, levers, args, device))
    problems = engine.check_host()
    if problems:
        row.note = "skipped: " + "; ".join(problems)
        return row
    engine.pipelines.adopt(pipe)
    counter = last_block_counter(pipe.transformer)
    request = request_for(case, args.steps)
    start = time.perf_counter()
    engine.run(request, FakeContext(tmp / f"{case.family}-{name}-warm"))  # compiles, when compiling
    row.stages["warmup_run"] = round(time.perf_counter() - start, 3)
    for k in range(args.repeat):
        counter[0] = 0
        ctx = FakeContext(tmp / f"{case.family}-{name}-{k}")
        with Peak(device) as peak:
            start = time.perf_counter()
            engine.run(request, ctx)
            row.seconds.append(time.perf_counter() - start)
        row.peak_gb = peak.gb
        row.stages = {**(ctx.timings or {}), "warmup_run": row.stages["warmup_run"]}
        calls_per_step = 2 if case.family == "wan" else 1  # Wan runs the conditional and unconditional passes
        row.computed_share = round(counter[0] / (calls_per_step * args.steps), 2)
    return row


SERVE_MODELS = """
[models.bench]
engine = "diffusion"
kind = "text_to_video"
description = "bench"
credits_per_second = 0
standardize_sizes = false

[models.bench.settings]
family = "{family}"
weights = "{weights}"
preset = "veryfast"
max_side = 4096
{extra}
"""


def run_serve(weights: Path, case: ModelCase, args: argparse.Namespace, tmp: Path) -> Row:
    import httpx
    from served import served

    row = Row(case.label, "serve", "base")
    extra = f"pipeline_kwargs = {{ max_sequence_length = {args.text_len} }}" if case.family != "ltx" else ""
    models = tmp / f"models-{case.family}.toml"
    models.write_text(SERVE_MODELS.format(family=case.family, weights=weights, extra=extra))
    env = {
        "REELFORGE_MODELS_FILE": str(models),
        "HF_HUB_OFFLINE": "1",
        "REELFORGE_POLL_INTERVAL": "0.01",
        # the bench polls every 20 ms from one client: lift the per-IP and per-key read limits
        "REELFORGE_QUERY_RATE_LIMIT": "1000000/minute",
        "REELFORGE_KEY_QUERY_RATE_LIMIT": "1000000/minute",
    }
    body = {
        "model": "bench",
        "prompt": "a red fox runs through fresh snow at dawn, cinematic",
        "width": case.width,
        "height": case.height,
        "num_frames": case.frames,
        "frame_rate": case.fps,
        "num_inference_steps": args.steps,
        "seed": 1,
    }
    with (
        served(tmp / f"server-{case.family}", 8790, env=env, startup_seconds=300) as (base, key),
        httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=60) as client,
    ):
        for k in range(args.repeat + 1):  # the first loads the weights and warms up: not counted
            start = time.perf_counter()
            created = client.post("/v1/videos", json=body)
            created.raise_for_status()
            video_id = created.json()["id"]
            while (video := client.get(f"/v1/videos/{video_id}").json()).get("status") not in ("completed", "failed"):
                if "status" not in video:
                    raise SystemExit(f"polling the server failed: {video}")
                time.sleep(0.02)
            if video["status"] != "completed":
                row.note = f"failed: {video.get('error')}"
                return row
            if k:
                row.seconds.append(time.perf_counter() - start)
                row.stages = video.get("timings") or {}
    return row


# ---------------------------------------------------------------- reporting


def table(rows: list[Row], baseline: dict[str, float]) -> str:
    head = (
        f"{'model':34} {'path':7} {'levers':8} {'s/clip':>8} {'x plain':>8} {'text':>6} {'denoise':>8} "
        f"{'s/step':>7} {'decode':>7} {'encode':>7} {'store':>6} {'peak GB':>8} {'computed':>8}  note"
    )
    lines = [head, "-" * len(head)]
    for row in rows:
        stages = row.stages
        steps = stages.get("steps") or []
        per_step = statistics.median(steps) if steps else None
        ratio = row.median / baseline[row.model] if row.seconds and baseline.get(row.model) else None

        def cell(value: float | None, width: int, digits: int = 2) -> str:
            return f"{value:>{width}.{digits}f}" if isinstance(value, int | float) else f"{'-':>{width}}"

        lines.append(
            f"{row.model[:34]:34} {row.path:7} {row.levers:8} {cell(row.median if row.seconds else None, 8)} "
            f"{cell(ratio, 8)} {cell(stages.get('text_encoding'), 6)} {cell(stages.get('denoising'), 8)} "
            f"{cell(per_step, 7, 3)} {cell(stages.get('decode'), 7)} {cell(stages.get('encode'), 7)} "
            f"{cell(stages.get('store'), 6)} {cell(row.peak_gb, 8)} {cell(row.computed_share, 8)}  {row.note}"
        )
    return "\n".join(lines)


def environment(device: str) -> dict[str, Any]:
    import diffusers
    import torch

    info: dict[str, Any] = {
        "device": device,
        "torch": torch.__version__,
        "diffusers": diffusers.__version__,
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None,
    }
    if device.startswith("cuda"):
        info["gpu"] = torch.cuda.get_device_name(0)
        info["capability"] = ".".join(map(str, torch.cuda.get_device_capability(0)))
        info["gpus"] = torch.cuda.device_count()
    return info


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="the tiny test pipelines on the CPU")
    parser.add_argument("--models", default="ltx,ltx2,wan")
    parser.add_argument("--levers", default="base,cache,compile,fp8,all")
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--text-layers", type=int, default=2)
    parser.add_argument("--text-len", type=int, default=128, help="prompt tokens (max_sequence_length)")
    parser.add_argument("--no-serve", action="store_true", help="skip the runs through `reelforge serve`")
    parser.add_argument("--serve-ltx2", action="store_true", help="also LTX-2 through the server (writes ~40 GB)")
    parser.add_argument("--work-dir", type=Path, default=None, help="where weights for the server are written")
    parser.add_argument("--json", type=Path, default=ROOT / "bench" / "gpu-results.json")
    args = parser.parse_args()

    import diffusers
    import torch

    device = "cpu" if args.tiny else "cuda"
    if not args.tiny and not torch.cuda.is_available():
        raise SystemExit("no CUDA GPU here: run with --tiny for the CPU version")
    if args.tiny:
        args.text_len = min(args.text_len, 16)
    cases = TINY if args.tiny else FULL
    chosen = [name.strip() for name in args.models.split(",") if name.strip()]
    lever_names = [name.strip() for name in args.levers.split(",") if name.strip()]
    if "fp8" in lever_names:  # fp8 is the one lever that cannot be undone: run it (and `all`) last
        lever_names = [n for n in lever_names if n not in ("fp8", "all")] + [
            n for n in ("fp8", "all") if n in lever_names
        ]
    rows: list[Row] = []
    baseline: dict[str, float] = {}
    started = time.perf_counter()
    work = Path(args.work_dir or tempfile.mkdtemp(prefix="reelforge-gpu-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        for name in chosen:
            case = cases[name]
            print(f"== {case.label}: building", flush=True)
            t0 = time.perf_counter()
            if args.tiny:
                weights: Path | None = build_tiny(name, work / name)
                pipe = diffusers.DiffusionPipeline.from_pretrained(str(weights))
            else:
                weights = None
                pipe = build_full(name, device, args.text_layers)
            pipe.to(device)
            pipe.set_progress_bar_config(disable=True)
            print(f"   built in {time.perf_counter() - t0:.1f} s; plain pipeline", flush=True)
            plain = run_plain(pipe, case, args, device)
            rows.append(plain)
            baseline[case.label] = plain.median
            reversible = [n for n in lever_names if n not in ("fp8", "all")]
            for lever in reversible:
                print(f"   engine, levers {lever}", flush=True)
                rows.append(run_engine(pipe, case, lever, LEVER_SETS[lever], args, device, work))
                undo_levers(pipe.transformer)
            # The server's worker loads its own copy (the GPU has room for both at these sizes; this process
            # is idle meanwhile); before fp8, which would leave this copy quantized.
            if not args.no_serve and (name != "ltx2" or args.serve_ltx2 or args.tiny):
                if weights is None:
                    print("   saving the weights for the server", flush=True)
                    weights = work / name
                    pipe.save_pretrained(weights)
                print("   through reelforge serve", flush=True)
                rows.append(run_serve(weights, case, args, work))
            for lever in [n for n in lever_names if n in ("fp8", "all")]:
                print(f"   engine, levers {lever}", flush=True)
                rows.append(run_engine(pipe, case, lever, LEVER_SETS[lever], args, device, work))
                undo_levers(pipe.transformer)  # the weights stay fp8: nothing after this is plain
            del pipe
            with contextlib.suppress(Exception):
                torch.cuda.empty_cache()
    finally:
        if args.work_dir is None:
            shutil.rmtree(work, ignore_errors=True)
    elapsed = time.perf_counter() - started
    print()
    print(table(rows, baseline))
    print(
        f"\n{len(rows)} rows in {elapsed:.0f} s; steps {args.steps}; text encoders with {args.text_layers} layers. "
        "Random weights: timings are real, but a cache's skip rate ('computed': the share of steps the last block "
        "ran) depends on how activations change between steps, which differs with trained weights."
    )
    result = {
        "environment": environment(device),
        "arguments": {k: str(v) for k, v in vars(args).items()},
        "elapsed_seconds": round(elapsed, 1),
        "rows": [
            {
                "model": r.model,
                "path": r.path,
                "levers": r.levers,
                "seconds": [round(s, 3) for s in r.seconds],
                "median_seconds": round(r.median, 3) if r.seconds else None,
                "ratio_to_plain": round(r.median / baseline[r.model], 3)
                if r.seconds and baseline.get(r.model)
                else None,
                "stages": r.stages,
                "peak_gpu_gb": r.peak_gb,
                "computed_share": r.computed_share,
                "note": r.note,
            }
            for r in rows
        ],
    }
    args.json.write_text(json.dumps(result, indent=2))
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
