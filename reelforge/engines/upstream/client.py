"""HTTP to a hosted provider: auth headers, timeouts, bounded retries with the SDK's backoff, downloads.

Retries reuse the SDK's rules (`reelforge.client.core`): the same retryable statuses (429 and 5xx) plus
network errors, and `retry_delay`'s exponential backoff with full jitter in which a `Retry-After` is the
floor. Unlike the SDK, creates are retried too: the engine sends an `Idempotency-Key` with every create,
so a repeat returns the task the first attempt made. Every wait goes through the engine's `wait`, which
watches for a cancel and the task's deadline, so a long `Retry-After` never delays a cancel.

The key is sent only to the provider's own origin: a video URL on another host (a CDN, a signed link)
is fetched without it, and redirects are followed by hand so a cross-origin hop drops it too (httpx
drops `Authorization` on such a hop, but not AIVideoMaker's `key` header).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx

from reelforge.client.core import RETRYABLE_STATUSES, retry_delay
from reelforge.domain.errors import ErrorCode, ReelforgeError
from reelforge.engines.upstream.errors import from_response, unavailable
from reelforge.media.fetch import PinnedTransport, check_url

log = logging.getLogger(__name__)

USER_AGENT = "reelforge-upstream/1"
MAX_REDIRECTS = 5
CHUNK = 1 << 20


def same_origin(url: str, base_url: str) -> bool:
    a, b = urlsplit(url), urlsplit(base_url)
    return (a.scheme, a.hostname, a.port) == (b.scheme, b.hostname, b.port)


class UpstreamClient:
    """One provider connection for one task; `wait(seconds)` sleeps between retries and may raise to stop."""

    def __init__(
        self,
        base_url: str,
        auth: dict[str, str],
        *,
        secret: str,
        timeout: float,
        max_retries: int,
        wait: Callable[[float], None],
        allow_private: bool = False,
    ) -> None:
        self.base_url = base_url
        self.allow_private = allow_private
        """For file URLs off the provider's origin (a CDN, a redirect): private hosts only when allowed."""
        self._auth = auth
        self._secret = secret
        self.max_retries = max_retries
        self.wait = wait
        self._http = httpx.Client(timeout=timeout, follow_redirects=False, headers={"user-agent": USER_AGENT})
        self._elsewhere = httpx.Client(
            timeout=timeout,
            follow_redirects=False,
            trust_env=False,
            headers={"user-agent": USER_AGENT},
            transport=PinnedTransport(allow_private=allow_private, purpose="the provider's file URL"),
        )
        """Off the provider's origin: every hop vetted and connected to the vetted address (no rebinding)."""

    def __enter__(self) -> UpstreamClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self._http.close()
        self._elsewhere.close()

    def api_url(self, path: str) -> str:
        """One of the provider's API paths (`/v1/videos`) under the base URL, keeping any prefix it has."""
        return f"{self.base_url}/{path.lstrip('/')}"

    def absolute(self, url: str) -> str:
        """A URL the provider handed out, made absolute against its origin (some answer with `/files/...`)."""
        return urljoin(self.base_url + "/", url)

    def request(
        self,
        method: str,
        path: str,
        *,
        action: str,
        json: Any = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        retry: bool = True,
        check: bool = True,
    ) -> httpx.Response:
        """The provider's answer to `method path`; with `check`, a non-success answer raises the mapped error.

        `retry=False` makes one attempt (a cancel being forwarded must not wait on a cancel-aware sleep).
        """
        url = self.api_url(path)
        all_headers = {**self._auth, **(headers or {})}

        def once() -> httpx.Response:
            return self._http.request(method, url, json=json, params=params, headers=all_headers)

        response = self._retrying(once, action, retry)
        if check and not response.is_success:
            raise from_response(response, self._secret, action)
        return response

    def json(self, method: str, path: str, *, action: str, **kwargs: Any) -> dict[str, Any]:
        """`request` whose successful answer must be a JSON object."""
        response = self.request(method, path, action=action, **kwargs)
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise ReelforgeError(
                ErrorCode.UPSTREAM_ERROR,
                f"the hosted provider answered {action} with something that is not a JSON object",
            )
        return body

    def download(self, url: str, target: Path, *, action: str, max_bytes: int) -> Path:
        """Stream `url` into `target` (at most `max_bytes`), retrying like any read; the key only to our origin."""
        start = self.absolute(url)

        def once() -> httpx.Response:
            current = start
            for _ in range(MAX_REDIRECTS + 1):
                ours = same_origin(current, self.base_url)
                if not ours:  # the operator vouched for the provider's origin, not for where it points
                    self._check_elsewhere(current, action)
                headers = self._auth if ours else {}
                http = self._http if ours else self._elsewhere
                with http.stream("GET", current, headers=headers) as response:
                    if response.is_redirect and "location" in response.headers:
                        current = urljoin(current, response.headers["location"])
                        continue
                    if not response.is_success:
                        response.read()
                        return response
                    written = 0
                    with open(target, "wb") as out:
                        for chunk in response.iter_bytes(CHUNK):
                            written += len(chunk)
                            if written > max_bytes:
                                raise ReelforgeError(
                                    ErrorCode.UPSTREAM_ERROR,
                                    f"the hosted provider's file is larger than the "
                                    f"{max_bytes} bytes allowed (max_download_bytes)",
                                )
                            out.write(chunk)
                    return response
            raise ReelforgeError(ErrorCode.UPSTREAM_ERROR, f"too many redirects while {action}")

        try:
            response = self._retrying(once, action, True)
        except BaseException:
            target.unlink(missing_ok=True)
            raise
        if not response.is_success:
            target.unlink(missing_ok=True)
            raise from_response(response, self._secret, action)
        return target

    def _check_elsewhere(self, url: str, action: str) -> None:
        """The SSRF guard every other fetch has, for URLs the provider hands us that leave its origin."""
        try:
            check_url(url, allow_private=self.allow_private, purpose="the provider's file URL")
        except ReelforgeError as exc:
            raise ReelforgeError(
                ErrorCode.UPSTREAM_ERROR, f"refused to follow the hosted provider while {action}: {exc.message}"
            ) from None

    def _retrying(self, once: Callable[[], httpx.Response], action: str, retry: bool) -> httpx.Response:
        """`once()` until it answers something not retryable, or the retries are used up.

        Returns the last answer (the caller maps a non-success one); raises UPSTREAM_UNAVAILABLE when the
        last attempt got no answer at all.
        """
        attempt = 0
        while True:
            response: httpx.Response | None = None
            error: httpx.TransportError | None = None
            try:
                response = once()
            except httpx.TransportError as exc:  # connect/read errors and timeouts; the URL is ours, no key in it
                error = exc
            if response is not None and response.status_code not in RETRYABLE_STATUSES:
                return response
            if not retry or attempt >= self.max_retries:
                if response is not None:
                    return response
                raise unavailable(None, error, action) from None
            delay = retry_delay(attempt, response)
            log.info(
                "hosted provider answered %s while %s; retry %d of %d in %.1f s",
                response.status_code if response is not None else type(error).__name__,
                action,
                attempt + 1,
                self.max_retries,
                delay,
            )
            self.wait(delay)
            attempt += 1
