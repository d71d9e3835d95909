"""The webhook dispatcher's SSRF guard, with a resolver the test controls: each delivery resolves the
receiver's name once, vets every address (the IPv4 inside IPv6 forms too) and connects to the vetted one."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from reelforge.config import Settings
from reelforge.domain.request import GenerationRequest, Kind
from reelforge.domain.task import Task
from reelforge.services import Services, build_services
from reelforge.tasks.service import Submission
from reelforge.webhooks.dispatcher import WebhookDispatcher
from tests.helpers import LocalHTTPServer
from tests.media.test_fetch import Rebinding


def _render(dialect: str, task: Task) -> dict[str, Any]:
    return {"id": task.id, "status": task.status.value}


def _task(services: Services, url: str) -> str:
    key = services.keys.create("hooks", credits=100).key
    request = GenerationRequest(kind=Kind.TEXT_TO_VIDEO, prompt="x", width=64, height=64, fps=8, duration=1)
    submission = Submission("t2v", request, {"prompt": "x"}, "test", webhook_url=url)
    return services.tasks.submit(key.id, submission).id


def _deliver_once(dispatcher: WebhookDispatcher) -> list[Any]:
    async def run() -> list[Any]:
        rows = await asyncio.to_thread(dispatcher.claim_due)
        async with dispatcher.client() as client:
            for row in rows:
                await dispatcher.deliver(client, row)
        return rows

    return asyncio.run(run())


def _outbox_errors(services: Services) -> list[str | None]:
    from sqlalchemy import select

    from reelforge.store.tables import webhook_outbox

    with services.db.read() as conn:
        return [row.last_error for row in conn.execute(select(webhook_outbox.c.last_error)).all()]


@pytest.fixture
def receiver():  # type: ignore[no-untyped-def]
    server = LocalHTTPServer(lambda method, path, headers, body: (200, {}, b"ok"))
    yield server
    server.close()


def test_a_delivery_goes_to_the_vetted_address_under_the_receivers_name(tmp_path: Path, receiver) -> None:
    settings = Settings(data_dir=tmp_path / "data", allow_private_webhook_urls=True)
    services = build_services(settings)
    try:
        port = receiver.url.rsplit(":", 1)[1]
        _task(services, f"http://hooks.test:{port}/hook")
        resolver = Rebinding({"hooks.test": ["127.0.0.1"]})
        rows = _deliver_once(WebhookDispatcher(services.db, settings, _render, resolver=resolver))
        assert len(rows) == 1
        assert [r["headers"]["host"] for r in receiver.requests] == [f"hooks.test:{port}"]
        assert resolver.lookups == ["hooks.test"]
        assert _outbox_errors(services) == [None]
    finally:
        services.close()


@pytest.mark.parametrize(
    ("answer", "allow_private"),
    [
        ("64:ff9b::7f00:1", False),  # NAT64 spelling of 127.0.0.1
        ("::127.0.0.1", False),  # IPv4-compatible
        ("2002:7f00:1::", False),  # 6to4 of 127.0.0.1
        ("fec0::1", False),  # site-local
        ("127.0.0.1", False),
        ("64:ff9b::a9fe:a9fe", True),  # the metadata address: refused even where private hosts are allowed
    ],
)
def test_a_receiver_name_resolving_to_a_forbidden_address_is_never_connected(
    tmp_path: Path, receiver, answer: str, allow_private: bool
) -> None:
    """The create saw a name (checked on its syntax where private hosts are allowed, as a trusted LAN would);
    at delivery the name resolves to a forbidden address: the attempt fails with the reason, nothing is sent."""
    created = Settings(data_dir=tmp_path / "data", allow_private_webhook_urls=True)
    services = build_services(created)
    try:
        port = receiver.url.rsplit(":", 1)[1]
        _task(services, f"http://hooks.test:{port}/hook")
        delivering = Settings(data_dir=tmp_path / "data", allow_private_webhook_urls=allow_private)
        _deliver_once(WebhookDispatcher(services.db, delivering, _render, resolver=Rebinding({"hooks.test": [answer]})))
        assert receiver.requests == []
        [error] = _outbox_errors(services)
        assert error is not None and "webhook URL points to" in error and "not allowed" in error
    finally:
        services.close()


def test_inputs_and_webhooks_have_separate_private_settings(tmp_path: Path) -> None:
    both = Settings(data_dir=tmp_path, allow_private_urls=True)
    assert both.private_input_urls_allowed and both.private_webhook_urls_allowed
    hooks_only = Settings(data_dir=tmp_path, allow_private_webhook_urls=True)
    assert hooks_only.private_webhook_urls_allowed and not hooks_only.private_input_urls_allowed
    inputs_only = Settings(data_dir=tmp_path, allow_private_urls=True, allow_private_webhook_urls=False)
    assert inputs_only.private_input_urls_allowed and not inputs_only.private_webhook_urls_allowed
    default = Settings(data_dir=tmp_path)
    assert not default.private_input_urls_allowed and not default.private_webhook_urls_allowed
