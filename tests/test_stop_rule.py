"""What a stop is (sql/transform/landing.sql): the rule pinned on real and hand-built rows.

Rows are charges. Charges with a SeqID belong to one stop when they share SeqID + date + time; rows
without one (exports before ~2017: 17,954 of the sample's 18,393 charges) fall back to date, time,
place, driver and vehicle. docs/METHODS.md section 1 documents the rule and these numbers.
"""

from __future__ import annotations

import csv
import gzip
from pathlib import Path

import pandas as pd
import pytest

from pipeline.config import PROJECT_ROOT, SAMPLE_DIR, Settings
from pipeline.extract.files import FileSource
from pipeline.load import run_load
from pipeline.warehouse import open_warehouse
from tests.handmade import HEADER_2016, charge, write_csv

SAMPLE_CHARGES = 18_393
SAMPLE_STOPS = 9_984
SAMPLE_CHARGES_WITHOUT_SEQID = 17_954
FILE_2019 = "mcpd_tv_sample_nerox_2019.csv"
FILE_2019_CHARGES, FILE_2019_STOPS = 439, 297

def load_file(settings: Settings, path: Path) -> pd.DataFrame:
    """Load one file into a fresh warehouse; return its charges with their stop ids, in file order."""
    result = run_load(settings, FileSource([path]), "backfill")
    assert result.status == "success"
    wh = open_warehouse(settings)
    return wh.query("select raw_line, seq_id, date_of_stop, time_of_stop, charge, stop_id from moco_traffic_violations "
                    "order by raw_line")


def stops_of(settings: Settings) -> pd.DataFrame:
    return open_warehouse(settings).query("select stop_id, n_charges from stops order by stop_id")


def test_the_bundled_sample_has_exactly_its_documented_stops(sample_warehouse: Settings) -> None:
    counts = open_warehouse(sample_warehouse).query(
        "select (select count(*) from moco_traffic_violations) as charges,"
        " (select count(*) from moco_traffic_violations where seq_id is null) as charges_without_seq,"
        " (select count(*) from stops) as stops,"
        " (select count(*) from stops where seq_id is null) as stops_without_seq,"
        " (select sum(n_charges) from stops) as charges_in_stops"
    ).iloc[0].astype(int).to_dict()
    assert counts == {
        "charges": SAMPLE_CHARGES, "charges_without_seq": SAMPLE_CHARGES_WITHOUT_SEQID,
        "stops": SAMPLE_STOPS, "stops_without_seq": SAMPLE_STOPS - FILE_2019_STOPS,
        "charges_in_stops": SAMPLE_CHARGES,
    }


def test_without_seqid_two_charges_that_differ_only_in_time_are_two_stops(settings: Settings, tmp_path: Path) -> None:
    rows = [
        charge(),
        charge(Charge="13-401(h)", Description="DRIVING VEHICLE WITHOUT REGISTRATION", **{"Violation Type": "Warning"}),
        charge(**{"Time Of Stop": "10:05:00"}),  # the same driver, car and place five minutes later
    ]
    charges = load_file(settings, write_csv(tmp_path / "no_seqid.csv", rows))
    assert charges["seq_id"].isna().all()
    assert charges["stop_id"].iloc[0] == charges["stop_id"].iloc[1] != charges["stop_id"].iloc[2]
    assert sorted(stops_of(settings)["n_charges"].astype(int)) == [1, 2]


def test_with_seqid_the_seqid_decides_whatever_the_other_fields_say(settings: Settings, tmp_path: Path) -> None:
    header = ["SeqID", *HEADER_2016]
    rows = [
        {"SeqID": "aaaa-1", **charge()},
        {"SeqID": "aaaa-1", **charge(Make="TOYOTA", Location="ELSEWHERE")},  # same SeqID: one stop regardless
        {"SeqID": "bbbb-2", **charge()},  # every field the same but the SeqID: another stop
        {"SeqID": "aaaa-1", **charge(**{"Time Of Stop": "10:05:00"})},  # SeqID + date + time: another stop
    ]
    charges = load_file(settings, write_csv(tmp_path / "seqid.csv", rows, header))
    ids = charges["stop_id"].tolist()
    assert ids[0] == ids[1] and len({ids[0], ids[2], ids[3]}) == 3


def file_2019() -> Path:
    """The 2019 export from ../shared when this checkout sits beside it, else the bundled copy."""
    shared = PROJECT_ROOT.parent / "shared" / "data" / "traffic_violations" / FILE_2019
    return shared if shared.exists() else SAMPLE_DIR / f"{FILE_2019}.gz"


def test_on_the_2019_export_the_fallback_rule_gives_the_seqid_stops_one_to_one(tmp_path: Path) -> None:
    from tests.conftest import make_settings

    source = file_2019()
    opener = gzip.open if source.suffix == ".gz" else open
    with opener(source, "rt", newline="") as fh:
        reader = csv.DictReader(fh)
        header, rows = list(reader.fieldnames or []), list(reader)
    assert "SeqID" in header and all(r["SeqID"] for r in rows)
    with_seq = write_csv(tmp_path / "with_seqid.csv", rows, header)
    forced = write_csv(tmp_path / "fallback.csv", [{**r, "SeqID": ""} for r in rows], header)

    a = load_file(make_settings(tmp_path / "a"), with_seq)
    b = load_file(make_settings(tmp_path / "b"), forced)
    assert len(a) == len(b) == FILE_2019_CHARGES
    assert a["seq_id"].notna().all() and b["seq_id"].isna().all()
    pairs = pd.DataFrame({"by_seqid": a["stop_id"], "by_fallback": b["stop_id"]})
    assert pairs["by_seqid"].nunique() == pairs["by_fallback"].nunique() == FILE_2019_STOPS
    # one-to-one: every SeqID stop is exactly one fallback stop and vice versa
    assert len(pairs.drop_duplicates()) == FILE_2019_STOPS
    # ... and date + time alone would merge different stops (docs/METHODS.md: 249)
    assert b.groupby(["date_of_stop", "time_of_stop"]).ngroups == 249


