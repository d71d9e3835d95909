"""The agent skill (`skills/reelforge-video`): valid in the Agent Skills format, installable with one command,
and every command it tells an agent to run works against a real `reelforge serve`.

The format's rules (agentskills.io specification): `name` 1-64 characters of lowercase letters, digits and
single hyphens, not at either end, equal to the folder's name; `description` 1-1024 characters saying what
and when; `compatibility` at most 500; only the six known top-level fields. `skills-ref`, the format's
reference validator, checks them too. OpenClaw reads `metadata.openclaw.requires` (`env`, `bins`).
"""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import skills_ref
import yaml

from reelforge.cli.skill_command import SKILL, install, skill_source
from tests.conftest import run_cli, server_env
from tests.helpers import png_bytes

SKILL_DIR = Path(__file__).resolve().parents[2] / "skills" / SKILL
FIELDS = {"name", "description", "license", "compatibility", "metadata", "allowed-tools"}
NAME = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
BASH_BLOCK = re.compile(r"^```bash\n(.*?)^```", re.S | re.M)


def frontmatter(path: Path) -> tuple[dict[str, Any], str]:
    text = path.read_text()
    assert text.startswith("---\n")
    head, body = text[4:].split("\n---\n", 1)
    return yaml.safe_load(head), body


def documents() -> list[Path]:
    return [SKILL_DIR / "SKILL.md", *sorted((SKILL_DIR / "references").glob("*.md"))]


def test_the_skill_follows_the_agent_skills_format() -> None:
    assert skills_ref.validate(SKILL_DIR) == []
    meta, body = frontmatter(SKILL_DIR / "SKILL.md")
    assert set(meta) <= FIELDS and {"name", "description"} <= set(meta)
    name, description = meta["name"], meta["description"]
    assert NAME.match(name) and len(name) <= 64 and name == SKILL_DIR.name == SKILL
    assert 1 <= len(description) <= 1024 and "Use when" in description  # what, then when
    assert 1 <= len(meta["compatibility"]) <= 500
    requires = meta["metadata"]["openclaw"]["requires"]
    assert set(requires["env"]) == {"REELFORGE_BASE_URL", "REELFORGE_API_KEY"} and requires["bins"] == ["reelforge"]
    assert len(body.splitlines()) < 500  # the spec's budget for the body loaded on activation
    # every reference it points to exists, one level deep, and every reference file is pointed to
    linked = set(re.findall(r"\]\((references/[^)]+)\)", body))
    assert linked == {f"references/{path.name}" for path in documents()[1:]}
    assert {"generate.md", "image-to-video.md", "keyframes.md", "templates.md", "errors-and-retries.md"} == {
        Path(link).name for link in linked
    }


def test_the_skill_ships_as_package_data() -> None:
    shipped = skill_source()
    assert shipped.joinpath("SKILL.md").read_text() == (SKILL_DIR / "SKILL.md").read_text()
    assert sorted(entry.name for entry in shipped.joinpath("references").iterdir()) == sorted(
        path.name for path in documents()[1:]
    )


def test_skill_install_picks_the_folder_and_replaces_an_old_copy(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    env = server_env(tmp_path / "data")
    result = subprocess.run(
        [sys.executable, "-m", "reelforge", "skill", "install"], cwd=project, env=env, capture_output=True, timeout=60
    )
    assert result.returncode == 0, result.stderr  # default: ./.claude/skills of the command's directory
    assert (project / ".claude" / "skills" / SKILL / "SKILL.md").is_file()
    custom = tmp_path / "custom"
    result = run_cli(tmp_path / "data", "skill", "install", "--dir", str(custom))
    assert result.stdout.strip() == f"installed {SKILL} in {custom / SKILL}"
    assert skills_ref.validate(custom / SKILL) == []
    for path in documents():
        assert (custom / SKILL / path.relative_to(SKILL_DIR)).read_bytes() == path.read_bytes()
    # an update replaces the folder whole: nothing stale is left
    (custom / SKILL / "references" / "old.md").write_text("stale")
    install(custom)
    assert not (custom / SKILL / "references" / "old.md").exists()
    # .agents/skills where a project has .agents and no .claude
    other = tmp_path / "other"
    (other / ".agents").mkdir(parents=True)
    subprocess.run([sys.executable, "-m", "reelforge", "skill", "install"], cwd=other, env=env, check=True, timeout=60)
    assert (other / ".agents" / "skills" / SKILL / "SKILL.md").is_file()
    assert not (other / ".claude").exists()


@pytest.mark.parametrize("document", [path.relative_to(SKILL_DIR).as_posix() for path in documents()])
def test_every_command_the_skill_gives_runs(document: str, start_server: Any, tmp_path: Path) -> None:
    """The `bash` blocks of each document, in order and in one shell, with only what an agent would have:
    the server's URL and a key in the environment, `reelforge` on the PATH, and the images it names."""
    script = "\n".join(BASH_BLOCK.findall((SKILL_DIR / document).read_text()))
    if document == "references/templates.md":
        assert script == ""  # MCP only: its example is a tool call, checked in tests/mcp
        return
    assert script.strip(), f"{document} gives no command"
    server = start_server(workers=1)
    work = tmp_path / "work"
    bin_dir = tmp_path / "bin"
    work.mkdir()
    bin_dir.mkdir()
    wrapper = bin_dir / "reelforge"
    wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m reelforge "$@"\n')
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IEXEC)
    for name, (width, height) in {"photo.png": (320, 240), "first.png": (256, 256), "last.png": (256, 256)}.items():
        (work / name).write_bytes(png_bytes(width, height))
    env = server_env(tmp_path / "agent-data", {"REELFORGE_BASE_URL": server.url, "REELFORGE_API_KEY": server.key})
    env["PATH"] = f"{bin_dir}{os.pathsep}{env['PATH']}"
    env["HOME"] = str(tmp_path / "home")  # no saved `reelforge login`
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script], cwd=work, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, f"{document}:\n{result.stdout}\n{result.stderr}"
    assert server.key not in result.stdout + result.stderr
