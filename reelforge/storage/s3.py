"""S3-compatible artifact store (AWS S3, MinIO, Ceph RGW, R2, ...) on boto3.

API servers and workers on different hosts share only the bucket: workers upload finished videos, API
servers store uploaded inputs that workers read back (`stored:` keys), and clients download straight from
the bucket through presigned GET URLs, so video bytes never pass through an API server.

Credentials come from boto3's standard chain (`AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`, `AWS_PROFILE`,
`~/.aws/credentials`, instance/task roles); reelforge never reads, stores or logs them itself.

With `links="redirect"` the URLs handed out are reelforge's own signed `/files/...` links instead, which
answer with a redirect to a short-lived presigned URL: the one mode in which reelforge (not S3) answers an
old link after the output expired, with a 410 that says so. See docs/storage.md.
"""

from __future__ import annotations

import logging
import math
import mimetypes
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

from reelforge.storage.base import check_key
from reelforge.storage.signing import UrlSigner

log = logging.getLogger(__name__)

MAX_PRESIGN_SECONDS = 7 * 24 * 3600
"""SigV4 presigned URLs live at most 7 days; longer `download_url_ttl`s are clamped to it."""
_MISSING = frozenset({"404", "NoSuchKey", "NotFound"})

LinkMode = Literal["presigned", "redirect"]


