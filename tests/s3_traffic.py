"""A moto S3 server that counts what crosses the wire: every request's method, bucket, key and bytes.

    python -m tests.s3_traffic          # prints "Running on http://127.0.0.1:<port>" (port 0: the OS picks)

The count is taken at the server, so it sees boto3's requests and delta-rs's (delta-rs talks to S3
itself through object_store, in Rust) alike. A separate process, as the plain moto server: delta-rs
holds the GIL during its requests, so a server thread in the caller's process could not answer.

``GET /_traffic`` returns the requests since the last reset as JSON (one object per request:
``method``, ``bucket``, ``key``, ``query``, ``status``, ``sent`` = request body bytes received,
``received`` = response body bytes sent back); ``DELETE /_traffic`` resets it. Path-style requests
only (what boto3 and delta-rs use against an IP endpoint). :func:`fetch_traffic` and :func:`summarise`
are the client side, shared by the tests and bench/s3_incremental.py.
"""

from __future__ import annotations

import json
import os
import threading
import urllib.request
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator
from urllib.parse import unquote

TRAFFIC_PATH = "/_traffic"  # bucket names cannot start with "_": never an S3 path


class _CountingInput:
    """The request body stream, counting what the application reads from it."""

    def __init__(self, stream: Any) -> None:
        self.stream, self.count = stream, 0

    def read(self, *args: Any) -> bytes:
        data = self.stream.read(*args)
        self.count += len(data)
        return data

    def readline(self, *args: Any) -> bytes:
        data = self.stream.readline(*args)
        self.count += len(data)
        return data

    def __iter__(self) -> Iterator[bytes]:
        for line in self.stream:
            self.count += len(line)
            yield line


class TrafficLog:
    """WSGI middleware: records each S3 request, serves the record at ``/_traffic``."""

    def __init__(self, app: Callable) -> None:
        self.app = app
        self.lock = threading.Lock()
        self.requests: list[dict[str, Any]] = []

    def _own(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        with self.lock:
            if environ["REQUEST_METHOD"] == "DELETE":
                self.requests = []
            body = json.dumps(self.requests).encode()
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        if environ.get("PATH_INFO", "").rstrip("/") == TRAFFIC_PATH:
            return self._own(environ, start_response)
        return self._counted(environ, start_response)

    def _counted(self, environ: dict, start_response: Callable) -> Iterator[bytes]:
        counting = _CountingInput(environ["wsgi.input"])
        environ["wsgi.input"] = counting
        status: list[str] = []

        def start(code: str, headers: list, exc_info: Any = None) -> Callable:
            status.append(code)
            return start_response(code, headers, exc_info) if exc_info else start_response(code, headers)

        received = 0
        try:
            for chunk in self.app(environ, start):
                received += len(chunk)
                yield chunk
        finally:
            bucket, _, key = unquote(environ.get("PATH_INFO", "")).lstrip("/").partition("/")
            method = environ["REQUEST_METHOD"]
            entry = {"method": method, "bucket": bucket, "key": key, "query": environ.get("QUERY_STRING", ""),
                     "status": int(status[0].split()[0]) if status else 0, "sent": counting.count,
                     "received": 0 if method == "HEAD" else received}
            with self.lock:
                self.requests.append(entry)


def fetch_traffic(endpoint: str, reset: bool = False) -> list[dict[str, Any]]:
    """The server's request record (and reset it with ``reset``)."""
    url = endpoint.rstrip("/") + TRAFFIC_PATH
    with urllib.request.urlopen(urllib.request.Request(url, method="DELETE" if reset else "GET"), timeout=30) as r:
        return json.loads(r.read())


@dataclass(frozen=True)
class Traffic:
    """What a stretch of work asked of S3. ``get_bytes`` counts every GET's response body (objects, ranges, listings)."""

    gets: int
    get_bytes: int
    puts: int
    put_bytes: int
    heads: int
    lists: int
    deletes: int

    @staticmethod
    def of(requests: list[dict[str, Any]], bucket: str | None = None, key_prefix: str = "") -> "Traffic":
        rows = [r for r in requests if (bucket is None or r["bucket"] == bucket) and r["key"].startswith(key_prefix)]
        gets = [r for r in rows if r["method"] == "GET"]
        puts = [r for r in rows if r["method"] in ("PUT", "POST")]
        return Traffic(
            gets=len(gets), get_bytes=sum(r["received"] for r in gets),
            puts=len(puts), put_bytes=sum(r["sent"] for r in puts),
            heads=sum(r["method"] == "HEAD" for r in rows),
            lists=sum(r["method"] == "GET" and ("list-type" in r["query"] or not r["key"]) for r in rows),
            deletes=sum(r["method"] == "DELETE" for r in rows),
        )


def object_gets(requests: list[dict[str, Any]], bucket: str) -> list[str]:
    """Keys of the objects read (GET of a key, whole or a range), in request order."""
    return [r["key"] for r in requests if r["bucket"] == bucket and r["method"] == "GET" and r["key"]]


def main() -> None:
    from werkzeug.serving import make_server

    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app

    app = TrafficLog(DomainDispatcherApplication(create_backend_app))
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=MotoRequestHandler)
    port = server.server_address[1]
    os.environ.setdefault("MOTO_PORT", str(port))
    print(f"Running on http://127.0.0.1:{port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
