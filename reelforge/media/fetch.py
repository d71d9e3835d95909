"""Safe fetching of caller-supplied URLs (input images, webhook targets) and decoding of data: URIs.

A URL from a caller must not become a way to read our own network (SSRF). Three rules close it:

- **Syntax first**: http or https, a host of DNS labels of 1-63 characters (253 in all) or an IP literal, and
  at most `MAX_URL_LENGTH` characters; anything else is a 400 naming the field (these used to reach the
  resolver and fail as 500s).
- **Every address vetted, every embedded IPv4 too** (`refusal`): an address must be globally reachable; an
  IPv6 address that carries an IPv4 one (IPv4-mapped, IPv4-compatible, NAT64 `64:ff9b::/96`, 6to4
  `2002::/16`, Teredo `2001::/32`) is judged on that IPv4 as well, so `[::127.0.0.1]` or NAT64's spelling of
  the metadata address cannot pass. Site-local `fec0::/10`, `0.0.0.0`/`::` and the cloud metadata addresses
  are refused even where private addresses are allowed.
- **Connect to what was vetted**: the httpx transport (`PinnedTransport`, `PinnedAsyncTransport`) resolves the
  host once, vets every answer and connects to a vetted address, keeping the name for the `Host` header and
  TLS (SNI and certificate checks). Each redirect hop is a new request through the same transport, so a DNS
  answer that changes between the check and the connection (rebinding) cannot move the connection elsewhere.

The resolver is a parameter (`Resolver`), so tests decide what a name resolves to without patching globals.
Private and loopback hosts are allowed only where a deployment says so, separately for inputs and webhooks
(`Settings.private_input_urls_allowed`, `Settings.private_webhook_urls_allowed`).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import ipaddress
import re
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import SplitResult, urljoin, urlsplit

import httpx

from reelforge.domain.errors import ErrorCode, ReelforgeError

_DATA_URI = re.compile(
    r"^data:(?P<mime>[\w.+-]+/[\w.+-]+)(?P<params>(;[\w-]+=[^;,]*)*)(?P<b64>;base64)?,", re.IGNORECASE
)
_LABEL = re.compile(r"^[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?$", re.IGNORECASE)
MAX_REDIRECTS = 3
MAX_URL_LENGTH = 8192
"""Room for long signed CDN URLs; a 10 KB webhook URL was a 500 before this limit."""

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Sequence[str]]
"""`(host, port) -> addresses` (text form); raises `OSError` when the name does not resolve."""

METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",  # AWS, GCP, Azure, OpenStack, DigitalOcean ...
        "169.254.170.2",  # AWS ECS task metadata
        "169.254.170.23",  # AWS EKS pod identity
        "100.100.100.200",  # Alibaba Cloud
        "192.0.0.192",  # Oracle Cloud
        "fd00:ec2::254",  # AWS over IPv6
        "fd00:ec2::23",  # AWS EKS pod identity over IPv6
    )
)
"""Refused even where private addresses are allowed: no input or webhook is ever served from them."""

_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")
_TRANSLATED = ipaddress.ip_network("::ffff:0:0:0/96")
_SITE_LOCAL = ipaddress.ip_network("fec0::/10")


@dataclass(frozen=True)
class Fetched:
    data: bytes
    content_type: str


def system_resolver(host: str, port: int) -> list[str]:
    """The addresses `getaddrinfo` gives for `host` (blocking: call it off the event loop)."""
    infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    return list(dict.fromkeys(str(info[4][0]).split("%")[0] for info in infos))


def embedded_ipv4(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """Every IPv4 address an IPv6 one carries by a standard mapping (one address may match several forms)."""
    value = int(address)
    found: list[ipaddress.IPv4Address] = []
    if address.ipv4_mapped is not None:
        found.append(address.ipv4_mapped)
    if value >> 32 == 0:  # IPv4-compatible ::a.b.c.d (deprecated, still routed by some stacks)
        found.append(ipaddress.IPv4Address(value & 0xFFFFFFFF))
    if address in _TRANSLATED or address in _NAT64:  # SIIT ::ffff:0:a.b.c.d, NAT64 64:ff9b::a.b.c.d
        found.append(ipaddress.IPv4Address(value & 0xFFFFFFFF))
    if address.sixtofour is not None:
        found.append(address.sixtofour)
    if address.teredo is not None:
        found.extend(address.teredo)  # (server, client); the client address is un-obfuscated already
    return found


def refusal(address: Address, *, allow_private: bool) -> str | None:
    """Why `address` may not be connected to (None when it may)."""
    if address in METADATA_ADDRESSES:
        return "a cloud metadata address"
    if address.is_unspecified:
        return "the unspecified address"
    if address.is_multicast:
        return "a multicast address"
    if isinstance(address, ipaddress.IPv6Address):
        if address in _SITE_LOCAL:
            return "a site-local address"
        if address in _NAT64_LOCAL:
            return "a local-use NAT64 address"
        for inner in embedded_ipv4(address):
            reason = refusal(inner, allow_private=allow_private)
            if reason is not None:
                return f"{reason} (embedded in {address})"
    if not allow_private and not address.is_global:
        return "a private, loopback or link-local address"
    return None


def check_syntax(url: str, purpose: str = "URL") -> SplitResult:
    """The parts of `url`, or INVALID_PAYLOAD when it is not an http(s) URL with a usable host."""
    if len(url) > MAX_URL_LENGTH:
        raise ReelforgeError(ErrorCode.INVALID_PAYLOAD, f"{purpose} is longer than {MAX_URL_LENGTH} characters")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises ValueError on a port that is not a number in 0-65535)
    except ValueError:
        raise ReelforgeError(ErrorCode.INVALID_PAYLOAD, f"{purpose} is not a valid URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ReelforgeError(ErrorCode.INVALID_PAYLOAD, f"{purpose} must be an http or https URL")
    host = parts.hostname
    try:
        ipaddress.ip_address(host)
        return parts
    except ValueError:
        pass
    try:
        ascii_host = host.encode("idna").decode("ascii")
    except UnicodeError:
        raise ReelforgeError(
            ErrorCode.INVALID_PAYLOAD,
            f"{purpose} has an invalid host name (each dot-separated label must be 1-63 characters)",
        ) from None
    labels = ascii_host.removesuffix(".").split(".")
    if len(ascii_host) > 253 or not all(_LABEL.match(label) and len(label) <= 63 for label in labels):
        raise ReelforgeError(
            ErrorCode.INVALID_PAYLOAD,
            f"{purpose} has an invalid host name (labels of 1-63 letters, digits or hyphens, 253 characters in all)",
        )
    return parts


def vet(
    host: str, port: int, *, allow_private: bool, purpose: str = "URL", resolver: Resolver | None = None
) -> list[Address]:
    """Resolve `host` once and return its addresses if every one may be connected to; else raise."""
    try:
        literal: Address | None = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        addresses: list[Address] = [literal]
    else:
        try:
            answers = (resolver or system_resolver)(host, port)
            addresses = [ipaddress.ip_address(a) for a in answers]
        except (OSError, UnicodeError, ValueError):
            addresses = []
        if not addresses:
            raise ReelforgeError(ErrorCode.INPUT_FETCH_FAILED, f"{purpose}: cannot resolve host {host!r}")
    for address in addresses:
        reason = refusal(address, allow_private=allow_private)
        if reason is not None:
            raise ReelforgeError(ErrorCode.INVALID_PAYLOAD, f"{purpose} points to {reason}, which is not allowed")
    return addresses


def check_url(url: str, *, allow_private: bool, purpose: str = "URL", resolver: Resolver | None = None) -> None:
    """Raise INVALID_PAYLOAD unless `url` is an http(s) URL whose host may be connected to (checked at submit).

    Where private hosts are allowed only the syntax and the literal address are checked (no lookup), so a
    trusted deployment may name hosts its API servers cannot resolve. The fetch itself vets again, and pins.
    """
    parts = check_syntax(url, purpose)
    host = parts.hostname or ""
    if allow_private:
        try:
            literal = ipaddress.ip_address(host)
        except ValueError:
            return
        reason = refusal(literal, allow_private=True)
        if reason is not None:
            raise ReelforgeError(ErrorCode.INVALID_PAYLOAD, f"{purpose} points to {reason}, which is not allowed")
        return
    vet(host, _port(parts), allow_private=False, purpose=purpose, resolver=resolver)


def _port(parts: SplitResult | httpx.URL) -> int:
    return parts.port or (443 if parts.scheme == "https" else 80)


def _pinned(request: httpx.Request, address: Address) -> httpx.Request:
    """`request` sent to `address`: the URL names the address, `Host` and TLS keep the vetted name."""
    host = request.url.raw_host.decode("ascii")  # the IDNA (ASCII) form, as DNS and certificates spell it
    pinned = httpx.Request(
        request.method,
        request.url.copy_with(host=str(address)),
        headers=request.headers,  # built from the original URL: `Host` is the name
        stream=request.stream,
        extensions={**request.extensions, "sni_hostname": host}
        if request.url.scheme == "https"
        else request.extensions,
    )
    return pinned


class PinnedTransport(httpx.BaseTransport):
    """An httpx transport that connects only to vetted addresses: the host of each request (each redirect hop
    is its own request) is resolved once, every answer is vetted, and the connection goes to a vetted one."""

    def __init__(
        self, *, allow_private: bool, purpose: str = "URL", resolver: Resolver | None = None, **transport: object
    ) -> None:
        self.allow_private = allow_private
        self.purpose = purpose
        self.resolver = resolver
        self._inner = httpx.HTTPTransport(**transport)  # type: ignore[arg-type]

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        addresses = vet(
            request.url.raw_host.decode("ascii"),
            _port(request.url),
            allow_private=self.allow_private,
            purpose=self.purpose,
            resolver=self.resolver,
        )
        for index, address in enumerate(addresses):
            try:
                return self._inner.handle_request(_pinned(request, address))
            except httpx.ConnectError:
                if index == len(addresses) - 1:
                    raise
        raise AssertionError("vet returns at least one address")

    def close(self) -> None:
        self._inner.close()


class PinnedAsyncTransport(httpx.AsyncBaseTransport):
    """`PinnedTransport` for `httpx.AsyncClient` (the resolver runs in a thread: it blocks)."""

    def __init__(
        self, *, allow_private: bool, purpose: str = "URL", resolver: Resolver | None = None, **transport: object
    ) -> None:
        self.allow_private = allow_private
        self.purpose = purpose
        self.resolver = resolver
        self._inner = httpx.AsyncHTTPTransport(**transport)  # type: ignore[arg-type]

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        addresses = await asyncio.to_thread(
            vet,
            request.url.raw_host.decode("ascii"),
            _port(request.url),
            allow_private=self.allow_private,
            purpose=self.purpose,
            resolver=self.resolver,
        )
        for index, address in enumerate(addresses):
            try:
                return await self._inner.handle_async_request(_pinned(request, address))
            except httpx.ConnectError:
                if index == len(addresses) - 1:
                    raise
        raise AssertionError("vet returns at least one address")

    async def aclose(self) -> None:
        await self._inner.aclose()


def fetch(
    url: str,
    *,
    allow_private: bool,
    max_bytes: int,
    timeout: float,
    accept_prefix: str | tuple[str, ...] = "image/",
    resolver: Resolver | None = None,
) -> Fetched:
    """GET `url` safely; raise INPUT_FETCH_FAILED (or INVALID_PAYLOAD for a forbidden URL) on any problem."""
    current = url
    transport = PinnedTransport(allow_private=allow_private, purpose="input URL", resolver=resolver)
    # trust_env=False: an environment proxy must not become a way around the address checks
    with httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False, transport=transport) as client:
        for _ in range(MAX_REDIRECTS + 1):
            check_syntax(current, "input URL")
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