class S3Storage:
    def __init__(
        self,
        bucket: str,
        signing_secret: bytes,
        *,
        prefix: str = "",
        endpoint_url: str | None = None,
        region: str | None = None,
        addressing_style: str = "auto",
        links: LinkMode = "presigned",
        multipart_threshold: int = 64 * 1024 * 1024,
        client: Any = None,
    ) -> None:
        from boto3.s3.transfer import TransferConfig  # only deployments that choose S3 need boto3

        self.bucket = bucket
        self.prefix = normal_prefix(prefix)
        self.links = links
        self._signer = UrlSigner(signing_secret)
        self._client = client or s3_client(endpoint_url, region, addressing_style)
        self._transfer = TransferConfig(
            multipart_threshold=multipart_threshold,
            multipart_chunksize=max(8 * 1024 * 1024, multipart_threshold // 8),
            max_concurrency=4,
        )
        log.info(
            "artifact storage: s3://%s/%s (endpoint %s, links %s)",
            bucket,
            self.prefix,
            endpoint_url or "AWS default",
            links,
        )

    def object_key(self, key: str) -> str:
        """The bucket key behind a storage key (the configured prefix + the key)."""
        return self.prefix + check_key(key)

    # --------------------------------------------------------------- objects

    def put_file(self, key: str, source: Path) -> str:
        # Managed transfer: multipart (in parallel parts) above the threshold; S3 makes the object
        # visible only once the whole upload completed, so a reader never sees half a video.
        self._client.upload_file(
            str(source),
            self.bucket,
            self.object_key(key),
            ExtraArgs={"ContentType": _content_type(key)},
            Config=self._transfer,
        )
        return key

    def put_bytes(self, key: str, data: bytes) -> str:
        self._client.put_object(Bucket=self.bucket, Key=self.object_key(key), Body=data, ContentType=_content_type(key))
        return key

    def read_bytes(self, key: str) -> bytes:
        body = self._get(key)["Body"]
        try:
            return body.read()
        finally:
            body.close()

    def iter_bytes(self, key: str, chunk_size: int = 1024 * 1024) -> Iterator[bytes]:
        body = self._get(key)["Body"]
        try:
            yield from body.iter_chunks(chunk_size)
        finally:
            body.close()

    def exists(self, key: str) -> bool:
        try:
            self._head(key)
        except FileNotFoundError:
            return False
        return True

    def size(self, key: str) -> int:
        return int(self._head(key)["ContentLength"])

    def delete(self, key: str) -> None:
        self._client.delete_object(Bucket=self.bucket, Key=self.object_key(key))

    def delete_prefix(self, prefix: str) -> None:
        # `tasks/x` must not also remove `tasks/xy/...`: list under `tasks/x/`.
        full = self.object_key(prefix.rstrip("/")) + "/"
        paginator = self._client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=full):
            keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
            if not keys:
                continue
            answer = self._client.delete_objects(Bucket=self.bucket, Delete={"Objects": keys, "Quiet": True})
            if answer.get("Errors"):
                first = answer["Errors"][0]
                raise OSError(f"s3://{self.bucket}/{first.get('Key')}: {first.get('Code')} {first.get('Message')}")

    # ------------------------------------------------------------ downloads

    @property
    def max_link_seconds(self) -> int | None:
        """The longest link this storage can hand out: SigV4's 7 days for presigned URLs (None: no limit)."""
        return MAX_PRESIGN_SECONDS if self.links == "presigned" else None

    def signed_url(self, base_url: str, key: str, ttl_seconds: int, *, now: float | None = None) -> str:
        """A presigned GET URL ending `ttl_seconds` after `now`; in redirect mode a reelforge `/files` link."""
        if self.links == "redirect":
            return self._signer.url(base_url, key, ttl_seconds, now=now)
        # A presigned URL's validity starts when it is signed, so a link rendered for an earlier moment
        # (a webhook body) gets what is left of its lifetime, and ends when the others do.
        remaining = (now if now is not None else time.time()) + ttl_seconds - time.time()
        return self.presigned_url(key, math.ceil(remaining))

    def verify(self, key: str, expires: int, signature: str) -> None:
        self._signer.verify(key, expires, signature)

    def local_path(self, key: str) -> Path | None:
        return None

    def direct_url(self, key: str, ttl_seconds: int) -> str | None:
        return self.presigned_url(key, ttl_seconds)

    def presigned_url(self, key: str, ttl_seconds: int) -> str:
        """A GET URL for the object, signed locally (no request to S3), valid `ttl_seconds` (1 s to 7 days)."""
        expires_in = max(1, min(int(ttl_seconds), MAX_PRESIGN_SECONDS))
        return self._client.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": self.object_key(key)}, ExpiresIn=expires_in
        )

    # ---------------------------------------------------------------- helpers

    def _get(self, key: str) -> dict[str, Any]:
        try:
            return self._client.get_object(Bucket=self.bucket, Key=self.object_key(key))
        except self._client.exceptions.ClientError as exc:
            if _error_code(exc) in _MISSING:
                raise FileNotFoundError(f"no stored file {key!r}") from None
            raise

    def _head(self, key: str) -> dict[str, Any]:
        try:
            return self._client.head_object(Bucket=self.bucket, Key=self.object_key(key))
        except self._client.exceptions.ClientError as exc:
            if _error_code(exc) in _MISSING:
                raise FileNotFoundError(f"no stored file {key!r}") from None
            raise


def s3_client(endpoint_url: str | None = None, region: str | None = None, addressing_style: str = "auto") -> Any:
    """A boto3 S3 client; credentials from boto3's standard chain (never passed or logged by reelforge)."""
    import boto3  # imported here: only deployments that choose S3 need boto3 (the `s3` extra)
    from botocore.config import Config

    config = Config(
        region_name=region,
        signature_version="s3v4",
        s3={"addressing_style": addressing_style},
        retries={"mode": "standard", "max_attempts": 5},
        # Checksums only where S3 requires them: many S3-compatible servers reject the CRC trailers
        # boto3 >= 1.36 sends by default.
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )
    return boto3.session.Session().client("s3", endpoint_url=endpoint_url, config=config)


def normal_prefix(prefix: str) -> str:
    """`reelforge`, `/reelforge/` -> `reelforge/`; empty stays empty (keys at the bucket's root)."""
    stripped = prefix.strip("/")
    if stripped:
        check_key(stripped)
    return f"{stripped}/" if stripped else ""


def _content_type(key: str) -> str:
    return mimetypes.guess_type(key)[0] or "application/octet-stream"


def _error_code(exc: Exception) -> str:
    return str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))
