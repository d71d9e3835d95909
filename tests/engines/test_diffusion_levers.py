"""The diffusion engine's speed levers, LTX-2's sound and the stage timings, on the CPU with tiny pipelines.

Each lever is checked where a user would see it: a bad setting stops the start-up check with a sentence
naming the key; a lever this machine cannot run (fp8 compute, a flash-attention backend, several GPUs) is
refused by `DiffusionEngine.start` (what a worker runs when it starts); a lever that can run on the CPU is
applied and does what it is for (cache hooks skip transformer work, compile compiles the repeated blocks and
the warm-up shows as a `warming` phase). The MP4s are read back with PyAV (libavformat, what ffprobe is).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import av
import pytest
from pydantic import ValidationError

from reelforge.domain.catalog import CatalogError
from reelforge.domain.request import GenerationRequest, Kind
from reelforge.engines.diffusion.engine import DiffusionEngine
from reelforge.engines.diffusion.settings import DiffusionSettings
from reelforge.media.probe import probe
from tests.engines.fake_context import FakeContext
from tests.engines.tiny_pipelines import build_tiny_ltx, build_tiny_ltx2, build_tiny_wan

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"

STEPS = 6


@pytest.fixture(scope="module")
def weights(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("lever-weights")
    return {
        "ltx": build_tiny_ltx(root / "ltx", num_layers=2),
        "ltx2": build_tiny_ltx2(root / "ltx2"),
        "wan": build_tiny_wan(root / "wan"),
    }


def engine(weights: dict[str, Path], family: str, tmp_path: Path | None = None, **settings: Any) -> DiffusionEngine:
    path = weights[family]
    if tmp_path is not None:  # a private copy: nothing loaded by another test is shared
        path = Path(shutil.copytree(path, tmp_path / f"w-{family}"))
    extra = {"pipeline_kwargs": {"max_sequence_length": 16}} if family != "ltx" else {}
    return DiffusionEngine({"family": family, "weights": str(path), **extra, **settings})


def request(**fields: Any) -> GenerationRequest:
    base: dict[str, Any] = {
        "kind": Kind.TEXT_TO_VIDEO,
        "prompt": "a red cat walking at night",
        "width": 32,
        "height": 32,
        "fps": 9,
        "duration": 1.0,
        "steps": STEPS,
        "seed": 7,
    }
    base.update(fields)
    return GenerationRequest(**base)


def attention_projections(eng: DiffusionEngine) -> list[int]:
    """Count the calls of every block's first attention projection: work a cache skips shows as fewer calls."""
    transformer = next(iter(eng.pipelines._pipes.values())).transformer
    blocks = getattr(transformer, "transformer_blocks", None) or transformer.blocks
    calls = [0]
    for block in blocks:
        block.attn1.to_q.register_forward_pre_hook(lambda *_: calls.__setitem__(0, calls[0] + 1))
    return calls


def run_counting(eng: DiffusionEngine, workdir: Path) -> tuple[int, FakeContext]:
    eng.pipelines.ensure()
    calls = attention_projections(eng)
    ctx = FakeContext(workdir)
    eng.run(request(), ctx)
    return calls[0], ctx


# --- settings refused at start-up ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "says"),
    [
        ({"compile": "partial"}, "compile"),
        ({"cache": "teacache"}, "cache"),
        ({"cache": "mag"}, "cache_mag_ratios"),
        ({"quantize": "int4"}, "quantize"),
        ({"quantize": "fp8", "layerwise_fp8": True}, "exclude each other"),
        ({"attention": "flash-attn"}, "unknown attention backend 'flash-attn'; one of: native, flash"),
        ({"context_parallel": 0}, "context_parallel"),
        ({"context_parallel": 2, "cpu_offload": True}, "cpu_offload"),
        ({"cache_threshold": 0}, "cache_threshold"),
        ({"warmup_shape": [768, 512, 0]}, "warmup_shape"),
    ],
)
def test_bad_lever_settings_are_refused_naming_the_key(settings: dict[str, Any], says: str) -> None:
    with pytest.raises(ValidationError) as caught:
        DiffusionSettings(family="ltx", weights="Lightricks/LTX-Video", **settings)
    assert says in str(caught.value)


def test_the_start_up_check_names_the_model_and_the_key(tmp_path: Path) -> None:
    from reelforge.config import parse_catalog
    from reelforge.engines.base import build_engines

    path = tmp_path / "models.toml"
    path.write_text(
        """
[models.ltx]
engine = "diffusion"
kind = "text_to_video"
description = "x"
credits_per_second = 1
[models.ltx.settings]
family = "ltx"
weights = "Lightricks/LTX-Video"
cache = "mag"
"""
    )
    catalog, problems = parse_catalog(path)
    assert not problems
    with pytest.raises(CatalogError) as caught:
        build_engines(catalog, "models.toml")
    report = caught.value.report()
    assert "model 'ltx'" in report and "cache_mag_ratios" in report


