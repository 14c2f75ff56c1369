"""The marts the dashboard reads: stop cubes refreshed month by month, and small full-refresh marts.

A *stop cube* is ``stops`` aggregated by a time grain (day or month) and a subset of the filter
dimensions, with additive measures (stops, charges, searches, ...). Each dashboard query reads the
smallest cube that keeps every column its filters and groupings use (:func:`covering`); only the
questions no cube can answer (stop locations, the most serious charge) read ``stops``. On the
2M-row SYNTHETIC warehouse the twelve cubes of the first definition held 170 to 414k rows against
1.29M stops.

Refresh, in the load's transaction (so a reader sees the cubes and the stops of the same load):
``marts/stops.sql`` notes every stop it deletes (sign -1) and inserts (+1) in ``stop_changes``;
:func:`refresh` deletes the months those stops fall in from every day and month cube and
aggregates them again from ``stops``, and adds the signed counts to the all-time cubes.
A warehouse whose cubes were built by another definition (``MARTS_VERSION`` in pipeline_state)
gets every cube rebuilt in full instead; until then the dashboard reads ``stops`` (:func:`ready`).

The charges' side is kept the same way: ``mart_charge_months`` (charges by month, source and file,
with the measures of the data-quality, provenance and data-source marts) is recounted for the
changed months only, and those three small marts are summed from it and from ``cube_month``. The
load's count checks compare these month totals with the stops' and the curated zone's
(:func:`month_totals`) instead of counting every charge and stop.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Iterable, Mapping

from . import runlog
from .sqlfiles import load_sql, render, split_statements
from .warehouse.base import refresh_statistics

log = logging.getLogger(__name__)

# Bump when a cube's definition changes: the next load rebuilds every cube in full.
MARTS_VERSION = "cubes-4"  # 4: mart_charge_months
MARTS_VERSION_KEY = "marts_version"

# Columns a cube may keep besides the time grain, and the null each cube stores when it does not.
DIMENSIONS: Mapping[str, str] = {
    "race": "cast(null as varchar(32))",
    "gender": "cast(null as varchar(4))",
    "zip5": "cast(null as varchar(5))",
    "outcome": "cast(null as varchar(16))",
    "district": "cast(null as varchar(128))",
    "stop_weekday": "cast(null as integer)",
    "stop_hour": "cast(null as integer)",
    "top_description": "cast(null as varchar(1024))",
}
# All-time cubes may also keep these (map cells).
SPAN_COLUMNS: Mapping[str, tuple[str, str]] = {
    "cell_size": ("g.cell_size", "cast(null as double precision)"),
    "cell_y": ("cast(floor(d.latitude / g.cell_size) as integer)", "cast(null as integer)"),
    "cell_x": ("cast(floor(d.longitude / g.cell_size) as integer)", "cast(null as integer)"),
}
PEOPLE = frozenset({"race", "gender", "outcome"})
PLACE = frozenset({"zip5", "district"})
HOUR = frozenset({"stop_weekday", "stop_hour"})
CELLS = frozenset({"cell_size", "cell_y", "cell_x"})
# The map grid's cell sizes (degrees) kept by cube_all_grid; the dashboard draws no other.
GRID_CELLS = (0.01, 0.005)
GRID_JOIN = ("inner join (select cast(0.01 as double precision) as cell_size\n"
             "        union all select cast(0.005 as double precision)) as g\n"
             "        on d.zip_status in ('matched', 'nearest') and d.latitude is not null and d.longitude is not null")
# Redshift's physical design, filled into the schema templates' table_options slot:
# * diststyle even: a dashboard query aggregates one cube and joins nothing large, so every slice
#   scans its share (a distribution key would only skew the scan);
# * day and month cubes sorted by month then day: date filters and the month-by-month refresh read
#   only those months' blocks by zone maps. All-time cubes have no date to sort by.
REDSHIFT_OPTIONS = {
    "cube": "diststyle even compound sortkey (stop_year, stop_month, date_of_stop)",
    "span": "diststyle even",
}
DAY = "s.date_of_stop"
MONTH = "cast(date_trunc('month', cast(s.date_of_stop as timestamp)) as date)"
TIME = frozenset({"date_of_stop", "stop_year", "stop_month"})


@dataclass(frozen=True)
class Cube:
    name: str
    grain: str  # "day", "month", or "all" (every date together)
    dims: frozenset[str]

    @property
    def columns(self) -> frozenset[str]:
        """What a query may filter or group on: the dimensions, the time columns of day and month
        cubes, and the weekday on day cubes (a day has one weekday, so keeping it costs no rows)."""
        if self.grain == "all":
            return self.dims
        return self.dims | TIME | ({"stop_weekday"} if self.grain == "day" else frozenset())

    @property
    def own(self) -> frozenset[str]:
        """An all-time cube's reason to exist (map cells, weekday x hour, the charge): it answers only
        queries that read one of these, since it keeps only the stops and charges counts, and the
        grid cube only located stops."""
        return self.dims - PEOPLE - PLACE

    @property
    def template(self) -> str:
        return "span" if self.grain == "all" else "cube"

    def slots(self) -> dict[str, str]:
        if self.grain == "all":
            values = {dim: f"d.{dim}" if dim in self.dims else null for dim, null in DIMENSIONS.items()}
            values.update({col: kept if col in self.dims else null for col, (kept, null) in SPAN_COLUMNS.items()})
            return {"cube": self.name, "grid": GRID_JOIN if "cell_size" in self.dims else "", **values}
        values = {dim: f"s.{dim}" if dim in self.columns else null for dim, null in DIMENSIONS.items()}
        return {"cube": self.name, "day": DAY if self.grain == "day" else MONTH, **values}


# Smallest first: the dashboard reads the first that covers a query. Rows on the 2M-row SYNTHETIC
# warehouse (1.29M stops) in brackets; adding a dimension to a day cube multiplies it, which is
# why there is a lattice and not one cube. No day x every-dimension cube: it would hold 981k rows
# (76% of the stops) and cost more to refresh than the few queries needing it save; they read stops.
# The all-time cubes answer the unfiltered-by-date views (the default) of what a month cube could
# not keep small: map cells, weekday x hour by place, the most serious charge.
CUBES: tuple[Cube, ...] = (
    Cube("cube_month", "month", frozenset()),                           # 170
    Cube("cube_day", "day", frozenset()),                               # 5k
    Cube("cube_month_people", "month", PEOPLE),                         # 6k
    Cube("cube_month_hour", "month", HOUR),                             # 28k
    Cube("cube_month_place", "month", PLACE),                           # 29k
    Cube("cube_all_grid", "all", CELLS | PEOPLE | PLACE),               # 61k (both cell sizes)
    Cube("cube_all_description", "all", frozenset({"top_description"}) | PEOPLE | PLACE),  # 113k
    Cube("cube_day_people", "day", PEOPLE),                             # 130k
    # Trends compares two years' most serious charges over the days both cover (a partial year is
    # not whole months): 232k rows for 542k stops at 1M REPLICATED REAL rows, the largest per stop
    # but ~1.3k rows a month to refresh (BENCHMARKS.md, "p22-replica").
    Cube("cube_day_description", "day", frozenset({"top_description"})),
    Cube("cube_all_hour", "all", HOUR | PEOPLE | PLACE),                # 131k
    Cube("cube_month_all", "month", PEOPLE | PLACE),                    # 244k
    Cube("cube_day_place", "day", PLACE),                               # 343k
    Cube("cube_month_hour_people", "month", PEOPLE | HOUR),             # 414k
)
CUBE_NAMES = tuple(c.name for c in CUBES)


def covering(columns: Iterable[str], day: bool) -> Cube | None:
    """The smallest cube keeping every column in ``columns`` (at day grain when ``day``), or None.

    A query over a date range lists ``date_of_stop`` among its columns, so only day and month
    cubes can answer it; the caller asks for ``day`` when the range is not whole months. An
    all-time cube answers only a query reading what it exists for (:attr:`Cube.own`).
    """
    needed = frozenset(columns)
    for cube in CUBES:
        if needed <= cube.columns and (cube.grain == "day" or not day) and (cube.grain != "all" or needed & cube.own):
            return cube
    return None


def rollup_source(cube: Cube, done: Iterable[Cube]) -> Cube | None:
    """The cube ``cube`` is aggregated from: the smallest of the day and month cubes already
    refreshed (``done``) that keeps every column of ``cube`` at a grain as fine, or None (the
    stops). Every measure is a sum, a min / max or a bit-or, so a coarser cube rolled up from a
    finer one equals the one aggregated from the stops, and the refresh scans thousands of cube
    rows instead of every stop of the changed months."""
    if cube.grain == "all":
        return None
    done = list(done)
    for source in CUBES:  # smallest first
        if source in done and source.grain != "all" and source is not cube and cube.columns <= source.columns \
                and (source.grain == "day" or cube.grain == "month"):
            return source
    return None


def refresh_order() -> list[tuple[Cube, Cube | None]]:
    """Every cube with its source (:func:`rollup_source`), the finest first so sources come first."""
    order: list[tuple[Cube, Cube | None]] = []
    for cube in reversed(CUBES):
        order.append((cube, rollup_source(cube, [c for c, _ in order])))
    return order


def allow_list() -> dict[str, Any]:
    allowed: dict[str, Any] = {"cube": CUBE_NAMES, "day": (DAY, MONTH), "grid": (GRID_JOIN, ""),
                               "table_options": ("", *REDSHIFT_OPTIONS.values()),
                               "facts": (load_sql("marts/stop_facts"), *CUBE_NAMES)}
    for dim, null in DIMENSIONS.items():
        allowed[dim] = (f"s.{dim}", f"d.{dim}", null)
    for col, values in SPAN_COLUMNS.items():
        allowed[col] = values
    return allowed


def cube_sql(name: str, kind: str, cube: Cube, source: Cube | None = None) -> str:
    """``sql/<name>.sql`` for ``cube`` on a ``kind`` warehouse, its slots filled from the allow-list;
    ``source``: the finer cube it is rolled up from (default: the stops)."""
    slots = {**cube.slots(), "facts": source.name if source is not None else load_sql("marts/stop_facts"),
             "table_options": REDSHIFT_OPTIONS[cube.template] if kind == "redshift" else ""}
    return render(load_sql(name, kind), slots, allow_list())


def _run(session: Any, name: str, cube: Cube, source: Cube | None = None) -> None:
    for statement in split_statements(cube_sql(name, session.kind, cube, source)):
        session.execute(statement)


def create(session: Any, indexes: bool = True) -> None:
    """Create every cube table and index that does not exist yet (idempotent); ``indexes=False``:
    the tables only (a full build fills them first, then :func:`create_indexes`)."""
    for cube in CUBES:
        _run(session, f"marts/{cube.template}_schema", cube)
    session.script("marts/charge_months_schema")
    if indexes:
        create_indexes(session)


def create_indexes(session: Any) -> None:
    """The cubes' indexes and the charges' and stops' (PostgreSQL; none on DuckDB and Redshift)."""
    for cube in CUBES:
        _run(session, f"marts/{cube.template}_indexes", cube)
    session.script("marts/indexes")


