"""Honest synthetic Montgomery County "Traffic Violations" rows at county scale.

    SYNTHETIC DATA — resampled from real sample rows; not real stops.

The full Socrata file (4mse-ku6q, 2,057,983 charge rows on 2025-11-01) cannot be obtained here, so
scale benchmarks use rows made by this module. They look like the portal's CSV export (or the SODA
API's JSON) and have the published full-file marginals, but they are not real stops.

How a stop is made (all vectorised with numpy; rendering and joining with pyarrow.compute):

1. **Stop template = one real sample row** (``/work/shared/data/traffic_violations/*.csv``, or
   ``data/sample/*.csv[.gz]`` when the shared folder is absent). The template supplies the
   stop-level fields as one tuple: SubAgency, Location + Latitude/Longitude/Geolocation, time of
   day, the ten Yes/No flags, vehicle (State, VehicleType, Year, Make, Model, Color), driver (Race,
   Gender, Driver City/State, DL State), Arrest Type, and the first charge (Description, Charge,
   Article, Contributed To Accident, Violation Type). Templates are drawn with *raking weights*
   (iterative proportional fitting on the ~18k sample rows) so that race, gender, district and the
   first charge's violation type match the published full-file shares, while the real
   associations inside a sample row (race x district x vehicle x driver city x charge) are kept.
2. **Date** is re-drawn: a day in 2012-01-01..2025-11-01 with weight
   annual volume(year) x month factor x weekday factor. Month factors come from the one sample that
   is spread at random over 2012-2016 (tolu238), shrunk 50 % toward flat; weekday factors from all
   2012-2016 sample rows. Hour/minute of day is the template's real time. The annual volume trend is
   an ASSUMPTION (see ``ANNUAL_ROWS_ASSUMED``): no per-year counts of the full file were found.
   NOTE: because date and time are drawn independently, the synthetic rows carry no
   veil-of-darkness signal; do not analyse them.
3. **Charges per stop** follow the empirical distribution of charges per SeqID in the two samples
   that have SeqID (2019: 439 rows / 297 stops = 1.48; 2025: 567 / 354 = 1.60; pooled 1.55). This is
   derived, not assumed; it may be low if those extracts cut stops at their edges. All charges of a
   stop share SeqID, date, time, location, driver and vehicle. Extra charges get a violation type
   from P(type | stop outcome) and a real (Description, Charge, Article) tuple of that type.
4. **Stop outcome and search fields** (stop-level, like the real file): the outcome
   (Warning/Citation/Arrest/SERO) and the violation types come from one joint table fitted by IPF to
   the published Search Outcome and Violation Type row counts, seeded with the 2025 sample's
   cross-tab. The whole search block is blank for 38.9 % of stops (published Search Outcome missing
   801,209 rows; the 2025 sample shows the blanks in every year, so they are drawn at random, not by
   era). Searches: 4.34 % of rows (89,312 with a Search Disposition), 90 % of Arrest stops (so that
   all 51,592 "Incident to Arrest" searches fall on arrests), the rest spread over other stops; the
   disposition / reason / type mixes are the published ones *including* their odd spellings
   ("nothing", "marijuana", "PC", ...). Search Reason For Stop = the stop's first charge code.
   Search Arrest Reason = "Stop" on searched arrest stops (the only value seen in the samples;
   ASSUMPTION that other searched stops leave it blank).
5. **Coordinates**: missing and 0/0 rates are measured per year in the samples (pooled), linearly
   interpolated for years without a sample (2017-18, 2020-24), and applied per stop; a template
   without coordinates whose stop should have them borrows Location text + coordinates from a
   random located sample row of the same district (hot-deck). NOTE: the samples' missing rates are
   clustered (Sep 2014-Jan 2015 and Mar-Jun 2016 are ~95 % missing), so 2014 and 2016 come out high.
6. **Malformed lines** at 1 in 20,000 rows by default (``malformed_rate``), counted by kind in the
   summary: ``bad_date`` ("13/45/2019"), ``unterminated_quote`` (Location opens a quote that never
   closes, so a CSV reader that allows newlines in quoted fields also swallows the following
   record(s)), ``too_few_fields`` (the line is cut after 5-40 fields). JSON output has
   ``bad_date`` and ``missing_fields`` (keys cut off) instead; it stays valid JSON.

Marking. Every output says it is synthetic:
- **SeqID**: UUID-shaped version-4 ids whose first group is all zeros, ``00000000-xxxx-4xxx-yxxx-
  xxxxxxxxxxxx``. Real SeqIDs are random v4 UUIDs, so a real one starts with eight zeros with
  probability 2^-32; test ``seq_id.startswith("00000000-")`` to recognise synthetic rows. (The
  other fields, including Agency "MCP" and Location, stay real-looking on purpose.)
- **JSON ``:id``**: ``row-synt_xxxx_xxxx`` (Socrata's row-id shape; unique per row by construction).
- A sidecar ``<out>.SYNTHETIC.txt`` (statement, seed, rows, generator version, sources + sha256,
  assumptions, summary), and the summary dict / CLI output carry ``"synthetic": true``.

Layout: the portal CSV export's current 43 columns, title-case headers, dates MM/DD/YYYY, times
HH:MM:SS, Yes/No flags, ``Contributed To Accident`` as ``false``/``true`` (a Socrata checkbox column:
the 2019 export writes lowercase false/true and pandas reads the full 2025 export's column as bool),
Geolocation ``"(lat, lon)"``, LF line ends, fields quoted only when needed. JSON = the SODA API's
shape: snake-case keys, ``:id``, ``:created_at``, ``:updated_at`` first, text/number/date values as
strings, null fields omitted (as SODA does), geolocation
``{"latitude": "..", "longitude": "..", "human_address": "{...}"}`` (as in
tests/fixtures/api_rows.json), and ``contributed_to_accident`` as a JSON boolean (SODA returns
checkbox columns as true/false, as that fixture does too; set ``JSON_CHECKBOX_AS_STRING = True``
before the first call for "true"/"false" strings). Records are separated by "\n," like SODA's
output. About 3 % of stops get an ``:updated_at`` later than ``:created_at`` (edited rows, for
incremental-load tests).

Determinism: the output depends only on (seed, rows, format options, sample files): chunk ``c``
uses ``np.random.default_rng([seed, c])`` with a fixed chunk size, malformed positions use their own
stream, and gzip is written with mtime 0. Memory is bounded: rows are made and written
``CHUNK_ROWS`` at a time, so 20M rows never sit in memory together.

CLI::

    python -m bench.generate --rows 2000000 --seed 42 --out bench/out/synthetic_2m.csv
    python -m bench.generate --rows 100000 --format json --out bench/out/s.json [--jsonl] [--gzip]
"""

from __future__ import annotations

import argparse
import functools
import gzip as gzip_module
import hashlib
import json
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

GENERATOR_VERSION = "1.0.0"
STATEMENT = "SYNTHETIC DATA — resampled from real sample rows; not real stops"
SEQID_PREFIX = "00000000-"
ROWID_PREFIX = "row-synt_"
CHUNK_ROWS = 200_000  # part of the determinism contract: changing it changes the output
RENDER_ROWS = 50_000  # rows rendered to text at a time (memory only; does not change the output)
DEFAULT_MALFORMED_RATE = 1 / 20_000
JSON_CHECKBOX_AS_STRING = False

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_SAMPLES = REPO_ROOT.parent / "shared" / "data" / "traffic_violations"  # beside the repository
FALLBACK_SAMPLES = REPO_ROOT / "data" / "sample"
PUBLISHED_FIGURES = "../shared/data/reference_figures/mcpd_published_counts.md"  # cited, from the repository root

