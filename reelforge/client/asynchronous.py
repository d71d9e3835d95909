"""`AsyncClient`: the `Client` API for asyncio programs (agents, servers), on `httpx.AsyncClient`."""

from __future__ import annotations

import asyncio
import builtins
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from reelforge.client import core
from reelforge.client.config import ClientConfig
from reelforge.client.envelope import ClientError, Envelope

Progress = Callable[[dict[str, Any]], None]


class AsyncClient:
    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        *,
        timeout: float | None = None,
        max_retries: int | None = None,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self.config = ClientConfig.resolve(base_url, api_key, timeout, max_retries)
        self._http = http or httpx.AsyncClient(timeout=self.config.timeout)
        self._last_response: httpx.Response | None = None  # the last read's answer: its poll advice

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def _url(self, path: str) -> str:
        return f"{self.config.base_url}{path}"

    async def _read(self, path: str, task_id: str | None = None) -> Any:
        attempt = 0
        while True:
            response = None
            try:
                response = await self._http.get(self._url(path), headers=core.headers(self.config.api_key))
                self._last_response = response
                if response.is_success or not core.should_retry(response, attempt, self.config.max_retries):
                    return core.checked(response, task_id)
            except httpx.TransportError as exc:
                if not core.should_retry(None, attempt, self.config.max_retries):
                    raise ClientError(Envelope.network_error(exc, task_id)) from exc
            await asyncio.sleep(core.retry_delay(attempt, response))
            attempt += 1

    async def create(
        self, model: str, payload: dict[str, Any], *, webhook_url: str | None = None, idempotency_key: str | None = None
    ) -> dict[str, Any]:
        try:
            response = await self._http.post(
                self._url(f"/api/v1/generate/{model}"),
                json=payload,
                headers={**core.headers(self.config.api_key), **core.create_headers(webhook_url, idempotency_key)},
            )
        except httpx.TransportError as exc:
            raise ClientError(Envelope.network_error(exc)) from exc
        return core.checked(response)

    async def get(self, task_id: str) -> dict[str, Any]:
        return await self._read(f"/api/v1/tasks/{task_id}", task_id)

    async def status(self, task_id: str) -> dict[str, Any]:
        return await self._read(f"/api/v1/tasks/{task_id}/status", task_id)

    async def list(self) -> builtins.list[dict[str, Any]]:
        return (await self._read("/api/v1/tasks"))["tasks"]

    async def models(self) -> builtins.list[dict[str, Any]]:
        """The server's model catalog (`GET /api/v1/models`)."""
        return (await self._read("/api/v1/models"))["models"]

    async def actions(self) -> builtins.list[dict[str, Any]]:
        """The actions API's actions (`GET /api/actions`)."""
        return (await self._read("/api/actions"))["actions"]

    async def action_schema(self, name: str) -> dict[str, Any]:
        """An action's input and output JSON Schema."""
        return await self._read(f"/api/actions/{name}/schema")

    async def cancel(self, task_id: str) -> dict[str, Any]:
        try:
            response = await self._http.put(
                self._url(f"/api/v1/tasks/{task_id}/cancel"), headers=core.headers(self.config.api_key)
            )
        except httpx.TransportError as exc:
            raise ClientError(Envelope.network_error(exc, task_id)) from exc
        return core.checked(response, task_id)

    async def wait(
        self,
        task_id: str,
        *,
        timeout: float = 600.0,
        poll_interval: float = 1.0,
        max_interval: float = 10.0,
        on_progress: Progress | None = None,
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        delay = poll_interval
        while True:
            state = await self.status(task_id)
            if on_progress:
                on_progress(state)
            if state.get("status") in core.TERMINAL:
                return await self.get(task_id)
            advice = core.poll_advice(self._last_response, state)
            pause = max(delay, advice or 0.0)  # backing off, but never sooner than the server says
            if time.monotonic() + pause > deadline:
                raise core.WaitTimeout(
                    Envelope(
                        ok=False,
                        status=state.get("status"),
                        taskId=task_id,
                        errorCode="UNKNOWN_ERROR",
                        errorMessage=f"still {state.get('status')} after {timeout:g} s",
                    )
                )
            await asyncio.sleep(pause)
            delay = core.next_poll(delay, max_interval)

    async def download(self, task_or_url: dict[str, Any] | str, path: str | Path) -> Path:
        url = task_or_url if isinstance(task_or_url, str) else (task_or_url.get("output") or {}).get("videoUrl")
        if not url:
            raise ClientError(Envelope(ok=False, errorCode="INVALID_PAYLOAD", errorMessage="the task has no video"))
        target = Path(path)
        try:
            async with self._http.stream("GET", url) as response:
                if not response.is_success:
                    await response.aread()
                    core.checked(response)
                partial = target.with_name(target.name + ".partial")
                with open(partial, "wb") as handle:
                    async for chunk in response.aiter_bytes():
                        handle.write(chunk)
                partial.replace(target)
        except httpx.TransportError as exc:
            raise ClientError(Envelope.network_error(exc)) from exc
        return target

    async def generate(
        self,
        model: str,
        payload: dict[str, Any],
        out: str | Path,
        *,
        timeout: float = 600.0,
        on_progress: Progress | None = None,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        created = await self.create(model, payload, idempotency_key=idempotency_key)
        task = await self.wait(created["taskId"], timeout=timeout, on_progress=on_progress)
        if task["status"] != "COMPLETED":
            error = task.get("error") or {}
            raise ClientError(
                Envelope(
                    ok=False,
                    status=task["status"],
                    taskId=task["id"],
                    data=task,
                    errorCode="UNKNOWN_ERROR",
                    errorMessage=error.get("message") or f"task ended {task['status']}",
                )
            )
        await self.download(task, out)
        return task
