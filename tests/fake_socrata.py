"""A local fake of Socrata's SODA 2.1 ``/resource/<dataset>.json`` endpoint, for tests.

The rows come from the *real* sample exports (``data/sample/*.csv.gz``, falling back to
``<repo>/../shared/data/traffic_violations``). :func:`export_rows_to_api_rows` converts them to the
shape the API returns: lowercase snake-case keys, every value a string (numbers and dates too),
dates as floating timestamps (``2016-11-23T00:00:00.000``), ``geolocation`` as a location object,
checkbox columns as JSON booleans, null values left out, plus the system fields ``:id``,
``:created_at``, ``:updated_at`` and ``:version``.

Implemented SoQL, enough for the pipeline's client:

* ``$select``: ``:*, *``; a comma list of field names (``:id``); ``count(*)``. Without
  ``$select`` there are no system fields, as on the real API.
* ``$where``: comparisons (``>= > <= < = !=``) of ``:updated_at``, ``:created_at`` or ``:id`` with
  a quoted literal (``''`` for a quote inside it), or of a timestamp column such as ``date_of_stop``,
  combined with ``AND``, ``OR`` and parentheses.
* ``$order``: ``:id`` [``ASC``|``DESC``], or ``:updated_at, :id`` (the client's keyset order).
  Without ``$order`` the row order is shuffled per request (the real API promises no order), so a
  client that forgets it sees gaps and repeats.
* ``$limit`` (default 1000) and ``$offset``. Each recorded request knows its ``offset``: the
  ``$offset`` it sent, or for a keyset page (``... AND (:updated_at > 't' OR (...))``) how many
  rows of its window sort before its cursor, so faults can target "the page at row 500" either way.

Scripted faults (:meth:`FakeSocrata.fail`, :meth:`slow`, :meth:`truncate`, :meth:`drop`, :meth:`mangle`) apply to
the next matching request(s). Dataset mutations (:meth:`edit_row`, :meth:`insert_rows`,
:meth:`delete_rows`, :meth:`drop_field`) stamp ``:updated_at`` from the fake's clock. Every
request is recorded in :attr:`FakeSocrata.requests`.

Pytest fixtures (import them into a ``conftest.py``): ``sample_api_rows`` (session scope),
``fake_socrata`` and ``socrata_settings``.

Regenerate ``tests/fixtures/api_rows.json`` with ``python -m tests.fake_socrata --write-fixture``.
"""

from __future__ import annotations

import copy
import csv
import gzip
import hashlib
import io
import json
import random
import re
import socket
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Iterable
from urllib.parse import parse_qs, urlsplit

import pytest
from requests.structures import CaseInsensitiveDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# The bundled samples first, then the shared folder beside the repository (<repo>/../shared), if any.
SAMPLE_DIRS = (PROJECT_ROOT / "data" / "sample", PROJECT_ROOT.parent / "shared" / "data" / "traffic_violations")
FIXTURE_PAGE = Path(__file__).resolve().parent / "fixtures" / "api_rows.json"

# Real samples used to build the fake dataset, in this order (see data/sample and SOURCES.md):
# the 2019 export first (it has SeqID and checkbox columns), then the 35-column 2012-2016 exports.
SAMPLE_FILES = (
    "mcpd_tv_sample_nerox_2019",
    "mcpd_tv_sample_tolu238_2017",
    "mcpd_tv_sample_nikolausn_2016",
    "mcpd_tv_sample_esraahefny333_2016",
)

DATASET = "4mse-ku6q"
# :created_at/:updated_at of the converted sample rows: BASE_UPDATED_AT + (index // 100) hours.
BASE_UPDATED_AT = datetime(2025, 1, 6, 5, 0, 0, tzinfo=timezone.utc)
FAKE_APP_TOKEN = "fake-app-token-DO-NOT-LEAK-0123456789"

_ID_ALPHABET = "23456789abcdefghijkmnpqrstuvwxyz"
_HUMAN_ADDRESS = '{"address": "", "city": "", "state": "", "zip": ""}'


# --------------------------------------------------------------------------------------------
# CSV export -> API rows
# --------------------------------------------------------------------------------------------


def api_field_name(header: str) -> str:
    """The API field name for a CSV export header (``Date Of Stop`` -> ``date_of_stop``, ``SeqID`` -> ``seqid``)."""
    return re.sub(r"[^0-9a-zA-Z]+", "_", header).strip("_").lower()


