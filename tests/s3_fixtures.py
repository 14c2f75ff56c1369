"""pytest fixtures for S3: a moto server process (server mode, 127.0.0.1, a port the OS picks).

The server is moto behind a traffic counter (tests/s3_traffic.py): a test can ask which objects a
run read and how many bytes crossed the wire (``s3_traffic``), whoever made the requests.

List this module in ``tests/conftest.py``: ``pytest_plugins = ["tests.s3_fixtures"]``.

``moto_endpoint`` starts the server once per run. ``s3_env`` (per test) points boto3 at it through
``AWS_ENDPOINT_URL`` with fake credentials and no profile, so the code under test builds its client
exactly as in production (``boto3.client("s3")``) and can never reach real AWS. ``s3_bucket`` is an
empty bucket per test; ``s3_lake_url`` is ``s3://<bucket>/lake``.
"""

from __future__ import annotations

import uuid
from typing import Iterator

import pytest
import moto.server  # noqa: F401  (a dev requirement: missing is an import error, never a skip)

from pipeline.config import PROJECT_ROOT
from tests.services import service_missing

__all__ = ["moto_endpoint", "s3_env", "s3_client", "s3_bucket", "s3_lake_url", "FAKE_AWS_ENV", "list_keys"]

FAKE_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}
UNSET = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL_S3", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE")


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """``http://127.0.0.1:<port>`` of a moto server that lives for the whole test run.

    A separate process, not a thread: delta-rs holds the GIL during its S3 requests, so a server
    thread in the test process could never answer them. The server binds port 0 and says which
    port it got (no free-port race).
    """
    import re
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-u", "-m", "tests.s3_traffic"], cwd=PROJECT_ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    endpoint = None
    try:
        for line in proc.stdout:  # type: ignore[union-attr]
            match = re.search(r"Running on (http://127\.0\.0\.1:\d+)", line)
            if match:
                endpoint = match.group(1)
                break
        if endpoint is None:
            service_missing("the moto S3 server did not start")
        # Keep draining its log so the pipe never fills and blocks the server.
        import threading

        threading.Thread(target=lambda: [None for _ in proc.stdout], daemon=True).start()  # type: ignore[union-attr]
        yield endpoint
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture
def s3_env(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> str:
    """Environment for boto3: the moto endpoint, fake credentials, no profile. Returns the endpoint."""
    for name in UNSET:
        monkeypatch.delenv(name, raising=False)
    empty = tmp_path_factory.mktemp("aws")  # no ~/.aws config can leak in
    monkeypatch.setenv("AWS_CONFIG_FILE", str(empty / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(empty / "credentials"))
    for name, value in FAKE_AWS_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    return moto_endpoint


@pytest.fixture
def s3_client(s3_env: str):  # noqa: ANN201
    import boto3

    return boto3.client("s3")


@pytest.fixture
def s3_bucket(s3_client) -> str:  # noqa: ANN001
    """A new, empty bucket for one test."""
    name = f"test-{uuid.uuid4().hex[:12]}"
    s3_client.create_bucket(Bucket=name)
    return name


@pytest.fixture
def s3_lake_url(s3_bucket: str) -> str:
    return f"s3://{s3_bucket}/lake"


def list_keys(client, bucket: str, prefix: str = "") -> list[str]:  # noqa: ANN001
    keys: list[str] = []
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys.extend(obj["Key"] for obj in page.get("Contents", []))
    return sorted(keys)
