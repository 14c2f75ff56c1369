"""The lake: raw / landing / quarantine / curated zones on a local folder or S3.

Layout (same on both backends)::

    raw/source=<src>/load_date=YYYY-MM-DD/<load_id>/<name>   exactly as received, never rewritten
    landing/load_id=<load_id>/charges.parquet                typed, canonical columns
    quarantine/load_id=<load_id>/rejects.parquet             rows that failed typing + reason
    curated/charges/                                         enriched: a Delta Lake table (pipeline/curated.py)
    reference/<name>.parquet                                 reference tables as loaded

Writes are atomic per object: a local file is written beside its target and renamed; an S3 PUT is
atomic by nature. So a crash never leaves a half-written object that a reader could pick up.
"""

from __future__ import annotations

import io
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Protocol

import pyarrow as pa
import pyarrow.parquet as pq

from .config import Settings

ZONES = ("raw", "landing", "quarantine", "curated", "reference")


class Lake(Protocol):
    url: str

    def put_bytes(self, key: str, data: bytes) -> None: ...
    def put_file(self, key: str, src: Path) -> None: ...
    def get_bytes(self, key: str) -> bytes: ...
    def exists(self, key: str) -> bool: ...
    def sizes(self, prefix: str) -> dict[str, int]: ...
    def list(self, prefix: str) -> list[str]: ...
    def delete(self, key: str) -> None: ...
    def uri(self, key: str) -> str: ...

    @contextmanager
    def local_copy(self, key: str) -> Iterator[Path]: ...

    def open_input(self, key: str) -> io.RawIOBase: ...


def write_parquet(lake: Lake, key: str, table: pa.Table) -> None:
    """Write an Arrow table as one zstd Parquet object."""
    sink = io.BytesIO()
    pq.write_table(table, sink, compression="zstd")
    lake.put_bytes(key, sink.getvalue())


def read_parquet(lake: Lake, key: str) -> pa.Table:
    return pq.read_table(io.BytesIO(lake.get_bytes(key)))


