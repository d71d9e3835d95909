"""The safe fetcher: SSRF guard, size caps, timeouts, content types, data: URIs."""

from __future__ import annotations

import base64
import ipaddress
import time

import pytest

from reelforge.domain.errors import ErrorCode, ReelforgeError
from reelforge.media.fetch import check_url, decode_data_uri, fetch, refusal
from tests.helpers import LocalHTTPServer, png_bytes


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/a.png",
        "https://localhost/a.png",
        "https://10.1.2.3/a.png",
        "https://192.168.0.1/a.png",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/a.png",
        "https://0.0.0.0/a.png",
    ],
)
def test_private_loopback_and_link_local_hosts_are_refused(url: str) -> None:
    with pytest.raises(ReelforgeError) as caught:
        check_url(url, allow_private=False)
    assert caught.value.code == ErrorCode.INVALID_PAYLOAD
    assert "not allowed" in caught.value.message


@pytest.mark.parametrize("url", ["ftp://example.com/a", "file:///etc/passwd", "nope", "gopher://1.1.1.1/"])
def test_only_http_and_https_are_accepted(url: str) -> None:
    with pytest.raises(ReelforgeError, match="http or https"):
        check_url(url, allow_private=False)


@pytest.mark.parametrize("url", ["https://93.184.216.34/a.png", "http://93.184.216.34/a.png"])
def test_public_http_and_https_pass_without_a_network_lookup_of_literals(url: str) -> None:
    """Plain http to a public host is allowed by default (issue 13 point 7); private hosts stay refused."""
    check_url(url, allow_private=False)


@pytest.fixture
def peer():
    image = png_bytes(64, 64)

    def respond(method, path, headers, body):
        if path == "/image.png":
            return 200, {"content-type": "image/png"}, image
        if path == "/big.png":
            return 200, {"content-type": "image/png"}, b"\0" * 5000
        if path == "/page":
            return 200, {"content-type": "text/html"}, b"<html>"
        if path == "/redirect-private":
            return 302, {"location": "http://10.0.0.1/x.png"}, b""
        if path == "/slow.png":
            time.sleep(2)
            return 200, {"content-type": "image/png"}, image
        return 404, {}, b""

    server = LocalHTTPServer(respond)
    yield server, image
    server.close()


def test_fetch_returns_the_image_when_private_is_allowed(peer) -> None:
    server, image = peer
    assert fetch(f"{server.url}/image.png", allow_private=True, max_bytes=100_000, timeout=5).data == image


def test_fetch_refuses_loopback_by_default(peer) -> None:
    server, _ = peer
    with pytest.raises(ReelforgeError):
        fetch(f"{server.url}/image.png", allow_private=False, max_bytes=10_000, timeout=5)
    assert server.requests == []  # refused before connecting


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/big.png", "larger than"),
        ("/page", "text/html"),
        ("/missing.png", "HTTP 404"),
        ("/slow.png", "Timeout"),
    ],
)
def test_fetch_failures_are_clear(peer, path: str, message: str) -> None:
    server, _ = peer
    with pytest.raises(ReelforgeError) as caught:
        fetch(f"{server.url}{path}", allow_private=True, max_bytes=1000, timeout=0.5)
    assert caught.value.code == ErrorCode.INPUT_FETCH_FAILED
    assert message in caught.value.message


def test_redirects_are_checked_hop_by_hop(peer) -> None:
    server, _ = peer
    # allowed first hop on loopback is fine only because private is allowed; the check runs on every hop
    with pytest.raises(ReelforgeError):
        fetch(f"{server.url}/redirect-private", allow_private=True, max_bytes=1000, timeout=0.5)


def test_data_uri_decoding_and_caps() -> None:
    payload = base64.b64encode(b"\x89PNG fake").decode()
    assert decode_data_uri(f"data:image/png;base64,{payload}", max_bytes=100).data == b"\x89PNG fake"
    with pytest.raises(ReelforgeError, match="limit"):
        decode_data_uri("data:image/png;base64," + "A" * 400, max_bytes=100, field="/image")
    with pytest.raises(ReelforgeError, match="image"):
        decode_data_uri(f"data:text/plain;base64,{payload}", max_bytes=100)
    with pytest.raises(ReelforgeError, match="base64"):
        decode_data_uri("data:image/png;base64,@@@", max_bytes=100)