@pytest.mark.parametrize(
    ("settings", "says"),
    [
        ({"quantize": "fp8"}, "quantize = 'fp8' needs a CUDA GPU with fp8 compute"),
        ({"attention": "flash"}, "attention = 'flash' cannot run here"),
        ({"attention": "sage"}, "attention = 'sage' cannot run here"),
        ({"context_parallel": 2}, "context_parallel = 2 needs 2 GPUs in this worker; 0 visible"),
    ],
)
def test_levers_this_host_cannot_run_are_refused_when_the_worker_starts(
    weights: dict[str, Path], settings: dict[str, Any], says: str
) -> None:
    eng = engine(weights, "ltx", device="cpu", **settings)
    problems = eng.start()
    assert any(says in problem for problem in problems), problems
    assert not eng.pipelines.loaded  # nothing was loaded for a model that cannot run


def test_fp8_is_selected_where_the_gpu_has_fp8_compute(monkeypatch: pytest.MonkeyPatch) -> None:
    """The capability test itself, with the CUDA queries answered as an H100 and an A100 would."""
    import torch

    from reelforge.engines.diffusion import levers

    settings = DiffusionSettings(family="ltx", weights="a/b", quantize="fp8")
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda _index=0: "NVIDIA H100")
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda _index=0: (9, 0))
    fp8_problems = [p for p in levers.host_problems(settings, "cuda") if "compute capability" in p]
    assert fp8_problems == []
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda _index=0: "NVIDIA A100")
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda _index=0: (8, 0))
    (problem,) = [p for p in levers.host_problems(settings, "cuda") if "compute capability" in p]
    assert "NVIDIA A100 is 8.0" in problem and "layerwise_fp8" in problem


# --- cache hooks ---------------------------------------------------------------------------------------------


CACHES: list[tuple[str, dict[str, Any]]] = [
    ("first_block", {"cache": "first_block", "cache_threshold": 1.0}),
    ("mag", {"cache": "mag", "cache_threshold": 1.0, "cache_mag_ratios": [1.0] * STEPS, "cache_retention_ratio": 0}),
    ("taylorseer", {"cache": "taylorseer", "cache_interval": 3, "cache_start_step": 1}),
]


_PLAIN_CALLS: dict[str, int] = {}

# Every cache on LTX-Video and Wan; on LTX-2 the first-block cache, through the block adapter of
# `levers._register_ltx2_blocks` (MagCache uses the same adapter; TaylorSeer needs none).
COMBINATIONS = [(family, name, cache) for family in ("ltx", "wan") for name, cache in CACHES] + [("ltx2", *CACHES[0])]


@pytest.mark.parametrize(("family", "name", "cache"), COMBINATIONS, ids=[f"{c[1]}-{c[0]}" for c in COMBINATIONS])
def test_each_cache_hook_is_attached_and_skips_transformer_work(
    weights: dict[str, Path], tmp_path: Path, family: str, name: str, cache: dict[str, Any]
) -> None:
    if family not in _PLAIN_CALLS:
        _PLAIN_CALLS[family] = run_counting(engine(weights, family), tmp_path / "plain")[0]
    plain = _PLAIN_CALLS[family]
    cached_engine = engine(weights, family, **cache)
    cached, ctx = run_counting(cached_engine, tmp_path / "cached")
    transformer = next(iter(cached_engine.pipelines._pipes.values())).transformer
    assert transformer.is_cache_enabled and cached_engine.pipelines.applied.cache == name
    assert 0 < cached < plain, (plain, cached)
    assert ctx.timings is not None and ctx.timings["steps_done"] == STEPS  # every step still reported


def test_mag_cache_follows_the_request_step_count(weights: dict[str, Path], tmp_path: Path) -> None:
    eng = engine(weights, "ltx", tmp_path, **dict(CACHES[1][1]))
    eng.pipelines.ensure()
    assert eng.pipelines.applied.cache_steps == 40  # built for the model's default steps
    eng.run(request(steps=5), FakeContext(tmp_path / "run"))
    assert eng.pipelines.applied.cache_steps == 5


# --- compile and warm-up -------------------------------------------------------------------------------------


def test_regional_compile_warms_up_and_reports_warming(weights: dict[str, Path], tmp_path: Path) -> None:
    """The compile path and its warm-up, with torch.compile's aot_eager backend (seconds; inductor below)."""
    eng = engine(weights, "ltx", tmp_path, compile="regional", compile_backend="aot_eager", warmup_shape=[32, 32, 9])
    ctx = FakeContext(tmp_path / "run")
    eng.run(request(steps=3), ctx)
    transformer = eng.pipelines._pipes["text"].transformer
    assert all(block._compiled_call_impl is not None for block in transformer.transformer_blocks)
    assert ctx.phases == ["preparing_assets", "loading", "warming", "generating", "encoding"]
    assert eng.pipelines.applied.compile == "regional"
    timings = ctx.timings
    assert timings is not None and timings["warmup"] > 0 and timings["load"] > 0
    # progress moved while loading and warming, below the 5 % at which generation starts
    assert len([p for p in ctx.reported if p < 5.0]) >= 3


