"""Local-directory artifact store with expiring, HMAC-signed download URLs.

Keys are relative paths such as `tasks/<task id>/video.mp4`. Downloads go through reelforge's `/files`
route with a signed link (see `signing.py`); the files live under one directory on this host, so this
backend suits one machine (or hosts sharing that directory); `S3Storage` is for fleets.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path

from reelforge.domain.errors import ErrorCode, ReelforgeError, storage_full
from reelforge.storage.signing import UrlSigner


class LocalStorage:
    def __init__(self, root: Path, signing_secret: bytes) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)
        self._signer = UrlSigner(signing_secret)

    def path(self, key: str) -> Path:
        """The file behind `key`; refuses keys that would leave the storage root."""
        candidate = (self.root / key).resolve()
        if not candidate.is_relative_to(self.root.resolve()):
            raise ReelforgeError(ErrorCode.TASK_NOT_FOUND, "no such file")
        return candidate

    def put_file(self, key: str, source: Path) -> str:
        with self._writing(key) as tmp:
            shutil.copyfile(source, tmp)
        return key

    def put_bytes(self, key: str, data: bytes) -> str:
        with self._writing(key) as tmp:
            tmp.write_bytes(data)
        return key

    def put_stream(self, key: str, chunks: Iterable[bytes]) -> str:
        """Store the bytes of `chunks` under `key` without holding them whole (streamed uploads)."""
        with self._writing(key) as tmp, tmp.open("wb") as out:
            for chunk in chunks:
                out.write(chunk)
        return key

    @contextlib.contextmanager
    def _writing(self, key: str) -> Iterator[Path]:
        """A `.partial` file to write; renamed onto `key` when the block ends (atomic: a reader sees the whole
        file or none), deleted when it fails. A full disk is STORAGE_FULL (503), not a 500 with a leftover."""
        target = self.path(key)
        tmp = target.with_name(target.name + ".partial")
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            yield tmp
            tmp.replace(target)
        except BaseException as exc:
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)
            full = storage_full(exc)
            if full is not None:
                raise full from exc
            raise

    def read_bytes(self, key: str) -> bytes:
        return self.path(key).read_bytes()

    def iter_bytes(self, key: str, chunk_size: int = 1024 * 1024) -> Iterator[bytes]:
        with self.path(key).open("rb") as file:
            while chunk := file.read(chunk_size):
                yield chunk

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()

    def size(self, key: str) -> int:
        """The stored file's size in bytes (lets callers decide before reading it whole)."""
        return self.path(key).stat().st_size

    def delete(self, key: str) -> None:
        """Delete one file, and the folders below the top level it leaves empty (an upload session's, say)."""
        target = self.path(key)
        target.unlink(missing_ok=True)
        root = self.root.resolve()
        for folder in target.parents:
            if folder.parent == root or root not in folder.parents:  # keep `uploads/`, `tasks/` themselves
                break
            try:
                folder.rmdir()
            except OSError:  # not empty (or already gone): the folders above are in use too
                break

    def delete_prefix(self, prefix: str) -> None:
        shutil.rmtree(self.path(prefix), ignore_errors=True)

    # ------------------------------------------------------------ downloads

    def signed_url(self, base_url: str, key: str, ttl_seconds: int, *, now: float | None = None) -> str:
        """An absolute download URL for `key`, valid `ttl_seconds` from `now`."""
        return self._signer.url(base_url, key, ttl_seconds, now=now)

    def verify(self, key: str, expires: int, signature: str) -> None:
        """Raise unless the URL was signed by us for this key and has not expired."""
        self._signer.verify(key, expires, signature)

    def local_path(self, key: str) -> Path | None:
        return self.path(key)

    def direct_url(self, key: str, ttl_seconds: int) -> str | None:
        return None  # served by reelforge's /files route