class LocalLake:
    """A folder on disk. Default: ``data/lake`` under the project."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.url = str(self.root)

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if self.root.resolve() not in path.parents and path != self.root.resolve():
            raise ValueError(f"lake key escapes the lake root: {key!r}")
        return path

    def put_bytes(self, key: str, data: bytes) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def put_file(self, key: str, src: Path) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".tmp-{path.name}")
        try:
            shutil.copyfile(src, tmp)
            os.replace(tmp, path)
        except BaseException:  # a full disk (ENOSPC) must not leave the partial copy behind
            tmp.unlink(missing_ok=True)
            raise

    def move_file(self, key: str, src: Path) -> None:
        """Like :meth:`put_file` for a file that is not needed afterwards: a rename when on the same disk."""
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.replace(src, path)
        except OSError:  # another file system
            self.put_file(key, src)

    def get_bytes(self, key: str) -> bytes:
        return self._path(key).read_bytes()

    def exists(self, key: str) -> bool:
        return self._path(key).exists()

    def sizes(self, prefix: str) -> dict[str, int]:
        """Bytes of every object under ``prefix`` (a folder), by key, in one listing."""
        base = self._path(prefix)
        if not base.is_dir():
            return {}
        return {str(p.relative_to(self.root)): p.stat().st_size for p in base.rglob("*")
                if p.is_file() and not p.name.startswith(".tmp-")}

    def list(self, prefix: str) -> list[str]:
        base = self._path(prefix) if prefix else self.root
        if not base.exists():
            return []
        if base.is_file():
            return [prefix]
        return sorted(
            str(p.relative_to(self.root)) for p in base.rglob("*") if p.is_file() and not p.name.startswith(".tmp-")
        )

    def delete(self, key: str) -> None:
        path = self._path(key)
        path.unlink(missing_ok=True)
        # Folders emptied by the delete go too (S3 has none), up to the lake root.
        root = self.root.resolve()
        for parent in path.parents:
            if parent == root or root not in parent.parents:
                break
            try:
                parent.rmdir()
            except OSError:  # not empty (or already gone)
                break

    def uri(self, key: str) -> str:
        return str(self._path(key))

    @contextmanager
    def local_copy(self, key: str) -> Iterator[Path]:
        yield self._path(key)

    def open_input(self, key: str) -> io.BufferedReader:
        """A seekable binary file over the object (same call as :meth:`S3Lake.open_input`)."""
        return open(self._path(key), "rb")


class S3Lake:
    """``s3://bucket/prefix`` through boto3.

    Credentials come from the standard chain (env, profile, instance/task role); ``AWS_ENDPOINT_URL``
    (or ``AWS_ENDPOINT_URL_S3``) points boto3 at an S3-compatible server such as moto or MinIO.
    ``list(prefix)`` treats the prefix as a folder, as :class:`LocalLake` does (``curated/charges``
    never matches ``curated/charges_old/...``).
    """

    SINGLE_PUT_MAX = 64 * 1024 * 1024

    def __init__(self, url: str, client: object | None = None) -> None:
        rest = url[len("s3://"):]
        self.bucket, _, prefix = rest.partition("/")
        if not self.bucket:
            raise ValueError(f"PIPELINE_LAKE needs a bucket: {url!r}")
        self.prefix = prefix.strip("/")
        self.url = url.rstrip("/")
        if client is None:
            import boto3
            from botocore.config import Config

            client = boto3.client("s3", config=Config(retries={"mode": "standard", "max_attempts": 8}))
        self.client = client

    @property
    def endpoint_url(self) -> str | None:
        return getattr(getattr(self.client, "meta", None), "endpoint_url", None)

    @property
    def region(self) -> str | None:
        return getattr(getattr(self.client, "meta", None), "region_name", None)

    def _key(self, key: str) -> str:
        key = key.lstrip("/")
        return f"{self.prefix}/{key}" if self.prefix else key

    def put_bytes(self, key: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data)

    def put_file(self, key: str, src: Path) -> None:
        # One PUT for the usual few-MB zone files; the transfer manager (multipart, threads) only
        # for big ones. Either way S3 publishes the object atomically.
        if Path(src).stat().st_size <= self.SINGLE_PUT_MAX:
            with open(src, "rb") as fh:
                self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=fh)
        else:
            self.client.upload_file(str(src), self.bucket, self._key(key))

    def get_bytes(self, key: str) -> bytes:
        return self.client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"].read()

    def exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=self._key(key))
            return True
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise

    def sizes(self, prefix: str) -> dict[str, int]:
        """Bytes of every object under ``prefix`` (a folder), by key: one paginated LIST, no HEAD per object."""
        folder = self._key(prefix).rstrip("/") + "/"
        strip = len(self.prefix) + 1 if self.prefix else 0
        out: dict[str, int] = {}
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=folder):
            out.update({obj["Key"][strip:]: int(obj["Size"]) for obj in page.get("Contents", [])})
        return out

    def list(self, prefix: str) -> list[str]:
        folder = self._key(prefix).rstrip("/")
        folder = f"{folder}/" if folder else ""
        keys: list[str] = []
        paginator = self.client.get_paginator("list_objects_v2")
        strip = len(self.prefix) + 1 if self.prefix else 0
        for page in paginator.paginate(Bucket=self.bucket, Prefix=folder):
            keys.extend(obj["Key"][strip:] for obj in page.get("Contents", []))
        if not keys and prefix and self.exists(prefix):  # a single object, as LocalLake.list(file)
            return [prefix]
        return sorted(keys)

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._key(key))

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{self._key(key)}"

    @contextmanager
    def local_copy(self, key: str) -> Iterator[Path]:
        suffix = "".join(Path(key).suffixes)
        with tempfile.TemporaryDirectory(prefix="lake-") as tmp:
            path = Path(tmp) / f"object{suffix}"
            body = self.client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"]
            with open(path, "wb") as fh:
                for chunk in iter(lambda: body.read(8 << 20), b""):
                    fh.write(chunk)
            yield path

    def _get_range(self, key: str, byte_range: str) -> bytes:
        return self.client.get_object(Bucket=self.bucket, Key=self._key(key), Range=byte_range)["Body"].read()

    def open_input(self, key: str) -> "S3RangeFile":
        """A seekable, read-only file over the object: each read is one ranged GET.

        ``pq.read_table(lake.open_input(key), columns=["row_id"])`` fetches the footer and that
        column's chunks only, not the whole object.
        """
        size = self.client.head_object(Bucket=self.bucket, Key=self._key(key))["ContentLength"]
        return S3RangeFile(self, key, int(size))


class S3RangeFile(io.RawIOBase):
    """Random access to one S3 object through ranged GETs (for Parquet readers)."""

    def __init__(self, lake: S3Lake, key: str, size: int) -> None:
        super().__init__()
        self.lake, self.key, self.size = lake, key, size
        self.pos = 0
        self.bytes_fetched = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.pos, io.SEEK_END: self.size}[whence]
        self.pos = max(0, base + offset)
        return self.pos

    def read(self, n: int = -1) -> bytes:
        if self.pos >= self.size or n == 0:
            return b""
        end = self.size if n is None or n < 0 else min(self.size, self.pos + n)
        data = self.lake._get_range(self.key, f"bytes={self.pos}-{end - 1}")
        self.pos += len(data)
        self.bytes_fetched += len(data)
        return data

    def readinto(self, buffer) -> int:  # noqa: ANN001
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def open_lake(settings: Settings) -> Lake:
    """The lake named by ``PIPELINE_LAKE``: ``s3://bucket/prefix`` or a local folder."""
    if settings.lake_is_s3:
        return S3Lake(settings.lake_url)
    return LocalLake(settings.lake_path)
