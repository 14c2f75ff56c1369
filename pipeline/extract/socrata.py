"""Extract *Traffic Violations* from Socrata's SODA 2.1 API, through sodapy, with retries.

sodapy 2.2 is unmaintained (last release 2022). It forces https, has no retries, and its ``get()``
returns parsed JSON only. So this module keeps sodapy for what it does well and wraps the rest:

* sodapy's :class:`~sodapy.Socrata` client builds the ``requests.Session``. It sets the app token
  header, mounts an ``http://`` adapter when the domain is a local ``http://host:port``, and
  supplies the URI prefix, domain and timeout. Every request goes through that session.
* We call ``client.session.get(...)`` on ``/resource/<id>.json`` ourselves instead of
  ``client.get(...)``. The raw zone must keep each page **exactly as received**, and
  ``client.get`` hands back only ``response.json()``. Its errors are also a bare ``HTTPError``
  built from a second JSON parse, and for an unexpected content type it raises a plain
  ``Exception``. We could capture the bytes with a session response hook and still call
  ``client.get``, but then the body would be parsed twice and the bytes would arrive through a
  side channel. Calling the session directly keeps one code path: one request, the exact bytes,
  our own error handling.
* Retries use exponential backoff with full jitter. They cover HTTP 429 (``Retry-After`` is
  honoured), 5xx, timeouts, connection errors, and truncated or invalid JSON. Other 4xx codes
  (bad query, bad token, unknown dataset) fail at once: retrying them cannot help.

Paging is by key, not by offset: ``$order=:updated_at, :id`` and each page asks for the rows after
the last one received (``:updated_at > t OR (:updated_at = t AND :id > id)``), with
``$select=:*, *`` so every row carries ``:id`` (the upsert key) and ``:updated_at`` (the
watermark). Whatever happens during a read (rows edited, deleted, a page that comes back empty
too early), every row *not* received has a key after the last one received, so the watermark (the
newest ``:updated_at`` received) never passes an unread row. Offset paging could: a row re-stamped
on an earlier page shifts every later row down and one is never seen.
"""

from __future__ import annotations

import email.utils
import json
import logging
import random
import re
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Iterator

import pyarrow as pa
import requests
from requests.adapters import HTTPAdapter
from sodapy import Socrata
from sodapy import utils as sodapy_utils

from ..config import Settings
from ..schema import SOURCE_COLUMNS, canonical_name, map_headers
from .base import SchemaError

log = logging.getLogger(__name__)

__all__ = [
    "Page",
    "Repairs",
    "SchemaError",
    "SocrataError",
    "SocrataExtractor",
    "header_fields",
    "make_client",
    "parse_domain",
    "rows_to_table",
    "scrub_rows",
    "soql_timestamp",
]

# SoQL parameters used for every data page. ":*" adds the system fields (:id, :created_at,
# :updated_at, :version), "*" the dataset's own columns.
SELECT_ALL = ":*, *"
ORDER_BY_ID = ":id"
ORDER_BY_KEY = ":updated_at, :id"

# Response codes worth another try. Any other 4xx is final.
RETRYABLE_STATUS = frozenset({408, 429})

# Columns added ahead of the canonical source columns by rows_to_table.
LINEAGE_FIELDS = ("row_id", "source_updated_at", "raw_line")


class SocrataError(RuntimeError):
    """The Socrata API could not be read. The message never includes the app token."""

    def __init__(
        self,
        message: str,
        *,
        dataset: str,
        offset: int | None = None,
        status: int | None = None,
        attempts: int = 0,
    ) -> None:
        super().__init__(message)
        self.dataset = dataset
        self.offset = offset
        self.status = status
        self.attempts = attempts


@dataclass
class Page:
    """One page of API rows. ``raw`` holds the exact response bytes (write these to the raw zone).

    ``number`` is 1-based. ``offset`` is how many rows this read received before the page. ``url`` is the
    full request URL with its query string; the app token travels in a header, never in the URL.
    ``fields`` comes from the ``X-SODA2-Fields`` response header. It lists the selected columns,
    including those that are null in every row of this page. It is ``None`` when Socrata leaves
    the header out, which it does for very wide results. ``repaired`` says which rows had invalid
    Unicode replaced (:func:`scrub_rows`); ``raw`` still holds the bytes exactly as received.
    """

    number: int
    offset: int
    raw: bytes
    rows: list[dict]
    url: str
    fields: list[str] | None = None
    repaired: "Repairs | None" = None  # values whose invalid Unicode was replaced (None: none)

    @property
    def max_updated_at(self) -> str | None:
        """The newest ``:updated_at`` on this page, as sent (ISO 8601 UTC, like ``2024-03-01T05:06:07.890Z``)."""
        stamps = [r[":updated_at"] for r in self.rows if isinstance(r.get(":updated_at"), str)]
        return max(stamps, key=parse_socrata_timestamp) if stamps else None