# The portal CSV export's current layout (43 columns, this order) and the SODA API field names.
CSV_COLUMNS = [
    "SeqID", "Date Of Stop", "Time Of Stop", "Agency", "SubAgency", "Description", "Location",
    "Latitude", "Longitude", "Accident", "Belts", "Personal Injury", "Property Damage", "Fatal",
    "Commercial License", "HAZMAT", "Commercial Vehicle", "Alcohol", "Work Zone",
    "Search Conducted", "Search Disposition", "Search Outcome", "Search Reason",
    "Search Reason For Stop", "Search Type", "Search Arrest Reason", "State", "VehicleType", "Year",
    "Make", "Model", "Color", "Violation Type", "Charge", "Article", "Contributed To Accident",
    "Race", "Gender", "Driver City", "Driver State", "DL State", "Arrest Type", "Geolocation",
]
SODA_FIELDS = [
    "seqid", "date_of_stop", "time_of_stop", "agency", "subagency", "description", "location",
    "latitude", "longitude", "accident", "belts", "personal_injury", "property_damage", "fatal",
    "commercial_license", "hazmat", "commercial_vehicle", "alcohol", "work_zone",
    "search_conducted", "search_disposition", "search_outcome", "search_reason",
    "search_reason_for_stop", "search_type", "search_arrest_reason", "state", "vehicletype", "year",
    "make", "model", "color", "violation_type", "charge", "article", "contributed_to_accident",
    "race", "gender", "driver_city", "driver_state", "dl_state", "arrest_type", "geolocation",
]
FLAG_COLUMNS = [
    "Accident", "Belts", "Personal Injury", "Property Damage", "Fatal", "Commercial License",
    "HAZMAT", "Commercial Vehicle", "Alcohol", "Work Zone",
]
TEMPLATE_TEXT_COLUMNS = [  # copied as-is from the stop's template row
    *FLAG_COLUMNS, "State", "VehicleType", "Make", "Model", "Color",
    "Driver City", "Driver State", "DL State", "Arrest Type", "Time Of Stop",
]

# ---------------------------------------------------------------------------------------------
# Published full-file figures. Source for every number in this block:
# /work/shared/data/reference_figures/mcpd_published_counts.md, section A (a notebook run on the
# full export, 2,057,983 rows through 2025-11-01: zhizhunbao/cst8502-ml-project-final-project
# @36a2894, TrafficViolationAnalysis_Output.md). Spellings of the district names and the odd
# search values are as printed in that notebook output.
# ---------------------------------------------------------------------------------------------
PUBLISHED_TOTAL_ROWS = 2_057_983
RACES = ["WHITE", "BLACK", "HISPANIC", "OTHER", "ASIAN", "NATIVE AMERICAN"]
RACE_COUNTS = [687_705, 652_464, 461_558, 136_768, 115_968, 3_520]
GENDERS = ["M", "F", "U"]
GENDER_COUNTS = [1_385_905, 668_567, 3_511]
DISTRICTS = [
    "4th District, Wheaton",
    "3rd District, Silver Spring",
    "2nd District, Bethesda",
    "6th District, Gaithersburg / Montgomery Village",
    "5th District, Germantown",
    "1st District, Rockville",
    "Headquarters and Special Operations",
]
DISTRICT_COUNTS = [447_698, 372_089, 323_290, 260_216, 244_108, 239_625, 170_947]
ODD_SUBAGENCIES = {"W15": 7, "S15": 3}  # real oddities in the published file
VIOLATION_TYPES = ["Warning", "Citation", "ESERO", "SERO"]
VIOLATION_TYPE_COUNTS = [1_082_088, 883_687, 91_306, 902]
OUTCOMES = ["Warning", "Citation", "Arrest", "SERO"]  # Search Outcome = the stop's outcome
OUTCOME_COUNTS = [633_691, 523_988, 62_634, 36_458]
SEARCH_OUTCOME_MISSING = 801_209
SEARCH_REASON_FOR_STOP_MISSING = 782_221
SEARCH_DISPOSITIONS = {
    "Nothing": 38_752, "Contraband Only": 22_814, "Property Only": 14_763,
    "Contraband and Property": 12_964, "DUI": 12, "marijuana": 4, "nothing": 3,
}
SEARCHED_ROWS = sum(SEARCH_DISPOSITIONS.values())  # 89,312 = 2,057,983 - 1,968,671 missing
INCIDENT_TO_ARREST = 51_592
OTHER_SEARCH_REASONS = {
    "Probable Cause": 21_676, "Consensual": 12_409, "K-9": 1_969, "Other": 1_119,
    "Exigent Circumstances": 535, "Probable Cause for CDS": 5, "plain view marijuana": 3,
    "Arrest/Tow": 3, "DUI": 1,
}
SEARCH_TYPES = {
    "Both": 66_906, "Property": 11_952, "Person": 10_436, "car": 4, "PC": 3,
    "Search Incidental": 3,
}
DESCRIPTION_MISSING, LOCATION_MISSING = 10, 4
P_SEARCH_GIVEN_ARREST = 0.90  # ASSUMPTION; must be >= 51,592 / 62,634 = 0.82

# ASSUMPTION (no per-year counts of the full file were found): annualised rows per year, in
# thousands, then scaled so that the total over 2012-01-01..2025-11-01 is 2,057,983. Anchors seen in
# public write-ups: ">1.5MM rows" in Jan 2021 (swang30/Traffic_Violation_Analyzer README), "~1.79
# million" rows in a 2022 RPubs note, 2,049,900 rows on 2025-10-09 (RPubs 1357047) and 2,057,983
# on 2025-11-01; the tolu238 sample (random over 2012-2016) is flat over 2012-2015; OLO 2023 says
# stops fell after 2020 (mcpd_published_counts.md section D).
ANNUAL_ROWS_ASSUMED = {
    2012: 180, 2013: 185, 2014: 190, 2015: 190, 2016: 185, 2017: 180, 2018: 175, 2019: 170,
    2020: 115, 2021: 95, 2022: 85, 2023: 85, 2024: 90, 2025: 90,
}
FIRST_DAY = np.datetime64("2012-01-01")
LAST_DAY = np.datetime64("2025-11-01")
EXPORT_TS_MS = int(np.datetime64("2025-11-02T08:00:00", "ms").astype(np.int64))
P_EDITED_LATER = 0.03  # ASSUMPTION: share of stops whose :updated_at is after :created_at

# Used only when no sample has SeqID (fallback); same shape as the measured pmf.
FALLBACK_CHARGES_PMF = {1: 435, 2: 141, 3: 37, 4: 21, 5: 10, 6: 6, 8: 1}

ROWID_ALPHABET = np.frombuffer(b"23456789abcdefghijkmnpqrstuvwxyz", dtype=np.uint8)
HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)


# =============================================================================================
# The real sample pool
# =============================================================================================
@dataclass
class Pool:
    """Cleaned real sample rows (the resampling pool) and the profiles measured on them."""

    n: int
    cols: dict[str, list]  # layout column -> list of Optional[str], length n
    src_year: np.ndarray  # year of the sample row's own stop date
    district: np.ndarray  # index into DISTRICTS
    race: np.ndarray
    gender: np.ndarray
    vt: np.ndarray  # index into VIOLATION_TYPES
    located: np.ndarray  # has real non-zero coordinates
    vyear: np.ndarray  # vehicle year as int, -1 if not a plausible year
    charges_pmf: np.ndarray  # P(k charges), index k
    charges_pmf_source: str
    outcome_vt_seed: np.ndarray  # 4x4 cross-tab seed (OUTCOMES x VIOLATION_TYPES)
    month_factor: np.ndarray  # 12, mean 1
    weekday_factor: np.ndarray  # 7 (Mon..Sun), mean 1
    coord_missing_by_year: dict[int, float]
    coord_zero_by_year: dict[int, float]
    coord_rates_measured: dict[int, tuple[int, float, float]]
    files: list[tuple[str, int, str]] = field(default_factory=list)  # (path, rows, sha256)


