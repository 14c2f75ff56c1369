"""The one place that reads the environment.

Every other module receives a :class:`Settings`; nothing else touches ``os.environ``.
The embedded default (no env vars at all) is a local lake folder and a DuckDB file under
``data/``, which is what a laptop and the test-suite use. Production sets ``PIPELINE_LAKE`` to an
``s3://bucket/prefix`` and ``PIPELINE_WAREHOUSE`` to a ``redshift://`` or ``postgresql://`` URL.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Mapping
from urllib.parse import urlsplit

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = PROJECT_ROOT / "data"
SQL_DIR = PROJECT_ROOT / "sql"
SAMPLE_DIR = DATA_DIR / "sample"
REFERENCE_DIR = DATA_DIR / "reference"

DEFAULT_WAREHOUSE = "duckdb:///data/warehouse.duckdb"
DEFAULT_LAKE = "data/lake"


@dataclass(frozen=True)
class Settings:
    """Resolved configuration. ``warehouse_url`` may hold a password: never log it, use ``redacted``."""

    warehouse_url: str = DEFAULT_WAREHOUSE
    lake_url: str = DEFAULT_LAKE
    socrata_domain: str = "data.montgomerycountymd.gov"
    socrata_dataset: str = "4mse-ku6q"
    socrata_app_token: str | None = None
    socrata_page_size: int = 50_000
    socrata_timeout_s: float = 60.0
    socrata_max_retries: int = 6
    socrata_lookback_hours: float = 72.0
    redshift_iam_role: str | None = None
    redshift_s3_staging: str | None = None
    alert_webhook_url: str | None = None
    alert_smtp_url: str | None = None
    alert_email_to: str | None = None
    stale_after_days: float = 2.0
    small_count_threshold: int = 10
    log_level: str = "INFO"
    memory_limit: str = "1500MB"
    lock_wait_s: float = 60.0  # how long a load waits for another load's warehouse lock
    statement_timeout_s: float = 1800.0  # PostgreSQL/Redshift: any one load statement is cancelled after this
    max_quarantine_share: float = 0.10  # a load quarantining more than this share of its rows fails (exit 3)
    dashboard_replica_mb: int = 512  # the dashboard's local copy of a server warehouse's marts; 0: off
    extra: Mapping[str, str] = field(default_factory=dict)

    @property
    def warehouse_kind(self) -> str:
        """``duckdb``, ``postgresql`` or ``redshift`` (from the URL scheme)."""
        scheme = urlsplit(self.warehouse_url).scheme.lower()
        if scheme in ("postgres", "postgresql", "postgresql+psycopg"):
            return "postgresql"
        if scheme in ("duckdb", "redshift"):
            return scheme
        raise ValueError(
            f"PIPELINE_WAREHOUSE={redact_value(self.warehouse_url)!r} is not a warehouse URL: it must start with "
            "duckdb://, postgresql:// or redshift://"
        )

    @property
    def duckdb_path(self) -> Path:
        """Filesystem path of the DuckDB warehouse; relative paths are relative to the project root."""
        raw = self.warehouse_url.split("://", 1)[1]
        # duckdb:///data/x.duckdb -> "/data/x.duckdb" is *relative* (three slashes = no host),
        # duckdb:////abs/x.duckdb -> absolute, as in SQLAlchemy URLs.
        if raw.startswith("//"):
            return Path(raw[1:])
        path = Path(raw.lstrip("/"))
        return path if path.is_absolute() else PROJECT_ROOT / path

    @property
    def lake_is_s3(self) -> bool:
        return self.lake_url.startswith("s3://")

    @property
    def lake_path(self) -> Path:
        path = Path(self.lake_url)
        return path if path.is_absolute() else PROJECT_ROOT / path

    def validate(self) -> None:
        """Raise ValueError naming the variable and its (redacted) value when the warehouse or lake
        setting cannot work: checked before any command does anything."""
        self.warehouse_kind  # noqa: B018 - raises on an unknown scheme
        if self.warehouse_kind == "duckdb" and not self.warehouse_url.split("://", 1)[1].strip("/"):
            raise ValueError(f"PIPELINE_WAREHOUSE={self.warehouse_url!r} names no DuckDB file "
                             "(duckdb:///data/warehouse.duckdb or duckdb:////abs/path.duckdb)")
        lake = self.lake_url
        if "://" in lake and not self.lake_is_s3:
            raise ValueError(f"PIPELINE_LAKE={redact_value(lake)!r} is neither a local folder nor s3://bucket/prefix")
        if self.lake_is_s3:
            if not lake[len("s3://"):].split("/", 1)[0]:
                raise ValueError(f"PIPELINE_LAKE={lake!r} names no bucket (s3://bucket/prefix)")
            return
        path = self.lake_path
        if path.exists() and not path.is_dir():
            raise ValueError(f"PIPELINE_LAKE={lake!r} is a file, not a folder ({path})")
        # The lake folder is created on the first load: its nearest existing parent must be a writable folder.
        parent = next((p for p in path.parents if p.exists()), None)
        if not path.exists() and (parent is None or not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK)):
            raise ValueError(f"PIPELINE_LAKE={lake!r} cannot be created: {parent} is not a writable folder")
        if path.is_dir() and not os.access(path, os.W_OK | os.X_OK):
            raise ValueError(f"PIPELINE_LAKE={lake!r} is not writable by this user ({path})")

    @property
    def redacted_warehouse(self) -> str:
        return redact_url(self.warehouse_url)

    def with_overrides(self, **kwargs: object) -> "Settings":
        return replace(self, **kwargs)


# The password runs to the LAST '@' before the host: an unencoded '@' in it (u:p@ss@host) must not
# leave its tail in the text. It stops at whitespace and quotes, which end a URL quoted in a message.
_CREDENTIALS_IN_URL = re.compile(
    r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.\-]*://)(?P<user>[^\s:/@'\"]*):(?P<password>[^\s'\"]*)@")
_PASSWORD_PARAM = re.compile(r"(?i)\b(password|passwd|pwd)=([^\s&;]+)")


def redact_url(text: str) -> str:
    """Replace every password in ``text`` (a URL, or a message quoting one) with ``***``.

    Covers ``scheme://user:password@host`` anywhere in the text and ``password=...`` key/value
    pairs (libpq-style DSNs), so a driver error that quotes its connection string is safe to log.
    """
    text = _CREDENTIALS_IN_URL.sub(lambda m: f"{m['scheme']}{m['user']}:***@", text)
    return _PASSWORD_PARAM.sub(lambda m: f"{m.group(1)}=***", text)


def redact_value(value: str) -> str:
    """A setting's value fit for an error message: URL passwords out, and a ``user:password@`` with no
    scheme in front (a mistyped URL) hidden up to its last '@'."""
    text = redact_url(value)
    if "://" not in text and "@" in text:
        text = "***@" + text.rsplit("@", 1)[1]
    return text


def _get(env: Mapping[str, str], name: str, default: str | None = None) -> str | None:
    value = env.get(name)
    return value if value not in (None, "") else default


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Build :class:`Settings` from environment variables (documented in README, "Configuration")."""
    env = os.environ if env is None else env
    return Settings(
        warehouse_url=_get(env, "PIPELINE_WAREHOUSE", DEFAULT_WAREHOUSE) or DEFAULT_WAREHOUSE,
        lake_url=_get(env, "PIPELINE_LAKE", DEFAULT_LAKE) or DEFAULT_LAKE,
        socrata_domain=_get(env, "SOCRATA_DOMAIN", "data.montgomerycountymd.gov") or "",
        socrata_dataset=_get(env, "SOCRATA_DATASET", "4mse-ku6q") or "",
        socrata_app_token=_get(env, "SOCRATA_APP_TOKEN"),
        socrata_page_size=_number(env, "SOCRATA_PAGE_SIZE", "50000", int),
        socrata_timeout_s=_number(env, "SOCRATA_TIMEOUT", "60", float),
        socrata_max_retries=_number(env, "SOCRATA_MAX_RETRIES", "6", int),
        socrata_lookback_hours=_number(env, "SOCRATA_LOOKBACK_HOURS", "72", float),
        redshift_iam_role=_get(env, "REDSHIFT_IAM_ROLE"),
        redshift_s3_staging=_get(env, "REDSHIFT_S3_STAGING"),
        alert_webhook_url=_get(env, "PIPELINE_ALERT_WEBHOOK"),
        alert_smtp_url=_get(env, "PIPELINE_ALERT_SMTP"),
        alert_email_to=_get(env, "PIPELINE_ALERT_EMAIL_TO"),
        stale_after_days=_number(env, "PIPELINE_STALE_AFTER_DAYS", "2", float),
        small_count_threshold=_number(env, "PIPELINE_SMALL_COUNT", "10", int),
        log_level=_get(env, "PIPELINE_LOG_LEVEL", "INFO") or "INFO",
        memory_limit=_memory(_get(env, "PIPELINE_MEMORY_LIMIT", "1500MB") or "1500MB"),
        lock_wait_s=_number(env, "PIPELINE_LOCK_WAIT_SECONDS", "60", float),
        statement_timeout_s=_number(env, "PIPELINE_STATEMENT_TIMEOUT_SECONDS", "1800", float),
        max_quarantine_share=_share(_get(env, "PIPELINE_MAX_QUARANTINE_SHARE", "0.10") or "0.10"),
        dashboard_replica_mb=int(_get(env, "PIPELINE_DASHBOARD_REPLICA_MB", "512") or 0),
    )