# --------------------------------------------------------------------------------------------
# Domain, client, timestamps
# --------------------------------------------------------------------------------------------


def parse_domain(domain: str) -> tuple[str, str]:
    """Split ``SOCRATA_DOMAIN`` into ``(scheme, host[:port])``.

    >>> parse_domain("data.montgomerycountymd.gov"), parse_domain("http://127.0.0.1:8080/")
    (('https', 'data.montgomerycountymd.gov'), ('http', '127.0.0.1:8080'))
    """
    value = (domain or "").strip()
    scheme = "https"
    match = re.match(r"^([a-zA-Z][a-zA-Z0-9+.-]*)://(.*)$", value)
    if match:
        scheme, value = match.group(1).lower(), match.group(2)
        if scheme not in ("http", "https"):
            raise ValueError(f"SOCRATA_DOMAIN must be a host, https://host or http://host:port (got scheme {scheme!r})")
    host = value.rstrip("/")
    if not host or "/" in host or "?" in host or "@" in host:
        raise ValueError(f"SOCRATA_DOMAIN must be a bare host or scheme://host[:port] (got {domain!r})")
    return scheme, host


def make_client(settings: Settings) -> Socrata:
    """Build the sodapy client for ``settings``: app token, timeout, and http:// support."""
    scheme, host = parse_domain(settings.socrata_domain)
    adapter = None
    if scheme == "http":
        # sodapy builds https:// URLs unless given a session adapter; its prefix becomes the scheme.
        adapter = {"prefix": "http://", "adapter": HTTPAdapter()}
    token = settings.socrata_app_token or None
    if token is None:
        log.warning(
            "No SOCRATA_APP_TOKEN set: requests to %s are anonymous and strictly throttled (expect HTTP 429)", host
        )
    with _quiet_sodapy_root_warning():
        return Socrata(host, token, session_adapter=adapter, timeout=float(settings.socrata_timeout_s))


class _quiet_sodapy_root_warning:
    """Without a token, sodapy calls ``logging.warning(...)`` on the *root* logger.

    That duplicates our own warning. Worse, when the root logger has no handler yet, the call runs
    ``logging.basicConfig()`` as a side effect, and the CLI's own logging setup later becomes a
    no-op. During construction we filter that one message out. If the root logger has no
    handler, we also give it a NullHandler so that basicConfig is not triggered.
    """

    @staticmethod
    def _drop_sodapy_warning(record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Requests made without an app_token")

    def __enter__(self) -> None:
        root = logging.getLogger()
        self._handler: logging.Handler | None = None
        if not root.handlers:
            self._handler = logging.NullHandler()
            root.addHandler(self._handler)
        root.addFilter(self._drop_sodapy_warning)

    def __exit__(self, *exc: object) -> None:
        root = logging.getLogger()
        root.removeFilter(self._drop_sodapy_warning)
        if self._handler is not None:
            root.removeHandler(self._handler)


def _as_utc_naive(value: datetime | str) -> datetime:
    if isinstance(value, str):
        value = parse_socrata_timestamp(value)
    if value.tzinfo is not None:
        value = value.astimezone(timezone.utc).replace(tzinfo=None)
    return value


def soql_timestamp(value: datetime | str) -> str:
    """A SoQL timestamp literal ``YYYY-MM-DDTHH:MM:SS.fff`` in UTC.

    An aware datetime is converted to UTC. A naive one is taken to be UTC already.
    ``:updated_at`` is a fixed timestamp, and Socrata compares it with a floating literal as UTC.
    """
    value = _as_utc_naive(value)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}"


def soql_quote(text: str) -> str:
    """A value inside a SoQL string literal: single quotes doubled (SoQL has no bound parameters)."""
    return text.replace("'", "''")


