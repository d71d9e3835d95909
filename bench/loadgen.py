"""A small keep-alive HTTP/1.1 load generator on asyncio streams, shared by the benchmarks.

Hand-written because the usual Python clients (httpx, aiohttp) cost more CPU per request than the
servers they would measure on a 2-core host; this one sends a pre-built request and reads exactly
`Content-Length` bytes back, so nearly all CPU goes to the server under test.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from urllib.parse import urlsplit


@dataclass
class LoadResult:
    requests: int
    errors: int
    seconds: float
    latencies_ms: list[float]

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


async def _connection(host: str, port: int, raw: bytes, stop_at: float, result: LoadResult) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while time.perf_counter() < stop_at:
            started = time.perf_counter()
            writer.write(raw)
            status_line = await reader.readline()
            length = 0
            while True:
                line = await reader.readline()
                if line in (b"\r\n", b""):
                    break
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            await reader.readexactly(length)
            result.latencies_ms.append((time.perf_counter() - started) * 1000)
            if b" 200 " in status_line:
                result.requests += 1
            else:
                result.errors += 1
    finally:
        writer.close()


def run_load(
    url: str, *, headers: dict[str, str] | None = None, concurrency: int = 32, seconds: float = 5.0
) -> LoadResult:
    """GET `url` over `concurrency` keep-alive connections for `seconds`; count 200s per second."""
    parts = urlsplit(url)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    lines = [f"GET {path} HTTP/1.1", f"Host: {parts.netloc}", "Connection: keep-alive"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    raw = ("\r\n".join(lines) + "\r\n\r\n").encode()
    result = LoadResult(0, 0, seconds, [])

    async def main() -> None:
        stop_at = time.perf_counter() + seconds
        await asyncio.gather(
            *(_connection(parts.hostname, parts.port, raw, stop_at, result) for _ in range(concurrency))
        )

    started = time.perf_counter()
    asyncio.run(main())
    result.seconds = time.perf_counter() - started
    return result
