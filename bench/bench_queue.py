"""Benchmark submit-to-start latency of the embedded queue (`reelforge serve` with one worker process).

    python bench/bench_queue.py [--tasks 40] [--database-url postgresql+psycopg://postgres@127.0.0.1:5432/test]

Tasks are submitted over HTTP one at a time to an idle worker; latency is the task's `started_at` minus
its `created_at`, as recorded by the task service. Baseline, measured in the same run: the same
submit-then-claim through `TaskService` in one process with a worker spinning on `claim()` (the
database's own floor, no polling interval, no process boundary). The served run is repeated on PostgreSQL
(a fresh database) when `--database-url` reaches one. The worker is woken by the server's pipe (and on
PostgreSQL by NOTIFY too); the poll interval is only the fallback for a lost wake-up.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

from reelforge.config import Settings
from reelforge.domain.request import GenerationRequest, Kind
from reelforge.services import build_services
from reelforge.tasks.service import Submission

sys.path.insert(0, str(Path(__file__).parent))
from scale import fresh_database
from served import served

TINY_MODELS = """
[models.tiny]
engine = "draft"
kind = "text_to_video"
credits_per_second = 0
durations = [1]
aspect_ratios = ["16:9"]
height = 96
fps = 12
"""


def percentiles(values: list[float]) -> tuple[float, float]:
    ordered = sorted(values)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]


def served_latencies(count: int, tmp: Path, database_url: str | None = None) -> list[float]:
    tmp.mkdir(parents=True, exist_ok=True)
    models = tmp / "models.toml"
    models.write_text(TINY_MODELS)
    env = {
        "REELFORGE_MODELS_FILE": str(models),
        "REELFORGE_QUERY_RATE_LIMIT": "1000000/minute",
        "REELFORGE_KEY_QUERY_RATE_LIMIT": "1000000/minute",
    }
    if database_url:
        env["REELFORGE_DATABASE_URL"] = database_url
    with served(tmp / "served", 8773, env=env) as (base, key):
        ids = []
        with httpx.Client(base_url=base, headers={"key": key}) as client:
            time.sleep(1.0)  # let the worker process finish starting
            for _ in range(count):
                task_id = client.post(
                    "/api/v1/generate/tiny", json={"prompt": "latency", "aspectRatio": "16:9", "duration": "1"}
                ).json()["taskId"]
                ids.append(task_id)
                while client.get(f"/api/v1/tasks/{task_id}/status").json()["status"] != "COMPLETED":
                    time.sleep(0.05)
        services = build_services(
            Settings(data_dir=tmp / "served", models_file=models, database_url=database_url), migrate=False
        )
        return [
            (services.tasks.get(i).started_at - services.tasks.get(i).created_at).total_seconds() * 1000 for i in ids
        ]


def in_process_latencies(count: int, tmp: Path) -> list[float]:
    models = tmp / "models.toml"
    services = build_services(Settings(data_dir=tmp / "inproc", models_file=models))
    key = services.keys.create(credits=0).key
    request = GenerationRequest(kind=Kind.TEXT_TO_VIDEO, prompt="latency", width=160, height=96, fps=12, duration=1)
    latencies = []
    for _ in range(count):
        spinner = threading.Thread(target=_spin_claim, args=(services,))
        spinner.start()
        task = services.tasks.submit(key.id, Submission("tiny", request, {}, "bench"))
        spinner.join()
        started = services.tasks.get(task.id).started_at
        latencies.append((started - task.created_at).total_seconds() * 1000)
    return latencies


def _spin_claim(services):  # type: ignore[no-untyped-def]
    while True:
        task = services.work.claim("spinner")
        if task is not None:
            return task


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=40)
    parser.add_argument("--database-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    runs: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        runs["SQLite"] = served_latencies(args.tasks, tmp / "sqlite")
        with fresh_database(args.database_url, tmp / "pg") as url:
            if not url.startswith("sqlite"):
                runs["PostgreSQL"] = served_latencies(args.tasks, tmp / "pg", url)
        floor = in_process_latencies(args.tasks, tmp / "sqlite")
    poll = Settings().poll_interval
    print(
        f"submit-to-start latency, {args.tasks} tasks, idle worker woken by a wake-up (poll fallback "
        f"{poll * 1000:.0f} ms); load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores"
    )
    print(f"{'path':<52}{'p50 ms':>10}{'p95 ms':>10}{'ratio':>8}")
    p50_floor, p95_floor = percentiles(floor)
    print(f"{'in-process submit -> claim, SQLite (baseline)':<52}{p50_floor:>10.1f}{p95_floor:>10.1f}{1:>8.2f}")
    for name, latencies in runs.items():
        p50, p95 = percentiles(latencies)
        print(f"{'HTTP submit -> embedded worker start, ' + name:<52}{p50:>10.1f}{p95:>10.1f}{p50 / p50_floor:>8.2f}")


if __name__ == "__main__":
    main()
