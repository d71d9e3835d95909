"""The diffusion engine end to end on the CPU, with tiny random-weight LTX, LTX-2 and Wan pipelines.

The weights are built in code (`tiny_pipelines.py`) and loaded through the engine's normal
`weights = <dir>` path; nothing is downloaded (HF_HUB_OFFLINE=1 is set before diffusers is imported).
The videos are noise, but every path a real model takes is exercised: loading, the text, image,
condition and first/last-frame pipelines, progress, cancellation, seeds, OOM handling and encoding.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
from itertools import pairwise
from pathlib import Path

import pytest
import torch
from PIL import Image

from reelforge.domain.errors import ErrorCode, ReelforgeError
from reelforge.domain.request import GenerationRequest, ImageInput, Kind
from reelforge.engines.base import TaskCancelled
from reelforge.engines.diffusion.engine import DiffusionEngine
from reelforge.media.probe import probe
from tests.engines.fake_context import FakeContext
from tests.engines.tiny_pipelines import build_tiny_ltx, build_tiny_ltx2, build_tiny_wan, build_tiny_wan_i2v

# Before the first diffusers import (the fixtures below): never reach for the Hugging Face hub.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"

STEPS = 3


@pytest.fixture(scope="module")
def weights(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("weights")
    return {
        "ltx": build_tiny_ltx(root / "ltx"),
        "ltx2": build_tiny_ltx2(root / "ltx2"),
        "wan": build_tiny_wan(root / "wan"),
        "wan_i2v": build_tiny_wan_i2v(root / "wan_i2v"),
    }


def fresh_copy(weights: dict[str, Path], name: str, tmp_path: Path) -> dict[str, Path]:
    """A copy of the weights at a new path: engines on it share nothing already loaded by other tests."""
    return {name: Path(shutil.copytree(weights[name], tmp_path / f"fresh-{name}"))}


def make_engine(weights: dict[str, Path], name: str, **settings: object) -> DiffusionEngine:
    family = name if name in ("ltx", "ltx2") else "wan"
    # Wan pads prompts to 512 tokens by default, LTX-2 to 1024; 16 keeps the tiny text encoders fast.
    extra = {"pipeline_kwargs": {"max_sequence_length": 16}} if family != "ltx" else {}
    return DiffusionEngine({"family": family, "weights": str(weights[name]), **extra, **settings})


@pytest.fixture(scope="module")
def ltx(weights: dict[str, Path]) -> DiffusionEngine:
    return make_engine(weights, "ltx")


@pytest.fixture(scope="module")
def ltx2(weights: dict[str, Path]) -> DiffusionEngine:
    return make_engine(weights, "ltx2")


@pytest.fixture(scope="module")
def wan(weights: dict[str, Path]) -> DiffusionEngine:
    return make_engine(weights, "wan")


@pytest.fixture(scope="module")
def wan_i2v(weights: dict[str, Path]) -> DiffusionEngine:
    return make_engine(weights, "wan_i2v")


def png(colour: tuple[int, int, int], size: tuple[int, int] = (48, 40)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, format="PNG")
    return buffer.getvalue()


INPUTS = {"stored:red": png((220, 30, 30)), "stored:green": png((30, 200, 60)), "stored:blue": png((20, 40, 230))}


def request(kind: Kind = Kind.TEXT_TO_VIDEO, **fields: object) -> GenerationRequest:
    base: dict[str, object] = {
        "kind": kind,
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


def run(engine: DiffusionEngine, req: GenerationRequest, workdir: Path, **ctx_args: object) -> FakeContext:
    ctx = FakeContext(workdir, inputs=INPUTS, **ctx_args)
    artifact = engine.run(req, ctx)
    info = probe(artifact.video_path, count_frames=True)
    assert (info.width, info.height, info.frame_count) == (req.width, req.height, req.num_frames)
    assert info.fps == pytest.approx(req.fps)
    assert info.codec == "h264"
    assert (artifact.width, artifact.height, artifact.fps) == (req.width, req.height, req.fps)
    assert artifact.duration == pytest.approx(req.num_frames / req.fps)
    assert artifact.thumbnail_path.stat().st_size > 0
    return ctx


def assert_progress(ctx: FakeContext, steps: int = STEPS) -> None:
    reported = ctx.reported
    assert all(b > a for a, b in pairwise(reported)), reported
    assert reported[-1] == 100.0
    denoising = [p for p in reported if 5.0 < p <= 90.0]
    assert len(denoising) == steps  # one report per denoising step
    assert ctx.phases[-2:] == ["generating", "encoding"]


def images(*sources: str, frames: tuple[int, ...] = (), strengths: tuple[float, ...] = ()) -> list[ImageInput]:
    return [
        ImageInput(source=s, frame=frames[k] if frames else 0, strength=strengths[k] if strengths else 1.0)
        for k, s in enumerate(sources)
    ]


# --- LTX ---------------------------------------------------------------------------------------------------


def test_ltx_text_to_video(ltx: DiffusionEngine, tmp_path: Path) -> None:
    ctx = run(ltx, request(), tmp_path)
    assert_progress(ctx)


def test_ltx_image_to_video(ltx: DiffusionEngine, tmp_path: Path) -> None:
    ctx = run(ltx, request(Kind.IMAGE_TO_VIDEO, images=images("stored:red")), tmp_path)
    assert_progress(ctx)


def test_ltx_keyframes_use_the_condition_pipeline(ltx: DiffusionEngine, tmp_path: Path) -> None:
    req = request(
        Kind.KEYFRAMES,
        images=images("stored:red", "stored:green", "stored:blue", frames=(0, 4, 8), strengths=(1.0, 0.6, 1.0)),
    )
    assert_progress(run(ltx, req, tmp_path))
    assert type(ltx.pipelines.get("condition")).__name__ == "LTXConditionPipeline"


def test_ltx_multi_image(ltx: DiffusionEngine, tmp_path: Path) -> None:
    req = request(Kind.MULTI_IMAGE, images=images("stored:red", "stored:blue"))
    assert_progress(run(ltx, req, tmp_path))


def test_request_values_reach_the_pipeline_unchanged(ltx: DiffusionEngine, tmp_path: Path) -> None:
    req = request(
        Kind.KEYFRAMES,
        negative_prompt="blurry",
        steps=5,
        seed=42,
        fps=24,
        duration=17 / 24,
        images=images("stored:red", "stored:green", frames=(0, 12), strengths=(1.0, 0.5)),
    )
    from reelforge.engines.diffusion.constraints import plan

    the_plan = plan(req, ltx.settings)
    ctx = FakeContext(tmp_path)
    kwargs = ltx._call_kwargs(the_plan, req, [Image.new("RGB", (32, 32))] * 2, ctx, lambda p: None)
    assert kwargs["prompt"] == req.prompt and kwargs["negative_prompt"] == "blurry"
    assert kwargs["num_inference_steps"] == 5 and kwargs["num_frames"] == 17 and kwargs["frame_rate"] == 24
    assert (kwargs["width"], kwargs["height"]) == (32, 32)
    assert kwargs["frame_index"] == [0, 12] and kwargs["strength"] == [1.0, 0.5]
    assert torch.equal(kwargs["generator"].get_state(), torch.Generator().manual_seed(42).get_state())


def test_sizes_and_frame_counts_the_model_cannot_make_are_snapped_and_cropped(
    ltx: DiffusionEngine, tmp_path: Path
) -> None:
    # 40x34 and 10 frames: LTX generates 64x64 and 17 frames; the MP4 is exactly what was asked.
    run(ltx, request(width=40, height=34, fps=10, duration=1.0), tmp_path)


def test_same_seed_same_video_other_seed_other_video(ltx: DiffusionEngine, tmp_path: Path) -> None:
    first = (run(ltx, request(seed=3), tmp_path / "a").workdir / "video.mp4").read_bytes()
    second = (run(ltx, request(seed=3), tmp_path / "b").workdir / "video.mp4").read_bytes()
    other = (run(ltx, request(seed=4), tmp_path / "c").workdir / "video.mp4").read_bytes()
    assert first == second
    assert first != other


def test_weights_load_once_and_pipelines_share_modules(weights: dict[str, Path], tmp_path: Path) -> None:
    weights = fresh_copy(weights, "ltx", tmp_path)
    engine = make_engine(weights, "ltx")
    assert engine.loads == 0  # nothing loads in __init__ ...
    engine.validate(request())
    assert engine.loads == 0  # ... or validate
    run(engine, request(), tmp_path / "a")
    run(engine, request(Kind.IMAGE_TO_VIDEO, images=images("stored:red")), tmp_path / "b")
    assert engine.loads == 1
    text, image, condition = (engine.pipelines.get(m) for m in ("text", "image", "condition"))
    assert text.transformer is image.transformer is condition.transformer
    assert text.vae is image.vae is condition.vae
    # A second model name on the same checkpoint (another engine instance) reuses the loaded weights.
    other = make_engine(weights, "ltx", default_steps=2)
    run(other, request(steps=None), tmp_path / "c")
    assert other.loads == engine.loads == 1


def test_cancel_in_the_middle_of_denoising(ltx: DiffusionEngine, tmp_path: Path) -> None:
    steps = 6
    probe_ctx = run(ltx, request(steps=steps), tmp_path / "count")
    before_denoising = probe_ctx.cancel_checks - steps  # checks made before the first step's callback
    ctx = FakeContext(tmp_path / "cancel", inputs=INPUTS, cancel_after=before_denoising + 2)
    with pytest.raises(TaskCancelled):
        ltx.run(request(steps=steps), ctx)
    assert ctx.phases[-1] == "generating"
    assert len([p for p in ctx.reported if 5.0 < p <= 90.0]) == 2  # two steps ran, the third was refused
    assert not (ctx.workdir / "video.mp4").exists()
    run(ltx, request(), tmp_path / "after")  # the engine is ready for the next task


# --- LTX-2 -------------------------------------------------------------------------------------------------


def test_ltx2_text_to_video(ltx2: DiffusionEngine, tmp_path: Path) -> None:
    assert ltx2.capabilities.kinds == {Kind.TEXT_TO_VIDEO, Kind.IMAGE_TO_VIDEO, Kind.KEYFRAMES, Kind.MULTI_IMAGE}
    assert_progress(run(ltx2, request(), tmp_path))
    assert type(ltx2.pipelines.get("text")).__name__ == "LTX2Pipeline"
    # 40x34 and 10 frames at 10 fps: generated at 64x64 with 17 frames, delivered as asked.
    run(ltx2, request(width=40, height=34, fps=10, steps=1), tmp_path / "snapped")


def test_ltx2_image_to_video(ltx2: DiffusionEngine, tmp_path: Path) -> None:
    req = request(Kind.IMAGE_TO_VIDEO, images=images("stored:red"))
    assert_progress(run(ltx2, req, tmp_path))
    assert type(ltx2.pipelines.get("image")).__name__ == "LTX2ImageToVideoPipeline"


def test_ltx2_keyframes_place_images_on_latent_frames(ltx2: DiffusionEngine, tmp_path: Path) -> None:
    # 17 frames: pixel frames 0, 5 and 16 are latent frames 0, 1 and 2 (frame 0, then 8 frames per latent).
    req = request(
        Kind.KEYFRAMES,
        fps=17,
        images=images("stored:red", "stored:green", "stored:blue", frames=(0, 5, 16), strengths=(1.0, 0.6, 1.0)),
    )
    from reelforge.engines.diffusion.constraints import plan

    conditions = ltx2._call_kwargs(
        plan(req, ltx2.settings), req, [Image.new("RGB", (32, 32))] * 3, FakeContext(tmp_path), lambda p: None
    )["conditions"]
    assert [(c.index, c.strength) for c in conditions] == [(0, 1.0), (1, 0.6), (2, 1.0)]
    assert_progress(run(ltx2, req, tmp_path / "k"))
    assert_progress(run(ltx2, request(Kind.MULTI_IMAGE, images=images("stored:red", "stored:blue")), tmp_path / "m"))
    pipe = ltx2.pipelines.get("condition")
    assert type(pipe).__name__ == "LTX2ConditionPipeline"
    assert pipe.transformer is ltx2.pipelines.get("text").transformer


def test_ltx2_cancel_in_the_middle_of_denoising(ltx2: DiffusionEngine, tmp_path: Path) -> None:
    steps = 4
    probe_ctx = run(ltx2, request(steps=steps), tmp_path / "count")
    before_denoising = probe_ctx.cancel_checks - steps
    ctx = FakeContext(tmp_path / "cancel", inputs=INPUTS, cancel_after=before_denoising + 2)
    with pytest.raises(TaskCancelled):
        ltx2.run(request(steps=steps), ctx)
    assert len([p for p in ctx.reported if 5.0 < p <= 90.0]) == 2
    assert not (ctx.workdir / "video.mp4").exists()
    run(ltx2, request(), tmp_path / "after")


# --- Wan ---------------------------------------------------------------------------------------------------


def test_wan_text_to_video(wan: DiffusionEngine, tmp_path: Path) -> None:
    assert wan.capabilities.kinds == {Kind.TEXT_TO_VIDEO}
    assert_progress(run(wan, request(), tmp_path))


def test_wan_image_to_video_and_first_last_keyframes(wan_i2v: DiffusionEngine, tmp_path: Path) -> None:
    assert wan_i2v.capabilities.kinds == {Kind.IMAGE_TO_VIDEO, Kind.KEYFRAMES}
    assert_progress(run(wan_i2v, request(Kind.IMAGE_TO_VIDEO, images=images("stored:green")), tmp_path / "i2v"))
    req = request(Kind.KEYFRAMES, images=images("stored:red", "stored:blue"))
    assert_progress(run(wan_i2v, req, tmp_path / "flf"))
    assert wan_i2v.loads == 1


def test_wan_same_seed_same_video(wan: DiffusionEngine, tmp_path: Path) -> None:
    first = (run(wan, request(seed=11), tmp_path / "a").workdir / "video.mp4").read_bytes()
    second = (run(wan, request(seed=11), tmp_path / "b").workdir / "video.mp4").read_bytes()
    assert first == second


# --- validation --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("engine_name", "req", "field", "words"),
    [
        ("ltx", request(fps=24, duration=11.0), "/duration", "at most 257"),
        ("ltx", request(width=16), "/width", "between 32"),
        ("ltx", request(height=33), "/height", "even"),
        ("ltx", request(steps=0), "/steps", "steps"),
        ("ltx", request(prompt=" "), "/prompt", "prompt"),
        ("ltx", request(Kind.IMAGE_TO_VIDEO), "/images", "exactly one image"),
        ("ltx", request(Kind.KEYFRAMES, images=images("stored:red")), "/images", "at least 2"),
        (
            "ltx",
            request(Kind.KEYFRAMES, images=images("stored:red", "stored:blue", frames=(4, 2))),
            "/images/1/frame",
            "strictly increasing",
        ),
        ("ltx", request(Kind.LONG_VIDEO, prompts=["a", "b"]), "/kind", "long_video"),
        (
            "ltx2",
            request(Kind.KEYFRAMES, images=images("stored:red", "stored:green", "stored:blue", frames=(0, 4, 8))),
            "/images/2/frame",
            "same 8-frame step",
        ),
        ("ltx2", request(fps=24, duration=11.0), "/duration", "at most 257"),
        ("wan", request(Kind.IMAGE_TO_VIDEO, images=images("stored:red")), "/kind", "text_to_video"),
        ("wan", request(fps=16, duration=6.0), "/duration", "at most 81"),
        (
            "wan_i2v",
            request(Kind.KEYFRAMES, images=images("stored:red", "stored:green", "stored:blue")),
            "/images",
            "first and a last",
        ),
    ],
)
def test_validation_names_the_field(
    weights: dict[str, Path], engine_name: str, req: GenerationRequest, field: str, words: str
) -> None:
    engine = make_engine(weights, engine_name)
    with pytest.raises(ReelforgeError) as caught:
        engine.validate(req)
    assert caught.value.code == ErrorCode.INVALID_PAYLOAD and caught.value.http_status == 400
    assert caught.value.field == field
    assert words in caught.value.message


@pytest.mark.parametrize(
    ("name", "req", "field", "words"),
    [
        ("ltx", request(width=48), "/width", "multiple of 32 for ltx models, got 48; use 32 or 64"),
        ("ltx", request(fps=24, duration=5.0), "/duration", "(113 frames) or 5.042 (121 frames)"),
        ("ltx2", request(width=48), "/width", "multiple of 32 for ltx2 models, got 48; use 32 or 64"),
        ("wan", request(height=40), "/height", "use 32 or 48"),
        ("wan", request(fps=16, duration=1.0), "/duration", "(13 frames) or 1.062 (17 frames)"),
    ],
)
def test_strict_sizes_reject_instead_of_snapping(
    weights: dict[str, Path], name: str, req: GenerationRequest, field: str, words: str
) -> None:
    engine = make_engine(weights, name, strict_sizes=True)
    with pytest.raises(ReelforgeError) as caught:
        engine.validate(req)
    assert caught.value.field == field
    assert words in caught.value.message
    make_engine(weights, name).validate(req)  # the default snaps instead


def test_validate_does_not_import_torch(weights: dict[str, Path]) -> None:
    code = (
        "import sys\n"
        "from reelforge.domain.request import GenerationRequest\n"
        "from reelforge.engines.diffusion.engine import DiffusionEngine\n"
        f"engine = DiffusionEngine({{'family': 'ltx', 'weights': {str(weights['ltx'])!r}}})\n"
        "engine.validate(GenerationRequest(kind='text_to_video', prompt='x', width=64, height=64, fps=24,"
        " duration=1))\n"
        "assert 'torch' not in sys.modules and 'diffusers' not in sys.modules, 'heavy import'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[2])


def test_unknown_settings_fail_at_start_up() -> None:
    with pytest.raises(ValueError, match="family"):
        DiffusionEngine({"family": "sora", "weights": "/x"})
    with pytest.raises(ValueError, match="vae_tilling"):
        DiffusionEngine({"family": "ltx", "weights": "/x", "vae_tilling": True})


# --- failures ----------------------------------------------------------------------------------------------


def test_missing_weights_directory_names_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-weights"
    engine = DiffusionEngine({"family": "ltx", "weights": str(missing)})
    engine.validate(request())  # validate never touches the weights
    with pytest.raises(ReelforgeError) as caught:
        engine.run(request(), FakeContext(tmp_path / "work"))
    assert caught.value.code == ErrorCode.ENGINE_ERROR
    assert str(missing) in caught.value.message


def test_broken_weights_directory_names_the_path(tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    (broken / "transformer").mkdir(parents=True)
    index = '{"_class_name": "LTXPipeline", "vae": ["diffusers", "AutoencoderKLLTXVideo"]}'
    for message_part, model_index in (("no model_index.json", None), ("could not load", index)):
        if model_index is not None:
            (broken / "model_index.json").write_text(model_index)
        engine = DiffusionEngine({"family": "ltx", "weights": str(broken)})
        with pytest.raises(ReelforgeError) as caught:
            engine.run(request(), FakeContext(tmp_path / "work"))
        assert str(broken) in caught.value.message and message_part in caught.value.message


class _OutOfMemoryOnce:
    """A forward pre-hook that raises CUDA's OOM error on the transformer's first `times` calls."""

    def __init__(self, times: int, error: Exception) -> None:
        self.times, self.calls, self.error = times, 0, error

    def __call__(self, module: object, args: object) -> None:
        self.calls += 1
        if self.calls <= self.times:
            raise self.error


def test_oom_retries_once_with_lighter_settings(weights: dict[str, Path], tmp_path: Path) -> None:
    weights = fresh_copy(weights, "ltx", tmp_path)
    engine = make_engine(weights, "ltx")
    pipe = engine.pipelines.get("text")
    assert not engine.pipelines.vae_tiling
    fault = _OutOfMemoryOnce(1, torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"))
    handle = pipe.transformer.register_forward_pre_hook(fault)
    try:
        ctx = run(engine, request(), tmp_path)
    finally:
        handle.remove()
    assert fault.calls > 1
    assert engine.pipelines.vae_tiling and pipe.vae.use_tiling  # the lighter setting stays on
    assert ctx.reported[-1] == 100.0
    assert all(b > a for a, b in pairwise(ctx.reported))
    assert engine.loads == 1


@pytest.mark.parametrize(
    ("settings", "error"),
    [
        ({"oom_retry": False}, RuntimeError("CUDA error: out of memory")),
        ({}, torch.OutOfMemoryError("CUDA out of memory")),  # still out of memory after the retry
    ],
)
def test_oom_without_a_way_out_is_an_engine_error(
    weights: dict[str, Path], tmp_path: Path, settings: dict[str, object], error: Exception
) -> None:
    weights = fresh_copy(weights, "ltx", tmp_path)
    engine = make_engine(weights, "ltx", **settings)
    pipe = engine.pipelines.get("text")
    fault = _OutOfMemoryOnce(100, error)
    handle = pipe.transformer.register_forward_pre_hook(fault)
    try:
        with pytest.raises(ReelforgeError) as caught:
            engine.run(request(), FakeContext(tmp_path / "work"))
    finally:
        handle.remove()
    assert caught.value.code == ErrorCode.ENGINE_ERROR
    assert "out of memory" in caught.value.message
    assert fault.calls == (1 if settings else 2)
