"""Shared handling of input images named in a payload: https URLs are checked, data: URIs stored."""

from __future__ import annotations

import io
import secrets

from PIL import Image, UnidentifiedImageError

from reelforge.config import Settings
from reelforge.domain.errors import ReelforgeError, invalid
from reelforge.domain.request import STORED_PREFIX
from reelforge.media.fetch import check_url, decode_data_uri, is_data_uri
from reelforge.storage.base import Storage

_EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/jpg": "jpg", "image/webp": "webp", "image/gif": "gif"}


class StoredImage:
    """An image reference ready for a `GenerationRequest`, plus its size when known at submit time."""

    def __init__(self, source: str, size: tuple[int, int] | None, stored_key: str | None) -> None:
        self.source = source
        self.size = size
        self.stored_key = stored_key


def accept_image(value: object, field: str, settings: Settings, storage: Storage) -> StoredImage:
    """Validate one image given as URL or data URI; data URIs are decoded, checked and stored now."""
    if not isinstance(value, str) or not value.strip():
        raise invalid(f"{field} must be an https image URL or a data:image/...;base64,... URI", field)
    value = value.strip()
    if is_data_uri(value):
        decoded = decode_data_uri(value, max_bytes=settings.data_uri_max_bytes, field=field)
        try:
            with Image.open(io.BytesIO(decoded.data)) as image:
                size = image.size
                image.verify()
        except (UnidentifiedImageError, OSError, Image.DecompressionBombError):
            raise invalid(f"{field}: the data URI does not hold a readable image", field) from None
        key = f"uploads/{secrets.token_hex(12)}.{_EXTENSIONS.get(decoded.content_type, 'img')}"
        storage.put_bytes(key, decoded.data)
        return StoredImage(STORED_PREFIX + key, size, key)
    try:
        check_url(value, allow_private=settings.allow_private_urls, purpose=field)
    except ReelforgeError as exc:
        exc.field = field
        raise
    return StoredImage(value, None, None)


def elide_data_uri(value: object) -> object:
    """What `input` echoes back for an image: URLs as given, data URIs shortened to their header and size."""
    if isinstance(value, str) and is_data_uri(value):
        header, _, payload = value.partition(",")
        return f"{header},<{len(payload) * 3 // 4} bytes>"
    return value
