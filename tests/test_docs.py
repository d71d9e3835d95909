"""The docs cover what the code has: every setting in docs/configuration.md, every CLI command in
docs/operations.md. A new setting or command without its documentation fails here, naming what is missing."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from typer.main import get_command

from reelforge.cli.main import app
from reelforge.config import Settings

DOCS = Path(__file__).resolve().parents[1] / "docs"
# REELFORGE_* variables that are not server settings (the CLI's and SDK's own, the test suite's).
NOT_SETTINGS = {"REELFORGE_API_KEY", "REELFORGE_BASE_URL", "REELFORGE_TEST_DATABASE_URL"}


def setting_names() -> list[str]:
    prefix = Settings.model_config.get("env_prefix", "")
    return [f"{prefix}{name}".upper() for name in Settings.model_fields]


def commands(command: Any, path: tuple[str, ...] = ()) -> Iterator[str]:
    """Every leaf command of the typer app, as typed after `reelforge` (`keys create`, `serve`)."""
    children = getattr(command, "commands", None)
    if not children:
        yield " ".join(path)
        return
    for name, child in children.items():
        if not getattr(child, "hidden", False):
            yield from commands(child, (*path, name))


def test_every_setting_is_documented_in_configuration_md() -> None:
    text = (DOCS / "configuration.md").read_text()
    missing = [name for name in setting_names() if not re.search(rf"\b{name}\b", text)]
    assert missing == [], f"docs/configuration.md does not mention: {', '.join(missing)}"


def test_configuration_md_names_no_setting_that_does_not_exist() -> None:
    documented = set(re.findall(r"\bREELFORGE_[A-Z0-9_]*[A-Z0-9]\b", (DOCS / "configuration.md").read_text()))
    stale = sorted(documented - set(setting_names()) - NOT_SETTINGS)
    assert stale == [], f"docs/configuration.md names settings reelforge does not have: {', '.join(stale)}"


def test_every_cli_command_is_documented_in_operations_md() -> None:
    text = (DOCS / "operations.md").read_text()
    found = sorted(commands(get_command(app)))
    assert len(found) > 10 and "keys create" in found and "serve" in found  # the walk sees the whole tree
    missing = [name for name in found if not re.search(rf"`?reelforge {re.escape(name)}\b", text)]
    assert missing == [], f"docs/operations.md does not show: {', '.join('reelforge ' + m for m in missing)}"
