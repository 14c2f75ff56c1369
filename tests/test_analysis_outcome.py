"""Outcome (hit-rate) test on synthetic searches with a planted gap, and with none."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipeline.analysis import aggregate_search_counts, outcome_test
from pipeline.analysis.outcome import COLUMNS, LEVEL_POOLED, LEVEL_WEIGHTED

DISTRICTS = {"1st": 0.15, "2nd": 0.25, "3rd": 0.35, "4th": 0.45}  # district -> White hit rate


def synthetic_stops(
    seed: int,
    hit_gap: float,
    stops_per_cell: dict[tuple[str, str], int] | None = None,
    search_rate: float = 0.08,
    arrest_share: float = 0.4,
) -> pd.DataFrame:
    """One row per stop. Black hit rate = White's - hit_gap in every district. Searches incident
    to arrest find contraband 90% of the time, so counting them would bias the test."""
    rng = np.random.default_rng(seed)
    frames = []
    for district, white_hit in DISTRICTS.items():
        for race, hit in (("WHITE", white_hit), ("BLACK", white_hit - hit_gap)):
            n = (stops_per_cell or {}).get((district, race), 3_000)
            searched = rng.random(n) < search_rate
            arrest = searched & (rng.random(n) < arrest_share)
            found = np.where(arrest, rng.random(n) < 0.9, rng.random(n) < hit) & searched
            frames.append(pd.DataFrame({
                "district": district, "race": race, "search_recorded": 1, "searched": searched.astype(int),
                "search_reason": np.where(arrest, "Incident to Arrest", np.where(searched, "Probable Cause", None)),
                "contraband_found": found.astype(int),
            }))
    return pd.concat(frames, ignore_index=True)


def weighted(result, race: str = "BLACK") -> pd.Series:  # noqa: ANN001
    t = result.table
    return t[(t["level"] == LEVEL_WEIGHTED) & (t["race"] == race)].iloc[0]


def test_planted_lower_hit_rate_is_recovered_within_its_interval() -> None:
    result = outcome_test(aggregate_search_counts(synthetic_stops(seed=1, hit_gap=0.10)))
    assert result.ran, result.reason
    row = weighted(result)
    assert row["hit_rate_diff_low"] <= -0.10 <= row["hit_rate_diff_high"]
    assert row["hit_rate_diff_high"] < 0, "a planted gap must exclude 0"
    assert row["n_districts_hit"] == len(DISTRICTS)
    assert row["hit_rate_low"] <= row["hit_rate"] <= row["hit_rate_high"]
    assert list(result.table.columns) == COLUMNS


def test_equal_hit_rates_give_an_interval_that_covers_zero() -> None:
    row = weighted(outcome_test(aggregate_search_counts(synthetic_stops(seed=2, hit_gap=0.0))))
    assert row["hit_rate_diff_low"] <= 0 <= row["hit_rate_diff_high"]


def test_district_weighting_removes_a_difference_made_only_by_where_people_are_stopped() -> None:
    # Same hit rates within every district, but Black drivers are stopped mostly in the
    # low-hit-rate district and White drivers mostly in the high one (Simpson's paradox).
    mix = {("1st", "BLACK"): 9_000, ("4th", "BLACK"): 1_000, ("2nd", "BLACK"): 1_000, ("3rd", "BLACK"): 1_000,
           ("1st", "WHITE"): 1_000, ("4th", "WHITE"): 9_000, ("2nd", "WHITE"): 1_000, ("3rd", "WHITE"): 1_000}
    result = outcome_test(aggregate_search_counts(synthetic_stops(seed=3, hit_gap=0.0, stops_per_cell=mix)))
    row = weighted(result)
    assert row["hit_rate_diff_low"] <= 0 <= row["hit_rate_diff_high"]
    pooled = result.table[result.table["level"] == LEVEL_POOLED].set_index("race")
    assert pooled.loc["WHITE", "hit_rate_low"] > pooled.loc["BLACK", "hit_rate_high"], "the crude rate is confounded"


def test_searches_incident_to_arrest_are_not_counted() -> None:
    stops = synthetic_stops(seed=4, hit_gap=0.0, arrest_share=0.5)
    counts = aggregate_search_counts(stops)
    searched = stops[stops["searched"] == 1]
    assert counts["searches"].sum() == len(searched)
    assert counts["discretionary_searches"].sum() == (searched["search_reason"] != "Incident to Arrest").sum()


def test_the_test_refuses_when_cells_have_too_few_searches() -> None:
    small = {(d, r): 200 for d in DISTRICTS for r in ("WHITE", "BLACK")}
    result = outcome_test(aggregate_search_counts(synthetic_stops(seed=5, hit_gap=0.1, stops_per_cell=small)))
    assert not result.ran
    assert "too few searches" in result.reason and "50+" in result.reason
    counts = aggregate_search_counts(synthetic_stops(seed=5, hit_gap=0.1, stops_per_cell=small))
    assert f"the largest race x district cell has {int(counts['discretionary_searches'].max())}" in result.reason
    district_rows = result.table[result.table["level"] == "district"]
    assert district_rows["flag"].str.contains("fewer than 50 discretionary searches: hit rate not compared").all()
    assert len(district_rows) == 8 and not district_rows["eligible_hit"].any()
    assert district_rows["search_rate_low"].notna().all(), "what can be shown still has its CI"


def test_the_minimum_number_of_searches_is_configurable() -> None:
    small = {(d, r): 200 for d in DISTRICTS for r in ("WHITE", "BLACK")}
    counts = aggregate_search_counts(synthetic_stops(seed=5, hit_gap=0.1, stops_per_cell=small))
    assert outcome_test(counts, min_searches=5, min_stops=50).ran


def test_the_test_refuses_without_search_fields() -> None:
    stops = synthetic_stops(seed=6, hit_gap=0.0).assign(search_recorded=0)
    result = outcome_test(aggregate_search_counts(stops))
    assert not result.ran and "no stop in the data has search fields" in result.reason
    assert len(result.table) == 1 and list(result.table.columns) == COLUMNS


def test_the_standardised_rates_and_their_intervals_match_a_hand_computation() -> None:
    """Two districts, every figure recomputed here from the formula in docs/METHODS.md section 4."""
    counts = pd.DataFrame(
        [("d1", "WHITE", 1000, 110, 100, 0, 30), ("d1", "BLACK", 800, 70, 60, 0, 12),
         ("d2", "WHITE", 500, 55, 50, 0, 20), ("d2", "BLACK", 1200, 130, 120, 0, 30)],
        columns=["district", "race", "stops", "searches", "discretionary_searches", "searches_reason_missing", "hits"])
    z = 1.959964
    result = outcome_test(counts)
    t = result.table
    assert result.details == {"stops_with_search_fields": 3500, "discretionary_searches": 330, "searches": 365, "hits": 92}
    black, white = weighted_row(t, "BLACK"), weighted_row(t, "WHITE")

    # Hit rates: weights = discretionary searches per district (160, 170), the same for both groups.
    w = np.array([160, 170]) / 330
    hits_b, disc_b, hits_w, disc_w = np.array([12, 30]), np.array([60, 120]), np.array([30, 20]), np.array([100, 50])
    rate_b, rate_w = w @ (hits_b / disc_b), w @ (hits_w / disc_w)
    var = lambda k, n: ((k + 2) / (n + 4)) * (1 - (k + 2) / (n + 4)) / n  # noqa: E731
    se_b, se_w = np.sqrt(w**2 @ var(hits_b, disc_b)), np.sqrt(w**2 @ var(hits_w, disc_w))
    se_d = np.sqrt(w**2 @ (var(hits_b, disc_b) + var(hits_w, disc_w)))
    assert black[["hit_rate", "hit_rate_low", "hit_rate_high"]].astype(float).tolist() == pytest.approx(
        [rate_b, rate_b - z * se_b, rate_b + z * se_b], abs=1e-6)
    assert black[["ref_hit_rate", "hit_rate_diff", "hit_rate_diff_low", "hit_rate_diff_high"]].astype(float).tolist() == (
        pytest.approx([rate_w, rate_b - rate_w, rate_b - rate_w - z * se_d, rate_b - rate_w + z * se_d], abs=1e-6))
    assert white[["hit_rate", "hit_rate_low", "hit_rate_high"]].astype(float).tolist() == pytest.approx(
        [rate_w, rate_w - z * se_w, rate_w + z * se_w], abs=1e-6)

    # Each district x race cell: its own rates and Wilson intervals (textbook formula, z = 1.959964).
    def wilson(k: float, n: float) -> tuple[float, float]:
        p, d = k / n, 1 + z * z / n
        half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d
        return (p + z * z / (2 * n)) / d - half, (p + z * z / (2 * n)) / d + half

    cells = t[t["level"] == "district"].set_index(["district", "race"])
    for row in counts.itertuples():
        cell = cells.loc[(row.district, row.race)]
        search, hit = row.discretionary_searches / row.stops, row.hits / row.discretionary_searches
        assert cell[["search_rate", "search_rate_low", "search_rate_high", "hit_rate", "hit_rate_low", "hit_rate_high"]
                    ].astype(float).tolist() == pytest.approx(
            [search, *wilson(row.discretionary_searches, row.stops), hit, *wilson(row.hits, row.discretionary_searches)],
            abs=1e-6)
        assert bool(cell["eligible_hit"]) and bool(cell["eligible_search"])
    assert t["ran"].all() and (t["reason"] == result.reason).all()
    assert result.reason == ("hit rates compared with White for BLACK over districts with 50+ discretionary "
                             "searches per group")
    assert (t["min_searches"] == 50).all() and (t["min_stops"] == 100).all()
    assert t["level"].tolist() == ["district"] * 4 + [LEVEL_WEIGHTED] * 2 + [LEVEL_POOLED] * 2

    # The crude all-district rates (county_pooled): sums over districts.
    pooled = t[t["level"] == LEVEL_POOLED].set_index("race")
    assert pooled.loc["BLACK", ["search_rate", "hit_rate"]].astype(float).tolist() == pytest.approx([180 / 2000, 42 / 180])
    assert pooled.loc["WHITE", ["search_rate", "hit_rate"]].astype(float).tolist() == pytest.approx([150 / 1500, 50 / 150])
    assert pooled.loc["WHITE", ["hit_rate_low", "hit_rate_high"]].astype(float).tolist() == pytest.approx(wilson(50, 150), abs=1e-6)
    assert (t.loc[t["level"] != LEVEL_POOLED, "flag"] == "").all()  # every cell qualifies: nothing to flag
    assert (pooled["flag"] == "crude: all districts summed, so district mix can drive differences").all()

    # Search rates: weights = stops per district (1800, 1700).
    w = np.array([1800, 1700]) / 3500
    disc_rate_b, disc_rate_w = w @ (disc_b / np.array([800, 1200])), w @ (disc_w / np.array([1000, 500]))
    assert float(black["search_rate"]) == pytest.approx(disc_rate_b, abs=1e-9)
    assert float(black["search_rate_diff"]) == pytest.approx(disc_rate_b - disc_rate_w, abs=1e-9)


def weighted_row(table: pd.DataFrame, race: str) -> pd.Series:
    return table[(table["level"] == LEVEL_WEIGHTED) & (table["race"] == race)].iloc[0]


def test_searches_without_a_reason_are_counted_and_stops_without_a_district_kept() -> None:
    stops = pd.DataFrame({
        "district": ["1st", "1st", "1st", None],
        "race": ["WHITE"] * 4,
        "search_recorded": [1, 1, 1, 1],
        "searched": [1, 0, 1, 1],
        "search_reason": [None, None, "Probable Cause", None],  # the unsearched stop has no reason either
        "contraband_found": [0, 0, 1, 1],
    })
    counts = aggregate_search_counts(stops).set_index("district", drop=False)
    assert counts["stops"].sum() == 4 and counts["searches"].sum() == 3
    assert counts["searches_reason_missing"].sum() == 2  # searched and no reason: rows 1 and 4
    assert counts["discretionary_searches"].sum() == 3 and counts["hits"].sum() == 2
    assert counts["district"].isna().sum() == 1  # the stop without a district is a group, not dropped


HAND_COUNTS = [("d1", "WHITE", 1000, 110, 100, 0, 30), ("d1", "BLACK", 800, 70, 60, 0, 12),
               ("d2", "WHITE", 500, 55, 50, 0, 20), ("d2", "BLACK", 1200, 130, 120, 0, 30)]
COUNT_NAMES = ["district", "race", "stops", "searches", "discretionary_searches", "searches_reason_missing", "hits"]


def wilson_textbook(k: float, n: float, z: float = 1.959964) -> tuple[float, float]:
    p, d = k / n, 1 + z * z / n
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d
    return (p + z * z / (2 * n)) / d - half, (p + z * z / (2 * n)) / d + half


def test_the_refusal_is_one_complete_status_row_with_the_thresholds_used() -> None:
    stops = synthetic_stops(seed=6, hit_gap=0.0).assign(search_recorded=0)
    result = outcome_test(aggregate_search_counts(stops), min_searches=7, min_stops=11)
    assert result.name == "outcome_test" and result.ran is False
    assert result.details == {"stops_with_search_fields": 0, "discretionary_searches": 0, "searches": 0, "hits": 0}
    row = result.table.iloc[0]
    assert row["level"] == LEVEL_WEIGHTED and result.table["ran"].tolist() == [False]
    assert row["reason"] == row["flag"] == result.reason
    assert (row["min_searches"], row["min_stops"]) == (7, 11)
    assert result.table[["eligible_search", "eligible_hit"]].iloc[0].tolist() == [False, False]
    rest = [c for c in COLUMNS if c not in
            ("level", "ran", "reason", "flag", "min_searches", "min_stops", "eligible_search", "eligible_hit")]
    assert row[rest].isna().all()


def test_a_count_column_missing_or_null_counts_as_zero() -> None:
    full = pd.DataFrame(HAND_COUNTS, columns=COUNT_NAMES)
    partial = full.drop(columns=["searches_reason_missing"]).astype({"hits": "float"})
    partial.loc[0, "hits"] = np.nan
    zeroed = full.copy()
    zeroed.loc[0, "hits"] = 0
    got, want = outcome_test(partial).table, outcome_test(zeroed).table
    pd.testing.assert_frame_equal(got, want)
    assert (got.loc[got["level"] == "district", "searches_reason_missing"] == 0).all()
    assert got.loc[(got["level"] == "district") & (got["district"] == "d1") & (got["race"] == "WHITE"), "hits"].iloc[0] == 0


def test_eligibility_thresholds_are_inclusive_and_reach_the_county_rows() -> None:
    # BLACK cells: exactly 50 discretionary searches (eligible) but 99 stops (not eligible for the search rate).
    counts = pd.DataFrame(
        [("d1", "WHITE", 100, 60, 50, 0, 20), ("d1", "BLACK", 99, 60, 50, 0, 10),
         ("d2", "WHITE", 100, 60, 49, 0, 20), ("d2", "BLACK", 99, 60, 50, 0, 10)], columns=COUNT_NAMES)
    t = outcome_test(counts).table
    cells = t[t["level"] == "district"].set_index(["district", "race"])
    assert cells["eligible_search"].to_dict() == {("d1", "BLACK"): False, ("d1", "WHITE"): True,
                                                  ("d2", "BLACK"): False, ("d2", "WHITE"): True}
    assert cells["eligible_hit"].to_dict() == {("d1", "BLACK"): True, ("d1", "WHITE"): True,
                                               ("d2", "BLACK"): True, ("d2", "WHITE"): False}
    black, white = weighted_row(t, "BLACK"), weighted_row(t, "WHITE")
    assert black["eligible_search"] == False and black["eligible_hit"] == True  # noqa: E712
    assert (black["n_districts_search"], black["n_districts_hit"]) == (0, 1)
    assert pd.isna(black["search_rate"]) and pd.isna(black["search_rate_diff"])
    assert white["eligible_search"] == True and (white["n_districts_search"], white["n_districts_hit"]) == (2, 1)  # noqa: E712
    assert t["eligible_search"].map(type).eq(bool).all() and t["eligible_hit"].map(type).eq(bool).all()


def test_the_pooled_rates_carry_wilson_intervals_and_ran_is_a_real_boolean() -> None:
    result = outcome_test(pd.DataFrame(HAND_COUNTS, columns=COUNT_NAMES))
    t = result.table
    pooled = t[t["level"] == LEVEL_POOLED].set_index("race")
    for race, (disc, stops, hits) in {"BLACK": (180, 2000, 42), "WHITE": (150, 1500, 50)}.items():
        assert pooled.loc[race, ["search_rate_low", "search_rate_high"]].astype(float).tolist() == pytest.approx(
            wilson_textbook(disc, stops), abs=1e-6)
        assert pooled.loc[race, ["hit_rate_low", "hit_rate_high"]].astype(float).tolist() == pytest.approx(
            wilson_textbook(hits, disc), abs=1e-6)
        assert pooled.loc[race, COUNT_NAMES[2:]].astype(float).tolist() == [
            float(sum(r[i] for r in HAND_COUNTS if r[1] == race)) for i in range(2, 7)]
    assert t["ran"].tolist() == [True] * len(t)
    assert pd.isna(t["computed_at"]).all()


def test_the_search_counts_sql_keeps_searches_without_a_reason_and_drops_incident_to_arrest() -> None:
    """sql/analysis/outcome_counts.sql on hand-made stops (DuckDB): discretionary = every search but
    "Incident to Arrest" (any case); a search with no recorded reason is discretionary and counted
    in searches_reason_missing; a hit needs a discretionary search; stops without search fields
    (search_recorded = 0) are not counted at all."""
    import duckdb

    from pipeline.sqlfiles import load_sql

    con = duckdb.connect()
    con.execute("create table stops (district varchar, race varchar, search_recorded integer, searched integer, "
                "search_reason varchar, contraband_found integer)")
    con.executemany("insert into stops values ('1D', 'BLACK', ?, ?, ?, ?)", [
        (1, 1, "Probable Cause", 1),       # discretionary, hit
        (1, 1, None, 1),                   # no reason recorded: discretionary, hit
        (1, 1, None, 0),                   # no reason recorded: discretionary
        (1, 1, "Incident to Arrest", 1),   # not discretionary: its contraband is no hit
        (1, 1, "INCIDENT TO ARREST", 0),   # the same in capitals
        (1, 0, None, 0),                   # stopped, not searched
        (0, 1, "Probable Cause", 1),       # no search fields published for this stop: left out
    ])
    got = con.sql(load_sql("analysis/outcome_counts")).fetchall()
    # district, race, stops, searches, discretionary_searches, searches_reason_missing, hits
    assert got == [("1D", "BLACK", 6, 5, 3, 2, 2)]


def test_counts_without_a_district_are_their_own_named_district() -> None:
    """Stops whose district was not recorded are one more district, named, in the table and in the
    weights (not dropped, not a null key that a group-by would silently leave out)."""
    counts = pd.DataFrame(HAND_COUNTS + [(None, "WHITE", 600, 66, 60, 0, 15), (None, "BLACK", 500, 55, 50, 0, 10)],
                          columns=COUNT_NAMES)
    t = outcome_test(counts).table
    cells = t[t["level"] == "district"]
    assert sorted(cells["district"].unique()) == ["(district not recorded)", "d1", "d2"]
    missing = cells.set_index(["district", "race"]).loc[("(district not recorded)", "BLACK")]
    assert float(missing["hit_rate"]) == pytest.approx(10 / 50) and float(missing["search_rate"]) == pytest.approx(50 / 500)
    black = weighted_row(t, "BLACK")
    assert int(black["n_districts_hit"]) == 3 and int(black["n_districts_search"]) == 3
    # Hit rates weighted by discretionary searches per district: (160, 170, 110) of 440.
    w = np.array([160, 170, 110]) / 440
    assert float(black["hit_rate"]) == pytest.approx(w @ np.array([12 / 60, 30 / 120, 10 / 50]), abs=1e-9)
