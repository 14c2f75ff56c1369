"""The dashboard's one vocabulary: stored codes -> URL codes and plain-language labels (EN/ES).

Race, gender, outcome and district values are stored as the source writes them (``BLACK``,
``Citation``, ``4th District, Wheaton``); every page, chart, table and CSV shows them through the
functions here, translated for the current language.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Mapping

from . import reasons
from .i18n import N_, _, fmt_month

# Canonical values (as stored in the warehouse) by URL code. Order = display order.
RACES: dict[str, str] = {
    "white": "WHITE",
    "black": "BLACK",
    "hispanic": "HISPANIC",
    "asian": "ASIAN",
    "native": "NATIVE AMERICAN",
    "other": "OTHER",
}
GENDERS: dict[str, str] = {"f": "F", "m": "M", "u": "U"}
OUTCOMES: dict[str, str] = {"citation": "Citation", "sero": "SERO", "warning": "Warning"}
DISTRICTS: dict[str, str] = {
    "1": "1st District, Rockville",
    "2": "2nd District, Bethesda",
    "3": "3rd District, Silver Spring",
    "4": "4th District, Wheaton",
    "5": "5th District, Germantown",
    "6": "6th District, Gaithersburg / Montgomery Village",
    "hq": "Headquarters and Special Operations",
}
RACE_ORDER: list[str] = list(RACES.values())

_RACE: Mapping[str, str] = {
    "WHITE": N_("White"),
    "BLACK": N_("Black"),
    "HISPANIC": N_("Hispanic"),
    "ASIAN": N_("Asian"),
    "NATIVE AMERICAN": N_("Native American"),
    "OTHER": N_("Other / unknown"),
    "ALL": N_("All drivers"),
}
_GENDER: Mapping[str, str] = {"F": N_("Female"), "M": N_("Male"), "U": N_("Unknown")}
_OUTCOME: Mapping[str, str] = {
    "Citation": N_("Citation (ticket)"),
    "SERO": N_("Repair order (SERO)"),
    "Warning": N_("Warning only"),
}
# Outcome columns of outcomes_by_race.sql, in the order the stacked bars draw them.
OUTCOME_COLUMNS: list[tuple[str, str]] = [("warnings", "Warning"), ("seros", "SERO"), ("citations", "Citation")]

# Stop race category -> (residents column of queries.residents(), the ACS category it is set against).
# NOTE: census race-alone categories include Hispanic residents; the stop data's are exclusive.
RESIDENT_CATEGORY: Mapping[str, tuple[str | None, str]] = {
    "WHITE": ("white_alone", N_("White alone (incl. Hispanic whites)")),
    "BLACK": ("black_alone", N_("Black alone (incl. Hispanic Blacks)")),
    "HISPANIC": ("hispanic_any_race", N_("Hispanic (any race)")),
    "ASIAN": ("asian_alone", N_("Asian alone")),
    "NATIVE AMERICAN": ("native_alone", N_("American Indian alone")),
    "OTHER": (None, N_("no matching census category")),
}

# Stop race -> the census category of ACS table B03002 (exclusive: Hispanic of any race, the others
# not Hispanic), the county comparison People and Disparities use (pipeline/analysis/population.py).
EXCLUSIVE_CATEGORY: Mapping[str, str] = {
    "WHITE": N_("White, not Hispanic"),
    "BLACK": N_("Black, not Hispanic"),
    "HISPANIC": N_("Hispanic (any race)"),
    "ASIAN": N_("Asian or Pacific Islander, not Hispanic"),
    "NATIVE AMERICAN": N_("American Indian, not Hispanic"),
    "OTHER": N_("no matching census category"),
}

# The census categories the Disparities benchmark divides by (pipeline/analysis/population.py).
_CENSUS_CATEGORY: Mapping[str, str] = {
    "not Hispanic, White alone (B03002)": N_("not Hispanic, White alone (B03002)"),
    "not Hispanic, Black alone (B03002)": N_("not Hispanic, Black alone (B03002)"),
    "Hispanic or Latino, any race (B03002)": N_("Hispanic or Latino, any race (B03002)"),
    "not Hispanic, Asian alone + Pacific Islander alone (B03002)":
        N_("not Hispanic, Asian alone + Pacific Islander alone (B03002)"),
    "not Hispanic, American Indian/Alaska Native alone (B03002)":
        N_("not Hispanic, American Indian/Alaska Native alone (B03002)"),
    "total population (B03002)": N_("total population (B03002)"),
    "no comparable census category": N_("no comparable census category"),
}


def census_category(text: str | None) -> str:
    """A benchmark's census category as the reader's language says it (unknown texts as stored)."""
    return _(_CENSUS_CATEGORY[text]) if text in _CENSUS_CATEGORY else (text or "")


# Benchmark views of the Disparities analysis.
_VIEW: Mapping[str, str] = {
    "all_stops_county": N_("All stops in the county"),
    "residents_county": N_("County residents only"),
    "all_stops_zip": N_("Stops located in the ZIP code"),
}

# The measures of mart_data_quality (sql/marts/refresh.sql), as the Data page shows them.
_QUALITY: Mapping[str, str] = {
    "charges (rows)": N_("charges (rows)"),
    "stops": N_("stops"),
    "charges without location": N_("charges without location"),
    "charges without ZIP5": N_("charges without ZIP code"),
    "charges located outside the county": N_("charges located outside the county"),
    "charges with race OTHER or missing": N_("charges with race OTHER or missing"),
    "charges with gender unknown": N_("charges with gender unknown"),
    "stops with search fields recorded": N_("stops with search fields recorded"),
    "quarantined rows (all loads)": N_("rows set aside as unreadable (all loads)"),
}

_UNKNOWN = {"(no ZIP)": N_("(no ZIP code)"), "(unknown)": N_("(unknown)"), "(none recorded)": N_("(none recorded)"),
            "All stops": N_("All stops")}


def race(code: str | None) -> str:
    return _(_RACE.get(code or "OTHER", code or ""))


def gender(code: str | None) -> str:
    return _(_GENDER.get(code or "U", code or ""))


def outcome(code: str | None) -> str:
    return _(_OUTCOME.get(code or "", code or ""))


def outcome_short(code: str) -> str:
    """'Citation' / 'Cita' without the parenthesis (for sentences)."""
    return outcome(code).split(" (")[0]


def view(code: str) -> str:
    return _(_VIEW.get(code, code))


def acs_category(race_code: str) -> str:
    return _(RESIDENT_CATEGORY[race_code][1])


def exclusive_category(race_code: str) -> str:
    return _(EXCLUSIVE_CATEGORY[race_code])


def district_short(name: str | None) -> str:
    """'4th District, Wheaton' -> '4th Wheaton' (narrow screens, chart labels)."""
    if not name or name == "(unknown)":
        return _("(unknown)")
    if name.startswith("Headquarters"):
        return _("HQ / Special Operations")
    m = re.match(r"^(\d)\w\w District, (.*)$", name)
    return _("District {n}, {place}").format(n=m.group(1), place=m.group(2)) if m else name


# pipeline_runs.status values (pipeline/runlog.py).
# `repair` (not a load) writes "repaired" or, on an intact curated zone, "verified".
_RUN_STATUS: Mapping[str, str] = {"success": N_("success"), "failed": N_("failed"), "running": N_("running"),
                                  "abandoned": N_("abandoned"), "repaired": N_("repaired"), "verified": N_("verified")}


def run_status(status: str | None) -> str:
    return _(_RUN_STATUS.get(status or "", status or ""))


# pipeline_runs.command and .source values (pipeline/cli.py, pipeline/extract/*: Source.name).
_RUN_COMMAND: Mapping[str, str] = {"run": N_("daily update"), "backfill": N_("full load")}
_RUN_SOURCE: Mapping[str, str] = {"socrata": N_("the county's portal"), "file": N_("a file"),
                                  "sample": N_("the bundled sample")}


def run_command(command: str | None) -> str:
    """A run's command as a reader says it ('full load' for ``backfill``); unknown values as stored."""
    return _(_RUN_COMMAND[command]) if command in _RUN_COMMAND else (command or "–")


def run_source(source: str | None) -> str:
    return _(_RUN_SOURCE[source]) if source in _RUN_SOURCE else (source or "–")


def run_kind(command: str | None, source: str | None) -> str:
    """'full load from the bundled sample' / 'carga completa desde la muestra incluida'."""
    return _("{command} from {source}").format(command=run_command(command), source=run_source(source))


def quality_measure(name: str) -> str:
    return _(_QUALITY.get(name, name))


def placeholder(value: str) -> str:
    """The SQL's stand-ins for a missing value ('(no ZIP)', '(unknown)'...), translated."""
    return _(_UNKNOWN[value]) if value in _UNKNOWN else value


def dimension_value(dim: str, value: str | None) -> str:
    """A label of queries.DIMENSIONS ``dim`` as a reader sees it."""
    if value is None:
        return ""
    if dim == "race":
        return race(value)
    if dim == "gender":
        return gender(value)
    if dim == "outcome":
        return outcome(value)
    if dim == "district":
        return district_short(value) if value != "(unknown)" else placeholder(value)
    if dim == "reason":
        return reasons.label(value)
    if dim == "month" and len(value) == 6 and value.isdigit():
        return fmt_month(date(int(value[:4]), int(value[4:]), 1))
    return placeholder(value)
