"""The safe fetcher: SSRF guard, size caps, timeouts, content types, data: URIs."""

from __future__ import annotations

import base64
import time

import pytest

from reelforge.domain.errors import ErrorCode, ReelforgeError
from reelforge.media.fetch import check_url, decode_data_uri, fetch
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
    assert "private" in caught.value.message


@pytest.mark.parametrize("url", ["http://93.184.216.34/a.png", "ftp://example.com/a", "file:///etc/passwd", "nope"])
def test_only_https_is_accepted_by_default(url: str) -> None:
    with pytest.raises(ReelforgeError, match="https"):
        check_url(url, allow_private=False)


def test_public_https_passes_without_a_network_lookup_of_literals() -> None:
    check_url("https://93.184.216.34/a.png", allow_private=False)


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