def fake_row_id(seed: str) -> str:
    """A stable id shaped like Socrata's (``row-yfqn_bkdi~7x27``)."""
    digest = hashlib.sha1(seed.encode()).digest()
    chars = [_ID_ALPHABET[b % len(_ID_ALPHABET)] for b in digest[:12]]
    seps = ["_~."[digest[12] % 3], "_~."[digest[13] % 3]]
    return f"row-{''.join(chars[0:4])}{seps[0]}{''.join(chars[4:8])}{seps[1]}{''.join(chars[8:12])}"


def fake_version(seed: str) -> str:
    digest = hashlib.sha1(("v:" + seed).encode()).digest()
    chars = "".join(_ID_ALPHABET[b % len(_ID_ALPHABET)] for b in digest[:12])
    return f"rv-{chars[0:4]}-{chars[4:8]}~{chars[8:12]}"


def socrata_stamp(value: datetime) -> str:
    """A fixed timestamp as the API writes it: ``2025-01-06T05:00:00.000Z``."""
    value = value.astimezone(timezone.utc)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def parse_stamp(text: str) -> datetime:
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def _api_value(name: str, value: str) -> Any:
    if name == "date_of_stop":
        for fmt in ("%m/%d/%Y", "%Y-%m-%d"):
            try:
                return datetime.strptime(value.strip(), fmt).strftime("%Y-%m-%dT00:00:00.000")
            except ValueError:
                pass
        return value
    if name == "geolocation":
        match = re.match(r"^\(\s*([-0-9.eE+]+)\s*,\s*([-0-9.eE+]+)\s*\)$", value.strip())
        if match:
            return {"latitude": match.group(1), "longitude": match.group(2), "human_address": _HUMAN_ADDRESS}
        return value
    if value.strip().lower() in ("true", "false"):
        # Checkbox columns: the export writes true/false (or TRUE/FALSE), the API JSON booleans.
        return value.strip().lower() == "true"
    return value


def _open_text(path: Path) -> io.TextIOBase:
    if path.name.endswith(".gz"):
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", newline="")
    return open(path, encoding="utf-8", newline="")


