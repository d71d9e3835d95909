"""Safe fetching of caller-supplied URLs (input images, webhook targets) and decoding of data: URIs.

A URL from a caller must not become a way to read our own network (SSRF): the host is resolved and
every address must be public unless `allow_private` is set; redirects are followed by hand so each hop
is checked again; the body is streamed with a byte cap and a timeout, and its content type is checked.
The check resolves the name before httpx connects, so a DNS answer that changes in between could still
slip through (rebinding); a deployment that fears that should also filter egress at the network level.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
import socket
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import httpx

from reelforge.domain.errors import ErrorCode, ReelforgeError

_DATA_URI = re.compile(
    r"^data:(?P<mime>[\w.+-]+/[\w.+-]+)(?P<params>(;[\w-]+=[^;,]*)*)(?P<b64>;base64)?,", re.IGNORECASE
)
MAX_REDIRECTS = 3


@dataclass(frozen=True)
class Fetched:
    data: bytes
    content_type: str


def check_url(url: str, *, allow_private: bool, purpose: str = "URL") -> None:
    """Raise INVALID_PAYLOAD unless `url` is an https URL (or http when private is allowed) to a public host."""
    parts = urlsplit(url)
    allowed_schemes = {"https", "http"} if allow_private else {"https"}
    if parts.scheme not in allowed_schemes or not parts.hostname:
        raise ReelforgeError(
            ErrorCode.INVALID_PAYLOAD, f"{purpose} must be an {' or '.join(sorted(allowed_schemes))} URL"
        )
    if allow_private:
        return
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or 443, proto=socket.IPPROTO_TCP)
    except socket.gaierror:
        raise ReelforgeError(
            ErrorCode.INPUT_FETCH_FAILED, f"{purpose}: cannot resolve host {parts.hostname!r}"
        ) from None
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if not address.is_global or address.is_multicast:
            raise ReelforgeError(
                ErrorCode.INVALID_PAYLOAD,
                f"{purpose} points to a private, loopback or link-local address, which is not allowed",
            )


def fetch(
    url: str, *, allow_private: bool, max_bytes: int, timeout: float, accept_prefix: str | tuple[str, ...] = "image/"
) -> Fetched:
    """GET `url` safely; raise INPUT_FETCH_FAILED (or INVALID_PAYLOAD for a forbidden URL) on any problem."""
    current = url
    # trust_env=False: an environment proxy must not become a way around the address checks
    with httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False) as client:
        for _ in range(MAX_REDIRECTS + 1):
            check_url(current, allow_private=allow_private, purpose="input URL")
            try:
                with client.stream("GET", current) as response:
                    if response.is_redirect and "location" in response.headers:
                        current = urljoin(current, response.headers["location"])
                        continue
                    if response.status_code != 200:
                        raise ReelforgeError(
                            ErrorCode.INPUT_FETCH_FAILED, f"fetching {url} answered HTTP {response.status_code}"
                        )
                    content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
                    if not content_type.startswith(accept_prefix):
                        expected = " or ".join(
                            f"{p}*" for p in ((accept_prefix,) if isinstance(accept_prefix, str) else accept_prefix)
                        )
                        raise ReelforgeError(
                            ErrorCode.INPUT_FETCH_FAILED,
                            f"{url} is {content_type or 'of unknown type'}, expected {expected}",
                        )
                    declared = int(response.headers.get("content-length") or 0)
                    if declared > max_bytes:
                        raise _too_large(url, max_bytes)
                    body = bytearray()
                    for chunk in response.iter_bytes():
                        body.extend(chunk)
                        if len(body) > max_bytes:
                            raise _too_large(url, max_bytes)
                    return Fetched(bytes(body), content_type)
            except httpx.HTTPError as exc:
                raise ReelforgeError(
                    ErrorCode.INPUT_FETCH_FAILED, f"fetching {url} failed: {type(exc).__name__}"
                ) from exc
    raise ReelforgeError(ErrorCode.INPUT_FETCH_FAILED, f"{url}: more than {MAX_REDIRECTS} redirects")


def _too_large(url: str, max_bytes: int) -> ReelforgeError:
    return ReelforgeError(ErrorCode.INPUT_FETCH_FAILED, f"{url} is larger than the {max_bytes}-byte limit")


def is_data_uri(value: str) -> bool:
    return value[:5].lower() == "data:"


def decode_data_uri(value: str, *, max_bytes: int, accept_prefix: str = "image/", field: str | None = None) -> Fetched:
    """Decode a base64 `data:` URI; INVALID_PAYLOAD (naming `field`) when malformed, of the wrong type or too big."""
    match = _DATA_URI.match(value)
    if not match or not match.group("b64"):
        raise ReelforgeError(ErrorCode.INVALID_PAYLOAD, "expected data:<type>;base64,<data>", field=field)
    mime = match.group("mime").lower()
    if not mime.startswith(accept_prefix):
        raise ReelforgeError(ErrorCode.INVALID_PAYLOAD, f"data URI is {mime}, expected {accept_prefix}*", field=field)
    payload = value[match.end() :]
    if len(payload) * 3 // 4 > max_bytes:
        raise ReelforgeError(
            ErrorCode.INVALID_PAYLOAD, f"data URI is larger than the {max_bytes}-byte limit", field=field
        )
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise ReelforgeError(ErrorCode.INVALID_PAYLOAD, "data URI is not valid base64", field=field) from None
    return Fetched(data, mime)
