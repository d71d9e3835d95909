"""Sweeps scratch folders left in the work directory by attempts that died (SIGKILL, OOM, a lost host).

An attempt cleans its own `work/<task>/attempt-<n>` when it ends; one killed outright cannot, and its files
stayed forever. Any folder that is not the current attempt of a task with a live lease is stale. A folder
younger than `min_age` seconds is kept whatever the database says: a worker creates it just after its claim
commits, so a sweep that read the leases a moment earlier must not take it.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import time
from pathlib import Path

log = logging.getLogger(__name__)


def sweep_scratch(work_dir: Path, live: dict[str, int], min_age: float) -> int:
    """Remove stale attempt folders (and task folders left empty); the number of attempt folders removed."""
    if not work_dir.is_dir():
        return 0
    removed = 0
    cutoff = time.time() - min_age
    for task_dir in work_dir.iterdir():
        if not task_dir.is_dir():
            continue
        current = live.get(task_dir.name)
        for attempt in task_dir.iterdir():
            if current is not None and attempt.name == f"attempt-{current}":
                continue
            with contextlib.suppress(OSError):
                if attempt.stat().st_mtime > cutoff:
                    continue
                if attempt.is_dir():
                    shutil.rmtree(attempt, ignore_errors=True)
                else:
                    attempt.unlink()
                removed += 1
        with contextlib.suppress(OSError):
            task_dir.rmdir()  # only if empty
    if removed:
        log.info("removed %d stale scratch folder(s) from %s", removed, work_dir)
    return removed
