"""Data-quality caveats, as data (shares with Wilson CIs per stop year) and as text.

Every number here is a share of **stops** (not charges), per stop year, from
``sql/analysis/caveat_counts.sql``; the text-only caveats (year null, no numbers) carry the known
limits that no column can measure: under-recorded stops, race as perceived by the officer.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import pandas as pd

from .stats import AnalysisResult, proportion, wilson_interval


def N_(text: str) -> str:
    """Marks a text for the dashboard's translation catalogue (Babel extracts N_ calls); no effect here."""
    return text


NAME: Final = "caveats"
COLUMNS: Final = ["caveat", "stop_year", "numerator", "denominator", "share", "share_low", "share_high",
                  "text", "computed_at"]

# caveat id -> (numerator column, denominator column, text)
MEASURES: Final[dict[str, tuple[str, str, str]]] = {
    "race_missing": ("race_missing", "stops", N_("Stops with no race recorded: left out of every by-race figure.")),
    "race_other": ("race_other", "stops",
                   N_("Stops with race OTHER: no census counterpart, so no per-resident rate; a changing OTHER "
                   "share over the years changes the other groups' shares too.")),
    "no_location": ("no_location", "stops",
                    N_("Stops with no coordinates (missing or 0): no ZIP5, so they are absent from ZIP maps "
                    "and ZIP rates (often in 2012-2016 rows).")),
    "no_zip5": ("no_zip5", "stops", N_("Stops without a ZIP5 (no coordinates, or located outside the county).")),
    "district_headquarters": ("district_headquarters", "stops",
                              N_("Stops by Headquarters and Special Operations: not a geographic district.")),
    "district_missing": ("district_missing", "stops", N_("Stops with no district.")),
    "time_missing": ("time_missing", "stops", N_("Stops with no time of stop: not usable in the veil of darkness test.")),
    "no_seq_id": ("no_seq_id", "stops",
                  N_("Stops from files without SeqID (2012-2016 exports): charges grouped into stops by date, "
                  "time, place, driver and vehicle (see docs/METHODS.md).")),
    "search_fields_recorded": ("search_recorded", "stops",
                               N_("Stops whose rows carry search fields; search and hit rates use only these.")),
    "charges_per_stop": ("charges", "stops",
                         N_("Charges per stop (numerator = charges): every rate here counts stops, never charges.")),
}

LABELS: Final[dict[str, str]] = {
    "race_missing": N_("Race missing"), "race_other": N_("Race OTHER"), "no_location": N_("No coordinates"),
    "no_zip5": N_("No ZIP5"), "district_headquarters": N_("Headquarters (no district)"),
    "district_missing": N_("District missing"), "time_missing": N_("Time missing"),
    "no_seq_id": N_("No SeqID (fallback stop rule)"), "search_fields_recorded": N_("Search fields recorded"),
    "charges_per_stop": N_("Charges per stop"),
}

TEXT_CAVEATS: Final[dict[str, str]] = {
    "race_perceived": N_(
        "Race is recorded by the officer as perceived, not self-reported, and in exclusive categories "
        "(WHITE, BLACK, HISPANIC, ASIAN, NATIVE AMERICAN, OTHER) that differ from the census's."
    ),
    "under_recording": N_(
        "Not every stop is in the data: the County's Office of Legislative Oversight (July 2021) reported "
        "that an unknown number of MCPD stops from 2007 to January 2021 (warnings handed out as business "
        "cards under the police union agreement) were never recorded. Counts for those years are too low, "
        "and not necessarily equally so for every group."
    ),
    "residents_not_drivers": N_(
        "Per-resident rates divide by people who live here, not by people who drive here: many stopped "
        "drivers live elsewhere, and groups differ in how much and where they drive. Benchmark, not proof."
    ),
    "acs_categories": N_(
        "County rates use ACS 2013-2017 table B03002 (non-Hispanic White/Black/Asian alone and Hispanic of "
        "any race), which matches the stop data's exclusive categories. ZIP rates use race-alone counts that "
        "include Hispanic people, so ZIP figures by race are approximate (White most of all)."
    ),
    "search_fields_recent": N_(
        "Search fields (conducted, reason, disposition) are published only for recent years; the outcome "
        "test uses discretionary searches (not 'Incident to Arrest') of stops with those fields."
    ),
}
SAMPLE_CAVEAT: Final = N_(
    "This warehouse holds the bundled sample (a small subset of real rows from public copies), not the "
    "full portal data: counts are far below the real ones and per-resident rates are only meaningful as "
    "ratios between groups; most tests lack the data to run."
)


def data_quality_caveats(counts: pd.DataFrame, has_sample_rows: bool = False) -> AnalysisResult:
    """``caveat_counts.sql`` rows (one per stop_year) -> caveat rows per year plus an all-years row."""
    rows: list[dict[str, object]] = []
    if counts is not None and len(counts):
        c = counts.copy()
        total = c.drop(columns=["stop_year"]).sum(numeric_only=True)
        total["stop_year"] = None
        frames = [c, pd.DataFrame([total])]
        c = pd.concat(frames, ignore_index=True)
        for caveat, (num, den, text) in MEASURES.items():
            k = pd.to_numeric(c[num], errors="coerce").fillna(0).to_numpy(float)
            n = pd.to_numeric(c[den], errors="coerce").fillna(0).to_numpy(float)
            if caveat == "charges_per_stop":  # a ratio, not a proportion: no Wilson interval
                share, low, high = proportion(k, n), np.full(len(k), np.nan), np.full(len(k), np.nan)
            else:
                share = proportion(k, n)
                low, high = wilson_interval(k, n)
            for i, year in enumerate(c["stop_year"]):
                rows.append({"caveat": caveat, "stop_year": year, "numerator": k[i], "denominator": n[i],
                             "share": share[i], "share_low": low[i], "share_high": high[i], "text": text})
    for caveat, text in TEXT_CAVEATS.items():
        rows.append({"caveat": caveat, "stop_year": None, "text": text})
    if has_sample_rows:
        rows.append({"caveat": "bundled_sample", "stop_year": None, "text": SAMPLE_CAVEAT})
    table = pd.DataFrame(rows)
    for col in COLUMNS:
        if col not in table.columns:
            table[col] = np.nan
    table["computed_at"] = pd.NaT
    table["stop_year"] = pd.to_numeric(table["stop_year"], errors="coerce").astype("Int64")
    return AnalysisResult(NAME, True, "", table[COLUMNS])
