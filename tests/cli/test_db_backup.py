"""`reelforge db backup|restore`: a consistent copy taken while the server writes, restored into a new home."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import httpx

from tests.conftest import ServerProcess, run_cli
from tests.helpers import create, wait_for


def test_backup_while_serving_then_restore_into_a_fresh_data_dir(tmp_path: Path, start_server) -> None:
    server: ServerProcess = start_server(data_dir=tmp_path / "live")
    task_id = create(server, "t2v", {"prompt": "harbour lights", "aspectRatio": "1:1", "duration": "5"}).json()[
        "taskId"
    ]
    wait_for(server, task_id, {"COMPLETED"})
    other = server.new_key(credits=42, name="kept")

    # Writes keep landing while the backup runs: keys being made in another thread.
    stop = threading.Event()

    def keep_writing() -> None:
        while not stop.is_set():
            server.new_key(credits=1, name="churn")

    writer = threading.Thread(target=keep_writing)
    writer.start()
    try:
        backup = tmp_path / "backups" / "store.db"
        made = run_cli(server.data_dir, "db", "backup", str(backup))
    finally:
        stop.set()
        writer.join()
    assert "backed up" in made.stdout and backup.exists()
    with sqlite3.connect(backup) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("SELECT count(*) FROM tasks WHERE id = ?", (task_id,)).fetchone()[0] == 1
    assert not list(backup.parent.glob("*.partial"))

    restored_dir = tmp_path / "restored"
    done = run_cli(restored_dir, "db", "restore", str(backup))
    assert "restored" in done.stdout
    restored = start_server(data_dir=restored_dir, env={"REELFORGE_DEV_KEY": "false"})
    answer = httpx.get(f"{restored.url}/api/v1/tasks/{task_id}/status", headers={"key": server.key}, timeout=10)
    assert answer.status_code == 200 and answer.json()["status"] == "COMPLETED"
    assert restored.services().keys.balance(other["id"]) == 42


def test_restore_refuses_what_is_not_a_backup_and_changes_nothing(tmp_path: Path) -> None:
    data = tmp_path / "data"
    run_cli(data, "keys", "create", "--name", "first", "--credits", "5")
    store = data / "reelforge.db"
    before = store.read_bytes()
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not a database" * 100)
    refused = run_cli(data, "db", "restore", str(junk), check=False)
    assert refused.returncode == 2
    assert "refused, nothing changed" in refused.stderr and "Traceback" not in refused.stderr
    assert store.read_bytes() == before

    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).close()
    refused = run_cli(data, "db", "restore", str(empty), check=False)
    assert refused.returncode == 2 and "not a reelforge store" in refused.stderr


def test_backup_of_a_postgresql_store_points_at_its_own_tools(tmp_path: Path) -> None:
    told = run_cli(
        tmp_path / "data",
        "db",
        "backup",
        str(tmp_path / "x.db"),
        env={"REELFORGE_DATABASE_URL": "postgresql+psycopg://postgres@127.0.0.1:5432/test"},
        check=False,
    )
    assert told.returncode == 2 and "pg_dump" in told.stderr
    assert not (tmp_path / "x.db").exists()
