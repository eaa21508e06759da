"""Object storage behind one small interface: a local folder (embedded mode) or S3 (MinIO, AWS).

Keys look like `jobs/<job id>/input/<name>` and `jobs/<job id>/stems/vocals.wav`. Objects are
private: the API streams them to the key that owns the job, or hands out short-lived presigned
URLs. Writes are atomic in both backends (a temporary file renamed; an S3 object appears whole),
so a reader never sees half a stem.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Protocol

from stemdeck.common.settings import Settings

CHUNK = 1 << 20
log = logging.getLogger(__name__)


class StorageError(RuntimeError):
    """Storage could not be reached or answered with an error (transient: worth a retry)."""


class ObjectMissing(KeyError):
    """No object under that key."""


class Storage(Protocol):
    def put_file(self, key: str, path: Path, content_type: str | None = None) -> None: ...
    def put_stream(self, key: str, stream: IO[bytes], content_type: str | None = None) -> int: ...
    def get_file(self, key: str, path: Path) -> None: ...
    def open_range(self, key: str, start: int = 0, end: int | None = None) -> Iterator[bytes]: ...
    def size(self, key: str) -> int: ...
    def exists(self, key: str) -> bool: ...
    def list(self, prefix: str) -> list[str]: ...
    def delete_prefix(self, prefix: str) -> int: ...
    def presigned_url(self, key: str, seconds: int = 600) -> str | None: ...
    def check(self) -> None: ...


def _safe_key(key: str) -> str:
    """Keys are built by StemDeck, never taken raw from a user; still refuse escapes."""
    parts = key.split("/")
    if key.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise ValueError(f"invalid storage key {key!r}")
    return key


class LocalStorage:
    """Objects as files under `root` (embedded mode and single-machine installs)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        return self.root / _safe_key(key)

    def put_file(self, key: str, path: Path, content_type: str | None = None) -> None:
        with open(path, "rb") as source:
            self.put_stream(key, source, content_type)

    def put_stream(self, key: str, stream: IO[bytes], content_type: str | None = None) -> int:
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".part-")
        written = 0
        try:
            with os.fdopen(handle, "wb") as out:
                while chunk := stream.read(CHUNK):
                    out.write(chunk)
                    written += len(chunk)
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        return written

    def get_file(self, key: str, path: Path) -> None:
        source = self._path(key)
        if not source.is_file():
            raise ObjectMissing(key)
        shutil.copyfile(source, path)

    def open_range(self, key: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        source = self._path(key)
        if not source.is_file():
            raise ObjectMissing(key)
        stop = source.stat().st_size - 1 if end is None else end
        return _file_range(source, start, stop)

    def size(self, key: str) -> int:
        source = self._path(key)
        if not source.is_file():
            raise ObjectMissing(key)
        return source.stat().st_size

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def list(self, prefix: str) -> list[str]:
        base = self.root / prefix.rstrip("/")
        if not base.exists():
            return []
        return sorted(
            p.relative_to(self.root).as_posix()
            for p in base.rglob("*")
            if p.is_file() and not p.name.startswith(".part-")
        )

    def delete_prefix(self, prefix: str) -> int:
        base = self.root / _safe_key(prefix.rstrip("/"))
        count = len(self.list(prefix))
        shutil.rmtree(base, ignore_errors=True)
        return count

    def presigned_url(self, key: str, seconds: int = 600) -> str | None:
        return None  # the API streams local files itself

    def check(self) -> None:
        if not os.access(self.root, os.W_OK):
            raise StorageError(f"storage folder {self.root} is not writable")


def _file_range(path: Path, start: int, stop: int) -> Iterator[bytes]:
    with path.open("rb") as handle:
        handle.seek(start)
        left = stop - start + 1
        while left > 0:
            chunk = handle.read(min(CHUNK, left))
            if not chunk:
                return
            left -= len(chunk)
            yield chunk


class S3Storage:
    """Objects in an S3 bucket (MinIO in compose, moto_server in tests, AWS anywhere)."""

    def __init__(
        self,
        bucket: str,
        endpoint: str | None = None,
        public_endpoint: str | None = None,
        region: str = "us-east-1",
        access_key: str | None = None,
        secret_key: str | None = None,
    ) -> None:
        import boto3
        from botocore.config import Config

        config = Config(
            retries={"max_attempts": 5, "mode": "standard"},
            s3={"addressing_style": "path"},
            signature_version="s3v4",
        )
        common = {
            "region_name": region,
            "aws_access_key_id": access_key,
            "aws_secret_access_key": secret_key,
            "config": config,
        }
        self.bucket = bucket
        self.client = boto3.client("s3", endpoint_url=endpoint, **common)
        self.public_client = (
            boto3.client("s3", endpoint_url=public_endpoint, **common) if public_endpoint else None
        )

    def ensure_bucket(self) -> None:
        """Create the bucket when missing (first start of a fresh MinIO)."""
        from botocore.exceptions import ClientError

        try:
            self.client.head_bucket(Bucket=self.bucket)
        except ClientError:
            self.client.create_bucket(Bucket=self.bucket)

    def put_file(self, key: str, path: Path, content_type: str | None = None) -> None:
        extra = {"ContentType": content_type} if content_type else None
        with _errors():
            self.client.upload_file(str(path), self.bucket, _safe_key(key), ExtraArgs=extra)

    def put_stream(self, key: str, stream: IO[bytes], content_type: str | None = None) -> int:
        counter = _CountingReader(stream)
        extra = {"ContentType": content_type} if content_type else None
        with _errors():
            self.client.upload_fileobj(counter, self.bucket, _safe_key(key), ExtraArgs=extra)
        return counter.count

    def get_file(self, key: str, path: Path) -> None:
        with _errors(key):
            self.client.download_file(self.bucket, _safe_key(key), str(path))

    def open_range(self, key: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        span = f"bytes={start}-" + ("" if end is None else str(end))
        with _errors(key):
            body = self.client.get_object(Bucket=self.bucket, Key=_safe_key(key), Range=span)
        return body["Body"].iter_chunks(CHUNK)

    def size(self, key: str) -> int:
        with _errors(key):
            head = self.client.head_object(Bucket=self.bucket, Key=_safe_key(key))
        return int(head["ContentLength"])

    def exists(self, key: str) -> bool:
        try:
            self.size(key)
        except ObjectMissing:
            return False
        return True

    def list(self, prefix: str) -> list[str]:
        keys: list[str] = []
        with _errors():
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=prefix
            )
            for page in pages:
                keys.extend(item["Key"] for item in page.get("Contents", []))
        return sorted(keys)

    def delete_prefix(self, prefix: str) -> int:
        keys = self.list(prefix)
        with _errors():
            for start in range(0, len(keys), 1000):
                batch = [{"Key": k} for k in keys[start : start + 1000]]
                self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": batch})
        return len(keys)

    def presigned_url(self, key: str, seconds: int = 600) -> str | None:
        if self.public_client is None:
            return None
        return self.public_client.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": _safe_key(key)}, ExpiresIn=seconds
        )

    def check(self) -> None:
        with _errors():
            self.client.head_bucket(Bucket=self.bucket)


