"""`reelforge skill install`: copy the agent skill (`skills/reelforge-video`, shipped as package data) into a
skills folder, so agents that read Agent Skills (agentskills.io: Claude Code, Codex, OpenClaw ...) learn to
drive reelforge.

Where: `--dir` if given; else `.claude/skills` when this directory has a `.claude` folder, or `.agents/skills`
when it has `.agents`; else `.claude/skills`. `--user` puts it under the home directory instead. An existing
copy is replaced (an update), never merged, so files the skill dropped do not linger.
"""

from __future__ import annotations

import shutil
import tempfile
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Annotated

import typer

SKILL = "reelforge-video"

skill_app = typer.Typer(help="The reelforge agent skill (agentskills.io format).", no_args_is_help=True)


def skill_source() -> Traversable:
    """The shipped skill folder (`reelforge/skills/<name>`, the repository's `skills/<name>`)."""
    return resources.files("reelforge").joinpath("skills", SKILL)


def default_root(base: Path) -> Path:
    """`.claude/skills`, or `.agents/skills` where only `.agents` exists."""
    if not (base / ".claude").is_dir() and (base / ".agents").is_dir():
        return base / ".agents" / "skills"
    return base / ".claude" / "skills"


def install(root: Path) -> Path:
    """Copy the skill to `root/<name>` (replacing an older copy whole); the installed folder."""
    target = root / SKILL
    root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=root, prefix=f".{SKILL}-") as staging:
        fresh = Path(staging) / SKILL
        _copy(skill_source(), fresh)
        if target.exists():
            shutil.rmtree(target)
        fresh.rename(target)
    return target


def _copy(source: Traversable, target: Path) -> None:
    target.mkdir(parents=True)
    for entry in source.iterdir():
        if entry.name.startswith((".", "__")):
            continue
        if entry.is_dir():
            _copy(entry, target / entry.name)
        else:
            (target / entry.name).write_bytes(entry.read_bytes())


@skill_app.command("install")
def install_command(
    dir: Annotated[
        Path | None,
        typer.Option("--dir", help="The skills folder to install into [default: .claude/skills or .agents/skills]."),
    ] = None,
    user: Annotated[bool, typer.Option("--user", help="Under the home directory (~/.claude/skills).")] = False,
) -> None:
    """Install the reelforge-video skill into a skills folder."""
    root = dir.expanduser() if dir else default_root(Path.home() if user else Path.cwd())
    target = install(root)
    typer.echo(f"installed {SKILL} in {target}")


@skill_app.command("path")
def path_command() -> None:
    """Print where the shipped skill is (to read or copy it by hand)."""
    typer.echo(str(skill_source()))
