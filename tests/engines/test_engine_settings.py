"""Every engine declares a `Settings` model (unknown keys refused) and capabilities checked by one checker."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from reelforge.config import load_catalog
from reelforge.domain.catalog import Catalog, CatalogError, ModelSpec
from reelforge.domain.errors import ErrorCode, ReelforgeError
from reelforge.domain.request import GenerationRequest, ImageInput, Kind
from reelforge.engines.base import (
    ENGINE_CLASSES,
    EngineCapabilities,
    EngineSettings,
    build_engines,
    check_capabilities,
    create_engine,
    engine_class,
)

UPSTREAM = {"provider": "aivideomaker", "base_url": "https://aivideomaker.ai", "api_key_env": "K", "model": "t2v"}


def request(**fields: Any) -> GenerationRequest:
    base: dict[str, Any] = {"kind": Kind.TEXT_TO_VIDEO, "prompt": "p", "width": 160, "height": 96, "fps": 24}
    return GenerationRequest(**{"duration": 2, **base, **fields})


@pytest.mark.parametrize("name", sorted(ENGINE_CLASSES))
def test_every_engine_declares_a_settings_model_that_refuses_unknown_keys(name: str) -> None:
    cls = engine_class(name)
    assert issubclass(cls.Settings, EngineSettings)
    table = {
        **({"family": "ltx", "weights": "/x"} if name == "diffusion" else {}),
        **(UPSTREAM if name == "upstream" else {}),
    }
    create_engine(name, table)  # the defaults (and the required keys) make an engine
    with pytest.raises(ValidationError, match="colour"):
        create_engine(name, {**table, "colour": "red"})


def test_settings_are_parsed_once_and_typed() -> None:
    engine = create_engine("draft", {"crf": "30", "captions": False})
    assert engine.settings.crf == 30 and engine.crf == 30 and engine.captions is False
    assert create_engine("draft", engine.settings).settings is engine.settings  # a parsed model is not parsed again
    with pytest.raises(ValidationError, match="max_duration"):
        create_engine("draft", {"max_duration": 0})
    creator = create_engine("creator", {"clip_settings": {"crf": 28}, "compose": {"max_blocks": 3}})
    assert creator.clip_settings.crf == 28 and creator.renderer.max_blocks == 3
    with pytest.raises(ValidationError, match=r"clip_settings\.crff: unknown key"):
        create_engine("creator", {"clip_settings": {"crff": 28}})
    with pytest.raises(ValidationError, match=r"compose\.threds"):
        create_engine("creator", {"compose": {"threds": 2}})
    with pytest.raises(ValidationError, match="clip_engine must be one of"):
        create_engine("creator", {"clip_engine": "creator"})


def test_the_built_in_catalog_builds_every_engine() -> None:
    catalog = load_catalog()
    engines = build_engines(catalog)
    assert set(engines) == set(catalog.names)
    for name, engine in engines.items():
        assert catalog.models[name].kind in engine.capabilities.kinds, name


def test_build_engines_names_the_file_the_model_and_the_key() -> None:
    def spec(name: str, engine: str, **settings: Any) -> ModelSpec:
        return ModelSpec(name=name, engine=engine, kind=Kind.TEXT_TO_VIDEO, settings=settings)

    catalog = Catalog(
        models={
            "a": spec("a", "draft", crff=1),
            "b": spec("b", "nope"),
            "c": spec("c", "upstream", **{**UPSTREAM, "model": "t2v_nope"}),
            "d": spec("d", "upstream", **{**UPSTREAM, "api_key": "sk-live-secret"}),
        }
    )
    with pytest.raises(CatalogError) as caught:
        build_engines(catalog, "/etc/reelforge/models.toml")
    problems = caught.value.problems
    assert problems[0].startswith("model 'a' (engine draft): settings.crff: unknown key (known: captions, crf")
    assert problems[1].startswith("model 'b': engine: unknown engine 'nope'")
    assert problems[2].startswith("model 'c' (engine upstream): settings: upstream engine: AIVideoMaker model")
    assert "never put the provider's key in models.toml" in problems[3]
    assert "sk-live-secret" not in caught.value.report()
    assert caught.value.report().startswith("/etc/reelforge/models.toml is invalid:\n  model 'a'")


def test_load_catalog_names_the_model_and_key() -> None:
    with pytest.raises(CatalogError) as caught:
        load_catalog_text('[models.t2v]\nengine = "draft"\nkind = "text_to_video"\ndurationz = [5]\n')
    assert caught.value.problems == [
        "model 't2v': durationz: unknown key (known: aspect_ratios, credits_per_asset, credits_per_job, "
        "credits_per_second, default_seconds, default_size, description, durations, engine, expected_seconds, fps, "
        "height, kind, max_prompts, provider_names, segment_seconds, settings, sizes, standardize_sizes)"
    ]
    with pytest.raises(CatalogError, match="model 't2v': kind: Input should be"):
        load_catalog_text('[models.t2v]\nengine = "draft"\nkind = "text_to_vid"\n')
    with pytest.raises(CatalogError, match="model 't2v': engine: required"):
        load_catalog_text('[models.t2v]\nkind = "text_to_video"\n')


def load_catalog_text(text: str) -> Catalog:
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "models.toml"
        path.write_text(text)
        return load_catalog(path)


# --- the shared checker --------------------------------------------------------------------------------------

CAPS = EngineCapabilities(
    kinds=frozenset({Kind.TEXT_TO_VIDEO}),
    who="the test engine",
    min_side=64,
    max_side=1024,
    even_sides=True,
    min_fps=1,
    max_fps=60,
    max_duration=10,
    min_frames=1,
)


@pytest.mark.parametrize(
    ("fields", "caps", "field", "message"),
    [
        (
            {"kind": Kind.IMAGE_TO_VIDEO, "images": [ImageInput(source="stored:x")]},
            CAPS,
            "/kind",
            "the test engine does not do image_to_video; it does text_to_video",
        ),
        ({"width": 32}, CAPS, "/width", "width must be between 64 and 1024 pixels, got 32"),
        ({"height": 2000}, CAPS, "/height", "height must be between 64 and 1024 pixels, got 2000"),
        (
            {"width": 161},
            CAPS,
            "/width",
            "width must be even (H.264 halves the colour resolution), got 161; use 162 or 160",
        ),
        ({"fps": 61}, CAPS, "/fps", "fps must be between 1 and 60, got 61"),
        ({"duration": 11}, CAPS, "/duration", "duration must be more than 0 and at most 10 seconds, got 11"),
        (
            {"duration": 0.01},
            CAPS,
            "/duration",
            "duration 0.01 s at 24 fps is less than one frame; ask for at least 0.0417 seconds",
        ),
        (
            {"duration": 6},
            EngineCapabilities(kinds=CAPS.kinds, durations=(5, 8)),
            "/duration",
            "this model makes videos of 5, 8 seconds; 6 s is not one of them",
        ),
        (
            {"duration": 5.5},
            EngineCapabilities(kinds=CAPS.kinds, whole_seconds=True),
            "/duration",
            "duration must be a whole number of seconds, got 5.5",
        ),
        (
            {},
            EngineCapabilities(kinds=CAPS.kinds, sizes=("1280x720",)),
            "/size",
            "this model makes only these sizes: 1280x720; got 160x96",
        ),
    ],
)
def test_one_checker_one_wording(fields: dict[str, Any], caps: EngineCapabilities, field: str, message: str) -> None:
    with pytest.raises(ReelforgeError) as caught:
        check_capabilities(request(**fields), caps)
    assert caught.value.code == ErrorCode.INVALID_PAYLOAD and caught.value.http_status == 400
    assert (caught.value.field, caught.value.message) == (field, message)
    check_capabilities(request(), CAPS)


@pytest.mark.parametrize(
    ("name", "settings"),
    [("draft", {}), ("compose", {}), ("diffusion", {"family": "ltx", "weights": "/x"}), ("upstream", UPSTREAM)],
)
def test_every_engine_refuses_with_the_shared_wording(name: str, settings: dict[str, Any], monkeypatch) -> None:
    monkeypatch.setenv("K", "key")
    engine = create_engine(name, settings)
    kind = Kind.COMPOSE if name != "compose" else Kind.TEXT_TO_VIDEO
    with pytest.raises(ReelforgeError) as caught:
        engine.validate(request(kind=kind, prompts=["a"], images=[ImageInput(source="stored:x")]))
    assert caught.value.field == "/kind"
    assert caught.value.message.startswith(f"{engine.capabilities.who} does not do {kind.value}; it does ")
    if name != "upstream":  # the hosted provider has no frame rules of its own; it refuses by aspect
        with pytest.raises(ReelforgeError) as caught:
            engine.validate(request(kind=next(iter(engine.capabilities.kinds)), width=97))
        assert caught.value.field == "/width"
