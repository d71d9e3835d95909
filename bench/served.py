"""`reelforge serve` in a subprocess for the benchmarks: started, waited for, stopped."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx


def wait_until_up(url: str, proc: subprocess.Popen, seconds: float = 60) -> None:
    """Return once `url` answers; exit the benchmark if `proc` dies or `seconds` pass first."""
    deadline = time.monotonic() + seconds
    while True:
        if proc.poll() is not None:
            raise SystemExit(f"the server behind {url} exited with {proc.returncode}")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            if time.monotonic() > deadline:
                raise SystemExit(f"{url} did not come up") from None
            time.sleep(0.1)


@contextlib.contextmanager
def served(
    data_dir: Path, port: int, *, workers: int = 1, env: dict[str, str] | None = None, startup_seconds: float = 60
) -> Iterator[tuple[str, str]]:
    """(base URL, dev key) of a fresh server on `data_dir`; the server stops when the block ends."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("REELFORGE_")}
    clean.update(REELFORGE_DATA_DIR=str(data_dir), **(env or {}))
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "reelforge",
            "serve",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--log-level",
            "WARNING",
        ],
        env=clean,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(f"{base}/healthz", proc, startup_seconds)
        yield base, json.loads((data_dir / "dev-key.json").read_text())["secret"]
    finally:
        proc.terminate()
        proc.wait(30)