def _sample_files(samples_dir: Path | None) -> list[Path]:
    dirs = [Path(samples_dir)] if samples_dir else [SHARED_SAMPLES, FALLBACK_SAMPLES]
    for d in dirs:
        files = sorted([*d.glob("*.csv"), *d.glob("*.csv.gz")]) if d.is_dir() else []
        if files:
            return files
    raise FileNotFoundError(f"no sample CSVs in {', '.join(map(str, dirs))}")


def _norm_district(value: str) -> int:
    v = " ".join(value.replace("district", "District").split())
    for i, d in enumerate(DISTRICTS):
        if v.lower() == d.lower():
            return i
    return -1


def _norm_time(value: str) -> str | None:
    parts = value.strip().split(":")
    if len(parts) not in (2, 3) or not all(p.isdigit() for p in parts):
        return None
    h, m = int(parts[0]), int(parts[1])
    s = int(parts[2]) if len(parts) == 3 else 0
    if h > 23 or m > 59 or s > 59:
        return None
    return f"{h:02d}:{m:02d}:{s:02d}"


def _map_unique(series: pd.Series, fn) -> pd.Series:
    return series.map({v: fn(v) for v in series.unique()})


@functools.lru_cache(maxsize=4)
def load_pool(samples_dir: str | None = None) -> Pool:
    """Read, harmonise and clean the real sample rows. Cached per samples_dir."""
    files = _sample_files(Path(samples_dir) if samples_dir else None)
    frames, file_info, stop_sizes, seed_xtab = [], [], [], np.zeros((4, 4))
    for path in files:
        raw = path.read_bytes()
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
        file_info.append((str(path), len(df), hashlib.sha256(raw).hexdigest()))
        df = df.rename(columns={"Manufacture Year": "Year"})
        df = df.loc[:, [c for c in df.columns if not c.startswith("Unnamed")]]
        if "SeqID" in df.columns and df["SeqID"].ne("").all():
            stop_sizes.extend(df.groupby("SeqID").size().tolist())
            if "Search Outcome" in df.columns:
                for o, v in zip(df["Search Outcome"], df["Violation Type"]):
                    if o in OUTCOMES and v in VIOLATION_TYPES:
                        seed_xtab[OUTCOMES.index(o), VIOLATION_TYPES.index(v)] += 1
        df["_src"] = path.name
        frames.append(df)
    df = pd.concat(frames, ignore_index=True).fillna("")
    for col in CSV_COLUMNS:
        if col not in df.columns:
            df[col] = ""
    df = df.apply(lambda s: s.str.strip() if s.name != "_src" else s)

    # --- cleaning: drop rows whose fields are visibly shifted (e.g. Race == "No") -------------
    date = pd.to_datetime(df["Date Of Stop"], format="mixed", errors="coerce")
    tod = _map_unique(df["Time Of Stop"], _norm_time)
    district = _map_unique(df["SubAgency"], _norm_district)
    contrib = df["Contributed To Accident"].str.lower().map(
        {"yes": "true", "true": "true", "no": "false", "false": "false"})
    lat = pd.to_numeric(df["Latitude"], errors="coerce")
    lon = pd.to_numeric(df["Longitude"], errors="coerce")
    coords_ok = (lat.notna() | df["Latitude"].eq("")) & (lon.notna() | df["Longitude"].eq(""))
    ok = (
        df["Race"].isin(RACES) & df["Gender"].isin(GENDERS) & df["Violation Type"].isin(VIOLATION_TYPES)
        & date.notna() & tod.notna() & district.ge(0) & contrib.notna() & coords_ok
    )
    df, date, tod, district, contrib = df[ok], date[ok], tod[ok], district[ok], contrib[ok]
    lat, lon = lat[ok].astype(float), lon[ok].astype(float)
    df = df.reset_index(drop=True)
    date, tod, district, contrib = (s.reset_index(drop=True) for s in (date, tod, district, contrib))
    lat, lon = lat.reset_index(drop=True), lon.reset_index(drop=True)

    has_lat = df["Latitude"].ne("") & df["Longitude"].ne("")
    zero = has_lat & lat.eq(0) & lon.eq(0)
    located = has_lat & ~zero
    df.loc[~located, ["Latitude", "Longitude", "Geolocation"]] = ""
    # The augmented 2025 sample dropped Geolocation and Article: rebuild / impute them.
    geo_missing = located & df["Geolocation"].eq("")
    df.loc[geo_missing, "Geolocation"] = "(" + df["Latitude"] + ", " + df["Longitude"] + ")"
    no_article_col = df["_src"].str.contains("augmented")
    if no_article_col.any():
        known = df[df["Article"].ne("") & ~no_article_col]
        art_known = (known.groupby(["Charge", "Article"]).size().reset_index(name="n")
                     .sort_values(["Charge", "n", "Article"], ascending=[True, False, True])
                     .drop_duplicates("Charge").set_index("Charge")["Article"])  # most common, ties by name
        df.loc[no_article_col, "Article"] = (
            df.loc[no_article_col, "Charge"].map(art_known).fillna("Transportation Article"))
    df["Time Of Stop"] = tod
    df["Contributed To Accident"] = contrib
    vyear = pd.to_numeric(df["Year"], errors="coerce")
    vyear = vyear.where(vyear.between(1950, 2030)).fillna(-1).astype(int).to_numpy()

    # --- profiles ------------------------------------------------------------------------
    src_year = date.dt.year.to_numpy()
    old = src_year <= 2016
    wd = np.bincount(date.dt.day_of_week.to_numpy()[old], minlength=7).astype(float)
    weekday_factor = wd / wd.mean() if wd.sum() else np.ones(7)
    spread = df["_src"].str.contains("tolu238").to_numpy()
    mc = np.bincount(date.dt.month.to_numpy()[spread] - 1, minlength=12).astype(float)
    if mc.sum():
        mc = 0.5 * mc / mc.mean() + 0.5  # shrink 50 % toward flat: ~80 rows per month only
    else:
        mc = np.ones(12)
    month_factor = mc / mc.mean()

    measured = {}
    for y in sorted(set(src_year.tolist())):
        m = src_year == y
        measured[int(y)] = (int(m.sum()), float((~has_lat[m]).mean()), float(zero[m].mean()))
    years = list(range(2012, 2026))
    ys = np.array(sorted(measured))
    miss = np.interp(years, ys, [measured[y][1] for y in ys])
    zer = np.interp(years, ys, [measured[y][2] for y in ys])

    sizes = np.bincount(np.asarray(stop_sizes, dtype=int)) if stop_sizes else None
    if sizes is None or sizes.sum() == 0:
        sizes = np.zeros(max(FALLBACK_CHARGES_PMF) + 1)
        for k, c in FALLBACK_CHARGES_PMF.items():
            sizes[k] = c
        pmf_source = "fallback table (no sample with SeqID found)"
    else:
        pmf_source = f"{int(sizes.sum())} real stops (SeqID groups) in the samples with SeqID"
    sizes = sizes.astype(float)
    sizes[0] = 0

    cols = {c: [v if v != "" else None for v in df[c].tolist()] for c in CSV_COLUMNS}
    return Pool(
        n=len(df), cols=cols, src_year=src_year.astype(np.int64), district=district.to_numpy(np.int64),
        race=df["Race"].map(RACES.index).to_numpy(np.int64),
        gender=df["Gender"].map(GENDERS.index).to_numpy(np.int64),
        vt=df["Violation Type"].map(VIOLATION_TYPES.index).to_numpy(np.int64),
        located=located.to_numpy(), vyear=vyear, charges_pmf=sizes / sizes.sum(),
        charges_pmf_source=pmf_source, outcome_vt_seed=seed_xtab,
        month_factor=month_factor, weekday_factor=weekday_factor,
        coord_missing_by_year=dict(zip(years, miss.tolist())),
        coord_zero_by_year=dict(zip(years, zer.tolist())),
        coord_rates_measured=measured, files=file_info,
    )