class _CountingReader:
    """Counts bytes as boto3 reads them, and fills every read: boto3 takes a short read for the
    end of the file, while network streams return whatever has arrived."""

    def __init__(self, stream: IO[bytes]) -> None:
        self.stream, self.count = stream, 0

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            data = self.stream.read()
        else:
            parts, wanted = [], size
            while wanted > 0:
                chunk = self.stream.read(wanted)
                if not chunk:
                    break
                parts.append(chunk)
                wanted -= len(chunk)
            data = b"".join(parts)
        self.count += len(data)
        return data


class _errors:
    """Translate botocore failures into ObjectMissing / StorageError with a readable message."""

    def __init__(self, key: str | None = None) -> None:
        self.key = key

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type | None, exc: BaseException | None, _tb: object) -> None:
        if exc is None:
            return
        from botocore.exceptions import BotoCoreError, ClientError

        if isinstance(exc, ClientError):
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in ("404", "NoSuchKey", "NotFound") and self.key is not None:
                raise ObjectMissing(self.key) from None
            raise StorageError(f"storage refused the request ({code}): {exc}") from exc
        if isinstance(exc, BotoCoreError):
            raise StorageError(f"storage unreachable: {exc}") from exc


def open_storage(settings: Settings) -> Storage:
    """The backend the settings name (`STEMDECK_STORAGE=local|s3`). An S3 endpoint that is down
    at start-up does not stop a process from starting: `check()` (and /readyz) reports it, and
    tasks retry their storage calls."""
    if settings.storage == "s3":
        storage = S3Storage(
            settings.s3_bucket,
            settings.s3_endpoint,
            settings.s3_public_endpoint,
            settings.s3_region,
            settings.s3_access_key.get_secret_value() if settings.s3_access_key else None,
            settings.s3_secret_key.get_secret_value() if settings.s3_secret_key else None,
        )
        try:
            storage.ensure_bucket()
        except Exception as exc:  # botocore raises several kinds; readiness checks report it
            log.warning("object storage not reachable at start-up: %s", exc)
        return storage
    return LocalStorage(settings.data_dir / "objects")