# ---------------------------------------------------------------- IPv6 forms, resolver, pinning


@pytest.mark.parametrize(
    "host",
    [
        "[::127.0.0.1]",  # IPv4-compatible loopback
        "[::ffff:127.0.0.1]",  # IPv4-mapped
        "[::ffff:0:a00:1]",  # SIIT-translated 10.0.0.1
        "[64:ff9b::a9fe:a9fe]",  # NAT64 of the metadata address
        "[64:ff9b::7f00:1]",  # NAT64 of loopback
        "[64:ff9b:1::a00:1]",  # local-use NAT64
        "[2002:7f00:1::]",  # 6to4 of 127.0.0.1
        "[2002:a9fe:a9fe::1]",  # 6to4 of the metadata address
        "[2001:0:4136:e378:8000:63bf:80ff:fffe]",  # Teredo, client 127.0.0.1
        "[fec0::1]",  # site-local
        "[fe80::1]",  # link-local
        "[fd00:ec2::254]",  # AWS metadata over IPv6
        "[::]",
        "0.0.0.0",
        "100.100.100.200",  # Alibaba metadata
        "[ff02::1]",  # multicast
        "224.0.0.1",
    ],
)
def test_ipv6_forms_are_judged_on_the_ipv4_inside_and_on_themselves(host: str) -> None:
    for scheme in ("https", "http"):
        with pytest.raises(ReelforgeError) as caught:
            check_url(f"{scheme}://{host}/a.png", allow_private=False, purpose="/image")
        assert caught.value.code == ErrorCode.INVALID_PAYLOAD
        assert "/image points to" in caught.value.message and "not allowed" in caught.value.message


@pytest.mark.parametrize(
    "host", ["[64:ff9b::a9fe:a9fe]", "[2002:a9fe:a9fe::1]", "169.254.169.254", "0.0.0.0", "[fec0::1]"]
)
def test_metadata_unspecified_and_site_local_are_refused_even_where_private_hosts_are_allowed(host: str) -> None:
    with pytest.raises(ReelforgeError, match="not allowed"):
        check_url(f"http://{host}/latest/meta-data", allow_private=True)


@pytest.mark.parametrize(
    "address", ["2606:4700:4700::1111", "64:ff9b::5db8:d822", "2002:5db8:d822::1", "::ffff:93.184.216.34", "8.8.8.8"]
)
def test_public_addresses_in_every_form_pass(address: str) -> None:
    assert refusal(ipaddress.ip_address(address), allow_private=False) is None


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("https://a..b.com/x.png", "invalid host name"),
        ("https://.example.com/x.png", "invalid host name"),
        ("https://" + "a" * 64 + ".com/x.png", "invalid host name"),
        ("https://" + ".".join(["abcdefgh"] * 40) + ".com/x.png", "invalid host name"),
        ("https://exa mple.com/x.png", "invalid host name"),
        ("https://example.com:99999/x.png", "not a valid URL"),
        ("https://example.com/" + "x" * 10_000, "longer than 8192"),
        ("https://[::1/x.png", "not a valid URL"),
    ],
)
def test_malformed_urls_are_a_400_without_touching_the_resolver(url: str, message: str) -> None:
    def resolver(host: str, port: int) -> list[str]:
        raise AssertionError("resolved a URL that should have been refused on its syntax")

    for allow_private in (False, True):
        with pytest.raises(ReelforgeError, match=message) as caught:
            check_url(url, allow_private=allow_private, purpose="webhookUrl", resolver=resolver)
        assert caught.value.code == ErrorCode.INVALID_PAYLOAD


