"""`build_storage`: the artifact store a deployment's settings choose (`REELFORGE_STORAGE=local|s3`)."""

from __future__ import annotations

from reelforge.config import Settings
from reelforge.domain.errors import ErrorCode, ReelforgeError
from reelforge.storage.base import Storage
from reelforge.storage.local import LocalStorage
from reelforge.store.db import Database
from reelforge.store.state import get_or_create_secret


def build_storage(settings: Settings, db: Database) -> Storage:
    """The configured backend. The URL-signing secret lives in the database so every API server of a
    deployment signs and checks `/files` links alike."""
    secret = get_or_create_secret(db, "url_signing_secret")
    if settings.storage == "local":
        return LocalStorage(settings.artifacts_dir, secret)
    if not settings.s3_bucket:
        raise ReelforgeError(
            ErrorCode.INTERNAL_ERROR, "REELFORGE_STORAGE=s3 needs REELFORGE_S3_BUCKET (the bucket to keep videos in)"
        )
    try:
        from reelforge.storage.s3 import S3Storage

        return S3Storage(
            settings.s3_bucket,
            secret,
            prefix=settings.s3_prefix,
            endpoint_url=settings.s3_endpoint_url,
            region=settings.s3_region,
            addressing_style=settings.s3_addressing_style,
            links=settings.s3_links,
            multipart_threshold=settings.s3_multipart_threshold,
        )
    except ImportError as exc:
        raise ReelforgeError(
            ErrorCode.INTERNAL_ERROR, f"REELFORGE_STORAGE=s3 needs boto3: pip install 'reelforge[s3]' ({exc})"
        ) from exc
