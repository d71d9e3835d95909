"""`Client`: the blocking SDK for reelforge (and, by base URL, the hosted AIVideoMaker API it mirrors).

client = Client()                      # REELFORGE_BASE_URL / REELFORGE_API_KEY (or AIVIDEO_API_KEY)
task = client.generate("t2v", {"prompt": "...", "aspectRatio": "16:9", "duration": "5"}, "clip.mp4")
"""

from __future__ import annotations

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


class Client:
    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        *,
        timeout: float | None = None,
        max_retries: int | None = None,
        http: httpx.Client | None = None,
    ) -> None:
        self.config = ClientConfig.resolve(base_url, api_key, timeout, max_retries)
        self._http = http or httpx.Client(timeout=self.config.timeout)
        self._last_response: httpx.Response | None = None  # the last read's answer: its poll advice
        self._sleep = time.sleep

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---------------------------------------------------------------- calls

    def _url(self, path: str) -> str:
        return f"{self.config.base_url}{path}"

    def _read(self, path: str, task_id: str | None = None) -> Any:
        """GET with retries (reads are idempotent)."""
        attempt = 0
        while True:
            response = None
            try:
                response = self._http.get(self._url(path), headers=core.headers(self.config.api_key))
                self._last_response = response
                if response.is_success or not core.should_retry(response, attempt, self.config.max_retries):
                    return core.checked(response, task_id)
            except httpx.TransportError as exc:
                if not core.should_retry(None, attempt, self.config.max_retries):
                    raise ClientError(Envelope.network_error(exc, task_id)) from exc
            self._sleep(core.retry_delay(attempt, response))
            attempt += 1

    def create(
        self, model: str, payload: dict[str, Any], *, webhook_url: str | None = None, idempotency_key: str | None = None
    ) -> dict[str, Any]:
        """Submit a task; never retried here — repeat it yourself with the same `idempotency_key`."""
        try:
            response = self._http.post(
                self._url(f"/api/v1/generate/{model}"),
                json=payload,
                headers={**core.headers(self.config.api_key), **core.create_headers(webhook_url, idempotency_key)},
            )
        except httpx.TransportError as exc:
            raise ClientError(Envelope.network_error(exc)) from exc
        return core.checked(response)

    def get(self, task_id: str) -> dict[str, Any]:
        return self._read(f"/api/v1/tasks/{task_id}", task_id)

    def status(self, task_id: str) -> dict[str, Any]:
        return self._read(f"/api/v1/tasks/{task_id}/status", task_id)

    def list(self) -> builtins.list[dict[str, Any]]:
        return self._read("/api/v1/tasks")["tasks"]

    def models(self) -> builtins.list[dict[str, Any]]:
        """The server's model catalog (`GET /api/v1/models`)."""
        return self._read("/api/v1/models")["models"]

    def actions(self) -> builtins.list[dict[str, Any]]:
        """The actions API's actions (`GET /api/actions`)."""
        return self._read("/api/actions")["actions"]

    def action_schema(self, name: str) -> dict[str, Any]:
        """An action's input and output JSON Schema."""
        return self._read(f"/api/actions/{name}/schema")

    def cancel(self, task_id: str) -> dict[str, Any]:
        try:
            response = self._http.put(
                self._url(f"/api/v1/tasks/{task_id}/cancel"), headers=core.headers(self.config.api_key)
            )
        except httpx.TransportError as exc:
            raise ClientError(Envelope.network_error(exc, task_id)) from exc
        return core.checked(response, task_id)

    def wait(
        self,
        task_id: str,
        *,
        timeout: float = 600.0,
        poll_interval: float = 1.0,
        max_interval: float = 10.0,
        on_progress: Progress | None = None,
    ) -> dict[str, Any]:
        """Poll until the task ends (backing off, honouring Retry-After and the server's poll advice:
        `openai-poll-after-ms` / `poll-after-ms` headers, a `poll_after_ms` field); the task's details."""
        deadline = time.monotonic() + timeout
        delay = poll_interval
        while True:
            state = self.status(task_id)
            if on_progress:
                on_progress(state)
            if state.get("status") in core.TERMINAL:
                return self.get(task_id)
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
            self._sleep(pause)
            delay = core.next_poll(delay, max_interval)

    def download(self, task_or_url: dict[str, Any] | str, path: str | Path) -> Path:
        """Save a finished task's video (or any signed URL) to `path`, streaming."""
        url = task_or_url if isinstance(task_or_url, str) else (task_or_url.get("output") or {}).get("videoUrl")
        if not url:
            raise ClientError(Envelope(ok=False, errorCode="INVALID_PAYLOAD", errorMessage="the task has no video"))
        target = Path(path)
        try:
            with self._http.stream("GET", url) as response:
                if not response.is_success:
                    response.read()
                    core.checked(response)
                partial = target.with_name(target.name + ".partial")
                with open(partial, "wb") as handle:
                    for chunk in response.iter_bytes():
                        handle.write(chunk)
                partial.replace(target)
        except httpx.TransportError as exc:
            raise ClientError(Envelope.network_error(exc)) from exc
        return target

    def generate(
        self,
        model: str,
        payload: dict[str, Any],
        out: str | Path,
        *,
        timeout: float = 600.0,
        on_progress: Progress | None = None,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """Create, wait, download: the finished task's details, with the video at `out`."""
        created = self.create(model, payload, idempotency_key=idempotency_key)
        task = self.wait(created["taskId"], timeout=timeout, on_progress=on_progress)
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
        self.download(task, out)
        return task
