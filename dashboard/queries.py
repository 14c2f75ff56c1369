"""The dashboard's only data access: SQL files in ``sql/dashboard/`` run on the configured warehouse.

* Settings come from :func:`pipeline.config.load_settings`, fed by :func:`settings_env` (the process
  environment, plus ``PIPELINE_WAREHOUSE`` from ``.streamlit/secrets.toml`` when the environment has
  none). Neither the URL nor any secret is ever logged or shown.
* Every value is a bound parameter; IN lists come from :func:`pipeline.sqlfiles.expand_list`; the
  only text put into SQL is a filter predicate built here from fixed column names and placeholders,
  and dimension expressions from fixed allow-lists (:func:`pipeline.sqlfiles.render`).
* Results are cached in this process for 10 minutes (:class:`_ResultCache`, at most 2,000), keyed by
  the SQL, its parameter values (= the filters) and ``warehouse.version()``, so a committed load
  shows up on the next rerun.
* Queries aggregate in SQL and return small DataFrames; no stop-level rows leave the warehouse.
"""

from __future__ import annotations

import contextvars
import hashlib
import json
import logging
import os
import re
import threading
import time
from contextlib import contextmanager
from collections import OrderedDict
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

import pandas as pd
import streamlit as st

from pipeline import marts
from pipeline.config import REFERENCE_DIR, Settings, load_settings
from pipeline.sqlfiles import AllowList, expand_list, load_sql, render
from pipeline.warehouse import Warehouse, open_warehouse

from . import db, reasons, replica
from .filters import FilterState
from .i18n import N_

log = logging.getLogger(__name__)

CACHE_TTL_S = 600
ZCTA_FILE = "zcta2010_md_ncr_simplified.geojson"
COUNTY_FILE = "montgomery_county_boundary_us_atlas_10m.geojson"

# Filter name -> stops column. The only column names that reach the WHERE clause.
FILTER_COLUMNS: Mapping[str, str] = {
    "races": "s.race",
    "genders": "s.gender",
    "zips": "s.zip5",
    "outcomes": "s.outcome",
    "districts": "s.district",
}

# Dimensions the tables can be grouped by: name -> (SQL expression over `stops as s`, label).
# Every expression yields varchar so the label column has one type on every engine.
DIMENSIONS: Mapping[str, tuple[str, str]] = {
    "none": ("cast('All stops' as varchar(16))", N_("All stops")),
    "zip": ("coalesce(s.zip5, '(no ZIP)')", N_("ZIP code")),
    "district": ("coalesce(s.district, '(unknown)')", N_("Police district")),
    "year": ("cast(s.stop_year as varchar(4))", N_("Year")),
    "month": ("cast(s.stop_year * 100 + s.stop_month as varchar(6))", N_("Month")),
    "race": ("coalesce(s.race, 'OTHER')", N_("Driver race")),
    "gender": ("coalesce(s.gender, 'U')", N_("Driver gender")),
    "outcome": ("s.outcome", N_("Stop outcome")),
    "description": ("coalesce(s.top_description, '(none recorded)')", N_("Most serious charge")),
    # The plain-language category of the most serious charge (data/reason_rules.csv, dashboard/reasons.py):
    # the SQL groups by the charge's text, then :func:`_by_reason` puts each text in its category.
    "reason": ("s.top_description", N_("Reason for the stop")),
}
_DIM_ALLOWED = [expr for expr, _ in DIMENSIONS.values()]
# The facts columns each dimension reads (a cube must keep them to serve the query).
DIMENSION_COLUMNS: Mapping[str, tuple[str, ...]] = {
    "none": (), "zip": ("zip5",), "district": ("district",), "year": ("stop_year",), "month": ("stop_year", "stop_month"),
    "race": ("race",), "gender": ("gender",), "outcome": ("outcome",), "description": ("top_description",),
    "reason": ("top_description",),
}

_bypass: ContextVar[bool] = ContextVar("dashboard_bypass_cache", default=False)
_stops_only: ContextVar[bool] = ContextVar("dashboard_stops_only", default=False)


# --------------------------------------------------------------------------------------------
# Settings and the warehouse
# --------------------------------------------------------------------------------------------


def _secret_warehouse() -> str | None:
    """``PIPELINE_WAREHOUSE`` from Streamlit secrets, if a secrets file defines it."""
    try:
        value = st.secrets.get("PIPELINE_WAREHOUSE")
    except Exception:  # no secrets file anywhere: that's the normal laptop case
        return None
    return str(value) if value else None