def export_rows_to_api_rows(
    csv_path: str | Path,
    limit: int | None = None,
    *,
    base_updated_at: datetime = BASE_UPDATED_AT,
    rows_per_hour: int = 100,
) -> list[dict]:
    """Convert a portal CSV export (``.csv`` or ``.csv.gz``, title-case headers) to SODA API rows.

    Empty values are left out (SODA omits nulls), and so is the unnamed pandas index column. The
    system fields are synthetic but stable. ``:id`` comes from a hash of the file name and record
    number, so ``:id`` order is unrelated to file order, as on the real API. ``:created_at`` and
    ``:updated_at`` are ``base_updated_at + (record number // rows_per_hour)`` hours.
    """
    path = Path(csv_path)
    stem = path.name.split(".csv")[0]
    out: list[dict] = []
    with _open_text(path) as fh:
        reader = csv.reader(fh)
        headers = next(reader)
        names = [api_field_name(h) for h in headers]
        for index, record in enumerate(reader):
            if limit is not None and index >= limit:
                break
            stamp = socrata_stamp(base_updated_at + timedelta(hours=index // max(1, rows_per_hour)))
            row: dict[str, Any] = {
                ":id": fake_row_id(f"{stem}:{index}"),
                ":created_at": stamp,
                ":updated_at": stamp,
                ":version": fake_version(f"{stem}:{index}:0"),
            }
            for name, value in zip(names, record):
                if not name or value == "":
                    continue
                row[name] = _api_value(name, value)
            out.append(row)
    return out


def find_sample(stem: str) -> Path:
    for directory in SAMPLE_DIRS:
        for suffix in (".csv.gz", ".csv"):
            candidate = directory / f"{stem}{suffix}"
            if candidate.exists():
                return candidate
    raise FileNotFoundError(f"sample {stem}.csv[.gz] not found in {', '.join(map(str, SAMPLE_DIRS))}")


def load_sample_api_rows(limit: int = 3000, files: Iterable[str] = SAMPLE_FILES) -> list[dict]:
    """The first ``limit`` real sample rows in API shape, taken from ``files`` in order."""
    rows: list[dict] = []
    for stem in files:
        if len(rows) >= limit:
            break
        taken = export_rows_to_api_rows(find_sample(stem), limit=limit - len(rows))
        rows.extend(taken)
    return rows


def copy_rows(rows: list[dict]) -> list[dict]:
    """A copy safe to mutate: API rows nest one level at most (``geolocation``). Faster than deepcopy."""
    return [{k: (dict(v) if isinstance(v, dict) else v) for k, v in row.items()} for row in rows]


def render_rows(rows: list[dict]) -> bytes:
    """A JSON body laid out the way SODA writes it (``[{...}\\n,{...}]``)."""
    parts = [json.dumps(r, ensure_ascii=False, separators=(",", ":")) for r in rows]
    # A lone surrogate in a value goes out as its JSON escape ("\udcff"), as a real portal can send it.
    return ("[" + "\n,".join(parts) + "]\n").encode("utf-8", errors="backslashreplace")


# --------------------------------------------------------------------------------------------
# Requests, faults
# --------------------------------------------------------------------------------------------


@dataclass
class RecordedRequest:
    method: str
    path: str
    params: dict[str, str]
    headers: CaseInsensitiveDict  # case-insensitive, like HTTP
    fault: str | None = None  # the fault kind applied to this request, if any
    status: int | None = None
    body: bytes | None = None  # the full body the server meant to send (before truncation)

    position: int | None = None  # set by the server for keyset pages (rows of the window before the cursor)

    @property
    def offset(self) -> int:
        if self.position is not None:
            return self.position
        return int(self.params.get("$offset", "0") or 0)


@dataclass
class Fault:
    """A scripted failure for the next ``times`` requests that match.

    kind: ``status`` (reply ``status`` with a Socrata-style JSON error, plus ``Retry-After`` when
    given), ``slow`` (sleep ``delay`` seconds, then answer normally), ``truncate`` (send only the
    first ``keep`` fraction of the body; ``full_length=True`` still declares the full
    Content-Length, so the client sees a short read), or ``drop`` (close the connection with no
    reply). ``when`` narrows the match: a predicate on the :class:`RecordedRequest`.
    """

    kind: str
    status: int = 500
    mangle: Callable[[bytes], bytes] | None = None  # kind "mangle": the body sent is mangle(body)
    retry_after: str | None = None
    delay: float = 0.0
    keep: float = 0.5
    full_length: bool = False
    times: int = 1
    when: Callable[[RecordedRequest], bool] | None = None


class SoqlError(ValueError):
    pass


_CLAUSE = re.compile(r"^\s*(:updated_at|:created_at|:id|[a-z_][a-z0-9_]*)\s*(>=|<=|!=|=|>|<)\s*'((?:[^']|'')*)'\s*$", re.IGNORECASE)
_TOKEN = re.compile(r"\s*(\(|\)|\bAND\b|\bOR\b|(?:[:a-z_][a-z0-9_]*)\s*(?:>=|<=|!=|=|>|<)\s*'(?:[^']|'')*')", re.IGNORECASE)
_KEYSET = re.compile(
    r"^(?:(?P<base>.*) AND )?\(:updated_at > '(?P<t>(?:[^']|'')*)' OR \(:updated_at = '(?P=t)' AND :id > '(?P<id>(?:[^']|'')*)'\)\)$",
    re.IGNORECASE | re.DOTALL,
)
_OPS: dict[str, Callable[[Any, Any], bool]] = {
    ">=": lambda a, b: a >= b,
    ">": lambda a, b: a > b,
    "<=": lambda a, b: a <= b,
    "<": lambda a, b: a < b,
    "=": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
}


def _stamp_or_none(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return parse_stamp(value)
    except ValueError:
        return None


def _clause_predicate(clause: str) -> Callable[[dict], bool]:
    match = _CLAUSE.match(clause)
    if not match:
        raise SoqlError(f"unsupported $where clause: {clause!r}")
    column, op, literal = match.group(1).lower(), match.group(2), match.group(3).replace("''", "'")
    if column == ":id":
        return lambda row, c=column, o=_OPS[op], v=literal: row.get(c) is not None and o(row[c], v)
    try:
        bound = parse_stamp(literal)
    except ValueError as exc:
        raise SoqlError(f"bad timestamp literal {literal!r}") from exc
    if not column.startswith(":"):
        # A dataset column (e.g. the floating timestamp date_of_stop): compared as a timestamp.
        # As in SoQL, a null (absent) value never matches.
        return lambda row, c=column, o=_OPS[op], v=bound: _stamp_or_none(row.get(c)) is not None and o(
            _stamp_or_none(row.get(c)), v)
    return lambda row, c=column, o=_OPS[op], v=bound: row.get(c) is not None and o(parse_stamp(row[c]), v)


def _where_predicate(where: str) -> Callable[[dict], bool]:
    """``$where`` -> predicate: clauses joined by AND/OR (AND binds tighter), with parentheses."""
    tokens: list[str] = []
    pos = 0
    text = where.strip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match or not match.group(1):
            raise SoqlError(f"unsupported $where near {text[pos:pos + 40]!r}")
        tokens.append(match.group(1))
        pos = match.end()
    at = [0]

    def peek() -> str | None:
        return tokens[at[0]] if at[0] < len(tokens) else None

    def take() -> str:
        at[0] += 1
        return tokens[at[0] - 1]

    def primary() -> Callable[[dict], bool]:
        token = take()
        if token == "(":
            inner = disjunction()
            if take() != ")":
                raise SoqlError("unbalanced parentheses in $where")
            return inner
        return _clause_predicate(token)

    def conjunction() -> Callable[[dict], bool]:
        parts = [primary()]
        while (peek() or "").upper() == "AND":
            take()
            parts.append(primary())
        return lambda row: all(p(row) for p in parts)

    def disjunction() -> Callable[[dict], bool]:
        parts = [conjunction()]
        while (peek() or "").upper() == "OR":
            take()
            parts.append(conjunction())
        return lambda row: any(p(row) for p in parts)

    predicate = disjunction()
    if at[0] != len(tokens):
        raise SoqlError(f"unsupported $where: {where!r}")
    return predicate


def _keyset_key(row: dict) -> tuple[datetime, str]:
    return parse_stamp(row[":updated_at"]), row.get(":id", "")


# --------------------------------------------------------------------------------------------
# The server
# --------------------------------------------------------------------------------------------


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True


class FakeSocrata:
    """A running fake SODA endpoint. Use as a context manager, or call :meth:`start` / :meth:`stop`."""

    def __init__(self, rows: list[dict] | None = None, dataset: str = DATASET, *, send_fields_header: bool = True) -> None:
        self.dataset = dataset
        self.rows: list[dict] = list(rows or [])
        self.fields: list[str] = _union_fields(self.rows)
        self.faults: list[Fault] = []
        self.requests: list[RecordedRequest] = []
        self.send_fields_header = send_fields_header
        latest = max((parse_stamp(r[":updated_at"]) for r in self.rows if ":updated_at" in r), default=BASE_UPDATED_AT)
        # The fake's clock, used for the :updated_at of mutations. Starts a day after the newest row.
        self.now: datetime = latest + timedelta(days=1)
        self.lock = threading.RLock()
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._inserted = 0

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> "FakeSocrata":
        fake = self

        class Handler(_Handler):
            server_fake = fake

        self._server = _Server(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, name="fake-socrata", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> "FakeSocrata":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None, "server not started"
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``: use it as ``SOCRATA_DOMAIN``."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def resource_path(self) -> str:
        return f"/resource/{self.dataset}.json"

    # -- faults ------------------------------------------------------------------------------

    def fail(self, status: int = 500, *, times: int = 1, retry_after: int | float | str | None = None, when=None) -> Fault:
        """Reply ``status`` to the next ``times`` matching requests (e.g. 429 with ``retry_after=7``)."""
        fault = Fault("status", status=status, retry_after=None if retry_after is None else str(retry_after), times=times, when=when)
        with self.lock:
            self.faults.append(fault)
        return fault

    def slow(self, delay: float, *, times: int = 1, when=None) -> Fault:
        """Wait ``delay`` seconds before answering (set it above the client's timeout)."""
        fault = Fault("slow", delay=delay, times=times, when=when)
        with self.lock:
            self.faults.append(fault)
        return fault

    def truncate(self, *, keep: float = 0.5, full_length: bool = False, times: int = 1, when=None) -> Fault:
        """Send only part of the JSON body (``full_length=True``: and declare the full Content-Length)."""
        fault = Fault("truncate", keep=keep, full_length=full_length, times=times, when=when)
        with self.lock:
            self.faults.append(fault)
        return fault

    def drop(self, *, times: int = 1, when=None) -> Fault:
        """Close the connection without any reply."""
        fault = Fault("drop", times=times, when=when)
        with self.lock:
            self.faults.append(fault)
        return fault

    def empty(self, *, times: int = 1, when=None) -> Fault:
        """Answer ``[]`` (200) although rows remain: a portal that ends a read too early."""
        fault = Fault("empty", times=times, when=when)
        with self.lock:
            self.faults.append(fault)
        return fault

    def mangle(self, fn: Callable[[bytes], bytes], *, times: int = 1, when=None) -> Fault:
        """Send ``fn(body)`` instead of the body (e.g. bytes that are not UTF-8 inside a value)."""
        fault = Fault("mangle", mangle=fn, times=times, when=when)
        with self.lock:
            self.faults.append(fault)
        return fault

    def keyset_position(self, params: dict[str, str]) -> int | None:
        """For a keyset page: how many rows of its window sort before its cursor (None otherwise)."""
        match = _KEYSET.match((params.get("$where") or "").strip())
        if not match:
            return None
        cursor = (parse_stamp(match.group("t").replace("''", "'")), match.group("id").replace("''", "'"))
        base = match.group("base")
        keep = _where_predicate(base) if base else (lambda row: True)
        with self.lock:
            rows = [r for r in self.rows if keep(r)]
        return sum(1 for r in rows if r.get(":updated_at") and _keyset_key(r) <= cursor)

    @staticmethod
    def at_offset(offset: int) -> Callable[[RecordedRequest], bool]:
        """A ``when`` predicate: only the request for this ``$offset``."""
        return lambda req: req.offset == offset

    def _take_fault(self, req: RecordedRequest) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.times > 0 and (fault.when is None or fault.when(req)):
                    fault.times -= 1
                    if fault.times <= 0:
                        self.faults.remove(fault)
                    return fault
        return None

    # -- mutations (between runs) ------------------------------------------------------------

    def advance(self, **delta: float) -> datetime:
        """Move the fake's clock forward (``advance(hours=2)``) and return the new time."""
        with self.lock:
            self.now = self.now + timedelta(**delta)
            return self.now

    def row(self, row_id: str) -> dict:
        with self.lock:
            for row in self.rows:
                if row.get(":id") == row_id:
                    return row
        raise KeyError(row_id)

    def edit_row(self, row_id: str, changes: dict[str, Any], *, at: datetime | None = None) -> dict:
        """Change fields of one row (None removes a value) and stamp a new ``:updated_at``."""
        with self.lock:
            row = self.row(row_id)
            for key, value in changes.items():
                if value is None:
                    row.pop(key, None)
                else:
                    row[key] = value
                    if key not in self.fields:
                        self.fields.append(key)
            stamp = at or self.advance(seconds=1)
            row[":updated_at"] = socrata_stamp(stamp)
            row[":version"] = fake_version(f"{row_id}:{row[':updated_at']}")
            return row

    def insert_rows(self, rows: Iterable[dict], *, at: datetime | None = None) -> list[str]:
        """Add rows (late arrivals). They get a new ``:id`` unless they have one, and ``:created_at = :updated_at = now``."""
        ids = []
        with self.lock:
            stamp = socrata_stamp(at or self.advance(seconds=1))
            for source in rows:
                row = {k: v for k, v in copy.deepcopy(source).items() if not k.startswith(":") or k == ":id"}
                self._inserted += 1
                row_id = row.pop(":id", None) or fake_row_id(f"inserted:{self._inserted}:{stamp}")
                new = {":id": row_id, ":created_at": stamp, ":updated_at": stamp, ":version": fake_version(row_id + stamp)}
                new.update(row)
                self.rows.append(new)
                for key in new:
                    if key not in self.fields:
                        self.fields.append(key)
                ids.append(row_id)
        return ids

    def delete_rows(self, row_ids: Iterable[str]) -> int:
        """Remove rows (SODA has no tombstones: they simply stop appearing)."""
        gone = set(row_ids)
        with self.lock:
            before = len(self.rows)
            self.rows = [r for r in self.rows if r.get(":id") not in gone]
            return before - len(self.rows)

    def drop_field(self, name: str) -> None:
        """Remove a column from the dataset (every row and the field list)."""
        with self.lock:
            for row in self.rows:
                row.pop(name, None)
            if name in self.fields:
                self.fields.remove(name)

    # -- queries -----------------------------------------------------------------------------

    def data_requests(self) -> list[RecordedRequest]:
        """Requests for the dataset resource (excluding any other path)."""
        return [r for r in self.requests if r.path == self.resource_path]

    def respond(self, params: dict[str, str], request_number: int = 0, *, empty: bool = False) -> tuple[bytes, list[str]]:
        """The JSON body for SoQL ``params`` and the selected field names (``empty``: ``[]``, a fault)."""
        rows, selected = self.query(params, request_number=request_number)
        return render_rows([] if empty else rows), selected

    def query(self, params: dict[str, str], request_number: int = 0) -> tuple[list[dict], list[str]]:
        """Evaluate SoQL params against the current rows: (rows to send, selected field names)."""
        unknown = [k for k in params if k.startswith("$") and k not in ("$select", "$where", "$order", "$limit", "$offset")]
        if unknown:
            raise SoqlError(f"unsupported parameter(s): {', '.join(unknown)}")
        with self.lock:
            rows = list(self.rows)
            fields = list(self.fields)
        where = params.get("$where")
        if where:
            keep = _where_predicate(where)
            rows = [r for r in rows if keep(r)]
        select = (params.get("$select") or "*").strip()
        if re.fullmatch(r"count\(\s*\*\s*\)", select, re.IGNORECASE):
            return [{"count": str(len(rows))}], ["count"]
        order = (params.get("$order") or "").strip()
        if re.fullmatch(r":updated_at\s*,\s*:id", order, re.IGNORECASE):
            rows.sort(key=_keyset_key)
        elif order:
            match = re.fullmatch(r":id(?:\s+(ASC|DESC))?", order, re.IGNORECASE)
            if not match:
                raise SoqlError(f"unsupported $order: {order!r}")
            rows.sort(key=lambda r: r.get(":id", ""), reverse=(match.group(1) or "").upper() == "DESC")
        else:
            random.Random(request_number).shuffle(rows)
        try:
            limit = int(params.get("$limit", "1000"))
            offset = int(params.get("$offset", "0"))
        except ValueError as exc:
            raise SoqlError("$limit and $offset must be integers") from exc
        if limit < 0 or offset < 0:
            raise SoqlError("$limit and $offset must not be negative")
        rows = rows[offset : offset + limit]
        system = [f for f in fields if f.startswith(":") and not f.startswith(":@")]
        data = [f for f in fields if f not in system]
        selected: list[str] = []
        for item in (part.strip() for part in select.split(",")):
            if item == ":*":
                selected.extend(system)
            elif item == "*":
                selected.extend(data)
            elif item in fields or item in (":id", ":created_at", ":updated_at", ":version"):
                selected.append(item)
            else:
                raise SoqlError(f"no such column: {item!r}")
        keep_keys = dict.fromkeys(selected)
        return [{k: r[k] for k in keep_keys if k in r} for r in rows], list(keep_keys)


def _union_fields(rows: list[dict]) -> list[str]:
    seen: dict[str, None] = {}
    for row in rows:
        for key in row:
            seen.setdefault(key, None)
    return list(seen)


class _Handler(BaseHTTPRequestHandler):
    server_fake: FakeSocrata
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; without TCP_NODELAY, Nagle + delayed ACK add
    # ~40 ms to every response (most visible on small ones like count(*)).
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - silence stderr access log
        pass

    def do_GET(self) -> None:  # noqa: N802
        fake = self.server_fake
        parts = urlsplit(self.path)
        params = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        req = RecordedRequest("GET", parts.path, params, CaseInsensitiveDict(self.headers.items()))
        try:
            req.position = fake.keyset_position(params)
        except (SoqlError, ValueError):
            req.position = None  # the query itself reports the error below
        with fake.lock:
            fake.requests.append(req)
            number = len(fake.requests)
        fault = fake._take_fault(req)
        req.fault = fault.kind if fault else None

        if fault and fault.kind == "drop":
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        if fault and fault.kind == "status":
            extra = {"Retry-After": fault.retry_after} if fault.retry_after is not None else {}
            message = "Too many requests" if fault.status == 429 else "Internal error (scripted fault)"
            self._send_json_error(req, fault.status, "fault", message, extra)
            return
        if fault and fault.kind == "slow":
            if fake._stopping.wait(fault.delay):
                return

        if parts.path != fake.resource_path:
            self._send_json_error(req, 404, "not_found", f"Cannot find dataset for {parts.path}")
            return
        try:
            body, selected = fake.respond(params, number, empty=bool(fault and fault.kind == "empty"))
        except SoqlError as exc:
            self._send_json_error(req, 400, "query.soql.invalid", str(exc))
            return
        req.status, req.body = 200, body
        headers = {"Content-Type": "application/json;charset=utf-8"}
        if fake.send_fields_header:
            headers["X-SODA2-Fields"] = json.dumps(selected)
        if fault and fault.kind == "mangle" and fault.mangle is not None:
            body = req.body = fault.mangle(body)
        if fault and fault.kind == "truncate":
            cut = body[: max(1, int(len(body) * fault.keep))] if len(body) > 1 else b""
            headers["Connection"] = "close"  # so the client does not reuse the socket we are about to close
            self._send(200, cut, headers, declared_length=len(body) if fault.full_length else len(cut))
            self.close_connection = True
            return
        self._send(200, body, headers)

    def _send_json_error(self, req: RecordedRequest, status: int, code: str, message: str, extra: dict | None = None) -> None:
        body = json.dumps({"code": code, "error": True, "message": message}).encode()
        req.status, req.body = status, body
        self._send(status, body, {"Content-Type": "application/json;charset=utf-8", **(extra or {})})

    def _send(self, status: int, body: bytes, headers: dict[str, str], declared_length: int | None = None) -> None:
        try:
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body) if declared_length is None else declared_length))
            self.end_headers()
            self.wfile.write(body)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True


# --------------------------------------------------------------------------------------------
# Millions of rows: the same endpoint over a DuckDB file (benchmarks)
# --------------------------------------------------------------------------------------------


def store_rows(jsonl: str | Path, store: str | Path) -> int:
    """Build a row store for :class:`StoredSocrata` from API rows as JSON lines; return the row count.

    Each row's text is kept exactly as written, numbered ``n`` in ``(:updated_at, :id)`` order, so
    a keyset page is a range of ``n`` (no sort, no row in Python that is not sent). The field list
    (the ``X-SODA2-Fields`` header) is every key of every row, in order of first appearance.
    """
    import duckdb

    Path(store).unlink(missing_ok=True)
    with duckdb.connect(str(store)) as con:
        con.execute("set preserve_insertion_order = true")
        con.execute("set variable jsonl = ?", [str(jsonl)])
        con.execute(
            """create table rows as
               with parsed as (
                   select json_extract_string(json, '$.":id"') as id,
                          cast(json_extract_string(json, '$.":updated_at"') as timestamp) as updated_at,
                          json::varchar as body
                   from read_json_objects(getvariable('jsonl'), format = 'newline_delimited')
               )
               select row_number() over (order by updated_at, id) - 1 as n, updated_at, id, body
               from parsed order by n"""
        )
        con.execute(
            """create table fields as
               select key, min(n) as first from (select n, unnest(json_keys(body::json)) as key from rows)
               group by key order by first, key"""
        )
        return int(con.execute("select count(*) from rows").fetchone()[0])


def _where_sql(where: str) -> tuple[str, list[Any]]:
    """A ``$where`` over ``:updated_at`` / ``:id`` as SQL with bound values (the clauses the client sends)."""
    sql: list[str] = []
    values: list[Any] = []
    pos, text = 0, where.strip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match or not match.group(1):
            raise SoqlError(f"unsupported $where near {text[pos:pos + 40]!r}")
        token, pos = match.group(1), match.end()
        if token in ("(", ")") or token.upper() in ("AND", "OR"):
            sql.append(token.upper())
            continue
        clause = _CLAUSE.match(token)
        assert clause is not None
        column, op, literal = clause.group(1).lower(), clause.group(2), clause.group(3).replace("''", "'")
        if column == ":id":
            sql.append(f"id {op} ?")
            values.append(literal)
        elif column == ":updated_at":
            sql.append(f"updated_at {op} ?")
            values.append(parse_stamp(literal).astimezone(timezone.utc).replace(tzinfo=None))
        else:
            raise SoqlError(f"the stored fake filters on :updated_at and :id only, not {column!r}")
    return " ".join(sql), values


class StoredSocrata(FakeSocrata):
    """The fake endpoint over a row store (:func:`store_rows`) instead of a list in memory.

    For benchmarks: a page is read from the DuckDB file and sent as stored, so serving 2M rows costs
    this process one page at a time. It answers what the pipeline's load asks: ``count(*)`` and
    keyset pages (``$select=:*, *``, ``$order=:updated_at, :id``) with ``$where`` on ``:updated_at``
    and ``:id``. Scripted faults work as in :class:`FakeSocrata`; dataset mutations do not.
    """

    def __init__(self, store: str | Path, dataset: str = DATASET) -> None:
        import duckdb

        super().__init__([], dataset)
        self._con = duckdb.connect(str(store), read_only=True)
        self.fields = [k for (k,) in self._con.execute("select key from fields order by first, key").fetchall()]

    def keyset_position(self, params: dict[str, str]) -> int | None:
        return None

    def respond(self, params: dict[str, str], request_number: int = 0, *, empty: bool = False) -> tuple[bytes, list[str]]:
        unknown = [k for k in params if k.startswith("$") and k not in ("$select", "$where", "$order", "$limit", "$offset")]
        if unknown:
            raise SoqlError(f"unsupported parameter(s): {', '.join(unknown)}")
        where = (params.get("$where") or "").strip()
        select = (params.get("$select") or "").strip()
        with self.lock:
            con = self._con
            if re.fullmatch(r"count\(\s*\*\s*\)", select, re.IGNORECASE):
                sql, values = _where_sql(where) if where else ("true", [])
                count = con.execute(f"select count(*) from rows where {sql}", values).fetchone()[0]
                return render_rows([{"count": str(count)}]), ["count"]
            if select.replace(" ", "") != ":*,*" or not re.fullmatch(r":updated_at\s*,\s*:id", params.get("$order", "")):
                raise SoqlError("the stored fake serves $select=:*, * in $order=:updated_at, :id only")
            start, base = 0, where
            keyset = _KEYSET.match(where)
            if keyset:  # rows after the cursor are those numbered from the count of rows up to it
                base = keyset.group("base") or ""
                cursor = parse_stamp(keyset.group("t").replace("''", "'")).astimezone(timezone.utc).replace(tzinfo=None)
                start = con.execute("select count(*) from rows where updated_at < ? or (updated_at = ? and id <= ?)",
                                    [cursor, cursor, keyset.group("id").replace("''", "'")]).fetchone()[0]
            sql, values = _where_sql(base) if base else ("true", [])
            limit, offset = int(params.get("$limit", "1000")), int(params.get("$offset", "0"))
            numbers = con.execute(f"select n from rows where n >= ? and ({sql}) order by n limit ? offset ?",
                                  [start, *values, limit, offset]).fetchall()
            if not numbers or empty:
                return b"[]\n", list(self.fields)
            bodies = con.execute(f"select body from rows where n between ? and ? and ({sql}) order by n",
                                 [numbers[0][0], numbers[-1][0], *values]).fetchall()
        return ("[" + "\n,".join(b for (b,) in bodies) + "]\n").encode("utf-8"), list(self.fields)

    def stop(self) -> None:
        super().stop()
        self._con.close()


# --------------------------------------------------------------------------------------------
# Pytest fixtures
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def sample_api_rows() -> list[dict]:
    """3,000 real sample rows in API shape (treat as read-only; ``fake_socrata`` serves a copy)."""
    return load_sample_api_rows(3000)


@pytest.fixture
def fake_socrata(sample_api_rows: list[dict]) -> Iterable[FakeSocrata]:
    """A running fake SODA server holding a private copy of ``sample_api_rows``."""
    with FakeSocrata(copy_rows(sample_api_rows)) as fake:
        yield fake


@pytest.fixture
def socrata_settings(fake_socrata: FakeSocrata):
    """Settings pointing at ``fake_socrata``: page size 500, 2 s timeout, 3 retries, a fake app token."""
    from pipeline.config import load_settings

    return load_settings(
        {
            "SOCRATA_DOMAIN": fake_socrata.url,
            "SOCRATA_DATASET": fake_socrata.dataset,
            "SOCRATA_APP_TOKEN": FAKE_APP_TOKEN,
            "SOCRATA_PAGE_SIZE": "500",
            "SOCRATA_TIMEOUT": "2",
            "SOCRATA_MAX_RETRIES": "3",
            "SOCRATA_LOOKBACK_HOURS": "72",
        }
    )


def _write_fixture_page(path: Path = FIXTURE_PAGE, rows: int = 20) -> None:
    """tests/fixtures/api_rows.json: the first ``rows`` records of the 2019 export, as one API page."""
    data = export_rows_to_api_rows(find_sample(SAMPLE_FILES[0]), limit=rows)
    data.sort(key=lambda r: r[":id"])  # as served with $order=:id
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(render_rows(data))


def _serve_store(store: Path) -> None:
    """Serve a row store on 127.0.0.1 until SIGTERM/SIGINT; the first stdout line is the URL."""
    import signal
    import sys

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with StoredSocrata(store) as fake:
        print(fake.url, flush=True)
        try:
            stop.wait()
        except KeyboardInterrupt:
            pass
    sys.exit(0)


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(prog="python -m tests.fake_socrata", description="The local fake SODA server.")
    parser.add_argument("--write-fixture", action="store_true", help=f"regenerate {FIXTURE_PAGE.name}")
    parser.add_argument("--store", nargs=2, type=Path, metavar=("ROWS.jsonl", "STORE.duckdb"),
                        help="build a row store from API rows as JSON lines (bench/generate.py --format json --jsonl)")
    parser.add_argument("--serve", type=Path, metavar="STORE.duckdb", help="serve a row store; prints the URL")
    args = parser.parse_args()
    if args.write_fixture:
        _write_fixture_page()
        print(f"wrote {FIXTURE_PAGE}")
    elif args.store:
        print(f"{store_rows(*args.store):,} rows stored in {args.store[1]}")
    elif args.serve:
        _serve_store(args.serve)
    else:
        parser.print_help()
