"""The marts the dashboard reads: stop cubes refreshed month by month, and small full-refresh marts.

A *stop cube* is ``stops`` aggregated by a time grain (day or month) and a subset of the filter
dimensions, with additive measures (stops, charges, searches, ...). Each dashboard query reads the
smallest cube that keeps every column its filters and groupings use (:func:`covering`); only the
questions no cube can answer (stop locations, the most serious charge) read ``stops``. On the
2M-row SYNTHETIC warehouse the nine cubes hold 170 to 414k rows against 1.29M stops.

Refresh, in the load's transaction (so a reader sees the cubes and the stops of the same load):
``marts/stops.sql`` notes the months of every stop it deletes or inserts in ``refresh_months``;
:func:`refresh` deletes those months from every cube and aggregates them again from ``stops``.
A warehouse whose cubes were built by another definition (``MARTS_VERSION`` in pipeline_state)
gets every cube rebuilt in full instead; until then the dashboard reads ``stops`` (:func:`ready`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Iterable, Mapping

from . import runlog
from .sqlfiles import load_sql, render, split_statements

log = logging.getLogger(__name__)

# Bump when a cube's definition changes: the next load rebuilds every cube in full.
MARTS_VERSION = "cubes-1"
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
}
PEOPLE = frozenset({"race", "gender", "outcome"})
PLACE = frozenset({"zip5", "district"})
DAY = "s.date_of_stop"
MONTH = "cast(date_trunc('month', s.date_of_stop) as date)"


@dataclass(frozen=True)
class Cube:
    name: str
    grain: str  # "day" or "month"
    dims: frozenset[str]

    @property
    def columns(self) -> frozenset[str]:
        """What a query may filter or group on: the dimensions, plus the weekday on day cubes
        (a day has one weekday, so keeping it costs no rows)."""
        return self.dims | {"stop_weekday"} if self.grain == "day" else self.dims

    def slots(self) -> dict[str, str]:
        values = {dim: f"s.{dim}" if dim in self.columns else null for dim, null in DIMENSIONS.items()}
        return {"cube": self.name, "day": DAY if self.grain == "day" else MONTH, **values}


# Smallest first: the dashboard reads the first that covers a query. Rows on the 2M-row SYNTHETIC
# warehouse (1.29M stops) in brackets; adding a dimension to a day cube multiplies it, which is
# why there is a lattice and not one cube. No day x every-dimension cube: it would hold 981k rows
# (76% of the stops) and cost more to refresh than the few queries needing it save; they read stops.
CUBES: tuple[Cube, ...] = (
    Cube("cube_month", "month", frozenset()),                                          # 170
    Cube("cube_day", "day", frozenset()),                                              # 5k
    Cube("cube_month_people", "month", PEOPLE),                                        # 6k
    Cube("cube_month_hour", "month", frozenset({"stop_weekday", "stop_hour"})),        # 28k
    Cube("cube_month_place", "month", PLACE),                                          # 29k
    Cube("cube_day_people", "day", PEOPLE),                                            # 130k
    Cube("cube_month_all", "month", PEOPLE | PLACE),                                   # 244k
    Cube("cube_day_place", "day", PLACE),                                              # 343k
    Cube("cube_month_hour_people", "month", PEOPLE | {"stop_weekday", "stop_hour"}),   # 414k
)
CUBE_NAMES = tuple(c.name for c in CUBES)


def covering(columns: Iterable[str], day: bool) -> Cube | None:
    """The smallest cube keeping every column in ``columns`` (at day grain when ``day``), or None."""
    needed = frozenset(columns)
    for cube in CUBES:
        if needed <= cube.columns and (cube.grain == "day" or not day):
            return cube
    return None


def allow_list() -> dict[str, Any]:
    allowed: dict[str, Any] = {"cube": CUBE_NAMES, "day": (DAY, MONTH)}
    for dim, null in DIMENSIONS.items():
        allowed[dim] = (f"s.{dim}", null)
    return allowed


def _run(session: Any, name: str, cube: Cube) -> None:
    text = render(load_sql(name, session.kind), cube.slots(), allow_list())
    for statement in split_statements(text):
        session.execute(statement)


def create(session: Any) -> None:
    """Create every cube table that does not exist yet (idempotent)."""
    for cube in CUBES:
        _run(session, "marts/cube_schema", cube)
    session.script("marts/stop_indexes")


def _built_version(session: Any) -> str | None:
    df = session.query(load_sql("runlog/state_get"), {"key": MARTS_VERSION_KEY})
    return None if df.empty or not df.iloc[0, 0] else str(df.iloc[0, 0])


def refresh(session: Any, now: datetime | None = None) -> str:
    """Bring every mart up to date inside the load's transaction; return "incremental" or "full".

    Cubes: the months in ``refresh_months`` (left by the stops rebuild), or all of them when the
    warehouse's cubes come from another definition. Then the small marts of marts/refresh.sql,
    which are cheap enough to recompute in full.
    """
    create(session)
    session.script("marts/refresh_months")
    full = _built_version(session) != MARTS_VERSION
    if full:
        session.script("marts/refresh_months_all")
        for cube in CUBES:
            _run(session, "marts/cube_clear", cube)
    months = int(session.scalar("select count(distinct stop_year * 100 + stop_month) from refresh_months"))
    for cube in CUBES:
        _run(session, "marts/cube_refresh", cube)
    session.execute("drop table refresh_months")
    session.script("marts/refresh")
    counts = load_sql("marts/provenance_counts")
    for statement in split_statements(render(load_sql("marts/provenance"), {"counts": counts}, {"counts": (counts,)})):
        session.execute(statement)
    runlog.set_state(session, MARTS_VERSION_KEY, MARTS_VERSION, now or datetime.now(timezone.utc))
    mode = "full" if full else "incremental"
    log.info("marts: %s refresh of %d month(s) in %d cubes", mode, months, len(CUBES))
    return mode


def ensure(session: Any) -> None:
    """Build the marts in full when they are missing or of another definition (a quiet day's run
    after an upgrade), so the dashboard does not wait for the next day with new rows."""
    if _built_version(session) != MARTS_VERSION:
        refresh(session)


def ready(built_version: str | None) -> bool:
    """Whether a warehouse whose cubes carry ``built_version`` can serve the dashboard from them."""
    return built_version == MARTS_VERSION