# =============================================================================================
# Fitting: raking weights for templates, the outcome x violation-type joint
# =============================================================================================
def _shares(counts) -> np.ndarray:
    a = np.asarray(counts, dtype=float)
    return a / a.sum()


def rake_weights(dims: list[tuple[np.ndarray, np.ndarray]], n: int, iters: int = 200) -> np.ndarray:
    """Iterative proportional fitting of row weights so each (codes, target shares) margin fits."""
    w = np.ones(n)
    for _ in range(iters):
        for codes, target in dims:
            cur = np.bincount(codes, weights=w, minlength=len(target))
            cur = cur / cur.sum()
            w = w * np.divide(target, cur, out=np.zeros_like(target), where=cur > 0)[codes]
    return w / w.sum()


def ipf_2d(seed: np.ndarray, row_target: np.ndarray, col_target: np.ndarray, iters: int = 500) -> np.ndarray:
    joint = seed.astype(float) + 0.5
    for _ in range(iters):
        joint *= (row_target / joint.sum(1))[:, None]
        joint *= (col_target / joint.sum(0))[None, :]
    return joint / joint.sum()


@dataclass
class Model:
    pool: Pool
    template_cdf: np.ndarray
    charges_cdf: np.ndarray
    p_outcome_given_vt: np.ndarray  # [vt, outcome]
    p_vt_given_outcome: np.ndarray  # [outcome, vt]
    vt_pools: list[np.ndarray]  # pool row indices per violation type (SERO -> ESERO rows)
    located_by_district: list[np.ndarray]
    day_cdf: np.ndarray
    day_year: np.ndarray
    day_epoch: np.ndarray
    miss_by_year: np.ndarray  # index year-2012
    zero_by_year: np.ndarray
    p_search_non_arrest: float
    shares: dict = field(default_factory=dict)


@functools.lru_cache(maxsize=4)
def build_model(samples_dir: str | None = None) -> Model:
    pool = load_pool(samples_dir)
    race_t, gender_t, district_t = _shares(RACE_COUNTS), _shares(GENDER_COUNTS), _shares(DISTRICT_COUNTS)
    vt_t = _shares(VIOLATION_TYPE_COUNTS)
    present = np.bincount(pool.vt, minlength=4) > 0  # no SERO row in the samples
    vt_first_t = np.where(present, vt_t, 0)
    vt_first_t = vt_first_t / vt_first_t.sum()
    w = rake_weights([(pool.race, race_t), (pool.gender, gender_t), (pool.district, district_t),
                      (pool.vt, vt_first_t)], pool.n)
    template_cdf = np.cumsum(w)
    template_cdf[-1] = 1.0

    joint = ipf_2d(pool.outcome_vt_seed, _shares(OUTCOME_COUNTS), vt_t)  # [outcome, vt]
    p_o_vt = (joint / joint.sum(0)[None, :]).T
    p_vt_o = joint / joint.sum(1)[:, None]

    vt_pools = [np.flatnonzero(pool.vt == v) for v in range(4)]
    vt_pools[3] = vt_pools[3] if len(vt_pools[3]) else vt_pools[2]  # SERO wording from ESERO rows
    located_all = np.flatnonzero(pool.located)
    located_by_district = [
        (idx if len(idx) else located_all)
        for idx in (np.flatnonzero(pool.located & (pool.district == d)) for d in range(len(DISTRICTS)))
    ]

    days = np.arange(FIRST_DAY, LAST_DAY + 1)
    ymd = days.astype("datetime64[D]")
    years = ymd.astype("datetime64[Y]").astype(int) + 1970
    months = ymd.astype("datetime64[M]").astype(int) % 12
    weekdays = (ymd.astype(np.int64) + 3) % 7  # 1970-01-01 was a Thursday -> Mon=0
    year_days = np.array([366 if (y % 4 == 0) else 365 for y in years])
    wts = (np.array([ANNUAL_ROWS_ASSUMED[y] for y in years]) / year_days
           * pool.month_factor[months] * pool.weekday_factor[weekdays])
    day_cdf = np.cumsum(wts)
    day_cdf /= day_cdf[-1]

    populated = 1 - SEARCH_OUTCOME_MISSING / PUBLISHED_TOTAL_ROWS
    arrest = _shares(OUTCOME_COUNTS)[OUTCOMES.index("Arrest")]
    p_search_populated = SEARCHED_ROWS / PUBLISHED_TOTAL_ROWS / populated
    p_search_non_arrest = (p_search_populated - arrest * P_SEARCH_GIVEN_ARREST) / (1 - arrest)

    charges_cdf = np.cumsum(pool.charges_pmf)
    charges_cdf[-1] = 1.0  # guard against float round-off: a draw can never pass the last k
    yrs = range(2012, 2026)
    return Model(
        pool=pool, template_cdf=template_cdf,
        charges_cdf=charges_cdf, p_outcome_given_vt=p_o_vt, p_vt_given_outcome=p_vt_o,
        vt_pools=vt_pools, located_by_district=located_by_district, day_cdf=day_cdf,
        day_year=years.astype(np.int64), day_epoch=ymd.astype(np.int64),
        miss_by_year=np.array([pool.coord_missing_by_year[y] for y in yrs]),
        zero_by_year=np.array([pool.coord_zero_by_year[y] for y in yrs]),
        p_search_non_arrest=float(p_search_non_arrest),
    )


# =============================================================================================
# Dictionaries: every column is codes into a small table of values, rendered once per format
# =============================================================================================
SEARCH_CONDUCTED = ["Yes", "No"]
DISPOSITION_VALUES = list(SEARCH_DISPOSITIONS)
REASON_VALUES = ["Incident to Arrest", *OTHER_SEARCH_REASONS]
TYPE_VALUES = list(SEARCH_TYPES)
YEAR_BASE = 1900
# A legacy Socrata location column carries an (empty here) address next to the coordinates.
HUMAN_ADDRESS = '{"address": "", "city": "", "state": "", "zip": ""}'
NONE_CODE = {  # code of the empty value in each search dictionary (it sits after the real values)
    "Search Conducted": len(SEARCH_CONDUCTED), "Search Disposition": len(DISPOSITION_VALUES),
    "Search Outcome": len(OUTCOMES), "Search Reason": len(REASON_VALUES), "Search Type": len(TYPE_VALUES),
}
YEAR_STRINGS = [str(y) for y in range(YEAR_BASE, 2032)]


def _csv_field(value: str | None) -> str:
    if value is None:
        return ""
    if any(ch in value for ch in ',"\n\r'):
        return '"' + value.replace('"', '""') + '"'
    return value


def _json_value(key: str, value: str | None) -> str:
    if value is None:
        return ""
    if key == "contributed_to_accident" and not JSON_CHECKBOX_AS_STRING:
        return f',"{key}":{"true" if value == "true" else "false"}'
    return f',"{key}":' + json.dumps(value, ensure_ascii=False)


