"""Outcome (hit-rate) test: are some groups searched on less evidence?

Becker's outcome test as used by the Stanford Open Policing Project (Pierson et al. 2020): if
officers search a group on weaker evidence, searches of that group find contraband *less* often.
Only **discretionary** searches count: "Incident to Arrest" searches follow an arrest and say
nothing about the officer's suspicion. Within each district (so that where people are stopped
does not drive the comparison) we compute, per race,

* search rate = discretionary searches / stops with search fields recorded (Wilson CI),
* hit rate = discretionary searches finding contraband / discretionary searches (Wilson CI),

and only cells with at least ``min_searches`` discretionary searches (``min_stops`` stops for the
search rate) are compared. County-wide, each race is compared with White over the districts where
*both* cells are eligible, with the districts weighted by their total discretionary searches
(search rates: total stops), the same weights for both groups (direct standardisation), so a
difference is never produced by the two groups being stopped in different districts. The CI of a
standardised rate and of a difference uses Σ w²·p~(1-p~)/n with Agresti-Coull smoothing
p~ = (k+2)/(n+4). The crude pooled rate (all districts summed, as OPP's aggregate) is also given.

Caveat (infra-marginality): hit rates compare *average* evidence, not the threshold; a lower hit
rate is consistent with, not proof of, a lower bar for searching. Small numbers of searches make
the test impossible; it refuses rather than report noise.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import pandas as pd

from .stats import AnalysisResult, proportion, smoothed_variance, wilson_interval, z_value

NAME: Final = "outcome_test"
REFERENCE_RACE: Final = "WHITE"
MIN_SEARCHES: Final = 50
MIN_STOPS: Final = 100
LEVEL_DISTRICT: Final = "district"
LEVEL_WEIGHTED: Final = "county_weighted"
LEVEL_POOLED: Final = "county_pooled"
INCIDENT_TO_ARREST: Final = "incident to arrest"

COLUMNS: Final = [
    "level", "district", "race", "stops", "searches", "discretionary_searches", "searches_reason_missing",
    "hits", "search_rate", "search_rate_low", "search_rate_high", "hit_rate", "hit_rate_low", "hit_rate_high",
    "ref_search_rate", "search_rate_diff", "search_rate_diff_low", "search_rate_diff_high",
    "ref_hit_rate", "hit_rate_diff", "hit_rate_diff_low", "hit_rate_diff_high",
    "n_districts_search", "n_districts_hit", "eligible_search", "eligible_hit", "min_searches", "min_stops",
    "flag", "ran", "reason", "computed_at",
]
COUNT_COLUMNS: Final = ["stops", "searches", "discretionary_searches", "searches_reason_missing", "hits"]


def aggregate_search_counts(stops: pd.DataFrame) -> pd.DataFrame:
    """Per-stop frame -> ``sql/analysis/outcome_counts.sql`` output (same rules, in pandas).

    Needs columns district, race, search_recorded, searched, search_reason, contraband_found.
    """
    s = stops[stops["search_recorded"].astype(int) == 1].copy()
    searched = s["searched"].astype(int) == 1
    reason = s["search_reason"].astype(object)
    missing = reason.isna()
    arrest = reason.map(lambda r: isinstance(r, str) and r.strip().lower() == INCIDENT_TO_ARREST)
    s["discretionary"] = (searched & ~arrest).astype(int)
    s["searches_reason_missing"] = (searched & missing).astype(int)
    s["hit"] = ((s["discretionary"] == 1) & (s["contraband_found"].astype(int) == 1)).astype(int)
    s["searched_i"] = searched.astype(int)
    g = s.groupby(["district", "race"], dropna=False)
    out = pd.DataFrame({
        "stops": g.size(),
        "searches": g["searched_i"].sum(),
        "discretionary_searches": g["discretionary"].sum(),
        "searches_reason_missing": g["searches_reason_missing"].sum(),
        "hits": g["hit"].sum(),
    }).reset_index()
    return out


def _standardised(
    cells: pd.DataFrame, race: str, k_col: str, n_col: str, eligible_col: str, weight_col: str
) -> dict[str, float]:
    """Race vs reference over districts where both cells are eligible; common district weights."""
    mine = cells[(cells["race"] == race) & cells[eligible_col]].set_index("district")
    ref = cells[(cells["race"] == REFERENCE_RACE) & cells[eligible_col]].set_index("district")
    districts = sorted(set(mine.index) & set(ref.index))
    if not districts:
        return {"n": 0}
    w = cells.groupby("district")[weight_col].sum().reindex(districts).to_numpy(float)
    w = w / w.sum()
    k_r, n_r = mine.loc[districts, k_col].to_numpy(float), mine.loc[districts, n_col].to_numpy(float)
    k_w, n_w = ref.loc[districts, k_col].to_numpy(float), ref.loc[districts, n_col].to_numpy(float)
    p_r, p_w = k_r / n_r, k_w / n_w
    v_r, v_w = smoothed_variance(k_r, n_r), smoothed_variance(k_w, n_w)
    z = z_value()
    est_r, est_w = float(w @ p_r), float(w @ p_w)
    se_r = float(np.sqrt(w**2 @ v_r))
    se_d = float(np.sqrt(w**2 @ (v_r + v_w)))
    return {
        "n": len(districts),
        "rate": est_r,
        "low": max(0.0, est_r - z * se_r),
        "high": min(1.0, est_r + z * se_r),
        "ref": est_w,
        "diff": est_r - est_w,
        "diff_low": est_r - est_w - z * se_d,
        "diff_high": est_r - est_w + z * se_d,
    }


def outcome_test(
    counts: pd.DataFrame,
    min_searches: int = MIN_SEARCHES,
    min_stops: int = MIN_STOPS,
    races: tuple[str, ...] | None = None,
) -> AnalysisResult:
    """Run the test on ``outcome_counts.sql``-shaped counts (district, race, stops, searches,
    discretionary_searches, searches_reason_missing, hits). Always returns the district rows;
    ``ran`` is True only when at least one race can be compared with White on hit rates."""
    c = counts.copy()
    for col in COUNT_COLUMNS:
        if col not in c.columns:
            c[col] = 0
        c[col] = pd.to_numeric(c[col], errors="coerce").fillna(0).astype(float)
    c["district"] = c["district"].astype(object).where(c["district"].notna(), "(district not recorded)")
    c = c[c["race"].notna()]
    total_stops = int(c["stops"].sum())
    total_disc = int(c["discretionary_searches"].sum())
    details = {"stops_with_search_fields": total_stops, "discretionary_searches": total_disc,
               "searches": int(c["searches"].sum()), "hits": int(c["hits"].sum())}

    if total_stops == 0:
        reason = (
            "no stop in the data has search fields recorded (only recent portal exports carry them; "
            "the bundled sample files, exported 2016-2019, have none)"
        )
        return AnalysisResult(NAME, False, reason, _status_frame(reason, min_searches, min_stops), details)

    k_s = c["discretionary_searches"].to_numpy(float)
    n_s = c["stops"].to_numpy(float)
    k_h = c["hits"].to_numpy(float)
    c["search_rate"] = proportion(k_s, n_s)
    c["search_rate_low"], c["search_rate_high"] = wilson_interval(k_s, n_s)
    c["hit_rate"] = proportion(k_h, k_s)
    c["hit_rate_low"], c["hit_rate_high"] = wilson_interval(k_h, k_s)
    c["eligible_search"] = c["stops"] >= min_stops
    c["eligible_hit"] = c["discretionary_searches"] >= min_searches
    c["flag"] = [
        "; ".join(p for p in (
            "" if es else f"fewer than {min_stops} stops with search fields",
            "" if eh else f"fewer than {min_searches} discretionary searches: hit rate not compared",
        ) if p)
        for es, eh in zip(c["eligible_search"], c["eligible_hit"])
    ]
    c["level"] = LEVEL_DISTRICT

    compare = races or tuple(sorted(set(c["race"]) - {REFERENCE_RACE}))
    county_rows = []
    for race in [REFERENCE_RACE, *compare]:
        mine = c[c["race"] == race]
        if mine.empty:
            continue
        row: dict[str, object] = {"level": LEVEL_WEIGHTED, "district": None, "race": race}
        for col in COUNT_COLUMNS:
            row[col] = float(mine[col].sum())
        if race == REFERENCE_RACE:
            s_res = _standardised_self(c, "discretionary_searches", "stops", "eligible_search", "stops")
            h_res = _standardised_self(c, "hits", "discretionary_searches", "eligible_hit", "discretionary_searches")
        else:
            s_res = _standardised(c, race, "discretionary_searches", "stops", "eligible_search", "stops")
            h_res = _standardised(c, race, "hits", "discretionary_searches", "eligible_hit", "discretionary_searches")
        row["n_districts_search"], row["n_districts_hit"] = s_res["n"], h_res["n"]
        for prefix, res in (("search_rate", s_res), ("hit_rate", h_res)):
            if res["n"]:
                row[prefix], row[f"{prefix}_low"], row[f"{prefix}_high"] = res["rate"], res["low"], res["high"]
                if race != REFERENCE_RACE:
                    row[f"ref_{prefix}"] = res["ref"]
                    row[f"{prefix}_diff"] = res["diff"]
                    row[f"{prefix}_diff_low"] = res["diff_low"]
                    row[f"{prefix}_diff_high"] = res["diff_high"]
        row["eligible_search"] = bool(s_res["n"])
        row["eligible_hit"] = bool(h_res["n"])
        row["flag"] = "" if h_res["n"] else (
            f"no district where both this group and White have {min_searches}+ discretionary searches"
            if race != REFERENCE_RACE else f"no district where White drivers have {min_searches}+ discretionary searches"
        )
        county_rows.append(row)

        pooled = {"level": LEVEL_POOLED, "district": None, "race": race}
        for col in COUNT_COLUMNS:
            pooled[col] = float(mine[col].sum())
        pooled["search_rate"] = float(proportion(pooled["discretionary_searches"], pooled["stops"]))
        lo, hi = wilson_interval(pooled["discretionary_searches"], pooled["stops"])
        pooled["search_rate_low"], pooled["search_rate_high"] = float(lo), float(hi)
        pooled["hit_rate"] = float(proportion(pooled["hits"], pooled["discretionary_searches"]))
        lo, hi = wilson_interval(pooled["hits"], pooled["discretionary_searches"])
        pooled["hit_rate_low"], pooled["hit_rate_high"] = float(lo), float(hi)
        pooled["flag"] = "crude: all districts summed, so district mix can drive differences"
        county_rows.append(pooled)

    table = pd.concat([c, pd.DataFrame(county_rows)], ignore_index=True)
    compared = [r for r in county_rows if r["level"] == LEVEL_WEIGHTED and r["race"] != REFERENCE_RACE
                and r["eligible_hit"]]
    if compared:
        ran, reason = True, (
            f"hit rates compared with White for {', '.join(r['race'] for r in compared)} over districts "
            f"with {min_searches}+ discretionary searches per group"
        )
    else:
        biggest = c.sort_values("discretionary_searches", ascending=False).head(1)
        cell = (f"; the largest race x district cell has {int(biggest['discretionary_searches'].iloc[0])}"
                if len(biggest) else "")
        ran, reason = False, (
            f"too few searches: {total_disc} discretionary searches in {total_stops:,} stops with search fields"
            f"{cell}, and no district has {min_searches}+ discretionary searches of both White drivers "
            "and another group"
        )
    table["min_searches"] = min_searches
    table["min_stops"] = min_stops
    table["ran"] = ran
    table["reason"] = reason
    table["computed_at"] = pd.NaT
    for col in COLUMNS:
        if col not in table.columns:
            table[col] = np.nan
    for col in ("n_districts_search", "n_districts_hit"):
        table[col] = pd.to_numeric(table[col], errors="coerce").astype("Int64")
    for col in ("eligible_search", "eligible_hit"):
        table[col] = table[col].astype(object).where(table[col].notna(), False).astype(bool)
    order = {LEVEL_DISTRICT: 0, LEVEL_WEIGHTED: 1, LEVEL_POOLED: 2}
    table = table.assign(_o=table["level"].map(order)).sort_values(
        ["_o", "district", "race"], na_position="first", kind="stable", ignore_index=True
    )
    table = table[COLUMNS]
    return AnalysisResult(NAME, ran, reason, table, details)


def _standardised_self(cells: pd.DataFrame, k_col: str, n_col: str, eligible_col: str, weight_col: str) -> dict:
    """The reference group's own standardised rate over all districts where it is eligible."""
    ref = cells[(cells["race"] == REFERENCE_RACE) & cells[eligible_col]].set_index("district")
    if ref.empty:
        return {"n": 0}
    districts = list(ref.index)
    w = cells.groupby("district")[weight_col].sum().reindex(districts).to_numpy(float)
    w = w / w.sum()
    k, n = ref[k_col].to_numpy(float), ref[n_col].to_numpy(float)
    est = float(w @ (k / n))
    se = float(np.sqrt(w**2 @ smoothed_variance(k, n)))
    z = z_value()
    return {"n": len(districts), "rate": est, "low": max(0.0, est - z * se), "high": min(1.0, est + z * se)}


def _status_frame(reason: str, min_searches: int, min_stops: int) -> pd.DataFrame:
    row = {c: None for c in COLUMNS}
    row.update(level=LEVEL_WEIGHTED, ran=False, reason=reason, flag=reason,
               min_searches=min_searches, min_stops=min_stops, eligible_search=False, eligible_hit=False)
    return pd.DataFrame([row], columns=COLUMNS)