def _built_version(session: Any) -> str | None:
    df = session.query(load_sql("runlog/state_get"), {"key": MARTS_VERSION_KEY})
    return None if df.empty or not df.iloc[0, 0] else str(df.iloc[0, 0])


def refresh(session: Any, now: datetime | None = None, first_load: bool = False) -> str:
    """Bring every mart up to date inside the load's transaction; return "incremental" or "full".

    Cubes and ``mart_charge_months``: for the months in ``stop_changes`` (left by the stops
    rebuild), or for every month when the warehouse's marts come from another definition or this is
    a ``first_load`` (every stop is new). Then the small marts (data quality, provenance, data
    sources), summed from those month aggregates.

    A full build fills the tables before it indexes them (an index built once over the data costs
    less than one kept up row by row, and PostgreSQL plans the full scans of stops and charges as
    hash joins instead of index scans month by month: BENCHMARKS.md, "h22-pgload").
    """
    full = first_load or _built_version(session) != MARTS_VERSION
    if full:  # every stop, as if new, into cubes made again (another definition may have other columns)
        for cube in CUBES:
            _run(session, "marts/cube_drop", cube)
        session.execute("drop table if exists mart_charge_months")
    create(session, indexes=not full)
    session.script("marts/stop_changes")
    if full and not first_load:  # a first load's stops rebuild noted every stop, +1, already
        session.script("marts/stop_changes_all")
    changed = int(session.scalar("select count(*) from stop_changes"))
    session.script("marts/changed_months")
    for cube, source in refresh_order():  # finest first: coarser cubes are rolled up from them
        _run(session, f"marts/{cube.template}_refresh", cube, source)
    # The charges of the changed months: every charge the load deleted or inserted belongs to a
    # stop it deleted or inserted (marts/stops.sql), so these are every month whose counts moved.
    session.script("marts/charge_months_refresh")
    if full:  # indexed once filled; the dashboard's plans read these; a daily refresh changes a few
        # months of each, and analyzing them costs more than the plans it would change (autovacuum
        # keeps them after)
        create_indexes(session)
        refresh_statistics(session, CUBE_NAMES, force=True)
    session.execute("drop table changed_months")
    session.execute("drop table stop_changes")
    for mart in ("refresh", "provenance", "data_sources"):  # summed from the month aggregates
        session.script(f"marts/{mart}")
    runlog.set_state(session, MARTS_VERSION_KEY, MARTS_VERSION, now or datetime.now(timezone.utc))
    mode = "full" if full else "incremental"
    log.info("marts: %s refresh of %d cubes from %d stop change(s)", mode, len(CUBES), changed)
    return mode