@dataclass
class Dicts:
    """Raw value tables (None = empty) per layout column; rendered per output format."""

    values: dict[str, list]

    @staticmethod
    def build(model: Model) -> "Dicts":
        p = model.pool
        days = np.arange(FIRST_DAY, LAST_DAY + 1).astype("datetime64[D]").astype(str)
        v: dict[str, list] = {}
        v["Date Of Stop"] = [f"{d[5:7]}/{d[8:10]}/{d[0:4]}" for d in days]
        v["_date_iso"] = [f"{d}T00:00:00.000" for d in days]
        v["Agency"] = ["MCP"]
        v["SubAgency"] = [*DISTRICTS, *ODD_SUBAGENCIES]
        v["Description"] = [*p.cols["Description"], None]
        v["Location"] = [*p.cols["Location"], None]
        for c in ("Latitude", "Longitude"):
            v[c] = [*p.cols[c], "0", None]
        v["Geolocation"] = [*p.cols["Geolocation"], "(0.0, 0.0)", None]
        v["_geo_json"] = [
            *[None if la is None else (la, lo) for la, lo in zip(p.cols["Latitude"], p.cols["Longitude"])],
            ("0.0", "0.0"), None,
        ]
        for c in TEMPLATE_TEXT_COLUMNS:
            v[c] = p.cols[c]
        v["Search Conducted"] = [*SEARCH_CONDUCTED, None]
        v["Search Disposition"] = [*DISPOSITION_VALUES, None]
        v["Search Outcome"] = [*OUTCOMES, None]
        v["Search Reason"] = [*REASON_VALUES, None]
        v["Search Reason For Stop"] = [*p.cols["Charge"], None]
        v["Search Type"] = [*TYPE_VALUES, None]
        v["Search Arrest Reason"] = ["Stop", None]
        v["Year"] = [*p.cols["Year"], *YEAR_STRINGS]
        v["Violation Type"] = VIOLATION_TYPES
        v["Charge"] = p.cols["Charge"]
        v["Article"] = p.cols["Article"]
        v["Contributed To Accident"] = [*p.cols["Contributed To Accident"], "false"]
        v["Race"] = RACES
        v["Gender"] = GENDERS
        return Dicts(v)

    def render_csv(self) -> dict[str, pa.Array]:
        out = {}
        for col in CSV_COLUMNS:
            if col == "SeqID":
                continue
            vals = _memo_map(_csv_field, self.values[col])
            if col == CSV_COLUMNS[-1]:
                vals = [x + "\n" for x in vals]
            out[col] = pa.array(vals, type=pa.string())
        return out

    def render_json(self) -> dict[str, pa.Array]:
        out = {}
        for col, key in zip(CSV_COLUMNS, SODA_FIELDS):
            if col == "SeqID":
                continue
            if col == "Date Of Stop":
                vals = [_json_value(key, x) for x in self.values["_date_iso"]]
            elif col == "Geolocation":
                vals = ["" if x is None else
                        f',"geolocation":{{"latitude":{json.dumps(x[0])},"longitude":{json.dumps(x[1])},'
                        f'"human_address":{json.dumps(HUMAN_ADDRESS)}}}'
                        for x in self.values["_geo_json"]]
            else:
                vals = _memo_map(functools.partial(_json_value, key), self.values[col])
            out[col] = pa.array(vals, type=pa.string())
        return out


def _memo_map(fn, values: list) -> list[str]:
    memo: dict = {}
    return [memo[v] if v in memo else memo.setdefault(v, fn(v)) for v in values]


@functools.lru_cache(maxsize=8)
def rendered_dicts(samples_dir: str | None, fmt: str) -> dict[str, pa.Array]:
    """Value tables of every column rendered for one output format (cached)."""
    dicts = Dicts.build(build_model(samples_dir))
    return dicts.render_csv() if fmt == "csv" else dicts.render_json()


# =============================================================================================
# One chunk of rows: draw codes (numpy), then render with pyarrow
# =============================================================================================
def _fixed_width_strings(mat: np.ndarray) -> pa.StringArray:
    mat = np.ascontiguousarray(mat, dtype=np.uint8)
    n, w = mat.shape
    offsets = np.arange(0, (n + 1) * w, w, dtype=np.int32)
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(mat))


def _bytes_matrix(prefix: bytes, body: np.ndarray, suffix: bytes) -> np.ndarray:
    n = body.shape[0]
    pre = np.broadcast_to(np.frombuffer(prefix, np.uint8), (n, len(prefix)))
    suf = np.broadcast_to(np.frombuffer(suffix, np.uint8), (n, len(suffix)))
    return np.hstack([pre, body, suf])


def _seqids(rng: np.random.Generator, n: int) -> np.ndarray:
    """(n, 36) uint8: 00000000-xxxx-4xxx-yxxx-xxxxxxxxxxxx (v4 layout, synthetic prefix)."""
    b = rng.integers(0, 256, size=(n, 16), dtype=np.uint8)
    b[:, 0:4] = 0
    b[:, 6] = (b[:, 6] & 0x0F) | 0x40
    b[:, 8] = (b[:, 8] & 0x3F) | 0x80
    hexed = np.empty((n, 32), np.uint8)
    hexed[:, 0::2] = HEX[b >> 4]
    hexed[:, 1::2] = HEX[b & 0x0F]
    dash = np.full((n, 1), ord("-"), np.uint8)
    return np.hstack([hexed[:, 0:8], dash, hexed[:, 8:12], dash, hexed[:, 12:16], dash,
                      hexed[:, 16:20], dash, hexed[:, 20:32]])


def _row_ids(global_index: np.ndarray, seed: int) -> np.ndarray:
    """(n, 9) uint8 'xxxx_xxxx' from a bijection of the global row number mod 2^40 (unique)."""
    mult, mod = 0x9E3779B97F4B, 1 << 40  # odd multiplier -> bijection on Z/2^40
    offset = (seed * 0x5851F42D4C95) % mod
    h = (global_index.astype(np.uint64) * np.uint64(mult) + np.uint64(offset)) % np.uint64(mod)
    digits = np.empty((len(h), 8), np.uint8)
    for i in range(7, -1, -1):
        digits[:, i] = ROWID_ALPHABET[(h % np.uint64(32)).astype(np.int64)]
        h //= np.uint64(32)
    sep = np.full((len(h), 1), ord("_"), np.uint8)
    return np.hstack([digits[:, :4], sep, digits[:, 4:]])


def _timestamps(ms: np.ndarray) -> np.ndarray:
    s = np.datetime_as_string(ms.astype("datetime64[ms]"), unit="ms").astype("S23")
    return s.view(np.uint8).reshape(len(ms), 23)


def _draw_cat(rng: np.random.Generator, cdf_rows: np.ndarray) -> np.ndarray:
    """One categorical draw per row of a (n, k) matrix of cumulative probabilities."""
    u = rng.random(cdf_rows.shape[0])[:, None]
    return np.minimum((u > cdf_rows).sum(1), cdf_rows.shape[1] - 1)


def _draw_fixed(rng: np.random.Generator, counts, n: int) -> np.ndarray:
    cdf = np.cumsum(_shares(list(counts)))
    return np.minimum(np.searchsorted(cdf, rng.random(n), side="right"), len(cdf) - 1)


@dataclass
class Chunk:
    codes: dict[str, np.ndarray]  # layout column -> row codes into Dicts.values[col]
    seq: np.ndarray  # (rows, 36) uint8
    created_ms: np.ndarray
    updated_ms: np.ndarray
    stop_year: np.ndarray
    n_stops: int

    def slice(self, a: int, b: int) -> "Chunk":
        return Chunk({k: v[a:b] for k, v in self.codes.items()}, self.seq[a:b], self.created_ms[a:b],
                     self.updated_ms[a:b], self.stop_year[a:b], 0)


