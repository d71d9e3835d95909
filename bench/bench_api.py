"""Benchmark `GET /api/v1/tasks/{id}/status` (the polling endpoint) against a bare Starlette endpoint.

    python bench/bench_api.py [--seconds 5] [--concurrency 32]

Both servers run the same way (uvicorn, one process, in a subprocess) and are loaded by the same
keep-alive client (`bench/loadgen.py`) in this script, so the ratio shows what reelforge's auth, rate
limit and database read cost on top of the framework itself.
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
from loadgen import run_load
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()

    bare = subprocess.Popen([sys.executable, "-c", BARE_APP, "8772"])
    try:
        wait_until_up("http://127.0.0.1:8772/", bare)
        with (
            tempfile.TemporaryDirectory() as tmp,
            served(Path(tmp), 8771, workers=0, env={"REELFORGE_QUERY_RATE_LIMIT": "100000000/minute"}) as (url, key),
        ):
            created = httpx.post(
                f"{url}/api/v1/generate/t2v",
                headers={"key": key},
                json={"prompt": "bench", "aspectRatio": "16:9", "duration": "5"},
            ).json()
            path = f"/api/v1/tasks/{created['taskId']}/status"
            run_load(f"http://127.0.0.1:8772{path}", seconds=1, concurrency=args.concurrency)  # warm-up
            run_load(f"{url}{path}", headers={"key": key}, seconds=1, concurrency=args.concurrency)
            base = run_load(f"http://127.0.0.1:8772{path}", seconds=args.seconds, concurrency=args.concurrency)
            ours = run_load(f"{url}{path}", headers={"key": key}, seconds=args.seconds, concurrency=args.concurrency)
    finally:
        bare.terminate()
        bare.wait(20)

    print(
        f"GET /status, keep-alive, {args.concurrency} connections, {args.seconds:.0f} s each, "
        f"{os.cpu_count()} cores (client and server share them)"
    )
    print(f"{'server':<28}{'req/s':>10}{'p50 ms':>10}{'p95 ms':>10}{'errors':>8}")
    for name, result in (("bare Starlette (baseline)", base), ("reelforge /status", ours)):
        print(
            f"{name:<28}{result.rps:>10.0f}{result.percentile(0.5):>10.2f}{result.percentile(0.95):>10.2f}"
            f"{result.errors:>8}"
        )
    print(f"ratio reelforge / baseline: {ours.rps / base.rps:.2f}")


if __name__ == "__main__":
    main()
