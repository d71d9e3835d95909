"""A bad `models.toml` stops `serve`, `worker` and `mcp` before they start: file, model and key named, exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import run_cli

TYPO = """
[models.t2v]
engine = "draft"
kind = "text_to_video"
durations = [5, 8]

[models.t2v.settings]
crff = 20
"""


@pytest.mark.parametrize("command", ["serve", "worker", "mcp"])
def test_a_typo_in_an_engine_setting_stops_the_command(tmp_path: Path, command: str) -> None:
    models = tmp_path / "models.toml"
    models.write_text(TYPO)
    result = run_cli(tmp_path / "data", command, env={"REELFORGE_MODELS_FILE": str(models)}, check=False)
    assert result.returncode == 2, result.stderr
    assert f"reelforge {command}: cannot start: {models} is invalid" in result.stderr
    assert "model 't2v' (engine draft): settings.crff: unknown key (known: captions, crf," in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_every_problem_of_the_file_is_named_at_once(tmp_path: Path) -> None:
    models = tmp_path / "models.toml"
    models.write_text(
        TYPO
        + """
[models.fast]
engine = "drafty"
kind = "text_to_video"

[models.wide]
engine = "draft"
kind = "text_to_video"
colour = "red"

[models.hosted]
engine = "upstream"
kind = "text_to_video"

[models.hosted.settings]
provider = "aivideomaker"
base_url = "https://aivideomaker.ai"
api_key_env = "sk-live-pasted-by-mistake"
model = "t2v"
"""
    )
    result = run_cli(tmp_path / "data", "serve", env={"REELFORGE_MODELS_FILE": str(models)}, check=False)
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert lines[0] == f"reelforge serve: cannot start: {models} is invalid:"
    for words in (
        "model 't2v' (engine draft): settings.crff: unknown key",
        "model 'fast': engine: unknown engine 'drafty' (known: draft, compose, creator, diffusion, upstream)",
        "model 'wide': colour: unknown key (known: aspect_ratios,",
        "model 'hosted' (engine upstream): settings.api_key_env: must be the upper-case NAME",
    ):
        assert any(words in line for line in lines), (words, result.stderr)
    assert "sk-live-pasted-by-mistake" not in result.stderr  # a pasted key is never echoed
    assert "Traceback" not in result.stderr


def test_a_bad_value_and_a_file_that_is_not_toml(tmp_path: Path) -> None:
    models = tmp_path / "models.toml"
    models.write_text(TYPO.replace("crff = 20", 'crf = "high"'))
    result = run_cli(tmp_path / "data", "worker", env={"REELFORGE_MODELS_FILE": str(models)}, check=False)
    assert result.returncode == 2 and "model 't2v' (engine draft): settings.crf: Input should be" in result.stderr
    models.write_text("[models.t2v\n")
    result = run_cli(tmp_path / "data", "worker", env={"REELFORGE_MODELS_FILE": str(models)}, check=False)
    assert result.returncode == 2 and f"{models} is invalid:\n  not valid TOML" in result.stderr
    missing = tmp_path / "nope.toml"
    result = run_cli(tmp_path / "data", "mcp", env={"REELFORGE_MODELS_FILE": str(missing)}, check=False)
    assert result.returncode == 2 and f"{missing} is invalid:\n  cannot be read" in result.stderr