def _row_key(rows: list[dict], dataset: str) -> tuple[str, str]:
    """The key to page after: the last row's that has one (a row without :id is quarantined, not a
    reason to stop the read; rows come in key order, so the rows after a keyed one sort after it)."""
    for row in reversed(rows):
        stamp, row_id = row.get(":updated_at"), row.get(":id")
        if isinstance(stamp, str) and isinstance(row_id, str):
            return soql_timestamp(parse_socrata_timestamp(stamp)), row_id
    raise SchemaError(f"Socrata page of {len(rows)} row(s) without :updated_at or :id (dataset {dataset}): "
                      "cannot page by key")


def keyset_after(key: tuple[str, str] | None) -> str | None:
    """SoQL for "after this (:updated_at, :id)" in ``$order=:updated_at, :id`` order."""
    if key is None:
        return None
    stamp, row_id = soql_quote(key[0]), soql_quote(key[1])
    return f"(:updated_at > '{stamp}' OR (:updated_at = '{stamp}' AND :id > '{row_id}'))"


def parse_socrata_timestamp(text: str) -> datetime:
    """Parse ``2024-03-01T05:06:07.890Z`` (fixed) or ``2016-11-23T00:00:00.000`` (floating) to aware UTC."""
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def parse_retry_after(value: str | None, now: Callable[[], datetime] | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date); None if absent/invalid."""
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        current = now() if now else datetime.now(timezone.utc)
        seconds = (when - current).total_seconds()
    return max(0.0, seconds) if seconds == seconds else None  # NaN guard


# --------------------------------------------------------------------------------------------
# Bad bytes: text no warehouse can hold
# --------------------------------------------------------------------------------------------

# NOTE: Socrata values can carry any code point a JSON escape can write, lone surrogates included
# ("\udcff": valid JSON, not valid text), and a body can carry bytes that are not UTF-8. Neither can be
# written as UTF-8 (Arrow, Parquet, every warehouse), and PostgreSQL text cannot hold U+0000. Each
# such code unit becomes U+FFFD; the rest of the value, the row and the run go on, and the raw zone
# keeps the page exactly as received.
REPLACEMENT = "\ufffd"
_BAD_TEXT = re.compile("[\ud800-\udfff\x00]")
# A page can hold a bad code point only if its body has a \u escape for one. A page without any
# "\u" (the portal writes UTF-8, not escapes) is passed by one bytes search; only a page with escapes
# is searched with this pattern (~8x slower), and only a page it matches is scanned value by value.
_BAD_ESCAPE = re.compile(rb"\\u(?:[dD][89a-fA-F][0-9a-fA-F]{2}|0000)")


@dataclass
class Repairs:
    """What :func:`scrub_rows` replaced on one page: how many values, in which rows (1-based), and why."""

    values: int = 0
    lines: list[int] = field(default_factory=list)
    invalid_utf8: bool = False  # the body itself was not UTF-8 (decoded with replacement)

    def describe(self) -> str:
        lines = ", ".join(map(str, self.lines[:10])) + (" ..." if len(self.lines) > 10 else "")
        what = "bytes that are not UTF-8" if self.invalid_utf8 else "lone surrogates or U+0000"
        return f"{self.values} value(s) with {what} replaced by U+FFFD in row(s) {lines}"


def _scrub(value: Any) -> tuple[Any, int]:
    if isinstance(value, str):
        fixed, n = _BAD_TEXT.subn(REPLACEMENT, value)
        return fixed, n and 1
    if isinstance(value, dict):
        count = 0
        out = {}
        for k, v in value.items():
            out[k], n = _scrub(v)
            count += n
        return out, count
    if isinstance(value, list):
        pairs = [_scrub(v) for v in value]
        return [v for v, _ in pairs], sum(n for _, n in pairs)
    return value, 0


def scrub_rows(raw: bytes, rows: list[dict], invalid_utf8: bool = False) -> Repairs | None:
    """Replace, in place, every code point of ``rows`` that UTF-8 text cannot hold; None if there was none."""
    if not invalid_utf8 and (b"\\u" not in raw or not _BAD_ESCAPE.search(raw)):
        return None
    repairs = Repairs(invalid_utf8=invalid_utf8)
    for line, row in enumerate(rows, start=1):
        fixed, n = _scrub(row)
        if invalid_utf8 and not n:
            n = sum(1 for v in row.values() if isinstance(v, str) and REPLACEMENT in v)
        if n:
            row.clear()
            row.update(fixed)
            repairs.values += n
            repairs.lines.append(line)
    return repairs if repairs.values else None


# --------------------------------------------------------------------------------------------
# The extractor
# --------------------------------------------------------------------------------------------


class SocrataExtractor:
    """Read the dataset page by page through sodapy's session, retrying transient failures.

    ``sleep`` and ``rng`` make the backoff testable. The wait before retry *n* (0-based) is
    ``Retry-After`` when the server sends one (capped at ``retry_after_cap``). Otherwise it is a
    full-jitter draw ``uniform(0, min(backoff_cap, backoff_base * 2**n))``. At most
    ``settings.socrata_max_retries`` retries follow the first attempt.

    ``client_factory(settings)`` must return a sodapy ``Socrata`` (or an object with its
    ``session``, ``uri_prefix``, ``domain`` and ``timeout`` attributes). The default is
    :func:`make_client`.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        sleep: Callable[[float], None] = time.sleep,
        client_factory: Callable[[Settings], Socrata] | None = None,
        backoff_base: float = 1.0,
        backoff_cap: float = 60.0,
        retry_after_cap: float = 900.0,
        rng: random.Random | None = None,
    ) -> None:
        self.settings = settings
        self._sleep = sleep
        self._client_factory = client_factory or make_client
        self._client: Socrata | None = None
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.retry_after_cap = retry_after_cap
        self._rng = rng or random.Random()
        self.last_repairs: Repairs | None = None  # what scrub_rows replaced on the last page fetched
        self.dataset = settings.socrata_dataset
        _, self.host = parse_domain(settings.socrata_domain)
        if settings.socrata_page_size < 1:
            raise ValueError("SOCRATA_PAGE_SIZE must be at least 1")

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def client(self) -> Socrata:
        if self._client is None:
            self._client = self._client_factory(self.settings)
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def __enter__(self) -> "SocrataExtractor":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- public API --------------------------------------------------------------------------

    def window_where(
        self,
        updated_since: datetime | str | None = None,
        updated_until: datetime | str | None = None,
        where: str | None = None,
    ) -> str | None:
        """The ``$where`` for an incremental window: ``:updated_at >= since - lookback [AND < until]``.

        Pass the *watermark* (the newest ``:updated_at`` already loaded) as ``updated_since``. The
        lookback (``settings.socrata_lookback_hours``) is subtracted here. ``where`` is an extra
        SoQL condition ANDed on (e.g. a ``date_of_stop`` range); the caller builds it safely.
        """
        clauses = []
        if updated_since is not None:
            start = _as_utc_naive(updated_since) - timedelta(hours=float(self.settings.socrata_lookback_hours))
            clauses.append(f":updated_at >= '{soql_timestamp(start)}'")
        if updated_until is not None:
            clauses.append(f":updated_at < '{soql_timestamp(updated_until)}'")
        if where:
            clauses.append(f"({where})" if " OR " in where.upper() else where)
        return " AND ".join(clauses) or None

    def pages(
        self, updated_since: datetime | None = None, updated_until: datetime | None = None, where: str | None = None
    ) -> Iterator[Page]:
        """Yield every non-empty page of rows, in ``(:updated_at, :id)`` order. Empty results yield nothing.

        ``updated_since=None`` reads the whole dataset. Otherwise the window starts at
        ``updated_since - lookback``. ``updated_until`` adds an exclusive upper bound. A page of
        fewer than ``$limit`` rows ends the read; whatever it may have missed lies after the last
        row received and is read by the next run (see the module docstring).
        """
        base = self.window_where(updated_since, updated_until, where)
        limit = int(self.settings.socrata_page_size)
        number = total = 0
        after: tuple[str, str] | None = None
        log.info(
            "Socrata extract %s from %s: page size %s, %s",
            self.dataset, self.host, f"{limit:,}", f"where {base}" if base else "full dataset",
        )
        while True:
            clauses = [c for c in (base and (f"({base})" if " OR " in base.upper() else base), keyset_after(after)) if c]
            params = {"$select": SELECT_ALL, "$order": ORDER_BY_KEY, "$limit": str(limit)}
            if clauses:
                params["$where"] = " AND ".join(clauses)
            raw, rows, url, fields = self._fetch(params, offset=total)
            received = len(rows)
            if rows:
                number += 1
                log.info("Socrata page %s: %s rows (%s so far)", number, received, f"{total + received:,}")
                page = Page(number=number, offset=total, raw=raw, rows=rows, url=url, fields=fields,
                            repaired=self.last_repairs)
                if page.repaired:
                    log.warning("Socrata page %s (%s): %s", number, url, page.repaired.describe())
                yield page
                del page
                total += received
                after = _row_key(rows, self.dataset)
            del raw, rows  # the consumer has the page: don't hold a second one through the next request
            if received < limit:
                break
        log.info("Socrata extract done: %s rows in %s page(s)", f"{total:,}", number)

    def all_ids(self) -> Iterator[str]:
        """Every ``:id`` in the dataset, paged by key in ``:id`` order (for ``--reconcile`` deletes)."""
        limit = int(self.settings.socrata_page_size)
        last: str | None = None
        seen = 0
        while True:
            params = {"$select": ":id", "$order": ORDER_BY_ID, "$limit": str(limit)}
            if last is not None:
                params["$where"] = f":id > '{soql_quote(last)}'"
            _, rows, _, _ = self._fetch(params, offset=seen)
            for row in rows:
                row_id = row.get(":id")
                if not isinstance(row_id, str) or not row_id:
                    raise SchemaError(f"Socrata row without :id after {seen} ids (dataset {self.dataset})")
                yield row_id
            seen += len(rows)
            if len(rows) < limit:
                return
            last = rows[-1][":id"]

    def id_counts(self, row_ids: list[str], chunk: int = 40) -> dict[str, int]:
        """How many rows the portal holds under each of ``row_ids`` now (0 for an id it no longer has).

        One small request per ``chunk`` ids. An id seen twice in one read is a row re-stamped while
        the read paged (the portal holds it once) or two rows sharing one id (it holds both).
        """
        counts = dict.fromkeys(row_ids, 0)
        for start in range(0, len(row_ids), chunk):
            part = row_ids[start:start + chunk]
            where = " OR ".join(f":id = '{soql_quote(i)}'" for i in part)
            params = {"$select": ":id", "$where": where, "$limit": str(10 * len(part) + 10)}
            _, rows, _, _ = self._fetch(params, offset=0)
            for row in rows:
                if row.get(":id") in counts:
                    counts[row[":id"]] += 1
        return counts

    def count(
        self, updated_since: datetime | None = None, updated_until: datetime | None = None, where: str | None = None
    ) -> int | None:
        """Row count of the same window as :meth:`pages`, for progress. On any failure, None (logged)."""
        params = {"$select": "count(*)"}
        where = self.window_where(updated_since, updated_until, where)
        if where:
            params["$where"] = where
        try:
            _, rows, _, _ = self._fetch(params, offset=0, max_retries=min(2, int(self.settings.socrata_max_retries)))
            value = next(iter(rows[0].values()))
            return int(value)
        except (SocrataError, StopIteration, IndexError, TypeError, ValueError, AttributeError) as exc:
            log.warning("Socrata count(*) unavailable for %s: %s", self.dataset, self._redact(str(exc)))
            return None

    # -- HTTP with retries ------------------------------------------------------------------

    @property
    def resource_url(self) -> str:
        client = self.client
        resource = sodapy_utils.format_new_api_request(dataid=self.dataset, content_type="json")
        return f"{client.uri_prefix}{client.domain}{resource}"

    def _backoff(self, attempt: int) -> float:
        return self._rng.uniform(0.0, min(self.backoff_cap, self.backoff_base * (2 ** attempt)))

    def _redact(self, text: str) -> str:
        token = self.settings.socrata_app_token
        return text.replace(token, "***") if token else text

    def _fetch(
        self, params: dict[str, str], *, offset: int, max_retries: int | None = None
    ) -> tuple[bytes, list[dict], str, list[str] | None]:
        """GET one page: ``(raw bytes, parsed rows, request URL, X-SODA2-Fields or None)``."""
        client = self.client
        url = self.resource_url
        retries = int(self.settings.socrata_max_retries if max_retries is None else max_retries)
        attempts = 1 + max(0, retries)
        last = "no attempt made"
        last_status: int | None = None
        for attempt in range(attempts):
            retry_after: float | None = None
            try:
                resp = client.session.get(url, params=params, timeout=client.timeout)
            except requests.Timeout:
                last, last_status = f"timed out after {client.timeout:g}s", None
            except (
                requests.ConnectionError,
                requests.exceptions.ChunkedEncodingError,
                requests.exceptions.ContentDecodingError,
            ) as exc:
                last, last_status = f"connection error ({type(exc).__name__})", None
            else:
                last_status = resp.status_code
                if resp.status_code == 200:
                    body = resp.content
                    invalid_utf8 = False
                    try:
                        try:
                            data = json.loads(body)
                        except UnicodeDecodeError:
                            # Bytes that are not UTF-8 are bad data, not a cut body: another fetch
                            # sends the same bytes. Decoded with U+FFFD for them (scrub_rows counts them).
                            data, invalid_utf8 = json.loads(body.decode("utf-8", errors="replace")), True
                    except ValueError:
                        # A body cut short (proxy, reset) parses as invalid JSON: fetch again.
                        last = f"invalid or truncated JSON body ({len(body):,} bytes)"
                    else:
                        if isinstance(data, list) and all(isinstance(r, dict) for r in data):
                            self.last_repairs = scrub_rows(body, data, invalid_utf8)
                            return body, data, resp.url, _soda_fields(resp.headers)
                        last = f"unexpected JSON ({type(data).__name__}, not a list of rows)"
                elif resp.status_code in RETRYABLE_STATUS or 500 <= resp.status_code < 600:
                    last = f"HTTP {resp.status_code} {resp.reason or ''}".rstrip()
                    retry_after = parse_retry_after(resp.headers.get("Retry-After"))
                else:
                    raise SocrataError(
                        self._redact(
                            f"Socrata rejected the request for dataset {self.dataset} on {self.host} at offset "
                            f"{offset}: HTTP {resp.status_code} {resp.reason or ''}{_server_message(resp)}"
                        ),
                        dataset=self.dataset, offset=offset, status=resp.status_code, attempts=attempt + 1,
                    )
            if attempt + 1 >= attempts:
                break
            if retry_after is not None:
                delay = min(retry_after, self.retry_after_cap)
            else:
                delay = self._backoff(attempt)
            log.warning(
                "Socrata %s offset %s: %s; retry %s/%s in %.2fs",
                self.dataset, offset, self._redact(last), attempt + 1, retries, delay,
            )
            self._sleep(delay)
        raise SocrataError(
            self._redact(
                f"Socrata request failed for dataset {self.dataset} on {self.host} at offset {offset} "
                f"after {attempts} attempt(s); last error: {last}"
            ),
            dataset=self.dataset, offset=offset, status=last_status, attempts=attempts,
        )