def test_without_seqid_the_district_is_compared_whatever_its_case(settings: Settings, tmp_path: Path) -> None:
    # 2012-2016 exports write "1st district, Rockville", current ones "1st District, Rockville".
    rows = [charge(), charge(SubAgency="1st district, Rockville", Charge="13-401(h)")]
    charges = load_file(settings, write_csv(tmp_path / "case.csv", rows))
    assert charges["stop_id"].nunique() == 1


# --------------------------------------------------------------------------------------------
# One hand-built file for the rules of sql/transform/landing.sql (stop key) and
# sql/marts/stops.sql (outcome): each pair of charges sits at its own clock time, so pairs never
# share a stop; within a pair only the named field differs.
# --------------------------------------------------------------------------------------------

# Every field of the fallback stop key but the time (pinned above), with another value.
FALLBACK_KEY_FIELDS = {
    "Date Of Stop": "03/02/2016", "Gender": "M", "Race": "BLACK", "Driver City": "GAITHERSBURG",
    "Driver State": "VA", "DL State": "VA",
    "Location": "ROCKVILLE PIKE AT NICHOLSON LN", "SubAgency": "2nd District, Bethesda", "Make": "TOYOTA",
    "Model": "CAMRY", "Color": "BLACK", "Year": "2012", "Latitude": "39.0700", "Longitude": "-77.1300",
}
# Stops of two or three charges, by violation type, and the outcome docs/METHODS.md gives them.
OUTCOME_STOPS = {
    "11:00:00": (("Citation", "SERO"), "Citation"),
    "11:01:00": (("SERO", "Citation"), "Citation"),
    "11:02:00": (("Warning", "ESERO"), "SERO"),
    "11:03:00": (("Warning", "SERO", "Warning"), "SERO"),
    "11:04:00": (("Warning", "Warning"), "Warning"),
    "11:05:00": (("Warning", "Citation", "ESERO"), "Citation"),
}


@pytest.fixture(scope="module")
def handmade_stops(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    from tests.conftest import make_settings

    root = tmp_path_factory.mktemp("handmade_stops")
    rows = []
    for i, (field, value) in enumerate(FALLBACK_KEY_FIELDS.items()):
        at = f"09:{i:02d}:00"
        rows += [charge(**{"Time Of Stop": at}), charge(**{"Time Of Stop": at, field: value, "Charge": "13-401(h)"})]
    # The control pair: a second charge of the same stop (only the charge differs) is the same stop.
    rows += [charge(**{"Time Of Stop": "09:59:00"}), charge(**{"Time Of Stop": "09:59:00", "Charge": "13-401(h)"})]
    for at, (types, _) in OUTCOME_STOPS.items():
        rows += [charge(**{"Time Of Stop": at, "Violation Type": t, "Charge": f"{n}-{t}"}) for n, t in enumerate(types)]
    settings = make_settings(root)
    load_file(settings, write_csv(root / "handmade.csv", rows))
    return settings


@pytest.mark.parametrize("field", list(FALLBACK_KEY_FIELDS))
def test_without_seqid_two_charges_differing_in_one_key_field_are_two_stops(handmade_stops: Settings, field: str) -> None:
    at = f"09:{list(FALLBACK_KEY_FIELDS).index(field):02d}:00"
    stops = open_warehouse(handmade_stops).query(
        "select n_charges from stops where cast(time_of_stop as varchar) = :at order by n_charges", {"at": at})
    assert stops["n_charges"].astype(int).tolist() == [1, 1], field


def test_two_charges_differing_only_in_the_charge_are_one_stop(handmade_stops: Settings) -> None:
    stops = open_warehouse(handmade_stops).query(
        "select n_charges from stops where cast(time_of_stop as varchar) = '09:59:00'")
    assert stops["n_charges"].astype(int).tolist() == [2]


def test_the_outcome_is_the_most_serious_charge_citation_then_sero_then_warning(handmade_stops: Settings) -> None:
    got = open_warehouse(handmade_stops).query(
        "select cast(time_of_stop as varchar) as clock, outcome, top_charge, n_citations, n_sero, n_warnings from stops "
        "where cast(time_of_stop as varchar) >= :first order by clock", {"first": "11:00:00"})
    assert got["outcome"].tolist() == [outcome for _, outcome in OUTCOME_STOPS.values()]
    assert got[["n_citations", "n_sero", "n_warnings"]].astype(int).values.tolist() == [
        [1, 1, 0], [1, 1, 0], [0, 1, 1], [0, 1, 2], [0, 0, 2], [1, 1, 1]]
    # The most serious charge is found by rank, not by the charge's text ("<n>-<type>", n = its place).
    assert got["top_charge"].tolist() == ["0-Citation", "1-Citation", "1-ESERO", "1-SERO", "0-Warning", "1-Citation"]