def make_chunk(model: Model, rng: np.random.Generator, n_rows: int) -> Chunk:
    p = model.pool
    n_dist = len(DISTRICTS)
    # --- stops -------------------------------------------------------------------------------
    mean_k = float((np.arange(len(model.charges_cdf)) * np.diff(model.charges_cdf, prepend=0)).sum())
    n_draw = int(n_rows / mean_k * 1.1) + 64
    k = np.searchsorted(model.charges_cdf, rng.random(n_draw), side="right")
    while k.sum() < n_rows:  # practically never
        k = np.concatenate([k, np.searchsorted(model.charges_cdf, rng.random(n_draw), side="right")])
    csum = np.cumsum(k)
    s = int(np.searchsorted(csum, n_rows)) + 1
    k = k[:s].copy()
    k[-1] -= int(csum[s - 1] - n_rows)  # trim the last stop to hit n_rows exactly

    tmpl = np.minimum(np.searchsorted(model.template_cdf, rng.random(s), side="right"), p.n - 1)
    day = np.minimum(np.searchsorted(model.day_cdf, rng.random(s), side="right"), len(model.day_cdf) - 1)
    stop_year = model.day_year[day]
    yi = stop_year - 2012

    # coordinates: measured missing / zero rates by year; hot-deck donor when needed
    u = rng.random(s)
    missing = u < model.miss_by_year[yi]
    zero = ~missing & (u < model.miss_by_year[yi] + model.zero_by_year[yi])
    present = ~missing & ~zero
    loc = tmpl.copy()
    need = present & ~p.located[tmpl]
    for d in range(n_dist):
        m = need & (p.district[tmpl] == d)
        if m.any():
            cand = model.located_by_district[d]
            loc[m] = cand[rng.integers(0, len(cand), int(m.sum()))]
    coord = np.where(present, loc, np.where(zero, p.n, p.n + 1))
    loc_text = np.where(rng.random(s) < LOCATION_MISSING / PUBLISHED_TOTAL_ROWS, p.n, loc)

    subagency = p.district[tmpl].copy()
    for j, (name, cnt) in enumerate(ODD_SUBAGENCIES.items()):
        subagency[rng.random(s) < cnt / PUBLISHED_TOTAL_ROWS] = n_dist + j

    # vehicle year: keep the vehicle's real age at the stop
    vy = p.vyear[tmpl]
    shifted = np.clip(vy + (stop_year - p.src_year[tmpl]), YEAR_BASE, np.minimum(stop_year + 1, 2031))
    year_code = np.where(vy > 0, p.n + (shifted - YEAR_BASE), tmpl)

    # stop outcome given the first charge's violation type; search block
    outcome = _draw_cat(rng, np.cumsum(model.p_outcome_given_vt, 1)[p.vt[tmpl]])
    populated = rng.random(s) >= SEARCH_OUTCOME_MISSING / PUBLISHED_TOTAL_ROWS
    rfs_only = ~populated & (rng.random(s) < (SEARCH_OUTCOME_MISSING - SEARCH_REASON_FOR_STOP_MISSING)
                             / SEARCH_OUTCOME_MISSING)
    is_arrest = outcome == OUTCOMES.index("Arrest")
    searched = populated & (rng.random(s) < np.where(is_arrest, P_SEARCH_GIVEN_ARREST, model.p_search_non_arrest))
    # all "Incident to Arrest" searches sit on arrest stops: 51,592 of 0.9 x 62,634 searched arrests
    p_ia = INCIDENT_TO_ARREST / (P_SEARCH_GIVEN_ARREST * OUTCOME_COUNTS[OUTCOMES.index("Arrest")])
    ia = searched & is_arrest & (rng.random(s) < p_ia)
    reason = np.where(ia, 0, 1 + _draw_fixed(rng, OTHER_SEARCH_REASONS.values(), s))
    none = NONE_CODE
    st = {
        "Search Conducted": np.where(populated, np.where(searched, 0, 1), none["Search Conducted"]),
        "Search Disposition": np.where(searched, _draw_fixed(rng, SEARCH_DISPOSITIONS.values(), s),
                                       none["Search Disposition"]),
        "Search Outcome": np.where(populated, outcome, none["Search Outcome"]),
        "Search Reason": np.where(searched, reason, none["Search Reason"]),
        "Search Type": np.where(searched, _draw_fixed(rng, SEARCH_TYPES.values(), s), none["Search Type"]),
        "Search Arrest Reason": np.where(searched & is_arrest, 0, 1),
        "Search Reason For Stop": np.where(populated | rfs_only, tmpl, p.n),
    }

    # created / updated timestamps (JSON only): stop date + 1..~7 days, some edited later
    lag = rng.geometric(0.6, s)  # days from the stop to its first publication, >= 1
    created = ((model.day_epoch[day] + lag) * 86_400_000 + rng.integers(0, 86_400_000, s))
    created = np.minimum(created, EXPORT_TS_MS - rng.integers(0, 86_400_000, s))
    edited = rng.random(s) < P_EDITED_LATER
    updated = np.where(edited, created + rng.integers(1, 400, s) * 86_400_000 + rng.integers(0, 86_400_000, s),
                       created)
    updated = np.where(updated > EXPORT_TS_MS, np.maximum(created, EXPORT_TS_MS - 3_600_000), updated)

    seq = _seqids(rng, s)

    # --- rows (charges) ---------------------------------------------------------------------
    stop_of_row = np.repeat(np.arange(s), k)
    first = np.zeros(n_rows, bool)
    first[np.concatenate([[0], np.cumsum(k)[:-1]])] = True
    vt_row = np.where(first, p.vt[tmpl][stop_of_row], 0)
    extra = ~first
    if extra.any():
        o = outcome[stop_of_row[extra]]
        vt_row[extra] = _draw_cat(rng, np.cumsum(model.p_vt_given_outcome, 1)[o])
    charge = np.where(first, tmpl[stop_of_row], 0)
    for v in range(4):
        m = extra & (vt_row == v)
        if m.any():
            cand = model.vt_pools[v]
            charge[m] = cand[rng.integers(0, len(cand), int(m.sum()))]
    accident_yes = np.array([x == "Yes" for x in p.cols["Accident"]])[tmpl][stop_of_row]
    contrib = np.where(first | accident_yes, charge, p.n)
    desc = np.where(rng.random(n_rows) < DESCRIPTION_MISSING / PUBLISHED_TOTAL_ROWS, p.n, charge)

    # shuffle rows within the chunk: a stop's charges are not adjacent in the real export either
    perm = rng.permutation(n_rows)
    sr = stop_of_row[perm]
    codes: dict[str, np.ndarray] = {
        "Date Of Stop": day[sr], "Agency": np.zeros(n_rows, np.int64), "SubAgency": subagency[sr],
        "Description": desc[perm], "Location": loc_text[sr], "Latitude": coord[sr],
        "Longitude": coord[sr], "Geolocation": coord[sr], "Year": year_code[sr],
        "Violation Type": vt_row[perm], "Charge": charge[perm], "Article": charge[perm],
        "Contributed To Accident": contrib[perm], "Race": p.race[tmpl][sr], "Gender": p.gender[tmpl][sr],
    }
    for c in TEMPLATE_TEXT_COLUMNS:
        codes[c] = tmpl[sr]
    for c, arr in st.items():
        codes[c] = arr[sr]
    return Chunk(codes=codes, seq=seq[sr], created_ms=created[sr], updated_ms=updated[sr],
                 stop_year=stop_year[sr], n_stops=s)




# =============================================================================================
# Malformed lines
# =============================================================================================
CSV_BAD_KINDS = ("bad_date", "unterminated_quote", "too_few_fields")
JSON_BAD_KINDS = ("bad_date", "missing_fields")
BAD_DATES = ("13/45/{y}", "02/30/{y}", "00/12/{y}", "19/19/{y}")