def month_totals(session: Any) -> dict[tuple[int, int], tuple[int, int, int]]:
    """(stop_year, stop_month) -> (charges, the stops' charges, stops), from ``mart_charge_months``
    and ``cube_month`` as this load's :func:`refresh` left them (marts/month_totals.sql)."""
    df = session.query(load_sql("marts/month_totals"))
    return {(int(y), int(m)): (int(c), int(sc), int(n))
            for y, m, c, sc, n in df[["stop_year", "stop_month", "charges", "stop_charges", "stops"]].itertuples(index=False)}


def charges_held(session: Any) -> int:
    """The charges the warehouse holds: summed from ``mart_charge_months`` when the marts are this
    code's (every load keeps it), else counted (an upgrade's first load builds it in full)."""
    if _built_version(session) == MARTS_VERSION:
        return int(session.scalar("select coalesce(sum(charges), 0) from mart_charge_months"))
    return int(session.scalar("select count(*) from moco_traffic_violations"))


def ensure(session: Any) -> None:
    """Build the marts in full when they are missing or of another definition (a quiet day's run
    after an upgrade), so the dashboard does not wait for the next day with new rows."""
    if _built_version(session) != MARTS_VERSION:
        refresh(session)


def ready(built_version: str | None) -> bool:
    """Whether a warehouse whose cubes carry ``built_version`` can serve the dashboard from them."""
    return built_version == MARTS_VERSION
