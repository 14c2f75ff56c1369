"""The canonical schema shared by every source (CSV export, Socrata API, bundled sample).

Source headers differ: the portal's CSV export uses title case (``Date Of Stop``), the SODA API
snake case (``date_of_stop``); old exports lack ``SeqID`` and the ``Search*`` columns; one
community copy renamed ``Year`` to ``Manufacture Year``. :func:`canonical_name` maps any of them to
one snake_case name; :data:`CANONICAL_COLUMNS` fixes the landing-zone column order and types.
"""

from __future__ import annotations

import re

# (canonical name, DuckDB/landing type). Order = landing/curated Parquet column order.
SOURCE_COLUMNS: list[tuple[str, str]] = [
    ("seq_id", "VARCHAR"),
    ("date_of_stop", "DATE"),
    ("time_of_stop", "TIME"),
    ("agency", "VARCHAR"),
    ("subagency", "VARCHAR"),
    ("description", "VARCHAR"),
    ("location", "VARCHAR"),
    ("latitude", "DOUBLE"),
    ("longitude", "DOUBLE"),
    ("accident", "BOOLEAN"),
    ("belts", "BOOLEAN"),
    ("personal_injury", "BOOLEAN"),
    ("property_damage", "BOOLEAN"),
    ("fatal", "BOOLEAN"),
    ("commercial_license", "BOOLEAN"),
    ("hazmat", "BOOLEAN"),
    ("commercial_vehicle", "BOOLEAN"),
    ("alcohol", "BOOLEAN"),
    ("work_zone", "BOOLEAN"),
    ("search_conducted", "BOOLEAN"),
    ("search_disposition", "VARCHAR"),
    ("search_outcome", "VARCHAR"),
    ("search_reason", "VARCHAR"),
    ("search_reason_for_stop", "VARCHAR"),
    ("search_type", "VARCHAR"),
    ("search_arrest_reason", "VARCHAR"),
    ("state", "VARCHAR"),
    ("vehicle_type", "VARCHAR"),
    ("vehicle_year", "INTEGER"),
    ("make", "VARCHAR"),
    ("model", "VARCHAR"),
    ("color", "VARCHAR"),
    ("violation_type", "VARCHAR"),
    ("charge", "VARCHAR"),
    ("article", "VARCHAR"),
    ("contributed_to_accident", "BOOLEAN"),
    ("race", "VARCHAR"),
    ("gender", "VARCHAR"),
    ("driver_city", "VARCHAR"),
    ("driver_state", "VARCHAR"),
    ("dl_state", "VARCHAR"),
    ("arrest_type", "VARCHAR"),
]

# Columns the pipeline adds (lineage and derived keys) ahead of the source columns.
LINEAGE_COLUMNS: list[tuple[str, str]] = [
    ("row_id", "VARCHAR"),  # Socrata :id, or a content hash for file rows (see transform.py)
    ("stop_id", "VARCHAR"),  # one id per stop; several charges share it (see transform.py)
    ("source", "VARCHAR"),
    ("source_updated_at", "TIMESTAMP"),
    ("load_id", "VARCHAR"),
]

# Columns added in the curated zone (enrichment).
ENRICHED_COLUMNS: list[tuple[str, str]] = [
    ("district", "VARCHAR"),
    ("zip5", "VARCHAR"),
    ("zip_status", "VARCHAR"),
    ("stop_year", "INTEGER"),
    ("stop_month", "INTEGER"),
]

LANDING_COLUMNS = LINEAGE_COLUMNS + SOURCE_COLUMNS
CURATED_COLUMNS = LANDING_COLUMNS + ENRICHED_COLUMNS

# Only these must be present in a source header; a missing one stops the run with its name.
REQUIRED_SOURCE_COLUMNS = ("date_of_stop", "time_of_stop", "subagency", "violation_type", "race", "gender")

# Non-obvious header names -> canonical names. Everything else is normalised by canonical_name().
ALIASES: dict[str, str] = {
    "seqid": "seq_id",
    "vehicletype": "vehicle_type",
    "year": "vehicle_year",
    "manufacture_year": "vehicle_year",
    "sub_agency": "subagency",
    "hazmat": "hazmat",
    "dl_state": "dl_state",
}

# Columns present in some sources that we deliberately do not carry to landing (still in raw/).
# NOTE: "Zip Codes", "Councils", ... are Socrata computed-region ids (small integers), *not* ZIPs.
IGNORED_COLUMNS = frozenset(
    {
        "geolocation",  # duplicates latitude/longitude
        "column00", "", "unnamed_0",  # pandas index artefact in a community copy
        "council_districts", "councils", "communities", "zip_codes", "municipalities",
        ":@computed_region_vu5j_pcmz", ":@computed_region_tx5f_5em3", ":@computed_region_kbsp_ykn9",
        ":@computed_region_d7bw_bq6x", ":@computed_region_rbt8_3x7n",
        "charge_hierarchy", "charge_description", "fine", "points", "contr_acc_fine",
        "contr_acc_points", "section", "driver_city_latitude", "driver_city_longitude",
    }
)

# Allowed values after standardisation. A value outside the set sends the row to quarantine,
# because in these exports it means the fields were shifted (e.g. Race == "No").
ALLOWED_RACE = ("WHITE", "BLACK", "HISPANIC", "ASIAN", "NATIVE AMERICAN", "OTHER")
ALLOWED_GENDER = ("M", "F", "U")
ALLOWED_VIOLATION_TYPE = ("Citation", "Warning", "ESERO", "SERO")

# Police districts (SubAgency) in canonical spelling. NOTE: 2012-2016 exports write them in lower
# case ("3rd district, Silver Spring"); the standardiser title-cases the word "district".
DISTRICTS = (
    "1st District, Rockville",
    "2nd District, Bethesda",
    "3rd District, Silver Spring",
    "4th District, Wheaton",
    "5th District, Germantown",
    "6th District, Gaithersburg / Montgomery Village",
    "Headquarters and Special Operations",
)


def canonical_name(header: str) -> str:
    """Map a source header (CSV title case or API snake case) to its canonical name.

    >>> canonical_name("Date Of Stop"), canonical_name("date_of_stop"), canonical_name("VehicleType")
    ('date_of_stop', 'date_of_stop', 'vehicle_type')
    """
    name = header.strip()
    if name.startswith(":"):
        return name.lower()
    name = re.sub(r"[^0-9a-zA-Z]+", "_", name).strip("_").lower()
    return ALIASES.get(name, name)


def map_headers(headers: list[str]) -> tuple[dict[str, str], list[str], list[str]]:
    """Return (source header -> canonical name, unknown headers, missing required names)."""
    known = {c for c, _ in SOURCE_COLUMNS}
    mapping: dict[str, str] = {}
    unknown: list[str] = []
    for header in headers:
        canon = canonical_name(header)
        if canon in known and canon not in mapping.values():
            mapping[header] = canon
        elif canon not in IGNORED_COLUMNS and canon not in (":id", ":updated_at", ":created_at"):
            unknown.append(header)
    missing = [c for c in REQUIRED_SOURCE_COLUMNS if c not in mapping.values()]
    return mapping, unknown, missing