def test_every_resolved_address_must_pass() -> None:
    answers = {"mixed.test": ["93.184.216.34", "10.0.0.7"], "public.test": ["93.184.216.34", "2606:4700::1"]}

    def resolver(host: str, port: int) -> list[str]:
        return answers[host]

    with pytest.raises(ReelforgeError, match="private"):
        check_url("https://mixed.test/a.png", allow_private=False, resolver=resolver)
    check_url("https://public.test/a.png", allow_private=False, resolver=resolver)
    with pytest.raises(ReelforgeError) as unresolved:
        check_url("https://nowhere.test/a.png", allow_private=False, resolver=lambda h, p: [])
    assert unresolved.value.code == ErrorCode.INPUT_FETCH_FAILED


class Rebinding:
    """A resolver the test controls: each name's answers in turn (the last repeats), every lookup recorded."""

    def __init__(self, answers: dict[str, list[str]]) -> None:
        self.answers = answers
        self.lookups: list[str] = []

    def __call__(self, host: str, port: int) -> list[str]:
        self.lookups.append(host)
        seen = self.lookups.count(host)
        queue = self.answers[host]
        return [queue[min(seen, len(queue)) - 1]]


def test_the_fetch_connects_to_the_vetted_address_under_the_name(peer) -> None:
    """The name never reaches the system resolver: the connection goes to the address the guard vetted, and the
    receiver still sees the name in `Host`."""
    server, image = peer
    port = server.url.rsplit(":", 1)[1]
    resolver = Rebinding({"images.test": ["127.0.0.1"]})
    got = fetch(
        f"http://images.test:{port}/image.png", allow_private=True, max_bytes=100_000, timeout=5, resolver=resolver
    )
    assert got.data == image
    assert resolver.lookups == ["images.test"]  # one lookup: the check and the connection are the same
    assert server.requests[-1]["headers"]["host"] == f"images.test:{port}"


def test_dns_rebinding_cannot_move_the_connection(peer) -> None:
    """A name that answers a public address first and loopback on every later lookup (rebinding): the guard
    vets the first answer and the connection goes there; loopback never sees a request."""
    server, _ = peer
    port = server.url.rsplit(":", 1)[1]
    resolver = Rebinding({"rebind.test": ["93.184.216.34", "127.0.0.1"]})
    with pytest.raises(ReelforgeError) as caught:
        fetch(
            f"http://rebind.test:{port}/image.png", allow_private=False, max_bytes=1000, timeout=0.5, resolver=resolver
        )
    assert caught.value.code == ErrorCode.INPUT_FETCH_FAILED  # the public address did not answer in time
    assert resolver.lookups == ["rebind.test"]
    assert server.requests == []


def test_each_redirect_hop_is_resolved_vetted_and_pinned() -> None:
    image = png_bytes(8, 8)
    routes: dict[str, tuple[int, dict[str, str], bytes]] = {}
    local = LocalHTTPServer(lambda m, path, h, b: routes.get(path) or (200, {"content-type": "image/png"}, image))
    port = local.url.rsplit(":", 1)[1]
    routes["/hop"] = (302, {"location": f"http://second.test:{port}/image.png"}, b"")
    routes["/metadata"] = (302, {"location": f"http://metadata.test:{port}/latest/meta-data"}, b"")
    resolver = Rebinding(
        {"first.test": ["127.0.0.1"], "second.test": ["127.0.0.1"], "metadata.test": ["169.254.169.254"]}
    )
    try:
        got = fetch(
            f"http://first.test:{port}/hop", allow_private=True, max_bytes=100_000, timeout=5, resolver=resolver
        )
        assert got.data == image
        assert [r["headers"]["host"] for r in local.requests] == [f"first.test:{port}", f"second.test:{port}"]
        assert resolver.lookups == ["first.test", "second.test"]
        with pytest.raises(ReelforgeError, match="metadata") as caught:
            fetch(
                f"http://first.test:{port}/metadata", allow_private=True, max_bytes=1000, timeout=5, resolver=resolver
            )
        assert caught.value.code == ErrorCode.INVALID_PAYLOAD
        assert [r["path"] for r in local.requests][-1] == "/metadata"  # the refused hop was never requested
    finally:
        local.close()
