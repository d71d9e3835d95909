"""Benchmark the database's share of a task, for the scaling model in docs/scaling.md.

    python bench/db_load.py [--database-url postgresql+psycopg://postgres@127.0.0.1:5432/test]
                            [--depths 100,1000,10000] [--keys 50]

Each measurement gets a fresh PostgreSQL database (skipped when none is reachable); the claim costs are then
measured again on SQLite.

1. Statements per task: one `short` draft task (2 s, 426x240) submitted with a webhook, claimed, run by
   `Worker.execute` (progress, phase, heartbeats as in production) and completed, in this process; every
   SQL statement the task service, the worker and one webhook delivery send is counted, reads vs writes.
2. Claim cost against queue depth: with N tasks queued from `--keys` keys (fair claims look at every
   waiting key), the time of one `claim()` — the statement every free worker runs — p50 over 30 claims,
   against the same claim with 10 tasks queued (the baseline, measured in the same run).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

from sqlalchemy import event, insert

from reelforge.config import Settings
from reelforge.domain.request import GenerationRequest, Kind
from reelforge.runtime.worker import Worker
from reelforge.services import Services, build_services
from reelforge.tasks.service import Submission

sys.path.insert(0, str(Path(__file__).parent))
from scale import SHORT_MODELS, fresh_database


def submission(prompt: str = "harbour", webhook: str | None = None) -> Submission:
    request = GenerationRequest(
        kind=Kind.TEXT_TO_VIDEO, prompt=prompt, width=426, height=240, fps=24, duration=2, seed=1
    )
    return Submission(
        model="short", request=request, input={"prompt": prompt}, dialect="aivideomaker", webhook_url=webhook
    )


class StatementCounter:
    def __init__(self, services: Services) -> None:
        self.counts: Counter[str] = Counter()
        engines = {id(e): e for e in (services.db.write_engine, services.db.read_engine)}
        for engine in engines.values():
            event.listen(engine, "before_cursor_execute", self._seen)

    def _seen(self, conn, cursor, statement: str, *args: object) -> None:  # type: ignore[no-untyped-def]
        verb = statement.lstrip().split(None, 1)[0].upper()
        self.counts["read" if verb == "SELECT" and "FOR UPDATE" not in statement.upper() else "write"] += 1
        self.counts[verb] += 1


def statements_per_task(services: Services, key_id: str) -> Counter[str]:
    from reelforge.webhooks.dispatcher import WebhookDispatcher

    counter = StatementCounter(services)
    worker = Worker(services, name="bench")
    task = services.tasks.submit(key_id, submission(webhook="https://hooks.example.com/x"))
    claimed = services.work.claim(worker.name, task_id=task.id)
    assert claimed is not None
    worker.execute(claimed)
    dispatcher = WebhookDispatcher(services.db, services.settings, lambda dialect, t: {"id": t.id})
    for row in dispatcher.claim_due():  # what delivering (and recording) its events costs, minus the POST
        dispatcher._record(row, None)
    return counter.counts


def fill_queue(services: Services, key_ids: list[str], depth: int) -> None:
    """`depth` queued tasks, round-robin over keys, written in bulk (the submit path costs ~3 ms each)."""
    from reelforge.store.tables import jobs, tasks, utcnow

    template = services.tasks.submit(key_ids[0], submission())
    with services.db.read() as conn:
        task_row = dict(conn.execute(tasks.select().where(tasks.c.id == template.id)).mappings().one())
        job_row = dict(conn.execute(jobs.select().where(jobs.c.task_id == template.id)).mappings().one())
    now = utcnow()
    task_rows, job_rows = [], []
    for index in range(depth - 1):
        task_id = f"bench{uuid.uuid4().hex[:20]}"
        key_id = key_ids[index % len(key_ids)]
        task_rows.append({**task_row, "id": task_id, "key_id": key_id, "created_at": now})
        job_rows.append({**job_row, "task_id": task_id, "key_id": key_id, "created_at": now})
    with services.db.write() as conn:
        for start in range(0, len(task_rows), 2000):
            conn.execute(insert(tasks), task_rows[start : start + 2000])
            conn.execute(insert(jobs), job_rows[start : start + 2000])


def claim_ms(services: Services, samples: int = 30) -> float:
    times = []
    for index in range(samples):
        start = time.perf_counter()
        task = services.work.claim(f"bench-{index}")
        times.append((time.perf_counter() - start) * 1000)
        assert task is not None
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--depths", default="100,1000,10000")
    parser.add_argument("--keys", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="rf-dbload-") as tmp_dir:
        tmp = Path(tmp_dir)
        models = tmp / "models.toml"
        models.write_text(SHORT_MODELS)

        def services_on(url: str) -> Services:
            return build_services(
                Settings(data_dir=tmp / "data", database_url=url, models_file=models, heartbeat_seconds=0.5)
            )

        with fresh_database(args.database_url, tmp / "per-task") as url:
            services = services_on(url)
            key = services.keys.create("bench").key
            counts = statements_per_task(services, key.id)
            services.close()
        print(
            f"statements per task (submit, claim, run with progress/heartbeats, complete, 1 webhook event "
            f"delivered): {counts['read']} reads, {counts['write']} writes "
            f"({', '.join(f'{verb} {n}' for verb, n in sorted(counts.items()) if verb not in ('read', 'write'))})"
        )

        for base in (args.database_url, None):  # PostgreSQL (when reachable), then SQLite
            results = {}
            for depth in [10, *[int(d) for d in args.depths.split(",")]]:
                with fresh_database(base, tmp / f"depth-{depth}-{bool(base)}") as url:
                    services = services_on(url)
                    key_ids = [services.keys.create(f"k{i}").key.id for i in range(args.keys)]
                    fill_queue(services, key_ids, depth + 30)
                    results[depth] = claim_ms(services)
                    services.close()
                print(
                    f"{url.split(':', 1)[0].split('+')[0]:>10}: claim with {depth:6d} queued from {args.keys} keys: "
                    f"p50 {results[depth]:6.2f} ms ({results[depth] / results[10]:.2f}x the 10-queued baseline)",
                    flush=True,
                )


if __name__ == "__main__":
    main()