def _malformed_plan(rows: int, seed: int, rate: float, kinds: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    n_bad = int(round(rows * rate))
    if rate > 0 and rows >= 1000:
        n_bad = max(n_bad, 1)
    n_bad = min(n_bad, rows)
    rng = np.random.default_rng([seed, 2**31 - 1])
    pos = np.sort(rng.choice(rows, size=n_bad, replace=False)) if n_bad else np.zeros(0, np.int64)
    return pos, rng.integers(0, len(kinds), n_bad)


def _break_csv(fields: list[str], kind: str, year: int, rng: np.random.Generator) -> str:
    fields = list(fields)
    body_last = fields[-1].rstrip("\n")
    fields[-1] = body_last
    if kind == "bad_date":
        fields[1] = BAD_DATES[int(rng.integers(len(BAD_DATES)))].format(y=year)
    elif kind == "unterminated_quote":
        loc = fields[6]
        loc = loc[1:-1].replace('""', '"') if loc.startswith('"') else loc
        fields[6] = '"' + (loc or "GEORGIA AVE @ RANDOLPH RD").replace('"', "")
    elif kind == "too_few_fields":
        fields = fields[: int(rng.integers(5, 41))]
    return ",".join(fields) + "\n"


def _break_json(pieces: list[str], kind: str, year: int, rng: np.random.Generator, tail: str) -> str:
    pieces = list(pieces)
    if kind == "bad_date":
        bad = BAD_DATES[int(rng.integers(len(BAD_DATES)))].format(y=year)
        pieces[4] = f',"date_of_stop":"{year}-{bad[0:2]}-{bad[3:5]}T00:00:00.000"'
    elif kind == "missing_fields":
        pieces = pieces[: int(rng.integers(4, 30))]
    return "".join(pieces) + "}" + tail


# =============================================================================================
# Writers
# =============================================================================================
def _buffer_of(arr: pa.Array) -> memoryview:
    offs = np.frombuffer(arr.buffers()[1], dtype=np.int32)[arr.offset: arr.offset + len(arr) + 1]
    return memoryview(arr.buffers()[2])[int(offs[0]): int(offs[-1])]


def _render_csv(chunk: Chunk, rendered: dict[str, pa.Array], bad: list[tuple[int, str]],
                rng: np.random.Generator) -> pa.Array:
    cols = [_fixed_width_strings(chunk.seq)]
    for col in CSV_COLUMNS[1:]:
        cols.append(rendered[col].take(pa.array(chunk.codes[col])))
    lines = pc.binary_join_element_wise(*cols, ",")
    if bad:
        mask = np.zeros(len(lines), bool)
        repl = []
        for i, kind in bad:
            mask[i] = True
            repl.append(_break_csv([c[i].as_py() for c in cols], kind, int(chunk.stop_year[i]), rng))
        lines = pc.replace_with_mask(lines, pa.array(mask), pa.array(repl, pa.string()))
    return lines


def _render_json(chunk: Chunk, rendered: dict[str, pa.Array], bad: list[tuple[int, str]],
                 rng: np.random.Generator, start: int, seed: int, tail: str) -> pa.Array:
    n = len(chunk.seq)
    ids = _row_ids(np.arange(start, start + n), seed)
    cols = [
        _fixed_width_strings(_bytes_matrix(b'{":id":"' + ROWID_PREFIX.encode(), ids, b'"')),
        _fixed_width_strings(_bytes_matrix(b',":created_at":"', _timestamps(chunk.created_ms), b'Z"')),
        _fixed_width_strings(_bytes_matrix(b',":updated_at":"', _timestamps(chunk.updated_ms), b'Z"')),
        _fixed_width_strings(_bytes_matrix(b',"seqid":"', chunk.seq, b'"')),
    ]
    for col in CSV_COLUMNS[1:]:
        cols.append(rendered[col].take(pa.array(chunk.codes[col])))
    closing = pa.array(["}" + tail]).take(pa.array(np.zeros(n, np.int64)))
    recs = pc.binary_join_element_wise(*cols, closing, "")
    if bad:
        mask = np.zeros(n, bool)
        repl = []
        for i, kind in bad:
            mask[i] = True
            repl.append(_break_json([c[i].as_py() for c in cols], kind, int(chunk.stop_year[i]), rng, tail))
        recs = pc.replace_with_mask(recs, pa.array(mask), pa.array(repl, pa.string()))
    return recs


class _Out:
    def __init__(self, path: Path, use_gzip: bool):
        path.parent.mkdir(parents=True, exist_ok=True)
        self._raw = open(path, "wb")
        self._f = (gzip_module.GzipFile(filename="", mode="wb", fileobj=self._raw, mtime=0, compresslevel=6)
                   if use_gzip else self._raw)

    def write(self, data) -> None:
        self._f.write(data)

    def close(self) -> None:
        if self._f is not self._raw:
            self._f.close()
        self._raw.close()


# =============================================================================================
# Public entry point
# =============================================================================================
def generate(rows: int, seed: int, out: Path, fmt: str = "csv", *, jsonl: bool = False,
             gzip: bool = False, malformed_rate: float = DEFAULT_MALFORMED_RATE,
             samples_dir: str | Path | None = None, write_sidecar: bool = True) -> dict:
    """Write ``rows`` synthetic charge rows to ``out`` and return summary statistics.

    ``fmt`` is "csv" (portal export layout) or "json" (SODA API shape; ``jsonl=True`` for JSON
    lines). ``gzip=True`` appends ".gz" to ``out`` unless it already ends so. The summary's
    ``"synthetic"`` is always True; see the module docstring for what is real and what is not.
    """
    if fmt not in ("csv", "json"):
        raise ValueError(f"fmt must be 'csv' or 'json', not {fmt!r}")
    if rows < 0:
        raise ValueError("rows must be >= 0")
    t0 = time.perf_counter()
    out = Path(out)
    if gzip and not out.name.endswith(".gz"):
        out = out.with_name(out.name + ".gz")
    model = build_model(str(samples_dir) if samples_dir else None)
    rendered = rendered_dicts(str(samples_dir) if samples_dir else None, fmt)
    kinds = CSV_BAD_KINDS if fmt == "csv" else JSON_BAD_KINDS
    bad_pos, bad_kind = _malformed_plan(rows, seed, malformed_rate, kinds)
    bad_rng = np.random.default_rng([seed, 2**31 - 2])

    acc = {
        "race": np.zeros(len(RACES), np.int64), "gender": np.zeros(len(GENDERS), np.int64),
        "violation_type": np.zeros(len(VIOLATION_TYPES), np.int64),
        "subagency": np.zeros(len(DISTRICTS) + len(ODD_SUBAGENCIES), np.int64),
        "search_disposition_rows": 0, "search_outcome_missing_rows": 0, "search_conducted_yes_rows": 0,
        "coords_missing_rows": 0, "coords_zero_rows": 0, "stops": 0,
        "year_rows": np.zeros(14, np.int64), "day_min": None, "day_max": None,
    }
    n_bad_by_kind = dict.fromkeys(kinds, 0)
    pool_n = model.pool.n
    out_f = _Out(out, gzip)
    try:
        if fmt == "csv":
            out_f.write((",".join(CSV_COLUMNS) + "\n").encode())
        elif not jsonl:
            out_f.write(b"[")
        n_chunks = max(1, math.ceil(rows / CHUNK_ROWS)) if rows else 0
        if fmt == "json" and not jsonl and rows == 0:
            out_f.write(b"]\n")
        for c in range(n_chunks):
            start = c * CHUNK_ROWS
            n = min(CHUNK_ROWS, rows - start)
            rng = np.random.default_rng([seed, c])
            chunk = make_chunk(model, rng, n)
            sel = (bad_pos >= start) & (bad_pos < start + n)
            bad = [(int(i - start), kinds[int(kd)]) for i, kd in zip(bad_pos[sel], bad_kind[sel])]
            for _, kd in bad:
                n_bad_by_kind[kd] += 1
            for a in range(0, n, RENDER_ROWS):
                b = min(a + RENDER_ROWS, n)
                part = chunk.slice(a, b)
                part_bad = [(i - a, kd) for i, kd in bad if a <= i < b]
                if fmt == "csv":
                    arr = _render_csv(part, rendered, part_bad, bad_rng)
                    out_f.write(_buffer_of(arr))
                else:
                    tail = "\n" if jsonl else "\n,"
                    arr = _render_json(part, rendered, part_bad, bad_rng, start + a, seed, tail)
                    buf = _buffer_of(arr)
                    if c == n_chunks - 1 and b == n and not jsonl:
                        out_f.write(buf[:-2])  # drop the last record's "\n," separator
                        out_f.write(b"]\n")
                    else:
                        out_f.write(buf)
                del arr, part
            _accumulate(acc, chunk, pool_n)
            del chunk
    finally:
        out_f.close()

    elapsed = time.perf_counter() - t0
    summary = _summary(acc, rows, seed, out, fmt, jsonl, gzip, n_bad_by_kind, model, malformed_rate)
    summary["seconds"] = round(elapsed, 2)
    summary["bytes"] = out.stat().st_size
    if write_sidecar:
        sidecar = out.with_name(out.name + ".SYNTHETIC.txt")
        sidecar.write_text(_sidecar_text(summary, model), encoding="utf-8")
        summary["sidecar"] = str(sidecar)
    return summary


def _accumulate(acc: dict, chunk: Chunk, pool_n: int) -> None:
    cd = chunk.codes
    acc["race"] += np.bincount(cd["Race"], minlength=len(RACES))
    acc["gender"] += np.bincount(cd["Gender"], minlength=len(GENDERS))
    acc["violation_type"] += np.bincount(cd["Violation Type"], minlength=len(VIOLATION_TYPES))
    acc["subagency"] += np.bincount(cd["SubAgency"], minlength=len(acc["subagency"]))
    acc["search_disposition_rows"] += int((cd["Search Disposition"] < len(DISPOSITION_VALUES)).sum())
    acc["search_conducted_yes_rows"] += int((cd["Search Conducted"] == 0).sum())
    acc["search_outcome_missing_rows"] += int((cd["Search Outcome"] == len(OUTCOMES)).sum())
    acc["coords_zero_rows"] += int((cd["Latitude"] == pool_n).sum())
    acc["coords_missing_rows"] += int((cd["Latitude"] == pool_n + 1).sum())
    acc["stops"] += chunk.n_stops
    acc["year_rows"] += np.bincount(chunk.stop_year - 2012, minlength=14)
    d = cd["Date Of Stop"]
    if len(d):
        acc["day_min"] = int(d.min()) if acc["day_min"] is None else min(acc["day_min"], int(d.min()))
        acc["day_max"] = int(d.max()) if acc["day_max"] is None else max(acc["day_max"], int(d.max()))


def _share_dict(names, counts) -> dict:
    total = max(int(np.sum(counts)), 1)
    return {n: round(int(c) / total, 5) for n, c in zip(names, counts)}


def _summary(acc, rows, seed, out, fmt, jsonl, gzip, bad, model, rate) -> dict:
    day = lambda i: None if i is None else str(FIRST_DAY + i)  # noqa: E731
    pool = model.pool
    return {
        "synthetic": True,
        "SYNTHETIC": STATEMENT,
        "generator_version": GENERATOR_VERSION,
        "seed": seed,
        "rows": rows,
        "stops": acc["stops"],
        "charges_per_stop": round(rows / acc["stops"], 4) if acc["stops"] else None,
        "format": fmt + ("l" if fmt == "json" and jsonl else ""),
        "gzip": gzip,
        "out": str(out),
        "seqid_prefix": SEQID_PREFIX,
        "malformed": {**bad, "total": int(sum(bad.values())), "rate": rate},
        "shares": {
            "race": _share_dict(RACES, acc["race"]),
            "gender": _share_dict(GENDERS, acc["gender"]),
            "violation_type": _share_dict(VIOLATION_TYPES, acc["violation_type"]),
            "subagency": _share_dict([*DISTRICTS, *ODD_SUBAGENCIES], acc["subagency"]),
        },
        "published_shares": {
            "race": _share_dict(RACES, RACE_COUNTS),
            "gender": _share_dict(GENDERS, GENDER_COUNTS),
            "violation_type": _share_dict(VIOLATION_TYPES, VIOLATION_TYPE_COUNTS),
            "subagency": _share_dict(DISTRICTS, DISTRICT_COUNTS),
            "search_disposition_rows": round(SEARCHED_ROWS / PUBLISHED_TOTAL_ROWS, 5),
            "search_outcome_missing_rows": round(SEARCH_OUTCOME_MISSING / PUBLISHED_TOTAL_ROWS, 5),
        },
        "search_disposition_rows": acc["search_disposition_rows"],
        "search_disposition_share": round(acc["search_disposition_rows"] / rows, 5) if rows else None,
        "search_outcome_missing_share": round(acc["search_outcome_missing_rows"] / rows, 5) if rows else None,
        "coords_missing_rows": acc["coords_missing_rows"],
        "coords_zero_rows": acc["coords_zero_rows"],
        "rows_by_year": {str(2012 + i): int(c) for i, c in enumerate(acc["year_rows"])},
        "date_min": day(acc["day_min"]),
        "date_max": day(acc["day_max"]),
        "pool_rows": pool.n,
        "charges_per_stop_source": pool.charges_pmf_source,
        "sources": [{"path": p, "rows": r, "sha256": h} for p, r, h in pool.files],
        "published_figures": PUBLISHED_FIGURES,
    }


def _sidecar_text(summary: dict, model: Model) -> str:
    pool = model.pool
    stable = {k: v for k, v in summary.items() if k not in ("seconds", "bytes", "sidecar")}
    rates = "\n".join(
        f"  {y}: missing {pool.coord_missing_by_year[y]:.3f}, zero {pool.coord_zero_by_year[y]:.3f}"
        + (f"  (measured on {pool.coord_rates_measured[y][0]} sample rows)" if y in pool.coord_rates_measured
           else "  (interpolated)")
        for y in range(2012, 2026))
    return f"""{STATEMENT}

This file is SYNTHETIC. It was generated by bench/generate.py; no row is a real traffic stop.
file:              {Path(summary['out']).name}
format:            {summary['format']}{' (gzip)' if summary['gzip'] else ''}
rows:              {summary['rows']} (data records, including {summary['malformed']['total']} deliberately malformed)
stops:             {summary['stops']}
seed:              {summary['seed']}
generator version: {GENERATOR_VERSION}
recognise rows:    every SeqID starts with "{SEQID_PREFIX}"; JSON :id values start with "{ROWID_PREFIX}"

What is real: Description/Charge/Article tuples, Location text and coordinates, vehicle, driver
city/state, flags and time of day are copied from real sample rows of the Montgomery County
"Traffic Violations" dataset (Socrata 4mse-ku6q), listed below.
What is made up: the combination into stops, dates, SeqIDs, search fields, row counts per stop,
and the re-weighting to the published full-file shares ({PUBLISHED_FIGURES}).
Associations other than those inside one real sample row are NOT real; do not analyse them
(e.g. no veil-of-darkness signal, search rates do not depend on race).

Assumptions: annual volume trend {ANNUAL_ROWS_ASSUMED} (thousand rows, scaled);
P(search | arrest) = {P_SEARCH_GIVEN_ARREST}; Search Arrest Reason "Stop" on searched arrests only;
{P_EDITED_LATER:.0%} of stops edited after creation (:updated_at).
Coordinate missing / zero rates by year:
{rates}

Summary (JSON):
{json.dumps(stable, indent=2, ensure_ascii=False)}
"""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m bench.generate",
        description=f"Write synthetic traffic-violation rows. {STATEMENT}.")
    ap.add_argument("--rows", type=int, required=True, help="number of charge rows (data records)")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--format", choices=["csv", "json"], default="csv")
    ap.add_argument("--jsonl", action="store_true", help="JSON lines instead of one JSON array")
    ap.add_argument("--gzip", action="store_true", help="gzip the output (adds .gz)")
    ap.add_argument("--malformed-rate", type=float, default=DEFAULT_MALFORMED_RATE)
    ap.add_argument("--samples-dir", default=None, help="folder of real sample CSVs to resample")
    args = ap.parse_args(argv)
    if args.jsonl and args.format != "json":
        ap.error("--jsonl needs --format json")
    summary = generate(args.rows, args.seed, args.out, args.format, jsonl=args.jsonl, gzip=args.gzip,
                       malformed_rate=args.malformed_rate, samples_dir=args.samples_dir)
    print(f"*** {STATEMENT} ***", file=sys.stderr)
    print(json.dumps(summary, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