@pytest.mark.slow
def test_full_compile_with_inductor_on_the_cpu_keeps_its_kernels(weights: dict[str, Path], tmp_path: Path) -> None:
    """Inductor for real (C++ kernels on the CPU: about a minute cold on 2 shared cores), into the persistent
    cache a restarted worker reads."""
    cache = tmp_path / "inductor"
    eng = engine(
        weights, "ltx", tmp_path, compile="full", compile_cache_dir=str(cache), warmup_shape=[32, 32, 9], warmup_steps=1
    )
    ctx = FakeContext(tmp_path / "run")
    eng.run(request(steps=2), ctx)
    assert os.environ["TORCHINDUCTOR_CACHE_DIR"] == str(cache)
    assert any(cache.iterdir())
    assert "warming" in ctx.phases


def test_a_task_arriving_during_the_preload_waits_in_the_warming_phase(
    weights: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading
    import time

    eng = engine(weights, "ltx", tmp_path, warmup=True, warmup_shape=[32, 32, 9], warmup_steps=2)
    assert eng.settings.preloads  # warming up implies preloading at the worker's start
    release = threading.Event()
    real_warm_up = eng.pipelines._warm_up

    def held_warm_up() -> None:  # the preload's warm-up goes on until the test has seen the task wait
        release.wait(60)
        real_warm_up()

    monkeypatch.setattr(eng.pipelines, "_warm_up", held_warm_up)
    assert eng.start() == []  # loading and warming begin on a background thread
    ctx = FakeContext(tmp_path / "run")
    task = threading.Thread(target=eng.run, args=(request(steps=2), ctx))
    task.start()
    deadline = time.monotonic() + 60
    while "warming" not in ctx.phases and time.monotonic() < deadline:
        time.sleep(0.05)
    # the task joined the preload: in its loading (if still at it) and then its warm-up
    assert ctx.phases in (["preparing_assets", "warming"], ["preparing_assets", "loading", "warming"])
    release.set()
    task.join(120)
    assert ctx.phases[-2:] == ["generating", "encoding"]
    assert eng.loads == 1 and ctx.timings is not None and ctx.timings["warmup"] > 0


# --- LTX-2 sound ---------------------------------------------------------------------------------------------


def audio_of(path: Path) -> tuple[str, float, int] | None:
    """(codec, seconds of decoded samples, channels) of the MP4's audio stream, None without one."""
    with av.open(str(path)) as container:
        if not container.streams.audio:
            return None
        stream = container.streams.audio[0]
        samples = sum(frame.samples for frame in container.decode(stream))
        return stream.codec_context.name, samples / stream.codec_context.sample_rate, stream.codec_context.channels


@pytest.mark.parametrize(("fps", "duration"), [(9, 1.0), (24, 17 / 24), (8, 2.0)])
def test_ltx2_sound_is_in_the_mp4_as_aac_of_the_video_length(
    weights: dict[str, Path], tmp_path: Path, fps: float, duration: float
) -> None:
    eng = engine(weights, "ltx2")
    req = request(fps=fps, duration=duration, steps=2)
    artifact = eng.run(req, FakeContext(tmp_path))
    video = probe(artifact.video_path, count_frames=True)
    assert video.frame_count == req.num_frames
    audio = audio_of(artifact.video_path)
    assert audio is not None
    codec, seconds, channels = audio
    assert codec == "aac" and channels == 2
    # AAC works in 1024-sample frames: the decoded track may end up to one frame (64 ms at 16 kHz) long
    assert seconds == pytest.approx(req.num_frames / fps, abs=1024 / 16000)


def test_ltx2_sound_can_be_dropped(weights: dict[str, Path], tmp_path: Path) -> None:
    artifact = engine(weights, "ltx2", audio=False).run(request(steps=2), FakeContext(tmp_path))
    assert audio_of(artifact.video_path) is None


def test_other_families_stay_silent(weights: dict[str, Path], tmp_path: Path) -> None:
    artifact = engine(weights, "wan").run(request(steps=2), FakeContext(tmp_path))
    assert audio_of(artifact.video_path) is None


# --- stage timings -------------------------------------------------------------------------------------------


def test_stage_timings_cover_the_run(weights: dict[str, Path], tmp_path: Path) -> None:
    import time

    eng = engine(weights, "wan", tmp_path)
    ctx = FakeContext(tmp_path / "run")
    started = time.perf_counter()
    eng.run(request(steps=4), ctx)
    wall = time.perf_counter() - started
    timings = ctx.timings
    assert timings is not None
    for stage in ("load", "inputs", "text_encoding", "setup", "denoising", "decode", "encode"):
        assert timings[stage] >= 0, stage
    assert timings["steps_done"] == 4 and len(timings["steps"]) == 4
    assert sum(timings["steps"]) == pytest.approx(timings["denoising"], abs=0.01)
    stages = sum(timings[s] for s in ("load", "inputs", "text_encoding", "setup", "denoising", "decode", "encode"))
    # the stages account for the run: what is left is bookkeeping between them (well under a tenth)
    assert stages <= timings["total"] <= wall + 0.01
    assert stages == pytest.approx(timings["total"], rel=0.1, abs=0.05)
    assert ctx.phases == ["preparing_assets", "loading", "generating", "encoding"]
