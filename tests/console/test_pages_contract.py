"""The console's pages and its session endpoint, in-process: what `/`, `/docs` and `/redoc` serve, that
nothing they load comes from another host, and the sign-in check."""

from __future__ import annotations

import json
import re
from pathlib import Path

from reelforge.cli.devkey import ensure_dev_key
from reelforge.console import STATIC_DIR
from tests.asgi import InProcessApp
from tests.conftest import run_cli

URL_ATTRS = re.compile(r"""(?:src|href)=["']([^"']+)["']""")


def test_the_console_is_served_at_the_root_with_its_own_files(api: InProcessApp) -> None:
    page = api.client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "<title>reelforge console</title>" in page.text
    for url in URL_ATTRS.findall(page.text):
        if url.startswith("#"):
            continue
        assert url.startswith("/"), f"{url} is not on this server"
        if url.startswith("/console/"):
            assert api.client.get(url).status_code == 200, url


def test_every_console_module_imports_only_files_of_the_server() -> None:
    """ES module imports are relative; no script, style or font names another host."""
    for path in STATIC_DIR.rglob("*"):
        if path.suffix not in (".js", ".css", ".html"):
            continue
        text = path.read_text()
        assert "://" not in text.replace("http://www.w3.org/2000/svg", ""), f"{path.name} names an external URL"
        for target in re.findall(r"""from\s+["']([^"']+)["']""", text):
            assert target.startswith("./") or target.startswith("../"), (path.name, target)
            assert (path.parent / target).resolve().is_file(), (path.name, target)


def test_console_files_outside_the_package_are_not_served(api: InProcessApp) -> None:
    assert api.client.get("/console/nope.js").status_code == 404
    assert api.client.get("/console/%2e%2e/__init__.py").status_code == 404
    assert api.client.get("/console/..%2f__init__.py").status_code == 404
    body = api.client.get("/console/nope.js").json()
    assert body["error"]["code"] == "NOT_FOUND"


def test_docs_and_redoc_load_only_packaged_assets(api: InProcessApp) -> None:
    for page in ("/docs", "/redoc"):
        answer = api.client.get(page)
        assert answer.status_code == 200
        assert "https://" not in answer.text and "http://" not in answer.text, f"{page} loads from another host"
        assets = re.findall(r"""["'](/docs/assets/[^"']+)["']""", answer.text)
        assert assets, page
        for url in assets:
            served = api.client.get(url)
            assert served.status_code == 200 and len(served.content) > 1000, url
    assert api.client.get("/openapi.json").status_code == 200


def test_session_needs_a_key_and_says_who_it_is(api: InProcessApp) -> None:
    missing = api.client.get("/api/console/session")
    assert missing.status_code == 401 and missing.json()["error"]["code"] == "AUTH_FAILED"
    wrong = api.client.get("/api/console/session", headers={"authorization": "Bearer rf_nope"})
    assert wrong.status_code == 401

    secret = api.new_key(credits=42, name="alice")
    answer = api.client.get("/api/console/session", headers={"authorization": f"Bearer {secret}"})
    assert answer.status_code == 200
    body = answer.json()
    assert body["name"] == "alice" and body["balance"] == 42 and body["admin"] is False
    assert body["keyId"] == api.key_id(secret) and secret[:10] == body["prefix"]
    assert secret not in answer.text

    admin = api.services.keys.create("ops", admin=True).secret
    assert api.client.get("/api/console/session", headers={"key": admin}).json()["admin"] is True


def test_session_is_declared_in_openapi(api: InProcessApp) -> None:
    paths = api.client.get("/openapi.json").json()["paths"]
    assert "/api/console/session" in paths
    assert "401" in paths["/api/console/session"]["get"]["responses"]
    assert "/" not in paths and "/docs" not in paths


def test_keys_create_admin_and_the_dev_key_is_admin(tmp_path: Path) -> None:
    made = json.loads(run_cli(tmp_path, "keys", "create", "--admin", "--name", "ops", "--json").stdout)
    plain = json.loads(run_cli(tmp_path, "keys", "create", "--json").stdout)
    assert made["admin"] is True and plain["admin"] is False
    listed = {row["id"]: row for row in json.loads(run_cli(tmp_path, "keys", "list", "--json").stdout)}
    assert listed[made["id"]]["admin"] is True and listed[plain["id"]]["admin"] is False


def test_the_dev_key_is_an_admin_key_also_when_made_before_admin_keys(api: InProcessApp) -> None:
    dev = ensure_dev_key(api.services)
    assert api.services.keys.get(dev.id).admin
    api.services.keys.set_admin(dev.id, False)  # as a dev key made by an older server reads after migrating
    again = ensure_dev_key(api.services)
    assert again.id == dev.id and api.services.keys.get(dev.id).admin
