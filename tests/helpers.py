"""Test helpers: API calls as a client makes them, local HTTP peers, and test media made in code."""

from __future__ import annotations

import base64
import contextlib
import io
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from PIL import Image

from tests.conftest import ServerProcess


def png_bytes(width: int = 320, height: int = 180, seed: int = 1) -> bytes:
    rng = np.random.default_rng(seed)
    gradient = np.linspace(0, 255, width, dtype=np.float32)[None, :, None]
    pixels = np.clip(gradient + rng.normal(0, 30, (height, width, 3)), 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def data_uri(data: bytes, mime: str = "image/png") -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


def new_key(server: ServerProcess, credits: int = 100, name: str = "test") -> dict[str, Any]:
    """A fresh key on `server`, made in-process in its database (no CLI subprocess)."""
    return server.new_key(credits=credits, name=name)


def create(
    server: ServerProcess, model: str, body: dict, key: str | None = None, headers: dict[str, str] | None = None
) -> httpx.Response:
    all_headers = {"key": key or server.key, **(headers or {})}
    return httpx.post(f"{server.url}/api/v1/generate/{model}", json=body, headers=all_headers, timeout=30)


def details(server: ServerProcess, task_id: str, key: str | None = None) -> httpx.Response:
    return httpx.get(f"{server.url}/api/v1/tasks/{task_id}", headers={"key": key or server.key}, timeout=30)


def wait_for(
    server: ServerProcess, task_id: str, statuses: set[str], key: str | None = None, timeout: float = 120
) -> dict:
    deadline = time.monotonic() + timeout
    body: dict = {}
    while time.monotonic() < deadline:
        body = details(server, task_id, key).json()
        if body.get("status") in statuses:
            return body
        time.sleep(0.2)
    raise AssertionError(f"task {task_id} did not reach {statuses}; last: {body}\n{server.log()[-3000:]}")


def download(url: str, target: Path) -> Path:
    response = httpx.get(url, timeout=60)
    response.raise_for_status()
    target.write_bytes(response.content)
    return target


def balance(server: ServerProcess, key_id: str) -> tuple[int, list[dict]]:
    """(balance, ledger entries) of a key, read in-process; the shape `reelforge credits show --json` prints."""
    from reelforge.accounts import ledger

    with server.services().db.read() as conn:
        rows = ledger.entries(conn, key_id)
        total = ledger.balance(conn, key_id)
    entries = [{"amount": r["amount"], "reason": r["reason"], "taskId": r["task_id"], "note": r["note"]} for r in rows]
    return total, entries


class LocalHTTPServer:
    """A tiny HTTP server on loopback with a per-test handler; records every request it gets."""

    def __init__(self, respond: Callable[[str, str, dict[str, str], bytes], tuple[int, dict[str, str], bytes]]):
        self.requests: list[dict[str, Any]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {k.lower(): v for k, v in self.headers.items()}
                outer.requests.append(
                    {
                        "method": self.command,
                        "path": self.path,
                        "headers": headers,
                        "body": body,
                        "at": time.monotonic(),
                    }
                )
                status, out_headers, payload = respond(self.command, self.path, headers, body)
                self.send_response(status)
                for name, value in out_headers.items():
                    self.send_header(name, value)
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.wfile.write(payload)  # the client may give up on purpose (size cap, timeout)

            do_GET = do_POST = _handle

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def ffmpeg_exe() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def make_video(
    path: Path, seconds: float = 2.0, color: str = "red", size: str = "320x180", fps: int = 25, audio: bool = True
) -> Path:
    """A solid-colour H.264 clip (with a 440 Hz tone when `audio`), made by the bundled ffmpeg."""
    import subprocess

    command = [ffmpeg_exe(), "-v", "error", "-y", "-f", "lavfi", "-i", f"color=c={color}:s={size}:r={fps}:d={seconds}"]
    if audio:
        command += ["-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}"]
    command += ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-preset", "ultrafast"]
    command += ["-c:a", "aac", "-shortest"] if audio else []
    command.append(str(path))
    subprocess.run(command, check=True, timeout=60)
    return path


def make_wav(path: Path, seconds: float = 2.0) -> Path:
    import subprocess

    subprocess.run(
        [ffmpeg_exe(), "-v", "error", "-y", "-f", "lavfi", "-i", f"sine=frequency=330:duration={seconds}", str(path)],
        check=True,
        timeout=60,
    )
    return path


class AllMethodsHTTPServer(LocalHTTPServer):
    """`LocalHTTPServer` that also answers PUT and DELETE (to play a provider's cancel endpoints)."""

    def __init__(self, respond: Callable[[str, str, dict[str, str], bytes], tuple[int, dict[str, str], bytes]]):
        super().__init__(respond)
        handler = self.httpd.RequestHandlerClass
        handler.do_PUT = handler.do_DELETE = handler._handle  # type: ignore[attr-defined]


def eventually(check: Callable[[], Any], *, timeout: float = 60, interval: float = 0.1, what: str = "") -> Any:
    """Call `check` until it returns a truthy value (returned) or `timeout` passes (AssertionError).

    `check` may raise AssertionError while the condition does not hold yet; the last one is reported.
    The one polling loop of the suite: tests wait for a state, never sleep a fixed time.
    """
    deadline = time.monotonic() + timeout
    last: object = None
    while True:
        try:
            result = check()
            if result:
                return result
            last = result
        except AssertionError as exc:
            last = exc
        if time.monotonic() >= deadline:
            raise AssertionError(f"not reached within {timeout} s{': ' + what if what else ''}; last: {last!r}")
        time.sleep(interval)