def _server_message(resp: requests.Response) -> str:
    """Socrata's error body is JSON like ``{"code": ..., "error": true, "message": ...}``."""
    try:
        message = resp.json().get("message")
    except (ValueError, AttributeError):
        return ""
    return f": {str(message)[:300]}" if message else ""


def _soda_fields(headers: Any) -> list[str] | None:
    value = headers.get("X-SODA2-Fields")
    if not value:
        return None
    try:
        fields = json.loads(value)
    except ValueError:
        return None
    return [str(f) for f in fields] if isinstance(fields, list) else None


# --------------------------------------------------------------------------------------------
# Rows -> Arrow
# --------------------------------------------------------------------------------------------


def _is_system(field: str) -> bool:
    # :id, :created_at, :updated_at, :version ... but not computed regions (":@computed_region_*"),
    # which are dataset columns and go through map_headers (ignored or reported as unknown).
    return field.startswith(":") and not field.startswith(":@")


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        # NOTE: SODA returns checkbox columns as JSON true/false; the CSV export writes "true"/"false".
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value) if isinstance(value, float) else str(value)
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def coordinates_from_geolocation(value: Any) -> tuple[str | None, str | None]:
    """(latitude, longitude) as text from a SODA location or point value.

    Handled shapes: the legacy location ``{"latitude": "39.1", "longitude": "-77.2", "human_address": ...}``,
    a GeoJSON point ``{"type": "Point", "coordinates": [-77.2, 39.1]}`` (longitude first), and the
    WKT ``POINT (-77.2 39.1)``.
    """
    if isinstance(value, dict):
        if "coordinates" in value:
            coords = value.get("coordinates")
            if isinstance(coords, (list, tuple)) and len(coords) >= 2:
                return _text(coords[1]), _text(coords[0])
            return None, None
        return _text(value.get("latitude")), _text(value.get("longitude"))
    if isinstance(value, str):
        match = re.match(r"^\s*POINT\s*\(\s*(\S+)\s+(\S+)\s*\)\s*$", value, re.IGNORECASE)
        if match:
            return match.group(2), match.group(1)
    return None, None


