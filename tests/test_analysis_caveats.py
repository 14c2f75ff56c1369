"""Data-quality caveats: shares of stops per year with Wilson CIs, plus the known limits as text."""

from __future__ import annotations

import pandas as pd
import pytest

from pipeline.analysis import data_quality_caveats, wilson_interval
from pipeline.analysis.caveats import COLUMNS, SAMPLE_CAVEAT, TEXT_CAVEATS


def counts() -> pd.DataFrame:
    base = {"charges": 0, "race_missing": 0, "no_zip5": 0, "outside_county": 0, "district_missing": 0,
            "district_headquarters": 0, "time_missing": 0, "no_seq_id": 0, "search_recorded": 0, "searched": 0}
    return pd.DataFrame([
        {**base, "stop_year": 2015, "stops": 1_000, "charges": 1_900, "race_other": 80, "no_location": 400},
        {**base, "stop_year": 2016, "stops": 3_000, "charges": 5_400, "race_other": 150, "no_location": 300},
    ])


def test_caveat_shares_are_per_year_and_overall_with_wilson_intervals() -> None:
    result = data_quality_caveats(counts())
    t = result.table
    assert list(t.columns) == COLUMNS
    other = t[t["caveat"] == "race_other"].set_index(t[t["caveat"] == "race_other"]["stop_year"].astype("string"))
    assert other.loc["2015", "share"] == pytest.approx(0.08)
    low, high = wilson_interval(80, 1_000)
    assert other.loc["2015", "share_low"] == pytest.approx(float(low))
    assert other.loc["2015", "share_high"] == pytest.approx(float(high))
    overall = t[(t["caveat"] == "race_other") & t["stop_year"].isna()].iloc[0]
    assert overall["numerator"] == 230 and overall["denominator"] == 4_000
    cps = t[(t["caveat"] == "charges_per_stop") & t["stop_year"].isna()].iloc[0]
    assert cps["share"] == pytest.approx(7_300 / 4_000) and pd.isna(cps["share_low"])


def test_text_caveats_are_always_present_and_the_sample_is_named() -> None:
    t = data_quality_caveats(counts(), has_sample_rows=True).table
    text = t[t["numerator"].isna()]
    assert set(TEXT_CAVEATS) <= set(text["caveat"])
    assert SAMPLE_CAVEAT in set(text["text"])
    assert any("Office of Legislative Oversight" in s for s in text["text"])
    assert any("perceived" in s for s in text["text"])
    assert "bundled_sample" not in set(data_quality_caveats(counts()).table["caveat"])