def settings_env(environ: Mapping[str, str] | None = None, secret: str | None = None) -> dict[str, str]:
    """The mapping handed to ``load_settings``: the environment wins, a secret fills the gap."""
    env = dict(os.environ if environ is None else environ)
    if not env.get("PIPELINE_WAREHOUSE"):
        secret = secret if secret is not None else _secret_warehouse()
        if secret:
            env["PIPELINE_WAREHOUSE"] = secret
    return env


def settings() -> Settings:
    return load_settings(settings_env())


_WAREHOUSES: dict[str, Warehouse] = {}


def _warehouse_key(s: Settings) -> str:
    # A digest, so the URL (which may hold a password) is never a cache key or a log line.
    return hashlib.sha256(s.warehouse_url.encode()).hexdigest()[:16]


def warehouse(s: Settings | None = None) -> tuple[str, Warehouse]:
    s = s or settings()
    key = _warehouse_key(s)
    if key not in _WAREHOUSES:
        _WAREHOUSES[key] = open_warehouse(s)
    return key, _WAREHOUSES[key]


def state() -> str:
    """``"ok"`` once a load has created the warehouse tables, ``"empty"`` before, ``"unreachable"``
    when the warehouse can't be reached (a server down, a wrong URL, a file that can't be opened)."""
    _, wh = warehouse()
    try:
        # A local copy is made only of a warehouse with tables: no round trip per page for this.
        found = db.has_tables(wh) if wh.kind == "duckdb" else (local_copy() is not None or wh.exists())
    except Exception as exc:  # never show a driver error (it may quote the URL)
        log.warning("warehouse not reachable: %s", type(exc).__name__)
        return "unreachable"
    return "ok" if found else "empty"


def small_count() -> int:
    return settings().small_count_threshold


def stale_after_days() -> float:
    return settings().stale_after_days


# --------------------------------------------------------------------------------------------
# Running SQL
# --------------------------------------------------------------------------------------------


VERSION_TTL_S = 5.0
_versions: dict[str, tuple[float, str]] = {}
_version_checks: dict[str, threading.Thread] = {}
_version_lock = threading.Lock()


def served_version(wh_key: str, wh: Warehouse) -> str:
    """``wh.version()``, asked at most every VERSION_TTL_S seconds: on a server warehouse it is two
    queries, which every cached query paid before; a committed load still shows within seconds.
    On a server warehouse an expired version is asked again on a thread of its own while the page
    goes on with the one known (a query on Redshift costs hundreds of ms: no page waits for it)."""
    now = time.monotonic()
    seen = _versions.get(wh_key)
    if seen is None or (wh.kind == "duckdb" and now - seen[0] > VERSION_TTL_S):
        seen = (now, wh.version())
        _versions[wh_key] = seen
    elif now - seen[0] > VERSION_TTL_S:
        with _version_lock:
            checking = _version_checks.get(wh_key)
            if checking is None or not checking.is_alive():
                _version_checks[wh_key] = threading.Thread(target=_check_version, args=(wh_key, wh), daemon=True)
                _version_checks[wh_key].start()
    return seen[1]


def _check_version(wh_key: str, wh: Warehouse) -> None:
    try:
        _versions[wh_key] = (time.monotonic(), wh.version())
    except Exception as exc:  # noqa: BLE001 - the known version keeps serving; asked again next time
        log.warning("warehouse version check failed: %s", type(exc).__name__)


@contextmanager
def bypass_cache() -> Iterator[None]:
    """Run queries uncached inside this block (benchmarks, tests)."""
    token = _bypass.set(True)
    try:
        yield
    finally:
        _bypass.reset(token)


def _execute(wh_key: str, sql: str, params: tuple[tuple[str, Any], ...],
             local: replica.Replica | None = None) -> pd.DataFrame:
    """Run on the local copy ``local`` when given, else on the warehouse."""
    if local is not None:
        return local.query(sql, dict(params))
    wh = _WAREHOUSES[wh_key]
    if wh.kind == "duckdb":  # one attached reader per published file: no connect per query
        return db.query(wh, sql, dict(params))
    return wh.query(sql, dict(params))


