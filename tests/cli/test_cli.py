"""The `reelforge` command as an operator uses it: keys, credits, and the serve banner."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from tests.conftest import run_cli
from tests.helpers import create


def test_keys_create_list_revoke_and_credits(tmp_path: Path) -> None:
    created = json.loads(run_cli(tmp_path, "keys", "create", "--name", "ci", "--credits", "40", "--json").stdout)
    assert created["key"].startswith("rf_") and created["webhookSecret"].startswith("whsec_")

    listed = json.loads(run_cli(tmp_path, "keys", "list", "--json").stdout)
    assert [(k["id"], k["name"], k["credits"], k["active"]) for k in listed] == [(created["id"], "ci", 40, True)]
    assert created["key"] not in json.dumps(listed)  # secrets are never listed

    granted = run_cli(tmp_path, "credits", "grant", created["id"], "15", "--note", "top-up")
    assert "balance 55" in granted.stdout
    shown = json.loads(run_cli(tmp_path, "credits", "show", created["id"], "--json").stdout)
    assert shown["balance"] == 55 == sum(e["amount"] for e in shown["ledger"])
    assert [e["note"] for e in shown["ledger"]] == ["initial credits", "top-up"]

    assert run_cli(tmp_path, "keys", "revoke", created["id"]).returncode == 0
    assert json.loads(run_cli(tmp_path, "keys", "list", "--json").stdout)[0]["active"] is False


def test_unknown_key_id_is_a_clear_error(tmp_path: Path) -> None:
    result = run_cli(tmp_path, "credits", "grant", "key_nope", "5", check=False)
    assert result.returncode == 2 and "key_nope" in result.stdout


def test_serve_prints_url_dev_key_and_a_working_curl(start_server) -> None:
    server = start_server(workers=0)
    banner = server.banner()
    assert server.url in banner and server.key in banner and "credits: 500" in banner
    assert f"curl -s -X POST {server.url}/api/v1/generate/t2v -H 'key: {server.key}'" in banner
    # the dev key is reused on the next start, not multiplied
    server.stop()
    again = start_server(workers=0, data_dir=server.data_dir)
    assert again.key == server.key and "(new)" not in again.banner()
    # stdout is not a terminal here (as under a service manager): an old key is not written out again
    assert again.key not in again.banner() and again.key[:10] + "..." in again.banner()


def test_revoked_key_stops_working_at_once(start_server) -> None:
    server = start_server(workers=0)
    created = json.loads(run_cli(server.data_dir, "keys", "create", "--credits", "10", "--json").stdout)
    body = {"prompt": "x", "aspectRatio": "1:1", "duration": "5"}
    assert create(server, "t2v", body, key=created["key"]).status_code == 200
    run_cli(server.data_dir, "keys", "revoke", created["id"])
    assert create(server, "t2v", body, key=created["key"]).status_code == 401
    assert httpx.get(f"{server.url}/api/v1/tasks", headers={"key": created["key"]}).status_code == 401


def test_fleet_servers_can_run_without_a_dev_key(tmp_path: Path) -> None:
    """REELFORGE_DEV_KEY=false: no funded key is added to a shared database, no secret reaches the log."""
    from tests.conftest import ServerProcess

    server = ServerProcess(tmp_path, workers=0, env={"REELFORGE_DEV_KEY": "false"}).start()
    try:
        assert httpx.get(f"{server.url}/healthz").status_code == 200
        assert "no dev key" in server.banner() and "rf_" not in server.banner()
        assert server.key is None and not (tmp_path / "dev-key.json").exists()
        assert json.loads(run_cli(tmp_path, "keys", "list", "--json").stdout) == []
    finally:
        server.stop()


def test_serve_with_an_unusable_data_dir_exits_2_with_one_line_naming_it(tmp_path: Path) -> None:
    """A data directory that is not a writable directory (here a regular file: root ignores chmod) ends
    `serve` with exit 2 and one line naming the directory and the fix, not a raw traceback."""
    data_dir = tmp_path / "data"
    data_dir.write_text("not a directory")
    done = run_cli(data_dir, "serve", "--port", "0", check=False)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    assert str(data_dir) in lines[0] and "writable directory" in lines[0]