def header_fields(fields: list[str] | None) -> frozenset[str] | None:
    """The canonical columns a page's ``X-SODA2-Fields`` names (None without the header).

    The list names every selected column, null or not, so a canonical column missing from it is
    gone at the source (the schema contract). ``geolocation`` carries latitude and longitude.
    """
    if fields is None:
        return None
    data = [f for f in fields if not _is_system(f)]
    present = set(map_headers(data)[0].values())
    if any(canonical_name(f) == "geolocation" for f in data):
        present |= {"latitude", "longitude"}
    return frozenset(present)


def rows_to_table(rows: list[dict], fields: list[str] | None = None) -> tuple[pa.Table, list[str]]:
    """API rows -> (Arrow table, unknown field names).

    The table has ``row_id`` (``:id``), ``source_updated_at`` (``:updated_at`` as text) and
    ``raw_line`` (1-based row index within the page, int64), then every canonical source column
    as a string. A column absent from the page is all null. Values are kept as sent; typing is the
    standardiser's job. Latitude and longitude missing from a row are filled from its
    ``geolocation``.

    A required field (``REQUIRED_SOURCE_COLUMNS``) absent from every row of a non-empty page raises
    :class:`SchemaError` naming it. SODA leaves out keys whose value is null, so a key missing from
    *one* row is just a null. When ``fields`` (the page's ``X-SODA2-Fields``) is given, a field it
    lists counts as present even if it is null in every row.
    """
    seen: dict[str, None] = {}
    for field in fields or ():
        seen.setdefault(field, None)
    for row in rows:
        for key in row:
            seen.setdefault(key, None)
    data_fields = [f for f in seen if not _is_system(f)]
    mapping, unknown, missing = map_headers(data_fields)
    if rows:
        if missing:
            names = ", ".join(repr(m) for m in missing)
            raise SchemaError(
                f"Socrata page lacks required field(s) {names} in all {len(rows)} row(s); "
                f"fields present: {', '.join(sorted(data_fields)) or '(none)'}"
            )
        if ":id" not in seen:
            raise SchemaError("Socrata page lacks the system field ':id' (request it with $select=:*, *)")
    if unknown:
        log.warning("Socrata fields not in the canonical schema (kept in raw only): %s", unknown)

    canon_cols = [c for c, _ in SOURCE_COLUMNS]
    by_canon = {canon: source for source, canon in mapping.items()}
    geo_field = next((f for f in data_fields if canonical_name(f) == "geolocation"), None)

    columns: dict[str, list[str | None]] = {c: [] for c in canon_cols}
    row_ids: list[str | None] = []
    updated: list[str | None] = []
    for row in rows:
        row_ids.append(_text(row.get(":id")))
        updated.append(_text(row.get(":updated_at")))
        for canon in canon_cols:
            source = by_canon.get(canon)
            columns[canon].append(_text(row.get(source)) if source is not None else None)
        if geo_field is not None and row.get(geo_field) is not None:
            lat_missing = columns["latitude"][-1] in (None, "")
            lon_missing = columns["longitude"][-1] in (None, "")
            if lat_missing or lon_missing:
                lat, lon = coordinates_from_geolocation(row[geo_field])
                if lat_missing and lat is not None:
                    columns["latitude"][-1] = lat
                if lon_missing and lon is not None:
                    columns["longitude"][-1] = lon

    arrays = {
        "row_id": pa.array(row_ids, pa.string()),
        "source_updated_at": pa.array(updated, pa.string()),
        "raw_line": pa.array(range(1, len(rows) + 1), pa.int64()),
    }
    for canon in canon_cols:
        arrays[canon] = pa.array(columns[canon], pa.string())
    return pa.table(arrays), unknown