class _ResultCache:
    """Query results of this process by key, at most ``max_entries`` (least recently used out first),
    each for ``ttl_s`` seconds; one computation per key at a time (other callers of that key wait
    for it, as 50 sessions asking the router's queries at once would otherwise run them 50 times).

    In place of ``st.cache_data``, which hashed the SQL text and every parameter through its own
    hasher, inspected the function's signature and unpickled a copy of the frame on every hit: about
    0.5 ms of CPU per call, several calls per filter change, all on one GIL. Here the key is a tuple
    of strings and values, and a hit returns a shallow copy of the frame: under pandas'
    copy-on-write, changing the copy never changes the cached frame."""

    def __init__(self, ttl_s: float, max_entries: int) -> None:
        self.ttl_s, self.max_entries = ttl_s, max_entries
        self._items: OrderedDict[tuple, tuple[float, pd.DataFrame]] = OrderedDict()
        self._lock = threading.Lock()
        self._computing: dict[tuple, threading.Lock] = {}

    def _hit(self, key: tuple) -> pd.DataFrame | None:
        with self._lock:
            found = self._items.get(key)
            if found is None:
                return None
            if time.monotonic() - found[0] > self.ttl_s:
                del self._items[key]
                return None
            self._items.move_to_end(key)
            return found[1]

    def get(self, key: tuple, compute: Callable[[], pd.DataFrame]) -> pd.DataFrame:
        found = self._hit(key)
        if found is None:
            with self._lock:
                computing = self._computing.setdefault(key, threading.Lock())
            with computing:
                found = self._hit(key)  # computed by another caller meanwhile
                if found is None:
                    try:
                        found = compute()
                        with self._lock:
                            self._items[key] = (time.monotonic(), found)
                            while len(self._items) > self.max_entries:
                                self._items.popitem(last=False)
                    finally:
                        with self._lock:
                            self._computing.pop(key, None)
        return found.copy(deep=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


_results = _ResultCache(CACHE_TTL_S, max_entries=2000)


def _execute_cached(wh_key: str, version: str, where: str, sql: str, params: tuple[tuple[str, Any], ...],
                    local: replica.Replica | None = None) -> pd.DataFrame:
    """:func:`_execute` through the result cache: ``where`` (replica / warehouse) and ``version`` key
    the result with the SQL and its parameters; ``local`` (the copy that answers) does not."""
    return _results.get((wh_key, version, where, sql, params), lambda: _execute(wh_key, sql, params, local))


def local_copy() -> replica.Replica | None:
    """The local copy of the served warehouse's marts (dashboard/replica.py) when it can answer:
    a server warehouse, the replica on, its cubes built by this code; None otherwise (the
    warehouse answers). The copy may be of the previous version while a newer one is copied."""
    if _stops_only.get():
        return None
    wh_key, wh = warehouse()
    mb = settings().dashboard_replica_mb
    if wh.kind == "duckdb" or mb <= 0:
        return None
    local = replica.keeper(wh_key, wh, mb).get(served_version(wh_key, wh))
    return local if local is not None and local.marts_ready else None


def replica_status() -> dict[str, Any] | None:
    """Rows, megabytes, copy time, version and last error of the local copy (None: no replica)."""
    wh_key, wh = warehouse()
    if wh.kind == "duckdb" or settings().dashboard_replica_mb <= 0:
        return None
    return replica.keeper(wh_key, wh, settings().dashboard_replica_mb).status()


def _covered(slots: Mapping[str, str] | None) -> bool:
    """Whether a query reads only what the local copy holds: a cube (or no facts at all), the copy's
    narrow stops (``stop_facts.sql``, ``stop_cells.sql``: replica.STOP_COLUMNS), the provenance
    mart, the small tables; not the provenance or sources counted from the charges before the marts."""
    slots = slots or {}
    return (_facts_allowed(slots.get("facts", marts.CUBE_NAMES[0]))
            and slots.get("provenance") in (None, "mart_provenance")
            and slots.get("sources") in (None, "mart_data_sources"))


def run(name: str, params: Mapping[str, Any] | None = None, slots: Mapping[str, str] | None = None,
        allowed: Mapping[str, AllowList] | None = None) -> pd.DataFrame:
    """Run ``sql/dashboard/<name>.sql`` with bound ``params`` and allow-listed ``slots``: on the local
    copy of the marts when it holds what the query reads, else on the warehouse."""
    wh_key, wh = warehouse()
    local = local_copy() if _covered(slots) else None
    sql = load_sql(f"dashboard/{name}", "duckdb" if local is not None else wh.kind)
    if slots:
        sql = render(sql, slots, allowed or {})
    frozen = tuple(sorted((params or {}).items()))
    if _bypass.get():
        return _execute(wh_key, sql, frozen, local)
    if local is not None:
        return _execute_cached(wh_key, local.version, "replica", sql, frozen, local)
    return _execute_cached(wh_key, served_version(wh_key, wh), "warehouse", sql, frozen)


@contextmanager
def stops_only() -> Iterator[None]:
    """Read ``stops`` instead of the cubes inside this block (tests compare the two; benchmarks)."""
    token = _stops_only.set(True)
    try:
        yield
    finally:
        _stops_only.reset(token)


@lru_cache(maxsize=32)
def _marts_built(wh_key: str, version: str) -> bool:
    df = _execute(wh_key, load_sql("dashboard/marts_version"), ())
    return marts.ready(None if df.empty else str(df.iloc[0, 0]))


def marts_ready() -> bool:
    """Whether the served warehouse's cubes are built by this code's definition (checked once per
    warehouse version, or by the local copy as it was made); before the first load after an
    upgrade the dashboard reads ``stops``."""
    if _stops_only.get():
        return False
    if local_copy() is not None:  # a copy is used only when its cubes are ready
        return True
    wh_key, wh = warehouse()
    return _marts_built(wh_key, served_version(wh_key, wh))


def month_aligned(date_from: date | None, date_to: date | None) -> bool:
    """True when a date filter keeps whole calendar months, so a month cube can answer it."""
    starts = date_from is None or date_from.day == 1
    ends = date_to is None or (date_to + timedelta(days=1)).day == 1
    return starts and ends


def facts(f: FilterState, ignore: Sequence[str] = (), columns: Sequence[str] = (), day: bool = False,
          fallback: str = "marts/stop_facts") -> str:
    """The ``{{ facts }}`` a query over ``f`` reads: the smallest stop cube keeping every filtered and
    grouped column (``columns``; a date filter adds ``date_of_stop``), at day grain when ``day`` or
    when the dates are not whole months; else the stops themselves (``fallback``: the same columns,
    one stop per row)."""
    needed = set(columns)
    needed |= {col.removeprefix("s.") for name, col in FILTER_COLUMNS.items() if getattr(f, name) and name not in ignore}
    if "dates" not in ignore and (f.date_from is not None or f.date_to is not None):
        needed.add("date_of_stop")
        day = day or not month_aligned(f.date_from, f.date_to)
    cube = marts.covering(needed, day) if marts_ready() else None
    return cube.name if cube is not None else load_sql(fallback)


def _facts_allowed(value: str) -> bool:
    return value in marts.CUBE_NAMES or value in (load_sql("marts/stop_facts"), load_sql("dashboard/stop_cells"))


def clear_cache() -> None:
    _results.clear()
    _analysis.clear()
    _versions.clear()


def gather(*calls: Callable[[], Any]) -> list[Any]:
    """Run a page's independent queries at once; return their results in order, or raise the first error.

    DuckDB and psycopg release the GIL while a query runs, so a page's 4-6 queries overlap instead
    of queueing (2M SYNTHETIC rows: Trends p95 ~130 -> ~80 ms, BENCHMARKS.md). Each call runs in a
    copy of the caller's context (the cache bypass flag) with Streamlit's script context attached,
    so ``st.cache_data`` (the analysis tables) behaves as it does on the page's own thread.
    """
    if len(calls) <= 1:
        return [c() for c in calls]
    from streamlit.runtime.scriptrunner import add_script_run_ctx, get_script_run_ctx

    ctx = get_script_run_ctx(suppress_warning=True)
    results: list[Any] = [None] * len(calls)
    errors: list[BaseException | None] = [None] * len(calls)

    def work(i: int, context: contextvars.Context) -> None:
        try:
            results[i] = context.run(calls[i])
        except BaseException as exc:  # re-raised on the page's thread below
            errors[i] = exc

    threads = []
    for i in range(1, len(calls)):
        thread = threading.Thread(target=work, args=(i, contextvars.copy_context()), daemon=True)
        if ctx is not None:
            add_script_run_ctx(thread, ctx)
        thread.start()
        threads.append(thread)
    work(0, contextvars.copy_context())
    for thread in threads:
        thread.join()
    for exc in errors:
        if exc is not None:
            raise exc
    return results


_FRAGMENT_PART = re.compile(
    r"^(?:1 = 1"
    r"|s\.date_of_stop (?:>=|<=) cast\(:date_(?:from|to) as date\)"
    r"|s\.(?:race|gender|zip5|outcome|district) in \(:\w+(?:, :\w+)*\))$"
)


def is_stop_filter(clause: str) -> bool:
    """The allow-list of the ``stop_filter`` slot: ``and``-joined parts, each one of the fixed templates.

    Checked on the text that reaches the SQL, independently of how :func:`stop_filter` built it.
    """
    return all(_FRAGMENT_PART.match(part) for part in clause.split(" and "))


def stop_filter(f: FilterState, ignore: Sequence[str] = ()) -> tuple[str, dict[str, Any]]:
    """WHERE predicate over ``stops as s`` for ``f`` (minus the filters named in ``ignore``).

    The text holds only fixed column names and ``:name`` placeholders; the values are bound.
    """
    parts = ["1 = 1"]
    params: dict[str, Any] = {}
    if f.date_from is not None and "dates" not in ignore:
        parts.append("s.date_of_stop >= cast(:date_from as date)")
        params["date_from"] = f.date_from
    if f.date_to is not None and "dates" not in ignore:
        parts.append("s.date_of_stop <= cast(:date_to as date)")
        params["date_to"] = f.date_to
    for name, column in FILTER_COLUMNS.items():
        values = getattr(f, name)
        if values and name not in ignore:
            placeholders, values_by_key = expand_list(f"f_{name}", list(values))
            parts.append(f"{column} in ({placeholders})")
            params.update(values_by_key)
    return " and ".join(parts), params


def _filtered(name: str, f: FilterState, ignore: Sequence[str] = (), params: Mapping[str, Any] | None = None,
              slots: Mapping[str, str] | None = None, allowed: Mapping[str, AllowList] | None = None,
              columns: Sequence[str] = (), day: bool = False) -> pd.DataFrame:
    """Run a query over the filtered stops; ``columns`` and ``day``: what it reads besides the filters."""
    clause, filter_params = stop_filter(f, ignore)
    all_slots = {"stop_filter": clause, "facts": facts(f, ignore, columns, day), **(slots or {})}
    all_allowed = {"stop_filter": is_stop_filter, "facts": _facts_allowed, **(allowed or {})}
    return run(name, {**filter_params, **(params or {})}, all_slots, all_allowed)


# --------------------------------------------------------------------------------------------
# Reference geometry (the shipped bundle; read-only)
# --------------------------------------------------------------------------------------------


@lru_cache(maxsize=2)
def _zcta_features(ref_dir: str) -> tuple[dict[str, Any], ...]:
    path = Path(ref_dir) / ZCTA_FILE
    with open(path, encoding="utf-8") as fh:
        data = json.load(fh)
    out = []
    for feature in data["features"]:
        props = feature.get("properties") or {}
        if not props.get("in_montgomery"):
            continue
        out.append({
            "zip5": str(props["ZCTA5CE10"]).zfill(5),
            "geometry": feature["geometry"],
            "lat": float(props["INTPTLAT10"]),
            "lon": float(props["INTPTLON10"]),
        })
    return tuple(sorted(out, key=lambda x: x["zip5"]))


def county_zctas(ref_dir: Path = REFERENCE_DIR) -> list[dict[str, Any]]:
    """Montgomery County ZCTAs (2010, simplified): zip5, GeoJSON geometry, interior point."""
    try:
        return list(_zcta_features(str(ref_dir)))
    except FileNotFoundError:
        log.warning("ZCTA polygons missing from %s; the map is unavailable", ref_dir)
        return []


@lru_cache(maxsize=2)
def county_outline(ref_dir: Path = REFERENCE_DIR) -> dict[str, Any] | None:
    """The county boundary (GeoJSON FeatureCollection), the map's landmark when there is no basemap."""
    try:
        with open(Path(ref_dir) / COUNTY_FILE, encoding="utf-8") as fh:
            return json.load(fh)
    except FileNotFoundError:
        log.warning("county boundary missing from %s", ref_dir)
        return None


# --------------------------------------------------------------------------------------------
# Query functions (one per question a page asks)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Provenance:
    """What is being served: counts, stop dates, the share from the bundled sample, the last
    *successful* load (a failed, running or abandoned run never describes the served data)."""

    charges: int
    stops: int
    sample_charges: int
    first_stop: date | None
    last_stop: date | None
    last_success_at: datetime | None
    last_success_source: str | None = None
    last_success_command: str | None = None

    @property
    def is_sample(self) -> bool:
        """Any share of the bundled sample: counts are of a sample, not the county's full record."""
        return self.sample_charges > 0

    def age_days(self, now: datetime | None = None) -> float | None:
        if self.last_success_at is None:
            return None
        now = now or datetime.now(timezone.utc).replace(tzinfo=None)
        return (now - self.last_success_at).total_seconds() / 86400

    def is_stale(self, after_days: float, now: datetime | None = None) -> bool:
        age = self.age_days(now)
        return age is None or age > after_days


def _as_date(value: Any) -> date | None:
    if value is None or pd.isna(value):
        return None
    return pd.Timestamp(value).date()


def _as_datetime(value: Any) -> datetime | None:
    if value is None or pd.isna(value):
        return None
    return pd.Timestamp(value).to_pydatetime()


def _text(value: Any) -> str | None:
    return None if value is None or pd.isna(value) else str(value)


def provenance() -> Provenance:
    counts = load_sql("marts/provenance_counts")
    source = "mart_provenance" if marts_ready() else counts
    row = run("provenance", slots={"provenance": source}, allowed={"provenance": ("mart_provenance", counts)}).iloc[0]
    return Provenance(
        charges=int(row["charges"] or 0),
        stops=int(row["stops"] or 0),
        sample_charges=int(row["sample_charges"] or 0),
        first_stop=_as_date(row["first_stop"]),
        last_stop=_as_date(row["last_stop"]),
        last_success_at=_as_datetime(row["last_success_at"]),
        last_success_source=_text(row["last_success_source"]),
        last_success_command=_text(row["last_success_command"]),
    )


def data_sources() -> pd.DataFrame:
    """source, file_name (file loads only), charges, synthetic_charges: what the served rows came from."""
    counts = load_sql("marts/data_sources_counts")
    source = "mart_data_sources" if marts_ready() else counts
    return run("data_sources", slots={"sources": source}, allowed={"sources": ("mart_data_sources", counts)})


@lru_cache(maxsize=2)
def _county_race(ref_dir: str) -> pd.DataFrame:
    from pipeline.analysis.population import county_population, read_county_race

    return county_population(read_county_race(Path(ref_dir)))


def county_race_population(ref_dir: Path = REFERENCE_DIR) -> pd.DataFrame:
    """race, population, population_category, acs_year, moe: the county's residents in ACS B03002's
    exclusive categories (the reference bundle's file; ALL = the total; OTHER has none)."""
    return _county_race(str(ref_dir)).copy()


def zip_options() -> list[str]:
    """ZIPs a resident can pick: the county's ZCTAs plus any ZIP that has stops."""
    source = facts(FilterState(), columns=("zip5",))
    with_stops = set(run("zip_options", slots={"facts": source}, allowed={"facts": _facts_allowed})["zip5"].astype(str))
    return sorted(with_stops | {z["zip5"] for z in county_zctas()})


def year_coverage() -> pd.DataFrame:
    """stop_year, stops, first_stop, last_stop, days_covered (unfiltered)."""
    source = facts(FilterState(), columns=("date_of_stop", "stop_year"), day=True)
    return run("year_coverage", slots={"facts": source}, allowed={"facts": _facts_allowed})


def totals(f: FilterState) -> pd.DataFrame:
    """One row: stops, charges, first_stop, last_stop, days_with_stops, stops_without_zip."""
    return _filtered("totals", f)


def residents(zips: Sequence[str] = ()) -> pd.DataFrame:
    """One row: county residents (or of the county part of ``zips``) in total and by race (ACS, overlapping)."""
    if zips:
        placeholders, params = expand_list("zip", sorted(zips))
        clause = f"zt.zip in ({placeholders})"
        if not re.fullmatch(r"zt\.zip in \(:\w+(?:, :\w+)*\)", clause):
            raise ValueError("unexpected ZIP clause")
    else:
        clause, params = "1 = 1", {}
    return run("residents", params, {"zip_filter": clause}, {"zip_filter": [clause]})


def daily(f: FilterState, ignore: Sequence[str] = ()) -> pd.DataFrame:
    """date_of_stop, stops, charges."""
    return _filtered("daily_counts", f, ignore, columns=("date_of_stop",), day=True)


def monthly(f: FilterState, ignore: Sequence[str] = ()) -> pd.DataFrame:
    """stop_year, stop_month, stops, charges."""
    return _filtered("monthly_counts", f, ignore, columns=("stop_year", "stop_month"))


def zip_map(f: FilterState) -> pd.DataFrame:
    """Per ZIP: stops, charges, residents_in_county, residents_zcta, poverty_rate,
    density_per_sqmi, land_area_sqmi, notes. The ZIP filter is ignored (the map shows every ZIP)."""
    return _filtered("zip_map", f, ignore=("zips",), columns=("zip5",))


def location_grid(f: FilterState, cell: float = 0.01, min_count: int | None = None) -> pd.DataFrame:
    """cell_y, cell_x (floor(lat/cell), floor(lon/cell)), stops; cells under the threshold left out.

    Read from the all-time grid cube for the cell sizes it keeps (``marts.GRID_CELLS``) and no date
    filter; else from the located stops (``stop_cells.sql``)."""
    k = small_count() if min_count is None else min_count
    clause, filter_params = stop_filter(f)
    source = (facts(f, columns=tuple(sorted(marts.CELLS)), fallback="dashboard/stop_cells")
              if cell in marts.GRID_CELLS else load_sql("dashboard/stop_cells"))
    params = {**filter_params, "cell": float(cell), "min_count": int(k)}
    return run("location_grid", params, {"stop_filter": clause, "facts": source},
               {"stop_filter": is_stop_filter, "facts": _facts_allowed})


def weekday_hour(f: FilterState) -> pd.DataFrame:
    """stop_weekday (0 = Sunday), stop_hour, stops."""
    return _filtered("weekday_hour", f, columns=("stop_weekday", "stop_hour"))


def covered_days() -> pd.DataFrame:
    """date_of_stop, stops, charges for every day with at least one stop, whatever the filters: the
    days the data covers (a comparison of two periods counts only days both cover)."""
    return _filtered("daily_counts", FilterState(), columns=("date_of_stop",), day=True)


_RANGE_ROW = "select cast(:r{i}_from as date) as day_from, cast(:r{i}_to as date) as day_to, cast(:r{i}_period as varchar(1)) as period"
_RANGE_ROWS = re.compile(r"select cast\(:r\d+_from as date\) as day_from, cast\(:r\d+_to as date\) as day_to, "
                         r"cast\(:r\d+_period as varchar\(1\)\) as period"
                         r"(?:\s+union all\s+select cast\(:r\d+_from as date\), cast\(:r\d+_to as date\), "
                         r"cast\(:r\d+_period as varchar\(1\)\))*")


def _day_ranges(days_a: Sequence[date], days_b: Sequence[date]) -> tuple[str, dict[str, Any]]:
    """Rows of (day_from, day_to, period) for year_compare.sql: placeholders only, values bound."""
    from .tables import day_ranges

    rows, params = [], {}
    for period, days in (("a", days_a), ("b", days_b)):
        for lo, hi in day_ranges(days):
            i = len(rows)
            rows.append(_RANGE_ROW.format(i=i) if i == 0 else
                        f"select cast(:r{i}_from as date), cast(:r{i}_to as date), cast(:r{i}_period as varchar(1))")
            params.update({f"r{i}_from": lo, f"r{i}_to": hi, f"r{i}_period": period})
    text = "\n    union all ".join(rows)
    if not _RANGE_ROWS.fullmatch(text):  # defence in depth: nothing but the templates reaches the SQL
        raise ValueError("unexpected day ranges")
    return text, params


def year_compare(f: FilterState, dim: str, days_a: Sequence[date], days_b: Sequence[date],
                 top_n: int = 10) -> pd.DataFrame:
    """label, stops_a, stops_b, rank: stops by ``dim`` on the given days of each period (the days both
    periods cover, from :func:`tables.match_days`). The date filter is replaced by those days."""
    if not days_a or not days_b:
        return pd.DataFrame({"label": pd.Series(dtype=object), "stops_a": pd.Series(dtype="int64"),
                             "stops_b": pd.Series(dtype="int64"), "rank": pd.Series(dtype="int32")})
    ranges, values = _day_ranges(days_a, days_b)
    # Whole months on both sides (two complete years): a month cube answers; else a day cube.
    whole_months = all(month_aligned(values[f"{k[:-5]}_from"], values[f"{k[:-5]}_to"]) for k in values if k.endswith("_from"))
    df = _filtered(
        "year_compare", f, ignore=("dates",),
        # By reason: every charge text (ranked by its category below), not the top texts.
        params={**values, "top_n": 2**31 - 1 if dim == "reason" else int(top_n)},
        slots={"dim": DIMENSIONS[dim][0], "day_ranges": ranges},
        allowed={"dim": _DIM_ALLOWED, "day_ranges": [ranges]}, columns=DIMENSION_COLUMNS[dim] + ("date_of_stop",),
        day=not whole_months,
    )
    if dim != "reason":
        return df
    # What year_compare.sql does after its grouping, over the categories: sums, the rank, the top n.
    counts = _by_reason(df, ["label"]).groupby("label", as_index=False)[["stops_a", "stops_b"]].sum()
    counts = counts.sort_values(["stops_b", "stops_a", "label"], ascending=[False, False, True]).head(int(top_n))
    return pd.DataFrame({"label": counts["label"].astype(df["label"].dtype).to_numpy(),
                         "stops_a": counts["stops_a"].astype("int64").to_numpy(),
                         "stops_b": counts["stops_b"].astype("int64").to_numpy(),
                         "rank": range(1, len(counts) + 1)}).astype({"rank": "int32"})


def stops_by(f: FilterState, dim: str, dim2: str = "none", suppress: bool = False,
             ignore: Sequence[str] = ()) -> pd.DataFrame:
    """label, label2, stops, charges, suppressed, grouped by allow-listed dimensions.

    With ``suppress`` the counts of groups under the small-count threshold are null (flagged).
    """
    min_count = small_count() if suppress else 0
    reason = [col for col, name in (("label", dim), ("label2", dim2)) if name == "reason"]
    df = _filtered(
        "stops_by", f, ignore,
        params={"min_count": 0 if reason else min_count},  # a text's count is not its category's
        slots={"dim": DIMENSIONS[dim][0], "dim2": DIMENSIONS[dim2][0]},
        allowed={"dim": _DIM_ALLOWED, "dim2": _DIM_ALLOWED},
        columns=DIMENSION_COLUMNS[dim] + DIMENSION_COLUMNS[dim2],
    )
    if not reason:
        return df
    # What stops_by.sql does after its grouping, over the categories: sums, suppression, order.
    counts = _by_reason(df, reason).groupby(["label", "label2"], sort=True, as_index=False)[["stops", "charges"]].sum()
    small = counts["stops"] < min_count
    return pd.DataFrame({
        "label": counts["label"].astype(df["label"].dtype), "label2": counts["label2"].astype(df["label2"].dtype),
        # DuckDB's dtypes, as the SQL gives them: int64, or nullable Int64 once a count is suppressed.
        "stops": counts["stops"].astype("Int64").mask(small) if small.any() else counts["stops"].astype("int64"),
        "charges": counts["charges"].astype("Int64").mask(small) if small.any() else counts["charges"].astype("int64"),
        "suppressed": small.astype("int32"),
    })


def _by_reason(df: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """``df`` with the charge texts in ``columns`` replaced by their reason category. Categorised
    here, once per distinct text, not in the SQL: the rules as a SQL ``case`` (~100 ``LIKE``s) cost
    DuckDB 40-80 ms to plan per query under load and ran per cube row (BENCHMARKS.md p22-queries)."""
    out = df.copy()
    for col in columns:
        out[col] = [reasons.category_of(v if isinstance(v, str) else None) for v in out[col]]
    return out


def outcomes_by_race(f: FilterState) -> pd.DataFrame:
    """race, stops, warnings, seros, citations, stops_search_recorded, searched, arrested,
    contraband_found. The outcome filter is ignored (this table *is* the outcomes)."""
    return _filtered("outcomes_by_race", f, ignore=("outcomes",), columns=("race", "outcome"))


def data_quality() -> pd.DataFrame:
    return run("data_quality")


def recent_runs(limit: int = 5) -> pd.DataFrame:
    """The last runs whatever their status (running, success, failed, abandoned), newest first."""
    return run("recent_runs", {"limit": int(limit)})


def change_log(limit: int = 30) -> pd.DataFrame:
    """What each successful load added, edited and removed (charges and stops), newest first."""
    return run("change_log", {"limit": int(limit)})


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def _analysis(wh_key: str, version: str, where: str, _local: replica.Replica | None = None) -> dict[str, pd.DataFrame]:
    from pipeline.analysis import read_results

    return read_results(_local if _local is not None else _WAREHOUSES[wh_key])


def analysis_results() -> dict[str, pd.DataFrame]:
    """The ``analysis_*`` tables that ``python -m pipeline analyze`` writes after each load."""
    wh_key, wh = warehouse()
    local = local_copy()
    if local is not None:
        return _analysis(wh_key, local.version, "replica", local)
    return _analysis(wh_key, served_version(wh_key, wh), "warehouse")


def served_version_label() -> tuple[str, bool]:
    """Which warehouse version the numbers come from, for the provenance line: a short digest of
    the version, and whether the local copy (dashboard/replica.py) serves it."""
    wh_key, wh = warehouse()
    local = local_copy()
    version = local.version if local is not None else served_version(wh_key, wh)
    return hashlib.sha256(version.encode()).hexdigest()[:8], local is not None