def _number(env: Mapping[str, str], name: str, default: str, kind: type) -> int | float:
    value = _get(env, name, default) or default
    try:
        return kind(value)
    except ValueError:
        raise ValueError(f"{name} must be a{'n integer' if kind is int else ' number'} (got {value!r})") from None


def _share(value: str) -> float:
    share = float(value)
    if not 0 <= share <= 1:
        raise ValueError(f"PIPELINE_MAX_QUARANTINE_SHARE must be between 0 and 1 (got {value!r})")
    return share


def _memory(value: str) -> str:
    """A DuckDB memory limit such as ``1500MB`` or ``2GB`` (validated: it is put into a SET statement)."""
    if not re.fullmatch(r"\d+(\.\d+)?\s*(KB|MB|GB|KiB|MiB|GiB)", value.strip(), re.I):
        raise ValueError(f"PIPELINE_MEMORY_LIMIT must look like 1500MB or 2GB (got {value!r})")
    return value.strip()


def test_pause(stage: str, busy=None) -> None:  # noqa: ANN001
    """A test-only pause point between load stages, for crash tests that SIGKILL a real process.

    With ``PIPELINE_TEST_PAUSE_AT=<stage>`` the run writes ``PIPELINE_TEST_PAUSE_FILE`` (so the
    test knows where it stopped) and then waits to be killed: in ``busy()`` when given (e.g. a
    long server-side statement), else asleep; or, with ``PIPELINE_TEST_RESUME_FILE``, until that
    file exists, and then goes on. Unset (always, outside tests) it does nothing.
    """
    if os.environ.get("PIPELINE_TEST_PAUSE_AT") != stage:
        return
    marker = os.environ.get("PIPELINE_TEST_PAUSE_FILE")
    if marker:
        Path(marker).write_text(stage)
    import time

    resume = os.environ.get("PIPELINE_TEST_RESUME_FILE")
    if resume:  # the lock tests resume a paused run instead of killing it
        while not Path(resume).exists():
            time.sleep(0.1)
        return
    if busy is not None:
        busy()
    time.sleep(3600)
