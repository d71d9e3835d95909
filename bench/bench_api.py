"""Benchmark every dialect's polling reads (status, details) against a bare Starlette endpoint.

    python bench/bench_api.py [--seconds 5] [--concurrency 32]
                              [--database-url postgresql+psycopg://postgres@127.0.0.1:5432/test]

Both servers run the same way (uvicorn, one process, in a subprocess) and are loaded by the same
keep-alive client (`bench/loadgen.py`) in this script, so each ratio shows what reelforge's rate limits
(per IP and per key, both counted on every request), authentication and database read cost on top of the
framework itself. Each read is loaded in 1 s slices alternating with the baseline's (the machine is
shared: both see the same load), and its ratio is to those baseline slices. The reads run once on
SQLite and, when `--database-url` reaches a PostgreSQL server (a fresh database is made and dropped),
once on PostgreSQL. The last lines compare PostgreSQL's `/status` with SQLite's.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).parent))
from loadgen import LoadResult, run_load
from scale import fresh_database
from served import served, wait_until_up

BARE_APP = textwrap.dedent("""
    import sys, uvicorn
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    async def status(request):
        return JSONResponse({"status": "COMPLETED", "progress": 100})

    app = Starlette(routes=[Route("/api/v1/tasks/{task_id}/status", status)])
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
""")
UNLIMITED = {"REELFORGE_QUERY_RATE_LIMIT": "100000000/minute", "REELFORGE_KEY_QUERY_RATE_LIMIT": "100000000/minute"}


def reads_of(url: str, key: str) -> list[tuple[str, str, dict[str, str]]]:
    """(name, URL, headers) of each dialect's polling reads, for tasks created here."""
    aivm = httpx.post(
        f"{url}/api/v1/generate/t2v",
        headers={"key": key},
        json={"prompt": "bench", "aspectRatio": "16:9", "duration": "5"},
    ).json()["taskId"]
    video = httpx.post(
        f"{url}/v1/videos", headers={"Authorization": f"Bearer {key}"}, json={"prompt": "bench", "seconds": "4"}
    ).json()["id"]
    token = httpx.post(f"{url}/api/v1/tokens", headers={"key": key}, json={}).json()["token"]
    job = httpx.post(
        f"{url}/api/v1/videos/from-prompt", headers={"Authorization": f"Bearer {token}"}, json={"prompt": "bench"}
    ).json()["jobId"]
    return [
        ("AIVideoMaker /status", f"{url}/api/v1/tasks/{aivm}/status", {"key": key}),
        ("AIVideoMaker details", f"{url}/api/v1/tasks/{aivm}", {"key": key}),
        ("OpenAI /v1/videos/{id}", f"{url}/v1/videos/{video}", {"Authorization": f"Bearer {key}"}),
        ("AVS /api/v1/jobs/{id}", f"{url}/api/v1/jobs/{job}", {"Authorization": f"Bearer {token}"}),
    ]


def paired(
    bare_url: str, url: str, headers: dict[str, str], seconds: float, concurrency: int
) -> tuple[LoadResult, LoadResult]:
    """(baseline, read) loaded in alternating 1 s slices, so both see the same share of a noisy machine."""
    slices = max(1, round(seconds))
    base = LoadResult(0, 0, 0.0, [])
    ours = LoadResult(0, 0, 0.0, [])
    for _ in range(slices):
        for total, target, sent in ((base, bare_url, None), (ours, url, headers)):
            part = run_load(target, headers=sent, seconds=seconds / slices, concurrency=concurrency)
            total.requests += part.requests
            total.errors += part.errors
            total.seconds += part.seconds
            total.latencies_ms += part.latencies_ms
    return base, ours


def row(name: str, result: LoadResult, base: LoadResult) -> str:
    return (
        f"{name:<30}{result.rps:>9.0f}{result.percentile(0.5):>9.2f}{result.percentile(0.95):>9.2f}"
        f"{result.errors:>8}{result.rps / base.rps:>8.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--database-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    bare_url = "http://127.0.0.1:8772/api/v1/tasks/x/status"
    statuses: dict[str, float] = {}

    bare = subprocess.Popen([sys.executable, "-c", BARE_APP, "8772"])
    try:
        wait_until_up("http://127.0.0.1:8772/", bare)
        print(
            f"keep-alive GETs, {args.concurrency} connections, {args.seconds:.0f} s each, {os.cpu_count()} cores "
            f"(client and servers share them); load average before: {os.getloadavg()[0]:.2f}"
        )
        for database in ("sqlite", "postgresql"):
            with (
                tempfile.TemporaryDirectory() as tmp,
                fresh_database(args.database_url if database == "postgresql" else None, Path(tmp)) as db_url,
            ):
                if database == "postgresql" and db_url.startswith("sqlite"):
                    print("(PostgreSQL not reachable: skipped)")
                    break
                env = {**UNLIMITED, "REELFORGE_DATABASE_URL": db_url}
                with served(Path(tmp) / "data", 8771, workers=0, env=env) as (url, key):
                    reads = reads_of(url, key)
                    run_load(bare_url, seconds=1, concurrency=args.concurrency)  # warm-up
                    for _, read_url, headers in reads:
                        run_load(read_url, headers=headers, seconds=0.5, concurrency=args.concurrency)
                    print(f"\n{database}: {'read':<22}{'req/s':>9}{'p50 ms':>9}{'p95 ms':>9}{'errors':>8}{'ratio':>8}")
                    for name, read_url, headers in reads:
                        base, result = paired(bare_url, read_url, headers, args.seconds, args.concurrency)
                        print(row("  bare Starlette (baseline)", base, base))
                        print(row(name, result, base))
                        if name.endswith("/status"):
                            statuses[database] = result.rps
    finally:
        bare.terminate()
        bare.wait(20)
    if len(statuses) == 2:
        print(f"\nPostgreSQL /status over SQLite /status: {statuses['postgresql'] / statuses['sqlite']:.2f}")
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
